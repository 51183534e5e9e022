"""The scheduler loop with an injected clock: every rule of DESIGN.md's loop, counted."""

from __future__ import annotations

import asyncio
import logging
import types
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest

from workflow_core_module.clock import ManualClock
from workflow_core_module.db.database import Database
from workflow_core_module.scheduling import ScheduleStatus
from workflow_core_module.scheduling.trigger import TRIGGER_KEYS
from workflow_core_module.services import scheduler_loop
from workflow_core_module.services.dispatcher import CANCEL_POLL_SECONDS
from workflow_core_module.services.scheduler_loop import HEARTBEAT_SECONDS

from .conftest import START, make_settings
from .harness import Scheduler, sleepers, until
from .sink import HttpSink


@pytest.fixture
async def sched(database: Database, clock: ManualClock) -> AsyncIterator[Scheduler]:
    # outbound_allowlist: the callback sinks below are local, which the outbound policy refuses otherwise
    s = Scheduler(database, make_settings(database.url, workflow_retry_base_seconds=1.0,
                                          outbound_allowlist="127.0.0.1"), clock)
    s.attach_loop()
    yield s
    await s.close()


def interval(wf: str, name: str = "every-minute", seconds: int = 60, **kw: Any) -> dict[str, Any]:
    return {"workflow_id": wf, "name": name, "schedule_type": "interval", "interval_seconds": seconds, **kw}


async def test_interval_fires_each_occurrence_once(sched: Scheduler, clock: ManualClock) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(interval(wf))
    assert (await sched.tick(59)).fired == 0
    for _ in range(5):
        result = await sched.tick(60 if _ else 1)
        assert result.fired == 1
    assert len(sched.recorder.calls) == 5
    assert set(sched.recorder.per_occurrence().values()) == {1}
    assert await sched.statuses(s.schedule_id) == ["completed"] * 5
    row = await sched.service.get_schedule(s.schedule_id)
    assert row.execution_count == 5 and row.successful_runs == 5 and row.total_runs == 5
    assert row.last_run_status == "completed" and row.last_run_at == row.last_execution_at
    assert row.next_execution_at == START + timedelta(minutes=6)
    assert row.last_execution_id is not None and row.last_execution_at is not None
    assert sched.service.cache.due_at(s.id) == row.next_execution_at
    trigger = sched.recorder.calls[0]
    assert set(trigger) == set(TRIGGER_KEYS)  # one shape for every kind of run (scheduling/trigger.py)
    assert trigger["trigger"] == "schedule" and trigger["scheduled_for"] == "2026-11-22T12:01:00Z"


async def test_one_time_fires_once_then_completed(sched: Scheduler, clock: ManualClock) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule({"workflow_id": wf, "name": "once", "schedule_type": "one_time",
                                          "scheduled_time": (START + timedelta(seconds=30)).isoformat()})
    first = await sched.tick(30)
    assert (first.fired, first.completed, first.expired) == (1, 1, 0)
    for _ in range(3):
        assert (await sched.tick(3600)).fired == 0
    row = await sched.service.get_schedule(s.schedule_id)
    assert row.status is ScheduleStatus.COMPLETED and not row.is_active and row.next_execution_at is None
    assert len(sched.recorder.calls) == 1 and s.id not in sched.service.cache


async def test_max_executions_two_fires_exactly_twice(sched: Scheduler, clock: ManualClock) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(interval(wf, max_executions=2))
    fired = [(await sched.tick(60)).fired for _ in range(5)]
    assert fired == [1, 1, 0, 0, 0]
    row = await sched.service.get_schedule(s.schedule_id)
    assert row.status is ScheduleStatus.COMPLETED and row.execution_count == 2
    assert len(sched.recorder.calls) == 2


async def test_paused_schedules_never_fire(sched: Scheduler, clock: ManualClock) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(interval(wf))
    await sched.service.pause_schedule(s.schedule_id)
    for _ in range(10):
        assert (await sched.tick(60)).fired == 0
    assert sched.recorder.calls == [] and await sched.runs(s.schedule_id) == []


async def test_end_date_expires(sched: Scheduler, clock: ManualClock) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(interval(wf, end_date=(START + timedelta(minutes=3)).isoformat()))
    passes = [await sched.tick(60) for _ in range(6)]
    assert [p.fired for p in passes] == [1, 1, 1, 0, 0, 0]
    assert [(p.expired, p.completed) for p in passes] == [(0, 0), (0, 0), (1, 0), (0, 0), (0, 0), (0, 0)]
    row = await sched.service.get_schedule(s.schedule_id)
    assert row.status is ScheduleStatus.EXPIRED and not row.is_active


async def test_missed_beyond_grace_one_missed_run_and_next_in_future(sched: Scheduler, clock: ManualClock) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule({"workflow_id": wf, "name": "daily", "schedule_type": "cron",
                                          "cron_expression": "0 13 * * *", "grace_period_seconds": 600})
    result = await sched.tick(3600 + 1800)  # 13:30: half an hour late, grace is ten minutes
    assert (result.fired, result.missed) == (0, 1)
    runs = await sched.runs(s.schedule_id)
    assert [r.status for r in runs] == ["missed"] and runs[0].scheduled_for == START + timedelta(hours=1)
    assert "grace period 600 s" in (runs[0].error or "")
    assert runs[0].finished_at == clock.now().replace(microsecond=0)  # a miss ends when it is recorded
    assert runs[0].attempt == 0  # and never ran
    row = await sched.service.get_schedule(s.schedule_id)
    assert row.next_execution_at == START + timedelta(days=1, hours=1) > clock.now()
    assert row.missed_runs == 1 and row.is_active and sched.recorder.calls == []
    assert (row.total_runs, row.execution_count) == (1, 0)  # a missed run is a run, not an execution
    assert (row.last_run_status, row.last_run_at) == ("missed", clock.now().replace(microsecond=0))


async def test_five_occurrences_inside_grace_fire_once(sched: Scheduler, clock: ManualClock) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(interval(wf, grace_period_seconds=900))
    result = await sched.tick(5 * 60 + 20)  # 12:01 .. 12:05 are all due
    assert (result.fired, result.missed) == (1, 0)
    assert result.lags_ms == [20_000.0]  # fired 20 s after the occurrence it ran for
    runs = await sched.runs(s.schedule_id)
    assert len(runs) == 1 and runs[0].scheduled_for == START + timedelta(minutes=5)
    assert runs[0].note == "coalesced 5 occurrences" and runs[0].error is None
    await sched.tick(60 + 40)  # 12:06 and 12:07
    assert [r.note for r in await sched.runs(s.schedule_id)] == ["coalesced 5 occurrences", "coalesced 2 occurrences"]
    await sched.tick(60)  # 12:08 alone
    assert (await sched.runs(s.schedule_id))[-1].note is None
    assert (await sched.service.get_schedule(s.schedule_id)).next_execution_at == START + timedelta(minutes=9)


# ---- overlap policies -----------------------------------------------------------------------

