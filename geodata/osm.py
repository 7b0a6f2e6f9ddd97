"""OpenStreetMap extracts (PBF, XML, gzipped XML) as plain arrays: the walkable and bikeable
ways with the tags routing needs, amenities by category, building footprints, green areas and
trees, water and coastline.

One streaming pass of pyosmium (node locations kept in memory, multipolygons assembled) reads
everything, so a city extract costs seconds. Which ways are kept follows osmnx's `walk` and
`bike` network filters (the usual reading of OSM tags), with two refinements: an explicit
`foot=*`/`bicycle=*` permission overrides the class (a cycleway with `foot=yes` is walkable), and
`access=private|no` drops a way unless such a permission says otherwise.

Geometries are WGS84 (lon, lat). Every failure is an `OsmError`, a `ValueError`, naming the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import osmium
import shapely
from numpy.typing import NDArray
from osmium.filter import EmptyTagFilter, KeyFilter

#: Way tags kept for routing (one string array each in `Ways.tags`, '' where absent).
WAY_TAGS = (
    "highway",
    "name",
    "access",
    "foot",
    "bicycle",
    "lit",
    "surface",
    "maxspeed",
    "lanes",
    "oneway",
    "oneway:bicycle",
    "junction",
    "cycleway",
    "cycleway:left",
    "cycleway:right",
    "cycleway:both",
    "service",
)
#: Highway classes no pedestrian may use (osmnx `walk` filter, plus the motorway family).
NOT_WALKABLE = frozenset(
    [
        "abandoned",
        "bus_guideway",
        "construction",
        "cycleway",
        "motorway",
        "motorway_link",
        "motor",
        "no",
        "planned",
        "platform",
        "proposed",
        "raceway",
        "razed",
        "bridleway",
        "corridor",
    ]
)
#: Highway classes no cyclist may use (osmnx `bike` filter).
NOT_BIKEABLE = frozenset(
    [
        "abandoned",
        "bus_guideway",
        "construction",
        "corridor",
        "elevator",
        "escalator",
        "footway",
        "motorway",
        "motorway_link",
        "motor",
        "no",
        "planned",
        "platform",
        "proposed",
        "raceway",
        "razed",
        "steps",
        "pedestrian",
    ]
)
ALLOWED = frozenset({"yes", "designated", "permissive", "official"})
FORBIDDEN = frozenset({"no", "private", "use_sidepath"})

#: Amenity categories: (tag key, values) pairs that put a feature in the category.
POI_TAGS: Mapping[str, tuple[tuple[str, frozenset[str]], ...]] = {
    "school": (("amenity", frozenset({"school", "kindergarten", "college"})),),
    "food": (
        (
            "shop",
            frozenset(
                [
                    "supermarket",
                    "convenience",
                    "bakery",
                    "butcher",
                    "greengrocer",
                    "deli",
                    "general",
                    "grocery",
                    "seafood",
                    "cheese",
                    "farm",
                    "pastry",
                    "dairy",
                    "health_food",
                    "frozen_food",
                ]
            ),
        ),
        ("amenity", frozenset({"marketplace"})),
    ),
    "health": (
        ("amenity", frozenset({"pharmacy", "hospital", "clinic", "doctors", "dentist"})),
        ("healthcare", frozenset({"*"})),
    ),
    "park": (
        ("leisure", frozenset({"park", "garden", "playground", "nature_reserve"})),
        ("landuse", frozenset({"recreation_ground", "village_green"})),
    ),
    "transport": (
        ("highway", frozenset({"bus_stop"})),
        ("public_transport", frozenset({"platform", "station", "stop_position"})),
        ("railway", frozenset({"station", "halt", "tram_stop", "subway_entrance"})),
        ("amenity", frozenset({"bus_station", "ferry_terminal"})),
    ),
    "bike_parking": (("amenity", frozenset({"bicycle_parking", "bicycle_rental"})),),
}
#: Green areas: (key, values) that make a polygon count as vegetation.
GREEN_TAGS = (
    ("leisure", frozenset({"park", "garden", "nature_reserve", "recreation_ground"})),
    (
        "landuse",
        frozenset(
            [
                "grass",
                "forest",
                "meadow",
                "village_green",
                "recreation_ground",
                "cemetery",
                "orchard",
                "allotments",
                "vineyard",
            ]
        ),
    ),
    ("natural", frozenset({"wood", "scrub", "grassland", "heath"})),
)
WATER_TAGS = (
    ("natural", frozenset({"water", "bay"})),
    ("landuse", frozenset({"reservoir", "basin"})),
    ("waterway", frozenset({"riverbank", "dock"})),
)
LEVEL_HEIGHT_M = 3.0  # metres per storey when only `building:levels` is known
TREE_ROW_SPACING_M = 8.0
_NUMBER = re.compile(r"^\s*([0-9]+(?:[.,][0-9]+)?)")
_AREA_KEYS = (
    "building",
    "leisure",
    "landuse",
    "natural",
    "amenity",
    "shop",
    "healthcare",
    "waterway",
    "public_transport",
    "railway",
)


class OsmError(ValueError):
    """An OSM file that cannot be read or holds nothing usable; the message names the file."""


@dataclass(frozen=True)
class Ways:
    """Kept highway ways as CSR arrays: way i's nodes are `offsets[i]:offsets[i + 1]`.

    A way whose nodes are partly missing from the extract appears once per complete run.
    """

    ids: NDArray[np.int64]
    offsets: NDArray[np.int64]
    node_ids: NDArray[np.int64]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    walk: NDArray[np.bool_]  # pedestrians may use it
    bike: NDArray[np.bool_]  # cyclists may use it (direction: see the oneway tags)
    tags: dict[str, NDArray[np.str_]]

    def __len__(self) -> int:
        return int(self.ids.size)


@dataclass(frozen=True)
class Points:
    """Point features: amenities (kind = category), trees, crossings."""

    ids: NDArray[np.int64]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    kind: NDArray[np.str_]
    name: NDArray[np.str_]

    def __len__(self) -> int:
        return int(self.ids.size)


@dataclass(frozen=True)
class Areas:
    """Polygons (shapely, WGS84) with a kind and, for buildings, a height (NaN: unknown)."""

    ids: NDArray[np.int64]
    geoms: NDArray[np.object_]
    kind: NDArray[np.str_]
    height: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.ids.size)


@dataclass(frozen=True)
class OsmData:
    """Everything the routing and accessibility code reads from one extract."""

    path: str
    ways: Ways
    crossings: NDArray[np.int64]  # node ids tagged as pedestrian crossings
    pois: Points
    trees: Points
    buildings: Areas
    green: Areas
    water: Areas
    coastline: NDArray[np.object_]  # LineStrings, land on the left (OSM convention)


@dataclass
class _Collector:
    """Accumulates what the single pass meets; `finish` turns it into arrays."""

    way_ids: list[int] = field(default_factory=list)
    runs: list[list[tuple[int, float, float]]] = field(default_factory=list)
    way_tags: list[dict[str, str]] = field(default_factory=list)
    crossings: list[int] = field(default_factory=list)
    points: list[tuple[int, float, float, str, str]] = field(default_factory=list)
    trees: list[tuple[int, float, float]] = field(default_factory=list)
    rings: list[tuple[int, list]] = field(default_factory=list)  # (osm id, [(shell, holes)])
    areas: dict[str, list[tuple[int, str, float]]] = field(
        default_factory=lambda: {"buildings": [], "green": [], "water": []}
    )  # (index into rings, kind, height)
    area_pois: list[tuple[int, str, str]] = field(default_factory=list)  # (index, cat, name)
    coast: list[object] = field(default_factory=list)


def read_osm(path: str | os.PathLike[str]) -> OsmData:
    """Read an extract (`.osm.pbf`, `.osm`, `.osm.gz`, `.osm.bz2`) in one pass."""
    name = os.fspath(path)
    if not Path(name).is_file():
        raise OsmError(f"{name}: no such file")
    acc = _Collector()
    processor = (
        osmium.FileProcessor(name)
        .with_locations()
        .with_areas(KeyFilter(*_AREA_KEYS))
        .with_filter(EmptyTagFilter())
    )
    try:
        for obj in processor:
            if obj.is_node():
                _node(acc, obj)
            elif obj.is_way():
                _way(acc, obj)
            elif obj.is_area():
                _area(acc, obj)
    except RuntimeError as exc:
        raise OsmError(f"{name}: not a readable OSM file ({exc})") from exc
    data = _finish(name, acc)
    if not len(data.ways):
        raise OsmError(f"{name}: no walkable or bikeable way (highway=*) in this file")
    return data


def category(tags: Mapping[str, str]) -> str | None:
    """The amenity category of a feature's tags (see `POI_TAGS`), or None."""
    for cat, rules in POI_TAGS.items():
        for key, values in rules:
            value = tags.get(key)
            if value is not None and ("*" in values or value in values):
                return cat
    return None


