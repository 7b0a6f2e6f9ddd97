"""LiDAR point clouds (LAS/LAZ) to one OGC 3D Tiles 1.1 tileset of glTF point content.

How (each step bounded in memory, the heavy ones spread over processes):

1. Headers only: the one CRS of all sources, checked for plausibility; an east-north-up frame at
   the cloud's centre (the root `transform`) and a cube around the cloud in that frame.
2. Read: every source is cut into ranges of `chunk_points`; each range is read, reprojected to
   the local frame (geodata.crs.to_local: pyproj, then ECEF, then ENU metres) and appended to the
   on-disk *bin* of the octree cell of depth D that holds each point. D is chosen so that a bin
   holds about `bin_points` points; an overfull bin is split on disk into its eight children.
3. Bins: each one is loaded (shuffled, so picks are random), and its octree is built top-down:
   a cell with more than `leaf_points` points keeps one point per voxel of a `grid`³ lattice
   over the cell and hands the rest to its eight children. Every tile but the bin's own root
   is written as a .glb at once.
4. Above the bins, bottom-up: a parent keeps one point per voxel of its own (twice as coarse)
   lattice from its children's root points, the children keep the rest.

So every point is in exactly one tile (refine ADD) and a tile at level L holds at most one point
per voxel of edge `spacing(L) = cube / (grid · 2^L)`: that spacing, in metres, is the tile's
geometricError (0 for leaves, which hold everything left).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from geodata.crs import (
    EcefPipeline,
    ecef_pipeline,
    ecef_to_lonlat,
    enu_to_ecef_matrix,
    lonlat_bounds,
    to_local,
)
from geodata.pointcloud import (
    LasInfo,
    PointChunk,
    PointCloudError,
    check_plausible,
    iter_chunks,
    read_info,
    resolve_crs,
)
from tiles.gltf import POINTS, GlbBuilder

Progress = Callable[[float, str], None]

# One point on disk between the steps (37 bytes): local ENU metres, colour as stored, attributes,
# and which source it came from (its colour depth is known only once the whole file is read).
RECORD = np.dtype(
    [
        ("x", "<f8"),
        ("y", "<f8"),
        ("z", "<f8"),
        ("rgb", "<u2", (3,)),
        ("intensity", "<u2"),
        ("classification", "u1"),
        ("return_number", "u1"),
        ("number_of_returns", "u1"),
        ("source", "<u2"),
    ]
)
# (property / record field, glTF vertex attribute, metadata component type)
PROPERTIES = (
    ("classification", "_CLASSIFICATION", "UINT8"),
    ("intensity", "_INTENSITY", "UINT16"),
    ("return_number", "_RETURN_NUMBER", "UINT8"),
    ("number_of_returns", "_NUMBER_OF_RETURNS", "UINT8"),
)
METADATA_SCHEMA = {
    "id": "twin_point_cloud",
    "classes": {
        "point": {
            "name": "LiDAR point",
            "properties": {
                "classification": {
                    "type": "SCALAR",
                    "componentType": "UINT8",
                    "description": "ASPRS class (LAS 1.4): 1 unclassified, 2 ground, 3-5 "
                    "vegetation, 6 building, 9 water, 17 bridge, 64+ producer-defined",
                },
                "intensity": {
                    "type": "SCALAR",
                    "componentType": "UINT16",
                    "description": "return pulse strength, as stored by the sensor",
                },
                "return_number": {"type": "SCALAR", "componentType": "UINT8"},
                "number_of_returns": {"type": "SCALAR", "componentType": "UINT8"},
            },
        }
    },
}
_VOID = np.dtype((np.void, RECORD.itemsize))  # same bytes, copied as blobs: 7x faster to index
CONTENT_DIR = "t"
MIN_HALF_SIZE = 0.005  # m: boxes of flat or single-point tiles keep a non-zero thickness


@dataclass
class PointCloudResult:
    point_count: int
    source_crs: str
    bounds_source: tuple[float, float, float, float, float, float]
    bounds_wgs84: tuple[float, float, float, float]
    attributes: list[dict]
    tile_count: int
    height_note: str


@dataclass(frozen=True)
class TilingOptions:
    """Knobs of the tiler; the defaults suit LiDAR HD (10-40 points/m²)."""

    # Worker processes (spawned); None: the CPUs this process may use, or 1 below
    # `parallel_min_points`. As with any spawn pool, a script calling this must guard its
    # top-level code with `if __name__ == "__main__":`.
    workers: int | None = None
    chunk_points: int = 1_000_000  # points read (and held) per read task
    leaf_points: int = 60_000  # a cell with at most this many points is a leaf tile
    grid: int = 128  # voxels per cell edge for an inner tile's subsample (even)
    bin_points: int = 1_000_000  # target points per on-disk bin; one over 4x is split
    parallel_min_points: int = 2_000_000  # smaller inputs run in this process
    work_dir: Path | None = None  # temporary bins; default: inside out_dir, removed at the end


@dataclass(frozen=True)
class _Frame:
    """Everything a worker needs, picklable: where points go and how tiles are cut."""

    pipe: EcefPipeline
    matrix: tuple[float, ...]  # ENU -> ECEF, 4x4 row-major
    origin: tuple[float, float, float]  # cube's min corner, local metres
    size: float  # cube edge, metres
    grid: int
    leaf_points: int
    chunk_points: int
    bin_points: int
    work: str
    out: str
    color_shift: tuple[int, ...] = ()  # per source: 8 for 16-bit colour, 0 for 8-bit
    has_color: bool = False

    @property
    def enu(self) -> NDArray[np.float64]:
        return np.asarray(self.matrix).reshape(4, 4)

    def spacing(self, level: int) -> float:
        return self.size / (self.grid * 2**level)

    def cell_min(self, level: int, ix: int, iy: int, iz: int) -> NDArray[np.float64]:
        return np.asarray(self.origin) + np.array([ix, iy, iz]) * (self.size / 2**level)


Key = tuple[int, int, int, int]  # (level, ix, iy, iz) of an octree cell


@dataclass
class _Tile:
    key: Key
    lo: tuple[float, ...]  # subtree box (x, y, z), local metres
    hi: tuple[float, ...]
    children: list[_Tile] = field(default_factory=list)
    count: int = 0  # points in this tile's own content
    content_lo: tuple[float, ...] = ()  # own points' box
    content_hi: tuple[float, ...] = ()
    uri: str | None = None  # written content
    pending: str | None = None  # own points on disk, waiting for the parent step


@dataclass
class _ReadStats:
    source: int
    points: int
    mins: NDArray[np.float64]
    maxs: NDArray[np.float64]
    color_max: int
    bins: dict[Key, int]


# --- the public entry point -----------------------------------------------------------------


def tile_point_cloud(
    sources: list[Path],
    out_dir: Path,
    *,
    srs: str | None = None,
    progress: Progress | None = None,
    options: TilingOptions | None = None,
) -> PointCloudResult:
    """Tile LAS/LAZ files of one zone into `out_dir` (tileset.json + t/*.glb).

    `srs` overrides or supplies the sources' CRS. `progress(fraction, message)` is called after
    every chunk read and every tile group built; an exception it raises stops the work (and
    propagates). Raises PointCloudError for unusable input.
    """
    opts = options or TilingOptions()
    report: Progress = progress or (lambda fraction, message: None)
    paths = [Path(p) for p in sources]
    if not paths:
        raise PointCloudError("no point-cloud source given")
    if opts.grid % 2 or not 2 <= opts.grid <= 1024:
        raise ValueError("TilingOptions.grid must be an even number from 2 to 1024")
    infos = [read_info(p) for p in paths]
    crs_wkt, crs_name = resolve_crs(infos, srs)
    check_plausible(crs_wkt, crs_name, infos)
    total = sum(i.point_count for i in infos)
    if total == 0:
        raise PointCloudError(f"{', '.join(p.name for p in paths)}: no points")
    report(0.0, f"{total:,} points in {len(paths)} file(s), CRS {crs_name}")

    out_dir = Path(out_dir)
    # on failure, remove what this call created (the tileset.json is only written at the end)
    created = out_dir if not out_dir.exists() else out_dir / CONTENT_DIR
    created = None if created.exists() else created
    (out_dir / CONTENT_DIR).mkdir(parents=True, exist_ok=True)
    work: Path | None = None
    executor: Executor | None = None
    try:
        work = Path(tempfile.mkdtemp(prefix=".pointcloud-", dir=opts.work_dir or out_dir))
        frame = _make_frame(infos, ecef_pipeline(crs_wkt), opts, work, out_dir)
        depth = _bin_depth(total, opts.bin_points)
        workers = _worker_count(opts, total)
        executor = (
            ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
            if workers > 1
            else _Inline()
        )
        stats = _read_all(executor, workers, infos, frame, depth, total, report)
        color_max = [0] * len(infos)
        for s in stats:
            color_max[s.source] = max(color_max[s.source], s.color_max)
        frame = replace(
            frame,
            color_shift=tuple(8 if m > 255 else 0 for m in color_max),
            has_color=all(i.has_color for i in infos) and max(color_max) > 0,
        )
        bins: dict[Key, int] = {}
        for s in stats:
            for key, n in s.bins.items():
                bins[key] = bins.get(key, 0) + n
        tops = _build_bins(executor, workers, bins, frame, report)
        root = _merge_up(tops, frame, report)
        _finish_root(root, frame)
        tile_count = _write_tileset(root, frame, out_dir, crs_name, stats)
    except BaseException:
        if executor is not None:  # running tasks finish (bounded: 2 per worker), queued ones not
            executor.shutdown(wait=True, cancel_futures=True)
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        raise
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)

    mins = np.min([s.mins for s in stats], axis=0)
    maxs = np.max([s.maxs for s in stats], axis=0)
    west, south, east, north = lonlat_bounds(crs_wkt, (mins[0], mins[1], maxs[0], maxs[1]))
    attributes: list[dict] = []
    if frame.has_color:
        attributes.append({"name": "color", "type": "VEC3 UINT8", "attribute": "COLOR_0"})
    attributes += [{"name": n, "type": t, "attribute": a} for n, a, t in PROPERTIES]
    report(1.0, f"{tile_count} tiles written")
    return PointCloudResult(
        point_count=sum(s.points for s in stats),
        source_crs=crs_name,
        bounds_source=(*(float(v) for v in mins), *(float(v) for v in maxs)),
        bounds_wgs84=(west, south, east, north),
        attributes=attributes,
        tile_count=tile_count,
        height_note=frame.pipe.note,
    )


# --- set-up -------------------------------------------------------------------------------------


def _make_frame(
    infos: list[LasInfo], pipe: EcefPipeline, opts: TilingOptions, work: Path, out: Path
) -> _Frame:
    """The local frame at the centre of the headers' box, and a cube enclosing that box."""
    mins = np.min([i.mins for i in infos], axis=0)
    maxs = np.max([i.maxs for i in infos], axis=0)
    centre = pipe.to_ecef(*((mins + maxs) / 2))
    lon, lat, h = ecef_to_lonlat(centre)
    matrix = enu_to_ecef_matrix(float(lon), float(lat), float(h))
    t = np.linspace(0.0, 1.0, 9)
    gx, gy, gz = np.meshgrid(t, t, [0.0, 1.0])
    box = mins + np.stack([gx.ravel(), gy.ravel(), gz.ravel()], axis=1) * (maxs - mins)
    local = to_local(pipe, matrix, box[:, 0], box[:, 1], box[:, 2])
    lo, hi = local.min(axis=0), local.max(axis=0)
    size = float((hi - lo).max() * 1.01 + 1.0)  # a margin: curved edges, rounding
    origin = (lo + hi) / 2 - size / 2
    return _Frame(
        pipe=pipe,
        matrix=tuple(float(v) for v in matrix.ravel()),
        origin=(float(origin[0]), float(origin[1]), float(origin[2])),
        size=size,
        grid=opts.grid,
        leaf_points=opts.leaf_points,
        chunk_points=opts.chunk_points,
        bin_points=opts.bin_points,
        work=str(work),
        out=str(out),
    )


def _bin_depth(total: int, bin_points: int) -> int:
    """Octree depth of the on-disk bins: about `bin_points` each for 2.5D data (4 cells/level)."""
    if total <= bin_points:
        return 0
    return min(10, math.ceil(math.log(total / bin_points, 4)))


def _worker_count(opts: TilingOptions, total: int) -> int:
    if opts.workers is not None:
        return max(1, opts.workers)
    if total < opts.parallel_min_points:
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class _Inline(Executor):
    """Runs each task when submitted, in this process (small inputs, or workers=1)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def _run(
    executor: Executor,
    limit: int,
    items: Iterator[Any],
    fn: Callable[..., Any],
    done: Callable[[Any, Any], None],
    *args: Any,
) -> None:
    """fn(item, *args) for every item, at most `limit` in flight: items are pulled lazily (memory
    stays bounded) and a cancellation (an exception from `done`) waits for few tasks."""
    pending: dict[Future, Any] = {}
    exhausted = False
    while True:
        while not exhausted and len(pending) < limit:
            item = next(items, None)
            if item is None:
                exhausted = True
            else:
                pending[executor.submit(fn, item, *args)] = item
        if not pending:
            return
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            done(pending.pop(future), future.result())


# --- step 2: read and bin -------------------------------------------------------------------


def _bin_dir(frame: _Frame, key: Key) -> Path:
    return Path(frame.work) / "bins" / "-".join(map(str, key))


def _cell_index(local: NDArray[np.float64], frame: _Frame, level: int) -> NDArray[np.int64]:
    """(n, 3) integer cell of each point at `level` (points outside the cube go to the border)."""
    cells = np.floor((local - frame.origin) * (2**level / frame.size)).astype(np.int64)
    return np.clip(cells, 0, 2**level - 1)


def _append_by_cell(records: NDArray, cells: NDArray[np.int64], level: int, frame: _Frame) -> dict:
    """Append records to the bin file of their cell (one file per cell and process)."""
    if not len(records):
        return {}
    n = 2**level
    flat = (cells[:, 0] * n + cells[:, 1]) * n + cells[:, 2]
    if (flat == flat[0]).all():  # one cell: no sort
        order = np.arange(flat.size)
    else:
        order = np.argsort(flat, kind="stable")
        flat = flat[order]
    starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
    ends = np.r_[starts[1:], flat.size]
    counts: dict[Key, int] = {}
    for a, b in zip(starts, ends, strict=True):
        c = cells[order[a]]
        key = (level, int(c[0]), int(c[1]), int(c[2]))
        folder = _bin_dir(frame, key)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{os.getpid()}.bin", "ab") as f:
            _take(records, order[a:b]).tofile(f)
        counts[key] = int(b - a)
    return counts


ReadItem = tuple  # ("range", source, path, start, count) | ("chunk", source, path, PointChunk)


def _read_item(item: ReadItem, frame: _Frame, depth: int) -> _ReadStats:
    """Reproject one range of a file (read here) or one chunk (read by the caller) and append
    its points to the bins."""
    kind, source, path = item[:3]
    stats = _ReadStats(source, 0, np.full(3, np.inf), np.full(3, -np.inf), 0, {})
    if kind == "chunk":
        _bin_chunk(item[3], stats, frame, depth)
    else:
        start, count = item[3], item[4]
        for chunk in iter_chunks(Path(path), start=start, count=count, chunk_points=count):
            _bin_chunk(chunk, stats, frame, depth)
    return stats


def _bin_chunk(chunk: PointChunk, stats: _ReadStats, frame: _Frame, depth: int) -> None:
    n = len(chunk)
    rec = np.empty(n, RECORD)
    local = to_local(frame.pipe, frame.enu, chunk.x, chunk.y, chunk.z)
    rec["x"], rec["y"], rec["z"] = local[:, 0], local[:, 1], local[:, 2]
    if chunk.rgb is not None:
        rec["rgb"] = chunk.rgb
        stats.color_max = max(stats.color_max, int(chunk.rgb.max()))
    else:
        rec["rgb"] = 0
    rec["intensity"] = chunk.intensity
    rec["classification"] = chunk.classification
    rec["return_number"] = chunk.return_number
    rec["number_of_returns"] = chunk.number_of_returns
    rec["source"] = stats.source
    for i, v in enumerate((chunk.x, chunk.y, chunk.z)):
        stats.mins[i] = min(stats.mins[i], v.min())
        stats.maxs[i] = max(stats.maxs[i], v.max())
    stats.points += n
    for key, k in _append_by_cell(rec, _cell_index(local, frame, depth), depth, frame).items():
        stats.bins[key] = stats.bins.get(key, 0) + k


def _read_items(infos: list[LasInfo], chunk_points: int) -> Iterator[ReadItem]:
    """Ranges of seekable files (read by the workers, in parallel); chunks of the others, read
    here in order and handed over (COPC: see geodata.pointcloud.LasInfo.seekable)."""
    for i, info in enumerate(infos):
        if info.seekable or info.point_count <= chunk_points:
            for start in range(0, info.point_count, chunk_points):
                count = min(chunk_points, info.point_count - start)
                yield ("range", i, str(info.path), start, count)
        else:
            for chunk in iter_chunks(info.path, chunk_points=chunk_points):
                yield ("chunk", i, str(info.path), chunk)


def _read_all(
    executor: Executor,
    workers: int,
    infos: list[LasInfo],
    frame: _Frame,
    depth: int,
    total: int,
    report: Progress,
) -> list[_ReadStats]:
    stats: list[_ReadStats] = []
    read = [0]

    def done(item: ReadItem, result: _ReadStats) -> None:
        stats.append(result)
        read[0] += result.points
        report(
            0.6 * read[0] / total, f"read {read[0]:,} of {total:,} points ({Path(item[2]).name})"
        )

    _run(
        executor,
        2 * workers,
        _read_items(infos, frame.chunk_points),
        _read_item,
        done,
        frame,
        depth,
    )
    if read[0] != total:
        raise PointCloudError(f"headers announce {total:,} points but {read[0]:,} were read")
    return stats


# --- step 3: one bin, top-down in memory ----------------------------------------------------


def _load(paths: Iterable[Path]) -> NDArray:
    parts = [np.fromfile(p, RECORD) for p in paths]
    return np.concatenate(parts) if parts else np.empty(0, RECORD)


def _take(points: NDArray, index: NDArray) -> NDArray:
    """points[index] (a mask or indices), without numpy's field-by-field structured copy."""
    return points.view(_VOID)[index].view(RECORD)


def _xyz(points: NDArray) -> NDArray[np.float64]:
    return np.stack([points["x"], points["y"], points["z"]], axis=1)


def _voxel_pick(xyz: NDArray[np.float64], key: Key, frame: _Frame) -> tuple[NDArray, NDArray]:
    """(mask of one point per occupied voxel of the cell's grid³ lattice, (n,3) voxel indices).

    Which point of a voxel wins does not matter (points were shuffled): a table indexed by voxel
    keeps one point index per voxel, in O(n), with no sort.
    """
    level, ix, iy, iz = key
    g = frame.grid
    vox = np.floor((xyz - frame.cell_min(level, ix, iy, iz)) * (1.0 / frame.spacing(level)))
    vox = np.clip(vox, 0, g - 1).astype(np.int32)
    flat = (vox[:, 0] * g + vox[:, 1]) * g + vox[:, 2]
    table = np.empty(g**3, np.int32)
    index = np.arange(len(xyz), dtype=np.int32)
    table[flat] = index
    return table[flat] == index, vox


def _bounds(points: NDArray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Min and max corner of records' positions (per field: ~10x faster than an axis-0 reduce
    over an (n, 3) array)."""
    lo = tuple(float(points[c].min()) for c in "xyz")
    hi = tuple(float(points[c].max()) for c in "xyz")
    return lo, hi


def _build(points: NDArray, key: Key, frame: _Frame, *, keep: bool) -> _Tile:
    """The octree of `points` in cell `key`; the cell's own points are written, or kept on
    disk for the parent step when `keep`."""
    lo, hi = _bounds(points)
    tile = _Tile(key, lo, hi)
    level, ix, iy, iz = key
    if len(points) <= frame.leaf_points or frame.spacing(level) < 1e-3:
        own = points
    else:
        mask, vox = _voxel_pick(_xyz(points), key, frame)
        own = _take(points, mask)
        rest = ~mask
        half = frame.grid // 2
        v = vox[rest] >= half
        octant = (v[:, 0].astype(np.int8) << 2) | (v[:, 1].astype(np.int8) << 1) | v[:, 2]
        order = np.argsort(octant, kind="stable")
        octant, others = octant[order], _take(points, np.flatnonzero(rest)[order])
        cuts = np.searchsorted(octant, np.arange(9))
        del vox, mask, rest
        crumbs = []  # octants too sparse for a tile of their own stay with this one
        for o in range(8):
            part = others[cuts[o] : cuts[o + 1]]
            if len(part) < frame.leaf_points // 64:
                crumbs.append(part)
            else:
                child = (level + 1, 2 * ix + (o >> 2), 2 * iy + ((o >> 1) & 1), 2 * iz + (o & 1))
                tile.children.append(_build(part, child, frame, keep=False))
        own = np.concatenate([own, *crumbs])
    _set_content(tile, own, frame, keep=keep)
    return tile


def _set_content(tile: _Tile, own: NDArray, frame: _Frame, *, keep: bool) -> None:
    tile.count = len(own)
    if not len(own):
        return
    tile.content_lo, tile.content_hi = _bounds(own)
    if keep:
        tile.pending = str(Path(frame.work) / "pending" / f"{'-'.join(map(str, tile.key))}.bin")
        Path(tile.pending).parent.mkdir(parents=True, exist_ok=True)
        own.tofile(tile.pending)
    else:
        tile.uri = f"{CONTENT_DIR}/{'-'.join(map(str, tile.key))}.glb"
        centre = (np.asarray(tile.content_lo) + np.asarray(tile.content_hi)) / 2
        write_points_glb(Path(frame.out) / tile.uri, own, frame, centre)


def _build_bin(key: Key, frame: _Frame) -> tuple[str, Any, int]:
    """Build one bin: ("tile", its tile tree, points) or, when too big for memory,
    ("split", {child key: points}, points) after moving its points to its eight children."""
    folder = _bin_dir(frame, key)
    files = sorted(folder.glob("*.bin"))
    count = sum(f.stat().st_size for f in files) // RECORD.itemsize
    if count > 4 * frame.bin_points and frame.spacing(key[0]) > 1e-2:
        counts: dict[Key, int] = {}
        for f in files:
            for part in _read_blocks(f, frame.chunk_points):
                cells = _cell_index(_xyz(part), frame, key[0] + 1)
                for k, n in _append_by_cell(part, cells, key[0] + 1, frame).items():
                    counts[k] = counts.get(k, 0) + n
            f.unlink()
        return "split", counts, count
    points = _load(files)
    points = _take(points, np.random.default_rng(abs(hash(key)) % 2**32).permutation(len(points)))
    tile = _build(points, key, frame, keep=True)
    shutil.rmtree(folder, ignore_errors=True)
    return "tile", tile, count


def _read_blocks(path: Path, n: int) -> Iterable[NDArray]:
    total = path.stat().st_size // RECORD.itemsize
    for start in range(0, total, n):
        yield np.fromfile(path, RECORD, count=min(n, total - start), offset=start * RECORD.itemsize)


def _build_bins(
    executor: Executor,
    workers: int,
    bins: dict[Key, int],
    frame: _Frame,
    report: Progress,
) -> list[_Tile]:
    total = sum(bins.values())
    queue = deque(sorted(bins, key=lambda k: -bins[k]))  # biggest first: better packing
    tops: list[_Tile] = []
    done_points = [0]

    def done(key: Key, result: tuple[str, Any, int]) -> None:
        kind, value, n = result
        if kind == "split":
            queue.extend(value)
            report(0.6 + 0.35 * done_points[0] / total, f"split bin {key} ({n:,} points)")
            return
        tops.append(value)
        done_points[0] += n
        report(0.6 + 0.35 * done_points[0] / total, f"built {done_points[0]:,} of {total:,} points")

    while queue:  # splits add bins while the others run: go round until none is left
        _run(executor, 2 * workers, _drain(queue), _build_bin, done, frame)
    return tops


def _drain(queue: deque) -> Iterator[Any]:
    while queue:
        yield queue.popleft()


# --- step 4: above the bins, bottom-up --------------------------------------------------------


def _merge_up(tops: list[_Tile], frame: _Frame, report: Progress) -> _Tile:
    """Join the bins' trees into one: each parent keeps one point per voxel of its lattice from
    its children's own (still pending) points; the children's content is then written."""
    level_of: dict[int, list[_Tile]] = {}
    for t in tops:
        level_of.setdefault(t.key[0], []).append(t)
    deepest = max(level_of)
    for level in range(deepest, 0, -1):
        groups: dict[Key, list[_Tile]] = {}
        for t in level_of.pop(level, []):
            _, ix, iy, iz = t.key
            groups.setdefault((level - 1, ix >> 1, iy >> 1, iz >> 1), []).append(t)
        parents = level_of.setdefault(level - 1, [])
        for key, children in groups.items():
            parents.append(_merge(key, children, frame))
        report(0.95 + 0.04 * (deepest - level + 1) / deepest, f"joined level {level - 1}")
    (root,) = level_of[0]
    return root


def _merge(key: Key, children: list[_Tile], frame: _Frame) -> _Tile:
    parts = [np.fromfile(c.pending, RECORD) if c.pending else np.empty(0, RECORD) for c in children]
    for c in children:
        if c.pending:
            Path(c.pending).unlink()
            c.pending = None
    lo = tuple(float(min(c.lo[i] for c in children)) for i in range(3))
    hi = tuple(float(max(c.hi[i] for c in children)) for i in range(3))
    tile = _Tile(key, lo, hi)
    points = np.concatenate(parts)
    if all(not c.children for c in children) and len(points) <= frame.leaf_points:
        _set_content(tile, points, frame, keep=True)  # small enough: one leaf instead
        return tile
    mask, _ = _voxel_pick(_xyz(points), key, frame) if len(points) else (np.zeros(0, bool), None)
    owner = np.repeat(np.arange(len(children)), [len(p) for p in parts])
    for i, c in enumerate(children):
        _set_content(c, _take(points, (owner == i) & ~mask), frame, keep=False)
        if c.count or c.children:
            tile.children.append(c)
    _set_content(tile, _take(points, mask), frame, keep=True)
    return tile


def _finish_root(root: _Tile, frame: _Frame) -> None:
    if root.pending:
        own = np.fromfile(root.pending, RECORD)
        Path(root.pending).unlink()
        root.pending = None
        _set_content(root, own, frame, keep=False)


# --- output ------------------------------------------------------------------------------------


def write_points_glb(
    path: Path, points: NDArray, frame: _Frame, centre: NDArray[np.float64] | None = None
) -> int:
    """One tile's points as a glTF POINTS primitive: positions float32 in glTF's y-up axes
    relative to the node's translation (`centre`, by default the points' box centre, in the local
    ENU frame), COLOR_0, and the LAS attributes as EXT_structural_metadata property attributes."""
    if centre is None:
        lo, hi = _bounds(points)
        centre = (np.asarray(lo) + np.asarray(hi)) / 2
    # 3D Tiles turns glTF's y-up into z-up: glTF (x, y, z) = ENU (east, up, -north)
    position = np.empty((len(points), 3), np.float32)
    position[:, 0] = points["x"] - centre[0]
    position[:, 1] = points["z"] - centre[2]
    position[:, 2] = centre[1] - points["y"]
    glb = GlbBuilder(generator="twin tiles.pointcloud")
    attributes = {"POSITION": glb.vertex_attribute(position, min_max=True)}
    if frame.has_color:
        shift = np.asarray(frame.color_shift, np.uint16)[points["source"]]
        rgb = (points["rgb"] >> shift[:, None]).astype(np.uint8)
        attributes["COLOR_0"] = glb.vertex_attribute(rgb, normalized=True)
    for name, attribute, _ in PROPERTIES:
        attributes[attribute] = glb.vertex_attribute(points[name])
    metadata = {"propertyAttributes": [0]}
    glb.gltf.update(
        {
            "extensionsUsed": ["EXT_structural_metadata"],
            "extensions": {
                "EXT_structural_metadata": {
                    "schema": METADATA_SCHEMA,
                    "propertyAttributes": [
                        {
                            "class": "point",
                            "properties": {n: {"attribute": a} for n, a, _ in PROPERTIES},
                        }
                    ],
                }
            },
            "meshes": [
                {
                    "primitives": [
                        {
                            "attributes": attributes,
                            "mode": POINTS,
                            "extensions": {"EXT_structural_metadata": metadata},
                        }
                    ]
                }
            ],
            "nodes": [{"mesh": 0, "translation": [centre[0], centre[2], -centre[1]]}],
            "scenes": [{"nodes": [0]}],
            "scene": 0,
        }
    )
    glb.gltf["nodes"][0]["translation"] = [float(v) for v in glb.gltf["nodes"][0]["translation"]]
    return glb.write(path)


def _box(lo: Iterable[float], hi: Iterable[float]) -> list[float]:
    lo_, hi_ = np.asarray(list(lo)), np.asarray(list(hi))
    c = (lo_ + hi_) / 2
    h = np.maximum((hi_ - lo_) / 2, MIN_HALF_SIZE)
    return [float(v) for v in (*c, h[0], 0, 0, 0, h[1], 0, 0, 0, h[2])]


def _tile_json(tile: _Tile, frame: _Frame) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {
        "boundingVolume": {"box": _box(tile.lo, tile.hi)},
        "geometricError": round(frame.spacing(tile.key[0]), 6) if tile.children else 0.0,
    }
    count = 0
    if tile.uri:
        out["content"] = {
            "uri": tile.uri,
            "boundingVolume": {"box": _box(tile.content_lo, tile.content_hi)},
        }
        count = 1
    if tile.children:
        kids = [_tile_json(c, frame) for c in tile.children]
        out["children"] = [k for k, _ in kids]
        count += sum(n for _, n in kids)
    return out, count


def _write_tileset(
    root: _Tile,
    frame: _Frame,
    out_dir: Path,
    crs_name: str,
    stats: list[_ReadStats],
) -> int:
    tree, count = _tile_json(root, frame)
    tree["refine"] = "ADD"
    tree["transform"] = [float(v) for v in frame.enu.T.ravel()]  # column-major
    tileset = {
        "asset": {
            "version": "1.1",
            "generator": "twin tiles.pointcloud",
            "extras": {
                "sourceCrs": crs_name,
                "pointCount": sum(s.points for s in stats),
                "heightNote": frame.pipe.note,
                "geometricError": "voxel spacing (m) of a tile's subsample; 0 for leaves; "
                "the tileset's own is the cube edge, so the cloud shows from afar",
            },
        },
        # Cesium skips a whole tileset whose top error is under its threshold on screen: the
        # root's spacing (cm) would hide a small cloud from a few hundred metres away.
        "geometricError": round(frame.size, 6),
        "root": tree,
    }
    tmp = out_dir / "tileset.json.tmp"
    tmp.write_text(json.dumps(tileset, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, out_dir / "tileset.json")  # last, atomically: the tileset is whole or absent
    return count
