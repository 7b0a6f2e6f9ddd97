"""tiles.pointcloud end to end on the real LAS/LAZ samples of ../shared/data/pointcloud.

Each output is decoded back (tiles.gltf reads the .glb files) and checked against laspy and
pyproj called directly: every point once, at the right place on Earth within 1 cm, with its
attributes; the tileset against the 3D Tiles 1.1 schemas, the glb files against the Khronos
glTF validator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import laspy
import numpy as np
import pyproj
import pytest
from numpy.typing import NDArray
from pyproj import CRS, Transformer

from geodata.pointcloud import PointCloudError
from tiles.gltf import accessor_array, read_glb
from tiles.pointcloud import PointCloudResult, TilingOptions, tile_point_cloud
from tiles.validate import GltfValidatorUnavailable, validate_glbs, validate_tileset_tree

SHARED = Path(__file__).resolve().parents[3] / "shared"
SCHEMAS = SHARED / "schemas" / "3d-tiles-1.1"
DATA = SHARED / "data" / "pointcloud"
IGN = DATA / "test_semis_2023_0292_6833_LA93_IGN69.laz"
MONTPELLIER = DATA / "test_data_77055_627760_LA93_IGN69.laz"
TOULOUSE = DATA / "cars_mesh_toulouse" / "point_cloud.laz"
LONE_STAR = DATA / "lone-star.copc.laz"
RAF20 = Path(pyproj.datadir.get_data_dir()) / "fr_ign_RAF20.tif"


def _need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"sample point cloud not found at {path}")
    return path


@dataclass
class Output:
    """A converted tileset, decoded: all points of all tiles, in ECEF and with attributes."""

    result: PointCloudResult
    folder: Path
    tileset: dict[str, Any]
    ecef: NDArray[np.float64]
    attributes: dict[str, NDArray]
    per_tile: list[tuple[dict[str, Any], NDArray[np.float64]]]  # (tile json, local ENU points)


def _tiles(tile: dict[str, Any]) -> list[dict[str, Any]]:
    return [tile, *(t for c in tile.get("children", []) for t in _tiles(c))]


def _decode(result: PointCloudResult, folder: Path) -> Output:
    tileset = json.loads((folder / "tileset.json").read_text(encoding="utf-8"))
    m = np.asarray(tileset["root"]["transform"], np.float64).reshape(4, 4).T
    locals_, attrs, per_tile = [], {}, []
    for tile in _tiles(tileset["root"]):
        if "content" not in tile:
            continue
        gltf, binary = read_glb(folder / tile["content"]["uri"])
        (primitive,) = gltf["meshes"][0]["primitives"]
        assert primitive["mode"] == 0
        t = np.asarray(gltf["nodes"][0].get("translation", [0, 0, 0]))
        p = accessor_array(gltf, binary, primitive["attributes"]["POSITION"]) + t
        enu = np.stack([p[:, 0], -p[:, 2], p[:, 1]], axis=1)  # glTF y-up -> 3D Tiles z-up
        locals_.append(enu)
        per_tile.append((tile, enu))
        for name, index in primitive["attributes"].items():
            if name != "POSITION":
                attrs.setdefault(name, []).append(accessor_array(gltf, binary, index))
    local = np.concatenate(locals_)
    ecef = local @ m[:3, :3].T + m[:3, 3]
    return Output(
        result,
        folder,
        tileset,
        ecef,
        {k: np.concatenate(v) for k, v in attrs.items()},
        per_tile,
    )


def _convert(src: list[Path], folder: Path, **kwargs: Any) -> Output:
    return _decode(tile_point_cloud(src, folder, **kwargs), folder)


@pytest.fixture(scope="module")
def ign(tmp_path_factory: pytest.TempPathFactory) -> Output:
    return _convert([_need(IGN)], tmp_path_factory.mktemp("ign") / "layer")


@pytest.fixture(scope="module")
def montpellier(tmp_path_factory: pytest.TempPathFactory) -> Output:
    return _convert([_need(MONTPELLIER)], tmp_path_factory.mktemp("mtp") / "layer")


@pytest.fixture(scope="module")
def toulouse(tmp_path_factory: pytest.TempPathFactory) -> Output:
    return _convert([_need(TOULOUSE)], tmp_path_factory.mktemp("tls"), srs="EPSG:32631")


def _lambert93_to_ecef() -> Transformer:
    """pyproj directly, with the vertical datum the tiler states it used."""
    vertical = "5720" if RAF20.is_file() else "5773"  # NGF-IGN69 via RAF20, or EGM96
    return Transformer.from_crs(f"EPSG:2154+{vertical}", "EPSG:4978", always_xy=True)


def _assert_placed(out: Output, las: laspy.LasData, to_ecef: Transformer, n: int = 25) -> None:
    """n source points, spread over the file, each has an output point within 1 cm with the
    same classification and intensity."""
    pick = np.linspace(0, len(las.points) - 1, n).astype(int)
    x, y, z = (np.asarray(v, np.float64)[pick] for v in (las.x, las.y, las.z))
    expected = np.stack(to_ecef.transform(x, y, z), axis=1)
    cls, inten = np.asarray(las.classification)[pick], np.asarray(las.intensity)[pick]
    for i, e in enumerate(expected):
        d = np.linalg.norm(out.ecef - e, axis=1)
        near = d < 0.01
        assert near.any(), f"point {pick[i]}: nearest output point is {d.min():.3f} m away"
        same = (out.attributes["_CLASSIFICATION"][near] == cls[i]) & (
            out.attributes["_INTENSITY"][near] == inten[i]
        )
        assert same.any(), f"point {pick[i]}: found at its place but with other attributes"


def _same_classes(out: Output, las: laspy.LasData) -> None:
    got = np.unique(out.attributes["_CLASSIFICATION"], return_counts=True)
    want = np.unique(np.asarray(las.classification), return_counts=True)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


# --- the LiDAR HD tile ------------------------------------------------------------------------


def test_lidar_hd_tileset_is_valid(ign: Output) -> None:
    if not (SCHEMAS / "tileset.schema.json").is_file():
        pytest.skip(f"3D Tiles schemas not found at {SCHEMAS}")
    assert validate_tileset_tree(ign.folder / "tileset.json", SCHEMAS) == []
    assert ign.tileset["asset"]["version"] == "1.1"
    assert ign.tileset["asset"]["extras"]["sourceCrs"] == "EPSG:2154"
    assert ign.tileset["asset"]["extras"]["pointCount"] == 289_055
    assert ign.tileset["root"]["refine"] == "ADD"
    glbs = sorted((ign.folder / "t").glob("*.glb"))
    assert ign.result.tile_count == len(glbs) == len(ign.per_tile) > 1
    assert not list(ign.folder.glob(".pointcloud-*")), "temporary bins left behind"


def test_lidar_hd_result(ign: Output) -> None:
    r = ign.result
    assert r.point_count == 289_055 and r.source_crs == "EPSG:2154"
    las = laspy.read(IGN)
    xyz = [np.asarray(v) for v in (las.x, las.y, las.z)]
    assert r.bounds_source == tuple(float(v.min()) for v in xyz) + tuple(
        float(v.max()) for v in xyz
    )
    expected = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True).transform_bounds(
        *r.bounds_source[:2], *r.bounds_source[3:5], densify_pts=21
    )
    assert r.bounds_wgs84 == pytest.approx(expected, abs=1e-9)
    assert r.bounds_wgs84 == pytest.approx((-2.524, 48.4598, -2.5096, 48.4694), abs=1e-3)
    assert [a["name"] for a in r.attributes] == [
        "classification",
        "intensity",
        "return_number",
        "number_of_returns",
    ]
    assert {"name": "classification", "type": "UINT8", "attribute": "_CLASSIFICATION"} in (
        r.attributes
    )
    if RAF20.is_file():
        assert "RAF20" in r.height_note
    else:
        assert "EGM96" in r.height_note and "NGF-IGN69" in r.height_note


def test_every_point_exactly_once(ign: Output) -> None:
    las = laspy.read(IGN)
    assert len(ign.ecef) == len(las.points) == ign.result.point_count

    # the multiset of attribute tuples is the source's: nothing lost, nothing duplicated
    def rows(c: Any, i: Any, r: Any, n: Any) -> NDArray:
        key = np.stack([np.asarray(v, np.int64) for v in (c, i, r, n)], axis=1)
        return key[np.lexsort(key.T[::-1])]

    a = ign.attributes
    np.testing.assert_array_equal(
        rows(a["_CLASSIFICATION"], a["_INTENSITY"], a["_RETURN_NUMBER"], a["_NUMBER_OF_RETURNS"]),
        rows(las.classification, las.intensity, las.return_number, las.number_of_returns),
    )


def test_points_land_where_pyproj_puts_them(ign: Output) -> None:
    _assert_placed(ign, laspy.read(IGN), _lambert93_to_ecef())


def test_classes_survive(ign: Output) -> None:
    las = laspy.read(IGN)
    _same_classes(ign, las)
    assert {1, 2, 3, 4, 5, 6, 17, 64, 66, 67} <= set(ign.attributes["_CLASSIFICATION"].tolist())


def test_lod_tree(ign: Output) -> None:
    """Boxes enclose their points and their children; errors shrink with depth; leaves are 0."""

    def check(tile: dict[str, Any]) -> None:
        box = np.asarray(tile["boundingVolume"]["box"])
        for child in tile.get("children", []):
            cbox = np.asarray(child["boundingVolume"]["box"])
            assert (
                np.abs(cbox[:3] - box[:3]) + np.diag(cbox[3:].reshape(3, 3))
                <= np.diag(box[3:].reshape(3, 3)) + 1e-3
            ).all()
            assert child["geometricError"] < tile["geometricError"]
            check(child)
        if not tile.get("children"):
            assert tile["geometricError"] == 0

    root = ign.tileset["root"]
    check(root)
    assert ign.tileset["geometricError"] > root["geometricError"] > 0
    for tile, enu in ign.per_tile:
        for volume in (tile["boundingVolume"], tile["content"]["boundingVolume"]):
            c, h = np.asarray(volume["box"][:3]), np.diag(np.reshape(volume["box"][3:], (3, 3)))
            assert (np.abs(enu - c) <= h + 1e-3).all()
    # inner tiles are a subsample: at most one point per voxel of edge geometricError. A lattice
    # of that spacing anywhere else cuts each voxel into at most 8 pieces: <= 8 points per cell
    # (a few dense crumbs of near-empty octants are allowed to stay with their parent).
    root_tile, root_points = ign.per_tile[0]
    assert root_tile is root
    cells = np.floor((root_points - root_points.min(axis=0)) / root["geometricError"])
    _, counts = np.unique(cells, axis=0, return_counts=True)
    assert (counts <= 8).mean() > 0.99


def test_glb_content_metadata(ign: Output) -> None:
    gltf, _ = read_glb(ign.folder / ign.per_tile[0][0]["content"]["uri"])
    assert "EXT_structural_metadata" in gltf["extensionsUsed"]
    ext = gltf["extensions"]["EXT_structural_metadata"]
    props = ext["schema"]["classes"]["point"]["properties"]
    assert props["classification"]["componentType"] == "UINT8"
    assert props["intensity"]["componentType"] == "UINT16"
    (mapping,) = ext["propertyAttributes"]
    assert mapping["class"] == "point"
    primitive = gltf["meshes"][0]["primitives"][0]
    assert primitive["extensions"]["EXT_structural_metadata"]["propertyAttributes"] == [0]
    component = {"UINT8": 5121, "UINT16": 5123}
    for name, prop in mapping["properties"].items():
        accessor = gltf["accessors"][primitive["attributes"][prop["attribute"]]]
        assert accessor["componentType"] == component[props[name]["componentType"]]
        assert accessor["type"] == "SCALAR"
    position = gltf["accessors"][primitive["attributes"]["POSITION"]]
    assert position["componentType"] == 5126 and "min" in position and "max" in position
    assert "COLOR_0" not in primitive["attributes"]  # this file has no colour


def test_glbs_pass_the_khronos_validator(ign: Output, montpellier: Output) -> None:
    paths = [o.folder / t["content"]["uri"] for o in (ign, montpellier) for t, _ in o.per_tile]
    try:
        errors = validate_glbs(paths)
    except GltfValidatorUnavailable as exc:
        pytest.skip(str(exc))
    assert {p.name: e for p, e in errors.items() if e} == {}


# --- Montpellier: urban crop, colour fields all zero -----------------------------------------


def test_montpellier(montpellier: Output) -> None:
    if (SCHEMAS / "tileset.schema.json").is_file():
        assert validate_tileset_tree(montpellier.folder / "tileset.json", SCHEMAS) == []
    las = laspy.read(MONTPELLIER)
    assert montpellier.result.point_count == len(montpellier.ecef) == 60_653
    _same_classes(montpellier, las)
    assert (montpellier.attributes["_CLASSIFICATION"] == 6).sum() == 14_908  # buildings
    _assert_placed(montpellier, las, _lambert93_to_ecef())
    # RGB fields present but all zero: no colour rather than a black cloud
    assert "COLOR_0" not in montpellier.attributes
    assert "color" not in [a["name"] for a in montpellier.result.attributes]


# --- CRS handling ------------------------------------------------------------------------------


def test_no_crs_asks_for_srs(tmp_path: Path) -> None:
    with pytest.raises(PointCloudError) as err:
        tile_point_cloud([_need(TOULOUSE)], tmp_path / "out")
    assert "point_cloud.laz" in str(err.value) and "--srs" in str(err.value)
    assert not (tmp_path / "out").exists()


def test_toulouse_with_srs(toulouse: Output) -> None:
    r = toulouse.result
    assert r.source_crs == "EPSG:32631" and r.point_count == 478_319
    west, south, east, north = r.bounds_wgs84
    assert (south + north) / 2 == pytest.approx(43.616, abs=0.005)
    assert (west + east) / 2 == pytest.approx(1.432, abs=0.005)
    assert "no vertical part" in r.height_note
    las = laspy.read(TOULOUSE)
    utm = Transformer.from_crs("EPSG:32631+5773", "EPSG:4978", always_xy=True)
    _assert_placed(toulouse, las, utm, n=10)


def test_sixteen_bit_colour_is_scaled(toulouse: Output) -> None:
    las = laspy.read(TOULOUSE)
    source = np.stack([np.asarray(las[c]) for c in ("red", "green", "blue")], axis=1)
    assert source.max() > 255  # 16-bit colour (values x256)
    got = toulouse.attributes["COLOR_0"]
    assert got.dtype == np.uint8 and got.shape == source.shape
    want = (source >> 8).astype(np.uint8)
    np.testing.assert_array_equal(got[np.lexsort(got.T[::-1])], want[np.lexsort(want.T[::-1])])
    assert {"name": "color", "type": "VEC3 UINT8", "attribute": "COLOR_0"} in (
        toulouse.result.attributes
    )


def test_eight_bit_colour_in_sixteen_bit_fields_is_kept(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 5_000
    header = laspy.LasHeader(version="1.4", point_format=7)
    header.add_crs(CRS("EPSG:2154"))
    header.scales = np.array([0.01, 0.01, 0.01])
    header.offsets = np.array([890_000.0, 6_247_000.0, 0.0])
    las = laspy.LasData(header)
    las.x = 890_000 + rng.uniform(0, 100, n)
    las.y = 6_247_000 + rng.uniform(0, 100, n)
    las.z = rng.uniform(0, 30, n)
    rgb = rng.integers(0, 256, (n, 3))
    las.red, las.green, las.blue = rgb.T
    las.classification = rng.integers(1, 7, n)
    las.write(tmp_path / "marseille.las")
    out = _convert([tmp_path / "marseille.las"], tmp_path / "layer")
    got = out.attributes["COLOR_0"]
    want = rgb.astype(np.uint8)
    np.testing.assert_array_equal(got[np.lexsort(got.T[::-1])], want[np.lexsort(want.T[::-1])])
    west, south, east, north = out.result.bounds_wgs84
    assert 5.3 < west < east < 5.4 and 43.2 < south < north < 43.4  # Marseille


def test_wrong_geocentric_crs_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PointCloudError, match=r"lone-star.*geocentric.*--srs"):
        tile_point_cloud([_need(LONE_STAR)], tmp_path / "out")


def test_text_file_renamed_las(tmp_path: Path) -> None:
    fake = tmp_path / "scan.las"
    fake.write_text("X Y Z\n1 2 3\n" * 100, encoding="utf-8")
    with pytest.raises(PointCloudError, match=r"scan\.las"):
        tile_point_cloud([fake], tmp_path / "out")


# --- progress and cancellation --------------------------------------------------------------


def test_progress_is_reported(tmp_path: Path) -> None:
    calls: list[tuple[float, str]] = []
    opts = TilingOptions(chunk_points=20_000)
    tile_point_cloud(
        [_need(MONTPELLIER)], tmp_path, progress=lambda f, m: calls.append((f, m)), options=opts
    )
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[0] >= 0 and fractions[-1] == 1.0
    assert sum("read" in m for _, m in calls) >= 4  # one per chunk (60,653 points / 20,000)
    assert all(isinstance(m, str) and m for _, m in calls)


class Cancelled(Exception):
    pass


def test_exception_from_progress_stops_the_work(tmp_path: Path) -> None:
    seen: list[float] = []

    def progress(fraction: float, message: str) -> None:
        seen.append(fraction)
        if len(seen) == 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        tile_point_cloud(
            [_need(MONTPELLIER)],
            tmp_path / "out",
            progress=progress,
            options=TilingOptions(chunk_points=10_000),
        )
    assert len(seen) == 3 and max(seen) < 0.6  # stopped while reading
    assert not (tmp_path / "out").exists()  # nothing half-written left


# --- several files, processes, COPC ------------------------------------------------------------


def test_several_files_make_one_layer(tmp_path: Path) -> None:
    las = laspy.read(_need(MONTPELLIER))
    west = np.asarray(las.x) < np.median(las.x)
    parts = []
    for name, mask in (("west.las", west), ("east.las", ~west)):
        part = laspy.LasData(las.header)
        part.points = las.points[mask]
        part.write(tmp_path / name)
        parts.append(tmp_path / name)
    out = _convert(parts, tmp_path / "layer")
    assert out.result.point_count == len(out.ecef) == 60_653
    _same_classes(out, las)
    if (SCHEMAS / "tileset.schema.json").is_file():
        assert validate_tileset_tree(tmp_path / "layer" / "tileset.json", SCHEMAS) == []
    _assert_placed(out, las, _lambert93_to_ecef(), n=10)


def test_processes_bins_and_copc(tmp_path: Path) -> None:
    """Lone Star geyser (Yellowstone, UTM 12N) COPC: read in order by this process (COPC's
    variable chunks cannot be seeked), binned and built by two worker processes, with bins
    small enough that one is split on disk, all joined bottom-up."""
    opts = TilingOptions(workers=2, chunk_points=100_000, leaf_points=20_000, bin_points=10_000)
    messages: list[str] = []
    result = tile_point_cloud(
        [_need(LONE_STAR)],
        tmp_path / "layer",
        srs="EPSG:32612",
        options=opts,
        progress=lambda f, m: messages.append(m),
    )
    assert any(m.startswith("split bin") for m in messages)
    out = _decode(result, tmp_path / "layer")
    las = laspy.read(LONE_STAR)
    assert out.result.point_count == len(out.ecef) == 518_862
    _same_classes(out, las)
    west, south, east, north = out.result.bounds_wgs84
    assert (south + north) / 2 == pytest.approx(44.42, abs=0.02)
    assert (west + east) / 2 == pytest.approx(-110.80, abs=0.02)
    utm = Transformer.from_crs("EPSG:32612+5773", "EPSG:4978", always_xy=True)
    _assert_placed(out, las, utm, n=10)
    if (SCHEMAS / "tileset.schema.json").is_file():
        assert validate_tileset_tree(tmp_path / "layer" / "tileset.json", SCHEMAS) == []
