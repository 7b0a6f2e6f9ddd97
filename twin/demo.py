"""The demo scene: what `twin demo` loads so a fresh install shows something real.

Until the import pipeline lands, the scene is the ready-made 3D Tiles samples of
`../shared/data/tilesets` (CesiumGS 3d-tiles-samples). The two 1.1 samples are authored in local
coordinates around the Earth's centre; the demo places them, scaled, in Marseille so that they
appear in the home view, and says so in their descriptions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twin.catalog import find_layer_by_name, register_tileset
from twin.jobs import JobContext


@dataclass(frozen=True)
class DemoTileset:
    folder: str
    name: str
    description: str
    placement: tuple[float, float, float, float] | None = None


# (lon, lat, ellipsoidal height m, scale): the Vieux-Port and the Palais Longchamp, Marseille.
DEMO_TILESETS = (
    DemoTileset(
        "1.1_MultipleContents",
        "Sample: multiple contents (3D Tiles 1.1)",
        "CesiumGS sample (textured triangles + points in one tile), authored in local "
        "coordinates; placed for the demo at the Vieux-Port, Marseille, scaled x300.",
        (5.3698, 43.2951, 120.0, 300.0),
    ),
    DemoTileset(
        "1.1_SparseImplicitQuadtree",
        "Sample: sparse implicit quadtree (3D Tiles 1.1)",
        "CesiumGS sample of implicit tiling with subtrees, authored in local coordinates; "
        "placed for the demo near the Palais Longchamp, Marseille, scaled x400.",
        (5.3945, 43.3046, 120.0, 400.0),
    ),
    DemoTileset(
        "1.0_TilesetWithRequestVolume_city",
        "Sample: city blocks (3D Tiles 1.0, b3dm)",
        "CesiumGS sample of legacy b3dm buildings, georeferenced near Philadelphia (USA).",
    ),
)


def load_demo_scene(ctx: JobContext, shared_data_dir: str, tiles_dir: str) -> dict[str, Any]:
    """Register the demo layers that are not there yet (idempotent)."""
    source = Path(shared_data_dir) / "tilesets"
    if not source.is_dir():
        ctx.progress(1.0, f"no sample data at {source}: the scene stays empty")
        return {"added": [], "skipped": [], "missing_data": str(source)}
    added: list[int] = []
    skipped: list[int] = []
    for i, item in enumerate(DEMO_TILESETS):
        ctx.progress(i / len(DEMO_TILESETS), f"loading {item.name}")
        with ctx.db.session() as s:
            existing = find_layer_by_name(s, item.name)
            if existing is not None:
                skipped.append(existing.id)
                continue
            layer = register_tileset(
                s,
                Path(tiles_dir),
                source / item.folder,
                name=item.name,
                description=item.description,
                placement=item.placement,
                job_id=ctx.job_id,
            )
            added.append(layer.id)
    ctx.progress(1.0, f"{len(added)} layer(s) added, {len(skipped)} already there")
    return {"added": added, "skipped": skipped}
