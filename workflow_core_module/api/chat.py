"""POST /api/v1/execute: chat commands from the bot's router, in the router's own envelope.

Request: {"command": "!schedule", "args": "...", "user_id", "username", "entity_id",
"community_id", "session_id", "platform", "message", ...} (extra fields, such as `user_roles`,
are read when known and otherwise ignored). A command that is refused or wrong is still a 200
with `success: true` and a reply for the user; only the service key is answered with 401.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, jsonify, request
from quart_schema import hide

from ..chat.service import ChatContext
from .context import runtime

bp = Blueprint("chat", __name__, url_prefix="/api/v1")

COMMANDS = ("!schedule", "!sched")
_TEXT_FIELDS = ("args", "user_id", "username", "entity_id", "session_id", "platform", "message")


def _failure(status: int, code: str, message: str) -> Response:
    response = jsonify({"success": False, "error": {"code": code, "message": message}})
    response.status_code = status
    return response


def _reply(session_id: str, message: str) -> dict[str, Any]:
    return {"success": True, "data": {"session_id": session_id, "response_action": "chat",
                                      "response_data": {"message": message}}}


@bp.post("/execute")
@hide
async def execute() -> Any:
    rt = runtime()
    presented = request.headers.get("X-Service-Key") or request.headers.get("X-API-Key")
    principal = await rt.auth.principal(presented) if presented else None
    if principal is None:
        return _failure(401, "unauthorized", "missing or unknown service key (header X-Service-Key)")
    body = await request.get_json(silent=True)
    if not isinstance(body, dict):
        return _failure(400, "invalid_input", "expected the router's JSON envelope")
    fields = {name: body.get(name) for name in ("command", "community_id", *_TEXT_FIELDS)}
    wrong = [name for name, value in fields.items() if value is not None and not isinstance(value, (str, int))]
    if wrong or not fields["community_id"] or not fields["command"]:
        missing = wrong or [n for n in ("command", "community_id") if not fields[n]]
        return _failure(400, "invalid_input", f"bad or missing field(s): {', '.join(missing)}")
    community_id = str(fields["community_id"])
    if principal.community_id not in (None, community_id):
        return _failure(403, "forbidden", "this service key acts for another community")
    text = {name: str(fields[name] or "") for name in _TEXT_FIELDS}
    if str(fields["command"]).strip().lower() not in COMMANDS:
        return _reply(text["session_id"], "This module answers !schedule (or !sched). Try: !schedule help")
    roles = body.get("user_roles")
    context = ChatContext(
        community_id=community_id, user_id=text["user_id"], username=text["username"], entity_id=text["entity_id"],
        platform=text["platform"],
        roles=tuple(str(r) for r in roles) if isinstance(roles, list) else None,
    )
    return _reply(text["session_id"], await rt.chat.handle(text["args"], context))
