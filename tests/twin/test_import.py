"""Importing real LiDAR HD point clouds as layers: CLI and HTTP upload, versions, failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import SCHEMAS
from tiles.validate import validate_tileset_tree
from twin.jobs import JobRunner

MONTPELLIER = "pointcloud/test_data_77055_627760_LA93_IGN69.laz"
TOULOUSE = "pointcloud/cars_mesh_toulouse/point_cloud.laz"


def wait_job(client: TestClient, job_id: str, headers: dict[str, str]) -> dict:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def upload(client: TestClient, headers: dict[str, str], path: Path, **form: str) -> dict:
    with path.open("rb") as f:
        r = client.post(
            "/api/v1/layers",
            headers=headers,
            files={"files": (path.name, f, "application/octet-stream")},
            data=form,
        )
    assert r.status_code == 202, r.text
    return r.json()


def test_upload_imports_lidar_as_versioned_layer(
    client: TestClient, auth: dict[str, dict[str, str]], shared_data: Path
) -> None:
    job = upload(client, auth["gis"], shared_data / MONTPELLIER, name="Montpellier LiDAR HD")
    done = wait_job(client, job["id"], auth["gis"])
    assert done["status"] == "succeeded", done["error"]
    layer = client.get(f"/api/v1/layers/{done['result']['layer_id']}").json()
    assert layer["name"] == "Montpellier LiDAR HD"
    assert layer["kind"] == "pointcloud" and layer["status"] == "ready"
    assert layer["source_crs"] == "EPSG:2154"
    assert layer["point_count"] == 60_653  # every point of the source
    names = {a["name"] for a in layer["attributes"]}
    assert {"classification", "intensity"} <= names
    w, s, e, n = layer["extent_wgs84"]
    assert 3.87 < w < e < 3.88 and 43.59 < s < n < 43.60  # Montpellier
    minx, miny, _, maxx, maxy, _ = layer["extent_source"]
    assert 770_540 < minx < maxx < 770_610 and 6_277_540 < miny < maxy < 6_277_610
    settings = client.app.state.settings  # type: ignore[attr-defined]
    v1 = layer["tileset_url"]
    tileset_path = settings.tiles_dir / v1.removeprefix("/tiles/")
    assert validate_tileset_tree(tileset_path, SCHEMAS) == []
    assert client.get(v1).status_code == 200
    assert not any(settings.uploads_dir.iterdir())  # the upload is cleaned up

    again = upload(client, auth["gis"], shared_data / MONTPELLIER, layer_id=str(layer["id"]))
    assert wait_job(client, again["id"], auth["gis"])["status"] == "succeeded"
    layer2 = client.get(f"/api/v1/layers/{layer['id']}").json()
    assert layer2["version"] == 2 and [v["number"] for v in layer2["versions"]] == [1, 2]
    assert layer2["tileset_url"] != v1
    assert client.get(v1).status_code == 200  # an open scene keeps working on version 1


def test_failed_import_leaves_nothing(
    client: TestClient, auth: dict[str, dict[str, str]], shared_data: Path
) -> None:
    job = upload(client, auth["gis"], shared_data / TOULOUSE)  # no CRS in the file, none given
    done = wait_job(client, job["id"], auth["gis"])
    assert done["status"] == "failed"
    assert "srs" in done["error"].lower() and "point_cloud.laz" in done["error"]
    assert "uploads" not in done["error"]  # no server paths in messages
    assert client.get("/api/v1/layers").json() == []
    settings = client.app.state.settings  # type: ignore[attr-defined]
    leftovers = [p for p in settings.tiles_dir.rglob("*") if p.is_file()]
    assert leftovers == []
    assert not any(settings.uploads_dir.iterdir())


def test_upload_rejects_wrong_type_and_bad_srs(
    client: TestClient, auth: dict[str, dict[str, str]]
) -> None:
    r = client.post(
        "/api/v1/layers",
        headers=auth["gis"],
        files={"files": ("parcels.exe", b"MZ", "application/octet-stream")},
    )
    assert r.status_code == 400 and "unsupported type" in r.json()["detail"]
    r = client.post(
        "/api/v1/layers",
        headers=auth["gis"],
        files={"files": ("a.laz", b"x", "application/octet-stream")},
        data={"srs": "EPSG:99999999"},
    )
    assert r.status_code == 400 and "EPSG:99999999" in r.json()["detail"]
    r = client.post("/api/v1/layers", headers=auth["gis"])
    assert r.status_code == 422 and "files" in r.json()["detail"]


def test_upload_size_limit_is_413(client: TestClient, auth: dict[str, dict[str, str]]) -> None:
    client.app.state.settings.max_upload_mb = 1  # type: ignore[attr-defined]
    r = client.post(
        "/api/v1/layers",
        headers=auth["gis"],
        files={"files": ("big.laz", b"\0" * (2 << 20), "application/octet-stream")},
    )
    assert r.status_code == 413
    settings = client.app.state.settings  # type: ignore[attr-defined]
    assert not any(settings.uploads_dir.iterdir())


def test_cancelled_import_leaves_nothing(
    client: TestClient, auth: dict[str, dict[str, str]], users: dict[str, int], shared_data: Path
) -> None:
    from twin.jobs import execute

    runner: JobRunner = client.app.state.runner  # type: ignore[attr-defined]
    settings = client.app.state.settings  # type: ignore[attr-defined]
    job = runner.create(
        "layers.import",
        {"paths": [str(shared_data / MONTPELLIER)], "tiles_dir": str(settings.tiles_dir)},
    )
    calls = []

    def cancel_on_second_report(fraction: float, message: str) -> None:
        calls.append(fraction)
        if len(calls) == 2:
            runner.cancel(job.id)

    status = execute(runner.db, job.id, "twin.importer:run_import", cancel_on_second_report)
    assert status == "cancelled"
    assert client.get("/api/v1/layers").json() == []
    assert [p for p in settings.tiles_dir.rglob("*") if p.is_file()] == []


def test_cli_import_prints_layer_id(tmp_path: Path, db_url: str, shared_data: Path) -> None:
    env = {
        **os.environ,
        "TWIN_DATA_DIR": str(tmp_path / "var"),
        "TWIN_DATABASE_URL": db_url,
    }
    cmd = [sys.executable, "-m", "twin.cli", "import", str(shared_data / MONTPELLIER)]
    r = subprocess.run(
        [*cmd, "--name", "crop"], env=env, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    layer_id = int(r.stdout.strip().splitlines()[-1])
    listing = subprocess.run(
        [sys.executable, "-m", "twin.cli", "layers", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    layers = json.loads(listing.stdout)
    assert [(la["id"], la["name"], la["point_count"]) for la in layers] == [
        (layer_id, "crop", 60_653)
    ]
    bad = subprocess.run(
        [sys.executable, "-m", "twin.cli", "import", str(shared_data / TOULOUSE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode != 0 and "--srs" in bad.stderr and "Traceback" not in bad.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "twin.cli", "import", str(tmp_path / "nope.laz")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_shapefile_zip_upload_becomes_buildings_layer(
    client: TestClient, auth: dict[str, dict[str, str]], shared_data: Path, tmp_path: Path
) -> None:
    """The 364 Perigueux buildings of the TRI flood zone, sent as a ZIP of Shapefile parts."""
    import zipfile

    folder = shared_data / "vector/perigueux_bdnb"
    archive = tmp_path / "bat_innondable.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in folder.glob("bat_innondable.*"):
            zf.write(part, f"bati/{part.name}")
    job = upload(client, auth["admin"], archive, name="Flood-zone buildings")
    done = wait_job(client, job["id"], auth["admin"])
    assert done["status"] == "succeeded", done["error"]
    layer = client.get(f"/api/v1/layers/{done['result']['layer_id']}").json()
    assert layer["kind"] == "vector" and layer["feature_count"] == 364
    assert layer["draped"] is False and layer["geometry"] == "polygon"
    assert layer["source_crs"] == "EPSG:4326"
    assert {"hauteur", "altitude_s", "batiment_c"} <= {a["name"] for a in layer["attributes"]}
    w, s, e, n = layer["extent_wgs84"]
    assert 0.6 < w < e < 0.8 and 45.1 < s < n < 45.3  # Perigueux
    settings = client.app.state.settings  # type: ignore[attr-defined]
    tileset = settings.tiles_dir / layer["tileset_url"].removeprefix("/tiles/")
    assert validate_tileset_tree(tileset, SCHEMAS) == []


def test_flood_zone_polygons_without_height_are_draped(
    client: TestClient, auth: dict[str, dict[str, str]], shared_data: Path, tmp_path: Path
) -> None:
    """Polygons with no height field (the TRI flood zones) drape on the ground."""
    import zipfile

    archive = tmp_path / "tri.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in (shared_data / "flood/tri_perigueux").glob("*"):
            zf.write(part, part.name)
    job = upload(client, auth["gis"], archive, name="TRI Perigueux")
    done = wait_job(client, job["id"], auth["gis"])
    assert done["status"] == "succeeded", done["error"]
    layer = client.get(f"/api/v1/layers/{done['result']['layer_id']}").json()
    assert layer["draped"] is True and layer["feature_count"] == 114
    assert layer["source_crs"] == "EPSG:2154"
