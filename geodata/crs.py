"""Every coordinate transform of the project goes through here (pyproj, one place).

3D Tiles live in ECEF (EPSG:4978); geographic heights are ellipsoidal (EPSG:4979).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer
from pyproj.crs import CompoundCRS
from pyproj.transformer import TransformerGroup

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


# --- source CRS -> ECEF, with the vertical datum made explicit ---------------------------------

EGM96_HEIGHT = "EPSG:5773"  # EGM96 geoid height; PROJ's egm96_15.gtx ships with Debian's proj-data
NGF_IGN69_HEIGHT = "EPSG:5720"  # mainland France's orthometric heights (LiDAR HD, BD ALTI, ...)
_GRIDS = re.compile(r"(?:grids|geoidgrids)=(\S+)")


@dataclass(frozen=True)
class EcefPipeline:
    """How one source CRS becomes ECEF, in a form a worker process can rebuild (plain strings).

    `definition` is the PROJ pipeline chosen once (never a "ballpark" vertical transformation that
    silently treats orthometric heights as ellipsoidal); source z is multiplied by `z_scale` first
    (only set when a vertical datum was substituted and its unit is not the metre). `note` says, in
    words, how heights were made ellipsoidal: the grid used, or the assumption made.
    """

    source: str
    definition: str
    z_scale: float
    note: str
    grids: tuple[str, ...] = ()

    def to_ecef(self, x: ArrayLike, y: ArrayLike, z: ArrayLike) -> NDArray[np.float64]:
        """Source coordinates to ECEF metres, shape (n, 3); exact (pyproj on every point)."""
        x, y, z = (np.asarray(v, np.float64) for v in (x, y, z))
        if self.z_scale != 1.0:
            z = z * self.z_scale
        ex, ey, ez = pipeline_transformer(self.definition).transform(x, y, z)
        return np.stack(np.broadcast_arrays(ex, ey, ez), axis=-1)


@lru_cache(maxsize=16)
def pipeline_transformer(definition: str) -> Transformer:
    """A transformer for a PROJ pipeline string, cached per process."""
    return Transformer.from_pipeline(definition)


def _vertical_ops(src: CRS) -> tuple[list[Transformer], list[str]]:
    """Usable transformations src -> ECEF that really apply a vertical datum (no ballpark), and the
    names of the grids that would give better ones but are not installed."""
    with warnings.catch_warnings():  # "best transformation is not available": handled here
        warnings.simplefilter("ignore")
        group = TransformerGroup(src, CRS.from_user_input(ECEF), always_xy=True)
    usable = [t for t in group.transformers if "ballpark vertical" not in t.description.lower()]
    missing = sorted(
        {g.short_name for op in group.unavailable_operations for g in op.grids if not g.available}
    )
    return usable, missing


def _pipeline(source: str, t: Transformer, note: str, z_scale: float = 1.0) -> EcefPipeline:
    grids = tuple(g for found in _GRIDS.findall(t.definition) for g in found.split(","))
    return EcefPipeline(source, t.definition, z_scale, note, grids)


def _is_french(horizontal: CRS) -> bool:
    """RGF93-based (Lambert-93, CC zones...): heights are NGF-IGN69 by French convention."""
    datum = horizontal.datum.name if horizontal.datum is not None else ""
    return "Reseau Geodesique Francais 1993" in datum or "RGF93" in datum


@lru_cache(maxsize=32)
def ecef_pipeline(source: str) -> EcefPipeline:
    """Choose how coordinates in `source` (any pyproj input: "EPSG:2154", WKT...) become ECEF.

    - geocentric or 3D (ellipsoidal height) CRS: used as is;
    - compound CRS (horizontal + vertical): the best transformation PROJ can run with the grids
      installed here (e.g. fr_ign_RAF20.tif for NGF-IGN69 when present);
    - 2D CRS: the vertical datum is assumed (NGF-IGN69 for RGF93-based CRSs such as Lambert-93,
      EGM96 elsewhere), and the note says so;
    - when the vertical datum's grid is missing, the vertical datum is approximated by EGM96
      (egm96_15.gtx), within about a metre of NGF-IGN69 in mainland France; never silently by
      the ellipsoid (an error of ~50 m in France).
    """
    crs = CRS.from_user_input(source)
    if crs.is_geocentric:
        t = transformer(crs.to_wkt(), ECEF)
        return _pipeline(
            source, t, "source CRS is geocentric: coordinates used as ECEF as they are"
        )
    if crs.is_compound:
        horizontal, vertical = crs.sub_crs_list[0], crs.sub_crs_list[1]
        assumed = ""
    elif len(crs.axis_info) == 3:
        t = transformer(crs.to_wkt(), ECEF)
        return _pipeline(
            source,
            t,
            f"source CRS {crs.name} is 3D: heights taken as ellipsoidal, no geoid applied",
        )
    else:
        horizontal = crs
        vertical = CRS.from_user_input(NGF_IGN69_HEIGHT if _is_french(crs) else EGM96_HEIGHT)
        assumed = f"source CRS {crs.name} has no vertical part: heights assumed {vertical.name}; "
    compound = CompoundCRS(f"{horizontal.name} + {vertical.name}", [horizontal, vertical])
    usable, missing = _vertical_ops(compound)
    if usable:
        grids = _GRIDS.findall(usable[0].definition)
        how = f"via grid {', '.join(grids)}" if grids else "by PROJ (no grid needed)"
        return _pipeline(source, usable[0], f"{assumed}{vertical.name} -> ellipsoidal {how}")
    egm96 = CRS.from_user_input(EGM96_HEIGHT)
    z_scale = vertical.axis_info[0].unit_conversion_factor if vertical.axis_info else 1.0
    usable, _ = _vertical_ops(CompoundCRS(f"{horizontal.name} + EGM96", [horizontal, egm96]))
    grids = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "") or "none known"
    lacking = f"no grid for {vertical.name} is installed ({grids})"
    if usable:
        close = (
            "within about a metre of NGF-IGN69 in mainland France"
            if "NGF-IGN69" in vertical.name
            else "a global geoid: expect up to a few metres of vertical offset"
        )
        note = f"{assumed}{lacking}: vertical datum approximated by EGM96 (egm96_15.gtx), {close}"
        return _pipeline(source, usable[0], note, z_scale)
    t = transformer(horizontal.to_3d().to_wkt(), ECEF)
    note = f"{assumed}{lacking} and so is EGM96's: heights used as ellipsoidal (error up to ~50 m)"
    return _pipeline(source, t, note, z_scale)


def lonlat_bounds(source: str, bounds: tuple[float, float, float, float]) -> tuple[float, ...]:
    """(west, south, east, north) degrees of a (minx, miny, maxx, maxy) box in `source`,
    edges densified so the curved image of the box is enclosed."""
    crs = CRS.from_user_input(source)
    if crs.is_compound:
        crs = crs.sub_crs_list[0]
    t = transformer(crs.to_wkt(), "EPSG:4326")
    return tuple(float(v) for v in t.transform_bounds(*bounds, densify_pts=21))


# --- fast source -> local ENU for many points ------------------------------------------------


def ecef_to_local_matrix(enu_to_ecef: NDArray[np.float64]) -> NDArray[np.float64]:
    """Inverse of a rigid ENU->ECEF matrix (rotation transposed)."""
    m = np.eye(4)
    r = enu_to_ecef[:3, :3]
    m[:3, :3] = r.T
    m[:3, 3] = -r.T @ enu_to_ecef[:3, 3]
    return m


@lru_cache(maxsize=32)
def _metres_per_unit(source: str) -> float:
    """Roughly how many metres one unit of the CRS's first axis is (degrees: ~111 km)."""
    crs = CRS.from_user_input(source)
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return 111_000.0 * unit * 180.0 / np.pi if crs.is_geographic else unit


