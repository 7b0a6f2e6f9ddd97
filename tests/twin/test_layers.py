"""The catalog on real sample tilesets: demo scene, listing, tile serving, rename, delete."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from twin.jobs import JobRunner


@pytest.fixture
def demo(client: TestClient, shared_data: Path) -> list[dict]:
    runner: JobRunner = client.app.state.runner  # type: ignore[attr-defined]
    settings = client.app.state.settings  # type: ignore[attr-defined]
    params = {"shared_data_dir": str(shared_data), "tiles_dir": str(settings.tiles_dir)}
    job = runner.run_inline("demo.load", params)
    assert job.status == "succeeded", job.error
    layers = client.get("/api/v1/layers").json()
    kinds = sorted(la["kind"] for la in layers)
    assert (
        kinds
        == ["imagery", "mesh"] + ["pointcloud"] * 2 + ["terrain"] + ["tiles3d"] * 3 + ["vector"] * 2
    )
    return layers


def by_name(layers: list[dict], fragment: str) -> dict:
    return next(la for la in layers if fragment in la["name"])


def test_demo_scene_is_idempotent(client: TestClient, demo: list[dict], shared_data: Path) -> None:
    runner: JobRunner = client.app.state.runner  # type: ignore[attr-defined]
    settings = client.app.state.settings  # type: ignore[attr-defined]
    params = {"shared_data_dir": str(shared_data), "tiles_dir": str(settings.tiles_dir)}
    again = runner.run_inline("demo.load", params)
    assert again.result == {"added": [], "skipped": [la["id"] for la in demo]}
    assert len(client.get("/api/v1/layers").json()) == len(demo)


def test_demo_without_shared_data_is_empty_scene(client: TestClient, tmp_path: Path) -> None:
    runner: JobRunner = client.app.state.runner  # type: ignore[attr-defined]
    job = runner.run_inline(
        "demo.load", {"shared_data_dir": str(tmp_path / "absent"), "tiles_dir": str(tmp_path)}
    )
    assert job.status == "succeeded"
    assert job.result is not None and job.result["missing_data"]
    assert client.get("/api/v1/layers").json() == []


def test_layer_fields_and_extents(client: TestClient, demo: list[dict]) -> None:
    city = by_name(demo, "city blocks")
    assert city["status"] == "ready" and city["kind"] == "tiles3d" and city["version"] == 1
    w, s, e, n = city["extent_wgs84"]
    assert -75.62 < w < e < -75.60 and 40.04 < s < n < 40.05  # near Philadelphia
    placed = by_name(demo, "multiple contents")
    w, s, e, n = placed["extent_wgs84"]
    assert w <= 5.3698 <= e and s <= 43.2951 <= n  # placed at the Vieux-Port for the demo
    one = client.get(f"/api/v1/layers/{placed['id']}").json()
    assert one == placed


def test_bbox_filter_finds_the_marseille_layers(client: TestClient, demo: list[dict]) -> None:
    inside = client.get("/api/v1/layers", params={"bbox": "5.0,43.2,5.8,43.7"}).json()
    assert sorted(la["name"] for la in inside) == sorted(
        la["name"] for la in demo if "1.1" in la["name"]
    )


def test_tiles_served_with_types_and_cache_headers(client: TestClient, demo: list[dict]) -> None:
    layer = by_name(demo, "multiple contents")
    r = client.get(layer["tileset_url"])
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert "immutable" in r.headers["cache-control"]
    tileset = r.json()
    assert len(tileset["root"]["transform"]) == 16  # the demo placement was written
    base = layer["tileset_url"].rsplit("/", 1)[0]
    glb = client.get(f"{base}/planeTriangles.glb")
    assert glb.status_code == 200
    assert glb.headers["content-type"] == "model/gltf-binary"
    assert glb.content[:4] == b"glTF"
    etag = glb.headers["etag"]
    assert (
        client.get(f"{base}/planeTriangles.glb", headers={"If-None-Match": etag}).status_code == 304
    )
    assert client.get(f"{base}/../../../../etc/passwd").status_code == 404
    assert client.get(f"{base}/missing.glb").status_code == 404


def test_rename_and_delete_need_gis_role(
    client: TestClient, demo: list[dict], auth: dict[str, dict[str, str]]
) -> None:
    layer = by_name(demo, "city blocks")
    url = f"/api/v1/layers/{layer['id']}"
    assert client.patch(url, json={"name": "x"}, headers=auth["planner"]).status_code == 403
    r = client.patch(url, json={"name": "Philadelphia blocks"}, headers=auth["gis"])
    assert r.status_code == 200 and r.json()["name"] == "Philadelphia blocks"
    assert client.patch(url, json={"name": ""}, headers=auth["gis"]).status_code == 422
    tiles_dir = client.app.state.settings.tiles_dir  # type: ignore[attr-defined]
    assert (tiles_dir / str(layer["id"])).is_dir()
    assert client.delete(url, headers=auth["public"]).status_code == 403
    assert client.delete(url, headers=auth["gis"]).status_code == 204
    assert client.get(url).status_code == 404
    assert not (tiles_dir / str(layer["id"])).exists()  # no orphan files
    assert client.get(layer["tileset_url"]).status_code == 404
    assert client.delete(url, headers=auth["gis"]).status_code == 404


def test_private_layers_hidden_from_public(
    client: TestClient, demo: list[dict], auth: dict[str, dict[str, str]]
) -> None:
    from twin.models import Layer

    layer = by_name(demo, "city blocks")
    with client.app.state.db.session() as s:  # type: ignore[attr-defined]
        s.get(Layer, layer["id"]).public = False  # type: ignore[union-attr]
    names = {la["name"] for la in client.get("/api/v1/layers").json()}
    assert layer["name"] not in names
    assert client.get(f"/api/v1/layers/{layer['id']}", headers=auth["public"]).status_code == 404
    staff = client.get("/api/v1/layers", headers=auth["planner"]).json()
    assert layer["name"] in {la["name"] for la in staff}


def test_startup_sweeps_unreferenced_tile_folders(
    client: TestClient, demo: list[dict], settings
) -> None:  # type: ignore[no-untyped-def]
    from twin.app import create_app

    tiles = settings.tiles_dir
    crashed = tiles / str(demo[0]["id"]) / "0123456789abcdef0123456789abcdef"
    crashed.mkdir()
    (crashed / "tileset.json").write_text("{}")
    os.utime(crashed, (0, 0))  # old enough not to be another process's publish in flight
    (tiles / ".staging" / "999999999-half").mkdir(parents=True)  # its process is gone
    live = tiles / ".staging" / f"{os.getpid()}-building"
    live.mkdir()
    with TestClient(create_app(settings)) as again:
        assert again.get(demo[0]["tileset_url"]).status_code == 200  # published ones stay
    assert not crashed.exists()
    assert not (tiles / ".staging" / "999999999-half").exists()
    assert live.exists()  # a live process's build is left alone