async def _overlapping(sched: Scheduler, clock: ManualClock, policy: str) -> tuple[Any, list[str]]:
    """Start a run that blocks, let the next occurrence come, then release it.

    Returns the run statuses seen while the first run was blocked: after the second pass, once
    the second run (if the policy lets it run) has reached its step."""
    gate = asyncio.Event()
    sched.recorder.gate = gate
    wf = await sched.workflow()
    s = await sched.service.add_schedule(interval(wf, overlap_policy=policy))
    assert sched.loop is not None and sched.scheduler.dispatcher is not None
    clock.advance(60)
    await sched.loop.run_pass(clock.now())
    await asyncio.wait_for(sched.recorder.started.wait(), 30)
    clock.advance(60)
    second = await sched.loop.run_pass(clock.now())
    runs_now = {"skip": 0, "allow": 1, "cancel_previous": 1}[policy]
    assert (second.fired, second.skipped) == (runs_now, 1 - runs_now)
    assert sched.scheduler.dispatcher.pending == 1 + runs_now  # a skipped occurrence was never handed over
    await until(lambda: len(sched.recorder.calls) == 1 + runs_now, what="the second run to reach its step")
    during = await sched.statuses(s.schedule_id)
    running = [r.finished_at for r in await sched.runs(s.schedule_id) if r.status == "running"]
    assert running and set(running) == {None}  # not ended at its claim
    gate.set()
    await sched.settle()
    return s, during


async def test_overlap_skip(sched: Scheduler, clock: ManualClock) -> None:
    s, during = await _overlapping(sched, clock, "skip")
    assert during == ["running", "skipped"]
    runs = await sched.runs(s.schedule_id)
    assert [r.status for r in runs] == ["completed", "skipped"] and "still going" in (runs[1].error or "")
    assert runs[1].finished_at == START + timedelta(minutes=2)  # a skip ends when it is recorded
    assert (runs[1].attempt, runs[0].attempt) == (0, 1)  # and never ran
    assert len(sched.recorder.calls) == 1  # counted with the dispatcher idle: nothing is left to run
    row = await sched.service.get_schedule(s.schedule_id)
    assert row.execution_count == 1  # a skip is no execution
    assert row.last_run_status == "completed"  # the first run ended after the skip was recorded


async def test_overlap_allow(sched: Scheduler, clock: ManualClock) -> None:
    s, during = await _overlapping(sched, clock, "allow")
    assert during == ["running", "running"]
    assert await sched.statuses(s.schedule_id) == ["completed", "completed"]
    assert len(sched.recorder.calls) == 2 and sched.recorder.max_active == 2  # they did overlap


async def test_overlap_buffer_one(sched: Scheduler, clock: ManualClock) -> None:
    gate = asyncio.Event()
    sched.recorder.gate = gate
    wf = await sched.workflow()
    s = await sched.service.add_schedule(interval(wf, overlap_policy="buffer_one"))
    assert sched.loop is not None
    clock.advance(60)
    await sched.loop.run_pass(clock.now())
    await asyncio.wait_for(sched.recorder.started.wait(), 30)
    passes = []
    for _ in range(2):  # two more occurrences while the first still runs
        clock.advance(60)
        passes.append(await sched.loop.run_pass(clock.now()))
    assert [(p.fired, p.skipped) for p in passes] == [(1, 0), (0, 1)]  # one buffered, the next skipped
    assert await sched.statuses(s.schedule_id) == ["running", "queued", "skipped"]
    gate.set()
    await sched.settle()
    assert await sched.statuses(s.schedule_id) == ["completed", "completed", "skipped"]
    assert len(sched.recorder.calls) == 2
    assert sched.recorder.max_active == 1  # the buffered one started only after the first had ended
    first, buffered = sched.recorder.calls
    assert (first["scheduled_for"], buffered["scheduled_for"]) == ("2026-11-22T12:01:00Z", "2026-11-22T12:02:00Z")


async def test_overlap_cancel_previous(sched: Scheduler, clock: ManualClock) -> None:
    s, during = await _overlapping(sched, clock, "cancel_previous")
    runs = await sched.runs(s.schedule_id)
    assert [r.status for r in runs] == ["cancelled", "completed"]
    assert "cancel_previous" in (runs[0].error or "")
    assert len(sched.recorder.calls) == 2
    execution = await sched.engine.store.get_execution(runs[0].execution_id)
    assert execution.status == "cancelled"


# ---- retries, timeouts, jitter --------------------------------------------------------------

async def backoff_waits(sched: Scheduler, clock: ManualClock) -> list[float]:
    """Each time the run is asleep on its backoff, move the clock to its end; the waits, until the
    run has ended."""
    dispatcher = sched.scheduler.dispatcher
    waits = []
    while True:
        await until(lambda: sleepers(clock) or not dispatcher.pending, what="a backoff sleep or the run's end")
        if not dispatcher.pending:
            return waits
        [wait] = sleepers(clock)
        waits.append(wait)
        clock.advance(wait)


async def test_retries_with_exponential_backoff(database: Database, clock: ManualClock) -> None:
    sched = Scheduler(database, make_settings(database.url, workflow_max_retries=3,
                                              workflow_retry_base_seconds=2.0), clock)
    loop = sched.attach_loop()
    sched.recorder.fail_first = 2
    wf = await sched.workflow()
    s = await sched.service.add_schedule(interval(wf))
    clock.advance(60)
    await loop.run_pass(clock.now())
    waits = await backoff_waits(sched, clock)
    assert waits == [2.0, 4.0]  # 2 s, then 4 s: doubling
    runs = await sched.runs(s.schedule_id)
    assert [(r.status, r.attempt) for r in runs] == [("completed", 3)]
    rows = await database.read(lambda dal: dal.executesql(
        "SELECT attempt, status FROM workflow_executions ORDER BY attempt"))
    assert [tuple(r) for r in rows] == [(1, "failed"), (2, "failed"), (3, "completed")]
    await sched.close()


async def test_failure_after_all_retries(database: Database, clock: ManualClock) -> None:
    sched = Scheduler(database, make_settings(database.url, workflow_max_retries=1,
                                              workflow_retry_base_seconds=0.0), clock)
    sched.attach_loop()
    sched.recorder.fail_first = 5
    wf = await sched.workflow()
    s = await sched.service.add_schedule(interval(wf))
    await sched.tick(60)
    runs = await sched.runs(s.schedule_id)
    assert [(r.status, r.attempt) for r in runs] == [("failed", 2)]
    assert "told to fail" in (runs[0].error or "")
    row = await sched.service.get_schedule(s.schedule_id)
    assert (row.failed_runs, row.successful_runs) == (1, 0)
    await sched.close()


async def test_timeout_is_recorded_as_timed_out(database: Database, clock: ManualClock) -> None:
    sched = Scheduler(database, make_settings(database.url, workflow_timeout_seconds=0.2, workflow_max_retries=0),
                      clock)
    sched.attach_loop()
    sched.recorder.gate = asyncio.Event()  # never set: the step hangs
    wf = await sched.workflow()
    s = await sched.service.add_schedule(interval(wf))
    await sched.tick(60)
    runs = await sched.runs(s.schedule_id)
    assert [r.status for r in runs] == ["timed_out"] and "timed out after 0.2 s" in (runs[0].error or "")
    assert (await sched.service.get_schedule(s.schedule_id)).failed_runs == 1
    await sched.close()


