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
from sqlalchemy.orm import Session

from twin.catalog import import_target, new_layer, operator, publish_version, staging_dir
from twin.converters import CONVERTERS, Options
from twin.db import Database
from twin.errors import InputError, NotFound
from twin.jobs import JobContext, ProgressHook
from twin.models import Layer, User

# File endings each kind of layer is read from ("raster": terrain or imagery, by content).
KINDS = {
    ".las": "pointcloud",
    ".laz": "pointcloud",
    ".gpkg": "vector",
    ".geojson": "vector",
    ".json": "vector",
    ".shp": "vector",
    ".fgb": "vector",
    ".obj": "mesh",
    ".ply": "mesh",
    ".glb": "mesh",
    ".gltf": "mesh",
    ".tif": "raster",
    ".tiff": "raster",
    ".hgt": "terrain",
}
# Files that travel with a source (Shapefile parts, mesh materials and textures, glTF buffers,
# world files) and are read through it.
SIDECARS = {
    ".dbf", ".shx", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".qmd", ".xml",
    ".mtl", ".jpg", ".jpeg", ".png", ".webp", ".bin", ".tfw", ".ovr",
}  # fmt: skip


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
    kinds = {_kind(f) for f in files}
    if len(kinds) != 1:
        raise InputError(f"one layer takes one kind of data; got {', '.join(sorted(kinds))}")
    return kinds.pop(), files


def _kind(path: Path) -> str:
    """A file's layer kind; a GeoTIFF is a DEM (one band of heights) or imagery (colour)."""
    kind = KINDS[path.suffix.lower()]
    if kind != "raster":
        return kind
    import rasterio
    from rasterio.enums import ColorInterp
    from rasterio.errors import RasterioIOError

    try:
        with rasterio.open(path) as src:
            colour = src.count >= 3 or src.colorinterp[0] == ColorInterp.palette
            heights = src.count == 1 and src.dtypes[0] in ("float32", "float64", "int16", "int32")
    except RasterioIOError as exc:
        raise InputError(f"{path.name}: not a readable GeoTIFF ({exc})") from None
    if heights and not colour:
        return "terrain"
    return "imagery"


def default_name(files: list[Path]) -> str:
    return files[0].stem if len(files) == 1 else f"{files[0].parent.name or files[0].stem}"


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
    origin: list[float] | None = None,
    group_id: int | None = None,
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
            origin=tuple(origin) if origin else None,  # type: ignore[arg-type]
            group_id=group_id,
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
    origin: tuple[float, float, float] | None = None  # meshes in local coordinates
    group_id: int | None = None  # a new layer's closed group; a new version keeps the layer's


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
        if kind not in CONVERTERS:
            raise InputError(f"{kind} layers cannot be imported yet")
        options = Options(srs=request.srs, height=request.height, origin=request.origin)
        built = CONVERTERS[kind](files, staged, options, lambda f, m: progress(0.95 * f, m))
        progress(0.97, "publishing")
        with db.session() as s:
            layer = _target_layer(s, request, kind) or new_layer(
                s,
                name=request.name or default_name(files),
                kind=kind,
                description=request.description,
                public=request.public,
                user_id=request.user_id,
                group_id=request.group_id,
            )
            layer.source_crs = built.source_crs
            version = publish_version(
                s,
                tiles,
                layer,
                staged,
                source=", ".join(str(p) for p in request.paths),
                job_id=job_id,
                stats=built.stats,
                bounds=built.bounds_wgs84,
                entry=built.entry,
            )
            stats = built.stats
            count = stats.get("points", stats.get("features", stats.get("triangles")))
            return {"layer_id": layer.id, "version": version.number, "count": count}
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def _target_layer(session: Session, request: ImportRequest, kind: str) -> Layer | None:
    """The layer a new version goes to (None: a new layer), checked again at publish time for
    the user the import acts for: rights may have changed while the files were converted."""
    actor = _actor(session, request.user_id)
    layer = import_target(session, actor, request.layer_id, request.group_id)
    if layer is not None and layer.kind != kind:
        raise InputError(f"layer {layer.id} holds {layer.kind} data, not {kind}")
    return layer


def _actor(session: Session, user_id: int | None) -> User:
    """An HTTP import acts for its user; a CLI import (no user) for the operator."""
    if user_id is None:
        return operator()
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise NotFound(f"user {user_id} not found")
    return user


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


def parse_origin(value: str | None) -> tuple[float, float, float] | None:
    """A mesh origin "X,Y,Z" in the source CRS (what local mesh coordinates are relative to)."""
    if value is None or not value.strip():
        return None
    try:
        x, y, z = (float(v) for v in value.split(","))
    except ValueError:
        raise InputError(f"origin {value!r}: expected three numbers X,Y,Z") from None
    return (x, y, z)
