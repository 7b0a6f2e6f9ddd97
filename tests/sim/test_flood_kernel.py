"""The compiled kernel against the numpy reference, the bathtub quick mode, sources and grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twin.sim.flood import FloodInputError, Grid, bathtub, read_dem
from twin.sim.flood import kernel as numba_kernel
from twin.sim.flood import scheme as numpy_scheme
from twin.sim.flood.run import FloodScenario, prepare

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
RIVER_DEM = SHARED_DATA / "dem" / "test_mns_hydro_2023_0299_6802_LA93_IGN69_5m.tif"
# where the valley enters the DEM from the north (row 1, column 128: the lowest point of the
# top edge, 140.3 m), in Lambert-93
UPSTREAM_XY = (299642.5, 6801992.5)

needs_numba = pytest.mark.skipif(not numba_kernel.AVAILABLE, reason="numba is not installed")


@pytest.fixture(scope="module")
def river_dem() -> Path:
    if not RIVER_DEM.is_file():
        pytest.skip(f"real DEM not found at {RIVER_DEM}")
    return RIVER_DEM


@pytest.fixture
def hydrograph(tmp_path: Path) -> Path:
    path = tmp_path / "hydro.csv"
    path.write_text("time_s,discharge_m3s\n0,0\n120,15\n600,15\n")
    return path


def run_both(dem: Path, hydro: Path, out: Path, until: float):
    models = {}
    for kernel in ("numpy", "numba"):
        scenario = FloodScenario(dem=dem, duration_s=until, out_dir=out, rain_mm_h=40.0,
                                 inflows=(f"{UPSTREAM_XY[0]},{UPSTREAM_XY[1]},{hydro}",),
                                 kernel=kernel)  # fmt: skip
        model = prepare(scenario).model
        model.run(until)
        models[kernel] = model
    return models["numpy"], models["numba"]


@needs_numba
def test_numba_equals_numpy_on_the_real_river_dem(
    river_dem: Path, hydrograph: Path, tmp_path: Path
) -> None:
    """Both kernels, 300 s of inflow + rain on the 200x200 Lambert-93 valley (open edges,
    nodata walls): same steps, same depths, max depths and arrival times.

    Tolerance 1e-9 m: the kernel does the reference's floating-point operations in the same
    order, so they agree bit for bit here; 1e-9 only allows for a libm or compiler that
    rounds a last bit differently. The outflow volume is summed in another order: 1e-9
    relative."""
    ref, fast = run_both(river_dem, hydrograph, tmp_path, 300.0)
    assert ref.steps == fast.steps > 100
    assert np.abs(ref.h - fast.h).max() < 1e-9
    assert np.abs(ref.max_depth - fast.max_depth).max() < 1e-9
    assert np.array_equal(ref.arrival >= 0, fast.arrival >= 0)
    assert np.abs(ref.arrival - fast.arrival).max() < 1e-9
    assert fast.volume_boundary_out == pytest.approx(ref.volume_boundary_out, rel=1e-9, abs=1e-9)
    assert ref.h.max() > 0.3  # the inflow made a real flood, not a film of rain


@needs_numba
@pytest.mark.parametrize("blocks", [1, 3, 7, 64])
def test_row_blocks_do_not_change_the_result(river_dem: Path, blocks: int) -> None:
    """The kernel splits rows into blocks and recomputes the rows around each block's edges;
    whatever the number of blocks (threads), one step must equal the numpy reference exactly
    (same arithmetic, no shared writes)."""
    grid = read_dem(river_dem)
    rng = np.random.default_rng(7)
    ny, nx = grid.shape
    h = np.where(grid.valid, rng.uniform(0, 0.5, (ny, nx)), 0.0)
    qx = rng.normal(0, 0.05, (ny, nx + 1))
    qy = rng.normal(0, 0.05, (ny + 1, nx))
    n2 = np.full((ny, nx), 0.04**2)
    out = {}
    for name, step in (("numpy", numpy_scheme.step), ("numba", numba_kernel.step)):
        h_new, qx_new, qy_new = np.zeros_like(h), np.zeros_like(qx), np.zeros_like(qy)
        md, arr = h.copy(), np.full((ny, nx), -1.0)
        res = step(grid.z, grid.valid, n2, h, qx, qy, h_new, qx_new, qy_new, md, arr, 0.5,
                   grid.dx, grid.dy, 0.8, 1e-3, True, 1e-5, 0.5, 0.01, blocks)  # fmt: skip
        out[name] = (h_new, qx_new, qy_new, md, arr, res)
    for a, b in zip(out["numpy"][:5], out["numba"][:5], strict=True):
        assert np.abs(a - b).max() < 1e-12
    assert out["numba"][5][0] == pytest.approx(out["numpy"][5][0], abs=1e-12)
    assert out["numba"][5][1] == pytest.approx(out["numpy"][5][1], rel=1e-9)


def test_inv_pow73_is_accurate() -> None:
    """The friction term's x^(-7/3) without libm: relative error < 1e-13 over the depths the
    scheme meets (1 mm to 1 km)."""
    x = np.geomspace(1e-3, 1e3, 100_001)
    assert np.abs(numpy_scheme.inv_pow73(x) * x ** (7 / 3) - 1).max() < 1e-13


def test_bathtub_fills_only_what_is_connected() -> None:
    """Two depressions below the level, only one holding a seed: the other stays dry; depths
    are level − bed; the ridge between them (above the level) stays dry."""
    z = np.full((5, 9), 2.0)
    z[1:4, 1:4] = 0.5  # seeded basin
    z[1:4, 5:8] = 0.2  # separate basin, deeper, no seed
    grid = Grid.from_array(z, 1.0)  # transform: x = col, y = -row
    depth = bathtub(grid, 1.0, [(2.5, -2.5)])
    assert np.allclose(depth[1:4, 1:4], 0.5)
    assert depth[:, 4:].max() == 0.0
    with pytest.raises(FloodInputError, match="outside"):
        bathtub(grid, 1.0, [(100.0, 100.0)])


def test_bathtub_on_the_real_dem_is_fast(river_dem: Path) -> None:
    """Quick mode on the real valley from its upstream end, 5 m above the stream bed."""
    import time

    grid = read_dem(river_dem)
    r, c = grid.cell_of(*UPSTREAM_XY, "seed")
    bathtub(grid, float(grid.z[r, c]) + 5.0, [UPSTREAM_XY])  # compile / load the cache
    t0 = time.perf_counter()
    depth = bathtub(grid, float(grid.z[r, c]) + 5.0, [UPSTREAM_XY])
    assert time.perf_counter() - t0 < 1.0
    assert depth[r, c] == pytest.approx(5.0)
    assert depth[~grid.valid].max() == 0.0
    assert 10 < (depth > 0).sum() < grid.cells


def test_inflow_outside_or_on_nodata_is_refused(river_dem: Path) -> None:
    grid = read_dem(river_dem)
    with pytest.raises(FloodInputError, match="outside the DEM"):
        grid.cell_of(0.0, 0.0, "inflow")
    r, c = np.argwhere(~grid.valid)[0]
    x, y = grid.transform @ (c + 0.5, r + 0.5)
    with pytest.raises(FloodInputError, match="nodata"):
        grid.cell_of(x, y, "inflow")
