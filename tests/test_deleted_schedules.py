"""Soft-deleted schedules: a global key lists them (`include_deleted=true`) and restores one
(paused, so nothing fires until someone resumes it); the owning community or a global key can
still remove one for good (`?hard=true`). SQLite and PostgreSQL, manual clock."""

from __future__ import annotations

import json
from typing import Any

import pytest
from quart import Quart

from workflow_core_module.clock import ManualClock

from .conftest import table_snapshot
from .test_api import SCHEDULE_KEYS, call, cron_body, runs_ended, sql, workflow

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"max_schedules_per_community": 3}


@pytest.fixture
def client(app: Quart) -> Any:
    return app.test_client()


async def keys(app: Quart) -> tuple[dict[str, str], dict[str, str]]:
    runtime = app.extensions["runtime"]
    _, red = await runtime.keys.create("red-bot", "red", runtime.clock.now())
    _, blue = await runtime.keys.create("blue-bot", "blue", runtime.clock.now())
    return {"X-API-Key": red}, {"X-API-Key": blue}


async def deleted(client: Any, wf: str, name: str = "nightly", headers: dict[str, str] | None = None) -> str:
    """A schedule, soft-deleted; its id."""
    _, created = await call(client, "post", "/api/v1/schedules", cron_body(wf, name), headers, expect=201)
    await call(client, "delete", f"/api/v1/schedules/{created['schedule_id']}", headers=headers, expect=204)
    return str(created["schedule_id"])


async def audit_actions(app: Quart, schedule_id: str) -> list[tuple[str, str]]:
    rows = await sql(app, "SELECT action, actor FROM audit_log WHERE entity_id = ? ORDER BY id", schedule_id)
    return [(r[0], r[1]) for r in rows]


# ---- removing a soft-deleted schedule for good -----------------------------------------------------

async def test_a_soft_deleted_schedule_can_still_be_removed_for_good(client: Any, app: Quart) -> None:
    wf = await workflow(client)
    _, created = await call(client, "post", "/api/v1/schedules", cron_body(wf), expect=201)
    sid = created["schedule_id"]
    await call(client, "post", f"/api/v1/schedules/{sid}/run", expect=202)
    await runs_ended(app)
    await call(client, "delete", f"/api/v1/schedules/{sid}", expect=204)
    assert len(await sql(app, "SELECT id FROM workflow_schedule_runs WHERE schedule_id = ?", sid)) == 1
    await call(client, "delete", f"/api/v1/schedules/{sid}", expect=404)  # a soft delete again: nothing to hide

    await call(client, "delete", f"/api/v1/schedules/{sid}?hard=true", expect=204)
    assert await sql(app, "SELECT id FROM workflow_schedules WHERE schedule_id = ?", sid) == []
    assert await sql(app, "SELECT id FROM workflow_schedule_runs WHERE schedule_id = ?", sid) == []
    assert await audit_actions(app, sid) == [("schedule.create", "admin"), ("schedule.run", "admin"),
                                             ("schedule.delete", "admin"), ("schedule.delete", "admin")]
    [(changes,)] = await sql(app, "SELECT changes FROM audit_log WHERE entity_id = ? ORDER BY id DESC LIMIT 1", sid)
    assert (json.loads(changes) if isinstance(changes, str) else changes) == {"hard": True, "name": "nightly"}
    await call(client, "delete", f"/api/v1/schedules/{sid}?hard=true", expect=404)


async def test_only_the_owning_community_or_a_global_key_removes_a_deleted_schedule(client: Any,
                                                                                   app: Quart) -> None:
    red, blue = await keys(app)
    red_wf = await workflow(client, "red-wf", headers=red)
    first = await deleted(client, red_wf, "first", red)
    second = await deleted(client, red_wf, "second", red)
    before = await table_snapshot(app.extensions["runtime"].database, "workflow_schedules")

    status, body = await call(client, "delete", f"/api/v1/schedules/{first}?hard=true", headers=blue)
    assert status == 404 and body["error"]["code"] == "not_found"
    assert await table_snapshot(app.extensions["runtime"].database, "workflow_schedules") == before

    await call(client, "delete", f"/api/v1/schedules/{first}?hard=true", headers=red, expect=204)
    await call(client, "delete", f"/api/v1/schedules/{second}?hard=true", expect=204)
    assert await sql(app, "SELECT id FROM workflow_schedules") == []


# ---- listing deleted schedules ------------------------------------------------------------------------

