"""Bike-lane siting: rank the streets where a new cycle lane would be most useful and easiest.

Candidates are the ways cyclists may ride that have no cycle infrastructure yet, are not
motorways or trunk roads, and are at least 50 m long. Each gets three sub-scores from 0 to 1:

- flatness: 1 − mean |grade| / 6 % (length-weighted; 1 everywhere without a DEM, as the
  output says);
- calm: distance to the nearest heavy road (secondary and above) / 100 m, capped at 1 (0 on a
  heavy road itself);
- connection: the mean of exp(−d/200 m) to the existing cycle network, exp(−d/300 m) to bike
  parking or rental, and the share of the way's two ends that meet other rideable ways (a term
  is 0 when the extract has no such feature).

score = 100 × (0.4 flatness + 0.35 calm + 0.25 connection); best first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from twin.errors import InputError
from twin.routing.network import HEAVY, Network

MIN_LENGTH_M = 50.0
FLAT_GRADE = 0.06
CALM_DISTANCE_M = 100.0
CYCLE_SCALE_M = 200.0
PARKING_SCALE_M = 300.0
WEIGHTS = {"flatness": 0.4, "calm": 0.35, "connection": 0.25}
_EXCLUDED = ("motorway", "trunk")


@dataclass(frozen=True)
class Candidates:
    """Candidate ways and their sub-scores (one row per way)."""

    way: NDArray[np.int64]  # index into network.ways
    lines: NDArray[np.object_]  # local frame
    length_m: NDArray[np.float64]
    mean_grade: NDArray[np.float64]  # NaN without DEM
    heavy_m: NDArray[np.float64]  # distance to the nearest heavy road
    cycle_m: NDArray[np.float64]  # to the existing cycle network (inf: none)
    parking_m: NDArray[np.float64]  # to bike parking (inf: none)
    ends_connected: NDArray[np.float64]

    @property
    def flatness(self) -> NDArray[np.float64]:
        return np.where(
            np.isnan(self.mean_grade), 1.0, 1.0 - np.clip(self.mean_grade / FLAT_GRADE, 0.0, 1.0)
        )

    @property
    def calm(self) -> NDArray[np.float64]:
        return np.clip(self.heavy_m / CALM_DISTANCE_M, 0.0, 1.0)

    @property
    def connection(self) -> NDArray[np.float64]:
        cycle = np.exp(-self.cycle_m / CYCLE_SCALE_M)
        parking = np.exp(-self.parking_m / PARKING_SCALE_M)
        return (cycle + parking + self.ends_connected) / 3.0

    @property
    def score(self) -> NDArray[np.float64]:
        return 100.0 * (
            WEIGHTS["flatness"] * self.flatness
            + WEIGHTS["calm"] * self.calm
            + WEIGHTS["connection"] * self.connection
        )


def candidates(network: Network) -> Candidates:
    """Every candidate way with what its sub-scores are made of."""
    a = network.arcs
    edge_way = a.way[::2].astype(np.int64)
    rideable = a.bike[::2] | a.bike[1::2]
    hw = network.ways.highway
    excluded = np.isin(np.char.replace(hw, "_link", ""), _EXCLUDED)
    cycle_edge = a.cycleway[::2]
    ok_way = np.zeros(len(hw), bool)
    ok_way[edge_way[rideable]] = True
    ok_way[edge_way[cycle_edge]] = False
    ok_way &= ~excluded
    edges = np.flatnonzero(ok_way[edge_way])
    if not edges.size:
        raise InputError(f"{network.meta.source}: no street where a bike lane could go")
    ways, starts = np.unique(edge_way[edges], return_index=True)
    lines = _way_lines(network, edges, starts)
    length = np.add.reduceat(a.length[2 * edges], starts)
    keep = length >= MIN_LENGTH_M
    grade = np.abs(a.grade[2 * edges].astype(np.float64)) * a.length[2 * edges]
    mean_grade = np.add.reduceat(grade, starts) / np.maximum(length, 1e-9)
    heavy_lines = network.edge_lines[a.traffic[::2] >= HEAVY]
    ends = _ends_connected(network, rideable, edges, starts)
    return Candidates(
        way=ways[keep],
        lines=lines[keep],
        length_m=length[keep],
        mean_grade=mean_grade[keep],
        heavy_m=_distance_to(lines[keep], heavy_lines),
        cycle_m=_distance_to(lines[keep], network.edge_lines[cycle_edge]),
        parking_m=_distance_to(lines[keep], _bike_parking(network)),
        ends_connected=ends[keep],
    )


def _way_lines(network: Network, edges: NDArray, starts: NDArray) -> NDArray[np.object_]:
    """One LineString per candidate way from its edges (consecutive, in way order)."""
    a, n = network.arcs, network.nodes
    group = np.repeat(np.arange(starts.size), np.diff(np.append(starts, edges.size)))
    first = np.zeros(edges.size, bool)
    first[starts] = True
    tails, heads = a.tail[2 * edges], a.head[2 * edges]
    # each way's coordinates: the tail of its first edge, then every edge's head
    nodes = np.empty(edges.size + starts.size, np.int64)
    owner = np.empty(edges.size + starts.size, np.int64)
    pos = np.arange(edges.size) + np.searchsorted(starts, np.arange(edges.size), side="right")
    nodes[pos], owner[pos] = heads, group
    nodes[pos[first] - 1], owner[pos[first] - 1] = tails[first], group[first]
    return shapely.linestrings(n.x[nodes], n.y[nodes], indices=owner)


def _ends_connected(
    network: Network, rideable: NDArray, edges: NDArray, starts: NDArray
) -> NDArray[np.float64]:
    """Share of each way's two end nodes that another rideable edge also reaches."""
    a = network.arcs
    ends = np.concatenate([a.tail[::2][rideable], a.head[::2][rideable]])
    degree = np.bincount(ends, minlength=network.nodes.x.size)
    stops = np.append(starts[1:], edges.size) - 1
    first_node = a.tail[2 * edges[starts]]
    last_node = a.head[2 * edges[stops]]
    return ((degree[first_node] >= 2).astype(float) + (degree[last_node] >= 2)) / 2.0


