"""geodata.crs against pyproj called directly, closed-form geodesy and known coordinates.

Every transform of the project goes through geodata.crs, so a wrong axis order, datum or
matrix layout here would misplace every tile: each property is checked two independent ways.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from pyproj import CRS, Geod, Transformer

from geodata.crs import (
    ECEF,
    WGS84_3D,
    ecef_to_lonlat,
    enu_to_ecef_matrix,
    lonlat_to_ecef,
    transformer,
)

A = 6378137.0  # WGS84 semi-major axis, m
F = 1 / 298.257223563  # WGS84 flattening
B = A * (1 - F)  # semi-minor axis, 6356752.314245 m
E2 = F * (2 - F)  # first eccentricity squared
GEOD = Geod(ellps="WGS84")
VIEUX_PORT = (5.3698, 43.2951)  # Marseille, degrees E, N
# (lon, lat, h): the sample points every ENU test runs at, Marseille first.
PLACES = [(*VIEUX_PORT, 120.0), (0.0, 0.0, 0.0), (-70.6, -33.4, 570.0), (139.7, 35.7, -30.0)]


def _random_points(n: int = 2000) -> NDArray[np.float64]:
    """Random (lon, lat, h) worldwide (poles excluded) plus a dense Marseille patch."""
    rng = np.random.default_rng(20240611)
    world = np.c_[
        rng.uniform(-180, 180, n), rng.uniform(-89.9, 89.9, n), rng.uniform(-500, 9000, n)
    ]
    marseille = np.c_[
        rng.uniform(5.2, 5.6, n), rng.uniform(43.15, 43.45, n), rng.uniform(-10, 700, n)
    ]
    return np.vstack([world, marseille])


def _closed_form_ecef(lon: NDArray, lat: NDArray, h: NDArray) -> NDArray[np.float64]:
    """Textbook geodetic -> geocentric: N(phi) = a / sqrt(1 - e^2 sin^2 phi)."""
    lam, phi = np.radians(lon), np.radians(lat)
    n = A / np.sqrt(1 - E2 * np.sin(phi) ** 2)
    return np.stack(
        [
            (n + h) * np.cos(phi) * np.cos(lam),
            (n + h) * np.cos(phi) * np.sin(lam),
            (n * (1 - E2) + h) * np.sin(phi),
        ],
        axis=-1,
    )


def _ellipsoid_normal(lon: float, lat: float) -> NDArray[np.float64]:
    """Outward normal of x²/a² + y²/a² + z²/b² = 1 at the surface point below (lon, lat)."""
    x, y, z = _closed_form_ecef(np.array(lon), np.array(lat), np.array(0.0))
    g = np.array([x / A**2, y / A**2, z / B**2])
    return g / np.linalg.norm(g)


def _apply(m: NDArray[np.float64], local: tuple[float, float, float]) -> NDArray[np.float64]:
    return (m @ np.array([*local, 1.0]))[:3]


# --- lonlat <-> ECEF -------------------------------------------------------------------------


def test_origin_of_longitude_on_the_equator() -> None:
    assert lonlat_to_ecef(0.0, 0.0, 0.0) == pytest.approx([A, 0.0, 0.0], abs=1e-9)


@pytest.mark.parametrize(
    ("lon", "lat", "h", "xyz"),
    [
        (90.0, 0.0, 0.0, (0.0, A, 0.0)),
        (180.0, 0.0, 100.0, (-(A + 100), 0.0, 0.0)),
        (0.0, 90.0, 0.0, (0.0, 0.0, B)),
        (0.0, -90.0, 10.0, (0.0, 0.0, -(B + 10))),
    ],
)
def test_axes_and_poles(lon: float, lat: float, h: float, xyz: tuple[float, float, float]) -> None:
    assert lonlat_to_ecef(lon, lat, h) == pytest.approx(xyz, abs=1e-6)


def test_shapes() -> None:
    assert lonlat_to_ecef(1.0, 2.0, 3.0).shape == (3,)
    assert lonlat_to_ecef([1.0, 2.0], [3.0, 4.0], [0.0, 0.0]).shape == (2, 3)
    assert ecef_to_lonlat([A, 0.0, 0.0]).shape == (3,)
    grid = np.tile([A, 0.0, 0.0], (4, 5, 1))
    assert ecef_to_lonlat(grid).shape == (4, 5, 3)
    assert ecef_to_lonlat(grid)[2, 3] == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)


def test_scalar_height_broadcasts() -> None:
    assert lonlat_to_ecef([1.0, 2.0], [3.0, 4.0], 0.0).shape == (2, 3)


def test_matches_pyproj_and_closed_form() -> None:
    pts = _random_points()
    got = lonlat_to_ecef(pts[:, 0], pts[:, 1], pts[:, 2])
    direct = Transformer.from_crs("EPSG:4979", "EPSG:4978", always_xy=True)
    expected = np.stack(direct.transform(pts[:, 0], pts[:, 1], pts[:, 2]), axis=-1)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got, _closed_form_ecef(*pts.T), rtol=0, atol=1e-6)


def test_round_trip_many_points() -> None:
    pts = _random_points()
    back = ecef_to_lonlat(lonlat_to_ecef(pts[:, 0], pts[:, 1], pts[:, 2]))
    np.testing.assert_allclose(back[:, :2], pts[:, :2], rtol=0, atol=1e-9)
    np.testing.assert_allclose(back[:, 2], pts[:, 2], rtol=0, atol=1e-6)


def test_transformer_is_cached_and_easting_first() -> None:
    assert transformer(WGS84_3D, ECEF) is transformer(WGS84_3D, ECEF)
    # EPSG:4326 is officially latitude-first; the project's transformers never are.
    lon, lat = transformer("EPSG:4326", "EPSG:4326").transform(5.0, 43.0)
    assert (lon, lat) == pytest.approx((5.0, 43.0))
    assert CRS.from_user_input(ECEF).is_geocentric


# --- local east-north-up frames --------------------------------------------------------------


@pytest.mark.parametrize("place", PLACES)
def test_enu_axes_are_orthonormal_and_right_handed(place: tuple[float, float, float]) -> None:
    m = enu_to_ecef_matrix(*place)
    r = m[:3, :3]
    np.testing.assert_allclose(r.T @ r, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)
    np.testing.assert_array_equal(m[3], [0, 0, 0, 1])


@pytest.mark.parametrize("place", PLACES)
def test_enu_origin_and_up_is_the_ellipsoid_normal(place: tuple[float, float, float]) -> None:
    lon, lat, h = place
    m = enu_to_ecef_matrix(lon, lat, h)
    np.testing.assert_allclose(m[:3, 3], lonlat_to_ecef(lon, lat, h), atol=1e-9)
    np.testing.assert_allclose(m[:3, 2], _ellipsoid_normal(lon, lat), atol=1e-12)
    # north is the direction of increasing latitude, east of increasing longitude
    step = 1e-6
    north = lonlat_to_ecef(lon, lat + step, h) - lonlat_to_ecef(lon, lat, h)
    east = lonlat_to_ecef(lon + step, lat, h) - lonlat_to_ecef(lon, lat, h)
    np.testing.assert_allclose(m[:3, 1], north / np.linalg.norm(north), atol=1e-6)
    np.testing.assert_allclose(m[:3, 0], east / np.linalg.norm(east), atol=1e-6)


@pytest.mark.parametrize("place", PLACES)
def test_hundred_metres_up(place: tuple[float, float, float]) -> None:
    lon, lat, h = place
    up = ecef_to_lonlat(_apply(enu_to_ecef_matrix(lon, lat, h), (0.0, 0.0, 100.0)))
    assert up[2] == pytest.approx(h + 100.0, abs=1e-6)
    assert up[:2] == pytest.approx([lon, lat], abs=1e-9)


@pytest.mark.parametrize("place", PLACES)
def test_a_kilometre_east_and_north(place: tuple[float, float, float]) -> None:
    """Along the tangent plane. Geod measures on the ellipsoid surface, so a local distance d
    at height h is d·R/(R+h) there, R being the radius of curvature of that direction."""
    lon, lat, h = place
    s2 = np.sin(np.radians(lat)) ** 2
    r_east = A / np.sqrt(1 - E2 * s2)  # prime vertical
    r_north = A * (1 - E2) / (1 - E2 * s2) ** 1.5  # meridian
    m = enu_to_ecef_matrix(lon, lat, h)
    e_lon, e_lat, e_h = ecef_to_lonlat(_apply(m, (1000.0, 0.0, 0.0)))
    az, _, dist = GEOD.inv(lon, lat, e_lon, e_lat)
    assert dist == pytest.approx(1000.0 * r_east / (r_east + h), abs=1e-3)
    assert az == pytest.approx(90.0, abs=1e-2)
    assert e_lat == pytest.approx(lat, abs=1e-6)  # the parallel curves away from the tangent
    assert e_h == pytest.approx(h + 1000.0**2 / (2 * r_east), abs=1e-3)  # so does the Earth
    n_lon, n_lat, _ = ecef_to_lonlat(_apply(m, (0.0, 1000.0, 0.0)))
    az, _, dist = GEOD.inv(lon, lat, n_lon, n_lat)
    assert dist == pytest.approx(1000.0 * r_north / (r_north + h), abs=1e-3)
    assert az == pytest.approx(0.0, abs=1e-6)
    assert n_lon == pytest.approx(lon, abs=1e-12)


# --- Lambert-93 ------------------------------------------------------------------------------


def test_lambert93_projection_origin() -> None:
    """By definition of EPSG:2154: 3°E 46.5°N is (700 000, 6 600 000)."""
    x, y = transformer("EPSG:4326", "EPSG:2154").transform(3.0, 46.5)
    assert (x, y) == pytest.approx((700000.0, 6600000.0), abs=1e-3)


def test_lambert93_vieux_port_round_trip() -> None:
    lon, lat = VIEUX_PORT
    x, y = transformer("EPSG:4326", "EPSG:2154").transform(lon, lat)
    assert 885_000 < x < 900_000 and 6_240_000 < y < 6_252_000  # x is easting
    direct = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True).transform(lon, lat)
    assert (x, y) == pytest.approx(direct, abs=1e-6)
    back_lon, back_lat = transformer("EPSG:2154", "EPSG:4326").transform(x, y)
    # 1 mm is about 1.2e-8° of longitude and 9e-9° of latitude at 43°N
    assert GEOD.inv(lon, lat, back_lon, back_lat)[2] < 1e-3
    assert (back_lon, back_lat) == pytest.approx((lon, lat), abs=1e-9)
