"""Photogrammetry meshes to hierarchical OGC 3D Tiles 1.1 with levels of detail.

The scheme, bottom-up so that only one branch of the tree is in memory beyond the source mesh:
- the mesh goes to a local east-north-up frame at its centre (the root `transform`, RTC);
- cells split at their middle along each horizontal axis at least half as long as the longer
  one, and vertically only where taller than wide (a quadtree for a zone, binary for a tower),
  while they hold more than `leaf_triangles`; a triangle belongs to the cell of its centroid,
  so triangles and textures are never cut;
- a leaf keeps its triangles at full resolution and packs the texture charts it uses (cropped
  from the source images) into one atlas per tile;
- a parent merges its children, halves their atlases (texture downsampling per level) and packs
  them into one, then simplifies by quadric edge collapse (fast-simplification) to 1/`reduction`
  of the triangles. Tile borders are locked, so neighbouring tiles of any levels meet without
  cracks. The collapse history maps every corner to the surviving vertex of its own texture
  chart, so UVs stay valid across texture seams;
- geometric error (metres) of a parent = the largest distance from its children's vertices to
  its simplified surface + the children's error, and at least the size of one of its texels on
  the ground: what a viewer loses by drawing this tile instead of its children. Leaves: 0.
  Refinement is REPLACE; bounding volumes are boxes in the root frame enclosing content and
  children.
"""

from __future__ import annotations

import io
import json
import math
import os
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fast_simplification
import numba
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from geodata.crs import ecef_pipeline, ecef_to_lonlat, enu_to_ecef_matrix, lonlat_bounds, to_local
from geodata.mesh import MeshLayer, Origin, Texture, read_mesh
from tiles.gltf import TRIANGLES, GlbBuilder

Progress = Callable[[float, str], None]
CONTENT_DIR = "t"
MIN_HALF_SIZE = 0.005  # m: boxes of flat tiles keep a non-zero thickness
PAD = 2  # texels of source image kept around each chart, so bilinear filtering does not bleed
GENERATOR = "twin mesh tiler"
BLANK_SIZE = (4, 4)  # px of the white patch standing for an untextured part in a textured layer
DECODED_TEXTURES = 4  # source textures kept decoded at once
NO_FACES = np.empty(0, np.int64)  # a node's faces once built (a [:0] view would keep them)
SAMPLER = {"magFilter": 9729, "minFilter": 9987, "wrapS": 33071, "wrapT": 33071}  # linear, clamp


@dataclass(frozen=True)
class MeshTilingOptions:
    """Knobs of the tiler; the defaults suit 1/500 photogrammetry (a few cm per triangle)."""

    leaf_triangles: int = 40_000  # a cell holding more is split
    max_depth: int = 12
    reduction: float = 4.0  # a parent keeps 1/reduction of its children's triangles
    max_texture: int = 4096  # px: a tile's atlas larger than this on a side is scaled down
    jpeg_quality: int = 85


@dataclass
class MeshResult:
    tile_count: int
    triangle_count: int  # of the source
    source_crs: str
    bounds_source: tuple[float, float, float, float, float, float]  # minx miny maxx maxy minz maxz
    bounds_wgs84: tuple[float, float, float, float]  # west south east north
    height_note: str
    attributes: list[dict] = field(default_factory=list)


@dataclass
class _Content:
    """One tile's triangles in the local frame; `key` identifies a vertex across tiles."""

    position: NDArray[np.float64]  # (n, 3)
    key: NDArray[np.int64]  # (n,) welded source vertex id
    faces: NDArray[np.int64]  # (m, 3)
    uv: NDArray[np.float32] | None  # (n, 2) in `image`, glTF convention
    color: NDArray[np.uint8] | None  # (n, 4)
    image: NDArray[np.uint8] | None  # (h, w, c) atlas
    error: float = 0.0


