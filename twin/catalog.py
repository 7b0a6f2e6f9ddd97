"""The catalog of layers: registration into the tile store, visibility, rename and delete.

Visibility: a layer owned by a closed user group is seen by the group's members and admins only,
whatever its `public` flag says; to everyone else it does not exist (404, as a missing layer).
Other layers: public ones by anyone, the rest by staff.

Layer versions are immutable folders `<tiles>/<layer id>/<version key>/`. A version is built in a
staging folder and moved into place by one rename before its row is committed, so a crash never
leaves a half-written version visible, and a re-import never breaks a scene already open.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import box
from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.orm import Session

from tiles.tileset import Bounds, place, read_tileset, root_bounds_lonlat, write_tileset
from twin.errors import InputError, NotFound, PermissionDenied
from twin.groups import member_groups, sees_group
from twin.jobs import pid_alive
from twin.models import Group, Layer, LayerVersion, User

STAFF = ("admin", "gis", "planner")
LAYER_EDITORS = ("admin", "gis")


def operator() -> User:
    """Who the CLI acts as: the person at the server's console holds every right (never stored)."""
    return User(username="cli", role="admin", password_hash="")


def can_see(session: Session, user: User | None, layer: Layer) -> bool:
    if layer.group_id is not None:
        return sees_group(session, user, layer.group_id)
    return layer.public or (user is not None and user.role in STAFF)


def visible_layers(session: Session, user: User | None) -> ColumnElement[bool]:
    """`can_see` as one SQL condition, so a listing costs one query for the caller's groups,
    not one per layer."""
    if user is not None and user.role == "admin":
        return true()
    open_layers = Layer.group_id.is_(None)
    if user is None or user.role not in STAFF:
        open_layers = and_(open_layers, Layer.public.is_(True))
    groups = member_groups(session, user)
    return or_(open_layers, Layer.group_id.in_(groups)) if groups else open_layers


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
    query = select(Layer).where(visible_layers(session, user)).order_by(Layer.id)
    if bbox is not None:
        envelope = func.ST_GeomFromText(box(*bbox).wkt, 4326)
        query = query.where(func.ST_Intersects(Layer.extent, envelope))
    return list(session.scalars(query))


def get_layer(session: Session, layer_id: int, user: User | None) -> Layer:
    layer = session.get(Layer, layer_id)
    if layer is None or not can_see(session, user, layer):
        raise NotFound(f"layer {layer_id} not found")
    return layer


def layer_group(session: Session, layer_id: int) -> int | None:
    """The group that owns a layer (None: an open layer), read without loading the layer: the
    tile servers ask this for every uncached tile."""
    found = session.execute(select(Layer.group_id).where(Layer.id == layer_id)).first()
    if found is None:
        raise NotFound(f"layer {layer_id} not found")
    return found[0]


def check_group(session: Session, user: User | None, group_id: int | None) -> None:
    """A group `user` may put a layer in: one they belong to (admins: any). A group they do not
    see is answered as a missing one, so group ids cannot be probed."""
    if group_id is None:
        return
    if session.get(Group, group_id) is None or not sees_group(session, user, group_id):
        raise NotFound(f"group {group_id} not found")


def import_target(
    session: Session, user: User | None, layer_id: int | None, group_id: int | None
) -> Layer | None:
    """Check where an import by `user` goes: a layer they see (its new version keeps the
    layer's group) or a new layer, in a group they belong to."""
    layer = get_layer(session, layer_id, user) if layer_id is not None else None
    check_group(session, user, group_id)
    if layer is not None and group_id is not None and group_id != layer.group_id:
        raise InputError(
            f"a new version stays in layer {layer.id}'s group; move the layer with "
            f"PATCH /api/v1/layers/{layer.id}"
        )
    return layer


def find_layer_by_name(session: Session, name: str) -> Layer | None:
    return session.scalar(select(Layer).where(Layer.name == name).order_by(Layer.id))