async def test_a_schedules_own_retries_and_backoff_override_the_service_defaults(
        database: Database, clock: ManualClock) -> None:
    sched = Scheduler(database, make_settings(database.url, workflow_max_retries=3,
                                              workflow_retry_base_seconds=2.0), clock)
    loop = sched.attach_loop()
    sched.recorder.fail_first = 5
    wf = await sched.workflow()
    own = await sched.service.add_schedule(interval(wf, "own", max_retries=1, retry_backoff_seconds=7))
    clock.advance(60)
    await loop.run_pass(clock.now())
    waits = await backoff_waits(sched, clock)
    assert waits == [7.0]  # one retry (not 3), after 7 s (not 2 s)
    assert [(r.status, r.attempt) for r in await sched.runs(own.schedule_id)] == [("failed", 2)]
    await sched.close()


async def test_no_retries_for_a_schedule_that_says_zero(database: Database, clock: ManualClock) -> None:
    sched = Scheduler(database, make_settings(database.url, workflow_max_retries=3,
                                              workflow_retry_base_seconds=0.0), clock)
    sched.attach_loop()
    sched.recorder.fail_first = 5
    wf = await sched.workflow()
    s = await sched.service.add_schedule(interval(wf, max_retries=0))
    await sched.tick(60)
    assert [(r.status, r.attempt) for r in await sched.runs(s.schedule_id)] == [("failed", 1)]
    assert len(sched.recorder.calls) == 1
    await sched.close()


async def test_a_schedules_own_timeout_overrides_the_service_default(database: Database, clock: ManualClock) -> None:
    sched = Scheduler(database, make_settings(database.url, workflow_timeout_seconds=3600, workflow_max_retries=0),
                      clock)
    sched.attach_loop()
    sched.recorder.gate = asyncio.Event()  # never set: the step hangs
    wf = await sched.workflow()
    s = await sched.service.add_schedule(interval(wf, timeout_seconds=1))
    await sched.tick(60)
    runs = await sched.runs(s.schedule_id)
    assert [r.status for r in runs] == ["timed_out"] and "timed out after 1 s" in (runs[0].error or "")
    await sched.close()


async def test_jitter_delays_within_bounds(sched: Scheduler, clock: ManualClock) -> None:
    wf = await sched.workflow()
    await sched.service.add_schedule(interval(wf, jitter_seconds=30))
    assert sched.loop is not None
    clock.advance(60)
    await sched.loop.run_pass(clock.now())
    [delay] = await until(lambda: sleepers(clock), what="the run to start waiting out its jitter")
    assert 0 < delay < 30
    assert sched.recorder.calls == []  # it is asleep on the clock: nothing can run before it moves
    clock.advance(delay - 0.001)
    assert sleepers(clock) == [pytest.approx(0.001, abs=1e-5)] and sched.recorder.calls == []
    clock.advance(0.001)
    await sched.settle()
    assert len(sched.recorder.calls) == 1


async def test_concurrency_is_bounded_and_nothing_dropped(database: Database, clock: ManualClock) -> None:
    sched = Scheduler(database, make_settings(database.url, max_concurrent_workflows=3), clock)
    sched.attach_loop()
    gate = asyncio.Event()
    sched.recorder.gate = gate
    wf = await sched.workflow()
    for i in range(10):
        await sched.service.add_schedule(interval(wf, f"s{i}"))
    clock.advance(60)
    assert sched.loop is not None
    assert (await sched.loop.run_pass(clock.now())).fired == 10
    dispatcher = sched.scheduler.dispatcher
    assert dispatcher is not None
    await until(lambda: len(sched.recorder.calls) >= 3, what="three runs to reach their step")
    assert dispatcher.running == 3 and dispatcher.pending == 10
    gate.set()
    await sched.settle()
    assert len(sched.recorder.calls) == 10 and len(sched.recorder.per_occurrence()) == 10
    assert sched.recorder.max_active == 3  # never more than three at once, from first to last
    await sched.close()


async def test_the_dispatcher_is_idle_once_its_last_run_ends(sched: Scheduler, clock: ManualClock) -> None:
    dispatcher = sched.scheduler.dispatcher
    nothing_pending = dispatcher.idle()
    with pytest.raises(StopIteration):  # nothing claimed: returns without waiting at all
        nothing_pending.send(None)
    gate, hold = asyncio.Event(), asyncio.Event()
    sched.recorder.gate = gate

    async def held(params: dict[str, Any], context: Any) -> dict[str, Any]:
        await hold.wait()
        return {}

    sched.engine.register_action("hold", held)
    wf, held_wf = await sched.workflow(), await sched.workflow(steps=[{"action": "hold"}])
    await sched.service.add_schedule(interval(wf))
    other = await sched.service.add_schedule(interval(held_wf, "held", 3600))
    clock.advance(60)
    assert sched.loop is not None and (await sched.loop.run_pass(clock.now())).fired == 1
    waiter = asyncio.ensure_future(dispatcher.idle())
    await until(lambda: sched.recorder.active == 1, what="the scheduled run to reach its step")
    await sched.scheduler.run_now(other.schedule_id)  # a second run, submitted while the waiter waits
    assert dispatcher.pending == 2 and not waiter.done()
    gate.set()
    await until(lambda: dispatcher.pending == 1, what="the scheduled run to end")
    assert not waiter.done()  # one run is still pending
    hold.set()
    await asyncio.wait_for(waiter, 10)
    assert dispatcher.pending == 0 and await sched.statuses(other.schedule_id) == ["completed"]


# ---- callback, manual runs, shutdown, recovery, retention -----------------------------------

async def test_run_now_is_manual_and_does_not_count(sched: Scheduler, clock: ManualClock) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(interval(wf, max_executions=1))
    await sched.service.pause_schedule(s.schedule_id)
    run_id, execution_id = await sched.scheduler.run_now(s.schedule_id, actor="ops")
    await sched.settle()
    runs = await sched.runs(s.schedule_id)
    assert [(r.run_id, r.trigger, r.status, r.execution_id) for r in runs] == [(run_id, "manual", "completed",
                                                                               execution_id)]
    row = await sched.service.get_schedule(s.schedule_id)
    assert row.execution_count == 0 and row.successful_runs == 1 and row.total_runs == 1
    assert sched.recorder.calls[0]["trigger"] == "manual"


async def test_shutdown_lets_runs_finish_then_cancels_the_rest(database: Database, clock: ManualClock) -> None:
    sched = Scheduler(database, make_settings(database.url, max_concurrent_workflows=1), clock)
    sched.attach_loop()
    sched.recorder.gate = asyncio.Event()  # never released
    wf = await sched.workflow()
    a = await sched.service.add_schedule(interval(wf, "a"))
    b = await sched.service.add_schedule(interval(wf, "b"))
    clock.advance(60)
    assert sched.loop is not None
    await sched.loop.run_pass(clock.now())
    await asyncio.wait_for(sched.recorder.started.wait(), 30)
    await sched.scheduler.stop(grace_seconds=0.2)
    statuses = {await sched.statuses(a.schedule_id) == ["cancelled"], await sched.statuses(b.schedule_id) == ["cancelled"]}
    assert statuses == {True}
    runs = await sched.runs(a.schedule_id) + await sched.runs(b.schedule_id)
    assert all("cancelled" in (r.error or "") for r in runs)
    with pytest.raises(Exception, match="not running"):
        await sched.scheduler.run_now(a.schedule_id)
    await sched.engine.close()


