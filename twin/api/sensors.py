"""Sensors: the register (GeoJSON with latest values), time series, indicators and exports.
Reading is public (the dashboard is for citizens too); changes need a staff role."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session

from twin.api.deps import AdminUser, DatabaseDep, SessionDep, StaffUser
from twin.catalog import parse_bbox
from twin.errors import InputError, NotFound
from twin.sensors.export import FORMATS, SeriesExport, export_series
from twin.sensors.features import features
from twin.sensors.query import heat_indicators, parse_instant, series
from twin.sensors.registry import (
    create_sensor,
    delete_sensor,
    get_quantity,
    get_sensor,
    patch_sensor,
)
from twin.sensors.schemas import Aggregate, SensorIn, SensorPatch, SeriesOut

router = APIRouter(prefix="/sensors", tags=["sensors"])
Start = Annotated[str | None, Query(description="ISO 8601, inclusive")]
End = Annotated[str | None, Query(description="ISO 8601, exclusive")]


def sensor_feature(session: Session, sensor_id: str) -> dict[str, Any]:
    found = features(session, sensor_id=sensor_id)
    if not found:
        raise NotFound(f"no sensor {sensor_id!r}")
    return found[0]


@router.get("", summary="All sensors as GeoJSON, with their latest values")
def read_sensors(
    session: SessionDep,
    bbox: str | None = Query(None, description="west,south,east,north in WGS84 degrees"),
    type: str | None = Query(None, description="a Smart Data Models type"),
) -> JSONResponse:
    found = features(session, parse_bbox(bbox) if bbox else None, type)
    return JSONResponse({"type": "FeatureCollection", "features": found})


@router.post("", status_code=201)
def add_sensor(spec: SensorIn, session: SessionDep, user: StaffUser) -> dict[str, Any]:
    return sensor_feature(session, create_sensor(session, spec).id)


@router.get("/{sensor_id}")
def read_sensor(sensor_id: str, session: SessionDep) -> dict[str, Any]:
    return sensor_feature(session, sensor_id)


@router.patch("/{sensor_id}")
def change_sensor(
    sensor_id: str, patch: SensorPatch, session: SessionDep, user: StaffUser
) -> dict[str, Any]:
    """Rename or re-describe a sensor; its id, and so its history, stay."""
    return sensor_feature(session, patch_sensor(session, sensor_id, patch).id)


@router.delete("/{sensor_id}", status_code=204)
def remove_sensor(sensor_id: str, session: SessionDep, user: AdminUser) -> Response:
    """Delete a sensor with its whole history (admin only; alerts stay archived)."""
    delete_sensor(session, sensor_id)
    return Response(status_code=204)


@router.get("/{sensor_id}/observations", response_model=SeriesOut)
def read_observations(
    sensor_id: str,
    session: SessionDep,
    quantity: str | None = None,
    start: Start = None,
    end: End = None,
    aggregate: Aggregate = "raw",
) -> JSONResponse:
    sensor = get_sensor(session, sensor_id)
    q = get_quantity(sensor, quantity)
    points = series(session, q, aggregate, parse_instant(start, "start"), parse_instant(end, "end"))
    # Built as plain JSON: validating a year of hourly points through the model tripled the time.
    body = {"sensor": sensor.id, "quantity": q.name, "unit": q.unit, "aggregate": aggregate}
    return JSONResponse({**body, "points": points})


@router.get("/{sensor_id}/indicators", summary="Heat indicators of a temperature sensor")
def read_indicators(
    sensor_id: str,
    session: SessionDep,
    quantity: str | None = None,
    start: Start = None,
    end: End = None,
) -> dict[str, Any]:
    sensor = get_sensor(session, sensor_id)
    q = get_quantity(sensor, quantity)
    if q.unit not in ("°C", "Cel", "degC"):
        raise InputError(f"{sensor.id}/{q.name} is in {q.unit!r}: heat indicators need °C")
    out = heat_indicators(session, q, parse_instant(start, "start"), parse_instant(end, "end"))
    return {"sensor": sensor.id, "quantity": q.name, **out}


@router.get("/{sensor_id}/export", summary="One file of a sensor's readings (streamed)")
def export(
    sensor_id: str,
    session: SessionDep,
    db: DatabaseDep,
    format: str = Query("csv", description="csv, json, geojson or kml"),
    quantity: str | None = Query(None, description="one quantity; default: all"),
    start: Start = None,
    end: End = None,
    aggregate: Aggregate = "raw",
    sep: str = Query(",", description="CSV only: ',' or ';' (';' also gives decimal commas)"),
) -> StreamingResponse:
    sensor = get_sensor(session, sensor_id)
    quantities = [get_quantity(sensor, quantity)] if quantity else list(sensor.quantities)
    job = SeriesExport(
        db,
        sensor,
        quantities,
        aggregate,
        parse_instant(start, "start"),
        parse_instant(end, "end"),
        sep,
    )
    body = export_series(job, format)
    ext = "csv" if format == "csv" else format
    name = f"{sensor.id}_{quantity or 'all'}_{aggregate}.{ext}".replace(":", "-")
    return StreamingResponse(
        body,
        media_type=FORMATS[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
