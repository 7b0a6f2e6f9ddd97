"""Orthophoto reading: CRS rules, band plans, transparency, bit depth, several files, bad input.

Real files from ../shared/data/ortho; small rasters generated in tmp_path for the cases the real
ones do not cover (16-bit, palette, grey, several sheets).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.transform import from_origin

from geodata.orthophoto import Orthophoto, OrthophotoError

L93 = "EPSG:2154"


def _ortho(shared_data: Path, name: str) -> Path:
    return shared_data / "ortho" / name


def _write(path: Path, data: np.ndarray, **profile) -> Path:
    """A GeoTIFF of (bands, h, w) `data` at 0.5 m in Lambert-93 unless told otherwise."""
    meta = {
        "driver": "GTiff",
        "count": data.shape[0],
        "height": data.shape[1],
        "width": data.shape[2],
        "dtype": data.dtype.name,
        "crs": L93,
        "transform": from_origin(770000, 6278000, 0.5, 0.5),
    }
    meta.update(profile)
    with rasterio.open(path, "w", **meta) as dst:
        dst.write(data)
    return path


def _identity_read(ortho: Orthophoto, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read `path`'s own grid back through the orthophoto (no resampling): (ours, source)."""
    with rasterio.open(path) as src:
        out = ortho.read_rgba(ortho.crs.to_wkt(), src.transform, src.width, src.height)
        return out, src.read()


def test_file_without_a_usable_crs_is_refused_with_its_name(shared_data: Path) -> None:
    path = _ortho(shared_data, "test_data_rgb.tif")
    with pytest.raises(OrthophotoError, match=r"test_data_rgb\.tif") as err:
        Orthophoto([path])
    assert "srs" in str(err.value)


def test_srs_gives_the_crs_and_the_extent(shared_data: Path) -> None:
    with Orthophoto([_ortho(shared_data, "test_data_rgb.tif")], srs=L93) as ortho:
        assert ortho.crs_code == L93
        assert ortho.bounds == pytest.approx((770549.8, 6277549.8, 770600.2, 6277600.2))
        west, south, east, north = ortho.bounds_wgs84
        assert (west, south) == pytest.approx((3.8734, 43.5935), abs=1e-4)  # Montpellier
        assert east > west and north > south


def test_unknown_srs_is_refused(shared_data: Path) -> None:
    with pytest.raises(OrthophotoError, match="not a CRS"):
        Orthophoto([_ortho(shared_data, "test_data_rgb.tif")], srs="EPSG:999999")


def test_nodata_becomes_transparent_and_colours_stay(shared_data: Path) -> None:
    path = _ortho(shared_data, "test_data_rgb.tif")
    with Orthophoto([path], srs=L93) as ortho:
        rgba, source = _identity_read(ortho, path)
    nodata = (source == 255).all(axis=0)
    assert nodata.any()
    assert (rgba[3][nodata] == 0).all()
    assert (rgba[3][~nodata] == 255).all()
    assert np.abs(rgba[:3].astype(int) - source)[:, ~nodata].max() <= 1


def test_alpha_band_becomes_transparency(shared_data: Path) -> None:
    path = _ortho(shared_data, "webodm_orthophoto.tif")
    with Orthophoto([path]) as ortho:
        assert ortho.crs_code == "EPSG:32615"
        rgba, source = _identity_read(ortho, path)
    clear = source[3] == 0
    assert clear.any()
    assert (rgba[3][clear] == 0).all()
    assert (rgba[3][~clear] == 255).all()
    assert np.abs(rgba[:3].astype(int) - source[:3])[:, ~clear].max() <= 1


def test_irc_shows_its_three_false_colour_bands(shared_data: Path) -> None:
    path = _ortho(shared_data, "test_data_irc.tif")
    with Orthophoto([path], srs=L93) as ortho:
        rgba, source = _identity_read(ortho, path)
    valid = rgba[3] == 255
    assert np.abs(rgba[:3].astype(int) - source)[:, valid].max() <= 1


