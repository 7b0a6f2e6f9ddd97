"""The HTTP API on a configured network (Monaco 2012, XML): GeoJSON answers, live sensors
taken into account, 4xx with a clear message for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from twin.routing.live import read_sensors
from twin.sensors.registry import create_sensor
from twin.sensors.schemas import SensorIn

FROM, TO = "7.4197,43.7311", "7.4280,43.7398"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SpatiaLite only: routing reads the database through one plain ORM query, and each
    test builds its network again (seconds) per back-end."""
    return f"sqlite:///{tmp_path / 'twin.sqlite'}"


@pytest.fixture
def api(client: TestClient, xml_gz: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    settings = client.app.state.settings  # type: ignore[attr-defined]
    monkeypatch.setattr(settings, "osm_file", xml_gz)
    monkeypatch.setattr(settings, "routing_dem", None)
    return client


def _add_loud_sensor(client: TestClient, lon: float, lat: float, value: float) -> None:
    spec = SensorIn(
        id="loud-1",
        name="Loud",
        type="NoiseLevelObserved",
        location={"lon": lon, "lat": lat},
        quantities=[{"name": "LAeq", "unit": "dB(A)"}],
    )
    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        sensor = create_sensor(s, spec)
        sensor.quantities[0].last_value = value
        sensor.quantities[0].last_t = 1


def test_walk_access_and_friends(api: TestClient, auth: dict[str, dict[str, str]]) -> None:
    h = auth["planner"]
    r = api.get(
        "/api/v1/routes/walk",
        params={"from": FROM, "to": TO, "profile": "quiet", "alternatives": 2},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    data = r.json()
    assert data["type"] == "FeatureCollection" and 1 <= len(data["features"]) <= 2
    props = data["features"][0]["properties"]
    assert props["profile"] == "quiet" and props["length_m"] > 0 and "noise_mean_db" in props

    before = api.get("/api/v1/routes/walk", params={"from": FROM, "to": TO}, headers=h).json()
    lon, lat = data["features"][0]["geometry"]["coordinates"][3]
    _add_loud_sensor(api, lon, lat, 95.0)
    after = api.get("/api/v1/routes/walk", params={"from": FROM, "to": TO}, headers=h).json()
    noise = [d["features"][0]["properties"]["noise_max_db"] for d in (before, after)]
    assert noise[1] > noise[0] + 5  # the live reading is in the scores

    r = api.get(
        "/api/v1/access", params={"category": "all", "bbox": "7.41,43.73,7.42,43.74"}, headers=h
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["features"] and "score" in body["features"][0]["properties"]
    assert body["summary"]["places"] == len(body["features"])

    r = api.get("/api/v1/access/isochrone", params={"from": FROM, "minutes": "5,10"}, headers=h)
    assert r.status_code == 200 and len(r.json()["features"]) == 2
    r = api.get("/api/v1/routes/bike-lanes", params={"top": 4}, headers=h)
    assert r.status_code == 200 and len(r.json()["features"]) == 4
    r = api.get("/api/v1/routes/profiles", headers=h)
    assert "quiet" in [p["name"] for p in r.json()["profiles"]] and "noise" in r.json()["factors"]


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("/api/v1/routes/walk", {"from": FROM, "to": "7.43,43.72"}, 400, "in the water"),
        ("/api/v1/routes/walk", {"from": FROM, "to": "9.0,45.0"}, 400, "outside the network"),
        (
            "/api/v1/routes/walk",
            {"from": FROM, "to": TO, "profile": "fast"},
            400,
            "unknown profile",
        ),
        (
            "/api/v1/routes/walk",
            {"from": FROM, "to": TO, "weights": "loud=1"},
            400,
            "unknown factor",
        ),
        ("/api/v1/routes/walk", {"from": "abc", "to": TO}, 400, "expected LON,LAT"),
        ("/api/v1/routes/walk", {"from": FROM}, 422, "to"),
        ("/api/v1/routes/walk", {"from": FROM, "to": TO, "alternatives": 9}, 422, "alternatives"),
        ("/api/v1/access", {"category": "bars"}, 400, "unknown category"),
        ("/api/v1/access", {"category": "food", "bbox": "1,2"}, 400, "bbox"),
        ("/api/v1/access/isochrone", {"from": FROM, "minutes": "x"}, 400, "minutes"),
    ],
)
def test_bad_input_is_4xx(
    api: TestClient,
    auth: dict[str, dict[str, str]],
    path: str,
    params: dict,
    status: int,
    message: str,
) -> None:
    r = api.get(path, params=params, headers=auth["gis"])
    assert r.status_code == status and message in r.json()["detail"]


def test_no_network_configured_is_404(
    client: TestClient,
    auth: dict[str, dict[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = client.app.state.settings  # type: ignore[attr-defined]
    monkeypatch.setattr(settings, "osm_file", tmp_path / "absent.osm.pbf")
    r = client.get("/api/v1/routes/walk", params={"from": FROM, "to": TO}, headers=auth["admin"])
    assert r.status_code == 404 and "TWIN_OSM_FILE" in r.json()["detail"]
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"not osm")
    monkeypatch.setattr(settings, "osm_file", broken)
    r = client.get("/api/v1/access", params={"category": "food"}, headers=auth["admin"])
    assert r.status_code == 404 and "not a readable OSM file" in r.json()["detail"]


def test_read_sensors_keeps_the_latest_routing_quantities(api: TestClient) -> None:
    _add_loud_sensor(api, 7.42, 43.73, 71.5)
    with api.app.state.db.session() as s:  # type: ignore[attr-defined]
        readings = read_sensors(s)
    assert readings.noise.value.tolist() == [71.5] and readings.count == 1


def test_a_variant_school_measured_on_the_network(
    api: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    """A project's variant with a new school: the 15-minute share with and without it, around
    the school; where the network has no buildings (Périgueux, on the Monaco extract), a 400
    that says which network lacks them."""
    h = auth["planner"]

    def variant_at(lon: float, lat: float, use: str = "school") -> str:
        d = 0.0001
        ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d]]
        content = {"footprints": [{"id": "s", "polygon": ring, "height": 9, "use": use}]}
        pid = api.post("/api/v1/projects", json={"name": "p"}, headers=h).json()["id"]
        r = api.post(
            f"/api/v1/projects/{pid}/variants", json={"name": "A", "content": content}, headers=h
        )
        return f"/api/v1/projects/{pid}/variants/{r.json()['id']}/access"

    lon, lat = (float(v) for v in FROM.split(","))
    r = api.get(variant_at(lon, lat), headers=auth["gis"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["new_amenities"] == 1 and body["indicator"] == "school_15min_share"
    assert body["buildings"] > 0 and 0 <= body["share_base"] <= body["share_variant"] <= 1
    r = api.get(variant_at(0.7164, 45.1865), headers=h)  # Périgueux, on the Monaco network
    assert r.status_code == 200 and r.json()["share_variant"] is None
    assert "has no buildings in this project's area" in r.json()["reason"]
    r = api.get(variant_at(lon, lat, "office") + "?category=park", headers=h)
    assert r.status_code == 400 and "category 'park'" in r.json()["detail"]