async def test_a_global_key_lists_deleted_schedules_with_when_they_were_deleted(client: Any, app: Quart,
                                                                              clock: ManualClock) -> None:
    wf = await workflow(client)
    _, live = await call(client, "post", "/api/v1/schedules", cron_body(wf, "live"), expect=201)
    clock.advance(90)
    gone = await deleted(client, wf, "gone")

    _, plain = await call(client, "get", "/api/v1/schedules", expect=200)
    assert [s["name"] for s in plain["items"]] == ["live"] and plain["total"] == 1
    assert set(plain["items"][0]) == SCHEDULE_KEYS

    _, both = await call(client, "get", "/api/v1/schedules?include_deleted=true", expect=200)
    assert both["total"] == 2
    by_name = {s["name"]: s for s in both["items"]}
    assert set(by_name["gone"]) == SCHEDULE_KEYS | {"deleted_at"}
    assert by_name["gone"]["schedule_id"] == gone and by_name["gone"]["deleted_at"] == "2026-11-22T12:01:30Z"
    assert by_name["gone"]["is_active"] is False and by_name["gone"]["next_execution_at"] is None
    assert by_name["gone"]["status"] == "active"  # as stored: the status it had when deleted
    assert by_name["live"]["deleted_at"] is None and by_name["live"]["schedule_id"] == live["schedule_id"]

    _, named = await call(client, "get", "/api/v1/schedules?include_deleted=true&q=gon", expect=200)
    assert [s["name"] for s in named["items"]] == ["gone"]
    _, of_workflow = await call(client, "get", f"/api/v1/schedules/workflow/{wf}?include_deleted=1", expect=200)
    assert of_workflow["total"] == 2
    _, off = await call(client, "get", "/api/v1/schedules?include_deleted=false", expect=200)
    assert off == plain
    status, body = await call(client, "get", "/api/v1/schedules?include_deleted=perhaps")
    assert status == 400 and "include_deleted" in body["error"]["details"]


async def test_a_community_key_may_not_list_or_restore_deleted_schedules(client: Any, app: Quart) -> None:
    red, blue = await keys(app)
    red_wf = await workflow(client, "red-wf", headers=red)
    sid = await deleted(client, red_wf, "mine", red)
    before = await table_snapshot(app.extensions["runtime"].database, "workflow_schedules")
    for who in (red, blue):
        for path in ("/api/v1/schedules?include_deleted=true", f"/api/v1/schedules/workflow/{red_wf}?include_deleted=true"):
            status, body = await call(client, "get", path, headers=who)
            assert status == 403 and body["error"]["code"] == "forbidden", (path, body)
            assert "include_deleted" in body["error"]["details"]
        for target in (sid, MISSING):
            status, body = await call(client, "post", f"/api/v1/schedules/{target}/restore", headers=who)
            assert status == 403 and body["error"]["code"] == "forbidden", body
    assert await table_snapshot(app.extensions["runtime"].database, "workflow_schedules") == before
    assert [a for a, _ in await audit_actions(app, sid)] == ["schedule.create", "schedule.delete"]
    _, red_list = await call(client, "get", "/api/v1/schedules", headers=red, expect=200)
    assert red_list["total"] == 0


# ---- restoring -----------------------------------------------------------------------------------------

async def test_restore_brings_a_schedule_back_paused_until_someone_resumes_it(client: Any, app: Quart,
                                                                             clock: ManualClock) -> None:
    red, _ = await keys(app)
    wf = await workflow(client)
    _, created = await call(client, "post", "/api/v1/schedules", cron_body(wf, community_id="red"), red, expect=201)
    sid = created["schedule_id"]
    await call(client, "delete", f"/api/v1/schedules/{sid}", headers=red, expect=204)
    clock.advance(60)

    _, restored = await call(client, "post", f"/api/v1/schedules/{sid}/restore", expect=200)
    assert set(restored) == SCHEDULE_KEYS
    assert (restored["status"], restored["is_active"], restored["next_execution_at"]) == ("paused", False, None)
    assert restored["pause_reason"] == "restored after deletion; resume it to run again"
    assert (restored["paused_by"], restored["paused_at"], restored["paused_until"]) == ("admin", "2026-11-22T12:01:00Z",
                                                                                       None)
    assert restored["community_id"] == "red" and restored["name"] == "nightly"
    [(deleted_at,)] = await sql(app, "SELECT deleted_at FROM workflow_schedules WHERE schedule_id = ?", sid)
    assert deleted_at is None
    [(pk,)] = await sql(app, "SELECT id FROM workflow_schedules WHERE schedule_id = ?", sid)
    assert pk not in app.extensions["runtime"].schedules.cache  # nothing to fire

    # the community sees it again, and it is audited in the same transaction
    _, seen = await call(client, "get", f"/api/v1/schedules/{sid}", headers=red, expect=200)
    assert seen["status"] == "paused"
    _, page = await call(client, "get", f"/api/v1/audit?schedule_id={sid}", headers=red, expect=200)
    newest = page["items"][0]
    assert (newest["action"], newest["actor"], newest["at"]) == ("schedule.restore", "admin", "2026-11-22T12:01:00Z")
    assert newest["changes"]["deleted_at"] == ["2026-11-22T12:00:00+00:00", None]
    assert newest["changes"]["status"] == ["active", "paused"]

    _, resumed = await call(client, "post", f"/api/v1/schedules/{sid}/resume", headers=red, expect=200)
    assert resumed["status"] == "active" and resumed["next_execution_at"] == "2026-11-23T08:00:00Z"
    assert resumed["pause_reason"] is None


