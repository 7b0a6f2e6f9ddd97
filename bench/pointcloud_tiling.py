"""Benchmark: LAS/LAZ to 3D Tiles, ours (tiles.pointcloud) against py3dtiles' `convert`, same input.

Why: tiling LiDAR is the heaviest import of a territory (LiDAR HD is ~10-40 M points per km²);
this says how our throughput compares with the reference open-source tool, on this machine.
Not a test: it asserts nothing and exits 0.

Inputs: the IGN LiDAR HD 1 km tile of ../shared/data/pointcloud (289,055 points), then a mosaic
of `--mosaic` x `--mosaic` copies of it, each shifted by 1 km east/north (so it is a contiguous
zone of real data, written as LAZ files into a temporary folder; the copies are the same points,
shifted, which the benchmark says when it prints).

Both tools run as fresh processes (interpreter start-up and imports included), `--repeat` times
each (best time kept). Workers: py3dtiles gets all CPUs; ours uses its default (all CPUs from
2 M points, one process below, where spawning workers costs more than it saves); `--jobs N`
gives both exactly N.
py3dtiles must live in its own virtualenv, since it pins other numpy/pyproj versions:

    python3 -m venv /tmp/py3dtiles-venv
    /tmp/py3dtiles-venv/bin/pip install py3dtiles 'laspy[lazrs]'
    .venv/bin/python bench/pointcloud_tiling.py [--py3dtiles /tmp/py3dtiles-venv/bin/py3dtiles]

What each does is not identical: ours applies the EGM96/RAF geoid and writes intensity,
classification and return numbers as metadata; py3dtiles is run with `--srs_out 4978` (no geoid)
and `--extra-fields classification,intensity`, spec 1.1 (glb content), so the work is close.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO.parent / "shared" / "data" / "pointcloud" / "test_semis_2023_0292_6833_LA93_IGN69.laz"
DEFAULT_PY3DTILES = Path("/tmp/py3dtiles-venv/bin/py3dtiles")

OURS = """
import json, sys, time
from pathlib import Path
from tiles.pointcloud import TilingOptions, tile_point_cloud
args = json.loads(sys.argv[1])
r = tile_point_cloud([Path(p) for p in args["sources"]], Path(args["out"]),
                     options=TilingOptions(workers=args["jobs"]))
print(json.dumps({"points": r.point_count, "tiles": r.tile_count}))
"""


def build_mosaic(n: int, folder: Path) -> list[Path]:
    """n x n copies of the 1 km tile, shifted by whole kilometres, as LAZ files."""
    import laspy
    import numpy as np

    las = laspy.read(SOURCE)
    big_x, big_y = np.asarray(las.X, np.int64), np.asarray(las.Y, np.int64)  # scaled integers
    km_x, km_y = (round(1000.0 / s) for s in las.header.scales[:2])
    paths = []
    for i in range(n):
        for j in range(n):
            copy = laspy.LasData(las.header)
            copy.points = las.points.copy()
            copy.X, copy.Y = big_x + km_x * i, big_y + km_y * j
            path = folder / f"mosaic_{292 + i}_{6833 + j}.laz"
            copy.write(path, laz_backend=laspy.LazBackend.Lazrs)
            paths.append(path)
    return paths


PEAK_MB: dict[str, float] = {}  # command name -> peak resident memory of its process tree


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (workers count too)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total / 2**20


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """Wall time and stdout of `cmd`; its peak tree memory is kept in PEAK_MB (sampled at 20 Hz)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = 0.0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_mb(proc.pid))
        time.sleep(0.05)
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - start
    PEAK_MB[Path(cmd[0]).name] = peak
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {stderr[-1500:]}")
    return seconds, stdout


def run_ours(sources: list[Path], out: Path, jobs: int | None) -> tuple[float, int]:
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    arg = json.dumps({"sources": [str(p) for p in sources], "out": str(out), "jobs": jobs})
    seconds, stdout = timed([sys.executable, "-c", OURS, arg], env)
    return seconds, json.loads(stdout.strip().splitlines()[-1])["tiles"]


