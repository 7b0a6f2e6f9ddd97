"""Photogrammetry meshes to 3D Tiles: validity, placement, levels of detail, textures, bad input.

The textured mesh is built from real data (DSM grid + orthophoto, see tests/geodata/test_mesh.py)
and tiled with small leaves so that the tree has three levels.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from numpy.typing import NDArray
from PIL import Image
from pyproj import Transformer

from geodata.crs import ecef_pipeline
from geodata.mesh import MeshError
from tests.conftest import SCHEMAS
from tests.geodata.test_mesh import (
    LYON,
    ORTHO,
    PLY_DIR,
    PLY_ORIGIN,
    dsm_grid,
    write_textured_obj,
)
from tiles.gltf import accessor_array, read_glb
from tiles.mesh import MeshResult, MeshTilingOptions, tile_mesh
from tiles.validate import GltfValidatorUnavailable, validate_glbs, validate_tileset_tree

SMALL_LEAVES = MeshTilingOptions(leaf_triangles=2500)


@dataclass
class Tile:
    json: dict[str, Any]
    depth: int
    enu: NDArray[np.float64]  # content vertices in the root frame (east, north, up)
    triangles: int
    image: Image.Image | None
    uv: NDArray[np.float32] | None


@dataclass
class Tiled:
    out: Path
    result: MeshResult
    tileset: dict[str, Any]
    tiles: list[Tile]
    progress: list[tuple[float, str]]

    def transform(self) -> NDArray[np.float64]:
        return np.asarray(self.tileset["root"]["transform"]).reshape(4, 4).T


def _content(out: Path, uri: str) -> tuple[NDArray, int, Image.Image | None, NDArray | None]:
    gltf, binary = read_glb(out / uri)
    [prim] = gltf["meshes"][0]["primitives"]
    position = accessor_array(gltf, binary, prim["attributes"]["POSITION"]).astype(np.float64)
    position += gltf["nodes"][0]["translation"]
    enu = np.column_stack([position[:, 0], -position[:, 2], position[:, 1]])  # glTF is y-up
    triangles = gltf["accessors"][prim["indices"]]["count"] // 3
    image = uv = None
    if "images" in gltf:
        view = gltf["bufferViews"][gltf["images"][0]["bufferView"]]
        start = view.get("byteOffset", 0)
        image = Image.open(io.BytesIO(binary[start : start + view["byteLength"]]))
        uv = accessor_array(gltf, binary, prim["attributes"]["TEXCOORD_0"])
    return enu, triangles, image, uv


def _tiles(out: Path, tile: dict[str, Any], depth: int = 0) -> Iterator[Tile]:
    yield Tile(tile, depth, *_content(out, tile["content"]["uri"]))
    for child in tile.get("children", []):
        yield from _tiles(out, child, depth + 1)


def _tile(files: list[Path], out: Path, **kwargs: Any) -> Tiled:
    progress: list[tuple[float, str]] = []
    result = tile_mesh(files, out, progress=lambda f, m: progress.append((f, m)), **kwargs)
    tileset = json.loads((out / "tileset.json").read_text())
    return Tiled(out, result, tileset, list(_tiles(out, tileset["root"])), progress)


@pytest.fixture(scope="module")
def textured(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Tiled:
    folder = tmp_path_factory.mktemp("textured")
    obj = write_textured_obj(folder / "zone", shared_data)
    return _tile([obj], folder / "out", options=SMALL_LEAVES)


@pytest.fixture(scope="module")
def ply(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Tiled:
    files = sorted((shared_data / PLY_DIR).glob("part-*_1.ply"))
    out = tmp_path_factory.mktemp("ply") / "out"
    return _tile(files, out, srs="EPSG:2154", origin=PLY_ORIGIN, options=SMALL_LEAVES)


def _glbs(tiled: Tiled) -> list[Path]:
    return sorted(tiled.out.rglob("*.glb"))


@pytest.mark.parametrize("name", ["textured", "ply"])
def test_output_passes_the_validators(name: str, request: pytest.FixtureRequest) -> None:
    tiled: Tiled = request.getfixturevalue(name)
    if not (SCHEMAS / "tileset.schema.json").is_file():
        pytest.skip(f"3D Tiles schemas not found at {SCHEMAS}")
    assert validate_tileset_tree(tiled.out / "tileset.json", SCHEMAS) == []
    assert len(_glbs(tiled)) == tiled.result.tile_count == len(tiled.tiles)
    try:
        errors = validate_glbs(_glbs(tiled))
    except GltfValidatorUnavailable as exc:
        pytest.skip(str(exc))
    assert all(v == [] for v in errors.values()), errors


def test_result_describes_the_layer(textured: Tiled, shared_data: Path) -> None:
    r = textured.result
    _, faces = dsm_grid(shared_data)
    assert r.triangle_count == len(faces) and r.source_crs == "EPSG:2154"
    minx, miny, maxx, maxy, minz, maxz = r.bounds_source
    assert 770549 < minx < maxx < 770601 and 6277549 < miny < maxy < 6277601
    assert 20 < minz < maxz < 40
    w, s, e, n = r.bounds_wgs84
    assert 3.873 < w < e < 3.875 and 43.593 < s < n < 43.595
    assert "NGF-IGN69" in r.height_note
    assert textured.tileset["asset"]["version"] == "1.1"
    assert textured.tileset["root"]["refine"] == "REPLACE"
    assert [f for f, _ in textured.progress] == sorted(f for f, _ in textured.progress)
    assert textured.progress[-1][0] == 1.0


def test_vertices_land_where_pyproj_puts_the_source(textured: Tiled, shared_data: Path) -> None:
    vertices, _ = dsm_grid(shared_data)
    expected = ecef_pipeline("EPSG:2154").to_ecef(*vertices.T)
    matrix = textured.transform()
    leaves = [t for t in textured.tiles if "children" not in t.json]
    for leaf in leaves[:: max(1, len(leaves) // 4)]:
        got = leaf.enu[::97] @ matrix[:3, :3].T + matrix[:3, 3]
        nearest = np.linalg.norm(got[:, None, :] - expected[None, :, :], axis=2).min(axis=1)
        assert nearest.max() < 0.01  # leaves are full resolution: every vertex is a source one


def test_levels_refine_smoothly(textured: Tiled, ply: Tiled) -> None:
    for tiled in (textured, ply):
        assert max(t.depth for t in tiled.tiles) >= 2
        for tile in tiled.tiles:
            kids = tile.json.get("children", [])
            if not kids:
                assert tile.json["geometricError"] == 0
            for kid in kids:
                assert kid["geometricError"] < tile.json["geometricError"]
        assert tiled.tileset["geometricError"] > tiled.tileset["root"]["geometricError"]


def test_triangles_decrease_with_level(textured: Tiled, ply: Tiled) -> None:
    for tiled in (textured, ply):
        by_uri = {t.json["content"]["uri"]: t for t in tiled.tiles}
        for tile in tiled.tiles:
            kids = [by_uri[k["content"]["uri"]] for k in tile.json.get("children", [])]
            if kids:
                assert tile.triangles < sum(k.triangles for k in kids) / 2
        per_level = [
            sum(t.triangles for t in tiled.tiles if t.depth == d)
            for d in range(max(t.depth for t in tiled.tiles) + 1)
        ]
        assert per_level == sorted(per_level) and per_level[0] < per_level[-1] / 4


def _inside(points: NDArray[np.float64], box: list[float]) -> bool:
    centre, half = np.asarray(box[:3]), np.asarray([box[3], box[7], box[11]])
    assert box[4:7] == [0, 0, 0] and box[8:11] == [0, 0, 0]  # axis-aligned in the root frame
    return bool((np.abs(points - centre) <= half + 1e-4).all())


def test_bounding_boxes_enclose_content_and_children(textured: Tiled, ply: Tiled) -> None:
    for tiled in (textured, ply):
        by_uri = {t.json["content"]["uri"]: t for t in tiled.tiles}
        for tile in tiled.tiles:
            assert _inside(tile.enu, tile.json["boundingVolume"]["box"])
            assert _inside(tile.enu, tile.json["content"]["boundingVolume"]["box"])
            for kid in tile.json.get("children", []):
                assert _inside(
                    by_uri[kid["content"]["uri"]].enu, tile.json["boundingVolume"]["box"]
                )
            # tight: the content box touches the content on every side
            box = np.asarray(tile.json["content"]["boundingVolume"]["box"])
            lo, hi = tile.enu.min(axis=0), tile.enu.max(axis=0)
            np.testing.assert_allclose((lo + hi) / 2, box[:3], atol=1e-3)


def _ground_colour_error(tiled: Tiled, tile: Tile, shared: Path) -> float:
    """Mean |atlas colour at a vertex's uv - orthophoto colour under the vertex| (0-255)."""
    matrix = tiled.transform()
    ecef = tile.enu @ matrix[:3, :3].T + matrix[:3, 3]
    x, y = Transformer.from_crs("EPSG:4978", "EPSG:2154", always_xy=True).transform(*ecef.T)[:2]
    with rasterio.open(shared / ORTHO) as src:
        ortho = np.moveaxis(src.read(), 0, -1).astype(np.float64)
        left, _, _, top = src.bounds
        size = src.res[0]
    rows = np.clip(((top - np.asarray(y)) / size).astype(int), 0, ortho.shape[0] - 1)
    cols = np.clip(((np.asarray(x) - left) / size).astype(int), 0, ortho.shape[1] - 1)
    truth = ortho[rows, cols]
    atlas = np.asarray(tile.image.convert("RGB"), np.float64)
    h, w = atlas.shape[:2]
    px = np.clip((tile.uv * (w, h)).astype(int), 0, (w - 1, h - 1))
    return float(np.abs(atlas[px[:, 1], px[:, 0]] - truth).mean())


