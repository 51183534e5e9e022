"""Schedule chains (schedule_type `after`): a real scheduler on SQLite files and the real
PostgreSQL, driven by a manual clock. What starts a chain run and what does not, its trigger data,
its overlap policy and limits, exactly once per upstream run, the crash window between the commit
of a chain run and its start, and the rules a chain must keep (no cycle, one community, no
upstream deleted under its chains). Two real replicas: test_chains_scale_out.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import psycopg2.errors
import pytest

from workflow_core_module.clock import ManualClock
from workflow_core_module.db.alerts import AlertBatch
from workflow_core_module.db.chains import Chained, RunEnded
from workflow_core_module.db.database import Database, is_transient
from workflow_core_module.engine.actions import StepContext, StepFailed
from workflow_core_module.errors import Conflict, Invalid, NotFound
from workflow_core_module.scheduling import OverlapPolicy, RunStatus, ScheduleType, TimeRule, Unfinished, plan_chained
from workflow_core_module.scheduling.types import ChainOn

from .conftest import START, make_settings
from .harness import Scheduler, api_call, sleepers, until


class Switch:
    """An action that fails while `failing` says so (or its first `fail_first` calls), records
    each call's trigger, and can be held on a gate."""

    def __init__(self) -> None:
        self.failing = False
        self.fail_first = 0
        self.calls: list[dict[str, Any]] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, params: dict[str, Any], context: StepContext) -> dict[str, Any]:
        self.calls.append(dict(context.trigger))
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_first > 0:
            self.fail_first -= 1
            raise StepFailed("told to fail")
        if self.failing:
            raise StepFailed("told to fail")
        return {}


def _scheduler(database: Database, clock: ManualClock, **overrides: Any) -> Scheduler:
    settings = make_settings(database.url, **{"workflow_max_retries": 0, "max_schedules_per_community": 1000,
                                              **overrides})
    sched = Scheduler(database, settings, clock)
    sched.attach_loop()
    return sched


@pytest.fixture
async def sched(database: Database, clock: ManualClock) -> AsyncIterator[Scheduler]:
    s = _scheduler(database, clock)
    yield s
    await s.close()


async def _switch(sched: Scheduler, name: str = "switch") -> tuple[Switch, str]:
    """A Switch registered as action `name`, and a workflow of one step that runs it."""
    switch = Switch()
    sched.engine.register_action(name, switch)
    return switch, await sched.workflow(steps=[{"action": name}])


def every_minute(wf: str, name: str = "extract", **kw: Any) -> dict[str, Any]:
    return {"workflow_id": wf, "name": name, "schedule_type": "interval", "interval_seconds": 60, **kw}


def after(wf: str, upstream: str, name: str, on: str | None = None, **kw: Any) -> dict[str, Any]:
    link = {"schedule_id": upstream} | ({"on": on} if on else {})
    return {"workflow_id": wf, "name": name, "schedule_type": "after", "after": link, **kw}


async def _chain_of_three(sched: Scheduler, wf: str, *names: str) -> list[Any]:
    """A (every minute), B after A, C after B: the three schedules."""
    head, middle, tail = names or ("extract", "transform", "load")
    a = await sched.service.add_schedule(every_minute(wf, head))
    b = await sched.service.add_schedule(after(wf, a.schedule_id, middle))
    return [a, b, await sched.service.add_schedule(after(wf, b.schedule_id, tail))]


async def _count_runs(database: Database, schedule_id: str) -> int:
    rows = await database.read(lambda dal: dal.executesql(database.dialect.params(
        "SELECT COUNT(*) FROM workflow_schedule_runs WHERE schedule_id = ?"), placeholders=[schedule_id]))
    return int(rows[0][0])


# ---- the pure rule -----------------------------------------------------------------------------

_ENDED = START + timedelta(minutes=5)
_RULE = TimeRule(ScheduleType.AFTER, after=("6a6b95f9-5ab5-43a9-b33f-249071982a69", ChainOn.SUCCESS))
_RUNNING, _QUEUED = Unfinished("r1", True), Unfinished("r2", False)


