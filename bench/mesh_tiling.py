"""Benchmark: textured photogrammetry mesh to 3D Tiles, ours (tiles.mesh) against a naive
single-tile conversion, same input, same run.

Why: the issue's complaint about existing tools is memory (Obj2Tiles took 60 GB for a 470 MB OBJ)
and lost textures; this says what our level-of-detail tiler costs in time and peak memory
relative to the least any converter must do. Not a test: it asserts nothing and exits 0.

Input: no real textured photogrammetry mesh is available, so one is built from real data, as a
photogrammetry export would be delivered: the 0.5 m DSM of ../shared/data/dem (Montpellier,
50 x 50 m) as a grid mesh, densified `--densify` times (bilinear), textured with the 20 cm
orthophoto of the same footprint, written as OBJ + MTL + JPEG + metadata.xml, then `--mosaic` x
`--mosaic` copies shifted by 50 m east/north (one OBJ per copy: one zone, many files; the copies
are the same surface, shifted, which the script says when it prints).

- ours: `tile_mesh(files, out)`: quadtree, quadric simplification per level, texture atlases
  halved per level, one glb per tile;
- baseline: trimesh reads the same files, pyproj moves every vertex to a local ENU frame, and
  trimesh writes everything as one glb under a one-tile tileset.json (no LOD, textures as they
  are): what a naive script does, and all any converter must do at least.
Each runs as a fresh process (imports included), `--repeat` times (best kept); peak memory is the
process's own maximum resident set. Then, on the mosaic's first file, the two quadric
simplifiers the tiler could use (fast-simplification, pyfqmr) reduce it to 1/4.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data"
DSM = DATA / "dem" / "DSM_test_data_77055_627760_LA93_IGN69_50CM.tif"
ORTHO = DATA / "ortho" / "test_data_rgb.tif"
ORIGIN = (770000.0, 6277000.0, 0.0)
STEP = 50.0  # m between copies: the footprint of the DSM

OURS = """
import json, resource, sys
from pathlib import Path
from tiles.mesh import tile_mesh
args = json.loads(sys.argv[1])
r = tile_mesh([Path(p) for p in args["files"]], Path(args["out"]))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"triangles": r.triangle_count, "tiles": r.tile_count, "peak_mb": peak}))
"""

NAIVE = """
import json, resource, sys
from pathlib import Path
import numpy as np
import trimesh
from geodata.crs import ecef_pipeline, ecef_to_lonlat, enu_to_ecef_matrix, ecef_to_local_matrix
args = json.loads(sys.argv[1])
pipe = ecef_pipeline("EPSG:2154")
origin = np.asarray(args["origin"])
meshes = [trimesh.load(p, process=False, force="mesh") for p in args["files"]]
allv = np.concatenate([m.vertices for m in meshes]) + origin
centre = pipe.to_ecef(*((allv.min(0) + allv.max(0)) / 2)[:, None])
enu = enu_to_ecef_matrix(*ecef_to_lonlat(centre)[0])
inv = ecef_to_local_matrix(enu)
scene = trimesh.Scene()
for m in meshes:
    local = pipe.to_ecef(*(m.vertices + origin).T) @ inv[:3, :3].T + inv[:3, 3]
    m.vertices = np.stack([local[:, 0], local[:, 2], -local[:, 1]], axis=1)  # glTF y-up
    scene.add_geometry(m)
out = Path(args["out"])
out.mkdir(parents=True, exist_ok=True)
scene.export(out / "all.glb")
lo, hi = local.min(0), local.max(0)
box = [*((lo + hi) / 2), (hi - lo)[0] / 2, 0, 0, 0, (hi - lo)[1] / 2, 0, 0, 0, (hi - lo)[2] / 2]
root = {"boundingVolume": {"box": box}, "geometricError": 0, "content": {"uri": "all.glb"},
        "refine": "REPLACE", "transform": list(enu.T.ravel())}
(out / "tileset.json").write_text(json.dumps({"asset": {"version": "1.1"}, "geometricError": 1,
                                              "root": root}))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"triangles": int(sum(len(m.faces) for m in meshes)), "tiles": 1,
                  "peak_mb": peak}))
