"""Projects and variants: content checked, indicators computed, every edit versioned, closed
groups enforced route by route, proposed models checked."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import trimesh
from fastapi.testclient import TestClient
from pyproj import Transformer
from shapely.geometry import Polygon

from tests.conftest import PASSWORD

API = "/api/v1"
TO_WGS84 = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)
TOWER = Path("mesh/lyon_part_dieu_lods/tour_part_dieu_1.obj")


def footprint_l93(x: float, y: float, w: float, h: float) -> list[list[float]]:
    """A w x h metre rectangle drawn in Lambert-93, as the browser sends it (WGS84)."""
    corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    return [list(TO_WGS84.transform(cx, cy)) for cx, cy in corners]


# Aix-en-Provence, cours Mirabeau (Lambert-93).
AIX = (893_600.0, 6_270_800.0)


def school(height: float = 12.0, floors: int | None = None) -> dict[str, object]:
    return {
        "id": "b1",
        "name": "School",
        "polygon": footprint_l93(*AIX, 40, 25),
        "height": height,
        "use": "school",
        "floors": floors,
    }


def new_project(client: TestClient, headers: dict[str, str], **body: object) -> dict:
    r = client.post(f"{API}/projects", json={"name": "Quartier Sextius", **body}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def new_variant(client: TestClient, headers: dict[str, str], pid: int, **body: object) -> dict:
    r = client.post(f"{API}/projects/{pid}/variants", json={"name": "A", **body}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_variant_indicators_match_lambert93_geometry(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    """A 40 m x 25 m footprint drawn in Lambert-93 measures 1,000 m² (to the projection's scale
    error, under 0.1 % here); floors default to height / 3 m."""
    project = new_project(client, auth["planner"])
    path = {"id": "p1", "line": footprint_l93(*AIX, 100, 0)[:2], "width": 3}
    trees = [{"id": f"t{i}", "lon": 5.447 + i * 1e-4, "lat": 43.526} for i in range(3)]
    content = {"footprints": [school(12.0)], "paths": [path], "trees": trees}
    variant = new_variant(client, auth["planner"], project["id"], content=content)
    ind = variant["indicators"]
    assert ind["buildings_added"] == 1 and ind["trees_added"] == 3
    assert ind["footprint_area_m2"] == pytest.approx(1_000, rel=1e-3)
    assert ind["floor_area_m2"] == pytest.approx(4 * 1_000, rel=1e-3)  # 12 m -> 4 floors
    assert ind["path_length_m"] == pytest.approx(100, rel=1e-3)
    assert ind["height_max_m"] == 12.0
    with_floors = new_variant(
        client, auth["planner"], project["id"], name="B", content={"footprints": [school(12, 3)]}
    )
    assert with_floors["indicators"]["floor_area_m2"] == pytest.approx(3_000, rel=1e-3)
    listed = client.get(f"{API}/projects/{project['id']}", headers=auth["gis"]).json()
    assert [v["name"] for v in listed["variants"]] == ["A", "B"]


def test_bad_content_is_refused_saying_where(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    project = new_project(client, auth["planner"])
    bowtie = school()
    ring = bowtie["polygon"]
    bowtie["polygon"] = [ring[0], ring[2], ring[1], ring[3]]  # edges cross
    r = client.post(
        f"{API}/projects/{project['id']}/variants",
        json={"name": "bad", "content": {"footprints": [bowtie]}},
        headers=auth["planner"],
    )
    assert r.status_code == 422
    assert "footprints.0" in r.json()["detail"] and "self-intersects near" in r.json()["detail"]
    for bad, where in (
        ({"footprints": [school(height=-3)]}, "height"),
        ({"trees": [{"id": "t", "lon": 500, "lat": 43}]}, "lon"),
        ({"footprints": [school(), school()]}, "used twice"),
        ({"unknown": []}, "unknown"),
    ):
        r = client.post(
            f"{API}/projects/{project['id']}/variants",
            json={"name": "bad", "content": bad},
            headers=auth["planner"],
        )
        assert r.status_code == 422 and where in r.json()["detail"], (bad, r.text)
    assert (
        client.get(f"{API}/projects/{project['id']}", headers=auth["planner"]).json()["variants"]
        == []
    )


def test_every_edit_is_versioned_and_a_stale_edit_is_kept_not_lost(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    project = new_project(client, auth["planner"])
    pid = project["id"]
    variant = new_variant(client, auth["planner"], pid)
    url = f"{API}/projects/{pid}/variants/{variant['id']}"
    first = {"name": "A", "content": {"footprints": [school(12)]}, "base_version": 1}
    r = client.put(url, json=first, headers=auth["planner"])
    assert r.status_code == 200 and r.json()["version"] == 2
    stale = {"name": "A (admin)", "content": {"footprints": [school(30)]}, "base_version": 1}
    r = client.put(url, json=stale, headers=auth["admin"])
    assert r.status_code == 409
    body = r.json()
    assert "kept as revision" in body["detail"] and body["current"]["version"] == 2
    assert body["current"]["content"]["footprints"][0]["height"] == 12
    kept = client.get(f"{url}/revisions/{body['kept_revision']}", headers=auth["planner"]).json()
    assert kept["conflict"] and kept["user"] == "admin-user" and kept["based_on"] == 1
    assert kept["content"]["footprints"][0]["height"] == 30
    history = client.get(f"{url}/revisions", headers=auth["planner"]).json()
    assert [(h["version"], h["conflict"]) for h in history] == [(1, False), (2, False), (2, True)]
    assert client.get(url, headers=auth["planner"]).json()["version"] == 2


def test_closed_group_projects_are_invisible_outside_the_group(
    client: TestClient, auth: dict[str, dict[str, str]], users: dict[str, int]
) -> None:
    """A partner group's project: its members and admins see it; everyone else gets 404 on
    every route, exactly as for a project that does not exist."""
    from twin.auth import add_user

    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        add_user(s, "operator", "planner", PASSWORD)
    r = client.post(f"{API}/auth/token", data={"username": "operator", "password": PASSWORD})
    operator = {"Authorization": f"Bearer {r.json()['access_token']}"}
    group = client.post(f"{API}/groups", json={"name": "Opérateur tram"}, headers=auth["admin"])
    gid = group.json()["id"]
    me = client.get(f"{API}/auth/me", headers=operator).json()["id"]
    assert client.put(f"{API}/groups/{gid}/members/{me}", headers=auth["admin"]).status_code == 204
    # Giving a project to a group one is not in is refused like an unknown group.
    r = client.post(f"{API}/projects", json={"name": "x", "group_id": gid}, headers=auth["planner"])
    assert r.status_code == 404
    project = new_project(client, operator, name="Tram T4", group_id=gid)
    pid = project["id"]
    assert project["group"] == "Opérateur tram"
    variant = new_variant(client, operator, pid)
    meeting = client.post(
        f"{API}/projects/{pid}/meetings", json={"title": "Réunion"}, headers=operator
    ).json()
    vid, mid = variant["id"], meeting["id"]
    save = {"name": "A", "content": {}, "base_version": 1}
    routes = [
        ("GET", f"/projects/{pid}", None),
        ("PATCH", f"/projects/{pid}", {"name": "taken"}),
        ("POST", f"/projects/{pid}/variants", {"name": "B"}),
        ("GET", f"/projects/{pid}/variants/{vid}", None),
        ("PUT", f"/projects/{pid}/variants/{vid}", save),
        ("GET", f"/projects/{pid}/variants/{vid}/revisions", None),
        ("GET", f"/projects/{pid}/assets", None),
        ("GET", f"/projects/{pid}/meetings", None),
        ("POST", f"/projects/{pid}/meetings", {"title": "mine"}),
        ("GET", f"/meetings/{mid}", None),
        ("PATCH", f"/meetings/{mid}", {"title": "mine"}),
        ("POST", f"/meetings/{mid}/state", {"bookmark": None}),
        ("GET", f"/meetings/{mid}/comments", None),
        ("GET", f"/meetings/{mid}/comments/export", None),
        ("DELETE", f"/projects/{pid}/variants/{vid}", None),
        ("DELETE", f"/meetings/{mid}", None),
        ("DELETE", f"/projects/{pid}", None),
    ]
    for outsider in ("planner", "gis"):
        assert pid not in [
            p["id"] for p in client.get(f"{API}/projects", headers=auth[outsider]).json()
        ]
        for method, path, body in routes:
            if outsider == "gis" and method not in ("GET",):
                continue  # a gis user is refused writes by role first (403, the auth matrix)
            r = client.request(method, API + path, json=body, headers=auth[outsider])
            assert r.status_code == 404, f"{method} {path} as {outsider}: {r.status_code}"
    assert client.get(f"{API}/projects/{pid}", headers=auth["admin"]).status_code == 200
    assert client.get(f"{API}/projects/{pid}", headers=operator).status_code == 200
    # The group cannot be deleted while it owns the project (it would open it to all).
    assert client.delete(f"{API}/groups/{gid}", headers=auth["admin"]).status_code == 409
    groups = client.get(f"{API}/groups", headers=operator).json()
    assert [g["name"] for g in groups] == ["Opérateur tram"]
    assert client.get(f"{API}/groups", headers=auth["planner"]).json() == []


def tower_glb(shared_data: Path) -> bytes:
    """The Tour Part-Dieu model (Lyon), as a planner's modelling tool would export it."""
    return trimesh.load(shared_data / TOWER).export(file_type="glb")


