"""`twin route …` and `twin access`: a thin layer over `twin.routing`.

The output contract (tests and outside checks rely on it): `twin route walk` prints one GeoJSON
FeatureCollection on stdout, one WGS84 LineString per route, best first, with the properties
`profile`, `length_m`, `duration_s` and the scores; `twin access` writes (or prints) one
FeatureCollection of places with their walking times. Notes go to stderr; errors are one line
on stderr with exit status 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from twin.console import cli_errors, err

route_app = typer.Typer(help="Walking and cycling routes on an OSM network.", no_args_is_help=True)

OsmOpt = Annotated[Path, typer.Option("--osm", help="OSM extract (.osm.pbf, .osm, .osm.gz).")]
DemOpt = Annotated[
    str | None,
    typer.Option(help="DEM for slopes and climb (GeoTIFF, .hgt, /vsizip/… GDAL names)."),
]


def _network(osm: Path, dem: str | None) -> Any:
    """The network, from the cache under TWIN_DATA_DIR when built before."""
    from twin.config import Settings
    from twin.routing.network import BuildOptions, load_network

    cache = Settings().data_dir / "cache" / "routing"
    return load_network(osm, options=BuildOptions(dem=dem), cache_dir=cache)


def _sensors(use: bool) -> Any:
    """Live readings from the twin's database; none when asked not to or when the embedded
    database was never created (nothing to read, nothing to create)."""
    from sqlalchemy.engine import make_url

    from twin.config import Settings
    from twin.routing.live import SensorReadings, read_sensors

    if not use:
        return SensorReadings()
    settings = Settings()
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        return SensorReadings()
    from twin.db import Database
    from twin.migrate import prepare

    db = Database(settings.resolved_database_url)
    try:
        prepare(db)
        with db.session() as session:
            return read_sensors(session)
    finally:
        db.dispose()


def _write(data: dict[str, Any], out: Path | None) -> None:
    text = json.dumps(data, separators=(",", ":"))
    if out is None:
        sys.stdout.write(text + "\n")
        return
    try:
        out.write_text(text + "\n")
    except OSError as exc:
        from twin.errors import InputError

        raise InputError(f"cannot write {out}: {exc.strerror or exc}") from None
    err.print(f"wrote {out}", highlight=False)


@route_app.command("walk")
@cli_errors
def walk(
    osm: OsmOpt,
    from_: Annotated[str, typer.Option("--from", help="Start point LON,LAT (WGS84).")],
    to: Annotated[str, typer.Option("--to", help="End point LON,LAT (WGS84).")],
    profile: Annotated[
        str,
        typer.Option(help="shortest, quiet, clean, green, cool, school, bike or custom."),
    ] = "shortest",
    alternatives: Annotated[int, typer.Option(help="How many routes (1 to 5).")] = 1,
    weights: Annotated[
        str | None,
        typer.Option(
            help="Custom weights FACTOR=W,… (noise, air, green, shade, slope, traffic, "
            "steps, unlit): cost = length × (1 + Σ w·factor)."
        ),
    ] = None,
    when: Annotated[
        str | None, typer.Option(help="Date and time for shade (ISO; local time; default now).")
    ] = None,
    dem: DemOpt = None,
    avoid: Annotated[
        Path | None, typer.Option(help="GeoJSON polygons the routes must not enter.")
    ] = None,
    sensors: Annotated[
        bool, typer.Option(help="Correct noise and air with the live sensors of the database.")
    ] = True,
) -> None:
    """Routes between two points, best first, as a GeoJSON FeatureCollection on stdout."""
    from twin.routing.inputs import load_avoid, parse_point, parse_when
    from twin.routing.planner import RouteQuery, plan, to_geojson
    from twin.routing.profiles import resolve
    from twin.routing.scores import Conditions

    chosen = resolve(profile, weights)
    origin, destination = parse_point(from_, "--from"), parse_point(to, "--to")
    polygons = load_avoid(avoid) if avoid else None
    network = _network(osm, dem)
    moment = parse_when(when)
    readings = _sensors(sensors)
    conditions = Conditions(sensors=readings) if moment is None else Conditions(moment, readings)
    query = RouteQuery(origin, destination, chosen, alternatives, conditions, polygons)
    routes = plan(network, query)
    for i, r in enumerate(routes, start=1):
        s = r.scores
        err.print(
            f"{i}. {chosen.name}: {s['length_m']:.0f} m, {s['duration_s'] / 60:.1f} min, "
            f"noise {s['noise_mean_db']:.1f} dB(A)",
            highlight=False,
            soft_wrap=True,
        )
    _write(to_geojson(routes, chosen), None)


@route_app.command("isochrone")
@cli_errors
def isochrone(
    osm: OsmOpt,
    from_: Annotated[str, typer.Option("--from", help="Start point LON,LAT (WGS84).")],
    minutes: Annotated[str, typer.Option(help="Walking times, e.g. 5,10,15.")] = "5,10,15",
    dem: DemOpt = None,
    out: Annotated[Path | None, typer.Option(help="Write GeoJSON here (default stdout).")] = None,
) -> None:
    """Areas reachable on foot from a point within each time (GeoJSON polygons)."""
    from twin.routing.access import isochrones, isochrones_geojson
    from twin.routing.inputs import parse_minutes, parse_point

    origin = parse_point(from_, "--from")
    limits = parse_minutes(minutes)
    network = _network(osm, dem)
    _write(isochrones_geojson(isochrones(network, *origin, limits), origin), out)


@route_app.command("bike-lanes")
@cli_errors
def bike_lanes(
    osm: OsmOpt,
    top: Annotated[int, typer.Option(help="How many streets, best first.")] = 50,
    dem: DemOpt = None,
    out: Annotated[Path | None, typer.Option(help="Write GeoJSON here (default stdout).")] = None,
) -> None:
    """Rank streets for new bike lanes: flat, away from heavy traffic, well connected."""
    from twin.routing.bike import candidates, ranking_geojson

    network = _network(osm, dem)
    _write(ranking_geojson(network, candidates(network), top), out)


@cli_errors
def access_command(
    osm: OsmOpt,
    category: Annotated[
        str,
        typer.Option(
            help="school, food, health, park, transport, bike_parking, or all (with a "
            "combined score)."
        ),
    ],
    minutes: Annotated[float, typer.Option(help="The time limit, minutes.")] = 15.0,
    out: Annotated[Path | None, typer.Option(help="Write GeoJSON here (default stdout).")] = None,
    grid: Annotated[
        float | None, typer.Option(help="Square cells of this many metres instead of buildings.")
    ] = None,
    dem: DemOpt = None,
) -> None:
    """Walking time from every building (or grid cell) to the nearest amenity of a category."""
    from twin.routing.access import (
        AccessOptions,
        access_geojson,
        accessibility,
        check_category,
        check_minutes,
    )

    check_category(category)
    check_minutes(minutes)
    network = _network(osm, dem)
    result = accessibility(network, category, AccessOptions(minutes=minutes, grid_m=grid))
    data = access_geojson(result)
    summary = data["summary"]
    shares = ", ".join(f"{k} {v:.0%}" for k, v in summary["share_within"].items())
    err.print(
        f"{summary['places']} places within {minutes:g} min: {shares}",
        highlight=False,
        soft_wrap=True,
    )
    _write(data, out)
