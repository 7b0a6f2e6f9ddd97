"""Where the sun does not reach at a given date and hour: building shadows (footprints extruded
by their height and projected away from the sun), trees and woods.

Sun position: the NOAA approximation (declination, equation of time, hour angle), good to a
fraction of a degree, plenty for shadows. A building's shadow on flat ground is the convex
hull of its footprint and the footprint moved by height / tan(altitude) away from the sun (a
simple, slightly generous projection for concave footprints). Buildings without a height in
OSM count as `DEFAULT_HEIGHT_M`. A tree shades a disc of its crown radius, cast the same way
from its crown height; woods shade their whole area. With the sun below `MIN_ALTITUDE_DEG`
everything is in shade.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from numba import njit
from numpy.typing import NDArray
from rasterio.features import rasterize
from rasterio.transform import from_origin

from twin.routing._geo import mean_by, sample_segments
from twin.routing.network import Network

DEFAULT_HEIGHT_M = 9.0  # three storeys: most OSM buildings carry no height
TREE_CROWN_M = 4.0
TREE_HEIGHT_M = 6.0
MIN_ALTITUDE_DEG = 3.0
MAX_SHADOW_M = 300.0
SAMPLE_M = 5.0
CELL_M = 2.0


@dataclass(frozen=True)
class Sun:
    azimuth_deg: float  # clockwise from north
    altitude_deg: float  # above the horizon

    @property
    def up(self) -> bool:
        return self.altitude_deg >= MIN_ALTITUDE_DEG

    def offset(self, height: NDArray | float) -> tuple[NDArray, NDArray]:
        """Where the top of something `height` tall casts its shadow, relative to its foot."""
        reach = np.minimum(
            np.asarray(height) / math.tan(math.radians(self.altitude_deg)), MAX_SHADOW_M
        )
        az = math.radians(self.azimuth_deg)
        return -math.sin(az) * reach, -math.cos(az) * reach


def sun_position(when: datetime, lon: float, lat: float) -> Sun:
    """Solar azimuth and altitude at a place and an aware datetime (naive means UTC)."""
    utc = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    day = utc.timetuple().tm_yday
    hours = utc.hour + utc.minute / 60 + utc.second / 3600
    gamma = 2 * math.pi / 365 * (day - 1 + (hours - 12) / 24)
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * math.cos(gamma)
        - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma)
        - 0.040849 * math.sin(2 * gamma)
    )
    decl = (
        0.006918
        - 0.399912 * math.cos(gamma)
        + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma)
        + 0.000907 * math.sin(2 * gamma)
        - 0.002697 * math.cos(3 * gamma)
        + 0.00148 * math.sin(3 * gamma)
    )
    solar_minutes = hours * 60 + eqtime + 4 * lon
    hour_angle = math.radians(solar_minutes / 4 - 180)
    phi = math.radians(lat)
    cos_zenith = math.sin(phi) * math.sin(decl) + math.cos(phi) * math.cos(decl) * math.cos(
        hour_angle
    )
    zenith = math.acos(max(-1.0, min(1.0, cos_zenith)))
    azimuth = math.degrees(
        math.atan2(
            math.sin(hour_angle),
            math.cos(hour_angle) * math.sin(phi) - math.tan(decl) * math.cos(phi),
        )
    )
    return Sun((azimuth + 180.0) % 360.0, 90.0 - math.degrees(zenith))


@dataclass(frozen=True)
class ShadeMap:
    """The shadows of one date and hour, burnt into a 2 m grid over the network, so that a
    point's shade is one array lookup (a route's score, or every edge for the cool profile)."""

    sun: Sun
    grid: NDArray[np.uint8]  # 1: shade; row 0 north
    west: float
    north: float

    @classmethod
    def of(cls, network: Network, sun: Sun) -> ShadeMap:
        x, y = network.nodes.x, network.nodes.y
        west, north = float(x.min()) - CELL_M, float(y.max()) + CELL_M
        shape = (int((north - y.min()) // CELL_M) + 2, int((x.max() - west) // CELL_M) + 2)
        grid = np.zeros(shape, np.uint8)
        if sun.up:
            _burn_shadows(network, sun, grid, west, north)
        return cls(sun, grid, west, north)

    def share(self, network: Network, arcs: NDArray) -> NDArray[np.float64]:
        """Per arc, the share of points every 5 m along it that lie in a shadow."""
        if not self.sun.up:
            return np.ones(arcs.size)
        t, h = network.arcs.tail[arcs], network.arcs.head[arcs]
        x, y = network.nodes.x, network.nodes.y
        px, py, seg = sample_segments(x[t], y[t], x[h], y[h], SAMPLE_M)
        rows = np.clip(((self.north - py) // CELL_M).astype(np.int64), 0, self.grid.shape[0] - 1)
        cols = np.clip(((px - self.west) // CELL_M).astype(np.int64), 0, self.grid.shape[1] - 1)
        return mean_by(self.grid[rows, cols].astype(np.float64), seg, arcs.size)


def _burn_shadows(network: Network, sun: Sun, grid: NDArray, west: float, north: float) -> None:
    """Buildings and tree crowns as convex hulls (compiled), woods as they are (rasterio)."""
    f, frame = network.features, network.frame
    x, y, owner = network.building_xy
    height = np.where(np.isfinite(f.building_height), f.building_height, DEFAULT_HEIGHT_M)
    dx, dy = sun.offset(height[owner])
    # each footprint and its copy moved by the shadow offset, interleaved, one hull each
    hx = np.column_stack([x, x + dx]).ravel()
    hy = np.column_stack([y, y + dy]).ravel()
    offsets = 2 * np.concatenate(([0], np.cumsum(np.bincount(owner, minlength=height.size))))
    _burn_convex(hx, hy, offsets, grid, west, north, CELL_M)
    tx, ty = frame.to_xy(f.tree_lon, f.tree_lat)
    cx, cy = sun.offset(TREE_HEIGHT_M)
    angle = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    crown_x = (tx + cx)[:, None] + TREE_CROWN_M * np.cos(angle)
    crown_y = (ty + cy)[:, None] + TREE_CROWN_M * np.sin(angle)
    _burn_convex(
        crown_x.ravel(),
        crown_y.ravel(),
        np.arange(tx.size + 1) * angle.size,
        grid,
        west,
        north,
        CELL_M,
    )
    woods = frame.project(f.woods.geoms())
    if woods.size:
        rasterize(woods, out=grid, transform=from_origin(west, north, CELL_M, CELL_M))


@njit(cache=True)
def _burn_convex(x, y, offsets, grid, west, north, cell):  # pragma: no cover - compiled
    """Set to 1 the cells whose centre lies in the convex hull of each group of points."""
    for b in range(offsets.size - 1):
        s, e = offsets[b], offsets[b + 1]
        if e - s >= 3:
            hx, hy = _hull(x[s:e], y[s:e])
            _fill_convex(hx, hy, grid, west, north, cell)


@njit(cache=True)
def _hull(x, y):  # pragma: no cover - compiled
    """Convex hull (Andrew's monotone chain), counter-clockwise, first point not repeated."""
    order = np.argsort(y, kind="mergesort")
    order = order[np.argsort(x[order], kind="mergesort")]
    n = order.size
    out = np.empty(2 * n, np.int64)
    k = 0
    for i in range(n):  # lower chain
        while k >= 2 and _turn(x, y, out[k - 2], out[k - 1], order[i]) <= 0:
            k -= 1
        out[k] = order[i]
        k += 1
    lower = k + 1
    for i in range(n - 2, -1, -1):  # upper chain
        while k >= lower and _turn(x, y, out[k - 2], out[k - 1], order[i]) <= 0:
            k -= 1
        out[k] = order[i]
        k += 1
    idx = out[: max(k - 1, 1)]
    return x[idx], y[idx]


@njit(cache=True, inline="always")
def _turn(x, y, a, b, c):  # pragma: no cover - compiled
    return (x[b] - x[a]) * (y[c] - y[a]) - (y[b] - y[a]) * (x[c] - x[a])


@njit(cache=True)
def _fill_convex(hx, hy, grid, west, north, cell):  # pragma: no cover - compiled
    rows, cols = grid.shape
    r0 = max(int(np.floor((north - hy.max()) / cell)), 0)
    r1 = min(int(np.floor((north - hy.min()) / cell)), rows - 1)
    m = hx.size
    for r in range(r0, r1 + 1):
        yc = north - (r + 0.5) * cell
        lo, hi = np.inf, -np.inf
        for i in range(m):
            j = (i + 1) % m
            y0, y1 = hy[i], hy[j]
            if (y0 <= yc <= y1) or (y1 <= yc <= y0):
                if y0 == y1:
                    xa, xb = hx[i], hx[j]
                else:
                    xa = hx[i] + (yc - y0) * (hx[j] - hx[i]) / (y1 - y0)
                    xb = xa
                lo = min(lo, xa, xb)
                hi = max(hi, xa, xb)
        if lo > hi:
            continue
        c0 = max(int(np.ceil((lo - west) / cell - 0.5)), 0)
        c1 = min(int(np.floor((hi - west) / cell - 0.5)), cols - 1)
        for c in range(c0, c1 + 1):
            grid[r, c] = 1


_MAPS: OrderedDict[tuple[str, datetime], ShadeMap] = OrderedDict()
_LOCK = threading.Lock()


def shade_map(network: Network, when: datetime) -> ShadeMap:
    """The shade map at `when` (to the quarter hour; the last few are kept in memory: building
    one for a city takes a second or two)."""
    utc = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    utc = utc.replace(minute=utc.minute // 15 * 15, second=0, microsecond=0)
    key = (network.meta.key or network.meta.source, utc)
    with _LOCK:
        found = _MAPS.get(key)
    if found is None:
        found = ShadeMap.of(network, sun_position(utc, network.meta.lon0, network.meta.lat0))
    with _LOCK:  # server threads share the maps
        _MAPS[key] = found
        _MAPS.move_to_end(key)
        while len(_MAPS) > 8:
            _MAPS.popitem(last=False)
    return found
