"""Benchmark: tile bytes through the app (uvicorn + FastAPI) against nginx, same files, same run.

Why: DESIGN.md says tile bytes should not go through Python on the hot path. This measures by how
much, on this machine, so the deployment advice (nginx in front of the tile store) rests on a
number rather than a belief. Not a test: it asserts nothing and always exits 0 unless it breaks.

Loopback only (127.0.0.1), bounded in time and in count. Needs nginx (`apt-get install -y nginx`;
without it the script says so and exits 0). Uses `wrk` when installed (`apt-get install -y wrk`),
otherwise a small asyncio keep-alive client (which, on a 2-core machine, caps nginx's figure).

    .venv/bin/python bench/tile_serving.py [--duration 5] [--concurrency 32] [--requests 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
TILE_TYPES = {  # what a CesiumJS client expects; .json comes from nginx's own mime.types
    "model/gltf-binary": "glb",
    "model/gltf+json": "gltf",
    "application/octet-stream": "b3dm pnts i3dm cmpt subtree",
    "application/vnd.quantized-mesh": "terrain",
    "application/json": "json",
}


@dataclass
class Result:
    target: str
    client: str
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0) -> None:
    """Poll until the server answers 200, or fail with the last error."""
    deadline, last = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {timeout:.0f} s: {last}")


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Graceful stop of a server we started (its own process group), then a hard one."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def load_demo(data_dir: Path, env: dict[str, str]) -> Path:
    """`twin demo --no-serve` into a fresh data dir: the real tile store the app would serve."""
    cmd = [sys.executable, "-m", "twin.cli", "demo", "--no-serve"]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    return data_dir / "tiles"


def tile_paths(tiles_dir: Path) -> list[str]:
    """URL paths (under /tiles/) of every file of every layer version, staging excluded."""
    files = sorted(
        p
        for p in tiles_dir.rglob("*")
        if p.is_file() and ".staging" not in p.relative_to(tiles_dir).parts
    )
    return ["/tiles/" + p.relative_to(tiles_dir).as_posix() for p in files]


def nginx_conf(tmp: Path, tiles_dir: Path, port: int, workers: int) -> Path:
    """A self-contained nginx.conf: everything it writes stays in `tmp`."""
    types = "\n".join(f"        {mime} {exts};" for mime, exts in TILE_TYPES.items())
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"""daemon off;
worker_processes {workers};
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{
{types}
    }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen {HOST}:{port};
        location /tiles/ {{
            alias {tiles_dir.resolve()}/;
            add_header Cache-Control "public, max-age=31536000, immutable";
            add_header Access-Control-Allow-Origin "*";
        }}
    }}
}}
""",
        encoding="utf-8",
    )
    return conf


@contextmanager
def server(cmd: list[str], ready_url: str, log: Path, env: dict[str, str]) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        try:
            wait_http(ready_url)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n--- {log}:\n{log.read_text(errors='replace')}") from None
        yield
    finally:
        stop(proc, signal.SIGQUIT if Path(cmd[0]).name == "nginx" else signal.SIGTERM)


def check_same_bytes(paths: list[str], app: str, nginx: str) -> dict[str, tuple[str, str]]:
    """Both servers must return every file, identical: otherwise the comparison means nothing.
    Returns the content types each gives per extension, for the report."""
    types: dict[str, tuple[str, str]] = {}
    for path in paths:
        got = []
        for base in (app, nginx):
            with urllib.request.urlopen(base + path, timeout=10) as r:
                got.append((r.status, r.headers.get("content-type", ""), r.read()))
        if got[0][0] != 200 or got[1][0] != 200 or got[0][2] != got[1][2]:
            raise RuntimeError(f"{path}: app and nginx disagree ({got[0][:2]} vs {got[1][:2]})")
        types.setdefault(Path(path).suffix, (got[0][1], got[1][1]))
    return types


# --- load clients ------------------------------------------------------------------------------

WRK_SCRIPT = """
local paths = {%s}
local i = 0
setup = function(thread) thread:set("start", math.random(#paths)) end
init = function(args) i = start or 0 end
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def run_wrk(name: str, base: str, paths: list[str], args: argparse.Namespace, tmp: Path) -> Result:
    script = tmp / "paths.lua"
    script.write_text(WRK_SCRIPT % ", ".join(f'"{p}"' for p in paths), encoding="utf-8")
    threads = min(2, args.concurrency)
    cmd = ["wrk", f"-t{threads}", f"-c{args.concurrency}", f"-d{args.duration}s", "--timeout", "5s"]
    out = subprocess.run(
        [*cmd, "-s", str(script), base],
        capture_output=True,
        text=True,
        timeout=args.duration + 30,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    n, us, errors, p50, p95, p99 = (int(v) for v in line.split()[1:])
    return Result(name, "wrk", n, errors, us / 1e6, p50 / 1e3, p95 / 1e3, p99 / 1e3)


async def _fetch_loop(
    port: int, paths: list[str], counter: list[int], limit: int, deadline: float
) -> tuple[list[float], int]:
    """One keep-alive HTTP/1.1 connection; takes request numbers from the shared counter."""
    latencies: list[float] = []
    errors = 0
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while counter[0] < limit and time.perf_counter() < deadline:
            k = counter[0]
            counter[0] += 1
            path = paths[k % len(paths)]
            t0 = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if b" 200 " not in head.split(b"\r\n", 1)[0]:
                errors += 1
    finally:
        writer.close()
    return latencies, errors


async def _python_client(
    port: int, paths: list[str], args: argparse.Namespace
) -> tuple[list[float], int, float]:
    counter = [0]
    t0 = time.perf_counter()
    deadline = t0 + args.duration
    loops = [
        _fetch_loop(port, paths, counter, args.requests, deadline) for _ in range(args.concurrency)
    ]
    done = await asyncio.gather(*loops)
    elapsed = time.perf_counter() - t0
    return [x for lat, _ in done for x in lat], sum(e for _, e in done), elapsed


def run_python(name: str, port: int, paths: list[str], args: argparse.Namespace) -> Result:
    latencies, errors, elapsed = asyncio.run(_python_client(port, paths, args))
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3

    return Result(name, "asyncio", len(latencies), errors, elapsed, pct(0.50), pct(0.95), pct(0.99))


def measure(name: str, port: int, paths: list[str], args: argparse.Namespace, tmp: Path) -> Result:
    """A short warm-up (discarded), then the measured run."""
    warm = argparse.Namespace(**{**vars(args), "duration": 1, "requests": 500})
    if args.client == "wrk":
        run_wrk(name, f"http://{HOST}:{port}", paths, warm, tmp)
        return run_wrk(name, f"http://{HOST}:{port}", paths, args, tmp)
    run_python(name, port, paths, warm)
    return run_python(name, port, paths, args)


# --- main --------------------------------------------------------------------------------------


def report(results: list[Result], files: int, size: int) -> None:
    print(f"\n{files} tile files, {size / files / 1024:.1f} KiB mean, requested in turn\n")
    print(
        f"{'target':<28}{'client':<9}{'requests':>9}{'errors':>8}{'s':>7}"
        f"{'req/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    )
    for r in results:
        print(
            f"{r.target:<28}{r.client:<9}{r.requests:>9}{r.errors:>8}{r.seconds:>7.1f}"
            f"{r.rps:>10.0f}{r.p50_ms:>9.2f}{r.p95_ms:>9.2f}{r.p99_ms:>9.2f}"
        )
    app, nginx = results
    print(
        f"\nratio app/nginx: req/s {app.rps / nginx.rps:.3f} "
        f"(nginx {nginx.rps / app.rps:.1f}x faster); "
        f"p95 {app.p95_ms / nginx.p95_ms:.1f}x (app {app.p95_ms:.2f} ms, "
        f"nginx {nginx.p95_ms:.2f} ms)"
    )
    if app.errors or nginx.errors:
        print("WARNING: some requests failed; the figures above are not comparable")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per target (bound)")
    parser.add_argument("--requests", type=int, default=20000, help="asyncio client: max count")
    parser.add_argument("--concurrency", type=int, default=32, help="open connections")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn and nginx workers")
    parser.add_argument("--client", choices=["auto", "wrk", "asyncio"], default="auto")
    args = parser.parse_args()

    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).is_file()), None
    )
    if nginx is None:
        print("tile_serving: nginx is not installed (apt-get install -y nginx): skipped")
        return 0
    if args.client == "auto":
        args.client = "wrk" if shutil.which("wrk") else "asyncio"

    with tempfile.TemporaryDirectory(prefix="twin-bench-") as name:
        tmp = Path(name)
        tmp.chmod(0o755)  # nginx workers run as an unprivileged user when started by root
        data_dir = tmp / "var"
        env = {
            **os.environ,
            "TWIN_DATA_DIR": str(data_dir),
            "TWIN_DATABASE_URL": f"sqlite:///{data_dir / 'twin.sqlite'}",
            "TWIN_LOG_LEVEL": "warning",
        }
        tiles_dir = load_demo(data_dir, env)
        paths = tile_paths(tiles_dir)
        if not paths:
            print("tile_serving: the demo scene has no tiles (no ../shared/data?): skipped")
            return 0
        size = sum((tiles_dir / p.removeprefix("/tiles/")).stat().st_size for p in paths)
        app_port, nginx_port = free_port(), free_port()
        uvicorn = [
            sys.executable,
            "-m",
            "uvicorn",
            "twin.app:create_app",
            "--factory",
            "--host",
            HOST,
            "--port",
            str(app_port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        conf = nginx_conf(tmp, tiles_dir, nginx_port, args.workers)
        app_url, nginx_url = f"http://{HOST}:{app_port}", f"http://{HOST}:{nginx_port}"
        with (
            server(uvicorn, f"{app_url}/api/v1/health", tmp / "uvicorn.log", env),
            server([nginx, "-c", str(conf), "-p", str(tmp)], nginx_url + paths[0], tmp / "n", env),
        ):
            types = check_same_bytes(paths, app_url, nginx_url)
            print(f"client: {args.client}, {args.concurrency} connections, {args.duration} s each")
            for ext, (a, n) in sorted(types.items()):
                print(f"  {ext:<9} app: {a:<26} nginx: {n}")
            results = [
                measure(f"app (uvicorn, {args.workers} workers)", app_port, paths, args, tmp),
                measure(f"nginx ({args.workers} workers)", nginx_port, paths, args, tmp),
            ]
        report(results, len(paths), size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
