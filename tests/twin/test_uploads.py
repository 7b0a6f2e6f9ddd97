"""Upload checks: types, names, sizes, and ZIP archives unpacked safely."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from twin.errors import InputError
from twin.uploads import UploadTooLarge, save_uploads


def zip_bytes(members: dict[str, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    buf.seek(0)
    return buf


def test_shapefile_parts_in_a_zip_are_unpacked(tmp_path: Path) -> None:
    archive = zip_bytes(
        {"bati/b.shp": b"shp", "bati/b.dbf": b"dbf", "bati/b.prj": b"prj", "__MACOSX/x": b""}
    )
    folder = save_uploads([("bati.zip", archive)], tmp_path, 10)
    assert sorted(p.name for p in folder.iterdir()) == ["b.dbf", "b.prj", "b.shp"]


@pytest.mark.parametrize("member", ["../../evil.shp", "/etc/evil.shp"])
def test_zip_paths_outside_are_refused(tmp_path: Path, member: str) -> None:
    with pytest.raises(InputError, match="unsafe path"):
        save_uploads([("x.zip", zip_bytes({member: b"x"}))], tmp_path, 10)
    assert list(tmp_path.iterdir()) == []  # nothing left behind
    assert not (tmp_path.parent / "evil.shp").exists()


def test_zip_bomb_hits_the_limit_on_unpacked_bytes(tmp_path: Path) -> None:
    bomb = zip_bytes({"big.laz": b"\0" * (3 << 20)})  # a few KB packed, 3 MB unpacked
    assert len(bomb.getvalue()) < 100_000
    with pytest.raises(UploadTooLarge):
        save_uploads([("bomb.zip", bomb)], tmp_path, 1)
    assert list(tmp_path.iterdir()) == []


def test_unknown_types_and_bad_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unsupported type"):
        save_uploads([("run.exe", io.BytesIO(b"MZ"))], tmp_path, 10)
    with pytest.raises(InputError, match="ending is needed"):
        save_uploads([("README", io.BytesIO(b""))], tmp_path, 10)
    with pytest.raises(InputError, match="not a readable ZIP"):
        save_uploads([("fake.zip", io.BytesIO(b"not a zip"))], tmp_path, 10)
    assert list(tmp_path.iterdir()) == []


def test_client_paths_in_names_are_stripped(tmp_path: Path) -> None:
    folder = save_uploads([("C:\\data\\..\\a.laz", io.BytesIO(b"x"))], tmp_path, 10)
    assert [p.name for p in folder.iterdir()] == ["a.laz"]
