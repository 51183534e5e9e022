"""The v1 API through the Quart test client (the app's real lifecycle runs: migrations, loop)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from quart import Quart

from workflow_core_module.app import create_app
from workflow_core_module.clock import ManualClock
from workflow_core_module.db.database import Database

from .conftest import make_settings
from .harness import until
from .processes import ROOT

ADMIN = {"X-API-Key": "admin-secret"}


@pytest.fixture
async def app(database: Database, clock: ManualClock) -> AsyncIterator[Quart]:
    """The app on a manual clock (conftest.START) that tests read and move: nothing here depends
    on the wall clock. It serves an empty database (conftest's `database`, emptied before the app
    starts and again after it stopped, never under its scheduler: see conftest._truncate)."""
    settings = make_settings(database.url, admin_api_key="admin-secret", max_schedules_per_community=5,
                             log_level="WARNING")
    application = create_app(settings, clock=clock)
    async with application.test_app():
        loop = application.extensions["runtime"].scheduler.loop
        assert loop is not None
        await loop.heartbeat()  # listed among the replicas before the first request
        await until(lambda: loop.last_pass_at is not None, what="the loop's first pass")  # healthy from then on
        yield application


@pytest.fixture
def client(app: Quart) -> Any:
    return app.test_client()


async def call(client: Any, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
               expect: int | None = None) -> tuple[int, Any]:
    kwargs: dict[str, Any] = {"headers": ADMIN if headers is None else headers}
    if body is not None:
        kwargs["json"] = body
    response = await getattr(client, method)(path, **kwargs)
    data = await response.get_data()
    parsed = json.loads(data) if data and response.content_type.startswith("application/json") else data
    if expect is not None:
        assert response.status_code == expect, (response.status_code, parsed)
    return response.status_code, parsed


async def workflow(client: Any, name: str = "wf", community: str | None = None, headers: dict[str, str] | None = None,
                   steps: list[dict[str, Any]] | None = None) -> str:
    body: dict[str, Any] = {"name": name, "steps": steps or [{"action": "log", "message": "hi"}]}
    if community:
        body["community_id"] = community
    _, data = await call(client, "post", "/api/v1/workflows", body, headers, expect=201)
    return str(data["workflow_id"])


def cron_body(wf: str, name: str = "nightly", **kw: Any) -> dict[str, Any]:
    return {"workflow_id": wf, "name": name, "schedule_type": "cron", "cron_expression": "0 9 * * 1-5",
            "timezone": "Europe/Berlin", **kw}


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


async def runs_ended(app: Quart, timeout_seconds: float = 10.0) -> None:
    """Wait until every schedule run and every execution this process started has ended and its
    end is recorded (the dispatcher and the workflow service are idle)."""
    runtime = app.extensions["runtime"]
    async with asyncio.timeout(timeout_seconds):
        await runtime.scheduler.dispatcher.idle()
        await runtime.workflows.idle()


async def sql(app: Quart, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of one SELECT (written with `?` markers) on the app's database."""
    database = app.extensions["runtime"].database
    return await database.read(lambda dal: [tuple(row) for row in dal.executesql(
        database.dialect.params(statement), placeholders=list(params))])


async def schedule_names(client: Any) -> set[str]:
    _, page = await call(client, "get", "/api/v1/schedules", expect=200)
    return {s["name"] for s in page["items"]}


# ---- schedules ---------------------------------------------------------------------------------

SCHEDULE_KEYS = {
    "schedule_id", "workflow_id", "community_id", "name", "description", "schedule_type", "cron_expression",
    "interval_seconds", "scheduled_time", "timezone", "start_date", "end_date", "is_active", "status",
    "next_execution_at", "last_execution_at", "last_execution_id", "last_run_status", "last_run_at",
    "max_executions", "execution_count",
    "grace_period_seconds", "overlap_policy", "jitter_seconds", "context_data", "tags", "callback_url",
    "created_by", "total_runs", "successful_runs", "failed_runs", "missed_runs", "created_at", "updated_at",
    "timeout_seconds", "max_retries", "retry_backoff_seconds", "pause_after_failures", "consecutive_failures",
    "alerts", "alert_state", "catchup_policy", "catchup_max", "rrule", "calendar_id", "after",
    "pause_reason", "paused_at", "paused_by", "paused_until", "timing_description"}


async def daily(client: Any) -> tuple[str, dict[str, Any]]:
    """A workflow, and a weekday cron schedule on it tagged "daily" (its id and its answer)."""
    wf = await workflow(client)
    _, created = await call(client, "post", "/api/v1/schedules", cron_body(wf, tags=["daily"], context_data={"a": 1}),
                            expect=201)
    return wf, created


async def test_create_answers_the_public_fields_and_the_next_run(client: Any) -> None:
    _, created = await daily(client)
    assert created["next_execution_at"].endswith(":00:00Z") and created["status"] == "active"
    assert created["next_execution_at"] == "2026-11-23T08:00:00Z"  # Monday 09:00 in Berlin, after START (a Sunday)
    assert created["timing_description"] == "At 09:00, Monday through Friday (Europe/Berlin)"
    assert "id" not in created and "deleted_at" not in created
    assert set(created) == SCHEDULE_KEYS