async def test_recovery_refires_queued_and_fails_running_orphans(sched: Scheduler, clock: ManualClock) -> None:
    """Runs left by a replica that stopped (no heartbeat): queued ones inside grace run once,
    queued ones past grace and running ones are recorded as failed with the reason."""
    wf = await sched.workflow()
    started = await sched.service.add_schedule(interval(wf, "started"))
    waiting = await sched.service.add_schedule(interval(wf, "waiting"))
    late = await sched.service.add_schedule(interval(wf, "late", grace_period_seconds=60))
    due = START + timedelta(minutes=1)
    ts = sched.database.dialect.ts
    left = [(started, "running"), (waiting, "queued"), (late, "queued")]

    def leave_runs(dal: Any) -> None:
        dal.executesql(sched.database.dialect.params(
            "INSERT INTO scheduler_replicas (replica_id, host, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)"),
            placeholders=["dead-replica", "gone", 1, ts(START), ts(due)])
        for schedule, status in left:
            dal.executesql(sched.database.dialect.params(
                "INSERT INTO workflow_schedule_runs (run_id, schedule_id, workflow_id, execution_id, scheduled_for, "
                "fired_at, status, attempt, \"trigger\", claimed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'schedule', ?)"),
                placeholders=[f"run-{schedule.name}", schedule.schedule_id, wf,
                              "exec-started" if status == "running" else None, ts(due), ts(due), status,
                              1 if status == "running" else 0, "dead-replica"])
        dal.executesql(sched.database.dialect.params(
            "INSERT INTO workflow_executions (execution_id, workflow_id, run_id, \"trigger\", status, attempt, "
            "created_at) VALUES ('exec-started', ?, 'run-started', 'schedule', 'running', 1, ?)"),
            placeholders=[wf, ts(due)])

    await sched.database.write(leave_runs)
    clock.advance(60 + 90)  # 90 s after the occurrence; the dead replica's heartbeat is older still
    assert sched.loop is not None
    sched.loop.replica_timeout_seconds = 30
    assert await sched.loop.recover() == 3
    await sched.settle()
    started_run = (await sched.runs(started.schedule_id))[0]
    assert started_run.status == "failed" and "stopped while this run was executing" in (started_run.error or "")
    assert (await sched.engine.store.get_execution("exec-started")).status == "failed"
    waiting_run = (await sched.runs(waiting.schedule_id))[0]
    assert waiting_run.status == "completed" and "re-fired" in (waiting_run.note or "")
    late_run = (await sched.runs(late.schedule_id))[0]
    assert late_run.status == "failed" and "grace period 60 s" in (late_run.error or "")
    assert [c["schedule_id"] for c in sched.recorder.calls] == [waiting.schedule_id]
    assert await sched.loop.recover() == 0  # nothing left, nothing twice
    assert (await sched.service.get_schedule(started.schedule_id)).failed_runs == 1


async def test_start_recovers_runs_left_by_a_dead_process(sched: Scheduler, clock: ManualClock) -> None:
    """start_scheduler() alone (no direct recover() call) resolves what a process that died left
    behind: a queued run inside its grace runs once, a queued run past it and a run that was
    executing are recorded as failed. Neither the next heartbeat nor a second replica starting
    later runs anything again."""
    wf = await sched.workflow()
    waiting = await sched.service.add_schedule(interval(wf, "waiting"))
    late = await sched.service.add_schedule(interval(wf, "late", grace_period_seconds=60))
    started = await sched.service.add_schedule(interval(wf, "started"))
    ts, mark = sched.database.dialect.ts, sched.database.dialect.params
    left = [(waiting, "queued", START - timedelta(seconds=10)), (late, "queued", START - timedelta(minutes=5)),
            (started, "running", START - timedelta(seconds=10))]
    run_ids = {schedule.name: str(uuid.uuid4()) for schedule, *_ in left}

    def crash(dal: Any) -> None:
        dal.executesql(mark(
            "INSERT INTO scheduler_replicas (replica_id, host, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)"),
            placeholders=["dead-process", "gone", 1, ts(START - timedelta(hours=1)), ts(START - timedelta(minutes=10))])
        for schedule, status, scheduled_for in left:
            dal.executesql(mark(
                "INSERT INTO workflow_schedule_runs (run_id, schedule_id, workflow_id, scheduled_for, fired_at, "
                "status, attempt, \"trigger\", claimed_by) VALUES (?, ?, ?, ?, ?, ?, ?, 'schedule', 'dead-process')"),
                placeholders=[run_ids[schedule.name], schedule.schedule_id, wf, ts(scheduled_for), ts(scheduled_for),
                              status, 1 if status == "running" else 0])

    await sched.database.write(crash)
    await sched.scheduler.start()

    async def resolved() -> dict[str, tuple[str, str]]:
        found = {}
        for schedule, *_ in left:
            runs = await sched.runs(schedule.schedule_id)
            if runs and runs[0].status not in ("queued", "running"):
                found[schedule.name] = (runs[0].run_id, runs[0].status)
        return found if len(found) == len(left) else {}

    assert await until(resolved, what="the dead process's runs to be resolved") == {
        "waiting": (run_ids["waiting"], "completed"), "late": (run_ids["late"], "failed"),
        "started": (run_ids["started"], "failed")}
    await sched.settle()
    [refired] = sched.recorder.calls
    assert (refired["run_id"], refired["scheduled_for"]) == (run_ids["waiting"], "2026-11-22T11:59:50Z")
    assert "re-fired" in ((await sched.runs(waiting.schedule_id))[0].note or "")
    assert "grace period 60 s" in ((await sched.runs(late.schedule_id))[0].error or "")
    assert "stopped while this run was executing" in ((await sched.runs(started.schedule_id))[0].error or "")

    def idle(replicas: int = 1) -> bool:
        """Every heartbeat keeper asleep for its next beat, every cancel watch for its next poll,
        every loop asleep until the next due time, every pause keeper until its next look, every
        alert deliverer until its next poll."""
        waits = sleepers(clock)
        return (len(waits) == 5 * replicas and waits.count(HEARTBEAT_SECONDS) == replicas
                and waits.count(CANCEL_POLL_SECONDS) == replicas
                and waits.count(sched.settings.alert_poll_seconds) == replicas)

    await until(idle, what="the scheduler to be idle")
    clock.advance(HEARTBEAT_SECONDS)  # the next heartbeat looks for orphans again
    await until(idle, what="the next heartbeat and recovery to end")
    await sched.settle()
    other = Scheduler(sched.database, sched.settings, clock)  # a second replica starts later
    try:
        await other.scheduler.start()
        await until(lambda: idle(2), what="the second replica's first recovery to end")
        await other.settle()
        assert other.recorder.calls == []
    finally:
        await other.close()
    assert len(sched.recorder.calls) == 1  # once, however often recovery looked
    statuses = [tuple(await sched.statuses(s.schedule_id)) for s, *_ in left]
    assert statuses == [("completed",), ("failed",), ("failed",)]
    assert (await sched.service.get_schedule(started.schedule_id)).failed_runs == 1
    assert (await sched.service.get_schedule(late.schedule_id)).failed_runs == 1


async def test_history_retention_deletes_old_runs(sched: Scheduler, clock: ManualClock) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(interval(wf))
    for _ in range(3):
        await sched.tick(60)
    clock.advance(31 * 86400)
    assert sched.loop is not None
    assert await sched.loop.purge_history() == 3  # 3 runs (each first attempt is recorded on its run row)
    assert await sched.runs(s.schedule_id) == []


