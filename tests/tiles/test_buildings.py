"""tiles.buildings on the real BDNB building layers of Paris 11e and Périgueux.

The output is decoded independently of the writer: property tables are read from the GLB bytes
by the EXT_structural_metadata rules, vertex positions are taken through the node translation,
glTF's y-up, the root transform and pyproj (ECEF -> lon/lat/h), and compared with the source
file read by pyogrio and transformed by pyproj directly.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pytest
import shapely
import shapely.ops
from numpy.typing import NDArray
from pyproj import Transformer

from geodata.vector import VectorError
from tiles.buildings import (
    NO_DATA,
    BuildingOptions,
    VectorResult,
    property_ids,
    quadtree,
    tile_vector_layer,
    triangulate_polygon,
)
from tiles.gltf import accessor_array, read_glb
from tiles.validate import GltfValidatorUnavailable, validate_glbs, validate_tileset_tree

SHARED = Path(__file__).resolve().parents[3] / "shared"
SCHEMAS = SHARED / "schemas" / "3d-tiles-1.1"
VECTOR = SHARED / "data" / "vector"
PARIS = VECTOR / "paris11_bdnb" / "paris11_bdnb.shp"
PERIGUEUX = VECTOR / "perigueux_bdnb" / "bdnb_perigeux8.shp"
FLOODED = VECTOR / "perigueux_bdnb" / "bat_innondable.shp"
COMMUNE = VECTOR / "perigueux_commune" / "perigeux.shp"
DATA = SHARED / "data"
# buildings with courtyards (holes), by BDNB id: (file, id)
KNOWN = {
    "paris": (PARIS, "BATIMENT0000000245187737-3"),
    "perigueux": (PERIGUEUX, "BATIMENT0000000049622388-9"),
}
TO_LONLAT_H = Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)


def need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"test data not found: {path}")
    return path


# --- decoding the output, independently of the writer -----------------------------------------

_SCALARS = {"FLOAT64": np.float64, "FLOAT32": np.float32, "INT32": np.int32, "INT64": np.int64}


def _view(gltf: dict[str, Any], binary: bytes, index: int) -> bytes:
    view = gltf["bufferViews"][index]
    start = view.get("byteOffset", 0)
    return binary[start : start + view["byteLength"]]


def property_table(gltf: dict[str, Any], binary: bytes) -> dict[str, list[Any]]:
    """Every property of the (only) property table, by source field name, None for noData."""
    meta = gltf["extensions"]["EXT_structural_metadata"]
    [table] = meta["propertyTables"]
    cls = meta["schema"]["classes"][table["class"]]["properties"]
    count = table["count"]
    out: dict[str, list[Any]] = {}
    for pid, prop in table["properties"].items():
        definition = cls[pid]
        kind = definition["type"]
        raw = _view(gltf, binary, prop["values"])
        if kind == "STRING":
            offsets = np.frombuffer(_view(gltf, binary, prop["stringOffsets"]), np.uint32)
            assert len(offsets) == count + 1
            values: list[Any] = [
                raw[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count)
            ]
        elif kind == "BOOLEAN":
            bits = np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little")
            values = [bool(b) for b in bits[:count]]
        else:
            start = gltf["bufferViews"][prop["values"]].get("byteOffset", 0)
            dtype = np.dtype(_SCALARS[definition["componentType"]])
            assert start % dtype.itemsize == 0, "property values must be aligned"
            values = np.frombuffer(raw, dtype, count=count).tolist()
        if "noData" in definition:
            values = [None if v == definition["noData"] else v for v in values]
        out[definition.get("name", pid)] = values
    return out


def _tiles(tileset: dict[str, Any]) -> list[dict[str, Any]]:
    out, stack = [], [tileset["root"]]
    while stack:
        tile = stack.pop()
        out.append(tile)
        stack.extend(tile.get("children", []))
    return out


def _root_matrix(tileset: dict[str, Any]) -> NDArray[np.float64]:
    return np.asarray(tileset["root"]["transform"], np.float64).reshape(4, 4).T


class Decoded:
    """All tiles of an output folder, decoded."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.tileset = json.loads((out / "tileset.json").read_text(encoding="utf-8"))
        self.matrix = _root_matrix(self.tileset)
        self.glbs = sorted(out.rglob("*.glb"))
        self.tables: list[dict[str, list[Any]]] = []
        self.meshes: list[dict[str, NDArray]] = []
        for path in self.glbs:
            gltf, binary = read_glb(path)
            self.tables.append(property_table(gltf, binary))
            [prim] = gltf["meshes"][0]["primitives"]
            attrs = prim["attributes"]
            pos = accessor_array(gltf, binary, attrs["POSITION"]).astype(np.float64)
            pos += np.asarray(gltf["nodes"][0]["translation"])
            enu = np.stack([pos[:, 0], -pos[:, 2], pos[:, 1]], axis=1)  # y-up -> z-up
            normal = accessor_array(gltf, binary, attrs["NORMAL"]).astype(np.float64)
            self.meshes.append(
                {
                    "enu": enu,
                    "normal": np.stack([normal[:, 0], -normal[:, 2], normal[:, 1]], axis=1),
                    "fid": accessor_array(gltf, binary, attrs["_FEATURE_ID_0"]).astype(np.int64),
                    "indices": accessor_array(gltf, binary, prim["indices"]).reshape(-1, 3),
                    "feature_ids": prim["extensions"]["EXT_mesh_features"]["featureIds"][0],
                }
            )

    def find(self, field: str, value: Any) -> tuple[int, int]:
        """(tile, feature id) of the building whose `field` is `value`."""
        hits = [
            (t, i)
            for t, table in enumerate(self.tables)
            for i, v in enumerate(table[field])
            if v == value
        ]
        assert len(hits) == 1, hits
        return hits[0]

    def lonlat_h(self, enu: NDArray[np.float64]) -> NDArray[np.float64]:
        ecef = np.c_[enu, np.ones(len(enu))] @ self.matrix.T
        return np.stack(TO_LONLAT_H.transform(ecef[:, 0], ecef[:, 1], ecef[:, 2]), axis=1)


