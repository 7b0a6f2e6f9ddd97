"""Benchmark: a public meeting under load: push to N screens vs polling, public reads vs health.

Why: a public meeting is the one page of the twin opened by hundreds of citizens at once, each
following the presenter. The presenter's moves are pushed over WebSocket; the no-push
alternative is every screen polling the public meeting once per second. This measures both on
the same server in the same run, and how many public page loads one server answers.

What it does, against a real `twin serve` (one uvicorn worker) on a fresh database (SpatiaLite
in a temporary folder, or a new PostGIS database beside `--database-url`): adds a planner
(`twin user add`), logs in, creates a project with two variants and a meeting with two
bookmarks through the API, then:

1. Live fan-out: `--screens` WebSocket screens (default 500) join the meeting's live URL (each
   gets its `hello`); the presenter posts `--steps` state changes (default 20, `--spacing` 0.5 s
   apart); per step, the time from the POST being sent to the LAST screen receiving that
   state_version (and the mean over screens); every screen must get every step (losses counted).
   Baseline: the same number of viewers (`--pollers` to change it) polling
   GET /public/meetings/<token> once per second (random phases), the same steps: staleness
   (POST sent -> a poller first sees that version or a later one), how many states a poller
   never sees, and the requests/s and server CPU the polling costs.
2. Public reads: `--viewers` concurrent keep-alive clients (default 200) GET the public meeting
   for `--seconds` (default 10) vs GET /api/v1/health on the same server, same concurrency.

The public reads are rate-limited per client IP (TWIN_PUBLIC_READS_PER_MINUTE, default 240) and
every bench client is 127.0.0.1: the bench server runs with the limit raised (it says so).
Server CPU is read from /proc for each phase. A GET unanswered within 10 s counts as an error;
a server that still does not answer /health within 1 s, 20 s after a phase, is restarted (same
database) before the next phase, and the output says so. Loopback only, bounded in time and
count; the load client shares the machine's cores with the server. Exits 1 when a screen lost
a step.

    .venv/bin/python bench/meeting_load.py [--screens 500] [--pollers N] [--steps 20]
        [--viewers 200] [--seconds 10] [--server-log PATH] [--database-url postgresql+psycopg://twin:twin@127.0.0.1:5432/twin]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

try:
    from websockets.asyncio.client import connect as ws_connect
except ImportError:  # pragma: no cover - websockets < 13
    ws_connect = None

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
API = "/api/v1"
PASSWORD = "bench-password-1"
READS_LIMIT = 10_000_000  # per client and minute, for the bench server only
POST_S = 20.0  # the presenter's patience per POST
TAIL_S = 10.0  # polling: how long after the last POST pollers may take to see it
DRAIN_S = 15.0  # polling: how long in-flight requests may take to finish at the end
REQUEST_S = 10.0  # a viewer's patience per GET (counted as an error past it)
RECOVER_S = 20.0  # between phases: how long the server may take to answer quickly again
SETUP_RETRIES: list[str] = []  # set-up calls that got 404 for a row just created
DUPLICATES = [0]  # POSTs answered with a state_version another POST already got
CAMERA = {"lon": 5.4474, "lat": 43.5263, "height": 600}
VERSION = re.compile(rb'"state_version":\s*(\d+)')
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# --- set-up ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def fresh_database(url: str | None, folder: Path) -> str:
    """A new empty database: a new PostGIS database beside `url`, or SpatiaLite in `folder`."""
    if not url:
        return f"sqlite:///{folder / 'bench.sqlite'}"
    from sqlalchemy import create_engine, text

    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    name = f"twin_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    target = url.rsplit("/", 1)[0] + "/" + name
    engine = create_engine(target)
    with engine.begin() as c:
        c.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine.dispose()
    return target


def drop_database(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    from sqlalchemy import create_engine, text

    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "twin.cli", "serve", "--host", HOST, "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    for _ in range(600):
        if proc.poll() is not None:
            break
        try:
            if httpx.get(f"http://{HOST}:{port}{API}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop(proc)
    raise RuntimeError(f"server did not start:\n{log.read_text(errors='replace')[-3000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Graceful stop of the server we started (its own process group), then a hard one."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


def footprint(lon: float, lat: float, w: float, h: float) -> list[list[float]]:
    """A w x h metre rectangle near (lon, lat), in WGS84 degrees."""
    dx, dy = w / 80_700.0, h / 111_200.0  # metres per degree at 43.5° N
    return [[lon, lat], [lon + dx, lat], [lon + dx, lat + dy], [lon, lat + dy]]


def post_retry(http: httpx.Client, url: str, **kw: object) -> httpx.Response:
    """POST, retried on 404 for a moment: the API can answer 201 before its commit is visible
    (the session's commit runs in the dependency's exit), so the next call may miss the row."""
    for attempt in range(20):
        r = http.post(url, **kw)  # type: ignore[arg-type]
        if r.status_code != 404:
            break
        if attempt == 0:
            SETUP_RETRIES.append(f"{url}: {r.json().get('detail')}")
        time.sleep(0.05)
    r.raise_for_status()
    return r


def create_meeting(base: str) -> tuple[dict[str, str], int, str]:
    """Planner logs in, makes a project, two variants, a meeting; (headers, meeting id, token)."""
    with httpx.Client(base_url=base + API, timeout=30) as http:
        r = http.post("/auth/token", data={"username": "planner", "password": PASSWORD})
        r.raise_for_status()
        head = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = http.post(
            "/projects", headers=head, json={"name": "Quartier Sextius", "description": "bench"}
        )
        r.raise_for_status()
        pid = r.json()["id"]
        variants = []
        for name, height in (("École 3 étages", 9.0), ("École 5 étages", 15.0)):
            school = {
                "id": "b1",
                "name": "School",
                "polygon": footprint(5.4471, 43.5260, 40, 25),
                "height": height,
                "use": "school",
            }
            trees = [{"id": f"t{i}", "lon": 5.447 + i * 1e-4, "lat": 43.526} for i in range(5)]
            content = {"footprints": [school], "trees": trees, "camera": CAMERA}
            r = post_retry(
                http,
                f"/projects/{pid}/variants",
                headers=head,
                json={"name": name, "content": content},
            )
            variants.append(r.json()["id"])
        bookmarks = [
            {"title": "Vue d'ensemble", "camera": CAMERA, "variant_id": variants[0]},
            {"title": "Variante B", "camera": CAMERA, "variant_id": variants[1], "duration_s": 8},
        ]
        r = post_retry(
            http,
            f"/projects/{pid}/meetings",
            headers=head,
            json={"title": "Réunion publique", "bookmarks": bookmarks},
        )
        meeting = r.json()
        return head, int(meeting["id"]), str(meeting["token"])


# --- small keep-alive HTTP/1.1 client (lighter than httpx: the client shares the cores) --------


class Conn:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        """One GET; a request unanswered within REQUEST_S raises TimeoutError (and closes)."""
        try:
            return await asyncio.wait_for(self._get(path), REQUEST_S)
        except TimeoutError:
            self.close()
            raise

    async def _get(self, path: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close()
            raise
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length, close = 0, False
        for line in lines[1:]:
            low = line.lower()
            if low.startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
            elif low.startswith(b"connection:") and b"close" in low:
                close = True
        body = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


# --- 1. live fan-out ---------------------------------------------------------------------------


@dataclass
class Screen:
    got: dict[int, float] = field(default_factory=dict)  # state_version -> perf_counter at receipt
    hello: asyncio.Event = field(default_factory=asyncio.Event)
    error: str = ""


async def run_screen(url: str, screen: Screen, stop_event: asyncio.Event) -> None:
    try:
        async with ws_connect(url, ping_interval=None, open_timeout=30, max_queue=None) as ws:
            reader = asyncio.ensure_future(_read(ws, screen))
            await stop_event.wait()
            reader.cancel()
    except Exception as exc:  # a screen that fails is counted, not fatal
        screen.error = f"{type(exc).__name__}: {exc}"
        screen.hello.set()


async def _read(ws: object, screen: Screen) -> None:
    async for raw in ws:  # type: ignore[attr-defined]
        now = time.perf_counter()
        message = json.loads(raw)
        if message.get("type") == "hello":
            screen.hello.set()
        elif message.get("type") == "state":
            screen.got.setdefault(int(message["state_version"]), now)


async def post_steps(
    http: httpx.AsyncClient, meeting_id: int, head: dict[str, str], steps: int, spacing: float
) -> tuple[dict[int, float], list[float], int]:
    """`steps` state changes sent on a fixed schedule, `spacing` s apart, each without waiting
    for the one before (a slow server does not stretch the schedule); bounded by POST_TIMEOUT.
    ({state_version: perf_counter when sent}, presenter's ms until answered, failed POSTs)."""
    sent: dict[int, float] = {}
    acks: list[float] = []
    failed = [0]

    async def one(i: int, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        t0 = time.perf_counter()
        try:
            r = await http.post(
                f"/meetings/{meeting_id}/state", headers=head, json={"bookmark": i % 2}
            )
            r.raise_for_status()
        except httpx.HTTPError:
            failed[0] += 1
            return
        acks.append((time.perf_counter() - t0) * 1e3)
        version = int(r.json()["state_version"])
        if version in sent:  # two POSTs answered with the same state_version
            DUPLICATES[0] += 1
        sent[version] = t0

    start = time.perf_counter()
    await asyncio.gather(*(one(i, start + i * spacing) for i in range(steps)))
    return sent, acks, failed[0]


@dataclass
class PushResult:
    screens: int
    connected: int
    connect_s: float
    last_ms: list[float]  # per step: POST sent -> last screen
    mean_ms: list[float]  # per step: mean over screens
    losses: int  # (screen, step) pairs never delivered, failed screens and POSTs included
    ack_ms: list[float]
    cpu_per_step_ms: float | None
    errors: list[str]


async def live_fanout(
    port: int, token: str, meeting_id: int, head: dict[str, str], args: argparse.Namespace, pid: int
) -> PushResult:
    url = f"ws://{HOST}:{port}{API}/public/meetings/{token}/live"
    stop_event = asyncio.Event()
    screens = [Screen() for _ in range(args.screens)]
    tasks: list[asyncio.Task[None]] = []
    t0 = time.perf_counter()
    for k in range(0, len(screens), 50):  # join in waves of 50, as a room fills up
        wave = screens[k : k + 50]
        tasks += [asyncio.create_task(run_screen(url, s, stop_event)) for s in wave]
        await asyncio.wait_for(asyncio.gather(*(s.hello.wait() for s in wave)), 60)
    connect_s = time.perf_counter() - t0
    live = [s for s in screens if not s.error]
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}{API}", timeout=POST_S) as http:
        warm, _, _ = await post_steps(http, meeting_id, head, 1, 0)  # untimed warm-up step
        if warm:
            await _until_all(live, max(warm), 10)
        cpu0 = cpu_seconds(pid)
        sent, acks, failed = await post_steps(http, meeting_id, head, args.steps, args.spacing)
        if sent:
            await _until_all(live, max(sent), 15)
        cpu1 = cpu_seconds(pid)
    stop_event.set()
    await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
    last_ms, mean_ms, losses = [], [], failed * len(screens)
    for version, t_sent in sorted(sent.items()):
        times = [s.got[version] - t_sent for s in live if version in s.got]
        losses += len(live) - len(times)
        if times:
            last_ms.append(max(times) * 1e3)
            mean_ms.append(statistics.fmean(times) * 1e3)
    losses += (len(screens) - len(live)) * len(sent)
    cpu = (
        (cpu1 - cpu0) / len(sent) * 1e3 if cpu0 is not None and cpu1 is not None and sent else None
    )
    return PushResult(
        len(screens),
        len(live),
        connect_s,
        last_ms,
        mean_ms,
        losses,
        acks,
        cpu,
        sorted({s.error for s in screens if s.error})[:3]
        + [f"{failed} POSTs failed"] * bool(failed),
    )


async def _until_all(screens: list[Screen], version: int, timeout: float) -> None:
    end = time.perf_counter() + timeout
    while time.perf_counter() < end and any(version not in s.got for s in screens):
        await asyncio.sleep(0.01)


@dataclass
class PollResult:
    pollers: int
    steps: int
    stale_mean_ms: float  # over (poller, step) pairs seen within the window
    stale_last_ms: list[float]  # per step seen by every poller: POST sent -> the last one
    unseen: int  # (poller, step) pairs still not seen when the window closed
    never_exact: float  # share of (poller, step) pairs whose exact state the poller never got
    rps: float
    errors: int
    latency_p95_ms: float
    ack_ms: list[float]
    failed_posts: int
    window_s: float
    requests_per_step: float  # requests per step interval (`--spacing` s)
    cpu_per_step_ms: float | None  # server CPU per step interval


async def polling(
    port: int, token: str, meeting_id: int, head: dict[str, str], args: argparse.Namespace, pid: int
) -> PollResult:
    """The no-push alternative: each viewer GETs the public meeting once per second."""
    path = f"{API}/public/meetings/{token}"
    stopping = asyncio.Event()
    seen: list[list[tuple[float, int]]] = [[] for _ in range(args.pollers)]
    done: list[tuple[float, float]] = []  # (perf_counter at response, latency s)
    errors = [0]

    async def poller(k: int) -> None:
        conn = Conn(port)
        tick = time.perf_counter() + random.random()  # phases, not secrets
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), max(0.0, tick - time.perf_counter()))
                if stopping.is_set():
                    return
                t = time.perf_counter()
                try:
                    status, body = await conn.get(path)
                except (OSError, asyncio.IncompleteReadError, TimeoutError):
                    errors[0] += 1
                    conn.close()
                    tick = time.perf_counter() + 1.0
                    continue
                now = time.perf_counter()
                if status == 200:
                    done.append((now, now - t))
                m = VERSION.search(body) if status == 200 else None
                if m is None:
                    errors[0] += 1
                else:
                    seen[k].append((now, int(m.group(1))))
                tick = max(tick + 1.0, now)  # no catch-up burst when the server falls behind
        finally:
            conn.close()

    tasks = [asyncio.create_task(poller(k)) for k in range(args.pollers)]
    await asyncio.sleep(2.0)  # every poller started, connections open
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}{API}", timeout=POST_S) as http:
        cpu0, w0 = cpu_seconds(pid), time.perf_counter()
        sent, acks, failed = await post_steps(http, meeting_id, head, args.steps, args.spacing)
    # the window closes when every poller has seen the last state, at most TAIL_S after it
    last = max(sent, default=0)
    end = max(sent.values(), default=w0) + TAIL_S
    await asyncio.sleep(max(0.0, max(sent.values(), default=w0) + 1.0 - time.perf_counter()))
    while time.perf_counter() < end and any(all(v < last for _t, v in obs) for obs in seen):
        await asyncio.sleep(0.05)
    cpu1, w1 = cpu_seconds(pid), time.perf_counter()
    stopping.set()  # pollers finish the request they are in, then stop
    _done, pending = await asyncio.wait(tasks, timeout=DRAIN_S)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)

    stale_all: list[float] = []
    stale_last: list[float] = []
    exact = pairs = unseen = 0
    for version, t_sent in sorted(sent.items()):
        per_step = []
        for obs in seen:
            first = next((t for t, v in obs if v >= version and t_sent <= t <= w1), None)
            pairs += 1
            exact += any(v == version for _t, v in obs)
            if first is None:
                unseen += 1
            else:
                per_step.append(first - t_sent)
        stale_all += per_step
        if per_step and len(per_step) == len(seen):
            stale_last.append(max(per_step) * 1e3)
    in_window = [lat for t, lat in done if w0 <= t <= w1]
    cpu_rate = (cpu1 - cpu0) / (w1 - w0) if cpu0 is not None and cpu1 is not None else None
    return PollResult(
        args.pollers,
        len(sent),
        statistics.fmean(stale_all) * 1e3 if stale_all else float("nan"),
        stale_last,
        unseen,
        1 - exact / pairs if pairs else float("nan"),
        len(in_window) / (w1 - w0),
        errors[0],
        pct(in_window, 0.95) * 1e3,
        acks,
        failed,
        w1 - w0,
        len(in_window) / (w1 - w0) * args.spacing,
        cpu_rate * args.spacing * 1e3 if cpu_rate is not None else None,
    )


