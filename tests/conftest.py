"""Shared fixtures: real data from ../shared/data, both database back-ends, an app per test.

PostGIS tests use `TWIN_TEST_POSTGIS_URL` (default: twin:twin@127.0.0.1:5432/twin_test, which
`.ci/run` sets up); each test gets a fresh database cloned from a PostGIS template. Without a
reachable server those tests skip and say why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from twin.app import create_app
from twin.config import Settings

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
SCHEMAS = REPO.parent / "shared" / "schemas" / "3d-tiles-1.1"
POSTGIS_URL = os.environ.get(
    "TWIN_TEST_POSTGIS_URL", "postgresql+psycopg://twin:twin@127.0.0.1:5432/twin_test"
)
ROLE_NAMES = ("admin", "gis", "planner", "public", "device")
PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2 with its production cost makes every login ~0.1-0.5 s; tests need the same code
    path, not the same cost."""
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    import twin.auth

    saved = twin.auth._hasher
    twin.auth._hasher = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024),))
    try:
        yield
    finally:
        twin.auth._hasher = saved


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA}")
    return SHARED_DATA


def _postgis_template() -> str | None:
    """Create (once) a template database with PostGIS; None when no server answers."""
    url = make_url(POSTGIS_URL)
    admin = create_engine(
        url.set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 3},
    )
    template = f"{url.database}_template"
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": template}
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{template}"'))
                tpl = create_engine(url.set(database=template))
                with tpl.begin() as tconn:
                    tconn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
                tpl.dispose()
    except Exception as exc:
        reason = f"PostGIS not reachable at {url.render_as_string()}: {exc}".splitlines()[0]
        if os.environ.get("TWIN_TEST_REQUIRE_POSTGIS"):
            pytest.fail(reason)  # CI starts a server: a skip there would hide a broken set-up
        pytest.skip(reason)
    finally:
        admin.dispose()
    return template


@pytest.fixture(scope="session")
def postgis_template() -> str | None:
    return _postgis_template()


@pytest.fixture
def postgis_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty PostGIS database for one test, dropped afterwards."""
    template = request.getfixturevalue("postgis_template")
    url = make_url(POSTGIS_URL)
    name = f"twin_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["spatialite", pytest.param("postgis", marks=pytest.mark.postgis)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each database test runs on both back-ends."""
    if request.param == "spatialite":
        return f"sqlite:///{tmp_path / 'twin.sqlite'}"
    return request.getfixturevalue("postgis_url")  # type: ignore[no-any-return]


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        database_url=db_url,
        secret_key="test-secret-" + uuid.uuid4().hex,
        job_workers=1,
        shared_data_dir=SHARED_DATA,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def users(client: TestClient) -> dict[str, int]:
    """One user per role, created through the domain layer."""
    from twin.auth import add_user

    ids = {}
    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        for role in ROLE_NAMES:
            ids[role] = add_user(s, f"{role}-user", role, PASSWORD).id
    return ids


@pytest.fixture
def auth(client: TestClient, users: dict[str, int]) -> dict[str, dict[str, str]]:
    """Authorization headers per role, obtained through the real login route."""
    headers = {}
    for role in ROLE_NAMES:
        r = client.post(
            "/api/v1/auth/token", data={"username": f"{role}-user", "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        headers[role] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return headers
