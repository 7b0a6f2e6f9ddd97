"""Health, OpenAPI docs and error answers: always JSON with a clear `detail`, never a 500."""

from __future__ import annotations

from fastapi.testclient import TestClient

from twin.app import create_app
from twin.config import Settings


def test_health_names_the_database(client: TestClient, db_url: str) -> None:
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"] == ("sqlite" if db_url.startswith("sqlite") else "postgresql")
    assert body["spatial"][0].isdigit()


def test_openapi_docs_served(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/v1/layers" in spec["paths"]
    assert "/api/v1/auth/token" in spec["paths"]


def test_unknown_route_is_json_404(client: TestClient) -> None:
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["detail"]


def test_malformed_json_is_422_with_location(client: TestClient, auth: dict) -> None:
    r = client.post(
        "/api/v1/users",
        content=b'{"username": "x", "role": ',
        headers={**auth["admin"], "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    assert "JSON" in r.json()["detail"] or "json" in r.json()["detail"]


def test_wrong_types_are_422_naming_the_field(client: TestClient, auth: dict) -> None:
    r = client.post(
        "/api/v1/users",
        json={"username": "bob", "role": "emperor", "password": "long-enough-pw"},
        headers=auth["admin"],
    )
    assert r.status_code == 422
    assert "role" in r.json()["detail"]
    r = client.get("/api/v1/layers/not-a-number")
    assert r.status_code == 422
    assert "layer_id" in r.json()["detail"]


def test_bad_bbox_is_400(client: TestClient) -> None:
    r = client.get("/api/v1/layers", params={"bbox": "5,43,4,44"})
    assert r.status_code == 400
    assert "west<east" in r.json()["detail"]
    assert client.get("/api/v1/layers", params={"bbox": "a,b"}).status_code == 400


def test_unreachable_database_at_startup_fails_clearly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(
        data_dir=tmp_path,
        database_url="postgresql+psycopg://twin:twin@127.0.0.1:9/none",
    )
    app = create_app(settings)
    try:
        with TestClient(app):
            raise AssertionError("the app started without its database")
    except Exception as exc:  # lifespan failure surfaces here
        assert "unreachable" in str(exc)
        assert "twin:***@" in str(exc)  # never print the password


def test_database_down_during_requests_is_503(client: TestClient) -> None:
    from sqlalchemy.orm import sessionmaker

    from twin.db import make_engine

    db = client.app.state.db  # type: ignore[attr-defined]
    good_engine, good_sessions = db.engine, db.sessions
    db.engine = make_engine("postgresql+psycopg://twin:twin@127.0.0.1:9/none")
    db.sessions = sessionmaker(db.engine)
    try:
        for path in ("/api/v1/health", "/api/v1/layers"):
            r = client.get(path)
            assert r.status_code == 503, path
            assert "unreachable" in r.json()["detail"] or "unavailable" in r.json()["detail"]
    finally:
        db.engine.dispose()
        db.engine, db.sessions = good_engine, good_sessions
    assert client.get("/api/v1/layers").status_code == 200  # recovers when it returns


def test_security_headers_on_pages_api_and_errors(client: TestClient) -> None:
    for path in ("/", "/api/v1/health", "/api/v1/layers/999999", "/tiles/nothing.json"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "object-src 'none'" in csp, path
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "SAMEORIGIN"


def test_tile_route_refuses_path_traversal(client: TestClient) -> None:
    secret = client.app.state.settings.data_dir / "twin.sqlite"  # type: ignore[attr-defined]
    for path in ("/tiles/../twin.sqlite", "/tiles/%2e%2e/twin.sqlite", "/tiles/..%2ftwin.sqlite"):
        r = client.get(path)
        assert r.status_code == 404, (path, r.status_code)
        if secret.exists():
            assert secret.read_bytes()[:16] not in r.content
