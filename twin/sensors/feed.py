"""Feeding the simulated set-up into a twin: register the sensors and alert rules, back-fill
history, then send live readings, over HTTP (any server) or MQTT (the configured broker).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import numpy as np
import paho.mqtt.client as mqtt

from twin.db import Database
from twin.sensors.alerts import add_rule, list_rules
from twin.sensors.models import Sensor
from twin.sensors.mqtt import parse_url
from twin.sensors.registry import create_sensor
from twin.sensors.schemas import AlertRuleIn
from twin.sensors.service import ingest
from twin.sensors.simulator import Simulated, observations

log = logging.getLogger(__name__)
BATCH = 5_000
STEP = 900.0  # back-fill: one reading per 15 minutes, the indicators' period


class Sender(Protocol):
    def send(self, rows: list[list[object]]) -> int: ...


@dataclass
class HttpSender:
    """POST /api/v1/observations in batches; connection errors are retried (no loss)."""

    base_url: str
    token: str
    retries: int = 30

    def __post_init__(self) -> None:
        self.client = httpx.Client(
            base_url=self.base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=60,
        )

    def send(self, rows: list[list[object]]) -> int:
        accepted = 0
        for start in range(0, len(rows), BATCH):
            accepted += self._post(rows[start : start + BATCH])
        return accepted

    def _post(self, batch: list[list[object]]) -> int:
        for attempt in range(self.retries):
            try:
                r = self.client.post("/api/v1/observations", json=batch)
            except httpx.TransportError as exc:
                log.warning("server unreachable (%s); retrying", exc)
                time.sleep(min(2**attempt, 10))
                continue
            if r.status_code == 503:
                time.sleep(2)
                continue
            r.raise_for_status()
            return int(r.json()["accepted"])
        raise ConnectionError(f"{self.base_url} did not take a batch after {self.retries} tries")

    def register(self, sims: list[Simulated], rules: list[dict[str, Any]]) -> int:
        """Create the sensors (already there: skipped) and, on a twin without rules, the
        default alert rules; returns how many sensors were new."""
        new = 0
        for sim in sims:
            r = self.client.post("/api/v1/sensors", json=sim.spec.model_dump(mode="json"))
            if r.status_code not in (201, 409):
                raise ValueError(f"sensor {sim.id}: {r.status_code} {r.text}")
            new += r.status_code == 201
        if not self.client.get("/api/v1/alert-rules").json():
            for rule in rules:
                self.client.post("/api/v1/alert-rules", json=rule).raise_for_status()
        return new


@dataclass
class MqttSender:
    """One QoS 1 message per sensor and round, on `twin/sensors/<id>/observations`."""

    url: str

    def __post_init__(self) -> None:
        host, port, user, password = parse_url(self.url)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="")
        if user:
            self.client.username_pw_set(user, password)
        self.client.connect(host, port)
        self.client.loop_start()

    def send(self, rows: list[list[object]]) -> int:
        by_sensor: dict[object, list[list[object]]] = defaultdict(list)
        for sensor, *rest in rows:
            by_sensor[sensor].append(rest)
        infos = [
            self.client.publish(f"twin/sensors/{sensor}/observations", json.dumps(items), qos=1)
            for sensor, items in by_sensor.items()
        ]
        for info in infos:
            info.wait_for_publish(30)
        return len(rows)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@dataclass
class DatabaseSender:
    """Straight into a database through the same store as every other way in (the demo's
    back-fill, before any server runs)."""

    db: Database

    def send(self, rows: list[list[object]]) -> int:
        return sum(
            ingest(self.db, rows[start : start + BATCH]).accepted
            for start in range(0, len(rows), BATCH)
        )

    def register(self, sims: list[Simulated], rules: list[dict[str, Any]]) -> int:
        new = 0
        with self.db.session() as session:
            for sim in sims:
                if session.get(Sensor, sim.id) is None:
                    create_sensor(session, sim.spec)
                    new += 1
            if not list_rules(session):
                for rule in rules:
                    add_rule(session, AlertRuleIn(**rule))
        return new


def backfill(
    sender: Sender,
    sims: list[Simulated],
    days: float,
    now: datetime | None = None,
    progress: Callable[[float], None] | None = None,
) -> int:
    """Readings every 15 minutes over the past `days`, a day at a time; returns accepted."""
    end = (now or datetime.now(UTC)).timestamp()
    start = end - days * 86_400
    start -= start % STEP
    accepted = 0
    day_starts = np.arange(start, end, 86_400.0)
    for i, day in enumerate(day_starts):
        t = np.arange(day, min(day + 86_400.0, end), STEP)
        accepted += sender.send(observations(sims, t))
        if progress:
            progress((i + 1) / len(day_starts))
    return accepted


def live(
    sender: Sender,
    sims: list[Simulated],
    interval: float,
    stop: threading.Event,
    rounds: int | None = None,
) -> int:
    """Every `interval` seconds, the readings of every sensor at that moment."""
    sent = done = 0
    while not stop.is_set() and (rounds is None or done < rounds):
        now = datetime.now(UTC).timestamp()
        sent += sender.send(observations(sims, np.array([now])))
        done += 1
        stop.wait(interval)
    return sent
