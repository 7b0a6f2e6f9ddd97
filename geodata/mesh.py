"""Read photogrammetry meshes (OBJ + MTL + textures, PLY, glTF/GLB) into plain numpy objects.

A campaign is delivered as many files of one zone, in a local frame shifted from a projected CRS
(coordinates of ~10^6 m lose centimetres in float32, so exporters subtract an origin). The shift
and the CRS come from a `metadata.xml` sidecar as ContextCapture / Agisoft / ODM write it
(`<SRS>EPSG:2154</SRS><SRSOrigin>x,y,z</SRSOrigin>`) or from explicit arguments, which win.
`read_mesh` returns absolute source-CRS coordinates in float64, one `MeshPart` per material.

Every failure names the file it is about and is a `MeshError`, a `ValueError`: bad input, not a
bug.
"""

from __future__ import annotations

import gc
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from pyproj import CRS
from pyproj.exceptions import CRSError

SIDECAR = "metadata.xml"
SIDECAR_SEARCH_DEPTH = 3  # the file's folder and two above (ContextCapture: Data/Tile_x/...)
FORMATS = (".obj", ".ply", ".glb", ".gltf")
Origin = tuple[float, float, float]


class MeshError(ValueError):
    """A mesh source that cannot be used as given (unreadable, broken, not georeferenced...)."""


class Texture:
    """A texture image kept encoded until its pixels are needed: a campaign's textures decoded
    at once would not fit in memory (one 8192² RGB texture is 200 MB, a zone has hundreds)."""

    def __init__(self, encoded: bytes | None = None, pixels: NDArray[np.uint8] | None = None):
        if (encoded is None) == (pixels is None):
            raise ValueError("a Texture needs encoded bytes or pixels, not both")
        self._encoded, self._pixels = encoded, pixels
        if pixels is not None:
            self.size = (int(pixels.shape[1]), int(pixels.shape[0]))
            self.channels = int(pixels.shape[2])
        else:
            with Image.open(io.BytesIO(encoded)) as image:  # reads the header only
                self.size, self.channels = image.size, 4 if _has_alpha(image) else 3

    @classmethod
    def from_pil(cls, image: Image.Image) -> Texture:
        """Keeps the bytes of a not-yet-decoded image (as trimesh opens them), else the pixels."""
        fp = getattr(image, "fp", None)
        if isinstance(fp, io.BytesIO) and getattr(image, "_im", None) is None:
            return cls(encoded=fp.getvalue())
        return cls(pixels=_pixels(image))

    def pixels(self) -> NDArray[np.uint8]:
        """(h, w, channels) uint8, decoded anew on every call from encoded bytes."""
        if self._pixels is not None:
            return self._pixels
        with Image.open(io.BytesIO(self._encoded)) as image:
            return _pixels(image)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _pixels(image: Image.Image) -> NDArray[np.uint8]:
    return np.asarray(image.convert("RGBA" if _has_alpha(image) else "RGB"), dtype=np.uint8)


@dataclass
class MeshPart:
    """The triangles of one material of one file.

    `uv` follows glTF: (0, 0) is the top-left corner of `texture`. `colors` are per-vertex RGBA.
    """

    vertices: NDArray[np.float64]  # (n, 3) absolute source-CRS coordinates
    faces: NDArray[np.int64]  # (m, 3) indices into vertices
    uv: NDArray[np.float32] | None  # (n, 2), None without texture
    texture: Texture | None
    colors: NDArray[np.uint8] | None  # (n, 4)
    source: Path


@dataclass(frozen=True)
class Georef:
    """Where a file's local coordinates are on Earth, and who said so (for messages)."""

    srs: str
    origin: Origin
    source: str


@dataclass
class MeshLayer:
    """All the parts of the files of one zone, in one source CRS."""

    parts: list[MeshPart]
    srs: str
    files: list[Path]
    georef_source: str

    @property
    def triangle_count(self) -> int:
        return sum(len(p.faces) for p in self.parts)

    @property
    def bounds(self) -> tuple[float, float, float, float, float, float]:
        """(minx, miny, maxx, maxy, minz, maxz) in the source CRS."""
        lo = np.min([p.vertices.min(axis=0) for p in self.parts], axis=0)
        hi = np.max([p.vertices.max(axis=0) for p in self.parts], axis=0)
        return tuple(float(v) for v in (lo[0], lo[1], hi[0], hi[1], lo[2], hi[2]))  # type: ignore[return-value]


# --- georeferencing --------------------------------------------------------------------------


