"""A real server under a crowd: more concurrent requests than database connections and worker
threads all get answers (none stalls), and what a client created is readable the moment it
gets its 201."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn

from tests.conftest import PASSWORD
from twin.app import create_app
from twin.config import Settings

CROWD = 150  # > 40 worker threads and > 20 pooled connections


def at_once(
    calls: list[tuple[str, str, object]], headers: dict[str, str] | None = None
) -> list[int]:
    """Send every request at the same moment, one thread each (threads, not asyncio: the
    browser tests leave an event loop running in the main thread), and return the statuses."""
    start = threading.Barrier(len(calls))
    limits = httpx.Limits(max_connections=len(calls), max_keepalive_connections=len(calls))
    with httpx.Client(timeout=60, limits=limits, headers=headers) as client:

        def send(call: tuple[str, str, object]) -> int:
            method, url, body = call
            start.wait()
            return client.request(method, url, json=body).status_code

        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            return list(pool.map(send, calls))


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = settings.model_copy(update={"public_reads_per_minute": 100_000})
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=30)


def test_a_crowd_of_readers_is_served_and_writes_are_visible_at_once(
    server: str, settings: Settings
) -> None:
    from twin.auth import add_user
    from twin.db import Database

    db = Database(settings.resolved_database_url)
    with db.session() as s:
        add_user(s, "planner", "planner", PASSWORD)
    db.dispose()
    api = f"{server}/api/v1"
    with httpx.Client(timeout=60) as http:
        token = http.post(f"{api}/auth/token", data={"username": "planner", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        for i in range(10):  # each answer is committed before it is sent
            project = http.post(f"{api}/projects", json={"name": f"p{i}"}, headers=headers)
            assert project.status_code == 201
            pid = project.json()["id"]
            variant = http.post(
                f"{api}/projects/{pid}/variants", json={"name": "A"}, headers=headers
            )
            assert variant.status_code == 201, variant.text
        meeting = http.post(f"{api}/projects/{pid}/meetings", json={"title": "m"}, headers=headers)
        link = f"{api}/public/meetings/{meeting.json()['token']}"

    assert at_once([("GET", link, None)] * CROWD) == [200] * CROWD


def test_simultaneous_saves_of_one_variant_let_exactly_one_win(
    server: str, settings: Settings
) -> None:
    """Ten planners save the same version at the same instant: one new version, nine
    conflicts, each refused edit kept as a revision."""
    from twin.auth import add_user
    from twin.db import Database

    db = Database(settings.resolved_database_url)
    with db.session() as s:
        add_user(s, "planner", "planner", PASSWORD)
    db.dispose()
    api = f"{server}/api/v1"
    with httpx.Client(timeout=60) as http:
        token = http.post(f"{api}/auth/token", data={"username": "planner", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        pid = http.post(f"{api}/projects", json={"name": "p"}, headers=headers).json()["id"]
        vid = http.post(f"{api}/projects/{pid}/variants", json={"name": "A"}, headers=headers)
        url = f"{api}/projects/{pid}/variants/{vid.json()['id']}"

    bodies = [{"name": f"edit {i}", "content": {}, "base_version": 1} for i in range(10)]
    answers = at_once([("PUT", url, b) for b in bodies], headers)
    assert sorted(answers) == [200] + [409] * 9
    with httpx.Client(timeout=60, headers=headers) as http:
        assert http.get(url).json()["version"] == 2
        history = http.get(f"{url}/revisions").json()
        assert sorted(h["conflict"] for h in history) == [False, False] + [True] * 9
