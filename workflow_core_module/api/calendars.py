"""/api/v1/calendars: days on which schedules that use a calendar do not run."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response
from quart_schema import document_response, validate_querystring, validate_request

from ..scheduling.calendars import Calendar
from ..services.calendar_service import CalendarService
from .context import actor, runtime, scope
from .schemas import CalendarCreate, CalendarOut, CalendarPage, ErrorOut, PageQuery
from .serialize import page_json, ts

bp = Blueprint("calendars", __name__, url_prefix="/api/v1/calendars")


def _service() -> CalendarService:
    return runtime().calendars


def _body(data: CalendarCreate) -> dict[str, Any]:
    body: dict[str, Any] = data.model_dump(by_alias=True, exclude_unset=True)
    return body


def calendar_json(c: Calendar) -> dict[str, Any]:
    return {"calendar_id": c.calendar_id, **c.fields.as_dict(), "created_by": c.created_by,
            "created_at": ts(c.created_at), "updated_at": ts(c.updated_at)}


@bp.post("")
@validate_request(CalendarCreate)
@document_response(CalendarOut, 201)
@document_response(ErrorOut, 400)
async def create_calendar(data: CalendarCreate) -> tuple[dict[str, Any], int]:
    """Create a calendar (a community key: for its own community)."""
    return calendar_json(await _service().create(_body(data), actor=actor(), scope=scope())), 201


@bp.get("")
@validate_querystring(PageQuery)
@document_response(CalendarPage)
async def list_calendars(query_args: PageQuery) -> dict[str, Any]:
    """Calendars this key can see: its community's and the shared ones."""
    page = await _service().list(scope=scope(), limit=query_args.limit, offset=query_args.offset)
    return page_json(page, calendar_json)


@bp.get("/<calendar_id>")
@document_response(CalendarOut)
@document_response(ErrorOut, 404)
async def get_calendar(calendar_id: str) -> dict[str, Any]:
    return calendar_json(await _service().get(calendar_id, scope=scope()))


@bp.put("/<calendar_id>")
@validate_request(CalendarCreate)
@document_response(CalendarOut)
@document_response(ErrorOut, 400)
async def replace_calendar(calendar_id: str, data: CalendarCreate) -> dict[str, Any]:
    """Replace a calendar; the next occurrences of the schedules that use it are recomputed at once."""
    return calendar_json(await _service().replace(calendar_id, _body(data), actor=actor(), scope=scope()))


@bp.delete("/<calendar_id>")
@document_response(ErrorOut, 409)
async def delete_calendar(calendar_id: str) -> Response:
    """Remove a calendar; 409 (naming them) while schedules use it."""
    await _service().delete(calendar_id, actor=actor(), scope=scope())
    return Response(status=204)
