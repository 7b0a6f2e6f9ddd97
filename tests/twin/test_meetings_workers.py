"""Several server workers, one meeting: the presenter's request lands on one worker, citizens'
screens on another, and the real Mosquitto broker carries the messages between them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.conftest import PASSWORD
from tests.twin.sensors.test_mqtt import broker  # noqa: F401  (the broker fixture)
from tests.twin.test_meetings import CAMERA
from tests.twin.test_projects import new_project, new_variant
from twin.app import create_app
from twin.config import Settings

API = "/api/v1"


def _wait(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the relay did not connect in time"
        time.sleep(0.05)


def test_screens_on_another_worker_follow_the_presenter(
    settings: Settings,
    broker: str,  # noqa: F811
) -> None:
    def worker() -> TestClient:
        own = settings.model_copy(
            update={"mqtt_url": broker, "mqtt_client_id": f"twin-test-{uuid.uuid4().hex[:8]}"}
        )
        return TestClient(create_app(own), raise_server_exceptions=False)

    with worker() as presenter_side, worker() as screen_side:
        for side in (presenter_side, screen_side):
            _wait(lambda side=side: side.app.state.meetings.relay.connected)  # type: ignore[attr-defined]
        from twin.auth import add_user

        with presenter_side.app.state.db.session() as s:  # type: ignore[attr-defined]
            add_user(s, "presenter", "planner", PASSWORD)
        token = presenter_side.post(
            f"{API}/auth/token", data={"username": "presenter", "password": PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        project = new_project(presenter_side, headers)
        variant = new_variant(presenter_side, headers, project["id"])
        meeting = presenter_side.post(
            f"{API}/projects/{project['id']}/meetings",
            json={"title": "Conseil de quartier", "bookmarks": [{"camera": CAMERA}]},
            headers=headers,
        ).json()
        live = f"{API}/public/meetings/{meeting['token']}/live"
        with screen_side.websocket_connect(live) as screen:
            assert screen.receive_json()["type"] == "hello"
            r = presenter_side.post(
                f"{API}/meetings/{meeting['id']}/state",
                json={"bookmark": 0, "variant_id": variant["id"]},
                headers=headers,
            )
            assert r.status_code == 200
            step = screen.receive_json()
            assert step["type"] == "state" and step["state"]["variant_id"] == variant["id"]
            assert step["state_version"] == 1
