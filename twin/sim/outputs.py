"""A finished run's folder made ready for the browser: every depth frame drawn as a WGS84 PNG,
and `result.json`, the summary the API serves and the viewer compares.

The figures are read back from the rasters written (float32, as anyone downloading them sees
them), so the summary and the files always agree.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

from twin.sim.frames import WET_M, canvas_for, ramp_legend, render_png

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Frame:
    """A depth raster at a simulated time, inside the result folder."""

    t_s: float
    raster: Path


def _depth_figures(path: Path) -> dict[str, float]:
    """Flooded area (depth > WET_M), deepest water and volume of one depth raster."""
    with rasterio.open(path) as src:
        depth = src.read(1, masked=True).filled(0.0).astype(np.float64)
        cell_area = abs(src.transform.a * src.transform.e)
    depth[~np.isfinite(depth)] = 0.0
    return {
        "flooded_area_m2": float((depth > WET_M).sum() * cell_area),
        "max_depth_m": float(depth.max()),
        "volume_m3": float(depth.sum() * cell_area),
    }


def write_outputs(
    folder: Path, frames: list[Frame], facts: dict[str, Any], progress: Progress, started: float
) -> dict[str, Any]:
    """Draw the frames and the max depth, write result.json, and return it.

    `facts`: what the run knows beyond the rasters (mode, simulated time, solver summary...),
    merged into the summary. `max_depth.tif` must be in `folder`. `started`: the job's start
    (`time.perf_counter()`), for the wall time a planner waited.
    """
    max_depth = folder / "max_depth.tif"
    with rasterio.open(max_depth) as src:
        crs, bounds, cell = src.crs.to_wkt(), tuple(src.bounds), min(src.res)
        grid = {
            "width": src.width,
            "height": src.height,
            "cell_m": cell,
            "crs": src.crs.to_string(),
        }
    canvas = canvas_for(crs, bounds, cell)  # type: ignore[arg-type]
    entries = []
    for i, frame in enumerate(frames):
        progress(i / (len(frames) + 1), f"drawing frame {i + 1} of {len(frames)}")
        png = frame.raster.with_suffix(".png")
        render_png(frame.raster, canvas, png)
        entries.append(
            {
                "t_s": frame.t_s,
                "image": png.relative_to(folder).as_posix(),
                "raster": frame.raster.relative_to(folder).as_posix(),
                **_depth_figures(frame.raster),
            }
        )
    render_png(max_depth, canvas, folder / "max_depth.png")
    overall = _depth_figures(max_depth)
    rasters = {
        name: f"{name}.tif"
        for name in ("max_depth", "arrival_time", "depth_final")
        if (folder / f"{name}.tif").is_file()
    }
    summary = facts | {
        "flooded_area_m2": overall["flooded_area_m2"],
        "max_depth_m": overall["max_depth_m"],
        "volume_m3": entries[-1]["volume_m3"] if entries else 0.0,
        "wet_depth_m": WET_M,
        "grid": grid,
        "bounds_wgs84": list(canvas.bounds),
        "image_size": [canvas.width, canvas.height],
        "frames": entries,
        "max_depth_image": "max_depth.png",
        "rasters": rasters,
        "legend": ramp_legend(),
        "wall_s": round(time.perf_counter() - started, 3),
    }
    (folder / "result.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