def _check_srs(srs: str, where: str) -> str:
    try:
        CRS.from_user_input(srs)
    except CRSError as exc:
        raise MeshError(f"{where}: unknown SRS {srs!r} ({exc})") from exc
    return srs


def find_sidecar(path: Path) -> Path | None:
    """The nearest `metadata.xml` in the file's folder or the folders above it."""
    folder = path.resolve().parent
    for _ in range(SIDECAR_SEARCH_DEPTH):
        candidate = folder / SIDECAR
        if candidate.is_file():
            return candidate
        if folder.parent == folder:
            break
        folder = folder.parent
    return None


def _parse_origin(text: str, where: str) -> Origin:
    values = [v for v in re.split(r"[,\s]+", text.strip()) if v]
    try:
        numbers = [float(v) for v in values]
    except ValueError as exc:
        raise MeshError(f"{where}: SRSOrigin {text!r} is not numbers") from exc
    if len(numbers) not in (2, 3):
        raise MeshError(f"{where}: SRSOrigin {text!r} needs 2 or 3 numbers")
    return (numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else 0.0)


def read_sidecar(path: Path) -> tuple[str | None, Origin | None]:
    """SRS and origin of a ContextCapture-style `metadata.xml` (either may be absent)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise MeshError(f"{path}: not a readable metadata.xml ({exc})") from exc
    srs_node, origin_node = root.find(".//SRS"), root.find(".//SRSOrigin")
    srs = srs_node.text.strip() if srs_node is not None and srs_node.text else None
    origin = None
    if origin_node is not None and origin_node.text:
        origin = _parse_origin(origin_node.text, str(path))
    if srs is not None:
        _check_srs(srs, str(path))
    return srs, origin


def georef(path: Path, srs: str | None = None, origin: Origin | None = None) -> Georef:
    """How one file is georeferenced: the arguments override the sidecar, field by field."""
    sidecar = find_sidecar(path)
    side_srs, side_origin = read_sidecar(sidecar) if sidecar else (None, None)
    if srs is not None:
        _check_srs(srs, f"{path}: srs argument")
    chosen = srs or side_srs
    if chosen is None:
        raise MeshError(
            f"{path}: not georeferenced: no {SIDECAR} with an <SRS> beside it or above it, "
            "and no srs given (e.g. --srs EPSG:2154 --origin X,Y,Z)"
        )
    used = [f"{name} argument" for name, v in (("srs", srs), ("origin", origin)) if v]
    if sidecar and ((side_srs and not srs) or (side_origin and not origin)):
        used.append(str(sidecar))
    return Georef(chosen, origin or side_origin or (0.0, 0.0, 0.0), " + ".join(used))


# --- PLY that trimesh cannot read: a whitespace-token parser --------------------------------


@dataclass
class _PlyElement:
    name: str
    count: int
    properties: list[tuple[str, bool]]  # (name, is_list)


def _ply_header(data: bytes, path: Path) -> tuple[list[_PlyElement], str, int]:
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise MeshError(f"{path}: not a PLY file (no 'ply' ... 'end_header')")
    elements: list[_PlyElement] = []
    fmt = ""
    for line in data[:end].decode("ascii", "replace").splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "format":
            fmt = words[1]
        elif words[0] == "element":
            elements.append(_PlyElement(words[1], int(words[2]), []))
        elif words[0] == "property" and elements:
            elements[-1].properties.append((words[-1], words[1] == "list"))
    body = data.index(b"\n", end) + 1 if b"\n" in data[end:] else len(data)
    return elements, fmt, body


def _ply_faces(tokens: NDArray[np.float64], start: int, count: int, path: Path) -> NDArray:
    """Polygons [n, i0 .. in-1] as triangles (fans); all-triangle files take one reshape."""
    tri = tokens[start : start + 4 * count]
    if tri.size == 4 * count and (tri[::4] == 3).all():
        return tri.reshape(count, 4)[:, 1:].astype(np.int64)
    faces, at = [], start
    for _ in range(count):
        if at >= tokens.size:
            raise MeshError(f"{path}: PLY face list ends early")
        n = int(tokens[at])
        ring = tokens[at + 1 : at + 1 + n].astype(np.int64)
        faces += [(ring[0], ring[k], ring[k + 1]) for k in range(1, n - 1)]
        at += 1 + n
    return np.asarray(faces, np.int64).reshape(-1, 3)


def read_ascii_ply(path: Path) -> MeshPart:
    """An ASCII PLY read as one stream of numbers, so line breaks do not matter (some exporters
    write all values on one line, which trimesh reads as a single vertex). Vertex and face
    elements must come first; the vertex element may not hold lists."""
    data = path.read_bytes()
    elements, fmt, body = _ply_header(data, path)
    if fmt != "ascii":
        raise MeshError(f"{path}: PLY format {fmt!r} needs trimesh, which could not read it")
    names = [e.name for e in elements]
    if names[:2] != ["vertex", "face"]:
        raise MeshError(f"{path}: PLY elements {names} (expected vertex then face)")
    vertex, face = elements[0], elements[1]
    if any(is_list for _, is_list in vertex.properties):
        raise MeshError(f"{path}: PLY vertex element with a list property")
    tokens = np.fromstring(data[body:].decode("ascii", "replace"), sep=" ")
    width = len(vertex.properties)
    if tokens.size < width * vertex.count:
        raise MeshError(f"{path}: PLY ends inside its vertex list")
    table = tokens[: width * vertex.count].reshape(vertex.count, width)
    column = {name: i for i, (name, _) in enumerate(vertex.properties)}
    if not {"x", "y", "z"} <= column.keys():
        raise MeshError(f"{path}: PLY vertices without x, y, z")
    xyz = table[:, [column["x"], column["y"], column["z"]]]
    colors = None
    if {"red", "green", "blue"} <= column.keys():
        rgba = [column[c] for c in ("red", "green", "blue")] + [column.get("alpha", -1)]
        colors = np.full((vertex.count, 4), 255, np.uint8)
        colors[:, :3] = table[:, rgba[:3]]
        if rgba[3] >= 0:
            colors[:, 3] = table[:, rgba[3]]
    faces = _ply_faces(tokens, width * vertex.count, face.count, path)
    return MeshPart(xyz, faces, None, None, colors, path)


# --- OBJ / glTF / binary PLY through trimesh -------------------------------------------------


def _mtllibs(text: bytes) -> list[str]:
    """The material libraries an OBJ names (bytes.find: a regex over 100s of MB is slow)."""
    names, at = [], text.find(b"mtllib")
    while at >= 0:
        start = text.rfind(b"\n", 0, at) + 1
        end = text.find(b"\n", at)
        line = text[start : end if end >= 0 else len(text)].strip()
        if line.startswith(b"mtllib"):
            names.append(line[6:].strip().decode("utf-8", "replace"))
        at = text.find(b"mtllib", at + 6)
    return names


def _check_obj_textures(path: Path) -> None:
    """Every MTL and texture an OBJ names must exist: trimesh would silently drop them."""
    for lib in _mtllibs(path.read_bytes()):
        mtl = path.parent / lib
        if not mtl.is_file():
            raise MeshError(f"{path}: material library {mtl.name} not found ({mtl})")
        for line in mtl.read_text(encoding="utf-8", errors="replace").splitlines():
            words = line.split()
            if len(words) >= 2 and words[0].lower().startswith("map_"):
                texture = mtl.parent / words[-1].replace("\\", "/")
                if not texture.is_file():
                    raise MeshError(f"{path}: texture {words[-1]} named in {mtl.name} not found")


def _check_gltf_resources(path: Path) -> None:
    """External buffers and images of a .gltf must exist beside it."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MeshError(f"{path}: not a readable glTF JSON ({exc})") from exc
    for item in doc.get("buffers", []) + doc.get("images", []):
        uri = item.get("uri", "")
        if uri and not uri.startswith("data:") and not (path.parent / uri).is_file():
            raise MeshError(f"{path}: resource {uri} not found")


