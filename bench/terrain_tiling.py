"""Benchmark: DEM to quantized-mesh terrain tiles, ours (tiles.terrain) against two baselines.

Why: a metropolis-wide DEM (3,200 km² at 5 m: ~4,000 tiles; at 1 m: ~100,000) is tiled at every
import; this says how our throughput compares with the usual ways of doing it, on this machine,
in the same run. Not a test: it asserts nothing and exits 0.

Inputs (real, ../shared/data/dem): the SRTM 1° tile N43E007 (1201², 90 m, Nice and the Alps,
levels 0-10) and the IGN 5 m DSM (200², levels 0-14). What is compared, each over the very same
list of tiles, in this process after one untimed warm-up, best of `--repeat`:

- ours: `tile_terrain` (per tile: DEM window read, 257² grid, geoid, RTIN within the level's
  error bound, normals, encoding, file written);
- regular-grid baseline: the straightforward per-tile script: `rasterio.warp.reproject` of the
  DEM onto a 65 x 65 lon/lat grid, heights made ellipsoidal by pyproj (the same pipeline), the
  full regular mesh (8,192 triangles, no error bound), normals from its faces, our encoder;
- pymartini + quantized-mesh-encoder (optional): the Python "Martini" stack, given our 257²
  grids of ellipsoidal heights for the same tiles (prepared here, not timed) and each level's
  error bound as its max error; it meshes and encodes (with its vertex-normals extension) in
  its own virtualenv's process, so it gets no reading or geoid: a lower bound of its cost. Its
  error metric (height at hypotenuse midpoints) is not ours (exact, every sample, curvature).

    python3 -m venv /tmp/qm-venv
    /tmp/qm-venv/bin/pip install pymartini quantized-mesh-encoder
    .venv/bin/python bench/terrain_tiling.py [--repeat 3] [--martini-python /tmp/qm-venv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.enums import Resampling
from rasterio.transform import from_origin
from rasterio.warp import reproject

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from geodata.crs import ecef_to_lonlat, transformer  # noqa: E402
from geodata.dem import Dem  # noqa: E402
from tiles.terrain import (  # noqa: E402
    TileMesh,
    encode_tile,
    geodetic_to_ecef,
    level_error,
    max_level_for,
    mesh_tile,
    tile_ranges,
    tile_rectangle,
    tile_terrain,
)

DEM_DIR = REPO.parent / "shared" / "data" / "dem"
INPUTS = {
    "SRTM 90 m": f"/vsizip/{DEM_DIR / 'N43E007.hgt.zip'}/N43E007.hgt",
    "IGN 5 m": str(DEM_DIR / "test_mns_hydro_2023_0299_6802_LA93_IGN69_5m.tif"),
}
DEFAULT_MARTINI = Path("/tmp/qm-venv/bin/python")
Key = tuple[int, int, int]
T = TypeVar("T")

MARTINI = """
import io, json, sys, time
import numpy as np
from pymartini import Martini, rescale_positions
from quantized_mesh_encoder import VertexNormalsExtension, encode
data = np.load(sys.argv[1])
grids, rects, errors = data["grids"], data["rects"], data["errors"]
martini = Martini(grids.shape[1])
best, triangles = float("inf"), 0
for _ in range(int(sys.argv[2]) + 1):  # the first pass is the warm-up
    start, triangles = time.perf_counter(), 0
    for grid, rect, err in zip(grids, rects, errors):
        terrain = np.ascontiguousarray(grid[::-1])  # Martini rows run north to south
        vertices, indices = martini.create_tile(terrain).get_mesh(float(err))
        positions = rescale_positions(vertices, terrain, bounds=tuple(rect), flip_y=True)
        buf = io.BytesIO()
        encode(buf, positions, indices, bounds=tuple(rect),
               extensions=[VertexNormalsExtension(positions=positions, indices=indices)])
        triangles += indices.size // 3
    best = min(best, time.perf_counter() - start)
