"""The server's periodic look for silent sensors, as a task on its event loop."""

from __future__ import annotations

import asyncio
import logging

from starlette.concurrency import run_in_threadpool

from twin.db import Database
from twin.sensors.alerts import alert_dict, check_silence
from twin.sensors.live import Hub

log = logging.getLogger(__name__)


def check_once(db: Database, hub: Hub) -> int:
    with db.session() as session:
        opened = [alert_dict(a) for a in check_silence(session)]
    for alert in opened:
        hub.publish("alert", alert)
    return len(opened)


async def watch_silence(db: Database, hub: Hub, every: float) -> None:
    """Runs until cancelled; a failed check (database down) is logged and tried again."""
    while True:
        await asyncio.sleep(every)
        try:
            opened = await run_in_threadpool(check_once, db, hub)
        except Exception as exc:  # the watch must outlive a bad minute (database down)
            log.warning("silent-sensor check failed: %s", exc)
            continue
        if opened:
            log.info("%d silent-sensor alert(s) opened", opened)
