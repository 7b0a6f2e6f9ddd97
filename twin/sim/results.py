"""Saved scenario results: submitted as jobs, listed, reopened and deleted.

A result is a row (`sim_results`) and a folder of the tile store, `sims/<id>/`, served as is
under `/tiles/sims/<id>/` (the id is unguessable, like a layer version's key). The row is made
before the job is queued, so the job can report into it; its status follows the job's.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from twin.catalog import can_see, get_layer, visible_layers
from twin.errors import Conflict, InputError, NotFound, PermissionDenied
from twin.jobs import JobRunner
from twin.models import JOB_ACTIVE, Job, Layer, LayerVersion, User
from twin.sim.models import SIM_ACTIVE, SimResult
from twin.sim.scenario import FloodRequest, check, default_name

SIMS = "sims"  # folder of the results in the tile store
FLOOD_JOB = "sim.flood"


def dem_of(
    session: Session, tiles_dir: Path, user: User, layer_id: int, version: int | None
) -> tuple[Layer, LayerVersion, Path]:
    """The terrain layer's version and the DEM kept beside its tiles."""
    try:
        layer = get_layer(session, layer_id, user)
    except NotFound:
        raise InputError(f"layer {layer_id} not found") from None
    if layer.kind != "terrain":
        raise InputError(
            f"layer {layer_id} ({layer.name}) is a {layer.kind} layer: floods run on a terrain "
            "(DEM) layer"
        )
    chosen = layer.current if version is None else next(
        (v for v in layer.versions if v.number == version), None
    )  # fmt: skip
    if chosen is None:
        raise InputError(f"layer {layer_id} has no version {version}")
    name = chosen.stats.get("dem")
    dem = tiles_dir / chosen.path / name if name else None
    if dem is None or not dem.is_file():
        raise Conflict(
            f"layer {layer_id} ({layer.name}) version {chosen.number} was imported before "
            "simulations kept the DEM beside the terrain tiles: re-import this DEM to simulate "
            "on it"
        )
    return layer, chosen, dem


def submit_flood(
    session: Session,
    runner: JobRunner,
    tiles_dir: Path,
    user: User,
    *,
    layer_id: int,
    version: int | None,
    name: str | None,
    request: FloodRequest,
) -> Job:
    """Check the scenario, record its result row and queue the job that fills it."""
    layer, chosen, dem = dem_of(session, tiles_dir, user, layer_id, version)
    request = check(request, dem)
    title = (name or "").strip() or default_name(request)
    params = request.to_params() | {
        "layer_id": layer.id,
        "layer_name": layer.name,
        "version": chosen.number,
    }
    result = SimResult(kind="flood", name=title[:200], params=params, layer_id=layer.id,
                       user_id=user.id, folder="")  # fmt: skip
    session.add(result)
    session.flush()
    result.folder = f"{SIMS}/{result.id}"
    session.commit()  # the worker reads the row
    job_params = {
        "result_id": result.id,
        "tiles_dir": str(tiles_dir.resolve()),
        "dem": str(dem.resolve()),
        "request": request.to_params(),
    }
    try:
        job = runner.submit(FLOOD_JOB, job_params, user_id=user.id)
    except BaseException:
        session.delete(result)
        session.commit()
        raise
    result.job_id = job.id
    return job


def _follow_jobs(session: Session, results: list[SimResult]) -> None:
    """Results whose job ended without reporting (its worker died) take the job's status."""
    active = {r.job_id: r for r in results if r.status in SIM_ACTIVE and r.job_id}
    if not active:
        return
    for job in session.scalars(select(Job).where(Job.id.in_(list(active)))):
        if job.status not in JOB_ACTIVE and job.status != "succeeded":
            result = active[job.id]
            result.status = job.status
            result.summary = {"error": job.error} if job.error else result.summary


def list_results(
    session: Session, user: User, limit: int = 200
) -> list[tuple[SimResult, str | None]]:
    """Newest first, with the name of who ran each (staff share their scenarios), except those
    run on a closed group's terrain that `user` is not in."""
    rows = session.execute(
        select(SimResult, User.username)
        .outerjoin(User, User.id == SimResult.user_id)
        .outerjoin(Layer, Layer.id == SimResult.layer_id)
        .where(or_(Layer.id.is_(None), visible_layers(session, user)))
        .order_by(SimResult.created_at.desc())
        .limit(limit)
    ).all()
    _follow_jobs(session, [r for r, _ in rows])
    return [(r, name) for r, name in rows]


def get_result(session: Session, result_id: str, user: User) -> tuple[SimResult, str | None]:
    row = session.execute(
        select(SimResult, User.username)
        .outerjoin(User, User.id == SimResult.user_id)
        .where(SimResult.id == result_id)
    ).first()
    if row is None or not _sees_terrain(session, user, row[0].layer_id):
        raise NotFound(f"simulation {result_id} not found")
    _follow_jobs(session, [row[0]])
    return row[0], row[1]


def _sees_terrain(session: Session, user: User, layer_id: int | None) -> bool:
    """A result on a closed group's terrain belongs to that group too."""
    layer = session.get(Layer, layer_id) if layer_id is not None else None
    return layer is None or can_see(session, user, layer)


def delete_result(
    session: Session, runner: JobRunner, tiles_dir: Path, result_id: str, user: User
) -> None:
    """Its owner or an admin deletes a result; a run still going is cancelled first. The row
    goes before the files, so nobody is offered a half-deleted result."""
    result, _ = get_result(session, result_id, user)
    if user.role != "admin" and result.user_id != user.id:
        raise PermissionDenied("only who ran a simulation, or an admin, may delete it")
    if result.status in SIM_ACTIVE and result.job_id:
        with contextlib.suppress(Conflict, NotFound):  # it ended meanwhile
            runner.cancel(result.job_id)
    folder = tiles_dir / result.folder
    session.delete(result)
    session.commit()
    shutil.rmtree(folder, ignore_errors=True)


def set_status(
    session: Session, result_id: str, status: str, summary: dict[str, Any] | None = None
) -> bool:
    """Record a job's progress on its result; False when the result was deleted meanwhile."""
    result = session.get(SimResult, result_id)
    if result is None:
        return False
    result.status = status
    if summary is not None:
        result.summary = summary
    return True
