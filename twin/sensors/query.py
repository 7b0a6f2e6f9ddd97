"""Reading observations back: time series (raw or from rollups), latest values, indicators."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from twin.errors import InputError
from twin.sensors.models import PERIODS, Observation, Quantity, Rollup

LOCAL_ZONE = ZoneInfo("Europe/Paris")  # the metropolis's clock, for days and spreadsheet dates
MAX_RAW_POINTS = 200_000  # one JSON answer; exports stream any size
MEAN_DIGITS = 6  # a mean is a sum divided: no reading is more precise than this


def parse_instant(value: str | None, name: str) -> int | None:
    """A query bound (ISO 8601; a date alone means midnight UTC) -> epoch ms."""
    if value is None or value == "":
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"{name}={value!r} is not an ISO 8601 date or time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def iso(t: int) -> str:
    """Epoch ms -> ISO 8601 UTC with a Z, the one time format we emit."""
    return (
        datetime.fromtimestamp(t / 1000, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _range(query: Any, column: Any, start: int | None, end: int | None) -> Any:
    if start is not None:
        query = query.where(column >= start)
    if end is not None:
        query = query.where(column < end)
    return query


def raw_rows(
    conn: Session | Connection, quantity_id: int, start: int | None, end: int | None
) -> Any:
    """(t, value) rows in time order."""
    query = select(Observation.t, Observation.value).where(Observation.quantity_id == quantity_id)
    return conn.execute(_range(query, Observation.t, start, end).order_by(Observation.t))


def rollup_rows(
    conn: Session | Connection,
    quantity_id: int,
    aggregate: str,
    start: int | None,
    end: int | None,
) -> Any:
    """(start, count, sum, min, max) rows of one period, in time order."""
    width = PERIODS[aggregate]
    query = select(Rollup.start, Rollup.count, Rollup.sum, Rollup.min, Rollup.max).where(
        Rollup.quantity_id == quantity_id, Rollup.period == width // 1000
    )
    if start is not None:  # buckets overlapping [start, end)
        start = (start // width) * width
    return conn.execute(_range(query, Rollup.start, start, end).order_by(Rollup.start))


def series(
    session: Session, quantity: Quantity, aggregate: str, start: int | None, end: int | None
) -> list[dict[str, Any]]:
    """Points of a time series: raw readings, or mean/min/max/count per bucket."""
    if start is not None and end is not None and end <= start:
        raise InputError("end must be after start")
    if aggregate == "raw":
        rows = raw_rows(session, quantity.id, start, end).fetchmany(MAX_RAW_POINTS + 1)
        if len(rows) > MAX_RAW_POINTS:
            raise InputError(
                f"more than {MAX_RAW_POINTS} raw points: narrow the time range, use an "
                "aggregate (15min, hour, day) or the export route"
            )
        return [{"time": iso(t), "value": v} for t, v in rows]
    return [
        {"time": iso(s), "mean": round(total / n, MEAN_DIGITS), "min": lo, "max": hi, "count": n}
        for s, n, total, lo, hi in rollup_rows(session, quantity.id, aggregate, start, end)
    ]


def heat_indicators(
    session: Session, quantity: Quantity, start: int | None, end: int | None
) -> dict[str, Any]:
    """Days over 30 °C and tropical nights, per local (Europe/Paris) day, from hourly rollups.

    A hot day: the day's maximum exceeds 30 °C. A tropical night (Météo-France's usage): the
    minimum from 18:00 that day to 06:00 the next morning, local time, stays at or above 20 °C.
    Days with no data are not counted either way.
    """
    day_max: dict[str, float] = {}
    night_min: dict[str, float] = {}
    for s, _n, _total, lo, hi in rollup_rows(session, quantity.id, "hour", start, end):
        local = datetime.fromtimestamp(s / 1000, UTC).astimezone(LOCAL_ZONE)
        day = local.date().isoformat()
        day_max[day] = max(day_max.get(day, hi), hi)
        if local.hour >= 18 or local.hour < 6:  # the night that began at 18:00 that evening
            night = (local.date() - timedelta(days=1 if local.hour < 6 else 0)).isoformat()
            night_min[night] = min(night_min.get(night, lo), lo)
    hot = sorted(d for d, v in day_max.items() if v > 30.0)
    tropical = sorted(d for d, v in night_min.items() if v >= 20.0)
    return {
        "unit": quantity.unit,
        "days_with_data": len(day_max),
        "days_over_30": len(hot),
        "tropical_nights": len(tropical),
        "hot_days": hot,
        "tropical_night_dates": tropical,
    }


def iter_chunks(rows: Any, size: int = 5_000) -> Iterator[list[Any]]:
    while batch := rows.fetchmany(size):
        yield batch
