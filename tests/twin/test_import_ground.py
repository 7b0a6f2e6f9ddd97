"""DEMs and photogrammetry meshes imported as layers through the same paths as point clouds:
HTTP upload (a ZIP of an OBJ with its material, texture and metadata.xml) and `twin import`."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import SCHEMAS
from tests.geodata.test_mesh import PLY_DIR, PLY_ORIGIN, write_textured_obj
from tests.twin.test_import import upload, wait_job
from tiles.terrain import decode_tile
from tiles.validate import validate_tileset_tree

DTM = "dem/DTM_test_data_77055_627760_LA93_IGN69_50CM.tif"


def test_dem_upload_becomes_a_terrain_layer_served_as_quantized_mesh(
    client: TestClient, auth: dict[str, dict[str, str]], shared_data: Path
) -> None:
    job = upload(client, auth["gis"], shared_data / DTM, name="Montpellier DTM")
    done = wait_job(client, job["id"], auth["gis"])
    assert done["status"] == "succeeded", done["error"]
    layer = client.get(f"/api/v1/layers/{done['result']['layer_id']}").json()
    assert layer["kind"] == "terrain" and layer["source_crs"] == "EPSG:2154"
    assert layer["tileset_url"].endswith("/layer.json") and layer["triangle_count"] > 0
    w, s, e, n = layer["extent_wgs84"]
    assert 3.87 < w < e < 3.88 and 43.59 < s < n < 43.60  # Montpellier
    manifest = client.get(layer["tileset_url"])
    assert manifest.status_code == 200
    spec = manifest.json()
    assert spec["format"] == "quantized-mesh-1.0" and "octvertexnormals" in spec["extensions"]
    level = len(spec["available"]) - 1
    lon, lat = (w + e) / 2, (s + n) / 2  # the DEM's centre, in the geographic TMS scheme
    x, y = int((lon + 180) / 360 * 2 ** (level + 1)), int((lat + 90) / 180 * 2**level)
    base = layer["tileset_url"].removesuffix("layer.json")
    tile = client.get(f"{base}{level}/{x}/{y}.terrain")
    assert tile.status_code == 200
    assert tile.headers["content-type"] == "application/vnd.quantized-mesh"
    assert "immutable" in tile.headers["cache-control"]
    decoded = decode_tile(tile.content)
    # 20.8-21.6 m NGF-IGN69 + ~50.4 m of geoid; EGM96 sea level (~50.4 m) around the DEM
    assert decoded.min_height > 50 and 70 < decoded.max_height < 73


def test_textured_obj_zip_becomes_a_mesh_layer(
    client: TestClient,
    auth: dict[str, dict[str, str]],
    shared_data: Path,
    tmp_path: Path,
) -> None:
    obj = write_textured_obj(tmp_path / "capture", shared_data)
    archive = tmp_path / "capture.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in obj.parent.iterdir():
            zf.write(part, f"Production_1/{part.name}")
    job = upload(client, auth["gis"], archive, name="Montpellier mesh")
    done = wait_job(client, job["id"], auth["gis"])
    assert done["status"] == "succeeded", done["error"]
    layer = client.get(f"/api/v1/layers/{done['result']['layer_id']}").json()
    assert layer["kind"] == "mesh" and layer["source_crs"] == "EPSG:2154"
    assert layer["triangle_count"] > 10_000
    settings = client.app.state.settings  # type: ignore[attr-defined]
    tileset = settings.tiles_dir / layer["tileset_url"].removeprefix("/tiles/")
    assert validate_tileset_tree(tileset, SCHEMAS) == []


def test_cli_imports_ply_parts_with_srs_and_origin(
    tmp_path: Path, db_url: str, shared_data: Path
) -> None:
    env = {**os.environ, "TWIN_DATA_DIR": str(tmp_path / "var"), "TWIN_DATABASE_URL": db_url}
    cli = [sys.executable, "-m", "twin.cli"]
    origin = ",".join(str(v) for v in PLY_ORIGIN)
    args = ["import", str(shared_data / PLY_DIR), "--srs", "EPSG:2154", "--origin", origin]
    r = subprocess.run([*cli, *args], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    listing = subprocess.run([*cli, "layers", "list", "--json"], env=env, capture_output=True,
                             text=True, timeout=120)  # fmt: skip
    [layer] = json.loads(listing.stdout)
    assert layer["kind"] == "mesh" and layer["triangle_count"] == 14_347 + 15_286 + 11_765 + 10_077
    w, s, e, n = layer["extent_wgs84"]
    assert 2.0 < w < e < 2.2 and 48.7 < s < n < 48.9  # Versailles area
    no_georef = subprocess.run([*cli, "import", str(shared_data / PLY_DIR)], env=env,
                               capture_output=True, text=True, timeout=300)  # fmt: skip
    assert no_georef.returncode != 0 and "not georeferenced" in no_georef.stderr
    bad_origin = subprocess.run([*cli, *args[:-1], "1,2"], env=env, capture_output=True,
                                text=True, timeout=120)  # fmt: skip
    assert bad_origin.returncode == 2 and "three numbers" in bad_origin.stderr


def test_orthophoto_upload_becomes_an_imagery_layer(
    client: TestClient, auth: dict[str, dict[str, str]], shared_data: Path
) -> None:
    ortho = shared_data / "ortho/webodm_orthophoto.tif"
    job = upload(client, auth["gis"], ortho, name="Drone orthophoto")
    done = wait_job(client, job["id"], auth["gis"])
    assert done["status"] == "succeeded", done["error"]
    layer = client.get(f"/api/v1/layers/{done['result']['layer_id']}").json()
    assert layer["kind"] == "imagery" and layer["source_crs"] == "EPSG:32615"
    meta = client.get(layer["tileset_url"]).json()
    assert layer["tileset_url"].endswith("/imagery.json") and meta["url"] == "{z}/{x}/{y}.webp"
    z = meta["max_zoom"]
    w, s, e, n = meta["bounds"]
    lon, lat = (w + e) / 2, (s + n) / 2
    x = int((lon + 180) / 360 * 2**z)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2**z)
    base = layer["tileset_url"].removesuffix("imagery.json")
    tile = client.get(f"{base}{z}/{x}/{y}.webp")
    assert tile.status_code == 200 and tile.headers["content-type"] == "image/webp"
    assert tile.content[:4] == b"RIFF" and tile.content[8:12] == b"WEBP"
