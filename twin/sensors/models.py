"""Sensor tables, shared by SpatiaLite and PostGIS.

Observation times are integer milliseconds since the Unix epoch (UTC): compact, indexable the
same way on both back-ends, and bucketed into rollups by integer division in SQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from twin.models import Base, UTCDateTime, utcnow

SENSOR_STATES = ("active", "inactive", "maintenance")
ALERT_KINDS = ("silent", "above", "below", "rate")
ALERT_STATES = ("open", "acknowledged", "closed")
PERIODS = {"15min": 900_000, "hour": 3_600_000, "day": 86_400_000}  # rollup widths in ms


class Sensor(Base):
    """A device. `id` is stable (it keys the history); `name` and the rest can change."""

    __tablename__ = "sensors"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(64), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    z: Mapped[float | None] = mapped_column(Float, nullable=True)
    location: Mapped[Any] = mapped_column(Geometry("POINT", srid=4326, spatial_index=True))
    zone: Mapped[str] = mapped_column(String(120), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")
    commissioned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    maintenance: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    quantities: Mapped[list[Quantity]] = relationship(
        back_populates="sensor",
        cascade="all, delete-orphan",
        order_by="Quantity.id",
        lazy="selectin",
    )


class Quantity(Base):
    """One measured quantity of a sensor, with its unit and the latest-value cache."""

    __tablename__ = "sensor_quantities"
    __table_args__ = (UniqueConstraint("sensor_id", "name", name="uq_quantity_sensor_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sensor_id: Mapped[str] = mapped_column(
        ForeignKey("sensors.id", ondelete="CASCADE", onupdate="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    unit: Mapped[str] = mapped_column(String(32))
    last_t: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_value: Mapped[float | None] = mapped_column(Float, nullable=True)

    sensor: Mapped[Sensor] = relationship(back_populates="quantities")


class Observation(Base):
    """Append-only readings; the primary key makes a repeated reading a duplicate, not a row."""

    __tablename__ = "observations"

    quantity_id: Mapped[int] = mapped_column(
        ForeignKey("sensor_quantities.id", ondelete="CASCADE"), primary_key=True
    )
    t: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class Rollup(Base):
    """count/sum/min/max of one quantity over one bucket (15 min, hour or day, UTC-aligned)."""

    __tablename__ = "observation_rollups"

    quantity_id: Mapped[int] = mapped_column(
        ForeignKey("sensor_quantities.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    sum: Mapped[float] = mapped_column(Float)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)


class AlertRule(Base):
    """When to raise an alert, for one sensor or every sensor of a type.

    kinds: `silent` (no data for `minutes`), `above`/`below` (`threshold` in the quantity's
    unit), `rate` (a change faster than `threshold` units per minute between two readings).
    """

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16))
    sensor_id: Mapped[str | None] = mapped_column(
        ForeignKey("sensors.id", ondelete="CASCADE", onupdate="CASCADE"), nullable=True
    )
    sensor_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    quantity: Mapped[str | None] = mapped_column(String(64), nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Alert(Base):
    """One raised alert and its life (open -> acknowledged -> closed); kept as an archive, so
    it names its sensor by id without a foreign key."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_sensor_status", "sensor_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="SET NULL"), nullable=True
    )
    sensor_id: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    observed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class DeadLetter(Base):
    """An MQTT message (or part of one) that could not be stored, with the reason."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(String(300))
    payload: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
