"""Shapes of sensor data going in and out, shared by the HTTP API, NGSI-LD and the simulator."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# FIWARE Smart Data Models entity types a sensor may have.
SENSOR_TYPES = (
    "Device",
    "NoiseLevelObserved",
    "AirQualityObserved",
    "WeatherObserved",
    "WaterQualityObserved",
    "WaterObserved",
    "WasteContainer",
    "TrafficFlowObserved",
    "CrowdFlowObserved",
    "Streetlight",
    "StreetlightControlCabinet",
)
SENSOR_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"
Aggregate = Literal["raw", "15min", "hour", "day"]


class QuantityIn(BaseModel):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    unit: str = Field(min_length=1, max_length=32)


class Location(BaseModel):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    z: float | None = Field(None, description="metres above sea level (NGF-IGN69 in France)")


class MaintenanceEntry(BaseModel):
    date: datetime
    note: str = Field("", max_length=2000)


class SensorIn(BaseModel):
    """A new sensor; unknown fields are kept as extra metadata."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(pattern=SENSOR_ID, description="stable id; keys the history forever")
    name: str = Field(min_length=1, max_length=200)
    type: str = Field(description=f"one of {', '.join(SENSOR_TYPES)}")
    quantities: list[QuantityIn] = Field(min_length=1)
    location: Location
    description: str = Field("", max_length=10_000)
    zone: str = Field("", max_length=120, description="commune or district")
    status: Literal["active", "inactive", "maintenance"] = "active"
    commissioned_at: datetime | None = None
    maintenance: list[MaintenanceEntry] = Field(default_factory=list)
    photos: list[str] = Field(default_factory=list, description="photo URLs")

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value not in SENSOR_TYPES:
            raise ValueError(f"unknown sensor type {value!r}; use one of {', '.join(SENSOR_TYPES)}")
        return value

    @field_validator("quantities")
    @classmethod
    def _unique_quantities(cls, value: list[QuantityIn]) -> list[QuantityIn]:
        names = [q.name for q in value]
        if len(set(names)) != len(names):
            raise ValueError("quantity names must be unique")
        return value


class SensorPatch(BaseModel):
    """Changes to a sensor's metadata; the id (and so the history) never changes."""

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    location: Location | None = None
    zone: str | None = Field(None, max_length=120)
    status: Literal["active", "inactive", "maintenance"] | None = None
    commissioned_at: datetime | None = None
    maintenance: list[MaintenanceEntry] | None = None
    photos: list[str] | None = None
    quantities: list[QuantityIn] | None = Field(
        None, description="quantities to add (existing ones keep their unit and history)"
    )


class IngestResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: list[dict[str, Any]] = Field(description="[{index, reason}] per rejected item")


class SeriesOut(BaseModel):
    sensor: str
    quantity: str
    unit: str
    aggregate: Aggregate
    points: list[dict[str, Any]]


class AlertRuleIn(BaseModel):
    name: str = Field("", max_length=200)
    kind: Literal["silent", "above", "below", "rate"]
    sensor_id: str | None = Field(None, description="one sensor, or all of `sensor_type`")
    sensor_type: str | None = None
    quantity: str | None = Field(None, description="needed for above/below/rate")
    threshold: float | None = Field(
        None, description="above/below: unit of the quantity; rate: units per minute"
    )
    minutes: int | None = Field(None, ge=1, le=100_000, description="silent: minutes without data")


class AlertRuleOut(AlertRuleIn):
    model_config = ConfigDict(from_attributes=True)
    id: int
    enabled: bool
    created_at: datetime


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    rule_id: int | None
    sensor_id: str
    quantity: str | None
    kind: str
    status: str
    message: str
    value: float | None
    observed_at: datetime | None
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    closed_at: datetime | None
