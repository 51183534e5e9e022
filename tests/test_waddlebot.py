"""WaddleBot's router, replayed exactly against a real `serve` (docs/waddlebot.md).

The router (penguintechinc/waddlebot v1.2.0, router_module/services/command_processor.py) sends
{"command", "args", "user_id", "entity_id", "community_id" (an integer), "session_id"
("sess_<32 hex>"), "message"} with X-Service-Key, and no username, platform or roles. Its response
endpoint, POST /api/v1/router/responses, takes exactly {"event_id", "response", "platform",
"channel_id"} and refuses anything else; the stand-in below does the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .processes import ROOT, ServeProcess, http_json
from .sink import HttpSink, Received

ADMIN = "admin-key"
ROUTER_KEY = "waddlebot-service-key"
COMMUNITY = 42
MANAGER = "12345"
CHANNEL = "987654321"
RESPONSE_FIELDS = {"event_id", "response", "platform", "channel_id"}


def router_responses(received: Received) -> tuple[int, Any] | None:
    """WaddleBot's POST /api/v1/router/responses: exactly four fields, a known platform."""
    try:
        body = received.json()
    except ValueError:
        return 400, {"detail": "not JSON"}
    if received.path != "/api/v1/router/responses" or not isinstance(body, dict) or set(body) != RESPONSE_FIELDS:
        return 422, {"detail": f"expected exactly {sorted(RESPONSE_FIELDS)}"}
    if body["platform"] not in ("twitch", "discord", "slack", "kick") or not all(
            isinstance(body[k], str) and body[k] for k in RESPONSE_FIELDS):
        return 422, {"detail": "bad platform or empty field"}
    return None


