"""Benchmark: sensor ingest and queries, each against a baseline measured in the same run.

Why: issue #6 asks for at least 10,000 observations/s into PostGIS on a 2-core machine with no
loss, and for charts and maps that answer fast on a year of data and on 10,000 sensors.

What it does, against a real server (`twin serve`, one uvicorn worker) on a fresh database
(PostGIS when `--database` names one, else SpatiaLite in a temporary folder):

1. MQTT: the broker's own rate first (a plain subscriber counting N QoS 1 messages of one
   reading each, no database), then the same N messages through the server's MQTT ingest until
   every reading is stored (polled in the database). Ratio: stored/s over broker/s.
2. HTTP: batches of `--batch` readings posted by 2 clients for `--seconds`; readings stored/s.
3. Queries: a year of 15-minute readings of one sensor (35,040): the hourly and daily series
   through the API (served from rollups) vs the same aggregation as a GROUP BY over the raw
   readings (what a server without rollups does, e.g. FROST); the latest values of 10,000
   sensors through `GET /api/v1/sensors` vs a query over the raw readings. p50/p95 and ratios.

Every count is checked (accepted + duplicates == sent; stored == accepted), so a fast but lossy
run shows up. Needs Mosquitto on 127.0.0.1:1883 for part 1 (skipped with a message otherwise).

    .venv/bin/python bench/sensor_ingest.py [--database postgresql+psycopg://...] [--messages 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from sqlalchemy import create_engine, func, select, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from twin.db import Database  # noqa: E402
from twin.migrate import prepare  # noqa: E402
from twin.sensors.models import Observation, Quantity, Sensor  # noqa: E402

BROKER = ("127.0.0.1", 1883)
PASSWORD = "bench-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def broker_up() -> bool:
    try:
        socket.create_connection(BROKER, timeout=1).close()
        return True
    except OSError:
        return False


def fresh_database(url: str | None, folder: Path) -> str:
    """A new empty database: a PostGIS database cloned from twin_test_template, or SpatiaLite."""
    if not url:
        return f"sqlite:///{folder / 'bench.sqlite'}"
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
    admin = create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "twin.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def count_observations(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Observation)) or 0


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return False


def broker_rate(n: int) -> float:
    """QoS 1 messages/s from one publisher to one plain subscriber, through Mosquitto."""
    topic = f"bench/{uuid.uuid4().hex}"
    got = threading.Event()
    received = [0]

    def on_message(*_: object) -> None:
        received[0] += 1
        if received[0] == n:
            got.set()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_message = on_message
    sub.connect(*BROKER)
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    time.sleep(0.3)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex}")
    pub.max_inflight_messages_set(1000)
    pub.max_queued_messages_set(0)
    pub.connect(*BROKER)
    pub.loop_start()
    payload = json.dumps({"quantity": "LAeq", "time": stamp(time.time()), "value": 55.5})
    start = time.perf_counter()
    for _ in range(n):
        pub.publish(topic, payload, qos=1)
    got.wait(300)
    seconds = time.perf_counter() - start
    for c in (pub, sub):
        c.loop_stop()
        c.disconnect()
    return received[0] / seconds


def mqtt_ingest_rate(db: Database, sensors: list[str], n: int) -> tuple[float, int]:
    """The same QoS 1 traffic into the server's MQTT ingest; stored readings/s."""
    before = count_observations(db)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex}")
    pub.max_inflight_messages_set(1000)
    pub.max_queued_messages_set(0)
    pub.connect(*BROKER)
    pub.loop_start()
    t0 = time.time() - 2 * 86_400
    start = time.perf_counter()
    for i in range(n):
        sensor = sensors[i % len(sensors)]
        payload = json.dumps({"quantity": "LAeq", "time": stamp(t0 + i), "value": 40 + i % 30})
        pub.publish(f"twin/sensors/{sensor}/observations", payload, qos=1)
    wait_until(lambda: count_observations(db) - before >= n, 600)
    seconds = time.perf_counter() - start
    pub.loop_stop()
    pub.disconnect()
    stored = count_observations(db) - before
    return stored / seconds, stored