async def test_restore_keeps_a_finished_schedule_finished(client: Any, app: Quart) -> None:
    wf = await workflow(client)
    sid = await deleted(client, wf)
    database = app.extensions["runtime"].database
    await database.write(lambda dal: dal.executesql(database.dialect.params(
        "UPDATE workflow_schedules SET status = 'completed' WHERE schedule_id = ?"), placeholders=[sid]))
    _, restored = await call(client, "post", f"/api/v1/schedules/{sid}/restore", expect=200)
    assert (restored["status"], restored["is_active"], restored["pause_reason"]) == ("completed", False, None)


async def test_restore_refuses_a_name_in_use_and_changes_nothing(client: Any, app: Quart) -> None:
    red, _ = await keys(app)
    wf = await workflow(client)
    old = await deleted(client, wf, "nightly", red)
    _, new = await call(client, "post", "/api/v1/schedules", cron_body(wf, "nightly"), red, expect=201)
    await deleted(client, wf, "nightly")  # the same name in the shared space does not matter
    database = app.extensions["runtime"].database
    before = await table_snapshot(database, "workflow_schedules"), await table_snapshot(database, "audit_log")

    status, body = await call(client, "post", f"/api/v1/schedules/{old}/restore")
    assert status == 409 and body["error"]["code"] == "conflict", body
    assert body["error"]["details"] == {"name": "already in use"} and "red" in body["error"]["message"]
    assert (await table_snapshot(database, "workflow_schedules"), await table_snapshot(database, "audit_log")) == before

    # once the live one is gone, the old one comes back
    await call(client, "delete", f"/api/v1/schedules/{new['schedule_id']}", headers=red, expect=204)
    await call(client, "post", f"/api/v1/schedules/{old}/restore", expect=200)


async def test_restore_refuses_when_the_workflow_is_gone_or_the_community_is_full(client: Any, app: Quart) -> None:
    wf = await workflow(client)
    orphan = await deleted(client, wf, "orphan", None)
    await call(client, "delete", f"/api/v1/workflows/{wf}", expect=204)
    database = app.extensions["runtime"].database
    before = await table_snapshot(database, "workflow_schedules")
    status, body = await call(client, "post", f"/api/v1/schedules/{orphan}/restore")
    assert status == 409 and body["error"]["details"] == {"workflow_id": "no longer exists"}, body
    assert await table_snapshot(database, "workflow_schedules") == before

    wf = await workflow(client, "second")
    _, extra_row = await call(client, "post", "/api/v1/schedules", cron_body(wf, "extra", community_id="red"),
                              expect=201)
    extra = extra_row["schedule_id"]
    await call(client, "delete", f"/api/v1/schedules/{extra}", expect=204)
    for i in range(3):
        await call(client, "post", "/api/v1/schedules", cron_body(wf, f"s{i}", community_id="red"), expect=201)
    status, body = await call(client, "post", f"/api/v1/schedules/{extra}/restore")
    assert status == 409 and body["error"]["code"] == "limit_exceeded", body
    [(deleted_at,)] = await sql(app, "SELECT deleted_at FROM workflow_schedules WHERE schedule_id = ?", extra)
    assert deleted_at is not None


async def test_restore_of_a_live_or_unknown_schedule(client: Any) -> None:
    wf = await workflow(client)
    _, live = await call(client, "post", "/api/v1/schedules", cron_body(wf), expect=201)
    status, body = await call(client, "post", f"/api/v1/schedules/{live['schedule_id']}/restore")
    assert status == 409 and body["error"]["message"] == "schedule is not deleted"
    for target in (MISSING, "not-a-uuid"):
        assert (await call(client, "post", f"/api/v1/schedules/{target}/restore"))[0] == 404
