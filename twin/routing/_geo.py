"""Private geometry helpers: a local metric frame, geometries stored as WKB arrays, points
sampled along edges, and a bucket grid for "everything within r metres" sums."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numba import njit
from numpy.typing import NDArray

from geodata.crs import transformer

WGS84 = "EPSG:4326"


@dataclass(frozen=True)
class LocalFrame:
    """An azimuthal equidistant projection centred on the network: metres, with a scale error
    below 1e-6 within 10 km of the centre, so lengths and distances are true to the centimetre."""

    lon0: float
    lat0: float

    @property
    def definition(self) -> str:
        return f"+proj=aeqd +lat_0={self.lat0:.9f} +lon_0={self.lon0:.9f} +datum=WGS84 +units=m"

    def to_xy(self, lon: NDArray, lat: NDArray) -> tuple[NDArray, NDArray]:
        x, y = transformer(WGS84, self.definition).transform(
            np.asarray(lon, np.float64), np.asarray(lat, np.float64)
        )
        return np.asarray(x, np.float64), np.asarray(y, np.float64)

    def to_lonlat(self, x: NDArray, y: NDArray) -> tuple[NDArray, NDArray]:
        lon, lat = transformer(self.definition, WGS84).transform(
            np.asarray(x, np.float64), np.asarray(y, np.float64)
        )
        return np.asarray(lon, np.float64), np.asarray(lat, np.float64)

    def project(self, geoms: NDArray[np.object_]) -> NDArray[np.object_]:
        """WGS84 shapely geometries to this frame."""
        return shapely.transform(geoms, lambda c: np.column_stack(self.to_xy(c[:, 0], c[:, 1])))


@dataclass(frozen=True)
class Geoms:
    """Shapely geometries as one WKB byte buffer plus offsets, so they fit in an .npz file
    without pickling."""

    wkb: NDArray[np.uint8]
    offsets: NDArray[np.int64]

    @classmethod
    def of(cls, geoms: NDArray[np.object_]) -> Geoms:
        blobs = shapely.to_wkb(geoms) if len(geoms) else []
        sizes = np.fromiter((len(b) for b in blobs), np.int64, len(blobs))
        buffer = np.frombuffer(b"".join(blobs), np.uint8) if len(blobs) else np.zeros(0, np.uint8)
        return cls(buffer, np.concatenate(([0], np.cumsum(sizes))).astype(np.int64))

    def __len__(self) -> int:
        return int(self.offsets.size - 1)

    def geoms(self) -> NDArray[np.object_]:
        raw = self.wkb.tobytes()
        blobs = [raw[a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:], strict=True)]
        return shapely.from_wkb(np.asarray(blobs, dtype=object)) if blobs else np.empty(0, object)


def sample_segments(
    x0: NDArray, y0: NDArray, x1: NDArray, y1: NDArray, spacing: float
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Points every `spacing` metres or less along each segment, at the middles of equal
    pieces (at least one per segment), with the index of their segment."""
    length = np.hypot(x1 - x0, y1 - y0)
    count = np.maximum(1, np.ceil(length / spacing)).astype(np.int64)
    seg = np.repeat(np.arange(length.size), count)
    start = np.repeat(np.cumsum(count) - count, count)
    t = (np.arange(seg.size) - start + 0.5) / count[seg]
    return x0[seg] + t * (x1 - x0)[seg], y0[seg] + t * (y1 - y0)[seg], seg


def mean_by(values: NDArray, groups: NDArray[np.int64], size: int) -> NDArray[np.float64]:
    """Mean of `values` per group index (groups with no value: NaN)."""
    total = np.bincount(groups, weights=values, minlength=size)
    count = np.bincount(groups, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


@dataclass(frozen=True)
class Buckets:
    """Points sorted into square cells, so a query visits only the cells within its radius."""

    x0: float
    y0: float
    cell: float
    nx: int
    ny: int
    start: NDArray[np.int64]  # (nx * ny + 1,) first sorted point of each cell
    order: NDArray[np.int64]  # sorted position -> original point index

    @classmethod
    def of(cls, x: NDArray, y: NDArray, cell: float) -> Buckets:
        x0 = float(x.min()) if x.size else 0.0
        y0 = float(y.min()) if y.size else 0.0
        nx = int((x.max() - x0) // cell) + 1 if x.size else 1
        ny = int((y.max() - y0) // cell) + 1 if y.size else 1
        ids = ((y - y0) // cell).astype(np.int64) * nx + ((x - x0) // cell).astype(np.int64)
        order = np.argsort(ids, kind="stable")
        start = np.searchsorted(ids[order], np.arange(nx * ny + 1)).astype(np.int64)
        return cls(x0, y0, cell, nx, ny, start, order)


@dataclass(frozen=True)
class Kernel:
    """How a source's weight falls off with distance d (clipped below at `min_distance`):
    `inverse_square`: exp(−max(d − free, 0) / scale) / d²; `exponential`: exp(−d / scale).
    Sources beyond `radius` count for nothing."""

    kind: str
    radius: float
    scale: float
    min_distance: float
    free: float = 0.0


def near_sums(
    buckets: Buckets,
    sx: NDArray,
    sy: NDArray,
    weights: NDArray,
    px: NDArray,
    py: NDArray,
    kernel: Kernel,
) -> NDArray[np.float64]:
    """For each query point, Σ weightᵢ · k(dᵢ) over the sources (see `Kernel`)."""
    out = np.zeros(np.size(px))
    if sx.size:
        _near_sums(
            buckets.x0,
            buckets.y0,
            buckets.cell,
            buckets.nx,
            buckets.ny,
            buckets.start,
            buckets.order,
            sx,
            sy,
            weights,
            np.asarray(px, np.float64),
            np.asarray(py, np.float64),
            kernel.radius,
            kernel.kind == "exponential",
            kernel.scale,
            kernel.min_distance,
            kernel.free,
            out,
        )
    return out


@njit(cache=True)
def _near_sums(
    x0,
    y0,
    cell,
    nx,
    ny,
    start,
    order,
    sx,
    sy,
    w,
    px,
    py,
    radius,
    exponential,
    scale,
    dmin,
    free,
    out,
):  # pragma: no cover - compiled
    reach = int(np.ceil(radius / cell))
    r2 = radius * radius
    for i in range(px.size):
        cx = int(np.floor((px[i] - x0) / cell))
        cy = int(np.floor((py[i] - y0) / cell))
        total = 0.0
        for gy in range(max(cy - reach, 0), min(cy + reach, ny - 1) + 1):
            for gx in range(max(cx - reach, 0), min(cx + reach, nx - 1) + 1):
                g = gy * nx + gx
                for k in range(start[g], start[g + 1]):
                    j = order[k]
                    dx = sx[j] - px[i]
                    dy = sy[j] - py[i]
                    d2 = dx * dx + dy * dy
                    if d2 > r2:
                        continue
                    d = max(np.sqrt(d2), dmin)
                    if exponential:
                        total += w[j] * np.exp(-d / scale)
                    else:
                        total += w[j] * np.exp(-max(d - free, 0.0) / scale) / (d * d)
        out[i] = total
