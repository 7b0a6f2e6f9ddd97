"""Saved simulation results: one row per run, its files in the tile store (`sims/<id>/`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from twin.models import Base, UTCDateTime, utcnow

#: A result's life follows its job's; only "succeeded" results have files to show.
SIM_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
SIM_ACTIVE = ("queued", "running")


class SimResult(Base):
    """A scenario a planner ran: what was asked (`params`), what came out (`summary`, the
    `result.json` of its folder), on which terrain layer and by whom."""

    __tablename__ = "sim_results"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: uuid.uuid4().hex)
    kind: Mapped[str] = mapped_column(String(32), default="flood")
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), index=True, default="queued")
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    folder: Mapped[str] = mapped_column(String(200))
    layer_id: Mapped[int | None] = mapped_column(
        ForeignKey("layers.id", ondelete="SET NULL"), nullable=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