async def test_get_answers_zero_stats_for_a_schedule_never_run(client: Any) -> None:
    _, created = await daily(client)
    _, one = await call(client, "get", f"/api/v1/schedules/{created['schedule_id']}", expect=200)
    assert one["stats"] == {"total_runs": 0, "successful_runs": 0, "failed_runs": 0, "missed_runs": 0,
                            "success_rate": None, "avg_duration_ms": None}
    assert one["schedule_id"] == created["schedule_id"]


async def test_list_filters_by_tag(client: Any) -> None:
    wf, created = await daily(client)
    await call(client, "post", "/api/v1/schedules", cron_body(wf, "untagged"), expect=201)
    _, page = await call(client, "get", "/api/v1/schedules?tag=daily&limit=10", expect=200)
    assert (page["total"], page["limit"], page["offset"], len(page["items"])) == (1, 10, 0, 1)
    assert page["items"][0]["schedule_id"] == created["schedule_id"]


async def test_patch_changes_only_the_fields_sent(client: Any) -> None:
    _, created = await daily(client)
    _, patched = await call(client, "patch", f"/api/v1/schedules/{created['schedule_id']}",
                            {"name": "renamed", "cron_expression": "30 7 * * *"}, expect=200)
    assert patched["name"] == "renamed" and patched["cron_expression"] == "30 7 * * *"
    assert (patched["timezone"], patched["tags"], patched["context_data"]) == ("Europe/Berlin", ["daily"], {"a": 1})


async def test_put_replaces_every_field_with_defaults_for_those_left_out(client: Any) -> None:
    wf, created = await daily(client)
    _, replaced = await call(client, "put", f"/api/v1/schedules/{created['schedule_id']}",
                             {"workflow_id": wf, "name": "again", "schedule_type": "interval", "interval_seconds": 600},
                             expect=200)
    assert replaced["schedule_type"] == "interval" and replaced["tags"] == [] and replaced["timezone"] == "UTC"
    assert replaced["cron_expression"] is None and replaced["context_data"] == {}


async def test_delete_is_soft_it_hides_the_schedule_and_keeps_the_row(client: Any, app: Quart) -> None:
    _, created = await daily(client)
    sid = created["schedule_id"]
    status, body = await call(client, "delete", f"/api/v1/schedules/{sid}")
    assert status == 204 and body == b""
    await call(client, "get", f"/api/v1/schedules/{sid}", expect=404)
    [(deleted_at,)] = await sql(app, "SELECT deleted_at FROM workflow_schedules WHERE schedule_id = ?", sid)
    assert deleted_at is not None


async def test_hard_delete_removes_the_schedule_and_its_history(client: Any, app: Quart) -> None:
    wf = await workflow(client)
    _, gone = await call(client, "post", "/api/v1/schedules", cron_body(wf, "gone"), expect=201)
    sid = gone["schedule_id"]
    await call(client, "post", f"/api/v1/schedules/{sid}/run", expect=202)
    await runs_ended(app)
    _, history = await call(client, "get", f"/api/v1/schedules/{sid}/history", expect=200)
    assert history["total"] == 1
    await call(client, "delete", f"/api/v1/schedules/{sid}?hard=true", expect=204)
    await call(client, "get", f"/api/v1/schedules/{sid}/history", expect=404)
    assert await sql(app, "SELECT id FROM workflow_schedules WHERE schedule_id = ?", sid) == []
    assert await sql(app, "SELECT id FROM workflow_schedule_runs WHERE schedule_id = ?", sid) == []


async def test_list_limits_and_filters(client: Any) -> None:
    wf = await workflow(client)
    for i in range(3):
        await call(client, "post", "/api/v1/schedules", cron_body(wf, f"report-{i}"), expect=201)
    _, page = await call(client, "get", "/api/v1/schedules?limit=2&offset=1", expect=200)
    assert [s["name"] for s in page["items"]] == ["report-1", "report-2"] and page["total"] == 3
    _, default = await call(client, "get", "/api/v1/schedules", expect=200)
    assert default["limit"] == 50
    _, by_wf = await call(client, "get", f"/api/v1/schedules/workflow/{wf}", expect=200)
    assert by_wf["total"] == 3
    for bad in ("limit=501", "limit=0", "offset=-1", "status=sleeping", "schedule_type=weekly"):
        status, err = await call(client, "get", f"/api/v1/schedules?{bad}")
        assert status == 400 and err["error"]["code"] == "invalid_input", bad


