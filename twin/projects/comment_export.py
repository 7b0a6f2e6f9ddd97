"""Citizens' comments as CSV (for a spreadsheet) or GeoJSON (for a GIS)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from twin.projects.models import Comment

FIELDS = ("id", "status", "created_at", "variant_id", "variant", "lon", "lat", "height", "text")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """Text a spreadsheet would run as a formula is quoted: comments come from anyone."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _row(comment: Comment, variants: dict[int, str]) -> dict[str, Any]:
    return {
        "id": comment.id,
        "status": comment.status,
        "created_at": comment.created_at.isoformat(),
        "variant_id": comment.variant_id,
        "variant": variants.get(comment.variant_id or -1, ""),
        "lon": comment.lon,
        "lat": comment.lat,
        "height": comment.height,
        "text": comment.text,
    }


def to_csv(comments: list[Comment], variants: dict[int, str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS)
    writer.writeheader()
    for comment in comments:
        writer.writerow({k: _cell(v) for k, v in _row(comment, variants).items()})
    return out.getvalue()


def to_geojson(comments: list[Comment], variants: dict[int, str]) -> str:
    features = []
    for comment in comments:
        row = _row(comment, variants)
        lon, lat, height = row.pop("lon"), row.pop("lat"), row.pop("height")
        point = None
        if lon is not None and lat is not None:
            coords = [lon, lat] if height is None else [lon, lat, height]
            point = {"type": "Point", "coordinates": coords}
        features.append({"type": "Feature", "id": comment.id, "geometry": point, "properties": row})
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
