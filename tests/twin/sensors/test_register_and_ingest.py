"""Sensor register and observation ingest over the real API, on SpatiaLite and PostGIS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from tests.twin.sensors.conftest import NOISE, post


def test_register_gives_geojson_with_metadata(
    client: TestClient, auth: dict[str, dict[str, str]], sensors: dict[str, Any]
) -> None:
    body = client.get("/api/v1/sensors").json()
    assert body["type"] == "FeatureCollection"
    by_id = {f["id"]: f for f in body["features"]}
    assert set(by_id) == {"noise-aix-01", "river-touloubre-01", "weather-marseille-01"}
    noise = by_id["noise-aix-01"]
    assert noise["geometry"] == {"type": "Point", "coordinates": [5.4474, 43.5263, 178.0]}
    props = noise["properties"]
    assert props["zone"] == "Aix-en-Provence"
    assert props["metadata"] == {"mounting": "lamp post, 4 m"}
    assert props["commissioned_at"].startswith("2024-03-01T08:00:00")  # stored in UTC
    assert [q["name"] for q in props["quantities"]] == ["LAeq", "LAmax"]
    assert all(q["latest"] is None for q in props["quantities"])
    # bbox and type filters
    aix = client.get("/api/v1/sensors", params={"bbox": "5.4,43.5,5.5,43.6"}).json()
    assert [f["id"] for f in aix["features"]] == ["noise-aix-01"]
    water = client.get("/api/v1/sensors", params={"type": "WaterObserved"}).json()
    assert [f["id"] for f in water["features"]] == ["river-touloubre-01"]


def test_register_refuses_bad_sensors(
    client: TestClient, auth: dict[str, dict[str, str]], sensors: dict[str, Any]
) -> None:
    r = client.post("/api/v1/sensors", json=NOISE, headers=auth["gis"])
    assert r.status_code == 409 and "already exists" in r.json()["detail"]
    bad_type = {**NOISE, "id": "x-1", "type": "NoiseSensor"}
    r = client.post("/api/v1/sensors", json=bad_type, headers=auth["gis"])
    assert r.status_code == 422 and "unknown sensor type" in r.json()["detail"]
    naive = {**NOISE, "id": "x-2", "commissioned_at": "2024-03-01T09:00:00"}
    r = client.post("/api/v1/sensors", json=naive, headers=auth["gis"])
    assert r.status_code == 400 and "time zone" in r.json()["detail"]
    assert client.get("/api/v1/sensors/nope").status_code == 404


def test_ingest_counts_accepted_duplicates_and_rejections(
    client: TestClient, auth: dict[str, dict[str, str]], sensors: dict[str, Any]
) -> None:
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    items: list[Any] = [
        {"sensor": "noise-aix-01", "quantity": "LAeq", "time": "2026-06-01T10:00:00Z", "value": 55},
        ["noise-aix-01", "LAeq", "2026-06-01T10:15:00+02:00", 56.5],  # compact form
        {"sensor": "noise-aix-01", "quantity": "LAeq", "time": "2026-06-01T10:00:00Z", "value": 9},
        {"sensor": "ghost", "quantity": "LAeq", "time": "2026-06-01T10:00:00Z", "value": 1},
        {"sensor": "noise-aix-01", "quantity": "NO2", "time": "2026-06-01T10:00:00Z", "value": 1},
        {"sensor": "noise-aix-01", "quantity": "LAeq", "time": "2026-06-01T10:30:00Z",
         "value": 1, "unit": "dB"},
        {"sensor": "noise-aix-01", "quantity": "LAeq", "time": "2026-06-01T10:45:00Z",
         "value": "loud"},
        {"sensor": "noise-aix-01", "quantity": "LAeq", "time": "2026-06-01T11:00:00",
         "value": 50},
        {"sensor": "noise-aix-01", "quantity": "LAeq", "time": future, "value": 50},
        ["noise-aix-01", "LAeq", 50],
        "garbage",
    ]  # fmt: skip
    counts = post(client, auth["device"], items)
    assert counts["accepted"] == 2 and counts["duplicates"] == 1
    reasons = {r["index"]: r["reason"] for r in counts["rejected"]}
    assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "unknown sensor 'ghost'" in reasons[3]
    assert "no quantity 'NO2'" in reasons[4] and "LAeq, LAmax" in reasons[4]
    assert "unit 'dB' is wrong" in reasons[5]
    assert "must be a number" in reasons[6]
    assert "no zone" in reasons[7]
    assert "in the future" in reasons[8]
    assert "compact row" in reasons[9]
    # sending the same batch again stores nothing new
    again = post(client, auth["device"], items[:3])
    assert again == {"accepted": 0, "duplicates": 3, "rejected": []}
    series = client.get(
        "/api/v1/sensors/noise-aix-01/observations", params={"quantity": "LAeq"}
    ).json()
    assert series["unit"] == "dB(A)"
    assert series["points"] == [
        {"time": "2026-06-01T08:15:00.000Z", "value": 56.5},  # +02:00 converted to UTC
        {"time": "2026-06-01T10:00:00.000Z", "value": 55.0},  # first value kept
    ]


def test_not_a_list_is_422_and_public_cannot_write(
    client: TestClient, auth: dict[str, dict[str, str]], sensors: dict[str, Any]
) -> None:
    r = client.post("/api/v1/observations", json={"sensor": "x"}, headers=auth["device"])
    assert r.status_code == 422
    r = client.post("/api/v1/observations", json=[], headers=auth["public"])
    assert r.status_code == 403
    r = client.post("/api/v1/sensors", json=NOISE, headers=auth["device"])
    assert r.status_code == 403


def _series(start: datetime, n: int, step_s: int, seed: int) -> tuple[list[int], np.ndarray]:
    rng = np.random.default_rng(seed)
    times = [int((start + timedelta(seconds=i * step_s)).timestamp() * 1000) for i in range(n)]
    return times, rng.normal(1.2, 0.3, n).round(3)


def _items(sensor: str, quantity: str, times: list[int], values: np.ndarray) -> list[list[Any]]:
    return [
        [sensor, quantity, datetime.fromtimestamp(t / 1000, UTC).isoformat(), float(v)]
        for t, v in zip(times, values, strict=True)
    ]


def test_rollups_match_the_raw_readings_whatever_the_arrival_order(
    client: TestClient, auth: dict[str, dict[str, str]], sensors: dict[str, Any]
) -> None:
    """Readings arrive late, shuffled, in overlapping batches with duplicates: every 15-min,
    hourly and daily bucket still equals the aggregate of the stored raw readings."""
    start = datetime(2026, 3, 1, 23, 7, tzinfo=UTC)
    times, values = _series(start, 700, 137, seed=1)  # ~27 h, crossing day boundaries
    items = _items("river-touloubre-01", "level", times, values)
    order = np.random.default_rng(2).permutation(len(items))
    shuffled = [items[i] for i in order]
    first = post(client, auth["device"], shuffled[:450])
    second = post(client, auth["device"], shuffled[300:])  # 150 duplicates
    assert first["accepted"] + second["accepted"] == 700 and second["duplicates"] == 150
    t = np.array(times)
    for name, width in (("15min", 900_000), ("hour", 3_600_000), ("day", 86_400_000)):
        points = client.get(
            "/api/v1/sensors/river-touloubre-01/observations", params={"aggregate": name}
        ).json()["points"]
        buckets = (t // width) * width
        expected = sorted(set(buckets.tolist()))
        assert len(points) == len(expected)
        for p, b in zip(points, expected, strict=True):
            sel = values[buckets == b]
            assert datetime.fromisoformat(p["time"]).timestamp() * 1000 == b
            assert p["count"] == len(sel)
            assert abs(p["mean"] - sel.mean()) <= 5e-7  # means are rounded to 6 decimals
            assert p["min"] == sel.min() and p["max"] == sel.max()
    # a time range selects buckets overlapping it
    hours = client.get(
        "/api/v1/sensors/river-touloubre-01/observations",
        params={"aggregate": "hour", "start": "2026-03-02T00:30:00Z", "end": "2026-03-02T03:00Z"},
    ).json()["points"]
    assert [p["time"][11:16] for p in hours] == ["00:00", "01:00", "02:00"]


def test_latest_value_is_the_newest_reading_not_the_last_received(
    client: TestClient, auth: dict[str, dict[str, str]], sensors: dict[str, Any]
) -> None:
    post(client, auth["device"], [["river-touloubre-01", "level", "2026-05-02T12:00:00Z", 2.5]])
    post(client, auth["device"], [["river-touloubre-01", "level", "2026-05-01T12:00:00Z", 0.4]])
    feature = client.get("/api/v1/sensors/river-touloubre-01").json()
    assert feature["properties"]["quantities"][0]["latest"] == {
        "time": "2026-05-02T12:00:00.000Z",
        "value": 2.5,
    }


def test_rename_keeps_history_and_units_cannot_change(
    client: TestClient, auth: dict[str, dict[str, str]], sensors: dict[str, Any]
) -> None:
    post(client, auth["device"], [["noise-aix-01", "LAeq", "2026-06-01T10:00:00Z", 61.0]])
    r = client.patch(
        "/api/v1/sensors/noise-aix-01",
        json={"name": "Aix — Mirabeau (east)", "quantities": [{"name": "LCeq", "unit": "dB(C)"}]},
        headers=auth["planner"],
    )
    assert r.status_code == 200
    assert r.json()["properties"]["name"] == "Aix — Mirabeau (east)"
    assert [q["name"] for q in r.json()["properties"]["quantities"]] == ["LAeq", "LAmax", "LCeq"]
    points = client.get(
        "/api/v1/sensors/noise-aix-01/observations", params={"quantity": "LAeq"}
    ).json()["points"]
    assert points == [{"time": "2026-06-01T10:00:00.000Z", "value": 61.0}]
    r = client.patch(
        "/api/v1/sensors/noise-aix-01",
        json={"quantities": [{"name": "LAeq", "unit": "dB"}]},
        headers=auth["gis"],
    )
    assert r.status_code == 409 and "cannot change" in r.json()["detail"]


def test_query_errors_are_clear(
    client: TestClient, auth: dict[str, dict[str, str]], sensors: dict[str, Any]
) -> None:
    r = client.get("/api/v1/sensors/noise-aix-01/observations")
    assert r.status_code == 400 and "several quantities" in r.json()["detail"]
    r = client.get("/api/v1/sensors/river-touloubre-01/observations", params={"start": "monday"})
    assert r.status_code == 400 and "start='monday'" in r.json()["detail"]
    r = client.get("/api/v1/sensors/river-touloubre-01/observations", params={"aggregate": "week"})
    assert r.status_code == 422


def test_heat_indicators_count_hot_days_and_tropical_nights(
    client: TestClient, auth: dict[str, dict[str, str]], sensors: dict[str, Any]
) -> None:
    """Three summer days of hourly temperatures built so that the answer is known: daily
    highs 31, 29, 33 °C; night minima (18:00-06:00 local) 15 (the night before), 22, 19, 21 °C."""
    high = {1: 31.0, 2: 29.0, 3: 33.0}
    night_min = {0: 15.0, 1: 22.0, 2: 19.0, 3: 21.0}  # keyed by the evening's day of July
    items = []
    for day in (1, 2, 3):
        for hour in range(24):
            when = datetime(2026, 7, day, hour, 30, tzinfo=UTC) - timedelta(hours=2)  # CEST
            if 6 <= hour < 18:
                value = high[day] if hour == 15 else 25.0
            else:
                night = night_min[day if hour >= 18 else day - 1]
                value = night if hour in (2, 22) else night + 2.0
            items.append(["weather-marseille-01", "temperature", when.isoformat(), value])
    post(client, auth["device"], items)
    out = client.get(
        "/api/v1/sensors/weather-marseille-01/indicators",
        params={"start": "2026-06-30T22:00:00Z", "end": "2026-07-03T22:00:00Z"},
    ).json()
    assert out["hot_days"] == ["2026-07-01", "2026-07-03"] and out["days_over_30"] == 2
    assert out["tropical_night_dates"] == ["2026-07-01", "2026-07-03"]
    r = client.get("/api/v1/sensors/river-touloubre-01/indicators")
    assert r.status_code == 400 and "need °C" in r.json()["detail"]
