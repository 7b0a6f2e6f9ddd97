"""MQTT ingest against the real Mosquitto broker that `.ci/run` starts (QoS 1, persistent
session, manual acks): messages sent while the server is away arrive when it is back, bad
payloads are dead-lettered with a reason, valid readings are never lost."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from twin.sensors.models import DeadLetter, Observation
from twin.sensors.mqtt import MqttIngest

BROKER = os.environ.get("TWIN_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")


def _broker_up() -> bool:
    host, port = BROKER.removeprefix("mqtt://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def broker() -> str:
    if not _broker_up():
        if os.environ.get("TWIN_TEST_REQUIRE_MQTT"):
            pytest.fail(f"no MQTT broker at {BROKER}")
        pytest.skip(f"no MQTT broker at {BROKER}")
    return BROKER


@pytest.fixture
def publisher(broker: str) -> Iterator[Callable[[str, Any], None]]:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex}")
    host, port = broker.removeprefix("mqtt://").split(":")
    client.connect(host, int(port))
    client.loop_start()

    def publish(topic: str, payload: Any) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        client.publish(topic, data, qos=1).wait_for_publish(5)

    yield publish
    client.loop_stop()
    client.disconnect()


def _wait(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _counts(client: TestClient) -> tuple[int, int]:
    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        return (
            s.scalar(select(func.count()).select_from(Observation)) or 0,
            s.scalar(select(func.count()).select_from(DeadLetter)) or 0,
        )


def test_mqtt_readings_stored_and_bad_ones_dead_lettered(
    client: TestClient,
    sensors: dict[str, Any],
    broker: str,
    publisher: Callable[[str, Any], None],
) -> None:
    db = client.app.state.db  # type: ignore[attr-defined]
    ingest = MqttIngest(broker, db, client.app.state.hub, f"twin-test-{uuid.uuid4().hex}")  # type: ignore[attr-defined]
    ingest.start()
    try:
        _wait(lambda: ingest.counters.connected)
        topic = "twin/sensors/noise-aix-01/observations"
        t0, t1 = "2026-06-01T10:00:00Z", "2026-06-01T10:15:00Z"
        publisher(topic, {"quantity": "LAeq", "time": t0, "value": 55.0})
        publisher(topic, [["LAeq", t1, 56.0], {"quantity": "LAmax", "time": t1, "value": 70}])
        publisher(topic, b"{not json")
        publisher(topic, {"quantity": "LAeq", "time": "2026-06-01T10:30:00", "value": 1})
        publisher("twin/sensors/ghost/observations", {"quantity": "x", "time": t0, "value": 1})
        _wait(lambda: _counts(client) == (3, 3))
        with db.session() as s:
            reasons = sorted(d.reason for d in s.scalars(select(DeadLetter)))
        assert any("not JSON" in r for r in reasons)
        assert any("no zone" in r for r in reasons)
        assert any("unknown sensor 'ghost'" in r for r in reasons)
        assert ingest.counters.accepted == 3
    finally:
        ingest.stop()


def test_messages_sent_while_away_arrive_on_reconnect(
    client: TestClient,
    sensors: dict[str, Any],
    broker: str,
    publisher: Callable[[str, Any], None],
) -> None:
    """The broker keeps QoS 1 messages for our persistent session while we are down."""
    db = client.app.state.db  # type: ignore[attr-defined]
    client_id = f"twin-test-{uuid.uuid4().hex}"
    first = MqttIngest(broker, db, None, client_id)
    first.start()
    _wait(lambda: first.counters.connected)
    first.stop()
    topic = "twin/sensors/river-touloubre-01/observations"
    for minute in range(0, 50, 10):
        publisher(topic, {"quantity": "level", "time": f"2026-10-10T06:{minute:02d}:00Z",
                          "value": 0.5 + minute / 100})  # fmt: skip
    second = MqttIngest(broker, db, None, client_id)
    second.start()
    try:
        _wait(lambda: _counts(client)[0] == 5)
    finally:
        second.stop()
    r = client.get("/api/v1/sensors/river-touloubre-01/observations").json()
    assert [p["value"] for p in r["points"]] == [0.5, 0.6, 0.7, 0.8, 0.9]


def test_broker_down_is_not_fatal(client: TestClient) -> None:
    """A configured broker that does not answer: the server runs, health says so."""
    db = client.app.state.db  # type: ignore[attr-defined]
    ingest = MqttIngest("mqtt://127.0.0.1:1", db, None, f"twin-test-{uuid.uuid4().hex}")
    ingest.start()
    try:
        time.sleep(0.5)
        assert ingest.status == "disconnected"
    finally:
        ingest.stop()
    assert client.get("/api/v1/health").json()["mqtt"] == "off"
