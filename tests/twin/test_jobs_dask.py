"""Jobs on a Dask cluster (`TWIN_DASK_SCHEDULER`): a real LocalCluster of worker processes."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

import twin.dask_executor
from tests.twin.test_jobs import wait_for
from twin.app import create_app
from twin.config import Settings
from twin.dask_executor import DaskExecutor, connect
from twin.db import Database
from twin.jobs import HANDLERS, JobRunner
from twin.migrate import upgrade
from twin.models import Job


@dataclass(frozen=True)
class Cluster:
    address: str
    worker_pids: frozenset[int]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """One cluster for the module: starting worker processes is the slow part."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1, processes=True, threads_per_worker=1, dashboard_address=None
        ) as local,
        Client(local, set_as_default=False) as client,
    ):
        yield Cluster(local.scheduler_address, frozenset(client.run(os.getpid).values()))


@pytest.fixture(autouse=True)
def _test_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(HANDLERS, "test.count", "tests.twin.job_handlers:count")
    monkeypatch.setitem(HANDLERS, "test.boom", "tests.twin.job_handlers:boom")


@pytest.fixture
def settings(settings: Settings, cluster: Cluster) -> Settings:
    """The app of `client` is configured with the cluster, on both databases."""
    return settings.model_copy(update={"dask_scheduler": cluster.address})


def ran_on_a_worker(job: Job, cluster: Cluster) -> bool:
    host, _, pid = job.owner.rpartition(":")
    return host == socket.gethostname() and int(pid) in cluster.worker_pids - {os.getpid()}


def test_app_runs_jobs_on_the_dask_worker(
    client: TestClient, cluster: Cluster, tmp_path: Path
) -> None:
    runner: JobRunner = client.app.state.runner  # type: ignore[attr-defined]
    assert isinstance(runner.executor, DaskExecutor)
    marker = tmp_path / "marker"
    job = runner.submit("test.count", {"steps": 5, "delay": 0.01, "marker": str(marker)})
    done = wait_for(runner, job.id, ("succeeded", "failed"))
    assert done.status == "succeeded", done.error
    assert done.result == {"counted": 5} and done.progress == 1.0
    assert marker.read_text() == "4"
    assert ran_on_a_worker(done, cluster), done.owner


def test_cancel_through_the_api_and_recover_spares_the_worker_job(
    client: TestClient,
    auth: dict[str, dict[str, str]],
    users: dict[str, int],
    cluster: Cluster,
    tmp_path: Path,
) -> None:
    runner: JobRunner = client.app.state.runner  # type: ignore[attr-defined]
    marker = tmp_path / "marker"
    params = {"steps": 10_000, "delay": 0.01, "marker": str(marker)}
    job = runner.submit("test.count", params, user_id=users["gis"])
    wait_for(runner, job.id, ("running",))
    while not marker.exists():
        time.sleep(0.02)
    running = client.get(f"/api/v1/jobs/{job.id}", headers=auth["gis"]).json()
    assert running["progress"] > 0 and running["message"].startswith("step ")
    assert ran_on_a_worker(runner.get(job.id), cluster)
    assert runner.recover() == 0  # a live worker's job is not an orphan
    assert runner.get(job.id).status == "running"
    r = client.delete(f"/api/v1/jobs/{job.id}", headers=auth["gis"])
    assert r.status_code == 202
    assert wait_for(runner, job.id, ("cancelled", "succeeded", "failed")).status == "cancelled"
    reached = int(marker.read_text())
    time.sleep(0.2)
    assert int(marker.read_text()) == reached < 9_999  # it really stopped


def test_failed_job_records_the_error_and_shutdown_closes_the_client(
    db_url: str, cluster: Cluster
) -> None:
    db = Database(db_url)
    upgrade(db)
    executor = connect(cluster.address)
    assert executor is not None
    runner = JobRunner(db, executor=executor)
    try:
        done = wait_for(runner, runner.submit("test.boom", {}).id, ("succeeded", "failed"))
    finally:
        runner.shutdown()
        db.dispose()
    assert done.status == "failed"
    assert done.error == "RuntimeError: the input file is corrupt at byte 42"
    assert done.progress == 0.5
    assert executor.client.status == "closed"


def test_unreachable_scheduler_falls_back_to_the_local_pool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The API must stay up without the cluster; jobs run locally, and the log says so."""
    monkeypatch.setattr(twin.dask_executor, "CONNECT_TIMEOUT_S", 0.5)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"  # nothing listens once closed
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'twin.sqlite'}",
        job_workers=1,
        dask_scheduler=address,
    )
    with caplog.at_level(logging.ERROR), TestClient(create_app(settings)) as client:
        runner: JobRunner = client.app.state.runner  # type: ignore[attr-defined]
        assert isinstance(runner.executor, ProcessPoolExecutor)
        job = runner.submit("test.count", {"steps": 1, "delay": 0, "marker": str(tmp_path / "m")})
        assert wait_for(runner, job.id, ("succeeded", "failed")).status == "succeeded"
    assert f"Dask scheduler {address} unreachable" in caplog.text


def test_malformed_scheduler_address_is_refused() -> None:
    with pytest.raises(ValidationError, match="dask_scheduler"):
        Settings(dask_scheduler="dask-scheduler")
