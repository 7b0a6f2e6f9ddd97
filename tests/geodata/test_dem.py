"""geodata.dem against rasterio and pyproj called directly, on the real DEMs of ../shared/data/dem.

The reference for a height is computed here without geodata: pyproj takes the point to the DEM's
CRS, the DEM is read whole with rasterio and interpolated bilinearly by `_reference_ortho`, and
pyproj's compound CRS (horizontal + EGM96 or NGF-IGN69 heights -> EPSG:4979) makes it
ellipsoidal.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from numpy.typing import NDArray
from pyproj import Transformer
from rasterio.transform import from_origin
from rasterio.windows import Window

from geodata.dem import Dem, DemError, gdal_path

MNS = "dem/test_mns_hydro_2023_0299_6802_LA93_IGN69_5m.tif"  # Lambert-93, 5 m, nodata 9999
DTM = "dem/DTM_test_data_77055_627760_LA93_IGN69_50CM.tif"  # Lambert-93, 0.5 m
SRTM_ZIP = "dem/N43E007.hgt.zip"  # WGS84, 3", nodata -32768


def srtm_name(shared_data: Path) -> str:
    return f"/vsizip/{shared_data / SRTM_ZIP}/N43E007.hgt"


def reference_ortho(path: str, x: NDArray, y: NDArray) -> NDArray[np.float64]:
    """Bilinear height at source-CRS points from the whole raster; NaN unless all 4 pixels
    around the point are valid."""
    with rasterio.open(path) as ds:
        data = ds.read(1, masked=True).astype(np.float64).filled(np.nan)
        col, row = ~ds.transform @ (x, y)
    fc, fr = col - 0.5, row - 0.5
    c0, r0 = np.floor(fc).astype(int), np.floor(fr).astype(int)
    tc, tr = fc - c0, fr - r0
    ok = (c0 >= 0) & (r0 >= 0) & (c0 + 1 < data.shape[1]) & (r0 + 1 < data.shape[0])
    c0, r0 = np.where(ok, c0, 0), np.where(ok, r0, 0)
    z = (
        data[r0, c0] * (1 - tc) * (1 - tr)
        + data[r0, c0 + 1] * tc * (1 - tr)
        + data[r0 + 1, c0] * (1 - tc) * tr
        + data[r0 + 1, c0 + 1] * tc * tr
    )
    return np.where(ok, z, np.nan)


def reference_ellipsoidal(
    horizontal: str, vertical: str, x: NDArray, y: NDArray, z: NDArray
) -> NDArray[np.float64]:
    t = Transformer.from_crs(f"{horizontal}+{vertical}", "EPSG:4979", always_xy=True)
    return np.asarray(t.transform(x, y, z)[2])


def vertical_of(note: str) -> str:
    """The geoid the DEM's pipeline used, as an EPSG height CRS (the note says which)."""
    return "EPSG:5773" if "EGM96" in note else "EPSG:5720"


def write_raster(
    path: Path, data: NDArray, *, crs: str | None, nodata: float | None = None, x0: float = 0.0
) -> Path:
    profile = dict(driver="GTiff", width=data.shape[1], height=data.shape[0], count=1)
    profile.update(dtype=data.dtype, transform=from_origin(x0, 6_802_000.0, 5.0, 5.0))
    with rasterio.open(path, "w", crs=crs, nodata=nodata, **profile) as ds:
        ds.write(data, 1)
    return path


# --- reading ------------------------------------------------------------------------------------


def test_lambert93_heights_match_pyproj(shared_data: Path) -> None:
    path = str(shared_data / MNS)
    rng = np.random.default_rng(5)
    x, y = rng.uniform(299_010, 299_990, 400), rng.uniform(6_801_010, 6_801_990, 400)
    lon, lat = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True).transform(x, y)
    with Dem([path]) as dem:
        assert dem.crs_code == "EPSG:2154"
        assert dem.bounds == pytest.approx((299_000, 6_801_000, 300_000, 6_802_000))
        assert dem.resolution_m == pytest.approx(5.0)
        got = dem.heights(lon, lat)
        vertical = vertical_of(dem.height_note)
    ortho = reference_ortho(path, x, y)
    want = reference_ellipsoidal("EPSG:2154", vertical, x, y, ortho)
    valid = np.isfinite(want)
    assert valid.sum() > 350
    assert np.abs(got[valid] - want[valid]).max() < 1e-3
    assert 40 < np.nanmin(got - ortho) < 60  # the geoid in Brittany is ~49 m above the ellipsoid


def test_vsizip_srtm(shared_data: Path) -> None:
    name = srtm_name(shared_data)
    lon = np.array([7.27, 7.42, 7.6, 7.3])  # Nice, Monaco, Mercantour-ish, open sea
    lat = np.array([43.70, 43.73, 43.95, 43.2])
    with Dem([name]) as dem:
        assert dem.crs_code == "EPSG:4326"
        assert dem.bounds_wgs84 == pytest.approx(
            (7 - 1 / 2400, 43 - 1 / 2400, 8 + 1 / 2400, 44 + 1 / 2400)
        )
        assert dem.resolution_m == pytest.approx(92.66, abs=0.05)
        assert "EGM96" in dem.height_note
        got = dem.heights(lon, lat)
    want = reference_ellipsoidal(
        "EPSG:4326", "EPSG:5773", lon, lat, reference_ortho(name, lon, lat)
    )
    assert np.abs(got - want).max() < 1e-3
    assert got[2] > got[0] + 500  # mountains above the coast


