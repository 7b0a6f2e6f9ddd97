"""15-minute-city accessibility: walking time from every building (or grid cell) to the nearest
amenity of each category, a combined score, and isochrones from a point.

One multi-source Dijkstra per category, run backwards from all its amenities at once on the
walking times (`Arcs.walk_s`: 4.8 km/h, slowed by slope where a DEM was given), gives the time
to the nearest amenity from every node; a building takes the time of its nearest walkable node
plus the straight walk to it. Amenities and buildings snap to the nearest node of the main
connected network within 300 m (else the nearest node at all), so a stray unconnected footway
does not strand them.

Combined score: for each category, 1 within the time limit T, falling linearly to 0 at 2T;
the score is their mean × 100 (100: everything within T).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from twin.errors import InputError
from twin.routing.network import WALK_SPEED_MS, Network
from twin.routing.planner import MAX_SNAP_M, Snap, snap
from twin.routing.search import Seeds, dijkstra

CATEGORIES = ("school", "food", "health", "park", "transport")
EXTRA_CATEGORIES = ("bike_parking",)
ISOCHRONE_BUFFER_M = 25.0


@dataclass(frozen=True)
class AccessOptions:
    minutes: float = 15.0
    grid_m: float | None = None  # cells of this size instead of buildings
    bbox: tuple[float, float, float, float] | None = None  # only places touching it (WGS84)


@dataclass(frozen=True)
class Places:
    """What accessibility is measured for: buildings or grid cells (WGS84 polygons)."""

    ids: NDArray[np.int64]
    geoms: NDArray[np.object_]
    node: NDArray[np.int64]  # nearest walkable node
    offset_s: NDArray[np.float64]  # walking time from the place to that node


@dataclass(frozen=True)
class AccessResult:
    places: Places
    minutes: float
    times: dict[str, NDArray[np.float64]]  # category -> seconds per place (inf: none reachable)

    @property
    def score(self) -> NDArray[np.float64]:
        limit = self.minutes * 60.0
        parts = [np.clip(2.0 - t / limit, 0.0, 1.0) for t in self.times.values()]
        return 100.0 * np.mean(parts, axis=0)


def check_category(category: str) -> tuple[str, ...]:
    """The categories `category` stands for ("all": the five of the 15-minute city)."""
    if category == "all":
        return CATEGORIES
    if category in CATEGORIES + EXTRA_CATEGORIES:
        return (category,)
    choices = ", ".join((*CATEGORIES, *EXTRA_CATEGORIES, "all"))
    raise InputError(f"unknown category {category!r}: choose one of {choices}")


def check_minutes(minutes: float) -> float:
    if not (0 < minutes <= 120):
        raise InputError("minutes must be more than 0 and at most 120")
    return float(minutes)


def accessibility(network: Network, category: str, options: AccessOptions) -> AccessResult:
    """Walking time from every place to the nearest amenity of each category asked."""
    categories = check_category(category)
    minutes = check_minutes(options.minutes)
    places = grid_places(network, options.grid_m) if options.grid_m else building_places(network)
    if options.bbox is not None:
        places = places_within(places, options.bbox)
    times = {}
    for cat in categories:
        node_s = time_to_nearest(network, cat)
        times[cat] = node_s[places.node] + places.offset_s
    return AccessResult(places, minutes, times)


def amenity_seeds(network: Network, category: str) -> Seeds:
    """The category's amenities as seeds: nearest node, at the time of the walk to it."""
    pick = network.features.poi_category == category
    x, y = (c[pick] for c in network.poi_xy)
    node, distance = nearest_nodes(network, x, y)
    keep = distance <= MAX_SNAP_M
    return Seeds(node[keep], distance[keep] / WALK_SPEED_MS)


def time_to_nearest(network: Network, category: str) -> NDArray[np.float64]:
    """Seconds from every node to the nearest amenity of `category` (inf: none reachable)."""
    cost = np.where(network.arcs.walk, network.arcs.walk_s, np.inf)
    return dijkstra(network, cost, amenity_seeds(network, category), reverse=True)


