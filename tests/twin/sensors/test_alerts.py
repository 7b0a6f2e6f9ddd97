"""Alert rules: thresholds, rates and silence raise one alert each, close when readings are
normal again, and are archived and exported."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.twin.sensors.conftest import post
from twin.sensors.alerts import check_silence


def _rule(client: TestClient, headers: dict[str, str], **spec: Any) -> int:
    r = client.post("/api/v1/alert-rules", json=spec, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]  # type: ignore[no-any-return]


def test_threshold_opens_one_alert_then_closes(
    client: TestClient, auth: dict[str, dict[str, str]], sensors: dict[str, Any]
) -> None:
    _rule(client, auth["gis"], name="night noise", kind="above", sensor_type="NoiseLevelObserved",
          quantity="LAeq", threshold=80)  # fmt: skip
    post(client, auth["device"], [
        ["noise-aix-01", "LAeq", "2026-06-01T22:00:00Z", 70.0],
        ["noise-aix-01", "LAeq", "2026-06-01T22:15:00Z", 85.5],
        ["noise-aix-01", "LAeq", "2026-06-01T22:30:00Z", 88.0],
        ["noise-aix-01", "LAmax", "2026-06-01T22:30:00Z", 99.0],  # other quantity: no rule
    ])  # fmt: skip
    post(client, auth["device"], [["noise-aix-01", "LAeq", "2026-06-01T22:45:00Z", 90.0]])
    alerts = client.get("/api/v1/alerts").json()
    assert len(alerts) == 1
    [alert] = alerts
    assert alert["status"] == "open" and alert["quantity"] == "LAeq" and alert["value"] == 85.5
    assert "85.5 dB(A)" in alert["message"] and "night noise" in alert["message"]
    post(client, auth["device"], [["noise-aix-01", "LAeq", "2026-06-01T23:00:00Z", 60.0]])
    [alert] = client.get("/api/v1/alerts").json()
    assert alert["status"] == "closed" and "back to normal" in alert["message"]


def test_rate_of_change_uses_the_previous_stored_reading(
    client: TestClient, auth: dict[str, dict[str, str]], sensors: dict[str, Any]
) -> None:
    """A river rising 0.9 m in 15 minutes (0.06 m/min) breaks a 0.05 m/min rule."""
    _rule(client, auth["gis"], kind="rate", sensor_id="river-touloubre-01", quantity="level",
          threshold=0.05)  # fmt: skip
    post(client, auth["device"], [["river-touloubre-01", "level", "2026-10-10T06:00:00Z", 0.5]])
    post(client, auth["device"], [["river-touloubre-01", "level", "2026-10-10T06:15:00Z", 0.7]])
    assert client.get("/api/v1/alerts").json() == []
    post(client, auth["device"], [["river-touloubre-01", "level", "2026-10-10T06:30:00Z", 1.6]])
    [alert] = client.get("/api/v1/alerts", params={"status": "open"}).json()
    assert alert["kind"] == "rate" and "0.06 per minute" in alert["message"]


def test_silent_sensor_alert_lifecycle_and_export(
    client: TestClient, auth: dict[str, dict[str, str]], sensors: dict[str, Any]
) -> None:
    _rule(client, auth["gis"], kind="silent", sensor_type="WaterObserved", minutes=30)
    now = datetime.now(UTC)
    post(client, auth["device"], [
        ["river-touloubre-01", "level", (now - timedelta(hours=2)).isoformat(), 0.5]
    ])  # fmt: skip
    db = client.app.state.db  # type: ignore[attr-defined]
    with db.session() as session:
        assert len(check_silence(session, now)) == 1
    with db.session() as session:  # one alert, not one per check
        assert check_silence(session, now + timedelta(minutes=5)) == []
    [alert] = client.get("/api/v1/alerts", params={"sensor": "river-touloubre-01"}).json()
    assert alert["kind"] == "silent" and "more than 30 min" in alert["message"]
    r = client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=auth["planner"])
    assert r.status_code == 200 and r.json()["acknowledged_by"] == "planner-user"
    r = client.post(f"/api/v1/alerts/{alert['id']}/acknowledge", headers=auth["planner"])
    assert r.status_code == 409
    # data again closes it
    post(client, auth["device"], [["river-touloubre-01", "level", now.isoformat(), 0.6]])
    [alert] = client.get("/api/v1/alerts").json()
    assert alert["status"] == "closed" and "data received again" in alert["message"]
    r = client.get("/api/v1/alerts/export", params={"format": "csv", "sep": ";"})
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 1 and rows[0]["status"] == "closed"
    assert rows[0]["acknowledged_by"] == "planner-user" and rows[0]["opened_local"][:2] == "20"


def test_rules_are_checked(
    client: TestClient, auth: dict[str, dict[str, str]], sensors: dict[str, Any]
) -> None:
    bad = [
        ({"kind": "above", "sensor_type": "WaterObserved"}, "needs a quantity and a threshold"),
        ({"kind": "silent", "sensor_type": "WaterObserved"}, "needs minutes"),
        ({"kind": "silent", "minutes": 5}, "names a sensor_id or a sensor_type"),
        ({"kind": "silent", "minutes": 5, "sensor_id": "ghost"}, "unknown sensor"),
        ({"kind": "silent", "minutes": 5, "sensor_type": "Radar"}, "unknown sensor type"),
    ]
    for spec, message in bad:
        r = client.post("/api/v1/alert-rules", json=spec, headers=auth["gis"])
        assert r.status_code == 400 and message in r.json()["detail"], (spec, r.text)
    rule = _rule(client, auth["gis"], kind="silent", minutes=5, sensor_type="WaterObserved")
    assert [r["id"] for r in client.get("/api/v1/alert-rules", headers=auth["gis"]).json()] == [
        rule
    ]
    assert client.delete(f"/api/v1/alert-rules/{rule}", headers=auth["gis"]).status_code == 204
    assert client.delete(f"/api/v1/alert-rules/{rule}", headers=auth["gis"]).status_code == 404
