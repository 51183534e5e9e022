"""/api/v1/communities/{id}/...: a community's chat settings.

``/managers``: the chat users allowed to change the community's schedules (when the router sends
no roles). ``/chat``: its chat platform, read together with its zone and managers. ``/date-order``:
how a date like 01/02 is read (chat's ``!schedule dateorder``, and ``"when"`` in the schedules API).
A global key may use any community; a community's key only its own.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictStr
from quart import Blueprint
from quart_schema import document_response, validate_request

from ..errors import Forbidden
from ..services.community_service import DATE_ORDERS, MAX_MANAGERS, PLATFORMS, Community
from .context import actor, runtime, scope
from .schemas import Strict

bp = Blueprint("communities", __name__, url_prefix="/api/v1/communities")


class ManagersIn(Strict):
    managers: list[StrictStr] = Field(max_length=MAX_MANAGERS, description="chat user ids, as the router sends them")


class ChatIn(Strict):
    platform: StrictStr = Field(description=f"the chat platform: one of {', '.join(PLATFORMS)}",
                                examples=["twitch"])


class DateOrderIn(Strict):
    date_order: StrictStr | None = Field(description=f"one of {', '.join(DATE_ORDERS)} (01/02 is 1 Feb, or Jan 2); "
                                                     "null: the usual order of the community's time zone",
                                         examples=["dmy"])


class DateOrderOut(Strict):
    community_id: str
    timezone: str
    date_order: str | None = Field(description="the order set for the community, or null when none is")
    reads_dates: str | None = Field(description="the order 01/02 is read in: the one set, else the zone's usual "
                                                "one; null when neither (chat and the API then ask back)")


class CommunityOut(Strict):
    community_id: str
    timezone: str
    platform: str | None = Field(description=f"one of {', '.join(PLATFORMS)}, or null when not set")
    managers: list[str]


def _own(community_id: str) -> None:
    if scope() not in (None, community_id):
        raise Forbidden("this key acts for another community")


def _out(community: Community) -> dict[str, Any]:
    return {"community_id": community.community_id, "timezone": community.timezone, "platform": community.platform,
            "managers": list(community.managers)}


@bp.get("/<community_id>/managers")
@bp.get("/<community_id>/chat")
@document_response(CommunityOut)
async def get_community(community_id: str) -> dict[str, Any]:
    """The community's chat settings: managers, default time zone and platform."""
    _own(community_id)
    return _out(await runtime().communities.get(community_id))


@bp.put("/<community_id>/managers")
@validate_request(ManagersIn)
@document_response(CommunityOut)
async def put_managers(community_id: str, data: ManagersIn) -> dict[str, Any]:
    """Replace the managers (a global key, or this community's key)."""
    _own(community_id)
    managers = list(dict.fromkeys(m.strip() for m in data.managers if m.strip()))
    community = await runtime().communities.set_managers(community_id, managers, actor=actor())
    return _out(community)


@bp.put("/<community_id>/chat")
@validate_request(ChatIn)
@document_response(CommunityOut)
async def put_chat(community_id: str, data: ChatIn) -> dict[str, Any]:
    """Set the community's chat platform (a global key, or this community's key)."""
    _own(community_id)
    community = await runtime().communities.set_platform(community_id, data.platform, actor=actor())
    return _out(community)


def _order_out(community: Community) -> dict[str, Any]:
    return {"community_id": community.community_id, "timezone": community.timezone,
            "date_order": community.date_order, "reads_dates": community.reads_dates}


@bp.get("/<community_id>/date-order")
@document_response(DateOrderOut)
async def get_date_order(community_id: str) -> dict[str, Any]:
    """How the community reads a date like 01/02: in chat, and in `when` of the schedules API."""
    _own(community_id)
    return _order_out(await runtime().communities.get(community_id))


@bp.put("/<community_id>/date-order")
@validate_request(DateOrderIn)
@document_response(DateOrderOut)
async def put_date_order(community_id: str, data: DateOrderIn) -> dict[str, Any]:
    """Set the date order (a global key, or this community's key); null goes back to the zone's usual
    order. Chat's `!schedule dateorder dmy|mdy|auto` does the same."""
    _own(community_id)
    community = await runtime().communities.set_date_order(community_id, data.date_order, actor=actor())
    return _order_out(community)
