"""The sensor register: create, read, change and remove sensors and their quantities."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import Point, box
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from twin.errors import Conflict, InputError, NotFound
from twin.sensors.models import Quantity, Sensor
from twin.sensors.schemas import SensorIn, SensorPatch

Bounds = tuple[float, float, float, float]


def _point(lon: float, lat: float) -> Any:
    return from_shape(Point(lon, lat), srid=4326)


def _maintenance(entries: list[Any]) -> list[dict[str, Any]]:
    return [{"date": e.date.isoformat(), "note": e.note} for e in entries]


def create_sensor(session: Session, spec: SensorIn) -> Sensor:
    if session.get(Sensor, spec.id) is not None:
        raise Conflict(f"sensor {spec.id!r} already exists")
    if spec.commissioned_at is not None and spec.commissioned_at.tzinfo is None:
        raise InputError("commissioned_at needs a time zone (e.g. 2024-03-01T00:00:00+01:00)")
    sensor = Sensor(
        id=spec.id,
        name=spec.name,
        type=spec.type,
        description=spec.description,
        lon=spec.location.lon,
        lat=spec.location.lat,
        z=spec.location.z,
        location=_point(spec.location.lon, spec.location.lat),
        zone=spec.zone,
        status=spec.status,
        commissioned_at=spec.commissioned_at,
        maintenance=_maintenance(spec.maintenance),
        photos=list(spec.photos),
        extra=dict(spec.model_extra or {}),
        quantities=[Quantity(name=q.name, unit=q.unit) for q in spec.quantities],
    )
    session.add(sensor)
    session.flush()
    return sensor


def get_sensor(session: Session, sensor_id: str) -> Sensor:
    sensor = session.get(Sensor, sensor_id)
    if sensor is None:
        raise NotFound(f"no sensor {sensor_id!r}")
    return sensor


def get_quantity(sensor: Sensor, name: str | None) -> Quantity:
    """The sensor's quantity `name`, or its only one when `name` is not given."""
    if name is None:
        if len(sensor.quantities) == 1:
            return sensor.quantities[0]
        names = ", ".join(q.name for q in sensor.quantities)
        raise InputError(f"sensor {sensor.id!r} measures several quantities ({names}): name one")
    for q in sensor.quantities:
        if q.name == name:
            return q
    names = ", ".join(q.name for q in sensor.quantities)
    raise InputError(f"sensor {sensor.id!r} has no quantity {name!r} (it has: {names})")


def list_sensors(
    session: Session, bbox: Bounds | None = None, sensor_type: str | None = None
) -> list[Sensor]:
    query = select(Sensor).order_by(Sensor.id)
    if bbox is not None:
        query = query.where(func.ST_Intersects(Sensor.location, from_shape(box(*bbox), 4326)))
    if sensor_type:
        query = query.where(Sensor.type == sensor_type)
    return list(session.scalars(query))


def patch_sensor(session: Session, sensor_id: str, patch: SensorPatch) -> Sensor:
    """Change metadata; the id stays, so observations, rollups and alerts stay attached."""
    sensor = get_sensor(session, sensor_id)
    fields = patch.model_dump(exclude_unset=True)
    if "location" in fields and patch.location is not None:
        loc = patch.location
        sensor.lon, sensor.lat, sensor.z = loc.lon, loc.lat, loc.z
        sensor.location = _point(loc.lon, loc.lat)
    if patch.maintenance is not None:
        sensor.maintenance = _maintenance(patch.maintenance)
    for name in ("name", "description", "zone", "status", "commissioned_at", "photos"):
        if name in fields and fields[name] is not None:
            setattr(sensor, name, getattr(patch, name))
    existing = {q.name: q for q in sensor.quantities}
    for q in patch.quantities or []:
        if q.name in existing and existing[q.name].unit != q.unit:
            raise Conflict(
                f"quantity {q.name!r} is measured in {existing[q.name].unit!r}; "
                "its unit cannot change (its history would become wrong)"
            )
        if q.name not in existing:
            sensor.quantities.append(Quantity(name=q.name, unit=q.unit))
    sensor.updated_at = datetime.now(UTC)
    session.flush()
    return sensor


def delete_sensor(session: Session, sensor_id: str) -> None:
    session.delete(get_sensor(session, sensor_id))
    session.flush()
