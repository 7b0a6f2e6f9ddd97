"""DEM files to a quantized-mesh-1.0 terrain tileset that CesiumJS's `CesiumTerrainProvider` loads.

Output (`out_dir`): `layer.json` and `{z}/{x}/{y}.terrain`, uncompressed, so any static file
server works (serve `.terrain` as `application/vnd.quantized-mesh`). Tiles follow Cesium's
geographic TMS scheme (EPSG:4326, level 0 = 2 x 1 tiles of 180°, y counted from the south).
Written: both level-0 tiles (Cesium needs them before it draws anything) and, at every level up
to the maximum, the tiles over the DEM's lon/lat box; `layer.json`'s `available` lists exactly
those, so Cesium upsamples the parent wherever a tile is absent. Outside the DEM the surface is
mean sea level (EGM96), so the rest of the globe stays where the ellipsoid terrain would put it
give or take the geoid, instead of a cliff of tens of metres around the zone.

Each tile samples the DEM on a (2^k+1)² lon/lat grid (k = 8 by default: 257 x 257, about one
node per DEM pixel at the maximum level, which is chosen from the DEM's resolution), and is
meshed by RTIN (a right-triangulated irregular network: the grid's binary triangle tree, split
only where needed, crack-free by construction).

Error metric, per tile: the largest vertical distance, in metres, between the rendered surface
(each triangle flat between its three vertices, in ECEF, as Cesium draws it, so the Earth's
curvature counts) and the DEM samples of the tile's grid that fall in that triangle (edges
included), measured along the ellipsoid normal at the sample. The bound at level z is
`error_ratio` (1/4 by default) x Cesium's own estimate of a level's geometric error, the one it
refines by (77,067 m / 2^z for this tiling scheme): it halves at every level; at Cesium's
default maximumScreenSpaceError of 2 px the mesh's own error stays within half a pixel; at the
maximum level it is about a quarter of the DEM's pixel (0.15 m for a 0.5 m DEM, 1.2 m at 5 m,
19 m for SRTM's 90 m). Quantizing vertices adds at most (max - min height) / 65,534 vertically
and 1/65,534 of the tile horizontally.

Vertex normals (the `octvertexnormals` extension, for lighting) come from the full grid by
central differences, with one sample beyond the tile's edge, so the lighting of neighbouring
tiles matches along their seam and keeps the detail the simplified mesh dropped.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from numba import njit
from numpy.typing import NDArray

from geodata.dem import Dem, HeightGrid

Progress = Callable[[float, str], None]
Bounds = tuple[float, float, float, float]

FORMAT = "quantized-mesh-1.0"
TILE_TEMPLATE = "{z}/{x}/{y}.terrain?v={version}"
VERSION = "1.0.0"
WGS84_A = 6_378_137.0
WGS84_B = 6_356_752.314245179
WGS84_E2 = 1.0 - (WGS84_B / WGS84_A) ** 2
# Cesium's TerrainProvider.getEstimatedLevelZeroGeometricErrorForAHeightmap for the geographic
# scheme: maximumRadius * 2π * heightmapTerrainQuality (0.25) / (65 samples * 2 level-0 tiles).
LEVEL0_GEOMETRIC_ERROR = WGS84_A * 2.0 * math.pi * 0.25 / (65 * 2)
QUANT_MAX = 32767
OCT_VERTEX_NORMALS = 1  # extension id
_HEADER = struct.Struct("<3d2f4d3d")  # center, min/max height, bounding sphere, horizon point


@dataclass(frozen=True)
class TerrainOptions:
    """Knobs of the terrain tiler; the defaults suit DEMs from 0.5 m to 90 m."""

    grid_exponent: int = 8  # a tile samples the DEM on (2^k + 1)² nodes
    error_ratio: float = 0.25  # bound at level z = ratio x Cesium's geometric error of level z
    max_level: int | None = None  # None: from the DEM's resolution


@dataclass
class TerrainResult:
    tile_count: int
    max_level: int
    source_crs: str  # e.g. "EPSG:2154"
    bounds_source: Bounds  # (minx, miny, maxx, maxy) in the source CRS
    bounds_wgs84: Bounds  # (west, south, east, north) degrees
    height_range: tuple[float, float]  # ellipsoidal metres, over the DEM's samples
    height_note: str  # how heights were made ellipsoidal
    triangle_count: int = 0
    attributes: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class TileMesh:
    """One tile's mesh before encoding: grid nodes (col, row from the south-west corner)."""

    cells: int  # 2^k grid cells a side
    nodes: NDArray[np.int32]  # (n, 2) col, row in 0..cells, numbered by first use in `triangles`
    heights: NDArray[np.float64]  # (n,) ellipsoidal metres
    normals: NDArray[np.float64]  # (n, 3) unit, ECEF
    triangles: NDArray[np.int32]  # (m, 3) counter-clockwise seen from above


