"""cancel_previous across replicas: the run a later claim cancels is executing on another replica,
which must stop it. Two schedulers share one database (both backends); the signal is the run
ledger polled every second, or, with Redis, a message on the replicas' channel."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from workflow_core_module.clock import ManualClock
from workflow_core_module.db.database import Database
from workflow_core_module.services.coordination import Coordinator
from workflow_core_module.services.dispatcher import CANCEL_POLL_SECONDS

from .conftest import make_settings, service_unavailable
from .harness import Scheduler, sleepers, until


@pytest.fixture
async def pair(database: Database, clock: ManualClock) -> AsyncIterator[tuple[Scheduler, Scheduler]]:
    a, b = (Scheduler(database, make_settings(database.url), clock) for _ in range(2))
    for s in (a, b):
        s.attach_loop()
        s.recorder.gate = asyncio.Event()  # every step waits until the test lets it end
    yield a, b
    for s in (a, b):
        assert s.recorder.gate is not None
        s.recorder.gate.set()
        await s.close()


async def _running_on_a_then_claimed_by_b(a: Scheduler, b: Scheduler, clock: ManualClock) -> Any:
    """A schedule with cancel_previous: A starts its first occurrence (it keeps executing), then
    B claims the next, which cancels A's run in the ledger."""
    assert a.loop is not None and b.loop is not None
    wf = await a.workflow()
    schedule = await a.service.add_schedule({"workflow_id": wf, "name": "newest-wins", "schedule_type": "interval",
                                             "interval_seconds": 60, "overlap_policy": "cancel_previous"})
    clock.advance(60)
    assert (await a.loop.run_pass(clock.now())).fired == 1
    await until(lambda: a.recorder.active == 1, what="A's run to be executing")
    dispatcher = a.scheduler.dispatcher
    assert dispatcher is not None
    assert await dispatcher.cancel_ended_elsewhere() == 0  # its own running run is left alone
    clock.advance(60)
    assert (await b.loop.run_pass(clock.now())).fired == 1
    await until(lambda: b.recorder.active == 1, what="B's run to be executing")
    return schedule


async def _check_cancelled_on_a(a: Scheduler, b: Scheduler, schedule: Any) -> None:
    await a.settle()
    assert a.recorder.active == 0 and len(a.recorder.calls) == 1
    first = (await a.runs(schedule.schedule_id))[0]
    assert first.status == "cancelled" and "cancel_previous" in (first.error or "")
    execution = await a.engine.store.get_execution(first.execution_id)
    assert execution.status == "cancelled"
    assert b.recorder.gate is not None
    b.recorder.gate.set()
    await b.settle()
    assert await b.statuses(schedule.schedule_id) == ["cancelled", "completed"]


async def test_without_redis_the_replica_finds_the_cancel_in_the_ledger_within_a_poll(
        pair: tuple[Scheduler, Scheduler], clock: ManualClock) -> None:
    a, b = pair
    schedule = await _running_on_a_then_claimed_by_b(a, b, clock)
    assert a.recorder.active == 1  # no signal yet: A still executes a run the ledger says ended
    assert a.scheduler.dispatcher is not None
    watcher = asyncio.create_task(a.scheduler.dispatcher.watch_cancels())
    try:
        await until(lambda: sleepers(clock), what="the cancel watch to wait for its next poll")
        clock.advance(CANCEL_POLL_SECONDS)
        await until(lambda: a.recorder.active == 0, what="A to stop the run cancelled by B's claim")
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    await _check_cancelled_on_a(a, b, schedule)


async def test_with_redis_the_cancel_reaches_the_other_replica_at_once(
        pair: tuple[Scheduler, Scheduler], clock: ManualClock) -> None:
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        service_unavailable("Redis", "TEST_REDIS_URL is not set")
    a, b = pair
    coordinators = [Coordinator(str(url), s.database.url, s.service, s.scheduler) for s in (a, b)]
    for coordinator in coordinators:
        await coordinator.start()
    try:
        await until(lambda: all(c.up for c in coordinators), what="both replicas to subscribe")
        schedule = await _running_on_a_then_claimed_by_b(a, b, clock)
        # no poll and no clock advance: only the message can stop it
        await until(lambda: a.recorder.active == 0, what="A to stop the run on B's message")
    finally:
        for coordinator in coordinators:
            await coordinator.close()
    await _check_cancelled_on_a(a, b, schedule)
