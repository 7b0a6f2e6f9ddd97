"""Routes between two points: snap both to the network, search, find alternatives, score.

A point snaps to the nearest point of the nearest edge its mode may use (not to the nearest
node), so the route starts exactly where the user clicked, and "shortest" is the shortest path
between the two points on the network. Points outside the network's area, in the sea or a lake,
or too far from any way are refused with a clear `InputError`, as are pairs the network does not
connect.

Alternatives come from the penalty method: after each route, the arcs it uses cost 40 % more
and the search runs again; a candidate is kept when at most 70 % of it overlaps a kept route
and its true cost stays within 1.5 times the best. Routes are returned best (lowest true profile
cost) first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from twin.errors import InputError
from twin.routing.network import Network
from twin.routing.profiles import Profile, arc_costs
from twin.routing.scores import ArcEnvironment, Conditions, Leg, route_scores
from twin.routing.search import Landmarks, Path, Seeds, landmarks_for, shortest

MAX_SNAP_M = 300.0
AREA_MARGIN_M = 500.0
MAX_ALTERNATIVES = 5
PENALTY = 1.4
MAX_OVERLAP = 0.7
MAX_STRETCH = 1.5


@dataclass(frozen=True)
class Snap:
    """A point on an edge: t runs from the edge's first node (0) to its second (1)."""

    edge: int
    t: float
    x: float
    y: float
    distance: float


@dataclass(frozen=True)
class RouteQuery:
    origin: tuple[float, float]  # lon, lat
    destination: tuple[float, float]
    profile: Profile
    alternatives: int = 1
    conditions: Conditions = field(default_factory=Conditions)
    avoid: NDArray[np.object_] | None = None  # polygons (WGS84) the route must not touch


@dataclass(frozen=True)
class Route:
    leg: Leg
    cost: float
    lonlat: NDArray[np.float64]  # (n, 2) the line, WGS84
    scores: dict[str, Any]


def plan(network: Network, query: RouteQuery) -> list[Route]:
    """Up to `query.alternatives` routes, best first (at least one, or an InputError)."""
    if not 1 <= query.alternatives <= MAX_ALTERNATIVES:
        raise InputError(f"alternatives must be from 1 to {MAX_ALTERNATIVES}")
    mode = query.profile.mode
    start = snap(network, *query.origin, mode=mode, what="from")
    end = snap(network, *query.destination, mode=mode, what="to")
    env = ArcEnvironment(network, query.conditions)
    cost = arc_costs(env, query.profile, avoid=query.avoid)
    legs = _alternatives(network, cost, start, end, query.alternatives)
    if not legs:
        raise InputError(
            f"no {'cycling' if mode == 'bike' else 'walking'} route between "
            f"{_fmt(query.origin)} and {_fmt(query.destination)}: the network does not connect "
            "them" + (" outside the areas to avoid" if query.avoid is not None else "")
        )
    routes = []
    for leg, true_cost in legs:
        xy = _line(network, leg, start, end)
        lon, lat = network.frame.to_lonlat(xy[:, 0], xy[:, 1])
        scores = route_scores(env, leg, xy, bike=mode == "bike")
        routes.append(Route(leg, true_cost, np.column_stack([lon, lat]), scores))
    return routes


