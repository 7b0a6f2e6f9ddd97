"""A small glTF 2.0 binary (.glb) writer and reader for numpy data.

Written here rather than taken from pygltflib: the whole format needed is ~100 lines (a JSON
chunk, one BIN chunk, buffer views and accessors), numpy arrays go in as bytes without a copy per
element, and the rules that matter are enforced in one place: 4-byte alignment of chunks and of
vertex elements, `byteStride` when an element is padded, min/max on POSITION.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

GLB_MAGIC = 0x46546C67  # "glTF"
CHUNK_JSON = 0x4E4F534A  # "JSON"
CHUNK_BIN = 0x004E4942  # "BIN\0"
ARRAY_BUFFER = 34962  # bufferView.target for vertex attributes
POINTS = 0  # mesh.primitive.mode
ELEMENT_ARRAY_BUFFER = 34963  # bufferView.target for vertex indices
TRIANGLES = 4  # mesh.primitive.mode

COMPONENT_TYPES = {  # numpy dtype -> glTF componentType
    np.dtype(np.int8): 5120,
    np.dtype(np.uint8): 5121,
    np.dtype(np.int16): 5122,
    np.dtype(np.uint16): 5123,
    np.dtype(np.uint32): 5125,
    np.dtype(np.float32): 5126,
}
DTYPES = {v: k for k, v in COMPONENT_TYPES.items()}
TYPES = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4"}
WIDTHS = {v: k for k, v in TYPES.items()}


def _pad4(n: int) -> int:
    return (n + 3) & ~3


class GlbBuilder:
    """Collects vertex attributes into one binary buffer, then writes the .glb."""

    def __init__(self, generator: str = "twin") -> None:
        self.gltf: dict[str, Any] = {
            "asset": {"version": "2.0", "generator": generator},
            "buffers": [],
            "bufferViews": [],
            "accessors": [],
        }
        self._chunks: list[bytes] = []
        self._length = 0

    def vertex_attribute(
        self, data: NDArray[Any], *, normalized: bool = False, min_max: bool = False
    ) -> int:
        """Add an (n,) or (n, k) array as a vertex-attribute accessor; its index.

        Elements are padded to a multiple of 4 bytes (glTF requires vertex elements to be
        4-byte aligned), with `byteStride` saying so when padding was needed.
        """
        data = np.ascontiguousarray(data)
        if data.dtype not in COMPONENT_TYPES:
            raise TypeError(f"glTF has no component type for {data.dtype}")
        count = data.shape[0]
        width = 1 if data.ndim == 1 else data.shape[1]
        element = data.dtype.itemsize * width
        stride = _pad4(element)
        if stride != element:
            padded = np.zeros((count, stride), np.uint8)
            padded[:, :element] = data.view(np.uint8).reshape(count, element)
            raw = padded.tobytes()
        else:
            raw = data.tobytes()
        view: dict[str, Any] = {
            "buffer": 0,
            "byteOffset": self._length,
            "byteLength": len(raw),
            "target": ARRAY_BUFFER,
        }
        if stride != element:
            view["byteStride"] = stride
        self._append(raw)
        self.gltf["bufferViews"].append(view)
        accessor: dict[str, Any] = {
            "bufferView": len(self.gltf["bufferViews"]) - 1,
            "componentType": COMPONENT_TYPES[data.dtype],
            "count": int(count),
            "type": TYPES[width],
        }
        if normalized:
            accessor["normalized"] = True
        if min_max and count:
            cast = float if data.dtype.kind == "f" else int
            cols = data.reshape(count, width)  # per column: far faster than min(axis=0)
            accessor["min"] = [cast(cols[:, i].min()) for i in range(width)]
            accessor["max"] = [cast(cols[:, i].max()) for i in range(width)]
        self.gltf["accessors"].append(accessor)
        return len(self.gltf["accessors"]) - 1

    def index_accessor(self, indices: NDArray[Any]) -> int:
        """Add triangle (or line) vertex indices, flattened, as uint16 when they fit, else
        uint32; the accessor's index."""
        flat = np.ascontiguousarray(indices).reshape(-1)
        dtype = np.uint16 if flat.size == 0 or int(flat.max()) < 65535 else np.uint32
        raw = flat.astype(dtype).tobytes()
        view = self.buffer_view(raw, align=4, target=ELEMENT_ARRAY_BUFFER)
        self.gltf["accessors"].append(
            {
                "bufferView": view,
                "componentType": COMPONENT_TYPES[np.dtype(dtype)],
                "count": int(flat.size),
                "type": "SCALAR",
            }
        )
        return len(self.gltf["accessors"]) - 1

    def buffer_view(self, raw: bytes, *, align: int = 8, target: int | None = None) -> int:
        """Add raw bytes as a buffer view starting at a multiple of `align` (4 or 8) bytes; its
        index. Used for property tables, whose values must be aligned to their component size
        (EXT_structural_metadata: 8 for INT64/FLOAT64). Empty `raw` becomes one zero byte, since
        glTF buffer views cannot be empty (e.g. a column of empty strings)."""
        raw = raw or b"\0"
        if self._length % align:
            self._append(b"\0" * (align - self._length % align))
        view: dict[str, Any] = {"buffer": 0, "byteOffset": self._length, "byteLength": len(raw)}
        if target is not None:
            view["target"] = target
        self._append(raw)
        self.gltf["bufferViews"].append(view)
        return len(self.gltf["bufferViews"]) - 1

    def image(self, encoded: bytes, mime_type: str) -> int:
        """Embed an encoded image (JPEG or PNG bytes) in the binary chunk; its index in
        `images`. Image buffer views carry no `target` (they are not vertex data)."""
        view = self.buffer_view(encoded, align=4)
        images = self.gltf.setdefault("images", [])
        images.append({"bufferView": view, "mimeType": mime_type})
        return len(images) - 1

    def _append(self, raw: bytes) -> None:
        self._chunks.append(raw)
        self._length += len(raw)
        if self._length % 4:
            pad = 4 - self._length % 4
            self._chunks.append(b"\0" * pad)
            self._length += pad

    def to_bytes(self) -> bytes:
        gltf = dict(self.gltf)
        if self._length:
            gltf["buffers"] = [{"byteLength": self._length}]
        else:
            for key in ("buffers", "bufferViews", "accessors"):
                gltf.pop(key, None)
        text = json.dumps(gltf, separators=(",", ":")).encode("utf-8")
        text += b" " * (_pad4(len(text)) - len(text))  # JSON chunk padded with spaces
        total = 12 + 8 + len(text) + (8 + self._length if self._length else 0)
        out = [struct.pack("<III", GLB_MAGIC, 2, total), struct.pack("<II", len(text), CHUNK_JSON)]
        out.append(text)
        if self._length:
            out.append(struct.pack("<II", self._length, CHUNK_BIN))
            out.extend(self._chunks)
        return b"".join(out)

    def write(self, path: Path) -> int:
        data = self.to_bytes()
        Path(path).write_bytes(data)
        return len(data)


