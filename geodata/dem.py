"""Digital elevation models (GeoTIFF, SRTM .hgt, anything GDAL reads) as ellipsoidal heights.

What this module settles, so that the terrain tiler does not have to:

- several files of one zone read as one surface (where they overlap, later files win), without
  merging them into one big array: each query reads only the windows of the files under it;
- nodata (declared, NaN, or an internal mask) stays "no height", never a height of -9999;
- the CRS: `srs` wins over what files say; without it every file must carry a complete CRS, all
  the same one (a zone in two CRSs is refused: import them as separate layers);
- heights: the file's orthometric heights become ellipsoidal through `geodata.crs.ecef_pipeline`,
  the same pipeline as every other layer (NGF-IGN69 assumed for Lambert-93 and RGF93 CRSs, EGM96
  elsewhere; `height_note` says which grid was used), so buildings and point clouds sit on it.

Queries are by longitude/latitude (WGS84): the points go the other way through the same pipeline
(ECEF -> source CRS), are sampled bilinearly in the source grid, and the orthometric height is
mapped back to ellipsoidal. Every failure names its file and is a `DemError`, a `ValueError`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from numba import njit
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS
from pyproj.enums import TransformDirection
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.windows import Window

from geodata.crs import (
    ecef_pipeline,
    ecef_to_lonlat,
    lonlat_bounds,
    lonlat_to_ecef,
    pipeline_transformer,
)
from geodata.raster import file_crs, parse_srs

Bounds = tuple[float, float, float, float]
METRES_PER_DEGREE = 6_371_008.8 * np.pi / 180.0  # mean Earth radius: a pixel's size, roughly
_COARSE = 17  # nodes per axis where `Dem.grid` transforms exactly; the others are interpolated
_TOLERANCE = 1e-3  # interpolated positions/heights within this fraction of the node spacing
_VSI = re.compile(r"^/vsi(?:zip|tar|gzip|7z|rar)/")


class DemError(ValueError):
    """A DEM that cannot be used as given; the message names the file and the problem."""


@dataclass(frozen=True)
class HeightGrid:
    """Ellipsoidal heights (metres) at the nodes of a regular lon/lat grid, row 0 south.

    Where no file has data, `heights` holds mean sea level (EGM96 geoid), so the terrain around
    a DEM is the sea-level globe rather than the bare ellipsoid (tens of metres off).
    """

    lon: NDArray[np.float64]  # (cols,) degrees of the nodes, west to east
    lat: NDArray[np.float64]  # (rows,) south to north
    heights: NDArray[np.float64]  # (rows, cols)
    covered: NDArray[np.bool_]  # True where the DEM gave the height


def gdal_path(path: str | os.PathLike[str]) -> str:
    """The name GDAL should open: `Path("/vsizip//abs/a.zip/x")` collapses the double slash,
    and GDAL then reads "abs/a.zip" as relative; put the slash back when that is what was meant."""
    name = os.fspath(path)
    match = _VSI.match(name)
    if match:
        rest = name[match.end() :]
        first = rest.split("/", 1)[0]
        if first and not os.path.exists(first) and os.path.exists("/" + first):
            return f"{name[: match.end()]}/{rest}"
    return name


@dataclass
class _Source:
    """One open file, read by windows."""

    path: str
    dataset: rasterio.DatasetReader

    def sample(self, x: NDArray, y: NDArray, step: int) -> tuple[NDArray, NDArray]:
        """Bilinear heights (source units) at source-CRS points, as (weighted sum, weight) over
        the valid pixels around each point: weight 1 where all four are valid, 0 where none is.

        `step` > 1 reads the file averaged over step x step blocks aligned on multiples of step,
        so a coarse query reads step² fewer values and neighbouring queries see the same blocks.
        """
        ds = self.dataset
        col, row = ~ds.transform @ (x, y)
        total, weight = np.zeros(np.shape(x)), np.zeros(np.shape(x))
        ok = np.isfinite(col) & np.isfinite(row)
        if not ok.any():
            return total, weight
        step = max(1, min(step, _floor_pow2(min(ds.width, ds.height))))
        window = _aligned_window(col[ok], row[ok], step, ds.width, ds.height)
        if window is None:
            return total, weight
        values = self._read(window, step)
        fc = (col[ok] - window.col_off) / step - 0.5
        fr = (row[ok] - window.row_off) / step - 0.5
        total[ok], weight[ok] = _bilinear(values, fc, fr)
        return total, weight

    def _read(self, window: Window, step: int) -> NDArray[np.float64]:
        shape = (int(window.height) // step, int(window.width) // step)
        try:
            data = self.dataset.read(
                1, window=window, out_shape=shape, resampling=Resampling.average, masked=True
            )
        except RasterioError as exc:
            raise DemError(f"{self.path}: cannot read heights ({exc})") from exc
        values = np.ma.filled(data.astype(np.float64), np.nan)
        values[~np.isfinite(values)] = np.nan
        return values


def _floor_pow2(n: float) -> int:
    return 1 << max(0, int(np.floor(np.log2(max(n, 1.0)))))


def _aligned_window(
    col: NDArray, row: NDArray, step: int, width: int, height: int
) -> Window | None:
    """Whole step-blocks covering the points plus one pixel of margin, inside the raster."""
    c0 = max(int(np.floor(col.min())) - 1, 0) // step * step
    r0 = max(int(np.floor(row.min())) - 1, 0) // step * step
    c1 = min(int(np.ceil(col.max())) + 1, width)
    r1 = min(int(np.ceil(row.max())) + 1, height)
    c1 = min(c0 + -(-(c1 - c0) // step) * step, width // step * step)
    r1 = min(r0 + -(-(r1 - r0) // step) * step, height // step * step)
    if c1 <= c0 or r1 <= r0:
        return None
    return Window(c0, r0, c1 - c0, r1 - r0)


def _bilinear(values: NDArray[np.float64], fc: NDArray, fr: NDArray) -> tuple[NDArray, NDArray]:
    """Bilinear interpolation at fractional pixel-centre coordinates, as (sum of weight x value,
    sum of weights) over the non-NaN pixels: the caller divides, possibly after adding what
    another file holds of the same four pixels."""
    total, weight = np.empty(fc.size), np.empty(fc.size)
    _bilinear_sums(values, np.ravel(fc), np.ravel(fr), total, weight)
    return total.reshape(np.shape(fc)), weight.reshape(np.shape(fc))


@njit(cache=True)
def _bilinear_sums(values, fc, fr, total, weight):  # pragma: no cover - compiled
    rows, cols = values.shape
    for i in range(fc.size):
        c0, r0 = int(np.floor(fc[i])), int(np.floor(fr[i]))
        tc, tr = fc[i] - c0, fr[i] - r0
        t = w = 0.0
        for dr in range(2):
            for dc in range(2):
                r, c = r0 + dr, c0 + dc
                if 0 <= r < rows and 0 <= c < cols and np.isfinite(values[r, c]):
                    wt = (tr if dr else 1.0 - tr) * (tc if dc else 1.0 - tc)
                    t += wt * values[r, c]
                    w += wt
        total[i], weight[i] = t, w


def _open(path: str) -> rasterio.DatasetReader:
    if not path.startswith("/vsi") and not Path(path).is_file():
        raise DemError(f"{path}: no such file")
    try:
        return rasterio.open(path)
    except RasterioError as exc:
        raise DemError(f"{path}: not a readable raster ({exc})") from exc


def _check_heights(path: str, dataset: rasterio.DatasetReader) -> None:
    """One band of numbers with at least one valid value (scanned block by block: bounded)."""
    if dataset.count != 1:
        raise DemError(f"{path}: {dataset.count} bands; a DEM has one band of heights")
    try:
        for _, window in dataset.block_windows(1):
            if dataset.read_masks(1, window=window).any():
                return
    except RasterioError as exc:
        raise DemError(f"{path}: cannot read heights ({exc})") from exc
    raise DemError(f"{path}: every pixel is nodata ({dataset.nodata}); no heights to use")


def _describe(crs: CRS) -> str:
    """The CRS as "EPSG:2154" when it is a registered one, else its WKT."""
    auth = crs.to_authority(min_confidence=70)
    return f"{auth[0]}:{auth[1]}" if auth else crs.to_wkt()


def _metres_per_unit(crs: CRS) -> float:
    if crs.is_geographic:
        return METRES_PER_DEGREE
    return crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0


class Dem:
    """One or several DEM files of a zone, queried as one surface of ellipsoidal heights.

    Use as a context manager. Files are given as paths or GDAL names (`/vsizip/a.zip/b.hgt`).
    """

    def __init__(self, files: Sequence[str | os.PathLike[str]], *, srs: str | None = None) -> None:
        if not files:
            raise DemError("no DEM file given")
        forced = parse_srs(srs, DemError)
        self._sources: list[_Source] = []
        crss: list[CRS] = []
        try:
            for name in map(gdal_path, files):
                dataset = _open(name)
                self._sources.append(_Source(name, dataset))
                crss.append(file_crs(name, dataset, forced, DemError))
                _check_heights(name, dataset)
            self.crs = crss[0]
            for source, crs in zip(self._sources[1:], crss[1:], strict=True):
                if not crs.equals(self.crs, ignore_axis_order=True):
                    raise DemError(
                        f"{source.path}: CRS {crs.name} differs from "
                        f"{self._sources[0].path}'s ({self.crs.name}); a DEM layer is one zone "
                        "in one CRS: import them as separate layers, or reproject them first"
                    )
        except BaseException:
            self.close()
            raise
        self.crs_code = _describe(self.crs)
        self.pipeline = ecef_pipeline(self.crs_code)
        self._sea = ecef_pipeline("EPSG:4326")  # EGM96: sea level where no file has data
        self._unit = _metres_per_unit(self.crs)
        wkt = self.crs.to_wkt()
        boxes = [tuple(s.dataset.bounds) for s in self._sources]
        self.bounds = _union(boxes)
        self.bounds_wgs84 = _union([lonlat_bounds(wkt, b) for b in boxes])
        sizes = [np.hypot(s.dataset.transform.b, s.dataset.transform.e) for s in self._sources]
        self.resolution_m = float(min(sizes)) * self._unit  # finest north-south pixel, metres

    def __enter__(self) -> Dem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for source in self._sources:
            source.dataset.close()

    @property
    def height_note(self) -> str:
        """How heights were made ellipsoidal (grid used, or the assumption made)."""
        return self.pipeline.note

    def heights(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.float64]:
        """Ellipsoidal heights at WGS84 points (every point through pyproj); NaN where no data."""
        lon, lat = np.broadcast_arrays(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
        x, y, z0, dz = self._to_source(lon.ravel(), lat.ravel())
        h = self._ellipsoidal(self._source_heights(x, y, 1), z0, dz)
        return h.reshape(lon.shape)

    def grid(self, bounds: Bounds, size: int, *, margin: int = 0) -> HeightGrid:
        """Heights at size x size nodes spanning `bounds` (west, south, east, north) edge to edge,
        plus `margin` more nodes, equally spaced, beyond each edge; row 0 south. Latitudes past
        a pole are clamped to it.

        Fast path: the transform to the source CRS and the geoid are smooth, so they are computed
        exactly on a 17 x 17 subgrid whose outer lines are the edges of `bounds` (two grids
        sharing an edge get the very same values along it) and interpolated, then checked on a
        sample of nodes: within 1/1000 of the node spacing, or the nodes over the DEM go through
        pyproj one by one. Files are read averaged over the largest power-of-two blocks of
        pixels no larger than the node spacing.
        """
        if size < 2 or margin < 0:
            raise ValueError("a height grid has at least 2 x 2 nodes and a margin >= 0")
        west, south, east, north = bounds
        steps = np.arange(-margin, size + margin)
        lon = west + steps * ((east - west) / (size - 1))
        lat = np.clip(south + steps * ((north - south) / (size - 1)), -90.0, 90.0)
        knots = _knots(size, margin)
        spacing_m = (north - south) / (size - 1) * METRES_PER_DEGREE
        heights = _upsample(self._sea_level(lon[knots], lat[knots]), knots)
        covered = np.zeros(heights.shape, bool)
        rows, cols = self._near(lon, lat)
        if rows.stop > rows.start and cols.stop > cols.start:
            x, y, z0, dz = self._block_to_source(lon, lat, knots, (rows, cols), spacing_m)
            step = _floor_pow2(spacing_m / self.resolution_m)
            h = self._ellipsoidal(self._source_heights(x, y, step), z0, dz)
            block = np.isfinite(h)
            heights[rows, cols] = np.where(block, h, heights[rows, cols])
            covered[rows, cols] = block
        return HeightGrid(lon, lat, heights, covered)

    # --- internals -----------------------------------------------------------------------------

    def _near(self, lon: NDArray, lat: NDArray) -> tuple[slice, slice]:
        """The rows and columns of nodes inside the files' lon/lat box (one node of margin)."""
        w, s, e, n = self.bounds_wgs84
        c = np.flatnonzero((lon >= w) & (lon <= e))
        r = np.flatnonzero((lat >= s) & (lat <= n))
        if not c.size or not r.size:
            return slice(0, 0), slice(0, 0)
        return (
            slice(max(r[0] - 1, 0), min(r[-1] + 2, lat.size)),
            slice(max(c[0] - 1, 0), min(c[-1] + 2, lon.size)),
        )

    def _to_source(self, lon: NDArray, lat: NDArray) -> tuple[NDArray, ...]:
        """Exact (x, y) in the source CRS and the affine height map: the source z of ellipsoidal
        height h is (z0 + dz * h) / z_scale, through the layer's own ECEF pipeline reversed."""
        t = pipeline_transformer(self.pipeline.definition)
        inverse = TransformDirection.INVERSE
        p0 = lonlat_to_ecef(lon, lat, 0.0)
        p1 = lonlat_to_ecef(lon, lat, 1.0)
        x, y, z0 = t.transform(p0[..., 0], p0[..., 1], p0[..., 2], direction=inverse)
        _, _, z1 = t.transform(p1[..., 0], p1[..., 1], p1[..., 2], direction=inverse)
        return np.asarray(x), np.asarray(y), np.asarray(z0), np.asarray(z1) - np.asarray(z0)

    def _block_to_source(
        self,
        lon: NDArray,
        lat: NDArray,
        knots: NDArray[np.int64],
        block: tuple[slice, slice],
        spacing_m: float,
    ) -> tuple[NDArray, ...]:
        """`_to_source` on the block of the lon x lat grid, interpolated from the knots when that
        is exact enough there (checked), else node by node."""
        rows, cols = block
        klon, klat = np.meshgrid(lon[knots], lat[knots])
        coarse = self._to_source(klon.ravel(), klat.ravel())
        around = _knot_span(knots, rows), _knot_span(knots, cols)
        if all(np.isfinite(a.reshape(klon.shape)[around]).all() for a in coarse):
            fields = [_upsample(a.reshape(klon.shape), knots)[rows, cols] for a in coarse]
            pr, pc = _probes(knots, rows), _probes(knots, cols)
            plon, plat = np.meshgrid(lon[pc], lat[pr])
            exact = self._to_source(plon.ravel(), plat.ravel())
            at = np.ix_(pr - rows.start, pc - cols.start)
            err_xy = max(
                np.abs(f[at].ravel() - e).max() for f, e in zip(fields[:2], exact[:2], strict=True)
            )
            err_z = np.abs(fields[2][at].ravel() - exact[2]).max()
            if max(err_xy * self._unit, err_z) <= _TOLERANCE * spacing_m:
                return tuple(fields)
        glon, glat = np.meshgrid(lon[cols], lat[rows])
        return tuple(a.reshape(glon.shape) for a in self._to_source(glon.ravel(), glat.ravel()))

    def _source_heights(self, x: NDArray, y: NDArray, step: int) -> NDArray[np.float64]:
        """Source-unit heights, NaN where no file has data.

        A point whose four pixels are all in one file takes that file's value (the last such
        file where files overlap). A point between two sheets (pixels in both) pools their
        pixels, which is exact bilinear interpolation across the seam of aligned sheets; near
        the data's edge, the valid pixels' weights are renormalised.
        """
        full = np.full(np.shape(x), np.nan)
        total, weight = np.zeros(np.shape(x)), np.zeros(np.shape(x))
        for source in self._sources:
            t, w = source.sample(x, y, step)
            full = np.where(w > 1.0 - 1e-9, t / np.maximum(w, 1e-300), full)
            total += t
            weight += w
        with np.errstate(invalid="ignore", divide="ignore"):
            pooled = np.where(weight > 1e-9, total / weight, np.nan)
        return np.where(np.isfinite(full), full, pooled)

    def _ellipsoidal(self, z: NDArray, z0: NDArray, dz: NDArray) -> NDArray[np.float64]:
        with np.errstate(invalid="ignore", divide="ignore"):
            return (z * self.pipeline.z_scale - z0) / dz

    def _sea_level(self, lon: NDArray, lat: NDArray) -> NDArray[np.float64]:
        """EGM96 geoid heights on the lon x lat grid; 0 where the geoid is undefined."""
        glon, glat = np.meshgrid(lon, lat)
        ecef = self._sea.to_ecef(glon.ravel(), glat.ravel(), np.zeros(glon.size))
        n = ecef_to_lonlat(ecef)[..., 2].reshape(glon.shape)
        n[~np.isfinite(n)] = 0.0
        return n


