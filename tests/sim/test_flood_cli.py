"""`twin sim flood` as a user runs it: the output contract on the real DEM, and bad input refused
up front with one line on stderr and a non-zero exit."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from typer.testing import CliRunner

from twin.cli import app
from twin.sim.flood import grid as grid_module

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
RIVER_DEM = SHARED_DATA / "dem" / "test_mns_hydro_2023_0299_6802_LA93_IGN69_5m.tif"
UPSTREAM = "299642.5,6801992.5"  # the valley's entry on the DEM's north edge (Lambert-93)
DURATION, EVERY = 600, 120


@pytest.fixture(scope="module")
def river_dem() -> Path:
    if not RIVER_DEM.is_file():
        pytest.skip(f"real DEM not found at {RIVER_DEM}")
    return RIVER_DEM


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def buildings_geojson(path: Path) -> Path:
    """Two footprints beside the path the inflow takes down the valley (south-east of the inlet)
    and one far from it, up on the ridge."""

    def square(x: float, y: float, s: float) -> list:
        return [[[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]]

    feats = [
        {"type": "Feature", "properties": {"id": i},
         "geometry": {"type": "Polygon", "coordinates": square(x, y, 8.0)}}
        for i, (x, y) in enumerate([(299668.0, 6801955.0), (299735.0, 6801922.0),
                                    (299100.0, 6801500.0)])
    ]  # fmt: skip
    path.write_text(json.dumps({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::2154"}},
        "features": feats,
    }))  # fmt: skip
    return path


@pytest.fixture(scope="module")
def flood_run(river_dem: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real run, as a separate process: inflow at the valley's upstream end + rain."""
    tmp = tmp_path_factory.mktemp("flood")
    hydro = write_csv(tmp / "hydro.csv", "time_s,discharge_m3s\n0,0\n120,20\n600,20\n")
    out = tmp / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "twin.cli", "sim", "flood", "--dem", str(river_dem),
         "--duration", str(DURATION), "--out", str(out), "--rain", "30",
         "--inflow", f"{UPSTREAM},{hydro}", "--output-every", str(EVERY),
         "--buildings", str(buildings_geojson(tmp / "buildings.geojson"))],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out / "summary.json")
    return out


def test_all_outputs_on_the_dem_grid(river_dem: Path, flood_run: Path) -> None:
    """Every raster: float32, the DEM's size, transform and CRS, nodata exactly where the DEM
    has none... i.e. where it has nodata, and no NaN anywhere."""
    with rasterio.open(river_dem) as src:
        dem_mask = src.read_masks(1) == 0
        profile = (src.width, src.height, src.transform, src.crs)
    frames = sorted((flood_run / "frames").glob("*.tif"))
    names = [f"depth_{k * EVERY:06d}.tif" for k in range(1, math.floor(DURATION / EVERY) + 1)]
    assert [f.name for f in frames] == names
    rasters = {}
    for path in [flood_run / n for n in ("max_depth.tif", "arrival_time.tif", "depth_final.tif")]:
        with rasterio.open(path) as r:
            assert (r.width, r.height, r.transform, r.crs) == profile
            assert r.dtypes[0] == "float32" and r.nodata is not None
            band = r.read(1)
            assert not np.isnan(band).any()
            rasters[path.stem] = np.ma.masked_equal(band, r.nodata)
    for path in frames:
        with rasterio.open(path) as r:
            assert (r.width, r.height, r.transform, r.crs) == profile
            band = r.read(1)
            assert not np.isnan(band).any()
            assert np.array_equal(band == r.nodata, dem_mask)
    for name in ("max_depth", "depth_final"):
        assert np.array_equal(np.ma.getmaskarray(rasters[name]), dem_mask)
        assert rasters[name].min() >= 0
    assert rasters["max_depth"].max() > 0.5  # the inflow flooded the valley
    assert (rasters["max_depth"] >= rasters["depth_final"] - 1e-6).all()


def test_arrival_time_agrees_with_max_depth(flood_run: Path) -> None:
    """arrival_time is nodata exactly where max_depth <= 1 cm (or outside the DEM), and lies
    in (0, duration] elsewhere."""
    with rasterio.open(flood_run / "max_depth.tif") as r:
        md = r.read(1, masked=True)
    with rasterio.open(flood_run / "arrival_time.tif") as r:
        at = r.read(1, masked=True)
    never = np.ma.getmaskarray(md) | (md.filled(0) <= 0.01)
    assert np.array_equal(np.ma.getmaskarray(at), never)
    assert at.min() > 0 and at.max() <= DURATION
    assert (~never).sum() > 100


def test_summary(flood_run: Path) -> None:
    summary = json.loads((flood_run / "summary.json").read_text())
    for key in (
        "cells",
        "steps",
        "simulated_s",
        "wall_s",
        "volume_initial_m3",
        "volume_in_m3",
        "volume_out_m3",
        "volume_final_m3",
        "mass_error_rel",
        "buildings_flooded",
    ):
        assert key in summary, key  # fmt: skip
    assert summary["cells"] == 200 * 200 - 151
    assert summary["simulated_s"] == DURATION
    assert summary["volume_initial_m3"] == 0
    rain = 30 / 3.6e6 * DURATION * summary["cells"] * 25.0
    inflow = 0.5 * 120 * 20 + (DURATION - 120) * 20
    assert summary["volume_in_m3"] == pytest.approx(rain + inflow, rel=1e-6)
    assert summary["mass_error_rel"] < 1e-3
    assert summary["buildings_total"] == 3
    assert summary["buildings_flooded"] == 2  # not the ridge building


