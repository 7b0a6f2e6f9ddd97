"""Imagery pyramid: placement of tiles on the globe (checked against pyproj and the source pixels),
transparency, zoom range, lower zooms, metadata, progress and cancel, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import rasterio
from affine import Affine
from PIL import Image
from pyproj import Transformer
from rasterio.enums import Resampling
from rasterio.transform import from_origin

from geodata.orthophoto import Orthophoto, OrthophotoError
from tiles import imagery
from tiles.imagery import (
    MAX_TILES_AT_MIN_ZOOM,
    RESOLUTION_TOLERANCE,
    TILE_SIZE,
    WEB_MERCATOR,
    ImageryResult,
    downsample,
    mercator_bounds,
    range_count,
    tile_bounds,
    tile_imagery,
    tile_range,
    tile_size_m,
)

L93 = "EPSG:2154"


def _tiles(out: Path) -> dict[tuple[int, int, int], np.ndarray]:
    """Every written tile decoded to RGBA, keyed by (z, x, y)."""
    return {
        (int(p.parent.parent.name), int(p.parent.name), int(p.stem)): np.asarray(
            Image.open(p).convert("RGBA")
        )
        for p in out.rglob("*.webp")
    }


def _pixel_lonlat(z: int, x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
    """Longitude, latitude of every pixel centre of XYZ tile (z, x, y), by the slippy-map formulas
    (independent of the code under test)."""
    j, i = np.mgrid[0:TILE_SIZE, 0:TILE_SIZE]
    fx = (x + (i + 0.5) / TILE_SIZE) / 2**z
    fy = (y + (j + 0.5) / TILE_SIZE) / 2**z
    return fx * 360.0 - 180.0, np.degrees(np.arctan(np.sinh(np.pi * (1.0 - 2.0 * fy))))


def _mirror_mosaic(source: Path, path: Path, reps: tuple[int, int], pixel: float) -> Path:
    """A bigger picture made of mirrored copies of a real orthophoto, in Lambert-93."""
    with rasterio.open(source) as src:
        data = src.read()
    row = np.concatenate([data, data[:, :, ::-1]] * reps[1], axis=2)
    big = np.concatenate([row, row[:, ::-1, :]] * reps[0], axis=1)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        count=3,
        height=big.shape[1],
        width=big.shape[2],
        dtype="uint8",
        crs=L93,
        transform=from_origin(770000, 6278000, pixel, pixel),
    ) as dst:
        dst.write(big)
    return path


class Tiled(NamedTuple):
    src: Path
    srs: str | None
    out: Path
    result: ImageryResult


def _tile(src: Path, out: Path, srs: str | None = None) -> Tiled:
    return Tiled(src, srs, out, tile_imagery([src], out, srs=srs))


@pytest.fixture(scope="module")
def ign(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Tiled:
    src = shared_data / "ortho" / "test_data_rgb.tif"
    return _tile(src, tmp_path_factory.mktemp("ign"), L93)


@pytest.fixture(scope="module")
def webodm(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Tiled:
    src = shared_data / "ortho" / "webodm_orthophoto.tif"
    return _tile(src, tmp_path_factory.mktemp("webodm"))


@pytest.fixture(scope="module")
def mosaic(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1,008 x 1,008 px mosaic at 0.5 m: zooms 15-18, so lower zooms are built from higher."""
    src = shared_data / "ortho" / "test_data_rgb.tif"
    return _mirror_mosaic(src, tmp_path_factory.mktemp("mosaic") / "m.tif", (2, 2), 0.5)


