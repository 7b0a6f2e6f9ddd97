"""Benchmark: building footprints to 3D Tiles, ours (tiles.buildings) against baselines, same run.

Why: a metropolis has about a million buildings; this says how fast footprints become extruded,
attributed glTF tiles, against the way such converters are usually written.

Inputs: the real BDNB layers of ../shared/data/vector: Périgueux (10,381 buildings) and Paris 11e
(5,227), both with hauteur + altitude_s. Each converter runs `--repeat` times (best time kept),
in this process, after one untimed warm-up (imports, PROJ grid opened).

- ours: tiles.buildings.tile_vector_layer (batched pyogrio reads, vectorised extrusion, fanned or
  earcut roofs, quadtree tiling, one GLB per leaf with its property table);
- per-feature: the straightforward script, same reader and same output (one GLB via the same
  writer), but the geometry is built feature by feature: shapely orient, one pyproj call per
  feature, a Python loop over the edges for walls, earcut per polygon for roofs;
- py3dtiles (optional): py3dtiles' `export.wkbs_to_tileset` (its PostGIS export, b3dm 1.0 tiles)
  fed with the same buildings already extruded as 3D MultiPolygon WKB (the step PostGIS's
  ST_Extrude would do, done here and not timed). It runs in its own virtualenv (it pins other
  numpy/pyproj versions), timed inside that process; so it gets no reading, reprojection or
  extrusion, and writes no attributes but an id: a lower bound of its cost.

    python3 -m venv /tmp/py3dtiles-venv && /tmp/py3dtiles-venv/bin/pip install py3dtiles
    .venv/bin/python bench/vector_tiling.py [--repeat 3] [--py3dtiles-python PATH]

Not a test: it asserts nothing and exits 0.
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

VECTOR = REPO.parent / "shared" / "data" / "vector"
LAYERS = {
    "Périgueux": VECTOR / "perigueux_bdnb" / "bdnb_perigeux8.shp",
    "Paris 11e": VECTOR / "paris11_bdnb" / "paris11_bdnb.shp",
}
DEFAULT_PY3DTILES = Path("/tmp/py3dtiles-venv/bin/python")

PY3DTILES_RUN = """
import pickle, sys, time
from pathlib import Path
import numpy as np
from py3dtiles.export import wkbs_to_tileset
wkbs, ids, out = pickle.load(open(sys.argv[1], "rb"))
import contextlib, io
start = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    wkbs_to_tileset(wkbs, ids, np.identity(4).ravel(), Path(out))
print(time.perf_counter() - start)
"""


def per_feature(path: Path, out: Path) -> int:
    """The straightforward converter: whole file in memory, one feature at a time."""
    import numpy as np
    import pyogrio
    import shapely
    from mapbox_earcut import triangulate_float64
    from shapely.geometry.polygon import orient

    from geodata.crs import ecef_to_local_matrix, enu_to_ecef_matrix, pipeline_transformer
    from geodata.vector import Column, open_vector
    from tiles.buildings import _make_frame, _Piece, write_buildings_glb

    src = open_vector(path)
    meta, _, wkb, values = pyogrio.raw.read(path)
    names = [str(n) for n in meta["fields"]]
    cols = dict(zip(names, values, strict=True))
    geoms = shapely.from_wkb(wkb)
    frame, lonlat = _make_frame(src.crs, tuple(shapely.total_bounds(geoms)))
    enu = enu_to_ecef_matrix((lonlat[0] + lonlat[2]) / 2, (lonlat[1] + lonlat[3]) / 2, 0.0)
    inv = ecef_to_local_matrix(enu)
    t = pipeline_transformer(frame.definition)
    positions, normals, triangles, fids = [], [], [], []
    count = used = 0  # buildings, vertices so far
    for i, geom in enumerate(geoms):
        if geom is None or geom.is_empty:
            continue
        ground = float(cols["altitude_s"][i])
        ground = ground if np.isfinite(ground) else 0.0
        top = ground + float(cols["hauteur"][i])
        for poly in getattr(geom, "geoms", [geom]):
            poly = orient(poly, 1.0)
            rings = [np.asarray(r.coords)[:-1] for r in (poly.exterior, *poly.interiors)]
            xy = np.vstack(rings)
            z = np.r_[np.full(len(xy), ground), np.full(len(xy), top)]
            e = np.stack(t.transform(np.r_[xy[:, 0], xy[:, 0]], np.r_[xy[:, 1], xy[:, 1]], z), 1)
            local = e @ inv[:3, :3].T + inv[:3, 3]
            bottom, upper = local[: len(xy)], local[len(xy) :]
            start = 0
            for ring in rings:
                n = len(ring)
                for k in range(n):
                    a, b = start + k, start + (k + 1) % n
                    quad = [bottom[a], bottom[b], upper[b], upper[a]]
                    normal = np.cross(quad[1] - quad[0], quad[3] - quad[0])
                    normal /= max(float(np.linalg.norm(normal)), 1e-12)
                    positions.append(np.array(quad))
                    normals.append(np.tile(normal, (4, 1)))
                    triangles.append(np.array([[0, 1, 2], [0, 2, 3]]) + used)
                    fids.append(np.full(4, count))
                    used += 4
                start += n
            ends = np.cumsum([len(r) for r in rings]).astype(np.uint32)
            roof = triangulate_float64(upper[:, :2], ends).reshape(-1, 3)
            positions.append(upper)
            normals.append(np.tile([0.0, 0.0, 1.0], (len(upper), 1)))
            triangles.append(roof.astype(np.int64) + used)
            fids.append(np.full(len(upper), count))
            used += len(upper)
        count += 1
    keep = np.array([g is not None and not g.is_empty for g in geoms])
    columns = {}
    for f in src.fields:
        v = np.asarray(cols[f.name])[keep]
        null = np.array([x is None for x in v]) if v.dtype == object else ~np.isfinite(v)
        columns[f.name] = Column(np.where(null, 0, v) if v.dtype != object else v, null)
    piece = _Piece(
        np.concatenate(positions),
        np.concatenate(normals).astype(np.float32),
        np.concatenate(triangles),
        np.concatenate(fids),
        count,
        columns,
    )
    out.mkdir(parents=True, exist_ok=True)
    write_buildings_glb(out / "all.glb", [piece], [(f.name, f.type) for f in src.fields])
    return count


def ours(path: Path, out: Path) -> int:
    from tiles.buildings import tile_vector_layer

    return tile_vector_layer([path], out).feature_count


def best_of(fn: Callable[[Path, Path], int], path: Path, repeat: int) -> tuple[float, int]:
    best, count = float("inf"), 0
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            count = fn(path, Path(tmp) / "out")
            best = min(best, time.perf_counter() - start)
    return best, count


def extruded_wkbs(path: Path) -> tuple[list[bytes], list[str]]:
    """Each building as a 3D MultiPolygon (wall quads, roof triangles) in local metres."""
    import numpy as np
    import shapely

    from geodata.vector import open_vector, read_batches
    from tiles.buildings import _Frame, _make_frame, extrude

    src = open_vector(path)
    batch = next(read_batches(src, batch_size=10**9))
    frame: _Frame = _make_frame(src.crs, tuple(shapely.total_bounds(batch.geometries)))[0]
    ground = np.nan_to_num(batch.columns["altitude_s"].values)
    top = ground + batch.columns["hauteur"].values
    mesh = extrude(batch.geometries, ground, top, frame.to_local)
    # per building: its 4 vertices per wall quad come first, then its roof vertices
    roof_start = int(np.flatnonzero(np.diff(mesh.normal[:, 2] > 0.99, prepend=False))[-1])
    wkbs, ids = [], []
    wall_feature = mesh.feature[:roof_start:4]
    tri_feature = mesh.feature[mesh.triangles[:, 0]]
    is_roof = mesh.triangles[:, 0] >= roof_start
    order = np.argsort(tri_feature[is_roof], kind="stable")  # fans first, then earcut's
    roof_tris = mesh.triangles[is_roof][order]
    roof_feature = tri_feature[is_roof][order]
    quads = mesh.position[:roof_start].reshape(-1, 4, 3)
    walls_of = np.split(quads, np.searchsorted(wall_feature, np.arange(1, batch.count)))
    roofs_of = np.split(roof_tris, np.searchsorted(roof_feature, np.arange(1, batch.count)))
    # py3dtiles indexes a building's distinct vertices with uint8: at most 255 (bottom + top)
    ring_vertices = np.bincount(mesh.feature[roof_start:], minlength=batch.count)
    for i in range(batch.count):
        if 2 * ring_vertices[i] > 255:
            continue
        faces = [*shapely.polygons(walls_of[i]), *shapely.polygons(mesh.position[roofs_of[i]])]
        multi = shapely.MultiPolygon(faces)
        wkbs.append(shapely.to_wkb(multi, output_dimension=3, flavor="iso"))
        ids.append(str(batch.columns["batiment_c"].values[i]))
    return wkbs, ids


def run_py3dtiles(python: Path, path: Path, repeat: int) -> tuple[float, int] | None:
    """py3dtiles' seconds (best of `repeat`) and the number of buildings it was given."""
    wkbs, ids = extruded_wkbs(path)
    best = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "in.pkl"
        for _ in range(repeat):
            out = Path(tmp) / "out"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            data.write_bytes(pickle.dumps((wkbs, ids, str(out))))
            proc = subprocess.run(
                [str(python), "-c", PY3DTILES_RUN, str(data)],
                capture_output=True,
                text=True,
                check=False,
                timeout=1800,
            )
            if proc.returncode != 0:
                print(f"  py3dtiles failed: {proc.stderr.strip().splitlines()[-1:]}")
                return None
            best = min(best, float(proc.stdout.strip().splitlines()[-1]))
    return best, len(wkbs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per converter (best kept)")
    parser.add_argument(
        "--py3dtiles-python",
        type=Path,
        default=DEFAULT_PY3DTILES,
        help="python of a virtualenv with py3dtiles (skipped when absent)",
    )
    args = parser.parse_args()
    missing = [str(p) for p in LAYERS.values() if not p.is_file()]
    if missing:
        print(f"test data not found ({', '.join(missing)}): nothing to measure")
        return 0
    py3dtiles = args.py3dtiles_python
    has_py3dtiles = py3dtiles.is_file() and (
        subprocess.run(
            [str(py3dtiles), "-c", "import py3dtiles.export"], capture_output=True
        ).returncode
        == 0
    )
    if not has_py3dtiles:
        print(f"py3dtiles not found at {py3dtiles}: that baseline is skipped (see --help)")
    rows = []
    for name, path in LAYERS.items():
        ours(path, Path(tempfile.mkdtemp()) / "warm")  # imports, PROJ grids, caches
        t_ours, n = best_of(ours, path, args.repeat)
        t_naive, n_naive = best_of(per_feature, path, args.repeat)
        t_py3d = run_py3dtiles(py3dtiles, path, 1) if has_py3dtiles else None  # slow: once
        rows.append((name, n, t_ours, n_naive, t_naive, t_py3d))
    print(f"\n{'layer':<11} {'converter':<26} {'buildings':>9} {'s':>7} {'buildings/s':>11}  ratio")
    for name, n, t_ours, n_naive, t_naive, t_py3d in rows:
        print(
            f"{name:<11} {'ours (tiles.buildings)':<26} {n:>9} {t_ours:>7.2f} {n / t_ours:>11.0f}"
        )
        print(
            f"{'':<11} {'per-feature baseline':<26} {n_naive:>9} {t_naive:>7.2f} "
            f"{n_naive / t_naive:>11.0f}  ours {t_naive / t_ours:.1f}x faster"
        )
        if t_py3d is not None:
            seconds, given = t_py3d
            ratio = (given / seconds) and (n / t_ours) / (given / seconds)
            print(
                f"{'':<11} {'py3dtiles wkbs_to_tileset':<26} {given:>9} {seconds:>7.2f} "
                f"{given / seconds:>11.0f}  ours {ratio:.1f}x faster (buildings/s)"
            )
    if any(r[5] is not None and r[5][1] < r[1] for r in rows):
        print(
            "py3dtiles gets only the buildings of at most 127 footprint vertices (it indexes a "
            "building's vertices with uint8), already extruded; it runs once per layer."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
