"""tiles.draped (through tiles.buildings.tile_vector_layer) on real layers: Monaco's OSM highways
and named points of interest, the Périgueux commune and the TRI flood zones of Périgueux.

The output is decoded independently of the writer (tests/tiles/test_buildings.Decoded): property
tables from the GLB bytes, positions through the node translation, glTF's y-up, the root
transform and pyproj, compared with the source read by pyogrio.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pytest
import shapely
from numpy.typing import NDArray
from pyproj import Transformer

from geodata.vector import VectorError
from tests.tiles.test_buildings import FLOODED, SCHEMAS, Decoded, _metres, need
from tiles.buildings import BuildingOptions, VectorResult, tile_vector_layer
from tiles.draped import DrapeOptions
from tiles.validate import GltfValidatorUnavailable, validate_glbs, validate_tileset_tree

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
OSM = DATA / "osm" / "monaco-osrm-2016.osm.pbf"
COMMUNE = DATA / "vector" / "perigueux_commune" / "perigeux.shp"
TRI = DATA / "flood" / "tri_perigueux" / "n_tri_peri_inondable_01_01for_s_024.shp"
# layer -> (how to get the source file, its geometry kind, a field identifying features)
LAYERS = {
    "highways": ("lines", "highway IS NOT NULL", "line", "osm_id"),
    "pois": ("points", "name IS NOT NULL", "point", "osm_id"),
    "commune": (None, None, "polygon", "ID"),
    "tri": (None, None, "polygon", "uuid"),
}
WIDTH = 2.0  # DrapeOptions' default ribbon width
POINT_SIZE = 3.0
WGS84_A, WGS84_E2 = 6_378_137.0, 0.00669437999014


def _local(lonlat: NDArray[np.float64], origin: NDArray[np.float64]) -> NDArray[np.float64]:
    """Lon/lat degrees to east/north metres from `origin`, by the ellipsoid's radii of
    curvature there (exact to a micrometre within metres)."""
    phi = np.radians(origin[1])
    w = 1 - WGS84_E2 * np.sin(phi) ** 2
    east = WGS84_A / np.sqrt(w) * np.cos(phi)
    north = WGS84_A * (1 - WGS84_E2) / w**1.5
    d = np.radians(np.asarray(lonlat, np.float64)[:, :2] - origin[:2])
    return np.column_stack([d[:, 0] * east, d[:, 1] * north])


def _osm_extract(out: Path, layer: str, where: str, crs: str = "EPSG:4326") -> Path:
    """One layer of the OSM file as a GeoPackage (tile_vector_layer takes a file's first polygon
    layer; an importer would do the same extraction), optionally reprojected."""
    meta, _, wkb, values = pyogrio.raw.read(need(OSM), layer=layer, where=where)
    geoms = shapely.from_wkb(wkb)
    if crs != "EPSG:4326":
        t = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(t.transform(*xy.T)))
    path = out / f"{layer}.gpkg"
    pyogrio.raw.write(
        path,
        shapely.to_wkb(geoms),
        values,
        list(meta["fields"]),
        crs=crs,
        geometry_type=meta["geometry_type"],
        driver="GPKG",
    )
    return path


def _source(path: Path) -> tuple[dict[str, NDArray], NDArray[np.object_]]:
    meta, _, wkb, values = pyogrio.raw.read(path)
    return dict(zip(meta["fields"], values, strict=True)), shapely.from_wkb(wkb)


@pytest.fixture(scope="module", params=sorted(LAYERS))
def draped(request, tmp_path_factory) -> tuple[str, Path, VectorResult, Decoded]:
    name = request.param
    osm_layer, where, _, _ = LAYERS[name]
    base = tmp_path_factory.mktemp(name)
    if osm_layer:
        path = _osm_extract(base, osm_layer, where)
    else:
        path = need(COMMUNE if name == "commune" else TRI)
    calls: list[float] = []
    result = tile_vector_layer([path], base / "out", progress=lambda f, _m: calls.append(f))
    assert calls == sorted(calls) and calls[-1] == 1.0
    return name, path, result, Decoded(base / "out")


# --- the layer as a whole --------------------------------------------------------------------


def test_result_and_marking(draped) -> None:
    name, path, result, decoded = draped
    kind = LAYERS[name][2]
    fields, _ = _source(path)
    assert result.draped and result.geometry == kind
    assert result.feature_count == len(next(iter(fields.values())))
    assert result.skipped == 0
    assert [a["name"] for a in result.attributes] == list(fields)
    asset = decoded.tileset["asset"]
    assert asset["extras"]["twin"] == {"draped": True, "geometry": kind}
    assert asset["generator"] == "twin tiles.draped"
    assert "draped" in result.height_note
    # no altitude in these layers: the default band, orthometric (the frame adds the geoid)
    assert (result.bounds_source[2], result.bounds_source[5]) == (-100, 1000)
    assert result.tile_count == len(decoded.glbs)


def test_every_feature_once_with_all_attributes(draped) -> None:
    """Feature counts in == rows of the property tables; every attribute of every feature kept
    (a highway's name and highway tag, a POI's name, a flood zone's scenario...)."""
    name, path, result, decoded = draped
    key = LAYERS[name][3]
    fields, _ = _source(path)
    assert sum(len(t[key]) for t in decoded.tables) == result.feature_count
    rows = {v: i for i, v in enumerate(fields[key])}
    assert len(rows) == result.feature_count  # the key is unique
    seen = set()
    for table, mesh in zip(decoded.tables, decoded.meshes, strict=True):
        count = len(table[key])
        assert mesh["feature_ids"]["featureCount"] == count
        assert set(np.unique(mesh["fid"]).tolist()) == set(range(count))  # all have geometry
        for i in range(count):
            row = rows[table[key][i]]
            seen.add(row)
            for field, values in fields.items():
                want = values[row]
                if isinstance(want, np.datetime64):
                    want = None if np.isnat(want) else str(want)
                elif isinstance(want, float) and np.isnan(want):
                    want = None
                assert table[field][i] == want, (field, row)
    assert len(seen) == result.feature_count
    if name == "highways":  # e.g. a named primary road
        tags = {
            (n, h) for t in decoded.tables for n, h in zip(t["name"], t["highway"], strict=True)
        }
        assert ("Avenue Princesse Grace", "primary") in tags


def test_tileset_is_valid(draped) -> None:
    _, _, _, decoded = draped
    if not (SCHEMAS / "tileset.schema.json").is_file():
        pytest.skip(f"3D Tiles schemas not found at {SCHEMAS}")
    assert validate_tileset_tree(decoded.out / "tileset.json", SCHEMAS) == []
    assert decoded.tileset["root"]["refine"] == "ADD"


def test_glbs_pass_the_khronos_validator(draped) -> None:
    _, _, _, decoded = draped
    try:
        errors = validate_glbs(decoded.glbs)
    except GltfValidatorUnavailable as exc:
        pytest.skip(str(exc))
    assert all(v == [] for v in errors.values()), errors


def test_glb_metadata_and_batching(draped) -> None:
    """One class per kind, and triangles in runs by feature: CesiumJS draws a classification
    mesh in one batch per run of consecutive triangles of a feature."""
    name, _, _, decoded = draped
    kind = LAYERS[name][2]
    from tiles.gltf import read_glb

    gltf, _ = read_glb(decoded.glbs[0])
    meta = gltf["extensions"]["EXT_structural_metadata"]
    [table] = meta["propertyTables"]
    assert table["class"] == {"line": "line", "point": "point", "polygon": "area"}[kind]
    for mesh in decoded.meshes:
        fid = mesh["fid"][mesh["indices"]]
        assert (fid == fid[:, :1]).all()  # a triangle belongs to one feature
        runs = np.count_nonzero(np.diff(fid[:, 0])) + 1
        assert runs == mesh["feature_ids"]["featureCount"]


# --- the volumes -----------------------------------------------------------------------------


def test_volumes_are_closed_and_outward(draped) -> None:
    """Per feature, by vertex positions (as drawn, float32): every edge is shared by exactly two
    triangles, in opposite directions, so each volume is closed and consistently wound; its
    signed volume is positive, so it is wound outward; vertex normals point out of their faces."""
    name, _, _, decoded = draped
    for mesh in decoded.meshes:
        enu, tris, fid = mesh["enu"], mesh["indices"].astype(np.int64), mesh["fid"]
        # a vertex is its feature and its position: volumes of two features never pair up
        keys = np.column_stack([fid.astype(np.int32), enu.astype(np.float32).view(np.int32)])
        _, ids = np.unique(keys.view(np.dtype((np.void, 16))).ravel(), return_inverse=True)
        t = ids.reshape(-1)[tris]
        t = t[(t[:, 0] != t[:, 1]) & (t[:, 1] != t[:, 2]) & (t[:, 0] != t[:, 2])]
        a = np.concatenate([t[:, 0], t[:, 1], t[:, 2]])
        b = np.concatenate([t[:, 1], t[:, 2], t[:, 0]])
        n = int(ids.max()) + 1
        directed = a * n + b
        assert len(np.unique(directed)) == len(directed), name  # no edge used twice one way
        assert np.isin(b * n + a, directed).all(), name  # and every edge used the other way
        # signed volume of each feature (relative to the tile's centre: float64 sums)
        p = enu - enu.mean(axis=0)
        v = np.einsum("ij,ij->i", p[tris[:, 0]], np.cross(p[tris[:, 1]], p[tris[:, 2]])) / 6
        volume = np.bincount(fid[tris[:, 0]], weights=v)
        assert (volume > 0).all(), name
        if name == "pois":  # octagons 3 m across, 1,100 m tall
            octagon = 2 * np.sqrt(2) * (POINT_SIZE / 2) ** 2
            assert volume == pytest.approx(np.full(len(volume), octagon * 1100), rel=0.02)
        # vertex normals point out of the faces they belong to (faces at least 5 cm across
        # every way: a sliver's plane is tilted by the Earth's curve along its length)
        c0, c1, c2 = (enu[tris[:, k]] for k in range(3))
        face = np.cross(c1 - c0, c2 - c0)
        twice_area = np.linalg.norm(face, axis=1)
        longest = np.max(
            [np.linalg.norm(u - w, axis=1) for u, w in ((c0, c1), (c1, c2), (c2, c0))], 0
        )
        ok = twice_area > 0.05 * np.maximum(longest, 1e-9)
        face = face[ok] / twice_area[ok, None]
        for k in range(3):
            assert (np.einsum("ij,ij->i", face, mesh["normal"][tris[ok, k]]) > 0).all()


def _circle_centre(xy: NDArray[np.float64]) -> tuple[NDArray[np.float64], float]:
    """Least-squares circle through points (Kåsa): centre and radius."""
    a = np.c_[2 * xy, np.ones(len(xy))]
    sol, *_ = np.linalg.lstsq(a, (xy**2).sum(axis=1), rcond=None)
    centre = sol[:2]
    return centre, float(np.sqrt(sol[2] + centre @ centre))


def _line_ends(decoded: Decoded, path: Path, to_lonlat=None) -> list[tuple[float, float]]:
    """For the named open highways, the error (m) between each end of the source line (by
    pyproj) and the centre of the ribbon's round cap there, and the cap's radius."""
    fields, geoms = _source(path)
    out = []
    where = {
        v: (t, i) for t, table in enumerate(decoded.tables) for i, v in enumerate(table["osm_id"])
    }
    for row in np.flatnonzero([n is not None for n in fields["name"]])[:150]:
        line = geoms[row]
        xy = shapely.get_coordinates(line)
        if to_lonlat is not None:
            xy = np.column_stack(to_lonlat.transform(*xy.T))
        if len(xy) < 2 or _metres(xy[:1], xy[-1:])[0] < 10:
            continue  # a closed way (roundabout) has no ends
        t, f = where[fields["osm_id"][row]]
        mesh = decoded.meshes[t]
        llh = decoded.lonlat_h(mesh["enu"][mesh["fid"] == f])
        for end, inner in ((xy[0], xy[1:]), (xy[-1], xy[:-1])):
            if _metres(np.repeat(end[None], len(inner), 0), inner).min() < 2 * WIDTH:
                continue  # a vertex close to the end: its ribbon merges into the cap
            d = _metres(np.repeat(end[None], len(llh), 0), llh[:, :2])
            cap = llh[np.abs(d - WIDTH / 2) < 0.03, :2]
            cap = np.unique(np.round(cap, 10), axis=0)
            assert len(cap) >= 4
            centre, radius = _circle_centre(_local(cap, end))
            out.append((float(np.hypot(*centre)), radius))
    return out


@pytest.mark.parametrize("draped", ["highways"], indirect=True)
def test_ribbon_centre_on_the_source_line(draped) -> None:
    """The round cap at each end of a highway is centred on the source vertex within 1 cm."""
    _, path, _, decoded = draped
    ends = _line_ends(decoded, path)
    assert len(ends) > 100
    errors = np.array([e for e, _ in ends])
    radii = np.array([r for _, r in ends])
    assert errors.max() < 0.01
    assert np.abs(radii - WIDTH / 2).max() < 0.01


@pytest.mark.parametrize("draped", ["commune", "tri"], indirect=True)
def test_polygon_vertices_in_place(draped) -> None:
    """Every vertex of a draped zone's outline is a volume vertex, within 1 cm (pyproj)."""
    name, path, _, decoded = draped
    fields, geoms = _source(path)
    key = LAYERS[name][3]
    to_lonlat = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)
    where = {v: (t, i) for t, table in enumerate(decoded.tables) for i, v in enumerate(table[key])}
    for row in range(0, len(geoms), max(1, len(geoms) // 10)):
        t, f = where[fields[key][row]]
        mesh = decoded.meshes[t]
        llh = decoded.lonlat_h(mesh["enu"][mesh["fid"] == f])
        source = shapely.get_coordinates(geoms[row])[::7]
        lonlat = np.column_stack(to_lonlat.transform(*source.T))
        for p in lonlat:
            assert _metres(np.repeat(p[None], len(llh), 0), llh[:, :2]).min() < 0.01


# --- options, fields and refusals --------------------------------------------------------------


def test_lambert93_lines_land_where_wgs84_ones_do(tmp_path: Path) -> None:
    """The same highways in Lambert-93: buffered on the same ground (the metric projection is on
    the source's datum), their caps centred on the source vertices within 1 cm."""
    path = _osm_extract(tmp_path, "lines", "highway = 'primary'", crs="EPSG:2154")
    result = tile_vector_layer([path], tmp_path / "out")
    assert result.source_crs == "EPSG:2154" and result.draped
    to_lonlat = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)
    ends = _line_ends(Decoded(tmp_path / "out"), path, to_lonlat)
    assert len(ends) > 20
    assert max(e for e, _ in ends) < 0.01


def _geojson(path: Path, features: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    return path


def _feature(geometry: dict | None, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": geometry}


def test_width_field_and_altitudes(tmp_path: Path) -> None:
    """A 'largeur' field sets each ribbon's width (null: the default); a ground field, else the
    geometry's Z, bound the volumes to +-margin around them; orthometric altitudes (a 2D CRS
    near Monaco: NGF-IGN69 assumed, EGM96 without its grid) get the geoid."""
    east = shapely.LineString([(7.42, 43.73, 10.0), (7.421, 43.73, 30.0)])
    flat = shapely.LineString([(7.42, 43.731, 0.0), (7.421, 43.731, 0.0)])
    path = tmp_path / "roads.gpkg"
    pyogrio.raw.write(
        path,
        shapely.to_wkb([east, flat]),
        [np.array([6.0, np.nan]), np.array([np.nan, 120.0]), np.array(["a", "b"], object)],
        ["largeur", "altitude_sol", "nom"],
        crs="EPSG:4326",
        geometry_type="LineString Z",
        driver="GPKG",
    )
    options = BuildingOptions(drape=DrapeOptions(margin=20.0))
    result = tile_vector_layer([path], tmp_path / "out", options=options)
    assert "'largeur'" in result.height_note and "'altitude_sol'" in result.height_note
    assert "1 from the geometries' Z" in result.height_note
    assert (result.bounds_source[2], result.bounds_source[5]) == (10 - 20, 120 + 20)
    decoded = Decoded(tmp_path / "out")
    [table], [mesh] = decoded.tables, decoded.meshes
    assert table["largeur"] == [6.0, None] and table["altitude_sol"] == [None, 120.0]
    for nom, width, (low, high) in (("a", 6.0, (-10, 50)), ("b", WIDTH, (100, 140))):
        f = table["nom"].index(nom)
        llh = decoded.lonlat_h(mesh["enu"][mesh["fid"] == f])
        north = _local(llh, llh[0])[:, 1]
        assert np.ptp(north) == pytest.approx(width, abs=0.01)
        geoid = llh[:, 2] - np.where(llh[:, 2] > llh[:, 2].mean(), high, low)
        assert np.ptp(geoid) < 0.05 and 40 < geoid.mean() < 60


def test_height_decides_between_buildings_and_draped(tmp_path: Path) -> None:
    """Polygons with a height field stay buildings; height=0 drapes them; a height for lines is
    refused."""
    need(FLOODED)
    buildings = tile_vector_layer([FLOODED], tmp_path / "b")
    assert not buildings.draped and buildings.feature_count == 364
    zones = tile_vector_layer([FLOODED], tmp_path / "z", height=0)
    assert zones.draped and zones.feature_count == 364 and zones.geometry == "polygon"
    assert "height of 0" in zones.height_note
    assert "'altitude_s'" in zones.height_note  # the BDNB ground altitude bounds the volumes
    fields, _ = _source(FLOODED)
    assert zones.bounds_source[2] == pytest.approx(np.nanmin(fields["altitude_s"]) - 50)
    line = {"type": "LineString", "coordinates": [[5.0, 43.0], [5.001, 43.0]]}
    path = _geojson(tmp_path / "l.geojson", [_feature(line, a=1)])
    with pytest.raises(VectorError, match="polygon layers"):
        tile_vector_layer([path], tmp_path / "l", height="a")


def test_mixed_geometry_types_are_refused(tmp_path: Path) -> None:
    square = {
        "type": "Polygon",
        "coordinates": [[[5.0, 43.0], [5.001, 43.0], [5.001, 43.001], [5.0, 43.0]]],
    }
    line = {"type": "LineString", "coordinates": [[5.0, 43.0], [5.001, 43.001]]}
    point = {"type": "Point", "coordinates": [5.0, 43.0]}
    path = _geojson(
        tmp_path / "mixed.geojson",
        [_feature(square), _feature(line), _feature(line), _feature(point), _feature(None)],
    )
    with pytest.raises(VectorError, match="mixed geometry types") as info:
        tile_vector_layer([path], tmp_path / "out")
    message = str(info.value)
    assert "1 Polygon" in message and "2 LineString" in message and "1 Point" in message
    assert not (tmp_path / "out" / "tileset.json").exists()


def test_points_and_multipoints_with_nulls(tmp_path: Path) -> None:
    """Points and multipoints are one kind; an empty geometry is skipped and counted."""
    features = [
        _feature({"type": "Point", "coordinates": [7.42, 43.73]}, nom="p", n=1),
        _feature({"type": "MultiPoint", "coordinates": [[7.43, 43.73], [7.4301, 43.73]]}, n=2),
        _feature(None, nom="none", n=3),
    ]
    result = tile_vector_layer([_geojson(tmp_path / "p.geojson", features)], tmp_path / "out")
    assert result.geometry == "point" and result.feature_count == 2 and result.skipped == 1
    [table] = Decoded(tmp_path / "out").tables
    assert table["nom"] == ["p", None] and table["n"] == [1, 2]