print(json.dumps({"seconds": best, "triangles": triangles}))
"""


def tile_keys(dem: Dem) -> list[Key]:
    level = max_level_for(dem.resolution_m)
    ranges = tile_ranges(dem.bounds_wgs84, level)
    return [
        (z, x, y)
        for z, (x0, y0, x1, y1) in enumerate(ranges)
        for x in range(x0, x1 + 1)
        for y in range(y0, y1 + 1)
    ]


def best_of(repeat: int, run: Callable[[], T]) -> tuple[float, T]:
    """Seconds of the fastest of `repeat` runs after an untimed one, and its result."""
    result = run()  # warm-up: numba's compiled code loaded, GDAL's block cache filled
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


# --- the regular-grid baseline ------------------------------------------------------------------


def _regular_mesh(size: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Counter-clockwise triangles of a full size x size grid (vertex = row * size + col), and
    the vertices in order of first use (what the encoder's index coding needs)."""
    rows, cols = np.mgrid[0 : size - 1, 0 : size - 1]
    a = (rows * size + cols).ravel()
    b, c, d = a + 1, a + size + 1, a + size
    tris = np.stack([np.c_[a, b, c], np.c_[a, c, d]], axis=1).reshape(-1, 3)
    ids, first = np.unique(tris.ravel(), return_index=True)
    return tris, ids[np.argsort(first)]