async def test_preview_and_next(client: Any, clock: ManualClock) -> None:
    _, preview = await call(client, "post", "/api/v1/schedules/preview",
                            {"schedule_type": "cron", "cron_expression": "0 9 * * 1-5", "timezone": "UTC", "count": 5},
                            expect=200)
    assert preview["description"] == "At 09:00, Monday through Friday"
    assert len(preview["times"]) == 5 and all(t.endswith("T09:00:00Z") for t in preview["times"])
    start = clock.now() + timedelta(days=30)
    _, windowed = await call(client, "post", "/api/v1/schedules/preview",
                             {"schedule_type": "interval", "interval_seconds": 3600, "start_date": iso(start),
                              "end_date": iso(start + timedelta(hours=2)), "count": 10}, expect=200)
    assert windowed["times"] == [iso(start + timedelta(hours=h)) for h in range(3)]
    status, err = await call(client, "post", "/api/v1/schedules/preview",
                             {"schedule_type": "cron", "cron_expression": "0 9 * * 1-5", "count": 101})
    assert status == 400 and "count" in err["error"]["details"]
    wf = await workflow(client)
    _, created = await call(client, "post", "/api/v1/schedules", cron_body(wf), expect=201)
    _, nxt = await call(client, "get", f"/api/v1/schedules/{created['schedule_id']}/next?count=3", expect=200)
    assert len(nxt["times"]) == 3 and nxt["times"][0] == created["next_execution_at"]
    await call(client, "get", f"/api/v1/schedules/{created['schedule_id']}/next?count=0", expect=400)
    _, listed = await call(client, "get", "/api/v1/schedules", expect=200)
    assert listed["total"] == 1  # preview saved nothing


async def test_pause_resume_run_and_history(client: Any, app: Quart) -> None:
    wf = await workflow(client, steps=[{"action": "log", "message": "run {{ trigger.run_id }}"}])
    _, created = await call(client, "post", "/api/v1/schedules", cron_body(wf), expect=201)
    sid = created["schedule_id"]
    _, paused = await call(client, "post", f"/api/v1/schedules/{sid}/pause", expect=200)
    assert paused["status"] == "paused" and paused["next_execution_at"] is None
    _, resumed = await call(client, "post", f"/api/v1/schedules/{sid}/resume", expect=200)
    assert resumed["status"] == "active" and resumed["next_execution_at"]
    _, started = await call(client, "post", f"/api/v1/schedules/{sid}/run", expect=202)
    assert set(started) == {"run_id", "execution_id"}
    await runs_ended(app)
    _, history = await call(client, "get", f"/api/v1/schedules/{sid}/history", expect=200)
    [run] = history["items"]
    assert set(run) == {"run_id", "execution_id", "scheduled_for", "fired_at", "finished_at", "status", "attempt",
                        "error", "note", "duration_ms", "trigger"}
    assert (run["run_id"], run["execution_id"], run["trigger"], run["status"]) == (
        started["run_id"], started["execution_id"], "manual", "completed")
    _, execution = await call(client, "get", f"/api/v1/executions/{started['execution_id']}", expect=200)
    assert execution["status"] == "completed" and execution["step_results"][0]["output"]["message"].startswith("run ")
    _, filtered = await call(client, "get", f"/api/v1/schedules/{sid}/history?status=failed", expect=200)
    assert filtered["total"] == 0
    _, detail = await call(client, "get", f"/api/v1/schedules/{sid}", expect=200)
    assert detail["stats"]["successful_runs"] == 1 and detail["stats"]["success_rate"] == 1.0
    assert (detail["last_run_status"], detail["last_run_at"]) == ("completed", run["finished_at"])


async def test_history_pages_newest_first(client: Any, app: Quart, clock: ManualClock) -> None:
    wf = await workflow(client)
    _, created = await call(client, "post", "/api/v1/schedules", cron_body(wf), expect=201)
    sid = created["schedule_id"]
    started = []
    for _ in range(5):
        _, run = await call(client, "post", f"/api/v1/schedules/{sid}/run", expect=202)
        started.append(run["run_id"])
        await runs_ended(app)
        clock.advance(1)  # one after the other: each fired a second after the one before
    newest_first = started[::-1]
    pages = []
    for offset in (0, 2, 4, 6):
        _, page = await call(client, "get", f"/api/v1/schedules/{sid}/history?limit=2&offset={offset}", expect=200)
        assert (page["total"], page["limit"], page["offset"]) == (5, 2, offset)
        pages.append([r["run_id"] for r in page["items"]])
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:], []]
    _, completed = await call(client, "get", f"/api/v1/schedules/{sid}/history?status=completed&limit=3&offset=3",
                              expect=200)
    assert completed["total"] == 5 and [r["run_id"] for r in completed["items"]] == newest_first[3:]
    for bad in ("limit=0", "limit=501", "offset=-1"):
        assert (await call(client, "get", f"/api/v1/schedules/{sid}/history?{bad}"))[0] == 400, bad