@pytest.mark.parametrize(("rule", "count", "limit", "policy", "unfinished", "expected"), [
    (_RULE, 0, None, OverlapPolicy.SKIP, (), ("queued", "active", 1)),
    (_RULE, 1, 2, OverlapPolicy.SKIP, (), ("queued", "completed", 2)),  # its last allowed run
    (_RULE, 2, 2, OverlapPolicy.SKIP, (), (None, "completed", 2)),
    (_RULE, 1, 2, OverlapPolicy.SKIP, (_RUNNING,), ("skipped", "active", 1)),  # a skipped fire does not count
    (_RULE, 0, None, OverlapPolicy.ALLOW, (_RUNNING,), ("queued", "active", 1)),
    (_RULE, 0, None, OverlapPolicy.BUFFER_ONE, (_RUNNING,), ("queued", "active", 1)),
    (_RULE, 0, None, OverlapPolicy.BUFFER_ONE, (_RUNNING, _QUEUED), ("skipped", "active", 0)),
    (_RULE, 0, None, OverlapPolicy.CANCEL_PREVIOUS, (_RUNNING,), ("queued", "active", 1)),
    (replace(_RULE, end_date=_ENDED - timedelta(seconds=1)), 0, None, OverlapPolicy.SKIP, (), (None, "expired", 0)),
    (replace(_RULE, end_date=_ENDED), 0, None, OverlapPolicy.SKIP, (), ("queued", "active", 1)),  # inclusive
    (replace(_RULE, start_date=_ENDED), 0, None, OverlapPolicy.SKIP, (), ("queued", "active", 1)),
    (replace(_RULE, start_date=_ENDED + timedelta(seconds=1)), 0, None, OverlapPolicy.SKIP, (), None),
])
def test_plan_chained(rule: TimeRule, count: int, limit: int | None, policy: OverlapPolicy,
                      unfinished: tuple[Unfinished, ...], expected: tuple[str | None, str, int] | None) -> None:
    p = plan_chained(rule, count, limit, _ENDED, _ENDED, policy, unfinished)
    got = None if p is None else (p.fire_status, p.decision.status.value, p.decision.execution_count)
    assert got == expected
    if p is not None and p.fire_status is not None:
        assert (p.decision.fire_for, p.decision.next_execution_at) == (_ENDED, None)
    if policy is OverlapPolicy.BUFFER_ONE and expected and expected[0] == "queued":
        assert p is not None and p.wait_for == ("r1",)
    if policy is OverlapPolicy.CANCEL_PREVIOUS:
        assert p is not None and p.cancel == ("r1",)


@pytest.mark.parametrize(("on", "ends"), [
    (ChainOn.SUCCESS, {"completed"}), (ChainOn.FAILURE, {"failed", "timed_out"}),
    (ChainOn.ANY, {"completed", "failed", "timed_out"})])
def test_which_ends_start_a_chain(on: ChainOn, ends: set[str]) -> None:
    assert {s.value for s in RunStatus if on.matches(s.value)} == ends  # never cancelled, skipped or missed


# ---- what starts a chain run -------------------------------------------------------------------

async def test_a_chain_of_three_runs_each_link_once_per_run_of_its_head(sched: Scheduler) -> None:
    a, b, c = await _chain_of_three(sched, await sched.workflow())
    assert (b.next_execution_at, b.status.value, b.is_active) == (None, "active", True)
    for _ in range(3):
        await sched.tick(60)
    a_runs, b_runs, c_runs = [await sched.runs(s.schedule_id) for s in (a, b, c)]
    assert [len(a_runs), len(b_runs), len(c_runs)] == [3, 3, 3]
    assert {r.status for r in a_runs + b_runs + c_runs} == {"completed"}
    assert {r.trigger for r in b_runs + c_runs} == {"after"}
    calls = sched.recorder.calls
    assert [c["trigger"] for c in calls] == ["schedule", "after", "after"] * 3  # each link after the one above
    by_run = {c["run_id"]: c for c in calls}
    for upstream_runs, runs, upstream in ((a_runs, b_runs, a), (b_runs, c_runs, b)):
        seen = [by_run[r.run_id]["upstream"] for r in runs]
        assert [u["run_id"] for u in seen] == [r.run_id for r in upstream_runs]
        ended = {r.run_id: r.finished_at for r in upstream_runs}
        for u in seen:
            assert set(u) == {"schedule_id", "run_id", "status", "finished_at"}
            assert (u["schedule_id"], u["status"]) == (upstream.schedule_id, "completed")
            assert u["finished_at"] == ended[u["run_id"]].strftime("%Y-%m-%dT%H:%M:%SZ")
    # Counted like any run; never due by time.
    b_now = await sched.service.get_schedule(b.schedule_id)
    assert (b_now.execution_count, b_now.total_runs, b_now.successful_runs) == (3, 3, 3)
    assert b_now.next_execution_at is None and b_now.status.value == "active"


async def test_success_failure_and_any_start_on_their_outcomes_only(sched: Scheduler) -> None:
    switch, flaky = await _switch(sched)
    wf = await sched.workflow()
    a = await sched.service.add_schedule(every_minute(flaky))
    on_success = await sched.service.add_schedule(after(wf, a.schedule_id, "on-success"))
    on_failure = await sched.service.add_schedule(after(wf, a.schedule_id, "on-failure", "failure"))
    on_any = await sched.service.add_schedule(after(wf, a.schedule_id, "on-any", "any"))
    switch.failing = True
    await sched.tick(60)
    assert [len(await sched.runs(s.schedule_id)) for s in (on_success, on_failure, on_any)] == [0, 1, 1]
    switch.failing = False
    await sched.tick(60)
    assert [len(await sched.runs(s.schedule_id)) for s in (on_success, on_failure, on_any)] == [1, 1, 2]
    [failed] = [c for c in sched.recorder.calls if c["schedule_id"] == on_failure.schedule_id]
    assert failed["upstream"]["status"] == "failed"
    assert [c["upstream"]["status"] for c in sched.recorder.calls
            if c["schedule_id"] == on_any.schedule_id] == ["failed", "completed"]