def regular_tiles(path: str, keys: list[Key], out: Path, size: int = 65) -> int:
    """The straightforward per-tile version; returns its triangle count."""
    tris, order = _regular_mesh(size)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    nodes = np.c_[order % size, order // size].astype(np.int32)
    with Dem([path]) as dem, rasterio.open(path) as src:
        to_source = transformer("EPSG:4326", dem.crs.to_wkt())
        for z, x, y in keys:
            w, s, e, n = tile_rectangle(z, x, y)
            dx, dy = (e - w) / (size - 1), (n - s) / (size - 1)
            grid = np.full((size, size), np.nan, np.float64)
            reproject(
                rasterio.band(src, 1),
                grid,
                dst_transform=from_origin(w - dx / 2, n + dy / 2, dx, dy),
                dst_crs="EPSG:4326",
                dst_nodata=np.nan,
                resampling=Resampling.bilinear,
            )
            lon, lat = (
                a.ravel() for a in np.meshgrid(np.linspace(w, e, size), np.linspace(s, n, size))
            )
            z_src = np.nan_to_num(grid[::-1].ravel())  # rows south to north; no data: 0
            h = ecef_to_lonlat(dem.pipeline.to_ecef(*to_source.transform(lon, lat), z_src))[:, 2]
            h = np.nan_to_num(h)  # outside the source CRS's domain (level 0): the ellipsoid
            pos = geodetic_to_ecef(lon, lat, h)
            normals = _vertex_normals(pos, tris, pos / np.linalg.norm(pos, axis=1, keepdims=True))
            mesh = TileMesh(size - 1, nodes, h[order], normals[order], rank[tris].astype(np.int32))
            folder = out / str(z) / str(x)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{y}.terrain").write_bytes(encode_tile(mesh, (w, s, e, n)))
    return len(keys) * len(tris)


def _vertex_normals(pos: NDArray, tris: NDArray, up: NDArray) -> NDArray[np.float64]:
    """Area-weighted vertex normals from the faces."""
    face = np.cross(pos[tris[:, 1]] - pos[tris[:, 0]], pos[tris[:, 2]] - pos[tris[:, 0]])
    acc = np.zeros_like(pos)
    for k in range(3):
        np.add.at(acc, tris[:, k], face)
    length = np.linalg.norm(acc, axis=1, keepdims=True)
    return np.where(length > 0, acc / np.where(length > 0, length, 1), up)


# --- pymartini + quantized-mesh-encoder ----------------------------------------------------------


def martini_inputs(path: str, keys: list[Key], npz: Path) -> None:
    """Our 257² grids of ellipsoidal heights for every tile, and each level's error bound."""
    with Dem([path]) as dem:
        grids = np.stack([dem.grid(tile_rectangle(*k), 257).heights for k in keys])
    rects = np.array([tile_rectangle(*k) for k in keys])
    errors = np.array([level_error(k[0]) for k in keys])
    np.savez(npz, grids=grids.astype(np.float32), rects=rects, errors=errors)


def run_martini(python: Path, npz: Path, repeat: int) -> dict[str, float]:
    done = subprocess.run(
        [str(python), "-c", MARTINI, str(npz), str(repeat)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-1500:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def martini_problem(python: Path) -> str | None:
    if not python.is_file():
        return (
            f"no Python at {python}: python3 -m venv /tmp/qm-venv && "
            "/tmp/qm-venv/bin/pip install pymartini quantized-mesh-encoder"
        )
    check = [str(python), "-c", "import pymartini, quantized_mesh_encoder"]
    if subprocess.run(check, capture_output=True, timeout=120).returncode != 0:
        return f"{python} cannot import pymartini and quantized_mesh_encoder"
    return None


def ours_mesh_only(path: str, keys: list[Key], repeat: int) -> float:
    """Our meshing + normals + encoding alone, on grids sampled beforehand (what the Martini
    stack is timed on)."""
    with Dem([path]) as dem:
        grids = [dem.grid(tile_rectangle(*k), 257, margin=1) for k in keys]

    def run() -> int:
        for k, grid in zip(keys, grids, strict=True):
            encode_tile(mesh_tile(grid, level_error(k[0])), tile_rectangle(*k))
        return 0

    return best_of(repeat, run)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--martini-python", type=Path, default=DEFAULT_MARTINI)
    args = parser.parse_args()
    missing = [p for p in (DEM_DIR / "N43E007.hgt.zip",) if not p.is_file()]
    if missing:
        print(f"input not found: {missing[0]}; nothing to measure")
        return 0
    problem = martini_problem(args.martini_python)
    if problem:
        print(f"pymartini baseline unavailable: {problem}; measuring the other two")
    print(f"best of {args.repeat} after a warm-up, one process, same tiles for every tool")
    print(f"{'input':<10} {'tool':<34} {'tiles':>6} {'s':>7} {'tiles/s':>8} {'triangles':>10}")
    ratios = []
    with tempfile.TemporaryDirectory(prefix="bench-terrain-") as tmp:
        tmpdir = Path(tmp)
        for label, path in INPUTS.items():
            with Dem([path]) as dem:
                keys = tile_keys(dem)
            n = len(keys)
            ours_s, ours_result = best_of(
                args.repeat, lambda p=path: tile_terrain([p], tmpdir / "ours")
            )
            tris = ours_result.triangle_count
            print(
                f"{label:<10} {'ours (tile_terrain, RTIN 257²)':<34} {n:>6} {ours_s:>7.2f} "
                f"{n / ours_s:>8.1f} {tris:>10,}"
            )
            base_s, base_tris = best_of(
                args.repeat, lambda p=path, k=keys: regular_tiles(p, k, tmpdir / "regular")
            )
            print(
                f"{'':<10} {'regular 65² grid (rasterio+pyproj)':<34} {n:>6} {base_s:>7.2f} "
                f"{n / base_s:>8.1f} {base_tris:>10,}"
            )
            ratios.append((label, "the regular-grid script", base_s / ours_s))
            if problem:
                continue
            npz = tmpdir / "grids.npz"
            martini_inputs(path, keys, npz)
            try:
                theirs = run_martini(args.martini_python, npz, args.repeat)
            except (RuntimeError, subprocess.SubprocessError) as exc:
                print(f"pymartini failed: {exc}")
                problem = str(exc)
                continue
            mine = ours_mesh_only(path, keys, args.repeat)
            print(
                f"{'':<10} {'pymartini+qm-encoder: mesh+encode':<34} {n:>6} "
                f"{theirs['seconds']:>7.2f} {n / theirs['seconds']:>8.1f} "
                f"{int(theirs['triangles']):>10,}"
            )
            print(
                f"{'':<10} {'ours: mesh+normals+encode':<34} {n:>6} {mine:>7.2f} "
                f"{n / mine:>8.1f} {tris:>10,}"
            )
            ratios.append((label, "pymartini+encoder (mesh+encode)", theirs["seconds"] / mine))
    print()
    for label, what, ratio in ratios:
        print(f"ratio {label}: ours {ratio:.2f}x {what}'s tiles/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
