"""The FastAPI application factory. Nothing is built at import time: `create_app(settings)`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from twin import __version__
from twin.api import (
    alerts,
    auth,
    errors,
    groups,
    health,
    jobs,
    layers,
    meetings,
    ngsi_ld,
    observations,
    pages,
    projects,
    public,
    routes,
    sensors,
    simulations,
    stream,
    tile_access,
    users,
)
from twin.catalog import sweep_orphans
from twin.config import Settings
from twin.dask_executor import connect
from twin.db import Database
from twin.jobs import JobRunner
from twin.migrate import prepare
from twin.projects.live import MeetingHub
from twin.projects.relay import MqttRelay
from twin.ratelimit import RateLimiter
from twin.security import SecurityHeaders
from twin.sensors.live import Hub
from twin.sensors.mqtt import MqttIngest
from twin.sensors.watch import watch_silence
from twin.static import TileFiles

log = logging.getLogger(__name__)
API = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.ensure_dirs()
    static_dir = settings.web_dir / "static"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.resolved_database_url)
        prepare(db)
        executor = connect(settings.dask_scheduler) if settings.dask_scheduler else None
        runner = JobRunner(db, workers=settings.job_workers, executor=executor)
        orphans = runner.recover()
        if orphans:
            log.warning("%d job(s) left active by a stopped server were marked failed", orphans)
        with db.session() as session:
            swept = sweep_orphans(session, settings.tiles_dir)
        if swept:
            log.warning("%d unreferenced tile-store folder(s) removed", swept)
        app.state.db, app.state.runner = db, runner
        app.state.hub.bind(asyncio.get_running_loop())
        app.state.meetings.bind(asyncio.get_running_loop())
        watcher = asyncio.create_task(
            watch_silence(db, app.state.hub, settings.sensor_check_seconds)
        )
        app.state.mqtt = _start_mqtt(settings, db, app.state.hub)
        relay = MqttRelay(settings.mqtt_url, app.state.meetings) if settings.mqtt_url else None
        if relay is not None:
            relay.start()
        if not (static_dir / "cesium" / "Cesium.js").is_file():
            log.warning("CesiumJS is not built into %s: run `make web`", static_dir / "cesium")
        try:
            yield
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            if app.state.mqtt is not None:
                app.state.mqtt.stop()
            if relay is not None:
                relay.stop()
            runner.shutdown()
            db.dispose()

    app = FastAPI(
        title="twin",
        version=__version__,
        description="3D digital twin of a metropolis: layers, sensors, simulations.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.hub = Hub()
    app.state.meetings = MeetingHub()
    app.state.limiter = RateLimiter()
    app.state.mqtt = None
    app.state.templates = Jinja2Templates(directory=settings.web_dir / "templates")
    errors.install(app)
    app.add_middleware(SecurityHeaders)
    for router in (
        health.router,
        auth.router,
        users.router,
        jobs.router,
        layers.router,
        sensors.router,
        observations.router,
        alerts.router,
        simulations.router,
        stream.router,
        routes.router,
        groups.router,
        projects.router,
        meetings.router,
        public.router,
    ):
        app.include_router(router, prefix=API)
    app.include_router(ngsi_ld.router)
    app.include_router(tile_access.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=static_dir, check_dir=False), name="static")
    app.mount("/tiles", TileFiles(directory=settings.tiles_dir), name="tiles")
    return app


def _start_mqtt(settings: Settings, db: Database, hub: Hub) -> MqttIngest | None:
    """MQTT ingest when a broker is configured; a broker that is down is retried in the
    background and never stops the server."""
    if not settings.mqtt_url:
        log.info("MQTT ingest is off (TWIN_MQTT_URL not set); observations arrive over HTTP")
        return None
    ingest = MqttIngest(settings.mqtt_url, db, hub, settings.mqtt_client_id)
    ingest.start()
    log.info("MQTT ingest from %s:%d", ingest.host, ingest.port)
    return ingest
