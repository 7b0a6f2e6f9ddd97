"""The `twin` command line, run as a user runs it: a separate process, real database."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import SHARED_DATA


def run(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "twin.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TWIN_DATA_DIR": str(tmp_path / "var"),
        "TWIN_DATABASE_URL": db_url,
        "TWIN_SHARED_DATA_DIR": str(SHARED_DATA),
        "COLUMNS": "200",
    }


def test_help_on_every_command() -> None:
    env = dict(os.environ)
    for cmd in ([], ["serve"], ["demo"], ["user"], ["user", "add"], ["jobs"], ["layers", "list"]):
        r = run(env, *cmd, "--help")
        assert r.returncode == 0, (cmd, r.stderr)
        assert "Usage" in r.stdout


def test_user_add_then_login(env: dict[str, str]) -> None:
    r = run(env, "user", "add", "gisela", "--role", "gis", "--password", "s3cret-enough")
    assert r.returncode == 0, r.stderr
    assert "gisela" in r.stdout
    r = run(env, "user", "add", "gisela", "--role", "gis", "--password", "s3cret-enough")
    assert r.returncode == 2 and "already exists" in r.stderr
    r = run(env, "user", "add", "nero", "--role", "emperor", "--password", "s3cret-enough")
    assert r.returncode == 2 and "role 'emperor'" in r.stderr
    assert "Traceback" not in r.stderr
    r = run(
        env, "user", "add", "pat", "--role", "planner", stdin="pw-from-prompt\npw-from-prompt\n"
    )
    assert r.returncode == 0, r.stderr
    listing = run(env, "user", "list")
    assert "gisela" in listing.stdout and "pat" in listing.stdout and "planner" in listing.stdout


@pytest.mark.usefixtures("shared_data")
def test_demo_loads_scene_twice_without_duplicates(env: dict[str, str]) -> None:
    first = run(env, "demo", "--no-serve", timeout=300)
    assert first.returncode == 0, first.stderr  # also: no crash at exit (one PROJ in process)
    assert "10 layer(s) added" in first.stdout
    assert "sensors: 169 registered" in first.stdout
    second = run(env, "demo", "--no-serve", timeout=300)
    assert second.returncode == 0, second.stderr
    assert "0 layer(s) added, 10 already loaded" in second.stdout
    assert "sensors: 0 registered" in second.stdout
    layers = json.loads(run(env, "layers", "list", "--json").stdout)
    assert len(layers) == 10 and all(la["status"] == "ready" for la in layers)
    kinds = sorted(la["kind"] for la in layers)
    assert {"terrain", "imagery", "mesh", "pointcloud", "vector"} <= set(kinds)
    jobs = run(env, "jobs")
    assert jobs.returncode == 0 and jobs.stdout.count("succeeded") == 2


def test_demo_without_shared_data_says_empty_scene(env: dict[str, str], tmp_path: Path) -> None:
    r = run({**env, "TWIN_SHARED_DATA_DIR": str(tmp_path / "none")}, "demo", "--no-serve")
    assert r.returncode == 0, r.stderr
    assert "empty scene" in r.stdout


def test_unreachable_database_is_one_line_error(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TWIN_DATA_DIR": str(tmp_path),
        "TWIN_DATABASE_URL": "postgresql+psycopg://twin:secret@127.0.0.1:9/none",
    }
    r = run(env, "jobs")
    assert r.returncode == 2
    assert "unreachable" in r.stderr and "secret" not in r.stderr
    assert "Traceback" not in r.stderr


def test_production_refuses_default_secret(tmp_path: Path) -> None:
    env = {**os.environ, "TWIN_DATA_DIR": str(tmp_path), "TWIN_ENVIRONMENT": "production"}
    r = run(env, "jobs")
    assert r.returncode == 2 and "TWIN_SECRET_KEY" in r.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_health(env: dict[str, str]) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()["status"] == "ok"
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=30)
    # uvicorn shuts down gracefully, then re-raises SIGTERM as its exit status
    assert "Application shutdown complete" in output
    assert proc.returncode in (0, -15)