@dataclass(frozen=True)
class QuantizedMesh:
    """A decoded .terrain file (what Cesium reads), for checks and tests."""

    center: NDArray[np.float64]
    min_height: float
    max_height: float
    sphere_center: NDArray[np.float64]
    sphere_radius: float
    horizon_occlusion_point: NDArray[np.float64]  # ellipsoid-scaled ECEF; NaN: no culling
    u: NDArray[np.int64]  # 0..32767 west to east
    v: NDArray[np.int64]  # 0..32767 south to north
    heights: NDArray[np.float64]  # ellipsoidal metres
    triangles: NDArray[np.int64]  # (m, 3)
    west: NDArray[np.int64]
    south: NDArray[np.int64]
    east: NDArray[np.int64]
    north: NDArray[np.int64]
    normals: NDArray[np.float64] | None  # (n, 3) unit, ECEF, from the oct-encoded extension


# --- levels and tiles ---------------------------------------------------------------------------


def level_error(level: int, ratio: float = TerrainOptions.error_ratio) -> float:
    """The mesh error bound at `level`, metres (see the module docstring)."""
    return ratio * LEVEL0_GEOMETRIC_ERROR / (1 << level)


def max_level_for(resolution_m: float, grid_exponent: int = TerrainOptions.grid_exponent) -> int:
    """The level whose grid spacing (north-south) is closest to the DEM's pixel size."""
    spacing0 = math.pi * WGS84_A / (1 << grid_exponent)  # a level-0 tile is 180° tall
    return int(min(max(round(math.log2(spacing0 / resolution_m)), 0), 24))


def tile_rectangle(level: int, x: int, y: int) -> Bounds:
    """(west, south, east, north) degrees of TMS tile (level, x, y)."""
    size = 180.0 / (1 << level)
    return (-180.0 + x * size, -90.0 + y * size, -180.0 + (x + 1) * size, -90.0 + (y + 1) * size)