def _knots(size: int, margin: int) -> NDArray[np.int64]:
    """Indices of the exactly transformed nodes along one axis: the grid's edges and evenly
    between them, plus the outermost margin nodes."""
    inner = margin + np.round(np.linspace(0, size - 1, min(size, _COARSE))).astype(np.int64)
    return np.unique(np.r_[0, inner, size + 2 * margin - 1])


def _knot_span(knots: NDArray[np.int64], nodes: slice) -> slice:
    """The knots whose interpolation reaches the nodes: from the last at or before the first
    node to the first at or after the last node."""
    first = np.searchsorted(knots, nodes.start, side="right") - 1
    last = np.searchsorted(knots, nodes.stop - 1, side="left")
    return slice(max(first, 0), min(last, knots.size - 1) + 1)


def _probes(knots: NDArray[np.int64], nodes: slice) -> NDArray[np.int64]:
    """A few nodes halfway between knots (where interpolation is worst) inside `nodes`, or the
    middle node when none is."""
    mids = (knots[:-1] + knots[1:]) // 2
    mids = mids[(mids >= nodes.start) & (mids < nodes.stop)]
    if not mids.size:
        return np.array([(nodes.start + nodes.stop - 1) // 2])
    return mids[:: max(1, mids.size // 4)]


def _upsample(coarse: NDArray, knots: NDArray[np.int64]) -> NDArray[np.float64]:
    """Bilinear interpolation of values known at the knots (rows and columns) onto every node."""
    nodes = np.arange(int(knots[-1]) + 1)
    k = np.clip(np.searchsorted(knots, nodes, side="right") - 1, 0, knots.size - 2)
    t = (nodes - knots[k]) / (knots[k + 1] - knots[k])
    return _upsample_kernel(np.ascontiguousarray(coarse, np.float64), k, t)


@njit(cache=True)
def _upsample_kernel(coarse, k, t):  # pragma: no cover - compiled
    n = k.size
    out = np.empty((n, n))
    for i in range(n):
        r, tr = k[i], t[i]
        for j in range(n):
            c, tc = k[j], t[j]
            below = coarse[r, c] * (1.0 - tc) + coarse[r, c + 1] * tc
            above = coarse[r + 1, c] * (1.0 - tc) + coarse[r + 1, c + 1] * tc
            out[i, j] = below * (1.0 - tr) + above * tr
    return out


def _union(boxes: Sequence[Sequence[float]]) -> Bounds:
    b = np.asarray(boxes, dtype=np.float64)
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))


def write_merged(
    files: Sequence[str | os.PathLike[str]], path: Path, *, srs: str | None = None
) -> tuple[float, float]:
    """Write the files of one zone as one compressed GeoTIFF at `path` and return its (min, max)
    height.

    This is the grid a simulation runs on, so it stays as the source is: its own CRS (or `srs`),
    its own pixels, its heights orthometric as given (no geoid). Where files overlap the later
    one wins, as in `Dem`. The merge works in chunks, so memory stays bounded.
    """
    import rasterio.crs
    from rasterio.merge import merge

    names = [gdal_path(f) for f in files]
    forced = parse_srs(srs, DemError)
    try:
        with rasterio.open(names[0]) as first:
            dtype, nodata = first.dtypes[0], first.nodata
        if nodata is None:
            floating = np.issubdtype(np.dtype(dtype), np.floating)
            nodata = float("nan") if floating else float(np.iinfo(np.dtype(dtype)).min)
        options = {
            "driver": "GTiff",
            "compress": "deflate",
            "predictor": 3 if np.issubdtype(np.dtype(dtype), np.floating) else 2,
            "tiled": True,
            "blockxsize": 256,
            "blockysize": 256,
            "BIGTIFF": "IF_SAFER",
        }
        if forced is not None:
            options["crs"] = rasterio.crs.CRS.from_wkt(forced.to_wkt())
        merge(names, method="last", nodata=nodata, dst_path=path, dst_kwds=options)
        lo, hi = np.inf, -np.inf
        with rasterio.open(path) as merged:
            for _, window in merged.block_windows(1):
                block = merged.read(1, window=window, masked=True)
                values = block.compressed()
                values = values[np.isfinite(values)]
                if values.size:
                    lo, hi = min(lo, float(values.min())), max(hi, float(values.max()))
    except (RasterioError, ValueError) as exc:
        Path(path).unlink(missing_ok=True)
        raise DemError(f"cannot write the merged DEM ({exc})") from exc
    return lo, hi