async def test_a_community_key_reads_only_its_own_executions(client: Any, app: Quart) -> None:
    """An execution id is not a secret: another community's key gets the same 404 as for an id
    that does not exist; the owner and the global key read it."""
    runtime = app.extensions["runtime"]
    _, red_key = await runtime.keys.create("red-bot", "red", runtime.clock.now())
    _, blue_key = await runtime.keys.create("blue-bot", "blue", runtime.clock.now())
    red, blue = {"X-API-Key": red_key}, {"X-API-Key": blue_key}
    red_wf = await workflow(client, "red-wf", headers=red)
    _, direct = await call(client, "post", f"/api/v1/workflows/{red_wf}/execute", headers=red, expect=202)
    _, schedule = await call(client, "post", "/api/v1/schedules", cron_body(red_wf, "r"), red, expect=201)
    _, manual = await call(client, "post", f"/api/v1/schedules/{schedule['schedule_id']}/run", headers=red,
                           expect=202)
    _, unknown = await call(client, "get", "/api/v1/executions/00000000-0000-4000-8000-000000000000", headers=blue,
                            expect=404)
    for execution_id in (direct["execution_id"], manual["execution_id"]):
        status, body = await call(client, "get", f"/api/v1/executions/{execution_id}", headers=blue)
        assert status == 404 and body["error"]["code"] == unknown["error"]["code"], body
        for owner in (red, ADMIN):
            _, seen = await call(client, "get", f"/api/v1/executions/{execution_id}", headers=owner, expect=200)
            assert seen["execution_id"] == execution_id and seen["workflow_id"] == red_wf
    await runs_ended(app)
    for execution_id in (direct["execution_id"], manual["execution_id"]):
        _, ended = await call(client, "get", f"/api/v1/executions/{execution_id}", headers=red, expect=200)
        assert ended["status"] == "completed", ended


async def test_status_endpoint(client: Any) -> None:
    wf = await workflow(client)
    _, created = await call(client, "post", "/api/v1/schedules", cron_body(wf), expect=201)
    _, status = await call(client, "get", "/api/v1/schedules/status", expect=200)
    assert status["running"] is True and status["active_schedules"] == 1
    assert status["next_due"] == {"schedule_id": created["schedule_id"], "name": "nightly",
                                  "at": created["next_execution_at"]}
    assert status["last_pass_at"] and len(status["replicas"]) == 1
    assert status["recent_failures"] == []


# ---- workflows and executions -------------------------------------------------------------

async def test_workflows_crud_and_execute(client: Any, app: Quart) -> None:
    wf = await workflow(client, "hello")
    _, got = await call(client, "get", f"/api/v1/workflows/{wf}", expect=200)
    assert got["name"] == "hello" and got["steps"] == [{"action": "log", "message": "hi"}]
    _, page = await call(client, "get", "/api/v1/workflows", expect=200)
    assert page["total"] == 1
    _, replaced = await call(client, "put", f"/api/v1/workflows/{wf}",
                             {"name": "hello2", "steps": [{"action": "delay", "seconds": 0}], "is_active": True},
                             expect=200)
    assert replaced["name"] == "hello2"
    _, started = await call(client, "post", f"/api/v1/workflows/{wf}/execute", {"context_data": {"x": 1}}, expect=202)
    _, bare = await call(client, "post", f"/api/v1/workflows/{wf}/execute", expect=202)
    await runs_ended(app)
    for execution_id in (started["execution_id"], bare["execution_id"]):
        _, execution = await call(client, "get", f"/api/v1/executions/{execution_id}", expect=200)
        assert execution["status"] == "completed" and execution["trigger"] == "api"
    _, s = await call(client, "post", "/api/v1/schedules", cron_body(wf), expect=201)
    status, err = await call(client, "delete", f"/api/v1/workflows/{wf}")
    assert status == 409 and "used by 1" in err["error"]["message"]
    await call(client, "delete", f"/api/v1/schedules/{s['schedule_id']}", expect=204)
    assert (await call(client, "delete", f"/api/v1/workflows/{wf}"))[0] == 204
    await call(client, "get", f"/api/v1/workflows/{wf}", expect=404)


@pytest.mark.parametrize(
    ("steps", "field"),
    [
        ([{"action": "nope"}], "steps[0].action"),
        ([{"action": "http_request"}], "steps[0].url"),
        ([{"action": "command", "name": "deploy"}], "steps[0].name"),
        ([], "steps"),
    ],
)
async def test_bad_steps_are_400(client: Any, steps: Any, field: str) -> None:
    status, err = await call(client, "post", "/api/v1/workflows", {"name": "w", "steps": steps})
    assert status == 400 and field in err["error"]["details"], err


# ---- errors ----------------------------------------------------------------------------------------

def _past_one_time(wf: str, now: datetime) -> Any:
    return {"workflow_id": wf, "name": "x", "schedule_type": "one_time",
            "scheduled_time": iso(now - timedelta(hours=1))}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (lambda wf, now: {"workflow_id": wf}, {"name"}),
        (lambda wf, now: {"workflow_id": wf, "name": "x"}, {"schedule_type"}),  # or `when`, in words
        (lambda wf, now: cron_body(wf, "x", interval_seconds="60"), {"interval_seconds"}),
        (lambda wf, now: cron_body(wf, "x", surprise=True), {"surprise"}),
        (lambda wf, now: cron_body(wf, "x", cron_expression="0 25 * * *"), {"cron_expression"}),
        (lambda wf, now: cron_body(wf, "x", timezone="Mars/Base"), {"timezone"}),
        (lambda wf, now: {"workflow_id": wf, "name": "x", "schedule_type": "interval", "interval_seconds": 5},
         {"interval_seconds"}),
        (_past_one_time, {"scheduled_time"}),
        (lambda wf, now: [1, 2, 3], {"body"}),
        (lambda wf, now: "just a string", {"body"}),
    ],
    ids=["missing-name", "missing-type", "string-for-int", "unknown-field", "bad-cron", "unknown-zone", "interval-too-short",
         "one-time-in-the-past", "array-body", "string-body"],
)
async def test_a_wrong_schedule_body_is_400_naming_each_field_and_writes_nothing(
        client: Any, clock: ManualClock, body: Any, fields: set[str]) -> None:
    wf = await workflow(client)
    sent = body(wf, clock.now())
    status, err = await call(client, "post", "/api/v1/schedules", sent)
    assert status == 400, (sent, err)
    assert set(err["error"]) == {"code", "message", "details"} and err["error"]["code"] == "invalid_input"
    assert fields <= set(err["error"]["details"]), (sent, err)
    assert await schedule_names(client) == set()  # nothing rejected was written


