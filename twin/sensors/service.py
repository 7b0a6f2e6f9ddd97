"""One way in for observations, whatever carried them (HTTP, MQTT, NGSI-LD): store the batch,
raise or close alerts, commit, then tell live subscribers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from twin.db import Database
from twin.sensors.alerts import alert_dict, evaluate_batch
from twin.sensors.ingest import IngestOutcome, store
from twin.sensors.live import Hub
from twin.sensors.query import iso


def ingest(
    db: Database, items: Sequence[Any], *, sensor: str | None = None, hub: Hub | None = None
) -> IngestOutcome:
    now = datetime.now(UTC)
    with db.session() as session:
        outcome = store(session, items, sensor=sensor, now=now)
        changed = evaluate_batch(session, outcome, now)
        alerts = [alert_dict(a) for a in changed]
    if hub is not None:
        publish(hub, outcome, alerts)
    return outcome


def publish(hub: Hub, outcome: IngestOutcome, alerts: list[dict[str, Any]]) -> None:
    """The newest stored reading per quantity (enough to recolour the map), then alerts."""
    newest: dict[int, Any] = {}
    for r in outcome.stored:
        if r.quantity_id not in newest or r.t > newest[r.quantity_id].t:
            newest[r.quantity_id] = r
    if newest:
        hub.publish(
            "latest",
            [
                {
                    "sensor": outcome.quantities[q][0],
                    "quantity": outcome.quantities[q][1],
                    "unit": outcome.quantities[q][2],
                    "time": iso(r.t),
                    "value": r.value,
                }
                for q, r in newest.items()
            ],
        )
    for alert in alerts:
        hub.publish("alert", alert)