def _source(path: Path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    meta, _, wkb, values = pyogrio.raw.read(path)
    return dict(zip(meta["fields"], values, strict=True)), shapely.from_wkb(wkb)


def _geoid(lon: float, lat: float, note: str) -> float:
    """Geoid undulation (m) at a point, by pyproj, for the vertical datum the note names."""
    vertical = "5773" if "EGM96" in note else "5720"  # EGM96, else NGF-IGN69 with its grid
    t = Transformer.from_crs(f"EPSG:4326+{vertical}", "EPSG:4979", always_xy=True)
    return float(t.transform(lon, lat, 0.0)[2])


def _metres(lonlat_a: NDArray, lonlat_b: NDArray) -> NDArray[np.float64]:
    """Horizontal distances (m) between lon/lat points, locally flat (fine below 1 km)."""
    lat = np.radians(lonlat_a[:, 1])
    dx = np.radians(lonlat_a[:, 0] - lonlat_b[:, 0]) * 6_378_137.0 * np.cos(lat)
    dy = np.radians(lonlat_a[:, 1] - lonlat_b[:, 1]) * 6_356_752.0
    return np.hypot(dx, dy)


# --- the two real layers, converted once ------------------------------------------------------


@pytest.fixture(scope="module", params=sorted(KNOWN))
def converted(request, tmp_path_factory) -> tuple[str, VectorResult, Decoded]:
    name = request.param
    path = need(KNOWN[name][0])
    out = tmp_path_factory.mktemp(name)
    calls: list[tuple[float, str]] = []
    result = tile_vector_layer([path], out, progress=lambda f, m: calls.append((f, m)))
    assert calls and calls[-1][0] == 1.0
    assert [f for f, _ in calls] == sorted(f for f, _ in calls)
    return name, result, Decoded(out)


def test_result(converted) -> None:
    name, result, decoded = converted
    expected = {"paris": 5227, "perigueux": 10381}[name]
    assert result.feature_count == expected
    assert result.source_crs == "EPSG:4326"  # Paris: from a GCS_unknown .prj
    assert result.repaired == 0 and result.skipped == 0
    assert result.tile_count == len(decoded.glbs) > 1
    names = [a["name"] for a in result.attributes]
    assert names == [
        "fid",
        "batiment_c",
        "batiment_g",
        "code_depar",
        "code_iris",
        "code_commu",
        "s_geom_cst",
        "hauteur",
        "altitude_s",
        "fictive_ge",
    ]
    types = {a["name"]: a["type"] for a in result.attributes}
    assert types["hauteur"] == "FLOAT64" and types["batiment_c"] == "STRING"
    assert types["fictive_ge"] == "INT32"
    assert "'hauteur'" in result.height_note and "'altitude_s'" in result.height_note
    assert "EGM96" in result.height_note or "RAF" in result.height_note
    w, s, e, n = result.bounds_wgs84
    fields, _ = _source(KNOWN[name][0])
    assert result.bounds_source[2] == pytest.approx(np.nanmin(fields["altitude_s"]))
    top = fields["altitude_s"] + fields["hauteur"]
    assert result.bounds_source[5] == pytest.approx(np.nanmax(top))
    x0, y0, _, x1, y1, _ = result.bounds_source
    assert (w, s, e, n) == pytest.approx((x0, y0, x1, y1))


def test_every_feature_once(converted) -> None:
    name, result, decoded = converted
    fields, _ = _source(KNOWN[name][0])
    ids: list[str] = []
    for table, mesh in zip(decoded.tables, decoded.meshes, strict=True):
        count = len(table["batiment_c"])
        assert mesh["feature_ids"]["featureCount"] == count
        assert mesh["feature_ids"]["propertyTable"] == 0 and mesh["feature_ids"]["attribute"] == 0
        # every feature of the table has geometry, and no vertex points past the table
        assert set(np.unique(mesh["fid"]).tolist()) == set(range(count))
        ids += table["batiment_c"]
    assert len(ids) == result.feature_count
    assert sorted(ids) == sorted(fields["batiment_c"].tolist())


def test_tileset_is_valid(converted) -> None:
    _, result, decoded = converted
    if not (SCHEMAS / "tileset.schema.json").is_file():
        pytest.skip(f"3D Tiles schemas not found at {SCHEMAS}")
    assert validate_tileset_tree(decoded.out / "tileset.json", SCHEMAS) == []
    tileset = decoded.tileset
    assert tileset["asset"]["version"] == "1.1"
    assert tileset["root"]["refine"] == "ADD"
    tiles = _tiles(tileset)
    contents = [t for t in tiles if "content" in t]
    assert len(contents) == result.tile_count
    for tile in tiles:
        kids = tile.get("children", [])
        assert all(k["geometricError"] <= tile["geometricError"] for k in kids)
        assert ("content" in tile) == (not kids)  # content at the leaves only
    assert tileset["geometricError"] >= tileset["root"]["geometricError"] > 0


def test_boxes_hold_their_content(converted) -> None:
    _, _, decoded = converted
    by_uri = {
        p.relative_to(decoded.out).as_posix(): m
        for p, m in zip(decoded.glbs, decoded.meshes, strict=True)
    }

    def check(tile: dict[str, Any]) -> tuple[NDArray, NDArray]:
        box = np.asarray(tile["boundingVolume"]["box"])
        centre, half = box[:3], np.abs(box[3:].reshape(3, 3)).sum(axis=0)
        if "content" in tile:
            enu = by_uri[tile["content"]["uri"]]["enu"]
            lo, hi = enu.min(axis=0), enu.max(axis=0)
            assert np.all(lo >= centre - half - 1e-3) and np.all(hi <= centre + half + 1e-3)
            assert np.allclose(lo, centre - half, atol=0.01)  # tight
            return lo, hi
        parts = [check(k) for k in tile["children"]]
        lo, hi = np.min([p[0] for p in parts], axis=0), np.max([p[1] for p in parts], axis=0)
        assert np.all(lo >= centre - half - 1e-3) and np.all(hi <= centre + half + 1e-3)
        return lo, hi

    check(decoded.tileset["root"])


def test_glbs_pass_the_khronos_validator(converted) -> None:
    _, _, decoded = converted
    try:
        errors = validate_glbs(decoded.glbs)
    except GltfValidatorUnavailable as exc:
        pytest.skip(str(exc))
    assert all(v == [] for v in errors.values()), errors


def test_glb_structure(converted) -> None:
    _, _, decoded = converted
    gltf, _ = read_glb(decoded.glbs[0])
    assert set(gltf["extensionsUsed"]) == {"EXT_mesh_features", "EXT_structural_metadata"}
    [prim] = gltf["meshes"][0]["primitives"]
    assert prim["mode"] == 4
    assert gltf["accessors"][prim["attributes"]["POSITION"]]["componentType"] == 5126  # float32
    assert gltf["accessors"][prim["attributes"]["_FEATURE_ID_0"]]["componentType"] in (
        5121,
        5123,
        5126,
    )
    schema = gltf["extensions"]["EXT_structural_metadata"]["schema"]
    props = schema["classes"]["building"]["properties"]
    assert props["hauteur"] == {
        "name": "hauteur",
        "type": "SCALAR",
        "componentType": "FLOAT64",
        "noData": NO_DATA["FLOAT64"],
    }
    assert props["batiment_c"]["type"] == "STRING"


def test_known_building(converted) -> None:
    """One building's attributes, roof height and footprint against the source file."""
    name, result, decoded = converted
    path, bdnb_id = KNOWN[name]
    fields, geoms = _source(path)
    row = int(np.flatnonzero(fields["batiment_c"] == bdnb_id)[0])
    tile, fid = decoded.find("batiment_c", bdnb_id)
    table = decoded.tables[tile]
    for field, values in fields.items():
        got, want = table[field][fid], values[row]
        if isinstance(want, float) and math.isnan(want):
            assert got is None, field
        else:
            assert got == want, field
    mesh = decoded.meshes[tile]
    enu = mesh["enu"][mesh["fid"] == fid]
    llh = decoded.lonlat_h(enu)
    ground, height = fields["altitude_s"][row], fields["hauteur"][row]
    polygon = geoms[row]
    lon, lat = polygon.centroid.x, polygon.centroid.y
    n = _geoid(lon, lat, result.height_note)
    assert abs(n) > 10  # the geoid is really applied (about 44-50 m in France)
    assert llh[:, 2].max() == pytest.approx(ground + height + n, abs=0.01)
    assert llh[:, 2].min() == pytest.approx(ground + n, abs=0.01)
    # footprint: every source vertex is a mesh vertex and back, within 1 cm
    source = shapely.get_coordinates(polygon)
    for a, b in ((source, llh[:, :2]), (llh[:, :2], source)):
        nearest = np.array([_metres(np.repeat(p[None], len(b), 0), b).min() for p in a])
        assert nearest.max() < 0.01
    assert shapely.get_num_interior_rings(polygon) > 0  # a building with a courtyard


def test_known_building_roof_area(converted) -> None:
    """The roof triangles cover the footprint exactly: courtyards stay open, re-entrant corners
    are not filled (a Delaunay triangulation of the vertices would fail this)."""
    name, _, decoded = converted
    path, bdnb_id = KNOWN[name]
    fields, geoms = _source(path)
    polygon = geoms[int(np.flatnonzero(fields["batiment_c"] == bdnb_id)[0])]
    tile, fid = decoded.find("batiment_c", bdnb_id)
    mesh = decoded.meshes[tile]
    tris = mesh["indices"][mesh["fid"][mesh["indices"][:, 0]] == fid]
    up = mesh["normal"][tris[:, 0]]
    roof = tris[up[:, 2] > 0.99]
    a, b, c = (mesh["enu"][roof[:, k]] for k in range(3))
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1).sum()
    c = polygon.centroid
    aeqd = Transformer.from_crs(
        "EPSG:4326", f"+proj=aeqd +lat_0={c.y} +lon_0={c.x} +ellps=WGS84", always_xy=True
    )
    expected = shapely.transform(polygon, lambda xy: np.stack(aeqd.transform(*xy.T), 1)).area
    # the roof is h metres above the ellipsoid, where lengths are (R + h) / R longer
    h = decoded.lonlat_h(a[:1])[0, 2]
    assert area == pytest.approx(expected * (1 + h / 6_378_000) ** 2, rel=1e-5)
    # walls: one quad (2 triangles) per footprint edge
    edges = shapely.get_num_coordinates(polygon) - 1 - shapely.get_num_interior_rings(polygon)
    assert len(tris) - len(roof) == 2 * edges