# --- 2. public reads vs health -----------------------------------------------------------------


@dataclass
class ReadResult:
    name: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    cpu_s: float | None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


async def closed_loop(
    port: int, path: str, clients: int, seconds: float
) -> tuple[list[float], int, float]:
    """`clients` keep-alive connections, each sending the next GET as soon as one answers."""
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    errors = [0]

    async def client() -> None:
        conn = Conn(port)
        try:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                try:
                    status, _body = await conn.get(path)
                except (OSError, asyncio.IncompleteReadError, TimeoutError):
                    errors[0] += 1
                    conn.close()
                    continue
                if status == 200:
                    latencies.append(time.perf_counter() - t)
                else:
                    errors[0] += 1
        finally:
            conn.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors[0], time.perf_counter() - t0


async def reads(port: int, name: str, path: str, args: argparse.Namespace, pid: int) -> ReadResult:
    await closed_loop(port, path, args.viewers, 1.0)  # warm-up, discarded
    cpu0 = cpu_seconds(pid)
    latencies, errors, seconds = await closed_loop(port, path, args.viewers, args.seconds)
    cpu1 = cpu_seconds(pid)
    cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    return ReadResult(
        name,
        len(latencies),
        errors,
        seconds,
        pct(latencies, 0.50) * 1e3,
        pct(latencies, 0.95) * 1e3,
        cpu,
    )


