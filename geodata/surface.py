"""A textured surface mesh from a DSM and an orthophoto of the same ground, written the way
photogrammetry tools export theirs (local coordinates, OBJ + MTL + JPEG, metadata.xml).

Why: a 2.5D textured mesh from IGN's DSM and BD ORTHO is what a territory without its own
photogrammetry campaign can show, and it is the textured mesh the demo scene and the tests load
through the ordinary mesh import path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from numpy.typing import NDArray
from PIL import Image

Origin = tuple[float, float, float]


def dsm_mesh(dsm: Path) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Vertices at the DSM's pixel centres (absolute, in its CRS) and the triangles between
    them; cells touching nodata are dropped."""
    with rasterio.open(dsm) as src:
        z = src.read(1).astype(np.float64)
        t, nodata = src.transform, src.nodata
    rows, cols = np.mgrid[0 : z.shape[0], 0 : z.shape[1]]
    x, y = t.c + (cols + 0.5) * t.a, t.f + (rows + 0.5) * t.e
    vertices = np.column_stack([x.ravel(), y.ravel(), z.ravel()])
    ids = np.arange(z.size).reshape(z.shape)
    a, b = ids[:-1, :-1].ravel(), ids[:-1, 1:].ravel()
    c, d = ids[1:, :-1].ravel(), ids[1:, 1:].ravel()
    faces = np.concatenate([np.column_stack([a, c, b]), np.column_stack([b, c, d])])
    valid = np.isfinite(z.ravel()) if nodata is None else (z.ravel() != nodata)
    faces = faces[valid[faces].all(axis=1)]
    used, inverse = np.unique(faces, return_inverse=True)
    return vertices[used], inverse.reshape(-1, 3)


def ortho_uv(ortho: Path, xy: NDArray[np.float64]) -> tuple[NDArray[np.float64], Image.Image]:
    """OBJ texture coordinates (origin bottom-left) of ground points in the orthophoto, which
    must be on the same CRS as the points, and the orthophoto as an image."""
    with rasterio.open(ortho) as src:
        image = Image.fromarray(np.moveaxis(src.read(indexes=[1, 2, 3]), 0, -1))
        left, bottom, right, top = src.bounds
    u = (xy[:, 0] - left) / (right - left)
    v = (xy[:, 1] - bottom) / (top - bottom)
    return np.column_stack([u, v]), image


def write_textured_obj(
    folder: Path, dsm: Path, ortho: Path, *, srs: str, origin: Origin, name: str = "model"
) -> Path:
    """The DSM surface textured with the orthophoto as `folder/name.obj` (+ .mtl, texture.jpg
    and metadata.xml with `srs` and `origin`, which is subtracted from the coordinates)."""
    folder.mkdir(parents=True, exist_ok=True)
    vertices, faces = dsm_mesh(dsm)
    uv, image = ortho_uv(ortho, vertices[:, :2])
    image.save(folder / "texture.jpg", quality=95)
    (folder / f"{name}.mtl").write_text("newmtl ortho\nKd 1 1 1\nmap_Kd texture.jpg\n")
    local = vertices - np.asarray(origin)
    lines = [f"mtllib {name}.mtl"]
    lines += [f"v {x:.3f} {y:.3f} {z:.3f}" for x, y, z in local]
    lines += [f"vt {u:.6f} {v:.6f}" for u, v in uv]
    lines.append("usemtl ortho")
    lines += [f"f {a}/{a} {b}/{b} {c}/{c}" for a, b, c in faces + 1]
    (folder / f"{name}.obj").write_text("\n".join(lines) + "\n")
    (folder / "metadata.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<ModelMetadata version="1">\n'
        f"  <SRS>{srs}</SRS>\n"
        f"  <SRSOrigin>{','.join(_number(v) for v in origin)}</SRSOrigin>\n"
        "  <Texture><ColorSource>Visible</ColorSource></Texture>\n</ModelMetadata>\n"
    )
    return folder / f"{name}.obj"


def _number(value: float) -> str:
    """Millimetres at most, without trailing zeros (770000, 6277000.25)."""
    return f"{value:.3f}".rstrip("0").rstrip(".")