def http_ingest_rate(
    base: str, token: str, sensors: list[str], batch: int, seconds: float
) -> tuple[float, int, int]:
    """2 clients posting batches for `seconds`; (accepted/s, accepted, sent)."""
    totals = {"accepted": 0, "sent": 0, "duplicates": 0}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(k: int) -> None:
        http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        t = time.time() - 30 * 86_400 + k * 10**6
        while time.perf_counter() < deadline:
            items = [
                [sensors[i % len(sensors)], "LAeq", stamp(t + i), 50.0 + i % 20]
                for i in range(batch)
            ]
            t += batch
            body = http.post("/api/v1/observations", json=items).json()
            with lock:
                totals["accepted"] += body["accepted"]
                totals["duplicates"] += body["duplicates"]
                totals["sent"] += batch

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - start
    return totals["accepted"] / elapsed, totals["accepted"], totals["sent"]


def latencies(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def load_year(base: str, token: str, sensor: str) -> None:
    """A year of 15-minute readings for one sensor, through the API."""
    http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120)
    start = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
    items = [[sensor, "LAeq", stamp(start + i * 900), 45 + (i % 96) / 4] for i in range(35_040)]
    for k in range(0, len(items), 10_000):
        http.post("/api/v1/observations", json=items[k : k + 10_000]).raise_for_status()


