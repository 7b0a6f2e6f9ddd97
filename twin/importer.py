"""Import pipeline: source files -> geodata (read, reproject) -> tiles (write) -> catalog.

Runs as a job (`layers.import`). The build happens in a staging folder of the tile store and is
published by one rename plus one committed row, so a failed or cancelled import leaves nothing
visible and no files behind, and a re-import adds a version without touching the one in use.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyproj import CRS
from pyproj.exceptions import CRSError

from twin.catalog import new_layer, publish_version, staging_dir
from twin.db import Database
from twin.errors import InputError, NotFound
from twin.jobs import JobContext, ProgressHook
from twin.models import Layer

# File endings each kind of layer is read from.
KINDS = {
    ".las": "pointcloud",
    ".laz": "pointcloud",
    ".gpkg": "vector",
    ".geojson": "vector",
    ".json": "vector",
    ".shp": "vector",
    ".fgb": "vector",
}
# Files that travel with a source (Shapefile parts) and are read through it.
SIDECARS = {".dbf", ".shx", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".qmd", ".xml"}


def check_srs(srs: str | None) -> str | None:
    """A CRS the user typed, validated now rather than after an upload and a queue."""
    if srs is None or not srs.strip():
        return None
    try:
        CRS.from_user_input(srs.strip())
    except CRSError as exc:
        raise InputError(f"--srs {srs!r} is not a CRS pyproj knows (e.g. EPSG:2154)") from exc
    return srs.strip()


def collect_sources(paths: list[Path]) -> tuple[str, list[Path]]:
    """The files to import (directories expanded) and their common kind."""
    files: list[Path] = []
    paths = [p for p in paths if p.suffix.lower() not in SIDECARS]
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in KINDS)
            if not found:
                raise InputError(f"{path}: no importable file ({', '.join(sorted(KINDS))})")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or directory")
    files = [f for f in files if f.suffix.lower() not in SIDECARS]
    if not files:
        raise InputError("no importable file among the sources")
    unknown = [f.name for f in files if f.suffix.lower() not in KINDS]
    if unknown:
        raise InputError(
            f"cannot import {', '.join(unknown)}: supported endings are {', '.join(sorted(KINDS))}"
        )
    kinds = {KINDS[f.suffix.lower()] for f in files}
    if len(kinds) != 1:
        raise InputError(f"one layer takes one kind of data; got {', '.join(sorted(kinds))}")
    return kinds.pop(), files


def default_name(files: list[Path]) -> str:
    return files[0].stem if len(files) == 1 else f"{files[0].parent.name or files[0].stem}"


def user_message(exc: Exception, files: list[Path]) -> str:
    """The converter's message with server folders cut from file paths: the user knows the
    file by its name, and upload folders are nobody's business."""
    message = str(exc)
    for folder in sorted({str(f.parent) for f in files}, key=len, reverse=True):
        message = message.replace(folder + "/", "")
    return message


def build_tiles(
    kind: str,
    files: list[Path],
    out_dir: Path,
    srs: str | None,
    height: str | float | None,
    progress: ProgressHook,
) -> tuple[dict[str, Any], str, tuple[float, float, float, float]]:
    """Run the converter for `kind`; returns the version's stats, source CRS and WGS84 bounds."""
    if kind == "pointcloud":
        from geodata.pointcloud import PointCloudError
        from tiles.pointcloud import tile_point_cloud

        try:
            pc = tile_point_cloud(files, out_dir, srs=srs, progress=progress)
        except PointCloudError as exc:
            raise InputError(user_message(exc, files)) from exc
        stats = {"points": pc.point_count, "tiles": pc.tile_count, "height_note": pc.height_note}
        result: Any = pc
    else:
        from geodata.vector import VectorError
        from tiles.buildings import tile_vector_layer

        try:
            vec = tile_vector_layer(files, out_dir, srs=srs, height=height, progress=progress)
        except VectorError as exc:
            raise InputError(user_message(exc, files)) from exc
        stats = {
            "features": vec.feature_count,
            "tiles": vec.tile_count,
            "height_note": vec.height_note,
            "repaired": vec.repaired,
            "draped": vec.draped,
            "geometry": vec.geometry,
        }
        result = vec
    stats |= {
        "attributes": result.attributes,
        "bounds_source": list(result.bounds_source),
        "files": [f.name for f in files],
    }
    return stats, result.source_crs, result.bounds_wgs84


def run_import(
    ctx: JobContext,
    paths: list[str],
    tiles_dir: str,
    name: str | None = None,
    srs: str | None = None,
    height: str | float | None = None,
    layer_id: int | None = None,
    user_id: int | None = None,
    public: bool = True,
    cleanup: str | None = None,
) -> dict[str, Any]:
    """Job handler: build the tiles, then catalog them as a new layer or a new version."""
    try:
        request = ImportRequest(
            paths=[Path(p) for p in paths],
            name=name,
            srs=srs,
            height=height,
            layer_id=layer_id,
            user_id=user_id,
            public=public,
        )
        out = import_files(ctx.db, Path(tiles_dir), request, ctx.progress, job_id=ctx.job_id)
    finally:
        if cleanup:
            shutil.rmtree(cleanup, ignore_errors=True)
    ctx.progress(1.0, f"layer {out['layer_id']} version {out['version']} ready")
    return out


@dataclass
class ImportRequest:
    """What to import and how; one request makes one layer version."""

    paths: list[Path]
    name: str | None = None
    description: str = ""
    srs: str | None = None
    height: str | float | None = None
    layer_id: int | None = None
    user_id: int | None = None
    public: bool = True


def import_files(
    db: Database,
    tiles: Path,
    request: ImportRequest,
    progress: ProgressHook,
    *,
    job_id: str | None = None,
) -> dict[str, Any]:
    """Convert the request's files in a staging folder and publish them as a layer version."""
    staged = staging_dir(tiles)
    try:
        kind, files = collect_sources(request.paths)
        progress(0.0, f"reading {len(files)} file(s)")
        stats, source_crs, bounds = build_tiles(
            kind, files, staged, request.srs, request.height, lambda f, m: progress(0.95 * f, m)
        )
        progress(0.97, "publishing")
        with db.session() as s:
            if request.layer_id is not None:
                layer = s.get(Layer, request.layer_id)
                if layer is None:
                    raise NotFound(f"layer {request.layer_id} not found")
                if layer.kind != kind:
                    raise InputError(f"layer {layer.id} holds {layer.kind} data, not {kind}")
            else:
                layer = new_layer(
                    s,
                    name=request.name or default_name(files),
                    kind=kind,
                    description=request.description,
                    public=request.public,
                    user_id=request.user_id,
                )
            layer.source_crs = source_crs
            version = publish_version(
                s,
                tiles,
                layer,
                staged,
                source=", ".join(str(p) for p in request.paths),
                job_id=job_id,
                stats=stats,
                bounds=bounds,
            )
            count = stats.get("points", stats.get("features"))
            return {"layer_id": layer.id, "version": version.number, "count": count}
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def parse_height(value: str | None) -> str | float | None:
    """A height given as metres ("12.5") or as the name of the field that holds it."""
    if value is None or not value.strip():
        return None
    try:
        metres = float(value)
    except ValueError:
        return value.strip()
    if not 0 < metres < 1000:
        raise InputError(f"height {value!r}: expected metres between 0 and 1000 or a field name")
    return metres