def test_textures_map_to_the_right_ground_at_every_level(
    textured: Tiled, shared_data: Path
) -> None:
    for tile in textured.tiles:
        assert tile.image is not None and tile.uv is not None
        assert tile.uv.min() >= 0 and tile.uv.max() <= 1
        # leaves sample the source texture; coarser levels a blurred, simplified version of it
        # (a wrong mapping, e.g. the uv list reversed, gives 20-75)
        limit = 25 if "children" in tile.json else 10
        assert _ground_colour_error(textured, tile, shared_data) < limit


def test_textures_are_coarser_in_coarser_levels(textured: Tiled) -> None:
    deepest = max(t.depth for t in textured.tiles)
    pixels = [
        sum(t.image.width * t.image.height for t in textured.tiles if t.depth == d)
        for d in range(deepest + 1)
    ]
    assert pixels == sorted(pixels) and pixels[0] < pixels[-1] / 4
    # texel footprint grows with the geometric error it is accounted in
    root = textured.tiles[0]
    ground = np.ptp(root.enu[:, 0]) * np.ptp(root.enu[:, 1])
    texel = (ground / (root.image.width * root.image.height)) ** 0.5
    assert texel > 0.4  # the orthophoto has 0.2 m pixels; the root is at least 2 levels up


def test_tower_placed_by_arguments(shared_data: Path, tmp_path: Path) -> None:
    """A local-coordinate OBJ with vertex colours, placed by srs + origin (Lyon Part-Dieu)."""
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True).transform(4.8556, 45.7606)
    tiled = _tile([shared_data / LYON], tmp_path / "out", srs="EPSG:2154", origin=(x, y, 170.0))
    assert tiled.result.triangle_count == 1176 and tiled.result.tile_count == 1
    w, s, e, n = tiled.result.bounds_wgs84
    assert w < 4.8556 < e and s < 45.7606 < n
    assert (tiled.out / "tileset.json").is_file()


def test_bad_input_writes_nothing(shared_data: Path, tmp_path: Path) -> None:
    obj = write_textured_obj(tmp_path / "zone", shared_data)
    (obj.parent / "texture.jpg").unlink()
    with pytest.raises(MeshError, match=r"texture\.jpg"):
        tile_mesh([obj], tmp_path / "out")
    assert not (tmp_path / "out" / "tileset.json").exists()