@dataclass
class _Source:
    """The whole layer flattened: every part's vertices in one array, welded keys, textures
    (decoded on demand, the last few kept: leaves are visited in spatial order)."""

    position: NDArray[np.float64]
    key: NDArray[np.int64]
    faces: NDArray[np.int64]
    uv: NDArray[np.float32] | None
    color: NDArray[np.uint8] | None
    part: NDArray[np.int32]  # (n,) index into textures
    textures: list[Texture | None]
    channels: int = 3
    decoded: OrderedDict[int, NDArray[np.uint8]] = field(default_factory=OrderedDict)

    def size(self, part: int) -> tuple[int, int]:
        texture = self.textures[part]
        return texture.size if texture is not None else BLANK_SIZE

    def pixels(self, part: int) -> NDArray[np.uint8]:
        """A part's texture with `channels` channels; a white patch for a part without one."""
        if part in self.decoded:
            self.decoded.move_to_end(part)
            return self.decoded[part]
        texture = self.textures[part]
        if texture is None:
            image = np.full((BLANK_SIZE[1], BLANK_SIZE[0], self.channels), 255, np.uint8)
        else:
            image = texture.pixels()
            if image.shape[2] < self.channels:
                image = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
        self.decoded[part] = image
        if len(self.decoded) > DECODED_TEXTURES:
            self.decoded.popitem(last=False)
        return image


@dataclass
class _Node:
    name: str
    faces: NDArray[np.int64]  # source face indices (emptied once the node is built)
    children: list[_Node] = field(default_factory=list)


# --- numba kernels ---------------------------------------------------------------------------


