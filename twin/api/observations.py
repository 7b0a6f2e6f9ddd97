"""Observation ingest over HTTP: batches in object or compact form, idempotent."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from twin.api.deps import DatabaseDep, HubDep, WriterUser
from twin.errors import InputError
from twin.sensors.schemas import IngestResult
from twin.sensors.service import ingest

router = APIRouter(prefix="/observations", tags=["sensors"])
MAX_BATCH = 100_000


@router.post("", response_model=IngestResult)
def post_observations(
    db: DatabaseDep,
    hub: HubDep,
    user: WriterUser,
    items: list[Any] = Body(
        description='[{"sensor", "quantity", "time" (ISO 8601 with zone), "value"}, ...] '
        'or compact rows ["sensor", "quantity", "time", value]; an optional "unit" is checked',
    ),
) -> IngestResult:
    """Store a batch; the answer counts what was accepted, skipped as duplicate, or rejected
    (with the item's index and the reason). Valid items are stored even when others fail."""
    if len(items) > MAX_BATCH:
        raise InputError(f"{len(items)} observations in one batch; send at most {MAX_BATCH}")
    return IngestResult(**ingest(db, items, hub=hub).as_counts())