def nearest_nodes(
    network: Network, x: NDArray, y: NDArray
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """Nearest walkable node (of the main connected part when one is within 300 m) of points
    in the local frame, and the distance to it."""
    return network.node_index().query(shapely.points(x, y), MAX_SNAP_M)


def building_places(network: Network) -> Places:
    f = network.features
    geoms = f.buildings.geoms()
    if not len(geoms):
        raise InputError(
            f"{network.meta.source}: no buildings in this OSM file; use a grid instead"
        )
    return _places(network, f.building_id, geoms)


def grid_places(network: Network, size_m: float) -> Places:
    """Square cells over the network's extent, kept where a walkable node is within reach."""
    if not (10 <= size_m <= 5000):
        raise InputError("grid cells must be from 10 to 5000 m")
    x, y = network.nodes.x, network.nodes.y
    gx = np.arange(x.min(), x.max() + size_m, size_m)
    gy = np.arange(y.min(), y.max() + size_m, size_m)
    cx, cy = (c.ravel() for c in np.meshgrid(gx, gy))
    if cx.size > 1_000_000:
        raise InputError(f"a {size_m:g} m grid has {cx.size:,} cells here: choose larger cells")
    _node, distance = nearest_nodes(network, cx, cy)
    keep = distance <= size_m + MAX_SNAP_M
    half = size_m / 2
    boxes = shapely.box(cx[keep] - half, cy[keep] - half, cx[keep] + half, cy[keep] + half)
    lonlat = shapely.transform(
        boxes, lambda c: np.column_stack(network.frame.to_lonlat(c[:, 0], c[:, 1]))
    )
    return _places(network, np.flatnonzero(keep).astype(np.int64), lonlat)


def places_within(places: Places, bbox: tuple[float, float, float, float]) -> Places:
    keep = shapely.intersects(places.geoms, shapely.box(*bbox))
    return Places(places.ids[keep], places.geoms[keep], places.node[keep], places.offset_s[keep])


def _places(network: Network, ids: NDArray, geoms: NDArray[np.object_]) -> Places:
    inside = shapely.point_on_surface(network.frame.project(geoms))
    node, distance = nearest_nodes(network, shapely.get_x(inside), shapely.get_y(inside))
    return Places(ids, geoms, node, distance / WALK_SPEED_MS)


@dataclass(frozen=True)
class Isochrone:
    minutes: float
    polygon: Any  # shapely geometry, WGS84
    nodes: NDArray[np.int64]  # the nodes reached within the time


def isochrones(network: Network, lon: float, lat: float, minutes: list[float]) -> list[Isochrone]:
    """Areas reachable on foot from a point within each time: the walkable network reached
    (whole edges, and the reachable part of edges at the limit), widened by 25 m."""
    if not minutes:
        raise InputError("give at least one time in minutes")
    limits = sorted({check_minutes(m) for m in minutes})
    start = snap(network, lon, lat, mode="walk", what="from")
    a = network.arcs
    cost = np.where(a.walk, a.walk_s, np.inf)
    fwd, bwd = 2 * start.edge, 2 * start.edge + 1
    seeds = Seeds(
        np.array([a.head[fwd], a.tail[fwd]], np.int64),
        np.array([(1 - start.t) * cost[fwd], start.t * cost[bwd]]),
    )
    node_s = dijkstra(network, cost, seeds, limit=limits[-1] * 60.0)
    return [_isochrone(network, node_s, cost, start, m) for m in limits]


def _isochrone(
    network: Network, node_s: NDArray, cost: NDArray, start: Snap, minutes: float
) -> Isochrone:
    limit = minutes * 60.0
    a, n = network.arcs, network.nodes
    reached = np.flatnonzero(node_s <= limit)
    # the share of each arc walkable from its tail within what time is left there
    left = limit - node_s[a.tail]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.clip(np.where(cost > 0, left / cost, 1.0), 0.0, 1.0)
    share[~np.isfinite(left) | (left < 0)] = 0.0
    arcs = np.flatnonzero(share > 0)
    x0, y0 = n.x[a.tail[arcs]], n.y[a.tail[arcs]]
    x1 = x0 + share[arcs] * (n.x[a.head[arcs]] - x0)
    y1 = y0 + share[arcs] * (n.y[a.head[arcs]] - y0)
    pieces = shapely.linestrings(
        np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1)
    )
    shapes = np.concatenate([pieces, [_start_piece(network, cost, start, limit)]])
    area = shapely.union_all(shapely.buffer(shapes, ISOCHRONE_BUFFER_M, quad_segs=2))
    frame = network.frame
    lonlat = shapely.transform(area, lambda c: np.column_stack(frame.to_lonlat(c[:, 0], c[:, 1])))
    return Isochrone(minutes, lonlat, reached)


def _start_piece(network: Network, cost: NDArray, start: Snap, limit: float) -> Any:
    """The part of the start edge walkable from the start point itself, both ways."""
    fwd = 2 * start.edge
    line = network.edge_lines[start.edge]
    ahead = limit / cost[fwd] if cost[fwd] > 0 else 1.0
    back = limit / cost[fwd + 1] if cost[fwd + 1] > 0 else 1.0
    lo, hi = max(0.0, start.t - back), min(1.0, start.t + ahead)
    a, b = shapely.line_interpolate_point(line, [lo, hi], normalized=True)
    return shapely.LineString([(a.x, a.y), (b.x, b.y)]) if hi > lo else a


def access_geojson(result: AccessResult) -> dict[str, Any]:
    """One feature per place: minutes to the nearest amenity of each category (null: none
    reachable), whether it is within the limit, and the combined score when several."""
    places = result.places
    geometries = shapely.to_geojson(places.geoms)
    limit = result.minutes * 60.0
    columns = {f"{cat}_min": _minutes(t) for cat, t in result.times.items()}
    within = np.all([t <= limit for t in result.times.values()], axis=0)
    score = np.round(result.score, 1) if len(result.times) > 1 else None
    features = []
    for i, geometry in enumerate(geometries):
        props: dict[str, Any] = {"id": int(places.ids[i])}
        props.update({k: v[i] for k, v in columns.items()})
        props["within"] = bool(within[i])
        if score is not None:
            props["score"] = float(score[i])
        features.append({"type": "Feature", "geometry": json.loads(geometry), "properties": props})
    return {"type": "FeatureCollection", "features": features, "summary": summary(result)}


def _minutes(seconds: NDArray) -> list[float | None]:
    return [round(float(s) / 60.0, 1) if np.isfinite(s) else None for s in seconds]


def summary(result: AccessResult) -> dict[str, Any]:
    """Share of places within the limit, per category and for all of them at once."""
    limit = result.minutes * 60.0
    shares = {cat: round(float(np.mean(t <= limit)), 3) for cat, t in result.times.items()}
    every = np.all([t <= limit for t in result.times.values()], axis=0)
    return {
        "places": int(result.places.ids.size),
        "minutes": result.minutes,
        "share_within": shares,
        "share_within_all": round(float(np.mean(every)), 3),
    }


def isochrones_geojson(items: list[Isochrone], origin: tuple[float, float]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": json.loads(shapely.to_geojson(iso.polygon)),
                "properties": {
                    "minutes": iso.minutes,
                    "nodes": int(iso.nodes.size),
                    "from": list(origin),
                },
            }
            for iso in items
        ],
    }