@numba.njit(cache=True)
def _root(parent: NDArray[np.int64], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@numba.njit(cache=True)
def _components(faces: NDArray[np.int64], n: int) -> NDArray[np.int64]:
    """Connected component (0..k-1) of each of n vertices through the faces: texture charts."""
    parent = np.arange(n)
    for f in range(faces.shape[0]):
        a = _root(parent, faces[f, 0])
        for k in range(1, 3):
            b = _root(parent, faces[f, k])
            if a != b:
                parent[b] = a
    labels = np.full(n, -1)
    count = 0
    for i in range(n):
        r = _root(parent, i)
        if labels[r] < 0:
            labels[r] = count
            count += 1
        labels[i] = labels[r]
    return labels


Vec = tuple[float, float, float]
VANISHED, SKIP = -1, -2  # _max_deviation's markers for points without a surviving vertex
MAX_VANISHED = 2000  # vanished points measured against every triangle (a uniform sample)


@numba.njit(cache=True)
def _sub(u: Vec, v: Vec) -> Vec:
    return (u[0] - v[0], u[1] - v[1], u[2] - v[2])


@numba.njit(cache=True)
def _dot(u: Vec, v: Vec) -> float:
    return u[0] * v[0] + u[1] * v[1] + u[2] * v[2]


@numba.njit(cache=True)
def _along(a: Vec, d: Vec, t: float) -> Vec:
    return (a[0] + t * d[0], a[1] + t * d[1], a[2] + t * d[2])


@numba.njit(cache=True)
def _dist(u: Vec, v: Vec) -> float:
    d = _sub(u, v)
    return math.sqrt(_dot(d, d))


@numba.njit(cache=True)
def _point_triangle(p: Vec, a: Vec, b: Vec, c: Vec) -> float:
    """Distance from p to triangle abc: the closest point is found by which Voronoi region of
    the triangle (vertex, edge or face) p projects into."""
    ab, ac, ap = _sub(b, a), _sub(c, a), _sub(p, a)
    d1, d2 = _dot(ab, ap), _dot(ac, ap)
    if d1 <= 0 and d2 <= 0:
        return _dist(p, a)
    bp = _sub(p, b)
    d3, d4 = _dot(ab, bp), _dot(ac, bp)
    if d3 >= 0 and d4 <= d3:
        return _dist(p, b)
    vc = d1 * d4 - d3 * d2
    if vc <= 0 and d1 >= 0 and d3 <= 0:
        return _dist(p, _along(a, ab, d1 / (d1 - d3)))
    cp = _sub(p, c)
    d5, d6 = _dot(ab, cp), _dot(ac, cp)
    if d6 >= 0 and d5 <= d6:
        return _dist(p, c)
    vb = d5 * d2 - d1 * d6
    if vb <= 0 and d2 >= 0 and d6 <= 0:
        return _dist(p, _along(a, ac, d2 / (d2 - d6)))
    va = d3 * d6 - d5 * d4
    if va <= 0 and d4 - d3 >= 0 and d5 - d6 >= 0:
        return _dist(p, _along(b, _sub(c, b), (d4 - d3) / ((d4 - d3) + (d5 - d6))))
    denom = va + vb + vc
    if denom == 0.0:  # degenerate triangle
        return min(_dist(p, a), _dist(p, b), _dist(p, c))
    return _dist(p, _along(_along(a, ab, vb / denom), ac, vc / denom))


@numba.njit(cache=True)
def _triangle_distance(
    p: Vec, vertices: NDArray[np.float64], faces: NDArray[np.int64], f: int
) -> float:
    t = faces[f]
    a = (vertices[t[0], 0], vertices[t[0], 1], vertices[t[0], 2])
    b = (vertices[t[1], 0], vertices[t[1], 1], vertices[t[1], 2])
    c = (vertices[t[2], 0], vertices[t[2], 1], vertices[t[2], 2])
    return _point_triangle(p, a, b, c)


@numba.njit(cache=True)
def _max_deviation(
    points: NDArray[np.float64],
    rep: NDArray[np.int64],
    vertices: NDArray[np.float64],
    faces: NDArray[np.int64],
    offsets: NDArray[np.int64],
    incident: NDArray[np.int64],
) -> float:
    """Largest distance from each point to the simplified triangles within two rings of the
    vertex it collapsed into: an upper bound of its distance to the simplified surface (the
    nearest triangle is almost always that close). `rep` is VANISHED for points whose piece of
    mesh (a small closed blob) collapsed to nothing, SKIP for those left out of the estimate."""
    worst = 0.0
    for i in range(points.shape[0]):
        r = rep[i]
        if r == SKIP:
            continue
        best = np.inf
        p = (points[i, 0], points[i, 1], points[i, 2])
        if r == VANISHED:  # its whole piece collapsed away: search every triangle
            for f in range(faces.shape[0]):
                best = min(best, _triangle_distance(p, vertices, faces, f))
        else:  # nearest triangles first; stop once this point cannot raise the maximum
            for j in range(offsets[r], offsets[r + 1]):
                best = min(best, _triangle_distance(p, vertices, faces, incident[j]))
            for j in range(offsets[r], offsets[r + 1]):
                if best <= worst:
                    break
                for k in range(3):
                    v = faces[incident[j], k]
                    for m in range(offsets[v], offsets[v + 1]):
                        best = min(best, _triangle_distance(p, vertices, faces, incident[m]))
        if best < np.inf:
            worst = max(worst, best)
    return worst


# --- source ----------------------------------------------------------------------------------


def _flatten(layer: MeshLayer, local: list[NDArray[np.float64]]) -> _Source:
    """All parts in one set of arrays. Vertices at the same source position share a key: the
    identity that lets simplification see across texture seams and file borders."""
    sizes = [len(p.vertices) for p in layer.parts]
    starts = np.cumsum([0, *sizes])
    faces = np.concatenate([p.faces + s for p, s in zip(layer.parts, starts, strict=False)])
    source_xyz = np.concatenate([p.vertices for p in layer.parts])
    _, key = np.unique(source_xyz, axis=0, return_inverse=True)
    uv = None
    textures = [p.texture for p in layer.parts]
    if any(t is not None for t in textures):
        uv = np.concatenate(
            [
                p.uv if p.uv is not None else np.full((len(p.vertices), 2), 0.5, np.float32)
                for p in layer.parts
            ]
        )
    colored = [p.colors for p in layer.parts if p.colors is not None]
    color = None
    if colored and any((c != 255).any() for c in colored):
        color = np.concatenate(
            [
                p.colors if p.colors is not None else np.full((len(p.vertices), 4), 255, np.uint8)
                for p in layer.parts
            ]
        )
    part = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
    channels = max([t.channels for t in textures if t is not None], default=3)
    return _Source(np.concatenate(local), key.ravel(), faces, uv, color, part, textures, channels)


# --- the tree --------------------------------------------------------------------------------


def _split(
    centroids: NDArray[np.float64],
    faces: NDArray[np.int64],
    lo: NDArray,
    hi: NDArray,
    name: str,
    depth: int,
    options: MeshTilingOptions,
) -> _Node:
    """A cell and its sub-cells, split at the middle of its long axes while too full."""
    node = _Node(name, faces)
    if len(faces) <= options.leaf_triangles or depth >= options.max_depth:
        return node
    extent = hi - lo
    flat = extent[:2].max()
    axes = [a for a in range(2) if extent[a] >= flat / 2] + ([2] if extent[2] > flat else [])
    mid = (lo + hi) / 2
    code = np.zeros(len(faces), np.int64)
    for bit, axis in enumerate(axes):
        code |= (centroids[faces, axis] > mid[axis]).astype(np.int64) << bit
    for child in range(1 << len(axes)):
        chosen = faces[code == child]
        if not len(chosen):
            continue
        clo, chi = lo.copy(), hi.copy()
        for bit, axis in enumerate(axes):
            if child >> bit & 1:
                clo[axis] = mid[axis]
            else:
                chi[axis] = mid[axis]
        node.children.append(
            _split(centroids, chosen, clo, chi, f"{name}{child}", depth + 1, options)
        )
    node.faces = NO_FACES  # an inner node's content comes from its children
    if len(node.children) == 1:  # nothing was separated: the cell goes on splitting
        only = node.children[0]
        node.children, node.faces = only.children, only.faces
    return node


def _centroids(position: NDArray[np.float64], faces: NDArray[np.int64]) -> NDArray[np.float64]:
    """Triangle centroids, one corner at a time (position[faces] would be 3x larger)."""
    out = position[faces[:, 0]]
    out += position[faces[:, 1]]
    out += position[faces[:, 2]]
    out /= 3
    return out


def _count(node: _Node) -> int:
    return 1 + sum(_count(c) for c in node.children)


# --- textures --------------------------------------------------------------------------------


def _shelf_pack(sizes: NDArray[np.int64]) -> tuple[NDArray[np.int64], tuple[int, int]]:
    """(x, y) of each (w, h) rectangle in rows of a near-square atlas, and the atlas (w, h)."""
    width = int(
        max(sizes[:, 0].max(), math.ceil(math.sqrt(float((sizes[:, 0] * sizes[:, 1]).sum()))))
    )
    at = np.zeros_like(sizes)
    x = y = row = 0
    for i in np.argsort(-sizes[:, 1], kind="stable"):
        w, h = int(sizes[i, 0]), int(sizes[i, 1])
        if x + w > width:
            x, y, row = 0, y + row, 0
        at[i] = (x, y)
        x, row = x + w, max(row, h)
    return at, (width, y + row)


def _resize(image: NDArray[np.uint8], size: tuple[int, int]) -> NDArray[np.uint8]:
    if (image.shape[1], image.shape[0]) == size:
        return image
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BOX))


