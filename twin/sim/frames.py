"""Depth rasters as browser-ready images: reprojected to WGS84 lon/lat and coloured with one
fixed ramp, dry cells transparent, so the viewer drapes each frame over the terrain as a single
imagery tile on its rectangle (`Cesium.SingleTileImageryProvider`).

The ramp is fixed (not stretched per result) so two scenarios, or two frames, compare by eye.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from numpy.typing import NDArray
from PIL import Image
from rasterio.warp import Resampling, reproject

from geodata.crs import lonlat_bounds

#: Depth below which a cell is dry (transparent), the solver's "reached" depth.
WET_M = 0.01
#: (depth m, (r, g, b, alpha)): light, see-through blue for a film of water to opaque dark blue
#: from 2 m; linear in between.
RAMP: tuple[tuple[float, tuple[int, int, int, int]], ...] = (
    (WET_M, (147, 197, 253, 150)),
    (0.1, (96, 165, 250, 175)),
    (0.3, (59, 130, 246, 195)),
    (0.75, (37, 99, 235, 215)),
    (1.5, (30, 64, 175, 232)),
    (2.0, (30, 58, 138, 242)),
)
#: Largest image side: one WebGL texture in any browser, a few MB of PNG at most.
MAX_SIDE = 2048
_EARTH_RADIUS = 6_371_008.8
_NODATA = -9999.0


@dataclass(frozen=True)
class Canvas:
    """A lon/lat image grid: its rectangle (west, south, east, north, degrees) and size."""

    bounds: tuple[float, float, float, float]
    width: int
    height: int

    @property
    def transform(self) -> Affine:
        w, s, e, n = self.bounds
        return Affine((e - w) / self.width, 0, w, 0, -(n - s) / self.height, n)


def canvas_for(crs: str, bounds: tuple[float, float, float, float], cell_m: float) -> Canvas:
    """The WGS84 grid covering a DEM's `bounds` (minx, miny, maxx, maxy in `crs`) with pixels
    about one DEM cell wide (fewer when that would pass MAX_SIDE). The rectangle is the DEM box
    transformed with its edges densified, so it encloses the whole grid."""
    w, s, e, n = lonlat_bounds(crs, bounds)
    metres_per_degree = _EARTH_RADIUS * math.pi / 180
    width_m = (e - w) * metres_per_degree * math.cos(math.radians((s + n) / 2))
    height_m = (n - s) * metres_per_degree
    scale = max(width_m, height_m) / cell_m / MAX_SIDE
    step = cell_m * max(scale, 1.0)
    return Canvas((w, s, e, n), max(1, round(width_m / step)), max(1, round(height_m / step)))


def colourise(depth: NDArray[np.floating]) -> NDArray[np.uint8]:
    """RGBA (rows, cols, 4) of depths in metres; below WET_M, NaN or nodata: transparent."""
    d = np.asarray(depth, dtype=np.float64)
    wet = np.isfinite(d) & (d >= WET_M)
    stops = np.array([s[0] for s in RAMP])
    colours = np.array([s[1] for s in RAMP], dtype=np.float64)
    clipped = np.where(wet, d, WET_M)
    rgba = np.zeros((*d.shape, 4), dtype=np.uint8)
    for c in range(4):
        rgba[..., c] = np.rint(np.interp(clipped, stops, colours[:, c]))
    # Dry pixels: the shallowest colour, fully transparent. Not transparent black, which the
    # browser's texture filtering would blend into a dark fringe along every shoreline.
    rgba[~wet] = (*RAMP[0][1][:3], 0)
    return rgba


def warp_depth(path: Path, canvas: Canvas) -> NDArray[np.float32]:
    """A depth raster on the canvas: nearest cell at about one pixel per cell (the model's own
    cells, crisp shorelines), the deepest cell under each pixel when the image is coarser (a
    narrow flooded channel must not vanish)."""
    with rasterio.open(path) as src:
        data = src.read(1).astype(np.float32)
        coarser = canvas.width * canvas.height < 0.5 * src.width * src.height
        out = np.full((canvas.height, canvas.width), _NODATA, dtype=np.float32)
        reproject(
            data,
            out,
            src_transform=src.transform,
            src_crs=src.crs,
            src_nodata=src.nodata if src.nodata is not None else _NODATA,
            dst_transform=canvas.transform,
            dst_crs="EPSG:4326",
            dst_nodata=_NODATA,
            resampling=Resampling.max if coarser else Resampling.nearest,
        )
    out[out == _NODATA] = np.nan
    return out


def render_png(depth_tif: Path, canvas: Canvas, png: Path) -> None:
    """The depth raster as a transparent PNG on the canvas (written whole, then renamed)."""
    rgba = colourise(warp_depth(depth_tif, canvas))
    tmp = png.with_name(png.name + ".part")
    Image.fromarray(rgba, "RGBA").save(tmp, format="PNG", compress_level=6)
    tmp.replace(png)


def ramp_legend() -> list[dict[str, object]]:
    """The ramp as the viewer's legend reads it: depth and CSS colour of each stop."""
    return [
        {"depth_m": d, "color": f"rgba({r}, {g}, {b}, {a / 255:.2f})"} for d, (r, g, b, a) in RAMP
    ]
