"""Catch-up after downtime (catchup_policy), through the real loop, ledger and dispatcher on a
manual clock: the passes after an outage fire each owed occurrence once, oldest first."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from workflow_core_module.clock import ManualClock
from workflow_core_module.db.database import Database

from .conftest import START, make_settings
from .harness import Scheduler, until


@pytest.fixture
async def sched(database: Database, clock: ManualClock) -> AsyncIterator[Scheduler]:
    s = Scheduler(database, make_settings(database.url), clock)
    s.attach_loop()
    yield s
    await s.close()


def every_minute(wf: str, **kw: Any) -> dict[str, Any]:
    return {"workflow_id": wf, "name": "every-minute", "schedule_type": "interval", "interval_seconds": 60, **kw}


async def catch_up(sched: Scheduler) -> int:
    """Passes at the same instant until nothing fires (the loop re-passes at once while a row is
    still due); how many fired."""
    fired = 0
    while (result := await sched.tick()).fired:
        fired += result.fired
    return fired


def minute(k: int) -> str:
    return (START + timedelta(minutes=k)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_all_fires_each_missed_occurrence_in_order(sched: Scheduler, clock: ManualClock) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(every_minute(wf, catchup_policy="all"))
    clock.advance(5 * 60 + 30)  # down from 12:00:30 to 12:05:30: 12:01..12:05 owed
    assert await catch_up(sched) == 5
    assert [c["scheduled_for"] for c in sched.recorder.calls] == [minute(k) for k in range(1, 6)]
    runs = await sched.runs(s.schedule_id)
    assert [(r.status, r.note) for r in runs] == [("completed", None)] * 5
    row = await sched.service.get_schedule(s.schedule_id)
    assert (row.next_execution_at, row.execution_count) == (START + timedelta(minutes=6), 5)


async def test_all_with_a_cap_fires_the_newest_and_records_the_rest_missed(sched: Scheduler,
                                                                           clock: ManualClock) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(every_minute(wf, catchup_policy="all", catchup_max=3))
    clock.advance(5 * 60 + 30)
    assert await catch_up(sched) == 3
    assert [c["scheduled_for"] for c in sched.recorder.calls] == [minute(3), minute(4), minute(5)]
    runs = await sched.runs(s.schedule_id)
    assert [(r.scheduled_for, r.status) for r in runs] == [
        (START + timedelta(minutes=k), "missed" if k < 3 else "completed") for k in range(1, 6)]
    assert "newest 3 occurrences" in (runs[0].error or "")
    assert [r.finished_at for r in runs[:2]] == [clock.now().replace(microsecond=0)] * 2  # ended when recorded
    assert [r.attempt for r in runs] == [0, 0, 1, 1, 1]  # the missed ones never ran
    row = await sched.service.get_schedule(s.schedule_id)
    assert (row.missed_runs, row.successful_runs, row.total_runs) == (2, 3, 5)


async def test_one_left_out_by_the_cap_counts_once_as_missed_and_once_as_a_run(sched: Scheduler,
                                                                              clock: ManualClock) -> None:
    """Four owed, a cap of three: the pass that fires the oldest of the three also records the
    fourth-newest missed; the counters add them (an odd count would show a bitwise slip)."""
    wf = await sched.workflow()
    s = await sched.service.add_schedule(every_minute(wf, catchup_policy="all", catchup_max=3))
    clock.advance(4 * 60 + 30)
    assert (await sched.tick()).missed == 1
    row = await sched.service.get_schedule(s.schedule_id)
    assert (row.missed_runs, row.total_runs) == (1, 2)
    assert await catch_up(sched) == 2
    row = await sched.service.get_schedule(s.schedule_id)
    assert (row.missed_runs, row.successful_runs, row.total_runs) == (1, 3, 4)


async def test_latest_is_unchanged(sched: Scheduler, clock: ManualClock) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(every_minute(wf))
    clock.advance(5 * 60 + 30)
    assert await catch_up(sched) == 1
    assert [c["scheduled_for"] for c in sched.recorder.calls] == [minute(5)]
    [run] = await sched.runs(s.schedule_id)
    assert run.note == "coalesced 5 occurrences"


async def test_a_slow_run_makes_the_catch_up_queue_not_skip(sched: Scheduler, clock: ManualClock) -> None:
    """overlap_policy skip: catching up, the next owed occurrence waits for the one before."""
    wf = await sched.workflow()
    s = await sched.service.add_schedule(every_minute(wf, catchup_policy="all"))
    clock.advance(3 * 60 + 30)
    sched.recorder.gate = gate = asyncio.Event()
    loop = sched.loop
    assert loop is not None
    fired = 0
    while (result := await loop.run_pass(clock.now())).fired:
        fired += result.fired
    assert fired == 3
    dispatcher = sched.scheduler.dispatcher
    await until(lambda: sched.recorder.active == 1 and dispatcher.waiting == 2,
                what="one to run and the other two to wait behind it")
    gate.set()
    await sched.settle()
    assert [c["scheduled_for"] for c in sched.recorder.calls] == [minute(1), minute(2), minute(3)]
    assert await sched.statuses(s.schedule_id) == ["completed"] * 3


async def test_a_pass_that_misses_past_grace_and_leaves_some_out_by_the_cap_counts_both(sched: Scheduler,
                                                                                       clock: ManualClock) -> None:
    """Down 5 minutes with a 2-minute grace and a cap of 1: 12:01 .. 12:03 are past grace (one
    missed run for them), 12:04 is left out by the cap (missed too), 12:05 fires."""
    wf = await sched.workflow()
    s = await sched.service.add_schedule(every_minute(wf, catchup_policy="all", catchup_max=1,
                                                      grace_period_seconds=120))
    clock.advance(5 * 60 + 30)
    sched.recorder.gate = gate = asyncio.Event()
    assert sched.loop is not None
    result = await sched.loop.run_pass(clock.now())
    assert (result.fired, result.missed) == (1, 2)
    await asyncio.wait_for(sched.recorder.started.wait(), 30)
    row = await sched.service.get_schedule(s.schedule_id)
    assert row.last_run_status is None  # the run going on is its last run, not the misses recorded beside it
    gate.set()
    await sched.settle()
    row = await sched.service.get_schedule(s.schedule_id)
    assert (row.missed_runs, row.total_runs) == (2, 3)
    assert [r.status for r in await sched.runs(s.schedule_id)] == ["missed", "missed", "completed"]