def _cap(image: NDArray[np.uint8], limit: int) -> NDArray[np.uint8]:
    """Scale an atlas down to `limit` px on its longer side; normalised UVs stay valid."""
    h, w = image.shape[:2]
    if max(h, w) <= limit:
        return image
    s = limit / max(h, w)
    return _resize(image, (max(1, round(w * s)), max(1, round(h * s))))


def _chart_crops(
    uv: NDArray[np.float32],
    part: NDArray[np.int32],
    faces: NDArray[np.int64],
    sizes: list[tuple[int, int]],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Per vertex: its crop index; per crop: (part, x0, y0, x1, y1) in source pixels; per vertex
    pixel position. One crop per texture chart, or one per part when the charts' crops would
    cover more than the part's bounding crop (many tiny charts)."""
    size = np.array(sizes, np.float64)
    px = uv.astype(np.float64) * size[part]
    chart = _components(faces, len(uv))
    crops = _bbox_crops(px, chart, part, size)
    whole = _bbox_crops(px, part.astype(np.int64), part, size)
    if _area(crops) > _area(whole):
        return _dense(part.astype(np.int64)), whole, px
    return chart, crops, px


def _area(crops: NDArray[np.int64]) -> int:
    return int(np.prod(crops[:, 3:5] - crops[:, 1:3], axis=1).sum())


def _dense(labels: NDArray[np.int64]) -> NDArray[np.int64]:
    return np.unique(labels, return_inverse=True)[1].ravel()


def _bbox_crops(
    px: NDArray[np.float64], label: NDArray[np.int64], part: NDArray[np.int32], size: NDArray
) -> NDArray[np.int64]:
    """(part, x0, y0, x1, y1) per label (labels must be 0..k-1), padded and clamped."""
    label = _dense(label)
    order = np.argsort(label, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(label[order])) + 1]
    lo = np.minimum.reduceat(px[order], starts, axis=0)
    hi = np.maximum.reduceat(px[order], starts, axis=0)
    owner = part[order[starts]]
    limit = size[owner]
    x0y0 = np.clip(np.floor(lo) - PAD, 0, limit - 1).astype(np.int64)
    x1y1 = np.maximum(np.clip(np.ceil(hi) + PAD, 0, limit).astype(np.int64), x0y0 + 1)
    return np.column_stack([owner, x0y0, x1y1])


