"""Flood scenarios through the API on a real DEM imported as a terrain layer: the job, the saved
result, its summary checked against its own rasters, the browser frames checked against pyproj,
and the refusals.

The DEM: IGN RGE ALTI-derived 5 m hydrological surface, 200 x 200 cells, a river valley.
"""

from __future__ import annotations

import io
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from fastapi.testclient import TestClient
from PIL import Image
from pyproj import Transformer
from sqlalchemy import select

from tests.twin.test_import import upload, wait_job
from twin.models import LayerVersion

DEM = "dem/test_mns_hydro_2023_0299_6802_LA93_IGN69_5m.tif"
CELL_AREA = 25.0
TO_WGS84 = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)


def import_dem(client: TestClient, auth: dict[str, dict[str, str]], shared: Path) -> int:
    job = upload(client, auth["gis"], shared / DEM, name="Valley 5 m")
    done = wait_job(client, job["id"], auth["gis"])
    assert done["status"] == "succeeded", done["error"]
    return int(done["result"]["layer_id"])


def run(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    """Submit a scenario, wait for its job, return the saved result."""
    r = client.post("/api/v1/simulations/flood", json=body, headers=headers)
    assert r.status_code == 202, r.text
    job = wait_job(client, r.json()["id"], headers)
    assert job["status"] == "succeeded", job["error"]
    result = client.get(f"/api/v1/simulations/{job['result']['result_id']}", headers=headers)
    assert result.status_code == 200
    return result.json()  # type: ignore[no-any-return]


def refused(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> str:
    r = client.post("/api/v1/simulations/flood", json=body, headers=headers)
    assert r.status_code == 400, r.text
    return str(r.json()["detail"])


def raster(client: TestClient, url: str) -> np.ndarray:
    r = client.get(url)
    assert r.status_code == 200
    with rasterio.MemoryFile(r.content) as mem, mem.open() as src:
        return src.read(1, masked=True).filled(0.0).astype(np.float64)


def check_summary(client: TestClient, result: dict[str, Any]) -> None:
    """The figures of the summary are those of the rasters it points to."""
    s = result["summary"]
    max_depth = raster(client, result["files_url"] + "max_depth.tif")
    assert s["flooded_area_m2"] == pytest.approx((max_depth > 0.01).sum() * CELL_AREA)
    assert s["max_depth_m"] == pytest.approx(max_depth.max(), rel=1e-6)
    last = raster(client, result["frames"][-1]["raster_url"])
    assert s["volume_m3"] == pytest.approx(last.sum() * CELL_AREA, rel=1e-5)
    for frame in result["frames"]:
        depth = raster(client, frame["raster_url"])
        assert frame["flooded_area_m2"] == pytest.approx((depth > 0.01).sum() * CELL_AREA)
        assert (depth <= max_depth + 1e-6).all()  # the max is the max of every frame


def check_frame_image(client: TestClient, result: dict[str, Any], dem: Path) -> None:
    """The PNG: the summary's size, and transparent exactly where the model's cell under each
    pixel is dry, found independently by pyproj (lon/lat -> Lambert-93 -> cell)."""
    frame = result["frames"][-1]
    r = client.get(frame["url"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    image = np.asarray(Image.open(io.BytesIO(r.content)))
    width, height = result["summary"]["image_size"]
    assert image.shape == (height, width, 4)
    w, s, e, n = result["image_bounds"]
    with rasterio.open(dem) as src:
        expected = TO_WGS84.transform_bounds(*src.bounds, densify_pts=21)
        inverse = ~src.transform
    assert result["image_bounds"] == pytest.approx(list(expected), abs=1e-9)
    depth = raster(client, frame["raster_url"])
    lon = w + (np.arange(width) + 0.5) * (e - w) / width
    lat = n - (np.arange(height) + 0.5) * (n - s) / height
    glon, glat = np.meshgrid(lon, lat)
    x, y = TO_WGS84.transform(glon, glat, direction="INVERSE")
    col, row = inverse * (x, y)
    inside = (col >= 0) & (col < 200) & (row >= 0) & (row < 200)
    cells = depth[np.clip(row, 0, 199).astype(int), np.clip(col, 0, 199).astype(int)]
    wet = inside & (cells > 0.01)
    visible = image[..., 3] > 0
    assert visible.any() and not visible[~inside].any()
    # nearest-cell sampling may pick the neighbour for pixels on a cell's edge: a few per mille
    assert (visible == wet).mean() > 0.995


def test_flood_scenarios_from_the_api(
    client: TestClient,
    auth: dict[str, dict[str, str]],
    shared_data: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    layer = import_dem(client, auth, shared_data)
    planner = auth["planner"]
    stats = client.get(f"/api/v1/layers/{layer}").json()["versions"][-1]["stats"]
    assert stats["dem"] == "dem.tif" and stats["dem_heights"] == pytest.approx([124.15, 160.42])
    settings = client.app.state.settings  # type: ignore[attr-defined]
    kept = next((settings.tiles_dir / str(layer)).glob("*/dem.tif"))
    with rasterio.open(kept) as src, rasterio.open(shared_data / DEM) as orig:
        assert src.crs == orig.crs and src.transform == orig.transform
        assert src.profile["compress"] == "deflate"
        assert (src.read(1, masked=True) == orig.read(1, masked=True)).all()

    # A short storm: 80 mm/h for 10 min, a frame every 2 min.
    rain = {"layer_id": layer, "mode": "rain", "rain_mm_h": 80, "duration_s": 600,
            "output_every_s": 120}  # fmt: skip
    storm = run(client, planner, rain)
    assert storm["status"] == "succeeded" and storm["name"] == "Rain 80 mm/h · 10 min"
    assert [f["t_s"] for f in storm["frames"]] == [120, 240, 360, 480, 600]
    s = storm["summary"]
    assert s["simulated_s"] == 600 and s["wall_s"] > 0 and s["grid"]["width"] == 200
    cells = int((raster(client, storm["files_url"] + "max_depth.tif") >= 0).sum())
    assert s["volume_in_m3"] == pytest.approx(80 / 3.6e6 * 600 * s["cells"] * CELL_AREA)
    assert s["volume_m3"] + s["volume_out_m3"] == pytest.approx(s["volume_in_m3"], rel=1e-6)
    assert cells == 200 * 200
    check_summary(client, storm)
    check_frame_image(client, storm, kept)
    assert client.get(storm["files_url"] + "arrival_time.tif").status_code == 200

    # Quick mode: 2 m above the lowest cell (on the DEM's edge), seeded there.
    with rasterio.open(kept) as src:
        z = src.read(1, masked=True)
        r, c = np.unravel_index(np.ma.argmin(z), z.shape)
        x, y = src.transform * (c + 0.5, r + 0.5)
    lon, lat = TO_WGS84.transform(x, y)
    level = float(z.min()) + 2.0
    tub = run(client, planner, {"layer_id": layer, "mode": "bathtub", "level_m": level,
                                "lon": lon, "lat": lat})  # fmt: skip
    depth = raster(client, tub["frames"][0]["raster_url"])
    wet = depth > 0
    assert wet[r, c] and tub["summary"]["max_depth_m"] == pytest.approx(2.0, abs=1e-4)
    assert np.allclose(depth[wet], level - z.filled(np.nan)[wet], atol=1e-4)
    check_summary(client, tub)

    # A river: a triangle peaking at 10 m³/s at 75 s (duration / 4), over at 200 s: 1,000 m³.
    with rasterio.open(kept) as src:
        lon2, lat2 = TO_WGS84.transform(*(src.transform * (100.5, 100.5)))
    inflow = {"layer_id": layer, "mode": "river", "lon": lon2, "lat": lat2, "peak_m3s": 10}
    river = run(client, planner, inflow | {"duration_s": 300, "output_every_s": 100})
    assert river["name"] == "River 10 m³/s (triangle) · 5 min"
    assert river["summary"]["volume_in_m3"] == pytest.approx(1000, rel=0.01)
    check_summary(client, river)
    # The sea 2 m above the lowest edge cell comes in across the edge.
    sea = run(client, planner, {"layer_id": layer, "mode": "sea", "sea_level_m": level,
                                "duration_s": 300, "output_every_s": 150})  # fmt: skip
    assert sea["summary"]["solver"]["volumes_m3"]["sea_in"] > 0
    assert sea["summary"]["flooded_area_m2"] > 0
    check_summary(client, sea)

    # Saved, listed (newest first), shared among staff; only the owner or an admin deletes.
    listed = client.get("/api/v1/simulations", headers=auth["gis"]).json()
    assert [x["id"] for x in listed] == [sea["id"], river["id"], tub["id"], storm["id"]]
    assert listed[0]["user"] == "planner-user" and listed[0]["params"]["layer_id"] == layer
    assert client.delete(f"/api/v1/simulations/{tub['id']}", headers=auth["gis"]).status_code == 403
    assert client.delete(f"/api/v1/simulations/{tub['id']}", headers=planner).status_code == 204
    assert client.get(tub["frames"][0]["url"]).status_code == 404
    assert client.get(f"/api/v1/simulations/{tub['id']}", headers=planner).status_code == 404

    # Bad input: refused before anything is queued, saying what to change.
    far = {"layer_id": layer, "mode": "river", "duration_s": 600, "peak_m3s": 10,
           "lon": 5.37, "lat": 43.30}  # fmt: skip
    assert "outside the DEM" in refused(client, planner, far)
    assert "not found" in refused(client, planner, rain | {"layer_id": 999999})
    assert "> 0 mm/h" in refused(client, planner, rain | {"rain_mm_h": -5})
    assert "duration must be > 0" in refused(client, planner, rain | {"duration_s": -60})
    assert "at most 120" in refused(client, planner, rain | {"output_every_s": 1})
    low = {"layer_id": layer, "mode": "bathtub", "level_m": 0, "lon": lon, "lat": lat}
    assert "nothing would flood" in refused(client, planner, low)
    monkeypatch.setattr("twin.sim.flood.grid.available_memory", lambda: 2**20)
    assert "crop or coarsen" in refused(client, planner, rain)
    monkeypatch.undo()
    assert len(client.get("/api/v1/simulations", headers=planner).json()) == 3

    # A long run cancelled from its job: no result files left, the result says so.
    r = client.post("/api/v1/simulations/flood", headers=planner,
                    json=rain | {"duration_s": 86_400, "output_every_s": 3600})  # fmt: skip
    job = r.json()
    deadline = time.monotonic() + 30
    while client.get(f"/api/v1/jobs/{job['id']}", headers=planner).json()["status"] == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert client.delete(f"/api/v1/jobs/{job['id']}", headers=planner).status_code == 202
    assert wait_job(client, job["id"], planner)["status"] == "cancelled"
    cancelled = client.get(f"/api/v1/simulations/{job['params']['result_id']}", headers=planner)
    assert cancelled.json()["status"] == "cancelled"
    assert not (settings.tiles_dir / "sims" / job["params"]["result_id"]).exists()

    # A version imported before the DEM was kept: re-import to simulate.
    with client.app.state.db.session() as session:  # type: ignore[attr-defined]
        version = session.scalar(select(LayerVersion).where(LayerVersion.layer_id == layer))
        assert version is not None
        version.stats = {k: v for k, v in version.stats.items() if k != "dem"}
    r = client.post("/api/v1/simulations/flood", json=rain, headers=planner)
    assert r.status_code == 409 and "re-import this DEM" in r.json()["detail"]
    assert math.isfinite(storm["summary"]["mass_error_rel"])
