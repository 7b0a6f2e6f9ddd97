"""Parsing what users type (CLI options, query parameters) into routing inputs, with one clear
`InputError` per mistake; shared by the CLI and the HTTP API so both say the same thing."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import shapely
from numpy.typing import NDArray

from twin.errors import InputError

LOCAL_TIME = ZoneInfo("Europe/Paris")  # the metropolis's clock, for times given without zone


def parse_point(text: str, what: str) -> tuple[float, float]:
    """`LON,LAT` in degrees."""
    try:
        lon, lat = (float(v) for v in text.split(","))
    except ValueError:
        raise InputError(
            f"{what} {text!r}: expected LON,LAT in degrees, e.g. 7.4246,43.7384"
        ) from None
    if not (np.isfinite(lon) and np.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise InputError(f"{what} {text!r}: longitude must be within ±180 and latitude ±90")
    return lon, lat


def parse_when(text: str | None) -> datetime | None:
    """An ISO 8601 date and time; without a zone it is local time (Europe/Paris)."""
    if text is None or not text.strip():
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"when {text!r}: expected an ISO date and time, e.g. 2024-07-15T14:00"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=LOCAL_TIME)


def parse_minutes(text: str) -> list[float]:
    """`5,10,15` → [5.0, 10.0, 15.0]."""
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"minutes {text!r}: expected numbers separated by commas") from None


def load_avoid(path: Path) -> NDArray[np.object_]:
    """The polygons of a GeoJSON file (WGS84), as areas a route must not enter."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable GeoJSON file ({exc})") from None
    features = data.get("features", [data]) if isinstance(data, dict) else []
    geoms = []
    for feature in features:
        geometry = feature.get("geometry", feature) if isinstance(feature, dict) else None
        try:
            geoms.append(shapely.from_geojson(json.dumps(geometry)))
        except (shapely.errors.GEOSException, ValueError, TypeError):
            raise InputError(f"{path}: a feature has no valid geometry") from None
    polygons = [g for g in geoms if g.geom_type in ("Polygon", "MultiPolygon")]
    if not polygons:
        raise InputError(f"{path}: no polygon to avoid in this GeoJSON file")
    out = np.empty(len(polygons), dtype=object)
    out[:] = polygons
    return out
