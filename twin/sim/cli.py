"""`twin sim …`: run simulations from the command line (a thin layer over `twin.sim.flood`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from twin.console import cli_errors, err, progress_bar

sim_app = typer.Typer(help="Run simulations (flood).", no_args_is_help=True)


def _point(spec: str, what: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in spec.split(","))
    except ValueError:
        raise ValueError(f"{what} {spec!r}: expected X,Y") from None
    return x, y


@sim_app.command("flood")
@cli_errors
def flood(
    dem: Annotated[Path, typer.Option(help="DEM GeoTIFF (projected CRS, metres).")],
    duration: Annotated[float, typer.Option(help="Simulated time, seconds.")],
    out: Annotated[Path, typer.Option(help="Output directory (created).")],
    initial_depth: Annotated[
        Path | None, typer.Option(help="Initial water depth raster on the DEM's grid (m).")
    ] = None,
    rain: Annotated[float | None, typer.Option(help="Constant rain, mm/h.")] = None,
    rain_series: Annotated[
        Path | None, typer.Option(help="Rain CSV with columns time_s,mm_per_hour.")
    ] = None,
    inflow: Annotated[
        list[str] | None,
        typer.Option(
            help="X,Y,HYDROGRAPH.csv (columns time_s,discharge_m3s; X,Y in the DEM's "
            "CRS). Repeatable."
        ),
    ] = None,
    sea_level: Annotated[
        float | None, typer.Option(help="Fixed sea level (m): edge cells below it are held at it.")
    ] = None,
    manning: Annotated[
        float | None, typer.Option(help="Uniform Manning's n (default 0.035).")
    ] = None,
    manning_raster: Annotated[
        Path | None, typer.Option(help="Manning's n raster on the DEM's grid.")
    ] = None,
    output_every: Annotated[
        float | None, typer.Option(help="Write frames/depth_<t>.tif every so many seconds.")
    ] = None,
    buildings: Annotated[
        Path | None, typer.Option(help="Building footprints (any OGR vector file).")
    ] = None,
    closed_boundaries: Annotated[
        bool, typer.Option("--closed-boundaries", help="No outflow at the DEM's edges.")
    ] = False,
) -> None:
    """Simulate a flood on a DEM (local inertial shallow water) and write depth rasters."""
    from twin.sim.flood import FloodScenario, run_flood
    from twin.sim.flood.run import prepare

    scenario = FloodScenario(
        dem=dem,
        duration_s=duration,
        out_dir=out,
        initial_depth=initial_depth,
        rain_mm_h=rain,
        rain_series=rain_series,
        inflows=tuple(inflow or ()),
        sea_level=sea_level,
        manning=manning,
        manning_raster=manning_raster,
        output_every_s=output_every,
        buildings=buildings,
        closed_boundaries=closed_boundaries,
    )
    prepared = prepare(scenario)  # every input checked before the progress bar appears
    with progress_bar("flood") as report:
        summary = run_flood(scenario, on_progress=report, prepared=prepared)
    err.print(
        f"{summary['steps']:,} steps in {summary['wall_s']:.1f} s ({summary['kernel']}), "
        f"max depth {summary['max_depth_m']:.2f} m, flooded {summary['flooded_area_m2']:,.0f} m², "
        f"mass error {summary['mass_error_rel']:.1e}",
        highlight=False,
    )
    print(out / "summary.json")


@sim_app.command("bathtub")
@cli_errors
def bathtub_cmd(
    dem: Annotated[Path, typer.Option(help="DEM GeoTIFF (projected CRS, metres).")],
    level: Annotated[float, typer.Option(help="Water level (m, the DEM's datum).")],
    seed: Annotated[list[str], typer.Option(help="X,Y of a seed point. Repeatable.")],
    out: Annotated[Path, typer.Option(help="Output directory (created).")],
) -> None:
    """Quick mode: flood to LEVEL every cell below it connected to a seed; writes depth.tif."""
    import time

    from twin.sim.flood import bathtub, read_dem
    from twin.sim.flood.grid import write_raster

    grid = read_dem(dem)
    seeds = [_point(s, "--seed") for s in seed]
    t0 = time.perf_counter()
    depth = bathtub(grid, level, seeds)
    wall = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    write_raster(out / "depth.tif", depth, grid)
    wet = depth > 0
    summary = {
        "cells": grid.cells,
        "level_m": level,
        "flooded_cells": int(wet.sum()),
        "flooded_area_m2": float(wet.sum() * grid.cell_area),
        "max_depth_m": float(depth.max()),
        "wall_s": round(wall, 3),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(out / "summary.json")
