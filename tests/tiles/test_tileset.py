"""tiles.tileset: where the samples are on Earth, and placing the local-coordinate ones.

Sizes are checked with pyproj.Geod (geodesic distances on WGS84), independent of the ECEF
maths in tiles.tileset and geodata.crs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from pyproj import Geod

from geodata.crs import ecef_to_lonlat
from tiles.tileset import place, read_tileset, root_bounds_lonlat
from tiles.validate import validate_tileset

SHARED = Path(__file__).resolve().parents[3] / "shared"
SCHEMAS = SHARED / "schemas" / "3d-tiles-1.1"
TILESETS = SHARED / "data" / "tilesets"
GEOD = Geod(ellps="WGS84")
# (lon, lat, ellipsoidal height m, scale) as the demo uses them, and one far from Marseille.
PLACEMENTS = [(5.3698, 43.2951, 120.0, 300.0), (-70.25, -33.5, 10.0, 50.0)]


def _sample(name: str) -> dict:
    path = TILESETS / name / "tileset.json"
    if not path.is_file():
        pytest.skip(f"sample tileset not found at {path}")
    return read_tileset(path)


def _width_height_m(bounds: tuple[float, float, float, float]) -> tuple[float, float]:
    w, s, e, n = bounds
    mid_lat, mid_lon = (s + n) / 2, (w + e) / 2
    width = GEOD.inv(w, mid_lat, e, mid_lat)[2]
    height = GEOD.inv(mid_lon, s, mid_lon, n)[2]
    return width, height


def test_region_bounds_are_the_region_in_degrees() -> None:
    tileset = _sample("1.0_TilesetWithRequestVolume_city")
    region = tileset["root"]["boundingVolume"]["region"]
    bounds = root_bounds_lonlat(tileset)
    assert bounds == pytest.approx([math.degrees(v) for v in region[:4]], abs=1e-12)
    w, s, e, n = bounds
    assert -75.7 < w < e < -75.6 and 40.04 < s < n < 40.05  # the sample's place, Philadelphia


@pytest.mark.parametrize("name", ["1.1_MultipleContents", "1.1_SparseImplicitQuadtree"])
def test_local_coordinates_have_no_bounds(name: str) -> None:
    tileset = _sample(name)
    assert "transform" not in tileset["root"]
    assert root_bounds_lonlat(tileset) is None


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("name", ["1.1_MultipleContents", "1.1_SparseImplicitQuadtree"])
def test_placed_sample_bounds(name: str, placement: tuple[float, float, float, float]) -> None:
    """Both samples are unit boxes (half-size 0.5) with a corner at the local origin: placed,
    they are `scale` metres square, with (lon, lat) at one of their corners."""
    lon, lat, h, scale = placement
    tileset = _sample(name)
    bounds = root_bounds_lonlat(place(tileset, lon, lat, h, scale))
    assert bounds is not None
    w, s, e, n = bounds
    eps = 1e-9
    assert w - eps <= lon <= e + eps and s - eps <= lat <= n + eps
    width, height = _width_height_m(bounds)
    assert width == pytest.approx(scale, rel=1e-3)
    assert height == pytest.approx(scale, rel=1e-3)
    # The box centre is (0.5, -0.5) or (0.5, 0.5) in local units: east, then south or north.
    cx, cy = tileset["root"]["boundingVolume"]["box"][:2]
    assert (w + e) / 2 == pytest.approx(GEOD.fwd(lon, lat, 90, cx * scale)[0], abs=1e-6)
    north = GEOD.fwd(lon, lat, 0 if cy > 0 else 180, abs(cy) * scale)[1]
    assert (s + n) / 2 == pytest.approx(north, abs=1e-6)


def test_place_does_not_touch_the_input() -> None:
    tileset = _sample("1.1_MultipleContents")
    before = json.dumps(tileset, sort_keys=True)
    placed = place(tileset, 5.3698, 43.2951, 120.0, 300.0)
    assert json.dumps(tileset, sort_keys=True) == before
    assert len(placed["root"]["transform"]) == 16


def test_place_sets_origin_and_scale() -> None:
    """Column-major: translation in elements 12..14, scale as the length of each axis column."""
    lon, lat, h, scale = PLACEMENTS[0]
    placed = place(_sample("1.1_MultipleContents"), lon, lat, h, scale)
    t = placed["root"]["transform"]
    for col in range(3):
        assert math.dist(t[4 * col : 4 * col + 3], (0, 0, 0)) == pytest.approx(scale)
    assert t[3] == t[7] == t[11] == 0 and t[15] == 1
    assert ecef_to_lonlat(t[12:15]) == pytest.approx([lon, lat, h], abs=1e-6)


@pytest.mark.parametrize("name", ["1.1_MultipleContents", "1.1_SparseImplicitQuadtree"])
def test_placed_sample_still_validates(name: str) -> None:
    if not (SCHEMAS / "tileset.schema.json").is_file():
        pytest.skip(f"3D Tiles schemas not found at {SCHEMAS}")
    placed = place(_sample(name), 5.3698, 43.2951, 120.0, 300.0)
    assert validate_tileset(placed, SCHEMAS) == []
    # and the transform must survive a trip through JSON as plain numbers
    assert validate_tileset(json.loads(json.dumps(placed)), SCHEMAS) == []


def test_unplaced_sphere_and_placed_sphere() -> None:
    tileset = {
        "asset": {"version": "1.1"},
        "geometricError": 1,
        "root": {"boundingVolume": {"sphere": [0, 0, 0, 10]}, "geometricError": 0},
    }
    assert root_bounds_lonlat(tileset) is None
    bounds = root_bounds_lonlat(place(tileset, 2.35, 48.85, 35.0))
    assert bounds is not None
    width, height = _width_height_m(bounds)
    assert width == pytest.approx(20, rel=1e-3) and height == pytest.approx(20, rel=1e-3)


@pytest.mark.parametrize("name", ["1.0_TilesetWithRequestVolume_city", "placed twice"])
def test_placing_a_georeferenced_tileset_is_refused(name: str) -> None:
    if name == "placed twice":
        tileset = place(_sample("1.1_MultipleContents"), 5.3698, 43.2951, 120.0, 300.0)
    else:
        tileset = _sample(name)
    with pytest.raises(ValueError):
        place(tileset, 2.35, 48.85, 35.0)