def _leaf_atlas(
    source: _Source, used: NDArray[np.int64], faces: NDArray[np.int64], limit: int
) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    """The texture charts a leaf uses, cropped from the source images into one atlas; the
    vertices' UVs in it."""
    texture_sizes = [source.size(p) for p in range(len(source.textures))]
    label, crops, px = _chart_crops(source.uv[used], source.part[used], faces, texture_sizes)
    sizes = crops[:, 3:5] - crops[:, 1:3]
    at, (w, h) = _shelf_pack(sizes)
    atlas = np.zeros((h, w, source.channels), np.uint8)
    for i in np.argsort(crops[:, 0], kind="stable"):  # by texture: each decoded once
        p, x0, y0, x1, y1 = crops[i]
        x, y = at[i]
        atlas[y : y + y1 - y0, x : x + x1 - x0] = source.pixels(p)[y0:y1, x0:x1]
    uv = (px - crops[label, 1:3] + at[label]) / (w, h)
    return uv.astype(np.float32), _cap(atlas, limit)


def _merge_atlases(
    kids: list[_Content], limit: int
) -> tuple[NDArray[np.float32], NDArray[np.uint8]]:
    """Children's atlases at half size packed into one; the children's UVs remapped into it."""
    halves = []
    for kid in kids:
        h, w = kid.image.shape[:2]
        halves.append(_resize(kid.image, (max(1, math.ceil(w / 2)), max(1, math.ceil(h / 2)))))
    sizes = np.array([(im.shape[1] + 2 * PAD, im.shape[0] + 2 * PAD) for im in halves])
    at, (w, h) = _shelf_pack(sizes)
    atlas = np.zeros((h, w, halves[0].shape[2]), np.uint8)
    uvs = []
    for kid, im, (x, y) in zip(kids, halves, at, strict=True):
        padded = np.pad(im, ((PAD, PAD), (PAD, PAD), (0, 0)), mode="edge")
        atlas[y : y + padded.shape[0], x : x + padded.shape[1]] = padded
        px = kid.uv * (im.shape[1], im.shape[0]) + (x + PAD, y + PAD)
        uvs.append(px / (w, h))
    return np.concatenate(uvs).astype(np.float32), _cap(atlas, limit)


def _texel_size(c: _Content) -> float:
    """Metres on the ground of one texel of the tile's atlas (area-weighted mean)."""
    tri = c.position[c.faces]
    world = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum()
    t = c.uv[c.faces].astype(np.float64) * c.image.shape[1::-1][:2]
    d1, d2 = t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]
    texels = np.abs(d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]).sum()
    return float(math.sqrt(world / texels)) if texels > 0 else 0.0


# --- levels of detail ------------------------------------------------------------------------


def _leaf(source: _Source, faces_idx: NDArray[np.int64], limit: int) -> _Content:
    """A leaf: the source triangles of the cell at full resolution."""
    used, inverse = np.unique(source.faces[faces_idx], return_inverse=True)
    faces = inverse.reshape(-1, 3).astype(np.int64)
    uv = image = None
    if source.uv is not None:
        uv, image = _leaf_atlas(source, used, faces, limit)
    color = source.color[used] if source.color is not None else None
    return _Content(source.position[used], source.key[used], faces, uv, color, image)


def _concat(kids: list[_Content]) -> _Content:
    starts = np.cumsum([0] + [len(k.position) for k in kids])
    return _Content(
        np.concatenate([k.position for k in kids]),
        np.concatenate([k.key for k in kids]),
        np.concatenate([k.faces + s for k, s in zip(kids, starts, strict=False)]),
        None,
        np.concatenate([k.color for k in kids]) if kids[0].color is not None else None,
        None,
        max(k.error for k in kids),
    )


def _collapse_map(n: int, collapses: NDArray) -> NDArray[np.int64]:
    """The vertex each vertex finally collapsed into (itself when it survived)."""
    rep = np.arange(n)
    if len(collapses):
        rep[collapses[:, 1]] = collapses[:, 0]  # a removed vertex is never used again
    while True:
        nxt = rep[rep]
        if np.array_equal(nxt, rep):
            return rep
        rep = nxt


