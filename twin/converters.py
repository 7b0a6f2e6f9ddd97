"""One converter per kind of layer: source files -> a tile-store folder, plus the numbers the
catalog keeps about the version. The importer picks the converter from the files' kind.

Each converter turns its library's typed input error into `InputError` with the server's
folders cut from the message, so users see their own file names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twin.errors import InputError

Progress = Callable[[float, str], None]
Origin = tuple[float, float, float]


@dataclass(frozen=True)
class Built:
    """What a converter made: the version's entry file, stats, source CRS and WGS84 bounds."""

    entry: str
    stats: dict[str, Any]
    source_crs: str
    bounds_wgs84: tuple[float, float, float, float]


@dataclass(frozen=True)
class Options:
    srs: str | None = None
    height: str | float | None = None
    origin: Origin | None = None


def user_message(exc: Exception, files: list[Path]) -> str:
    """The converter's message with server folders cut from file paths: the user knows the
    file by its name, and upload folders are nobody's business."""
    message = str(exc)
    for folder in sorted({str(f.parent) for f in files}, key=len, reverse=True):
        message = message.replace(folder + "/", "")
    return message


def _common(result: Any, files: list[Path], entry: str, extra: dict[str, Any]) -> Built:
    stats = extra | {
        "tiles": result.tile_count,
        "height_note": result.height_note,
        "attributes": result.attributes,
        "bounds_source": list(result.bounds_source),
        "files": [f.name for f in files],
    }
    return Built(entry, stats, result.source_crs, result.bounds_wgs84)


def pointcloud(files: list[Path], out: Path, opts: Options, progress: Progress) -> Built:
    from geodata.pointcloud import PointCloudError
    from tiles.pointcloud import tile_point_cloud

    try:
        pc = tile_point_cloud(files, out, srs=opts.srs, progress=progress)
    except PointCloudError as exc:
        raise InputError(user_message(exc, files)) from exc
    return _common(pc, files, "tileset.json", {"points": pc.point_count})


def vector(files: list[Path], out: Path, opts: Options, progress: Progress) -> Built:
    from geodata.vector import VectorError
    from tiles.buildings import tile_vector_layer

    try:
        vec = tile_vector_layer(files, out, srs=opts.srs, height=opts.height, progress=progress)
    except VectorError as exc:
        raise InputError(user_message(exc, files)) from exc
    extra = {
        "features": vec.feature_count,
        "repaired": vec.repaired,
        "draped": vec.draped,
        "geometry": vec.geometry,
    }
    return _common(vec, files, "tileset.json", extra)


def mesh(files: list[Path], out: Path, opts: Options, progress: Progress) -> Built:
    from geodata.mesh import MeshError
    from tiles.mesh import tile_mesh

    try:
        result = tile_mesh(files, out, srs=opts.srs, origin=opts.origin, progress=progress)
    except MeshError as exc:
        raise InputError(user_message(exc, files)) from exc
    return _common(result, files, "tileset.json", {"triangles": result.triangle_count})


def terrain(files: list[Path], out: Path, opts: Options, progress: Progress) -> Built:
    """Quantized-mesh tiles, plus the merged source DEM (`dem.tif`, heights as in the source):
    simulations run on the DEM's own grid, which the tiles no longer hold."""
    from geodata.dem import DemError, write_merged
    from tiles.terrain import tile_terrain

    try:
        result = tile_terrain(files, out, srs=opts.srs, progress=lambda f, m: progress(0.9 * f, m))
        progress(0.9, "keeping the DEM for simulations")
        dem_heights = write_merged(files, out / "dem.tif", srs=opts.srs)
    except DemError as exc:
        raise InputError(user_message(exc, files)) from exc
    extra = {
        "max_level": result.max_level,
        "height_range": list(result.height_range),
        "triangles": result.triangle_count,
        "dem": "dem.tif",
        "dem_heights": list(dem_heights),
    }
    return _common(result, files, "layer.json", extra)


def imagery(files: list[Path], out: Path, opts: Options, progress: Progress) -> Built:
    from geodata.orthophoto import OrthophotoError
    from tiles.imagery import tile_imagery

    try:
        result = tile_imagery(files, out, srs=opts.srs, progress=progress)
    except OrthophotoError as exc:
        raise InputError(user_message(exc, files)) from exc
    extra = {"min_zoom": result.min_zoom, "max_zoom": result.max_zoom, "format": result.format}
    return _common(result, files, "imagery.json", extra)


CONVERTERS: dict[str, Callable[[list[Path], Path, Options, Progress], Built]] = {
    "pointcloud": pointcloud,
    "vector": vector,
    "mesh": mesh,
    "terrain": terrain,
    "imagery": imagery,
}
