"""Draped features (networks, points of interest, parcels and zones) as closed 3D Tiles volumes.

CesiumJS drapes a tileset on what lies under it when the tileset is loaded with a
`classificationType` (ClassificationType.BOTH: terrain and other 3D Tiles): each closed volume
colours the surfaces inside it (stencil shadow volumes), and picking the coloured surface returns
the volume's feature with its properties. So every feature becomes one closed, watertight prism
(walls, top and floor wound outward; every edge shared by exactly two triangles of that feature).
Its vertices are shared by its faces, two per ring vertex, where buildings give every face its
own: shading is not drawn for a classification, and a ribbon network is then less than half the
size (normals still point outward, half-way between the faces that meet at a vertex).

- lines: ribbons, the line buffered by half its width (a width field: width, largeur...; else
  `DrapeOptions.line_width`, 2 m), with round caps and joins so that the ways of a network meet
  without gaps or notches, simplified within `tolerance` (1 cm);
- points: octagons `point_size` (3 m) across;
- polygons without a height (parcels, zones): their own footprint.

Buffers are taken in metres on the ground, in an azimuthal equidistant projection centred on the
layer and on the layer's own datum (pure conversions, no datum shift), then brought back to the
source CRS. From there on, everything is tiles.buildings' machinery: the local frame and geoid
(orthometric altitudes made ellipsoidal), the rings of footprints, their cap triangulation, the
quadtree, the spill store, the property tables holding every source attribute. This module only
says what volume each feature makes (`DrapedVolumes`, the `Volumes` of tiles.buildings);
tile_vector_layer decides when to drape.

Vertically a volume must enclose the ground under its feature, and not much more: every pixel a
volume covers on screen goes through the classification passes. Per feature, by preference:

1. a ground altitude field (the buildings' GROUND_FIELDS: altitude_sol, z_min_sol...): from
   `margin` (50 m) below it to `margin` above;
2. the geometry's Z: from `margin` below its lowest vertex to `margin` above its highest;
3. the ground of the nearest feature that has a ground altitude, +- `margin`;
4. else the layer-wide band `altitudes`, -100 m to 1,000 m orthometric: the ground of most
   towns; a mountain layer needs a higher band (DrapeOptions) or altitudes in its data.

Limits: a very large polygon (tens of km) has flat top and floor faces that sag below the
Earth's curve (about d^2 / 8R: 2 m for 10 km, 200 m for 100 km), so keep the band generous
there. Tangent-plane caps are triangulated as in tiles.buildings (earcut), without added points.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS
from pyproj.crs import ProjectedCRS
from pyproj.crs.coordinate_operation import AzimuthalEquidistantConversion
from pyproj.exceptions import CRSError

from geodata.crs import transformer
from geodata.vector import FeatureBatch, VectorError
from tiles.buildings import (
    ContentStyle,
    Mesh,
    _find,
    _Frame,
    _numeric,
    empty_mesh,
    footprint_rings,
)

WIDTH_FIELDS = (
    "width",
    "largeur",
    "width_m",
    "largeur_m",
    "largeur_de_chaussee",  # BD TOPO troncon_de_route
    "larg",
)
GENERATOR = "twin tiles.draped"
STYLES = {
    "line": ContentStyle(
        class_id="line",
        class_name="Draped line",
        description="a line draped on the ground (a ribbon); properties are the source attributes",
        table="lines",
        schema_id="twin_draped",
        colour=(1.0, 0.62, 0.1, 1.0),
        generator=GENERATOR,
    ),
    "point": ContentStyle(
        class_id="point",
        class_name="Draped point",
        description="a point draped on the ground (an octagon); properties are the source "
        "attributes",
        table="points",
        schema_id="twin_draped",
        colour=(0.9, 0.2, 0.25, 1.0),
        generator=GENERATOR,
    ),
    "polygon": ContentStyle(
        class_id="area",
        class_name="Draped area",
        description="a polygon draped on the ground (parcel, zone); properties are the source "
        "attributes",
        table="areas",
        schema_id="twin_draped",
        colour=(0.2, 0.55, 0.95, 1.0),
        generator=GENERATOR,
    ),
}


@dataclass(frozen=True)
class DrapeOptions:
    """Knobs of draped layers (BuildingOptions.drape). Lengths in metres."""

    line_width: float = 2.0  # ribbon width of lines without a width field (networks)
    point_size: float = 3.0  # across the octagon around each point
    margin: float = 50.0  # below and above a feature's known ground altitude(s)
    altitudes: tuple[float, float] = (-100.0, 1000.0)  # orthometric band without any altitude
    quad_segs: int = 2  # segments per quarter circle of round caps and joins
    tolerance: float = 0.01  # ribbons and octagons simplified within this

    def __post_init__(self) -> None:
        for name in ("line_width", "point_size", "margin"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"DrapeOptions.{name} must be a positive number, not {value!r}")
        low, high = self.altitudes
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"DrapeOptions.altitudes must be (low, high), not {self.altitudes!r}")
        if not (math.isfinite(self.tolerance) and self.tolerance >= 0):
            raise ValueError("DrapeOptions.tolerance must be a number >= 0")
        if self.quad_segs < 1:
            raise ValueError("DrapeOptions.quad_segs must be at least 1")


@dataclass
class _DrapeStats:
    ground_field: int = 0
    from_z: int = 0
    near: int = 0
    band: int = 0
    width_field: int = 0
    width_default: int = 0


def metric_crs(source: str, lon: float, lat: float) -> CRS:
    """An azimuthal equidistant projection centred on (lon, lat), on the datum of `source`'s
    horizontal part: distances from the centre are true, and within 50 km of it every distance
    is true to 1e-5 (scale c / sin c), so buffers taken in it are metres on the ground. Same
    datum: source <-> metric is a pair of conversions, exact both ways."""
    crs = CRS.from_user_input(source)
    if crs.is_compound:
        crs = crs.sub_crs_list[0]
    geodetic = crs.geodetic_crs
    if geodetic is None or crs.is_geocentric:
        raise VectorError(
            f"{crs.name}: lines and points can only be draped from a projected or geographic CRS"
        )
    try:
        if len(geodetic.axis_info) == 3:
            geodetic = geodetic.to_2d()
        return ProjectedCRS(
            AzimuthalEquidistantConversion(
                latitude_natural_origin=lat, longitude_natural_origin=lon
            ),
            name=f"twin local AEQD {lat:.6f} {lon:.6f}",
            geodetic_crs=geodetic,
        )
    except CRSError as exc:
        raise VectorError(f"{crs.name}: no metric projection for buffers ({exc})") from exc


class DrapedVolumes:
    """What volume each feature of a draped layer makes (the `Volumes` of tiles.buildings)."""

    def __init__(
        self,
        kind: str,
        names: list[str],
        ground_field: str | None,
        frame: _Frame,
        lonlat: tuple[float, ...],
        options: DrapeOptions | None = None,
        *,
        asked: bool = False,
    ) -> None:
        """`asked`: a polygon layer is draped because a height of 0 was given (else: because it
        has no height field); the note says which."""
        if kind not in STYLES:
            raise ValueError(f"kind must be one of {', '.join(STYLES)}")
        self.geometry = kind
        self.asked = asked
        self.style = STYLES[kind]
        self.options = options or DrapeOptions()
        self.ground_field = ground_field
        self.width_field = _find(names, WIDTH_FIELDS) if kind == "line" else None
        self.z_scale = frame.z_scale  # source vertical unit -> metres
        self.stats = _DrapeStats()
        self._to_metric = self._from_metric = None
        if kind != "polygon":
            lon, lat = (lonlat[0] + lonlat[2]) / 2, (lonlat[1] + lonlat[3]) / 2
            horizontal = CRS.from_user_input(frame.crs)
            if horizontal.is_compound:
                horizontal = horizontal.sub_crs_list[0]
            metric = metric_crs(frame.crs, lon, lat).to_wkt()
            self._to_metric = transformer(horizontal.to_wkt(), metric)
            self._from_metric = transformer(metric, horizontal.to_wkt())

    # --- footprints ---------------------------------------------------------------------------

    def _radius(self, batch: FeatureBatch, rows: NDArray[np.int64]) -> NDArray[np.float64]:
        """Half the width of each line (metres), or of each point's octagon."""
        if self.geometry == "point":
            return np.full(len(rows), self.options.point_size / 2)
        width, bad = _numeric(batch, self.width_field)
        width, bad = width[rows], bad[rows] | (width[rows] <= 0)
        self.stats.width_field += int((~bad).sum())
        self.stats.width_default += int(bad.sum())
        return np.where(bad, self.options.line_width, width) / 2

    def footprints(self, batch: FeatureBatch) -> NDArray[np.object_]:
        """Polygons as they are; lines and points buffered into ribbons and octagons, in the
        source CRS (None where there is no geometry or nothing left)."""
        geoms = batch.geometries
        if self.geometry == "polygon":
            return geoms
        assert self._to_metric is not None and self._from_metric is not None
        to_metric, from_metric = self._to_metric, self._from_metric
        out = np.full(len(geoms), None, dtype=object)
        rows = np.flatnonzero(~shapely.is_missing(geoms))
        if len(rows) == 0:
            return out
        metric = shapely.transform(
            geoms[rows], lambda xy: np.column_stack(to_metric.transform(xy[:, 0], xy[:, 1]))
        )
        buffered = shapely.buffer(
            metric,
            self._radius(batch, rows),
            quad_segs=self.options.quad_segs,
            cap_style="round",
            join_style="round",
        )
        if self.options.tolerance > 0:  # near-collinear and near-duplicate vertices out
            buffered = shapely.simplify(buffered, self.options.tolerance, preserve_topology=True)
        back = shapely.transform(
            buffered, lambda xy: np.column_stack(from_metric.transform(xy[:, 0], xy[:, 1]))
        )
        back[shapely.is_empty(back)] = None
        out[rows] = back
        return out

    # --- volumes ------------------------------------------------------------------------------

    @staticmethod
    def mesh(
        footprints: NDArray[np.object_],
        bottom: NDArray[np.float64],
        top: NDArray[np.float64],
        to_local: Callable[[NDArray, NDArray, NDArray], NDArray[np.float64]],
    ) -> Mesh:
        return prisms(footprints, bottom, top, to_local)

    # --- altitudes ----------------------------------------------------------------------------

    def vertical(
        self,
        batch: FeatureBatch,
        zmin: NDArray[np.float64],
        zmax: NDArray[np.float64],
        fill: NDArray[np.float64],
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Bottom and top of each volume, source vertical units (see the module's docstring)."""
        present = ~shapely.is_missing(batch.geometries)
        ground, bad = _numeric(batch, self.ground_field)
        low = np.where(bad, np.nan, ground)
        high = low.copy()
        from_z = bad & np.isfinite(zmin)
        low[from_z], high[from_z] = zmin[from_z], np.fmax(zmax[from_z], zmin[from_z])
        near = bad & ~from_z & np.isfinite(fill)
        low[near] = high[near] = fill[near]
        band = ~np.isfinite(low)
        margin = self.options.margin / self.z_scale
        low, high = low - margin, high + margin
        low[band] = self.options.altitudes[0] / self.z_scale
        high[band] = self.options.altitudes[1] / self.z_scale
        s = self.stats
        s.ground_field += int((~bad & present).sum())
        s.from_z += int((from_z & present).sum())
        s.near += int((near & present).sum())
        s.band += int((band & present).sum())
        return low, high

    def describe(self, any_z: bool) -> str:
        """The height note: how footprints were made, and between which altitudes."""
        o, s = self.options, self.stats
        head = "draped on terrain and 3D Tiles (closed volumes, CesiumJS classification)"
        if self.geometry == "polygon" and self.asked:
            shape = "polygons given a height of 0: draped, not extruded"
        elif self.geometry == "polygon":
            shape = "polygons without height field or height given: draped, not extruded"
        elif self.geometry == "point":
            shape = f"points as octagons {o.point_size:g} m across"
        elif self.width_field:
            shape = (
                f"lines as ribbons as wide as field {self.width_field!r} (m), else "
                f"{o.line_width:g} m ({s.width_default} lines)"
            )
        else:
            shape = f"lines as ribbons {o.line_width:g} m wide (no width field)"
        how = [
            f"{k} from {what}"
            for k, what in (
                (s.ground_field, f"field {self.ground_field!r} (orthometric altitude)"),
                (s.from_z, "the geometries' Z"),
                (s.near, "the nearest feature's ground"),
            )
            if k
        ]
        low, high = o.altitudes
        vertical = []
        if how:
            vertical.append(f"volumes from {o.margin:g} m below to {o.margin:g} m above the ground")
            vertical[-1] += ": " + ", ".join(how)
        if s.band:
            vertical.append(
                f"{s.band} features without any altitude: volumes from {low:g} m to {high:g} m "
                "(orthometric; a ground field or Z gives tighter ones)"
            )
        return "; ".join([head, shape, *vertical])


def prisms(
    geoms: NDArray[np.object_],
    bottom: NDArray[np.float64],
    top: NDArray[np.float64],
    to_local: Callable[[NDArray, NDArray, NDArray], NDArray[np.float64]],
) -> Mesh:
    """Closed volumes over polygon footprints, from `bottom` to `top` (source vertical units)
    in the local frame of `to_local`: walls, top and floor, wound counter-clockwise seen from
    outside. Every ring vertex gives two vertices (top, then floor) shared by the faces that
    meet there, so each edge of a feature's volume is shared by exactly two of its triangles;
    a vertex's normal is half-way between the outward horizontal of its two walls, tilted up at
    the top and down at the floor."""
    rings = footprint_rings(geoms, bottom, top, to_local)
    if rings is None:
        return empty_mesh()
    upper, lower, nxt = rings.upper, rings.bottom, rings.nxt
    n = len(upper)
    idx = np.arange(n)
    # top vertices are 0..n-1, floor vertices n..2n-1; the wall of edge i -> j is the quad
    # b_i, b_j, t_j, t_i, as in tiles.buildings.extrude
    walls = np.stack([n + idx, n + nxt, nxt, n + idx, nxt, idx], axis=1).reshape(-1, 3)
    cap = rings.caps()
    up = upper - lower
    up /= np.maximum(np.linalg.norm(up, axis=1, keepdims=True), 1e-12)
    outward = np.cross(upper[nxt] - upper, up)  # of the wall from each vertex to the next
    outward /= np.maximum(np.linalg.norm(outward, axis=1, keepdims=True), 1e-12)
    prv = np.empty_like(nxt)
    prv[nxt] = idx
    side = outward + outward[prv]
    side /= np.maximum(np.linalg.norm(side, axis=1, keepdims=True), 1e-12)
    normal = np.concatenate([side + up, side - up])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    return Mesh(
        position=np.concatenate([upper, lower]),
        normal=normal.astype(np.float32),
        triangles=np.concatenate([walls, cap, cap[:, ::-1] + n]),
        feature=np.concatenate([rings.feature, rings.feature]),
    )