def _bike_parking(network: Network) -> NDArray[np.object_]:
    pick = network.features.poi_category == "bike_parking"
    x, y = (c[pick] for c in network.poi_xy)
    return shapely.points(x, y)


def _distance_to(lines: NDArray[np.object_], targets: NDArray[np.object_]) -> NDArray:
    """Distance from each line to the nearest target (inf when there is no target)."""
    out = np.full(len(lines), np.inf)
    if len(targets) and len(lines):
        hit, d = shapely.STRtree(targets).query_nearest(lines, return_distance=True)
        out[hit[0]] = d
    return out


def ranking_geojson(network: Network, found: Candidates, top: int) -> dict[str, Any]:
    """The `top` best candidates, best first, as WGS84 LineStrings with their sub-scores."""
    if top < 1:
        raise InputError("--top must be at least 1")
    order = np.argsort(-found.score, kind="stable")[:top]
    frame = network.frame
    to_wgs84 = lambda c: np.column_stack(frame.to_lonlat(c[:, 0], c[:, 1]))  # noqa: E731
    geometries = shapely.to_geojson(shapely.transform(found.lines[order], to_wgs84))
    features = []
    for rank, (i, geometry) in enumerate(zip(order, geometries, strict=True), start=1):
        w = int(found.way[i])
        props = {
            "rank": rank,
            "score": round(float(found.score[i]), 1),
            "flatness": round(float(found.flatness[i]), 3),
            "calm": round(float(found.calm[i]), 3),
            "connection": round(float(found.connection[i]), 3),
            "length_m": round(float(found.length_m[i]), 1),
            "mean_grade": _finite(found.mean_grade[i], 4),
            "heavy_traffic_m": _finite(found.heavy_m[i], 1),
            "cycle_network_m": _finite(found.cycle_m[i], 1),
            "bike_parking_m": _finite(found.parking_m[i], 1),
            "osm_id": int(network.ways.osm_id[w]),
            "name": str(network.ways.name[w]),
            "highway": str(network.ways.highway[w]),
        }
        features.append({"type": "Feature", "geometry": json.loads(geometry), "properties": props})
    note = "" if network.has_heights else "no DEM: flatness unknown, counted as flat"
    return {"type": "FeatureCollection", "features": features, "note": note}


def _finite(value: float, digits: int) -> float | None:
    return round(float(value), digits) if np.isfinite(value) else None
