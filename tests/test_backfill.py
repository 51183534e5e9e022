"""Backfill: every occurrence of a past range runs once, in order, and never twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart

from workflow_core_module.clock import ManualClock
from workflow_core_module.db.database import Database
from workflow_core_module.errors import Invalid

from .conftest import START, make_settings
from .harness import Scheduler, until

HOUR = timedelta(hours=1)


@pytest.fixture
async def sched(database: Database, clock: ManualClock) -> AsyncIterator[Scheduler]:
    s = Scheduler(database, make_settings(database.url), clock)
    s.attach_loop()
    yield s
    await s.close()


def hourly(wf: str, **kw: Any) -> dict[str, Any]:
    return {"workflow_id": wf, "name": "hourly", "schedule_type": "cron", "cron_expression": "0 * * * *", **kw}


def iso(hours_ago: int) -> str:
    return (START - hours_ago * HOUR).isoformat()


async def test_a_six_hour_range_runs_seven_occurrences_in_order_once(sched: Scheduler) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(hourly(wf))
    sched.recorder.gate = gate = asyncio.Event()
    runs = await sched.scheduler.backfill(s.schedule_id, {"start": iso(6), "end": iso(0)}, actor="ops")
    assert [r.scheduled_for for r in runs] == [START - k * HOUR for k in range(6, -1, -1)]  # both ends included
    await until(lambda: sched.recorder.active == 1, what="the first backfill run to start")
    dispatcher = sched.scheduler.dispatcher
    await until(lambda: dispatcher.waiting == 6, what="the other six to wait, each behind the one before")
    assert sched.recorder.active == 1
    gate.set()
    await sched.settle()
    calls = sched.recorder.calls
    assert [c["trigger"] for c in calls] == ["backfill"] * 7 and sched.recorder.max_active == 1
    assert [c["scheduled_for"] for c in calls] == sorted(c["scheduled_for"] for c in calls)
    again = await sched.scheduler.backfill(s.schedule_id, {"start": iso(6), "end": iso(0)}, actor="ops")
    assert again == [] and len(sched.recorder.calls) == 7
    row = await sched.service.get_schedule(s.schedule_id)
    assert (row.next_execution_at, row.execution_count, row.total_runs) == (START + HOUR, 0, 7)
    assert [r.status for r in await sched.runs(s.schedule_id)] == ["completed"] * 7


async def test_with_overlap_allow_backfill_runs_side_by_side(sched: Scheduler) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(hourly(wf, overlap_policy="allow"))
    sched.recorder.gate = gate = asyncio.Event()
    await sched.scheduler.backfill(s.schedule_id, {"start": iso(2), "end": iso(0)})
    await until(lambda: sched.recorder.active == 3, what="all three to run at once")
    gate.set()
    await sched.settle()


@pytest.mark.parametrize("request_body,field", [
    ({"start": iso(2), "end": (START + HOUR).isoformat()}, "end"),  # the future
    ({"start": iso(0), "end": iso(2)}, "end"),  # backwards
    ({"start": (START - timedelta(minutes=50)).isoformat(), "end": (START - timedelta(minutes=10)).isoformat()},
     "start"),  # no occurrence inside
    ({"start": iso(30), "end": iso(0), "max_runs": 5}, "end"),  # 31 occurrences, more than 5
    ({"start": iso(2)}, "end"),
    ({"start": "yesterday", "end": iso(0)}, "start"),
    ({"start": iso(2), "end": iso(0), "max_runs": 1001}, "max_runs"),
    ({"start": iso(2), "end": iso(0), "also": 1}, "also"),
])
async def test_a_wrong_backfill_is_refused_and_writes_nothing(sched: Scheduler, request_body: dict[str, Any],
                                                               field: str) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(hourly(wf))
    with pytest.raises(Invalid) as caught:
        await sched.scheduler.backfill(s.schedule_id, request_body)
    assert field in caught.value.details
    assert await sched.runs(s.schedule_id) == []


async def test_backfill_through_the_api(app: Quart) -> None:
    client = app.test_client()
    headers = {"X-API-Key": "admin-secret"}
    wf = await (await client.post("/api/v1/workflows", headers=headers,
                                  json={"name": "wf", "steps": [{"action": "log", "message": "x"}]})).get_json()
    s = await (await client.post("/api/v1/schedules", headers=headers, json=hourly(wf["workflow_id"]))).get_json()
    path = f"/api/v1/schedules/{s['schedule_id']}/backfill"
    body = {"start": "2026-11-22T06:00:00Z", "end": "2026-11-22T12:00:00Z"}
    response = await client.post(path, headers=headers, json=body)
    assert response.status_code == 202
    assert json.loads(await response.get_data()) == {"runs": 7, "first": "2026-11-22T06:00:00Z",
                                                     "last": "2026-11-22T12:00:00Z"}
    again = await client.post(path, headers=headers, json=body)
    assert (again.status_code, (await again.get_json())["runs"]) == (202, 0)
    wrong = await client.post(path, headers=headers, json={"start": "2026-11-22T06:00:00Z"})
    assert wrong.status_code == 400