def test_models_are_checked_stored_and_served_to_who_may_see(
    client: TestClient, auth: dict[str, dict[str, str]], shared_data: Path
) -> None:
    project = new_project(client, auth["planner"])
    url = f"{API}/projects/{project['id']}/assets"
    glb = tower_glb(shared_data)
    r = client.post(
        url, files={"file": ("tower.glb", glb, "model/gltf-binary")}, headers=auth["planner"]
    )
    assert r.status_code == 201, r.text
    asset = r.json()
    assert asset["info"]["triangles"] == 183
    assert asset["info"]["extent_m"] == pytest.approx([205.375, 153.5, 169.04], abs=0.01)
    got = client.get(asset["url"], headers=auth["gis"])
    assert got.status_code == 200 and got.content == glb
    assert got.headers["content-type"] == "model/gltf-binary"
    assert client.get(asset["url"]).status_code == 401
    for name, data, why in (
        ("tower.glb", glb[:-100], "truncated"),
        ("tower.glb", b"PK\x03\x04" + b"\0" * 100, "not a binary glTF"),
        ("tower.obj", glb, ".glb"),
    ):
        r = client.post(url, files={"file": (name, data)}, headers=auth["planner"])
        assert r.status_code == 400 and why in r.json()["detail"], r.text
    scaled = trimesh.load(shared_data / TOWER)
    scaled.apply_scale(100.0)  # centimetres taken for metres
    r = client.post(
        url, files={"file": ("cm.glb", scaled.export(file_type="glb"))}, headers=auth["planner"]
    )
    assert r.status_code == 400 and "unit or georeferencing" in r.json()["detail"]
    assert len(client.get(url, headers=auth["planner"]).json()) == 1
    placed = {"id": "m1", "asset": asset["id"], "lon": 5.447, "lat": 43.526, "heading": 30}
    variant = new_variant(client, auth["planner"], project["id"], content={"models": [placed]})
    assert variant["indicators"]["models_placed"] == 1


