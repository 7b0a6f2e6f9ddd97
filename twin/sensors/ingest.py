"""Storing observations: validate a batch, insert it idempotently, keep rollups and the
latest-value cache up to date, all in the caller's transaction.

Duplicates (same sensor, quantity and time) are counted and skipped: the first value stays,
so a device re-sending a buffer after a connectivity loss never doubles a reading. Late data
is accepted as it is: rows are keyed by observation time, not arrival order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from twin.sensors.models import PERIODS, Quantity

FUTURE_TOLERANCE = timedelta(minutes=10)  # device clocks drift; beyond this a time is wrong
CHUNK = 3_000  # rows per INSERT (7 parameters a rollup row; SQLite allows 32,766)


@dataclass(frozen=True)
class Reading:
    """One validated observation, resolved to its quantity row."""

    quantity_id: int
    t: int  # ms since the epoch, UTC
    value: float


@dataclass
class IngestOutcome:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    stored: list[Reading] = field(default_factory=list)  # rows really inserted, for alerts
    # quantity id -> (sensor, quantity name, unit) of every valid item
    quantities: dict[int, tuple[str, str, str]] = field(default_factory=dict)

    def as_counts(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


def parse_time(value: Any, now: datetime) -> int:
    """ISO 8601 with a zone -> epoch milliseconds; raises ValueError with the reason."""
    if not isinstance(value, str):
        raise ValueError(f"time must be an ISO 8601 string with a zone, not {value!r}")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"time {value!r} is not ISO 8601") from None
    if when.tzinfo is None:
        raise ValueError(f"time {value!r} has no zone (add Z or +01:00)")
    if when > now + FUTURE_TOLERANCE:
        raise ValueError(f"time {value!r} is in the future (server time {now:%Y-%m-%dT%H:%M:%SZ})")
    return int(when.timestamp() * 1000)


def ms_to_datetime(t: int) -> datetime:
    return datetime.fromtimestamp(t / 1000, UTC)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"value must be a number, not {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"value {value!r} is not finite")
    return number


def _fields(item: Any, sensor: str | None) -> tuple[Any, Any, Any, Any, Any]:
    """(sensor, quantity, time, value, unit) of an object or a compact [s, q, t, v] row."""
    if isinstance(item, list | tuple):
        if len(item) != (3 if sensor else 4):
            raise ValueError(
                "a compact row is [sensor, quantity, time, value]"
                if not sensor
                else "a compact row is [quantity, time, value]"
            )
        row = [sensor, *item] if sensor else list(item)
        return row[0], row[1], row[2], row[3], None
    if not isinstance(item, dict):
        raise ValueError("each observation is an object or a compact array")
    if sensor is not None and item.get("sensor", sensor) != sensor:
        raise ValueError(f"sensor {item['sensor']!r} differs from the topic's {sensor!r}")
    return (
        item.get("sensor") if sensor is None else sensor,
        item.get("quantity"),
        item.get("time"),
        item.get("value"),
        item.get("unit"),
    )


def _quantity_index(
    session: Session, sensor_ids: set[str]
) -> dict[str, dict[str, tuple[int, str]]]:
    """{sensor: {quantity: (id, unit)}} for the sensors a batch names."""
    index: dict[str, dict[str, tuple[int, str]]] = {s: {} for s in sensor_ids}
    ids = list(sensor_ids)
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(Quantity.id, Quantity.sensor_id, Quantity.name, Quantity.unit).where(
                Quantity.sensor_id.in_(ids[start : start + 500])
            )
        )
        for qid, sid, name, unit in rows:
            index[sid][name] = (qid, unit)
    return index


def validate(
    session: Session, items: Sequence[Any], now: datetime, sensor: str | None = None
) -> tuple[list[Reading], IngestOutcome]:
    """Readings ready to insert, and an outcome holding the rejections (by index) so far."""
    outcome = IngestOutcome()
    parsed: list[tuple[int, Any, Any, Any, Any, Any]] = []
    for i, item in enumerate(items):
        try:
            parsed.append((i, *_fields(item, sensor)))
        except ValueError as exc:
            outcome.rejected.append({"index": i, "reason": str(exc)})
    index = _quantity_index(session, {p[1] for p in parsed if isinstance(p[1], str)})
    readings: list[Reading] = []
    seen: set[tuple[int, int]] = set()
    for i, sid, qname, when, value, unit in parsed:
        try:
            if not isinstance(sid, str) or sid not in index or not index[sid]:
                raise ValueError(f"unknown sensor {sid!r}")
            if qname not in index[sid]:
                known = ", ".join(sorted(index[sid]))
                raise ValueError(f"sensor {sid!r} has no quantity {qname!r} (it has: {known})")
            qid, qunit = index[sid][qname]
            if unit is not None and unit != qunit:
                raise ValueError(f"unit {unit!r} is wrong: {sid}/{qname} is in {qunit!r}")
            reading = Reading(qid, parse_time(when, now), _number(value))
        except ValueError as exc:
            outcome.rejected.append({"index": i, "reason": str(exc)})
            continue
        outcome.quantities[qid] = (sid, qname, qunit)
        if (qid, reading.t) in seen:
            outcome.duplicates += 1
            continue
        seen.add((qid, reading.t))
        readings.append(reading)
    outcome.rejected.sort(key=lambda r: r["index"])
    return readings, outcome


# The bulk statements below run once per batch with thousands of rows each, as plain SQL
# through the driver: building them with SQLAlchemy's insert().values(rows) spent 80% of the
# ingest time compiling (21,800 readings took 11 s). PostgreSQL gets one array per column and
# `unnest` (3 parameters whatever the row count; psycopg's per-placeholder parsing of a
# multi-row VALUES was 60% of the time there); SQLite gets a multi-row VALUES. Values are always
# bound parameters, never formatted into the SQL. bench/sensor_ingest.py measures the result.
PG_TYPES = {"i": "integer", "b": "bigint", "f": "double precision"}


def _bulk(
    session: Session, head: str, types: str, rows: list[tuple[Any, ...]], tail: str
) -> list[Any]:
    """Run `head <rows> tail` for `rows` (tuples typed by `types`, one letter per column)."""
    conn = session.connection()
    out: list[Any] = []
    if session.get_bind().dialect.name == "postgresql":
        columns = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in types]
        arrays = ", ".join(f"%s::{PG_TYPES[k]}[]" for k in types)
        result = conn.exec_driver_sql(f"{head} SELECT * FROM unnest({arrays}) {tail}",
                                      tuple(columns))  # fmt: skip
        return list(result) if result.returns_rows else out
    row = "(" + ",".join("?" * len(types)) + ")"
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        sql = f"{head} VALUES {','.join([row] * len(chunk))} {tail}"
        result = conn.exec_driver_sql(sql, tuple(x for r in chunk for x in r))
        if result.returns_rows:
            out.extend(result)
    return out


def _store_rows(session: Session, readings: list[Reading]) -> list[Reading]:
    """Insert, skipping rows already stored; returns the rows really inserted."""
    rows = _bulk(
        session,
        "INSERT INTO observations (quantity_id, t, value)",
        "ibf",
        [(r.quantity_id, r.t, r.value) for r in readings],
        "ON CONFLICT (quantity_id, t) DO NOTHING RETURNING quantity_id, t, value",
    )
    return [Reading(q, t, v) for q, t, v in rows]


def _rollup_rows(stored: list[Reading]) -> list[tuple[int, int, int, int, float, float, float]]:
    """(quantity, period s, bucket start, count, sum, min, max) of the new rows, vectorised."""
    q = np.fromiter((r.quantity_id for r in stored), np.int64, len(stored))
    t = np.fromiter((r.t for r in stored), np.int64, len(stored))
    v = np.fromiter((r.value for r in stored), np.float64, len(stored))
    rows: list[tuple[int, int, int, int, float, float, float]] = []
    for width in PERIODS.values():
        start = (t // width) * width
        keys = np.stack([q, start], axis=1)
        uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
        inverse = inverse.ravel()
        n = len(uniq)
        count = np.bincount(inverse, minlength=n)
        total = np.bincount(inverse, weights=v, minlength=n)
        low = np.full(n, np.inf)
        high = np.full(n, -np.inf)
        np.minimum.at(low, inverse, v)
        np.maximum.at(high, inverse, v)
        rows.extend(
            zip(
                uniq[:, 0].tolist(),
                [width // 1000] * n,
                uniq[:, 1].tolist(),
                count.tolist(),
                total.tolist(),
                low.tolist(),
                high.tolist(),
                strict=True,
            )
        )
    return rows


def _update_rollups(session: Session, stored: list[Reading]) -> None:
    """Add the new rows to their buckets; exact because only really-inserted rows are added."""
    postgres = session.get_bind().dialect.name == "postgresql"
    least, greatest = ("LEAST", "GREATEST") if postgres else ("MIN", "MAX")
    _bulk(
        session,
        "INSERT INTO observation_rollups (quantity_id, period, start, count, sum, min, max)",
        "iibifff",
        _rollup_rows(stored),
        "ON CONFLICT (quantity_id, period, start) DO UPDATE SET "
        "count = observation_rollups.count + excluded.count, "
        "sum = observation_rollups.sum + excluded.sum, "
        f"min = {least}(observation_rollups.min, excluded.min), "
        f"max = {greatest}(observation_rollups.max, excluded.max)",
    )


def _update_latest(session: Session, stored: list[Reading]) -> None:
    newest: dict[int, Reading] = {}
    for r in stored:
        if r.quantity_id not in newest or r.t > newest[r.quantity_id].t:
            newest[r.quantity_id] = r
    table = Quantity.__table__
    session.connection().execute(
        update(table)
        .where(table.c.id == bindparam("qid"))
        .where(table.c.last_t.is_(None) | (table.c.last_t < bindparam("t")))
        .values(last_t=bindparam("t"), last_value=bindparam("v")),
        [{"qid": r.quantity_id, "t": r.t, "v": r.value} for r in newest.values()],
    )


def store(
    session: Session,
    items: Sequence[Any],
    *,
    sensor: str | None = None,
    now: datetime | None = None,
) -> IngestOutcome:
    """Validate and store a batch in the session's transaction (the caller commits).

    `sensor` fills the sensor of every item (MQTT topics name it once per message).
    """
    readings, outcome = validate(session, items, now or datetime.now(UTC), sensor)
    if readings:
        outcome.stored = _store_rows(session, readings)
        outcome.accepted = len(outcome.stored)
        outcome.duplicates += len(readings) - outcome.accepted
        if outcome.stored:
            _update_rollups(session, outcome.stored)
            _update_latest(session, outcome.stored)
    return outcome
