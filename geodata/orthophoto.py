"""Orthophoto GeoTIFFs read as RGBA uint8 in any target grid (a map tile, a block of tiles).

What this module settles, so that the imagery tiler does not have to:

- the bands to show: RGB(A) by colour interpretation (an IRC file shows as its false colours, a
  4-band RGB+NIR file as RGB), greyscale, grey + alpha, or a palette expanded through its
  colour table;
- the bit depth: uint8 as stored; uint16 (12-, 14- or 16-bit sensors) stretched per band between
  its 2nd and 98th percentiles, taken once over all files so neighbouring sheets match;
- transparency: nodata, an alpha band or an internal mask all become alpha (GDAL's dataset mask);
- the CRS: `srs` wins over what files say; without it every file must carry a complete CRS (a
  GeoTIFF whose datum GDAL reports as "unretrievable" is refused, not guessed), all the same.

Rasters that are not pictures (float or signed bands: elevations, measurements) are refused with
a message saying so: shading heights as grey would look like imagery and mislead; DEMs go through
the terrain path. Every failure names its file and is an `OrthophotoError`, a `ValueError`.

Reading warps with GDAL (`rasterio.warp.reproject`) from a window of the source around the target,
so memory follows the target's size, not the file's. Colours are warped premultiplied by alpha,
so transparent source pixels never bleed into their neighbours' colours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from numpy.typing import NDArray
from pyproj import CRS
from rasterio.enums import ColorInterp, Resampling
from rasterio.errors import RasterioIOError
from rasterio.transform import array_bounds
from rasterio.warp import calculate_default_transform, reproject
from rasterio.windows import Window, from_bounds

from geodata.crs import lonlat_bounds, transformer
from geodata.raster import file_crs, parse_srs

Bounds = tuple[float, float, float, float]
STRETCH_PERCENTILES = (2.0, 98.0)
_STATS_SIDE = 1024  # decimated read used for the 16-bit percentiles, per file
_PAD = 3  # source pixels read around a window, for the bilinear / cubic kernels


class OrthophotoError(ValueError):
    """An orthophoto that cannot be used as given; the message names the file and the problem."""


@dataclass(frozen=True)
class BandPlan:
    """Which source bands make the picture: `kind` is rgb, grey or palette. Opacity comes from
    GDAL's dataset mask (alpha band, nodata or internal mask), not from here."""

    kind: str
    colour: tuple[int, ...]  # 1-based band indexes: 3 for rgb, 1 for grey / palette


@dataclass
class _Source:
    """One open file and what it takes to turn a window of it into RGBA."""

    path: Path
    dataset: rasterio.DatasetReader
    crs: CRS
    plan: BandPlan
    lut: NDArray[np.uint8] | None = None  # palette -> RGBA, (entries, 4)
    _bounds_in: dict[str, Bounds] = field(default_factory=dict)

    @property
    def bounds(self) -> Bounds:
        return tuple(float(v) for v in self.dataset.bounds)

    def bounds_in(self, crs: str) -> Bounds:
        """The file's footprint box in `crs` (densified edges), cached per CRS."""
        if crs not in self._bounds_in:
            t = transformer(self.crs.to_wkt(), crs)
            self._bounds_in[crs] = tuple(t.transform_bounds(*self.bounds, densify_pts=21))
        return self._bounds_in[crs]


def _open(path: Path) -> rasterio.DatasetReader:
    if not path.is_file():
        raise OrthophotoError(f"{path}: no such file")
    try:
        return rasterio.open(path)
    except RasterioIOError as exc:
        raise OrthophotoError(f"{path}: not a readable raster ({exc})") from exc