def test_path_objects_keep_vsi_names(shared_data: Path) -> None:
    collapsed = Path(srtm_name(shared_data))  # pathlib turns "/vsizip//abs" into "/vsizip/abs"
    assert gdal_path(collapsed) == srtm_name(shared_data)
    assert gdal_path(shared_data / MNS) == str(shared_data / MNS)
    with Dem([collapsed]) as dem:
        assert dem.crs_code == "EPSG:4326"


def test_grid_matches_pointwise_heights(shared_data: Path) -> None:
    """The fast grid (subgrid transform, interpolated) equals the exact per-point path; outside
    the DEM the grid holds sea level."""
    with Dem([str(shared_data / MNS)]) as dem:
        w, s, e, n = dem.bounds_wgs84
        bounds = (w - 0.002, s - 0.002, e + 0.002, n + 0.002)
        grid = dem.grid(bounds, 257)  # ~6 m between nodes: the file is read unaveraged
        lon, lat = np.meshgrid(
            np.linspace(bounds[0], bounds[2], 257), np.linspace(bounds[1], bounds[3], 257)
        )
        exact = dem.heights(lon, lat)
    covered = np.isfinite(exact)
    assert (grid.covered == covered).all()
    assert np.abs(grid.heights[covered] - exact[covered]).max() < 0.01
    geoid = reference_ellipsoidal("EPSG:4326", "EPSG:5773", lon, lat, np.zeros(lon.shape))
    assert np.abs(grid.heights[~covered] - geoid[~covered]).max() < 0.05


def test_nodata_is_no_height(shared_data: Path) -> None:
    path = str(shared_data / MNS)
    with rasterio.open(path) as ds:
        data = ds.read(1)
        rows, cols = np.nonzero(data == ds.nodata)
        x, y = ds.xy(rows, cols)
    lon, lat = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True).transform(x, y)
    with Dem([path]) as dem:
        assert np.isnan(dem.heights(lon, lat)).all()


@pytest.mark.parametrize("split", [(110, 100), (100, 100)], ids=["overlapping", "touching"])
def test_several_files_read_as_one(
    shared_data: Path, tmp_path: Path, split: tuple[int, int]
) -> None:
    """The DEM cut in two sheets (overlapping, or side by side) gives the whole file's heights,
    across the seam too."""
    path = shared_data / MNS
    with rasterio.open(path) as ds:
        profile = ds.profile
        sheets = []
        for i, window in enumerate((Window(0, 0, split[0], 200), Window(split[1], 0, 100, 200))):
            transform = ds.window_transform(window)
            profile.update(width=window.width, height=window.height, transform=transform)
            sheets.append(tmp_path / f"sheet{i}.tif")
            with rasterio.open(sheets[-1], "w", **profile) as out:
                out.write(ds.read(1, window=window), 1)
    rng = np.random.default_rng(7)
    x = np.r_[rng.uniform(299_002, 299_998, 400), np.full(100, 299_500.0) + rng.uniform(-5, 5, 100)]
    y = rng.uniform(6_801_002, 6_801_998, 500)
    lon, lat = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True).transform(x, y)
    with Dem([path]) as whole, Dem(sheets) as parts:
        assert parts.bounds == whole.bounds
        a, b = whole.heights(lon, lat), parts.heights(lon, lat)
    assert (np.isfinite(a) == np.isfinite(b)).all() and np.isfinite(a).sum() > 450
    assert np.nanmax(np.abs(a - b)) < 1e-6


def test_srs_supplies_a_missing_crs(shared_data: Path, tmp_path: Path) -> None:
    with rasterio.open(shared_data / MNS) as ds:
        data = ds.read(1)
    path = write_raster(tmp_path / "nocrs.tif", data, crs=None, nodata=9999.0, x0=299_000.0)
    with Dem([path], srs="EPSG:2154") as dem, Dem([shared_data / MNS]) as ref:
        assert dem.crs_code == "EPSG:2154"
        assert dem.heights([-2.394], [48.19]) == pytest.approx(ref.heights([-2.394], [48.19]))


# --- bad input ----------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DemError, match="no such file"):
        Dem([tmp_path / "nope.tif"])


def test_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tif"
    bad.write_text("not a raster")
    with pytest.raises(DemError, match="not a readable raster"):
        Dem([bad])


def test_no_crs(tmp_path: Path) -> None:
    path = write_raster(tmp_path / "nocrs.tif", np.ones((4, 4), np.float32), crs=None)
    with pytest.raises(DemError, match=r"no coordinate reference system.*--srs"):
        Dem([path])


def test_crs_without_datum(shared_data: Path) -> None:
    """GDAL's "unretrievable - using WGS84" stand-in is refused, not guessed."""
    with pytest.raises(DemError, match="does not say which datum"):
        Dem([shared_data / "ortho" / "test_data_rgb.tif"])


def test_all_nodata(tmp_path: Path) -> None:
    data = np.full((8, 8), -9999.0, np.float32)
    path = write_raster(tmp_path / "empty.tif", data, crs="EPSG:2154", nodata=-9999.0)
    with pytest.raises(DemError, match="every pixel is nodata"):
        Dem([path])


def test_mixed_crs(shared_data: Path, tmp_path: Path) -> None:
    other = write_raster(tmp_path / "utm.tif", np.ones((4, 4), np.float32), crs="EPSG:32631")
    with pytest.raises(DemError, match="differs from"):
        Dem([shared_data / MNS, other])


def test_bad_srs(shared_data: Path) -> None:
    with pytest.raises(DemError, match="not a CRS"):
        Dem([shared_data / MNS], srs="EPSG:999999")
