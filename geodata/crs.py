"""Every coordinate transform of the project goes through here (pyproj, one place).

3D Tiles live in ECEF (EPSG:4978); geographic heights are ellipsoidal (EPSG:4979).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer

ECEF = "EPSG:4978"
WGS84_3D = "EPSG:4979"


@lru_cache(maxsize=64)
def transformer(src: str, dst: str) -> Transformer:
    """A cached, axis-order-safe (x=easting/longitude first) transformer."""
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


def lonlat_to_ecef(lon: ArrayLike, lat: ArrayLike, h: ArrayLike) -> NDArray[np.float64]:
    """Geographic degrees + ellipsoidal height to ECEF metres, shape (..., 3)."""
    lon, lat, h = np.broadcast_arrays(
        np.asarray(lon, np.float64), np.asarray(lat, np.float64), np.asarray(h, np.float64)
    )
    x, y, z = transformer(WGS84_3D, ECEF).transform(lon, lat, h)
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def ecef_to_lonlat(xyz: ArrayLike) -> NDArray[np.float64]:
    """ECEF metres (..., 3) to lon, lat degrees and ellipsoidal height, shape (..., 3)."""
    p = np.asarray(xyz, dtype=np.float64)
    lon, lat, h = transformer(ECEF, WGS84_3D).transform(p[..., 0], p[..., 1], p[..., 2])
    return np.stack(np.broadcast_arrays(lon, lat, h), axis=-1)


def enu_to_ecef_matrix(lon: float, lat: float, h: float) -> NDArray[np.float64]:
    """4x4 matrix taking local east-north-up metres at (lon, lat, h) to ECEF.

    This is the `transform` a 3D Tiles root needs so content can be stored in small local
    coordinates (float32-precise) and still sit at the right place on the globe.
    """
    lam, phi = np.radians(lon), np.radians(lat)
    east = np.array([-np.sin(lam), np.cos(lam), 0.0])
    north = np.array([-np.sin(phi) * np.cos(lam), -np.sin(phi) * np.sin(lam), np.cos(phi)])
    up = np.array([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2] = east, north, up
    m[:3, 3] = lonlat_to_ecef(lon, lat, h)
    return m