def _band_plan(path: Path, dataset: rasterio.DatasetReader) -> BandPlan:
    """Which bands to show, or OrthophotoError for rasters that are not pictures."""
    dtypes = set(dataset.dtypes)
    if not dtypes <= {"uint8", "uint16"}:
        raise OrthophotoError(
            f"{path}: {dataset.count} band(s) of {', '.join(sorted(dtypes))}: values such as "
            "elevations or measurements, not an orthophoto (8- or 16-bit unsigned RGB, RGBA, "
            "grey or palette); import a DEM as terrain"
        )
    interp = list(dataset.colorinterp)
    rgb = (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
    if all(c in interp for c in rgb):
        return BandPlan("rgb", tuple(interp.index(c) + 1 for c in rgb))
    if interp[0] == ColorInterp.palette:
        return BandPlan("palette", (1,))
    others = [i + 1 for i, c in enumerate(interp) if c != ColorInterp.alpha]
    if len(others) >= 3:
        return BandPlan("rgb", tuple(others[:3]))
    return BandPlan("grey", (others[0],))


def _palette(dataset: rasterio.DatasetReader) -> NDArray[np.uint8]:
    """The colour table of band 1 as a lookup array, index -> RGBA."""
    table = dataset.colormap(1)
    size = 256 if dataset.dtypes[0] == "uint8" else 65536
    lut = np.zeros((size, 4), np.uint8)
    for index, colour in table.items():
        if index < size:
            lut[index] = colour
    return lut


class Orthophoto:
    """One or several orthophoto files of a zone, read together as one RGBA picture.

    Use as a context manager. `read_rgba` composites the files that overlap the target (later
    files over earlier ones, alpha-blended).
    """

    def __init__(self, files: Sequence[Path], *, srs: str | None = None) -> None:
        if not files:
            raise OrthophotoError("no orthophoto file given")
        forced = parse_srs(srs, OrthophotoError)
        self._sources: list[_Source] = []
        try:
            for path in map(Path, files):
                self._sources.append(_load(path, forced))
            _check_one_crs(self._sources)
            self._stretch = _stretch_limits(self._sources)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Orthophoto:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for source in self._sources:
            source.dataset.close()

    @property
    def crs(self) -> CRS:
        return self._sources[0].crs

    @property
    def crs_code(self) -> str:
        """The CRS as "EPSG:nnnn" when it is a registered one, else its WKT."""
        auth = self.crs.to_authority(min_confidence=70)
        return f"{auth[0]}:{auth[1]}" if auth else self.crs.to_wkt()

    @property
    def bounds(self) -> Bounds:
        """(minx, miny, maxx, maxy) of all files, in the source CRS."""
        b = np.array([s.bounds for s in self._sources])
        return _union(b)

    def bounds_in(self, crs: str) -> Bounds:
        """Bounds of all files in another CRS."""
        b = np.array([s.bounds_in(crs) for s in self._sources])
        return _union(b)

    @property
    def bounds_wgs84(self) -> Bounds:
        """(west, south, east, north) degrees."""
        return lonlat_bounds(self.crs.to_wkt(), self.bounds)

    def pixel_size_in(self, crs: str) -> float:
        """The finest source pixel size once warped to `crs`, in its units (as gdalwarp picks)."""
        sizes = []
        for s in self._sources:
            ds = s.dataset
            t, _, _ = calculate_default_transform(
                _rio_crs(s.crs), crs, ds.width, ds.height, *ds.bounds
            )
            sizes.append(min(abs(t.a), abs(t.e)))
        return float(min(sizes))

    def read_rgba(
        self,
        crs: str,
        transform: rasterio.Affine,
        width: int,
        height: int,
        *,
        resampling: Resampling = Resampling.bilinear,
    ) -> NDArray[np.uint8] | None:
        """The picture on a target grid as (4, height, width) RGBA, None where nothing overlaps."""
        target = array_bounds(height, width, transform)  # west, south, east, north
        out: NDArray[np.uint8] | None = None
        for source in self._sources:
            if not _overlap(source.bounds_in(crs), target):
                continue
            rgba = self._warp(source, crs, transform, width, height, resampling)
            if rgba is not None:
                out = rgba if out is None else _over(rgba, out)
        return out

    def _warp(
        self,
        source: _Source,
        crs: str,
        transform: rasterio.Affine,
        width: int,
        height: int,
        resampling: Resampling,
    ) -> NDArray[np.uint8] | None:
        window = _source_window(source, crs, array_bounds(height, width, transform))
        if window is None:
            return None
        premultiplied = _premultiply(self._source_rgba(source, window))
        out = np.zeros((4, height, width), np.uint8)
        reproject(
            premultiplied,
            out,
            src_transform=source.dataset.window_transform(window),
            src_crs=_rio_crs(source.crs),
            dst_transform=transform,
            dst_crs=crs,
            resampling=resampling,
        )
        return _unpremultiply(out) if out[3].any() else None

    def _source_rgba(self, source: _Source, window: Window) -> NDArray[np.uint8]:
        """A window of the source as RGBA uint8 in its own grid."""
        ds, plan = source.dataset, source.plan
        mask = ds.dataset_mask(window=window)
        data = ds.read(list(plan.colour), window=window)
        if plan.kind == "palette":
            rgba = np.moveaxis(source.lut[data[0]], -1, 0).copy()
            np.minimum(rgba[3], mask, out=rgba[3])
            return rgba
        if data.dtype == np.uint16:
            lo, hi = self._stretch[np.array(plan.colour) - 1].T
            data = _stretch(data, lo, hi)
        rgb = data if plan.kind == "rgb" else np.repeat(data, 3, axis=0)
        return np.concatenate([rgb, mask[None]], axis=0)


def _load(path: Path, srs: CRS | None) -> _Source:
    dataset = _open(path)
    try:
        crs = file_crs(path, dataset, srs, OrthophotoError)
        plan = _band_plan(path, dataset)
        lut = _palette(dataset) if plan.kind == "palette" else None
    except BaseException:
        dataset.close()
        raise
    return _Source(path, dataset, crs, plan, lut)


def _check_one_crs(sources: Sequence[_Source]) -> None:
    """A layer is one zone in one CRS (as for point clouds): mixed CRSs are refused."""
    first = sources[0]
    for s in sources[1:]:
        if not first.crs.equals(s.crs, ignore_axis_order=True):
            raise OrthophotoError(
                f"{s.path}: CRS {s.crs.name} differs from {first.path.name}'s ({first.crs.name}); "
                "import them as separate layers"
            )


def _rio_crs(crs: CRS) -> rasterio.crs.CRS:
    return rasterio.crs.CRS.from_wkt(crs.to_wkt())


def _stretch_limits(sources: Sequence[_Source]) -> NDArray[np.float64]:
    """Per band (rows, 0-based band index) the 2-98 % limits over all 16-bit files pooled.

    Rows of 8-bit bands stay (0, 255); pooling keeps the sheets of a zone in one colour balance.
    """
    count = max(s.dataset.count for s in sources)
    limits = np.tile([0.0, 255.0], (count, 1))
    samples: dict[int, list[NDArray]] = {}
    for s in sources:
        ds = s.dataset
        if ds.dtypes[0] != "uint16" or s.plan.kind == "palette":
            continue
        scale = max(ds.width, ds.height) / _STATS_SIDE
        shape = (max(1, round(ds.height / max(scale, 1))), max(1, round(ds.width / max(scale, 1))))
        valid = ds.dataset_mask(out_shape=shape) > 0
        for band in s.plan.colour:
            samples.setdefault(band - 1, []).append(ds.read(band, out_shape=shape)[valid])
    for row, values in samples.items():
        pooled = np.concatenate(values)
        if pooled.size:
            lo, hi = np.percentile(pooled, STRETCH_PERCENTILES)
            limits[row] = (lo, hi if hi > lo else lo + 1)
    return limits


def _stretch(data: NDArray, lo: NDArray, hi: NDArray) -> NDArray[np.uint8]:
    """Linear stretch of (bands, h, w) so lo -> 0 and hi -> 255, clipped."""
    scaled = (data.astype(np.float32) - lo[:, None, None]) * (255.0 / (hi - lo))[:, None, None]
    return np.clip(scaled + 0.5, 0, 255).astype(np.uint8)


def _union(boxes: NDArray[np.float64]) -> Bounds:
    return (
        float(boxes[:, 0].min()),
        float(boxes[:, 1].min()),
        float(boxes[:, 2].max()),
        float(boxes[:, 3].max()),
    )


def _overlap(a: Bounds, b: Bounds) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _source_window(
    source: _Source, crs: str, target: tuple[float, float, float, float]
) -> Window | None:
    """The source pixels under a target box (west, south, east, north in `crs`), padded."""
    ds = source.dataset
    t = transformer(crs, source.crs.to_wkt())
    box = t.transform_bounds(*target, densify_pts=21)
    if not np.all(np.isfinite(box)):
        return None
    w = from_bounds(*box, transform=ds.transform)
    col0 = max(int(np.floor(w.col_off)) - _PAD, 0)
    row0 = max(int(np.floor(w.row_off)) - _PAD, 0)
    col1 = min(int(np.ceil(w.col_off + w.width)) + _PAD, ds.width)
    row1 = min(int(np.ceil(w.row_off + w.height)) + _PAD, ds.height)
    if col1 <= col0 or row1 <= row0:
        return None
    return Window(col0, row0, col1 - col0, row1 - row0)


def _premultiply(rgba: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Colours scaled by alpha, so that a plain warp of the four bands weights each source pixel
    by its opacity (what GDAL's alpha-aware warp does, at a quarter of its cost: its alpha path
    leaves the optimised kernels), and transparent pixels lend no colour to their neighbours."""
    alpha = rgba[3]
    if alpha.min() == 255:
        return rgba
    out = rgba.copy()
    out[:3] = (rgba[:3].astype(np.uint16) * alpha + 127) // 255
    return out


def _unpremultiply(rgba: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Back from premultiplied colours (out of a warp) to straight ones; only partly transparent
    pixels (edges) change."""
    alpha = rgba[3]
    partial = (alpha > 0) & (alpha < 255)
    if partial.any():
        a = alpha[partial].astype(np.uint32)
        colour = (rgba[:3, partial].astype(np.uint32) * 255 + a // 2) // a
        rgba[:3, partial] = np.minimum(colour, 255)
    return rgba


def _over(top: NDArray[np.uint8], under: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Porter-Duff "over" of two (4, h, w) RGBA pictures."""
    ta = top[3:4].astype(np.float32) / 255.0
    ua = under[3:4].astype(np.float32) / 255.0
    alpha = ta + ua * (1.0 - ta)
    colour = top[:3] * ta + under[:3] * ua * (1.0 - ta)
    colour = np.divide(colour, alpha, out=np.zeros_like(colour), where=alpha > 0)
    out = np.concatenate([colour, alpha * 255.0], axis=0)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
