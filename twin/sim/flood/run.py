"""A flood scenario from files to files: check every input up front, run the model, write the
rasters on the DEM's grid and a summary.

Outputs in the scenario's directory (float32, the DEM's grid and CRS, nodata -9999 outside the
DEM): max_depth.tif, arrival_time.tif (seconds until the depth first exceeded 1 cm; nodata where
it never did, decided on the float32 max depth written beside it so the two always agree),
depth_final.tif, frames/depth_<t>.tif every `output_every_s` simulated seconds (<t> whole seconds,
zero-padded to 6 digits), summary.json.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from twin.sim.flood.buildings import Buildings, raise_buildings, read_buildings
from twin.sim.flood.errors import FloodInputError
from twin.sim.flood.grid import Grid, read_dem, read_on_grid, write_raster
from twin.sim.flood.model import DEFAULT_MANNING, FloodModel, SchemeParams
from twin.sim.flood.sources import locate, parse_inflow, rain_series

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class FloodScenario:
    """What a planner asks for; paths are files, numbers SI (rain in mm/h)."""

    dem: Path
    duration_s: float
    out_dir: Path
    initial_depth: Path | None = None
    rain_mm_h: float | None = None
    rain_series: Path | None = None
    inflows: tuple[str, ...] = ()  # "X,Y,HYDROGRAPH.csv", X,Y in the DEM's CRS
    sea_level: float | None = None
    manning: float | None = None
    manning_raster: Path | None = None
    output_every_s: float | None = None
    buildings: Path | None = None
    closed_boundaries: bool = False
    kernel: str = "auto"  # numba when it imports, else numpy
    params: SchemeParams = field(default_factory=SchemeParams)


@dataclass
class Prepared:
    grid: Grid  # with buildings raised
    model: FloodModel
    frame_times: list[float]
    buildings: Buildings | None


def _check_numbers(s: FloodScenario) -> None:
    if not (math.isfinite(s.duration_s) and s.duration_s > 0):
        raise FloodInputError(f"--duration must be > 0 seconds, got {s.duration_s:g}")
    if s.output_every_s is not None and not (
        math.isfinite(s.output_every_s) and s.output_every_s >= 1
    ):
        raise FloodInputError(
            f"--output-every must be >= 1 second (frames are named in whole seconds), "
            f"got {s.output_every_s:g}"
        )
    if s.manning is not None and s.manning_raster is not None:
        raise FloodInputError("--manning and --manning-raster are mutually exclusive")
    if s.manning is not None and not (math.isfinite(s.manning) and 0 < s.manning < 1):
        raise FloodInputError(f"--manning must be in (0, 1) s/m^(1/3), got {s.manning:g}")
    if s.rain_mm_h is not None and s.rain_series is not None:
        raise FloodInputError("--rain and --rain-series are mutually exclusive")
    if s.out_dir.exists() and not s.out_dir.is_dir():
        raise FloodInputError(f"--out {s.out_dir} exists and is not a directory")


def frame_times(duration: float, every: float | None) -> list[float]:
    """k·every for k = 1..floor(duration/every) (a frame at the end when it divides evenly)."""
    if every is None:
        return []
    n = math.floor(duration / every + 1e-9)
    return [min(k * every, duration) for k in range(1, n + 1)]


def prepare(s: FloodScenario) -> Prepared:
    """Read and check every input; nothing is computed or written before all are good."""
    _check_numbers(s)
    grid = read_dem(s.dem)
    rain = rain_series(s.rain_mm_h, s.rain_series)
    inflows = [parse_inflow(spec) for spec in s.inflows]
    sources = locate(grid, rain_mm_h=rain, inflows=inflows, sea_level=s.sea_level)
    h0 = None
    if s.initial_depth is not None:
        band = read_on_grid(s.initial_depth, grid, "initial depth")
        h0 = np.where(np.ma.getmaskarray(band), 0.0, band.filled(0.0))
        if (h0[grid.valid] < 0).any():
            raise FloodInputError(f"initial depth {s.initial_depth} has negative depths")
    manning: float | np.ndarray = DEFAULT_MANNING if s.manning is None else s.manning
    if s.manning_raster is not None:
        band = read_on_grid(s.manning_raster, grid, "Manning raster")
        missing = grid.valid & np.ma.getmaskarray(band)
        if missing.any():
            raise FloodInputError(
                f"Manning raster {s.manning_raster} has nodata on {int(missing.sum())} DEM cells"
            )
        manning = band.filled(0.0)
        bad = grid.valid & ~((manning > 0) & (manning < 1))
        if bad.any():
            raise FloodInputError(
                f"Manning raster {s.manning_raster}: n must be in (0, 1) ({int(bad.sum())} cells "
                "are not)"
            )
    buildings = None
    if s.buildings is not None:
        buildings = read_buildings(s.buildings, grid)
        grid = raise_buildings(grid, buildings)
    model = FloodModel(
        grid,
        sources=sources,
        initial_depth=h0,
        manning=manning,
        open_boundaries=not s.closed_boundaries,
        params=s.params,
        kernel=s.kernel,
    )
    return Prepared(grid, model, frame_times(s.duration_s, s.output_every_s), buildings)


def frame_name(t: float) -> str:
    return f"depth_{round(t):06d}.tif"


def run_flood(
    s: FloodScenario, on_progress: Progress | None = None, prepared: Prepared | None = None
) -> dict:
    """Run the scenario, write its outputs into s.out_dir, return the summary (also written).
    `prepared`: the scenario's `prepare(s)`, when the caller checked the inputs already."""
    p = prepared or prepare(s)
    model = p.model
    out = Path(s.out_dir)
    frames_dir = out / "frames"
    frames_dir.mkdir(parents=True, exist_ok=True)
    wall0 = time.perf_counter()
    last_report = [0.0]

    def report(m: FloodModel) -> None:
        now = time.perf_counter()
        if on_progress is not None and now - last_report[0] > 0.1:
            last_report[0] = now
            on_progress(m.t / s.duration_s, f"t={m.t:,.0f} s, step {m.steps:,}")

    frames = set(p.frame_times)
    for t in sorted(frames | {s.duration_s}):
        if t > model.t:
            model.run(t, on_step=report)
        if t in frames:
            write_raster(frames_dir / frame_name(t), model.h, p.grid)
    wall = time.perf_counter() - wall0
    if on_progress is not None:
        on_progress(1.0, f"t={model.t:,.0f} s, {model.steps:,} steps, writing")
    md32 = np.where(p.grid.valid, model.max_depth, 0.0).astype(np.float32)
    arrival = np.where(
        (md32 > np.float32(s.params.wet_depth)) & (model.arrival >= 0), model.arrival, np.nan
    )
    write_raster(out / "max_depth.tif", model.max_depth, p.grid)
    write_raster(out / "arrival_time.tif", arrival, p.grid)
    write_raster(out / "depth_final.tif", model.h, p.grid)
    summary = summarise(model, p, wall)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def summarise(model: FloodModel, p: Prepared, wall_s: float) -> dict:
    grid = p.grid
    md = np.where(grid.valid, model.max_depth, 0.0)
    ny, nx = grid.shape
    summary = {
        "cells": grid.cells,
        "grid": {
            "width": nx,
            "height": ny,
            "dx_m": grid.dx,
            "dy_m": grid.dy,
            "crs": grid.crs.to_string() if grid.crs else None,
        },
        "kernel": model.kernel,
        "steps": model.steps,
        "simulated_s": model.t,
        "wall_s": round(wall_s, 3),
        "cell_updates_per_s": round(grid.shape[0] * grid.shape[1] * model.steps / wall_s)
        if wall_s > 0
        else None,
        "dt_min_s": model.dt_min if model.steps else None,
        "dt_max_s": model.dt_max_used if model.steps else None,
        "volume_initial_m3": model.volume_initial,
        "volume_in_m3": model.volume_in,
        "volume_out_m3": model.volume_out,
        "volume_final_m3": model.volume,
        "mass_error_rel": model.mass_error_rel(),
        "volumes_m3": {
            "rain": model.volume_rain,
            "inflows": model.volume_inflow,
            "sea_in": model.volume_sea_in,
            "sea_out": model.volume_sea_out,
            "boundary_out": model.volume_boundary_out,
        },
        "max_depth_m": float(md.max()),
        "flooded_area_m2": float((md > model.params.wet_depth).sum() * grid.cell_area),
        "frames": len(p.frame_times),
        "scheme": {
            "name": "local inertial (Bates et al. 2010), theta-weighted (de Almeida et al. 2012)",
            "theta": model.params.theta,
            "cfl_alpha": model.params.alpha,
            "h_min_m": model.params.h_min,
            "boundaries": "open (free outflow)" if model.open_boundaries else "closed",
        },
    }
    if p.buildings is not None:
        summary["buildings_total"] = len(p.buildings.footprints)
        summary["buildings_flooded"] = p.buildings.flooded(model.max_depth, grid.valid)
        summary["buildings_rule"] = (
            "max depth > 0.1 m in the cells around the footprint (its bounding box grown by one "
            "cell, footprint cells excluded)"
        )
    return summary
