"""One database layer for SpatiaLite (embedded default) and PostGIS (production).

Engines are created here and nowhere else, so the SQLite-specific set-up (loading
mod_spatialite through pysqlite3, WAL, busy timeout) lives in one place.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from twin.errors import DatabaseUnavailable

SPATIALITE_MODULE = os.environ.get("SPATIALITE_LIBRARY_PATH", "mod_spatialite")
# Connections per process: requests hold at most `twin.api.deps.SESSION_LIMIT` of them, the
# rest serve background work (MQTT ingest, the silence watcher, live sockets, jobs).
POOL_SIZE = 10
POOL_OVERFLOW = 10


def _sqlite_dbapi():  # type: ignore[no-untyped-def]
    """pysqlite3 can load extensions; this Python's stdlib sqlite3 was built without that."""
    try:
        import pysqlite3.dbapi2 as dbapi  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - non-Linux developer machines
        import sqlite3 as dbapi
    return dbapi


def _on_sqlite_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    from geoalchemy2.admin.dialects.sqlite import init_spatialite

    dbapi_conn.execute("PRAGMA busy_timeout = 30000")
    dbapi_conn.execute("PRAGMA foreign_keys = ON")
    try:
        dbapi_conn.enable_load_extension(True)
        dbapi_conn.load_extension(SPATIALITE_MODULE)
        dbapi_conn.enable_load_extension(False)
    except Exception as exc:  # the system library is missing: say which package brings it
        raise DatabaseUnavailable(
            f"cannot load SpatiaLite ({SPATIALITE_MODULE}): {exc}. "
            "Install it (Debian: apt-get install libsqlite3-mod-spatialite)."
        ) from exc
    mode = dbapi_conn.execute("PRAGMA journal_mode").fetchone()[0]
    if str(mode).lower() != "wal":
        dbapi_conn.execute("PRAGMA journal_mode = WAL")
    init_spatialite(dbapi_conn, transaction=True, init_mode="WGS84")
    # Lambert-93 is the territory's CRS; WGS84 mode does not load it.
    if not dbapi_conn.execute("SELECT 1 FROM spatial_ref_sys WHERE srid = 2154").fetchone():
        dbapi_conn.execute("SELECT InsertEpsgSrid(2154)")
    dbapi_conn.commit()


def make_engine(url: str) -> Engine:
    """An engine for `url`, with the spatial extension ready on every connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed.set(drivername="sqlite+pysqlite"),
            module=_sqlite_dbapi(),
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
            connect_args={"check_same_thread": False, "timeout": 30},
        )
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    return create_engine(
        parsed,
        pool_pre_ping=True,
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
        connect_args={"connect_timeout": 5},
    )


class Database:
    """An engine and its session factory; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def ping(self) -> None:
        """Connect once, or raise DatabaseUnavailable saying why (before migrating at start)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError) as exc:
            raise DatabaseUnavailable(
                f"database {redact(self.url)} is unreachable: {first_line(exc)}"
            ) from exc

    def check(self) -> str:
        """Connect once and return the spatial extension's version, or raise DatabaseUnavailable."""
        query = (
            "SELECT spatialite_version()"
            if self.dialect == "sqlite"
            else "SELECT extversion FROM pg_extension WHERE extname = 'postgis'"
        )
        try:
            with self.engine.connect() as conn:
                version = conn.execute(text(query)).scalar()
        except (OperationalError, DBAPIError) as exc:
            raise DatabaseUnavailable(
                f"database {redact(self.url)} is unreachable: {first_line(exc)}"
            ) from exc
        if version is None:
            raise DatabaseUnavailable(
                f"database {redact(self.url)} has no PostGIS extension (CREATE EXTENSION postgis)"
            )
        return str(version)

    def dispose(self) -> None:
        self.engine.dispose()


def redact(url: str) -> str:
    """The URL without its password, safe for logs and error messages."""
    return make_url(url).render_as_string(hide_password=True)


def first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