def layer_name(name: str) -> str:
    """A layer name as stored: trimmed, 1 to 200 characters."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InputError("layer name must be 1 to 200 characters")
    return name


def _require_editor(user: User | None) -> None:
    if user is None or user.role not in LAYER_EDITORS:
        raise PermissionDenied("changing layers needs the gis or admin role")


def rename_layer(session: Session, layer_id: int, name: str, user: User | None) -> Layer:
    _require_editor(user)
    name = layer_name(name)
    layer = get_layer(session, layer_id, user)
    layer.name = name
    return layer


def move_layer(session: Session, layer_id: int, group_id: int | None, user: User | None) -> Layer:
    """Put a layer in a closed group (or, with None, out of any)."""
    _require_editor(user)
    layer = get_layer(session, layer_id, user)
    check_group(session, user, group_id)
    layer.group_id = group_id
    return layer


def delete_layer(session: Session, tiles_dir: Path, layer_id: int, user: User | None) -> None:
    """Delete the row, then the files: a crash in between leaves only unreachable files."""
    _require_editor(user)
    layer = get_layer(session, layer_id, user)
    session.delete(layer)
    session.commit()
    shutil.rmtree(tiles_dir / str(layer_id), ignore_errors=True)


def staging_dir(tiles_dir: Path) -> Path:
    """A fresh private folder inside the tile store (same filesystem, so publishing is a rename)."""
    path = tiles_dir / ".staging" / f"{os.getpid()}-{uuid.uuid4().hex}"
    path.mkdir(parents=True)
    return path


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
    staged = staging_dir(tiles_dir)
    try:
        shutil.copytree(
            source_dir, staged, ignore=shutil.ignore_patterns("*.md"), dirs_exist_ok=True
        )
        write_tileset(tileset, staged / "tileset.json")
        layer = new_layer(
            session,
            name=name,
            kind="tiles3d",
            description=description,
            public=public,
            user_id=user_id,
        )
        publish_version(session, tiles_dir, layer, staged, source=str(source_dir), job_id=job_id)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return layer


def new_layer(
    session: Session,
    *,
    name: str,
    kind: str,
    description: str = "",
    public: bool = True,
    source_crs: str | None = None,
    user_id: int | None = None,
    group_id: int | None = None,
) -> Layer:
    name = layer_name(name)
    layer = Layer(
        name=name,
        kind=kind,
        description=description,
        public=public,
        group_id=group_id,
        source_crs=source_crs,
        created_by=user_id,
    )
    session.add(layer)
    session.flush()
    return layer


def publish_version(
    session: Session,
    tiles_dir: Path,
    layer: Layer,
    staged: Path,
    *,
    source: str = "",
    job_id: str | None = None,
    stats: dict[str, Any] | None = None,
    bounds: Bounds | None = None,
    entry: str = "tileset.json",
) -> LayerVersion:
    """Move a finished build from `staged` into the store as the layer's next immutable version
    and make it current. The caller commits; until then no reader sees the new version, and a
    version is only ever read after its files are complete."""
    number = 1 + max((v.number for v in layer.versions), default=0)
    version = LayerVersion(
        layer_id=layer.id,
        number=number,
        key=uuid.uuid4().hex,
        source=source,
        stats=stats or {},
        job_id=job_id,
        entry=entry,
    )
    final = tiles_dir / version.path
    final.parent.mkdir(parents=True, exist_ok=True)
    staged.rename(final)
    try:
        layer.versions.append(version)
        session.flush()
    except Exception:
        shutil.rmtree(final, ignore_errors=True)  # no row, so no orphan folder either
        raise
    layer.current_version_id = version.id
    if bounds is None:
        bounds = root_bounds_lonlat(read_tileset(final / version.entry))
    layer.extent = from_shape(box(*bounds), srid=4326) if bounds else None
    return version


def sweep_orphans(session: Session, tiles_dir: Path, grace_s: float = 600.0) -> int:
    """Remove tile-store folders nothing points to: staging folders of dead processes, and
    version folders without a row (a crash between moving files in and committing the row).

    Called at start-up. Another live process may be building or publishing right now (several
    workers, or a CLI import), so its staging folders and very recent folders are left alone.
    """
    if not tiles_dir.is_dir():
        return 0
    removed = 0
    staging = tiles_dir / ".staging"
    for folder in staging.iterdir() if staging.is_dir() else ():
        pid = folder.name.split("-", 1)[0]
        if not (pid.isdigit() and pid_alive(int(pid))):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    known = {v.path for v in session.scalars(select(LayerVersion))}
    now = time.time()
    for layer_dir in tiles_dir.iterdir():
        if not layer_dir.is_dir() or not layer_dir.name.isdigit():
            continue
        for version_dir in layer_dir.iterdir():
            recent = now - version_dir.stat().st_mtime < grace_s
            if f"{layer_dir.name}/{version_dir.name}" not in known and not recent:
                shutil.rmtree(version_dir, ignore_errors=True)
                removed += 1
        if not any(layer_dir.iterdir()):
            layer_dir.rmdir()
    return removed
