"""geodata.vector on the real vector layers of ../shared/data/vector and on small made-up files.

Each real file carries one trap that a naive reader falls into: Paris 11e's .prj is an ESRI
"GCS_unknown" (no EPSG code), the départements .dbf is Latin-1 while its .cpg says UTF-8, and the
Périgueux commune is in Lambert-93.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import CRS

from geodata.vector import (
    VectorError,
    geometry_kind,
    layer_files,
    normalise_crs,
    open_vector,
    read_batches,
)

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
VECTOR = DATA / "vector"
PARIS = VECTOR / "paris11_bdnb" / "paris11_bdnb.shp"
DEPARTEMENTS = VECTOR / "departements_fr_osm" / "departements-20140306-100m.shp"
COMMUNE = VECTOR / "perigueux_commune" / "perigeux.shp"


def need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"test data not found: {path}")
    return path


def _all(source, **kwargs):
    batches = list(read_batches(source, **kwargs))
    geoms = np.concatenate([b.geometries for b in batches])
    names = batches[0].columns.keys()
    cols = {n: np.concatenate([b.columns[n].values for b in batches]) for n in names}
    nulls = {n: np.concatenate([b.columns[n].null for b in batches]) for n in names}
    return batches, geoms, cols, nulls


def _geojson(tmp_path: Path, features: list[dict], name: str = "layer.geojson") -> Path:
    path = tmp_path / name
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    return path


def _feature(geometry: dict | None, **props: object) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geometry}


SQUARE = {
    "type": "Polygon",
    "coordinates": [[[5.0, 43.0], [5.001, 43.0], [5.001, 43.001], [5.0, 43.001], [5.0, 43.0]]],
}
BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[5.0, 43.0], [5.001, 43.001], [5.001, 43.0], [5.0, 43.001], [5.0, 43.0]]],
}


# --- CRS -------------------------------------------------------------------------------------


def test_paris_gcs_unknown_is_epsg_4326() -> None:
    src = open_vector(need(PARIS))
    assert "GCS_unknown" in pyogrio.read_info(PARIS)["crs"]  # the trap is real
    assert src.crs == "EPSG:4326"
    assert "GCS_unknown" in src.crs_note and "EPSG:4326" in src.crs_note
    assert src.feature_count == 5227
    assert src.geometry_type == "Polygon"


def test_commune_is_lambert93() -> None:
    src = open_vector(need(COMMUNE))
    assert src.crs == "EPSG:2154"
    _, geoms, cols, _ = _all(src)
    assert len(geoms) == 1 and geoms[0].geom_type in ("Polygon", "MultiPolygon")
    assert cols["INSEE_COM"][0] == "24322"
    assert cols["POPULATION"][0] == 29896
    assert cols["NOM"][0] == "Périgueux"
    minx, miny, maxx, maxy = src.bounds
    assert 515_000 < minx < maxx < 530_000 and 6_440_000 < miny < maxy < 6_460_000


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("EPSG:2154", "EPSG:2154"),
        ("OGC:CRS84", "EPSG:4326"),
        ("+proj=longlat +datum=WGS84 +no_defs", "EPSG:4326"),
        (CRS.from_epsg(2154).to_wkt(version="WKT1_ESRI"), "EPSG:2154"),
    ],
)
def test_normalise_crs(given: str, expected: str) -> None:
    assert normalise_crs(given) == expected


def test_a_crs_without_code_stays_wkt() -> None:
    out = normalise_crs("+proj=tmerc +lat_0=43 +lon_0=5.4 +k=1 +x_0=0 +y_0=0 +ellps=GRS80")
    assert not out.startswith("EPSG:")
    assert CRS.from_user_input(out).is_projected and "5.4" in out


def test_no_crs_needs_srs(tmp_path: Path) -> None:
    need(COMMUNE)
    for suffix in (".shp", ".shx", ".dbf", ".cpg"):
        shutil.copy(COMMUNE.with_suffix(suffix), tmp_path / f"commune{suffix}")
    bare = tmp_path / "commune.shp"
    with pytest.raises(VectorError, match="--srs") as info:
        open_vector(bare)
    assert "commune.shp" in str(info.value)
    src = open_vector(bare, srs="EPSG:2154")
    assert src.crs == "EPSG:2154" and "--srs" in src.crs_note


def test_srs_overrides_the_file() -> None:
    src = open_vector(need(COMMUNE), srs="IGNF:LAMB93")
    assert src.crs in ("EPSG:2154", CRS.from_user_input("IGNF:LAMB93").to_wkt())
    assert "overriding" in src.crs_note


def test_bad_srs(tmp_path: Path) -> None:
    path = _geojson(tmp_path, [_feature(SQUARE, a=1)])
    with pytest.raises(VectorError, match="not a CRS"):
        open_vector(path, srs="EPSG:999999")


# --- encoding --------------------------------------------------------------------------------


def test_departements_latin1_despite_cpg() -> None:
    need(DEPARTEMENTS)
    assert DEPARTEMENTS.with_suffix(".cpg").read_text().strip().upper().startswith("UTF")
    src = open_vector(DEPARTEMENTS)
    assert src.encoding == "latin1"
    assert "Latin-1" in src.crs_note
    _, _, cols, _ = _all(src)
    names = dict(zip(cols["code_insee"], cols["nom"], strict=True))
    assert len(names) == 101
    assert names["13"] == "Bouches-du-Rhône"
    assert names["07"] == "Ardèche"
    assert names["2A"] == "Corse-du-Sud"
    assert not any("Ã" in n or "\ufffd" in n for n in names.values())


def test_utf8_files_stay_utf8() -> None:
    src = open_vector(need(COMMUNE))
    assert src.encoding is None


# --- files -----------------------------------------------------------------------------------


def test_layer_files_drops_side_files(tmp_path: Path) -> None:
    names = ["a.shp", "a.shx", "a.dbf", "a.prj", "a.cpg", "b.gpkg", "notes.txt", "c.dbf"]
    paths = [tmp_path / n for n in names]
    assert layer_files(paths) == [tmp_path / "a.shp", tmp_path / "b.gpkg", tmp_path / "c.dbf"]


@pytest.mark.parametrize("name", ["dem/pysheds_dem.tif", "SOURCES.md"])
def test_not_a_vector_file(name: str) -> None:
    path = need(DATA / name)
    with pytest.raises(VectorError, match=path.name):
        open_vector(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VectorError, match="no such file"):
        open_vector(tmp_path / "nothing.gpkg")


def test_table_without_geometry(tmp_path: Path) -> None:
    path = tmp_path / "table.csv"
    path.write_text("a,b\n1,x\n2,y\n", encoding="utf-8")
    with pytest.raises(VectorError, match="no geometries"):
        open_vector(path)


# --- features --------------------------------------------------------------------------------


def test_batches_cover_the_layer_in_order() -> None:
    src = open_vector(need(PARIS))
    batches, geoms, cols, _ = _all(src, batch_size=1000)
    assert [b.start for b in batches] == list(range(0, 5227, 1000))
    assert len(geoms) == 5227 and not shapely.is_missing(geoms).any()
    meta, _, wkb, values = pyogrio.raw.read(PARIS)
    fields = list(meta["fields"])
    np.testing.assert_array_equal(cols["batiment_c"], values[fields.index("batiment_c")])
    np.testing.assert_array_equal(cols["hauteur"], values[fields.index("hauteur")])
    assert shapely.equals(geoms, shapely.from_wkb(wkb)).all()


def test_columns_subset_and_no_geometry() -> None:
    src = open_vector(need(PARIS))
    batch = next(read_batches(src, columns=["hauteur"], read_geometry=False, batch_size=10))
    assert list(batch.columns) == ["hauteur"]
    assert batch.count == 10 and shapely.is_missing(batch.geometries).all()


def test_nulls_and_types(tmp_path: Path) -> None:
    path = _geojson(
        tmp_path,
        [
            _feature(SQUARE, i=1, f=1.5, s="é", b=True, d="2020-01-02"),
            _feature(SQUARE, i=None, f=None, s=None, b=None, d=None),
        ],
    )
    src = open_vector(path)
    types = {f.name: f.type for f in src.fields}
    assert types == {"i": "INT32", "f": "FLOAT64", "s": "STRING", "b": "BOOLEAN", "d": "STRING"}
    _, _, cols, nulls = _all(src)
    for name in types:
        assert nulls[name].tolist() == [False, True], name
    assert cols["i"].dtype == np.int32 and cols["i"][0] == 1
    assert cols["f"][0] == 1.5 and cols["s"][0] == "é" and cols["b"][0]
    assert cols["d"][0] == "2020-01-02"


def test_bowtie_is_repaired_and_counted(tmp_path: Path) -> None:
    path = _geojson(tmp_path, [_feature(BOWTIE, n="bowtie"), _feature(SQUARE, n="square")])
    [batch] = read_batches(open_vector(path))
    assert batch.repaired == 1
    fixed = batch.geometries[0]
    assert fixed.is_valid and fixed.geom_type == "MultiPolygon" and len(fixed.geoms) == 2
    assert batch.geometries[1].equals(shapely.geometry.shape(SQUARE))


def test_empty_and_non_polygons_are_skipped(tmp_path: Path) -> None:
    line = {"type": "LineString", "coordinates": [[5.0, 43.0], [5.1, 43.1]]}
    path = _geojson(
        tmp_path,
        [_feature(SQUARE, n=1), _feature(None, n=2), _feature(line, n=3), _feature(SQUARE, n=4)],
    )
    [batch] = read_batches(open_vector(path))
    assert shapely.is_missing(batch.geometries).tolist() == [False, True, True, False]
    assert sum(batch.skipped.values()) == 2
    assert any("empty" in k for k in batch.skipped) and any(
        "not a polygon" in k for k in batch.skipped
    )
    assert batch.columns["n"].values.tolist() == [1, 2, 3, 4]  # attributes stay aligned


@pytest.mark.parametrize("driver", ["GPKG", "FlatGeobuf"])
def test_other_formats(tmp_path: Path, driver: str) -> None:
    """The same features written as GeoPackage / FlatGeobuf read back identically."""
    need(PARIS)
    meta, _, wkb, values = pyogrio.raw.read(PARIS, max_features=50)
    path = tmp_path / ("paris.gpkg" if driver == "GPKG" else "paris.fgb")
    pyogrio.raw.write(
        path,
        wkb,
        values,
        ["source_fid" if f == "fid" else f for f in meta["fields"]],  # GPKG owns "fid"
        crs="EPSG:4326",
        geometry_type="Polygon",
        driver=driver,
        encoding="UTF-8",
    )
    src = open_vector(path)
    assert src.crs == "EPSG:4326" and src.feature_count == 50 and src.driver == driver
    _, geoms, cols, _ = _all(src, batch_size=20)
    fields = list(meta["fields"])
    # FlatGeobuf stores features in its spatial index's order: compare by building id
    expected = dict(zip(values[fields.index("batiment_c")], shapely.from_wkb(wkb), strict=True))
    assert sorted(cols["batiment_c"]) == sorted(expected)
    assert all(g.equals(expected[i]) for i, g in zip(cols["batiment_c"], geoms, strict=True))


# --- lines and points ------------------------------------------------------------------------

LINE = {"type": "LineString", "coordinates": [[5.0, 43.0], [5.001, 43.001]]}
POINT = {"type": "Point", "coordinates": [5.0, 43.0]}
OSM = DATA / "osm" / "monaco-osrm-2016.osm.pbf"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Polygon", "polygon"),
        ("3D MultiPolygon", "polygon"),
        ("LineString Z", "line"),
        ("MultiLineString", "line"),
        ("Point", "point"),
        ("MultiPoint ZM", "point"),
        ("GeometryCollection", None),
        ("Unknown", None),
    ],
)
def test_geometry_kind(name: str, kind: str | None) -> None:
    assert geometry_kind(name) == kind


def test_lines_and_points_kept_by_kind(tmp_path: Path) -> None:
    """geometry="line" / "point" keep that kind (a collection's parts of it too) and skip the
    rest with a count, attributes aligned; geometry=None returns geometries as read."""
    both = {"type": "GeometryCollection", "geometries": [LINE, POINT, LINE]}
    path = _geojson(
        tmp_path,
        [
            _feature(SQUARE, n=1),
            _feature(LINE, n=2),
            _feature(POINT, n=3),
            _feature(both, n=4),
            _feature(None, n=5),
        ],
    )
    src = open_vector(path)
    [lines] = read_batches(src, geometry="line")
    assert [g and g.geom_type for g in lines.geometries] == [
        None,
        "LineString",
        None,
        "MultiLineString",
        None,
    ]
    assert len(lines.geometries[3].geoms) == 2
    assert lines.skipped == {"empty or missing geometry": 1, "not a line": 2}
    [points] = read_batches(src, geometry="point")
    assert [g and g.geom_type for g in points.geometries] == [
        None,
        None,
        "Point",
        "MultiPoint",
        None,
    ]
    assert points.skipped == {"empty or missing geometry": 1, "not a point": 2}
    assert points.columns["n"].values.tolist() == [1, 2, 3, 4, 5]
    [raw] = read_batches(src, geometry=None)
    assert [g and g.geom_type for g in raw.geometries] == [
        "Polygon",
        "LineString",
        "Point",
        "GeometryCollection",
        None,
    ]
    with pytest.raises(ValueError, match="geometry"):
        next(read_batches(src, geometry="surface"))


def test_osm_lines_layer_in_batches() -> None:
    """The OSM driver's 'lines' layer reads in batches like any other (skip_features)."""
    src = open_vector(need(OSM), layer="lines")
    assert src.geometry_type == "LineString" and src.crs == "EPSG:4326"
    batches = list(read_batches(src, geometry="line", batch_size=1000))
    assert sum(b.count for b in batches) == src.feature_count > 3000
    assert all(not b.skipped for b in batches)
    names = np.concatenate([b.columns["name"].values for b in batches])
    assert "Avenue Princesse Grace" in set(names)
