"""Bulk actions, export and import through the API (SQLite and PostgreSQL, manual clock).

Each attack a community key could try is tried: reaching another community's schedules by id or
by filter, importing into another community, changing a shared workflow.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart

from workflow_core_module.clock import ManualClock
from workflow_core_module.services import bulk as bulk_module
from workflow_core_module.services import transfer as transfer_module

from .conftest import START, table_snapshot
from .test_api import ADMIN, call, cron_body, iso, sql, workflow

TABLES = ("workflow_schedules", "workflows", "audit_log")


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"max_schedules_per_community": 20}


@pytest.fixture
def client(app: Quart) -> Any:
    return app.test_client()


async def keys(app: Quart, *communities: str) -> list[dict[str, str]]:
    runtime = app.extensions["runtime"]
    made = []
    for community in communities:
        _, key = await runtime.keys.create(f"{community}-bot", community, runtime.clock.now())
        made.append({"X-API-Key": key})
    return made


async def snapshot(app: Quart) -> dict[str, list[tuple[Any, ...]]]:
    database = app.extensions["runtime"].database
    return {table: await table_snapshot(database, table) for table in TABLES}


async def make(client: Any, wf: str, name: str, headers: dict[str, str] | None = None, **kw: Any) -> dict[str, Any]:
    _, created = await call(client, "post", "/api/v1/schedules", cron_body(wf, name, **kw), headers, expect=201)
    return dict(created)


async def state(client: Any, schedule_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    _, found = await call(client, "get", f"/api/v1/schedules/{schedule_id}", headers=headers, expect=200)
    return dict(found)


async def audit_actions(app: Quart, schedule_id: str) -> list[tuple[str, str]]:
    rows = await sql(app, "SELECT actor, action FROM audit_log WHERE entity_id = ? ORDER BY id", schedule_id)
    return [(r[0], r[1]) for r in rows]


async def finish(app: Quart, schedule_id: str) -> None:
    """Mark a schedule completed, as the scheduler does when its last run has fired."""
    database = app.extensions["runtime"].database
    await database.write(lambda dal: dal.executesql(database.dialect.params(
        "UPDATE workflow_schedules SET status = 'completed', is_active = ?, next_execution_at = NULL "
        "WHERE schedule_id = ?"), placeholders=[database.dialect.false, schedule_id]))


# ---- routes -------------------------------------------------------------------------------------

async def test_the_routes_are_not_taken_for_a_schedule_id(client: Any) -> None:
    status, document = await call(client, "get", "/api/v1/schedules/export")
    assert status == 200 and document["version"] == 1 and document["schedules"] == [], document
    status, result = await call(client, "post", "/api/v1/schedules/bulk", {"action": "pause", "filter": {}})
    assert (status, result) == (200, {"matched": 0, "changed": 0, "errors": []})
    status, result = await call(client, "post", "/api/v1/schedules/import?dry_run=true",
                                {"version": 1, "schedules": []})
    assert status == 200 and result["dry_run"] is True, result
    spec = json.loads((await (await client.get("/openapi.json")).get_data()))
    assert {"/api/v1/schedules/bulk", "/api/v1/schedules/export", "/api/v1/schedules/import"} <= set(spec["paths"])


# ---- bulk ----------------------------------------------------------------------------------------

async def test_bulk_pause_by_tag_pauses_exactly_the_tagged_ones(app: Quart, client: Any) -> None:
    wf = await workflow(client)
    a = await make(client, wf, "a", tags=["raid"])
    b = await make(client, wf, "b", tags=["raid", "late"])
    c = await make(client, wf, "c", tags=["raid"])
    near = await make(client, wf, "near", tags=["raid-night"])
    plain = await make(client, wf, "plain")
    await call(client, "post", f"/api/v1/schedules/{c['schedule_id']}/pause", {"reason": "earlier"}, expect=200)
    _, result = await call(client, "post", "/api/v1/schedules/bulk",
                           {"action": "pause", "filter": {"tag": "raid"}, "reason": "maintenance"}, expect=200)
    assert result == {"matched": 3, "changed": 2, "errors": []}
    for s in (a, b):
        now = await state(client, s["schedule_id"])
        assert (now["status"], now["pause_reason"], now["paused_by"], now["next_execution_at"]) == (
            "paused", "maintenance", "admin", None)
        assert await audit_actions(app, s["schedule_id"]) == [("admin", "schedule.create"), ("admin", "schedule.pause")]
    again = await state(client, c["schedule_id"])
    assert (again["status"], again["pause_reason"]) == ("paused", "earlier")  # matched, not changed
    assert [action for _, action in await audit_actions(app, c["schedule_id"])].count("schedule.pause") == 1
    for s in (near, plain):
        assert (await state(client, s["schedule_id"]))["status"] == "active"
    cache = app.extensions["runtime"].schedules.cache
    pks = {r[0]: r[1] for r in await sql(app, "SELECT schedule_id, id FROM workflow_schedules")}
    assert [pks[s["schedule_id"]] in cache for s in (a, b, c, near, plain)] == [False, False, False, True, True]

    _, result = await call(client, "post", "/api/v1/schedules/bulk",
                           {"action": "resume", "filter": {"tag": "raid"}}, expect=200)
    assert result == {"matched": 3, "changed": 3, "errors": []}
    assert {(await state(client, s["schedule_id"]))["pause_reason"] for s in (a, b, c)} == {None}
    assert all(pks[s["schedule_id"]] in cache for s in (a, b, c))


async def test_bulk_delete_takes_a_chain_and_its_upstreams_together_in_any_order(client: Any) -> None:
    wf = await workflow(client)
    head = await make(client, wf, "head", tags=["etl"])
    chain = [head]
    for name in ("second", "third", "fourth"):
        _, link = await call(client, "post", "/api/v1/schedules", {
            "workflow_id": wf, "name": name, "schedule_type": "after", "tags": ["etl"],
            "after": {"schedule_id": chain[-1]["schedule_id"]}}, expect=201)
        chain.append(link)
    keeper = await make(client, wf, "keeper")  # a chain outside the call keeps its upstream alive
    _, after_keeper = await call(client, "post", "/api/v1/schedules", {
        "workflow_id": wf, "name": "after-keeper", "schedule_type": "after",
        "after": {"schedule_id": keeper["schedule_id"]}}, expect=201)
    ids = [s["schedule_id"] for s in chain] + [keeper["schedule_id"]]  # upstreams first
    _, result = await call(client, "post", "/api/v1/schedules/bulk", {"action": "delete", "schedule_ids": ids},
                           expect=200)
    assert (result["matched"], result["changed"]) == (5, 4)
    [error] = result["errors"]
    assert error["schedule_id"] == keeper["schedule_id"] and "after-keeper" in error["error"], result
    for s in chain:
        await call(client, "get", f"/api/v1/schedules/{s['schedule_id']}", expect=404)
    assert (await state(client, after_keeper["schedule_id"]))["status"] == "active"


async def test_bulk_by_ids_reports_what_it_could_not_do_and_does_the_rest(app: Quart, client: Any) -> None:
    wf = await workflow(client)
    paused = await make(client, wf, "paused")
    done = await make(client, wf, "done")
    active = await make(client, wf, "active")
    gone = await make(client, wf, "gone")
    await call(client, "post", f"/api/v1/schedules/{paused['schedule_id']}/pause", expect=200)
    await call(client, "delete", f"/api/v1/schedules/{gone['schedule_id']}", expect=204)
    await finish(app, done["schedule_id"])
    unknown = str(uuid.uuid4())
    ids = [unknown, paused["schedule_id"], "not-an-id", done["schedule_id"], active["schedule_id"],
           gone["schedule_id"], paused["schedule_id"].upper()]
    _, result = await call(client, "post", "/api/v1/schedules/bulk", {"action": "resume", "schedule_ids": ids},
                           expect=200)
    assert (result["matched"], result["changed"]) == (3, 1)
    assert [(e["schedule_id"], e["error"]) for e in result["errors"]] == [
        (unknown, "not found"), ("not-an-id", "not found"),
        (done["schedule_id"], "schedule is completed and cannot be resumed"),
        (gone["schedule_id"], "not found")]
    assert [(await state(client, s["schedule_id"]))["status"] for s in (paused, done, active)] == [
        "active", "completed", "active"]

    _, result = await call(client, "post", "/api/v1/schedules/bulk",
                           {"action": "delete", "schedule_ids": [active["schedule_id"], unknown]}, expect=200)
    assert (result["matched"], result["changed"], len(result["errors"])) == (1, 1, 1)
    assert (await call(client, "get", f"/api/v1/schedules/{active['schedule_id']}"))[0] == 404
    assert ("admin", "schedule.delete") in await audit_actions(app, active["schedule_id"])


@pytest.mark.parametrize("body,field", [
    ({"action": "pause"}, "body"),
    ({"action": "pause", "schedule_ids": [], "filter": {}}, "body"),
    ({"action": "pause", "schedule_ids": []}, "schedule_ids"),
    ({"action": "stop", "filter": {}}, "action"),
    ({"action": "resume", "filter": {}, "reason": "why"}, "reason"),
    ({"action": "pause", "filter": {}, "reason": "two\nlines\u0001"}, "reason"),
    ({"action": "pause", "filter": {"colour": "red"}}, "filter.colour"),
    ({"action": "pause", "filter": {"status": "sleeping"}}, "filter.status"),
    ({"action": "pause", "filter": {"tag": 3}}, "filter.tag"),
    ({"action": "delete", "schedule_ids": "all"}, "schedule_ids"),
    ({"action": "delete", "schedule_ids": [str(uuid.uuid4())] * 10_001}, "schedule_ids"),
])
async def test_a_wrong_bulk_request_is_400_and_changes_nothing(app: Quart, client: Any, body: dict[str, Any],
                                                                field: str) -> None:
    wf = await workflow(client)
    await make(client, wf, "one")
    before = await snapshot(app)
    status, answer = await call(client, "post", "/api/v1/schedules/bulk", body)
    assert status == 400, answer
    assert field in answer["error"]["details"], answer
    assert await snapshot(app) == before


async def test_a_filter_matching_more_than_the_cap_is_refused_whole(app: Quart, client: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk_module, "MAX_BULK", 3)
    wf = await workflow(client)
    for n in range(4):
        await make(client, wf, f"s{n}", tags=["many"] if n else [])
    before = await snapshot(app)
    status, answer = await call(client, "post", "/api/v1/schedules/bulk", {"action": "delete", "filter": {}})
    assert status == 400 and "matches 4 schedules; at most 3" in answer["error"]["details"]["filter"], answer
    assert await snapshot(app) == before
    _, result = await call(client, "post", "/api/v1/schedules/bulk", {"action": "pause", "filter": {"tag": "many"}},
                           expect=200)
    assert (result["matched"], result["changed"]) == (3, 3)


async def test_a_community_key_cannot_bulk_change_another_community(app: Quart, client: Any) -> None:
    red, blue = await keys(app, "red", "blue")
    red_wf = await workflow(client, "red-wf", headers=red)
    blue_wf = await workflow(client, "blue-wf", headers=blue)
    reds = [await make(client, red_wf, f"r{n}", red, tags=["ops"]) for n in range(2)]
    mine = await make(client, blue_wf, "b0", blue, tags=["ops"])
    shared_space = await make(client, red_wf, "admin-made", community_id="red", tags=["ops"])
    before = await snapshot(app)
    for action in ("pause", "delete"):
        _, result = await call(client, "post", "/api/v1/schedules/bulk",
                               {"action": action, "schedule_ids": [s["schedule_id"] for s in reds]}, blue, expect=200)
        assert (result["matched"], result["changed"]) == (0, 0)
        assert [e["error"] for e in result["errors"]] == ["not found", "not found"]
    assert await snapshot(app) == before
    _, result = await call(client, "post", "/api/v1/schedules/bulk", {"action": "pause", "filter": {"tag": "ops"}},
                           blue, expect=200)
    assert result == {"matched": 1, "changed": 1, "errors": []}
    _, result = await call(client, "post", "/api/v1/schedules/bulk", {"action": "delete", "filter": {}}, blue,
                           expect=200)
    assert result == {"matched": 1, "changed": 1, "errors": []}
    assert (await call(client, "get", f"/api/v1/schedules/{mine['schedule_id']}", headers=blue))[0] == 404
    for s in (*reds, shared_space):
        assert (await state(client, s["schedule_id"]))["status"] == "active"


# ---- export and import ---------------------------------------------------------------------------

def _by_name(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A document's schedules by name, each naming its workflow by name instead of by id."""
    names = {w["workflow_id"]: w["name"] for w in document["workflows"]}
    return {s["name"]: s | {"workflow_id": names[s["workflow_id"]]} for s in document["schedules"]}


