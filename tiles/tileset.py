"""tileset.json helpers: where a tileset is on Earth, and how to place an unplaced one."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from geodata.crs import ecef_to_lonlat, enu_to_ecef_matrix

Tileset = dict[str, Any]
Bounds = tuple[float, float, float, float]


def read_tileset(path: Path) -> Tileset:
    with path.open(encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict) or "root" not in data or "asset" not in data:
        raise ValueError(f"{path}: not a 3D Tiles tileset (no 'asset' and 'root')")
    return data


def write_tileset(tileset: Tileset, path: Path) -> None:
    path.write_text(json.dumps(tileset, separators=(",", ":")), encoding="utf-8")


def _matrix(transform: list[float] | None) -> NDArray[np.float64]:
    """3D Tiles stores 4x4 matrices column-major."""
    if not transform:
        return np.eye(4)
    return np.asarray(transform, dtype=np.float64).reshape(4, 4).T


def _box_corners(box: list[float]) -> NDArray[np.float64]:
    c = np.asarray(box[:3])
    axes = np.asarray(box[3:12]).reshape(3, 3)
    signs = np.array([[i, j, k] for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)], float)
    return c + signs @ axes


def _sphere_corners(sphere: list[float]) -> NDArray[np.float64]:
    c, r = np.asarray(sphere[:3]), sphere[3]
    return _box_corners([*c, r, 0, 0, 0, r, 0, 0, 0, r])


def root_bounds_lonlat(tileset: Tileset) -> Bounds | None:
    """(west, south, east, north) in degrees of the root bounding volume, or None when the
    tileset is not georeferenced (its content sits near the Earth's centre)."""
    root = tileset["root"]
    volume = root["boundingVolume"]
    if "region" in volume:
        w, s, e, n = (math.degrees(v) for v in volume["region"][:4])
        return (w, s, e, n)
    if "box" in volume:
        corners = _box_corners(volume["box"])
    elif "sphere" in volume:
        corners = _sphere_corners(volume["sphere"])
    else:
        return None
    m = _matrix(root.get("transform"))
    ecef = (np.c_[corners, np.ones(len(corners))] @ m.T)[:, :3]
    if np.linalg.norm(ecef.mean(axis=0)) < 6.0e6:  # well inside the Earth: local coordinates
        return None
    lonlat = ecef_to_lonlat(ecef)
    return (
        float(lonlat[:, 0].min()),
        float(lonlat[:, 1].min()),
        float(lonlat[:, 0].max()),
        float(lonlat[:, 1].max()),
    )


def _uses_region(tile: dict[str, Any]) -> bool:
    return "region" in tile.get("boundingVolume", {}) or any(
        _uses_region(child) for child in tile.get("children", [])
    )


def place(tileset: Tileset, lon: float, lat: float, height: float, scale: float = 1.0) -> Tileset:
    """A copy of `tileset` whose root sits at (lon, lat, ellipsoidal height), local axes
    east-north-up, content scaled by `scale`.

    Only for tilesets authored in local coordinates: a georeferenced one (or one using regions,
    which no transform moves) would have its content sent elsewhere while its bounds stay put.
    """
    if root_bounds_lonlat(tileset) is not None or _uses_region(tileset["root"]):
        raise ValueError("tileset is already georeferenced; only local tilesets can be placed")
    placed = json.loads(json.dumps(tileset))
    local = np.diag([scale, scale, scale, 1.0]) @ _matrix(placed["root"].get("transform"))
    m = enu_to_ecef_matrix(lon, lat, height) @ local
    placed["root"]["transform"] = [float(v) for v in m.T.reshape(-1)]
    return placed