async def test_malformed_json_is_400(client: Any) -> None:
    response = await client.post("/api/v1/schedules", data=b"{not json", headers={**ADMIN,
                                                                                 "Content-Type": "application/json"})
    assert response.status_code == 400
    assert (await response.get_json())["error"]["code"] == "invalid_input"
    assert await schedule_names(client) == set()


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}], ids=["no-key", "wrong-key"])
async def test_a_missing_or_wrong_key_is_401(client: Any, headers: dict[str, str]) -> None:
    assert (await call(client, "get", "/api/v1/schedules", headers=headers))[0] == 401


@pytest.mark.parametrize("path", ["/api/v1/schedules/not-a-uuid", "/api/v1/executions/00000000-0000-4000-8000-000000000000",
                                  "/api/v1/nothing-here"])
async def test_an_unknown_id_or_path_is_404(client: Any, path: str) -> None:
    assert (await call(client, "get", path))[0] == 404


async def test_a_method_a_path_does_not_take_is_405(client: Any) -> None:
    assert (await call(client, "patch", "/api/v1/schedules", {}))[0] == 405


@pytest.mark.parametrize("method,path,allowed", [
    ("get", "/api/v1/schedules/bulk", {"POST"}), ("delete", "/api/v1/schedules/bulk", {"POST"}),
    ("get", "/api/v1/schedules/import", {"POST"}), ("get", "/api/v1/schedules/preview", {"POST"}),
    ("patch", "/api/v1/schedules/status", {"GET"}), ("post", "/api/v1/schedules/export", {"GET"}),
])
async def test_the_collections_own_words_are_not_schedule_ids(client: Any, method: str, path: str,
                                                              allowed: set[str]) -> None:
    """GET /schedules/bulk is a method bulk does not take (405, saying which it does), not a lookup of a
    schedule called "bulk" (404)."""
    response = await getattr(client, method)(path, headers=ADMIN, json={} if method != "get" else None)
    assert response.status_code == 405, (path, await response.get_data())
    assert allowed <= set(response.headers["Allow"].replace(" ", "").split(","))
    assert (await response.get_json())["error"]["code"] == "method_not_allowed"


async def test_bringing_back_a_finished_schedule_counts_toward_the_quota(client: Any, clock: ManualClock) -> None:
    """Re-activating a completed schedule by changing its timing takes a place, as creating one does
    (the app's quota here is 5 per community)."""
    wf = await workflow(client)
    once = {"workflow_id": wf, "name": "once", "schedule_type": "one_time", "community_id": "c1",
            "scheduled_time": iso(clock.now() + timedelta(seconds=30))}
    _, one = await call(client, "post", "/api/v1/schedules", once, expect=201)
    path = f"/api/v1/schedules/{one['schedule_id']}"
    due = clock.now() + timedelta(seconds=30)
    await until(lambda: due in clock.sleeping_until(), what="the loop to wait for the schedule")
    clock.advance(30)  # the loop fires it: completed, it no longer counts
    await until(lambda: _status(client, path, "completed"), what="the one-time schedule to complete")
    for i in range(5):
        await call(client, "post", "/api/v1/schedules", cron_body(wf, f"s{i}", community_id="c1"), expect=201)
    again = {"scheduled_time": iso(clock.now() + timedelta(hours=1))}
    for method, body in (("patch", again), ("put", once | again)):
        status, err = await call(client, method, path, body)
        assert status == 409 and err["error"]["code"] == "limit_exceeded", err
        assert (await call(client, "get", path))[1]["status"] == "completed"  # nothing changed
    assert (await call(client, "patch", path, {"name": "renamed"}))[1]["status"] == "completed"  # no place needed
    _, listed = await call(client, "get", "/api/v1/schedules?q=s0")
    await call(client, "delete", f"/api/v1/schedules/{listed['items'][0]['schedule_id']}", expect=204)
    _, back = await call(client, "patch", path, again, expect=200)
    assert back["status"] == "active" and back["next_execution_at"] == again["scheduled_time"]


async def _status(client: Any, path: str, wanted: str) -> bool:
    return bool((await call(client, "get", path))[1]["status"] == wanted)


