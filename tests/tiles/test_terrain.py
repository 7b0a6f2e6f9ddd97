"""tiles.terrain: real DEMs of ../shared/data/dem tiled, every tile decoded back and checked.

Heights and positions are checked against pyproj and rasterio called here (the reference helpers
of tests/geodata/test_dem.py), the mesh error against the level's bound sample by sample, and the
horizon occlusion point against Cesium's own visibility test from random cameras.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import rasterio
from numpy.typing import NDArray
from pyproj import Transformer
from rasterio.transform import from_origin

from geodata.dem import Dem, DemError
from tests.geodata.test_dem import (
    DTM,
    MNS,
    reference_ellipsoidal,
    reference_ortho,
    srtm_name,
    vertical_of,
)
from tiles.terrain import (
    LEVEL0_GEOMETRIC_ERROR,
    QUANT_MAX,
    QuantizedMesh,
    TerrainOptions,
    TerrainResult,
    decode_tile,
    geodetic_to_ecef,
    level_error,
    max_level_for,
    tile_rectangle,
    tile_terrain,
)

K = 8  # default grid exponent: 257 nodes a side
TO_ECEF = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
RADII = np.array([6378137.0, 6378137.0, 6356752.314245179])


def tiles_in(out: Path) -> dict[tuple[int, int, int], QuantizedMesh]:
    found = {}
    for path in out.glob("*/*/*.terrain"):
        z, x = int(path.parent.parent.name), int(path.parent.name)
        found[(z, x, int(path.stem))] = decode_tile(path.read_bytes())
    return found


def vertex_lonlat(mesh: QuantizedMesh, key: tuple[int, int, int]) -> tuple[NDArray, NDArray]:
    w, s, e, n = tile_rectangle(*key)
    return w + mesh.u * (e - w) / QUANT_MAX, s + mesh.v * (n - s) / QUANT_MAX


def node_lonlat(mesh: QuantizedMesh, key: tuple[int, int, int]) -> tuple[NDArray, NDArray]:
    """Where the vertices' grid nodes are (u, v are those rounded to 1/32767 of the tile)."""
    w, s, e, n = tile_rectangle(*key)
    size = 1 << K
    col, row = np.rint(mesh.u * size / QUANT_MAX), np.rint(mesh.v * size / QUANT_MAX)
    assert np.abs(mesh.u - col * QUANT_MAX / size).max() <= 0.5
    assert np.abs(mesh.v - row * QUANT_MAX / size).max() <= 0.5
    return w + col * (e - w) / size, s + row * (n - s) / size


def pyproj_ecef(lon: NDArray, lat: NDArray, h: NDArray) -> NDArray[np.float64]:
    return np.stack(TO_ECEF.transform(lon, lat, h), axis=-1)


def tile_grid(dem: Dem, key: tuple[int, int, int]) -> tuple[NDArray, NDArray, NDArray]:
    """The tile's DEM samples with their one-node ring, as the tiler takes them: where the DEM
    covers, ECEF positions (pyproj) and ellipsoid normals, each (n+3, n+3[, 3])."""
    grid = dem.grid(tile_rectangle(*key), (1 << K) + 1, margin=1)
    lon, lat = np.meshgrid(grid.lon, grid.lat)
    lam, phi = np.radians(lon), np.radians(lat)
    up = np.stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)], axis=-1)
    return grid.covered, pyproj_ecef(lon, lat, grid.heights), up


