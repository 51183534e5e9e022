"""Community settings for chat: managers through the API, and the chat_message action."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Quart

from workflow_core_module.app import create_app
from workflow_core_module.db.workflow_store import WorkflowStore
from workflow_core_module.engine.engine import WorkflowEngine

from .conftest import add_workflow, make_settings
from .sink import HttpSink
from .test_api import call


@pytest.fixture
async def app(sqlite_url: str) -> AsyncIterator[Quart]:
    application = create_app(make_settings(sqlite_url, admin_api_key="admin-secret", log_level="WARNING"))
    async with application.test_app():
        yield application


async def test_managers_are_set_and_read_by_admin_or_the_community_key(app: Quart) -> None:
    client = app.test_client()
    _, empty = await call(client, "get", "/api/v1/communities/red/managers", expect=200)
    assert empty == {"community_id": "red", "timezone": "UTC", "platform": None, "managers": []}
    _, saved = await call(client, "put", "/api/v1/communities/red/managers", {"managers": ["u1", " u2 ", "u1", ""]},
                          expect=200)
    assert saved["managers"] == ["u1", "u2"]
    runtime = app.extensions["runtime"]
    _, red_key = await runtime.keys.create("red-key", "red", runtime.clock.now())
    _, blue_key = await runtime.keys.create("blue-key", "blue", runtime.clock.now())
    _, mine = await call(client, "put", "/api/v1/communities/red/managers", {"managers": ["u3"]},
                         headers={"X-API-Key": red_key}, expect=200)
    assert mine["managers"] == ["u3"]
    assert (await call(client, "get", "/api/v1/communities/red/managers", headers={"X-API-Key": blue_key}))[0] == 403
    assert (await call(client, "put", "/api/v1/communities/red/managers", {"managers": []},
                       headers={"X-API-Key": blue_key}))[0] == 403
    status, err = await call(client, "put", "/api/v1/communities/red/managers", {"managers": "u1"})
    assert status == 400 and "managers" in err["error"]["details"]
    assert (await call(client, "put", "/api/v1/communities/red/managers", {"managers": ["x" * 101]}))[0] == 400
    audit = await runtime.database.read(lambda dal: dal.executesql(
        "SELECT actor, action FROM audit_log WHERE entity_type = 'community' ORDER BY id"))
    assert [tuple(r) for r in audit] == [("admin", "community.managers"), ("red-key", "community.managers")]


async def test_chat_message_posts_to_the_router(sqlite_database: Any) -> None:
    with HttpSink() as router:
        settings = make_settings(sqlite_database.url, chat_message_url=router.url + "/send")
        engine = WorkflowEngine(sqlite_database, settings, store=WorkflowStore(sqlite_database))
        engine.validate_steps([{"action": "chat_message", "message": "{{ trigger.context_data.message }}",
                                "community_id": "c", "entity_id": "e", "platform": "twitch"}])
        wf = await add_workflow(sqlite_database, steps=[{
            "action": "chat_message", "message": "{{ trigger.context_data.message }}",
            "community_id": "{{ trigger.context_data.community_id }}", "entity_id": "{{ trigger.context_data.entity_id }}",
            "platform": "{{ trigger.context_data.platform }}"}])
        trigger = {"trigger": "schedule", "context_data": {"message": "hi there", "community_id": "c1",
                                                            "entity_id": "chan-9", "platform": "discord"}}
        outcome = await engine.run(wf, trigger)
        assert outcome.status == "completed", outcome.error
        [posted] = router.wait_for(1)
        assert posted.path == "/send"
        assert posted.json() == {"community_id": "c1", "entity_id": "chan-9", "platform": "discord", "message": "hi there"}
        await engine.close()
    unset = WorkflowEngine(sqlite_database, make_settings(sqlite_database.url), store=WorkflowStore(sqlite_database))
    outcome = await unset.run(wf, trigger)
    assert outcome.status == "failed" and "CHAT_MESSAGE_URL is not set" in (outcome.error or "")
    await unset.close()