def cli(db_url: str, cwd: Path, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    done = subprocess.run([sys.executable, "-m", "workflow_core_module", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class Router:
    """Sends commands the way WaddleBot's router does."""

    url: str

    def command(self, args: str, *, user_id: str = MANAGER, session_id: str | None = None,
                key: str = ROUTER_KEY, extra: dict[str, Any] | None = None) -> tuple[int, Any]:
        body = {"command": "!schedule", "args": args, "user_id": user_id, "entity_id": CHANNEL,
                "community_id": COMMUNITY, "session_id": session_id or f"sess_{uuid.uuid4().hex}",
                "message": f"!schedule {args}", **(extra or {})}
        request = urllib.request.Request(self.url + "/api/v1/execute", data=json.dumps(body).encode(),
                                         method="POST",
                                         headers={"Content-Type": "application/json", "X-Service-Key": key})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def reply(self, args: str, **kw: Any) -> str:
        status, data = self.command(args, **kw)
        assert status == 200 and data["success"] is True, data
        return str(data["data"]["response_data"]["message"])


@dataclass
class Setup:
    server: ServeProcess
    stand_in: HttpSink
    router: Router


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("waddlebot")
    db_url = f"sqlite://{tmp}/waddlebot.sqlite"
    # What a WaddleBot operator runs first: who may change schedules, and the community's platform.
    assert MANAGER in cli(db_url, tmp, "communities", "managers", str(COMMUNITY), "--add", MANAGER)
    cli(db_url, tmp, "communities", "platform", str(COMMUNITY), "discord")
    with HttpSink(check=router_responses) as stand_in:
        env = {"DATABASE_URL": db_url, "ADMIN_API_KEY": ADMIN, "ROUTER_SERVICE_KEY": ROUTER_KEY,
               "CHAT_MESSAGE_FORMAT": "waddlebot", "CHAT_MESSAGE_URL": stand_in.url + "/api/v1/router/responses",
               "LOG_LEVEL": "WARNING"}
        with ServeProcess(env, cwd=tmp) as server:
            yield Setup(server, stand_in, Router(server.url))


def _schedules(setup: Setup) -> list[dict[str, Any]]:
    status, page = http_json("GET", f"{setup.server.url}/api/v1/schedules?community_id={COMMUNITY}", ADMIN)
    assert status == 200, page
    return list(page["items"])


def test_the_routers_exact_request_help_add_list_and_a_retry(setup: Setup) -> None:
    assert "!schedule add" in setup.router.reply("help")

    session = f"sess_{uuid.uuid4().hex}"
    first = setup.router.reply("add every day at 09:00 as reminder say Stream starts soon", session_id=session)
    assert first.startswith('Scheduled "reminder"'), first
    again = setup.router.reply("add every day at 09:00 as reminder say Stream starts soon", session_id=session)
    assert again == first  # the router's retry: answered again, applied once
    [schedule] = [s for s in _schedules(setup) if s["name"] == "reminder"]
    assert schedule["created_by"] == f"user:{MANAGER}"
    assert schedule["community_id"] == str(COMMUNITY)

    listing = setup.router.reply("list")
    assert "reminder" in listing, listing

    # a new session with the same words is a new command: the name is taken now
    taken = setup.router.reply("add every day at 09:00 as reminder say Stream starts soon")
    assert "already" in taken, taken


def test_a_user_who_is_not_a_manager_is_refused_without_a_name(setup: Setup) -> None:
    refusal = setup.router.reply("add every day at 10:00 say hi", user_id="555")
    assert refusal.startswith("Sorry") and "there" not in refusal, refusal
    assert not [s for s in _schedules(setup) if s["created_by"] == "user:555"]
    # roles forwarded in the router's metadata count
    allowed = setup.router.reply("add every day at 10:00 as mod-made say hi", user_id="556",
                                 extra={"metadata": {"is_moderator": True}})
    assert allowed.startswith('Scheduled "mod-made"'), allowed


def test_the_router_key_is_good_for_the_routers_endpoints_only(setup: Setup) -> None:
    for method, path in (("GET", "/api/v1/schedules"), ("GET", "/api/v1/workflows"),
                         ("POST", "/api/v1/schedules/preview"), ("GET", "/api/v1/schedules/status")):
        status, data = http_json(method, setup.server.url + path, ROUTER_KEY, {} if method == "POST" else None)
        assert status == 403 and "router" in data["error"]["message"], (path, data)
    status, _ = setup.router.command("help", key="not-the-key")
    assert status == 401


def test_a_scheduled_message_reaches_the_router_in_its_format(setup: Setup) -> None:
    name = "standup"
    assert setup.router.reply(f"add every day at 08:00 as {name} say Standup in 5 minutes").startswith("Scheduled")
    before = len(setup.stand_in.received)
    assert setup.router.reply(f"run {name}") == f'Running "{name}" now.'
    [post] = setup.stand_in.wait_for(before + 1)[before:]
    assert setup.stand_in.refused == []
    body = post.json()
    assert set(body) == RESPONSE_FIELDS
    assert body["response"] == "Standup in 5 minutes"
    assert body["platform"] == "discord" and body["channel_id"] == CHANNEL
    assert post.headers["X-Service-Key"] == ROUTER_KEY
    [schedule] = [s for s in _schedules(setup) if s["name"] == name]
    status, history = http_json("GET", f"{setup.server.url}/api/v1/schedules/{schedule['schedule_id']}/history",
                                ADMIN)
    assert body["event_id"] in {r["run_id"] for r in history["items"]}


def test_the_routers_workflow_trigger_starts_a_run_whose_steps_see_its_data(setup: Setup) -> None:
    status, wf = http_json("POST", setup.server.url + "/api/v1/workflows", ADMIN, {
        "name": "greet", "steps": [{"action": "log", "message":
                                    "{{ trigger.context_data.greeting }} from {{ trigger.user_id }} in "
                                    "{{ trigger.entity_id }} on {{ trigger.platform }} ({{ trigger.trigger_source }})"}]})
    assert status == 201, wf
    body = {"trigger_source": "command", "trigger_data": {"greeting": "hello"},
            "session_id": f"sess_{uuid.uuid4().hex}", "entity_id": CHANNEL, "user_id": MANAGER, "platform": "twitch"}
    began = time.perf_counter()
    request = urllib.request.Request(f"{setup.server.url}/api/v1/workflows/{wf['workflow_id']}/execute",
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "X-Service-Key": ROUTER_KEY})
    with urllib.request.urlopen(request, timeout=2) as response:  # the router's fire-and-forget timeout
        assert response.status == 202
        started = json.loads(response.read())
    assert time.perf_counter() - began < 2.0
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        status, execution = http_json("GET", f"{setup.server.url}/api/v1/executions/{started['execution_id']}", ADMIN)
        if execution["status"] not in ("queued", "running"):
            break
        time.sleep(0.02)
    assert execution["status"] == "completed", execution
    assert execution["step_results"][0]["output"]["message"] == f"hello from {MANAGER} in {CHANNEL} on twitch (command)"


# ---- the pieces, without a server -----------------------------------------------------------------

@pytest.mark.parametrize(("body", "roles"), [
    ({}, None),
    ({"user_roles": []}, None),
    ({"user_roles": ["Moderator", 7]}, ("Moderator", "7")),
    ({"metadata": {"is_moderator": True}}, ("moderator",)),
    ({"metadata": {"is_broadcaster": True, "user_roles": ["vip"]}}, ("vip", "broadcaster", "owner")),
    ({"metadata": {"is_moderator": "yes"}}, None),  # only a real true counts
    ({"metadata": "not an object", "user_roles": "admin"}, None),
])
def test_roles_are_read_from_what_the_router_may_forward(body: dict[str, Any], roles: tuple[str, ...] | None) -> None:
    from workflow_core_module.api.chat import roles_of

    assert roles_of(body) == roles


async def test_a_retry_while_the_first_is_still_running_waits_for_its_reply() -> None:
    import asyncio

    from workflow_core_module.api.chat import Replays
    from workflow_core_module.clock import ManualClock

    from .conftest import START

    clock = ManualClock(START)
    replays = Replays(clock, seconds=600)
    key = ("42", "sess_1", "!schedule add ...")
    gate, running, applied = asyncio.Event(), asyncio.Event(), []

    async def command() -> str:
        running.set()
        await gate.wait()
        applied.append(1)
        return "Scheduled"

    first = asyncio.ensure_future(replays.reply(key, command))
    await asyncio.wait_for(running.wait(), 1)
    first.cancel()  # the router gave up and closed the connection: the request is cancelled...
    retry = asyncio.ensure_future(replays.reply(key, command))
    gate.set()
    assert await asyncio.wait_for(retry, 1) == "Scheduled"  # ...the command is not, and the retry gets its reply
    assert applied == [1]
    assert await replays.reply(key, command) == "Scheduled" and applied == [1]
    clock.advance(601)
    assert await replays.reply(key, command) == "Scheduled" and applied == [1, 1]  # later: a new command
