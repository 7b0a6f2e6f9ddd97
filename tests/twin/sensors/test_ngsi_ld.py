"""The NGSI-LD subset, driven the way a FIWARE client drives it (normalized entities,
batch upsert, temporal query)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

LD = {"Content-Type": "application/ld+json"}
CONTEXT = [
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
]


def _air(value: float, at: str) -> dict[str, Any]:
    return {
        "id": "urn:ngsi-ld:AirQualityObserved:air-marseille-01",
        "type": "AirQualityObserved",
        "name": {"type": "Property", "value": "Marseille Cinq-Avenues"},
        "location": {"type": "GeoProperty",
                     "value": {"type": "Point", "coordinates": [5.3950, 43.3060, 60.0]}},
        "NO2": {"type": "Property", "value": value, "observedAt": at, "unitCode": "GQ"},
        "@context": CONTEXT,
    }  # fmt: skip


def test_create_query_and_temporal(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    headers = auth["device"] | LD
    r = client.post(
        "/ngsi-ld/v1/entities", json=_air(31.0, "2026-11-20T08:00:00Z"), headers=headers
    )
    assert r.status_code == 201, r.text
    assert r.headers["location"].endswith("urn:ngsi-ld:AirQualityObserved:air-marseille-01")
    # the sensor exists in our own API with the unit translated from the UN/CEFACT code
    feature = client.get("/api/v1/sensors/air-marseille-01").json()
    assert feature["properties"]["quantities"][0]["name"] == "NO2"
    assert feature["properties"]["quantities"][0]["unit"] == "µg/m3"
    r = client.post("/ngsi-ld/v1/entities", json=_air(1, "2026-11-20T08:00:00Z"), headers=headers)
    assert r.status_code == 409
    # batch upsert of new readings (and one unknown type) answers 207 with the error
    batch = [_air(35.5, "2026-11-20T09:00:00Z"), _air(40.0, "2026-11-20T10:00:00Z")]
    r = client.post("/ngsi-ld/v1/entityOperations/upsert", json=batch, headers=headers)
    assert r.status_code == 204, r.text
    bad = {**_air(1, "2026-11-20T11:00:00Z"), "id": "urn:ngsi-ld:Radar:r1", "type": "Radar"}
    r = client.post("/ngsi-ld/v1/entityOperations/upsert", json=[bad], headers=headers)
    assert r.status_code == 207 and "Radar" in r.json()["errors"][0]["error"]["detail"]
    entity = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:air-marseille-01")
    assert entity.headers["content-type"].startswith("application/ld+json")
    assert entity.json()["NO2"] == {
        "type": "Property",
        "value": 40.0,
        "observedAt": "2026-11-20T10:00:00.000Z",
        "unitCode": "GQ",
    }
    listed = client.get("/ngsi-ld/v1/entities", params={"type": "AirQualityObserved"}).json()
    assert [e["id"] for e in listed] == ["urn:ngsi-ld:AirQualityObserved:air-marseille-01"]
    temporal = client.get(
        "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:AirQualityObserved:air-marseille-01",
        params={
            "timerel": "between",
            "timeAt": "2026-11-20T08:30:00Z",
            "endTimeAt": "2026-11-20T12:00:00Z",
        },
    ).json()
    assert [(i["value"], i["observedAt"]) for i in temporal["NO2"]] == [
        (35.5, "2026-11-20T09:00:00.000Z"),
        (40.0, "2026-11-20T10:00:00.000Z"),
    ]
    simple = client.get(
        "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:AirQualityObserved:air-marseille-01",
        params={"options": "temporalValues", "timerel": "before", "timeAt": "2026-11-20T09:30Z"},
    ).json()
    assert simple["NO2"]["values"] == [
        [31.0, "2026-11-20T08:00:00.000Z"],
        [35.5, "2026-11-20T09:00:00.000Z"],
    ]


def test_ngsi_ld_bad_input(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    headers = auth["gis"] | LD
    no_location = {k: v for k, v in _air(1, "2026-11-20T08:00:00Z").items() if k != "location"}
    r = client.post("/ngsi-ld/v1/entities", json=no_location, headers=headers)
    assert r.status_code == 400 and "'location'" in r.json()["detail"]
    r = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:nothing")
    assert r.status_code == 404
    r = client.post("/ngsi-ld/v1/entities", json=_air(1, "2026-11-20T08:00:00Z"))
    assert r.status_code == 401
