"""The demo scene: what `twin demo` loads so a fresh install shows something real.

Real public data from `../shared/data`, imported through the same pipeline as a user's files:
IGN LiDAR HD point clouds, BDNB buildings with heights, and the ground of the Montpellier crop:
its DTM as terrain, its orthophoto as imagery and its DSM as a textured mesh. No dataset inside
Aix-Marseille-Provence is available offline, so these sit where they really are (Montpellier,
Brittany, Périgueux) and the layer panel's "Zoom to" takes you there. Beside them, the
ready-made 3D Tiles samples of CesiumGS: the two 1.1 samples are authored in local coordinates
around the Earth's centre, so the demo places them, scaled, in Marseille (said in their
descriptions).
"""

from __future__ import annotations

import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from twin.catalog import find_layer_by_name, register_tileset
from twin.config import Settings
from twin.db import Database
from twin.importer import ImportRequest, import_files
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


@dataclass(frozen=True)
class DemoImport:
    path: str  # relative to the shared data folder
    name: str
    description: str
    srs: str | None = None  # for files whose CRS cannot be read
    # builds the file to import from `path` into a scratch folder (the textured mesh)
    prepare: Callable[[Path, Path], Path] | None = None


MONTPELLIER_DSM = "dem/DSM_test_data_77055_627760_LA93_IGN69_50CM.tif"
MONTPELLIER_ORTHO = "ortho/test_data_rgb.tif"


def _montpellier_mesh(shared: Path, scratch: Path) -> Path:
    """The DSM surface textured with the orthophoto, exported as a photogrammetry tool does."""
    from geodata.surface import write_textured_obj

    return write_textured_obj(
        scratch / "montpellier_mesh",
        shared / MONTPELLIER_DSM,
        shared / MONTPELLIER_ORTHO,
        srs="EPSG:2154",
        origin=(770000.0, 6277000.0, 0.0),
    ).parent


DEMO_IMPORTS = (
    DemoImport(
        "dem/DTM_test_data_77055_627760_LA93_IGN69_50CM.tif",
        "Terrain: Montpellier 0.5 m DTM (IGN)",
        "IGN LiDAR HD digital terrain model of a 50 m x 50 m crop of Montpellier, 0.5 m, "
        "NGF-IGN69 heights made ellipsoidal; the demo's ground (EGM96 sea level elsewhere).",
    ),
    DemoImport(
        MONTPELLIER_ORTHO,
        "Orthophoto: Montpellier 20 cm (IGN BD ORTHO)",
        "IGN BD ORTHO RGB crop, 20 cm, over the same 50 m x 50 m as the DTM and the LiDAR; its "
        "file carries Lambert-93 coordinates without a usable CRS, so EPSG:2154 is given.",
        srs="EPSG:2154",
    ),
    DemoImport(
        MONTPELLIER_DSM,
        "Mesh: Montpellier surface textured with the orthophoto",
        "The IGN 0.5 m DSM of the crop as a surface mesh, textured with the 20 cm orthophoto "
        "and exported as photogrammetry tools do (OBJ + MTL + JPEG + metadata.xml), then "
        "imported like any mesh: levels of detail, texture atlases.",
        prepare=_montpellier_mesh,
    ),
    DemoImport(
        "pointcloud/test_data_77055_627760_LA93_IGN69.laz",
        "LiDAR HD: Montpellier urban crop (IGN)",
        "IGN LiDAR HD, 50 m x 50 m of Montpellier, Lambert-93 + NGF-IGN69, RGB+NIR, 60,653 "
        "points with ASPRS classes (14,908 building points).",
    ),
    DemoImport(
        "pointcloud/test_semis_2023_0292_6833_LA93_IGN69.laz",
        "LiDAR HD: 1 km tile, Cotes-d'Armor (IGN)",
        "A whole IGN LiDAR HD 1 km tile (decimated, 289,055 points), Lambert-93 + NGF-IGN69, "
        "classes incl. bridges (17) and IGN codes 64-67.",
    ),
    DemoImport(
        "vector/perigueux_bdnb/bdnb_perigeux8.shp",
        "Buildings: Perigueux (BDNB heights)",
        "10,381 building footprints of Perigueux extruded by their BDNB height ('hauteur') "
        "from their ground altitude ('altitude_s'); every BDNB attribute kept for picking.",
    ),
    DemoImport(
        "flood/tri_perigueux/n_tri_peri_inondable_01_01for_s_024.shp",
        "Flood zone: Perigueux TRI, high probability (Georisques)",
        "Official high-probability flood extent of the Isle at Perigueux (TRI, Flood "
        "Directive), 114 polygons draped on the ground over the buildings.",
    ),
)


