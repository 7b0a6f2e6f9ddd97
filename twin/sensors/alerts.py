"""Alert rules and alerts: raised from each stored batch (thresholds, rates), from a periodic
check (silent sensors), and closed when readings come back to normal or by staff.

One alert per (rule, sensor, quantity) is active (open or acknowledged) at a time, so a sensor
stuck above a threshold raises one alert, not one per reading.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from twin.errors import Conflict, InputError, NotFound
from twin.sensors.ingest import IngestOutcome, Reading, ms_to_datetime
from twin.sensors.models import Alert, AlertRule, Observation, Sensor
from twin.sensors.query import iso
from twin.sensors.schemas import SENSOR_TYPES, AlertRuleIn

ACTIVE = ("open", "acknowledged")


# --- rules -------------------------------------------------------------------------------


def add_rule(session: Session, spec: AlertRuleIn) -> AlertRule:
    if spec.kind in ("above", "below", "rate") and (spec.threshold is None or not spec.quantity):
        raise InputError(f"a {spec.kind!r} rule needs a quantity and a threshold")
    if spec.kind == "silent" and spec.minutes is None:
        raise InputError("a 'silent' rule needs minutes (how long without data)")
    if spec.kind == "rate" and spec.threshold is not None and spec.threshold <= 0:
        raise InputError("a 'rate' threshold is a positive change per minute")
    if spec.sensor_id is None and spec.sensor_type is None:
        raise InputError("a rule names a sensor_id or a sensor_type")
    if spec.sensor_id is not None and session.get(Sensor, spec.sensor_id) is None:
        raise InputError(f"unknown sensor {spec.sensor_id!r}")
    if spec.sensor_type is not None and spec.sensor_type not in SENSOR_TYPES:
        raise InputError(f"unknown sensor type {spec.sensor_type!r}")
    rule = AlertRule(**spec.model_dump())
    session.add(rule)
    session.flush()
    return rule


def list_rules(session: Session) -> list[AlertRule]:
    return list(session.scalars(select(AlertRule).order_by(AlertRule.id)))


def delete_rule(session: Session, rule_id: int) -> None:
    rule = session.get(AlertRule, rule_id)
    if rule is None:
        raise NotFound(f"no alert rule {rule_id}")
    session.delete(rule)


def _applies(rule: AlertRule, sensor_id: str, sensor_type: str, quantity: str | None) -> bool:
    if rule.sensor_id is not None and rule.sensor_id != sensor_id:
        return False
    if rule.sensor_id is None and rule.sensor_type not in (None, sensor_type):
        return False
    return rule.quantity is None or quantity is None or rule.quantity == quantity


# --- alerts ------------------------------------------------------------------------------


def _iso(when: datetime | None) -> str | None:
    """The API's one time format: UTC, milliseconds, a Z."""
    if when is None:
        return None
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alert_dict(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "rule_id": alert.rule_id,
        "sensor_id": alert.sensor_id,
        "quantity": alert.quantity,
        "kind": alert.kind,
        "status": alert.status,
        "message": alert.message,
        "value": alert.value,
        "observed_at": _iso(alert.observed_at),
        "opened_at": _iso(alert.opened_at),
        "acknowledged_at": _iso(alert.acknowledged_at),
        "acknowledged_by": alert.acknowledged_by,
        "closed_at": _iso(alert.closed_at),
    }


def _active(session: Session, rule_ids: list[int]) -> dict[tuple[int, str, str | None], Alert]:
    if not rule_ids:
        return {}
    rows = session.scalars(
        select(Alert).where(Alert.status.in_(ACTIVE), Alert.rule_id.in_(rule_ids))
    )
    return {(a.rule_id or 0, a.sensor_id, a.quantity): a for a in rows}


def _describe(rule: AlertRule, sid: str, qname: str, unit: str, r: Reading, extra: str) -> str:
    label = rule.name or f"{rule.kind} rule {rule.id}"
    return f"{sid} {qname} = {r.value:g} {unit} at {iso(r.t)}: {extra} ({label})"


def _previous(session: Session, quantity_id: int, before: int) -> Reading | None:
    row = session.execute(
        select(Observation.t, Observation.value)
        .where(Observation.quantity_id == quantity_id, Observation.t < before)
        .order_by(Observation.t.desc())
        .limit(1)
    ).first()
    return Reading(quantity_id, row[0], row[1]) if row else None


def _breach(
    session: Session, rule: AlertRule, readings: list[Reading]
) -> tuple[Reading | None, str, bool]:
    """(first reading breaking the rule, why, whether the newest reading is back to normal)."""
    thr = float(rule.threshold or 0.0)
    if rule.kind in ("above", "below"):
        bad = [r for r in readings if (r.value > thr if rule.kind == "above" else r.value < thr)]
        normal = readings[-1] not in bad
        why = f"{rule.kind} the threshold {thr:g}"
        return (bad[0] if bad else None), why, normal
    previous = _previous(session, readings[0].quantity_id, readings[0].t)
    pairs = list(zip([previous, *readings[:-1]], readings, strict=True))
    rates = [
        (abs(b.value - a.value) / max((b.t - a.t) / 60_000, 1e-9), b)
        for a, b in pairs
        if a is not None
    ]
    fast = [(rate, r) for rate, r in rates if rate > thr]
    normal = not rates or rates[-1][0] <= thr
    if not fast:
        return None, "", normal
    rate, first = fast[0]
    return first, f"changed at {rate:.3g} per minute, faster than {thr:g}", normal


