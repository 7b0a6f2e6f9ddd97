"""Quick mode: a "bathtub" fill. The cells below a water level that are connected (through
edges, 4-neighbourhood) to one of the seed points are flooded to that level; low ground with no
path to a seed stays dry. No dynamics, no volumes: an upper bound on the extent a level can
reach, in well under a second for a commune-sized DEM.

scipy is not a dependency, so the connected component is a flood fill of our own: a compiled
stack-based fill when numba imports, else repeated dilation in numpy (slower, same answer).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from twin.sim.flood import kernel
from twin.sim.flood.errors import FloodInputError
from twin.sim.flood.grid import Grid

if kernel.AVAILABLE:
    from numba import njit

    @njit(cache=True)
    def _fill(below, seeds):
        ny, nx = below.shape
        out = np.zeros((ny, nx), dtype=np.bool_)
        stack = np.empty(ny * nx, dtype=np.int64)
        top = 0
        for k in range(seeds.shape[0]):
            r, c = seeds[k, 0], seeds[k, 1]
            if below[r, c] and not out[r, c]:
                out[r, c] = True
                stack[top] = r * nx + c
                top += 1
        while top > 0:
            top -= 1
            r = stack[top] // nx
            c = stack[top] % nx
            for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                rr, cc = r + dr, c + dc
                if 0 <= rr < ny and 0 <= cc < nx and below[rr, cc] and not out[rr, cc]:
                    out[rr, cc] = True
                    stack[top] = rr * nx + cc
                    top += 1
        return out

else:  # pragma: no cover - numba is a dependency

    def _fill(below, seeds):
        out = np.zeros_like(below)
        for r, c in seeds:
            out[r, c] = below[r, c]
        while True:
            grown = out.copy()
            grown[1:, :] |= out[:-1, :]
            grown[:-1, :] |= out[1:, :]
            grown[:, 1:] |= out[:, :-1]
            grown[:, :-1] |= out[:, 1:]
            grown &= below
            if (grown == out).all():
                return out
            out = grown


def bathtub(grid: Grid, level: float, seeds: Sequence[tuple[float, float]]) -> np.ndarray:
    """Depths (m, 0 where dry) of the cells below `level` connected to a seed (map x, y)."""
    if not math.isfinite(level):
        raise FloodInputError("the water level must be a finite number")
    if not seeds:
        raise FloodInputError("give at least one seed point")
    cells = np.array([grid.cell_of(x, y, "seed") for x, y in seeds], dtype=np.int64)
    below = grid.valid & (grid.z < level)
    wet = _fill(below, cells)
    return np.where(wet, level - grid.z, 0.0)
