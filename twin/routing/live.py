"""The live sensor readings routing uses: the latest LAeq (noise), NO2 and PM10 of every active
sensor, read from the twin's database (`Quantity.last_value`, kept current by ingestion)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from twin.sensors.models import Quantity, Sensor

QUANTITIES = {"LAeq": "noise", "NO2": "no2", "PM10": "pm10"}


def _empty() -> NDArray[np.float64]:
    return np.zeros(0)


@dataclass(frozen=True)
class Readings:
    """Latest values of one quantity, one per sensor."""

    lon: NDArray[np.float64] = field(default_factory=_empty)
    lat: NDArray[np.float64] = field(default_factory=_empty)
    value: NDArray[np.float64] = field(default_factory=_empty)

    def __len__(self) -> int:
        return int(self.value.size)


@dataclass(frozen=True)
class SensorReadings:
    noise: Readings = field(default_factory=Readings)  # LAeq, dB(A)
    no2: Readings = field(default_factory=Readings)  # µg/m³
    pm10: Readings = field(default_factory=Readings)  # µg/m³

    @property
    def count(self) -> int:
        return len(self.noise) + len(self.no2) + len(self.pm10)


def read_sensors(session: Session) -> SensorReadings:
    """Every active sensor's latest LAeq, NO2 and PM10 (sensors without a reading are left out)."""
    rows = session.execute(
        select(Sensor.lon, Sensor.lat, Quantity.name, Quantity.last_value)
        .join(Quantity, Quantity.sensor_id == Sensor.id)
        .where(Quantity.name.in_(list(QUANTITIES)))
        .where(Quantity.last_value.is_not(None))
        .where(Sensor.status == "active")
    ).all()
    groups: dict[str, list[tuple[float, float, float]]] = {k: [] for k in QUANTITIES.values()}
    for lon, lat, name, value in rows:
        groups[QUANTITIES[name]].append((lon, lat, value))
    return SensorReadings(**{k: _readings(v) for k, v in groups.items()})


def _readings(rows: list[tuple[float, float, float]]) -> Readings:
    if not rows:
        return Readings()
    lon, lat, value = (np.asarray(c, np.float64) for c in zip(*rows, strict=True))
    return Readings(lon, lat, value)
