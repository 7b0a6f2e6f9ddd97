"""Login, tokens and the role check on every route, tried with the wrong user."""

from __future__ import annotations

import jwt
import pytest
from fastapi.testclient import TestClient

from tests.conftest import PASSWORD, ROLE_NAMES

# Minimum access per API route: "anyone", "user" (any logged-in role), or the roles allowed.
STAFF = {"admin", "gis", "planner"}
PLANNERS = {"admin", "planner"}
ACCESS: dict[tuple[str, str], str | set[str]] = {
    ("GET", "/api/v1/health"): "anyone",
    ("POST", "/api/v1/auth/token"): "anyone",
    ("GET", "/api/v1/auth/me"): "user",
    ("GET", "/api/v1/users"): {"admin"},
    ("POST", "/api/v1/users"): {"admin"},
    ("GET", "/api/v1/jobs"): STAFF,
    ("GET", "/api/v1/jobs/{job_id}"): STAFF,
    ("DELETE", "/api/v1/jobs/{job_id}"): STAFF,
    ("GET", "/api/v1/layers"): "anyone",
    ("POST", "/api/v1/layers"): {"admin", "gis"},
    ("GET", "/api/v1/layers/{layer_id}"): "anyone",
    ("PATCH", "/api/v1/layers/{layer_id}"): {"admin", "gis"},
    ("DELETE", "/api/v1/layers/{layer_id}"): {"admin", "gis"},
    ("GET", "/api/v1/sensors"): "anyone",
    ("POST", "/api/v1/sensors"): STAFF,
    ("GET", "/api/v1/sensors/{sensor_id}"): "anyone",
    ("PATCH", "/api/v1/sensors/{sensor_id}"): STAFF,
    ("DELETE", "/api/v1/sensors/{sensor_id}"): {"admin"},
    ("GET", "/api/v1/sensors/{sensor_id}/observations"): "anyone",
    ("GET", "/api/v1/sensors/{sensor_id}/indicators"): "anyone",
    ("GET", "/api/v1/sensors/{sensor_id}/export"): "anyone",
    ("POST", "/api/v1/observations"): STAFF | {"device"},
    ("GET", "/api/v1/alerts"): "anyone",
    ("GET", "/api/v1/alerts/export"): "anyone",
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): STAFF,
    ("POST", "/api/v1/alerts/{alert_id}/close"): STAFF,
    ("GET", "/api/v1/alert-rules"): STAFF,
    ("POST", "/api/v1/alert-rules"): STAFF,
    ("DELETE", "/api/v1/alert-rules/{rule_id}"): STAFF,
    ("GET", "/api/v1/stream"): "anyone",
    ("POST", "/ngsi-ld/v1/entities"): STAFF | {"device"},
    ("GET", "/ngsi-ld/v1/entities"): "anyone",
    ("GET", "/ngsi-ld/v1/entities/{entity_id}"): "anyone",
    ("POST", "/ngsi-ld/v1/entityOperations/upsert"): STAFF | {"device"},
    ("GET", "/ngsi-ld/v1/temporal/entities/{entity_id}"): "anyone",
    ("GET", "/api/v1/routes/walk"): STAFF,
    ("GET", "/api/v1/routes/profiles"): STAFF,
    ("GET", "/api/v1/routes/bike-lanes"): STAFF,
    ("GET", "/api/v1/access"): STAFF,
    ("GET", "/api/v1/access/isochrone"): STAFF,
    ("POST", "/api/v1/simulations/flood"): STAFF,
    ("GET", "/api/v1/simulations"): STAFF,
    ("GET", "/api/v1/simulations/{result_id}"): STAFF,
    ("DELETE", "/api/v1/simulations/{result_id}"): STAFF,
    ("GET", "/api/v1/groups"): "user",
    ("POST", "/api/v1/groups"): {"admin"},
    ("PATCH", "/api/v1/groups/{group_id}"): {"admin"},
    ("DELETE", "/api/v1/groups/{group_id}"): {"admin"},
    ("PUT", "/api/v1/groups/{group_id}/members/{user_id}"): {"admin"},
    ("DELETE", "/api/v1/groups/{group_id}/members/{user_id}"): {"admin"},
    # Projects: read by whoever may see them (staff, or a closed group's members of any role);
    # prepared and presented by planners.
    ("GET", "/api/v1/projects"): "user",
    ("POST", "/api/v1/projects"): PLANNERS,
    ("GET", "/api/v1/projects/{project_id}"): "user",
    ("PATCH", "/api/v1/projects/{project_id}"): PLANNERS,
    ("DELETE", "/api/v1/projects/{project_id}"): PLANNERS,
    ("POST", "/api/v1/projects/{project_id}/variants"): PLANNERS,
    ("GET", "/api/v1/projects/{project_id}/variants/{variant_id}"): "user",
    ("PUT", "/api/v1/projects/{project_id}/variants/{variant_id}"): PLANNERS,
    ("DELETE", "/api/v1/projects/{project_id}/variants/{variant_id}"): PLANNERS,
    ("GET", "/api/v1/projects/{project_id}/variants/{variant_id}/revisions"): "user",
    ("GET", "/api/v1/projects/{project_id}/variants/{variant_id}/access"): "user",
    ("GET", "/api/v1/projects/{project_id}/variants/{variant_id}/revisions/{revision_id}"): "user",
    ("POST", "/api/v1/projects/{project_id}/assets"): PLANNERS,
    ("GET", "/api/v1/projects/{project_id}/assets"): "user",
    ("GET", "/api/v1/projects/{project_id}/assets/{asset_id}"): "user",
    ("POST", "/api/v1/projects/{project_id}/meetings"): PLANNERS,
    ("GET", "/api/v1/projects/{project_id}/meetings"): "user",
    ("GET", "/api/v1/meetings/{meeting_id}"): "user",
    ("PATCH", "/api/v1/meetings/{meeting_id}"): PLANNERS,
    ("DELETE", "/api/v1/meetings/{meeting_id}"): PLANNERS,
    ("POST", "/api/v1/meetings/{meeting_id}/state"): PLANNERS,
    ("GET", "/api/v1/meetings/{meeting_id}/comments"): "user",
    ("POST", "/api/v1/meetings/{meeting_id}/comments/{comment_id}/moderate"): PLANNERS,
    ("GET", "/api/v1/meetings/{meeting_id}/comments/export"): "user",
    # Citizens: the meeting link's token is the key.
    ("GET", "/api/v1/public/meetings/{token}"): "anyone",
    ("POST", "/api/v1/public/meetings/{token}/comments"): "anyone",
    ("POST", "/api/v1/public/meetings/{token}/votes"): "anyone",
    ("GET", "/api/v1/public/meetings/{token}/assets/{asset_id}"): "anyone",
}


