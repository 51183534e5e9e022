"""Alerts: a schedule's alert deliveries, a test alert, and the newest alerts a caller may see."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import document_response, validate_querystring

from .context import runtime, scope
from .schemas import AlertPage, AlertQuery, AlertTestOut, ErrorOut

bp = Blueprint("alerts", __name__, url_prefix="/api/v1")


@bp.get("/schedules/<schedule_id>/alerts")
@validate_querystring(AlertQuery)
@document_response(AlertPage)
async def schedule_alerts(schedule_id: str, query_args: AlertQuery) -> dict[str, Any]:
    """The schedule's alert deliveries, newest first: event, channel, status, attempts, last error."""
    items = await runtime().alerts.of_schedule(schedule_id, scope=scope(), **query_args.model_dump())
    return {"items": items}


@bp.post("/schedules/<schedule_id>/alerts/test")
@document_response(AlertTestOut)
@document_response(ErrorOut, 409)
async def test_alerts(schedule_id: str) -> dict[str, Any]:
    """Send a test alert through every channel of the schedule (and ALERT_WEBHOOK_URL) now, once;
    answers what each channel gave. Recorded like any alert (event `test`)."""
    return {"channels": await runtime().alerts.test(schedule_id, scope=scope())}


@bp.get("/alerts")
@validate_querystring(AlertQuery)
@document_response(AlertPage)
async def recent_alerts(query_args: AlertQuery) -> dict[str, Any]:
    """The newest alert deliveries of the schedules the caller may see."""
    return {"items": await runtime().alerts.recent(scope=scope(), **query_args.model_dump())}