async def test_a_name_in_use_is_409_and_the_first_schedule_stays(client: Any) -> None:
    wf = await workflow(client)
    _, created = await call(client, "post", "/api/v1/schedules", cron_body(wf, "taken"), expect=201)
    status, err = await call(client, "post", "/api/v1/schedules", cron_body(wf, "taken"))
    assert status == 409 and err["error"]["details"] == {"name": "already in use"}
    assert await schedule_names(client) == {"taken"}
    assert (await call(client, "get", f"/api/v1/schedules/{created['schedule_id']}"))[0] == 200


async def test_resuming_an_expired_schedule_is_409(client: Any, app: Quart, clock: ManualClock) -> None:
    wf = await workflow(client)
    once = {"workflow_id": wf, "name": "once", "schedule_type": "one_time",
            "scheduled_time": iso(clock.now() + timedelta(hours=1))}
    _, one = await call(client, "post", "/api/v1/schedules", once, expect=201)
    database = app.extensions["runtime"].database
    await database.write(lambda dal: dal.executesql(database.dialect.params(
        "UPDATE workflow_schedules SET status = 'expired', is_active = ?, next_execution_at = NULL "
        "WHERE schedule_id = ?"), placeholders=[database.dialect.false, one["schedule_id"]]))
    status, err = await call(client, "post", f"/api/v1/schedules/{one['schedule_id']}/resume")
    assert status == 409 and "expired" in err["error"]["message"]


async def test_a_body_over_one_mib_is_413_and_writes_nothing(client: Any) -> None:
    wf = await workflow(client)
    big = cron_body(wf, "big", context_data={"blob": "x" * (1024 * 1024 + 10)})
    status, err = await call(client, "post", "/api/v1/schedules", big)
    assert status == 413 and err["error"]["code"] == "payload_too_large"
    assert await schedule_names(client) == set()