async def test_a_broken_row_is_set_aside_and_others_still_fire(sched: Scheduler, clock: ManualClock) -> None:
    wf = await sched.workflow()
    bad = await sched.service.add_schedule(interval(wf, "bad"))  # first: the rows after it are planned still
    good = await sched.service.add_schedule(interval(wf, "good"))
    await sched.database.write(lambda dal: dal.executesql(
        f"UPDATE workflow_schedules SET timezone = 'Not/AZone', schedule_type = 'cron', cron_expression = '0 0 * * *', "
        f"interval_seconds = NULL WHERE id = {bad.id}"))
    result = await sched.tick(60)
    assert result.fired == 1 and result.broken == 1

    async def set_aside() -> bool:
        return (await sched.service.get_schedule(bad.schedule_id)).status is ScheduleStatus.PAUSED

    await until(set_aside, what="the broken schedule to be paused")
    assert len(sched.recorder.calls) == 1 and sched.recorder.calls[0]["schedule_id"] == good.schedule_id


async def test_changes_wake_the_loop_and_the_timer_follows_the_cache(sched: Scheduler, clock: ManualClock) -> None:
    assert sched.loop is not None
    assert sched.loop.next_wait_seconds(clock.now()) == 60  # nothing active: the poll interval
    wf = await sched.workflow()
    await sched.service.add_schedule({"workflow_id": wf, "name": "soon", "schedule_type": "one_time",
                                      "scheduled_time": (START + timedelta(seconds=7)).isoformat()})
    assert sched.loop.woken  # it is due before the time the loop was armed for
    assert sched.loop.next_wait_seconds(clock.now()) == 7


async def test_callback_gets_the_run_summary_and_a_failing_one_changes_nothing(sched: Scheduler,
                                                                              clock: ManualClock) -> None:
    wf = await sched.workflow()
    with HttpSink() as sink:
        good = await sched.service.add_schedule(interval(wf, "good", callback_url=sink.url + "/done"))
        bad = await sched.service.add_schedule(interval(wf, "bad", callback_url="http://127.0.0.1:9/refused"))
        await sched.tick(60)
        [received] = sink.wait_for(1)
    summary = received.json()
    run = (await sched.runs(good.schedule_id))[0]
    assert summary == {"schedule_id": good.schedule_id, "run_id": run.run_id, "trigger": "schedule",
                       "scheduled_for": "2026-11-22T12:01:00Z", "fired_at": "2026-11-22T12:01:00Z",
                       "execution_id": run.execution_id, "status": "completed",
                       "finished_at": "2026-11-22T12:01:00Z", "duration_ms": run.duration_ms, "attempt": 1,
                       "error": None}
    assert await sched.statuses(bad.schedule_id) == ["completed"]


async def test_heartbeat_keeps_beating_while_the_loop_sleeps(sched: Scheduler, clock: ManualClock) -> None:
    loop = await sched.scheduler.start()
    sql = "SELECT heartbeat_at FROM scheduler_replicas WHERE replica_id = '%s'" % loop.replica_id

    async def beat() -> Any:
        """Wait for the heartbeat at the clock's time, and for the keeper to be asleep again."""
        next_beat = clock.now() + timedelta(seconds=HEARTBEAT_SECONDS)
        for _ in range(200):
            rows = await sched.database.read(lambda dal: dal.executesql(sql))
            beat_now = rows and rows[0][0] is not None and rows[0][0].replace(tzinfo=None) >= clock.now().replace(
                tzinfo=None, microsecond=0)
            if beat_now and next_beat in clock.sleeping_until():
                return rows[0][0]
            await asyncio.sleep(0.01)
        raise AssertionError("no heartbeat at " + clock.now().isoformat())

    await beat()
    for _ in range(3):  # the loop itself sleeps for the 60 s poll interval meanwhile
        clock.advance(5)
        await beat()
    replicas = await sched.scheduler.replicas.live(clock.now(), 30)
    assert [r["replica_id"] for r in replicas] == [loop.replica_id]


async def test_start_builds_the_http_client_before_the_first_fire(sched: Scheduler) -> None:
    """Loading the client's TLS context takes tens of milliseconds: never on the first fire's path."""
    engine = sched.scheduler.dispatcher.engine
    assert not engine.clients_built
    await sched.scheduler.start()
    assert engine.clients_built


async def test_a_first_attempt_is_recorded_on_its_run_row(sched: Scheduler, clock: ManualClock) -> None:
    """One row per run: its only attempt has the run's id, no workflow_executions row, and reads
    back as an execution (GET /api/v1/executions/{id}) within its community only."""
    wf = await sched.workflow(community_id="blue")
    s = await sched.service.add_schedule(interval(wf, community_id="blue"))
    await sched.tick(60)
    [run] = await sched.runs(s.schedule_id)
    assert run.status == "completed" and run.execution_id == run.run_id and run.attempt == 1
    rows = await sched.database.read(lambda dal: dal.executesql("SELECT COUNT(*) FROM workflow_executions"))
    assert rows[0][0] == 0  # no execution row of its own
    execution = await sched.engine.store.get_execution(run.execution_id, "blue")
    assert (execution.status, execution.run_id, execution.schedule_id, execution.community_id) == (
        "completed", run.run_id, s.schedule_id, "blue")
    assert [r["output"] for r in execution.step_results] == [{"n": 1}]
    assert execution.finished_at == run.finished_at and execution.trigger == "schedule"
    with pytest.raises(Exception, match="not found"):
        await sched.engine.store.get_execution(run.execution_id, "red")
    assert (await sched.service.get_schedule(s.schedule_id)).last_execution_id == run.run_id


# ---- what the loop decided, read back -----------------------------------------------------------
# Each test below reads the value a loop decision produced (when it is armed for, what the cache
# holds after a stale pass, how an orphan was resolved, what retention deleted), not only that a
# pass ran: the mutation run of services.scheduler_loop (docs/testing.md) found these unread.

def _woken_by(loop: Any, due: Any, *, claimed: bool = False) -> bool:
    """Publish a change due at `due` for a schedule no other test step uses; did it wake the loop?"""
    loop._wake.clear()
    loop.changes.publish(10_000_001, "probe", due, claimed=claimed)
    woke = loop.woken
    loop.changes.cache.remove(10_000_001)
    loop._wake.clear()
    return woke


