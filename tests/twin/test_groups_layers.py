"""Closed user groups on layers, route by route with the wrong user: a group's layer exists for its
members and admins only, in the catalog, on every layer route, in the tile store and for nginx."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from tests.conftest import PASSWORD, SHARED_DATA
from tests.twin.test_cli import run
from tests.twin.test_import import MONTPELLIER, upload, wait_job

OUTSIDERS = ("other-gis", "planner", "public", None)  # None: no login at all
SAMPLE = "tilesets/1.1_MultipleContents"


@dataclass
class Grouped:
    """A layer imported into group A by its member gis-user, and an open layer beside it."""

    group_id: int
    layer: dict
    open_layer: dict
    content: str  # a tile content file of the grouped layer


def _state(client: TestClient):  # type: ignore[no-untyped-def]
    return client.app.state  # type: ignore[attr-defined]


def _headers(auth: dict[str, dict[str, str]], who: str | None) -> dict[str, str]:
    return auth[who] if who else {}


def _import(client: TestClient, headers: dict[str, str], **form: str) -> dict:
    job = upload(client, headers, SHARED_DATA / MONTPELLIER, **form)
    done = wait_job(client, job["id"], headers)
    assert done["status"] == "succeeded", done["error"]
    return client.get(f"/api/v1/layers/{done['result']['layer_id']}", headers=headers).json()


def _content_file(client: TestClient, layer: dict) -> str:
    tiles = _state(client).settings.tiles_dir
    folder = tiles / layer["tileset_url"].removeprefix("/tiles/").rsplit("/", 1)[0]
    first = next(p for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix != ".json")
    return "/tiles/" + first.relative_to(tiles).as_posix()


@pytest.fixture
def auth_all(client: TestClient, auth: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The role headers plus `other-gis`: staff with the gis role, in no group."""
    from twin.auth import add_user

    with _state(client).db.session() as s:
        add_user(s, "other-gis", "gis", PASSWORD)
    r = client.post("/api/v1/auth/token", data={"username": "other-gis", "password": PASSWORD})
    return {**auth, "other-gis": {"Authorization": f"Bearer {r.json()['access_token']}"}}


def _new_group(client: TestClient, name: str, *user_ids: int) -> int:
    from twin.groups import add_group, add_member

    with _state(client).db.session() as s:
        group = add_group(s, name)
        for user_id in user_ids:
            add_member(s, group.id, user_id)
        return group.id


@pytest.fixture
def grouped(
    client: TestClient,
    users: dict[str, int],
    auth_all: dict[str, dict[str, str]],
    shared_data: Path,
) -> Grouped:
    """A closed and an open layer: a real 3D Tiles sample catalogued twice (an import per
    test and back-end would cost minutes; imports into a group are tested on their own)."""
    from twin.catalog import register_tileset

    group_id = _new_group(client, "A", users["gis"])
    state = _state(client)
    ids = {}
    with state.db.session() as s:
        for name, group in (("closed", group_id), ("open", None)):
            layer = register_tileset(s, state.settings.tiles_dir, SHARED_DATA / SAMPLE, name=name)
            layer.group_id = group
            s.flush()
            ids[name] = layer.id
    layer, open_layer = (
        client.get(f"/api/v1/layers/{ids[n]}", headers=auth_all["gis"]).json()
        for n in ("closed", "open")
    )
    return Grouped(group_id, layer, open_layer, _content_file(client, layer))


