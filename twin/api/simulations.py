"""Flood scenarios run from the browser: submit (a background job), list, reopen, delete.

Results are shared among staff (a meeting compares what colleagues ran); only their owner or an
admin deletes them. Their files are served from the tile store under `/tiles/sims/<id>/`.
"""

from fastapi import APIRouter, Query, Response

from twin.api.deps import RunnerDep, SessionDep, SettingsDep, StaffUser
from twin.api.schemas import FloodIn, JobOut, SimFrameOut, SimResultOut
from twin.sim.models import SimResult
from twin.sim.results import delete_result, get_result, list_results, submit_flood
from twin.sim.scenario import FloodRequest

router = APIRouter(prefix="/simulations", tags=["simulations"])


def result_out(result: SimResult, username: str | None) -> SimResultOut:
    base = f"/tiles/{result.folder}/"
    summary = result.summary if result.status == "succeeded" else None
    frames = [
        SimFrameOut(
            t_s=f["t_s"],
            url=base + f["image"],
            raster_url=base + f["raster"],
            flooded_area_m2=f["flooded_area_m2"],
            max_depth_m=f["max_depth_m"],
            volume_m3=f["volume_m3"],
        )
        for f in (summary or {}).get("frames", [])
    ]
    error = (result.summary or {}).get("error") if result.status == "failed" else None
    return SimResultOut(
        id=result.id,
        kind=result.kind,
        name=result.name,
        status=result.status,
        error=error,
        params=result.params,
        summary=summary,
        layer_id=result.layer_id,
        user=username,
        job_id=result.job_id,
        created_at=result.created_at,
        files_url=base,
        frames=frames,
        image_bounds=summary.get("bounds_wgs84") if summary else None,
        max_depth_url=base + summary["max_depth_image"] if summary else None,
    )


@router.post("/flood", response_model=JobOut, status_code=202)
def run_flood(
    body: FloodIn, session: SessionDep, settings: SettingsDep, runner: RunnerDep, user: StaffUser
) -> JobOut:
    """Check the scenario now (400 says what to change), run it in the background; the job's
    `params.result_id` is the result to open once the job has succeeded."""
    request = FloodRequest(**body.model_dump(exclude={"layer_id", "version", "name"}))
    job = submit_flood(session, runner, settings.tiles_dir, user, layer_id=body.layer_id,
                       version=body.version, name=body.name, request=request)  # fmt: skip
    return JobOut.model_validate(job)


@router.get("", response_model=list[SimResultOut])
def read_results(
    session: SessionDep, user: StaffUser, limit: int = Query(200, ge=1, le=1000)
) -> list[SimResultOut]:
    return [result_out(r, name) for r, name in list_results(session, user, limit)]


@router.get("/{result_id}", response_model=SimResultOut)
def read_result(result_id: str, session: SessionDep, user: StaffUser) -> SimResultOut:
    return result_out(*get_result(session, result_id, user))


@router.delete("/{result_id}", status_code=204)
def remove_result(
    result_id: str, session: SessionDep, settings: SettingsDep, runner: RunnerDep, user: StaffUser
) -> Response:
    delete_result(session, runner, settings.tiles_dir, result_id, user)
    return Response(status_code=204)