async def test_a_timed_out_run_is_a_failure(database: Database, clock: ManualClock) -> None:
    sched = _scheduler(database, clock, workflow_timeout_seconds=0.2)
    switch, hangs = await _switch(sched)
    switch.gate = asyncio.Event()  # never set: the step hangs
    wf = await sched.workflow()
    a = await sched.service.add_schedule(every_minute(hangs))
    b = await sched.service.add_schedule(after(wf, a.schedule_id, "cleanup", "failure"))
    await sched.tick(60)
    assert [r.status for r in await sched.runs(a.schedule_id)] == ["timed_out"]
    [call] = sched.recorder.calls
    assert (call["schedule_id"], call["upstream"]["status"]) == (b.schedule_id, "timed_out")
    await sched.close()


async def test_the_chain_starts_after_the_upstreams_last_attempt(database: Database, clock: ManualClock) -> None:
    sched = _scheduler(database, clock, workflow_max_retries=2, workflow_retry_base_seconds=5.0)
    switch, flaky = await _switch(sched)
    wf = await sched.workflow()
    a = await sched.service.add_schedule(every_minute(flaky))
    b = await sched.service.add_schedule(after(wf, a.schedule_id, "next", "any"))
    switch.fail_first = 2
    clock.advance(60)
    await sched.loop.run_pass(clock.now())  # type: ignore[union-attr]
    dispatcher = sched.scheduler.dispatcher
    for _ in range(2):  # each failed attempt waits out its backoff: nothing after it has started
        await until(lambda: sleepers(clock), what="the backoff after a failed attempt")
        assert await _count_runs(database, b.schedule_id) == 0
        clock.advance(sleepers(clock)[0])
    await until(lambda: not dispatcher.pending, what="the runs to end")
    [run] = await sched.runs(a.schedule_id)
    assert (run.status, run.attempt) == ("completed", 3)
    [call] = sched.recorder.calls
    assert (call["schedule_id"], call["upstream"]["run_id"], call["upstream"]["status"]) == (
        b.schedule_id, run.run_id, "completed")
    await sched.close()


async def test_a_manual_run_of_an_active_upstream_starts_its_chain(sched: Scheduler) -> None:
    wf = await sched.workflow()
    a = await sched.service.add_schedule(every_minute(wf))
    b = await sched.service.add_schedule(after(wf, a.schedule_id, "next"))
    run_id, _ = await sched.scheduler.run_now(a.schedule_id)
    await sched.settle()
    [call] = [c for c in sched.recorder.calls if c["schedule_id"] == b.schedule_id]
    assert call["upstream"]["run_id"] == run_id


# ---- what starts nothing -----------------------------------------------------------------------

async def test_a_paused_upstreams_manual_run_starts_nothing(sched: Scheduler, database: Database) -> None:
    wf = await sched.workflow()
    a = await sched.service.add_schedule(every_minute(wf))
    b = await sched.service.add_schedule(after(wf, a.schedule_id, "next", "any"))
    await sched.service.pause_schedule(a.schedule_id)
    await sched.scheduler.run_now(a.schedule_id)
    await sched.settle()
    assert [r.status for r in await sched.runs(a.schedule_id)] == ["completed"]
    assert await _count_runs(database, b.schedule_id) == 0


async def test_a_paused_link_does_not_run_and_so_neither_does_what_follows_it(sched: Scheduler) -> None:
    a, b, c = await _chain_of_three(sched, await sched.workflow())
    await sched.service.pause_schedule(b.schedule_id)
    await sched.tick(60)
    assert [len(await sched.runs(s.schedule_id)) for s in (a, b, c)] == [1, 0, 0]
    resumed = await sched.service.resume_schedule(b.schedule_id)
    assert (resumed.status.value, resumed.next_execution_at) == ("active", None)
    await sched.tick(60)
    assert [len(await sched.runs(s.schedule_id)) for s in (a, b, c)] == [2, 1, 1]


async def test_skipped_and_missed_occurrences_start_nothing(sched: Scheduler, database: Database) -> None:
    switch, held = await _switch(sched)
    switch.gate = asyncio.Event()
    wf = await sched.workflow()
    a = await sched.service.add_schedule(every_minute(held, grace_period_seconds=30))
    b = await sched.service.add_schedule(after(wf, a.schedule_id, "next", "any"))
    loop = sched.loop
    assert loop is not None
    sched.clock.advance(60)  # type: ignore[attr-defined]
    await loop.run_pass(sched.clock.now())
    await until(lambda: switch.calls, what="the first run to start")
    sched.clock.advance(60)  # type: ignore[attr-defined]
    await loop.run_pass(sched.clock.now())  # skipped: the first is still going
    sched.clock.advance(120)  # type: ignore[attr-defined]
    await loop.run_pass(sched.clock.now())  # one missed beyond grace, one skipped
    assert await _count_runs(database, b.schedule_id) == 0
    switch.gate.set()
    await sched.settle()
    assert sorted(r.status for r in await sched.runs(a.schedule_id)) == ["completed", "missed", "skipped", "skipped"]
    assert await _count_runs(database, b.schedule_id) == 1  # the one run that ended


