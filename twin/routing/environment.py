"""Static environment of every edge, computed once when the network is built: road-traffic
noise and air pollution from a simple line-source model, and the green share.

Noise: each road is a line source whose level 10 m away is L_E = 50 + 25·traffic dB(A)
(residential 54, secondary 65, primary 70, motorway 75), cut into pieces of at most 10 m. A
piece of length ℓ at distance d adds 10^(L_E/10)·(10/π)·ℓ/d² to the sound energy, which sums to
L_E − 10·log10(d/10) beside an infinite road (3 dB per doubling of distance); d is at least 5 m
(the pavement). Buildings are not modelled one by one: beyond the first 20 m the sound loses
0.1 dB more per metre (a common urban screening rule of thumb), and nothing counts beyond
300 m; a 40 dB(A) urban background is added.

Air: NO2 = 15 + 30·s and PM10 = 18 + 10·s µg/m³ (urban background plus traffic), where c sums
traffic·ℓ·exp(−d/50 m)/(2·50 m) over the pieces within 300 m (beside a long road of traffic 1,
c ≈ 1) and s = 2·(1 − exp(−c/2)) saturates it where streets are dense (s ≤ 2). Live sensors
correct both models at query time (`twin.routing.scores`).

Green share: the fraction of points sampled every 5 m along the edge that lie in a park,
garden, wood, grass... polygon or within 6 m of a tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import shapely
from numpy.typing import NDArray

from geodata.osm import OsmData, Points
from twin.routing._geo import Buckets, Kernel, LocalFrame, mean_by, near_sums, sample_segments

PIECE_M = 10.0
#: Noise: 1/d² spreading, plus 0.1 dB/m of screening beyond the first 20 m (energy scale 43 m).
NOISE = Kernel(
    "inverse_square", radius=300.0, scale=10 / (0.1 * np.log(10)), min_distance=5.0, free=20.0
)
AIR = Kernel("exponential", radius=300.0, scale=50.0, min_distance=5.0)
BACKGROUND_DB = 40.0
NO2_BACKGROUND, NO2_PER_TRAFFIC = 15.0, 30.0
PM10_BACKGROUND, PM10_PER_TRAFFIC = 18.0, 10.0
LEVEL_SAMPLE_M = 10.0
GREEN_SAMPLE_M = 5.0
TREE_RADIUS_M = 6.0
PARK_KINDS = ("park", "garden", "nature_reserve", "recreation_ground", "village_green")
PARK_ENTRY_SPACING_M = 50.0


class Graph(Protocol):
    """Arcs as node pairs and node positions (local frame): all the levels need."""

    tail: NDArray[np.int32]
    head: NDArray[np.int32]
    x: NDArray[np.float64]
    y: NDArray[np.float64]


@dataclass(frozen=True)
class RoadSources:
    """Road traffic as short pieces (local frame): where, how long, how busy."""

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    length: NDArray[np.float64]
    traffic: NDArray[np.float64]


@dataclass(frozen=True)
class Levels:
    """Modelled levels at some points (or per arc)."""

    noise_db: NDArray[np.float32]
    no2: NDArray[np.float32]
    pm10: NDArray[np.float32]


@dataclass(frozen=True)
class ArcLevels(Levels):
    green: NDArray[np.float32]


def emission_db(traffic: NDArray) -> NDArray[np.float64]:
    """Level 10 m from a road of this traffic proxy, dB(A)."""
    return 50.0 + 25.0 * np.asarray(traffic, np.float64)


def road_sources(
    x0: NDArray, y0: NDArray, x1: NDArray, y1: NDArray, traffic: NDArray
) -> RoadSources:
    """The segments with motor traffic, cut into pieces of at most 10 m."""
    busy = np.flatnonzero(traffic > 0)
    sx, sy, seg = sample_segments(x0[busy], y0[busy], x1[busy], y1[busy], PIECE_M)
    length = np.hypot(x1 - x0, y1 - y0)[busy]
    pieces = np.bincount(seg, minlength=busy.size)
    return RoadSources(sx, sy, (length / pieces)[seg], np.asarray(traffic, np.float64)[busy][seg])


def road_levels(sources: RoadSources, px: NDArray, py: NDArray) -> Levels:
    """Noise, NO2 and PM10 the road model gives at points (local frame)."""
    noise_w = 10.0 ** (emission_db(sources.traffic) / 10.0) * (10.0 / np.pi) * sources.length
    cells = Buckets.of(sources.x, sources.y, NOISE.radius / 2)
    energy = near_sums(cells, sources.x, sources.y, noise_w, px, py, NOISE)
    air_w = sources.traffic * sources.length / (2.0 * AIR.scale)
    c = near_sums(cells, sources.x, sources.y, air_w, px, py, AIR)
    c = 2.0 * (1.0 - np.exp(-c / 2.0))
    return Levels(
        noise_db=(10.0 * np.log10(energy + 10.0 ** (BACKGROUND_DB / 10.0))).astype(np.float32),
        no2=(NO2_BACKGROUND + NO2_PER_TRAFFIC * c).astype(np.float32),
        pm10=(PM10_BACKGROUND + PM10_PER_TRAFFIC * c).astype(np.float32),
    )


def static_levels(
    data: OsmData, frame: LocalFrame, graph: Graph, sources: RoadSources
) -> ArcLevels:
    """Per arc (both arcs of an edge alike): energetic mean noise, mean NO2/PM10 over points
    every 10 m, and the green share over points every 5 m."""
    t, h, x, y = graph.tail[::2], graph.head[::2], graph.x, graph.y
    n = t.size
    px, py, seg = sample_segments(x[t], y[t], x[h], y[h], LEVEL_SAMPLE_M)
    levels = road_levels(sources, px, py)
    energy = mean_by(10.0 ** (levels.noise_db.astype(np.float64) / 10.0), seg, n)
    gx, gy, gseg = sample_segments(x[t], y[t], x[h], y[h], GREEN_SAMPLE_M)
    green = mean_by(_in_green(data, frame, gx, gy).astype(np.float64), gseg, n)
    return ArcLevels(
        noise_db=np.repeat(10.0 * np.log10(energy), 2).astype(np.float32),
        no2=np.repeat(mean_by(levels.no2, seg, n), 2).astype(np.float32),
        pm10=np.repeat(mean_by(levels.pm10, seg, n), 2).astype(np.float32),
        green=np.repeat(green, 2).astype(np.float32),
    )


def _in_green(data: OsmData, frame: LocalFrame, px: NDArray, py: NDArray) -> NDArray[np.bool_]:
    tx, ty = frame.to_xy(data.trees.lon, data.trees.lat)
    shapes = np.concatenate(
        [frame.project(data.green.geoms), shapely.buffer(shapely.points(tx, ty), TREE_RADIUS_M)]
    )
    inside = np.zeros(px.size, bool)
    if shapes.size:
        tree = shapely.STRtree(shapes)
        hits = tree.query(shapely.points(px, py), predicate="intersects")[0]
        inside[hits] = True
    return inside


def access_points(data: OsmData, frame: LocalFrame) -> Points:
    """The amenities, plus a point every 50 m around each park's edge: a park is reached at
    its edge, not at its middle."""
    parks = data.green.geoms[np.isin(data.green.kind, PARK_KINDS)]
    rings = shapely.get_parts(shapely.boundary(frame.project(parks)))
    px: list[NDArray] = []
    py: list[NDArray] = []
    for ring in rings:
        points = shapely.line_interpolate_point(
            ring, np.arange(0.0, max(ring.length, 1.0), PARK_ENTRY_SPACING_M)
        )
        px.append(shapely.get_x(points))
        py.append(shapely.get_y(points))
    if not px:
        return data.pois
    lon, lat = frame.to_lonlat(np.concatenate(px), np.concatenate(py))
    count = lon.size
    return Points(
        ids=np.concatenate([data.pois.ids, np.full(count, -1, np.int64)]),
        lon=np.concatenate([data.pois.lon, lon]),
        lat=np.concatenate([data.pois.lat, lat]),
        kind=np.concatenate([data.pois.kind, np.full(count, "park")]).astype(np.str_),
        name=np.concatenate([data.pois.name, np.full(count, "")]).astype(np.str_),
    )
