"""The DEM grid: reading it (and rasters that must share it) with rasterio, and writing results
on it. Everything the solver sees is a plain numpy array; geography stays here."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import RasterioError

from twin.sim.flood.errors import FloodInputError

#: Bed level given to nodata cells: far above any water level, so every face next to one is dry
#: and carries no flux. Walls need no mask of their own in the kernels.
WALL_Z = 1.0e6
#: A cell whose bed is at or above this is a wall (nodata).
WALL_TEST = 0.5e6
#: Nodata written in every output raster (depths and times are never negative).
OUT_NODATA = -9999.0
#: Memory the solver needs per cell, in bytes: ten float64 state arrays (bed, depth, two flux
#: pairs, limiter, max depth, arrival, Manning) plus masks and float32 copies for writing.
BYTES_PER_CELL = 112
#: Share of the available memory a run may take.
MEMORY_SHARE = 0.7


@dataclass(frozen=True)
class Grid:
    """A DEM on a regular north-up grid: bed levels with walls where the DEM has no data."""

    z: np.ndarray  # float64 (ny, nx); WALL_Z where `valid` is False
    valid: np.ndarray  # bool (ny, nx)
    transform: Affine
    crs: CRS | None
    dx: float  # cell width along x (columns), metres
    dy: float  # cell height along y (rows), metres

    @classmethod
    def from_array(
        cls,
        z: np.ndarray,
        dx: float,
        dy: float | None = None,
        *,
        valid: np.ndarray | None = None,
        transform: Affine | None = None,
        crs: CRS | None = None,
    ) -> Grid:
        """A grid from bed levels in memory (NaN = no data): what the tests and benchmarks use."""
        z = np.asarray(z, dtype=np.float64)
        ok = np.isfinite(z) if valid is None else (np.asarray(valid, dtype=bool) & np.isfinite(z))
        dy = dx if dy is None else dy
        bed = np.where(ok, z, WALL_Z)
        return cls(bed, ok, transform or Affine(dx, 0, 0, 0, -dy, 0), crs, float(dx), float(dy))

    @property
    def shape(self) -> tuple[int, int]:
        return self.z.shape  # type: ignore[return-value]

    @property
    def cells(self) -> int:
        """Cells with data (the ones the water can be in)."""
        return int(self.valid.sum())

    @property
    def cell_area(self) -> float:
        return self.dx * self.dy

    def cell_of(self, x: float, y: float, what: str) -> tuple[int, int]:
        """The (row, col) of the data cell holding map point (x, y); refuses points outside."""
        col, row = ~self.transform @ (x, y)
        r, c = int(np.floor(row)), int(np.floor(col))
        ny, nx = self.shape
        if not (0 <= r < ny and 0 <= c < nx):
            raise FloodInputError(f"{what} at ({x:g}, {y:g}) is outside the DEM's extent")
        if not self.valid[r, c]:
            raise FloodInputError(f"{what} at ({x:g}, {y:g}) falls on a DEM nodata cell")
        return r, c


def available_memory() -> int:
    """Bytes this process can still take (MemAvailable), or total RAM when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_fits_in_memory(shape: tuple[int, int]) -> None:
    need = shape[0] * shape[1] * BYTES_PER_CELL
    have = available_memory()
    if need > MEMORY_SHARE * have:
        raise FloodInputError(
            f"a {shape[1]}x{shape[0]} grid needs about {need / 2**30:.1f} GiB, more than this "
            f"machine can spare ({have / 2**30:.1f} GiB available): crop or coarsen the DEM"
        )


def _open(path: Path, what: str) -> rasterio.DatasetReader:
    if not Path(path).is_file():
        raise FloodInputError(f"{what} {path}: no such file")
    try:
        return rasterio.open(path)
    except RasterioError as exc:
        raise FloodInputError(f"{what} {path}: not a readable raster ({exc})") from None


def read_dem(path: Path) -> Grid:
    """The DEM's first band as a Grid; refuses what the solver cannot use, before any work."""
    with _open(path, "DEM") as src:
        if src.crs is None:
            raise FloodInputError(f"DEM {path} has no CRS: assign one (e.g. EPSG:2154) first")
        if src.crs.is_geographic:
            raise FloodInputError(
                f"DEM {path} is in a geographic CRS ({src.crs.to_string()}), cell sizes in "
                "degrees: reproject it to a projected CRS in metres (e.g. EPSG:2154) first"
            )
        t = src.transform
        if t.b != 0 or t.d != 0:
            raise FloodInputError(f"DEM {path} is rotated: resample it to a north-up grid")
        check_fits_in_memory((src.height, src.width))
        band = src.read(1, masked=True).astype(np.float64)
        crs = src.crs
    z = np.ma.filled(band, np.nan)
    valid = ~np.ma.getmaskarray(band) & np.isfinite(z)
    if not valid.any():
        raise FloodInputError(f"DEM {path} has no data cells (all nodata)")
    return Grid(np.where(valid, z, WALL_Z), valid, t, crs, abs(t.a), abs(t.e))


def read_on_grid(path: Path, grid: Grid, what: str) -> np.ma.MaskedArray:
    """A raster that must be on the DEM's grid (same CRS, transform and size), as float64."""
    with _open(path, what) as src:
        if src.shape != grid.shape or not src.transform.almost_equals(grid.transform):
            raise FloodInputError(
                f"{what} {path} is not on the DEM's grid (size {src.width}x{src.height}, "
                f"transform {tuple(src.transform)[:6]}): resample it onto the DEM first"
            )
        if src.crs is not None and grid.crs is not None and src.crs != grid.crs:
            raise FloodInputError(f"{what} {path} is in {src.crs}, the DEM in {grid.crs}")
        band = src.read(1, masked=True).astype(np.float64)
    band.mask = np.ma.getmaskarray(band) | ~np.isfinite(band.filled(0.0))
    return band


def write_raster(path: Path, values: np.ndarray, grid: Grid) -> None:
    """float32 GeoTIFF on the DEM's grid, OUT_NODATA outside the DEM (and where values is NaN)."""
    data = np.where(grid.valid & np.isfinite(values), values, OUT_NODATA).astype(np.float32)
    ny, nx = grid.shape
    profile = {
        "driver": "GTiff",
        "width": nx,
        "height": ny,
        "count": 1,
        "dtype": "float32",
        "crs": grid.crs,
        "transform": grid.transform,
        "nodata": OUT_NODATA,
        "compress": "deflate",
        "predictor": 3,
    }
    if nx >= 256 and ny >= 256:
        profile.update(tiled=True, blockxsize=256, blockysize=256)
    tmp = path.with_name(path.name + ".part")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data, 1)
    tmp.replace(path)
