"""A flood scenario as a planner asks for it in the browser (a point in lon/lat, rain in mm/h, a
hydrograph shape), checked against the DEM before anything is queued, then turned into the
solver's own `FloodScenario` (files, the DEM's CRS).

Checking up front matters: a job that fails a minute later, after the meeting moved on, is a
worse answer than a 400 now. Everything here reads only the DEM's header and the one cell under
a point.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import rasterio
from affine import Affine
from rasterio.errors import RasterioError
from rasterio.windows import Window

from geodata.crs import transformer
from twin.errors import InputError
from twin.sim.flood import FloodScenario
from twin.sim.flood.grid import check_fits_in_memory

MODES = ("rain", "river", "sea", "bathtub")
HYDROGRAPHS = ("triangle", "constant")
#: Frames a run may write: each is a raster and an image the browser loads.
MAX_FRAMES = 120
#: Frames when the planner leaves the interval to us: a smooth enough animation.
DEFAULT_FRAMES = 24
MAX_DURATION_S = 7 * 86_400
MAX_RAIN_MM_H = 1_000.0  # well above any recorded intensity (~300 mm/h over an hour)
#: Base time of a triangular hydrograph over its time to peak: the SCS unit hydrograph's 8/3.
TRIANGLE_BASE = 8.0 / 3.0


@dataclass(frozen=True)
class FloodRequest:
    """What the browser sends (SI units; rain in mm/h; the point in WGS84 degrees)."""

    mode: str
    duration_s: float | None = None
    output_every_s: float | None = None
    manning: float | None = None
    rain_mm_h: float | None = None
    rain_duration_s: float | None = None
    lon: float | None = None  # river: the inflow point; bathtub: the seed
    lat: float | None = None
    peak_m3s: float | None = None
    hydrograph: str = "triangle"
    time_to_peak_s: float | None = None
    sea_level_m: float | None = None
    level_m: float | None = None  # bathtub: the water level, in the DEM's heights

    def to_params(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DemPoint:
    """A point on the DEM: map coordinates in its CRS and the ground height there."""

    x: float
    y: float
    ground: float


def _finite(value: float | None, what: str) -> float:
    if value is None:
        raise InputError(f"{what} is required")
    if not math.isfinite(value):
        raise InputError(f"{what} must be a finite number")
    return float(value)


def _positive(value: float | None, what: str, unit: str, upper: float | None = None) -> float:
    v = _finite(value, what)
    if v <= 0:
        raise InputError(f"{what} must be > 0 {unit}, got {v:g}")
    if upper is not None and v > upper:
        raise InputError(f"{what} must be at most {upper:g} {unit}, got {v:g}")
    return v


def dem_header(dem: Path) -> tuple[Affine, str, tuple[int, int]]:
    """The DEM's transform, CRS (WKT) and shape; refuses what the solver cannot use (no CRS,
    degrees, rotated, more cells than memory allows) without reading its heights."""
    try:
        with rasterio.open(dem) as src:
            transform, crs, shape = src.transform, src.crs, (src.height, src.width)
    except RasterioError as exc:
        raise InputError(f"the layer's DEM cannot be read ({exc})") from exc
    if crs is None:
        raise InputError("the layer's DEM has no CRS: re-import it with one (e.g. EPSG:2154)")
    if crs.is_geographic:
        raise InputError(
            f"the layer's DEM is in degrees ({crs.to_string()}): floods run on a projected DEM "
            "in metres; reproject it (e.g. to EPSG:2154) and import it again"
        )
    if transform.b != 0 or transform.d != 0:
        raise InputError("the layer's DEM is rotated: resample it to a north-up grid")
    check_fits_in_memory(shape)
    return transform, crs.to_wkt(), shape


def point_on_dem(dem: Path, lon: float | None, lat: float | None, what: str) -> DemPoint:
    """The DEM cell under a WGS84 point; refuses points outside the DEM or on nodata."""
    lon, lat = _finite(lon, f"{what} longitude"), _finite(lat, f"{what} latitude")
    transform, crs, (ny, nx) = dem_header(dem)
    x, y = transformer("EPSG:4326", crs).transform(lon, lat)
    col, row = ~transform * (x, y)
    r, c = math.floor(row), math.floor(col)
    where = f"{what} at {lon:.6f}, {lat:.6f}"
    if not (0 <= r < ny and 0 <= c < nx):
        raise InputError(f"{where} is outside the DEM: place it on the terrain layer")
    with rasterio.open(dem) as src:
        cell = src.read(1, window=Window(c, r, 1, 1), masked=True)
    if cell.mask.any() or not math.isfinite(float(cell.filled(math.nan)[0, 0])):
        raise InputError(f"{where} falls on a DEM cell without data")
    return DemPoint(float(x), float(y), float(cell[0, 0]))


def check(request: FloodRequest, dem: Path) -> FloodRequest:
    """The request with its defaults filled in (frame interval, time to peak), or an
    InputError that says what to change."""
    r = request
    if r.mode not in MODES:
        raise InputError(f"mode {r.mode!r}: expected one of {', '.join(MODES)}")
    dem_header(dem)
    if r.manning is not None:
        n = _finite(r.manning, "Manning's n")
        if not 0 < n < 1:
            raise InputError(f"Manning's n must be in (0, 1) s/m^(1/3), got {n:g}")
    if r.mode == "bathtub":
        level = _finite(r.level_m, "the water level")
        seed = point_on_dem(dem, r.lon, r.lat, "the seed point")
        if level <= seed.ground:
            raise InputError(
                f"the water level {level:g} m is not above the ground at the seed point "
                f"({seed.ground:.2f} m): nothing would flood"
            )
        return r
    duration = _positive(r.duration_s, "the duration", "s", MAX_DURATION_S)
    every = r.output_every_s
    if every is None:
        every = float(max(1, math.ceil(duration / DEFAULT_FRAMES)))
    every = _positive(every, "the frame interval", "s")
    if every < 1:
        raise InputError(f"the frame interval must be at least 1 s, got {every:g}")
    if duration / every > MAX_FRAMES + 1e-9:
        raise InputError(
            f"{math.floor(duration / every)} frames ({duration:g} s every {every:g} s): at most "
            f"{MAX_FRAMES}; choose a longer frame interval"
        )
    r = replace(r, output_every_s=every)
    if r.mode == "rain":
        _positive(r.rain_mm_h, "the rain", "mm/h", MAX_RAIN_MM_H)
        if r.rain_duration_s is not None:
            _positive(r.rain_duration_s, "the rain's duration", "s")
    elif r.mode == "river":
        point_on_dem(dem, r.lon, r.lat, "the inflow point")
        _positive(r.peak_m3s, "the peak discharge", "m³/s")
        if r.hydrograph not in HYDROGRAPHS:
            raise InputError(f"hydrograph {r.hydrograph!r}: expected {' or '.join(HYDROGRAPHS)}")
        if r.hydrograph == "triangle":
            peak_at = r.time_to_peak_s if r.time_to_peak_s is not None else duration / 4
            r = replace(r, time_to_peak_s=_positive(peak_at, "the time to peak", "s"))
    else:
        _finite(r.sea_level_m, "the sea level")
    return r


def _write_series(path: Path, header: str, rows: list[tuple[float, float]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n" + "".join(f"{t:.3f},{v:.6g}\n" for t, v in rows))
    return path


def hydrograph_rows(r: FloodRequest) -> list[tuple[float, float]]:
    """Discharge over time: constant at the peak, or a triangle rising to it at the time to peak
    and back to zero at 8/3 of that time (the SCS triangular unit hydrograph's shape)."""
    peak = float(r.peak_m3s or 0.0)
    if r.hydrograph == "constant":
        return [(0.0, peak)]
    tp = float(r.time_to_peak_s or 0.0)
    return [(0.0, 0.0), (tp, peak), (TRIANGLE_BASE * tp, 0.0)]


def to_scenario(r: FloodRequest, dem: Path, out_dir: Path) -> FloodScenario:
    """The solver's scenario for a checked, dynamic (non-bathtub) request; series it needs are
    written as CSV under out_dir/inputs, where they stay beside the results."""
    inputs = out_dir / "inputs"
    rain, rain_csv, inflows, sea = None, None, (), None
    if r.mode == "rain":
        if r.rain_duration_s is not None and r.rain_duration_s < float(r.duration_s or 0):
            stop = float(r.rain_duration_s)
            rows = [(0.0, float(r.rain_mm_h or 0)), (stop, float(r.rain_mm_h or 0)), (stop + 1, 0)]
            rain_csv = _write_series(inputs / "rain.csv", "time_s,mm_per_hour", rows)
        else:
            rain = r.rain_mm_h
    elif r.mode == "river":
        point = point_on_dem(dem, r.lon, r.lat, "the inflow point")
        csv = _write_series(inputs / "hydrograph.csv", "time_s,discharge_m3s", hydrograph_rows(r))
        inflows = (f"{point.x!r},{point.y!r},{csv}",)
    else:
        sea = r.sea_level_m
    return FloodScenario(
        dem=dem,
        duration_s=float(r.duration_s or 0),
        out_dir=out_dir,
        rain_mm_h=rain,
        rain_series=rain_csv,
        inflows=inflows,
        sea_level=sea,
        manning=r.manning,
        output_every_s=r.output_every_s,
    )


def _span(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def default_name(r: FloodRequest) -> str:
    """A name that says what was asked, for lists and comparisons."""
    if r.mode == "bathtub":
        return f"Bathtub to {r.level_m:g} m"
    if r.mode == "rain":
        what = f"Rain {r.rain_mm_h:g} mm/h"
    elif r.mode == "river":
        what = f"River {r.peak_m3s:g} m³/s ({r.hydrograph})"
    else:
        what = f"Sea level {r.sea_level_m:g} m"
    return f"{what} · {_span(float(r.duration_s or 0))}"