def is_walkable(tags: Mapping[str, str]) -> bool:
    """osmnx's `walk` filter, with explicit foot permissions winning over the class."""
    return _usable(tags, "foot", NOT_WALKABLE)


def is_bikeable(tags: Mapping[str, str]) -> bool:
    """osmnx's `bike` filter, with explicit bicycle permissions winning over the class."""
    return _usable(tags, "bicycle", NOT_BIKEABLE)


def _usable(tags: Mapping[str, str], mode: str, excluded: frozenset[str]) -> bool:
    highway = tags.get("highway", "")
    if not highway or tags.get("area") == "yes":
        return False
    own = tags.get(mode, "")
    if own in ALLOWED:
        return highway not in {"motorway", "motorway_link", "construction", "proposed"}
    if own in FORBIDDEN or highway in excluded or tags.get("service") == "private":
        return False
    return tags.get("access", "") not in FORBIDDEN


def parse_height(tags: Mapping[str, str]) -> float:
    """Building height in metres from `height` (or `building:height`), else from
    `building:levels` x 3 m; NaN when neither is a number."""
    for key in ("height", "building:height"):
        value = _number(tags.get(key))
        if value is not None and value > 0:
            return value
    levels = _number(tags.get("building:levels"))
    return levels * LEVEL_HEIGHT_M if levels is not None and levels > 0 else float("nan")


