"""Building footprints (polygon layers) to an OGC 3D Tiles 1.1 tileset of extruded glTF meshes.

How:

1. Sources: geodata.vector describes each layer (CRS, encoding, fields). Heights and ground come
   from fields chosen here (`HeightPlan`), orthometric heights are made ellipsoidal by the same
   pipeline the point clouds use (geodata.crs.ecef_pipeline: NGF-IGN69 via RAF20 when installed,
   else EGM96 as a ~1 m approximation; the note says which).
2. Pass 1 reads geometries only, in batches: the centre of each footprint, in a local
   east-north-up frame at the layer's centre (the root `transform`), and cuts the layer into a
   quadtree whose leaves hold at most `leaf_features` buildings.
3. Pass 2 reads features with their attributes, in batches; each batch is extruded at once
   (walls: one quad per footprint edge; roofs: convex rings fanned, others by earcut, holes
   kept), every face with its own vertices so normals are flat, and the pieces are filed under
   their leaf (spilled to disk past `memory_budget` bytes).
4. Each leaf becomes a .glb: positions float32 relative to the node's translation, glTF y-up,
   `_FEATURE_ID_0` per vertex (EXT_mesh_features) pointing into a property table holding every
   source attribute (EXT_structural_metadata), so CesiumJS can pick, style and filter.
5. tileset.json: explicit tree, tight boxes, refine ADD, content only at the leaves.

The same machinery tiles the layers that are draped rather than extruded (lines, points, and
polygons without any height: see tiles.draped). Only pass 2's "what volume does a feature make"
differs, and it is one object (`Volumes`): buildings are footprints extruded from the ground to
their height, open underneath; draped features are closed volumes around the ground.

geometricError (metres): 0 for leaves (their content is exact); for an inner tile, one eighth of
its box's horizontal diagonal. That is the size of the detail (whole blocks of buildings) missing
when its children are not drawn; with CesiumJS's default maximumScreenSpaceError of 16 on a
1000-pixel-high 60° view, a leaf of about 500 m appears from roughly 10 km away.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import shutil
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import mapbox_earcut
import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from pyproj.crs import CompoundCRS

from geodata.crs import (
    ecef_pipeline,
    ecef_to_local_matrix,
    enu_to_ecef_matrix,
    lonlat_bounds,
    pipeline_transformer,
)
from geodata.vector import (
    Column,
    FeatureBatch,
    VectorError,
    VectorSource,
    geometry_kind,
    layer_files,
    open_vector,
    read_batches,
)
from tiles.gltf import TRIANGLES, GlbBuilder

if TYPE_CHECKING:
    from tiles.draped import DrapeOptions

Progress = Callable[[float, str], None]

HEIGHT_FIELDS = ("hauteur", "height", "building:height", "h", "haut", "hauteur_m", "height_m")
LEVEL_FIELDS = ("building:levels", "levels", "nb_etages", "etages", "nombre_d_etages", "nb_niveaux")
LEVEL_PREFIXES = ("etage", "nb_etage", "nombre_etage", "nombre_d_etage")
GROUND_FIELDS = (
    "altitude_s",  # BDNB: ground altitude, NGF-IGN69
    "z_min_sol",  # BD TOPO
    "altitude_minimale_sol",
    "alti_sol",
    "altitude_sol",
    "z_sol",
    "ground",
    "ground_altitude",
    "ground_height",
)
CONTENT_DIR = "t"
MIN_HALF_SIZE = 0.005  # m: boxes keep a non-zero thickness
ERROR_FRACTION = 1 / 8  # inner tile geometricError = this x its box's horizontal diagonal
# noData sentinels of the property table (EXT_structural_metadata has no null)
NO_DATA = {
    "FLOAT64": float(np.finfo(np.float64).min),
    "INT32": int(np.iinfo(np.int32).min),
    "INT64": int(np.iinfo(np.int64).min),
    "STRING": "",
}
CLASS_NAME = "building"  # the metadata class of building tiles (see ContentStyle)
FRANCE = (-5.5, 41.0, 10.0, 51.5)  # mainland France, lon/lat: heights there are NGF-IGN69


@dataclass
class VectorResult:
    feature_count: int
    source_crs: str  # e.g. "EPSG:2154"; "EPSG:4326" for a GCS_unknown WGS84 .prj
    bounds_source: tuple[float, float, float, float, float, float]  # z from heights
    bounds_wgs84: tuple[float, float, float, float]
    attributes: list[dict]  # [{"name": "hauteur", "type": "FLOAT64"}, ...] kept per feature
    tile_count: int
    height_note: str  # which field gave heights / ground, and the vertical assumption
    repaired: int  # invalid geometries repaired (make_valid)
    skipped: int = 0  # features not extruded (empty, not polygons): see notes
    notes: list[str] = field(default_factory=list)
    draped: bool = False  # closed volumes to drape on the ground (CesiumJS classification)
    geometry: str = "polygon"  # the layer's geometry: "polygon", "line" or "point"


@dataclass(frozen=True)
class BuildingOptions:
    """Knobs of the building tiler."""

    batch_size: int = 20_000  # features read (and extruded) at a time
    leaf_features: int = 3_000  # a quadtree cell with at most this many buildings is a leaf
    max_depth: int = 20  # cells are not split beyond this (many buildings on one spot)
    default_height: float = 3.0  # m, when no height (and no level count) is known
    level_height: float = 3.0  # m per storey when only a level count is known
    memory_budget: int = 512 * 2**20  # bytes of meshes held before spilling them to disk
    work_dir: Path | None = None  # spill files; default: inside out_dir, removed at the end
    drape: DrapeOptions | None = None  # knobs of draped layers (tiles.draped); None: defaults


# --- heights ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeightPlan:
    """Where each building's height and ground come from (fields are looked up per source)."""

    height_field: str | None
    height_constant: float | None
    level_field: str | None
    ground_field: str | None
    default_height: float
    level_height: float

    @property
    def extrudes(self) -> bool:
        """Whether the layer has any height to extrude: a positive constant, a height field or
        a level count. Polygons without (or given a height of 0) are draped instead."""
        if self.height_constant is not None:
            return self.height_constant > 0
        return self.height_field is not None or self.level_field is not None

    def describe(self, ground_from_z: bool) -> str:
        if self.height_constant is not None:
            h = f"height {self.height_constant:g} m for every feature (given)"
        elif self.height_field:
            h = f"height from field {self.height_field!r} (m)"
            if self.level_field:
                h += f", else {self.level_field!r} x {self.level_height:g} m"
            h += f", else {self.default_height:g} m"
        elif self.level_field:
            h = (
                f"height from field {self.level_field!r} x {self.level_height:g} m per level, "
                f"else {self.default_height:g} m"
            )
        else:
            h = f"no height field: default height {self.default_height:g} m (flat layer)"
        if self.ground_field:
            g = f"ground from field {self.ground_field!r} (orthometric altitude, m)"
        elif ground_from_z:
            g = "ground from the geometries' Z (lowest vertex of each footprint)"
        else:
            g = "no ground altitude: ground at 0 m (orthometric, i.e. the geoid)"
        return f"{h}; {g}"


def _find(names: Sequence[str], wanted: Iterable[str]) -> str | None:
    lower = {n.lower(): n for n in names}
    for w in wanted:
        if w.lower() in lower:
            return lower[w.lower()]
    return None