def snap(network: Network, lon: float, lat: float, *, mode: str, what: str) -> Snap:
    """The nearest point of an edge usable by `mode`, or an InputError that says why not."""
    where = f"{what} point {_fmt((lon, lat))}"
    if not (np.isfinite(lon) and np.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise InputError(f"{where}: not a longitude,latitude in degrees")
    x, y = (float(v[0]) for v in network.frame.to_xy(np.array([lon]), np.array([lat])))
    w, s, e, n = network.bounds
    margin = AREA_MARGIN_M / 111_000.0
    if not (w - margin <= lon <= e + margin and s - margin <= lat <= n + margin):
        raise InputError(
            f"{where} is outside the network's area ({w:.4f},{s:.4f} to {e:.4f},{n:.4f})"
        )
    if in_water(network, x, y):
        raise InputError(f"{where} is in the water (sea or lake)")
    edge, distance = _nearest_edge(network, shapely.Point(x, y), mode)
    if distance > MAX_SNAP_M:
        usable = "on foot" if mode == "walk" else "by bike"
        raise InputError(f"{where} is {distance:.0f} m from the nearest way usable {usable}")
    line = network.edge_lines[edge]
    t = float(shapely.line_locate_point(line, shapely.Point(x, y), normalized=True))
    p = shapely.line_interpolate_point(line, t, normalized=True)
    return Snap(edge, t, p.x, p.y, distance)


def _nearest_edge(network: Network, point: shapely.Point, mode: str) -> tuple[int, float]:
    edge, distance = network.edge_index(mode).query(np.array([point]), MAX_SNAP_M)
    if edge[0] < 0:
        raise InputError(f"the network has no way usable by {mode}")
    return int(edge[0]), float(distance[0])


def in_water(network: Network, x: float, y: float) -> bool:
    """In a water polygon, or on the sea side (right, by OSM convention) of the nearest
    coastline, and not on a way (quays, bridges, piers)."""
    point = shapely.Point(x, y)
    water, coast = network.water_local, network.coast_local
    wet = bool(water.size and shapely.intersects(water, point).any())
    wet = wet or bool(coast.size and _sea_side(coast, point))
    return wet and not _on_a_way(network, point)


def _on_a_way(network: Network, point: shapely.Point) -> bool:
    """Bridges and quays over water: a point within a few metres of a way is not "in" it."""
    return bool(network.edge_index("walk").query(np.array([point]), 5.0)[1][0] <= 5.0)


def _sea_side(coast: NDArray[np.object_], point: shapely.Point) -> bool:
    """Is the point on the right of the nearest coastline, the sea side? Nearest to a vertex,
    the two segments there decide (either one for a land corner pointing out, both for one
    pointing in); beyond the open end of a coastline cut by the extract's edge nothing can be
    said, and the answer is no."""
    line = coast[int(np.argmin(shapely.distance(coast, point)))]
    xy = shapely.get_coordinates(line)
    p = np.array([point.x, point.y])
    seg = xy[1:] - xy[:-1]
    rel = p - xy[:-1]
    t = np.clip(np.einsum("ij,ij->i", rel, seg) / np.maximum((seg**2).sum(1), 1e-12), 0, 1)
    i = int(np.argmin(np.hypot(*(rel - t[:, None] * seg).T)))
    right = _cross(seg[i], rel[i]) < 0
    if 0 < t[i] < 1:
        return right
    at_end = t[i] >= 1
    j = i + 1 if at_end else i - 1  # the other segment at that vertex
    if line.is_closed:
        j %= len(seg)
    elif not 0 <= j < len(seg):
        return False
    other = _cross(seg[j], p - xy[j]) < 0
    before, after = (seg[i], seg[j]) if at_end else (seg[j], seg[i])
    land_out = _cross(before, after) > 0  # a left turn: the land's corner points out
    return (right or other) if land_out else (right and other)


def _cross(a: NDArray, b: NDArray) -> float:
    return float(a[0] * b[1] - a[1] * b[0])


def _seeds(network: Network, cost: NDArray, s: Snap, *, outgoing: bool) -> Seeds:
    """The edge's two nodes with the cost of the part of the edge to (or from) each."""
    fwd, bwd = 2 * s.edge, 2 * s.edge + 1
    a = network.arcs
    if outgoing:  # from the point: towards head via fwd, towards tail via bwd
        nodes = [a.head[fwd], a.tail[fwd]]
        costs = [_part(1 - s.t, cost[fwd]), _part(s.t, cost[bwd])]
    else:  # to the point: from tail via fwd, from head via bwd
        nodes = [a.tail[fwd], a.head[fwd]]
        costs = [_part(s.t, cost[fwd]), _part(1 - s.t, cost[bwd])]
    keep = np.isfinite(costs)
    return Seeds(np.asarray(nodes, np.int64)[keep], np.asarray(costs)[keep])


def _part(fraction: float, cost: float) -> float:
    """The cost of a fraction of an arc: nothing at all for none of it, even of an arc the
    profile may not use (a point exactly on a node of a one-way street)."""
    return 0.0 if fraction <= 0 else fraction * cost


def _best_leg(
    network: Network, cost: NDArray, start: Snap, end: Snap, bounds: Landmarks
) -> tuple[Leg, float] | None:
    """The least-cost leg under `cost`, direct along a shared edge included."""
    src = _seeds(network, cost, start, outgoing=True)
    dst = _seeds(network, cost, end, outgoing=False)
    path = shortest(network, cost, src, dst, bounds=bounds)
    best = None if path is None else (_leg(network, path, start, end), path.cost)
    if start.edge == end.edge:
        arc = 2 * start.edge if end.t >= start.t else 2 * start.edge + 1
        fraction = abs(end.t - start.t)
        direct = _part(fraction, cost[arc])
        if np.isfinite(direct) and (best is None or direct <= best[1]):
            best = (Leg(np.array([arc]), np.array([fraction])), float(direct))
    return best


def _leg(network: Network, path: Path, start: Snap, end: Snap) -> Leg:
    """The path's arcs with the partial edges at both ends."""
    a = network.arcs
    fwd, bwd = 2 * start.edge, 2 * start.edge + 1
    first = (fwd, 1 - start.t) if path.first == a.head[fwd] else (bwd, start.t)
    fwd, bwd = 2 * end.edge, 2 * end.edge + 1
    last = (fwd, end.t) if path.last == a.tail[fwd] else (bwd, 1 - end.t)
    arcs = np.concatenate([[first[0]], path.arcs, [last[0]]]).astype(np.int64)
    fractions = np.concatenate([[first[1]], np.ones(path.arcs.size), [last[1]]])
    keep = fractions > 0
    return Leg(arcs[keep], fractions[keep])


def _alternatives(
    network: Network, cost: NDArray, start: Snap, end: Snap, k: int
) -> list[tuple[Leg, float]]:
    bounds = landmarks_for(network, cost)  # valid for the penalised costs too: they are higher
    best = _best_leg(network, cost, start, end, bounds)
    if best is None:
        return []
    kept = [best]
    penalised = cost.copy()
    for _ in range(3 * (k - 1)):
        if len(kept) >= k:
            break
        for leg, _c in kept[-1:]:
            edges = leg.arcs // 2
            penalised[2 * edges] *= PENALTY
            penalised[2 * edges + 1] *= PENALTY
        found = _best_leg(network, penalised, start, end, bounds)
        if found is None:
            break
        leg = found[0]
        true_cost = float((cost[leg.arcs] * leg.fractions).sum())
        if true_cost <= MAX_STRETCH * best[1] and all(
            _overlap(network, leg, other) <= MAX_OVERLAP for other, _c in kept
        ):
            kept.append((leg, true_cost))
    return sorted(kept, key=lambda item: item[1])


def _overlap(network: Network, leg: Leg, other: Leg) -> float:
    """Share of `leg`'s length on edges `other` also uses."""
    length = network.arcs.length[leg.arcs] * leg.fractions
    shared = np.isin(leg.arcs // 2, other.arcs // 2)
    total = length.sum()
    return float(length[shared].sum() / total) if total > 0 else 1.0


def _line(network: Network, leg: Leg, start: Snap, end: Snap) -> NDArray[np.float64]:
    """The leg's line in the local frame: the start point, the nodes passed, the end point."""
    x, y = network.nodes.x, network.nodes.y
    inner = network.arcs.head[leg.arcs[:-1]]
    xy = np.concatenate(
        [[[start.x, start.y]], np.column_stack([x[inner], y[inner]]), [[end.x, end.y]]]
    )
    keep = np.ones(len(xy), bool)
    keep[1:] = np.any(np.diff(xy, axis=0) != 0, axis=1)
    xy = xy[keep]
    return xy if len(xy) >= 2 else np.vstack([xy, xy])


def _fmt(point: tuple[float, float]) -> str:
    return f"{point[0]:.6f},{point[1]:.6f}"


def to_geojson(routes: list[Route], profile: Profile) -> dict[str, Any]:
    """A FeatureCollection, one LineString per route, best first."""
    features = []
    for rank, route in enumerate(routes, start=1):
        properties = {
            "profile": profile.name,
            "rank": rank,
            **route.scores,
            "cost": round(route.cost, 1),
            "weights": dict(profile.weights),
        }
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "LineString",
                    "coordinates": np.round(route.lonlat, 7).tolist(),
                },
                "properties": properties,
            }
        )
    return {"type": "FeatureCollection", "features": features}