def read_glb(path: Path | bytes) -> tuple[dict[str, Any], bytes]:
    """The JSON and BIN chunk of a .glb (path or bytes)."""
    data = path if isinstance(path, bytes) else Path(path).read_bytes()
    magic, version, total = struct.unpack_from("<III", data, 0)
    if magic != GLB_MAGIC or version != 2:
        raise ValueError("not a glTF 2.0 binary")
    offset, gltf, binary = 12, None, b""
    while offset < min(total, len(data)):
        length, kind = struct.unpack_from("<II", data, offset)
        body = data[offset + 8 : offset + 8 + length]
        if kind == CHUNK_JSON:
            gltf = json.loads(body)
        elif kind == CHUNK_BIN:
            binary = body
        offset += 8 + length
    if gltf is None:
        raise ValueError("glb without a JSON chunk")
    return gltf, binary


def accessor_array(gltf: dict[str, Any], binary: bytes, index: int) -> NDArray[Any]:
    """An accessor's elements as an (count,) or (count, k) array (strided views honoured)."""
    acc = gltf["accessors"][index]
    view = gltf["bufferViews"][acc["bufferView"]]
    dtype = DTYPES[acc["componentType"]]
    width = WIDTHS[acc["type"]]
    count = acc["count"]
    if count == 0:
        return np.zeros((0,) if width == 1 else (0, width), dtype)
    element = dtype.itemsize * width
    stride = view.get("byteStride", element)
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    raw = np.frombuffer(binary, np.uint8, count=stride * (count - 1) + element, offset=start)
    if stride != element:
        raw = np.lib.stride_tricks.as_strided(raw, (count, element), (stride, 1)).copy()
    out = raw.reshape(-1).view(dtype) if stride == element else raw.view(dtype)
    return out.reshape(count) if width == 1 else out.reshape(count, width)