# --- main --------------------------------------------------------------------------------------


def ms(values: list[float], q: float) -> str:
    return f"{pct(values, q):9.1f}"


def ratio(a: float, b: float, fmt: str = ".1f") -> str:
    """a / b, or 'n/a' when either side measured nothing."""
    if not b or b != b or a != a:
        return "n/a"
    return format(a / b, fmt)


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


ROW = "{:<36}{:>9}{:>9}{:>9}{:>8}{:>8}{:>9}{:>11}"


def report_push(push: PushResult) -> None:
    print(
        f"\n1. live fan-out: {push.connected}/{push.screens} screens joined in "
        f"{push.connect_s:.1f} s; {len(push.last_ms)} steps"
    )
    print(ROW.format("", "p50 ms", "p95 ms", "mean ms", "lost", "req/s", "req/step", "CPU/step"))
    cpu = f"{push.cpu_per_step_ms:.0f} ms" if push.cpu_per_step_ms is not None else "-"
    print(
        ROW.format(
            "push: POST sent -> last screen",
            ms(push.last_ms, 0.5),
            ms(push.last_ms, 0.95),
            f"{mean(push.last_ms):.1f}",
            push.losses,
            "-",
            1,
            cpu,
        )
    )
    for name, values in (
        ("push: POST sent -> a screen (mean)", push.mean_ms),
        ("push: POST answered (presenter)", push.ack_ms),
    ):
        print(ROW.format(name, ms(values, 0.5), ms(values, 0.95), f"{mean(values):.1f}", *"    "))
    if push.errors:
        print(f"  errors: {'; '.join(push.errors)}")


