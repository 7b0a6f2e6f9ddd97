"""Orthophotos as an XYZ imagery pyramid that CesiumJS drapes on the globe (a base layer).

Scheme: Web Mercator (EPSG:3857), 256-pixel tiles, XYZ numbering (y = 0 at the north, as OSM and
CesiumJS's `UrlTemplateImageryProvider` with its default `WebMercatorTilingScheme`), files
`{z}/{x}/{y}.webp` under the output folder, described by `imagery.json` (written last: a folder
without it is incomplete). A viewer loads it with::

    new Cesium.UrlTemplateImageryProvider({
      url: base + meta.url,                   // "{z}/{x}/{y}.webp"
      minimumLevel: meta.min_zoom, maximumLevel: meta.max_zoom,
      rectangle: Cesium.Rectangle.fromDegrees(...meta.bounds),
      tileWidth: 256, tileHeight: 256,
    })

Format: WebP for every tile, lossy (quality 85, method 2), with a (lossless) alpha plane only
where the tile has transparency. One format keeps one URL template: a PNG-where-transparent,
JPEG-elsewhere mix cannot be templated. Measured on the shared orthophotos (Pillow 13): an
opaque tile is 18.3 KiB in WebP against 21.6 KiB in JPEG q85, at a slightly better PSNR
(35.9 dB against 35.7) and 125 KiB in PNG; a tile with a transparent border is 4-5 KiB against
50 KiB in PNG. The price is encoding time: 4 ms a tile against 0.3 ms for JPEG.

Zooms: the maximum is the first zoom whose pixel is finer than the source's (within 10 %, so a
source at exactly a zoom's resolution is not upsampled fourfold); the minimum is the deepest zoom
at which the extent spans at most four tiles, the most CesiumJS accepts at `minimumLevel` (it
draws those tiles when the camera is farther out). Only tiles that intersect the extent are
made, and tiles that come out fully transparent are not written (CesiumJS then falls back on the
parent tile, transparent there too).

Memory is bounded: the deepest zoom is warped from the source by blocks of 8 x 8 tiles (one GDAL
warp of 2048 x 2048 pixels), each lower zoom is built from the four tiles below it (alpha-weighted
2 x 2 average) while walking the quadtree depth first, so at most one block and a few tiles per
level are held at once, and the source is read once (GDAL's block cache is capped at 128 MB;
peak RSS measured at ~230 MB for a 8,064 x 8,064 px source, imports included).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from itertools import product
from pathlib import Path

import numpy as np
import rasterio
from numpy.typing import NDArray
from PIL import Image
from rasterio.transform import from_origin

from geodata.crs import transformer
from geodata.orthophoto import Orthophoto, OrthophotoError

WEB_MERCATOR = "EPSG:3857"
TILE_SIZE = 256
HALF_WORLD = 20037508.342789244  # metres from the Web Mercator origin to the edge of the world
MAX_TILES_AT_MIN_ZOOM = 4  # CesiumJS's limit for an imagery provider's minimumLevel
MAX_ZOOM_LIMIT = 24
BLOCK_LEVELS = 3  # a block of 2^3 x 2^3 deepest-zoom tiles is warped in one go
RESOLUTION_TOLERANCE = 1.10
GDAL_CACHE_MB = 128  # block cache while tiling; GDAL's default (5 % of RAM) grows with the file
WEBP_QUALITY = 85
WEBP_METHOD = 2  # twice as fast as the default (4) for 2 % more bytes (measured)
FORMAT = "webp"
METADATA = "imagery.json"
URL_TEMPLATE = "{z}/{x}/{y}." + FORMAT

Progress = Callable[[float, str], None]
TileRange = tuple[int, int, int, int]  # x0, y0, x1, y1, inclusive


@dataclass
class ImageryResult:
    """What was written: tile count, zooms, source CRS and extents, and the tile format."""

    tile_count: int
    min_zoom: int
    max_zoom: int
    source_crs: str
    bounds_source: tuple[float, float, float, float]  # minx, miny, maxx, maxy in source_crs
    bounds_wgs84: tuple[float, float, float, float]  # west, south, east, north degrees
    format: str
    height_note: str = ""
    attributes: list[str] = field(default_factory=list)


def tile_size_m(z: int) -> float:
    """Side of a tile at zoom z, in Web Mercator metres."""
    return 2 * HALF_WORLD / (1 << z)


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) in Web Mercator metres of XYZ tile (z, x, y)."""
    s = tile_size_m(z)
    west, north = -HALF_WORLD + x * s, HALF_WORLD - y * s
    return (west, north - s, west + s, north)