def to_local(
    pipe: EcefPipeline,
    enu_to_ecef: NDArray[np.float64],
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    z: NDArray[np.float64],
    *,
    cell: float = 20.0,
    tolerance: float = 1e-3,
) -> NDArray[np.float64]:
    """Source coordinates to the local ENU frame of `enu_to_ecef`, shape (n, 3), fast.

    Why: PROJ costs about 1 µs a point here, as much as decompressing LAZ. For a fixed (x, y),
    every supported pipeline (projection inverse, additive geoid shift, geodetic -> geocentric) is
    affine in z, so local = A(x, y) + z * U(x, y). A and U are computed exactly by pyproj on a grid
    of `cell` metres over the points' extent and interpolated bilinearly: the error is about
    cell² / (8 R), micrometres for 20 m. A sample of points is checked against pyproj directly;
    above `tolerance` metres (a grid edge, an exotic CRS) or when the grid would not be much
    smaller than the input, every point goes through pyproj instead.
    """
    x, y, z = (np.asarray(v, np.float64) for v in (x, y, z))
    inv = ecef_to_local_matrix(enu_to_ecef)

    def exact(xs: NDArray, ys: NDArray, zs: NDArray) -> NDArray[np.float64]:
        return pipe.to_ecef(xs, ys, zs) @ inv[:3, :3].T + inv[:3, 3]

    n = x.size
    if n < 4096:
        return exact(x, y, z)
    step = cell / _metres_per_unit(pipe.source)
    x0, x1, y0, y1 = x.min(), x.max(), y.min(), y.max()
    nx, ny = int((x1 - x0) / step) + 2, int((y1 - y0) / step) + 2
    if not (np.isfinite(step) and step > 0) or 2 * nx * ny > n // 4:
        return exact(x, y, z)
    gx, gy = np.meshgrid(x0 + step * np.arange(nx), y0 + step * np.arange(ny))
    base = exact(gx.ravel(), gy.ravel(), np.zeros(gx.size)).reshape(ny, nx, 3)
    up = exact(gx.ravel(), gy.ravel(), np.ones(gx.size)).reshape(ny, nx, 3) - base
    if not (np.isfinite(base).all() and np.isfinite(up).all()):
        return exact(x, y, z)
    fx, fy = (x - x0) / step, (y - y0) / step
    ix = np.minimum(fx.astype(np.int64), nx - 2)
    iy = np.minimum(fy.astype(np.int64), ny - 2)
    fx -= ix
    fy -= iy
    i00 = iy * nx + ix
    corners = ((i00, (1 - fx) * (1 - fy)), (i00 + 1, fx * (1 - fy)))
    corners += ((i00 + nx, (1 - fx) * fy), (i00 + nx + 1, fx * fy))
    out = np.empty((n, 3))
    for c in range(3):
        b, u = base[..., c].ravel(), up[..., c].ravel()
        acc, acc_up = np.zeros(n), np.zeros(n)
        for index, weight in corners:
            acc += np.take(b, index) * weight
            acc_up += np.take(u, index) * weight
        acc_up *= z
        out[:, c] = acc + acc_up
    sample = np.linspace(0, n - 1, 64).astype(np.int64)
    err = np.abs(exact(x[sample], y[sample], z[sample]) - out[sample]).max()
    if not err <= tolerance:
        return exact(x, y, z)
    return out