def report_poll(push: PushResult, poll: PollResult) -> None:
    cpu = f"{poll.cpu_per_step_ms:.0f} ms" if poll.cpu_per_step_ms is not None else "-"
    print(
        ROW.format(
            "poll 1/s: POST sent -> last poller",
            ms(poll.stale_last_ms, 0.5),
            ms(poll.stale_last_ms, 0.95),
            f"{mean(poll.stale_last_ms):.1f}",
            poll.unseen,
            f"{poll.rps:.0f}",
            f"{poll.requests_per_step:.0f}",
            cpu,
        )
    )
    print(
        ROW.format("poll 1/s: POST sent -> a poller", "", "", f"{poll.stale_mean_ms:.1f}", *"    ")
    )
    print(
        ROW.format(
            "poll 1/s: POST answered (presenter)",
            ms(poll.ack_ms, 0.5),
            ms(poll.ack_ms, 0.95),
            f"{mean(poll.ack_ms):.1f}",
            *"    ",
        )
    )
    print(
        f"  polling: {poll.pollers} viewers offered {poll.pollers} req/s, the server answered "
        f"{poll.rps:.0f} req/s (p95 {poll.latency_p95_ms:.0f} ms per request, {poll.errors} "
        f"errors: 5xx or no answer within {REQUEST_S:.0f} s) over {poll.window_s:.1f} s; "
        f"a poller never got {poll.never_exact:.0%} of the states; 'lost' = (poller, step) "
        f"pairs not seen {TAIL_S:.0f} s after the last POST"
        + (f"; {poll.failed_posts} presenter POSTs failed" if poll.failed_posts else "")
    )
    pm, pl = mean(push.mean_ms), mean(push.last_ms)
    print(
        f"ratio polling staleness / push latency: mean viewer {ratio(poll.stale_mean_ms, pm)}x "
        f"({poll.stale_mean_ms:.0f} vs {pm:.0f} ms), last viewer "
        f"{ratio(mean(poll.stale_last_ms), pl)}x ({mean(poll.stale_last_ms):.0f} vs {pl:.0f} ms)"
    )
    line = (
        f"ratio requests per step: polling {poll.requests_per_step:.0f} vs push 1 POST "
        f"(+{push.connected} pushed messages): {poll.requests_per_step:.0f}x"
    )
    if push.cpu_per_step_ms and poll.cpu_per_step_ms:
        line += f"; server CPU per step: {ratio(poll.cpu_per_step_ms, push.cpu_per_step_ms)}x"
    print(line)


