"""An NGSI-LD subset (entities, batch upsert, temporal query) over the sensor register, for
FIWARE clients. Reads are public like the rest of the sensor API; writes need a device or
staff token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import JSONResponse

from twin.api.deps import DatabaseDep, HubDep, SessionDep, WriterUser
from twin.errors import InputError, NotFound, TwinError
from twin.sensors.models import Sensor
from twin.sensors.ngsi_ld import readings, sensor_id, sensor_spec, temporal_entity, to_entity
from twin.sensors.query import parse_instant, raw_rows
from twin.sensors.registry import create_sensor, get_sensor, list_sensors
from twin.sensors.service import ingest

router = APIRouter(prefix="/ngsi-ld/v1", tags=["ngsi-ld"])
LD_JSON = "application/ld+json"
MAX_TEMPORAL = 100_000


def _ld(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=LD_JSON, headers=headers)


def _sensor(session: Any, entity: str) -> Sensor:
    try:
        return get_sensor(session, sensor_id(entity))
    except NotFound:
        raise NotFound(f"no entity {entity!r}") from None


def _store(db: Any, hub: Any, entities: list[dict[str, Any]]) -> dict[str, Any]:
    items = [r for e in entities for r in readings(e)]
    return ingest(db, items, hub=hub).as_counts() if items else {"accepted": 0}


@router.post("/entities", status_code=201, response_class=Response)
def create_entity(
    db: DatabaseDep,
    hub: HubDep,
    user: WriterUser,
    entity: dict[str, Any] = Body(description="an NGSI-LD entity (normalized form)"),
) -> Response:
    spec = sensor_spec(entity)
    with db.session() as session:
        create_sensor(session, spec)
    _store(db, hub, [entity])
    return Response(status_code=201, headers={"Location": f"/ngsi-ld/v1/entities/{entity['id']}"})


@router.post("/entityOperations/upsert")
def upsert_entities(
    db: DatabaseDep,
    hub: HubDep,
    user: WriterUser,
    entities: list[dict[str, Any]] = Body(description="NGSI-LD entities"),
) -> Response:
    """Create the entities that do not exist, append readings to the others. 201 with the
    created ids, 204 when all existed, 207 with the errors when some failed."""
    created: list[str] = []
    errors: list[dict[str, Any]] = []
    stored: list[dict[str, Any]] = []
    for entity in entities:
        eid = str(entity.get("id", ""))
        try:
            with db.session() as session:
                if session.get(Sensor, sensor_id(eid)) is None:
                    create_sensor(session, sensor_spec(entity))
                    created.append(eid)
            stored.append(entity)
        except TwinError as exc:
            errors.append({"entityId": eid, "error": {"title": "BadRequestData",
                                                      "detail": exc.message}})  # fmt: skip
    counts = _store(db, hub, stored)
    rejected = counts.get("rejected", [])
    if errors or rejected:
        body = {"success": [str(e.get("id")) for e in stored], "errors": errors}
        if rejected:
            body["rejectedReadings"] = rejected
        return _ld(body, 207)
    if created:
        return _ld(created, 201)
    return Response(status_code=204)


@router.get("/entities")
def query_entities(
    session: SessionDep,
    type: str | None = Query(None, description="a Smart Data Models type"),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> JSONResponse:
    sensors = list_sensors(session, sensor_type=type)[offset : offset + limit]
    return _ld([to_entity(s) for s in sensors])


@router.get("/entities/{entity_id}")
def read_entity(entity_id: str, session: SessionDep) -> JSONResponse:
    return _ld(to_entity(_sensor(session, entity_id)))


@router.get("/temporal/entities/{entity_id}")
def temporal(
    entity_id: str,
    session: SessionDep,
    timerel: str | None = Query(None, pattern="^(before|after|between)$"),
    timeAt: str | None = Query(None),
    endTimeAt: str | None = Query(None),
    attrs: str | None = Query(None, description="comma-separated quantity names"),
    options: str | None = Query(None, description="temporalValues for the simplified form"),
) -> JSONResponse:
    sensor = _sensor(session, entity_id)
    at, end_at = parse_instant(timeAt, "timeAt"), parse_instant(endTimeAt, "endTimeAt")
    if timerel and at is None:
        raise InputError("timerel needs timeAt")
    if timerel == "between" and end_at is None:
        raise InputError("timerel=between needs endTimeAt")
    start, end = {
        None: (None, None),
        "before": (None, at),
        "after": (at, None),
        "between": (at, end_at),
    }[timerel]
    wanted = set(attrs.split(",")) if attrs else None
    series: dict[str, list[tuple[int, float]]] = {}
    for q in sensor.quantities:
        if wanted is None or q.name in wanted:
            rows = raw_rows(session, q.id, start, end).fetchmany(MAX_TEMPORAL)
            series[q.name] = [(t, v) for t, v in rows]
    simplified = bool(options and "temporalValues" in options.split(","))
    return _ld(temporal_entity(sensor, series, simplified))
