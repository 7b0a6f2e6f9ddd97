"""Background jobs: list, inspect, cancel. Staff see their own jobs; admins see all."""

from fastapi import APIRouter, Query
from sqlalchemy import select

from twin.api.deps import RunnerDep, SessionDep, StaffUser
from twin.api.schemas import JobOut
from twin.errors import NotFound
from twin.models import JOB_STATES, Job, User

router = APIRouter(prefix="/jobs", tags=["jobs"])


def _visible(job: Job | None, user: User) -> Job:
    if job is None or (user.role != "admin" and job.created_by != user.id):
        raise NotFound("job not found")
    return job


@router.get("", response_model=list[JobOut])
def list_jobs(
    session: SessionDep,
    user: StaffUser,
    status: str | None = Query(None, pattern="^(" + "|".join(JOB_STATES) + ")$"),
    limit: int = Query(100, ge=1, le=1000),
) -> list[JobOut]:
    query = select(Job).order_by(Job.created_at.desc()).limit(limit)
    if user.role != "admin":
        query = query.where(Job.created_by == user.id)
    if status:
        query = query.where(Job.status == status)
    return [JobOut.model_validate(j) for j in session.scalars(query)]


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: str, session: SessionDep, user: StaffUser) -> JobOut:
    return JobOut.model_validate(_visible(session.get(Job, job_id), user))


@router.delete("/{job_id}", response_model=JobOut, status_code=202)
def cancel_job(job_id: str, session: SessionDep, runner: RunnerDep, user: StaffUser) -> JobOut:
    """Request cancellation: a queued job stops at once, a running one at its next step."""
    _visible(session.get(Job, job_id), user)
    return JobOut.model_validate(runner.cancel(job_id))