def triangle_errors(mesh: QuantizedMesh, pos: NDArray, up: NDArray) -> NDArray[np.float64]:
    """Per triangle, the largest vertical distance from the grid samples inside it (edges
    included) to the flat triangle through its vertices (decoded heights), in ECEF."""
    size = 1 << K
    col = np.rint(mesh.u * size / QUANT_MAX).astype(int)
    row = np.rint(mesh.v * size / QUANT_MAX).astype(int)
    assert np.abs(mesh.u - np.rint(col * QUANT_MAX / size)).max() == 0  # vertices are nodes
    verts = pos[row, col] + (mesh.heights - pos_heights(pos, row, col))[:, None] * up[row, col]
    tri = mesh.triangles
    c, r = col[tri], row[tri]  # (m, 3)
    lo_c, lo_r = c.min(1), r.min(1)
    span = np.c_[c.max(1) - lo_c, r.max(1) - lo_r]
    errors = np.zeros(len(tri))
    for shape in np.unique(span, axis=0):
        sel = np.flatnonzero((span == shape).all(1))
        oc, orow = np.meshgrid(np.arange(shape[0] + 1), np.arange(shape[1] + 1))
        px = lo_c[sel, None] + oc.ravel()[None]  # (t, samples)
        py = lo_r[sel, None] + orow.ravel()[None]
        (ax, bx, cx), (ay, by, cy) = c[sel].T[:, :, None], r[sel].T[:, :, None]
        area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        wa = ((bx - px) * (cy - py) - (by - py) * (cx - px)) / area
        wb = ((cx - px) * (ay - py) - (cy - py) * (ax - px)) / area
        wc = 1 - wa - wb
        inside = (wa >= -1e-12) & (wb >= -1e-12) & (wc >= -1e-12)
        v = verts[tri[sel]]  # (t, 3, 3)
        flat = (
            wa[..., None] * v[:, None, 0]
            + wb[..., None] * v[:, None, 1]
            + wc[..., None] * v[:, None, 2]
        )
        d = np.einsum("tsk,tsk->ts", pos[py, px] - flat, up[py, px])
        errors[sel] = np.where(inside, np.abs(d), 0).max(1)
    return errors


def pos_heights(pos: NDArray, row: NDArray, col: NDArray) -> NDArray:
    """Ellipsoidal heights of grid samples, back from their ECEF positions (pyproj)."""
    p = pos[row, col]
    return np.asarray(
        Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True).transform(
            p[:, 0], p[:, 1], p[:, 2]
        )[2]
    )


# --- tilesets, built once per module ------------------------------------------------------------


