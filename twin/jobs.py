"""Background jobs: a persisted job table and a runner that executes handlers outside requests.

A handler is a plain function `handler(ctx: JobContext, **params) -> dict | None`, named by a
dotted path ("package.module:function") so a spawned worker process can import it. It reports
progress through `ctx.progress()`, which is also where a cancel request is noticed: the handler
stops at its next progress report, so work already committed by it is kept.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import socket
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from sqlalchemy import select, update

from twin.db import Database
from twin.errors import Conflict, InputError, NotFound, TwinError
from twin.models import JOB_ACTIVE, Job, utcnow

log = logging.getLogger(__name__)

# Job kinds the application knows; a kind maps to the handler that runs it.
HANDLERS: dict[str, str] = {
    "demo.load": "twin.demo:load_demo_scene",
    "layers.import": "twin.importer:run_import",
    "sim.flood": "twin.sim.job:run_flood_job",
}


class JobCancelled(Exception):
    """Raised inside a handler at its next progress report once a cancel was requested."""


ProgressHook = Callable[[float, str], None]


class JobContext:
    """What a handler sees of its job: progress reports, cancellation, the database."""

    def __init__(self, db: Database, job_id: str, on_progress: ProgressHook | None = None) -> None:
        self.db = db
        self.job_id = job_id
        self._on_progress = on_progress

    def progress(self, fraction: float, message: str = "") -> None:
        """Record progress (0..1) and stop the handler if a cancel was requested."""
        fraction = min(max(float(fraction), 0.0), 1.0)
        with self.db.session() as s:
            s.execute(
                update(Job).where(Job.id == self.job_id).values(progress=fraction, message=message)
            )
            cancelled = s.scalar(select(Job.cancel_requested).where(Job.id == self.job_id))
        if self._on_progress:
            self._on_progress(fraction, message)
        if cancelled:
            raise JobCancelled(message)


def owner_tag() -> str:
    """Who runs a job: host and pid, so a restarted server can tell orphaned jobs apart."""
    return f"{socket.gethostname()}:{os.getpid()}"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def resolve_handler(path: str) -> Callable[..., dict[str, Any] | None]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def execute(
    db: Database, job_id: str, handler_path: str, on_progress: ProgressHook | None = None
) -> str:
    """Run one job to its end and persist the outcome; returns the final status."""
    with db.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            return "missing"
        if job.cancel_requested or job.status != "queued":
            job.status = "cancelled" if job.cancel_requested else job.status
            job.finished_at = job.finished_at or utcnow()
            return job.status
        job.status, job.started_at, job.owner = "running", utcnow(), owner_tag()
        params = dict(job.params or {})
    ctx = JobContext(db, job_id, on_progress)
    status, result, error = "succeeded", None, None
    try:
        result = resolve_handler(handler_path)(ctx, **params)
    except JobCancelled:
        status = "cancelled"
    except KeyboardInterrupt:  # Ctrl+C on an inline (CLI) job: record it, then stop
        _finish(db, job_id, "cancelled", None, "interrupted")
        raise
    except Exception as exc:  # a failed job records why; the worker stays up for the next one
        status = "failed"
        if isinstance(exc, TwinError):  # an expected failure: its message is for the user
            error = exc.message
            log.info("job %s (%s) failed: %s", job_id, handler_path, error)
        else:
            log.exception("job %s (%s) failed", job_id, handler_path)
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    _finish(db, job_id, status, result, error)
    return status


def _finish(
    db: Database, job_id: str, status: str, result: dict[str, Any] | None, error: str | None
) -> None:
    with db.session() as s:
        job = s.get(Job, job_id)
        if job is None:
            return
        job.status, job.result, job.error, job.finished_at = status, result, error, utcnow()
        if status == "succeeded":
            job.progress, job.message = 1.0, job.message or "done"


_worker_dbs: dict[str, Database] = {}


def _run_in_worker(database_url: str, job_id: str, handler_path: str) -> str:
    """Entry point in a pool process: one Database per process, reused across jobs."""
    db = _worker_dbs.get(database_url)
    if db is None:
        db = _worker_dbs[database_url] = Database(database_url)
    return execute(db, job_id, handler_path)


class JobRunner:
    """Queues jobs in the database and runs them on an executor: a local process pool, or a
    Dask cluster's workers (`twin.dask_executor`); either way `_run_in_worker` runs the job."""

    def __init__(self, db: Database, workers: int = 2, executor: Executor | None = None) -> None:
        self.db = db
        self._workers = workers
        self._executor = executor

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            # spawn: a forked copy of a threaded web server can deadlock on inherited locks.
            self._executor = ProcessPoolExecutor(
                max_workers=self._workers, mp_context=multiprocessing.get_context("spawn")
            )
        return self._executor

    def create(self, kind: str, params: dict[str, Any], user_id: int | None = None) -> Job:
        if kind not in HANDLERS:
            raise InputError(f"unknown job kind {kind!r}; known: {', '.join(sorted(HANDLERS))}")
        with self.db.session() as s:
            job = Job(kind=kind, params=params, created_by=user_id, owner=owner_tag())
            s.add(job)
        return job

    def submit(self, kind: str, params: dict[str, Any], user_id: int | None = None) -> Job:
        """Queue a job and start it in the background."""
        job = self.create(kind, params, user_id)
        self.executor.submit(_run_in_worker, self.db.url, job.id, HANDLERS[kind])
        return job

    def run_inline(
        self, kind: str, params: dict[str, Any], on_progress: ProgressHook | None = None
    ) -> Job:
        """Run a job in this process (the CLI's way), still recorded in the job table."""
        job = self.create(kind, params)
        execute(self.db, job.id, HANDLERS[kind], on_progress)
        return self.get(job.id)

    def get(self, job_id: str) -> Job:
        with self.db.session() as s:
            job = s.get(Job, job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        return job

    def cancel(self, job_id: str) -> Job:
        """Ask a job to stop; a queued job is cancelled at once, a running one at its next
        progress report."""
        with self.db.session() as s:
            job = s.get(Job, job_id)
            if job is None:
                raise NotFound(f"job {job_id} not found")
            if job.status not in JOB_ACTIVE:
                raise Conflict(f"job {job_id} is already {job.status}")
            job.cancel_requested = True
            if job.status == "queued":
                job.status, job.finished_at = "cancelled", utcnow()
        return job

    def recover(self) -> int:
        """Fail the jobs left active by a server process of this host that is gone.

        Called at start-up: a job whose process died will never finish, and leaving it
        'running' would lie to the user.
        """
        host = socket.gethostname()
        failed = 0
        with self.db.session() as s:
            for job in s.scalars(select(Job).where(Job.status.in_(JOB_ACTIVE))):
                job_host, _, pid = job.owner.rpartition(":")
                if job_host == host and pid.isdigit() and pid_alive(int(pid)):
                    continue
                if job_host and job_host != host:
                    continue  # another machine's job: its own server will recover it
                job.status, job.finished_at = "failed", utcnow()
                job.error = "the server stopped while this job was active; run it again"
                failed += 1
        return failed

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