def _workflows(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {w["name"]: {k: v for k, v in w.items() if k != "workflow_id"} for w in document["workflows"]}


async def varied(client: Any) -> dict[str, dict[str, Any]]:
    """Schedules using most fields, on two workflows (one of them shared), one paused with a reason."""
    report = await workflow(client, "report", steps=[{"action": "log", "message": "report {{ trigger.run_id }}"}],
                            community="ops")
    shared = await workflow(client, "shared-ping", steps=[{"action": "delay", "seconds": 1}])
    made = {
        "cron-berlin": await make(client, report, "cron-berlin", community_id="ops", tags=["a", "b"],
                                  context_data={"channel": "ops", "n": [1, 2]}, description="weekday mornings",
                                  overlap_policy="allow", jitter_seconds=30, max_executions=40,
                                  callback_url="https://example.org/hook", timeout_seconds=120, max_retries=2,
                                  retry_backoff_seconds=5, pause_after_failures=3, grace_period_seconds=60),
        "every-hour": await make(client, shared, "every-hour", community_id="ops", schedule_type="interval",
                                 cron_expression=None, interval_seconds=3600, timezone="UTC",
                                 start_date=iso(START + timedelta(minutes=7)),
                                 end_date=iso(START + timedelta(days=30))),
        "once": await make(client, report, "once", community_id="ops", schedule_type="one_time",
                           cron_expression=None, scheduled_time="2026-12-24T18:00:00", timezone="America/New_York"),
        "shared-space": await make(client, shared, "shared-space", cron_expression="*/5 * * * *"),
    }
    await call(client, "post", f"/api/v1/schedules/{made['every-hour']['schedule_id']}/pause",
               {"reason": "quiet week", "until": iso(START + timedelta(days=7))}, expect=200)
    return made


async def test_export_delete_all_import_restores_equal_schedules(app: Quart, client: Any) -> None:
    made = await varied(client)
    _, exported = await call(client, "get", "/api/v1/schedules/export", expect=200)
    assert exported["version"] == 1 and exported["exported_at"] == iso(START)
    assert set(_by_name(exported)) == set(made)
    assert _workflows(exported) == {
        "report": {"name": "report", "description": "", "community_id": "ops", "is_active": True,
                   "steps": [{"action": "log", "message": "report {{ trigger.run_id }}"}]},
        "shared-ping": {"name": "shared-ping", "description": "", "community_id": None, "is_active": True,
                        "steps": [{"action": "delay", "seconds": 1}]}}
    entry = _by_name(exported)["every-hour"]
    assert (entry["status"], entry["pause_reason"], entry["paused_until"], entry["start_date"]) == (
        "paused", "quiet week", iso(START + timedelta(days=7)), iso(START + timedelta(minutes=7)))
    assert "schedule_id" not in entry and "next_execution_at" not in entry

    _, result = await call(client, "post", "/api/v1/schedules/bulk", {"action": "delete", "filter": {}}, expect=200)
    assert result["changed"] == len(made)
    for w in exported["workflows"]:
        await call(client, "delete", f"/api/v1/workflows/{w['workflow_id']}", expect=204)
    assert (await call(client, "get", "/api/v1/schedules", expect=200))[1]["total"] == 0

    _, result = await call(client, "post", "/api/v1/schedules/import", exported, expect=200)
    assert sorted(result["created"]) == sorted(made) and result["workflows_created"] == ["report", "shared-ping"]
    _, again = await call(client, "get", "/api/v1/schedules/export", expect=200)
    assert _by_name(again) == _by_name(exported)
    assert _workflows(again) == _workflows(exported)
    assert {w["workflow_id"] for w in again["workflows"]}.isdisjoint(w["workflow_id"] for w in exported["workflows"])
    _, page = await call(client, "get", "/api/v1/schedules", expect=200)
    restored = {s["name"]: s for s in page["items"]}
    assert {n: s["status"] for n, s in restored.items()} == {
        "cron-berlin": "active", "every-hour": "paused", "once": "active", "shared-space": "active"}
    for name, s in restored.items():
        assert s["next_execution_at"] == (None if name == "every-hour" else made[name]["next_execution_at"]), name
        assert s["created_by"] == "admin"
        assert await audit_actions(app, s["schedule_id"]) == [("admin", "schedule.create")]
    cache = app.extensions["runtime"].schedules.cache
    assert len(cache) == 3


async def test_an_import_with_one_bad_entry_changes_nothing(app: Quart, client: Any) -> None:
    made = await varied(client)
    _, exported = await call(client, "get", "/api/v1/schedules/export?community_id=ops", expect=200)
    document = json.loads(json.dumps(exported))
    for s in document["schedules"]:
        s["name"] += "-copy"
    document["workflows"].append({"workflow_id": str(uuid.uuid4()), "name": "new-one", "description": "",
                                  "community_id": "ops", "steps": [{"action": "log", "message": "x"}],
                                  "is_active": True})
    good = json.loads(json.dumps(document))
    document["schedules"][1]["cron_expression"] = "61 * * * *"
    document["schedules"][1]["schedule_type"] = "cron"
    document["schedules"][1]["interval_seconds"] = None
    before = await snapshot(app)
    cache = dict(app.extensions["runtime"].schedules.cache.snapshot())
    status, answer = await call(client, "post", "/api/v1/schedules/import", document)
    assert status == 400, answer
    assert list(answer["error"]["details"]) == ["schedules[1].cron_expression"]
    assert "nothing was imported" in answer["error"]["message"]
    # every problem at once, each at its place
    document["schedules"][2]["timezone"] = "Mars/Olympus"
    document["workflows"][0]["steps"] = [{"action": "teleport"}]
    document["schedules"][0]["colour"] = "red"
    status, answer = await call(client, "post", "/api/v1/schedules/import?mode=upsert", document)
    assert status == 400
    assert set(answer["error"]["details"]) == {"schedules[1].cron_expression", "schedules[2].timezone",
                                               "workflows[0].steps[0].action", "schedules[0].colour"}, answer
    assert await snapshot(app) == before
    assert dict(app.extensions["runtime"].schedules.cache.snapshot()) == cache
    _, result = await call(client, "post", "/api/v1/schedules/import", good, expect=200)  # the good one goes in
    assert len(result["created"]) == len(exported["schedules"]) == 3 and result["workflows_created"] == ["new-one"]
    assert len(made) == 4


async def test_create_refuses_a_name_in_use_and_upsert_updates_it(app: Quart, client: Any,
                                                                    clock: ManualClock) -> None:
    wf = await workflow(client, "job", steps=[{"action": "log", "message": "v1"}])
    first = await make(client, wf, "nightly", tags=["x"])
    paused = await make(client, wf, "later")
    await call(client, "post", f"/api/v1/schedules/{paused['schedule_id']}/pause", {"reason": "r1"}, expect=200)
    _, exported = await call(client, "get", "/api/v1/schedules/export", expect=200)
    before = await snapshot(app)
    status, answer = await call(client, "post", "/api/v1/schedules/import", exported)
    assert status == 400, answer
    assert answer["error"]["details"] == {
        "schedules[0].name": "already in use in the shared space (mode=upsert updates that schedule)",
        "schedules[1].name": "already in use in the shared space (mode=upsert updates that schedule)"}
    assert await snapshot(app) == before

    _, result = await call(client, "post", "/api/v1/schedules/import?mode=upsert", exported, expect=200)
    assert (result["created"], result["updated"], result["unchanged"]) == ([], [], ["nightly", "later"])
    assert await snapshot(app) == before

    clock.advance(3600)
    changed = json.loads(json.dumps(exported))
    nightly, later = changed["schedules"]
    nightly |= {"cron_expression": "30 6 * * *", "tags": ["y"]}
    later |= {"status": "active", "pause_reason": None}
    changed["workflows"][0]["steps"] = [{"action": "log", "message": "v2"}]
    changed["schedules"].append(nightly | {"name": "brand-new"})
    _, preview = await call(client, "post", "/api/v1/schedules/import?mode=upsert&dry_run=true", changed,
                            expect=200)
    assert await snapshot(app) == before
    _, result = await call(client, "post", "/api/v1/schedules/import?mode=upsert", changed, expect=200)
    assert preview == result | {"dry_run": True}
    assert (result["created"], result["updated"], result["workflows_updated"]) == (
        ["brand-new"], ["nightly", "later"], ["job"])
    now = await state(client, first["schedule_id"])
    assert (now["cron_expression"], now["tags"], now["schedule_id"]) == ("30 6 * * *", ["y"], first["schedule_id"])
    assert now["next_execution_at"] == "2026-11-23T05:30:00Z"  # Europe/Berlin, recomputed
    resumed = await state(client, paused["schedule_id"])
    assert (resumed["status"], resumed["pause_reason"], resumed["paused_by"]) == ("active", None, None)
    assert resumed["next_execution_at"] is not None
    _, job = await call(client, "get", f"/api/v1/workflows/{wf}", expect=200)
    assert job["steps"] == [{"action": "log", "message": "v2"}]
    assert await audit_actions(app, first["schedule_id"]) == [("admin", "schedule.create"),
                                                              ("admin", "schedule.update")]
    cache = app.extensions["runtime"].schedules.cache
    pk = (await sql(app, "SELECT id FROM workflow_schedules WHERE schedule_id = ?", paused["schedule_id"]))[0][0]
    assert pk in cache

    # and back to paused by upsert, with the reason
    _, result = await call(client, "post", "/api/v1/schedules/import?mode=upsert", exported, expect=200)
    assert result["updated"] == ["nightly", "later"]
    back = await state(client, paused["schedule_id"])
    assert (back["status"], back["pause_reason"], back["next_execution_at"]) == ("paused", "r1", None)
    assert pk not in cache


async def test_a_dry_run_answers_and_changes_nothing(app: Quart, client: Any) -> None:
    await varied(client)
    _, exported = await call(client, "get", "/api/v1/schedules/export", expect=200)
    document = json.loads(json.dumps(exported))
    for s in document["schedules"]:
        s["name"] += "-2"
    document["workflows"][0]["name"] = "report-2"
    before = await snapshot(app)
    _, result = await call(client, "post", "/api/v1/schedules/import?dry_run=true", document, expect=200)
    assert result["dry_run"] is True and result["workflows_created"] == ["report-2"]
    assert sorted(result["created"]) == sorted(s["name"] for s in document["schedules"])
    assert await snapshot(app) == before
    # the dry run sees what the import would meet: the quota (20 in this app) included
    many = json.loads(json.dumps(document))
    many["schedules"] = [dict(many["schedules"][0], name=f"n{i}") for i in range(18)]
    status, answer = await call(client, "post", "/api/v1/schedules/import?dry_run=true", many)
    assert status == 409 and answer["error"]["details"]["would_have"] == 3 + 18, answer
    status, _ = await call(client, "post", "/api/v1/schedules/import", many)
    assert status == 409
    assert await snapshot(app) == before


async def test_finished_schedules_are_skipped_and_said_so(app: Quart, client: Any) -> None:
    wf = await workflow(client)
    await make(client, wf, "ends")
    done = await make(client, wf, "done")
    await finish(app, done["schedule_id"])
    _, exported = await call(client, "get", "/api/v1/schedules/export", expect=200)
    assert [s["status"] for s in exported["schedules"]] == ["active", "completed"]
    for s in exported["schedules"]:
        s["name"] += "-copy"
    _, result = await call(client, "post", "/api/v1/schedules/import", exported, expect=200)
    assert result["created"] == ["ends-copy"]
    assert result["skipped"] == [{"index": 1, "name": "done-copy",
                                  "reason": "completed: a finished schedule is not imported"}]


async def test_a_community_key_imports_only_into_its_own_community(app: Quart, client: Any) -> None:
    red, blue = await keys(app, "red", "blue")
    shared = await workflow(client, "shared", steps=[{"action": "log", "message": "shared"}])
    blue_wf = await workflow(client, "blue-wf", headers=blue)
    blue_s = await make(client, blue_wf, "same-name", blue)
    red_wf = await workflow(client, "red-wf", headers=red)
    await make(client, red_wf, "red-own", red)
    _, exported = await call(client, "get", "/api/v1/schedules/export", headers=red, expect=200)
    assert [w["name"] for w in exported["workflows"]] == ["red-wf"]
    assert [s["community_id"] for s in exported["schedules"]] == ["red"]
    before = await snapshot(app)

    def doc(schedule: dict[str, Any], workflows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {"version": 1, "schedules": [schedule], "workflows": workflows or []}

    into_blue = cron_body(blue_wf, "sneaky", community_id="blue")
    status, answer = await call(client, "post", "/api/v1/schedules/import", doc(into_blue), red)
    assert status == 403 and answer["error"]["details"] == {"schedules[0].community_id": "outside your community"}
    blue_workflow = {"workflow_id": str(uuid.uuid4()), "name": "w", "community_id": "blue",
                     "steps": [{"action": "log", "message": "x"}]}
    status, answer = await call(client, "post", "/api/v1/schedules/import",
                                doc(cron_body(blue_workflow["workflow_id"], "x"), [blue_workflow]), red)
    assert status == 403 and "workflows[0].community_id" in answer["error"]["details"]
    # blue's workflow by id (not in the document): not visible to red
    for mode in ("create", "upsert"):
        status, answer = await call(client, "post", f"/api/v1/schedules/import?mode={mode}",
                                    doc(cron_body(blue_wf, "uses-blue")), red)
        assert status == 400 and "schedules[0].workflow_id" in answer["error"]["details"], answer
    assert await snapshot(app) == before

    # the same name as blue's schedule lands in red, beside it; blue's is untouched
    _, result = await call(client, "post", "/api/v1/schedules/import?mode=upsert",
                           doc(cron_body(red_wf, "same-name", cron_expression="5 5 * * *")), red, expect=200)
    assert result["created"] == ["same-name"]
    assert (await state(client, blue_s["schedule_id"], blue))["cron_expression"] == blue_s["cron_expression"]
    # a shared workflow is used as it is: a community key's upsert never changes it
    shared_entry = {"workflow_id": shared, "name": "shared", "community_id": None,
                    "steps": [{"action": "log", "message": "hijacked"}]}
    _, result = await call(client, "post", "/api/v1/schedules/import?mode=upsert",
                           doc(cron_body(shared, "on-shared"), [shared_entry]), red, expect=200)
    assert (result["workflows_created"], result["workflows_updated"]) == ([], [])
    _, wf = await call(client, "get", f"/api/v1/workflows/{shared}", expect=200)
    assert wf["steps"] == [{"action": "log", "message": "shared"}]
    _, page = await call(client, "get", "/api/v1/schedules?q=on-shared", headers=red, expect=200)
    assert [(s["community_id"], s["workflow_id"]) for s in page["items"]] == [("red", shared)]


@pytest.mark.parametrize("body,field", [
    (b"not json", "body"),
    (b'{"version": 2, "schedules": []}', "version"),
    (b'{"version": 1}', "schedules"),
    (b'{"version": 1, "schedules": {}}', "schedules"),
    (b'{"version": 1, "schedules": [], "extra": 1}', "extra"),
    (b'{"version": 1, "schedules": [3]}', "schedules[0]"),
    (b'{"version": 1, "schedules": [], "workflows": [{"name": "w"}]}', "workflows[0].workflow_id"),
    (b'{"version": 1, "schedules": [{"status": "sleeping"}]}', "schedules[0].status"),
    (b'{"version": 1, "schedules": [{"status": "active", "pause_reason": "why"}]}', "schedules[0].pause_reason"),
    (b'{"version": 1, "schedules": ["\\ud800"]}', "schedules[0]"),
])
async def test_a_malformed_document_is_400(app: Quart, client: Any, body: bytes, field: str) -> None:
    before = await snapshot(app)
    response = await client.post("/api/v1/schedules/import", data=body, headers=ADMIN)
    answer = json.loads(await response.get_data())
    assert response.status_code == 400, answer
    assert any(k.startswith(field) for k in answer["error"]["details"]), answer
    assert await snapshot(app) == before


async def test_an_import_takes_a_larger_body_than_other_routes(client: Any) -> None:
    json_headers = {**ADMIN, "Content-Type": "application/json"}
    padding = "x" * (2 * 1024 * 1024)
    body = json.dumps({"version": 1, "exported_at": padding, "schedules": []}).encode()
    response = await client.post("/api/v1/schedules/import", data=body, headers=ADMIN)
    assert response.status_code == 200, await response.get_data()
    response = await client.post("/api/v1/schedules/preview", data=body, headers=json_headers)
    assert response.status_code == 413
    huge = json.dumps({"version": 1, "exported_at": "x" * (17 * 1024 * 1024), "schedules": []}).encode()
    response = await client.post("/api/v1/schedules/import", data=huge, headers=ADMIN)
    answer = json.loads(await response.get_data())
    assert response.status_code == 413 and answer["error"]["details"]["limit"] == 16 * 1024 * 1024


async def test_an_export_over_the_cap_is_refused(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer_module, "MAX_EXPORT", 2)
    wf = await workflow(client)
    for n in range(3):
        await make(client, wf, f"s{n}", tags=["t"] if n else [])
    status, answer = await call(client, "get", "/api/v1/schedules/export")
    assert status == 400 and "3 schedules match" in answer["error"]["details"]["filter"]
    _, document = await call(client, "get", "/api/v1/schedules/export?tag=t", expect=200)
    assert [s["name"] for s in document["schedules"]] == ["s1", "s2"]