def _trimesh_part(geom: object, path: Path) -> MeshPart:
    """One trimesh.Trimesh as a MeshPart (uv flipped from OBJ's bottom-left origin to glTF's)."""
    # copies: a view would keep trimesh's whole object graph (reference cycles) alive
    vertices = np.array(geom.vertices, np.float64)
    faces = np.array(geom.faces, np.int64).reshape(-1, 3)
    visual = geom.visual
    uv = texture = colors = None
    if visual.kind == "texture" and getattr(visual, "uv", None) is not None:
        material = visual.material
        image = getattr(material, "baseColorTexture", None) or getattr(material, "image", None)
        if image is not None:
            texture = Texture.from_pil(image)
            raw = np.asarray(visual.uv, np.float64)
            uv = np.stack([raw[:, 0], 1.0 - raw[:, 1]], axis=1).astype(np.float32)
    elif visual.kind == "vertex":
        colors = np.array(visual.vertex_colors, np.uint8)
    return MeshPart(vertices, faces, uv, texture, colors, path)


def _gltf_to_z_up(part: MeshPart) -> MeshPart:
    """glTF is y-up: (x, y, z) = (east, up, -north)."""
    v = part.vertices
    part.vertices = np.stack([v[:, 0], -v[:, 2], v[:, 1]], axis=1)
    return part


