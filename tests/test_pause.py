"""A pause with a reason and an end: the fields it fills, the end lifting it by itself at that
instant (manual clock), and the API's pause, resume and their aliases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart

from workflow_core_module.clock import ManualClock
from workflow_core_module.db.database import Database
from workflow_core_module.errors import Invalid
from workflow_core_module.scheduling import ScheduleStatus

from .conftest import START, make_settings
from .harness import Scheduler, api_call, sleepers, until

ADMIN = {"X-API-Key": "admin-secret"}


@pytest.fixture
async def sched(database: Database, clock: ManualClock) -> AsyncIterator[Scheduler]:
    s = Scheduler(database, make_settings(database.url), clock)
    yield s
    await s.close()


def every_minute(wf: str, name: str = "every-minute") -> dict[str, Any]:
    return {"workflow_id": wf, "name": name, "schedule_type": "interval", "interval_seconds": 60}


async def _audit(database: Database, schedule_id: str) -> list[tuple[str, str]]:
    rows = await database.read(lambda dal: dal.executesql(database.dialect.params(
        "SELECT actor, action FROM audit_log WHERE entity_id = ? ORDER BY id"), placeholders=[schedule_id]))
    return [(r[0], r[1]) for r in rows]


async def test_a_pause_records_why_when_by_whom_and_until_when(sched: Scheduler, clock: ManualClock) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(every_minute(wf))
    end = START + timedelta(hours=2)
    paused = await sched.service.pause_schedule(s.schedule_id, actor="ops", request={
        "reason": "  raid night ", "until": end.isoformat()})
    assert (paused.status, paused.is_active, paused.next_execution_at) == (ScheduleStatus.PAUSED, False, None)
    assert (paused.pause_reason, paused.paused_at, paused.paused_by, paused.paused_until) == (
        "raid night", START, "ops", end)
    again = await sched.service.pause_schedule(s.schedule_id, actor="other", request={"reason": "longer"})
    assert (again.pause_reason, again.paused_until, again.paused_by) == ("longer", None, "ops")
    resumed = await sched.service.resume_schedule(s.schedule_id, actor="ops")
    assert resumed.status is ScheduleStatus.ACTIVE
    assert (resumed.pause_reason, resumed.paused_at, resumed.paused_by, resumed.paused_until) == (None,) * 4


@pytest.mark.parametrize("request_body,field", [
    ({"until": "2026-11-22T11:00:00Z"}, "until"),  # before now (START is 12:00Z)
    ({"until": "tomorrow"}, "until"),
    ({"reason": "x" * 501}, "reason"),
    ({"reason": "a\x00b"}, "reason"),
    ({"when": "later"}, "when"),
])
async def test_a_wrong_pause_request_changes_nothing(sched: Scheduler, request_body: dict[str, Any],
                                                     field: str) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(every_minute(wf))
    with pytest.raises(Invalid) as caught:
        await sched.service.pause_schedule(s.schedule_id, request=request_body)
    assert field in caught.value.details
    assert (await sched.service.get_schedule(s.schedule_id)).status is ScheduleStatus.ACTIVE


async def test_a_pause_lifts_itself_at_its_end(sched: Scheduler, clock: ManualClock, database: Database) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(every_minute(wf))
    end = START + timedelta(minutes=3, seconds=30)
    await sched.service.pause_schedule(s.schedule_id, actor="ops", request={"until": end.isoformat()})
    keeper = asyncio.create_task(sched.scheduler.keep_pauses())
    try:
        while clock.now() < end - timedelta(seconds=1):  # wake by wake; still paused before the end
            [wait] = await until(lambda: sleepers(clock), what="the keeper to sleep")
            clock.advance(min(wait, (end - timedelta(seconds=1) - clock.now()).total_seconds()))
            assert (await sched.service.get_schedule(s.schedule_id)).status is ScheduleStatus.PAUSED
        await until(lambda: sleepers(clock) == [1.0], what="the keeper to sleep until the end")
        clock.advance(1)
        resumed = await until(lambda: _active(sched, s.schedule_id), what="the pause to lift")
    finally:
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
    assert resumed.next_execution_at == START + timedelta(minutes=4)  # the interval grid, from the end on
    assert (resumed.pause_reason, resumed.paused_until) == (None, None)
    # The row is committed before the keeper mirrors it into the cache: wait for the mirror.
    await until(lambda: sched.service.cache.due_at(s.id) == resumed.next_execution_at, what="the cache to follow")
    assert await _audit(database, s.schedule_id) == [
        ("system", "schedule.create"), ("ops", "schedule.pause"), ("system", "schedule.resume")]


async def _active(sched: Scheduler, schedule_id: str) -> Any:
    s = await sched.service.get_schedule(schedule_id)
    return s if s.status is ScheduleStatus.ACTIVE else None


async def test_a_pause_that_cannot_resume_at_its_end_stays_paused_and_says_why(
        sched: Scheduler, clock: ManualClock) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule({**every_minute(wf), "end_date": (START + timedelta(hours=1)).isoformat()})
    await sched.service.pause_schedule(s.schedule_id, request={
        "reason": "maintenance", "until": (START + timedelta(hours=2)).isoformat()})
    clock.advance(3 * 3600)
    assert await sched.service.end_due_pauses() is None
    kept = await sched.service.get_schedule(s.schedule_id)
    assert kept.status is ScheduleStatus.PAUSED and kept.paused_until is None
    assert kept.pause_reason is not None and kept.pause_reason.startswith("maintenance; could not resume")


async def test_the_keeper_reports_the_next_end_and_leaves_later_pauses(sched: Scheduler, clock: ManualClock) -> None:
    wf = await sched.workflow()
    first = await sched.service.add_schedule(every_minute(wf, "first"))
    later = await sched.service.add_schedule(every_minute(wf, "later"))
    await sched.service.pause_schedule(first.schedule_id, request={"until": (START + timedelta(minutes=5)).isoformat()})
    await sched.service.pause_schedule(later.schedule_id, request={"until": (START + timedelta(hours=5)).isoformat()})
    clock.advance(300)
    assert await sched.service.end_due_pauses() == START + timedelta(hours=5)
    assert (await sched.service.get_schedule(first.schedule_id)).status is ScheduleStatus.ACTIVE
    assert (await sched.service.get_schedule(later.schedule_id)).status is ScheduleStatus.PAUSED


# ---- pause after failures ------------------------------------------------------------------------

async def test_a_schedule_pauses_itself_after_exactly_n_failures_in_a_row(database: Database,
                                                                          clock: ManualClock) -> None:
    sched = Scheduler(database, make_settings(database.url, workflow_max_retries=0), clock)
    sched.attach_loop()
    try:
        sched.recorder.fail_first = 10
        wf = await sched.workflow()
        s = await sched.service.add_schedule({**every_minute(wf), "pause_after_failures": 3})
        for expected in (1, 2):
            assert (await sched.tick(60)).fired == 1
            row = await sched.service.get_schedule(s.schedule_id)
            assert (row.status, row.consecutive_failures) == (ScheduleStatus.ACTIVE, expected)
        assert (await sched.tick(60)).fired == 1
        paused = await sched.service.get_schedule(s.schedule_id)
        assert (paused.status, paused.is_active, paused.next_execution_at) == (ScheduleStatus.PAUSED, False, None)
        assert (paused.pause_reason, paused.paused_by, paused.paused_at) == (
            "paused after 3 consecutive failures", "system", START + timedelta(minutes=3))
        assert sched.service.cache.due_at(s.id) is None
        assert (await sched.tick(60)).fired == 0 and len(sched.recorder.calls) == 3
        assert ("system", "schedule.pause") in await _audit(database, s.schedule_id)
        resumed = await sched.service.resume_schedule(s.schedule_id)
        assert (resumed.status, resumed.consecutive_failures) == (ScheduleStatus.ACTIVE, 0)
    finally:
        await sched.close()


async def test_a_success_resets_the_count_of_failures(database: Database, clock: ManualClock) -> None:
    sched = Scheduler(database, make_settings(database.url, workflow_max_retries=0), clock)
    sched.attach_loop()
    try:
        wf = await sched.workflow()
        s = await sched.service.add_schedule({**every_minute(wf), "pause_after_failures": 3})
        for fail in (True, True, False, True, True):
            sched.recorder.fail_first = 1 if fail else 0
            await sched.tick(60)
        row = await sched.service.get_schedule(s.schedule_id)
        assert await sched.statuses(s.schedule_id) == ["failed", "failed", "completed", "failed", "failed"]
        assert (row.status, row.consecutive_failures, row.failed_runs) == (ScheduleStatus.ACTIVE, 2, 4)
    finally:
        await sched.close()


async def test_without_pause_after_failures_a_schedule_keeps_running(database: Database,
                                                                     clock: ManualClock) -> None:
    sched = Scheduler(database, make_settings(database.url, workflow_max_retries=0), clock)
    sched.attach_loop()
    try:
        sched.recorder.fail_first = 10
        wf = await sched.workflow()
        s = await sched.service.add_schedule(every_minute(wf))
        for _ in range(5):
            await sched.tick(60)
        row = await sched.service.get_schedule(s.schedule_id)
        assert (row.status, row.consecutive_failures) == (ScheduleStatus.ACTIVE, 5)
    finally:
        await sched.close()


# ---- the API ---------------------------------------------------------------------------------------

async def _schedule(app: Quart) -> str:
    _, wf = await api_call(app, "post", "/api/v1/workflows", {"name": "wf", "steps": [{"action": "log", "message": "x"}]})
    _, s = await api_call(app, "post", "/api/v1/schedules", every_minute(wf["workflow_id"]))
    return str(s["schedule_id"])


async def test_pause_with_a_reason_and_an_end_through_the_api(app: Quart) -> None:
    sid = await _schedule(app)
    end = START + timedelta(hours=1)
    status, paused = await api_call(app, "post", f"/api/v1/schedules/{sid}/pause",
                                 {"reason": "raid", "until": end.isoformat()})
    assert status == 200, paused
    assert (paused["status"], paused["pause_reason"], paused["paused_by"]) == ("paused", "raid", "admin")
    assert paused["paused_until"] == end.strftime("%Y-%m-%dT%H:%M:%SZ") and paused["paused_at"]
    status, resumed = await api_call(app, "post", f"/api/v1/schedules/{sid}/enable")
    assert (status, resumed["status"], resumed["pause_reason"], resumed["paused_until"]) == (200, "active", None, None)


async def test_a_bad_pause_body_is_400_and_changes_nothing(app: Quart) -> None:
    sid = await _schedule(app)
    for body in ({"until": "2001-01-01T00:00:00Z"}, {"reason": 5}, {"because": "x"}, [1]):
        status, err = await api_call(app, "post", f"/api/v1/schedules/{sid}/pause", body)
        assert status == 400, (body, err)
    assert (await api_call(app, "get", f"/api/v1/schedules/{sid}"))[1]["status"] == "active"


async def test_the_aliases_disable_enable_toggle_and_runs(app: Quart) -> None:
    sid = await _schedule(app)
    assert (await api_call(app, "post", f"/api/v1/schedules/{sid}/disable"))[1]["status"] == "paused"
    assert (await api_call(app, "post", f"/api/v1/schedules/{sid}/toggle"))[1]["status"] == "active"
    assert (await api_call(app, "post", f"/api/v1/schedules/{sid}/toggle"))[1]["status"] == "paused"
    assert (await api_call(app, "post", f"/api/v1/schedules/{sid}/enable"))[1]["status"] == "active"
    status, runs = await api_call(app, "get", f"/api/v1/schedules/{sid}/runs")
    assert status == 200 and runs == (await api_call(app, "get", f"/api/v1/schedules/{sid}/history"))[1]