def test_model_size_limit(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    client.app.state.settings.max_model_mb = 1  # type: ignore[attr-defined]
    project = new_project(client, auth["planner"])
    big = io.BytesIO(b"glTF" + b"\0" * (2 * 1024 * 1024))
    r = client.post(
        f"{API}/projects/{project['id']}/assets",
        files={"file": ("big.glb", big)},
        headers=auth["planner"],
    )
    assert r.status_code == 413 and "larger than 1 MB" in r.json()["detail"]


def test_self_intersecting_project_area_is_refused(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    ring = footprint_l93(*AIX, 500, 500)
    bowtie = {"type": "Polygon", "coordinates": [[ring[0], ring[2], ring[1], ring[3], ring[0]]]}
    r = client.post(f"{API}/projects", json={"name": "x", "area": bowtie}, headers=auth["planner"])
    assert r.status_code == 400 and "invalid" in r.json()["detail"]
    good = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    project = new_project(client, auth["planner"], area=good)
    assert Polygon(project["area"]["coordinates"][0]).is_valid


def test_demo_project_stands_on_the_real_building_it_replaces(
    client: TestClient, auth: dict[str, dict[str, str]], shared_data: Path
) -> None:
    """The demo school takes the real BDNB footprint (363 m² by BDNB's own `s_geom_cst`) and
    hides that building; loading twice keeps one project and the same meeting link."""
    from twin.models import Layer
    from twin.projects.demo import BUILDINGS_LAYER, REPLACED, load_demo_project

    db = client.app.state.db  # type: ignore[attr-defined]
    assert load_demo_project(db, shared_data) is None  # the buildings are not loaded yet
    with db.session() as s:
        layer = Layer(name=BUILDINGS_LAYER, kind="buildings")
        s.add(layer)
        s.flush()
        layer_id = layer.id
    token = load_demo_project(db, shared_data)
    assert token and load_demo_project(db, shared_data) == token
    projects = client.get(f"{API}/projects", headers=auth["planner"]).json()
    assert len(projects) == 1
    low, high = projects[0]["variants"]
    assert low["indicators"]["footprint_area_m2"] == pytest.approx(363, rel=0.01)
    assert high["indicators"]["floor_area_m2"] == pytest.approx(
        6 * low["indicators"]["footprint_area_m2"], rel=1e-6
    )
    # The school stands on the replaced building's ground (BDNB altitude_s 99.5 m NGF-IGN69),
    # made ellipsoidal as the layer's import does (EGM96 where PROJ has no RAF grid).
    school = low["content"]["footprints"][0]
    lon, lat = (sum(c) / len(school["polygon"]) for c in zip(*school["polygon"], strict=True))
    _, _, h = Transformer.from_crs("EPSG:4326+5773", "EPSG:4979", always_xy=True).transform(
        lon, lat, 99.5
    )
    assert school["base"] == pytest.approx(h, abs=0.05) and 140 < school["base"] < 160
    assert low["content"]["hidden"] == [
        {"layer_id": layer_id, "property": "batiment_c", "values": [REPLACED]}
    ]
    meeting = client.get(f"{API}/public/meetings/{token}").json()
    assert [b["variant_id"] for b in meeting["bookmarks"]] == [low["id"], high["id"]]