"""


def build_zone(folder: Path, mosaic: int, densify: int) -> list[Path]:
    """The DSM grid (densified) textured by the ortho, as `mosaic`² shifted OBJ files."""
    import numpy as np
    import rasterio
    from PIL import Image

    with rasterio.open(DSM) as src:
        z = src.read(1).astype(np.float64)
        t, nodata = src.transform, src.nodata
    z[z == nodata] = np.nanmin(np.where(z == nodata, np.nan, z))
    n = (z.shape[0] - 1) * densify + 1
    f = np.linspace(0, z.shape[0] - 1, n)
    i0 = np.minimum(f.astype(int), z.shape[0] - 2)
    w = f - i0
    rows = z[i0] * (1 - w)[:, None] + z[i0 + 1] * w[:, None]  # bilinear, rows then columns
    grid = rows[:, i0] * (1 - w)[None, :] + rows[:, i0 + 1] * w[None, :]
    x = t.c + (f + 0.5) * t.a
    y = t.f + (f + 0.5) * t.e
    xx, yy = np.meshgrid(x, y)
    with rasterio.open(ORTHO) as src:
        left, bottom, right, top = src.bounds
        image = Image.fromarray(np.moveaxis(src.read(), 0, -1))
    uv = np.column_stack(
        [((xx - left) / (right - left)).ravel(), ((yy - bottom) / (top - bottom)).ravel()]
    )
    ids = np.arange(n * n).reshape(n, n)
    a, b, c, d = (ids[:-1, :-1].ravel(), ids[:-1, 1:].ravel(), ids[1:, :-1].ravel(),
                  ids[1:, 1:].ravel())  # fmt: skip
    faces = np.concatenate([np.column_stack([a, c, b]), np.column_stack([b, c, d])]) + 1
    vt = "".join(f"vt {u:.6f} {v:.6f}\n" for u, v in uv)
    fl = "".join(f"f {p}/{p} {q}/{q} {r}/{r}\n" for p, q, r in faces)
    (folder / "metadata.xml").write_text(
        "<ModelMetadata><SRS>EPSG:2154</SRS>"
        f"<SRSOrigin>{ORIGIN[0]},{ORIGIN[1]},{ORIGIN[2]}</SRSOrigin></ModelMetadata>"
    )
    files = []
    for i in range(mosaic):
        for j in range(mosaic):
            name = f"tile_{i}_{j}"
            image.save(folder / f"{name}.jpg", quality=92)
            (folder / f"{name}.mtl").write_text(f"newmtl m\nmap_Kd {name}.jpg\n")
            vx = xx.ravel() + i * STEP - ORIGIN[0]
            vy = yy.ravel() + j * STEP - ORIGIN[1]
            v = "".join(
                f"v {p:.3f} {q:.3f} {r:.3f}\n" for p, q, r in zip(vx, vy, grid.ravel(), strict=True)
            )
            path = folder / f"{name}.obj"
            path.write_text(f"mtllib {name}.mtl\n{v}{vt}usemtl m\n{fl}")
            files.append(path)
    return files


def run(script: str, files: list[Path], out: Path) -> tuple[float, dict]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    arg = json.dumps({"files": [str(p) for p in files], "out": str(out), "origin": ORIGIN})
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", script, arg], capture_output=True, text=True, env=env, check=False
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-1500:])
    return seconds, json.loads(proc.stdout.strip().splitlines()[-1])


def simplifiers(path: Path, repeat: int = 3) -> list[tuple[str, float, int]]:
    """(name, best seconds, triangles) of each quadric simplifier reducing one file to 1/4,
    texture seams welded and borders locked, as the tiler calls it; pyfqmr only if installed."""
    import fast_simplification
    import numpy as np
    import trimesh

    mesh = trimesh.load(path, process=False, force="mesh")
    v = np.asarray(mesh.vertices)
    _, inverse = np.unique(v, axis=0, return_inverse=True)
    f = inverse.ravel()[np.asarray(mesh.faces)]
    target = len(f) // 4

    def fast() -> int:
        _, faces, _ = fast_simplification.simplify(
            v, f, target_count=target, preserve_border=True, return_collapses=True
        )
        return len(faces)

    tools = [("fast-simplification", fast)]
    try:
        import pyfqmr

        def fqmr() -> int:
            s = pyfqmr.Simplify()
            s.setMesh(v, f.astype(np.int32))
            s.simplify_mesh(target_count=target, preserve_border=True, verbose=False)
            return len(s.getMesh()[1])

        tools.append(("pyfqmr", fqmr))
    except ImportError:
        pass
    rows = []
    for name, fn in tools:
        fn()  # warm-up
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            count = fn()
            times.append(time.perf_counter() - start)
        rows.append((name, min(times), count))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mosaic", type=int, default=4, help="n: n x n shifted copies")
    parser.add_argument("--densify", type=int, default=2, help="grid refinement of the DSM")
    parser.add_argument("--repeat", type=int, default=2, help="runs per tool (best kept)")
    args = parser.parse_args()
    if not (DSM.is_file() and ORTHO.is_file()):
        print(f"input not found ({DSM}, {ORTHO}); nothing to measure")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-mesh-") as tmp:
        zone = Path(tmp) / "zone"
        zone.mkdir()
        start = time.perf_counter()
        files = build_zone(zone, args.mosaic, args.densify)
        size = sum(p.stat().st_size for p in zone.iterdir()) / 2**20
        print(
            f"{len(files)} OBJ files (copies of one 50 m DSM+ortho tile, densified x"
            f"{args.densify}, shifted by 50 m; {size:.0f} MB with textures), built in "
            f"{time.perf_counter() - start:.1f} s; best of {args.repeat} runs, each a fresh process"
        )
        print(f"{'tool':<10} {'triangles':>10} {'tiles':>6} {'s':>7} {'tri/s':>10} {'peak MB':>8}")
        results = {}
        for name, script in (("ours", OURS), ("naive", NAIVE)):
            try:
                runs = [run(script, files, Path(tmp) / name) for _ in range(args.repeat)]
            except RuntimeError as exc:
                print(f"{name} failed: {exc}")
                continue
            seconds, info = min(runs, key=lambda r: r[0])
            results[name] = (seconds, info)
            tri = info["triangles"]
            print(
                f"{name:<10} {tri:>10,} {info['tiles']:>6} {seconds:>7.2f} "
                f"{tri / seconds:>10,.0f} {info['peak_mb']:>8,.0f}"
            )
        if len(results) == 2:
            (so, io), (sn, inv) = results["ours"], results["naive"]
            print(
                f"\nratio ours/naive: triangles/s {sn / so:.2f}x, "
                f"peak memory {io['peak_mb'] / inv['peak_mb']:.2f}x"
            )
        print(f"\nquadric simplifiers, {files[0].name} to 1/4 (best of 3, borders locked):")
        for name, seconds, count in simplifiers(files[0]):
            print(f"  {name:<20} {seconds * 1000:>8.1f} ms  {count:>8,} triangles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
