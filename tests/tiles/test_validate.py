"""tiles.validate against the real 3D Tiles 1.1 schemas and the CesiumGS sample tilesets.

The broken-tileset cases each change one thing and expect an error that names it, so a validator
that silently accepted everything (or lost the $ref resolution) would fail here.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tiles.validate import validate_tileset, validate_tileset_tree

SHARED = Path(__file__).resolve().parents[3] / "shared"
SCHEMAS = SHARED / "schemas" / "3d-tiles-1.1"
TILESETS = SHARED / "data" / "tilesets"
SAMPLES = (
    "1.0_TilesetWithRequestVolume_city",
    "1.1_MultipleContents",
    "1.1_SparseImplicitQuadtree",
)


@pytest.fixture(scope="module")
def schemas() -> Path:
    if not (SCHEMAS / "tileset.schema.json").is_file():
        pytest.skip(f"3D Tiles schemas not found at {SCHEMAS}")
    return SCHEMAS


def _sample_dir(name: str) -> Path:
    folder = TILESETS / name
    if not (folder / "tileset.json").is_file():
        pytest.skip(f"sample tileset not found at {folder}")
    return folder


@pytest.fixture
def city(schemas: Path) -> dict[str, Any]:
    """The explicit 1.0 sample: a region root with four b3dm children."""
    path = _sample_dir(SAMPLES[0]) / "tileset.json"
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", SAMPLES)
def test_real_samples_are_valid(schemas: Path, name: str) -> None:
    folder = _sample_dir(name)
    assert validate_tileset(folder / "tileset.json", schemas) == []
    assert validate_tileset_tree(folder / "tileset.json", schemas) == []


def test_minimal_tileset_is_valid(schemas: Path) -> None:
    tileset = {
        "asset": {"version": "1.1"},
        "geometricError": 10,
        "root": {"boundingVolume": {"sphere": [0, 0, 0, 1]}, "geometricError": 0},
    }
    assert validate_tileset(tileset, schemas) == []


def test_missing_geometric_error(schemas: Path, city: dict[str, Any]) -> None:
    del city["geometricError"]
    errors = validate_tileset(city, schemas)
    assert len(errors) == 1
    assert "geometricError" in errors[0] and "required" in errors[0]


def test_missing_geometric_error_in_a_tile(schemas: Path, city: dict[str, Any]) -> None:
    del city["root"]["children"][2]["geometricError"]
    errors = validate_tileset(city, schemas)
    assert errors == ["root.children[2]: 'geometricError' is a required property"]


def test_negative_geometric_error(schemas: Path, city: dict[str, Any]) -> None:
    city["root"]["children"][1]["geometricError"] = -5
    errors = validate_tileset(city, schemas)
    assert len(errors) == 1
    assert errors[0].startswith("root.children[1].geometricError:")
    assert "minimum" in errors[0]


def test_box_with_eleven_numbers(schemas: Path, city: dict[str, Any]) -> None:
    city["root"]["children"][0]["boundingVolume"] = {"box": [0.0] * 11}
    errors = validate_tileset(city, schemas)
    assert len(errors) == 1
    assert errors[0].startswith("root.children[0].boundingVolume.box:")
    assert "too short" in errors[0]


def test_errors_from_referenced_schemas(schemas: Path, city: dict[str, Any]) -> None:
    """asset, refine and metadata live in other schema files: the $refs must resolve."""
    broken = copy.deepcopy(city)
    del broken["asset"]["version"]
    broken["root"]["refine"] = 3
    broken["schema"] = {"id": "s", "classes": {"c": {"properties": {"p": {"type": 5}}}}}
    errors = validate_tileset(broken, schemas)
    assert "asset: 'version' is a required property" in errors
    assert any(e.startswith("root.refine:") for e in errors)
    assert any(e.startswith("schema.classes.c.properties.p.type:") for e in errors)


def test_unreadable_json(schemas: Path, tmp_path: Path) -> None:
    path = tmp_path / "tileset.json"
    path.write_text("{not json", encoding="utf-8")
    [error] = validate_tileset(path, schemas)
    assert "cannot read JSON" in error


def test_missing_content_file(schemas: Path, tmp_path: Path) -> None:
    folder = tmp_path / "city"
    shutil.copytree(_sample_dir(SAMPLES[0]), folder)
    (folder / "ur.b3dm").unlink()
    errors = validate_tileset_tree(folder / "tileset.json", schemas)
    assert len(errors) == 1
    assert "root.children[2].content.uri 'ur.b3dm'" in errors[0]
    assert "no such file" in errors[0]


def test_missing_one_of_multiple_contents(schemas: Path, tmp_path: Path) -> None:
    folder = tmp_path / "multi"
    shutil.copytree(_sample_dir(SAMPLES[1]), folder)
    (folder / "planePoints.glb").unlink()
    errors = validate_tileset_tree(folder / "tileset.json", schemas)
    assert len(errors) == 1
    assert "root.contents[1].uri 'planePoints.glb'" in errors[0]


def test_implicit_templates_are_not_files(schemas: Path, tmp_path: Path) -> None:
    """Template uris name many (possibly absent) files; they must not be checked as one file."""
    folder = tmp_path / "implicit"
    shutil.copytree(_sample_dir(SAMPLES[2]), folder)
    shutil.rmtree(folder / "content")
    assert validate_tileset_tree(folder / "tileset.json", schemas) == []


def test_external_tilesets_are_followed(schemas: Path, tmp_path: Path) -> None:
    """A content uri ending in .json is a child tileset: validated too, its own uris checked."""
    child = {
        "asset": {"version": "1.1"},
        "geometricError": -1,
        "root": {
            "boundingVolume": {"sphere": [0, 0, 0, 1]},
            "geometricError": 0,
            "content": {"uri": "tiles/missing.glb"},
        },
    }
    parent = {
        "asset": {"version": "1.1"},
        "geometricError": 10,
        "root": {
            "boundingVolume": {"sphere": [0, 0, 0, 1]},
            "geometricError": 5,
            "refine": "ADD",
            "children": [
                {
                    "boundingVolume": {"sphere": [0, 0, 0, 1]},
                    "geometricError": 1,
                    "content": {"uri": "sub/child.json"},
                }
            ],
        },
    }
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "child.json").write_text(json.dumps(child), encoding="utf-8")
    (tmp_path / "tileset.json").write_text(json.dumps(parent), encoding="utf-8")
    errors = validate_tileset_tree(tmp_path / "tileset.json", schemas)
    assert len(errors) == 2, errors
    assert all(e.startswith(str((tmp_path / "sub" / "child.json").resolve())) for e in errors)
    assert any("geometricError" in e and "minimum" in e for e in errors)
    assert any("'tiles/missing.glb'" in e and "no such file" in e for e in errors)


def test_absolute_urls_are_not_checked(schemas: Path, tmp_path: Path) -> None:
    tileset = {
        "asset": {"version": "1.1"},
        "geometricError": 10,
        "root": {
            "boundingVolume": {"sphere": [0, 0, 0, 1]},
            "geometricError": 0,
            "content": {"uri": "https://example.invalid/tile.glb"},
        },
    }
    (tmp_path / "tileset.json").write_text(json.dumps(tileset), encoding="utf-8")
    assert validate_tileset_tree(tmp_path / "tileset.json", schemas) == []