def test_dem_is_refused_as_not_a_picture(shared_data: Path) -> None:
    dem = shared_data / "dem" / "DTM_test_data_77055_627760_LA93_IGN69_50CM.tif"
    with pytest.raises(OrthophotoError, match="not an orthophoto") as err:
        Orthophoto([dem])
    assert dem.name in str(err.value) and "terrain" in str(err.value)


def test_unreadable_and_missing_files_are_refused(tmp_path: Path) -> None:
    fake = tmp_path / "broken.tif"
    fake.write_text("not a tiff")
    with pytest.raises(OrthophotoError, match=r"broken\.tif: not a readable raster"):
        Orthophoto([fake])
    with pytest.raises(OrthophotoError, match="no such file"):
        Orthophoto([tmp_path / "absent.tif"])
    with pytest.raises(OrthophotoError, match="no orthophoto"):
        Orthophoto([])


def test_16_bit_is_stretched_between_percentiles(tmp_path: Path) -> None:
    ramp = np.linspace(1000, 5000, 100 * 100).reshape(100, 100).astype(np.uint16)
    data = np.stack([ramp, ramp // 2, np.full_like(ramp, 300)])
    path = _write(tmp_path / "u16.tif", data)
    with Orthophoto([path]) as ortho:
        rgba, _ = _identity_read(ortho, path)
    red = rgba[0].ravel()
    assert red.min() == 0 and red.max() == 255  # 2 % clipped at each end
    assert np.all(np.diff(red.astype(int)) >= 0)  # order kept
    assert 120 <= rgba[0, 50, 0] <= 135  # mid-ramp to mid-grey
    assert (rgba[3] == 255).all()


def test_palette_and_grey_become_rgb(tmp_path: Path) -> None:
    index = np.zeros((1, 20, 20), np.uint8)
    index[0, :, 10:] = 1
    pal = _write(tmp_path / "pal.tif", index, photometric="palette", nodata=1)
    with rasterio.open(pal, "r+") as dst:
        dst.write_colormap(1, {0: (200, 10, 20, 255), 1: (0, 0, 255, 255)})
    grey = _write(tmp_path / "grey.tif", np.full((1, 20, 20), 77, np.uint8))
    with Orthophoto([pal]) as ortho:
        rgba, _ = _identity_read(ortho, pal)
    assert tuple(rgba[:, 5, 2]) == (200, 10, 20, 255)
    assert rgba[3, 5, 15] == 0  # the nodata index
    with Orthophoto([grey]) as ortho:
        rgba, _ = _identity_read(ortho, grey)
    assert tuple(rgba[:, 3, 3]) == (77, 77, 77, 255)


def test_sheets_read_together_match_the_whole(shared_data: Path, tmp_path: Path) -> None:
    whole = _ortho(shared_data, "test_data_rgb.tif")
    with rasterio.open(whole) as src:
        data, t = src.read(), src.transform
    left = _write(tmp_path / "w.tif", data[:, :, :126], transform=t, nodata=255)
    right = _write(tmp_path / "e.tif", data[:, :, 126:], transform=t @ Affine.translation(126, 0))
    with Orthophoto([left, right]) as ortho:
        assert ortho.bounds == pytest.approx((770549.8, 6277549.8, 770600.2, 6277600.2))
        got = ortho.read_rgba(L93, t, 252, 252)
    assert np.abs(got[:3].astype(int) - data)[:, got[3] == 255].max() <= 1
    assert (got[3] == 255).mean() > 0.99


def test_sheets_in_different_crss_are_refused(shared_data: Path, tmp_path: Path) -> None:
    lonlat = _write(
        tmp_path / "ll.tif",
        np.zeros((3, 4, 4), np.uint8),
        crs="EPSG:4326",
        transform=from_origin(3.87, 43.6, 1e-5, 1e-5),
    )
    with pytest.raises(OrthophotoError, match=r"ll\.tif: CRS"):
        Orthophoto([_ortho(shared_data, "webodm_orthophoto.tif"), lonlat])
