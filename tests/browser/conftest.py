"""The real server with the demo scene, and headless Chromium (Debian's) driving the viewer.

The server runs as it does for a user: `twin demo --no-serve` loads the demo scene into an
embedded SpatiaLite database under a temporary data directory, then uvicorn serves the app on a
free loopback port. Nothing is mocked; the browser only ever talks to 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
CESIUM_JS = REPO / "web" / "static" / "cesium" / "Cesium.js"
CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = REPO / "test-output"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 800}
START_TIMEOUT_S = 60
CLI = [sys.executable, "-m", "twin.cli"]
# Accounts made in the test server (not in one named by BROWSER_TESTS_SERVER): name -> (role, pw)
USERS = {
    "gisela": ("gis", "gisela-pw-" + "4h7Kq"),
    "paul": ("planner", "paul-pw-" + "9zR2m"),
}
# Point the suite at a server already running (say one with extra layers loaded by hand) instead
# of starting one with the demo scene: BROWSER_TESTS_SERVER=http://127.0.0.1:8000
EXISTING_SERVER = os.environ.get("BROWSER_TESTS_SERVER", "").rstrip("/")


def _skip_reason() -> str | None:
    if not CHROMIUM.is_file():
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if not CESIUM_JS.is_file():
        return f"CesiumJS is not built at {CESIUM_JS} (run `make web`)"
    if not SHARED_DATA.is_dir():
        return f"sample data not found at {SHARED_DATA}"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_env(data_dir: Path) -> dict[str, str]:
    """The caller's environment less any TWIN_* setting, plus a private data dir and secret."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWIN_")}
    env.update(
        TWIN_DATA_DIR=str(data_dir),
        TWIN_SECRET_KEY="browser-tests-" + os.urandom(16).hex(),
        TWIN_SHARED_DATA_DIR=str(SHARED_DATA),
        TWIN_JOB_WORKERS="1",
        TWIN_LOG_LEVEL="warning",
        PYTHONUNBUFFERED="1",
    )
    return env


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _wait_healthy(base_url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/api/v1/health", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(f"the server did not answer within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a real twin server holding the demo scene (LiDAR HD point clouds, 3D Tiles
    samples; the tests read the layer list from the API rather than assume it)."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    if EXISTING_SERVER:
        yield EXISTING_SERVER
        return
    root = tmp_path_factory.mktemp("twin-server")
    env = _server_env(root / "data")
    demo = subprocess.run(
        [sys.executable, "-m", "twin.cli", "demo", "--no-serve"],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=400,
    )
    if demo.returncode != 0:
        pytest.fail(f"`twin demo --no-serve` failed:\n{demo.stdout}\n{demo.stderr}")
    for name, (role, password) in USERS.items():
        add = subprocess.run(
            [*CLI, "user", "add", name, "--role", role, "--password", password],
            env=env,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if add.returncode != 0:
            pytest.fail(f"`twin user add {name}` failed:\n{add.stdout}\n{add.stderr}")
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = root / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "twin.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(base_url, proc, log)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Viewer:
    """One open viewer page and everything it said and asked for since it opened."""

    page: Any
    base_url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def watch(self) -> None:
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on(
            "console",
            lambda m: (
                self.errors.append(f"console: {m.text} @ {m.location}")
                if m.type == "error"
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def wait_ready(self) -> dict[str, Any]:
        """Wait for `window.twin.ready`: the layer list loaded, the first tilesets requested."""
        self.page.wait_for_function("() => window.twin && window.twin.ready", timeout=30_000)
        return self.page.evaluate("() => window.twin.ready")  # type: ignore[no-any-return]

    def screenshot(self, name: str, tmp_path: Path) -> Path:
        """Save a full-page screenshot under tmp_path and under <repo>/test-output/."""
        path = tmp_path / name
        self.page.screenshot(path=str(path), full_page=True)
        OUTPUT.mkdir(exist_ok=True)
        shutil.copyfile(path, OUTPUT / name)
        return path


def open_viewer(
    browser: Any, base_url: str, *, route: Any = None, viewport: dict[str, int] | None = None
) -> Viewer:
    page = browser.new_page(viewport=viewport or VIEWPORT)
    page.set_default_timeout(45_000)
    viewer = Viewer(page, base_url)
    viewer.watch()
    if route is not None:
        page.route("**/api/v1/layers", route)
    page.goto(f"{base_url}/")
    return viewer


@pytest.fixture(scope="module")
def viewer(browser: Any, live_server: str) -> Iterator[Viewer]:
    """The viewer page, opened once per module and shared by its tests (CesiumJS takes a while
    to start in software GL); it records console errors and every request."""
    v = open_viewer(browser, live_server)
    try:
        v.wait_ready()
        yield v
    finally:
        v.page.close()
