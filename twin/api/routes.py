"""Walking routes, bike-lane siting and 15-minute accessibility on the server's street network.

The network is the OSM extract named by `TWIN_OSM_FILE` (default: the Monaco extract under the
shared data directory, when present), with the DEM `TWIN_ROUTING_DEM` for slopes (default:
the SRTM tile beside that extract, when present). It is built on first use and cached under
`TWIN_DATA_DIR/cache/routing`. Staff only (admin, gis, planner). Answers are GeoJSON.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from twin.api.deps import SessionDep, SettingsDep, StaffUser
from twin.catalog import parse_bbox
from twin.config import Settings
from twin.errors import NotFound
from twin.routing.network import Network, shared_network

router = APIRouter(tags=["routing"])
DEFAULT_OSM = "osm/monaco-osrm-2016.osm.pbf"
DEFAULT_DEM = "dem/N43E007.hgt.zip"
_lock = threading.Lock()


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode()


def network_source(settings: Settings) -> tuple[Path | None, str | None]:
    """The configured OSM file and DEM (None when there is none)."""
    osm, dem = settings.osm_file, settings.routing_dem
    if osm:
        return osm, dem or None
    default = settings.shared_data_dir / DEFAULT_OSM
    if not default.is_file():
        return None, dem or None
    srtm = settings.shared_data_dir / DEFAULT_DEM
    if dem is None and srtm.is_file():
        dem = f"/vsizip/{srtm.resolve()}/N43E007.hgt"
    return default, dem or None


def get_network(settings: Settings) -> Network:
    """The server's network (built once per process, and once per file version on disk)."""
    osm, dem = network_source(settings)
    if osm is None or not osm.is_file():
        raise NotFound(
            "no street network configured: set TWIN_OSM_FILE to an OSM extract (.osm.pbf)"
        )
    cache = settings.data_dir / "cache" / "routing"
    with _lock:
        try:
            return shared_network(str(osm), dem, str(cache), osm.stat().st_mtime)
        except ValueError as exc:  # OsmError, DemError: the configured files are unusable
            raise NotFound(f"the street network cannot be built: {exc}") from None


FromQ = Annotated[str, Query(alias="from", description="Start LON,LAT (WGS84).")]


@router.get("/routes/walk", response_class=GeoJSONResponse)
def walk(
    settings: SettingsDep,
    session: SessionDep,
    user: StaffUser,
    from_: FromQ,
    to: Annotated[str, Query(description="End LON,LAT (WGS84).")],
    profile: Annotated[
        str, Query(description="shortest, quiet, clean, green, cool, school, bike or custom.")
    ] = "shortest",
    alternatives: Annotated[int, Query(ge=1, le=5)] = 1,
    weights: Annotated[str | None, Query(description="FACTOR=W,… added to the profile.")] = None,
    when: Annotated[str | None, Query(description="ISO date-time for shade.")] = None,
) -> GeoJSONResponse:
    """Routes between two points, best first: one LineString each, with `profile`, `length_m`,
    `duration_s` and the scores (noise, NO2/PM10, green and shade shares, climb, schools)."""
    from twin.routing.inputs import parse_point, parse_when
    from twin.routing.live import read_sensors
    from twin.routing.planner import RouteQuery, plan, to_geojson
    from twin.routing.profiles import resolve
    from twin.routing.scores import Conditions

    chosen = resolve(profile, weights)
    origin, destination = parse_point(from_, "from"), parse_point(to, "to")
    moment = parse_when(when)
    readings = read_sensors(session)
    conditions = Conditions(sensors=readings) if moment is None else Conditions(moment, readings)
    query = RouteQuery(origin, destination, chosen, alternatives, conditions)
    routes = plan(get_network(settings), query)
    return GeoJSONResponse(to_geojson(routes, chosen))


@router.get("/routes/profiles")
def profiles(user: StaffUser) -> dict[str, Any]:
    """The profiles and the factors custom weights may use (cost = length × (1 + Σ w·factor))."""
    from twin.routing.profiles import PROFILES
    from twin.routing.scores import FACTORS

    return {"profiles": [p.as_dict() for p in PROFILES.values()], "factors": list(FACTORS)}


@router.get("/routes/bike-lanes", response_class=GeoJSONResponse)
def bike_lanes(
    settings: SettingsDep, user: StaffUser, top: Annotated[int, Query(ge=1, le=5000)] = 50
) -> GeoJSONResponse:
    """Streets ranked for new bike lanes (flat, calm, connected), best first."""
    from twin.routing.bike import candidates, ranking_geojson

    network = get_network(settings)
    return GeoJSONResponse(ranking_geojson(network, candidates(network), top))


@router.get("/access", response_class=GeoJSONResponse)
def access(
    settings: SettingsDep,
    user: StaffUser,
    category: Annotated[
        str, Query(description="school, food, health, park, transport, bike_parking or all.")
    ],
    minutes: Annotated[float, Query(gt=0, le=120)] = 15.0,
    grid: Annotated[float | None, Query(ge=10, le=5000, description="Cell size, m.")] = None,
    bbox: Annotated[str | None, Query(description="west,south,east,north")] = None,
) -> GeoJSONResponse:
    """Walking minutes from every building (or grid cell) to the nearest amenity of the
    category (`all`: each of the five, and a combined 0–100 score); `summary` gives shares."""
    from twin.routing.access import AccessOptions, access_geojson, accessibility, check_category

    check_category(category)
    box = parse_bbox(bbox) if bbox else None
    options = AccessOptions(minutes=minutes, grid_m=grid, bbox=box)
    return GeoJSONResponse(access_geojson(accessibility(get_network(settings), category, options)))


@router.get("/access/isochrone", response_class=GeoJSONResponse)
def isochrone(
    settings: SettingsDep,
    user: StaffUser,
    from_: FromQ,
    minutes: Annotated[str, Query(description="Times, e.g. 5,10,15.")] = "5,10,15",
) -> GeoJSONResponse:
    """Areas reachable on foot from a point within each time."""
    from twin.routing.access import isochrones, isochrones_geojson
    from twin.routing.inputs import parse_minutes, parse_point

    origin = parse_point(from_, "from")
    limits = parse_minutes(minutes)
    items = isochrones(get_network(settings), *origin, limits)
    return GeoJSONResponse(isochrones_geojson(items, origin))