def test_normals_point_out_and_up(converted) -> None:
    _, _, decoded = converted
    mesh = decoded.meshes[0]
    tri = mesh["indices"]
    a, b, c = (mesh["enu"][tri[:, k]] for k in range(3))
    face = np.cross(b - a, c - a)
    length = np.linalg.norm(face, axis=1)
    ok = length > 0.02  # faces over 1 dm²: float32 can flip a sliver of a roof
    dot = np.einsum("ij,ij->i", face[ok] / length[ok, None], mesh["normal"][tri[ok, 0]])
    assert np.all(dot > 0.9)  # counter-clockwise seen from outside
    big = length[ok] > 2  # over 1 m²: flat shading, the normal is the face's
    assert np.all(dot[big] > 0.999)
    assert np.allclose(np.linalg.norm(mesh["normal"], axis=1), 1, atol=1e-5)


# --- roof triangulation ----------------------------------------------------------------------


def _triangle_areas(xy: NDArray, tris: NDArray) -> NDArray[np.float64]:
    a, b, c = xy[tris[:, 0]], xy[tris[:, 1]], xy[tris[:, 2]]
    return 0.5 * (
        (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
    )


def _check_triangulation(polygon: shapely.Polygon) -> None:
    xy, tris = triangulate_polygon(polygon)
    areas = _triangle_areas(xy, tris)
    assert np.all(areas >= -1e-12)  # all counter-clockwise
    assert areas.sum() == pytest.approx(polygon.area, rel=1e-6)
    centroids = shapely.points(xy[tris].mean(axis=1))
    assert shapely.covers(polygon.buffer(1e-9), centroids).all()


def test_roof_triangulation_on_real_footprints() -> None:
    """The most concave footprints and some with courtyards, in Lambert-93 metres."""
    need(PARIS)
    _, geoms = _source(PARIS)
    to_l93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    geoms = shapely.transform(geoms, lambda xy: np.stack(to_l93.transform(*xy.T), 1))
    concavity = shapely.area(geoms) / shapely.area(shapely.convex_hull(geoms))
    holes = np.flatnonzero(shapely.get_num_interior_rings(geoms) > 0)
    picks = np.r_[np.argsort(concavity)[:15], holes[:15]]
    for polygon in geoms[picks]:
        _check_triangulation(polygon)
    # a Delaunay triangulation of the vertices fills the concave parts: the check catches it
    worst = geoms[np.argmin(concavity)]
    delaunay = shapely.ops.triangulate(worst)
    assert sum(t.area for t in delaunay) > 1.5 * worst.area


def test_roof_triangulation_shapes() -> None:
    u_shape = shapely.Polygon(
        [(0, 0), (30, 0), (30, 20), (20, 20), (20, 5), (10, 5), (10, 20), (0, 20)]
    )
    courtyard = shapely.Polygon(
        [(0, 0), (40, 0), (40, 40), (0, 40)], holes=[[(10, 10), (10, 30), (30, 30), (30, 10)]]
    )
    clockwise = shapely.Polygon([(0, 0), (0, 10), (5, 2), (10, 10), (10, 0)])
    two = shapely.MultiPolygon([u_shape, shapely.affinity.translate(courtyard, 100, 0)])
    for polygon in (u_shape, courtyard, clockwise, two):
        _check_triangulation(polygon)


# --- other layers and failures ---------------------------------------------------------------


def test_commune_in_lambert93_without_height_is_draped(tmp_path: Path) -> None:
    """A polygon layer with no height field and no height given is draped (tiles.draped), not
    extruded to a default 3 m as before; a height given explicitly still extrudes it."""
    result = tile_vector_layer([need(COMMUNE)], tmp_path / "draped")
    assert result.source_crs == "EPSG:2154"
    assert result.feature_count == 1 and result.tile_count == 1
    assert result.draped and result.geometry == "polygon"
    assert "draped" in result.height_note and "default height" not in result.height_note
    assert (result.bounds_source[2], result.bounds_source[5]) == (-100, 1000)
    decoded = Decoded(tmp_path / "draped")
    assert decoded.tileset["asset"]["extras"]["twin"] == {"draped": True, "geometry": "polygon"}
    [table] = decoded.tables
    assert table["NOM"] == ["Périgueux"] and table["POPULATION"] == [29896]
    w, s, e, n = result.bounds_wgs84
    assert 0.6 < w < e < 0.8 and 45.1 < s < n < 45.3
    if (SCHEMAS / "tileset.schema.json").is_file():
        assert validate_tileset_tree(tmp_path / "draped" / "tileset.json", SCHEMAS) == []
    flat = tile_vector_layer([COMMUNE], tmp_path / "flat", height=3)
    assert not flat.draped and "height 3 m for every feature" in flat.height_note
    assert "ground at 0 m" in flat.height_note
    assert flat.bounds_source[2] == 0 and flat.bounds_source[5] == 3
    tileset = Decoded(tmp_path / "flat").tileset
    assert tileset["asset"]["extras"]["twin"] == {"draped": False, "geometry": "polygon"}


def test_lambert93_geopackage_agrees_with_wgs84(tmp_path: Path) -> None:
    """The flooded buildings reprojected to Lambert-93 in a GeoPackage, cut into many small
    tiles and spilled to disk at every batch, land where the WGS84 shapefile's do."""
    need(FLOODED)
    meta, _, wkb, values = pyogrio.raw.read(FLOODED)
    to_l93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    geoms = shapely.transform(
        shapely.from_wkb(wkb), lambda xy: np.stack(to_l93.transform(*xy.T), 1)
    )
    gpkg = tmp_path / "flooded.gpkg"
    names = ["source_fid" if f == "fid" else f for f in meta["fields"]]
    pyogrio.raw.write(
        gpkg,
        shapely.to_wkb(geoms),
        values,
        names,
        crs="EPSG:2154",
        geometry_type="Polygon",
        driver="GPKG",
    )
    options = BuildingOptions(batch_size=50, leaf_features=40, memory_budget=0)
    a = tile_vector_layer([gpkg], tmp_path / "l93", options=options)
    b = tile_vector_layer([FLOODED], tmp_path / "wgs84")
    assert a.feature_count == b.feature_count == 364
    assert a.source_crs == "EPSG:2154"
    assert a.tile_count >= 9
    assert not (tmp_path / "l93" / ".buildings-work").exists()
    if (SCHEMAS / "tileset.schema.json").is_file():
        assert validate_tileset_tree(tmp_path / "l93" / "tileset.json", SCHEMAS) == []
    da, db = Decoded(tmp_path / "l93"), Decoded(tmp_path / "wgs84")
    for bdnb_id in values[list(meta["fields"]).index("batiment_c")][::60]:
        tops = []
        for d in (da, db):
            tile, fid = d.find("batiment_c", bdnb_id)
            mesh = d.meshes[tile]
            llh = d.lonlat_h(mesh["enu"][mesh["fid"] == fid])
            tops.append(llh[np.argmax(llh[:, 2])])
        assert _metres(tops[0][None, :2], tops[1][None, :2])[0] < 0.01
        assert tops[0][2] == pytest.approx(tops[1][2], abs=0.01)


def test_height_argument(tmp_path: Path) -> None:
    need(FLOODED)
    constant = tile_vector_layer([FLOODED], tmp_path / "c", height=12.5)
    assert "12.5 m for every feature" in constant.height_note
    lo, hi = constant.bounds_source[2], constant.bounds_source[5]
    fields, _ = _source(FLOODED)
    assert hi == pytest.approx(np.nanmax(fields["altitude_s"]) + 12.5)
    assert lo == pytest.approx(np.nanmin(fields["altitude_s"]))
    named = tile_vector_layer([FLOODED], tmp_path / "n", height="s_geom_cst")
    assert "'s_geom_cst'" in named.height_note
    with pytest.raises(VectorError, match="nope"):
        tile_vector_layer([FLOODED], tmp_path / "x", height="nope")


def _geojson(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    return path


def _square(x: float, y: float, d: float = 0.0001) -> dict:
    ring = [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_bowtie_repaired_and_nulls(tmp_path: Path) -> None:
    bowtie = {
        "type": "Polygon",
        "coordinates": [[[5.0, 43.0], [5.001, 43.001], [5.001, 43.0], [5.0, 43.001], [5.0, 43.0]]],
    }
    features = [
        {
            "type": "Feature",
            "properties": {"nom": "nœud", "etages": 2, "ok": True, "x": 1.5},
            "geometry": bowtie,
        },
        {
            "type": "Feature",
            "properties": {"nom": None, "etages": None, "ok": None, "x": None},
            "geometry": _square(5.01, 43.0),
        },
        {
            "type": "Feature",
            "properties": {"nom": "vide", "etages": 1, "ok": False, "x": 2.0},
            "geometry": None,
        },
    ]
    path = _geojson(tmp_path / "bowtie.geojson", features)
    result = tile_vector_layer([path], tmp_path / "out")
    assert result.repaired == 1
    assert result.feature_count == 2 and result.skipped == 1
    assert any("empty" in n for n in result.notes) and any("repaired" in n for n in result.notes)
    assert (
        "'etages'" in result.height_note and "default" not in result.height_note.split(";")[0][:5]
    )
    [table] = Decoded(tmp_path / "out").tables
    assert table["nom"] == ["nœud", None]
    assert table["etages"] == [2, None]
    assert table["ok"] == [True, False]  # BOOLEAN has no noData: null reads false
    assert table["x"] == [1.5, None]
    assert result.bounds_source[5] == pytest.approx(6.0)  # 2 levels x 3 m; the other 3 m


def test_lines_are_draped_not_extruded(tmp_path: Path) -> None:
    """Line layers were refused; they are now draped (tests/tiles/test_draped.py has more)."""
    line = {"type": "LineString", "coordinates": [[5.0, 43.0], [5.001, 43.001]]}
    path = _geojson(
        tmp_path / "roads.geojson",
        [{"type": "Feature", "properties": {"hauteur": 4.0}, "geometry": line}],
    )
    result = tile_vector_layer([path], tmp_path / "out")
    assert result.draped and result.geometry == "line" and result.feature_count == 1
    with pytest.raises(VectorError, match="polygon layers"):
        tile_vector_layer([path], tmp_path / "x", height=5)


@pytest.mark.parametrize("name", ["dem/pysheds_dem.tif", "SOURCES.md"])
def test_non_vector_file(tmp_path: Path, name: str) -> None:
    path = need(DATA / name)
    with pytest.raises(VectorError, match=path.name):
        tile_vector_layer([path], tmp_path / "out")


def test_no_crs_and_no_srs(tmp_path: Path) -> None:
    need(COMMUNE)
    for suffix in (".shp", ".shx", ".dbf"):
        shutil.copy(COMMUNE.with_suffix(suffix), tmp_path / f"c{suffix}")
    with pytest.raises(VectorError, match="--srs"):
        tile_vector_layer([tmp_path / "c.shp"], tmp_path / "out")
    result = tile_vector_layer(
        [tmp_path / "c.shp", tmp_path / "c.shx", tmp_path / "c.dbf"],
        tmp_path / "out",
        srs="EPSG:2154",
    )
    assert result.source_crs == "EPSG:2154" and result.feature_count == 1


def test_progress_exception_stops(tmp_path: Path) -> None:
    need(FLOODED)
    calls: list[float] = []

    def progress(fraction: float, message: str) -> None:
        calls.append(fraction)
        if fraction > 0.5:
            raise KeyboardInterrupt("cancelled")

    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt, match="cancelled"):
        tile_vector_layer(
            [FLOODED], out, progress=progress, options=BuildingOptions(batch_size=100)
        )
    assert calls[-1] > 0.5 and calls[-1] < 1.0
    assert not (out / "tileset.json").exists()
    assert not (out / ".buildings-work").exists()


# --- pieces ----------------------------------------------------------------------------------


def test_quadtree_limits_leaves() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 1000, 10_000), rng.uniform(0, 1000, 10_000)
    x[:3000], y[:3000] = 5.0, 5.0  # a pile on one spot cannot be split: depth limit
    x[5], y[5] = np.nan, np.nan
    leaf_of, leaves, children = quadtree(x, y, 500, 8)
    assert leaf_of[5] == -1 and (leaf_of[np.arange(10_000) != 5] >= 0).all()
    counts = np.bincount(leaf_of[leaf_of >= 0], minlength=len(leaves))
    deep = [i for i, k in enumerate(leaves) if k[0] == 8]
    assert all(c <= 500 for i, c in enumerate(counts) if i not in deep)
    assert counts.sum() == 9_999
    assert all(len(v) <= 4 for v in children.values())


def test_property_ids() -> None:
    ids = property_ids(["hauteur", "building:height", "étages", "2d", "a b", "a_b"])
    assert ids == {
        "hauteur": "hauteur",
        "building:height": "building_height",
        "étages": "etages",
        "2d": "_2d",
        "a b": "a_b",
        "a_b": "a_b_2",
    }
