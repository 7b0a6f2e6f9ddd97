"""Simulation results attached to a variant bring their figures with them.

A flood result named by its id (`ref`) gets its indicators from what the simulation saved, so a
variant's "flooded area" is the simulation's, never a number typed in by hand.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from twin.errors import InputError
from twin.projects.content import VariantContent
from twin.sim.models import SimResult

FLOOD_FIGURES = ("flooded_area_m2", "max_depth_m", "buildings_flooded")


def attach_results(session: Session, content: VariantContent) -> VariantContent:
    for i, result in enumerate(content.results):
        if result.kind != "flood" or not result.ref:
            continue
        saved = session.get(SimResult, result.ref)
        if saved is None or saved.status != "succeeded" or not saved.summary:
            raise InputError(
                f"content.results[{i}]: flood result {result.ref!r} not found or not finished"
            )
        figures = {k: saved.summary[k] for k in FLOOD_FIGURES if k in saved.summary}
        result.indicators = {**result.indicators, **figures}
        result.name = result.name or saved.name
    return content
