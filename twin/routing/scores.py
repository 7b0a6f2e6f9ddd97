"""Edge factors for one set of conditions (an hour, live sensor readings), and the scores of a
route that a planner compares side by side.

Each factor is a number from 0 (good) to 1 (bad) per arc, so profile weights are comparable:

| factor  | from                                                                   |
|---------|------------------------------------------------------------------------|
| noise   | (L − 45) / 30, L the arc's noise in dB(A): 45 → 0, 75 → 1               |
| air     | the larger of (NO2 − 15) / 45 and (PM10 − 18) / 20 (µg/m³)               |
| green   | 1 − share of the arc in green areas or under trees                      |
| shade   | 1 − share of the arc in shade at the hour asked                         |
| slope   | uphill grade / 10 % (0 downhill or without DEM)                         |
| traffic | the traffic proxy of the arc's own way (motorway 1 … residential 0.15)  |
| steps   | 1 on steps                                                              |
| unlit   | 0 where lit=yes, 1 where lit=no, 0.5 where OSM does not say             |

Noise and air come from the road model of `twin.routing.environment`, corrected by live
sensors where there are any: the residual r = reading − model at each sensor is spread by
inverse distance weighting (Shepard's, with compact support), correction(p) =
Σ wᵢ·rᵢ / (Σ wᵢ + 1/R²), wᵢ = ((D − dᵢ)₊ / (D·dᵢ))², dᵢ ≥ 10 m, D = 1 km, R = 250 m: the full
residual at a sensor, half of it 200 m away, nothing beyond 1 km.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

import numpy as np
import shapely
from numpy.typing import NDArray

from twin.routing import environment
from twin.routing.live import Readings, SensorReadings
from twin.routing.network import Network
from twin.routing.shade import ShadeMap, shade_map

FACTORS = ("noise", "air", "green", "shade", "slope", "traffic", "steps", "unlit")
IDW_RANGE_M = 250.0
IDW_MIN_M = 10.0
IDW_CUTOFF_M = 1000.0
SCHOOL_REACH_M = 100.0  # a school this close to the route is "served" by it
_LEVEL = {"noise": "noise_db", "no2": "no2", "pm10": "pm10"}  # Levels field per quantity


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Conditions:
    """What changes between requests: when (for shade) and the live readings."""

    when: datetime = field(default_factory=_now)
    sensors: SensorReadings = field(default_factory=SensorReadings)


class ArcEnvironment:
    """Noise, air, shade and the factors of every arc under some conditions; what is not
    needed is not computed."""

    def __init__(self, network: Network, conditions: Conditions) -> None:
        self.network = network
        self.conditions = conditions

    @cached_property
    def midpoints(self) -> tuple[NDArray, NDArray]:
        a, n = self.network.arcs, self.network.nodes
        return (n.x[a.tail] + n.x[a.head]) / 2, (n.y[a.tail] + n.y[a.head]) / 2

    @cached_property
    def noise_db(self) -> NDArray[np.float64]:
        return self._corrected(self.network.arcs.noise_db, self.conditions.sensors.noise, "noise")

    @cached_property
    def no2(self) -> NDArray[np.float64]:
        return self._corrected(self.network.arcs.no2, self.conditions.sensors.no2, "no2")

    @cached_property
    def pm10(self) -> NDArray[np.float64]:
        return self._corrected(self.network.arcs.pm10, self.conditions.sensors.pm10, "pm10")

    @cached_property
    def shade_map(self) -> ShadeMap:
        return shade_map(self.network, self.conditions.when)

    @cached_property
    def shade(self) -> NDArray[np.float64]:
        """Shaded share of every arc (both arcs of an edge alike)."""
        edges = np.arange(0, self.network.arcs.tail.size, 2)
        return np.repeat(self.shade_map.share(self.network, edges), 2)

    def factor(self, name: str, arcs: NDArray | slice = slice(None)) -> NDArray[np.float64]:
        """One factor (see the module's table) for all arcs, or for `arcs`."""
        a = self.network.arcs
        if name == "noise":
            return np.clip((self.noise_db[arcs] - 45.0) / 30.0, 0.0, 1.0)
        if name == "air":
            no2 = (self.no2[arcs] - 15.0) / 45.0
            return np.clip(np.maximum(no2, (self.pm10[arcs] - 18.0) / 20.0), 0.0, 1.0)
        if name == "green":
            return 1.0 - a.green[arcs].astype(np.float64)
        if name == "shade":
            return 1.0 - self.shade_share(arcs)
        if name == "slope":
            return np.clip(np.nan_to_num(a.grade[arcs].astype(np.float64)) / 0.10, 0.0, 1.0)
        if name == "traffic":
            return a.traffic[arcs].astype(np.float64)
        if name == "steps":
            return a.steps[arcs].astype(np.float64)
        if name == "unlit":
            return np.choose(a.lit[arcs] + 1, [0.5, 1.0, 0.0])
        raise KeyError(name)

    def shade_share(self, arcs: NDArray | slice) -> NDArray[np.float64]:
        """Shaded share of some arcs: looked up when every arc was done, else sampled."""
        if "shade" in self.__dict__ or isinstance(arcs, slice):
            return self.shade[arcs]
        return self.shade_map.share(self.network, np.asarray(arcs))

    def _corrected(self, model: NDArray, readings: Readings, what: str) -> NDArray[np.float64]:
        values = model.astype(np.float64)
        near = self._near(readings)
        if not near.any():
            return values
        sx, sy = self.network.frame.to_xy(readings.lon[near], readings.lat[near])
        at_sensors = environment.road_levels(self.network.features.sources, sx, sy)
        residual = readings.value[near] - getattr(at_sensors, _LEVEL[what])
        return values + idw_correction(sx, sy, residual, *self.midpoints)

    def _near(self, readings: Readings) -> NDArray[np.bool_]:
        """Sensors within the correction's reach (1 km) of the network: the others change
        nothing."""
        if not len(readings):
            return np.zeros(0, bool)
        w, s, e, n = self.network.bounds
        margin = IDW_CUTOFF_M / 111_000.0
        lon, lat = readings.lon, readings.lat
        return (lon > w - margin) & (lon < e + margin) & (lat > s - margin) & (lat < n + margin)


def idw_correction(
    sx: NDArray, sy: NDArray, residual: NDArray, px: NDArray, py: NDArray
) -> NDArray[np.float64]:
    """Σ wᵢ·rᵢ / (Σ wᵢ + 1/R²) at each point (see the module docstring)."""
    total = np.zeros(np.size(px))
    weight = np.full(np.size(px), 1.0 / IDW_RANGE_M**2)
    for x, y, r in zip(sx, sy, residual, strict=True):
        d = np.maximum(np.hypot(px - x, py - y), IDW_MIN_M)
        w = (np.maximum(IDW_CUTOFF_M - d, 0.0) / (IDW_CUTOFF_M * d)) ** 2
        total += w * r
        weight += w
    return total / weight


@dataclass(frozen=True)
class Leg:
    """A route as arcs and the fraction of each that is walked (ends can be partial)."""

    arcs: NDArray[np.int64]
    fractions: NDArray[np.float64]


def route_scores(
    env: ArcEnvironment, leg: Leg, line_xy: NDArray[np.float64], *, bike: bool
) -> dict[str, float | int | None]:
    """What a planner compares: length, duration, exposures, shares, climb, schools served."""
    net, arcs = env.network, leg.arcs
    a = net.arcs
    metres = a.length[arcs] * leg.fractions
    total = float(metres.sum())

    def mean(values: NDArray) -> float:
        return float((values * metres).sum() / total) if total > 0 else float(np.mean(values))

    noise = env.noise_db[arcs]
    seconds = bike_seconds(a.length[arcs], a.grade[arcs]) if bike else a.walk_s[arcs]
    scores: dict[str, float | int | None] = {
        "length_m": round(total, 1),
        "duration_s": round(float((seconds * leg.fractions).sum()), 1),
        "noise_mean_db": round(10 * np.log10(mean(10 ** (noise / 10))), 1),
        "noise_max_db": round(float(noise.max()), 1) if arcs.size else None,
        "no2_mean_ugm3": round(mean(env.no2[arcs]), 1),
        "pm10_mean_ugm3": round(mean(env.pm10[arcs]), 1),
        "green_share": round(mean(a.green[arcs].astype(np.float64)), 3),
        "shade_share": round(mean(env.shade_share(arcs)), 3),
        "steps_m": round(float(metres[a.steps[arcs]].sum()), 1),
        "lit_share": round(mean((a.lit[arcs] == 1).astype(np.float64)), 3),
        "crossings": int(a.crossing[arcs[:-1]].sum()),
        "schools_served": schools_near(net, line_xy),
        "climb_m": None,
        "descent_m": None,
    }
    if net.has_heights:
        rise = np.nan_to_num(a.grade[arcs].astype(np.float64)) * metres
        scores["climb_m"] = round(float(rise[rise > 0].sum()), 1)
        scores["descent_m"] = round(float(-rise[rise < 0].sum()), 1)
    return scores


def bike_seconds(length: NDArray, grade: NDArray) -> NDArray[np.float64]:
    """Cycling time: 4.5 m/s (16 km/h) on the flat, 25 % slower per 1 % of climb down to
    1.5 m/s, up to 7 m/s downhill."""
    g = np.nan_to_num(np.asarray(grade, np.float64))
    return length / np.clip(4.5 - 25.0 * g, 1.5, 7.0)


def schools_near(network: Network, line_xy: NDArray[np.float64]) -> int:
    """Schools within 100 m of the route line (local frame)."""
    school = network.features.poi_category == "school"
    if not school.any() or len(line_xy) < 2:
        return 0
    x, y = (c[school] for c in network.poi_xy)
    moved = np.any(line_xy != line_xy[0], axis=1).any()
    line = shapely.linestrings(line_xy) if moved else shapely.Point(line_xy[0])
    return int((shapely.distance(line, shapely.points(x, y)) <= SCHOOL_REACH_M).sum())