async def test_unauthenticated_probes_and_docs(client: Any) -> None:
    for path in ("/health", "/api/v1/health", "/metrics", "/openapi.json", "/docs"):
        response = await client.get(path)
        assert response.status_code == 200, path
    health = await (await client.get("/api/v1/health")).get_json()
    assert health["status"] == "healthy"
    assert set(health["checks"]) == {"database", "redis", "scheduler"}
    assert set(health["checks"]["scheduler"]) >= {"running", "last_pass_at", "lag_seconds"}
    spec = await (await client.get("/openapi.json")).get_json()
    assert {"/api/v1/schedules", "/api/v1/schedules/{schedule_id}/history", "/api/v1/workflows/{workflow_id}/execute",
            "/api/v1/executions/{execution_id}"} <= set(spec["paths"])
    create = spec["paths"]["/api/v1/schedules"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert create["title"] == "ScheduleCreate" and create["additionalProperties"] is False
    assert set(create["required"]) == {"workflow_id", "name"}  # schedule_type, or `when` in words
    page = (await (await client.get("/docs")).get_data()).decode()
    assert "/api/v1/schedules/{schedule_id}/run" in page and "<script" not in page
    assert "cron_expression" in page and "ScheduleCreate" in page  # request bodies are described


async def test_metrics_count_requests_and_runs(client: Any, app: Quart) -> None:
    wf = await workflow(client)
    _, created = await call(client, "post", "/api/v1/schedules", cron_body(wf), expect=201)
    await call(client, "post", f"/api/v1/schedules/{created['schedule_id']}/run", expect=202)
    await runs_ended(app)  # the run's end, and so its count, is recorded before its task ends
    text = (await (await client.get("/metrics")).get_data()).decode()
    assert "wcm_active_schedules 1.0" in text
    assert 'wcm_http_requests_total{method="POST",route="/api/v1/schedules",status="201"} 1.0' in text
    assert 'wcm_runs_total{status="completed"} 1.0' in text
    assert "wcm_scheduler_pass_duration_seconds_count" in text and "wcm_fire_lag_seconds_bucket" in text


async def test_unhealthy_when_the_database_is_gone(app: Quart, client: Any) -> None:
    runtime = app.extensions["runtime"]

    async def broken(*args: Any) -> Any:
        raise ConnectionError("database unreachable")

    original = runtime.database.read
    runtime.database.read = broken
    try:
        response = await client.get("/api/v1/health")
        body = await response.get_json()
    finally:
        runtime.database.read = original
    assert response.status_code == 503 and body["status"] == "unhealthy"
    assert body["checks"]["database"]["status"] == "error"


# ---- API keys and community isolation ------------------------------------------------------------

def cli(db_url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    result = subprocess.run([sys.executable, "-m", "workflow_core_module", *args], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_community_isolation_with_cli_keys(database_url: str) -> None:
    red = {"X-API-Key": cli(database_url, "keys", "create", "--name", "red-bot", "--community", "red").splitlines()[-1]}
    blue = {"X-API-Key": cli(database_url, "keys", "create", "--name", "blue-bot", "--community", "blue").splitlines()[-1]}
    assert "red-bot" in cli(database_url, "keys", "list")
    application = create_app(make_settings(database_url, admin_api_key="admin-secret", log_level="WARNING"))
    async with application.test_app():
        client = application.test_client()
        shared = await workflow(client, "shared")  # admin: no community
        red_wf = await workflow(client, "red-wf", headers=red)
        _, red_wf_row = await call(client, "get", f"/api/v1/workflows/{red_wf}", headers=red, expect=200)
        assert red_wf_row["community_id"] == "red"
        _, red_s = await call(client, "post", "/api/v1/schedules", cron_body(red_wf, "r"), red, expect=201)
        assert red_s["community_id"] == "red" and red_s["created_by"] == "red-bot"
        _, on_shared = await call(client, "post", "/api/v1/schedules", cron_body(shared, "r2"), red, expect=201)
        sid = red_s["schedule_id"]
        # blue sees none of red's rows
        for path in (f"/api/v1/schedules/{sid}", f"/api/v1/schedules/{sid}/history", f"/api/v1/workflows/{red_wf}",
                     f"/api/v1/schedules/{sid}/next"):
            assert (await call(client, "get", path, headers=blue))[0] == 404, path
        for path in (f"/api/v1/schedules/{sid}/pause", f"/api/v1/schedules/{sid}/run"):
            assert (await call(client, "post", path, headers=blue))[0] == 404, path
        assert (await call(client, "delete", f"/api/v1/schedules/{sid}", headers=blue))[0] == 404
        _, blue_list = await call(client, "get", "/api/v1/schedules", headers=blue, expect=200)
        assert blue_list["total"] == 0
        # blue may not create in red's community, nor change the shared workflow, nor use red's workflow
        assert (await call(client, "post", "/api/v1/schedules", cron_body(shared, "b", community_id="red"), blue))[0] == 403
        assert (await call(client, "post", "/api/v1/schedules", cron_body(red_wf, "b"), blue))[0] == 400
        assert (await call(client, "put", f"/api/v1/workflows/{shared}",
                           {"name": "mine", "steps": [{"action": "log", "message": "x"}]}, blue))[0] == 403
        _, blue_wfs = await call(client, "get", "/api/v1/workflows", headers=blue, expect=200)
        assert [w["name"] for w in blue_wfs["items"]] == ["shared"]
        # the admin sees both; audit rows carry the key's name
        _, all_rows = await call(client, "get", "/api/v1/schedules", expect=200)
        assert all_rows["total"] == 2 and on_shared["community_id"] == "red"
        runtime = application.extensions["runtime"]
        actors = {r[0] for r in await runtime.database.read(lambda dal: dal.executesql("SELECT actor FROM audit_log"))}
        assert {"red-bot", "admin", "cli"} <= actors
    cli(database_url, "keys", "revoke", "red-bot")
    application = create_app(make_settings(database_url, admin_api_key="admin-secret", log_level="WARNING"))
    async with application.test_app():
        assert (await call(application.test_client(), "get", "/api/v1/schedules", headers=red))[0] == 401


async def test_first_start_generates_and_prints_an_admin_key(tmp_path: Path) -> None:
    from .processes import ServeProcess

    env = {"DATABASE_URL": f"sqlite://{tmp_path}/db.sqlite", "ADMIN_API_KEY": ""}
    first = ServeProcess(env, cwd=tmp_path)
    with first:
        pass
    printed = [line.strip() for line in first.logs().splitlines() if line.strip().startswith("wcm_")]
    assert len(printed) == 1
    second = ServeProcess(env, cwd=tmp_path)
    with second:
        import urllib.request

        request = urllib.request.Request(second.url + "/api/v1/schedules", headers={"X-API-Key": printed[0]})
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
    assert not [line for line in second.logs().splitlines() if line.strip().startswith("wcm_")]
    import sqlite3

    stored = sqlite3.connect(tmp_path / "db.sqlite").execute("SELECT * FROM api_keys").fetchall()
    assert len(stored) == 1 and printed[0] not in repr(stored)  # only the hash is kept


async def test_preview_reports_same_minute_overlaps_and_whoami(client: Any) -> None:
    wf = await workflow(client)
    _, daily = await call(client, "post", "/api/v1/schedules", cron_body(wf, "daily", cron_expression="0 9 * * *"),
                          expect=201)
    spec = {"workflow_id": wf, "schedule_type": "cron", "cron_expression": "0 9 * * 1-5", "timezone": "Europe/Berlin",
            "count": 1}
    _, preview = await call(client, "post", "/api/v1/schedules/preview", spec, expect=200)
    [overlap] = preview["overlaps"]
    assert overlap["schedule_id"] == daily["schedule_id"] and overlap["minutes"] == 5  # five weekdays in 7 days
    _, other_minute = await call(client, "post", "/api/v1/schedules/preview", spec | {"cron_expression": "1 9 * * *"},
                                 expect=200)
    assert other_minute["overlaps"] == []
    _, itself = await call(client, "post", "/api/v1/schedules/preview", spec | {"schedule_id": daily["schedule_id"]},
                           expect=200)
    assert itself["overlaps"] == []
    _, me = await call(client, "get", "/api/v1/whoami", expect=200)
    assert me == {"name": "admin", "community_id": None, "is_global": True}
    assert (await call(client, "get", "/api/v1/whoami", headers={}))[0] == 401


@pytest.mark.parametrize("path", [
    "/api/v1/schedules?q=%00", "/api/v1/schedules?tag=a%00b", "/api/v1/schedules?workflow_id=%00",
    "/api/v1/schedules?community_id=%01", "/api/v1/schedules/export?q=%00", "/api/v1/schedules?q=" + "x" * 201,
])
async def test_a_list_filter_with_a_control_character_or_too_long_is_400(client: Any, path: str) -> None:
    status, err = await call(client, "get", path)
    assert status == 400 and err["error"]["code"] == "invalid_input", err


async def test_a_bulk_filter_with_a_nul_is_400(client: Any) -> None:
    status, err = await call(client, "post", "/api/v1/schedules/bulk", {"action": "pause", "filter": {"q": "\x00"}})
    assert status == 400 and [k for k in err["error"]["details"] if k.endswith("q")], err


@pytest.mark.parametrize("path,body", [
    ("/api/v1/execute", {"command": "!schedule", "args": "list", "community_id": "c\x00"}),
    ("/api/v1/schedules", {"name": "x", "schedule_type": "cron", "cron_expression": "0 9 * * *",
                           "workflow_id": "00000000-0000-4000-8000-000000000000", "context_data": {"a": "b\x00"}}),
])
async def test_a_nul_anywhere_in_a_body_is_400_on_every_database(client: Any, path: str, body: Any) -> None:
    status, err = await call(client, "post", path, body)
    assert status == 400 and err["error"]["code"] == "invalid_input", err  # the router's envelope has no details


async def test_status_for_a_community_key_counts_names_and_lists_only_its_own(client: Any, app: Quart) -> None:
    """The status panel of a community key: its active schedules, its soonest run and its newest
    failures (at most 10, newest first, every field), none of another community's."""
    runtime = app.extensions["runtime"]
    database = runtime.database
    _, red_key = await runtime.keys.create("red-bot", "red", runtime.clock.now())
    _, blue_key = await runtime.keys.create("blue-bot", "blue", runtime.clock.now())
    red, blue = {"X-API-Key": red_key}, {"X-API-Key": blue_key}
    red_wf, blue_wf = await workflow(client, "red-wf", headers=red), await workflow(client, "blue-wf", headers=blue)
    made = {}
    for headers, wf, name, cron in ((red, red_wf, "red-late", "0 22 * * *"), (red, red_wf, "red-soon", "0 14 * * *"),
                                    (blue, blue_wf, "blue-sooner", "0 13 * * *"), (blue, blue_wf, "blue-b", "0 15 * * *"),
                                    (blue, blue_wf, "blue-c", "0 16 * * *")):
        _, made[name] = await call(client, "post", "/api/v1/schedules",
                                   cron_body(wf, name, cron_expression=cron, timezone="UTC"), headers, expect=201)
    # failed runs: 12 of red-soon, then one of blue-b (newest of all)
    failed = [(f"00000000-0000-4000-8000-{i:012d}", made["red-soon"]["schedule_id"], red_wf, i) for i in range(12)]
    failed.append(("00000000-0000-4000-8000-999999999999", made["blue-b"]["schedule_id"], blue_wf, 12))

    def insert(dal: Any) -> None:
        for run_id, schedule_id, wf, i in failed:
            dal.executesql(database.dialect.params(
                "INSERT INTO workflow_schedule_runs (run_id, schedule_id, workflow_id, scheduled_for, finished_at, "
                "status, error, \"trigger\") VALUES (?, ?, ?, ?, ?, ?, ?, 'schedule')"),
                placeholders=[run_id, schedule_id, wf, database.dialect.ts(datetime(2026, 11, 21, i)),
                              database.dialect.ts(datetime(2026, 11, 21, i, 0, 5)),
                              "timed_out" if i % 2 else "failed", f"boom {i}"])

    await database.write(insert)
    _, mine = await call(client, "get", "/api/v1/schedules/status", headers=red, expect=200)
    assert mine["active_schedules"] == 2
    assert mine["next_due"] == {"schedule_id": made["red-soon"]["schedule_id"], "name": "red-soon",
                                "at": "2026-11-22T14:00:00Z"}
    assert len(mine["recent_failures"]) == 10
    assert mine["recent_failures"][0] == {
        "run_id": "00000000-0000-4000-8000-000000000011", "schedule_id": made["red-soon"]["schedule_id"],
        "name": "red-soon", "status": "timed_out", "error": "boom 11", "scheduled_for": "2026-11-21T11:00:00Z",
        "finished_at": "2026-11-21T11:00:05Z"}
    assert [f["error"] for f in mine["recent_failures"]] == [f"boom {i}" for i in range(11, 1, -1)]
    _, theirs = await call(client, "get", "/api/v1/schedules/status", headers=blue, expect=200)
    assert theirs["active_schedules"] == 3 and theirs["next_due"]["name"] == "blue-sooner"
    assert [(f["name"], f["status"]) for f in theirs["recent_failures"]] == [("blue-b", "failed")]
    _, everyone = await call(client, "get", "/api/v1/schedules/status", headers=ADMIN, expect=200)
    assert everyone["active_schedules"] == 5 and everyone["next_due"]["name"] == "blue-sooner"
    assert everyone["recent_failures"][0]["name"] == "blue-b" and len(everyone["recent_failures"]) == 10