async def test_the_loop_is_armed_for_the_sooner_of_the_poll_and_the_cache_head(sched: Scheduler,
                                                                             clock: ManualClock) -> None:
    """next_wait_seconds: how long to sleep, and the time the loop is armed for, which decides
    whether a change wakes it early (strictly before that time, and never a claim's own change)."""
    loop = sched.loop
    assert loop is not None
    now = clock.now()
    s = timedelta(seconds=1)
    assert _woken_by(loop, now + 3600 * s)  # not armed yet: any due change wakes it
    assert not _woken_by(loop, None)  # a schedule that stopped being due never wakes it
    assert loop.next_wait_seconds(now) == 60.0  # empty cache: the poll interval
    assert (_woken_by(loop, now + 59 * s), _woken_by(loop, now + 60 * s), _woken_by(loop, now + 61 * s)) == (
        True, False, False)
    assert not _woken_by(loop, now + s, claimed=True)  # the loop re-arms after its own claims

    head = 10_000_002
    loop.changes.publish(head, "head", now + 7 * s, claimed=True)
    assert loop.next_wait_seconds(now) == 7.0
    assert (_woken_by(loop, now + 6 * s), _woken_by(loop, now + 7 * s)) == (True, False)
    loop.changes.publish(head, "head", now + 60 * s, claimed=True)
    assert loop.next_wait_seconds(now) == 60.0
    loop.changes.publish(head, "head", now + 90 * s, claimed=True)
    assert loop.next_wait_seconds(now) == 60.0  # the poll comes first
    assert (_woken_by(loop, now + 59 * s), _woken_by(loop, now + 61 * s)) == (True, False)
    loop.changes.publish(head, "head", now - 5 * s, claimed=True)
    assert loop.next_wait_seconds(now) == 0.0  # overdue: pass at once, never a negative sleep
    assert (_woken_by(loop, now - 6 * s), _woken_by(loop, now - 4 * s)) == (True, False)  # armed for the head

    loop.degraded = True  # Redis unreachable: no notifications from other replicas, so poll every 5 s
    loop.changes.cache.remove(head)
    assert loop.next_wait_seconds(now) == 5.0
    assert (_woken_by(loop, now + 4 * s), _woken_by(loop, now + 5 * s)) == (True, False)
    loop.changes.publish(head, "head", now + 3 * s, claimed=True)
    assert loop.next_wait_seconds(now) == 3.0
    loop.changes.publish(head, "head", now + 7 * s, claimed=True)
    assert loop.next_wait_seconds(now) == 5.0


async def test_a_pass_that_finds_nothing_due_reads_stale_cache_entries_again(sched: Scheduler,
                                                                            clock: ManualClock) -> None:
    """Another replica claimed an occurrence (the database moved on, this cache did not): the pass
    finds nothing due, and every cache entry due at or before now is read again, including one
    whose schedule was since paused; entries due later are left alone."""
    wf = await sched.workflow()
    moved = await sched.service.add_schedule(interval(wf, "moved"))
    paused = await sched.service.add_schedule({"workflow_id": wf, "name": "paused", "schedule_type": "one_time",
                                               "scheduled_time": (START + timedelta(seconds=30)).isoformat()})
    later = await sched.service.add_schedule(interval(wf, "later", seconds=300))
    due = START + timedelta(minutes=1)
    ts, mark = sched.database.dialect.ts, sched.database.dialect.params

    def elsewhere(dal: Any) -> None:  # another replica's claim and pause, never published here
        dal.executesql(mark("UPDATE workflow_schedules SET next_execution_at = ? WHERE id = ?"),
                       placeholders=[ts(due + timedelta(minutes=1)), moved.id])
        dal.executesql(mark("UPDATE workflow_schedules SET is_active = ?, status = 'paused' WHERE id = ?"),
                       placeholders=[False, paused.id])
        dal.executesql(mark("UPDATE workflow_schedules SET next_execution_at = ? WHERE id = ?"),
                       placeholders=[ts(START + timedelta(minutes=7)), later.id])

    await sched.database.write(elsewhere)
    cache = sched.service.cache
    assert (cache.due_at(moved.id), cache.due_at(paused.id)) == (due, START + timedelta(seconds=30))
    result = await sched.tick(60)  # stale entries due exactly now (moved) and before now (paused)
    assert (result.due, result.fired, result.more) == (0, 0, False)
    assert cache.due_at(moved.id) == due + timedelta(minutes=1)
    assert paused.id not in cache
    assert cache.due_at(later.id) == START + timedelta(minutes=5)  # not due yet: its change notice will tell
    assert sched.loop is not None and sched.loop.next_wait_seconds(clock.now()) == 60.0


def _leave_run(sched: Scheduler, run_id: str, schedule_id: str, workflow_id: str, scheduled_for: Any, status: str,
               claimed_by: str, *, trigger: str = "schedule", attempt: int = 0) -> Callable[[Any], None]:
    ts, mark = sched.database.dialect.ts, sched.database.dialect.params

    def leave(dal: Any) -> None:
        dal.executesql(mark(
            "INSERT INTO workflow_schedule_runs (run_id, schedule_id, workflow_id, scheduled_for, fired_at, status, "
            "attempt, \"trigger\", claimed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            placeholders=[run_id, schedule_id, workflow_id, ts(scheduled_for), ts(scheduled_for), status, attempt,
                          trigger, claimed_by])

    return leave