def report_reads(public: ReadResult, health: ReadResult, viewers: int, seconds: float) -> None:
    print(
        f"\n2. public reads: {viewers} concurrent clients, closed loop on keep-alive "
        f"connections, {seconds:g} s each after a 1 s warm-up"
    )
    print(
        f"{'target':<36}{'requests':>9}{'errors':>7}{'s':>6}{'req/s':>8}{'p50 ms':>9}"
        f"{'p95 ms':>9}{'CPU ms/req':>11}"
    )
    for r in (public, health):
        cpu = f"{r.cpu_s / r.requests * 1e3:.1f}" if r.cpu_s is not None and r.requests else "-"
        print(
            f"{r.name:<36}{r.requests:>9}{r.errors:>7}{r.seconds:>6.1f}{r.rps:>8.0f}"
            f"{r.p50_ms:>9.1f}{r.p95_ms:>9.1f}{cpu:>11}"
        )
    if public.errors or health.errors:
        print(
            f"  errors: answers other than 200, or none within {REQUEST_S:.0f} s "
            "(see the server log line below); req/s and latencies count 200s only"
        )
    print(
        f"ratio public meeting / health: req/s {ratio(public.rps, health.rps, '.2f')} "
        f"(health {ratio(health.rps, public.rps)}x faster), "
        f"p95 {ratio(public.p95_ms, health.p95_ms)}x"
    )