def api_routes(client: TestClient) -> set[tuple[str, str]]:
    """Every route of the API, read from the OpenAPI document the app builds from its routers."""
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


def test_every_api_route_has_an_access_rule(client: TestClient) -> None:
    """A new route without a rule here fails, so none ships unchecked."""
    assert api_routes(client) == set(ACCESS)


def test_login_returns_bearer_token(client: TestClient, users: dict[str, int]) -> None:
    r = client.post("/api/v1/auth/token", data={"username": "gis-user", "password": PASSWORD})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["username"] == "gis-user" and me.json()["role"] == "gis"
    assert "password" not in me.text


@pytest.mark.parametrize(
    ("username", "password"), [("gis-user", "wrong-password"), ("nobody", PASSWORD)]
)
def test_wrong_credentials_are_401(
    client: TestClient, users: dict[str, int], username: str, password: str
) -> None:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 401
    assert r.json()["detail"] == "wrong username or password"  # same answer: no user probing


def test_forged_and_expired_tokens_are_401(client: TestClient, users: dict[str, int]) -> None:
    forged = jwt.encode(
        {"sub": str(users["admin"]), "role": "admin"},
        "not-the-key-but-long-enough-for-hs256-rules",
        "HS256",
    )
    expired = jwt.encode(
        {"sub": str(users["admin"]), "exp": 1},
        client.app.state.settings.secret_key,  # type: ignore[attr-defined]
        "HS256",
    )
    for token, reason in ((forged, "invalid"), (expired, "expired"), ("garbage", "invalid")):
        r = client.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
        assert reason in r.json()["detail"]


