"""The street network: built once from an OSM extract (and a DEM when given), cached as an
.npz file keyed by a hash of its sources, loaded in milliseconds afterwards.

Nodes are the OSM nodes of the kept ways, not simplified, so a route's geometry is the OSM
geometry and "shortest" means the shortest on the OSM network. Every segment between two
consecutive nodes is an edge and gives two arcs: arc 2e runs in the way's direction, arc 2e+1
against it. Arcs carry everything direction-dependent (bike oneways, grade) and are indexed by
the CSR arrays the search kernels walk (`out_ptr/out_arc` by tail, `in_ptr/in_arc` by head).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, get_type_hints

import numpy as np
import shapely
from numba import njit
from numpy.typing import NDArray

from geodata.osm import OsmData, OsmError, read_osm
from twin.routing import environment
from twin.routing._geo import Geoms, LocalFrame

log = logging.getLogger(__name__)

FORMAT = 1  # bump when what is cached changes: older cache files are then rebuilt
WALK_SPEED_MS = 1.33  # 4.8 km/h on the flat
STEPS_SPEED_FACTOR = 0.5  # on steps, without a DEM to say how steep they are
MAX_GRADE = 0.5  # DEM grades are clipped: SRTM pixels are coarser than short edges
#: Traffic proxy of a way's own class, 0 (no motor traffic) to 1 (motorway).
TRAFFIC = {
    "motorway": 1.0,
    "trunk": 0.95,
    "primary": 0.8,
    "secondary": 0.6,
    "tertiary": 0.4,
    "unclassified": 0.25,
    "road": 0.2,
    "residential": 0.15,
    "service": 0.08,
    "living_street": 0.05,
    "track": 0.03,
}
HEAVY = 0.6  # traffic from which a road counts as heavy (secondary and above)
HIGHWAY_CLASSES = (
    "other",
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "road",
    "residential",
    "service",
    "living_street",
    "track",
    "pedestrian",
    "footway",
    "path",
    "steps",
    "cycleway",
    "bridleway",
    "corridor",
    "elevator",
)
CYCLE_INFRA = frozenset({"lane", "track", "opposite_lane", "opposite_track", "shared_lane"})


@dataclass(frozen=True)
class Meta:
    source: str
    key: str
    lon0: float
    lat0: float
    dem: str  # DEM used for heights, '' without
    height_note: str
    build_s: float


@dataclass(frozen=True)
class Nodes:
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    x: NDArray[np.float64]  # local frame, metres
    y: NDArray[np.float64]
    z: NDArray[np.float64]  # ellipsoidal height from the DEM, NaN without
    osm_id: NDArray[np.int64]


@dataclass(frozen=True)
class Arcs:
    tail: NDArray[np.int32]
    head: NDArray[np.int32]
    length: NDArray[np.float64]  # metres
    way: NDArray[np.int32]  # index into `Ways`
    highway: NDArray[np.int8]  # index into HIGHWAY_CLASSES
    walk: NDArray[np.bool_]
    bike: NDArray[np.bool_]  # cyclists may ride it in this direction
    steps: NDArray[np.bool_]
    crossing: NDArray[np.bool_]  # ends at a pedestrian crossing
    cycleway: NDArray[np.bool_]  # existing cycle infrastructure
    lit: NDArray[np.int8]  # 1 lit, 0 unlit, -1 unknown
    traffic: NDArray[np.float32]  # the way's own traffic proxy, 0..1
    grade: NDArray[np.float32]  # rise / run along the arc, NaN without DEM
    walk_s: NDArray[np.float64]  # walking time, seconds
    noise_db: NDArray[np.float32]  # road-traffic noise model, dB(A)
    no2: NDArray[np.float32]  # traffic NO2 model, µg/m³
    pm10: NDArray[np.float32]  # traffic PM10 model, µg/m³
    green: NDArray[np.float32]  # share of the arc in green areas or under trees


@dataclass(frozen=True)
class Csr:
    out_ptr: NDArray[np.int64]
    out_arc: NDArray[np.int32]
    in_ptr: NDArray[np.int64]
    in_arc: NDArray[np.int32]


@dataclass(frozen=True)
class Ways:
    osm_id: NDArray[np.int64]
    name: NDArray[np.str_]
    highway: NDArray[np.str_]


@dataclass(frozen=True)
class Features:
    """What scores and accessibility read besides the graph (WGS84 geometries)."""

    poi_lon: NDArray[np.float64]
    poi_lat: NDArray[np.float64]
    poi_category: NDArray[np.str_]
    poi_name: NDArray[np.str_]
    building_id: NDArray[np.int64]
    buildings: Geoms
    building_height: NDArray[np.float64]  # metres, NaN when OSM does not say
    tree_lon: NDArray[np.float64]
    tree_lat: NDArray[np.float64]
    woods: Geoms  # wooded areas: shade like trees
    water: Geoms
    coastline: Geoms
    sources: environment.RoadSources  # road traffic as point sources, for live corrections


@dataclass(frozen=True)
class Network:
    meta: Meta
    nodes: Nodes
    arcs: Arcs
    csr: Csr
    ways: Ways
    features: Features

    @property
    def frame(self) -> LocalFrame:
        return LocalFrame(self.meta.lon0, self.meta.lat0)

    @property
    def has_heights(self) -> bool:
        return bool(self.meta.dem)

    @cached_property
    def edge_lines(self) -> NDArray[np.object_]:
        """One 2-point LineString per edge (arc pair), local frame: what points snap to."""
        t, h = self.arcs.tail[::2], self.arcs.head[::2]
        x, y = self.nodes.x, self.nodes.y
        coords = np.stack([np.column_stack([x[t], y[t]]), np.column_stack([x[h], y[h]])], 1)
        return shapely.linestrings(coords)

    def edge_index(self, mode: str) -> Nearest:
        """The edges `mode` ("walk" or "bike") may use in at least one direction (zero-length
        ones aside), indexed for nearest queries; built on first use."""
        key = f"_edge_index_{mode}"
        if key not in self.__dict__:
            allowed = self.arcs.bike if mode == "bike" else self.arcs.walk
            usable = (allowed[::2] | allowed[1::2]) & (self.arcs.length[::2] > 0)
            label, main = self.components(mode)
            in_main = label[self.arcs.tail[::2]] == main
            self.__dict__[key] = Nearest.of(self.edge_lines, usable & in_main, usable)
        return self.__dict__[key]  # type: ignore[no-any-return]

    def node_index(self) -> Nearest:
        """Walkable nodes indexed for nearest queries: what buildings and amenities snap to."""
        if "_node_index" not in self.__dict__:
            label, main = self.components("walk")
            points = shapely.points(self.nodes.x, self.nodes.y)
            self.__dict__["_node_index"] = Nearest.of(points, label == main, label >= 0)
        return self.__dict__["_node_index"]  # type: ignore[no-any-return]

    @cached_property
    def poi_xy(self) -> tuple[NDArray, NDArray]:
        """Amenities in the local frame (same order as `features.poi_*`)."""
        return self.frame.to_xy(self.features.poi_lon, self.features.poi_lat)

    @cached_property
    def building_xy(self) -> tuple[NDArray, NDArray, NDArray[np.int64]]:
        """Every building coordinate in the local frame, with the index of its building."""
        geoms = self.features.buildings.geoms()
        lonlat = shapely.get_coordinates(geoms)
        owner = np.repeat(np.arange(geoms.size), shapely.get_num_coordinates(geoms))
        x, y = self.frame.to_xy(lonlat[:, 0], lonlat[:, 1])
        return x, y, owner

    @cached_property
    def water_local(self) -> NDArray[np.object_]:
        return self.frame.project(self.features.water.geoms())

    @cached_property
    def coast_local(self) -> NDArray[np.object_]:
        """The coastline joined into as few lines as possible, keeping OSM's direction (land on
        the left), so that only the extract's edges end a line."""
        lines = self.frame.project(self.features.coastline.geoms())
        if not lines.size:
            return lines
        merged = shapely.line_merge(shapely.multilinestrings(lines), directed=True)
        return shapely.get_parts(merged)

    def components(self, mode: str) -> tuple[NDArray[np.int32], int]:
        """Connected parts of the network `mode` may use (arcs taken both ways; -1 for nodes it
        cannot reach at all), and the label of the largest."""
        key = f"_components_{mode}"
        if key not in self.__dict__:
            allowed = self.arcs.bike if mode == "bike" else self.arcs.walk
            both = allowed.reshape(-1, 2).any(axis=1).repeat(2)
            label = label_components(
                self.csr.out_ptr, self.csr.out_arc, self.arcs.head, both, self.nodes.x.size
            )
            sizes = np.bincount(label[label >= 0])
            self.__dict__[key] = (label, int(np.argmax(sizes)) if sizes.size else -1)
        return self.__dict__[key]  # type: ignore[no-any-return]

    @cached_property
    def bounds(self) -> tuple[float, float, float, float]:
        """West, south, east, north of the nodes (degrees)."""
        lon, lat = self.nodes.lon, self.nodes.lat
        return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())