def invoke(*args: str):
    return CliRunner().invoke(app, ["sim", "flood", *args])


def assert_refused(result, fragment: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0], lines[0]


def write_dem(path: Path, z: np.ndarray, crs: str | None = "EPSG:2154") -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=z.shape[1], height=z.shape[0], count=1,
                       dtype="float32", crs=crs, transform=Affine(5, 0, 299000, 0, -5, 6802000),
                       nodata=-9999) as dst:  # fmt: skip
        dst.write(z.astype(np.float32), 1)
    return path


@pytest.fixture
def small_dem(tmp_path: Path) -> Path:
    return write_dem(tmp_path / "dem.tif", np.add.outer(np.arange(20.0), np.arange(30.0)) * 0.1)


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--duration", "-5"], "--duration must be > 0"),
        (["--duration", "60", "--rain", "-1"], "--rain must be a rate >= 0"),
        (["--duration", "60", "--rain", "10", "--rain-series", "r.csv"], "mutually exclusive"),
        (["--duration", "60", "--manning", "0.03", "--manning-raster", "n.tif"],
         "mutually exclusive"),
        (["--duration", "60", "--inflow", "0,0,HYDRO"], "outside the DEM"),
        (["--duration", "60", "--inflow", "299010,6801990,BADCSV"], "expected columns"),
        (["--duration", "60", "--inflow", "299010,6801990"], "expected X,Y,HYDROGRAPH.csv"),
        (["--duration", "60", "--rain-series", "NEGRAIN"], "negative value"),
        (["--duration", "60", "--output-every", "0.5"], "--output-every must be >= 1"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused(
    small_dem: Path, tmp_path: Path, extra: list[str], fragment: str
) -> None:
    hydro = write_csv(tmp_path / "h.csv", "time_s,discharge_m3s\n0,1\n")
    bad = write_csv(tmp_path / "bad.csv", "t,q\n0,1\n")
    neg = write_csv(tmp_path / "neg.csv", "time_s,mm_per_hour\n0,5\n60,-2\n")
    subs = {"HYDRO": str(hydro), "BADCSV": str(bad), "NEGRAIN": str(neg)}
    extra = [next((a.replace(k, v) for k, v in subs.items() if k in a), a) for a in extra]
    out = tmp_path / "out"
    assert_refused(invoke("--dem", str(small_dem), "--out", str(out), *extra), fragment)
    assert not (out / "summary.json").exists()


def test_dem_without_crs_is_refused(tmp_path: Path) -> None:
    dem = write_dem(tmp_path / "nocrs.tif", np.ones((5, 5)), crs=None)
    result = invoke("--dem", str(dem), "--duration", "60", "--out", str(tmp_path / "o"))
    assert_refused(result, "has no CRS")


def test_all_nodata_dem_is_refused(tmp_path: Path) -> None:
    dem = write_dem(tmp_path / "empty.tif", np.full((5, 5), -9999.0))
    result = invoke("--dem", str(dem), "--duration", "60", "--out", str(tmp_path / "o"))
    assert_refused(result, "no data cells")


def test_geographic_dem_is_refused(tmp_path: Path) -> None:
    dem = write_dem(tmp_path / "wgs84.tif", np.ones((5, 5)), crs="EPSG:4326")
    result = invoke("--dem", str(dem), "--duration", "60", "--out", str(tmp_path / "o"))
    assert_refused(result, "geographic CRS")


def test_missing_dem_is_refused(tmp_path: Path) -> None:
    result = invoke("--dem", str(tmp_path / "nope.tif"), "--duration", "60", "--out", "o")
    assert_refused(result, "no such file")


def test_domain_too_large_for_memory_is_refused(
    small_dem: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(grid_module, "available_memory", lambda: 10_000)
    result = invoke("--dem", str(small_dem), "--duration", "60", "--out", str(tmp_path / "o"))
    assert_refused(result, "more than this machine can spare")


def test_initial_depth_off_grid_is_refused(small_dem: Path, tmp_path: Path) -> None:
    other = write_dem(tmp_path / "h0.tif", np.zeros((7, 7)))
    result = invoke("--dem", str(small_dem), "--duration", "60", "--out", str(tmp_path / "o"),
                    "--initial-depth", str(other))  # fmt: skip
    assert_refused(result, "not on the DEM's grid")


def test_small_run_in_process_with_initial_depth_and_sea(small_dem: Path, tmp_path: Path) -> None:
    """The options that the real-DEM run leaves out: initial depth, sea level, Manning raster,
    closed boundaries; no frames without --output-every."""
    h0 = write_dem(tmp_path / "h0.tif", np.full((20, 30), 0.2))
    n = write_dem(tmp_path / "n.tif", np.full((20, 30), 0.05))
    out = tmp_path / "o"
    result = invoke("--dem", str(small_dem), "--duration", "120", "--out", str(out),
                    "--initial-depth", str(h0), "--sea-level", "1.0", "--manning-raster", str(n),
                    "--closed-boundaries")  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["volume_initial_m3"] == pytest.approx(0.2 * 600 * 25)
    assert summary["volumes_m3"]["sea_in"] > 0
    assert summary["mass_error_rel"] < 1e-3
    assert summary["frames"] == 0 and not list((out / "frames").glob("*.tif"))
