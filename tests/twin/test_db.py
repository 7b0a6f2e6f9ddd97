"""The same models and spatial queries on SpatiaLite and PostGIS."""

from __future__ import annotations

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import box
from sqlalchemy import inspect, select

from tiles.tileset import Bounds
from twin.catalog import list_layers
from twin.db import Database
from twin.migrate import upgrade
from twin.models import Layer, User


def test_migrations_create_schema_and_are_idempotent(db_url: str) -> None:
    db = Database(db_url)
    upgrade(db)
    upgrade(db)  # a second start finds the schema current and changes nothing
    tables = set(inspect(db.engine).get_table_names())
    assert {"users", "jobs", "layers", "layer_versions", "alembic_version"} <= tables
    assert db.check()  # spatial extension answers with its version
    db.dispose()


def test_spatial_bbox_query_same_on_both_backends(db_url: str) -> None:
    db = Database(db_url)
    upgrade(db)
    marseille = (5.30, 43.25, 5.45, 43.35)
    paris = (2.25, 48.81, 2.42, 48.90)
    with db.session() as s:
        s.add_all(
            [
                Layer(name="marseille", kind="tiles3d", extent=from_shape(box(*marseille), 4326)),
                Layer(name="paris", kind="tiles3d", extent=from_shape(box(*paris), 4326)),
                Layer(name="unplaced", kind="tiles3d", extent=None),
            ]
        )
    staff = User(username="x", role="gis", password_hash="")
    metropolis: Bounds = (5.0, 43.2, 5.8, 43.7)
    with db.session() as s:
        names = [la.name for la in list_layers(s, staff, metropolis)]
        assert names == ["marseille"]
        assert len(list_layers(s, staff)) == 3
        stored = s.scalar(select(Layer).where(Layer.name == "paris"))
        assert stored is not None
        assert to_shape(stored.extent).bounds == paris
    db.dispose()


def test_timestamps_come_back_timezone_aware(db_url: str) -> None:
    db = Database(db_url)
    upgrade(db)
    with db.session() as s:
        s.add(User(username="tz", role="public", password_hash="h"))
    with db.session() as s:
        user = s.scalar(select(User))
        assert user is not None and user.created_at.utcoffset() is not None
    db.dispose()