def plan_heights(
    names: Sequence[str], height: str | float | None, options: BuildingOptions
) -> HeightPlan:
    """Choose the height and ground fields among `names` (case-insensitive).

    `height` is a field name, a constant in metres (a number or a numeric string; 0 asks for the
    polygons to be draped, not extruded), or None to look for a height field (hauteur, height, h,
    building:height...), else a level count (levels, etages...) times `level_height`, else
    `default_height` (used by tile_vector_layer only where a height or level field exists: a
    layer with neither is draped)."""
    field_, constant, levels = None, None, None
    if isinstance(height, str) and height.strip():
        field_ = _find(names, [height.strip()])
        if field_ is None:
            try:
                constant = float(height)
            except ValueError:
                raise VectorError(
                    f"height field {height!r} not found; fields are: {', '.join(names)}"
                ) from None
    elif isinstance(height, (int, float)) and not isinstance(height, bool):
        constant = float(height)
    if constant is not None and not (math.isfinite(constant) and constant >= 0):
        raise VectorError(
            f"height {height!r}: a constant height must be a positive number (or 0: draped)"
        )
    if field_ is None and constant is None:
        field_ = _find(names, HEIGHT_FIELDS)
    if constant is None:
        levels = _find(names, LEVEL_FIELDS)
        if levels is None:
            levels = next(
                (n for n in names if n.lower().startswith(LEVEL_PREFIXES) and n != field_), None
            )
    ground = _find(names, GROUND_FIELDS)
    return HeightPlan(
        field_, constant, levels, ground, options.default_height, options.level_height
    )


