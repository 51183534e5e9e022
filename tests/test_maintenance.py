"""Maintenance mode: kept in the database, obeyed by every replica's claim, survives restarts;
on resume each schedule's grace period decides what the time it missed becomes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart

from workflow_core_module.clock import ManualClock
from workflow_core_module.db.database import Database
from workflow_core_module.errors import Forbidden, Invalid

from .conftest import START, make_settings
from .harness import Scheduler, api_call

ADMIN = {"X-API-Key": "admin-secret"}


def every_minute(wf: str, name: str = "every-minute", **kw: Any) -> dict[str, Any]:
    return {"workflow_id": wf, "name": name, "schedule_type": "interval", "interval_seconds": 60, **kw}


@pytest.fixture
async def two(database: Database, clock: ManualClock) -> AsyncIterator[tuple[Scheduler, Scheduler]]:
    a, b = (Scheduler(database, make_settings(database.url), clock) for _ in range(2))
    a.attach_loop()
    b.attach_loop()
    yield a, b
    await a.close()
    await b.close()


async def test_a_pause_made_on_one_replica_stops_every_claim(two: tuple[Scheduler, Scheduler],
                                                             clock: ManualClock, database: Database) -> None:
    a, b = two
    wf = await a.workflow()
    s = await a.service.add_schedule(every_minute(wf, grace_period_seconds=600))
    state = await a.scheduler.pause_all(reason="database upgrade", actor="ops")
    assert (state.paused, state.reason, state.since, state.by) == (True, "database upgrade", START, "ops")
    clock.advance(61)
    for replica in (a, b):
        result = await replica.tick()
        assert (result.halted, result.fired, result.due) == (True, 0, 0)
    assert a.recorder.calls == b.recorder.calls == []
    restarted = Scheduler(database, make_settings(database.url), clock)  # a restart still sees it
    try:
        restarted.attach_loop()
        assert (await restarted.tick()).halted and (await restarted.scheduler.maintenance()).paused
    finally:
        await restarted.close()
    clock.advance(5 * 60)  # 12:06:01: 12:01 .. 12:06 owed, all inside the 10-minute grace
    await b.scheduler.resume_all(actor="ops")
    assert (await b.tick()).fired == 1 and (await a.tick()).fired == 0
    [run] = await a.runs(s.schedule_id)
    assert (run.scheduled_for, run.note) == (START + timedelta(minutes=6), "coalesced 6 occurrences")


async def test_on_resume_grace_decides_what_the_pause_missed(two: tuple[Scheduler, Scheduler],
                                                             clock: ManualClock) -> None:
    a, _ = two
    wf = await a.workflow()
    s = await a.service.add_schedule(every_minute(wf, grace_period_seconds=60))
    await a.scheduler.pause_all(reason=None, actor="ops")
    clock.advance(30 * 60 + 30)  # 12:30:30: 12:01 is long past its grace
    assert (await a.tick()).halted
    await a.scheduler.resume_all(actor="ops")
    result = await a.tick()
    assert (result.fired, result.missed) == (1, 1)
    runs = await a.runs(s.schedule_id)
    assert [(r.scheduled_for, r.status) for r in runs] == [
        (START + timedelta(minutes=1), "missed"), (START + timedelta(minutes=30), "completed")]


async def test_a_community_key_cannot_pause_every_community(two: tuple[Scheduler, Scheduler]) -> None:
    a, _ = two
    with pytest.raises(Forbidden):
        await a.scheduler.pause_all(reason="mine", actor="guild-key", scope="guild-1")
    with pytest.raises(Forbidden):
        await a.scheduler.resume_all(actor="guild-key", scope="guild-1")
    with pytest.raises(Invalid):
        await a.scheduler.pause_all(reason="x" * 501, actor="ops")
    assert not (await a.scheduler.maintenance()).paused


# ---- the API ---------------------------------------------------------------------------------------

async def test_maintenance_through_the_api(app: Quart, database: Database) -> None:
    status, paused = await api_call(app, "post", "/api/v1/scheduler/pause", {"reason": "upgrade"})
    assert (status, paused) == (200, {"paused": True, "reason": "upgrade", "since": "2026-11-22T12:00:00Z",
                                      "by": "admin"})
    _, report = await api_call(app, "get", "/api/v1/schedules/status")
    assert report["maintenance"] == paused
    status, err = await api_call(app, "post", "/api/v1/scheduler/pause", {"reason": 5})
    assert status == 400, err
    status, resumed = await api_call(app, "post", "/api/v1/scheduler/resume")
    assert (status, resumed["paused"]) == (200, False)
    rows = await database.read(lambda dal: dal.executesql(
        "SELECT actor, action FROM audit_log WHERE entity_type = 'scheduler' ORDER BY id"))
    assert [tuple(r) for r in rows] == [("admin", "scheduler.pause"), ("admin", "scheduler.resume")]