@dataclass(frozen=True)
class Nearest:
    """Nearest-item queries that prefer the main connected part of the network: the nearest
    item of that part when within `reach` metres, else the nearest item at all, so a point
    beside a stray, unconnected footway still lands on the network everyone else uses."""

    main: NDArray[np.int64]
    main_tree: shapely.STRtree
    every: NDArray[np.int64]
    every_tree: shapely.STRtree

    @classmethod
    def of(cls, geoms: NDArray[np.object_], main: NDArray, every: NDArray) -> Nearest:
        m, e = np.flatnonzero(main), np.flatnonzero(every)
        return cls(m, shapely.STRtree(geoms[m]), e, shapely.STRtree(geoms[e]))

    def query(
        self, points: NDArray[np.object_], reach: float
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Item index and distance per point (-1 and inf when there is no item at all)."""
        item = np.full(len(points), -1, np.int64)
        distance = np.full(len(points), np.inf)
        for items, tree in ((self.main, self.main_tree), (self.every, self.every_tree)):
            todo = np.flatnonzero(distance > reach)
            if not (todo.size and items.size):
                continue
            (i, j), d = tree.query_nearest(points[todo], return_distance=True, all_matches=False)
            better = d < distance[todo[i]]
            item[todo[i][better]], distance[todo[i][better]] = items[j][better], d[better]
        return item, distance


@dataclass(frozen=True)
class BuildOptions:
    """How a network is built; everything here is part of the cache key."""

    dem: str | None = None  # DEM for heights and grades (any GDAL name, /vsizip/ included)


def load_network(
    osm: str | os.PathLike[str],
    *,
    options: BuildOptions = BuildOptions(),
    cache_dir: str | os.PathLike[str] | None = None,
) -> Network:
    """The network of an OSM file: from `cache_dir` when built before from the same bytes and
    options, else built (seconds) and cached there."""
    path = Path(osm)
    key = cache_key(path, options)
    cached = Path(cache_dir) / f"{path.name.split('.')[0]}-{key[:20]}.npz" if cache_dir else None
    if cached is not None and cached.is_file():
        try:
            return _load(cached)
        except (OSError, ValueError, KeyError) as exc:  # a torn or foreign file: rebuild it
            log.warning("rebuilding %s: %s", cached, exc)
    network = build_network(read_osm(path), options=options, key=key)
    if cached is not None:
        _save(network, cached)
    return network


@lru_cache(maxsize=4)
def shared_network(osm: str, dem: str | None, cache_dir: str | None, stamp: float) -> Network:
    """One network per (file, options, modification time) per process: what servers use."""
    del stamp  # part of the cache key only
    return load_network(osm, options=BuildOptions(dem=dem), cache_dir=cache_dir)


def cache_key(path: Path, options: BuildOptions) -> str:
    """sha256 of the OSM file's bytes, the format version and the options (the DEM by name,
    size and modification time: it is a read-only reference file)."""
    digest = hashlib.sha256(f"twin-network-{FORMAT}".encode())
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise OsmError(f"{path}: {exc.strerror or exc}") from exc
    digest.update(json.dumps(_dem_identity(options.dem)).encode())
    return digest.hexdigest()


def _dem_identity(dem: str | None) -> list[Any]:
    """The DEM's name with the size and modification time of the file holding it (the archive,
    for a /vsizip/ name)."""
    if not dem:
        return []
    inner = dem.split("/vsizip/", 1)[1].lstrip("/") if dem.startswith("/vsizip/") else None
    path = Path("/" + inner) if inner is not None else Path(dem)
    for candidate in (path, *path.parents):
        if candidate.is_file():
            st = candidate.stat()
            return [dem, st.st_size, st.st_mtime_ns]
    return [dem]


def build_network(
    data: OsmData,
    *,
    options: BuildOptions = BuildOptions(),
    key: str = "",
) -> Network:
    """Build the graph and its static edge attributes from what `read_osm` returned."""
    t0 = time.perf_counter()
    ways = data.ways
    node_ids, first, index = np.unique(ways.node_ids, return_index=True, return_inverse=True)
    lon, lat = ways.lon[first], ways.lat[first]
    frame = LocalFrame(float(np.median(lon)), float(np.median(lat)))
    x, y = frame.to_xy(lon, lat)
    way_of = np.repeat(np.arange(len(ways)), np.diff(ways.offsets))
    nxt = np.ones(ways.node_ids.size, bool)
    nxt[ways.offsets[1:] - 1] = False  # a way's last node starts no segment
    i = np.flatnonzero(nxt)
    u, v, w = index[i], index[i + 1], way_of[i]
    keep = u != v
    u, v, w = u[keep], v[keep], w[keep]
    tail = np.column_stack([u, v]).ravel().astype(np.int32)
    head = np.column_stack([v, u]).ravel().astype(np.int32)
    way = np.repeat(w, 2).astype(np.int32)
    z, height_note, dem_name = _heights(options.dem, lon, lat)
    traffic = _traffic(data.ways.tags)[way]
    sources = environment.road_sources(x[u], y[u], x[v], y[v], traffic[::2])
    geometry = _Geometry(tail, head, way, node_ids, x, y, z)
    arcs = _arcs(data, geometry, traffic, environment.static_levels(data, frame, geometry, sources))
    n = node_ids.size
    csr = _csr(tail, head, n)
    meta = Meta(data.path, key, frame.lon0, frame.lat0, dem_name, height_note, 0.0)
    network = Network(
        meta=meta,
        nodes=Nodes(lon, lat, x, y, z, node_ids),
        arcs=arcs,
        csr=csr,
        ways=Ways(ways.ids, ways.tags["name"], ways.tags["highway"]),
        features=_features(data, frame, sources),
    )
    meta = dataclasses.replace(meta, build_s=round(time.perf_counter() - t0, 3))
    return dataclasses.replace(network, meta=meta)


def _heights(dem: str | None, lon: NDArray, lat: NDArray) -> tuple[NDArray, str, str]:
    if not dem:
        return np.full(lon.size, np.nan), "no DEM: no heights", ""
    from geodata.dem import Dem

    with Dem([dem]) as model:
        return model.heights(lon, lat), model.height_note, dem


@dataclass(frozen=True)
class _Geometry:
    """The bare graph, before attributes: arcs as node pairs, nodes as positions."""

    tail: NDArray[np.int32]
    head: NDArray[np.int32]
    way: NDArray[np.int32]
    node_ids: NDArray[np.int64]
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    z: NDArray[np.float64]


def _arcs(data: OsmData, g: _Geometry, traffic: NDArray, levels: environment.ArcLevels) -> Arcs:
    tags = data.ways.tags
    tail, head, way, x, y, z = g.tail, g.head, g.way, g.x, g.y, g.z
    hw = tags["highway"][way]
    length = np.hypot(x[head] - x[tail], y[head] - y[tail])
    forward = np.arange(tail.size) % 2 == 0
    steps = hw == "steps"
    with np.errstate(invalid="ignore", divide="ignore"):
        grade = np.clip((z[head] - z[tail]) / np.maximum(length, 1e-9), -MAX_GRADE, MAX_GRADE)
    crossing = np.isin(g.node_ids[head], data.crossings)
    cycle = (tags["highway"] == "cycleway") | (tags["bicycle"] == "designated")
    for k in ("cycleway", "cycleway:left", "cycleway:right", "cycleway:both"):
        cycle |= np.isin(tags[k], list(CYCLE_INFRA))
    return Arcs(
        tail=tail,
        head=head,
        length=length,
        way=way,
        highway=_class_codes(hw),
        walk=data.ways.walk[way],
        bike=data.ways.bike[way] & _bike_direction(tags)[way, np.where(forward, 0, 1)],
        steps=steps,
        crossing=crossing,
        cycleway=cycle[way],
        lit=_lit(tags["lit"])[way],
        traffic=traffic.astype(np.float32),
        grade=grade.astype(np.float32),
        walk_s=length / (WALK_SPEED_MS * walking_speed_factor(grade, steps)),
        noise_db=levels.noise_db,
        no2=levels.no2,
        pm10=levels.pm10,
        green=levels.green,
    )


def walking_speed_factor(grade: NDArray, steps: NDArray) -> NDArray[np.float64]:
    """Tobler's hiking function relative to the flat (1 at 0 %, 0.5 near ±17 %), so walking
    times follow the slope; without a grade, steps walk at half speed."""
    g = np.nan_to_num(np.asarray(grade, np.float64), nan=0.0)
    factor = np.exp(-3.5 * np.abs(g + 0.05)) / np.exp(-3.5 * 0.05)
    return np.where(np.isnan(grade) & steps, STEPS_SPEED_FACTOR, factor)


def _traffic(tags: dict[str, NDArray[np.str_]]) -> NDArray[np.float64]:
    """Class proxy (links: 80 % of their road), raised for 4+ lanes or 70+ km/h."""
    hw = tags["highway"]
    base = np.array([TRAFFIC.get(h.removesuffix("_link"), 0.0) for h in hw])
    base = np.where(np.char.endswith(hw, "_link"), 0.8 * base, base)
    lanes = np.array([_leading_number(v) for v in tags["lanes"]])
    speed = np.array([_leading_number(v) for v in tags["maxspeed"]])
    bump = 0.15 * (lanes >= 4) + 0.1 * (speed >= 70)
    return np.where(base > 0, np.minimum(base + bump, 1.0), 0.0)


def _leading_number(text: str) -> float:
    head = text.strip().split(" ")[0].split(";")[0]
    try:
        return float(head)
    except ValueError:
        return float("nan")


def _class_codes(hw: NDArray[np.str_]) -> NDArray[np.int8]:
    lookup = {name: code for code, name in enumerate(HIGHWAY_CLASSES)}
    classes, inverse = np.unique(hw, return_inverse=True)
    codes = np.array([lookup.get(c.removesuffix("_link"), 0) for c in classes], np.int8)
    return codes[inverse]


def _lit(values: NDArray[np.str_]) -> NDArray[np.int8]:
    out = np.full(values.size, -1, np.int8)
    out[np.isin(values, ["yes", "24/7", "automatic", "limited", "interval"])] = 1
    out[values == "no"] = 0
    return out


def _bike_direction(tags: dict[str, NDArray[np.str_]]) -> NDArray[np.bool_]:
    """(ways, 2): may a cyclist ride with / against the way's direction?"""
    oneway = tags["oneway"]
    roundabout = np.isin(tags["junction"], ["roundabout", "circular"])
    one = np.isin(oneway, ["yes", "true", "1"]) | (roundabout & (oneway != "no"))
    reverse = oneway == "-1"
    contraflow = tags["oneway:bicycle"] == "no"
    for k in ("cycleway", "cycleway:left", "cycleway:right", "cycleway:both"):
        contraflow |= np.char.startswith(tags[k], "opposite")
    with_way = ~reverse | contraflow
    against = ~one | contraflow
    return np.column_stack([with_way, against])