# ---- the downstream's own rules ----------------------------------------------------------------

async def test_overlap_skip_on_the_downstream_records_a_skipped_run(sched: Scheduler) -> None:
    switch, held = await _switch(sched, "held")
    switch.gate = asyncio.Event()
    wf = await sched.workflow()
    a = await sched.service.add_schedule(every_minute(wf))
    b = await sched.service.add_schedule(after(held, a.schedule_id, "slow", overlap_policy="skip"))
    loop = sched.loop
    assert loop is not None
    for _ in range(2):
        sched.clock.advance(60)  # type: ignore[attr-defined]
        await loop.run_pass(sched.clock.now())
        await until(lambda: len([r for r in sched.recorder.calls]) >= 1 and switch.calls,
                    what="b's first run to start")
    await until(lambda: len(sched.recorder.calls) == 2, what="a's second run")
    runs = await until(lambda: _ended_or_skipped(sched, b.schedule_id), what="b's second run to be recorded")
    assert [r.status for r in runs] == ["running", "skipped"]
    assert "overlap_policy skip" in (runs[1].error or "")
    switch.gate.set()
    await sched.settle()
    assert [r.status for r in await sched.runs(b.schedule_id)] == ["completed", "skipped"]
    assert len(switch.calls) == 1


async def _ended_or_skipped(sched: Scheduler, schedule_id: str) -> list[Any] | None:
    runs = await sched.runs(schedule_id)
    return runs if len(runs) == 2 else None


async def test_max_executions_completes_the_downstream(sched: Scheduler) -> None:
    wf = await sched.workflow()
    a = await sched.service.add_schedule(every_minute(wf))
    b = await sched.service.add_schedule(after(wf, a.schedule_id, "twice", max_executions=2))
    for _ in range(3):
        await sched.tick(60)
    assert len(await sched.runs(b.schedule_id)) == 2
    done = await sched.service.get_schedule(b.schedule_id)
    assert (done.status.value, done.is_active, done.execution_count) == ("completed", False, 2)


async def test_an_end_date_expires_the_downstream_and_a_start_date_holds_it(sched: Scheduler,
                                                                            clock: ManualClock) -> None:
    wf = await sched.workflow()
    a = await sched.service.add_schedule(every_minute(wf))
    b = await sched.service.add_schedule(after(wf, a.schedule_id, "from-two", start_date=START + timedelta(
        seconds=90), end_date=START + timedelta(seconds=150)))
    for _ in range(3):
        await sched.tick(60)
    [run] = await sched.runs(b.schedule_id)  # 12:01 before its start, 12:02 inside, 12:03 past its end
    assert run.scheduled_for == START + timedelta(seconds=120)
    assert (await sched.service.get_schedule(b.schedule_id)).status.value == "expired"


# ---- exactly once, and the crash window --------------------------------------------------------

async def test_recording_one_end_twice_starts_one_run(sched: Scheduler, database: Database,
                                                      clock: ManualClock) -> None:
    """Two replicas cannot both start a chain run: its key is (schedule, upstream run), and a
    second insert of it does nothing, on SQLite and PostgreSQL alike."""
    wf = await sched.workflow()
    a = await sched.service.add_schedule(every_minute(wf))
    b = await sched.service.add_schedule(after(wf, a.schedule_id, "once", overlap_policy="allow"))
    ledger = sched.scheduler.ledger
    end = RunEnded("3f1c0a52-0d5e-4a5f-9a84-3c2a1b0e9d11", a.id, "completed", clock.now(), "replica-x")
    started = []
    for _ in range(2):
        chained = Chained()
        await database.write(lambda dal, out=chained: ledger.journal.chains.ended(
            dal, ledger.schedules, [end], out, AlertBatch()))
        started.append(len(chained.fires))
    assert started == [1, 0]
    assert await _count_runs(database, b.schedule_id) == 1
    counted = await sched.service.get_schedule(b.schedule_id)
    assert (counted.execution_count, counted.total_runs) == (1, 1)


