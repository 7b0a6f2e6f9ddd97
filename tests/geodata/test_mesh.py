"""Reading photogrammetry meshes: OBJ+MTL+texture, odd ASCII PLY, GLB, georeferencing, bad input.

No real textured photogrammetry mesh is in ../shared/data, so `write_textured_obj` builds one
from real data: the 0.5 m DSM of a 50 x 50 m Montpellier crop as a grid mesh, textured with the
20 cm orthophoto of the same footprint, written as a photogrammetry tool would (local
coordinates, OBJ + MTL + JPEG, metadata.xml with SRS and SRSOrigin).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from numpy.typing import NDArray
from PIL import Image

from geodata.mesh import MeshError, read_mesh
from geodata.surface import dsm_mesh
from geodata.surface import write_textured_obj as surface_obj

DSM = Path("dem/DSM_test_data_77055_627760_LA93_IGN69_50CM.tif")
ORTHO = Path("ortho/test_data_rgb.tif")  # no CRS tag, same Lambert-93 grid as the DSM
PLY_DIR = Path("mesh/lidarhd_crop_mesh")
PLY_ORIGIN = (635471.0, 6856430.0, 0.0)  # from the source repo's run script (SOURCES.md)
LYON = Path("mesh/lyon_part_dieu_lods/tour_part_dieu_0.obj")
ORIGIN = (770000.0, 6277000.0, 0.0)  # what the fake exporter subtracts


def dsm_grid(shared: Path) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    return dsm_mesh(shared / DSM)


def write_textured_obj(folder: Path, shared: Path) -> Path:
    """The DSM + ortho mesh as OBJ + MTL + JPEG + metadata.xml in `folder`."""
    return surface_obj(folder, shared / DSM, shared / ORTHO, srs="EPSG:2154", origin=ORIGIN)


@pytest.fixture
def textured_obj(tmp_path: Path, shared_data: Path) -> Path:
    return write_textured_obj(tmp_path / "zone", shared_data)


def test_textured_obj_reads_in_source_crs_with_its_texture(
    textured_obj: Path, shared_data: Path
) -> None:
    layer = read_mesh([textured_obj])
    [part] = layer.parts
    vertices, faces = dsm_grid(shared_data)
    assert layer.srs == "EPSG:2154" and "metadata.xml" in layer.georef_source
    assert layer.triangle_count == len(faces)
    np.testing.assert_allclose(
        np.sort(part.vertices, axis=0), np.sort(vertices, axis=0), atol=1e-3
    )  # origin added back: absolute Lambert-93
    assert part.texture is not None and part.texture.pixels().shape == (252, 252, 3)
    # glTF convention: uv (0, 0) is the image's top-left, i.e. the ortho's north-west corner
    with rasterio.open(shared_data / ORTHO) as src:
        left, _, _, top = src.bounds
    ground = np.column_stack(
        [left + part.uv[:, 0] * 50.4, top - part.uv[:, 1] * 50.4]
    )  # 252 px x 0.2 m
    assert np.abs(ground - part.vertices[:, :2]).max() < 1e-3


def test_arguments_override_the_sidecar(textured_obj: Path) -> None:
    base = read_mesh([textured_obj]).parts[0].vertices
    moved = read_mesh([textured_obj], origin=(770010.0, 6277000.0, 5.0)).parts[0].vertices
    np.testing.assert_allclose(moved - base, np.tile([10.0, 0.0, 5.0], (len(base), 1)), atol=1e-6)
    layer = read_mesh([textured_obj], srs="EPSG:3857")
    assert layer.srs == "EPSG:3857" and "srs argument" in layer.georef_source


def test_sidecar_at_the_production_root_is_found(textured_obj: Path) -> None:
    """ContextCapture layout: metadata.xml at the root, tiles in Data/Tile_x/."""
    tile_dir = textured_obj.parent / "Data" / "Tile_+000_+000"
    tile_dir.mkdir(parents=True)
    for name in ("model.obj", "model.mtl", "texture.jpg"):
        (textured_obj.parent / name).rename(tile_dir / name)
    layer = read_mesh([tile_dir / "model.obj"])
    assert layer.georef_source == str(textured_obj.parent / "metadata.xml")
    assert layer.bounds[0] > 770549


def test_zones_with_their_own_origins_make_one_layer(tmp_path: Path, shared_data: Path) -> None:
    a = write_textured_obj(tmp_path / "a", shared_data)
    b = write_textured_obj(tmp_path / "b", shared_data)
    sidecar = b.parent / "metadata.xml"  # zone b exported with another shift, same ground
    sidecar.write_text(sidecar.read_text().replace("770000,6277000,0", "770500,6277500,10"))
    b.write_text(_shift_obj(b.read_text(), (-500.0, -500.0, -10.0)))
    layer = read_mesh([a, b])
    assert len(layer.parts) == 2
    np.testing.assert_allclose(layer.parts[0].vertices, layer.parts[1].vertices, atol=1e-3)


def _shift_obj(text: str, by: tuple[float, float, float]) -> str:
    lines = []
    for line in text.splitlines():
        if line.startswith("v "):
            x, y, z = (float(v) + d for v, d in zip(line.split()[1:], by, strict=True))
            line = f"v {x:.3f} {y:.3f} {z:.3f}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def test_four_odd_ply_parts_load_as_one_layer(shared_data: Path) -> None:
    files = sorted((shared_data / PLY_DIR).glob("part-*_1.ply"))
    layer = read_mesh(files, srs="EPSG:2154", origin=PLY_ORIGIN)
    assert len(files) == 4 and len(layer.parts) == 4
    assert [len(p.faces) for p in layer.parts] == [14347, 15286, 11765, 10077]
    assert [len(p.vertices) for p in layer.parts] == [7303, 7830, 6055, 5181]
    minx, miny, maxx, maxy, minz, maxz = layer.bounds
    assert 635471 <= minx < maxx <= 635572 and 6856430 <= miny < maxy <= 6856532
    assert 0 <= minz < maxz < 46


def test_obj_with_vertex_colours_needs_georeferencing(shared_data: Path) -> None:
    with pytest.raises(MeshError, match="not georeferenced") as info:
        read_mesh([shared_data / LYON])
    assert str(shared_data / LYON) in str(info.value)
    layer = read_mesh([shared_data / LYON], srs="EPSG:2154", origin=(842000, 6519000, 170))
    assert layer.triangle_count == 1176 and layer.parts[0].colors is not None


def test_glb_is_read_y_up(textured_obj: Path, tmp_path: Path) -> None:
    import trimesh

    [part] = read_mesh([textured_obj]).parts
    local = part.vertices - ORIGIN
    y_up = np.column_stack([local[:, 0], local[:, 2], -local[:, 1]])
    visual = trimesh.visual.TextureVisuals(
        uv=np.column_stack([part.uv[:, 0], 1 - part.uv[:, 1]]),
        image=Image.fromarray(part.texture.pixels()),
    )
    glb = textured_obj.parent / "model.glb"
    trimesh.Trimesh(y_up, part.faces, visual=visual, process=False).export(glb)
    [again] = read_mesh([glb]).parts
    np.testing.assert_allclose(again.vertices, part.vertices, atol=1e-3)
    np.testing.assert_allclose(again.uv, part.uv, atol=1e-6)
    assert again.texture is not None and again.texture.size == part.texture.size


def test_missing_texture_is_named(textured_obj: Path) -> None:
    (textured_obj.parent / "texture.jpg").unlink()
    with pytest.raises(MeshError, match=r"texture texture\.jpg named in model\.mtl not found"):
        read_mesh([textured_obj])


def test_broken_face_indices_are_reported(textured_obj: Path) -> None:
    with textured_obj.open("a") as f:
        f.write("f 1/1 2/2 999999/3\n")
    with pytest.raises(MeshError, match=r"model\.obj: face vertex index out of range"):
        read_mesh([textured_obj])


def test_unknown_srs_in_the_sidecar_is_reported(textured_obj: Path) -> None:
    sidecar = textured_obj.parent / "metadata.xml"
    sidecar.write_text(sidecar.read_text().replace("EPSG:2154", "EPSG:999999"))
    with pytest.raises(MeshError, match=r"metadata\.xml: unknown SRS 'EPSG:999999'"):
        read_mesh([textured_obj])


def test_empty_mesh_is_reported(tmp_path: Path) -> None:
    empty = tmp_path / "empty.obj"
    empty.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\n")
    with pytest.raises(MeshError, match="empty mesh"):
        read_mesh([empty], srs="EPSG:2154")