async def test_recovery_adopts_a_run_exactly_at_its_grace_and_fails_one_a_second_past_it(
        sched: Scheduler, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    """The boundary of a stopped replica's queued runs: `late <= grace` runs again (with the run's
    own trigger, context and attempt), a second more is failed with how late it was; a run whose
    schedule is gone fails with that reason; a run of this replica is never an orphan, heartbeat
    or not; and a run taken over once is not taken over again."""
    wf = await sched.workflow()
    on_time = await sched.service.add_schedule(interval(
        wf, "on-time", grace_period_seconds=60, context_data={"room": "ops"}, community_id="blue",
        callback_url="http://127.0.0.1:9/done", timeout_seconds=30, max_retries=2, retry_backoff_seconds=5))
    too_late = await sched.service.add_schedule(interval(wf, "too-late", grace_period_seconds=60))
    mine = await sched.service.add_schedule(interval(wf, "mine"))
    assert sched.loop is not None
    loop = sched.loop
    now = clock.now()
    ids = {name: str(uuid.uuid4()) for name in ("on-time", "too-late", "no-schedule", "mine")}  # CHAR(36)
    for leave in (
        _leave_run(sched, ids["on-time"], on_time.schedule_id, wf, now - timedelta(seconds=60), "queued", "gone",
                   trigger="manual", attempt=2),
        _leave_run(sched, ids["too-late"], too_late.schedule_id, wf, now - timedelta(seconds=61), "queued", "gone"),
        _leave_run(sched, ids["no-schedule"], str(uuid.uuid4()), wf, now, "queued", "gone"),
        _leave_run(sched, ids["mine"], mine.schedule_id, wf, now - timedelta(hours=1), "queued", loop.replica_id),
    ):
        await sched.database.write(leave)
    orphans = {o.run_id: o for o in await loop.ledger.orphans([loop.replica_id])}
    assert set(orphans) == {ids["on-time"], ids["too-late"], ids["no-schedule"]}  # never this replica's own
    left = orphans[ids["on-time"]]
    assert (left.schedule_pk, left.schedule_id, left.workflow_id, left.community_id, left.scheduled_for) == (
        on_time.id, on_time.schedule_id, wf, "blue", now - timedelta(seconds=60))
    assert (left.status, left.trigger, left.claimed_by, left.execution_id, left.attempt) == (
        "queued", "manual", "gone", None, 2)
    limits = left.limits
    assert (left.grace_period_seconds, left.context_data, left.callback_url) == (60, {"room": "ops"},
                                                                                 "http://127.0.0.1:9/done")
    assert (limits.timeout_seconds, limits.max_retries, limits.retry_backoff_seconds) == (30, 2, 5)
    assert orphans[ids["too-late"]].attempt == 0  # queued, never started
    gone = orphans[ids["no-schedule"]]
    assert (gone.schedule_pk, gone.grace_period_seconds, gone.context_data, gone.callback_url) == (None, 0, {}, None)

    with caplog.at_level(logging.INFO, logger="workflow_core_module.services.scheduler_loop"):
        assert await loop.recover() == 3
        assert await loop.recover() == 0  # nothing left: nothing twice, and nothing said
    said = [r.getMessage() for r in caplog.records if getattr(r, "action", None) == "scheduler.recover"]
    assert said == ["resolved 3 run(s) of stopped replicas"]
    await sched.settle()
    [refired] = sched.recorder.calls
    assert (refired["run_id"], refired["trigger"], refired["scheduled_for"]) == (
        ids["on-time"], "manual", "2026-11-22T11:59:00Z")
    assert refired["context_data"] == {"room": "ops"}
    [on_time_run] = await sched.runs(on_time.schedule_id)
    assert on_time_run.status == "completed" and on_time_run.attempt == 3  # the attempt after the one it had
    [too_late_run] = await sched.runs(too_late.schedule_id)
    assert too_late_run.status == "failed"
    assert "it is now 61 s late (grace period 60 s)" in (too_late_run.error or "")
    assert "replica gone stopped" in (too_late_run.error or "")
    assert await sched.statuses(mine.schedule_id) == ["queued"]  # this replica's own run: left alone

    def read_gone(dal: Any) -> Any:
        return dal.executesql(sched.database.dialect.params(
            "SELECT status, error FROM workflow_schedule_runs WHERE run_id = ?"), placeholders=[ids["no-schedule"]])[0]

    status, error = await sched.database.read(read_gone)
    assert status == "failed" and error == "failed: replica gone stopped; schedule gone"
    # The first orphan again, as another replica's stale read would see it: already taken over.
    assert await loop._resolve(orphans[ids["on-time"]], clock.now()) == 0
    await sched.settle()
    assert len(sched.recorder.calls) == 1


async def test_retention_deletes_every_batch_of_old_runs_executions_and_alerts(
        sched: Scheduler, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    """More than one batch (1,000) of each kind: retention goes on until a batch deletes nothing,
    counts runs and executions (not alerts), and keeps what is unfinished, undelivered or recent.
    Once the loop is stopped it deletes nothing more."""
    wf = await sched.workflow()
    s = await sched.service.add_schedule(interval(wf))
    old = START - timedelta(days=40)
    recent = START - timedelta(days=1)
    ts, mark = sched.database.dialect.ts, sched.database.dialect.params
    many = 1_001

    def fill(dal: Any) -> None:
        runs = [(f"old-{i}", old + timedelta(seconds=i), "completed") for i in range(many)] + [
            ("old-queued", old - timedelta(days=1), "queued"), ("recent", recent, "completed")]
        for run_id, when, status in runs:
            dal.executesql(mark(
                "INSERT INTO workflow_schedule_runs (run_id, schedule_id, workflow_id, scheduled_for, fired_at, "
                "status, attempt, \"trigger\") VALUES (?, ?, ?, ?, ?, ?, 1, 'schedule')"),
                placeholders=[run_id, s.schedule_id, wf, ts(when), ts(when), status])
        for i in range(many + 1):
            dal.executesql(mark(
                "INSERT INTO workflow_executions (execution_id, workflow_id, \"trigger\", status, attempt, created_at) "
                "VALUES (?, ?, 'manual', ?, 1, ?)"),
                placeholders=[f"exec-{i}", wf, "running" if i == many else "failed", ts(old)])
        alerts = [("sent", old)] * many + [("failed", old), ("pending", old), ("sent", recent)]
        for i, (status, when) in enumerate(alerts):
            dal.executesql(mark(
                "INSERT INTO schedule_alerts (alert_id, schedule_id, event, channel, target, payload, status, "
                "created_at, next_attempt_at) VALUES (?, ?, 'failure', 'operator', '', '{}', ?, ?, ?)"),
                placeholders=[f"alert-{i}", s.schedule_id, status, ts(when), ts(when)])

    await sched.database.write(fill)

    def left(dal: Any) -> tuple[list[Any], ...]:
        return tuple(dal.executesql(sql) for sql in (
            "SELECT run_id FROM workflow_schedule_runs ORDER BY run_id",
            "SELECT execution_id FROM workflow_executions",
            "SELECT status, COUNT(*) FROM schedule_alerts GROUP BY status ORDER BY status"))

    assert sched.loop is not None
    with caplog.at_level(logging.INFO, logger="workflow_core_module.services.scheduler_loop"):
        assert await sched.loop.purge_history() == 2 * many  # the old finished runs and executions
        assert await sched.loop.purge_history() == 0  # nothing old left: nothing said
        await sched.database.write(_leave_run(sched, "old-run", s.schedule_id, wf, old - timedelta(days=3),
                                              "completed", "gone"))
        assert await sched.loop.purge_history() == 1  # a run alone is said too
    said = [r.getMessage() for r in caplog.records if getattr(r, "action", None) == "scheduler.retention"]
    assert said == [f"deleted {2 * many} old run and execution rows and {many + 1} old alerts",
                    "deleted 1 old run and execution rows and 0 old alerts"]
    runs, executions, alerts = await sched.database.read(left)
    assert [r[0].rstrip() for r in runs] == ["old-queued", "recent"]  # CHAR(36) on PostgreSQL
    assert [e[0].rstrip() for e in executions] == [f"exec-{many}"]  # still running
    assert [tuple(a) for a in alerts] == [("pending", 1), ("sent", 1)]

    await sched.database.write(_leave_run(sched, "old-again", s.schedule_id, wf, old - timedelta(days=2), "completed", "gone"))
    sched.loop.stop()
    assert await sched.loop.purge_history() == 0
    assert len((await sched.database.read(left))[0]) == 3


async def test_a_pass_claims_in_batches_up_to_its_limit_and_says_when_more_is_due(database: Database,
                                                                               clock: ManualClock) -> None:
    """Five due with batches of two and at most two batches a pass: the first pass claims four and
    says more is due (the loop passes again at once, without sleeping); the next claims the last."""
    sched = Scheduler(database, make_settings(database.url), clock)
    sched.attach_loop(batch_size=2, max_batches_per_pass=2)
    try:
        wf = await sched.workflow()
        for i in range(5):
            await sched.service.add_schedule(interval(wf, f"s{i}"))
        clock.advance(60)
        first = await sched.tick()
        assert (first.due, first.fired, first.more) == (4, 4, True)
        second = await sched.tick()
        assert (second.due, second.fired, second.more) == (1, 1, False)
        assert (await sched.tick()).due == 0
        assert len(sched.recorder.calls) == 5
    finally:
        await sched.close()


async def test_a_recovered_chain_run_keeps_its_upstream(sched: Scheduler, clock: ManualClock) -> None:
    """A chain run left queued by a stopped replica runs again with the trigger data it was queued
    with: which upstream run started it, how that run ended and when."""
    wf = await sched.workflow()
    upstream = await sched.service.add_schedule(interval(wf, "upstream"))
    chained = await sched.service.add_schedule({"workflow_id": wf, "name": "chained", "schedule_type": "after",
                                                "after": {"schedule_id": upstream.schedule_id, "on": "any"}})
    ended = clock.now() - timedelta(seconds=5)
    upstream_run, chain_run = str(uuid.uuid4()), str(uuid.uuid4())
    ts, mark = sched.database.dialect.ts, sched.database.dialect.params

    def leave(dal: Any) -> None:
        sql = mark("INSERT INTO workflow_schedule_runs (run_id, schedule_id, workflow_id, scheduled_for, fired_at, "
                   "finished_at, status, attempt, \"trigger\", claimed_by, upstream_run_id) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        dal.executesql(sql, placeholders=[upstream_run, upstream.schedule_id, wf, ts(ended), ts(ended), ts(ended),
                                          "failed", 1, "schedule", "gone", None])
        dal.executesql(sql, placeholders=[chain_run, chained.schedule_id, wf, ts(ended), ts(ended), None, "queued", 0,
                                          "after", "gone", upstream_run])

    await sched.database.write(leave)
    assert sched.loop is not None and await sched.loop.recover() == 1
    await sched.settle()
    [refired] = sched.recorder.calls
    assert (refired["run_id"], refired["trigger"]) == (chain_run, "after")
    assert refired["upstream"] == {"schedule_id": upstream.schedule_id, "run_id": upstream_run, "status": "failed",
                                   "finished_at": ended.strftime("%Y-%m-%dT%H:%M:%SZ")}


async def test_a_claim_writes_the_alerts_of_schedules_that_alert_and_no_others(sched: Scheduler,
                                                                             clock: ManualClock) -> None:
    """A missed occurrence and an expiry write their alert rows in the claim's transaction, for
    the schedule that asked for them only (no operator webhook is set here)."""
    wf = await sched.workflow()
    alerts = {"on": ["missed", "paused"], "channels": [{"type": "webhook", "url": "http://127.0.0.1:9/alert"}]}
    grace = {"grace_period_seconds": 60, "end_date": (START + timedelta(minutes=10)).isoformat()}
    alerting = await sched.service.add_schedule(interval(wf, "alerting", alerts=alerts, **grace))
    quiet = await sched.service.add_schedule(interval(wf, "quiet", **grace))
    assert (await sched.tick(60 + 90)).missed == 2  # 12:02:30: 12:01 missed, 12:02 fires
    assert (await sched.tick(9 * 60)).expired == 2  # 12:11:30: 12:03 .. 12:11 missed, the end (12:10) passed

    def events(dal: Any) -> list[tuple[str, str]]:
        return [(str(r[0]).rstrip(), r[1]) for r in dal.executesql(
            "SELECT schedule_id, event FROM schedule_alerts ORDER BY id")]

    assert await sched.database.read(events) == [(alerting.schedule_id, e) for e in ("missed", "missed", "paused")]
    assert await sched.statuses(quiet.schedule_id) == await sched.statuses(alerting.schedule_id)


async def test_a_pass_reports_its_own_duration_in_milliseconds(sched: Scheduler, clock: ManualClock,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """duration_ms (what /status and the pass log show) is the pass's elapsed time: the loop reads
    time.perf_counter at its start and end, here 1.5 s apart."""
    readings = iter([1.0, 2.5])
    monkeypatch.setattr(scheduler_loop, "time", types.SimpleNamespace(perf_counter=lambda: next(readings)))
    assert sched.loop is not None
    assert (await sched.loop.run_pass(clock.now())).duration_ms == 1500.0


async def test_maintenance_halts_a_pass_before_it_claims_anything(sched: Scheduler, clock: ManualClock) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule(interval(wf, grace_period_seconds=3600))
    await sched.scheduler.pause_all(reason="upgrade", actor="test")
    halted = await sched.tick(60)
    assert (halted.halted, halted.due, halted.fired, halted.more) == (True, 0, 0, False)
    await sched.scheduler.resume_all(actor="test")
    resumed = await sched.tick()
    assert (resumed.halted, resumed.fired) == (False, 1)
    assert await sched.statuses(s.schedule_id) == ["completed"]


async def test_an_expiry_alone_writes_its_alert(sched: Scheduler, clock: ManualClock) -> None:
    """The last occurrence fires and the next is past the end: the claim's only alert is the
    expiry (no alert state changes with it), and it is written all the same."""
    wf = await sched.workflow()
    alerts = {"on": ["paused"], "channels": [{"type": "webhook", "url": "http://127.0.0.1:9/alert"}]}
    s = await sched.service.add_schedule(interval(wf, alerts=alerts,
                                                  end_date=(START + timedelta(seconds=150)).isoformat()))
    assert [(p.fired, p.expired) for p in [await sched.tick(60), await sched.tick(60)]] == [(1, 0), (1, 1)]
    rows = await sched.database.read(lambda dal: dal.executesql("SELECT event FROM schedule_alerts"))
    assert [r[0] for r in rows] == ["paused"]
    assert await sched.statuses(s.schedule_id) == ["completed", "completed"]


async def test_a_recovered_run_that_pauses_its_schedule_alerts_both(sched: Scheduler, clock: ManualClock) -> None:
    """A run left running by a stopped replica is recorded failed; with pause_after_failures 1 that
    pauses its schedule, and a schedule alerting on both gets a failure alert and a paused one."""
    wf = await sched.workflow()
    alerts = {"on": ["failure", "paused"], "channels": [{"type": "webhook", "url": "http://127.0.0.1:9/alert"}]}
    s = await sched.service.add_schedule(interval(wf, alerts=alerts, pause_after_failures=1))
    await sched.database.write(_leave_run(sched, str(uuid.uuid4()), s.schedule_id, wf, clock.now(), "running", "gone",
                                          attempt=1))
    assert sched.loop is not None and await sched.loop.recover() == 1
    rows = await sched.database.read(lambda dal: dal.executesql("SELECT event FROM schedule_alerts ORDER BY id"))
    assert [r[0] for r in rows] == ["failure", "paused"]
    assert (await sched.service.get_schedule(s.schedule_id)).status is ScheduleStatus.PAUSED


async def test_a_pass_does_not_wake_the_loop_with_its_own_claims(sched: Scheduler, clock: ManualClock) -> None:
    """A claim moves its schedules to their next times; the loop re-arms after the pass, so
    those changes must not count as a wake (the loop, armed for nothing yet, would pass again)."""
    loop = sched.loop
    assert loop is not None
    wf = await sched.workflow()
    await sched.service.add_schedule(interval(wf))
    assert loop.woken  # the new schedule's change did wake it
    loop._wake.clear()
    assert (await sched.tick(60)).fired == 1
    assert not loop.woken


async def test_a_recovered_failure_that_alerts_only_its_pause_writes_that_alert(sched: Scheduler,
                                                                              clock: ManualClock) -> None:
    """Alerts on `paused` only: the recovered failure changes no alert state, and the pause it
    causes still writes its alert."""
    wf = await sched.workflow()
    alerts = {"on": ["paused"], "channels": [{"type": "webhook", "url": "http://127.0.0.1:9/alert"}]}
    s = await sched.service.add_schedule(interval(wf, alerts=alerts, pause_after_failures=1))
    await sched.database.write(_leave_run(sched, str(uuid.uuid4()), s.schedule_id, wf, clock.now(), "running", "gone",
                                          attempt=1))
    assert sched.loop is not None and await sched.loop.recover() == 1
    rows = await sched.database.read(lambda dal: dal.executesql("SELECT event FROM schedule_alerts"))
    assert [r[0] for r in rows] == ["paused"]
