"""Alerts and their rules. The alert list is public (the dashboard shows it); handling alerts
and editing rules need a staff role."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from twin.api.deps import HubDep, SessionDep, StaffUser
from twin.sensors.alerts import (
    acknowledge,
    add_rule,
    alert_dict,
    close,
    delete_rule,
    list_alerts,
    list_rules,
)
from twin.sensors.export import FORMATS, export_alerts
from twin.sensors.models import ALERT_STATES
from twin.sensors.schemas import AlertOut, AlertRuleIn, AlertRuleOut

router = APIRouter(tags=["alerts"])
Status = Query(None, pattern="^(" + "|".join(ALERT_STATES) + ")$")


@router.get("/alerts", response_model=list[AlertOut])
def read_alerts(
    session: SessionDep,
    status: str | None = Status,
    sensor: str | None = None,
    limit: int = Query(1000, ge=1, le=100_000),
) -> list[AlertOut]:
    return [AlertOut.model_validate(a) for a in list_alerts(session, status, sensor, limit)]


@router.get("/alerts/export", summary="The alert archive as one CSV or JSON file")
def export(
    session: SessionDep,
    format: str = Query("csv", pattern="^(csv|json)$"),
    status: str | None = Status,
    sensor: str | None = None,
    sep: str = Query(",", pattern="^[,;]$"),
) -> StreamingResponse:
    alerts = [alert_dict(a) for a in list_alerts(session, status, sensor, limit=1_000_000)]
    return StreamingResponse(
        export_alerts(alerts, format, sep),
        media_type=FORMATS[format],
        headers={"Content-Disposition": f'attachment; filename="alerts.{format}"'},
    )


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut)
def ack_alert(alert_id: int, session: SessionDep, hub: HubDep, user: StaffUser) -> AlertOut:
    alert = acknowledge(session, alert_id, user.username)
    hub.publish("alert", alert_dict(alert))
    return AlertOut.model_validate(alert)


@router.post("/alerts/{alert_id}/close", response_model=AlertOut)
def close_alert(alert_id: int, session: SessionDep, hub: HubDep, user: StaffUser) -> AlertOut:
    alert = close(session, alert_id, user.username)
    hub.publish("alert", alert_dict(alert))
    return AlertOut.model_validate(alert)


@router.get("/alert-rules", response_model=list[AlertRuleOut])
def read_rules(session: SessionDep, user: StaffUser) -> list[AlertRuleOut]:
    return [AlertRuleOut.model_validate(r) for r in list_rules(session)]


@router.post("/alert-rules", response_model=AlertRuleOut, status_code=201)
def create_rule(spec: AlertRuleIn, session: SessionDep, user: StaffUser) -> AlertRuleOut:
    return AlertRuleOut.model_validate(add_rule(session, spec))


@router.delete("/alert-rules/{rule_id}", status_code=204)
def remove_rule(rule_id: int, session: SessionDep, user: StaffUser) -> Response:
    delete_rule(session, rule_id)
    return Response(status_code=204)
