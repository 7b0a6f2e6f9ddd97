"""The catalog of layers: registration into the tile store, visibility, rename and delete.

Layer versions are immutable folders `<tiles>/<layer id>/<version key>/`. A version is built in a
staging folder and moved into place by one rename before its row is committed, so a crash never
leaves a half-written version visible, and a re-import never breaks a scene already open.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import box
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tiles.tileset import Bounds, Tileset, place, read_tileset, root_bounds_lonlat, write_tileset
from twin.errors import InputError, NotFound, PermissionDenied
from twin.models import Layer, LayerVersion, User

STAFF = ("admin", "gis", "planner")
LAYER_EDITORS = ("admin", "gis")


def can_see(user: User | None, layer: Layer) -> bool:
    return layer.public or (user is not None and user.role in STAFF)


def parse_bbox(text: str) -> Bounds:
    """'west,south,east,north' in WGS84 degrees, checked."""
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise InputError(f"bbox {text!r}: expected four numbers 'west,south,east,north'") from exc
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise InputError(f"bbox {text!r}: need -180<=west<east<=180 and -90<=south<north<=90")
    return (w, s, e, n)


def list_layers(session: Session, user: User | None, bbox: Bounds | None = None) -> list[Layer]:
    query = select(Layer).order_by(Layer.id)
    if user is None or user.role not in STAFF:
        query = query.where(Layer.public.is_(True))
    if bbox is not None:
        envelope = func.ST_GeomFromText(box(*bbox).wkt, 4326)
        query = query.where(func.ST_Intersects(Layer.extent, envelope))
    return list(session.scalars(query))


def get_layer(session: Session, layer_id: int, user: User | None) -> Layer:
    layer = session.get(Layer, layer_id)
    if layer is None or not can_see(user, layer):
        raise NotFound(f"layer {layer_id} not found")
    return layer


def find_layer_by_name(session: Session, name: str) -> Layer | None:
    return session.scalar(select(Layer).where(Layer.name == name).order_by(Layer.id))


def _require_editor(user: User | None) -> None:
    if user is None or user.role not in LAYER_EDITORS:
        raise PermissionDenied("changing layers needs the gis or admin role")


def rename_layer(session: Session, layer_id: int, name: str, user: User | None) -> Layer:
    _require_editor(user)
    name = name.strip()
    if not name or len(name) > 200:
        raise InputError("name must be 1 to 200 characters")
    layer = get_layer(session, layer_id, user)
    layer.name = name
    return layer


def delete_layer(session: Session, tiles_dir: Path, layer_id: int, user: User | None) -> None:
    """Delete the row, then the files: a crash in between leaves only unreachable files."""
    _require_editor(user)
    layer = get_layer(session, layer_id, user)
    session.delete(layer)
    session.commit()
    shutil.rmtree(tiles_dir / str(layer_id), ignore_errors=True)


def register_tileset(
    session: Session,
    tiles_dir: Path,
    source_dir: Path,
    *,
    name: str,
    description: str = "",
    placement: tuple[float, float, float, float] | None = None,
    public: bool = True,
    user_id: int | None = None,
    job_id: str | None = None,
) -> Layer:
    """Catalog a ready-made 3D Tiles folder as a new layer (copied into the tile store).

    `placement` (lon, lat, ellipsoidal height, scale) georeferences a tileset authored in local
    coordinates by setting its root transform.
    """
    entry = source_dir / "tileset.json"
    if not entry.is_file():
        raise InputError(f"{source_dir}: no tileset.json")
    tileset = read_tileset(entry)
    if placement is not None:
        try:
            tileset = place(tileset, *placement)
        except ValueError as exc:
            raise InputError(f"{entry}: {exc}") from exc
    layer = Layer(
        name=name, kind="tiles3d", description=description, public=public, created_by=user_id
    )
    session.add(layer)
    session.flush()
    add_version(session, tiles_dir, layer, source_dir, tileset, job_id=job_id)
    return layer


def add_version(
    session: Session,
    tiles_dir: Path,
    layer: Layer,
    source_dir: Path,
    tileset: Tileset,
    *,
    job_id: str | None = None,
    stats: dict[str, Any] | None = None,
) -> LayerVersion:
    """Copy `source_dir` as the layer's next immutable version and make it current."""
    number = 1 + max((v.number for v in layer.versions), default=0)
    version = LayerVersion(
        layer_id=layer.id,
        number=number,
        key=uuid.uuid4().hex,
        source=str(source_dir),
        stats=stats or {},
        job_id=job_id,
    )
    staging = tiles_dir / ".staging" / version.key
    final = tiles_dir / version.path
    try:
        shutil.copytree(source_dir, staging, ignore=shutil.ignore_patterns("*.md"))
        write_tileset(tileset, staging / "tileset.json")
        final.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    try:
        layer.versions.append(version)
        session.flush()
    except Exception:
        shutil.rmtree(final, ignore_errors=True)  # no row, so no orphan folder either
        raise
    layer.current_version_id = version.id
    bounds = root_bounds_lonlat(tileset)
    layer.extent = from_shape(box(*bounds), srid=4326) if bounds else None
    return version
