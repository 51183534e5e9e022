"""POST /api/v1/execute: chat commands from the bot's router, in the router's own envelope.

WaddleBot's router sends exactly {"command": "!schedule", "args": "...", "user_id", "entity_id",
"community_id" (an integer), "session_id" ("sess_<hex>"), "message"} with the header
`X-Service-Key` (ROUTER_SERVICE_KEY here). Other routers may add `username`, `platform`,
`user_roles` or a `metadata` object (`user_roles`, `is_moderator`, `is_broadcaster`); they are
read when present. A command that is refused or wrong is still a 200 with `success: true` and a
reply for the user; only the key is answered with 401/403.

The router retries a timed-out command with the same payload: a command whose community,
session id and text were seen in the last 10 minutes is not applied again; the first reply is
answered again (per replica).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from quart import Blueprint, Response, jsonify, request
from quart_schema import document_request, document_response

from ..chat.service import ChatContext
from ..clock import Clock
from .auth import presented_key
from .context import runtime
from .schemas import RouterCommand, RouterFailure, RouterReply

bp = Blueprint("chat", __name__, url_prefix="/api/v1")

COMMANDS = ("!schedule", "!sched")
_TEXT_FIELDS = ("args", "user_id", "username", "entity_id", "session_id", "platform", "message")
MAX_FIELD_CHARS = 2000
REPLAY_SECONDS = 600.0
_REPLAY_ENTRIES = 10_000


def _failure(status: int, code: str, message: str) -> Response:
    response = jsonify({"success": False, "error": {"code": code, "message": message}})
    response.status_code = status
    return response


def _reply(session_id: str, message: str) -> dict[str, Any]:
    return {"success": True, "data": {"session_id": session_id, "response_action": "chat",
                                      "response_data": {"message": message}}}


def roles_of(body: dict[str, Any]) -> tuple[str, ...] | None:
    """Roles the router forwarded, from `user_roles` or `metadata`; None when it sent none (the
    community's managers list decides then)."""
    raw = body.get("metadata")
    metadata: dict[str, Any] = raw if isinstance(raw, dict) else {}
    found: list[str] = []
    for listed in (body.get("user_roles"), metadata.get("user_roles")):
        if isinstance(listed, list):
            found += [str(role)[:50] for role in listed[:50] if isinstance(role, (str, int))]
    if metadata.get("is_moderator") is True:
        found.append("moderator")
    if metadata.get("is_broadcaster") is True:
        found += ["broadcaster", "owner"]
    return tuple(dict.fromkeys(found)) or None


class Replays:
    """Replies to recent commands by (community, session, text), so a retried command is applied once.

    A command runs as a task of its own: when the router gives up on a slow answer and closes the
    connection, the request is cancelled but the command is not, and the retry gets its reply."""

    def __init__(self, clock: Clock, seconds: float = REPLAY_SECONDS) -> None:
        self.clock = clock
        self.seconds = seconds
        self._seen: OrderedDict[tuple[str, str, str], tuple[float, asyncio.Future[str]]] = OrderedDict()
        self._running: set[asyncio.Task[str]] = set()

    def claim(self, key: tuple[str, str, str]) -> tuple[asyncio.Future[str], bool]:
        """The future holding this command's reply, and whether the caller is the first to ask."""
        now = self.clock.now().timestamp()
        while self._seen and (len(self._seen) > _REPLAY_ENTRIES or next(iter(self._seen.values()))[0] < now):
            self._seen.popitem(last=False)
        known = self._seen.get(key)
        if known is not None:
            return known[1], False
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._seen[key] = (now + self.seconds, future)
        return future, True

    async def reply(self, key: tuple[str, str, str], command: Callable[[], Awaitable[str]]) -> str:
        """The reply to the command `key` names: run once, whoever asks again."""
        future, first = self.claim(key)
        if first:
            task = asyncio.ensure_future(command())
            self._running.add(task)
            task.add_done_callback(lambda done: self._settle(key, future, done))
        return await asyncio.shield(future)

    def _settle(self, key: tuple[str, str, str], future: asyncio.Future[str], done: asyncio.Task[str]) -> None:
        self._running.discard(done)
        if not done.cancelled() and done.exception() is None:
            future.set_result(done.result())
            return
        self._seen.pop(key, None)  # not applied: a retry may try again
        future.set_exception(done.exception() or asyncio.CancelledError())
        future.exception()  # retrieved: waiting retries see it, nothing is logged twice


@bp.post("/execute")
@document_request(RouterCommand)  # documentation only: the envelope is read below, extra fields and all
@document_response(RouterReply)
@document_response(RouterFailure, 400)
@document_response(RouterFailure, 401)
@document_response(RouterFailure, 403)
async def execute() -> Any:
    """A chat command (`!schedule ...`) from the bot's router, in its own envelope; answers the reply for chat."""
    rt = runtime()
    presented = presented_key(request.headers)
    principal = await rt.auth.principal_for(presented, "POST", "/api/v1/execute") if presented else None
    if principal is None:
        return _failure(401, "unauthorized", "missing or unknown service key (header X-Service-Key)")
    body = await request.get_json(silent=True)
    if not isinstance(body, dict):
        return _failure(400, "invalid_input", "expected the router's JSON envelope")
    fields = {name: body.get(name) for name in ("command", "community_id", *_TEXT_FIELDS)}
    wrong = [name for name, value in fields.items()
             if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))
                                       or len(str(value)) > MAX_FIELD_CHARS)]
    if wrong or fields["community_id"] in (None, "") or not fields["command"]:
        missing = wrong or [n for n in ("command", "community_id") if fields[n] in (None, "")]
        return _failure(400, "invalid_input", f"bad or missing field(s): {', '.join(missing)}")
    community_id = str(fields["community_id"]).strip()
    if principal.community_id not in (None, community_id):
        return _failure(403, "forbidden", "this service key acts for another community")
    text = {name: str(fields[name] if fields[name] is not None else "").strip() for name in _TEXT_FIELDS}
    if str(fields["command"]).strip().lower() not in COMMANDS:
        return _reply(text["session_id"], "This module answers !schedule (or !sched). Try: !schedule help")
    context = ChatContext(community_id=community_id, user_id=text["user_id"], username=text["username"],
                          entity_id=text["entity_id"], platform=text["platform"], roles=roles_of(body))
    if not text["session_id"]:
        return _reply("", await rt.chat.handle(text["args"], context))
    key = (community_id, text["session_id"], text["message"] or text["args"])
    reply = await rt.chat_replays.reply(key, lambda: rt.chat.handle(text["args"], context))
    return _reply(text["session_id"], reply)
