"""The flood model's state and time loop: sources in, adaptive time step, one scheme step, the
volume books kept. Works on arrays in memory (a `Grid`), so tests can run analytic cases without
any file; `run.py` adds the files and the outputs around it."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from twin.sim.flood import kernel as numba_kernel
from twin.sim.flood import scheme as numpy_scheme
from twin.sim.flood.errors import FloodDivergedError, FloodInputError
from twin.sim.flood.grid import Grid
from twin.sim.flood.sources import Sources, sea_cells

G = 9.81
DEFAULT_MANNING = 0.035  # s/m^(1/3): short grass / mixed urban floodplain
#: Below this many cells the compiled kernel runs on one thread: a step takes a millisecond or
#: two, and waking threads for it costs more than it saves.
PARALLEL_MIN_CELLS = 65_536


@dataclass(frozen=True)
class SchemeParams:
    """Numerical parameters; the defaults are the usual ones for this scheme."""

    theta: float = 0.8  # de Almeida et al. 2012 recommend 0.7-0.9; 1 = Bates et al. 2010
    alpha: float = 0.7  # CFL coefficient: dt = alpha·dx/sqrt(g·h_max)
    h_min: float = 1e-3  # m: faces with a shallower flow depth carry no flux
    dt_max: float = 10.0  # s: the step on a dry or nearly dry domain
    wet_depth: float = 0.01  # m: depth at which a cell counts as reached (arrival time)
    max_depth: float = 1.0e3  # m: deeper than this means the run diverged


def kernel_names() -> tuple[str, ...]:
    return ("numba", "numpy") if numba_kernel.AVAILABLE else ("numpy",)


class FloodModel:
    """Depths and face discharges on a grid, advanced by the local inertial scheme."""

    def __init__(
        self,
        grid: Grid,
        *,
        sources: Sources | None = None,
        initial_depth: np.ndarray | None = None,
        manning: float | np.ndarray = DEFAULT_MANNING,
        open_boundaries: bool = True,
        params: SchemeParams | None = None,
        kernel: str = "auto",
    ) -> None:
        self.grid = grid
        self.sources = sources or Sources()
        self.params = params or SchemeParams()
        self.open_boundaries = open_boundaries
        if kernel == "auto":
            kernel = kernel_names()[0]
        if kernel not in kernel_names():
            raise FloodInputError(f"kernel {kernel!r} is not available here ({kernel_names()})")
        self.kernel = kernel
        self._k = numba_kernel if kernel == "numba" else numpy_scheme
        # row blocks per step: a few per thread evens out the load (the rows at block edges
        # are computed twice, so not too many)
        self._serial = kernel != "numba" or grid.z.size < PARALLEL_MIN_CELLS
        self._blocks = 1 if self._serial else 4 * numba_kernel.get_num_threads()
        ny, nx = grid.shape
        valid = grid.valid
        self.valid = np.ascontiguousarray(valid)
        self.z = np.ascontiguousarray(grid.z, dtype=np.float64)
        h = np.zeros((ny, nx)) if initial_depth is None else np.array(initial_depth, dtype=float)
        if h.shape != (ny, nx):
            raise FloodInputError(f"initial depth is {h.shape}, the grid {(ny, nx)}")
        h[~valid] = 0.0
        if not np.isfinite(h).all() or (h < 0).any():
            raise FloodInputError("initial depth must be finite and >= 0")
        self.h = np.ascontiguousarray(h)
        self.qx = np.zeros((ny, nx + 1))
        self.qy = np.zeros((ny + 1, nx))
        self._h_new = np.zeros_like(self.h)  # double buffers, swapped every step
        self._qx_new = np.zeros_like(self.qx)
        self._qy_new = np.zeros_like(self.qy)
        self.n2 = _manning_squared(manning, valid)
        self.max_depth = self.h.copy()
        self.arrival = np.where(self.h > self.params.wet_depth, 0.0, -1.0)
        self.t = 0.0
        self.steps = 0
        self.dt_min = math.inf
        self.dt_max_used = 0.0
        self.area = grid.cell_area
        self.volume_initial = self.volume
        self.volume_rain = 0.0
        self.volume_inflow = 0.0
        self.volume_sea_in = 0.0
        self.volume_sea_out = 0.0
        self.volume_boundary_out = 0.0
        self._sea = sea_cells(grid, self.sources.sea_level)
        self._sea_h = (
            self.sources.sea_level - self.z.ravel()[self._sea] if self._sea.size else np.zeros(0)
        )
        self.h_max = float(self.h.max())
        self._n_valid = grid.cells

    # -- books -------------------------------------------------------------------------------
    @property
    def volume(self) -> float:
        return float(self.h.sum(dtype=np.float64)) * self.grid.cell_area

    @property
    def volume_in(self) -> float:
        return self.volume_rain + self.volume_inflow + self.volume_sea_in

    @property
    def volume_out(self) -> float:
        return self.volume_boundary_out + self.volume_sea_out

    def mass_error_rel(self) -> float:
        """|V_final − V_initial − V_in + V_out| / max(V_in + V_initial, tiny)."""
        err = self.volume - self.volume_initial - self.volume_in + self.volume_out
        return abs(err) / max(self.volume_in + self.volume_initial, 1e-12)

    # -- time stepping -----------------------------------------------------------------------
    def stable_dt(self) -> float:
        """CFL step dt = α·min(dx,dy)/sqrt(g·h_max), h_max counting what the point sources and
        the sea will put in their cells during the step."""
        p = self.params
        d = min(self.grid.dx, self.grid.dy)
        h_est = self.h_max
        if self._sea_h.size:
            h_est = max(h_est, float(self._sea_h.max()))
        dt = p.dt_max if h_est <= 0 else min(p.dt_max, p.alpha * d / math.sqrt(G * h_est))
        for _ in range(2):  # a source fills its cell within the step: take that depth too
            h_src = h_est
            for s in self.sources.points:
                q = max(s.discharge.at(self.t), s.discharge.at(self.t + dt))
                h_src = max(h_src, self.h[s.row, s.col] + q * dt / self.area)
            if h_src <= h_est:
                break
            dt = min(dt, p.alpha * d / math.sqrt(G * h_src))
        return dt

    def step(self, dt: float) -> None:
        """Advance one step of dt seconds (the caller keeps dt within `stable_dt`)."""
        p = self.params
        h = self.h
        t_mid = self.t + 0.5 * dt
        for s in self.sources.points:
            q = s.discharge.at(t_mid)
            if q > 0:
                h[s.row, s.col] += q * dt / self.area
                self.volume_inflow += q * dt
        if self._sea.size:
            flat = h.reshape(-1)
            dh = self._sea_h - flat[self._sea]
            self.volume_sea_in += float(np.maximum(dh, 0).sum()) * self.area
            self.volume_sea_out += float(np.maximum(-dh, 0).sum()) * self.area
            flat[self._sea] = self._sea_h
        rain = self.sources.rain_m_per_s(t_mid) * dt
        self.volume_rain += rain * self.area * self._n_valid
        g = self.grid
        t_new = self.t + dt
        serial = self.kernel == "numba" and self._serial
        threads = numba_kernel.get_num_threads() if serial else 0
        if serial:
            numba_kernel.set_num_threads(1)
        try:
            h_max, out = self._k.step(self.z, self.valid, self.n2, h, self.qx, self.qy,
                                      self._h_new, self._qx_new, self._qy_new, self.max_depth,
                                      self.arrival, dt, g.dx, g.dy, p.theta, p.h_min,
                                      self.open_boundaries, rain, t_new, p.wet_depth,
                                      self._blocks)  # fmt: skip
        finally:
            if serial:
                numba_kernel.set_num_threads(threads)
        self.h, self._h_new = self._h_new, h
        self.qx, self._qx_new = self._qx_new, self.qx
        self.qy, self._qy_new = self._qy_new, self.qy
        self.h_max = float(h_max)
        self.volume_boundary_out += float(out)
        self.t = t_new
        self.steps += 1
        self.dt_min = min(self.dt_min, dt)
        self.dt_max_used = max(self.dt_max_used, dt)
        if not math.isfinite(self.h_max) or self.h_max > p.max_depth:
            what = "non-finite depths" if not math.isfinite(self.h_max) else "absurd depths"
            raise FloodDivergedError(
                f"the simulation diverged at t={self.t:.2f} s (step {self.steps}, dt={dt:.3g} s): "
                f"{what} (max {self.h_max:.3g} m); stopped, nothing written for this step"
            )

    def run(self, until: float, on_step: Callable[[FloodModel], None] | None = None) -> None:
        """Step until simulated time `until` exactly (the last step is shortened to land on it)."""
        while self.t < until:
            dt = self.stable_dt()
            last = until - self.t <= dt
            if last:
                dt = until - self.t
            self.step(dt)
            if last:
                self.t = until
            if on_step is not None:
                on_step(self)


def _manning_squared(manning: float | np.ndarray, valid: np.ndarray) -> np.ndarray:
    if np.ndim(manning) == 0:
        n = float(manning)  # type: ignore[arg-type]
        if not math.isfinite(n) or n < 0:
            raise FloodInputError(f"Manning's n must be >= 0, got {n:g}")
        return np.full((1, 1), n * n)
    n = np.asarray(manning, dtype=np.float64)
    if n.shape != valid.shape:
        raise FloodInputError(f"Manning raster is {n.shape}, the grid {valid.shape}")
    bad = valid & ~(np.isfinite(n) & (n >= 0))
    if bad.any():
        raise FloodInputError(f"Manning's n must be >= 0 on every DEM cell ({bad.sum()} are not)")
    return np.ascontiguousarray(np.where(valid, n, 0.0) ** 2)