def tile_range(bounds: Sequence[float], z: int) -> TileRange:
    """The XYZ tiles at zoom z that intersect a Web Mercator box (minx, miny, maxx, maxy)."""
    s, last = tile_size_m(z), (1 << z) - 1

    def clamp(v: float) -> int:
        return min(max(int(v), 0), last)

    x0, x1 = (
        clamp(np.floor((bounds[0] + HALF_WORLD) / s)),
        clamp(np.ceil((bounds[2] + HALF_WORLD) / s) - 1),
    )
    y0, y1 = (
        clamp(np.floor((HALF_WORLD - bounds[3]) / s)),
        clamp(np.ceil((HALF_WORLD - bounds[1]) / s) - 1),
    )
    return (x0, y0, max(x0, x1), max(y0, y1))


def range_count(r: TileRange) -> int:
    """Number of tiles in a range."""
    return (r[2] - r[0] + 1) * (r[3] - r[1] + 1)


def max_zoom_for(pixel_size_m: float) -> int:
    """The first zoom whose pixel is at least as fine as `pixel_size_m` (Web Mercator metres)."""
    for z in range(MAX_ZOOM_LIMIT + 1):
        if tile_size_m(z) / TILE_SIZE <= pixel_size_m * RESOLUTION_TOLERANCE:
            return z
    return MAX_ZOOM_LIMIT


def min_zoom_for(bounds: Sequence[float], max_zoom: int) -> int:
    """The deepest zoom (<= max_zoom) at which the extent spans at most four tiles."""
    z = max_zoom
    while z > 0 and range_count(tile_range(bounds, z)) > MAX_TILES_AT_MIN_ZOOM:
        z -= 1
    return z


def mercator_bounds(bounds_wgs84: Sequence[float]) -> tuple[float, float, float, float]:
    """A lon/lat box in Web Mercator metres, latitudes clamped to the projection's limit.

    Computed from the same rectangle the viewer is given, so both count the same tiles.
    """
    limit = 85.05112877980659
    west, south, east, north = bounds_wgs84
    t = transformer("EPSG:4326", WEB_MERCATOR)
    x0, y0 = t.transform(west, max(south, -limit))
    x1, y1 = t.transform(east, min(north, limit))
    return (float(x0), float(y0), float(x1), float(y1))


def encode_tile(tile: NDArray[np.uint8]) -> bytes:
    """(256, 256, 4) RGBA as WebP; the alpha plane is kept only when something is transparent."""
    image = Image.fromarray(tile, "RGBA")
    if tile[..., 3].min() == 255:
        image = image.convert("RGB")
    out = BytesIO()
    image.save(out, "WEBP", quality=WEBP_QUALITY, method=WEBP_METHOD)
    return out.getvalue()


