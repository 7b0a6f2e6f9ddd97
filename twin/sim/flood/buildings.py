"""Buildings as obstacles: footprints read with pyogrio, rasterised onto the DEM, raised.

Rule for `buildings_flooded`: a building counts as flooded when the largest depth reached in the
cells around it — its footprint's bounding box on the grid grown by one cell, less the cells of
any footprint (those are raised, their water is rain on a roof) — exceeds 0.1 m. The ring of
cells touching the walls is where water stands against a building; a footprint smaller than a
cell (not rasterised) is still judged by the cells around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyogrio
import shapely
from pyproj import CRS as ProjCRS
from pyproj import Transformer
from rasterio.features import rasterize

from twin.sim.flood.errors import FloodInputError
from twin.sim.flood.grid import Grid

#: How much a building's cells are raised above the DEM (m): more than any flood depth the
#: scheme is meant for, so water goes around, and rain on the roof runs off it.
BUILDING_RAISE_M = 10.0
#: Depth around a building above which it counts as flooded (m).
FLOODED_DEPTH_M = 0.1


@dataclass(frozen=True)
class Buildings:
    footprints: np.ndarray  # shapely geometries in the DEM's CRS, the ones over the grid
    mask: np.ndarray  # bool (ny, nx): cells inside a footprint
    windows: np.ndarray  # int (n, 4): row0, row1, col0, col1 (exclusive) around each footprint

    def flooded(self, max_depth: np.ndarray, valid: np.ndarray) -> int:
        around = np.where(valid & ~self.mask, max_depth, 0.0)
        count = 0
        for r0, r1, c0, c1 in self.windows:
            if r1 > r0 and c1 > c0 and around[r0:r1, c0:c1].max() > FLOODED_DEPTH_M:
                count += 1
        return count


def read_buildings(path: Path, grid: Grid) -> Buildings:
    """Polygon footprints from any OGR vector file, in the DEM's CRS (reprojected when the file
    says another; taken as the DEM's when it says none)."""
    path = Path(path)
    if not path.exists():
        raise FloodInputError(f"buildings {path}: no such file")
    try:
        meta, _, geoms, _ = pyogrio.raw.read(path, read_geometry=True, columns=[])
    except Exception as exc:  # pyogrio raises its own DataSourceError/DataLayerError family
        raise FloodInputError(f"buildings {path}: not a readable vector file ({exc})") from None
    if geoms is None or len(geoms) == 0:
        raise FloodInputError(f"buildings {path}: no features")
    shapes = shapely.from_wkb(geoms)
    shapes = shapes[~shapely.is_missing(shapes) & ~shapely.is_empty(shapes)]
    kinds = shapely.get_type_id(shapes)
    shapes = shapes[(kinds == 3) | (kinds == 6)]  # Polygon, MultiPolygon
    if len(shapes) == 0:
        raise FloodInputError(f"buildings {path}: no polygon footprints")
    src = meta.get("crs")
    if src and grid.crs is not None:
        src_crs, dst_crs = ProjCRS.from_user_input(src), ProjCRS.from_wkt(grid.crs.to_wkt())
        if not src_crs.equals(dst_crs):
            tr = Transformer.from_crs(src_crs, dst_crs, always_xy=True)
            shapes = shapely.transform(shapes, lambda xy: np.column_stack(tr.transform(*xy.T)))
    ny, nx = grid.shape
    t = grid.transform
    x0, y1 = t.c, t.f
    x1, y0 = x0 + t.a * nx, y1 + t.e * ny
    extent = shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
    shapes = shapes[shapely.intersects(shapes, extent)]
    mask = np.zeros(grid.shape, dtype=bool)
    if len(shapes):
        burnt = rasterize(((g, 1) for g in shapes), out_shape=grid.shape, transform=t, fill=0,
                          dtype="uint8")  # fmt: skip
        mask = burnt.astype(bool) & grid.valid
    bounds = shapely.bounds(shapes).reshape(-1, 4)
    inv = ~t
    windows = np.zeros((len(shapes), 4), dtype=np.int64)
    for i, (bx0, by0, bx1, by1) in enumerate(bounds):
        cols, rows = zip(*(inv @ (x, y) for x in (bx0, bx1) for y in (by0, by1)), strict=True)
        windows[i] = (
            max(int(np.floor(min(rows))) - 1, 0),
            min(int(np.floor(max(rows))) + 2, ny),
            max(int(np.floor(min(cols))) - 1, 0),
            min(int(np.floor(max(cols))) + 2, nx),
        )
    return Buildings(shapes, mask, windows)


def raise_buildings(grid: Grid, buildings: Buildings) -> Grid:
    """The grid with its building cells raised by BUILDING_RAISE_M."""
    z = grid.z + np.where(buildings.mask, BUILDING_RAISE_M, 0.0)
    return Grid(z, grid.valid, grid.transform, grid.crs, grid.dx, grid.dy)
