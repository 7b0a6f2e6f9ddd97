"""Apply the Alembic migrations; called at every start so a new release upgrades in place."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from geoalchemy2 import alembic_helpers  # noqa: F401  (registers the geospatial operations)

from twin.db import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to `revision` inside one transaction (SQLite and PostgreSQL both have
    transactional DDL, so a failed migration leaves the old schema intact)."""
    cfg = alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def prepare(db: Database) -> str:
    """Reach the database, migrate it, and return its spatial extension's version; every start
    (server or CLI) goes through here so an unreachable database fails the same clear way."""
    db.ping()
    upgrade(db)
    return db.check()