def test_group_layer_listed_and_read_by_members_and_admins_only(
    client: TestClient, grouped: Grouped, auth_all: dict[str, dict[str, str]], users: dict
) -> None:
    layer_id = grouped.layer["id"]
    assert grouped.layer["group_id"] == grouped.group_id
    assert grouped.open_layer["group_id"] is None
    for who in ("gis", "admin"):
        listed = client.get("/api/v1/layers", headers=auth_all[who]).json()
        assert {la["id"] for la in listed} == {layer_id, grouped.open_layer["id"]}, who
        assert client.get(f"/api/v1/layers/{layer_id}", headers=auth_all[who]).status_code == 200
    for who in OUTSIDERS:
        headers = _headers(auth_all, who)
        listed = client.get("/api/v1/layers", headers=headers).json()
        assert [la["id"] for la in listed] == [grouped.open_layer["id"]], who
        r = client.get(f"/api/v1/layers/{layer_id}", headers=headers)
        assert r.status_code == 404 and r.json()["detail"] == f"layer {layer_id} not found", who


def test_group_member_sees_the_layer_whatever_public_says(
    client: TestClient, grouped: Grouped, auth_all: dict[str, dict[str, str]], users: dict
) -> None:
    from twin.groups import add_member
    from twin.models import Layer

    with _state(client).db.session() as s:
        s.get(Layer, grouped.layer["id"]).public = False  # type: ignore[union-attr]
        add_member(s, grouped.group_id, users["public"])
    listed = client.get("/api/v1/layers", headers=auth_all["public"]).json()
    assert grouped.layer["id"] in {la["id"] for la in listed}
    r = client.get(grouped.layer["tileset_url"], headers=auth_all["public"])
    assert r.status_code == 200


def test_outsiders_cannot_rename_move_or_delete(
    client: TestClient, grouped: Grouped, auth_all: dict[str, dict[str, str]]
) -> None:
    url = f"/api/v1/layers/{grouped.layer['id']}"
    for body in ({"name": "x"}, {"group_id": None}):
        r = client.patch(url, json=body, headers=auth_all["other-gis"])
        assert r.status_code == 404 and r.json()["detail"].endswith("not found")
    assert client.delete(url, headers=auth_all["other-gis"]).status_code == 404
    for who in ("planner", "public"):  # the role check comes first, as for any layer
        assert client.patch(url, json={"name": "x"}, headers=auth_all[who]).status_code == 403
        assert client.delete(url, headers=auth_all[who]).status_code == 403
    assert client.patch(url, json={"name": "x"}).status_code == 401
    assert client.get(url, headers=auth_all["gis"]).json()["name"] == "closed"  # unchanged


def test_patch_renames_and_moves_between_groups(
    client: TestClient, grouped: Grouped, auth_all: dict[str, dict[str, str]], users: dict
) -> None:
    url = f"/api/v1/layers/{grouped.layer['id']}"
    r = client.patch(url, json={"name": "renamed"}, headers=auth_all["gis"])
    assert r.status_code == 200 and r.json()["group_id"] == grouped.group_id
    r = client.patch(url, json={"group_id": None}, headers=auth_all["gis"])
    assert r.status_code == 200 and r.json()["group_id"] is None and r.json()["name"] == "renamed"
    assert client.get(url).status_code == 200  # open now: anyone reads it

    b_only_admin = _new_group(client, "B")
    open_url = f"/api/v1/layers/{grouped.open_layer['id']}"
    for group_id in (b_only_admin, 999999):  # a group the caller is not in, or no group at all
        r = client.patch(open_url, json={"group_id": group_id}, headers=auth_all["gis"])
        assert r.status_code == 404 and r.json()["detail"] == f"group {group_id} not found"
    r = client.patch(open_url, json={"group_id": b_only_admin}, headers=auth_all["admin"])
    assert r.status_code == 200 and r.json()["group_id"] == b_only_admin
    assert client.get(open_url, headers=auth_all["gis"]).status_code == 404
    assert client.patch(url, json={}, headers=auth_all["gis"]).json()["name"] == "renamed"
    assert client.delete(open_url, headers=auth_all["admin"]).status_code == 204


def test_member_deletes_group_layer(
    client: TestClient, grouped: Grouped, auth_all: dict[str, dict[str, str]]
) -> None:
    url = f"/api/v1/layers/{grouped.layer['id']}"
    assert client.delete(url, headers=auth_all["gis"]).status_code == 204
    assert client.get(url, headers=auth_all["admin"]).status_code == 404