@pytest.fixture(scope="module")
def mns(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[TerrainResult, Path]:
    out = tmp_path_factory.mktemp("terrain") / "mns"
    messages: list[tuple[float, str]] = []
    result = tile_terrain([shared_data / MNS], out, progress=lambda f, m: messages.append((f, m)))
    assert messages[-1][0] == 1.0 and len(messages) >= result.tile_count
    return result, out


@pytest.fixture(scope="module")
def dtm(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[TerrainResult, Path]:
    out = tmp_path_factory.mktemp("terrain") / "dtm"
    return tile_terrain([shared_data / DTM], out), out


@pytest.fixture(scope="module")
def srtm(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[TerrainResult, Path]:
    """The 1° SRTM tile (Nice, the Alps), stopped at level 7 to keep the test quick."""
    out = tmp_path_factory.mktemp("terrain") / "srtm"
    return tile_terrain([srtm_name(shared_data)], out, options=TerrainOptions(max_level=7)), out


# --- layer.json and the set of tiles ------------------------------------------------------------


def test_levels_follow_resolution_and_errors_halve() -> None:
    assert max_level_for(5.0) == 14 and max_level_for(0.5) == 17 and max_level_for(92.66) == 10
    assert level_error(0, 1.0) == pytest.approx(LEVEL0_GEOMETRIC_ERROR)
    assert pytest.approx(77067.34, abs=0.01) == LEVEL0_GEOMETRIC_ERROR  # Cesium's, geographic
    assert all(level_error(z + 1) == pytest.approx(level_error(z) / 2) for z in range(20))


@pytest.mark.parametrize("name", ["mns", "dtm", "srtm"])
def test_layer_json_lists_exactly_the_tiles_written(
    name: str, request: pytest.FixtureRequest
) -> None:
    result, out = request.getfixturevalue(name)
    layer = json.loads((out / "layer.json").read_text())
    assert layer["format"] == "quantized-mesh-1.0" and layer["scheme"] == "tms"
    assert layer["projection"] == "EPSG:4326" and layer["extensions"] == ["octvertexnormals"]
    assert layer["tiles"] == ["{z}/{x}/{y}.terrain?v={version}"] and layer["version"]
    assert layer["minzoom"] == 0 and layer["maxzoom"] == result.max_level
    assert layer["bounds"] == pytest.approx(list(result.bounds_wgs84), abs=1e-8)
    listed = {
        (z, x, y)
        for z, ranges in enumerate(layer["available"])
        for r in ranges
        for x in range(r["startX"], r["endX"] + 1)
        for y in range(r["startY"], r["endY"] + 1)
    }
    assert listed == set(tiles_in(out)) and len(listed) == result.tile_count
    assert {(0, 0, 0), (0, 1, 0)} <= listed  # Cesium needs both level-0 tiles
    for z, x, y in listed:  # every tile's parent is there too
        assert z == 0 or (z - 1, x // 2, y // 2) in listed
    w, s, e, n = result.bounds_wgs84
    deepest = [tile_rectangle(*key) for key in listed if key[0] == result.max_level]
    assert min(r[0] for r in deepest) <= w and max(r[2] for r in deepest) >= e
    assert min(r[1] for r in deepest) <= s and max(r[3] for r in deepest) >= n


def test_result_fields(mns: tuple[TerrainResult, Path]) -> None:
    result, _ = mns
    assert result.source_crs == "EPSG:2154" and result.max_level == 14
    assert result.bounds_source == pytest.approx((299_000, 6_801_000, 300_000, 6_802_000))
    assert result.bounds_wgs84 == pytest.approx((-2.4009, 48.1859, -2.3865, 48.1955), abs=1e-4)
    lo, hi = result.height_range  # 124.2-160.4 m NGF-IGN69 + ~49 m of geoid
    assert 170 < lo < 176 and 206 < hi < 212
    assert "NGF-IGN69" in result.height_note and result.attributes == []


# --- what the tiles say -------------------------------------------------------------------------


def test_byte_layout_follows_the_spec(mns: tuple[TerrainResult, Path]) -> None:
    """One tile read with struct alone, by the quantized-mesh-1.0 layout: 88-byte header,
    vertex count, u/v/height zig-zag deltas, 16-bit high-water-mark indices, four edge lists,
    then extension 1 (oct normals, 2 bytes a vertex) to the end of the file."""
    _, out = mns
    data = next(out.glob("14/*/*.terrain")).read_bytes()
    center = struct.unpack_from("<3d", data, 0)
    assert 6.3e6 < np.linalg.norm(center) < 6.4e6
    lo, hi = struct.unpack_from("<2f", data, 24)
    assert 40 < lo <= hi < 212  # sea level (~49 m here) to the DSM's top
    (n,) = struct.unpack_from("<I", data, 88)
    assert 0 < n <= 65536
    u = np.cumsum([(c >> 1) ^ -(c & 1) for c in struct.unpack_from(f"<{n}H", data, 92)])
    assert u.min() == 0 and u.max() == QUANT_MAX
    at = 92 + 6 * n
    (tris,) = struct.unpack_from("<I", data, at)
    codes = struct.unpack_from(f"<{3 * tris}H", data, at + 4)
    assert codes[:3] == (0, 0, 0)  # the first triangle introduces vertices 0, 1, 2
    at += 4 + 6 * tris
    for _ in range(4):
        (count,) = struct.unpack_from("<I", data, at)
        at += 4 + 2 * count
    ext, length = struct.unpack_from("<BI", data, at)
    assert (ext, length) == (1, 2 * n) and at + 5 + length == len(data)


@pytest.mark.parametrize("name, source", [("mns", MNS), ("dtm", DTM)])
def test_vertex_heights_match_the_dem(
    name: str, source: str, request: pytest.FixtureRequest, shared_data: Path
) -> None:
    """Deepest level: every vertex's height is the DEM's, made ellipsoidal by pyproj."""
    result, out = request.getfixturevalue(name)
    vertical = vertical_of(result.height_note)
    to_l93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    checked = 0
    for key, mesh in tiles_in(out).items():
        if key[0] != result.max_level:
            continue
        lon, lat = node_lonlat(mesh, key)
        x, y = to_l93.transform(lon, lat)
        want = reference_ellipsoidal(
            "EPSG:2154", vertical, x, y, reference_ortho(str(shared_data / source), x, y)
        )
        ok = np.isfinite(want)
        quantum = (mesh.max_height - mesh.min_height) / QUANT_MAX
        assert np.abs(mesh.heights[ok] - want[ok]).max(initial=0) < quantum / 2 + 0.005, key
        checked += ok.sum()
    assert checked > 300


def test_vertex_positions_match_pyproj(mns: tuple[TerrainResult, Path]) -> None:
    """ECEF positions: the closed form used for tiles agrees with pyproj; every vertex (pyproj
    ECEF) lies in the tile's bounding sphere, centred on the header's centre."""
    rng = np.random.default_rng(3)
    lon, lat, h = (
        rng.uniform(-180, 180, 1000),
        rng.uniform(-90, 90, 1000),
        rng.uniform(-500, 9000, 1000),
    )
    assert np.abs(geodetic_to_ecef(lon, lat, h) - pyproj_ecef(lon, lat, h)).max() < 1e-6
    _, out = mns
    for key, mesh in tiles_in(out).items():
        lon, lat = vertex_lonlat(mesh, key)
        p = pyproj_ecef(lon, lat, mesh.heights)
        assert (
            np.linalg.norm(p - mesh.sphere_center, axis=1).max()
            <= mesh.sphere_radius * (1 + 1e-9) + 1e-3
        )
        assert np.allclose(mesh.center, mesh.sphere_center)
        assert mesh.min_height == pytest.approx(mesh.heights.min(), abs=1e-3)
        assert mesh.max_height == pytest.approx(mesh.heights.max(), abs=1e-3)
        corners = set(
            zip(
                mesh.u[mesh.west].tolist() + mesh.u[mesh.east].tolist(),
                mesh.v[mesh.west].tolist() + mesh.v[mesh.east].tolist(),
                strict=True,
            )
        )
        assert {(0, 0), (0, QUANT_MAX), (QUANT_MAX, 0), (QUANT_MAX, QUANT_MAX)} <= corners


def _cesium_sees(point: NDArray, camera: NDArray) -> NDArray[np.bool_]:
    """Cesium's EllipsoidalOccluder.isScaledSpacePointVisible, scaled space, per camera."""
    vt = point[None] - camera
    vt_dot_vc = -np.einsum("ck,ck->c", vt, camera)
    vh2 = np.einsum("ck,ck->c", camera, camera) - 1.0
    occluded = (vt_dot_vc > vh2) & (vt_dot_vc**2 / np.einsum("ck,ck->c", vt, vt) > vh2)
    return ~occluded


def _line_of_sight(points: NDArray, camera: NDArray) -> NDArray[np.bool_]:
    """(cameras, points): the segment camera -> point misses the unit sphere (scaled space)."""
    d = points[None] - camera[:, None]
    t = np.clip(-np.einsum("cpk,ck->cp", d, camera) / np.einsum("cpk,cpk->cp", d, d), 0, 1)
    closest = camera[:, None] + t[..., None] * d
    return np.einsum("cpk,cpk->cp", closest, closest) >= 1.0 - 1e-12


@pytest.mark.parametrize("name", ["mns", "srtm"])
def test_horizon_occlusion_point_never_hides_a_visible_vertex(
    name: str, request: pytest.FixtureRequest
) -> None:
    _, out = request.getfixturevalue(name)
    rng = np.random.default_rng(11)
    for key, mesh in tiles_in(out).items():
        if key[0] == 0:  # a hemisphere: no such point exists; NaN tells Cesium not to cull
            assert np.isnan(mesh.horizon_occlusion_point).all()
            continue
        if mesh.min_height < 0:  # Cesium recomputes the point for tiles under the ellipsoid
            continue
        lon, lat = vertex_lonlat(mesh, key)
        points = pyproj_ecef(lon, lat, mesh.heights) / RADII
        centre = points.mean(0) / np.linalg.norm(points.mean(0))
        # cameras around the tile, from just above the ground to far out, up to 100° away
        axis = rng.normal(size=(300, 3))
        axis -= np.outer(axis @ centre, centre)
        axis /= np.linalg.norm(axis, axis=1, keepdims=True)
        angle = rng.uniform(0, np.radians(100), (300, 1))
        direction = centre * np.cos(angle) + axis * np.sin(angle)
        camera = direction * rng.uniform(1.000001, 3.0, (300, 1))
        sees_any = _line_of_sight(points, camera).any(1)
        assert sees_any.sum() > 30, key
        assert _cesium_sees(mesh.horizon_occlusion_point, camera)[sees_any].all(), key


def test_mesh_error_within_the_level_bound(
    mns: tuple[TerrainResult, Path], shared_data: Path
) -> None:
    """Every triangle of every tile, against every DEM sample of the tile's grid inside it."""
    _, out = mns
    worst = 0.0
    with Dem([shared_data / MNS]) as dem:
        for key, mesh in tiles_in(out).items():
            _, pos, up = tile_grid(dem, key)
            inner = (slice(1, -1), slice(1, -1))
            errors = triangle_errors(mesh, pos[inner], up[inner])
            quantum = (mesh.max_height - mesh.min_height) / QUANT_MAX
            assert errors.max() <= level_error(key[0]) + quantum, key
            worst = max(worst, errors.max() / level_error(key[0]))
    assert worst > 0.5  # the bound is used, not just met by a needlessly dense mesh


def test_srtm_mesh_error_and_triangle_budget(
    srtm: tuple[TerrainResult, Path], shared_data: Path
) -> None:
    _, out = srtm
    with Dem([srtm_name(shared_data)]) as dem:
        for key, mesh in tiles_in(out).items():
            _, pos, up = tile_grid(dem, key)
            inner = (slice(1, -1), slice(1, -1))
            quantum = (mesh.max_height - mesh.min_height) / QUANT_MAX
            assert (
                triangle_errors(mesh, pos[inner], up[inner]).max() <= level_error(key[0]) + quantum
            )
            assert len(mesh.triangles) < 2 * (1 << K) ** 2 // 4, key  # well under the full grid's


@pytest.mark.parametrize("name", ["mns", "srtm"])
def test_edge_lists_are_the_edge_vertices(name: str, request: pytest.FixtureRequest) -> None:
    _, out = request.getfixturevalue(name)
    tiles = tiles_in(out)
    for mesh in tiles.values():
        idx = np.arange(mesh.u.size)
        for edge, on, along in (
            (mesh.west, mesh.u == 0, mesh.v),
            (mesh.south, mesh.v == 0, mesh.u),
            (mesh.east, mesh.u == QUANT_MAX, mesh.v),
            (mesh.north, mesh.v == QUANT_MAX, mesh.u),
        ):
            assert edge.tolist() == idx[on][np.argsort(along[on])].tolist()
        used = np.bincount(mesh.triangles.ravel(), minlength=mesh.u.size)
        assert (used > 0).all()  # no stray vertex
        lon_edge = mesh.u[mesh.triangles]
        lat_edge = mesh.v[mesh.triangles]
        cross = (lon_edge[:, 1] - lon_edge[:, 0]) * (lat_edge[:, 2] - lat_edge[:, 0]) - (
            lat_edge[:, 1] - lat_edge[:, 0]
        ) * (lon_edge[:, 2] - lon_edge[:, 0])
        assert (cross > 0).all()  # counter-clockwise seen from above
    # neighbours agree where both have a vertex on their common edge: no crack
    for (z, x, y), mesh in tiles.items():
        right = tiles.get((z, x + 1, y))
        if right is None:
            continue
        mine = dict(zip(mesh.v[mesh.east].tolist(), mesh.heights[mesh.east], strict=True))
        theirs = dict(zip(right.v[right.west].tolist(), right.heights[right.west], strict=True))
        quantum = (
            max(mesh.max_height - mesh.min_height, right.max_height - right.min_height) / QUANT_MAX
        )
        for v in mine.keys() & theirs.keys():
            assert abs(mine[v] - theirs[v]) <= quantum + 1e-3


@pytest.mark.parametrize("name, source", [("mns", MNS), ("dtm", DTM)])
def test_normals_are_unit_up_and_match_the_dem(
    name: str, source: str, request: pytest.FixtureRequest, shared_data: Path
) -> None:
    """Oct-decoded normals: unit, facing up, and within the encoding's precision (~1°) of the
    DEM's surface normal by central differences (pyproj positions)."""
    result, out = request.getfixturevalue(name)
    lowest = 1.0
    with Dem([shared_data / source]) as dem:
        for key, mesh in tiles_in(out).items():
            if key[0] != result.max_level:
                continue
            covered, pos, up = tile_grid(dem, key)
            col = np.rint(mesh.u * (1 << K) / QUANT_MAX).astype(int) + 1
            row = np.rint(mesh.v * (1 << K) / QUANT_MAX).astype(int) + 1
            east = pos[row, col + 1] - pos[row, col - 1]
            north = pos[row + 1, col] - pos[row - 1, col]
            want = np.cross(east, north)
            want /= np.linalg.norm(want, axis=1, keepdims=True)
            assert mesh.normals is not None
            assert np.abs(np.linalg.norm(mesh.normals, axis=1) - 1).max() < 1e-9
            assert (np.einsum("ik,ik->i", mesh.normals, up[row, col]) > 0).all()
            angle = np.degrees(np.arccos(np.clip(np.einsum("ik,ik->i", mesh.normals, want), -1, 1)))
            assert angle.max() < 1.5, key
            inside = covered[row, col].copy()  # away from the DEM's edge (a cliff to sea level)
            for dr, dc in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                inside &= covered[row + dr, col + dc]
            dots = np.einsum("ik,ik->i", mesh.normals, up[row, col])[inside]
            lowest = min(lowest, dots.min(initial=1.0))
    if name == "dtm":  # a nearly flat 50 m square of ground: no slope over 25°
        assert lowest > 0.9


# --- bad input ----------------------------------------------------------------------------------


def _raster(path: Path, data: NDArray, crs: str | None, nodata: float | None = None) -> Path:
    profile = dict(
        driver="GTiff", width=data.shape[1], height=data.shape[0], count=1, dtype=data.dtype
    )
    with rasterio.open(
        path,
        "w",
        crs=crs,
        nodata=nodata,
        transform=from_origin(299_000, 6_802_000, 5, 5),
        **profile,
    ) as ds:
        ds.write(data, 1)
    return path


def test_bad_inputs_fail_cleanly(tmp_path: Path) -> None:
    cases = [
        (tmp_path / "missing.tif", "no such file"),
        (
            _raster(tmp_path / "nocrs.tif", np.ones((8, 8), np.float32), None),
            "no coordinate reference",
        ),
        (
            _raster(tmp_path / "empty.tif", np.full((8, 8), -9999, np.float32), "EPSG:2154", -9999),
            "every pixel is nodata",
        ),
    ]
    for i, (path, message) in enumerate(cases):
        out = tmp_path / f"out{i}"
        with pytest.raises(DemError, match=message):
            tile_terrain([path], out)
        assert not out.exists()


def test_cancel_removes_what_was_written(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "cancelled"

    def cancel(fraction: float, message: str) -> None:
        if fraction > 0.3:
            raise KeyboardInterrupt("cancelled")

    with pytest.raises(KeyboardInterrupt):
        tile_terrain([shared_data / DTM], out, progress=cancel)
    assert not out.exists()
