"""/api/v1/scheduler: maintenance mode for every replica (global keys only)."""

from __future__ import annotations

from typing import Any

from quart import Blueprint
from quart_schema import document_request, document_response

from ..scheduling.records import Maintenance
from .context import actor, optional_body, runtime, scope
from .schemas import ErrorOut, MaintenanceOut, MaintenanceRequest
from .serialize import ts

bp = Blueprint("maintenance", __name__, url_prefix="/api/v1/scheduler")


def _json(m: Maintenance) -> dict[str, Any]:
    return {"paused": m.paused, "reason": m.reason, "since": ts(m.since), "by": m.by}


@bp.post("/pause")
@document_request(MaintenanceRequest)
@document_response(MaintenanceOut)
@document_response(ErrorOut, 403)
async def pause_scheduler() -> dict[str, Any]:
    """Maintenance mode: no replica claims anything until resumed (runs already going finish).
    Kept in the database, so it survives restarts. Global keys only."""
    data = await optional_body(MaintenanceRequest)
    return _json(await runtime().scheduler.pause_all(reason=data.reason, actor=actor(), scope=scope()))


@bp.post("/resume")
@document_response(MaintenanceOut)
@document_response(ErrorOut, 403)
async def resume_scheduler() -> dict[str, Any]:
    """End maintenance mode; each schedule's grace period and catch-up policy decide what runs for
    the time it missed. Global keys only."""
    return _json(await runtime().scheduler.resume_all(actor=actor(), scope=scope()))