def test_group_tiles_need_a_member_token(
    client: TestClient, grouped: Grouped, auth_all: dict[str, dict[str, str]]
) -> None:
    bad_token = {"Authorization": "Bearer not-a-token"}
    for url in (grouped.layer["tileset_url"], grouped.content):
        for who in ("gis", "admin"):
            r = client.get(url, headers=auth_all[who])
            assert r.status_code == 200, (url, who)
            cache = r.headers["cache-control"]
            assert (
                cache.startswith("private") and "public" not in cache and "immutable" not in cache
            )
        for headers in (*(_headers(auth_all, who) for who in OUTSIDERS), bad_token):
            assert client.get(url, headers=headers).status_code == 404, (url, headers)
    r = client.get(grouped.open_layer["tileset_url"])
    assert r.status_code == 200 and "public" in r.headers["cache-control"]
    assert client.get(grouped.open_layer["tileset_url"], headers=bad_token).status_code == 200
    assert client.get("/tiles/999999/x/tileset.json").status_code == 404


@contextmanager
def counted_queries(client: TestClient) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = _state(client).db.engine

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_open_tiles_cost_no_query_and_a_move_is_seen_after_the_ttl(
    client: TestClient,
    grouped: Grouped,
    auth_all: dict[str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = grouped.open_layer["tileset_url"]
    assert client.get(url).status_code == 200
    with counted_queries(client) as statements:
        for _ in range(3):
            assert client.get(url).status_code == 200
    assert statements == []
    layer_url = f"/api/v1/layers/{grouped.open_layer['id']}"
    r = client.patch(layer_url, json={"group_id": grouped.group_id}, headers=auth_all["gis"])
    assert r.status_code == 200
    assert client.get(url).status_code == 200  # still remembered as open, for a few seconds
    later = time.monotonic() + 60
    monkeypatch.setattr("twin.tile_guard.monotonic", lambda: later)
    assert client.get(url).status_code == 404
    assert client.get(url, headers=auth_all["gis"]).status_code == 200


def test_tile_access_route_for_nginx(
    client: TestClient, grouped: Grouped, auth_all: dict[str, dict[str, str]]
) -> None:
    url = f"/tile-access/{grouped.layer['id']}"
    for who in ("gis", "admin"):
        r = client.get(url, headers=auth_all[who])
        assert r.status_code == 204 and r.headers["x-tile-cache-control"].startswith("private")
    for who in OUTSIDERS:
        assert client.get(url, headers=_headers(auth_all, who)).status_code == 404, who
    r = client.get(f"/tile-access/{grouped.open_layer['id']}")
    assert r.status_code == 204 and "immutable" in r.headers["x-tile-cache-control"]
    assert client.get("/tile-access/999999").status_code == 404
    assert not any("tile-access" in path for path in client.app.openapi()["paths"])  # type: ignore[attr-defined]


def test_import_into_a_group_needs_membership(
    client: TestClient, grouped: Grouped, auth_all: dict[str, dict[str, str]], users: dict
) -> None:
    group_id, layer_id = grouped.group_id, grouped.layer["id"]
    path = SHARED_DATA / MONTPELLIER
    for form in ({"group_id": str(group_id)}, {"layer_id": str(layer_id)}):
        with path.open("rb") as f:
            r = client.post(
                "/api/v1/layers",
                headers=auth_all["other-gis"],
                files={"files": (path.name, f, "application/octet-stream")},
                data=form,
            )
        assert r.status_code == 404, r.text
        what = "group" if "group_id" in form else "layer"
        assert r.json()["detail"] == f"{what} {form[f'{what}_id']} not found"
    b = _new_group(client, "B", users["gis"])
    with path.open("rb") as f:
        r = client.post(
            "/api/v1/layers",
            headers=auth_all["gis"],
            files={"files": (path.name, f, "application/octet-stream")},
            data={"layer_id": str(layer_id), "group_id": str(b)},
        )
    assert r.status_code == 400 and "group" in r.json()["detail"]
    # A member imports into the group; an admin adds a version without being a member, and the
    # new version keeps the layer's group.
    imported = _import(client, auth_all["gis"], name="closed import", group_id=str(group_id))
    assert imported["group_id"] == group_id and imported["kind"] == "pointcloud"
    again = _import(client, auth_all["admin"], layer_id=str(imported["id"]))
    assert again["version"] == 2 and again["group_id"] == group_id
    assert client.get(again["tileset_url"]).status_code == 404
    assert client.get(again["tileset_url"], headers=auth_all["gis"]).status_code == 200


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "TWIN_DATA_DIR": str(tmp_path / "var"),
        "TWIN_DATABASE_URL": db_url,
        "TWIN_SHARED_DATA_DIR": str(SHARED_DATA),
        "COLUMNS": "200",
    }


@pytest.mark.usefixtures("shared_data")
def test_cli_groups_members_and_import(cli_env: dict[str, str]) -> None:
    r = run(cli_env, "group", "add", "urbanism", "--description", "project team")
    assert r.returncode == 0 and "'urbanism' created" in r.stdout, r.stderr
    r = run(cli_env, "user", "add", "ann", "--role", "gis", "--password", "long-enough-pw")
    assert r.returncode == 0, r.stderr
    assert run(cli_env, "group", "member", "add", "urbanism", "ann").returncode == 0
    r = run(cli_env, "group", "member", "add", "urbanism", "nobody")
    assert r.returncode == 2 and "no user 'nobody'" in r.stderr
    (group,) = json.loads(run(cli_env, "group", "list", "--json").stdout)
    assert group["name"] == "urbanism" and group["description"] == "project team"
    assert [m["username"] for m in group["members"]] == ["ann"]
    r = run(cli_env, "group", "member", "remove", "urbanism", "ann")
    assert r.returncode == 0 and "no longer" in r.stdout, r.stderr
    listing = run(cli_env, "group", "list").stdout
    assert "urbanism" in listing and "ann" not in listing

    source = str(SHARED_DATA / MONTPELLIER)
    r = run(cli_env, "import", source, "--group", "nope")
    assert r.returncode == 2 and "group 'nope' not found" in r.stderr
    r = run(cli_env, "import", source, "--group", str(group["id"]), "--name", "closed")
    assert r.returncode == 0, r.stderr
    listing = run(cli_env, "layers", "list").stdout
    assert "closed" in listing and "urbanism" in listing


def test_simulations_on_a_group_terrain_stay_in_the_group(
    client: TestClient, grouped: Grouped, auth_all: dict[str, dict[str, str]], users: dict
) -> None:
    from twin.sim.models import SimResult

    with _state(client).db.session() as s:
        for layer in (grouped.layer, grouped.open_layer):
            s.add(
                SimResult(
                    id=f"r{layer['id']}",
                    name=layer["name"],
                    folder="sims/x",
                    layer_id=layer["id"],
                    user_id=users["gis"],
                    status="succeeded",
                )
            )
    closed, open_ = f"r{grouped.layer['id']}", f"r{grouped.open_layer['id']}"
    for who, seen in (
        ("gis", {closed, open_}),
        ("admin", {closed, open_}),
        ("other-gis", {open_}),
        ("planner", {open_}),
    ):
        listed = client.get("/api/v1/simulations", headers=auth_all[who]).json()
        assert {r["id"] for r in listed} == seen, who
        r = client.get(f"/api/v1/simulations/{closed}", headers=auth_all[who])
        assert r.status_code == (200 if closed in seen else 404), who
    r = client.delete(f"/api/v1/simulations/{closed}", headers=auth_all["other-gis"])
    assert r.status_code == 404
