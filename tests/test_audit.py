"""GET /api/v1/audit: who changed what, newest first, filtered and paged, within the caller's
community. Runs on SQLite and PostgreSQL, on the manual clock (conftest.START)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import pytest
from quart import Quart

from workflow_core_module.clock import ManualClock

from .conftest import START
from .test_api import call, cron_body, iso, workflow


@pytest.fixture
def client(app: Quart) -> Any:
    return app.test_client()


AUDIT_KEYS = {"at", "actor", "action", "entity_type", "entity_id", "community_id", "changes"}


async def audit(client: Any, headers: dict[str, str] | None = None, expect: int | None = 200,
                **params: Any) -> tuple[int, Any]:
    path = "/api/v1/audit" + (f"?{urlencode(params)}" if params else "")
    return await call(client, "get", path, headers=headers, expect=expect)


async def community_keys(app: Quart) -> tuple[dict[str, str], dict[str, str]]:
    runtime = app.extensions["runtime"]
    _, red = await runtime.keys.create("red-bot", "red", runtime.clock.now())
    _, blue = await runtime.keys.create("blue-bot", "blue", runtime.clock.now())
    return {"X-API-Key": red}, {"X-API-Key": blue}


async def test_the_page_lists_each_change_newest_first_with_who_made_it(client: Any, clock: ManualClock) -> None:
    wf = await workflow(client)
    clock.advance(60)
    _, created = await call(client, "post", "/api/v1/schedules", cron_body(wf), expect=201)
    sid = created["schedule_id"]
    clock.advance(60)
    await call(client, "post", f"/api/v1/schedules/{sid}/pause", {"reason": "raid"}, expect=200)
    clock.advance(60)
    await call(client, "patch", f"/api/v1/schedules/{sid}", {"description": "the nightly report"}, expect=200)

    _, page = await audit(client)
    assert page["total"] == 4 and page["limit"] == 50 and page["offset"] == 0
    assert [(i["action"], i["entity_type"]) for i in page["items"]] == [
        ("schedule.update", "schedule"), ("schedule.pause", "schedule"), ("schedule.create", "schedule"),
        ("workflow.create", "workflow")]
    newest = page["items"][0]
    assert set(newest) == AUDIT_KEYS
    assert newest == {"at": iso(START.replace(minute=3)), "actor": "admin", "action": "schedule.update",
                      "entity_type": "schedule", "entity_id": sid, "community_id": None,
                      "changes": {"description": ["", "the nightly report"]}}
    assert page["items"][1]["changes"]["pause_reason"] == [None, "raid"]
    assert page["items"][3]["entity_id"] == wf and page["items"][3]["at"] == iso(START)


async def test_rows_written_in_the_same_second_come_newest_first(client: Any) -> None:
    wf = await workflow(client)
    _, created = await call(client, "post", "/api/v1/schedules", cron_body(wf), expect=201)
    await call(client, "post", f"/api/v1/schedules/{created['schedule_id']}/pause", expect=200)
    await call(client, "post", f"/api/v1/schedules/{created['schedule_id']}/resume", expect=200)
    _, page = await audit(client)
    assert len({i["at"] for i in page["items"]}) == 1
    assert [i["action"] for i in page["items"]] == [
        "schedule.resume", "schedule.pause", "schedule.create", "workflow.create"]


async def test_filters_by_schedule_workflow_actor_action_and_time(client: Any, app: Quart,
                                                                  clock: ManualClock) -> None:
    red, _ = await community_keys(app)
    wf = await workflow(client)
    _, one = await call(client, "post", "/api/v1/schedules", cron_body(wf, "one"), expect=201)
    clock.advance(3600)
    _, two = await call(client, "post", "/api/v1/schedules", cron_body(wf, "two"), headers=red, expect=201)
    await call(client, "post", f"/api/v1/schedules/{one['schedule_id']}/pause", expect=200)
    clock.advance(3600)
    await call(client, "delete", f"/api/v1/schedules/{one['schedule_id']}?hard=true", expect=204)

    async def actions(**params: Any) -> list[str]:
        _, page = await audit(client, **params)
        assert page["total"] == len(page["items"])
        return [i["action"] for i in page["items"]]

    # a schedule's rows, also once it is gone for good
    assert await actions(schedule_id=one["schedule_id"]) == ["schedule.delete", "schedule.pause", "schedule.create"]
    assert await actions(schedule_id=one["schedule_id"].upper()) == [
        "schedule.delete", "schedule.pause", "schedule.create"]
    assert await actions(workflow_id=wf) == ["workflow.create"]
    assert await actions(actor="red-bot") == ["schedule.create"]
    assert await actions(action="schedule.pause") == ["schedule.pause"]
    assert await actions(action="schedule.create", actor="admin") == ["schedule.create"]
    assert await actions(community_id="red") == ["schedule.create", "key.create"]
    # since is inclusive, until exclusive
    hour = START.replace(hour=13)
    assert await actions(since=iso(hour)) == ["schedule.delete", "schedule.pause", "schedule.create"]
    assert await actions(until=iso(hour)) == ["schedule.create", "workflow.create", "key.create", "key.create"]
    assert await actions(since=iso(hour), until=iso(START.replace(hour=14))) == ["schedule.pause", "schedule.create"]
    # an offset, a fraction, no offset (UTC), and an unencoded "+" that arrived as a space
    assert await actions(since="2026-11-22T15:00:00+02:00") == ["schedule.delete", "schedule.pause",
                                                                "schedule.create"]
    assert await actions(since="2026-11-22T13:59:59.5Z") == ["schedule.delete"]
    assert await actions(since="2026-11-22T14:00:00") == ["schedule.delete"]
    _, spaced = await call(client, "get", "/api/v1/audit?since=2026-11-22T15:00:00+01:00", expect=200)
    assert [i["action"] for i in spaced["items"]] == ["schedule.delete"]
    _, encoded = await call(client, "get", f"/api/v1/audit?since={quote('2026-11-22T15:00:00+01:00')}", expect=200)
    assert encoded == spaced
    assert await actions(actor="nobody") == []


async def test_pages_with_limit_and_offset(client: Any, clock: ManualClock) -> None:
    for i in range(5):
        await workflow(client, f"wf-{i}")
        clock.advance(1)
    _, first = await audit(client, limit=2)
    _, second = await audit(client, limit=2, offset=2)
    _, last = await audit(client, limit=2, offset=4)
    _, beyond = await audit(client, limit=2, offset=10)
    names = [i["changes"]["name"][1] for p in (first, second, last) for i in p["items"]]
    assert names == ["wf-4", "wf-3", "wf-2", "wf-1", "wf-0"]
    assert (first["total"], first["limit"], second["offset"], beyond["items"], beyond["total"]) == (5, 2, 2, [], 5)


async def test_bad_filters_are_400_naming_the_field(client: Any, app: Quart) -> None:
    await workflow(client)
    bad = [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01T00:00:00Z"}, "until"),
        ({"since": "2026-11-22T13:00:00Z", "until": "2026-11-22T13:00:00Z"}, "until"),
        ({"since": "99999-01-01T00:00:00Z"}, "since"),
        ({"schedule_id": "not-a-uuid"}, "schedule_id"),
        ({"workflow_id": "1"}, "workflow_id"),
        ({"schedule_id": "00000000-0000-4000-8000-000000000000",
          "workflow_id": "00000000-0000-4000-8000-000000000000"}, "workflow_id"),
        ({"actor": "a\x00b"}, "actor"),
        ({"action": "schedule.\x01"}, "action"),
        ({"actor": "x" * 201}, "actor"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"limit": "many"}, "limit"),
    ]
    for params, field in bad:
        status, body = await audit(client, expect=None, **params)
        assert status == 400, (params, status, body)
        assert body["error"]["code"] == "invalid_input" and field in body["error"]["details"], (params, body)
    runtime = app.extensions["runtime"]
    assert (await runtime.audit.list_entries({}, limit=2)).total == 1


async def test_a_community_key_sees_only_its_own_communitys_rows(client: Any, app: Quart) -> None:
    """The attack: blue asks for red's rows every way it can, and gets none of them."""
    red, blue = await community_keys(app)
    shared = await workflow(client, "shared")
    red_wf = await workflow(client, "red-wf", headers=red)
    _, red_s = await call(client, "post", "/api/v1/schedules", cron_body(red_wf, "r"), red, expect=201)
    await call(client, "post", f"/api/v1/schedules/{red_s['schedule_id']}/pause", headers=red, expect=200)
    _, by_admin = await call(client, "post", "/api/v1/schedules", cron_body(shared, "r2", community_id="red"),
                             expect=201)
    await call(client, "delete", f"/api/v1/schedules/{by_admin['schedule_id']}?hard=true", expect=204)
    blue_wf = await workflow(client, "blue-wf", headers=blue)

    _, everything = await audit(client)
    assert everything["total"] == 9  # 2 keys, 3 workflows, 2 creates, a pause, a delete

    _, red_page = await audit(client, headers=red)
    assert {i["community_id"] for i in red_page["items"]} == {"red"}
    assert [(i["action"], i["actor"]) for i in red_page["items"]] == [
        ("schedule.delete", "admin"), ("schedule.create", "admin"), ("schedule.pause", "red-bot"),
        ("schedule.create", "red-bot"), ("workflow.create", "red-bot"), ("key.create", "cli")]

    for params in ({}, {"community_id": "red"}, {"schedule_id": red_s["schedule_id"]},
                   {"schedule_id": by_admin["schedule_id"]}, {"workflow_id": red_wf}, {"workflow_id": shared},
                   {"actor": "red-bot"}, {"actor": "admin"}, {"action": "schedule.pause"}):
        _, page = await audit(client, headers=blue, **params)
        assert all(i["community_id"] == "blue" for i in page["items"]), (params, page)
        assert page["total"] == len(page["items"]), params
    _, blue_page = await audit(client, headers=blue)
    assert [i["action"] for i in blue_page["items"]] == ["workflow.create", "key.create"]
    assert blue_page["items"][0]["entity_id"] == blue_wf
    _, mine = await audit(client, headers=blue, community_id="blue")
    assert mine == blue_page


async def test_openapi_documents_the_audit_page_and_the_deleted_schedule_controls(client: Any) -> None:
    spec = await (await client.get("/openapi.json")).get_json()
    audit_op = spec["paths"]["/api/v1/audit"]["get"]
    assert {p["name"] for p in audit_op["parameters"]} == {
        "schedule_id", "workflow_id", "community_id", "actor", "action", "since", "until", "limit", "offset"}
    assert set(spec["components"]["schemas"]["AuditOut"]["properties"]) == AUDIT_KEYS
    assert {"200", "400"} <= set(audit_op["responses"])
    assert {"200", "403", "409"} <= set(spec["paths"]["/api/v1/schedules/{schedule_id}/restore"]["post"]["responses"])
    listing = spec["paths"]["/api/v1/schedules"]["get"]
    assert "include_deleted" in {p["name"] for p in listing["parameters"]}
    assert "deleted_at" in spec["components"]["schemas"]["ScheduleListed"]["properties"]