def _numeric(
    batch: FeatureBatch, name: str | None
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """A column as float64 and where it is unusable (null, NaN, or text that is no number)."""
    n = batch.count
    if name is None or name not in batch.columns:
        return np.zeros(n), np.ones(n, bool)
    col = batch.columns[name]
    if col.values.dtype == object:
        values = np.array([_to_float(v) for v in col.values], np.float64)
    else:
        values = col.values.astype(np.float64)
    bad = col.null | ~np.isfinite(values)
    return np.where(bad, 0.0, values), bad


def _to_float(v: Any) -> float:
    try:
        return float(str(v).replace(",", "."))
    except ValueError:
        return math.nan


@dataclass
class _HeightStats:
    from_field: int = 0
    from_levels: int = 0
    defaulted: int = 0
    ground_field: int = 0
    ground_z: int = 0
    ground_near: int = 0
    ground_zero: int = 0


def _heights(
    batch: FeatureBatch,
    plan: HeightPlan,
    zmin: NDArray[np.float64],
    fill: NDArray[np.float64],
    stats: _HeightStats,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Ground and height (m) per feature of the batch.

    `zmin` is the lowest Z of each footprint (NaN without Z); `fill` the ground to use where the
    ground field is null and there is no Z (the nearest building's, see _ground_fill; NaN: 0)."""
    n = batch.count
    if plan.height_constant is not None:
        height = np.full(n, plan.height_constant)
        stats.from_field += n
    else:
        height, bad = _numeric(batch, plan.height_field)
        bad |= height <= 0
        stats.from_field += int((~bad).sum())
        levels, lbad = _numeric(batch, plan.level_field)
        lbad |= levels <= 0
        use_levels = bad & ~lbad
        height = np.where(use_levels, levels * plan.level_height, height)
        stats.from_levels += int(use_levels.sum())
        default = bad & lbad
        height = np.where(default, plan.default_height, height)
        stats.defaulted += int(default.sum())
    present = ~shapely.is_missing(batch.geometries)
    ground, gbad = _numeric(batch, plan.ground_field)  # 0 where bad
    stats.ground_field += int((~gbad & present).sum())
    from_z = gbad & np.isfinite(zmin)
    ground[from_z] = zmin[from_z]
    stats.ground_z += int((from_z & present).sum())
    lacking = gbad & ~from_z & present
    near = lacking & np.isfinite(fill)
    ground[near] = fill[near]
    stats.ground_near += int(near.sum())
    stats.ground_zero += int((lacking & ~near).sum())
    return ground, height


# --- the frame -------------------------------------------------------------------------------


def _vertical_source(crs: str, lonlat: tuple[float, ...]) -> str:
    """The CRS whose heights the layer's altitudes are in: a 2D CRS over mainland France gets
    NGF-IGN69 (BDNB / BD TOPO altitudes are), elsewhere geodata.crs assumes EGM96."""
    c = CRS.from_user_input(crs)
    if c.is_compound or c.is_geocentric or len(c.axis_info) == 3:
        return crs
    w, s, e, n = lonlat
    in_france = FRANCE[0] <= w and e <= FRANCE[2] and FRANCE[1] <= s and n <= FRANCE[3]
    if not in_france:
        return crs
    vertical = CRS.from_epsg(5720)
    return CompoundCRS(f"{c.name} + {vertical.name}", [c, vertical]).to_wkt()


@dataclass(frozen=True)
class _Frame:
    crs: str
    definition: str  # PROJ pipeline source (x, y, orthometric z) -> ECEF
    z_scale: float
    enu: NDArray[np.float64]  # 4x4 local ENU -> ECEF
    note: str

    def to_local(self, x: NDArray, y: NDArray, z: NDArray) -> NDArray[np.float64]:
        """Source coordinates to local ENU metres, (n, 3), exactly (pyproj on every point)."""
        if self.z_scale != 1.0:
            z = z * self.z_scale
        ex, ey, ez = pipeline_transformer(self.definition).transform(x, y, z)
        ecef = np.stack(np.broadcast_arrays(ex, ey, ez), axis=-1)
        inv = ecef_to_local_matrix(self.enu)
        return ecef @ inv[:3, :3].T + inv[:3, 3]


def _make_frame(crs: str, bounds: tuple[float, float, float, float]) -> tuple[_Frame, tuple]:
    lonlat = lonlat_bounds(crs, bounds)
    pipe = ecef_pipeline(_vertical_source(crs, lonlat))
    lon0, lat0 = (lonlat[0] + lonlat[2]) / 2, (lonlat[1] + lonlat[3]) / 2
    frame = _Frame(
        crs, pipe.definition, pipe.z_scale, enu_to_ecef_matrix(lon0, lat0, 0.0), pipe.note
    )
    return frame, lonlat


# --- extrusion -------------------------------------------------------------------------------


def _offsets(index: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    """Start offsets (n + 1) of n groups from a sorted group index per element."""
    return np.concatenate([[0], np.cumsum(np.bincount(index, minlength=n))]).astype(np.int64)


def _ring_signed_area(
    xy: NDArray[np.float64], nxt: NDArray[np.int64], ring: NDArray, n: int
) -> NDArray[np.float64]:
    cross = xy[:, 0] * xy[nxt, 1] - xy[nxt, 0] * xy[:, 1]
    return np.bincount(ring, weights=cross, minlength=n) / 2


def triangulate_rings(
    xy: NDArray[np.float64],
    ring_start: NDArray[np.int64],
    part_ring_start: NDArray[np.int64],
) -> NDArray[np.int64]:
    """Triangles (m, 3) of polygons given as rings of vertices (no closing repeat), indices
    into `xy`, wound counter-clockwise.

    `ring_start` (rings + 1) is where each ring starts in `xy`; `part_ring_start` (parts + 1)
    where each polygon's rings start in the ring list, its exterior first, then its holes.

    A polygon with one convex ring is fanned (vectorised; most footprints are rectangles);
    any other goes through earcut, which respects concave outlines and holes, unlike a Delaunay
    triangulation of the vertices that would fill courtyards and re-entrant corners.
    """
    n_rings = len(ring_start) - 1
    n_parts = len(part_ring_start) - 1
    if n_parts == 0:
        return np.zeros((0, 3), np.int64)
    lengths = np.diff(ring_start)
    ring_of = np.repeat(np.arange(n_rings), lengths)
    idx = np.arange(len(xy))
    nxt = np.where(idx + 1 == ring_start[1:][ring_of], ring_start[:-1][ring_of], idx + 1)
    prv = np.where(idx == ring_start[:-1][ring_of], ring_start[1:][ring_of] - 1, idx - 1)
    e1 = xy - xy[prv]
    e2 = xy[nxt] - xy
    turn = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    scale = np.hypot(*e1.T) * np.hypot(*e2.T)
    reflex = np.bincount(ring_of, weights=(turn < -1e-12 * scale).astype(float), minlength=n_rings)
    rings_per_part = np.diff(part_ring_start)
    first_ring = part_ring_start[:-1]
    convex = (rings_per_part == 1) & (reflex[first_ring] == 0)
    out = []
    # convex rings: fan from the first vertex
    fan_rings = first_ring[convex]
    counts = lengths[fan_rings] - 2
    if counts.sum() > 0:
        base = np.repeat(ring_start[:-1][fan_rings], counts)
        k = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + 1
        out.append(np.stack([base, base + k, base + k + 1], axis=1))
    for p in np.flatnonzero(~convex):
        r0, r1 = part_ring_start[p], part_ring_start[p + 1]
        s, e = ring_start[r0], ring_start[r1]
        ends = (ring_start[r0 + 1 : r1 + 1] - s).astype(np.uint32)
        tri = mapbox_earcut.triangulate_float64(np.ascontiguousarray(xy[s:e]), ends)
        if len(tri):
            out.append(tri.reshape(-1, 3).astype(np.int64) + s)
    if not out:
        return np.zeros((0, 3), np.int64)
    tris = np.concatenate(out)
    a, b, c = xy[tris[:, 0]], xy[tris[:, 1]], xy[tris[:, 2]]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
    flip = area < 0
    tris[flip] = tris[flip][:, [0, 2, 1]]
    return tris


def triangulate_polygon(polygon: shapely.Polygon | shapely.MultiPolygon):
    """Vertices (n, 2) and triangles (m, 3) of a polygon's area, holes excluded (the roof
    triangulation of the tiler, for one geometry)."""
    parts = shapely.get_parts(np.array([polygon], dtype=object))
    xy, ring_start, part_ring_start, _, _ = _rings(parts, np.zeros(len(parts), np.int64))
    return xy[:, :2], triangulate_rings(xy[:, :2], ring_start, part_ring_start)


def _rings(parts: NDArray[np.object_], part_feature: NDArray[np.int64]):
    """The rings of polygon parts as one vertex array without closing repeats or consecutive
    duplicates: (coords (n, 2 or 3), ring_start, part_ring_start, ring_part, vertex_feature).
    Rings left with fewer than 3 vertices are dropped (a part whose exterior is dropped goes)."""
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    has_z = bool(shapely.has_z(parts).any()) if len(parts) else False
    coords, vertex_ring = shapely.get_coordinates(rings, include_z=has_z, return_index=True)
    n_rings = len(rings)
    start = _offsets(vertex_ring, n_rings)
    keep = np.ones(len(coords), bool)
    keep[start[1:] - 1] = False  # the closing vertex
    same = np.zeros(len(coords), bool)
    same[1:] = np.all(coords[1:, :2] == coords[:-1, :2], axis=1) & (
        vertex_ring[1:] == vertex_ring[:-1]
    )
    keep &= ~same
    counts = np.bincount(vertex_ring[keep], minlength=n_rings)
    # exterior = first ring of each part
    first = np.ones(n_rings, bool)
    first[1:] = ring_part[1:] != ring_part[:-1]
    part_ok = np.ones(len(parts), bool)
    part_ok[ring_part[first & (counts < 3)]] = False
    ring_ok = (counts >= 3) & part_ok[ring_part]
    keep &= ring_ok[vertex_ring]
    coords, vertex_ring = coords[keep], vertex_ring[keep]
    # renumber rings and parts densely
    ring_ids = np.flatnonzero(ring_ok)
    ring_new = np.full(n_rings, -1)
    ring_new[ring_ids] = np.arange(len(ring_ids))
    vertex_ring = ring_new[vertex_ring]
    ring_part = ring_part[ring_ids]
    part_ids = np.flatnonzero(part_ok)
    part_new = np.full(len(parts), -1)
    part_new[part_ids] = np.arange(len(part_ids))
    ring_part = part_new[ring_part]
    ring_start = _offsets(vertex_ring, len(ring_ids))
    part_ring_start = _offsets(ring_part, len(part_ids))
    vertex_feature = part_feature[part_ids][ring_part][vertex_ring]
    return coords, ring_start, part_ring_start, ring_part, vertex_feature


@dataclass
class Mesh:
    """Extruded volumes: vertices (buildings: per face, flat normals), triangles, and the
    feature (0-based, in the batch) of every vertex."""

    position: NDArray[np.float64]
    normal: NDArray[np.float32]
    triangles: NDArray[np.int64]
    feature: NDArray[np.int64]


@dataclass
class Rings:
    """The rings of a batch's footprints, ready to extrude: each vertex at its bottom and top
    in the local frame, exteriors counter-clockwise and holes clockwise (seen from above), and
    each vertex's next along its ring."""

    bottom: NDArray[np.float64]  # (n, 3) local ENU
    upper: NDArray[np.float64]  # (n, 3)
    feature: NDArray[np.int64]  # (n,) feature (in the batch) of each vertex
    nxt: NDArray[np.int64]  # (n,) the next vertex of the same ring
    ring_start: NDArray[np.int64]  # rings + 1
    part_ring_start: NDArray[np.int64]  # polygons + 1

    def caps(self) -> NDArray[np.int64]:
        """Triangles (m, 3) of the tops (indices into the ring vertices), counter-clockwise
        seen from above."""
        return triangulate_rings(self.upper[:, :2], self.ring_start, self.part_ring_start)


def footprint_rings(
    geoms: NDArray[np.object_],
    ground: NDArray[np.float64],
    top: NDArray[np.float64],
    to_local: Callable[[NDArray, NDArray, NDArray], NDArray[np.float64]],
) -> Rings | None:
    """The rings of polygon footprints between `ground` and `top` (source vertical units, one
    per geometry), in the local frame of `to_local`; None when no ring is left. Geometries that
    are None give nothing."""
    kept = np.flatnonzero(~shapely.is_missing(geoms))
    parts, part_idx = shapely.get_parts(geoms[kept], return_index=True)
    part_feature = kept[part_idx]
    coords, ring_start, part_ring_start, _, vfeat = _rings(parts, part_feature)
    n = len(coords)
    if n == 0:
        return None
    x, y = coords[:, 0], coords[:, 1]
    bottom = to_local(x, y, ground[vfeat])
    upper = to_local(x, y, top[vfeat])
    n_rings = len(ring_start) - 1
    ring_of = np.repeat(np.arange(n_rings), np.diff(ring_start))
    idx = np.arange(n)
    nxt = np.where(idx + 1 == ring_start[1:][ring_of], ring_start[:-1][ring_of], idx + 1)
    # orientation in the local frame: exteriors counter-clockwise, holes clockwise
    area = _ring_signed_area(bottom[:, :2], nxt, ring_of, n_rings)
    exterior = np.zeros(n_rings, bool)
    exterior[part_ring_start[:-1]] = True
    flip = np.where(exterior, area < 0, area > 0)
    if flip.any():
        s, e = ring_start[:-1][ring_of], ring_start[1:][ring_of]
        order = np.where(flip[ring_of], s + e - 1 - idx, idx)
        bottom, upper, vfeat = bottom[order], upper[order], vfeat[order]
    return Rings(bottom, upper, vfeat, nxt, ring_start, part_ring_start)


def empty_mesh() -> Mesh:
    z = np.zeros((0, 3))
    return Mesh(z, z.astype(np.float32), np.zeros((0, 3), np.int64), np.zeros(0, np.int64))


def extrude(
    geoms: NDArray[np.object_],
    ground: NDArray[np.float64],
    top: NDArray[np.float64],
    to_local: Callable[[NDArray, NDArray, NDArray], NDArray[np.float64]],
) -> Mesh:
    """Walls and roofs of polygon footprints between `ground` and `top` (source vertical units),
    in the local frame of `to_local`. Geometries that are None give nothing."""
    rings = footprint_rings(geoms, ground, top, to_local)
    if rings is None:
        return empty_mesh()
    bottom, upper, vfeat, nxt = rings.bottom, rings.upper, rings.feature, rings.nxt
    idx = np.arange(len(bottom))
    # walls: b_i, b_j, t_j, t_i for each edge i -> j
    b0, b1, t1, t0 = bottom, bottom[nxt], upper[nxt], upper
    wall = np.stack([b0, b1, t1, t0], axis=1).reshape(-1, 3)
    wn = np.cross(b1 - b0, t0 - b0)
    wn /= np.maximum(np.linalg.norm(wn, axis=1, keepdims=True), 1e-12)
    wall_normal = np.repeat(wn, 4, axis=0)
    q = 4 * idx[:, None]
    wall_tris = (q + np.array([0, 1, 2, 0, 2, 3])).reshape(-1, 3)
    # roofs: the top ring vertices again, normal up (the vertical at each vertex)
    up = upper - bottom
    up /= np.maximum(np.linalg.norm(up, axis=1, keepdims=True), 1e-12)
    roof_tris = rings.caps() + len(wall)
    return Mesh(
        position=np.concatenate([wall, upper]),
        normal=np.concatenate([wall_normal, up]).astype(np.float32),
        triangles=np.concatenate([wall_tris, roof_tris]),
        feature=np.concatenate([np.repeat(vfeat, 4), vfeat]),
    )


# --- the quadtree ----------------------------------------------------------------------------

Key = tuple[int, int, int]  # level, x, y


def quadtree(
    cx: NDArray[np.float64], cy: NDArray[np.float64], leaf_features: int, max_depth: int
) -> tuple[NDArray[np.int64], list[Key], dict[Key, list[Key]]]:
    """Cut points (NaN: none) into a quadtree of at most `leaf_features` per leaf.

    Returns the leaf number of each point (-1 for NaN), the leaves' keys, and the children of
    every inner node (the root is (0, 0, 0))."""
    leaf_of = np.full(len(cx), -1, np.int64)
    ok = np.flatnonzero(np.isfinite(cx) & np.isfinite(cy))
    leaves: list[Key] = []
    children: dict[Key, list[Key]] = {}
    if len(ok) == 0:
        return leaf_of, leaves, children
    x0, y0 = float(cx[ok].min()), float(cy[ok].min())
    size = max(float(cx[ok].max()) - x0, float(cy[ok].max()) - y0, 1e-3) * (1 + 1e-9)
    stack: list[tuple[Key, NDArray[np.int64]]] = [((0, 0, 0), ok)]
    while stack:
        key, members = stack.pop()
        level, ix, iy = key
        if len(members) <= leaf_features or level >= max_depth:
            leaf_of[members] = len(leaves)
            leaves.append(key)
            continue
        cell = size / 2**level
        midx, midy = x0 + (ix + 0.5) * cell, y0 + (iy + 0.5) * cell
        east = cx[members] >= midx
        north = cy[members] >= midy
        kids = []
        for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
            sel = members[(east == bool(dx)) & (north == bool(dy))]
            if len(sel):
                child = (level + 1, 2 * ix + dx, 2 * iy + dy)
                kids.append(child)
                stack.append((child, sel))
        children[key] = kids
    return leaf_of, leaves, children


# --- pieces of leaves, held in memory or spilled ----------------------------------------------


@dataclass
class _Piece:
    """The buildings of one batch that fall in one leaf."""

    position: NDArray[np.float64]
    normal: NDArray[np.float32]
    triangles: NDArray[np.int64]
    feature: NDArray[np.int64]  # 0..count-1 within the piece
    count: int
    columns: dict[str, Column]

    @property
    def nbytes(self) -> int:
        n = self.position.nbytes + self.normal.nbytes + self.triangles.nbytes + self.feature.nbytes
        return n + sum(
            c.values.nbytes * (8 if c.values.dtype == object else 1) for c in self.columns.values()
        )


class _LeafStore:
    """Pieces per leaf, kept in memory until `budget` bytes, then appended to one file per leaf."""

    def __init__(self, work_dir: Path, budget: int) -> None:
        self.work_dir = work_dir
        self.budget = budget
        self.memory: dict[int, list[_Piece]] = defaultdict(list)
        self.held = 0
        self.spilled: set[int] = set()

    def add(self, leaf: int, piece: _Piece) -> None:
        self.memory[leaf].append(piece)
        self.held += piece.nbytes
        if self.held > self.budget:
            self.flush()

    def flush(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        for leaf, pieces in self.memory.items():
            with (self.work_dir / f"{leaf}.pkl").open("ab") as f:
                for piece in pieces:
                    pickle.dump(piece, f, protocol=pickle.HIGHEST_PROTOCOL)
            self.spilled.add(leaf)
        self.memory.clear()
        self.held = 0

    def take(self, leaf: int) -> list[_Piece]:
        pieces: list[_Piece] = []
        if leaf in self.spilled:
            path = self.work_dir / f"{leaf}.pkl"
            with path.open("rb") as f:
                while True:
                    try:
                        pieces.append(pickle.load(f))
                    except EOFError:
                        break
            path.unlink()
        pieces += self.memory.pop(leaf, [])
        return pieces


def _split_by_leaf(mesh: Mesh, leaf_of_feature: NDArray[np.int64], columns: dict[str, Column]):
    """(leaf, piece) for each leaf that the batch's buildings fall in."""
    if len(mesh.position) == 0:
        return
    vleaf = leaf_of_feature[mesh.feature]
    order = np.argsort(vleaf, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    tris = rank[mesh.triangles]
    tleaf = vleaf[mesh.triangles[:, 0]]
    torder = np.argsort(tleaf, kind="stable")
    tris, tleaf = tris[torder], tleaf[torder]
    leaves, vstart = np.unique(vleaf[order], return_index=True)
    vend = np.append(vstart[1:], len(order))
    tstart = np.searchsorted(tleaf, leaves, side="left")
    tend = np.searchsorted(tleaf, leaves, side="right")
    for leaf, v0, v1, t0, t1 in zip(leaves, vstart, vend, tstart, tend, strict=True):
        sel = order[v0:v1]
        feats, local = np.unique(mesh.feature[sel], return_inverse=True)
        piece = _Piece(
            position=mesh.position[sel],
            normal=mesh.normal[sel],
            triangles=tris[t0:t1] - v0,
            feature=local.astype(np.int64),
            count=len(feats),
            columns={k: Column(c.values[feats], c.null[feats]) for k, c in columns.items()},
        )
        yield int(leaf), piece


# --- property tables -------------------------------------------------------------------------


@dataclass(frozen=True)
class ContentStyle:
    """What a layer's glb say their features are: metadata class and table, material colour."""

    class_id: str  # the EXT_structural_metadata class id, e.g. "building"
    class_name: str
    description: str
    table: str  # the property table's name
    schema_id: str
    colour: tuple[float, float, float, float]  # baseColorFactor, linear RGBA
    generator: str  # asset.generator of the glb and of tileset.json


BUILDING_STYLE = ContentStyle(
    class_id=CLASS_NAME,
    class_name="Building",
    description="an extruded footprint; properties are the source attributes",
    table="buildings",
    schema_id="twin_buildings",
    colour=(0.92, 0.9, 0.86, 1.0),
    generator="twin tiles.buildings",
)


def property_ids(names: Sequence[str]) -> dict[str, str]:
    """Metadata property IDs (^[a-zA-Z_][a-zA-Z0-9_]*$, unique) for source field names."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        ascii_ = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        pid = re.sub(r"[^A-Za-z0-9_]", "_", ascii_) or "field"
        if pid[0].isdigit():
            pid = "_" + pid
        base, k = pid, 2
        while pid in used:
            pid, k = f"{base}_{k}", k + 1
        used.add(pid)
        out[name] = pid
    return out


def _schema_property(name: str, kind: str) -> dict[str, Any]:
    prop: dict[str, Any] = {"name": name}
    if kind == "STRING":
        prop["type"] = "STRING"
    elif kind == "BOOLEAN":
        prop["type"] = "BOOLEAN"
    else:
        prop.update(type="SCALAR", componentType=kind)
    if kind in NO_DATA:
        prop["noData"] = NO_DATA[kind]
    return prop


def metadata_schema(
    fields: Sequence[tuple[str, str]], style: ContentStyle = BUILDING_STYLE
) -> dict[str, Any]:
    """The EXT_structural_metadata schema of the layer: one class, one property per field."""
    ids = property_ids([n for n, _ in fields])
    return {
        "id": style.schema_id,
        "classes": {
            style.class_id: {
                "name": style.class_name,
                "description": style.description,
                "properties": {ids[n]: _schema_property(n, k) for n, k in fields},
            }
        },
    }


def _property_values(glb: GlbBuilder, kind: str, col: Column) -> dict[str, Any]:
    if kind == "STRING":
        encoded = [
            b"" if null else str(v).encode("utf-8")
            for v, null in zip(col.values, col.null, strict=True)
        ]
        offsets = np.zeros(len(encoded) + 1, np.uint32)
        offsets[1:] = np.cumsum([len(b) for b in encoded])
        if offsets[-1] >= 2**32:
            raise VectorError("a tile's text attributes exceed 4 GB")
        values = glb.buffer_view(b"".join(encoded))
        return {"values": values, "stringOffsets": glb.buffer_view(offsets.tobytes())}
    if kind == "BOOLEAN":
        bits = np.packbits(col.values.astype(bool) & ~col.null, bitorder="little")
        return {"values": glb.buffer_view(bits.tobytes())}
    dtype = {"FLOAT64": np.float64, "INT32": np.int32, "INT64": np.int64}[kind]
    values = np.where(col.null, NO_DATA[kind], col.values).astype(dtype)
    return {"values": glb.buffer_view(values.tobytes())}


def write_buildings_glb(
    path: Path,
    pieces: list[_Piece],
    fields: Sequence[tuple[str, str]],
    style: ContentStyle = BUILDING_STYLE,
) -> tuple[NDArray[np.float64], NDArray[np.float64], int]:
    """One leaf's features (buildings, or draped volumes with their `style`) as a glTF triangle
    mesh with feature IDs and a property table.

    Triangles are ordered by feature: CesiumJS draws a classification mesh in one batch per run
    of consecutive triangles of one feature, so unordered triangles would cost a draw call each.

    Returns the content's (lo, hi) in the local frame and the number of features."""
    position = np.concatenate([p.position for p in pieces])
    normal = np.concatenate([p.normal for p in pieces])
    vstart = np.cumsum([0] + [len(p.position) for p in pieces])
    fstart = np.cumsum([0] + [p.count for p in pieces])
    triangles = np.concatenate([p.triangles + v for p, v in zip(pieces, vstart, strict=False)])
    feature = np.concatenate([p.feature + f for p, f in zip(pieces, fstart, strict=False)])
    count = int(fstart[-1])
    triangles = triangles[np.argsort(feature[triangles[:, 0]], kind="stable")]
    lo, hi = position.min(axis=0), position.max(axis=0)
    centre = (lo + hi) / 2
    rel = position - centre
    # 3D Tiles turns glTF's y-up into z-up: glTF (x, y, z) = ENU (east, up, -north)
    gl_position = np.stack([rel[:, 0], rel[:, 2], -rel[:, 1]], axis=1).astype(np.float32)
    gl_normal = np.stack([normal[:, 0], normal[:, 2], -normal[:, 1]], axis=1).astype(np.float32)
    fid_dtype = np.uint16 if count < 65535 else np.float32  # float is exact below 2^24
    glb = GlbBuilder(generator=style.generator)
    attributes = {
        "POSITION": glb.vertex_attribute(gl_position, min_max=True),
        "NORMAL": glb.vertex_attribute(gl_normal),
        "_FEATURE_ID_0": glb.vertex_attribute(feature.astype(fid_dtype)),
    }
    indices = glb.index_accessor(triangles)
    ids = property_ids([n for n, _ in fields])
    table_props = {}
    for name, kind in fields:
        col = _concat_column([p.columns[name] for p in pieces])
        table_props[ids[name]] = _property_values(glb, kind, col)
    glb.gltf.update(
        {
            "extensionsUsed": ["EXT_mesh_features", "EXT_structural_metadata"],
            "extensions": {
                "EXT_structural_metadata": {
                    "schema": metadata_schema(fields, style),
                    "propertyTables": [
                        {
                            "name": style.table,
                            "class": style.class_id,
                            "count": count,
                            "properties": table_props,
                        }
                    ],
                }
            },
            "materials": [
                {
                    "pbrMetallicRoughness": {
                        "baseColorFactor": list(style.colour),
                        "metallicFactor": 0.0,
                        "roughnessFactor": 0.9,
                    }
                }
            ],
            "meshes": [
                {
                    "primitives": [
                        {
                            "attributes": attributes,
                            "indices": indices,
                            "material": 0,
                            "mode": TRIANGLES,
                            "extensions": {
                                "EXT_mesh_features": {
                                    "featureIds": [
                                        {
                                            "featureCount": count,
                                            "attribute": 0,
                                            "propertyTable": 0,
                                        }
                                    ]
                                }
                            },
                        }
                    ]
                }
            ],
            "nodes": [
                {
                    "mesh": 0,
                    "translation": [float(centre[0]), float(centre[2]), float(-centre[1])],
                }
            ],
            "scenes": [{"nodes": [0]}],
            "scene": 0,
        }
    )
    glb.write(path)
    return lo, hi, count


def _concat_column(cols: list[Column]) -> Column:
    values = np.concatenate([c.values for c in cols])
    null = np.concatenate([c.null for c in cols])
    return Column(values, null)


# --- the tileset -----------------------------------------------------------------------------


def _box(lo: NDArray[np.float64], hi: NDArray[np.float64]) -> list[float]:
    c = (lo + hi) / 2
    h = np.maximum((hi - lo) / 2, MIN_HALF_SIZE)
    return [float(v) for v in (*c, h[0], 0, 0, 0, h[1], 0, 0, 0, h[2])]


def _error(lo: NDArray[np.float64], hi: NDArray[np.float64]) -> float:
    return round(ERROR_FRACTION * float(np.hypot(hi[0] - lo[0], hi[1] - lo[1])), 3)


def _tile_tree(
    key: Key,
    children: dict[Key, list[Key]],
    content: dict[Key, tuple[str, NDArray, NDArray]],
) -> tuple[dict[str, Any] | None, NDArray | None, NDArray | None]:
    if key in content:
        uri, lo, hi = content[key]
        return (
            {
                "boundingVolume": {"box": _box(lo, hi)},
                "geometricError": 0.0,
                "content": {"uri": uri},
            },
            lo,
            hi,
        )
    kids, los, his = [], [], []
    for child in children.get(key, []):
        tile, lo, hi = _tile_tree(child, children, content)
        if tile is not None:
            kids.append(tile)
            los.append(lo)
            his.append(hi)
    if not kids:
        return None, None, None
    lo, hi = np.min(los, axis=0), np.max(his, axis=0)
    if len(kids) == 1:  # a chain of single children adds nothing
        return kids[0], lo, hi
    tile = {
        "boundingVolume": {"box": _box(lo, hi)},
        "geometricError": _error(lo, hi),
        "children": kids,
    }
    return tile, lo, hi


def _write_tileset(
    out_dir: Path,
    children: dict[Key, list[Key]],
    content: dict[Key, tuple[str, NDArray, NDArray]],
    frame: _Frame,
    extras: dict[str, Any],
    generator: str = BUILDING_STYLE.generator,
) -> None:
    root, lo, hi = _tile_tree((0, 0, 0), children, content)
    if root is None or lo is None or hi is None:
        raise VectorError("no feature to write")
    root["refine"] = "ADD"
    root["transform"] = [float(v) for v in frame.enu.T.ravel()]  # column-major
    tileset = {
        "asset": {"version": "1.1", "generator": generator, "extras": extras},
        "geometricError": max(2 * root["geometricError"], _error(lo, hi)),
        "root": root,
    }
    tmp = out_dir / "tileset.json.tmp"
    tmp.write_text(json.dumps(tileset, separators=(",", ":"), ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, out_dir / "tileset.json")  # last, atomically: the tileset is whole or absent


# --- what volume each feature makes ----------------------------------------------------------


class Volumes(Protocol):
    """The one part of the tiler that differs between layers: which geometries are read, the
    footprint each feature is extruded from, and between which altitudes.

    `geometry` is the kind read_batches keeps ("polygon", "line", "point"); `style` names the
    features in the glb (metadata class, colour). `footprints` gives each feature's polygon in
    the source CRS (None: nothing to build). `vertical` gets the batch, the lowest and highest Z
    of each source geometry (NaN without Z) and the ground of the nearest feature that has one
    (NaN: none; see _ground_fill), and returns the bottom and top of each feature in source
    vertical units. `mesh` builds the volumes between them (extrude, for buildings).
    `describe` is the height note.
    """

    geometry: str
    style: ContentStyle

    def footprints(self, batch: FeatureBatch) -> NDArray[np.object_]: ...

    def vertical(
        self,
        batch: FeatureBatch,
        zmin: NDArray[np.float64],
        zmax: NDArray[np.float64],
        fill: NDArray[np.float64],
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]: ...

    def mesh(
        self,
        footprints: NDArray[np.object_],
        bottom: NDArray[np.float64],
        top: NDArray[np.float64],
        to_local: Callable[[NDArray, NDArray, NDArray], NDArray[np.float64]],
    ) -> Mesh: ...

    def describe(self, any_z: bool) -> str: ...


class _BuildingVolumes:
    """Footprints extruded from their ground to their height (HeightPlan), open underneath."""

    geometry = "polygon"
    style = BUILDING_STYLE
    mesh = staticmethod(extrude)

    def __init__(self, plan: HeightPlan) -> None:
        self.plan = plan
        self.stats = _HeightStats()

    def footprints(self, batch: FeatureBatch) -> NDArray[np.object_]:
        return batch.geometries

    def vertical(
        self,
        batch: FeatureBatch,
        zmin: NDArray[np.float64],
        zmax: NDArray[np.float64],
        fill: NDArray[np.float64],
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        ground, height = _heights(batch, self.plan, zmin, fill, self.stats)
        return ground, ground + height

    def describe(self, any_z: bool) -> str:
        plan, stats, counts = self.plan, self.stats, []
        if stats.from_levels:
            counts.append(f"{stats.from_levels} heights from levels")
        if stats.defaulted and plan.height_constant is None and plan.extrudes:
            counts.append(f"{stats.defaulted} missing heights set to {plan.default_height:g} m")
        lacking = stats.ground_z + stats.ground_near + stats.ground_zero
        if plan.ground_field and lacking:
            how = [
                f"{k} {what}"
                for k, what in (
                    (stats.ground_z, "from the geometry's Z"),
                    (stats.ground_near, "from the nearest building's"),
                    (stats.ground_zero, "at 0 m"),
                )
                if k
            ]
            counts.append(f"{lacking} missing ground altitudes: {', '.join(how)}")
        return plan.describe(any_z) + (" (" + "; ".join(counts) + ")" if counts else "")


# --- the whole conversion --------------------------------------------------------------------


def _merge_fields(sources: list[VectorSource]) -> list[tuple[str, str]]:
    """(name, metadata type) of every field of every source, first seen first; a field typed
    differently in two sources gets the wider type."""
    order: dict[str, str] = {}
    rank = {"BOOLEAN": 0, "INT32": 1, "INT64": 2, "FLOAT64": 3, "STRING": 4}
    for src in sources:
        for f in src.fields:
            old = order.get(f.name)
            if old is None or rank[f.type] > rank[old]:
                order[f.name] = f.type
    return list(order.items())


def _conform(batch: FeatureBatch, fields: Sequence[tuple[str, str]]) -> dict[str, Column]:
    """The batch's columns in the layer's types, absent fields as nulls."""
    out = {}
    for name, kind in fields:
        col = batch.columns.get(name)
        if col is None:
            empty = (
                np.array([""] * batch.count, dtype=object)
                if kind == "STRING"
                else np.zeros(batch.count)
            )
            col = Column(empty, np.ones(batch.count, bool))
        if kind == "STRING" and col.values.dtype != object:
            col = Column(np.array([str(v) for v in col.values], dtype=object), col.null)
        elif kind in ("INT32", "INT64", "FLOAT64"):
            dtype = {"INT32": np.int32, "INT64": np.int64, "FLOAT64": np.float64}[kind]
            col = Column(col.values.astype(dtype), col.null)
        out[name] = col
    return out


def _z_range(geoms: NDArray[np.object_]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Lowest and highest Z of each geometry's vertices, NaN without Z."""
    lo, hi = np.full(len(geoms), np.nan), np.full(len(geoms), np.nan)
    has_z = ~shapely.is_missing(geoms) & shapely.has_z(geoms)
    if has_z.any():
        coords, which = shapely.get_coordinates(geoms[has_z], include_z=True, return_index=True)
        zmin, zmax = np.full(int(has_z.sum()), np.inf), np.full(int(has_z.sum()), -np.inf)
        np.minimum.at(zmin, which, coords[:, 2])
        np.maximum.at(zmax, which, coords[:, 2])
        lo[has_z] = np.where(np.isfinite(zmin), zmin, np.nan)
        hi[has_z] = np.where(np.isfinite(zmax), zmax, np.nan)
    return lo, hi


_TYPE_NAMES = (
    "Point",
    "LineString",
    "LinearRing",
    "Polygon",
    "MultiPoint",
    "MultiLineString",
    "MultiPolygon",
    "GeometryCollection",
)


def _geometry_types(geoms: NDArray[np.object_]) -> dict[tuple[str, str | None], int]:
    """How many non-empty geometries of each (type name, kind): a GeometryCollection is of the
    kind of its parts when they all have one, else of none."""
    ids = shapely.get_type_id(geoms)
    ids[shapely.is_empty(geoms)] = -1
    counts = np.bincount(ids[ids >= 0], minlength=len(_TYPE_NAMES))
    out: dict[tuple[str, str | None], int] = {}
    for i, c in enumerate(counts[:7]):
        if c:
            out[_TYPE_NAMES[i], geometry_kind(_TYPE_NAMES[i])] = int(c)
    for g in geoms[ids == 7]:
        kinds = {geometry_kind(p.geom_type) for p in shapely.get_parts(g) if not p.is_empty}
        key = ("GeometryCollection", kinds.pop() if len(kinds) == 1 else None)
        out[key] = out.get(key, 0) + 1
    return out


def layer_kind(name: str, types: dict[tuple[str, str | None], int]) -> str:
    """The layer's one kind of geometry ("polygon", "line", "point") from the types counted in
    it (see _geometry_types). A layer mixing kinds is refused rather than split: one layer is one
    tileset, drawn one way, and which part of it a user meant is not ours to guess."""
    kinds = {kind for (_, kind), count in types.items() if count}
    if len(kinds) == 1 and None not in kinds:
        return kinds.pop()
    found = ", ".join(f"{count} {t}" for (t, _), count in sorted(types.items()) if count)
    if not kinds:
        raise VectorError(f"{name}: no geometry to extrude")
    raise VectorError(
        f"{name}: mixed geometry types in one layer ({found}); a layer holds polygons, lines or "
        "points: import each kind as its own layer"
    )


@dataclass
class _Index:
    """What pass 1 learns: feature counts, bounds, the frame, the quadtree, ground fill-ins,
    and the geometry types met."""

    counts: list[int]
    bounds: tuple[float, float, float, float]
    frame: _Frame
    lonlat: tuple[float, ...]
    leaf_of: NDArray[np.int64]
    leaves: list[Key]
    children: dict[Key, list[Key]]
    ground_fill: NDArray[np.float64]
    types: dict[tuple[str, str | None], int] = field(default_factory=dict)


def _ground_fill(xy: NDArray[np.float64], ground: NDArray[np.float64]) -> NDArray[np.float64]:
    """For each feature without a ground altitude, the ground of the nearest feature with one
    (NaN where none): a building then stands metres off at worst, where 0 would sink it by the
    whole local altitude. Computed over the whole layer so it does not depend on batches."""
    fill = np.full(len(ground), np.nan)
    placed = np.isfinite(xy).all(axis=1)
    known = np.flatnonzero(placed & np.isfinite(ground))
    lacking = np.flatnonzero(placed & ~np.isfinite(ground))
    if len(known) and len(lacking):
        tree = shapely.STRtree(shapely.points(xy[known]))
        near = tree.query_nearest(shapely.points(xy[lacking]), all_matches=False)
        fill[lacking[near[0]]] = ground[known[near[1]]]
    return fill


def _index(
    srcs: list[VectorSource], ground_field: str | None, opts: BuildingOptions, report: Progress
) -> _Index:
    """Pass 1: geometries (and the ground field) only, batch by batch."""
    centres, grounds, counts = [], [], [0] * len(srcs)
    types: dict[tuple[str, str | None], int] = defaultdict(int)
    total = np.array([np.inf, np.inf, -np.inf, -np.inf])
    n_total = max(sum(s.feature_count for s in srcs), 1)
    columns = [ground_field] if ground_field else []
    done = 0
    for k, src in enumerate(srcs):
        for batch in read_batches(src, batch_size=opts.batch_size, columns=columns, geometry=None):
            counts[k] += batch.count
            for key, count in _geometry_types(batch.geometries).items():
                types[key] += count
            b = shapely.bounds(batch.geometries)
            centres.append(np.c_[(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2])
            ground, bad = _numeric(batch, ground_field)
            grounds.append(np.where(bad, np.nan, ground))
            if np.isfinite(b).any():
                total = np.r_[
                    np.minimum(total[:2], np.nanmin(b[:, :2], axis=0)),
                    np.maximum(total[2:], np.nanmax(b[:, 2:], axis=0)),
                ]
            done += batch.count
            report(0.1 * done / n_total, f"indexed {done} features")
    if not np.isfinite(total).all():
        raise VectorError(f"{', '.join(s.name for s in srcs)}: no geometry to extrude")
    bounds = (float(total[0]), float(total[1]), float(total[2]), float(total[3]))
    frame, lonlat = _make_frame(srcs[0].crs, bounds)
    centre = np.concatenate(centres)
    good = np.isfinite(centre).all(axis=1)
    xy = np.full((len(centre), 2), np.nan)
    if good.any():
        zero = np.zeros(int(good.sum()))
        xy[good] = frame.to_local(centre[good, 0], centre[good, 1], zero)[:, :2]
    leaf_of, leaves, children = quadtree(xy[:, 0], xy[:, 1], opts.leaf_features, opts.max_depth)
    fill = _ground_fill(xy, np.concatenate(grounds))
    return _Index(counts, bounds, frame, lonlat, leaf_of, leaves, children, fill, dict(types))


@dataclass
class _Tally:
    """What pass 2 counts."""

    repaired: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    zlo: float = math.inf
    zhi: float = -math.inf
    any_z: bool = False


def _extrude_all(
    srcs: list[VectorSource],
    fields: list[tuple[str, str]],
    volumes: Volumes,
    index: _Index,
    store: _LeafStore,
    opts: BuildingOptions,
    report: Progress,
) -> _Tally:
    """Pass 2: features with attributes, batch by batch, extruded and filed under their leaf."""
    tally = _Tally()
    n_total = max(sum(index.counts), 1)
    offset = done = 0
    for k, src in enumerate(srcs):
        for batch in read_batches(src, batch_size=opts.batch_size, geometry=volumes.geometry):
            rows = slice(offset + batch.start, offset + batch.start + batch.count)
            tally.repaired += batch.repaired
            for reason, count in batch.skipped.items():
                tally.skipped[reason] += count
            zmin, zmax = _z_range(batch.geometries)
            tally.any_z |= bool(np.isfinite(zmin).any())
            bottom, top = volumes.vertical(batch, zmin, zmax, index.ground_fill[rows])
            kept = ~shapely.is_missing(batch.geometries)
            if kept.any():
                tally.zlo = min(tally.zlo, float(bottom[kept].min()))
                tally.zhi = max(tally.zhi, float(top[kept].max()))
            leaf_of = index.leaf_of[rows]
            if len(leaf_of) != batch.count or (kept & (leaf_of < 0)).any():
                raise VectorError(f"{src.name}: the file changed while it was being read")
            mesh = volumes.mesh(volumes.footprints(batch), bottom, top, index.frame.to_local)
            for leaf, piece in _split_by_leaf(mesh, leaf_of, _conform(batch, fields)):
                store.add(leaf, piece)
            built = np.zeros(batch.count, bool)
            built[np.unique(mesh.feature)] = True
            if (kept & ~built).any():
                reason = "degenerate footprint (fewer than 3 distinct vertices)"
                tally.skipped[reason] += int((kept & ~built).sum())
            done += batch.count
            report(0.1 + 0.7 * done / n_total, f"extruded {done} of {n_total} features")
        offset += index.counts[k]
    return tally


def _write_leaves(
    index: _Index,
    store: _LeafStore,
    fields: list[tuple[str, str]],
    style: ContentStyle,
    out_dir: Path,
    report: Progress,
) -> tuple[dict[Key, tuple[str, NDArray, NDArray]], int]:
    content: dict[Key, tuple[str, NDArray, NDArray]] = {}
    written = 0
    (out_dir / CONTENT_DIR).mkdir(exist_ok=True)
    for i, key in enumerate(index.leaves):
        pieces = store.take(i)
        if not pieces:
            continue
        uri = f"{CONTENT_DIR}/{key[0]}-{key[1]}-{key[2]}.glb"
        lo, hi, count = write_buildings_glb(out_dir / uri, pieces, fields, style)
        content[key] = (uri, lo, hi)
        written += count
        report(0.8 + 0.19 * (i + 1) / len(index.leaves), f"wrote {len(content)} tiles")
    return content, written


def _open_sources(sources: list[Path], srs: str | None) -> list[VectorSource]:
    files = layer_files([Path(p) for p in sources])
    if not files:
        raise VectorError("no vector file among the sources")
    srcs = [open_vector(p, srs=srs) for p in files]
    for src in srcs[1:]:
        if src.crs != srcs[0].crs:
            raise VectorError(
                f"{src.name} is in {src.crs[:40]} but {srcs[0].name} in {srcs[0].crs[:40]}: one "
                "layer takes one CRS (import them separately, or give --srs if they agree)"
            )
    return srcs


def _volumes(
    kind: str,
    plan: HeightPlan,
    height: str | float | None,
    names: list[str],
    index: _Index,
    opts: BuildingOptions,
) -> Volumes:
    """Buildings for polygons with a height; draped volumes for the rest (tiles.draped)."""
    if kind == "polygon" and plan.extrudes:
        return _BuildingVolumes(plan)
    if kind != "polygon" and height is not None:
        raise VectorError(
            f"height {height!r}: heights apply to polygon layers (extruded buildings); a {kind} "
            "layer is draped on the ground: import it without a height"
        )
    from tiles.draped import DrapedVolumes  # tiles.draped builds on this module

    asked = plan.height_constant == 0
    return DrapedVolumes(
        kind, names, plan.ground_field, index.frame, index.lonlat, opts.drape, asked=asked
    )


def tile_vector_layer(
    sources: list[Path],
    out_dir: Path,
    *,
    srs: str | None = None,
    height: str | float | None = None,
    progress: Progress | None = None,
    options: BuildingOptions | None = None,
) -> VectorResult:
    """Turn the features of vector `sources` (one layer: several files are merged) into a
    3D Tiles 1.1 tileset written to `out_dir` (tileset.json + t/*.glb).

    Polygons with a height (the `height` argument, or a height or level field: see
    plan_heights) are extruded as buildings. Lines, points, and polygons without any height
    (parcels, zones; or given `height=0`) become closed volumes around the ground that CesiumJS
    drapes on terrain and 3D Tiles as classification (tiles.draped); tileset.json says so in
    asset.extras.twin.draped, and `VectorResult.draped` too. Every feature keeps all its
    attributes, pickable.

    `srs` overrides (or supplies) the sources' CRS; `height` is a field name or a constant in
    metres (None: detected). `progress(fraction, message)` is called along the way; an
    exception raised from it stops the conversion. Raises VectorError for unreadable sources,
    sources without a CRS (and no `srs`), a layer mixing polygons, lines and points, a height
    given for lines or points, or no geometry at all.
    """
    opts = options or BuildingOptions()
    report = progress or (lambda _f, _m: None)
    out_dir = Path(out_dir)
    srcs = _open_sources(sources, srs)
    names = ", ".join(s.name for s in srcs)
    fields = _merge_fields(srcs)
    plan = plan_heights([n for n, _ in fields], height, opts)
    report(0.0, f"reading {sum(s.feature_count for s in srcs)} features from {len(srcs)} file(s)")
    index = _index(srcs, plan.ground_field, opts, report)
    kind = layer_kind(names, index.types)
    volumes = _volumes(kind, plan, height, [n for n, _ in fields], index, opts)
    draped = not isinstance(volumes, _BuildingVolumes)
    work = Path(opts.work_dir or out_dir / ".buildings-work")
    out_dir.mkdir(parents=True, exist_ok=True)
    store = _LeafStore(work, opts.memory_budget)
    try:
        tally = _extrude_all(srcs, fields, volumes, index, store, opts, report)
        content, written = _write_leaves(index, store, fields, volumes.style, out_dir, report)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    skipped = dict(tally.skipped)
    if written == 0:
        why = f" ({', '.join(f'{k}: {v}' for k, v in skipped.items())})" if skipped else ""
        what = f"no {kind} to drape" if draped else "no polygon to extrude"
        raise VectorError(f"{names}: {what}{why}")
    height_note = f"{volumes.describe(tally.any_z)}; {index.frame.note}"
    notes = [srcs[0].crs_note]
    if tally.repaired:
        notes.append(f"{tally.repaired} invalid geometries repaired with make_valid")
    notes += [f"{v} features skipped: {k}" for k, v in skipped.items()]
    crs = srcs[0].crs
    extras = {
        "sourceCrs": crs if crs.startswith("EPSG:") else CRS.from_user_input(crs).name,
        "featureCount": written,
        "heightNote": height_note,
        "notes": notes,
        "geometricError": "inner tiles: 1/8 of the box's horizontal diagonal (m); leaves 0",
        # what the viewer needs to know to draw it: draped tilesets are classification volumes
        "twin": {"draped": draped, "geometry": kind},
    }
    _write_tileset(out_dir, index.children, content, index.frame, extras, volumes.style.generator)
    what = f"draped {kind}s" if draped else "buildings"
    report(1.0, f"{written} {what} in {len(content)} tiles")
    x0, y0, x1, y1 = index.bounds
    return VectorResult(
        feature_count=written,
        source_crs=crs,
        bounds_source=(x0, y0, tally.zlo, x1, y1, tally.zhi),
        bounds_wgs84=tuple(float(v) for v in index.lonlat),  # type: ignore[arg-type]
        attributes=[{"name": n, "type": k} for n, k in fields],
        tile_count=len(content),
        height_note=height_note,
        repaired=tally.repaired,
        skipped=sum(skipped.values()),
        notes=notes,
        draped=draped,
        geometry=kind,
    )