@pytest.fixture(scope="module")
def pyramid(mosaic: Path, tmp_path_factory: pytest.TempPathFactory) -> Tiled:
    """The mosaic tiled with one-level blocks: zooms 15-16 come from the quadtree walk over
    children, 17 from halving a block, 18 from the warp."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(imagery, "BLOCK_LEVELS", 1)
        return _tile(mosaic, tmp_path_factory.mktemp("pyramid"))


def test_tile_math_matches_pyproj() -> None:
    to_merc = Transformer.from_crs("EPSG:4326", WEB_MERCATOR, always_xy=True)
    z, x, y = 19, 267785, 191460
    lon, lat = _pixel_lonlat(z, x, y)
    west, south, east, north = tile_bounds(z, x, y)
    px = tile_size_m(z) / TILE_SIZE
    mx, my = to_merc.transform(lon[0, 0], lat[0, 0])
    assert (mx, my) == pytest.approx((west + px / 2, north - px / 2), abs=1e-3)
    mx, my = to_merc.transform(lon[-1, -1], lat[-1, -1])
    assert (mx, my) == pytest.approx((east - px / 2, south + px / 2), abs=1e-3)
    assert tile_range((west + 1, south + 1, east - 1, north - 1), z) == (x, y, x, y)
    assert tile_range((west - 1, south + 1, east + 1, north - 1), z) == (x - 1, y, x + 1, y)


@pytest.mark.parametrize("case", ["ign", "webodm"])
def test_tiles_sit_where_the_source_says(case: str, request: pytest.FixtureRequest) -> None:
    """A tile pixel's lon/lat, through pyproj into the source raster, finds the same colour; a
    mapping off by two source pixels (40 cm / 1 m) finds clearly different ones."""
    tiled: Tiled = request.getfixturevalue(case)
    out, result = tiled.out, tiled.result
    with rasterio.open(tiled.src) as src:
        data, inverse, width, height = src.read(), ~src.transform, src.width, src.height
    to_src = Transformer.from_crs("EPSG:4326", result.source_crs, always_xy=True)
    checked = 0
    for (z, x, y), tile in _tiles(out).items():
        col, row = inverse @ to_src.transform(*_pixel_lonlat(z, x, y))
        errors = {}
        for dc, dr in ((0, 0), (2, 0), (-2, 0), (0, 2), (0, -2)):
            c, r = np.floor(col + dc).astype(int), np.floor(row + dr).astype(int)
            inside = (c >= 1) & (r >= 1) & (c < width - 1) & (r < height - 1)
            use = inside & (tile[..., 3] == 255)
            if use.sum() < 1000:
                break
            diff = tile[..., :3][use].astype(float) - data[:3, r[use], c[use]].T
            errors[(dc, dr)] = np.abs(diff).mean()
        else:
            assert errors[(0, 0)] < 15, errors
            assert errors[(0, 0)] < 0.6 * min(v for k, v in errors.items() if k != (0, 0))
            checked += 1
        outside = (col < 0) | (row < 0) | (col > width) | (row > height)
        assert (tile[..., 3][outside] == 0).all(), "transparent outside the footprint"
    assert checked >= 2


def test_source_alpha_stays_transparent(webodm: Tiled) -> None:
    """Where the source's alpha is 0 (a 2-pixel frame in this file), tiles are transparent."""
    out, result = webodm.out, webodm.result
    with rasterio.open(webodm.src) as src:
        alpha, inverse = src.read(4), ~src.transform
    h, w = alpha.shape
    to_src = Transformer.from_crs("EPSG:4326", result.source_crs, always_xy=True)
    seen = 0
    for (z, x, y), tile in _tiles(out).items():
        col, row = inverse @ to_src.transform(*_pixel_lonlat(z, x, y))
        c, r = np.floor(col).astype(int), np.floor(row).astype(int)
        inside = (c >= 0) & (r >= 0) & (c < w) & (r < h)
        # clear in the 3 x 3 neighbourhood, so the bilinear kernel only sees clear pixels
        near = [
            alpha[np.clip(r + i, 0, h - 1), np.clip(c + k, 0, w - 1)] == 0
            for i in (-1, 0, 1)
            for k in (-1, 0, 1)
        ]
        clear = inside & np.all(near, axis=0)
        assert (tile[..., 3][clear] == 0).all()
        seen += int(clear.sum())
    assert seen > 50