def tile_ranges(bounds: Bounds, max_level: int) -> list[tuple[int, int, int, int]]:
    """Per level, the (x0, y0, x1, y1) TMS tiles (inclusive) to write: all of level 0, then
    those over `bounds` (west, south, east, north)."""
    west, south, east, north = bounds
    ranges = [(0, 0, 1, 0)]
    for level in range(1, max_level + 1):
        size = 180.0 / (1 << level)
        last_x, last_y = (2 << level) - 1, (1 << level) - 1
        x0 = min(max(int((west + 180.0) // size), 0), last_x)
        y0 = min(max(int((south + 90.0) // size), 0), last_y)
        x1 = min(max(math.ceil((east + 180.0) / size) - 1, x0), last_x)
        y1 = min(max(math.ceil((north + 90.0) / size) - 1, y0), last_y)
        ranges.append((x0, y0, x1, y1))
    return ranges


# --- geometry -----------------------------------------------------------------------------------


def geodetic_to_ecef(
    lon: NDArray[np.float64], lat: NDArray[np.float64], h: NDArray[np.float64]
) -> NDArray[np.float64]:
    """WGS84 degrees + ellipsoidal metres to ECEF (..., 3), in closed form: pyproj costs about
    1 µs a point, more than meshing takes (the tests hold this to pyproj)."""
    lam, phi = np.radians(lon), np.radians(lat)
    sin_phi, cos_phi = np.sin(phi), np.cos(phi)
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * sin_phi**2)
    return np.stack(
        np.broadcast_arrays(
            (n + h) * cos_phi * np.cos(lam),
            (n + h) * cos_phi * np.sin(lam),
            (n * (1.0 - WGS84_E2) + h) * sin_phi,
        ),
        axis=-1,
    )


@njit(cache=True)
def _grid_frame(lon, lat, heights):  # pragma: no cover - compiled
    """ECEF positions and ellipsoid normals ("up") of a lon x lat grid of heights, each
    (rows, cols, 3): geodetic_to_ecef with the trigonometry done once per row and column."""
    rows, cols = lat.size, lon.size
    pos, up = np.empty((rows, cols, 3)), np.empty((rows, cols, 3))
    cos_lam, sin_lam = np.empty(cols), np.empty(cols)
    for c in range(cols):
        cos_lam[c], sin_lam[c] = math.cos(math.radians(lon[c])), math.sin(math.radians(lon[c]))
    for r in range(rows):
        sp, cp = math.sin(math.radians(lat[r])), math.cos(math.radians(lat[r]))
        n = WGS84_A / math.sqrt(1.0 - WGS84_E2 * sp * sp)
        for c in range(cols):
            h = heights[r, c]
            up[r, c, 0], up[r, c, 1], up[r, c, 2] = cp * cos_lam[c], cp * sin_lam[c], sp
            pos[r, c, 0] = (n + h) * cp * cos_lam[c]
            pos[r, c, 1] = (n + h) * cp * sin_lam[c]
            pos[r, c, 2] = (n * (1.0 - WGS84_E2) + h) * sp
    return pos, up


def horizon_occlusion_point(
    points: NDArray[np.float64], direction: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The point, in ellipsoid-scaled ECEF, whose visibility from outside the ellipsoid implies
    that of every point in `points` (Cesium's EllipsoidalOccluder algorithm): on the ray towards
    `direction`, at the largest distance any point requires. NaN when no such point exists (a
    point 90° or more from `direction`, as on a level-0 tile): Cesium then never culls the tile.
    """
    radii = np.array([WGS84_A, WGS84_A, WGS84_B])
    d = direction / radii
    d /= np.linalg.norm(d)
    scaled = points / radii
    mag2 = np.einsum("ij,ij->i", scaled, scaled)
    mag = np.sqrt(mag2)
    unit = scaled / mag[:, None]
    mag2, mag = np.maximum(mag2, 1.0), np.maximum(mag, 1.0)  # below the ellipsoid: on it
    cos_a = unit @ d
    sin_a = np.linalg.norm(np.cross(unit, d), axis=1)
    cos_b = 1.0 / mag
    sin_b = np.sqrt(mag2 - 1.0) * cos_b
    denominator = cos_a * cos_b - sin_a * sin_b
    if not (denominator > 0).all():
        return np.full(3, np.nan)
    return d * float((1.0 / denominator).max())


# --- RTIN ---------------------------------------------------------------------------------------
# A tile's grid has N + 1 nodes a side (N = 2^k). Triangle ids form a binary tree: roots 2 and 3
# halve the square along its diagonal, and triangle t = (a, b, c) (hypotenuse a-b, right angle
# at c, m the hypotenuse's midpoint) has children 2t = (a, c, m) and 2t+1 = (c, b, m). Unit
# triangles (half grid cells, ids 2N² .. 4N²-1) are leaves and are never stored.


@lru_cache(maxsize=4)
def _triangle_tree(exponent: int) -> NDArray[np.int32]:
    """(2N², 6) ax, ay, bx, by, cx, cy of every non-leaf triangle (rows 0 and 1 unused)."""
    n = 1 << exponent
    tree = np.zeros((2 * n * n, 6), np.int32)
    tree[2] = (0, 0, n, n, n, 0)
    tree[3] = (n, n, 0, 0, 0, n)
    first = 2
    while 2 * first < tree.shape[0]:
        parents = tree[first : 2 * first]
        a, b, c = parents[:, 0:2], parents[:, 2:4], parents[:, 4:6]
        m = (a + b) // 2
        children = tree[2 * first : 4 * first].reshape(-1, 2, 6)
        children[:, 0] = np.concatenate([a, c, m], axis=1)
        children[:, 1] = np.concatenate([c, b, m], axis=1)
        first *= 2
    return tree


@njit(cache=True)
def _row_span(y, ax, ay, bx, by, cx, cy):  # pragma: no cover - compiled
    """The columns of a triangle's nodes on row y (edges are axis-aligned or at 45°)."""
    lo, hi = 1 << 30, -(1 << 30)
    for k in range(3):
        px, py = (ax, ay) if k == 0 else ((bx, by) if k == 1 else (cx, cy))
        qx, qy = (bx, by) if k == 0 else ((cx, cy) if k == 1 else (ax, ay))
        if py == qy:
            if y == py:
                lo, hi = min(lo, px, qx), max(hi, px, qx)
        elif min(py, qy) <= y <= max(py, qy):
            x = px + (y - py) * (qx - px) // (qy - py)
            lo, hi = min(lo, x), max(hi, x)
    return lo, hi


@njit(cache=True)
def _triangle_error(pos, up, ax, ay, bx, by, cx, cy, bound):  # pragma: no cover - compiled
    """Largest |(sample - flat triangle) . up| over the grid samples inside triangle abc, or the
    first one found above `bound` (enough to know the triangle must be split)."""
    inv = 1.0 / ((bx - ax) * (cy - ay) - (by - ay) * (cx - ax))
    a0, a1, a2 = pos[ay, ax, 0], pos[ay, ax, 1], pos[ay, ax, 2]
    b0, b1, b2 = pos[by, bx, 0], pos[by, bx, 1], pos[by, bx, 2]
    c0, c1, c2 = pos[cy, cx, 0], pos[cy, cx, 1], pos[cy, cx, 2]
    worst = 0.0
    for y in range(min(ay, by, cy), max(ay, by, cy) + 1):
        lo, hi = _row_span(y, ax, ay, bx, by, cx, cy)
        for x in range(lo, hi + 1):
            wa = ((bx - x) * (cy - y) - (by - y) * (cx - x)) * inv
            wb = ((cx - x) * (ay - y) - (cy - y) * (ax - x)) * inv
            wc = 1.0 - wa - wb
            d = (pos[y, x, 0] - wa * a0 - wb * b0 - wc * c0) * up[y, x, 0]
            d += (pos[y, x, 1] - wa * a1 - wb * b1 - wc * c1) * up[y, x, 1]
            d += (pos[y, x, 2] - wa * a2 - wb * b2 - wc * c2) * up[y, x, 2]
            worst = max(worst, abs(d))
        if worst > bound:
            return worst
    return worst


@njit(cache=True)
def _rtin_errors(pos, up, tree, bound):  # pragma: no cover - compiled
    """Per grid node, a bound on the error that splitting at that node (a hypotenuse midpoint)
    removes: over the triangle and everything below it (children first), so that a triangle is
    kept only if no descendant needs splitting, and the two triangles sharing a hypotenuse
    decide alike (no cracks). Only "within `bound` or not" matters, which saves most of the
    work: a triangle whose descendants exceed it is not measured; one whose children are within
    e1, e2 and whose midpoint is off the hypotenuse by d is within max(e1, e2) + d (the two
    planes differ by at most d), and only when that is not enough are its samples scanned,
    stopping at the first one above the bound."""
    errors = np.zeros(pos.shape[:2])
    count = tree.shape[0]
    for t in range(count - 1, 1, -1):
        ax, ay, bx, by, cx, cy = (
            tree[t, 0],
            tree[t, 1],
            tree[t, 2],
            tree[t, 3],
            tree[t, 4],
            tree[t, 5],
        )
        mx, my = (ax + bx) // 2, (ay + by) // 2
        e = 0.0
        if 2 * t < count:  # the children's midpoints (unit triangles, the leaves, have none)
            for child in range(2 * t, 2 * t + 2):
                cmx = (tree[child, 0] + tree[child, 2]) // 2
                cmy = (tree[child, 1] + tree[child, 3]) // 2
                e = max(e, errors[cmy, cmx])
        if e <= bound:
            d0 = pos[my, mx, 0] - 0.5 * (pos[ay, ax, 0] + pos[by, bx, 0])
            d1 = pos[my, mx, 1] - 0.5 * (pos[ay, ax, 1] + pos[by, bx, 1])
            d2 = pos[my, mx, 2] - 0.5 * (pos[ay, ax, 2] + pos[by, bx, 2])
            certified = e + np.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
            if certified <= bound:
                e = certified
            else:
                e = max(e, _triangle_error(pos, up, ax, ay, bx, by, cx, cy, bound))
        errors[my, mx] = max(errors[my, mx], e)
    return errors


@njit(cache=True)
def _rtin_mesh(errors, tree, bound):  # pragma: no cover - compiled
    """Triangles of the coarsest RTIN whose error is within `bound`, counter-clockwise, with
    vertices numbered in order of first use (what high-water-mark index coding needs)."""
    size = errors.shape[0]
    ids = np.full((size, size), -1, np.int32)
    nodes = np.empty((size * size, 2), np.int32)
    triangles = np.empty((2 * (size - 1) * (size - 1), 3), np.int32)
    stack = np.empty((256, 6), np.int64)  # depth-first: triangle 2 first, then 3
    for j in range(6):
        stack[0, j], stack[1, j] = tree[3, j], tree[2, j]
    top, n_nodes, n_tris = 2, 0, 0
    while top > 0:
        top -= 1
        ax, ay, bx, by = stack[top, 0], stack[top, 1], stack[top, 2], stack[top, 3]
        cx, cy = stack[top, 4], stack[top, 5]
        mx2, my2 = ax + bx, ay + by
        if mx2 % 2 == 0 and my2 % 2 == 0 and errors[my2 // 2, mx2 // 2] > bound:
            mx, my = mx2 // 2, my2 // 2
            stack[top, 0], stack[top, 1], stack[top, 2] = cx, cy, bx
            stack[top, 3], stack[top, 4], stack[top, 5] = by, mx, my
            stack[top + 1, 0], stack[top + 1, 1], stack[top + 1, 2] = ax, ay, cx
            stack[top + 1, 3], stack[top + 1, 4], stack[top + 1, 5] = cy, mx, my
            top += 2
            continue
        if (bx - ax) * (cy - ay) - (by - ay) * (cx - ax) < 0:
            bx, by, cx, cy = cx, cy, bx, by
        for k in range(3):
            x = ax if k == 0 else (bx if k == 1 else cx)
            y = ay if k == 0 else (by if k == 1 else cy)
            if ids[y, x] < 0:
                ids[y, x] = n_nodes
                nodes[n_nodes, 0], nodes[n_nodes, 1] = x, y
                n_nodes += 1
            triangles[n_tris, k] = ids[y, x]
        n_tris += 1
    return nodes[:n_nodes], triangles[:n_tris]


def mesh_grid(
    pos: NDArray[np.float64], up: NDArray[np.float64], bound: float
) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """RTIN of a (2^k+1)² grid of ECEF positions (row 0 south) within `bound` metres:
    (nodes (n, 2) col/row, triangles (m, 3))."""
    cells = pos.shape[0] - 1
    if pos.shape[:2] != (cells + 1, cells + 1) or cells & (cells - 1) or cells < 2:
        raise ValueError(f"an RTIN grid is (2^k + 1) x (2^k + 1) nodes, not {pos.shape[:2]}")
    tree = _triangle_tree(cells.bit_length() - 1)
    errors = _rtin_errors(pos, up, tree, bound)
    return _rtin_mesh(errors, tree, bound)


# --- one tile -----------------------------------------------------------------------------------


def build_tile(
    dem: Dem, level: int, x: int, y: int, options: TerrainOptions
) -> tuple[TileMesh, HeightGrid]:
    """Sample and mesh one tile; also returns its height grid (with a one-node ring)."""
    size = (1 << options.grid_exponent) + 1
    grid = dem.grid(tile_rectangle(level, x, y), size, margin=1)
    return mesh_tile(grid, level_error(level, options.error_ratio)), grid


def mesh_tile(grid: HeightGrid, bound: float) -> TileMesh:
    """The RTIN mesh within `bound` metres, and the normals, of a tile's (2^k+3)² height grid
    (its (2^k+1)² nodes and a one-node ring, used for the normals at its edges)."""
    cells = grid.heights.shape[0] - 3
    pos, up = _grid_frame(grid.lon, grid.lat, grid.heights)
    inner = (slice(1, -1), slice(1, -1))
    nodes, triangles = mesh_grid(pos[inner], up[inner], bound)
    while len(nodes) == 65536:  # CesiumJS misreads exactly 65,536 vertices (16/32-bit off by one)
        bound *= 0.9
        nodes, triangles = mesh_grid(pos[inner], up[inner], bound)
    cols, rows = nodes[:, 0], nodes[:, 1]
    return TileMesh(
        cells=cells,
        nodes=nodes,
        heights=grid.heights[inner][rows, cols],
        normals=_grid_normals(pos, up)[rows, cols],
        triangles=triangles,
    )


@njit(cache=True)
def _grid_normals(pos, up):  # pragma: no cover - compiled
    """Unit surface normals at the inner nodes of a grid with a one-node ring, by central
    differences (east x north); the ellipsoid's up where that degenerates (at a pole) or would
    face down."""
    rows, cols = pos.shape[0] - 2, pos.shape[1] - 2
    out = np.empty((rows, cols, 3))
    for r in range(rows):
        for c in range(cols):
            e0 = pos[r + 1, c + 2, 0] - pos[r + 1, c, 0]
            e1 = pos[r + 1, c + 2, 1] - pos[r + 1, c, 1]
            e2 = pos[r + 1, c + 2, 2] - pos[r + 1, c, 2]
            n0 = pos[r + 2, c + 1, 0] - pos[r, c + 1, 0]
            n1 = pos[r + 2, c + 1, 1] - pos[r, c + 1, 1]
            n2 = pos[r + 2, c + 1, 2] - pos[r, c + 1, 2]
            x, y, z = e1 * n2 - e2 * n1, e2 * n0 - e0 * n2, e0 * n1 - e1 * n0
            length = math.sqrt(x * x + y * y + z * z)
            u0, u1, u2 = up[r + 1, c + 1, 0], up[r + 1, c + 1, 1], up[r + 1, c + 1, 2]
            if length > 1e-12 * (n0 * n0 + n1 * n1 + n2 * n2) and x * u0 + y * u1 + z * u2 > 0:
                out[r, c, 0], out[r, c, 1], out[r, c, 2] = x / length, y / length, z / length
            else:
                out[r, c, 0], out[r, c, 1], out[r, c, 2] = u0, u1, u2
    return out


# --- quantized-mesh encoding --------------------------------------------------------------------


def _zigzag_delta(values: NDArray[np.int64]) -> NDArray[np.uint16]:
    delta = np.diff(values, prepend=0)
    return ((delta << 1) ^ (delta >> 63)).astype(np.uint16)


def _unzigzag_delta(codes: NDArray[np.uint16]) -> NDArray[np.int64]:
    c = codes.astype(np.int64)
    return np.cumsum((c >> 1) ^ -(c & 1))


def oct_encode(normals: NDArray[np.float64]) -> NDArray[np.uint8]:
    """Unit vectors (n, 3) to 2 bytes each (octahedral, as Cesium's AttributeCompression)."""
    p = normals / np.abs(normals).sum(axis=1, keepdims=True)
    x, y = p[:, 0], p[:, 1]
    below = p[:, 2] < 0
    sx, sy = np.where(x >= 0, 1.0, -1.0), np.where(y >= 0, 1.0, -1.0)
    x, y = np.where(below, (1 - np.abs(y)) * sx, x), np.where(below, (1 - np.abs(x)) * sy, y)
    out = np.stack([x, y], axis=1)
    return np.round((np.clip(out, -1.0, 1.0) * 0.5 + 0.5) * 255.0).astype(np.uint8)


def oct_decode(codes: NDArray[np.uint8]) -> NDArray[np.float64]:
    """2 bytes each back to unit vectors (n, 3)."""
    xy = codes.reshape(-1, 2).astype(np.float64) / 255.0 * 2.0 - 1.0
    x, y = xy[:, 0], xy[:, 1]
    z = 1.0 - np.abs(x) - np.abs(y)
    sx, sy = np.where(x >= 0, 1.0, -1.0), np.where(y >= 0, 1.0, -1.0)
    below = z < 0
    x, y = np.where(below, (1 - np.abs(y)) * sx, x), np.where(below, (1 - np.abs(x)) * sy, y)
    v = np.stack([x, y, z], axis=1)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def encode_tile(mesh: TileMesh, rectangle: Bounds) -> bytes:
    """The .terrain bytes of a mesh covering `rectangle` (west, south, east, north degrees)."""
    west, south, east, north = rectangle
    u = np.rint(mesh.nodes[:, 0] * (QUANT_MAX / mesh.cells)).astype(np.int64)
    v = np.rint(mesh.nodes[:, 1] * (QUANT_MAX / mesh.cells)).astype(np.int64)
    # the header stores the range as float32, and Cesium decodes heights from those values
    lo = float(np.nextafter(np.float32(mesh.heights.min()), np.float32(-np.inf)))
    hi = float(np.nextafter(np.float32(mesh.heights.max()), np.float32(np.inf)))
    span = hi - lo
    q = np.rint((mesh.heights - lo) * (QUANT_MAX / span)).astype(np.int64)
    heights = lo + q * (span / QUANT_MAX)
    lon = west + u * ((east - west) / QUANT_MAX)
    lat = south + v * ((north - south) / QUANT_MAX)
    points = geodetic_to_ecef(lon, lat, heights)
    box_lo, box_hi = points.min(axis=0), points.max(axis=0)
    center = (box_lo + box_hi) / 2.0
    radius = float(np.linalg.norm(points - center, axis=1).max())
    horizon = horizon_occlusion_point(points, center)
    parts = [
        _HEADER.pack(*center, lo, hi, *center, radius, *horizon),
        struct.pack("<I", u.size),
        _zigzag_delta(u).tobytes(),
        _zigzag_delta(v).tobytes(),
        _zigzag_delta(q).tobytes(),
    ]
    wide = u.size > 65536
    index_type = np.uint32 if wide else np.uint16
    if wide and u.size % 2:  # 32-bit indices start on a 4-byte boundary
        parts.append(b"\0\0")
    flat = mesh.triangles.astype(np.int64).ravel()
    highest = np.concatenate([[0], np.maximum.accumulate(flat)[:-1] + 1])
    parts += [
        struct.pack("<I", mesh.triangles.shape[0]),
        (highest - flat).astype(index_type).tobytes(),
    ]
    for on_edge, along in ((u == 0, v), (v == 0, u), (u == QUANT_MAX, v), (v == QUANT_MAX, u)):
        ids = np.flatnonzero(on_edge)  # west, south, east, north; each sorted along its edge
        ids = ids[np.argsort(along[ids], kind="stable")]
        parts += [struct.pack("<I", ids.size), ids.astype(index_type).tobytes()]
    normals = oct_encode(mesh.normals).tobytes()
    parts.append(struct.pack("<BI", OCT_VERTEX_NORMALS, len(normals)) + normals)
    return b"".join(parts)


def decode_tile(data: bytes) -> QuantizedMesh:
    """Read .terrain bytes as Cesium does (header, zig-zag deltas, high-water-mark indices, edge
    lists, oct-encoded normals)."""
    head = _HEADER.unpack_from(data, 0)
    pos = _HEADER.size
    (count,) = struct.unpack_from("<I", data, pos)
    pos += 4
    raw = np.frombuffer(data, np.uint16, 3 * count, pos).reshape(3, count)
    pos += 6 * count
    u, v, q = (_unzigzag_delta(row) for row in raw)
    index_type, width = (np.uint32, 4) if count > 65536 else (np.uint16, 2)
    pos += -pos % width
    (n_tris,) = struct.unpack_from("<I", data, pos)
    pos += 4
    codes = np.frombuffer(data, index_type, 3 * n_tris, pos).astype(np.int64)
    pos += 3 * n_tris * width
    highest = np.concatenate([[0], (codes == 0).cumsum()[:-1]])
    triangles = (highest - codes).reshape(-1, 3)
    edges = []
    for _ in range(4):
        (n,) = struct.unpack_from("<I", data, pos)
        pos += 4
        edges.append(np.frombuffer(data, index_type, n, pos).astype(np.int64))
        pos += n * width
    normals = None
    while pos < len(data):
        ext, length = struct.unpack_from("<BI", data, pos)
        pos += 5
        if ext == OCT_VERTEX_NORMALS:
            normals = oct_decode(np.frombuffer(data, np.uint8, length, pos))
        pos += length
    lo, hi = head[3], head[4]
    return QuantizedMesh(
        center=np.array(head[0:3]),
        min_height=lo,
        max_height=hi,
        sphere_center=np.array(head[5:8]),
        sphere_radius=head[8],
        horizon_occlusion_point=np.array(head[9:12]),
        u=u,
        v=v,
        heights=lo + q * ((hi - lo) / QUANT_MAX),
        triangles=triangles,
        west=edges[0],
        south=edges[1],
        east=edges[2],
        north=edges[3],
        normals=normals,
    )


# --- the tileset --------------------------------------------------------------------------------


def tile_terrain(
    files: Sequence[str | os.PathLike[str]],
    out_dir: Path,
    *,
    srs: str | None = None,
    progress: Progress | None = None,
    options: TerrainOptions | None = None,
) -> TerrainResult:
    """Tile DEM files of one zone into `out_dir` (layer.json + {z}/{x}/{y}.terrain).

    `files` are paths or GDAL names (`/vsizip//abs/dem.zip/N43E007.hgt`); `srs` overrides or
    supplies their CRS. `progress(fraction, message)` is called after every tile; an exception
    it raises stops the work (and propagates). layer.json is written last, and on failure what
    this call wrote is removed. Memory: one tile's grid at a time (a few MB), whatever the DEM's
    size. Raises DemError for unusable input.
    """
    opts = options or TerrainOptions()
    if not 2 <= opts.grid_exponent <= 10:
        raise ValueError("TerrainOptions.grid_exponent must be from 2 to 10")
    report: Progress = progress or (lambda fraction, message: None)
    out_dir = Path(out_dir)
    with Dem(files, srs=srs) as dem:
        max_level = opts.max_level
        if max_level is None:
            max_level = max_level_for(dem.resolution_m, opts.grid_exponent)
        ranges = tile_ranges(dem.bounds_wgs84, max_level)
        total = sum((x1 - x0 + 1) * (y1 - y0 + 1) for x0, y0, x1, y1 in ranges)
        report(0.0, f"{total} terrain tiles, levels 0-{max_level}, CRS {dem.crs_code}")
        created = [out_dir, *(out_dir / str(z) for z in range(len(ranges)))]
        created = [p for p in created if not p.exists()]
        try:
            stats = _write_tiles(dem, ranges, out_dir, opts, report, total)
            _write_layer(out_dir, ranges, dem.bounds_wgs84, dem.height_note)
        except BaseException:
            for path in created:
                shutil.rmtree(path, ignore_errors=True)
            raise
        report(1.0, f"{total} terrain tiles written")
        return TerrainResult(
            tile_count=total,
            max_level=max_level,
            source_crs=dem.crs_code,
            bounds_source=dem.bounds,
            bounds_wgs84=dem.bounds_wgs84,
            height_range=(stats[0], stats[1]),
            height_note=dem.height_note,
            triangle_count=int(stats[2]),
        )


def _write_tiles(
    dem: Dem,
    ranges: list[tuple[int, int, int, int]],
    out_dir: Path,
    opts: TerrainOptions,
    report: Progress,
    total: int,
) -> tuple[float, float, int]:
    """Every tile of `ranges`; returns the DEM's height range seen and the triangle count."""
    lo, hi, triangles, done = math.inf, -math.inf, 0, 0
    for level, (x0, y0, x1, y1) in enumerate(ranges):
        for x in range(x0, x1 + 1):
            folder = out_dir / str(level) / str(x)
            folder.mkdir(parents=True, exist_ok=True)
            for y in range(y0, y1 + 1):
                mesh, grid = build_tile(dem, level, x, y, opts)
                data = encode_tile(mesh, tile_rectangle(level, x, y))
                (folder / f"{y}.terrain").write_bytes(data)
                covered = grid.heights[1:-1, 1:-1][grid.covered[1:-1, 1:-1]]
                if covered.size:
                    lo, hi = min(lo, float(covered.min())), max(hi, float(covered.max()))
                triangles += mesh.triangles.shape[0]
                done += 1
                report(done / total, f"tile {level}/{x}/{y}")
    return lo, hi, triangles


def _write_layer(
    out_dir: Path, ranges: list[tuple[int, int, int, int]], bounds: Bounds, note: str
) -> None:
    """layer.json, written to a temporary name and renamed: it appears complete or not at all."""
    layer = {
        "tilejson": "2.1.0",
        "name": "terrain",
        "description": f"Ellipsoidal heights (WGS84). {note}",
        "version": VERSION,
        "format": FORMAT,
        "scheme": "tms",
        "projection": "EPSG:4326",
        "tiles": [TILE_TEMPLATE],
        "bounds": [round(v, 9) for v in bounds],
        "minzoom": 0,
        "maxzoom": len(ranges) - 1,
        "extensions": ["octvertexnormals"],
        "available": [
            [{"startX": x0, "startY": y0, "endX": x1, "endY": y1}] for x0, y0, x1, y1 in ranges
        ],
    }
    tmp = out_dir / ".layer.json.tmp"
    tmp.write_text(json.dumps(layer, indent=1), encoding="utf-8")
    tmp.replace(out_dir / "layer.json")