def add_many_sensors(db: Database, n: int) -> None:
    """`n` sensors with one latest value each, straight into the database (setup, not timed)."""
    from twin.sensors.feed import DatabaseSender
    from twin.sensors.registry import create_sensor
    from twin.sensors.schemas import SensorIn

    with db.session() as s:
        for i in range(n):
            create_sensor(
                s,
                SensorIn(
                    id=f"bin-{i:05d}",
                    name=f"bin {i}",
                    type="WasteContainer",
                    quantities=[{"name": "fillingLevel", "unit": "%"}],
                    location={"lon": 5.0 + (i % 100) / 125, "lat": 43.2 + (i // 100) / 200},
                ),
            )
    now = time.time()
    DatabaseSender(db).send(
        [[f"bin-{i:05d}", "fillingLevel", stamp(now - i), i % 100] for i in range(n)]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database",
        default=os.environ.get("TWIN_BENCH_DATABASE_URL"),
        help="a PostgreSQL URL (a fresh database is made beside it)",
    )
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--sensors", type=int, default=10_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_database(args.database, Path(tmp))
        db = Database(url)
        prepare(db)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TWIN_")}
        env |= {
            "TWIN_DATA_DIR": str(Path(tmp) / "var"),
            "TWIN_DATABASE_URL": url,
            "TWIN_SECRET_KEY": "bench-" + uuid.uuid4().hex,
            "TWIN_LOG_LEVEL": "warning",
            "TWIN_MQTT_CLIENT_ID": f"bench-{uuid.uuid4().hex}",
        }
        mqtt_on = broker_up()
        if mqtt_on:
            env["TWIN_MQTT_URL"] = f"mqtt://{BROKER[0]}:{BROKER[1]}"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "twin.cli",
                "user",
                "add",
                "bench",
                "--role",
                "gis",
                "--password",
                PASSWORD,
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        server = start_server(env, port)
        base = f"http://127.0.0.1:{port}"
        try:
            token = httpx.post(
                f"{base}/api/v1/auth/token", data={"username": "bench", "password": PASSWORD}
            ).json()["access_token"]
            head = {"Authorization": f"Bearer {token}"}
            sensors = [f"noise-{i:03d}" for i in range(100)]
            for sid in sensors:
                httpx.post(
                    f"{base}/api/v1/sensors",
                    headers=head,
                    json={
                        "id": sid,
                        "name": sid,
                        "type": "NoiseLevelObserved",
                        "quantities": [{"name": "LAeq", "unit": "dB(A)"}],
                        "location": {"lon": 5.37, "lat": 43.29},
                    },
                ).raise_for_status()
            print(f"database: {db.dialect}; server: twin serve (1 uvicorn worker)")
            if mqtt_on:
                raw = broker_rate(args.messages)
                ours, stored = mqtt_ingest_rate(db, sensors, args.messages)
                print(f"MQTT  broker alone (QoS 1, 1 reading/msg): {raw:9.0f} msg/s")
                print(
                    f"MQTT  twin ingest into {db.dialect:10s}:      {ours:9.0f} readings/s "
                    f"stored {stored}/{args.messages}"
                )
                print(f"ratio twin MQTT ingest / broker alone: {ours / raw:.2f}")
            else:
                print("MQTT: no broker on 127.0.0.1:1883 (apt-get install mosquitto): skipped")
            rate, accepted, sent = http_ingest_rate(base, token, sensors, args.batch, args.seconds)
            print(
                f"HTTP  2 clients x {args.batch}-reading batches: {rate:9.0f} readings/s "
                f"accepted {accepted}/{sent}"
            )
            print(
                f"goal 10,000 readings/s into {db.dialect}: HTTP {rate / 10_000:.2f}x"
                + (f", MQTT {ours / 10_000:.2f}x" if mqtt_on else "")
            )

            load_year(base, token, "noise-000")
            with db.session() as s:
                qid = s.scalar(select(Quantity.id).where(Quantity.sensor_id == "noise-000"))
            http = httpx.Client(base_url=base, timeout=60)
            for agg, width in (("hour", 3_600_000), ("day", 86_400_000)):
                params = {
                    "quantity": "LAeq",
                    "aggregate": agg,
                    "start": "2025-01-01",
                    "end": "2026-01-01",
                }
                api = latencies(
                    lambda p=params: http.get(
                        "/api/v1/sensors/noise-000/observations", params=p
                    ).json(),
                    20,
                )
                sql = text(
                    "SELECT (t / :w) * :w AS b, avg(value), min(value), max(value), "
                    "count(*) FROM observations WHERE quantity_id = :q GROUP BY b "
                    "ORDER BY b"
                )
                with db.engine.connect() as conn:
                    raw_sql = latencies(
                        lambda s=sql, w=width: conn.execute(s, {"w": w, "q": qid}).all(), 20
                    )
                print(
                    f"year of 15-min data, {agg:4s} series: API {api[0]:7.1f} ms p50 "
                    f"{api[1]:7.1f} ms p95 | GROUP BY on raw (SQL only) {raw_sql[0]:7.1f} ms "
                    f"p50 {raw_sql[1]:7.1f} ms p95 | ratio p95 {raw_sql[1] / api[1]:.2f}"
                )

            add_many_sensors(db, args.sensors)
            with db.session() as s:
                total = s.scalar(select(func.count()).select_from(Sensor))
            api = latencies(lambda: http.get("/api/v1/sensors").json(), 10)
            newest = text(
                "SELECT q.id, o.t, o.value FROM sensor_quantities q JOIN observations o "
                "ON o.quantity_id = q.id AND o.t = (SELECT max(t) FROM observations "
                "WHERE quantity_id = q.id)"
            )
            with db.engine.connect() as conn:
                raw_sql = latencies(lambda: conn.execute(newest).all(), 10)
            print(
                f"latest values of {total} sensors: API (GeoJSON) {api[0]:7.1f} ms p50 "
                f"{api[1]:7.1f} ms p95 | max(t) per quantity over raw (SQL only) "
                f"{raw_sql[0]:7.1f} ms p50 {raw_sql[1]:7.1f} ms p95"
            )
        finally:
            server.terminate()
            server.wait(30)
            db.dispose()
            drop_database(url)


if __name__ == "__main__":
    main()