async def test_a_batch_whose_commit_went_through_but_answered_an_error_still_starts_its_chain(
        sched: Scheduler, database: Database) -> None:
    """The journal retries a batch when its commit raises a transient error. When that commit had
    gone through (its acknowledgement lost), the retry finds the runs ended already: the chain
    runs it committed must still be handed over and run, once."""
    wf = await sched.workflow()
    a = await sched.service.add_schedule(every_minute(wf, "a"))
    b = await sched.service.add_schedule(after(wf, a.schedule_id, "b"))
    real_commit = database.dal.commit
    lost: list[int] = []

    def commit_then_fail_once() -> None:
        real_commit()
        if not lost and _chain_rows_exist():
            lost.append(1)
            raise ConnectionError("the connection dropped before the commit was acknowledged (injected)")

    def _chain_rows_exist() -> bool:
        rows = database.dal.executesql(database.dialect.params(
            "SELECT COUNT(*) FROM workflow_schedule_runs WHERE schedule_id = ?"), placeholders=[b.schedule_id])
        return bool(rows[0][0])

    database.dal.commit = commit_then_fail_once
    try:
        await sched.tick(60)
        await until(lambda: lost, what="the injected lost acknowledgement")
        await sched.settle()
    finally:
        database.dal.commit = real_commit
    assert await sched.statuses(b.schedule_id) == ["completed"]
    assert await sched.statuses(a.schedule_id) == ["completed"]


async def test_a_chain_run_committed_but_never_started_is_recovered_and_runs_once(
        database: Database, clock: ManualClock) -> None:
    first = _scheduler(database, clock)
    first.scheduler.ledger.journal.chain_listeners.clear()  # it stops right after the commit
    wf = await first.workflow()
    a = await first.service.add_schedule(every_minute(wf))
    b = await first.service.add_schedule(after(wf, a.schedule_id, "next", grace_period_seconds=600))
    await first.tick(60)
    [queued] = await first.runs(b.schedule_id)
    assert (queued.status, queued.trigger) == ("queued", "after")
    [a_run] = await first.runs(a.schedule_id)
    await first.close()

    second = _scheduler(database, clock)
    clock.advance(30)
    loop = second.loop
    assert loop is not None
    assert await loop.recover() == 1
    await second.settle()
    assert await loop.recover() == 0
    [run] = await second.runs(b.schedule_id)
    assert (run.run_id, run.status) == (queued.run_id, "completed")
    [call] = second.recorder.calls
    assert call["upstream"] == {"schedule_id": a.schedule_id, "run_id": a_run.run_id, "status": "completed",
                                "finished_at": a_run.finished_at.strftime("%Y-%m-%dT%H:%M:%SZ")}
    await second.close()


async def test_an_upstream_run_failed_by_recovery_starts_its_failure_chain(database: Database,
                                                                           clock: ManualClock) -> None:
    first = _scheduler(database, clock)
    switch, held = await _switch(first)
    switch.gate = asyncio.Event()
    wf = await first.workflow()
    a = await first.service.add_schedule(every_minute(held))
    b = await first.service.add_schedule(after(wf, a.schedule_id, "on-failure", "failure"))
    clock.advance(60)
    await first.loop.run_pass(clock.now())  # type: ignore[union-attr]
    await until(lambda: switch.calls, what="the run to start")
    first.scheduler.dispatcher.accepting = False  # the replica is gone: it records nothing more
    second = _scheduler(database, clock)
    assert await second.loop.recover() == 1  # type: ignore[union-attr]
    await second.settle()
    [run] = await second.runs(b.schedule_id)
    assert run.status == "completed"
    [call] = second.recorder.calls
    assert call["upstream"]["status"] == "failed"
    await second.close()
    switch.gate.set()
    await first.close()


# ---- the rules of a chain ----------------------------------------------------------------------

async def test_cycles_are_refused_at_creation_and_update(sched: Scheduler) -> None:
    wf = await sched.workflow()
    a, b, c = await _chain_of_three(sched, wf, "a", "b", "c")
    with pytest.raises(Invalid) as itself:
        await sched.service.update_schedule(a.schedule_id, {"schedule_type": "after",
                                                            "after": {"schedule_id": a.schedule_id}})
    assert itself.value.details == {"after.schedule_id": "would make a cycle: a runs after a"}
    with pytest.raises(Invalid) as two:
        await sched.service.update_schedule(a.schedule_id, {"schedule_type": "after",
                                                            "after": {"schedule_id": b.schedule_id}})
    assert two.value.details == {"after.schedule_id": "would make a cycle: a runs after b runs after a"}
    with pytest.raises(Invalid) as three:
        await sched.service.update_schedule(a.schedule_id, {"schedule_type": "after",
                                                            "after": {"schedule_id": c.schedule_id}})
    assert three.value.details == {"after.schedule_id": "would make a cycle: a runs after c runs after b runs after a"}
    unchanged = await sched.service.get_schedule(a.schedule_id)
    assert (unchanged.schedule_type.value, unchanged.upstream_id) == ("interval", None)
    # Moving a link elsewhere without a cycle is fine.
    d = await sched.service.add_schedule(every_minute(wf, "d"))
    moved = await sched.service.update_schedule(c.schedule_id, {"after": {"schedule_id": d.schedule_id,
                                                                          "on": "any"}})
    assert (moved.upstream_id, moved.after) == (d.schedule_id, {"schedule_id": d.schedule_id, "on": "any"})


