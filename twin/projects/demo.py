"""The demo's urban project: a school in the centre of Périgueux, in two variants, with a
public meeting, built on the demo's real BDNB buildings so a fresh install shows the whole
planner's workflow (compare, present, comment) on real ground.

The school replaces a real building (hidden in both variants by its BDNB id) on its real
footprint: three storeys in one variant, six in the other, with trees and a path.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import pyogrio
import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from geodata.crs import ecef_pipeline, ecef_to_lonlat
from twin.auth import add_user
from twin.catalog import find_layer_by_name
from twin.db import Database
from twin.models import User, utcnow
from twin.projects.content import VariantContent
from twin.projects.meetings import Bookmark, create_meeting
from twin.projects.models import Meeting, Project
from twin.projects.projects import create_project, create_variant

NAME = "École du centre, Périgueux"
BUILDINGS_LAYER = "Buildings: Perigueux (BDNB heights)"
BUILDINGS_FILE = "vector/perigueux_bdnb/bdnb_perigeux8.shp"
REPLACED = "BATIMENT0000000295376271-1"  # BDNB `batiment_c` of the building the school replaces
DEMO_PLANNER = "demo-planner"
CAMERA = {"lon": 0.71645, "lat": 45.1842, "height": 330.0, "heading": 0.0, "pitch": -35.0}


def _footprint(shared: Path) -> tuple[list[list[float]], float]:
    """The replaced building's outline, and its ground as the buildings layer places it
    (BDNB `altitude_s`, NGF-IGN69, made ellipsoidal by the same pipeline as the import): the
    demo has no terrain at Périgueux, so the buildings stand at their real altitude and the
    school must stand with them."""
    meta, _, geometry, fields = pyogrio.raw.read(
        shared / BUILDINGS_FILE,
        where=f"batiment_c = '{REPLACED}'",
        columns=["batiment_c", "altitude_s"],
    )
    polygon = shapely.from_wkb(geometry[0])
    if polygon.geom_type == "MultiPolygon":
        polygon = max(polygon.geoms, key=lambda p: p.area)
    centre = polygon.centroid
    altitude = float(fields[list(meta["fields"]).index("altitude_s")][0])
    ecef = ecef_pipeline(meta["crs"]).to_ecef([centre.x], [centre.y], [altitude])
    ground = float(ecef_to_lonlat(ecef)[0][2])
    return [[round(x, 7), round(y, 7)] for x, y in polygon.exterior.coords[:-1]], round(ground, 2)


def _variant(
    footprint: list[list[float]], ground: float, layer_id: int, storeys: int, trees: int
) -> VariantContent:
    lon, lat = (sum(c) / len(footprint) for c in zip(*footprint, strict=True))
    return VariantContent.model_validate(
        {
            "footprints": [
                {
                    "id": "school",
                    "name": "École",
                    "polygon": footprint,
                    "height": storeys * 3.0,
                    "use": "school",
                    "floors": storeys,
                    "color": "#e8c170",
                    "base": ground,
                }
            ],
            "trees": [
                {
                    "id": f"tree-{i}",
                    "lon": lon - 0.0003 + i * 0.00015,
                    "lat": lat - 0.00025,
                    "height": 9.0,
                    "crown": 6.0,
                    "base": ground,
                }
                for i in range(trees)
            ],
            "hidden": [{"layer_id": layer_id, "property": "batiment_c", "values": [REPLACED]}],
            "camera": CAMERA,
        }
    )


def _planner(session: Session) -> User:
    """The project's author: an account that cannot sign in (no password anyone knows)."""
    user = session.scalar(select(User).where(User.username == DEMO_PLANNER))
    return user or add_user(session, DEMO_PLANNER, "planner", secrets.token_urlsafe(24))


def load_demo_project(db: Database, shared: Path) -> str | None:
    """Create the project once (matched by name) and return its meeting's public link token;
    None when the demo buildings are not loaded."""
    with db.session() as session:
        layer = find_layer_by_name(session, BUILDINGS_LAYER)
        if layer is None or not (shared / BUILDINGS_FILE).is_file():
            return None
        existing = session.scalar(select(Project).where(Project.name == NAME))
        if existing is not None:
            meeting = session.scalar(select(Meeting).where(Meeting.project_id == existing.id))
            if meeting is None:
                return None
            if meeting.expires_at < utcnow() + timedelta(days=7):
                meeting.expires_at = utcnow() + timedelta(days=30)
            return meeting.token
        user = _planner(session)
        footprint, ground = _footprint(shared)
        project = create_project(
            session,
            user,
            NAME,
            "Replacing a disused building by a primary school: three or six storeys?",
        )
        low = create_variant(
            session,
            project,
            user,
            "Three storeys, four trees",
            content=_variant(footprint, ground, layer.id, 3, 4),
        )
        high = create_variant(
            session,
            project,
            user,
            "Six storeys, two trees",
            content=_variant(footprint, ground, layer.id, 6, 2),
        )
        bookmarks = [
            Bookmark(title="Three storeys", camera=CAMERA, variant_id=low.id, layers=[layer.id]),
            Bookmark(title="Six storeys", camera=CAMERA, variant_id=high.id, layers=[layer.id]),
        ]
        meeting = create_meeting(
            session, project.id, user, "Public meeting: the new school", 30, bookmarks
        )
        return meeting.token