def downsample(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Halve a (2h, 2w, 4) RGBA picture: 2 x 2 average with colours weighted by alpha, so a
    transparent pixel's (meaningless) colour never darkens an edge. Every pixel of every zoom
    but the deepest goes through here, so the plain average is done on strided views and only
    the few blocks that mix transparent and opaque pixels are redone with weights."""
    out = ((_quad_sum(image.astype(np.uint16)) + 2) >> 2).astype(np.uint8)
    weight = _quad_sum(image[..., 3].astype(np.uint16))
    mixed = (weight > 0) & (weight < 4 * 255)
    if mixed.any():
        parts = [image[i::2, k::2][mixed].astype(np.uint32) for i in (0, 1) for k in (0, 1)]
        colour = sum(p[:, :3] * p[:, 3:] for p in parts)
        w = weight[mixed][:, None].astype(np.uint32)
        out[mixed, :3] = (colour + w // 2) // w
    out[weight == 0, :3] = 0
    return out


def _quad_sum(x: NDArray) -> NDArray:
    """Sum of each 2 x 2 block of the first two axes."""
    return x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2]


class _Pyramid:
    """Walks the quadtree depth first from the minimum zoom, writing tiles as they are made."""

    def __init__(
        self,
        ortho: Orthophoto,
        out_dir: Path,
        ranges: dict[int, TileRange],
        progress: Progress | None,
    ) -> None:
        self.ortho, self.out_dir, self.ranges, self.progress = ortho, out_dir, ranges, progress
        self.min_zoom, self.max_zoom = min(ranges), max(ranges)
        self.block_zoom = max(self.min_zoom, self.max_zoom - BLOCK_LEVELS)
        self.total = sum(range_count(r) for r in ranges.values())
        self.done = 0
        self.written = 0

    def run(self) -> int:
        x0, y0, x1, y1 = self.ranges[self.min_zoom]
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                self.tile(self.min_zoom, x, y)
        return self.written

    def inside(self, z: int, x: int, y: int) -> bool:
        x0, y0, x1, y1 = self.ranges[z]
        return x0 <= x <= x1 and y0 <= y <= y1

    def tile(self, z: int, x: int, y: int) -> NDArray[np.uint8] | None:
        """Make and write tile (z, x, y) and everything below it; return its pixels."""
        if not self.inside(z, x, y):
            return None
        if z == self.block_zoom:
            return self.block(z, x, y)
        children = [[self.tile(z + 1, 2 * x + i, 2 * y + j) for i in (0, 1)] for j in (0, 1)]
        if all(c is None for row in children for c in row):
            pixels = None
        else:
            blank = np.zeros((TILE_SIZE, TILE_SIZE, 4), np.uint8)
            rows = [np.hstack([c if c is not None else blank for c in row]) for row in children]
            pixels = downsample(np.vstack(rows))
        self.emit(z, x, y, pixels)
        self.done += 1
        self.report(z)
        return pixels

    def block(self, zb: int, xb: int, yb: int) -> NDArray[np.uint8] | None:
        """Warp the deepest-zoom tiles under (zb, xb, yb) at once, then halve up to zb."""
        n = 1 << (self.max_zoom - zb)
        canvas = self.read_block(n * xb, n * yb, n)
        for z in range(self.max_zoom, zb - 1, -1):
            side = 1 << (z - zb)
            for j, i in product(range(side), repeat=2):
                x, y = side * xb + i, side * yb + j
                if self.inside(z, x, y):
                    pixels = None if canvas is None else _cut(canvas, i, j)
                    self.emit(z, x, y, pixels)
                    self.done += 1
            if z > zb and canvas is not None:
                canvas = _halve(canvas)
        self.report(zb)
        return canvas

    def read_block(self, x0: int, y0: int, n: int) -> NDArray[np.uint8] | None:
        """The n x n deepest-zoom tiles from (x0, y0) as one (256 n, 256 n, 4) picture; only the
        part inside the extent is warped."""
        rx0, ry0, rx1, ry1 = self.ranges[self.max_zoom]
        cx0, cy0 = max(x0, rx0), max(y0, ry0)
        cx1, cy1 = min(x0 + n - 1, rx1), min(y0 + n - 1, ry1)
        if cx1 < cx0 or cy1 < cy0:
            return None
        west, _, _, north = tile_bounds(self.max_zoom, cx0, cy0)
        px = tile_size_m(self.max_zoom) / TILE_SIZE
        w, h = (cx1 - cx0 + 1) * TILE_SIZE, (cy1 - cy0 + 1) * TILE_SIZE
        rgba = self.ortho.read_rgba(WEB_MERCATOR, from_origin(west, north, px, px), w, h)
        if rgba is None:
            return None
        canvas = np.zeros((n * TILE_SIZE, n * TILE_SIZE, 4), np.uint8)
        top, left = (cy0 - y0) * TILE_SIZE, (cx0 - x0) * TILE_SIZE
        canvas[top : top + h, left : left + w] = np.moveaxis(rgba, 0, -1)
        return canvas

    def emit(self, z: int, x: int, y: int, pixels: NDArray[np.uint8] | None) -> None:
        """Write a tile unless it is fully transparent."""
        if pixels is None or not pixels[..., 3].any():
            return
        path = self.out_dir / str(z) / str(x) / f"{y}.{FORMAT}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode_tile(pixels))
        self.written += 1

    def report(self, z: int) -> None:
        if self.progress is not None:
            self.progress(min(self.done / self.total, 1.0), f"imagery tiles, zoom {z}")


def _halve(canvas: NDArray[np.uint8]) -> NDArray[np.uint8] | None:
    """Downsample a block's picture, working only on the (even-aligned) box that has content:
    blocks on the edge of the extent are mostly empty."""
    rows = np.flatnonzero(canvas[..., 3].any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(canvas[..., 3].any(axis=0))
    r0, r1 = rows[0] & ~1, (rows[-1] | 1) + 1
    c0, c1 = cols[0] & ~1, (cols[-1] | 1) + 1
    out = np.zeros((canvas.shape[0] // 2, canvas.shape[1] // 2, 4), np.uint8)
    out[r0 // 2 : r1 // 2, c0 // 2 : c1 // 2] = downsample(canvas[r0:r1, c0:c1])
    return out


def _cut(canvas: NDArray[np.uint8], i: int, j: int) -> NDArray[np.uint8]:
    return canvas[j * TILE_SIZE : (j + 1) * TILE_SIZE, i * TILE_SIZE : (i + 1) * TILE_SIZE]


def plan_zooms(ortho: Orthophoto) -> dict[int, TileRange]:
    """Zoom -> XYZ tile range intersecting the orthophoto's extent, min to max zoom."""
    merc = mercator_bounds(ortho.bounds_wgs84)
    max_zoom = max_zoom_for(ortho.pixel_size_in(WEB_MERCATOR))
    min_zoom = min_zoom_for(merc, max_zoom)
    return {z: tile_range(merc, z) for z in range(min_zoom, max_zoom + 1)}


def write_metadata(out_dir: Path, result: ImageryResult) -> Path:
    """`imagery.json`: what a viewer needs to build its imagery provider."""
    meta = {
        "scheme": "xyz",
        "crs": WEB_MERCATOR,
        "tiling_scheme": "WebMercatorTilingScheme",
        "format": result.format,
        "mime_type": f"image/{result.format}",
        "url": URL_TEMPLATE,
        "tile_size": TILE_SIZE,
        "min_zoom": result.min_zoom,
        "max_zoom": result.max_zoom,
        "bounds": list(result.bounds_wgs84),
        "tile_count": result.tile_count,
        "missing_tiles": "transparent",
        "source_crs": result.source_crs,
        "source_bounds": list(result.bounds_source),
    }
    path = out_dir / METADATA
    path.write_text(json.dumps(meta, indent=2) + "\n")
    return path


def tile_imagery(
    files: list[Path],
    out_dir: Path,
    *,
    srs: str | None = None,
    progress: Progress | None = None,
) -> ImageryResult:
    """Tile orthophoto files of one zone into `out_dir` (see the module docstring).

    `progress(fraction, message)` is called after every block and every lower-zoom tile; an
    exception it raises stops the work (cancel). `imagery.json` is written last, so a folder
    without it is an unfinished one for the caller to discard. OrthophotoError for bad input.
    """
    out_dir = Path(out_dir)
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), Orthophoto(files, srs=srs) as ortho:
        ranges = plan_zooms(ortho)
        if progress is not None:
            progress(0.0, f"imagery: zooms {min(ranges)}-{max(ranges)}")
        out_dir.mkdir(parents=True, exist_ok=True)
        written = _Pyramid(ortho, out_dir, ranges, progress).run()
        if written == 0:
            names = ", ".join(Path(f).name for f in files)
            raise OrthophotoError(f"{names}: every pixel is transparent (nodata, alpha or mask)")
        result = ImageryResult(
            tile_count=written,
            min_zoom=min(ranges),
            max_zoom=max(ranges),
            source_crs=ortho.crs_code,
            bounds_source=ortho.bounds,
            bounds_wgs84=ortho.bounds_wgs84,
            format=FORMAT,
        )
    write_metadata(out_dir, result)
    if progress is not None:
        progress(1.0, f"imagery: {written} tiles")
    return result
