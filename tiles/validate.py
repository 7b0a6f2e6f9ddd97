"""Check tilesets against the OGC 3D Tiles 1.1 JSON schemas before anyone serves them.

The official CesiumGS validator is not installable here, so tilesets are checked with
`jsonschema` (Draft 2020-12) against the schema folder shipped in `../shared/schemas/3d-tiles-1.1`,
plus the one check a schema cannot make: that every explicit content uri points at a real file.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ENTRY_SCHEMA = "tileset.schema.json"


@lru_cache(maxsize=8)
def _registry(schemas_dir: Path) -> tuple[Registry, str]:
    """All schemas of the folder, keyed by absolute URI, and the URI of tileset.schema.json.

    The schemas' `$id`s are bare file names ("rootProperty.schema.json") while their `$ref`s are
    paths relative to the file ("../common/rootProperty.schema.json"), so each `$id` is replaced
    by the file's own URI: relative references then resolve exactly as they do on disk.
    """
    root = schemas_dir.resolve()
    if not (root / ENTRY_SCHEMA).is_file():
        raise FileNotFoundError(f"{root}: no {ENTRY_SCHEMA}")
    resources = []
    for path in sorted(root.rglob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        contents["$id"] = path.as_uri()
        resources.append((path.as_uri(), Resource.from_contents(contents, DRAFT202012)))
    registry: Registry = Registry().with_resources(resources).crawl()
    return registry, (root / ENTRY_SCHEMA).as_uri()


@lru_cache(maxsize=8)
def _validator(schemas_dir: Path) -> Draft202012Validator:
    """One validator per schema folder: building it crawls ~40 files."""
    registry, entry = _registry(schemas_dir)
    return Draft202012Validator(registry.contents(entry), registry=registry)


def _where(error: ValidationError) -> str:
    """A JSON path readers can follow: `root.children[0].boundingVolume.box`."""
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(tileset)"


def _describe(error: ValidationError) -> str:
    """The most specific message: an anyOf/oneOf failure deep in the tree is reported by its
    deepest branch error, since "not valid under any of the given schemas" names nothing."""
    leaf = error
    while leaf.context:
        leaf = min(leaf.context, key=lambda e: (-len(e.absolute_path), e.message))
    if len(leaf.absolute_path) <= len(error.absolute_path):
        leaf = error
    return f"{_where(leaf)}: {leaf.message}"


def validate_tileset(tileset: dict[str, Any] | Path, schemas_dir: Path) -> list[str]:
    """Schema errors of one tileset (a parsed dict or a tileset.json path); [] when valid."""
    if isinstance(tileset, Path):
        try:
            tileset = json.loads(tileset.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            return [f"{tileset}: cannot read JSON: {exc}"]
    errors = _validator(Path(schemas_dir)).iter_errors(tileset)
    return sorted({_describe(e) for e in errors})


def _explicit_uris(tile: dict[str, Any], where: str) -> Iterator[tuple[str, str]]:
    """(json path, uri) of every explicit content of a tile tree.

    Implicit tiles' content uris are templates (`{level}/{x}/{y}.glb`) that name files which
    may legitimately not exist (sparse availability), so they are not followed.
    """
    if not isinstance(tile, dict):
        return
    if "implicitTiling" not in tile:
        if isinstance(tile.get("content"), dict) and isinstance(tile["content"].get("uri"), str):
            yield f"{where}.content", tile["content"]["uri"]
        for i, content in enumerate(tile.get("contents") or []):
            if isinstance(content, dict) and isinstance(content.get("uri"), str):
                yield f"{where}.contents[{i}]", content["uri"]
    for i, child in enumerate(tile.get("children") or []):
        yield from _explicit_uris(child, f"{where}.children[{i}]")


def _local_path(base: Path, uri: str) -> Path | None:
    """The file a relative uri names, or None for absolute URLs (not ours to check)."""
    parts = urlsplit(uri)
    if parts.scheme or parts.netloc or uri.startswith("/"):
        return None
    return base / unquote(parts.path)


def validate_tileset_tree(tileset_json_path: Path, schemas_dir: Path) -> list[str]:
    """Schema errors of a tileset and of every external tileset it links to, plus the explicit
    content uris that do not resolve to a file. Each message starts with the file it is about."""
    errors: list[str] = []
    pending = [Path(tileset_json_path).resolve()]
    seen: set[Path] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        try:
            tileset = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            errors.append(f"{path}: cannot read JSON: {exc}")
            continue
        errors += [f"{path}: {e}" for e in validate_tileset(tileset, schemas_dir)]
        root = tileset.get("root") if isinstance(tileset, dict) else None
        for where, uri in _explicit_uris(root or {}, "root"):
            target = _local_path(path.parent, uri)
            if target is None:
                continue
            if not target.is_file():
                errors.append(f"{path}: {where}.uri {uri!r}: no such file {target}")
            elif target.suffix.lower() == ".json":
                pending.append(target.resolve())
    return errors


# --- glTF content: the Khronos glTF validator (npm `gltf-validator`) ---------------------------

REPO_ROOT = Path(__file__).resolve().parent.parent
GLTF_VALIDATOR = REPO_ROOT / "web" / "node_modules" / "gltf-validator"

# Reads a JSON list of paths on stdin, prints one JSON report summary per path on stdout.
_NODE_SCRIPT = r"""
const fs = require("fs");
const validator = require(process.argv[1]);
const paths = JSON.parse(fs.readFileSync(0, "utf8"));
(async () => {
  const out = [];
  for (const p of paths) {
    try {
      const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(p)), {
        uri: p, maxIssues: 200, externalResourceFunction: () => Promise.reject("external"),
      });
      out.push(report.issues.messages.map((m) => ({
        code: m.code, message: m.message, severity: m.severity, pointer: m.pointer || "",
      })));
    } catch (e) {
      out.push([{ code: "VALIDATOR_FAILED", message: String(e), severity: 0, pointer: "" }]);
    }
  }
  process.stdout.write(JSON.stringify(out));
})();
"""


class GltfValidatorUnavailable(RuntimeError):
    """node or the npm package gltf-validator is not installed: glb cannot be validated here."""


def gltf_validator_available() -> bool:
    return shutil.which("node") is not None and (GLTF_VALIDATOR / "package.json").is_file()


def gltf_issues(paths: list[Path], *, timeout: float = 300.0) -> list[list[dict[str, Any]]]:
    """The Khronos validator's issues for each .glb (one node process for all of them):
    dicts with code, message, severity (0 error, 1 warning, 2 info, 3 hint) and pointer."""
    node = shutil.which("node")
    if node is None:
        raise GltfValidatorUnavailable("node is not installed (apt-get install nodejs)")
    if not (GLTF_VALIDATOR / "package.json").is_file():
        raise GltfValidatorUnavailable(
            f"npm package gltf-validator not found at {GLTF_VALIDATOR} (npm install in web/)"
        )
    if not paths:
        return []
    proc = subprocess.run(
        [node, "-e", _NODE_SCRIPT, str(GLTF_VALIDATOR)],
        input=json.dumps([str(Path(p).resolve()) for p in paths]),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"gltf-validator failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def validate_glbs(paths: list[Path]) -> dict[Path, list[str]]:
    """Errors (severity 0) per .glb, as "CODE pointer: message"; raises GltfValidatorUnavailable
    when node or the validator package is missing."""
    reports = gltf_issues(list(paths))
    return {
        Path(p): [f"{m['code']} {m['pointer']}: {m['message']}" for m in r if m["severity"] == 0]
        for p, r in zip(paths, reports, strict=True)
    }


def validate_glb(path: Path) -> list[str]:
    """Errors of one .glb by the Khronos glTF validator; [] when valid."""
    return validate_glbs([Path(path)])[Path(path)]