def _csr(tail: NDArray, head: NDArray, n: int) -> Csr:
    out_arc = np.argsort(tail, kind="stable").astype(np.int32)
    in_arc = np.argsort(head, kind="stable").astype(np.int32)
    ptr = np.zeros(n + 1, np.int64)
    out_ptr, in_ptr = ptr.copy(), ptr.copy()
    out_ptr[1:] = np.cumsum(np.bincount(tail, minlength=n))
    in_ptr[1:] = np.cumsum(np.bincount(head, minlength=n))
    return Csr(out_ptr, out_arc, in_ptr, in_arc)


@njit(cache=True)
def label_components(out_ptr, out_arc, head, allowed, n):  # pragma: no cover - compiled
    """Connected parts of the graph of `allowed` arcs (given in both directions), by DFS."""
    label = np.full(n, -1, np.int32)
    stack = np.empty(n, np.int64)
    current = 0
    for s in range(n):
        if label[s] >= 0:
            continue
        has = False
        for k in range(out_ptr[s], out_ptr[s + 1]):
            if allowed[out_arc[k]]:
                has = True
        if not has:
            continue
        label[s] = current
        top = 0
        stack[top] = s
        top += 1
        while top > 0:
            top -= 1
            u = stack[top]
            for k in range(out_ptr[u], out_ptr[u + 1]):
                a = out_arc[k]
                v = head[a]
                if allowed[a] and label[v] < 0:
                    label[v] = current
                    stack[top] = v
                    top += 1
        current += 1
    return label


