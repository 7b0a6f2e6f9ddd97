"""Liveness and database reachability, for load balancers and humans."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from twin import __version__
from twin.api.deps import DatabaseDep
from twin.api.schemas import Health
from twin.errors import DatabaseUnavailable

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, responses={503: {"description": "database down"}})
def health(request: Request, db: DatabaseDep) -> Health | JSONResponse:
    try:
        spatial = db.check()
    except DatabaseUnavailable as exc:
        return JSONResponse(
            {"status": "unavailable", "database": db.dialect, "detail": exc.message},
            status_code=503,
        )
    ingest = request.app.state.mqtt
    mqtt = ingest.status if ingest is not None else "off"
    return Health(status="ok", database=db.dialect, spatial=spatial, version=__version__, mqtt=mqtt)
