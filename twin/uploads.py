"""Receiving uploaded source files: names, types and sizes checked as the bytes arrive.

A ZIP (the usual way to send a Shapefile with its parts) is unpacked with the same checks on
every member: no paths outside the folder, only known endings, and the size limit applied to
the unpacked bytes (a small archive can unpack to terabytes).
"""

from __future__ import annotations

import shutil
import uuid
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from twin.errors import InputError, TwinError
from twin.importer import KINDS, SIDECARS

ACCEPTED = set(KINDS) | SIDECARS
CHUNK = 1 << 20


class UploadTooLarge(TwinError):
    status_code = 413


class _Budget:
    """Bytes left under the upload limit, shared by all files of one upload."""

    def __init__(self, limit_mb: int) -> None:
        self.limit_mb = limit_mb
        self.left = limit_mb * 1024 * 1024

    def take(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise UploadTooLarge(f"upload larger than {self.limit_mb} MB")


def _safe_name(raw: str, where: str) -> str:
    name = PurePosixPath(raw.replace("\\", "/")).name
    if not name or name.startswith(".") or "." not in name:
        raise InputError(f"{where} {raw!r}: a file name with its ending is needed")
    ending = "." + name.rsplit(".", 1)[-1].lower()
    if ending not in ACCEPTED and ending != ".zip":
        raise InputError(
            f"{where} {name!r}: unsupported type; supported: {', '.join(sorted(KINDS))} "
            "(Shapefiles with their .dbf/.shx/.prj, or in a .zip)"
        )
    return name


def _copy(src: BinaryIO, dest: Path, budget: _Budget) -> None:
    with dest.open("wb") as out:
        while chunk := src.read(CHUNK):
            budget.take(len(chunk))
            out.write(chunk)


def _unzip(archive: Path, folder: Path, budget: _Budget) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                parts = PurePosixPath(info.filename.replace("\\", "/")).parts
                if info.filename.startswith("/") or ".." in parts:
                    raise InputError(f"{archive.name}: unsafe path {info.filename!r} in archive")
                if parts[0] == "__MACOSX":
                    continue
                name = _safe_name(info.filename, f"{archive.name}:")
                if name.lower().endswith(".zip"):
                    raise InputError(f"{archive.name}: archives inside archives are not read")
                with zf.open(info) as src:
                    _copy(src, folder / name, budget)
    except zipfile.BadZipFile as exc:
        raise InputError(f"{archive.name}: not a readable ZIP archive ({exc})") from exc
    archive.unlink()


def save_uploads(files: list[tuple[str, BinaryIO]], uploads_dir: Path, limit_mb: int) -> Path:
    """Store (name, stream) pairs in a new private folder and return it; nothing is left
    behind when a check fails."""
    folder = uploads_dir / uuid.uuid4().hex
    folder.mkdir(parents=True)
    budget = _Budget(limit_mb)
    try:
        for raw_name, stream in files:
            name = _safe_name(raw_name, "upload")
            dest = folder / name
            _copy(stream, dest, budget)
            if name.lower().endswith(".zip"):
                _unzip(dest, folder, budget)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder
