"""Live push over Server-Sent Events, read by a real HTTP client from a real server."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tests.conftest import PASSWORD
from tests.twin.sensors.conftest import RIVER
from twin.app import create_app
from twin.auth import add_user
from twin.config import Settings


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(data_dir=tmp_path / "var", secret_key="live-test-secret-" + "x" * 20)
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    with app.state.db.session() as s:
        add_user(s, "feeder", "device", PASSWORD)
        add_user(s, "staff", "gis", PASSWORD)
    yield base
    srv.should_exit = True
    thread.join(10)


def _token(base: str, user: str) -> dict[str, str]:
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_new_readings_and_alerts_are_pushed(server: str) -> None:
    staff, device = _token(server, "staff"), _token(server, "feeder")
    assert httpx.post(f"{server}/api/v1/sensors", json=RIVER, headers=staff).status_code == 201
    rule = {"kind": "above", "sensor_id": RIVER["id"], "quantity": "level", "threshold": 2.0}
    assert httpx.post(f"{server}/api/v1/alert-rules", json=rule, headers=staff).status_code == 201
    events: list[tuple[str, Any]] = []

    def listen() -> None:
        with httpx.stream("GET", f"{server}/api/v1/stream?seconds=5", timeout=10) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            event = ""
            for line in r.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    events.append((event, json.loads(line[6:])))
                    if len(events) == 2:
                        return

    listener = threading.Thread(target=listen)
    listener.start()
    time.sleep(0.5)  # let the subscription start
    items = [[RIVER["id"], "level", "2026-10-10T06:00:00Z", 1.0],
             [RIVER["id"], "level", "2026-10-10T06:15:00Z", 2.6]]  # fmt: skip
    r = httpx.post(f"{server}/api/v1/observations", json=items, headers=device)
    assert r.json()["accepted"] == 2
    listener.join(10)
    assert [e for e, _ in events] == ["latest", "alert"]
    assert events[0][1] == [{"sensor": RIVER["id"], "quantity": "level", "unit": "m",
                            "time": "2026-10-10T06:15:00.000Z", "value": 2.6}]  # fmt: skip
    assert events[1][1]["status"] == "open" and events[1][1]["value"] == 2.6


def test_simulator_feeds_a_server_over_http(server: str) -> None:
    """The path the demo's live feed takes: register over HTTP, back-fill, then live rounds."""
    import threading

    from twin.sensors.feed import HttpSender, backfill, live
    from twin.sensors.simulator import DEFAULT_RULES, metropolis_setup

    sims = [s for s in metropolis_setup() if s.kind in ("noise", "level")][:6]
    token = _token(server, "staff")["Authorization"].removeprefix("Bearer ")
    sender = HttpSender(server, token)
    assert sender.register(sims, DEFAULT_RULES) == 6
    assert sender.register(sims, DEFAULT_RULES) == 0  # idempotent
    stored = backfill(sender, sims, days=0.25)
    assert stored > 6 * 20
    assert live(sender, sims, interval=0.01, stop=threading.Event(), rounds=2) > 0
    rules = httpx.get(f"{server}/api/v1/alert-rules", headers=_token(server, "staff")).json()
    assert len(rules) == len(DEFAULT_RULES)
    noise = httpx.get(f"{server}/api/v1/sensors/{sims[0].id}").json()
    assert noise["properties"]["quantities"][0]["latest"] is not None