def test_disabled_user_loses_access_at_once(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    from sqlalchemy import update

    from twin.models import User

    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        s.execute(update(User).where(User.username == "admin-user").values(active=False))
    assert client.get("/api/v1/users", headers=auth["admin"]).status_code == 401


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    concrete = path.replace("{job_id}", "0" * 32).replace("{layer_id}", "999999")
    for name in ("{sensor_id}", "{alert_id}", "{rule_id}", "{entity_id}", "{result_id}",
                 "{group_id}", "{user_id}", "{project_id}", "{variant_id}", "{revision_id}",
                 "{meeting_id}", "{comment_id}", "{asset_id}", "{token}"):  # fmt: skip
        concrete = concrete.replace(name, "999999")
    body: object = {"name": "x"} if method == "PATCH" else None
    if path == "/api/v1/stream":
        concrete += "?seconds=0.05"
    if path == "/api/v1/routes/bike-lanes":
        concrete += "?top=0"  # refused (422) after the role check, before building a network
    if path in ("/api/v1/observations", "/ngsi-ld/v1/entityOperations/upsert"):
        body = []
    if path in ("/api/v1/sensors", "/ngsi-ld/v1/entities") and method == "POST":
        body = {}
    if path == "/api/v1/simulations/flood":
        body = {"layer_id": 999999, "mode": "rain", "duration_s": 60, "rain_mm_h": 10}
    if path == "/api/v1/users" and method == "POST":
        body = {"username": "newbie", "role": "public", "password": "long-enough-pw"}
    if path == "/api/v1/layers" and method == "POST":
        files = {"files": ("notes.txt", b"not a point cloud", "text/plain")}
        return client.post(concrete, headers=headers, files=files).status_code
    if path == "/api/v1/auth/token":
        return client.post(
            concrete, data={"username": "gis-user", "password": PASSWORD}
        ).status_code
    return client.request(method, concrete, headers=headers, json=body).status_code


def test_authorization_matrix(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    """Every route with every role and with no login: allowed roles pass the auth layer (any
    answer but 401/403), the others get 401 (no login) or 403 (wrong role)."""
    for (method, path), rule in ACCESS.items():
        for who in (None, *ROLE_NAMES):
            headers = auth[who] if who else {}
            status = _call(client, method, path, headers)
            allowed = (
                rule == "anyone"
                or (rule == "user" and who is not None)
                or (isinstance(rule, set) and who in rule)
            )
            where = f"{method} {path} as {who or 'anonymous'}"
            if allowed:
                assert status not in (401, 403), f"{where}: got {status}"
            else:
                assert status == (401 if who is None else 403), f"{where}: got {status}"


def test_admin_creates_users_and_duplicates_conflict(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    body = {"username": "carla", "role": "planner", "password": "long-enough-pw"}
    r = client.post("/api/v1/users", json=body, headers=auth["admin"])
    assert r.status_code == 201 and r.json()["role"] == "planner"
    r = client.post("/api/v1/users", json=body, headers=auth["admin"])
    assert r.status_code == 409 and "already exists" in r.json()["detail"]
    r = client.post("/api/v1/auth/token", data={"username": "carla", "password": "long-enough-pw"})
    assert r.status_code == 200