def _features(data: OsmData, frame: LocalFrame, sources: environment.RoadSources) -> Features:
    pois = environment.access_points(data, frame)
    woods = data.green.geoms[np.isin(data.green.kind, ["forest", "wood"])]
    return Features(
        poi_lon=pois.lon,
        poi_lat=pois.lat,
        poi_category=pois.kind,
        poi_name=pois.name,
        building_id=data.buildings.ids,
        buildings=Geoms.of(data.buildings.geoms),
        building_height=data.buildings.height,
        tree_lon=data.trees.lon,
        tree_lat=data.trees.lat,
        woods=Geoms.of(woods),
        water=Geoms.of(data.water.geoms),
        coastline=Geoms.of(data.coastline),
        sources=sources,
    )


def _flatten(obj: Any, prefix: str = "") -> dict[str, NDArray]:
    out: dict[str, NDArray] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        name = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            out.update(_flatten(value, name + "."))
        elif isinstance(value, np.ndarray):
            out[name] = value
        else:
            out[name] = np.asarray(json.dumps(value))
    return out


def _restore(cls: type, arrays: Any, prefix: str = "") -> Any:
    hints = get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        name, kind = f"{prefix}{f.name}", hints[f.name]
        if dataclasses.is_dataclass(kind):
            values[f.name] = _restore(kind, arrays, name + ".")
        elif getattr(kind, "__origin__", kind) is np.ndarray:
            values[f.name] = arrays[name]
        else:
            values[f.name] = json.loads(str(arrays[name]))
    return cls(**values)


def _save(network: Network, path: Path) -> None:
    """Write beside, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, **_flatten(network))
    os.replace(tmp, path)


def _load(path: Path) -> Network:
    with np.load(path, allow_pickle=False) as arrays:
        return _restore(Network, {k: arrays[k] for k in arrays.files})
