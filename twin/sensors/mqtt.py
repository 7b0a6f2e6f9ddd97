"""MQTT ingest: one subscriber per server on `twin/sensors/+/observations`, QoS 1.

No accepted reading is lost: the session is persistent (clean_session off, a fixed client id),
so the broker keeps messages while we are away, and a message is acknowledged only after its
batch is committed (manual acks). A crash before the commit means the broker sends it again,
and the idempotent store makes that harmless. Messages are stored in batches (up to
`BATCH_MESSAGES` or `BATCH_SECONDS`) because one transaction per reading caps throughput at a
few hundred per second. Payloads that cannot be stored go to the `dead_letters` table with the
reason, and are acknowledged (re-sending them would not help).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from sqlalchemy.exc import DBAPIError

from twin.db import Database
from twin.errors import DatabaseUnavailable
from twin.sensors.live import Hub
from twin.sensors.models import DeadLetter
from twin.sensors.service import ingest

log = logging.getLogger(__name__)
TOPIC = "twin/sensors/+/observations"
BATCH_MESSAGES = 2_000
BATCH_SECONDS = 0.05
RETRY_SECONDS = 2.0
PAYLOAD_KEEP = 4_000  # characters of a bad payload kept in the dead-letter table


@dataclass
class Counters:
    messages: int = 0
    accepted: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    batches: int = 0
    connected: bool = False
    last_error: str = ""


def parse_url(url: str) -> tuple[str, int, str | None, str | None]:
    """mqtt://[user:password@]host[:port] -> (host, port, user, password)."""
    parts = urlparse(url)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"MQTT URL {url!r}: expected mqtt://[user:password@]host[:port]")
    return parts.hostname, parts.port or 1883, parts.username, parts.password


def topic_sensor(topic: str) -> str | None:
    parts = topic.split("/")
    if len(parts) == 4 and parts[:2] == ["twin", "sensors"] and parts[3] == "observations":
        return parts[2] or None
    return None


def decode(message: mqtt.MQTTMessage) -> tuple[str, list[Any]]:
    """(sensor, items with the sensor filled in); ValueError says why a message is unusable."""
    sensor = topic_sensor(message.topic)
    if sensor is None:
        raise ValueError(f"topic {message.topic!r} is not twin/sensors/<id>/observations")
    try:
        payload = json.loads(message.payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"payload is not JSON: {exc}") from None
    items = payload if isinstance(payload, list) else [payload]
    out: list[Any] = []
    for item in items:
        if isinstance(item, dict):
            given = item.get("sensor", sensor)
            out.append({**item, "sensor": sensor} if given == sensor else item)
        elif isinstance(item, list) and len(item) == 3:
            out.append([sensor, *item])
        else:
            out.append(item)  # rejected by the store, with its reason
    return sensor, out


class MqttIngest:
    """The subscriber thread (paho's loop) and the writer thread that batches into the DB."""

    def __init__(
        self, url: str, db: Database, hub: Hub | None = None, client_id: str = "twin-ingest"
    ) -> None:
        self.host, self.port, user, password = parse_url(url)
        self.db, self.hub = db, hub
        self.counters = Counters()
        self._queue: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._stop = threading.Event()
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            manual_ack=True,
        )
        if user:
            self._client.username_pw_set(user, password)
        self._client.reconnect_delay_set(1, 30)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = lambda _c, _u, msg: self._queue.put(msg)
        self._writer = threading.Thread(target=self._write_loop, name="mqtt-writer", daemon=True)

    def start(self) -> None:
        """Connect in the background; a broker that is down is retried, never fatal."""
        self._client.connect_async(self.host, self.port, keepalive=30)
        self._client.loop_start()
        self._writer.start()

    def stop(self) -> None:
        self._stop.set()
        self._client.disconnect()
        self._client.loop_stop()
        self._writer.join(timeout=10)

    @property
    def status(self) -> str:
        return "connected" if self.counters.connected else "disconnected"

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.counters.last_error = f"connection refused: {reason}"
            log.warning("MQTT broker %s:%d refused us: %s", self.host, self.port, reason)
            return
        self.counters.connected = True
        client.subscribe(TOPIC, qos=1)
        log.info("MQTT connected to %s:%d, subscribed to %s", self.host, self.port, TOPIC)

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.counters.connected = False
        if not self._stop.is_set():
            log.warning("MQTT disconnected (%s); reconnecting", reason)

    def _next_batch(self) -> list[mqtt.MQTTMessage]:
        try:
            batch = [self._queue.get(timeout=0.5)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + BATCH_SECONDS
        while len(batch) < BATCH_MESSAGES:
            left = deadline - time.monotonic()
            try:
                batch.append(self._queue.get(timeout=left) if left > 0 else self._queue.get(False))
            except queue.Empty:
                break
        return batch

    def _write_loop(self) -> None:
        while not self._stop.is_set():
            batch = self._next_batch()
            while batch and not self._stop.is_set():
                try:
                    self._store(batch)
                    break
                except (DatabaseUnavailable, DBAPIError) as exc:  # keep it unacked; retry
                    self.counters.last_error = f"database: {exc}".splitlines()[0]
                    log.warning("MQTT batch not stored, retrying: %s", self.counters.last_error)
                    self._stop.wait(RETRY_SECONDS)

    def _store(self, batch: list[mqtt.MQTTMessage]) -> None:
        """Store one batch, dead-letter what cannot be stored, then acknowledge every message."""
        items: list[Any] = []
        owners: list[int] = []  # message index of each item
        dead: list[tuple[int, str]] = []
        for i, message in enumerate(batch):
            try:
                _, decoded = decode(message)
            except ValueError as exc:
                dead.append((i, str(exc)))
                continue
            items.extend(decoded)
            owners.extend([i] * len(decoded))
        outcome = ingest(self.db, items, hub=self.hub) if items else None
        if outcome is not None:
            for rejection in outcome.rejected:
                dead.append((owners[rejection["index"]], rejection["reason"]))
        if dead:
            with self.db.session() as session:
                session.add_all(
                    DeadLetter(
                        source="mqtt",
                        topic=batch[i].topic[:300],
                        payload=batch[i].payload.decode("utf-8", "replace")[:PAYLOAD_KEEP],
                        reason=reason,
                    )
                    for i, reason in dead
                )
        for message in batch:
            self._client.ack(message.mid, message.qos)
        c = self.counters
        c.batches += 1
        c.messages += len(batch)
        c.dead_letters += len(dead)
        if outcome is not None:
            c.accepted += outcome.accepted
            c.duplicates += outcome.duplicates