@pytest.mark.parametrize("case", ["ign", "webodm", "pyramid"])
def test_zoom_range_follows_the_resolution(case: str, request: pytest.FixtureRequest) -> None:
    """Max zoom: the first whose pixel is finer than the source's (10 % tolerance); min zoom: the
    deepest at which the extent spans at most four tiles."""
    tiled: Tiled = request.getfixturevalue(case)
    with Orthophoto([tiled.src], srs=tiled.srs) as ortho:
        source_px = ortho.pixel_size_in(WEB_MERCATOR) * RESOLUTION_TOLERANCE
    result = tiled.result
    assert tile_size_m(result.max_zoom) / TILE_SIZE <= source_px
    assert tile_size_m(result.max_zoom - 1) / TILE_SIZE > source_px
    merc = mercator_bounds(result.bounds_wgs84)
    assert range_count(tile_range(merc, result.min_zoom)) <= MAX_TILES_AT_MIN_ZOOM
    if result.min_zoom < result.max_zoom:
        assert range_count(tile_range(merc, result.min_zoom + 1)) > MAX_TILES_AT_MIN_ZOOM
    expected = {"ign": (19, 19), "webodm": (18, 18), "pyramid": (15, 18)}[case]
    assert (result.min_zoom, result.max_zoom) == expected


def test_only_tiles_of_the_extent_are_written(pyramid: Tiled) -> None:
    out, result = pyramid.out, pyramid.result
    tiles = _tiles(out)
    assert len(tiles) == result.tile_count
    merc = mercator_bounds(result.bounds_wgs84)
    for z in range(result.min_zoom, result.max_zoom + 1):
        x0, y0, x1, y1 = tile_range(merc, z)
        at_z = {(x, y) for (tz, x, y) in tiles if tz == z}
        assert at_z == {(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)}
    assert all(t[..., 3].any() for t in tiles.values())


def test_lower_zooms_match_a_direct_warp(pyramid: Tiled) -> None:
    """Tiles built from their children look like the source warped straight to their zoom."""
    result = pyramid.result
    tiles = _tiles(pyramid.out)
    compared = 0
    with Orthophoto([pyramid.src]) as ortho:
        for z in range(result.min_zoom, result.max_zoom):
            for (tz, x, y), tile in tiles.items():
                if tz != z:
                    continue
                west, _, _, north = tile_bounds(z, x, y)
                px = tile_size_m(z) / TILE_SIZE
                grid = from_origin(west, north, px, px)
                ref = ortho.read_rgba(
                    WEB_MERCATOR, grid, TILE_SIZE, TILE_SIZE, resampling=Resampling.average
                )
                assert (tile[..., 3][_clear_around(ref[3])] == 0).all()
                both = (tile[..., 3] == 255) & (ref[3] == 255)
                if both.sum() < 200:
                    continue
                err = np.abs(tile[..., :3][both].astype(float) - np.moveaxis(ref[:3], 0, -1)[both])
                assert err.mean() < 8, (z, x, y, err.mean())
                compared += 1
    assert compared >= 5


def _clear_around(alpha: np.ndarray) -> np.ndarray:
    """Pixels transparent together with their 8 neighbours (edges may differ by a pixel)."""
    padded = np.pad(alpha, 1, mode="edge")
    h, w = alpha.shape
    shifted = [padded[i : i + h, k : k + w] for i in range(3) for k in range(3)]
    return np.max(shifted, axis=0) == 0


def test_halving_weights_colours_by_alpha() -> None:
    """A transparent pixel's colour (black, as the warper leaves it) must not darken its parent."""
    block = np.zeros((2, 2, 4), np.uint8)
    block[0, 0] = (200, 100, 50, 255)
    block[1, 1] = (100, 50, 0, 255)
    assert tuple(downsample(block)[0, 0]) == (150, 75, 25, 128)
    assert tuple(downsample(np.zeros((2, 2, 4), np.uint8))[0, 0]) == (0, 0, 0, 0)


def test_block_size_does_not_change_the_tiles(mosaic: Path, pyramid: Tiled, tmp_path) -> None:
    """Up to GDAL's approximate transformer (1/8 source pixel, per warp) and WebP's noise."""
    big_blocks = _tiles(_tile(mosaic, tmp_path).out)
    small_blocks = _tiles(pyramid.out)
    assert big_blocks.keys() == small_blocks.keys()
    for key, tile in big_blocks.items():
        diff = np.abs(tile.astype(int) - small_blocks[key])
        assert diff.mean() < 3 and (diff[..., 3] > 64).mean() < 0.01, key


