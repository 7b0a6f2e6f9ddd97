"""Proposed building models (GLB) uploaded to a project: checked, measured, stored.

A model is read whole before anything is stored: a truncated, oversized or non-glTF file is
refused with what is wrong, and a refused upload leaves no file behind.
"""

from __future__ import annotations

import io
import json
import os
import struct
import uuid
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import trimesh
from sqlalchemy import select
from sqlalchemy.orm import Session

from twin.errors import InputError, NotFound
from twin.models import User
from twin.projects.models import Project, ProjectAsset
from twin.uploads import UploadTooLarge

GLB_MAGIC = b"glTF"
JSON_CHUNK = 0x4E4F534A
MAX_EXTENT_M = 2_000.0  # a building model larger than this is a unit or georeferencing mistake
CHUNK = 1 << 20


def read_limited(stream: BinaryIO, limit_mb: int) -> bytes:
    """The upload's bytes, refused as soon as they pass the limit (never all read first)."""
    buffer = io.BytesIO()
    while block := stream.read(CHUNK):
        buffer.write(block)
        if buffer.tell() > limit_mb * 1024 * 1024:
            raise UploadTooLarge(f"model larger than {limit_mb} MB")
    return buffer.getvalue()


def check_glb(data: bytes, name: str) -> dict[str, Any]:
    """Header, JSON chunk and geometry of a GLB; returns what the catalog shows of it."""
    if len(data) < 20 or data[:4] != GLB_MAGIC:
        raise InputError(f"{name}: not a binary glTF (.glb) file")
    version, length = struct.unpack_from("<II", data, 4)
    if version != 2:
        raise InputError(f"{name}: glTF version {version}; version 2 is needed")
    if length != len(data):
        raise InputError(f"{name}: header says {length} bytes, file has {len(data)} (truncated?)")
    chunk_length, chunk_type = struct.unpack_from("<II", data, 12)
    if chunk_type != JSON_CHUNK or 20 + chunk_length > len(data):
        raise InputError(f"{name}: the first chunk is not glTF JSON")
    try:
        document = json.loads(data[20 : 20 + chunk_length])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{name}: glTF JSON is malformed ({exc})") from exc
    if not str(document.get("asset", {}).get("version", "")).startswith("2."):
        raise InputError(f"{name}: asset.version must be 2.x")
    unsupported = set(document.get("extensionsRequired", [])) - {"KHR_materials_unlit"}
    if unsupported:
        raise InputError(f"{name}: needs unsupported extensions {sorted(unsupported)}")
    return _measure(data, name)


def _measure(data: bytes, name: str) -> dict[str, Any]:
    try:
        scene = trimesh.load(io.BytesIO(data), file_type="glb", force="scene")
    except Exception as exc:  # trimesh raises many types on bad buffers
        raise InputError(f"{name}: cannot read the model's geometry ({exc})") from exc
    triangles = sum(len(g.faces) for g in scene.geometry.values() if hasattr(g, "faces"))
    if triangles == 0:
        raise InputError(f"{name}: the model has no triangles")
    extent = np.asarray(scene.extents, dtype=float)
    if not np.all(np.isfinite(extent)) or float(extent.max()) > MAX_EXTENT_M:
        raise InputError(
            f"{name}: the model spans {float(extent.max()):.0f} m; a building model over "
            f"{MAX_EXTENT_M:.0f} m is a unit or georeferencing mistake (glTF uses metres)"
        )
    return {"triangles": int(triangles), "extent_m": [round(float(v), 3) for v in extent]}


def asset_path(projects_dir: Path, asset: ProjectAsset) -> Path:
    return projects_dir / str(asset.project_id) / f"{asset.id}.glb"


def add_asset(
    session: Session,
    projects_dir: Path,
    project: Project,
    user: User,
    filename: str,
    stream: BinaryIO,
    limit_mb: int,
) -> ProjectAsset:
    name = Path(filename or "model.glb").name[:200]
    if not name.lower().endswith(".glb"):
        raise InputError(f"{name}: models are uploaded as .glb (binary glTF)")
    data = read_limited(stream, limit_mb)
    info = check_glb(data, name)
    asset = ProjectAsset(
        id=uuid.uuid4().hex,
        project_id=project.id,
        name=name,
        size=len(data),
        info=info,
        created_by=user.id,
    )
    target = asset_path(projects_dir, asset)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    os.replace(partial, target)  # the file is whole before the row that names it commits
    session.add(asset)
    session.flush()
    return asset


def list_assets(session: Session, project: Project) -> list[ProjectAsset]:
    query = select(ProjectAsset).where(ProjectAsset.project_id == project.id)
    return list(session.scalars(query.order_by(ProjectAsset.created_at)))


def get_asset(session: Session, project: Project, asset_id: str) -> ProjectAsset:
    asset = session.get(ProjectAsset, asset_id)
    if asset is None or asset.project_id != project.id:
        raise NotFound(f"model {asset_id} not found in project {project.id}")
    return asset
