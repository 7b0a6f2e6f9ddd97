"""Benchmark: the flood scheme's compiled kernel (numba, parallel) against the plain numpy version
of the same scheme, same grids, same run; plus the machine's memory bandwidth, to say how close
the kernel gets to it.

Why: a planner wants a flood scenario to run while the meeting goes on, on domains of several
million cells. The figure that matters is cell-updates per second (cells × steps / wall time).
Not a test: it asserts nothing and exits 0.

Grids: a synthetic tilted, bumpy plane (1 % slope down to the east, ±0.3 m bumps), 5 m cells,
0.3 m of water everywhere to start with, 50 mm/h of rain and open edges, so every face is wet
and flowing (the expensive case: a mostly dry domain is cheaper per cell). Sizes 0.25, 1 and 4
million cells. Each kernel first runs a few untimed steps (numba compiles or loads its cache;
the flow gets going), then a fixed number of timed steps (best of `--repeat`), so the run is
bounded in time: about a minute on 2 cores, most of it numpy at 4 million cells.

    .venv/bin/python bench/flood.py [--sizes 0.25,1,4] [--steps 20] [--numpy-steps 5] [--repeat 2]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twin.sim.flood import FloodModel, Grid, Series, Sources
from twin.sim.flood import kernel as numba_kernel

#: Bytes the fused kernel moves per cell-update (float64): reads z, h, qx, qy, max_depth,
#: arrival (6 x 8); writes h, qx, qy (new buffers: 3 x 8, plus 3 x 8 read for ownership) and
#: max_depth, arrival (2 x 8). The rows a block re-reads stay in cache.
KERNEL_BYTES_PER_CELL = 6 * 8 + 3 * 16 + 2 * 8


def tilted_plane(cells: float) -> tuple[Grid, np.ndarray]:
    n = round(math.sqrt(cells))
    y, x = np.mgrid[0:n, 0:n].astype(np.float64)
    z = 100.0 - 0.05 * x + 0.3 * np.sin(x / 7.0) * np.cos(y / 5.0)
    return Grid.from_array(z, 5.0), np.full((n, n), 0.3)


def time_kernel(kernel: str, grid: Grid, h0: np.ndarray, steps: int, repeat: int) -> float:
    """Cell-updates per second of `steps` steps, best of `repeat`, after 3 untimed steps."""
    model = FloodModel(grid, sources=Sources(Series.constant(50.0)), initial_depth=h0,
                       kernel=kernel)  # fmt: skip
    for _ in range(3):
        model.step(model.stable_dt())
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(steps):
            model.step(model.stable_dt())
        best = min(best, time.perf_counter() - t0)
    return grid.z.size * steps / best


def memory_bandwidth() -> float:
    """Bytes/s of a parallel triad a = b + 0.5·c over 3 x 128 MB (what STREAM calls triad,
    counting the write-allocate read of a): the ceiling for a memory-bound kernel."""
    from numba import njit, prange

    @njit(parallel=True)
    def triad(a, b, c):
        for i in prange(a.size):
            a[i] = b[i] + 0.5 * c[i]

    n = 16_000_000
    a, b, c = np.zeros(n), np.ones(n), np.ones(n)
    triad(a, b, c)
    best = math.inf
    for _ in range(5):
        t0 = time.perf_counter()
        triad(a, b, c)
        best = min(best, time.perf_counter() - t0)
    return 4 * 8 * n / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="0.25,1,4", help="million cells, comma-separated")
    ap.add_argument("--steps", type=int, default=20, help="timed numba steps per size")
    ap.add_argument("--numpy-steps", type=int, default=5, help="timed numpy steps per size")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    if not numba_kernel.AVAILABLE:
        print("numba is not installed: nothing to compare the numpy scheme with")
        return
    import numba

    numba_kernel.warm_up()
    threads = numba.get_num_threads()
    bw = memory_bandwidth()
    print(f"threads: {threads} (numba {numba.__version__}, {numba.threading_layer()} layer), "
          f"memory bandwidth (triad): {bw / 1e9:.1f} GB/s")  # fmt: skip
    print(f"{'cells':>10} {'numpy Mcu/s':>12} {'numba Mcu/s':>12} {'ratio':>7} "
          f"{'numba GB/s':>11} {'of triad':>9}")  # fmt: skip
    for size in (float(s) for s in args.sizes.split(",")):
        grid, h0 = tilted_plane(size * 1e6)
        ref = time_kernel("numpy", grid, h0, args.numpy_steps, args.repeat)
        fast = time_kernel("numba", grid, h0, args.steps, args.repeat)
        gbs = fast * KERNEL_BYTES_PER_CELL
        print(f"{grid.z.size:>10,} {ref / 1e6:>12.1f} {fast / 1e6:>12.1f} {fast / ref:>6.1f}x "
              f"{gbs / 1e9:>11.1f} {gbs / bw:>8.0%}")  # fmt: skip


if __name__ == "__main__":
    main()