async def recovered(port: int, bound: float = RECOVER_S) -> bool:
    """Wait (bounded) until the server answers /health within a second again."""
    t0 = time.perf_counter()
    conn = Conn(port)
    try:
        while time.perf_counter() - t0 < bound:
            t = time.perf_counter()
            try:
                status, _ = await conn.get(f"{API}/health")
                if status == 200 and time.perf_counter() - t < 1.0:
                    break
            except (OSError, asyncio.IncompleteReadError, TimeoutError):
                conn.close()
            await asyncio.sleep(0.5)
        else:
            return False
    finally:
        conn.close()
    waited = time.perf_counter() - t0
    if waited > 2:
        print(f"  (waited {waited:.0f} s for the server to answer /health quickly again)")
    await asyncio.sleep(1.0)
    return True


@dataclass
class Server:
    """The `twin serve` under test; restarted (same database, same port) when it stays stuck."""

    env: dict[str, str]
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        self.proc = start_server(self.env, self.port, self.log)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)

    async def ready(self) -> None:
        """Answering quickly again, or restarted when it does not within RECOVER_S."""
        if await recovered(self.port):
            return
        print(
            f"  (the server still did not answer /health within 1 s after {RECOVER_S:.0f} s: "
            "restarted, same database)"
        )
        self.stop()
        self.start()
        await recovered(self.port)


async def run_all(
    server: Server, token: str, meeting_id: int, head: dict[str, str], args: argparse.Namespace
) -> int:
    """Every phase, each reported as soon as it is done; returns the lost step deliveries."""
    port = server.port
    push = await live_fanout(port, token, meeting_id, head, args, server.pid)
    report_push(push)
    await server.ready()
    poll = await polling(port, token, meeting_id, head, args, server.pid)
    report_poll(push, poll)
    # the baseline first, so that a stall of the hot path cannot spill into it
    await server.ready()
    health = await reads(port, "GET /health", f"{API}/health", args, server.pid)
    await server.ready()
    public = await reads(
        port, "GET /public/meetings/<token>", f"{API}/public/meetings/{token}", args, server.pid
    )
    report_reads(public, health, args.viewers, args.seconds)
    if SETUP_RETRIES:
        print(
            f"\nnote: set-up got 404 for a row the API had just created ({SETUP_RETRIES[0]}); "
            "retried: the answer went out before the commit"
        )
    if DUPLICATES[0]:
        print(
            f"\nnote: {DUPLICATES[0]} presenter POSTs got a state_version another POST already "
            "had (POSTs overlapping when the server is slow); screens keep one state per version"
        )
    return push.losses