def _read_trimesh(path: Path) -> list[MeshPart]:
    import trimesh

    suffix = path.suffix.lower()
    if suffix == ".obj":
        _check_obj_textures(path)
    elif suffix == ".gltf":
        _check_gltf_resources(path)
    try:
        loaded = trimesh.load(path, process=False, force="scene")
        geoms = loaded.dump(concatenate=False) if hasattr(loaded, "dump") else [loaded]
    except IndexError as exc:
        raise MeshError(f"{path}: face vertex index out of range ({exc})") from exc
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise MeshError(f"{path}: cannot read mesh ({type(exc).__name__}: {exc})") from exc
    parts = [_trimesh_part(g, path) for g in geoms if hasattr(g, "faces") and len(g.faces)]
    del loaded, geoms
    gc.collect()  # trimesh objects hold reference cycles: free them before the next file
    return [_gltf_to_z_up(p) for p in parts] if suffix in (".glb", ".gltf") else parts


def _ply_faces_announced(path: Path) -> int:
    """How many faces the PLY header announces (0 when it cannot be read)."""
    with path.open("rb") as f:
        head = f.read(65536)
    if b"end_header" not in head:
        return 0
    elements, _, _ = _ply_header(head, path)
    return next((e.count for e in elements if e.name == "face"), 0)


def _read_ply(path: Path) -> list[MeshPart]:
    """trimesh first (binary PLY, textures); the token parser when it fails or miscounts."""
    try:
        parts = _read_trimesh(path)
    except MeshError:
        return [read_ascii_ply(path)]
    expected = _ply_faces_announced(path)
    if sum(len(p.faces) for p in parts) < expected:  # e.g. all values on one line
        return [read_ascii_ply(path)]
    return parts


def read_mesh_file(path: Path) -> list[MeshPart]:
    """The parts of one file, in the file's own (local) coordinates, faces checked."""
    path = Path(path)
    if not path.is_file():
        raise MeshError(f"{path}: no such file")
    if path.suffix.lower() not in FORMATS:
        raise MeshError(f"{path}: not a mesh ({', '.join(FORMATS)})")
    parts = _read_ply(path) if path.suffix.lower() == ".ply" else _read_trimesh(path)
    for part in parts:
        _check_faces(part)
    if not parts:
        raise MeshError(f"{path}: empty mesh (no triangle)")
    return parts


def _check_faces(part: MeshPart) -> None:
    n = len(part.vertices)
    if part.faces.size and (part.faces.min() < 0 or part.faces.max() >= n):
        bad = int(((part.faces < 0) | (part.faces >= n)).any(axis=1).sum())
        raise MeshError(
            f"{part.source}: {bad} face(s) with vertex indices out of range (0..{n - 1})"
        )
    if not np.isfinite(part.vertices).all():
        raise MeshError(f"{part.source}: vertices with non-finite coordinates")


def read_mesh(
    files: Sequence[Path], *, srs: str | None = None, origin: Origin | None = None
) -> MeshLayer:
    """The files of one zone as one layer in absolute source coordinates.

    Each file is shifted by its own origin (sidecar or argument); all must share one SRS.
    """
    if not files:
        raise MeshError("no mesh file given")
    parts: list[MeshPart] = []
    layer_srs: str | None = None
    sources = []
    for path in map(Path, files):
        ref = georef(path, srs, origin)
        if layer_srs is not None and CRS.from_user_input(ref.srs) != CRS(layer_srs):
            raise MeshError(f"{path}: SRS {ref.srs} differs from the other files' {layer_srs}")
        layer_srs = layer_srs or ref.srs
        sources.append(ref.source)
        for part in read_mesh_file(path):
            part.vertices = part.vertices + np.asarray(ref.origin, np.float64)
            parts.append(part)
    assert layer_srs is not None
    if not any(len(p.faces) for p in parts):
        raise MeshError(f"{', '.join(map(str, files))}: empty mesh (no triangle)")
    return MeshLayer(parts, layer_srs, [Path(f) for f in files], ", ".join(sorted(set(sources))))