def _number(text: str | None) -> float | None:
    match = _NUMBER.match(text or "")
    return float(match.group(1).replace(",", ".")) if match else None


def _tag_dict(tags: Iterable[osmium.osm.Tag]) -> dict[str, str]:
    return {t.k: t.v for t in tags}


def _matches(tags: Mapping[str, str], rules: Iterable[tuple[str, frozenset[str]]]) -> str | None:
    for key, values in rules:
        value = tags.get(key)
        if value is not None and value in values:
            return value
    return None


def _node(acc: _Collector, node: osmium.osm.Node) -> None:
    tags = _tag_dict(node.tags)
    loc = node.location
    if tags.get("highway") == "crossing" or "crossing" in tags:
        acc.crossings.append(node.id)
    if tags.get("natural") == "tree":
        acc.trees.append((node.id, loc.lon, loc.lat))
    cat = category(tags)
    if cat is not None:
        acc.points.append((node.id, loc.lon, loc.lat, cat, tags.get("name", "")))


def _way(acc: _Collector, way: osmium.osm.Way) -> None:
    tags = _tag_dict(way.tags)
    if tags.get("natural") == "coastline":
        coords = [(n.lon, n.lat) for n in way.nodes if n.location.valid()]
        if len(coords) >= 2:
            acc.coast.append(shapely.linestrings(coords))
        return
    if tags.get("natural") == "tree_row":
        _tree_row(acc, way)
    if "highway" not in tags or not (is_walkable(tags) or is_bikeable(tags)):
        return
    run: list[tuple[int, float, float]] = []
    for ref in way.nodes:
        if ref.location.valid():
            run.append((ref.ref, ref.lon, ref.lat))
            continue
        _flush(acc, way.id, run, tags)
        run = []
    _flush(acc, way.id, run, tags)


def _flush(acc: _Collector, way_id: int, run: list, tags: dict[str, str]) -> None:
    if len(run) >= 2:
        acc.way_ids.append(way_id)
        acc.runs.append(run)
        acc.way_tags.append(tags)


def _tree_row(acc: _Collector, way: osmium.osm.Way) -> None:
    """A row of trees as one tree every few metres along it."""
    coords = [(n.lon, n.lat) for n in way.nodes if n.location.valid()]
    if len(coords) < 2:
        return
    line = shapely.linestrings(coords)
    degrees = TREE_ROW_SPACING_M / 111_000.0
    for p in shapely.line_interpolate_point(line, np.arange(0.0, line.length, degrees)):
        acc.trees.append((way.id, p.x, p.y))


def _area(acc: _Collector, area: osmium.osm.Area) -> None:
    """Record the area's rings once; which lists it belongs to point at them by index."""
    tags = _tag_dict(area.tags)
    if tags.get("natural") == "coastline":
        return
    index = len(acc.rings)
    uses = []
    if "building" in tags:
        uses.append(("buildings", tags["building"], parse_height(tags)))
    for group, rules in (("green", GREEN_TAGS), ("water", WATER_TAGS)):
        kind = _matches(tags, rules)
        if kind is not None:
            uses.append((group, kind, float("nan")))
    cat = category(tags)
    if not uses and cat is None:
        return
    parts = []
    for outer in area.outer_rings():
        shell = [(p.lon, p.lat) for p in outer]
        holes = [[(p.lon, p.lat) for p in inner] for inner in area.inner_rings(outer)]
        if len(shell) >= 4:  # a ring needs 3 distinct corners, closed
            parts.append((shell, [h for h in holes if len(h) >= 4]))
    if not parts:
        return
    acc.rings.append((area.orig_id(), parts))
    for group, kind, height in uses:
        acc.areas[group].append((index, kind, height))
    if cat is not None:
        acc.area_pois.append((index, cat, tags.get("name", "")))