def load_demo_scene(ctx: JobContext, shared_data_dir: str, tiles_dir: str) -> dict[str, Any]:
    """Load the demo layers that are not there yet (idempotent: matched by name)."""
    shared = Path(shared_data_dir)
    if not (shared / "tilesets").is_dir():
        ctx.progress(1.0, f"no sample data at {shared}: the scene stays empty")
        return {"added": [], "skipped": [], "missing_data": str(shared)}
    tiles = Path(tiles_dir)
    steps = len(DEMO_IMPORTS) + len(DEMO_TILESETS)
    added: list[int] = []
    skipped: list[int] = []

    def existing(name: str) -> int | None:
        with ctx.db.session() as s:
            layer = find_layer_by_name(s, name)
            return layer.id if layer else None

    for i, item in enumerate(DEMO_IMPORTS):
        if (layer_id := existing(item.name)) is not None:
            skipped.append(layer_id)
            continue

        def report(fraction: float, message: str, i: int = i, name: str = item.name) -> None:
            ctx.progress((i + fraction) / steps, f"{name}: {message}")

        with tempfile.TemporaryDirectory() as scratch:
            source = shared / item.path
            if item.prepare is not None:
                source = item.prepare(shared, Path(scratch))
            request = ImportRequest(
                paths=[source], name=item.name, description=item.description, srs=item.srs
            )
            result = import_files(ctx.db, tiles, request, report, job_id=ctx.job_id)
        added.append(result["layer_id"])
    for j, sample in enumerate(DEMO_TILESETS, start=len(DEMO_IMPORTS)):
        ctx.progress(j / steps, f"loading {sample.name}")
        if (layer_id := existing(sample.name)) is not None:
            skipped.append(layer_id)
            continue
        with ctx.db.session() as s:
            layer = register_tileset(
                s,
                tiles,
                shared / "tilesets" / sample.folder,
                name=sample.name,
                description=sample.description,
                placement=sample.placement,
                job_id=ctx.job_id,
            )
            added.append(layer.id)
    ctx.progress(1.0, f"{len(added)} layer(s) added, {len(skipped)} already there")
    return {"added": added, "skipped": skipped}


# --- live sensors -----------------------------------------------------------------------------

DEMO_FEED_USER = "simulator"
DEMO_BACKFILL_DAYS = 3.0
DEMO_INTERVAL_S = 30.0


def load_demo_sensors(db: Database, days: float = DEMO_BACKFILL_DAYS) -> tuple[int, int]:
    """Register the metropolis's simulated sensors and back-fill `days` of readings straight
    into the database (idempotent: existing sensors and readings are kept). Returns (new
    sensors, readings stored)."""
    from twin.sensors.feed import DatabaseSender, backfill
    from twin.sensors.simulator import DEFAULT_RULES, metropolis_setup

    sims = metropolis_setup()
    sender = DatabaseSender(db)
    return sender.register(sims, DEFAULT_RULES), backfill(sender, sims, days)


def start_demo_feed(settings: Settings, db: Database) -> threading.Thread:
    """Feed live readings to the server about to start: over MQTT when a broker is configured,
    else over HTTP with a device account of its own."""
    from twin.auth import add_user, create_token
    from twin.models import User
    from twin.sensors.feed import HttpSender, MqttSender, live
    from twin.sensors.simulator import metropolis_setup

    with db.session() as s:
        user = s.scalar(select(User).where(User.username == DEMO_FEED_USER))
        if user is None:
            user = add_user(s, DEMO_FEED_USER, "device", secrets.token_urlsafe(24))
        token = create_token(user, settings, minutes=30 * 24 * 60)
    base = f"http://{'127.0.0.1' if settings.host in ('0.0.0.0', '::') else settings.host}"
    base += f":{settings.port}"

    def run() -> None:
        for _ in range(600):  # wait for the server to answer
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        sender = MqttSender(settings.mqtt_url) if settings.mqtt_url else HttpSender(base, token)
        live(sender, metropolis_setup(), DEMO_INTERVAL_S, threading.Event())

    thread = threading.Thread(target=run, name="demo-feed", daemon=True)
    thread.start()
    return thread
