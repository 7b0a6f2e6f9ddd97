"""Benchmark: orthophoto to an XYZ WebP pyramid, ours (tiles.imagery) against two baselines.

Why: an orthophoto of a territory is millions of tiles (20 cm over 3,200 km² is ~1 M tiles at
zoom 19); this says how our pyramid compares, on this machine, with
- naive: every tile of every zoom warped straight from the source (our reader: rasterio,
  bilinear at the deepest zoom, average above; GDAL's default block cache), encoded and written
  with our encoder: what building lower zooms from their children and warping by blocks saves;
- gdal2tiles: GDAL's own tool (Debian's gdal-bin, `gdal2tiles.py --xyz -r bilinear
  --tiledriver=WEBP --webp-quality=85 -x --processes=1`), on the same zooms.
Not a test: it asserts nothing and exits 0.

Input: a `--mosaic` x `--mosaic` mirrored mosaic of the IGN 20 cm RGB crop of ../shared/data/ortho
(252 x 252 px, Lambert-93, nodata 255), written as one GeoTIFF into a temporary folder: real
pixels, a larger zone. Every tool runs as a fresh process, `--repeat` times (best time kept);
the time is the whole process (start-up and imports included), the memory its peak RSS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO.parent / "shared" / "data" / "ortho" / "test_data_rgb.tif"
GDAL2TILES = shutil.which("gdal2tiles.py") or shutil.which("gdal2tiles")
SRS = "EPSG:2154"


def build_mosaic(n: int, path: Path) -> Path:
    """n x n mirrored copies of the IGN crop (mirroring keeps edges continuous)."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(SOURCE) as src:
        data, t = src.read(), src.transform
    row = np.concatenate([data if i % 2 == 0 else data[:, :, ::-1] for i in range(n)], axis=2)
    big = np.concatenate([row if j % 2 == 0 else row[:, ::-1, :] for j in range(n)], axis=1)
    profile = {
        "driver": "GTiff",
        "count": 3,
        "height": big.shape[1],
        "width": big.shape[2],
        "dtype": "uint8",
        "crs": SRS,
        "nodata": 255,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "transform": from_origin(t.c, t.f, t.a, -t.e),
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(big)
    return path


def worker_ours(src: Path, out: Path) -> None:
    from tiles.imagery import tile_imagery

    tile_imagery([src], out, srs=SRS)


def worker_naive(src: Path, out: Path) -> None:
    """Every tile of every zoom warped from the source, as a pyramid without reuse would."""
    from rasterio.enums import Resampling
    from rasterio.transform import from_origin

    from geodata.orthophoto import Orthophoto
    from tiles.imagery import (
        FORMAT,
        TILE_SIZE,
        WEB_MERCATOR,
        encode_tile,
        plan_zooms,
        tile_bounds,
        tile_size_m,
    )

    with Orthophoto([src], srs=SRS) as ortho:
        ranges = plan_zooms(ortho)
        for z, (x0, y0, x1, y1) in ranges.items():
            how = Resampling.bilinear if z == max(ranges) else Resampling.average
            px = tile_size_m(z) / TILE_SIZE
            for x in range(x0, x1 + 1):
                for y in range(y0, y1 + 1):
                    west, _, _, north = tile_bounds(z, x, y)
                    grid = from_origin(west, north, px, px)
                    rgba = ortho.read_rgba(WEB_MERCATOR, grid, TILE_SIZE, TILE_SIZE, resampling=how)
                    if rgba is None or not rgba[3].any():
                        continue
                    path = out / str(z) / str(x) / f"{y}.{FORMAT}"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(encode_tile(rgba.transpose(1, 2, 0).copy()))


def _high_water_mb(pid: int) -> float:
    """The process's peak RSS so far (VmHWM: per address space, so not inflated by the parent's
    pages before exec, as ru_maxrss is)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB, sampled at 20 Hz) of a fresh process."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, _high_water_mb(proc.pid))
            time.sleep(0.05)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-1500:]
            raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {tail}")
    return seconds, peak


def run(cmd: list[str], out: Path, repeat: int) -> tuple[float, float, int]:
    """Best wall time over `repeat` runs, the peak RSS of that run, and the tiles written."""
    best: tuple[float, float] | None = None
    for _ in range(repeat):
        shutil.rmtree(out, ignore_errors=True)
        seconds, peak = timed(cmd)
        if best is None or seconds < best[0]:
            best = (seconds, peak)
    return best[0], best[1], sum(1 for _ in out.rglob("*.webp"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mosaic", type=int, default=16, help="n: an n x n mosaic of the crop")
    parser.add_argument("--repeat", type=int, default=2, help="runs per tool (best kept)")
    parser.add_argument("--worker", choices=["ours", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        (worker_ours if args.worker == "ours" else worker_naive)(*args.paths)
        return 0
    if not SOURCE.is_file():
        print(f"input not found: {SOURCE}; nothing to measure")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-imagery-") as tmp:
        tmpdir = Path(tmp)
        src = build_mosaic(args.mosaic, tmpdir / "mosaic.tif")
        from geodata.orthophoto import Orthophoto
        from tiles.imagery import plan_zooms

        with Orthophoto([src], srs=SRS) as ortho:
            zooms = plan_zooms(ortho)
        zmin, zmax = min(zooms), max(zooms)
        side = 252 * args.mosaic
        print(
            f"input: {args.mosaic}x{args.mosaic} mirrored mosaic of the IGN 20 cm crop, "
            f"{side}x{side} px ({side * 0.2:.0f} m square), zooms {zmin}-{zmax}; "
            f"{len(os.sched_getaffinity(0))} CPUs, one process per tool, best of {args.repeat}"
        )
        me = [sys.executable, str(Path(__file__).resolve()), "--worker"]
        tools = {
            "ours": [*me, "ours", str(src), str(tmpdir / "ours")],
            "naive": [*me, "naive", str(src), str(tmpdir / "naive")],
        }
        if GDAL2TILES:
            tools["gdal2tiles"] = [
                *(GDAL2TILES, "--xyz", "-z", f"{zmin}-{zmax}", "-r", "bilinear", "-w", "none"),
                *("--processes=1", "--tiledriver=WEBP", "--webp-quality=85", "-x", "-q"),
                *(str(src), str(tmpdir / "gdal2tiles")),
            ]
        else:
            print("gdal2tiles not found (apt-get install gdal-bin python3-gdal): skipped")
        print(f"{'tool':<11} {'tiles':>6} {'s':>7} {'tiles/s':>8} {'peak MB':>8}")
        rates = {}
        for name, cmd in tools.items():
            try:
                seconds, peak, tiles = run(cmd, tmpdir / name, args.repeat)
            except RuntimeError as exc:
                print(f"{name} failed: {exc}")
                continue
            rates[name] = tiles / seconds
            print(f"{name:<11} {tiles:>6} {seconds:>7.2f} {rates[name]:>8.1f} {peak:>8.0f}")
        print()
        for name, rate in rates.items():
            if name != "ours" and "ours" in rates:
                print(f"ratio ours/{name}: {rates['ours'] / rate:.2f}x tiles/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