async def test_an_unknown_or_deleted_upstream_is_refused(sched: Scheduler) -> None:
    wf = await sched.workflow()
    a = await sched.service.add_schedule(every_minute(wf))
    await sched.service.remove_schedule(a.schedule_id)
    for upstream in (a.schedule_id, "00000000-0000-4000-8000-000000000000"):
        with pytest.raises(Invalid) as refused:
            await sched.service.add_schedule(after(wf, upstream, "orphan"))
        assert refused.value.details == {"after.schedule_id": f"no schedule with id {upstream} in the shared space"}


async def test_a_chain_stays_inside_one_community(sched: Scheduler) -> None:
    wf = await sched.workflow()
    theirs = await sched.service.add_schedule(every_minute(wf, "theirs", community_id="c2"))
    shared = await sched.service.add_schedule(every_minute(wf, "shared"))
    # A community key learns nothing of another community's schedule: the same answer as unknown.
    with pytest.raises(Invalid) as hidden:
        await sched.service.add_schedule(after(wf, theirs.schedule_id, "mine"), scope="c1")
    assert hidden.value.details == {"after.schedule_id": f"no schedule with id {theirs.schedule_id} in this community"}
    with pytest.raises(Invalid) as hidden_preview:
        await sched.service.preview_explained(after(wf, theirs.schedule_id, "mine"), scope="c1")
    assert hidden_preview.value.details == hidden.value.details
    # A global key is told why.
    with pytest.raises(Invalid) as told:
        await sched.service.add_schedule(after(wf, theirs.schedule_id, "mine", community_id="c1"))
    assert told.value.details == {"after.schedule_id": f"schedule {theirs.schedule_id} is in community 'c2' and "
                                                       "this one in community 'c1': a chain stays in one community"}
    with pytest.raises(Invalid) as from_shared:
        await sched.service.add_schedule(after(wf, shared.schedule_id, "mine", community_id="c1"))
    assert "is in the shared space and this one in community 'c1'" in from_shared.value.details["after.schedule_id"]
    ok = await sched.service.add_schedule(after(wf, theirs.schedule_id, "theirs-next"), scope="c2")
    assert ok.upstream_id == theirs.schedule_id


async def test_deleting_an_upstream_with_live_chains_is_refused_and_lists_them(sched: Scheduler) -> None:
    wf = await sched.workflow()
    a = await sched.service.add_schedule(every_minute(wf))
    b = await sched.service.add_schedule(after(wf, a.schedule_id, "b"))
    c = await sched.service.add_schedule(after(wf, a.schedule_id, "c"))
    await sched.service.pause_schedule(c.schedule_id)
    for hard in (False, True):
        with pytest.raises(Conflict) as refused:
            await sched.service.remove_schedule(a.schedule_id, hard=hard)
        assert refused.value.details == {"count": 2, "schedules": [
            {"schedule_id": b.schedule_id, "name": "b", "status": "active"},
            {"schedule_id": c.schedule_id, "name": "c", "status": "paused"}]}
    assert (await sched.service.get_schedule(a.schedule_id)).deleted_at is None
    await sched.service.remove_schedule(b.schedule_id)
    await sched.service.remove_schedule(c.schedule_id)
    await sched.service.remove_schedule(a.schedule_id)
    with pytest.raises(NotFound):
        await sched.service.get_schedule(a.schedule_id)


async def test_a_chain_whose_upstream_is_gone_is_not_restored_until_the_upstream_is(sched: Scheduler) -> None:
    wf = await sched.workflow()
    a = await sched.service.add_schedule(every_minute(wf, "nightly"))
    b = await sched.service.add_schedule(after(wf, a.schedule_id, "report"))
    await sched.service.remove_schedule(b.schedule_id)
    await sched.service.remove_schedule(a.schedule_id)
    with pytest.raises(Conflict) as refused:
        await sched.service.restore_schedule(b.schedule_id)
    assert refused.value.details == {"after.schedule_id": f"no schedule with id {a.schedule_id} in the shared space"}
    assert "cannot be restored" in str(refused.value)
    with pytest.raises(NotFound):  # still deleted
        await sched.service.get_schedule(b.schedule_id)
    await sched.service.restore_schedule(a.schedule_id)
    restored = await sched.service.restore_schedule(b.schedule_id)
    assert (restored.status.value, restored.deleted_at) == ("paused", None)


