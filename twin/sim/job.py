"""The `sim.flood` job: run a checked scenario on a terrain layer's DEM into its result folder,
then draw the frames for the browser. Runs in the job pool, reports progress (where a cancel is
noticed) and keeps the result row in step; a failed or cancelled run leaves no files."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from twin.jobs import JobCancelled, JobContext
from twin.sim.flood import bathtub, read_dem, run_flood
from twin.sim.flood.grid import write_raster
from twin.sim.flood.run import frame_name, prepare
from twin.sim.outputs import Frame, Progress, write_outputs
from twin.sim.results import SIMS, set_status
from twin.sim.scenario import FloodRequest, point_on_dem, to_scenario

#: Share of the progress bar for the model; the rest is drawing frames.
MODEL_SHARE = 0.85


def _bathtub(r: FloodRequest, dem: Path, folder: Path) -> tuple[list[Frame], dict[str, Any]]:
    seed = point_on_dem(dem, r.lon, r.lat, "the seed point")
    grid = read_dem(dem)
    start = time.perf_counter()
    depth = bathtub(grid, float(r.level_m or 0), [(seed.x, seed.y)])
    wall = time.perf_counter() - start
    frame = folder / "frames" / frame_name(0)
    frame.parent.mkdir(parents=True, exist_ok=True)
    write_raster(folder / "max_depth.tif", depth, grid)
    write_raster(frame, depth, grid)
    facts = {"simulated_s": 0.0, "model_wall_s": round(wall, 3), "cells": grid.cells}
    return [Frame(0.0, frame)], facts


def _dynamic(
    r: FloodRequest, dem: Path, folder: Path, progress: Progress
) -> tuple[list[Frame], dict[str, Any]]:
    scenario = to_scenario(r, dem, folder)
    prepared = prepare(scenario)
    solver = run_flood(scenario, on_progress=progress, prepared=prepared)
    frames = [Frame(t, folder / "frames" / frame_name(t)) for t in prepared.frame_times]
    if not frames or frames[-1].t_s < scenario.duration_s:
        frames.append(Frame(scenario.duration_s, folder / "depth_final.tif"))
    facts = {
        "simulated_s": solver["simulated_s"],
        "model_wall_s": solver["wall_s"],
        "cells": solver["cells"],
        "volume_in_m3": solver["volume_in_m3"],
        "volume_out_m3": solver["volume_out_m3"],
        "mass_error_rel": solver["mass_error_rel"],
        "solver": solver,
    }
    return frames, facts


def _share(ctx: JobContext, lo: float, hi: float) -> Progress:
    """Progress of one stage, mapped onto its part [lo, hi] of the job's bar."""

    def report(fraction: float, message: str) -> None:
        ctx.progress(lo + (hi - lo) * fraction, message)

    return report


def run_flood_job(
    ctx: JobContext, result_id: str, tiles_dir: str, dem: str, request: dict[str, Any]
) -> dict[str, Any]:
    """Job handler (`sim.flood`): returns the headline figures; the rest is in the result."""
    r = FloodRequest(**request)
    folder = Path(tiles_dir) / SIMS / result_id
    with ctx.db.session() as s:
        if not set_status(s, result_id, "running"):
            return {"result_id": result_id, "deleted": True}
    start = time.perf_counter()
    try:
        ctx.progress(0.0, "reading the DEM")
        folder.mkdir(parents=True, exist_ok=True)
        if r.mode == "bathtub":
            frames, facts = _bathtub(r, Path(dem), folder)
        else:
            frames, facts = _dynamic(r, Path(dem), folder, _share(ctx, 0.0, MODEL_SHARE))
        facts = {"kind": "flood", "mode": r.mode} | facts
        summary = write_outputs(folder, frames, facts, _share(ctx, MODEL_SHARE, 1.0), start)
    except BaseException as exc:
        shutil.rmtree(folder, ignore_errors=True)
        status = "cancelled" if isinstance(exc, JobCancelled | KeyboardInterrupt) else "failed"
        error = None if status == "cancelled" else {"error": getattr(exc, "message", str(exc))}
        with ctx.db.session() as s:
            set_status(s, result_id, status, error)
        raise
    with ctx.db.session() as s:
        kept = set_status(s, result_id, "succeeded", summary)
    if not kept:  # deleted while it ran
        shutil.rmtree(folder, ignore_errors=True)
    return {
        "result_id": result_id,
        "flooded_area_m2": summary["flooded_area_m2"],
        "max_depth_m": summary["max_depth_m"],
        "frames": len(summary["frames"]),
    }