def server_log_summary(text: str) -> str:
    """What went wrong on the server side, counted by exception (its log is warning level)."""
    lines = text.splitlines()
    tracebacks = sum("Traceback (most recent call last)" in line for line in lines)
    kinds = collections.Counter(
        m.group(1)
        for line in lines
        if (
            m := re.match(
                r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Disconnect\w*|Timeout))\b", line
            )
        )
    )
    warnings = sum(" WARNING" in line or line.startswith("WARNING") for line in lines)
    if not tracebacks and not kinds:
        return f"server log: no errors ({warnings} warning lines)"
    top = ", ".join(f"{k} x{n}" for k, n in kinds.most_common(4))
    return f"server log: {tracebacks} tracebacks ({top}); {warnings} warning lines"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--screens", type=int, default=500, help="live screens (and pollers)")
    parser.add_argument(
        "--pollers", type=int, help="polling viewers of the baseline (default: --screens)"
    )
    parser.add_argument("--steps", type=int, default=20, help="presenter state changes")
    parser.add_argument("--spacing", type=float, default=0.5, help="seconds between steps")
    parser.add_argument("--viewers", type=int, default=200, help="concurrent public readers")
    parser.add_argument("--seconds", type=float, default=10.0, help="per public-read target")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TWIN_BENCH_DATABASE_URL"),
        help="a PostgreSQL URL (a fresh database is made beside it); default SpatiaLite",
    )
    parser.add_argument("--server-log", help="keep the server's log (warnings and errors) here")
    args = parser.parse_args()
    args.screens = max(1, min(args.screens, 5000))
    args.pollers = max(1, min(args.pollers or args.screens, 5000))
    args.steps = max(2, min(args.steps, 200))
    args.viewers = max(1, min(args.viewers, 2000))
    args.seconds = max(1.0, min(args.seconds, 60.0))
    if ws_connect is None:
        print("meeting_load: needs websockets >= 13 (websockets.asyncio.client): skipped")
        return 0

    with tempfile.TemporaryDirectory(prefix="twin-bench-") as name:
        tmp = Path(name)
        url = fresh_database(args.database_url, tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TWIN_")}
        env |= {
            "TWIN_DATA_DIR": str(tmp / "var"),
            "TWIN_DATABASE_URL": url,
            "TWIN_SECRET_KEY": "bench-" + uuid.uuid4().hex,
            "TWIN_LOG_LEVEL": "warning",
            "TWIN_PUBLIC_READS_PER_MINUTE": str(READS_LIMIT),
        }
        log = tmp / "server.log"
        server = Server(env, free_port(), log)
        losses = 0
        try:
            subprocess.run(
                [sys.executable, "-m", "twin.cli", "user", "add", "planner", "--role", "planner",
                 "--password", PASSWORD],
                cwd=REPO, env=env, check=True, capture_output=True,
            )  # fmt: skip
            server.start()
            head, meeting_id, token = create_meeting(f"http://{HOST}:{server.port}")
            dialect = (
                "postgresql (PostGIS)" if url.startswith("postgresql") else "sqlite (SpatiaLite)"
            )
            print(
                f"database: {dialect}; server: twin serve (1 uvicorn worker), {os.cpu_count()} "
                f"CPUs shared with this client; loopback"
            )
            print(
                f"TWIN_PUBLIC_READS_PER_MINUTE raised to {READS_LIMIT:,} for this server (default "
                f"240 per client IP; every bench client is {HOST})"
            )
            losses = asyncio.run(run_all(server, token, meeting_id, head, args))
        finally:
            server.stop()
            drop_database(url)
            text = log.read_text(errors="replace") if log.exists() else ""
            if args.server_log:
                Path(args.server_log).write_text(text, encoding="utf-8")
            print(server_log_summary(text))
    if losses:
        print(f"FAILED: {losses} (screen, step) deliveries lost")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