async def test_a_completed_chain_given_more_runs_is_checked_for_its_upstream(sched: Scheduler) -> None:
    wf = await sched.workflow()
    u = await sched.service.add_schedule(every_minute(wf, "upstream"))
    d = await sched.service.add_schedule(after(wf, u.schedule_id, "once", max_executions=1))
    await sched.tick(60)
    await sched.settle()
    assert (await sched.service.get_schedule(d.schedule_id)).status.value == "completed"
    await sched.service.remove_schedule(u.schedule_id)  # a completed chain does not hold it
    with pytest.raises(Invalid) as refused:
        await sched.service.update_schedule(d.schedule_id, {"max_executions": 10})
    assert "after.schedule_id" in refused.value.details
    assert (await sched.service.get_schedule(d.schedule_id)).status.value == "completed"  # unchanged


async def test_an_update_and_a_delete_of_one_chain_on_two_replicas_never_deadlock(database: Database,
                                                                                   clock: ManualClock) -> None:
    """Two replicas (two connections): one re-points X's upstream (its row, then the chains' lock)
    while the other deletes X (the same two, in the same order): each ends as a success or a
    domain error (404, 409), never a deadlock the API would answer with a 500."""
    other = await Database.connect(database.url)
    first, second = _scheduler(database, clock), _scheduler(other, clock)
    try:
        wf = await first.workflow()
        a = await first.service.add_schedule(every_minute(wf, "a"))
        b = await first.service.add_schedule(every_minute(wf, "b"))
        outcomes: list[str] = []
        for i in range(25):
            x = await first.service.add_schedule(after(wf, a.schedule_id, f"x{i}"))
            results = await asyncio.gather(
                first.service.update_schedule(x.schedule_id, {"after": {"schedule_id": b.schedule_id}}),
                second.service.remove_schedule(x.schedule_id), return_exceptions=True)
            for result in results:
                assert result is None or not isinstance(result, BaseException) or \
                    isinstance(result, (NotFound, Conflict)), repr(result)
                outcomes.append(type(result).__name__)
        assert "NoneType" in outcomes  # the deletes went through
    finally:
        await second.close()
        await first.close()
        await other.close()


async def test_an_after_schedule_takes_no_calendar_and_no_past_end(sched: Scheduler) -> None:
    wf = await sched.workflow()
    a = await sched.service.add_schedule(every_minute(wf))
    with pytest.raises(Invalid) as refused:
        await sched.service.add_schedule(after(wf, a.schedule_id, "x", calendar_id="00000000-0000-4000-8000-000000000000",
                                               end_date="2020-01-01T00:00:00Z"))
    assert set(refused.value.details) == {"calendar_id"}
    with pytest.raises(Invalid) as past:
        await sched.service.add_schedule(after(wf, a.schedule_id, "x", end_date="2020-01-02T00:00:00Z"))
    assert set(past.value.details) == {"end_date"}
    for link, field in (({"schedule_id": "nope"}, "after.schedule_id"), ({"schedule_id": a.schedule_id, "on": "maybe"},
                                                                         "after.on"),
                        ({"schedule_id": a.schedule_id, "when": 1}, "after.when"), ("x", "after")):
        with pytest.raises(Invalid) as bad:
            await sched.service.add_schedule({**after(wf, a.schedule_id, "x"), "after": link})
        assert set(bad.value.details) == {field}


# ---- the API -----------------------------------------------------------------------------------

async def test_the_api_previews_shows_and_guards_a_chain(app: Any) -> None:
    _, wf = await api_call(app, "post", "/api/v1/workflows", {"name": "wf", "steps": [{"action": "log",
                                                                                         "message": "x"}]})
    _, a = await api_call(app, "post", "/api/v1/schedules", every_minute(wf["workflow_id"], "nightly-export"))
    spec = after(wf["workflow_id"], a["schedule_id"], "report")
    status, preview = await api_call(app, "post", "/api/v1/schedules/preview", spec)
    assert status == 200, preview
    assert (preview["times"], preview["description"]) == ([], "Runs after nightly-export ends successfully")
    status, b = await api_call(app, "post", "/api/v1/schedules", spec)
    assert status == 201, b
    assert (b["next_execution_at"], b["after"], b["timing_description"]) == (
        None, {"schedule_id": a["schedule_id"], "on": "success"}, "Runs after nightly-export ends successfully")
    status, nxt = await api_call(app, "get", f"/api/v1/schedules/{b['schedule_id']}/next")
    assert (status, nxt) == (200, {"times": [], "description": "Runs after nightly-export ends successfully"})
    # lists name the upstream too (one look-up per page), the workflow's list and the deleted-inclusive one
    for path in ("/api/v1/schedules", f"/api/v1/schedules/workflow/{wf['workflow_id']}",
                 "/api/v1/schedules?include_deleted=true"):
        _, listed = await api_call(app, "get", path)
        assert {s["name"]: s["timing_description"] for s in listed["items"]} == {
            "nightly-export": "Every minute", "report": "Runs after nightly-export ends successfully"}, path
    _, shown = await api_call(app, "get", f"/api/v1/schedules/{a['schedule_id']}")
    assert shown["chain"] == {"upstream": None, "downstream": [{"schedule_id": b["schedule_id"], "name": "report",
                                                                 "status": "active"}]}
    _, shown = await api_call(app, "get", f"/api/v1/schedules/{b['schedule_id']}")
    assert shown["chain"] == {"upstream": {"schedule_id": a["schedule_id"], "name": "nightly-export"},
                              "downstream": []}
    status, cycle = await api_call(app, "patch", f"/api/v1/schedules/{a['schedule_id']}",
                                   {"schedule_type": "after", "after": {"schedule_id": b["schedule_id"],
                                                                        "on": "failure"}})
    assert status == 400 and cycle["error"]["details"] == {
        "after.schedule_id": "would make a cycle: nightly-export runs after report runs after nightly-export"}
    status, conflict = await api_call(app, "delete", f"/api/v1/schedules/{a['schedule_id']}")
    assert status == 409 and conflict["error"]["details"]["schedules"] == [
        {"schedule_id": b["schedule_id"], "name": "report", "status": "active"}]
    status, bad = await api_call(app, "post", "/api/v1/schedules", {**spec, "after": {"schedule_id": 7}})
    assert status == 400 and "after.schedule_id" in bad["error"]["details"]


