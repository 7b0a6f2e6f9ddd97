"""The job runner: background execution in worker processes, progress, cancel, crash recovery."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from twin.db import Database
from twin.jobs import HANDLERS, JobRunner
from twin.migrate import upgrade
from twin.models import Job


@pytest.fixture(autouse=True)
def _test_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(HANDLERS, "test.count", "tests.twin.job_handlers:count")
    monkeypatch.setitem(HANDLERS, "test.boom", "tests.twin.job_handlers:boom")


@pytest.fixture
def runner(db_url: str) -> Iterator[JobRunner]:
    db = Database(db_url)
    upgrade(db)
    runner = JobRunner(db, workers=1)
    yield runner
    runner.shutdown()
    db.dispose()


def wait_for(runner: JobRunner, job_id: str, states: tuple[str, ...], timeout: float = 60) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = runner.get(job_id)
        if job.status in states:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {runner.get(job_id).status}")


def test_job_runs_in_background_and_reports(runner: JobRunner, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    job = runner.submit("test.count", {"steps": 5, "delay": 0.01, "marker": str(marker)})
    assert job.status == "queued"
    done = wait_for(runner, job.id, ("succeeded", "failed"))
    assert done.status == "succeeded", done.error
    assert done.result == {"counted": 5}
    assert done.progress == 1.0
    assert done.started_at is not None and done.finished_at is not None
    assert done.finished_at >= done.started_at >= done.created_at
    assert marker.read_text() == "4"


def test_failed_job_records_the_error(runner: JobRunner) -> None:
    job = runner.submit("test.boom", {})
    done = wait_for(runner, job.id, ("succeeded", "failed"))
    assert done.status == "failed"
    assert done.error == "RuntimeError: the input file is corrupt at byte 42"
    assert done.progress == 0.5  # what it reached is kept


def test_cancel_running_job_stops_it_and_keeps_done_work(runner: JobRunner, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    job = runner.submit("test.count", {"steps": 10_000, "delay": 0.01, "marker": str(marker)})
    wait_for(runner, job.id, ("running",))
    while not marker.exists():
        time.sleep(0.02)
    runner.cancel(job.id)
    done = wait_for(runner, job.id, ("cancelled", "succeeded", "failed"))
    assert done.status == "cancelled"
    reached = int(marker.read_text())
    assert 0 <= reached < 9_999
    time.sleep(0.2)
    assert int(marker.read_text()) == reached  # it really stopped


def test_cancel_queued_job_never_runs(runner: JobRunner, tmp_path: Path) -> None:
    blocker = runner.submit(
        "test.count", {"steps": 10_000, "delay": 0.01, "marker": str(tmp_path / "a")}
    )
    queued = runner.submit("test.count", {"steps": 1, "delay": 0, "marker": str(tmp_path / "b")})
    assert runner.cancel(queued.id).status == "cancelled"
    runner.cancel(blocker.id)
    wait_for(runner, blocker.id, ("cancelled",))
    time.sleep(0.3)
    assert runner.get(queued.id).status == "cancelled"
    assert not (tmp_path / "b").exists()


def test_jobs_of_a_dead_server_are_failed_at_start(runner: JobRunner) -> None:
    with runner.db.session() as s:
        dead = Job(kind="test.count", params={}, status="running", owner="nohost-x:1")
        import socket

        orphan = Job(
            kind="test.count", params={}, status="running", owner=f"{socket.gethostname()}:999999"
        )
        mine = Job(kind="test.count", params={}, status="queued")
        s.add_all([dead, orphan, mine])
    from twin.jobs import owner_tag

    with runner.db.session() as s:
        s.get(Job, mine.id).owner = owner_tag()  # type: ignore[union-attr]
    assert runner.recover() == 1
    assert runner.get(orphan.id).status == "failed"
    assert "server stopped" in (runner.get(orphan.id).error or "")
    assert runner.get(mine.id).status == "queued"  # this live process still owns it
    assert runner.get(dead.id).status == "running"  # another host's job is not ours to judge


def test_unknown_kind_is_refused(runner: JobRunner) -> None:
    from twin.errors import InputError

    with pytest.raises(InputError, match="unknown job kind"):
        runner.submit("nope", {})


def test_jobs_api_list_get_cancel(
    client: TestClient, auth: dict[str, dict[str, str]], users: dict[str, int], tmp_path: Path
) -> None:
    runner: JobRunner = client.app.state.runner  # type: ignore[attr-defined]
    job = runner.submit(
        "test.count",
        {"steps": 10_000, "delay": 0.01, "marker": str(tmp_path / "m")},
        user_id=users["gis"],
    )
    listed = client.get("/api/v1/jobs", headers=auth["gis"]).json()
    assert [j["id"] for j in listed] == [job.id]
    assert client.get("/api/v1/jobs", headers=auth["planner"]).json() == []  # not theirs
    assert client.get(f"/api/v1/jobs/{job.id}", headers=auth["planner"]).status_code == 404
    assert client.get(f"/api/v1/jobs/{job.id}", headers=auth["admin"]).status_code == 200
    r = client.delete(f"/api/v1/jobs/{job.id}", headers=auth["gis"])
    assert r.status_code == 202 and r.json()["cancel_requested"] is True
    done = wait_for(runner, job.id, ("cancelled",))
    assert done.status == "cancelled"
    r = client.delete(f"/api/v1/jobs/{job.id}", headers=auth["gis"])
    assert r.status_code == 409 and "already cancelled" in r.json()["detail"]
    got = client.get(f"/api/v1/jobs/{job.id}", headers=auth["gis"]).json()
    assert got["status"] == "cancelled" and 0 <= got["progress"] < 1