def evaluate_batch(session: Session, outcome: IngestOutcome, now: datetime) -> list[Alert]:
    """Open and close alerts for the readings a batch stored; returns the alerts changed."""
    if not outcome.stored:
        return []
    rules = [r for r in list_rules(session) if r.enabled]
    if not rules:
        return []
    by_quantity: dict[int, list[Reading]] = defaultdict(list)
    for r in outcome.stored:
        by_quantity[r.quantity_id].append(r)
    sensor_ids = {outcome.quantities[q][0] for q in by_quantity}
    rows = session.execute(select(Sensor.id, Sensor.type).where(Sensor.id.in_(sensor_ids)))
    types: dict[str, str] = {sid: kind for sid, kind in rows}
    active = _active(session, [r.id for r in rules])
    changed: list[Alert] = []
    for qid, readings in by_quantity.items():
        readings.sort(key=lambda r: r.t)
        sid, qname, unit = outcome.quantities[qid]
        for rule in rules:
            if not _applies(rule, sid, types.get(sid, ""), qname):
                continue
            if rule.kind == "silent":
                key = (rule.id, sid, rule.quantity)
                if key in active:
                    changed.append(_close(active.pop(key), now, "data received again"))
                continue
            key = (rule.id, sid, qname)
            first, why, normal = _breach(session, rule, readings)
            if key not in active and first is not None and not normal:
                alert = Alert(
                    rule_id=rule.id,
                    sensor_id=sid,
                    quantity=qname,
                    kind=rule.kind,
                    status="open",
                    message=_describe(rule, sid, qname, unit, first, why),
                    value=first.value,
                    observed_at=ms_to_datetime(first.t),
                    opened_at=now,
                )
                session.add(alert)
                active[key] = alert
                changed.append(alert)
            elif key in active and normal:
                changed.append(_close(active.pop(key), now, "back to normal"))
    session.flush()
    return changed


def check_silence(session: Session, now: datetime | None = None) -> list[Alert]:
    """Open an alert for every active sensor silent longer than a `silent` rule allows."""
    now = now or datetime.now(UTC)
    rules = [r for r in list_rules(session) if r.enabled and r.kind == "silent"]
    if not rules:
        return []
    active = _active(session, [r.id for r in rules])
    sensors = list(session.scalars(select(Sensor).where(Sensor.status == "active")))
    opened: list[Alert] = []
    for rule in rules:
        limit = int(now.timestamp() * 1000) - int(rule.minutes or 0) * 60_000
        for sensor in sensors:
            if not _applies(rule, sensor.id, sensor.type, None):
                continue
            times = [
                q.last_t
                for q in sensor.quantities
                if q.last_t is not None and rule.quantity in (None, q.name)
            ]
            last = max(times) if times else int(sensor.created_at.timestamp() * 1000)
            key = (rule.id, sensor.id, rule.quantity)
            if last >= limit or key in active:
                continue
            since = f"since {iso(last)}" if times else "since it was registered"
            alert = Alert(
                rule_id=rule.id,
                sensor_id=sensor.id,
                quantity=rule.quantity,
                kind="silent",
                status="open",
                message=f"{sensor.id} ({sensor.name}) silent {since}, more than {rule.minutes} min",
                opened_at=now,
            )
            session.add(alert)
            active[key] = alert
            opened.append(alert)
    session.flush()
    return opened


def _close(alert: Alert, now: datetime, why: str) -> Alert:
    alert.status = "closed"
    alert.closed_at = now
    alert.message = f"{alert.message}; closed: {why}"
    return alert


def get_alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert


def acknowledge(session: Session, alert_id: int, username: str) -> Alert:
    alert = get_alert(session, alert_id)
    if alert.status != "open":
        raise Conflict(f"alert {alert_id} is {alert.status}; only an open alert is acknowledged")
    alert.status = "acknowledged"
    alert.acknowledged_at = datetime.now(UTC)
    alert.acknowledged_by = username
    session.flush()
    return alert


def close(session: Session, alert_id: int, username: str) -> Alert:
    alert = get_alert(session, alert_id)
    if alert.status == "closed":
        raise Conflict(f"alert {alert_id} is already closed")
    _close(alert, datetime.now(UTC), f"by {username}")
    session.flush()
    return alert


def list_alerts(
    session: Session,
    status: str | None = None,
    sensor_id: str | None = None,
    limit: int = 1000,
) -> list[Alert]:
    query = select(Alert).order_by(Alert.opened_at.desc(), Alert.id.desc()).limit(limit)
    if status:
        query = query.where(Alert.status == status)
    if sensor_id:
        query = query.where(Alert.sensor_id == sensor_id)
    return list(session.scalars(query))