async def test_an_import_keeps_a_chain_to_an_upstream_that_exists_here(app: Any) -> None:
    _, wf = await api_call(app, "post", "/api/v1/workflows", {"name": "wf", "steps": [{"action": "log",
                                                                                         "message": "x"}]})
    _, a = await api_call(app, "post", "/api/v1/schedules", every_minute(wf["workflow_id"], "nightly-export"))
    _, b = await api_call(app, "post", "/api/v1/schedules", after(wf["workflow_id"], a["schedule_id"], "report",
                                                                  "failure"))
    _, document = await api_call(app, "get", "/api/v1/schedules/export")
    [entry] = [s for s in document["schedules"] if s["name"] == "report"]
    assert entry["after"] == {"schedule_id": a["schedule_id"], "on": "failure"}
    document["schedules"] = [{**entry, "name": "report-copy"}]
    status, result = await api_call(app, "post", "/api/v1/schedules/import", document)
    assert status == 200 and result["created"] == ["report-copy"], result
    _, shown = await api_call(app, "get", f"/api/v1/schedules/{a['schedule_id']}")
    assert [d["name"] for d in shown["chain"]["downstream"]] == ["report", "report-copy"]
    gone = "00000000-0000-4000-8000-000000000000"
    document["schedules"] = [{**entry, "name": "report-elsewhere", "after": {"schedule_id": gone}}]
    status, refused = await api_call(app, "post", "/api/v1/schedules/import", document)
    assert status == 400 and refused["error"]["details"] == {
        "schedules[0].after.schedule_id": f"no schedule with id {gone} in the shared space"}


def test_a_deadlock_between_two_replicas_batches_is_retried() -> None:
    """Two journal batches can lock after schedules in opposite orders on PostgreSQL; the one rolled
    back is written again (durably retries what is_transient says may pass)."""
    assert is_transient(psycopg2.errors.DeadlockDetected())
    assert not is_transient(psycopg2.errors.UniqueViolation())


async def test_cancel_previous_and_buffer_one_on_the_downstream_act_as_for_a_time_schedule(sched: Scheduler) -> None:
    switch, held = await _switch(sched, "held")
    switch.gate = asyncio.Event()
    wf = await sched.workflow()
    a = await sched.service.add_schedule(every_minute(wf, overlap_policy="allow"))
    latest = await sched.service.add_schedule(after(held, a.schedule_id, "latest", overlap_policy="cancel_previous"))
    queue = await sched.service.add_schedule(after(held, a.schedule_id, "queue", overlap_policy="buffer_one"))
    loop = sched.loop
    assert loop is not None
    for n in (1, 2):
        sched.clock.advance(60)  # type: ignore[attr-defined]
        await loop.run_pass(sched.clock.now())
        await until(lambda n=n: len(sched.recorder.calls) == n, what=f"a's run {n}")
        if n == 1:
            await until(lambda: len(switch.calls) == 2, what="the first run of each downstream to start")
    runs = await until(lambda: _statuses_when(sched, latest.schedule_id, 2), what="latest's second run")
    assert runs == ["cancelled", "queued"] or runs == ["cancelled", "running"]
    [first_latest, _] = await sched.runs(latest.schedule_id)
    assert "cancel_previous" in (first_latest.error or "")
    assert [r.status for r in await sched.runs(queue.schedule_id)] == ["running", "queued"]  # waits its turn
    switch.gate.set()
    await sched.settle()
    assert [r.status for r in await sched.runs(latest.schedule_id)] == ["cancelled", "completed"]
    assert [r.status for r in await sched.runs(queue.schedule_id)] == ["completed", "completed"]


async def _statuses_when(sched: Scheduler, schedule_id: str, count: int) -> list[str] | None:
    statuses = [r.status for r in await sched.runs(schedule_id)]
    return statuses if len(statuses) == count and statuses[0] != "running" else None