def _incidence(faces: NDArray[np.int64], n: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """CSR vertex -> incident faces."""
    flat = faces.ravel()
    order = np.argsort(flat, kind="stable")
    offsets = np.zeros(n + 1, np.int64)
    offsets[1:] = np.cumsum(np.bincount(flat, minlength=n))
    return offsets, (order // 3).astype(np.int64)


@dataclass
class _Collapse:
    """What quadric simplification of welded vertices did: where each vertex went, which
    faces survived, the new positions, and how far the old vertices are from the new surface."""

    rep: NDArray[np.int64]  # (welded,) the welded vertex each one collapsed into
    keep: NDArray[np.bool_]  # (faces,) faces that survived
    survivors: NDArray[np.int64]  # sorted welded ids of the new vertices
    position: NDArray[np.float64]  # (survivors, 3)
    faces: NDArray[np.int64]  # (kept, 3) into survivors
    deviation: float


def _collapse(points: NDArray[np.float64], wfaces: NDArray[np.int64], target: int) -> _Collapse:
    """fast-simplification with borders locked (neighbour tiles keep meeting exactly), its
    collapse history turned into a vertex map, and the deviation measured."""
    new_points, _, collapses = fast_simplification.simplify(
        points, wfaces, target_count=target, preserve_border=True, return_collapses=True
    )
    rep = _collapse_map(len(points), np.asarray(collapses, np.int64).reshape(-1, 2))
    mapped = rep[wfaces]
    keep = (mapped[:, 0] != mapped[:, 1]) & (mapped[:, 1] != mapped[:, 2])
    keep &= mapped[:, 0] != mapped[:, 2]
    survivors = np.unique(mapped[keep])
    if len(survivors) != len(new_points):
        raise RuntimeError("fast-simplification's output does not match its collapse history")
    position = np.asarray(new_points, np.float64)
    faces = np.searchsorted(survivors, mapped[keep])
    deviation = 0.0
    if len(survivors):
        at = np.minimum(np.searchsorted(survivors, rep), len(survivors) - 1)
        vanished = np.flatnonzero(survivors[at] != rep)
        at[vanished] = SKIP
        sample = np.linspace(0, len(vanished) - 1, min(len(vanished), MAX_VANISHED)).astype(int)
        at[vanished[sample]] = VANISHED
        offsets, incident = _incidence(faces, len(position))
        deviation = _max_deviation(points, at, position, faces, offsets, incident)
    return _Collapse(rep, keep, survivors, position, faces, float(deviation))


def _corner_sources(merged: _Content, weld: NDArray[np.int64], c: _Collapse) -> NDArray[np.int64]:
    """For each corner of each kept face, the merged vertex whose uv and colour it takes: the
    copy of its surviving vertex in the face's own texture chart, so texture seams survive;
    the corner's own vertex where that chart has no such copy."""
    corners = merged.faces[c.keep]
    chart = _components(merged.faces, len(merged.position))
    n_charts = int(chart.max()) + 1
    code = weld * n_charts + chart
    order = np.argsort(code, kind="stable")
    want = c.rep[weld[corners]] * n_charts + chart[corners[:, :1]]
    hit = np.minimum(np.searchsorted(code[order], want), len(order) - 1)
    return np.where(code[order[hit]] == want, order[hit], corners)


def _simplify(merged: _Content, target: int) -> _Content | None:
    """A merged tile reduced to about `target` triangles; None when nothing would be left."""
    welded_keys, first, weld = np.unique(merged.key, return_index=True, return_inverse=True)
    weld = weld.ravel().astype(np.int64)
    c = _collapse(merged.position[first], weld[merged.faces], target)
    if not len(c.faces):
        return None
    attr = _corner_sources(merged, weld, c)
    # output vertices: distinct (new vertex, attribute source) pairs
    pair = c.faces * len(merged.position) + attr
    _, first_corner, out_faces = np.unique(pair.ravel(), return_index=True, return_inverse=True)
    out_vertex = c.faces.ravel()[first_corner]
    source_vertex = attr.ravel()[first_corner]
    return _Content(
        c.position[out_vertex],
        welded_keys[c.survivors[out_vertex]],
        out_faces.reshape(-1, 3).astype(np.int64),
        merged.uv[source_vertex] if merged.uv is not None else None,
        merged.color[source_vertex] if merged.color is not None else None,
        merged.image,
        merged.error + c.deviation,
    )


def _parent(kids: list[_Content], options: MeshTilingOptions) -> _Content:
    merged = _concat(kids)
    if kids[0].image is not None:
        merged.uv, merged.image = _merge_atlases(kids, options.max_texture)
    target = max(int(len(merged.faces) / options.reduction), 1)
    simplified = _simplify(merged, target) if target < len(merged.faces) else None
    content = simplified if simplified is not None else merged
    if content.image is not None:
        content.error = max(content.error, _texel_size(content))
    return content


# --- output ----------------------------------------------------------------------------------


def _encode(image: NDArray[np.uint8], quality: int) -> tuple[bytes, str]:
    """JPEG for opaque atlases (photographs), PNG where there is alpha."""
    out = io.BytesIO()
    if image.shape[2] == 4:
        Image.fromarray(image).save(out, format="PNG", optimize=False)
        return out.getvalue(), "image/png"
    Image.fromarray(image).save(out, format="JPEG", quality=quality)
    return out.getvalue(), "image/jpeg"


def _normals(position: NDArray[np.float64], faces: NDArray[np.int64]) -> NDArray[np.float32]:
    """Area-weighted vertex normals, for untextured meshes that need shading."""
    tri = position[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal = np.zeros_like(position)
    for k in range(3):
        for axis in range(3):
            normal[:, axis] += np.bincount(faces[:, k], cross[:, axis], minlength=len(position))
    length = np.linalg.norm(normal, axis=1, keepdims=True)
    normal = np.divide(
        normal, length, out=np.tile([0.0, 0.0, 1.0], (len(normal), 1)), where=length > 0
    )
    return normal.astype(np.float32)


def _y_up(v: NDArray[np.float64]) -> NDArray[np.float64]:
    """3D Tiles turns glTF's y-up into z-up: glTF (x, y, z) = ENU (east, up, -north)."""
    return np.stack([v[..., 0], v[..., 2], -v[..., 1]], axis=-1)


def write_mesh_glb(path: Path, content: _Content, jpeg_quality: int) -> None:
    """One tile: an indexed triangle mesh, positions relative to a node translation (float32
    precise); textured tiles are unlit (photogrammetry has its light baked in the texture),
    untextured ones get normals."""
    lo, hi = content.position.min(axis=0), content.position.max(axis=0)
    centre = (lo + hi) / 2
    glb = GlbBuilder(generator=GENERATOR)
    attributes = {
        "POSITION": glb.vertex_attribute(
            _y_up(content.position - centre).astype(np.float32), min_max=True
        )
    }
    material: dict[str, Any] = {"pbrMetallicRoughness": {"metallicFactor": 0.0}}
    if content.image is not None and content.uv is not None:
        attributes["TEXCOORD_0"] = glb.vertex_attribute(content.uv.astype(np.float32))
        image = glb.image(*_encode(content.image, jpeg_quality))
        glb.gltf["samplers"] = [SAMPLER]
        glb.gltf["textures"] = [{"sampler": 0, "source": image}]
        material["pbrMetallicRoughness"]["baseColorTexture"] = {"index": 0}
        material["extensions"] = {"KHR_materials_unlit": {}}
        glb.gltf["extensionsUsed"] = ["KHR_materials_unlit"]
    else:
        attributes["NORMAL"] = glb.vertex_attribute(
            _y_up(_normals(content.position, content.faces))
        )
        material["pbrMetallicRoughness"]["roughnessFactor"] = 1.0
    if content.color is not None:
        attributes["COLOR_0"] = glb.vertex_attribute(content.color, normalized=True)
    indices = glb.index_accessor(content.faces)
    glb.gltf.update(
        {
            "materials": [material],
            "meshes": [
                {
                    "primitives": [
                        {
                            "attributes": attributes,
                            "indices": indices,
                            "material": 0,
                            "mode": TRIANGLES,
                        }
                    ]
                }
            ],
            "nodes": [{"mesh": 0, "translation": [float(v) for v in _y_up(centre)]}],
            "scenes": [{"nodes": [0]}],
            "scene": 0,
        }
    )
    glb.write(path)


def _box(lo: NDArray[np.float64], hi: NDArray[np.float64]) -> list[float]:
    c = (lo + hi) / 2
    h = np.maximum((hi - lo) / 2, MIN_HALF_SIZE)
    return [float(v) for v in (*c, h[0], 0, 0, 0, h[1], 0, 0, 0, h[2])]


class _Writer:
    """Builds the tree bottom-up, one branch in memory at a time, writing each tile's glb."""

    def __init__(
        self,
        source: _Source,
        out_dir: Path,
        options: MeshTilingOptions,
        total: int,
        report: Progress,
    ) -> None:
        self.source, self.out_dir, self.options = source, out_dir, options
        self.total, self.done, self.report = total, 0, report

    def build(self, node: _Node) -> tuple[dict[str, Any], _Content, NDArray, NDArray]:
        """(tile JSON, content, lo, hi) of a node; lo/hi enclose its content and descendants."""
        kids = [self.build(child) for child in node.children]
        if kids:
            content = _parent([k[1] for k in kids], self.options)
        else:
            content = _leaf(self.source, node.faces, self.options.max_texture)
        node.faces = NO_FACES
        uri = f"{CONTENT_DIR}/{node.name}.glb"
        write_mesh_glb(self.out_dir / uri, content, self.options.jpeg_quality)
        clo, chi = content.position.min(axis=0), content.position.max(axis=0)
        lo = np.min([clo, *(k[2] for k in kids)], axis=0)
        hi = np.max([chi, *(k[3] for k in kids)], axis=0)
        tile: dict[str, Any] = {
            "boundingVolume": {"box": _box(lo, hi)},
            "geometricError": round(content.error, 4) if kids else 0.0,
            "content": {"uri": uri, "boundingVolume": {"box": _box(clo, chi)}},
        }
        if kids:
            tile["children"] = [k[0] for k in kids]
        self.done += 1
        self.report(min(1.0, 0.1 + 0.9 * self.done / self.total), f"tile {self.done}/{self.total}")
        return tile, content, lo, hi


def _frame(layer: MeshLayer) -> tuple[NDArray[np.float64], Any]:
    """ENU->ECEF matrix at the centre of the layer's bounds, and the ECEF pipeline."""
    pipe = ecef_pipeline(layer.srs)
    minx, miny, maxx, maxy, minz, maxz = layer.bounds
    centre = pipe.to_ecef([(minx + maxx) / 2], [(miny + maxy) / 2], [(minz + maxz) / 2])
    lon, lat, h = ecef_to_lonlat(centre)[0]
    return enu_to_ecef_matrix(lon, lat, h), pipe


def tile_mesh(
    files: list[Path],
    out_dir: Path,
    *,
    srs: str | None = None,
    origin: Origin | None = None,
    progress: Progress | None = None,
    options: MeshTilingOptions | None = None,
) -> MeshResult:
    """Photogrammetry mesh files of one zone -> `out_dir/tileset.json` + `out_dir/t/*.glb`.

    `srs`/`origin` override the files' `metadata.xml`. Raises `geodata.mesh.MeshError` on bad
    input, before anything is written; tileset.json is written last, atomically.
    """
    options = options or MeshTilingOptions()
    report: Progress = progress or (lambda fraction, message: None)
    report(0.0, "reading meshes")
    layer = read_mesh(files, srs=srs, origin=origin)
    enu, pipe = _frame(layer)
    local = [to_local(pipe, enu, *p.vertices.T) for p in layer.parts]
    source = _flatten(layer, local)
    bounds = layer.bounds
    del local
    layer.parts = []  # the flattened copy is all that is needed from here
    centroids = _centroids(source.position, source.faces)
    lo, hi = centroids.min(axis=0), centroids.max(axis=0)
    tree = _split(centroids, np.arange(len(source.faces)), lo, hi, "r", 0, options)
    del centroids
    report(0.1, "tiling")
    (out_dir / CONTENT_DIR).mkdir(parents=True, exist_ok=True)
    total = _count(tree)
    root, _, rlo, rhi = _Writer(source, out_dir, options, total, report).build(tree)
    root["refine"] = "REPLACE"
    root["transform"] = [float(v) for v in enu.T.ravel()]  # column-major
    diagonal = float(np.linalg.norm(rhi - rlo))
    tileset = {
        "asset": {"version": "1.1", "generator": GENERATOR, "extras": {"height_note": pipe.note}},
        "geometricError": round(max(2 * root["geometricError"], diagonal / 2), 4),
        "root": root,
    }
    tmp = out_dir / "tileset.json.tmp"
    tmp.write_text(json.dumps(tileset, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, out_dir / "tileset.json")
    report(1.0, "done")
    return MeshResult(
        tile_count=total,
        triangle_count=len(source.faces),
        source_crs=layer.srs,
        bounds_source=bounds,
        bounds_wgs84=lonlat_bounds(layer.srs, (bounds[0], bounds[1], bounds[2], bounds[3])),
        height_note=pipe.note,
    )