def test_sheets_tile_like_the_whole(ign: Tiled, tmp_path: Path) -> None:
    """Two files of one zone make the same tiles as one, with no seam where they meet."""
    with rasterio.open(ign.src) as src:
        data, t, profile = src.read(), src.transform, src.profile
    profile.update(crs=L93, width=126)
    halves = []
    for name, part, origin in (
        ("w", data[:, :, :126], t),
        ("e", data[:, :, 126:], t @ Affine.translation(126, 0)),
    ):
        with rasterio.open(
            tmp_path / f"{name}.tif", "w", **{**profile, "transform": origin}
        ) as dst:
            dst.write(part)
        halves.append(tmp_path / f"{name}.tif")
    result = tile_imagery(halves, tmp_path / "out")
    assert result.bounds_source == pytest.approx(ign.result.bounds_source)
    whole, sheets = _tiles(ign.out), _tiles(tmp_path / "out")
    assert whole.keys() == sheets.keys()
    for key, tile in whole.items():
        diff = np.abs(tile.astype(int) - sheets[key])
        assert (diff[..., 3] > 1).mean() < 1e-3, key  # a seam would be a 256-pixel line
        assert diff[..., :3][tile[..., 3] == 255].mean() < 3, key  # WebP noise


def test_metadata_tells_a_viewer_how_to_load(ign: Tiled) -> None:
    out, result = ign.out, ign.result
    meta = json.loads((out / "imagery.json").read_text())
    assert meta["scheme"] == "xyz" and meta["crs"] == WEB_MERCATOR
    assert meta["url"] == "{z}/{x}/{y}.webp" and meta["format"] == result.format == "webp"
    assert meta["mime_type"] == "image/webp" and meta["tile_size"] == 256
    assert (meta["min_zoom"], meta["max_zoom"]) == (result.min_zoom, result.max_zoom)
    assert meta["bounds"] == pytest.approx(list(result.bounds_wgs84))
    assert meta["tile_count"] == result.tile_count == len(list(out.rglob("*.webp")))
    assert meta["source_crs"] == result.source_crs == L93
    assert result.bounds_source == pytest.approx((770549.8, 6277549.8, 770600.2, 6277600.2))
    for z, x, y in _tiles(out):
        url = meta["url"].format(z=z, x=x, y=y)
        assert (out / url).is_file()


def test_alpha_only_where_needed(pyramid: Tiled) -> None:
    modes = {Image.open(p).mode for p in pyramid.out.rglob("*.webp")}
    assert modes == {"RGB", "RGBA"}  # opaque interior tiles, transparent-edged border tiles


def test_progress_reports_and_cancels(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "ortho" / "webodm_orthophoto.tif"
    seen: list[float] = []
    tile_imagery([src], tmp_path / "a", progress=lambda f, _: seen.append(f))
    assert seen[0] == 0.0 and seen[-1] == 1.0 and seen == sorted(seen)

    def cancel(fraction: float, _: str) -> None:
        if fraction > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tile_imagery([src], tmp_path / "b", progress=cancel)
    assert not (tmp_path / "b" / "imagery.json").exists()


def test_no_crs_and_all_transparent_are_refused(shared_data: Path, tmp_path: Path) -> None:
    with pytest.raises(OrthophotoError, match=r"test_data_rgb\.tif"):
        tile_imagery([shared_data / "ortho" / "test_data_rgb.tif"], tmp_path / "a")
    blank = tmp_path / "blank.tif"
    with rasterio.open(
        blank,
        "w",
        driver="GTiff",
        count=3,
        height=50,
        width=50,
        dtype="uint8",
        crs=L93,
        transform=from_origin(770000, 6278000, 0.5, 0.5),
        nodata=255,
    ) as dst:
        dst.write(np.full((3, 50, 50), 255, np.uint8))
    with pytest.raises(OrthophotoError, match=r"blank\.tif: every pixel is transparent"):
        tile_imagery([blank], tmp_path / "b")
    assert not (tmp_path / "b" / "imagery.json").exists()
