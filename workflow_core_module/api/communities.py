"""/api/v1/communities/{id}/managers: the chat users allowed to change a community's schedules."""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictStr
from quart import Blueprint
from quart_schema import document_response, validate_request

from ..db.audit import AuditEntry
from ..errors import ForbiddenException, InvalidInputException
from .context import actor, runtime, scope
from .schemas import Strict

bp = Blueprint("communities", __name__, url_prefix="/api/v1/communities")

MAX_MANAGERS = 500


class ManagersIn(Strict):
    managers: list[StrictStr] = Field(max_length=MAX_MANAGERS, description="chat user ids, as the router sends them")


class CommunityOut(Strict):
    community_id: str
    timezone: str
    managers: list[str]


def _own(community_id: str) -> None:
    if scope() not in (None, community_id):
        raise ForbiddenException("this key acts for another community")


@bp.get("/<community_id>/managers")
@document_response(CommunityOut)
async def get_managers(community_id: str) -> dict[str, Any]:
    """The community's managers and default time zone."""
    _own(community_id)
    community = await runtime().communities.get(community_id)
    return {"community_id": community_id, "timezone": community.timezone, "managers": list(community.managers)}


@bp.put("/<community_id>/managers")
@validate_request(ManagersIn)
@document_response(CommunityOut)
async def put_managers(community_id: str, data: ManagersIn) -> dict[str, Any]:
    """Replace the managers (a global key, or this community's key)."""
    _own(community_id)
    managers = list(dict.fromkeys(m.strip() for m in data.managers if m.strip()))
    if any(len(m) > 100 for m in managers):
        raise InvalidInputException({"managers": "each user id at most 100 characters"})
    community = await runtime().communities.update(
        community_id, AuditEntry(actor(), "community.managers", runtime().clock.now()), managers=managers)
    return {"community_id": community_id, "timezone": community.timezone, "managers": list(community.managers)}