def run_py3dtiles(exe: Path, sources: list[Path], out: Path, jobs: int) -> tuple[float, int]:
    shutil.rmtree(out, ignore_errors=True)
    cmd = [str(exe), "convert", *map(str, sources), "--out", str(out), "--overwrite"]
    cmd += ["--srs_out", "4978", "--jobs", str(jobs), "--spec-version", "1.1"]
    cmd += ["--extra-fields", "classification", "--extra-fields", "intensity"]
    seconds, _ = timed(cmd)
    return seconds, sum(1 for _ in out.rglob("*.glb")) + sum(1 for _ in out.rglob("*.pnts"))


def count_points(sources: list[Path]) -> int:
    import laspy

    total = 0
    for p in sources:
        with laspy.open(p) as r:
            total += r.header.point_count
    return total


def py3dtiles_problem(exe: Path) -> str | None:
    if not exe.is_file():
        return (
            f"py3dtiles not found at {exe}: python3 -m venv /tmp/py3dtiles-venv && "
            "/tmp/py3dtiles-venv/bin/pip install py3dtiles 'laspy[lazrs]'"
        )
    try:
        subprocess.run([str(exe), "--help"], capture_output=True, check=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"py3dtiles at {exe} does not run: {exc}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--py3dtiles", type=Path, default=DEFAULT_PY3DTILES)
    parser.add_argument("--mosaic", type=int, default=4, help="n: an n x n mosaic of the tile")
    parser.add_argument("--repeat", type=int, default=2, help="runs per tool and input (best)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="worker processes for both (default: py3dtiles all CPUs; ours its own default, "
        "all CPUs from 2 M points, one process below)",
    )
    args = parser.parse_args()
    if not SOURCE.is_file():
        print(f"input not found: {SOURCE}; nothing to measure")
        return 0
    problem = py3dtiles_problem(args.py3dtiles)
    if problem:
        print(f"baseline unavailable: {problem}; measuring ours only")

    with tempfile.TemporaryDirectory(prefix="bench-pointcloud-") as tmp:
        tmpdir = Path(tmp)
        inputs = [("1 km LiDAR HD tile", [SOURCE])]
        if args.mosaic > 1:
            (tmpdir / "mosaic").mkdir()
            t = time.perf_counter()
            mosaic = build_mosaic(args.mosaic, tmpdir / "mosaic")
            inputs.append(
                (
                    f"{args.mosaic}x{args.mosaic} mosaic of shifted copies of that tile "
                    f"({len(mosaic)} LAZ files, built in {time.perf_counter() - t:.1f} s)",
                    mosaic,
                )
            )
        cpus = len(os.sched_getaffinity(0))
        jobs = args.jobs or cpus
        print(
            f"{cpus} CPUs; py3dtiles --jobs {jobs}, ours workers={args.jobs or 'auto'}; "
            f"best of {args.repeat} runs, each a fresh process"
        )
        header = (
            f"{'input':<10} {'tool':<10} {'points':>10} {'tiles':>6} {'s':>7} {'points/s':>10} "
            f"{'peak MB':>8}"
        )
        rows = []
        for label, sources in inputs:
            points = count_points(sources)
            print(f"\n{label}: {points:,} points")
            print(header)
            ours = min(run_ours(sources, tmpdir / "ours", args.jobs) for _ in range(args.repeat))
            name = "tile" if len(sources) == 1 else "mosaic"
            print(
                f"{name:<10} {'ours':<10} {points:>10,} {ours[1]:>6} {ours[0]:>7.2f} "
                f"{points / ours[0]:>10,.0f} {PEAK_MB[Path(sys.executable).name]:>8,.0f}"
            )
            if problem:
                continue
            try:
                base = min(
                    run_py3dtiles(args.py3dtiles, sources, tmpdir / "p3d", jobs)
                    for _ in range(args.repeat)
                )
            except RuntimeError as exc:
                print(f"py3dtiles failed: {exc}")
                problem = str(exc)
                continue
            print(
                f"{name:<10} {'py3dtiles':<10} {points:>10,} {base[1]:>6} {base[0]:>7.2f} "
                f"{points / base[0]:>10,.0f} {PEAK_MB[Path(args.py3dtiles).name]:>8,.0f}"
            )
            rows.append((name, base[0] / ours[0]))
        if rows:
            print()
            for name, ratio in rows:
                print(f"ratio {name}: ours {ratio:.2f}x py3dtiles' points/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