def _polygons(rows: list[tuple[int, list]]) -> NDArray[np.object_]:
    """All areas as valid (Multi)Polygons, built in bulk (one call per step, not per area)."""
    coords: list[tuple[float, float]] = []
    ring_ends, poly_ends, multi_ends = [0], [0], [0]
    for _oid, parts in rows:
        for shell, holes in parts:
            for ring in (shell, *holes):
                coords.extend(ring)
                ring_ends.append(len(coords))
            poly_ends.append(len(ring_ends) - 1)
        multi_ends.append(len(poly_ends) - 1)
    if not rows:
        return _objects([])
    geoms = shapely.from_ragged_array(
        shapely.GeometryType.MULTIPOLYGON,
        np.asarray(coords, np.float64),
        (np.asarray(ring_ends), np.asarray(poly_ends), np.asarray(multi_ends)),
    )
    bad = ~shapely.is_valid(geoms)
    geoms[bad] = shapely.make_valid(geoms[bad])
    return geoms


def _finish(name: str, acc: _Collector) -> OsmData:
    geoms = _polygons(acc.rings)
    ids = np.asarray([r[0] for r in acc.rings], np.int64)
    if acc.area_pois:
        where = np.asarray([p[0] for p in acc.area_pois])
        inside = shapely.point_on_surface(geoms[where])
        acc.points += [
            (int(ids[i]), p.x, p.y, cat, label)
            for (i, cat, label), p in zip(acc.area_pois, inside, strict=True)
            if not p.is_empty
        ]
    return OsmData(
        path=name,
        ways=_ways(acc),
        crossings=np.unique(np.asarray(acc.crossings, np.int64)),
        pois=_points(acc.points),
        trees=_points([(i, x, y, "tree", "") for i, x, y in acc.trees]),
        buildings=_areas(acc.areas["buildings"], ids, geoms),
        green=_areas(acc.areas["green"], ids, geoms),
        water=_areas(acc.areas["water"], ids, geoms),
        coastline=_objects(acc.coast),
    )


def _ways(acc: _Collector) -> Ways:
    sizes = np.fromiter((len(r) for r in acc.runs), np.int64, len(acc.runs))
    flat = np.array([n for run in acc.runs for n in run], dtype=np.float64).reshape(-1, 3)
    tags = {k: np.array([t.get(k, "") for t in acc.way_tags], dtype=np.str_) for k in WAY_TAGS}
    return Ways(
        ids=np.asarray(acc.way_ids, np.int64),
        offsets=np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
        node_ids=np.array([n[0] for run in acc.runs for n in run], dtype=np.int64),
        lon=flat[:, 1].copy(),
        lat=flat[:, 2].copy(),
        walk=np.fromiter(map(is_walkable, acc.way_tags), bool, len(acc.way_tags)),
        bike=np.fromiter(map(is_bikeable, acc.way_tags), bool, len(acc.way_tags)),
        tags=tags,
    )


def _points(rows: list[tuple]) -> Points:
    cols = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
    return Points(
        ids=np.asarray(cols[0], np.int64),
        lon=np.asarray(cols[1], np.float64),
        lat=np.asarray(cols[2], np.float64),
        kind=np.asarray(cols[3], np.str_),
        name=np.asarray(cols[4], np.str_),
    )


def _objects(items: list[object]) -> NDArray[np.object_]:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out


def _areas(rows: list[tuple[int, str, float]], ids: NDArray, geoms: NDArray) -> Areas:
    """The areas of one group, dropping those whose geometry came out empty."""
    index = np.asarray([r[0] for r in rows], np.int64)
    keep = ~shapely.is_empty(geoms[index]) if index.size else np.zeros(0, bool)
    return Areas(
        ids=ids[index][keep],
        geoms=geoms[index][keep],
        kind=np.asarray([r[1] for r in rows], np.str_)[keep],
        height=np.asarray([r[2] for r in rows], np.float64)[keep],
    )
