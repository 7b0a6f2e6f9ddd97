"""NGSI-LD (ETSI GS CIM 009) mapping of sensors, so FIWARE platforms can read and write us.

An entity is a sensor: `urn:ngsi-ld:<Type>:<sensor id>` with a Smart Data Models type. Numeric
Properties are its quantities; a Property with `observedAt` is a reading. Units travel as
UN/CEFACT common codes (`unitCode`), translated from and to the units we store.
"""

from __future__ import annotations

import re
from typing import Any

from twin.errors import InputError
from twin.sensors.models import Sensor
from twin.sensors.query import iso
from twin.sensors.schemas import SENSOR_ID, SENSOR_TYPES, Location, QuantityIn, SensorIn

CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
PREFIX = "urn:ngsi-ld:"
# UN/CEFACT common codes for the units our sensors use.
UNIT_CODES = {
    "dB(A)": "2N",
    "dB(C)": "2N",
    "dB": "2N",
    "°C": "CEL",
    "m": "MTR",
    "cm": "CMT",
    "m3/s": "MQS",
    "%": "P1",
    "µg/m3": "GQ",
    "mg/L": "M1",
    "hPa": "A97",
    "mm": "MMT",
    "mm/h": "H67",
    "m/s": "MTS",
    "°": "DD",
    "W/m2": "D54",
    "µS/cm": "G42",
    "NTU": "NTU",
    "pH": "Q30",
    "lx": "LUX",
    "W": "WTT",
    "count": "C62",
}
CODE_UNITS = {code: unit for unit, code in reversed(UNIT_CODES.items())}
RESERVED = {"id", "type", "@context", "location", "name", "description", "address",
            "dateObserved", "zone", "status"}  # fmt: skip


def entity_id(sensor: Sensor) -> str:
    return f"{PREFIX}{sensor.type}:{sensor.id}"


def sensor_id(entity: str) -> str:
    """The sensor id an entity id names (`urn:ngsi-ld:Type:id`, or the id itself)."""
    if entity.startswith(PREFIX):
        parts = entity[len(PREFIX) :].split(":", 1)
        if len(parts) == 2 and parts[0] in SENSOR_TYPES:
            return parts[1]
    return entity


def _value(attr: Any) -> Any:
    return attr.get("value") if isinstance(attr, dict) else attr


def readings(entity: dict[str, Any]) -> list[dict[str, Any]]:
    """Observations in an entity: numeric Properties with `observedAt` (one or a list)."""
    sid = sensor_id(str(entity.get("id", "")))
    out = []
    for name, attr in entity.items():
        if name in RESERVED:
            continue
        for instance in attr if isinstance(attr, list) else [attr]:
            if isinstance(instance, dict) and "observedAt" in instance:
                out.append({"sensor": sid, "quantity": name, "time": instance["observedAt"],
                            "value": instance.get("value")})  # fmt: skip
    return out


def sensor_spec(entity: dict[str, Any]) -> SensorIn:
    """A new sensor from an entity; every numeric Property becomes a quantity."""
    eid, kind = entity.get("id"), entity.get("type")
    if not isinstance(eid, str) or not isinstance(kind, str):
        raise InputError("an NGSI-LD entity needs an 'id' and a 'type'")
    if kind not in SENSOR_TYPES:
        raise InputError(f"entity {eid}: type {kind!r} is not one of {', '.join(SENSOR_TYPES)}")
    point = _value(entity.get("location"))
    if not isinstance(point, dict) or point.get("type") != "Point":
        raise InputError(f"entity {eid}: 'location' must be a GeoProperty holding a GeoJSON Point")
    coords = point.get("coordinates") or []
    if len(coords) < 2:
        raise InputError(f"entity {eid}: location needs [lon, lat] or [lon, lat, z]")
    quantities = []
    for name, attr in entity.items():
        first = attr[0] if isinstance(attr, list) and attr else attr
        if name in RESERVED or not isinstance(first, dict) or first.get("type") != "Property":
            continue
        if isinstance(first.get("value"), int | float) and not isinstance(first["value"], bool):
            code = first.get("unitCode", "")
            quantities.append(QuantityIn(name=name, unit=CODE_UNITS.get(code, code or "1")))
    if not quantities:
        raise InputError(f"entity {eid}: no numeric Property to measure")
    sid = sensor_id(eid)
    if not re.match(SENSOR_ID, sid):
        raise InputError(f"entity {eid}: id part {sid!r} is not a usable sensor id")
    return SensorIn(
        id=sid,
        name=str(_value(entity.get("name")) or sid),
        type=kind,
        quantities=quantities,
        location=Location(lon=coords[0], lat=coords[1], z=coords[2] if len(coords) > 2 else None),
        description=str(_value(entity.get("description")) or ""),
        zone=str(_value(entity.get("zone")) or ""),
    )


def to_entity(sensor: Sensor, context: bool = True) -> dict[str, Any]:
    """The normalized NGSI-LD representation, with each quantity's latest value."""
    coords = [sensor.lon, sensor.lat] + ([sensor.z] if sensor.z is not None else [])
    entity: dict[str, Any] = {
        "id": entity_id(sensor),
        "type": sensor.type,
        "name": {"type": "Property", "value": sensor.name},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": coords}},
    }
    if sensor.description:
        entity["description"] = {"type": "Property", "value": sensor.description}
    if sensor.zone:
        entity["zone"] = {"type": "Property", "value": sensor.zone}
    for q in sensor.quantities:
        if q.last_t is None:
            continue
        entity[q.name] = {
            "type": "Property",
            "value": q.last_value,
            "observedAt": iso(q.last_t),
            "unitCode": UNIT_CODES.get(q.unit, q.unit),
        }
    if context:
        entity["@context"] = CORE_CONTEXT
    return entity


def temporal_entity(
    sensor: Sensor, series: dict[str, list[tuple[int, float]]], simplified: bool
) -> dict[str, Any]:
    """The temporal representation: every instance of each attribute in the time range."""
    entity = to_entity(sensor)
    units = {q.name: q.unit for q in sensor.quantities}
    for name, rows in series.items():
        code = UNIT_CODES.get(units[name], units[name])
        if simplified:
            entity[name] = {"type": "Property", "unitCode": code,
                            "values": [[v, iso(t)] for t, v in rows]}  # fmt: skip
        else:
            entity[name] = [
                {"type": "Property", "value": v, "observedAt": iso(t), "unitCode": code}
                for t, v in rows
            ]
    return entity
