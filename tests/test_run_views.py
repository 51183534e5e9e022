"""The dashboard's read-only views: the actions' schemas, one run with its steps (confined to its
community), the newest runs and the upcoming runs of the listed schedules, the status's next 3
runs and what a "when" phrase became in a preview."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from quart import Quart

from workflow_core_module.services.run_views import upcoming_runs

from .test_api import ADMIN, call, cron_body, runs_ended, workflow

FAIL_STEPS = [{"action": "log", "message": "first"},
              {"action": "http_request", "url": "{{ 'http://127.0.0.1:9/x' }}"}]  # refused when it runs


@pytest.fixture
def app_settings() -> dict[str, Any]:
    return {"workflow_retry_base_seconds": 0.0}  # a retry starts at once (the clock is manual)


@pytest.fixture
def client(app: Quart) -> Any:
    return app.test_client()


async def _keys(app: Quart) -> tuple[dict[str, str], dict[str, str]]:
    runtime = app.extensions["runtime"]
    _, red_key = await runtime.keys.create("red-bot", "red", runtime.clock.now())
    _, blue_key = await runtime.keys.create("blue-bot", "blue", runtime.clock.now())
    return {"X-API-Key": red_key}, {"X-API-Key": blue_key}


async def test_actions_lists_each_step_schema(client: Any) -> None:
    _, answer = await call(client, "get", "/api/v1/actions", expect=200)
    by_name = {a["action"]: a for a in answer["items"]}
    assert set(by_name) == {"http_request", "log", "delay", "command", "chat_message"}
    http = by_name["http_request"]["schema"]
    assert "url" in http["required"] and http["properties"]["method"]["enum"][:2] == ["GET", "POST"]
    assert by_name["delay"]["schema"]["properties"]["seconds"]["maximum"] == 86400
    assert by_name["http_request"]["fields"] == ["action", "url", "method", "headers", "body", "timeout_seconds",
                                                 "label"]  # declaration order, label last


async def test_a_run_shows_its_steps_and_no_other_community_reads_it(client: Any, app: Quart) -> None:
    red, blue = await _keys(app)
    red_wf = await workflow(client, "red-wf", headers=red, steps=FAIL_STEPS)
    _, schedule = await call(client, "post", "/api/v1/schedules", cron_body(red_wf, "r", max_retries=0), red,
                               expect=201)
    _, started = await call(client, "post", f"/api/v1/schedules/{schedule['schedule_id']}/run", headers=red,
                            expect=202)
    await runs_ended(app)
    run_id = started["run_id"]
    _, unknown = await call(client, "get", "/api/v1/runs/00000000-0000-4000-8000-000000000000", headers=blue,
                            expect=404)
    status, stolen = await call(client, "get", f"/api/v1/runs/{run_id}", headers=blue)
    assert status == 404 and stolen["error"]["code"] == unknown["error"]["code"]  # as if it did not exist
    assert stolen["error"]["message"] == unknown["error"]["message"].replace(unknown["error"]["details"]["id"], run_id)
    assert run_id not in str(await call(client, "get", "/api/v1/schedules/recent-runs", headers=blue))
    for owner in (red, ADMIN):
        _, detail = await call(client, "get", f"/api/v1/runs/{run_id}", headers=owner, expect=200)
        assert detail["run"]["run_id"] == run_id and detail["run"]["trigger"] == "manual"
        assert detail["run"]["status"] == "failed" and detail["schedule"]["name"] == "r"
        assert detail["schedule"]["timezone"] == "Europe/Berlin"
        assert [a["attempt"] for a in detail["attempts"]] == [1] and detail["attempts"][0] == detail["execution"]
        steps = detail["execution"]["step_results"]
        assert [s["status"] for s in steps] == ["completed", "failed"]
        assert steps[0]["output"] == {"message": "first"} and "loopback" in steps[1]["error"]
    for bad in ("x" * 300, "%00", "..%2F..%2Fetc"):
        assert (await call(client, "get", f"/api/v1/runs/{bad}", headers=red))[0] == 404
    _, status_page = await call(client, "get", "/api/v1/schedules/status", headers=red, expect=200)
    assert [f["run_id"] for f in status_page["recent_failures"]] == [run_id]
    assert (await call(client, "get", "/api/v1/schedules/status", headers=blue))[1]["recent_failures"] == []


async def test_a_run_lists_each_attempt_with_its_steps(client: Any, app: Quart) -> None:
    red, _ = await _keys(app)
    wf = await workflow(client, "flaky", headers=red, steps=FAIL_STEPS)
    _, schedule = await call(client, "post", "/api/v1/schedules", cron_body(wf, "twice", max_retries=1), red,
                             expect=201)
    _, started = await call(client, "post", f"/api/v1/schedules/{schedule['schedule_id']}/run", headers=red,
                            expect=202)
    await runs_ended(app)
    _, detail = await call(client, "get", f"/api/v1/runs/{started['run_id']}", headers=red, expect=200)
    assert (detail["run"]["status"], detail["run"]["attempt"]) == ("failed", 2)
    attempts = detail["attempts"]
    assert [(a["attempt"], a["status"]) for a in attempts] == [(1, "failed"), (2, "failed")]
    assert len({a["execution_id"] for a in attempts}) == 2 and detail["execution"] == attempts[-1]
    assert all([s["status"] for s in a["step_results"]] == ["completed", "failed"] for a in attempts)


async def test_recent_runs_are_the_newest_ended_runs_of_the_listed_schedules(client: Any, app: Quart) -> None:
    red, blue = await _keys(app)
    wf = await workflow(client, "wf", headers=red)
    _, first = await call(client, "post", "/api/v1/schedules", cron_body(wf, "one"), red, expect=201)
    _, second = await call(client, "post", "/api/v1/schedules", cron_body(wf, "two"), red, expect=201)
    runs = []
    for _ in range(3):
        _, started = await call(client, "post", f"/api/v1/schedules/{first['schedule_id']}/run", headers=red,
                                expect=202)
        runs.append(started["run_id"])
        await runs_ended(app)
    _, answer = await call(client, "get", "/api/v1/schedules/recent-runs?runs=2", headers=red, expect=200)
    by_name = {i["name"]: i["runs"] for i in answer["items"]}
    assert [r["run_id"] for r in by_name["one"]] == runs[:0:-1]  # the newest two, newest first
    assert all(r["status"] == "completed" and r["duration_ms"] is not None for r in by_name["one"])
    assert by_name["two"] == []
    assert (await call(client, "get", "/api/v1/schedules/recent-runs", headers=blue))[1]["items"] == []
    _, filtered = await call(client, "get", "/api/v1/schedules/recent-runs?q=two", headers=red, expect=200)
    assert [i["schedule_id"] for i in filtered["items"]] == [second["schedule_id"]]
    assert (await call(client, "get", "/api/v1/schedules/recent-runs?runs=51"))[0] == 400


async def test_the_timeline_lists_each_listed_schedules_runs_in_the_window(client: Any, app: Quart) -> None:
    red, blue = await _keys(app)
    wf = await workflow(client, "wf", headers=red)
    await call(client, "post", "/api/v1/schedules", cron_body(wf, "hourly", cron_expression="0 * * * *",
                                                              timezone="UTC"), red, expect=201)
    await call(client, "post", "/api/v1/schedules", cron_body(wf, "thrice", cron_expression="0 * * * *",
                                                              timezone="UTC", max_executions=3), red, expect=201)
    _, paused = await call(client, "post", "/api/v1/schedules", cron_body(wf, "paused"), red, expect=201)
    await call(client, "post", f"/api/v1/schedules/{paused['schedule_id']}/pause", headers=red, expect=200)
    _, answer = await call(client, "get", "/api/v1/schedules/timeline?hours=48", headers=red, expect=200)
    now = app.extensions["runtime"].clock.now()
    assert answer["start"] == now.strftime("%Y-%m-%dT%H:%M:%SZ")
    times = {i["name"]: i["times"] for i in answer["items"]}
    assert set(times) == {"hourly", "thrice"}  # a paused schedule fires nothing
    assert len(times["hourly"]) == 48 and times["hourly"][0] == (now + timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:00:00Z")
    assert times["thrice"] == times["hourly"][:3] and answer["complete"] is True
    assert (await call(client, "get", "/api/v1/schedules/timeline", headers=blue))[1]["items"] == []
    for bad in ("hours=0", "hours=169", "limit=0", "status=nope"):
        assert (await call(client, "get", f"/api/v1/schedules/timeline?{bad}", headers=red))[0] == 400, bad


async def test_a_timeline_past_its_deadline_lists_the_rest_without_runs(client: Any, app: Quart) -> None:
    wf = await workflow(client)
    for name in ("first", "second"):
        await call(client, "post", "/api/v1/schedules", cron_body(wf, name, cron_expression="* * * * *"), expect=201)
    runtime = app.extensions["runtime"]
    schedules = list((await runtime.schedules.list_schedules()).items)
    now = runtime.clock.now()
    found, complete = upcoming_runs(schedules, now, now + timedelta(hours=1), deadline_seconds=0.0)
    assert [(u.schedule.name, u.times, u.complete) for u in found] == [("first", [], False), ("second", [], False)]
    assert complete is False
    found, complete = upcoming_runs(schedules, now, now + timedelta(hours=1))
    assert [len(u.times) for u in found] == [60, 60] and complete is True


async def test_status_lists_the_three_soonest_runs(client: Any, app: Quart) -> None:
    wf = await workflow(client)
    await call(client, "post", "/api/v1/schedules", cron_body(wf, "daily", cron_expression="0 9 * * *"),
               expect=201)
    await call(client, "post", "/api/v1/schedules", cron_body(wf, "halfhourly", cron_expression="*/30 * * * *",
                                                              timezone="UTC"), expect=201)
    _, status = await call(client, "get", "/api/v1/schedules/status", expect=200)
    now = app.extensions["runtime"].clock.now()  # conftest.START: a Sunday at 12:00 UTC
    assert now.minute == 0
    assert [(r["name"], r["at"]) for r in status["next_runs"]] == [
        ("halfhourly", (now + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ")) for m in (30, 60, 90)]
    assert status["next_runs"][0]["timezone"] == "UTC"


async def test_a_preview_with_when_answers_the_timing_it_read(client: Any) -> None:
    _, answer = await call(client, "post", "/api/v1/schedules/preview",
                           {"when": "every weekday at 9am", "timezone": "Europe/Berlin", "count": 3}, expect=200)
    assert answer["timing"] == {"schedule_type": "cron", "cron_expression": "0 9 * * 1-5"}
    _, answer = await call(client, "post", "/api/v1/schedules/preview",
                           {"when": "every 2 days at 10:00", "timezone": "UTC"}, expect=200)
    assert answer["timing"]["schedule_type"] == "interval" and answer["timing"]["interval_seconds"] == 172800
    assert answer["timing"]["start_date"].endswith("T10:00:00Z")
    _, plain = await call(client, "post", "/api/v1/schedules/preview",
                          {"schedule_type": "cron", "cron_expression": "0 9 * * *"}, expect=200)
    assert plain["timing"] is None
    status, unreadable = await call(client, "post", "/api/v1/schedules/preview", {"when": "evry day at 9"})
    assert status == 400 and "Try: !schedule" in unreadable["error"]["details"]["when"]
