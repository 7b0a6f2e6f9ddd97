"""Water entering the domain: rain (constant or a series), point inflow hydrographs, a fixed sea
level on the boundary. Read and checked up front, then sampled by the time loop."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twin.sim.flood.errors import FloodInputError
from twin.sim.flood.grid import Grid


@dataclass(frozen=True)
class Series:
    """A value over time, piecewise linear between the given points and held beyond both ends
    (add a row with 0 to stop a hydrograph or a storm)."""

    times: np.ndarray  # seconds, strictly increasing
    values: np.ndarray

    @classmethod
    def constant(cls, value: float) -> Series:
        return cls(np.array([0.0]), np.array([float(value)]))

    def at(self, t: float) -> float:
        return float(np.interp(t, self.times, self.values))

    @property
    def peak(self) -> float:
        return float(self.values.max())


def read_series_csv(path: Path, value_column: str, what: str) -> Series:
    """`time_s,<value_column>` CSV: a header with exactly those two columns, then numbers; times
    strictly increasing and >= 0, values >= 0."""
    path = Path(path)
    if not path.is_file():
        raise FloodInputError(f"{what} {path}: no such file")
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise FloodInputError(f"{what} {path}: cannot read it as CSV ({exc})") from None
    expected = ["time_s", value_column]
    if not rows or [c.strip() for c in rows[0]] != expected:
        got = ",".join(c.strip() for c in rows[0]) if rows else "an empty file"
        raise FloodInputError(f"{what} {path}: expected columns {','.join(expected)}, got {got}")
    if len(rows) < 2:
        raise FloodInputError(f"{what} {path}: no data rows")
    times, values = [], []
    for n, row in enumerate(rows[1:], start=2):
        try:
            if len(row) != 2:
                raise ValueError
            t, v = float(row[0]), float(row[1])
        except ValueError:
            raise FloodInputError(f"{what} {path} line {n}: expected two numbers") from None
        if not (math.isfinite(t) and math.isfinite(v)):
            raise FloodInputError(f"{what} {path} line {n}: values must be finite")
        if t < 0 or v < 0:
            raise FloodInputError(
                f"{what} {path} line {n}: negative {'time' if t < 0 else 'value'}"
            )
        if times and t <= times[-1]:
            raise FloodInputError(f"{what} {path} line {n}: times must increase")
        times.append(t)
        values.append(v)
    return Series(np.array(times), np.array(values))


@dataclass(frozen=True)
class Inflow:
    """A point inflow hydrograph (m³/s) at map point (x, y) in the DEM's CRS."""

    x: float
    y: float
    discharge: Series
    label: str = "inflow"


def parse_inflow(spec: str) -> Inflow:
    """`X,Y,HYDROGRAPH.csv` (the path may itself hold commas)."""
    parts = spec.split(",", 2)
    if len(parts) != 3:
        raise FloodInputError(f"--inflow {spec!r}: expected X,Y,HYDROGRAPH.csv")
    try:
        x, y = float(parts[0]), float(parts[1])
    except ValueError:
        raise FloodInputError(f"--inflow {spec!r}: X and Y must be numbers") from None
    series = read_series_csv(Path(parts[2]), "discharge_m3s", "hydrograph")
    return Inflow(x, y, series, label="--inflow")


def rain_series(mm_per_hour: float | None, series_csv: Path | None) -> Series | None:
    """Rain intensity in mm/h over time, or None for no rain."""
    if mm_per_hour is not None and series_csv is not None:
        raise FloodInputError("--rain and --rain-series are mutually exclusive")
    if series_csv is not None:
        return read_series_csv(series_csv, "mm_per_hour", "rain series")
    if mm_per_hour is None:
        return None
    if not math.isfinite(mm_per_hour) or mm_per_hour < 0:
        raise FloodInputError(f"--rain must be a rate >= 0 mm/h, got {mm_per_hour:g}")
    return Series.constant(mm_per_hour)


@dataclass(frozen=True)
class PointSource:
    row: int
    col: int
    discharge: Series


@dataclass(frozen=True)
class Sources:
    """Everything that adds (or, for the sea, removes) water, located on the grid."""

    rain_mm_h: Series | None = None
    points: tuple[PointSource, ...] = ()
    sea_level: float | None = None

    def rain_m_per_s(self, t: float) -> float:
        return 0.0 if self.rain_mm_h is None else self.rain_mm_h.at(t) / 3.6e6

    def peak_point_discharge(self) -> float:
        return max((p.discharge.peak for p in self.points), default=0.0)


def locate(
    grid: Grid,
    *,
    rain_mm_h: Series | None = None,
    inflows: tuple[Inflow, ...] | list[Inflow] = (),
    sea_level: float | None = None,
) -> Sources:
    """Put the sources on the grid; refuses inflows outside the DEM or on nodata."""
    points = tuple(
        PointSource(*grid.cell_of(f.x, f.y, f.label), discharge=f.discharge) for f in inflows
    )
    if sea_level is not None and not math.isfinite(sea_level):
        raise FloodInputError("--sea-level must be a finite level")
    return Sources(rain_mm_h, points, sea_level)


def sea_cells(grid: Grid, sea_level: float | None) -> np.ndarray:
    """Flat indices of the cells held at the sea level: data cells on the grid's outer edge whose
    bed is below it (cells next to interior nodata holes are not sea)."""
    if sea_level is None:
        return np.zeros(0, dtype=np.int64)
    edge = np.zeros(grid.shape, dtype=bool)
    edge[0, :] = edge[-1, :] = edge[:, 0] = edge[:, -1] = True
    return np.flatnonzero(edge & grid.valid & (grid.z < sea_level))
