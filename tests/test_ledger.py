"""The run ledger's contract, on both backends: every transition of a run (claim, start at the
claim, start, end, end before any attempt, cancel by a later claim, manual record, orphans,
retention, hard delete), the claim's guard and the occurrence key.

Each test runs on a SQLite file and, with TEST_POSTGRES_URL set, on PostgreSQL (the
`database` fixture): the same assertions hold for SqliteLedgerSQL and PostgresLedgerSQL, so a
guard dropped from either dialect's SQL fails here. Time is the manual clock's.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydal import DAL

from workflow_core_module.clock import ManualClock
from workflow_core_module.db.database import Database
from workflow_core_module.db.journal import ExecutionEnd, ExecutionStart
from workflow_core_module.db.ledger import Fire, RunLedger
from workflow_core_module.db.schedule_store import is_integrity_error
from workflow_core_module.db.workflow_store import WorkflowStore
from workflow_core_module.scheduling.schedule import DUE_COLUMNS
from workflow_core_module.services.schedule_service import ScheduleService

from .conftest import START, add_workflow

MINUTE = timedelta(minutes=1)


def ledger_of(service: ScheduleService) -> RunLedger:
    """The run ledger on the service's database (the scheduler's, without starting one)."""
    return RunLedger(service.database)


async def _every_minute(service: ScheduleService, name: str = "every-minute") -> Any:
    wf = await add_workflow(service.database)
    return await service.add_schedule({"workflow_id": wf, "name": name, "schedule_type": "interval",
                                       "interval_seconds": 60})


async def _runs(database: Database, schedule_id: str) -> list[tuple[Any, ...]]:
    sql = database.dialect.params("SELECT status, scheduled_for, claimed_by, \"trigger\" FROM workflow_schedule_runs "
                                  "WHERE schedule_id = ? ORDER BY id")
    return await database.read(lambda dal: [tuple(r) for r in dal.executesql(sql, placeholders=[schedule_id])])


async def _row(database: Database, pk: int) -> tuple[Any, ...]:
    sql = database.dialect.params("SELECT next_execution_at, execution_count, total_runs, missed_runs "
                                  "FROM workflow_schedules WHERE id = ?")
    return await database.read(lambda dal: tuple(dal.executesql(sql, placeholders=[pk])[0]))


# ---- the claim --------------------------------------------------------------------------------------

async def test_a_claim_of_a_row_moved_since_it_was_read_is_lost_and_fires_nothing(
        service: ScheduleService, database: Database, clock: ManualClock) -> None:
    """Between the due query and the conditional update another replica claims the row (it moves
    next_execution_at). The update must match nothing: the claim is lost, nothing fires, no run
    row is written and the other replica's state is left as it wrote it."""
    schedule = await _every_minute(service)
    runs: RunLedger = ledger_of(service)
    due = START + MINUTE
    theirs = due + MINUTE
    read_due = runs.sql.select_due

    def read_then_lose_the_race(cur: Any, now: Any, limit: int) -> list[Any]:
        rows = read_due(cur, now, limit)
        assert [r[DUE_COLUMNS.index("id")] for r in rows] == [schedule.id]
        cur.execute(database.dialect.params(  # the other replica's claim commits first
            "UPDATE workflow_schedules SET next_execution_at = ?, execution_count = 1, total_runs = 1 WHERE id = ?"),
            [database.dialect.ts(theirs), schedule.id])
        return rows

    runs.sql.select_due = read_then_lose_the_race  # type: ignore[method-assign]
    result = await runs.claim(due + timedelta(seconds=1), 10, "replica-late")
    assert (result.selected, result.lost, result.fires, result.cache) == (1, 1, [], [])
    assert (result.missed, result.skipped, result.completed, result.expired) == (0, 0, 0, 0)
    assert await _runs(database, schedule.schedule_id) == []
    next_at, count, total, missed = await _row(database, schedule.id)
    assert (next_at.replace(tzinfo=None), count, total, missed) == (theirs.replace(tzinfo=None), 1, 1, 0)


async def test_a_claim_of_a_fresh_row_moves_it_once(service: ScheduleService, database: Database) -> None:
    """The same claim without the race: it wins, fires once, and a second claim finds nothing."""
    schedule = await _every_minute(service)
    now = START + MINUTE + timedelta(seconds=1)
    first = await ledger_of(service).claim(now, 10, "replica-a")
    assert (first.selected, first.lost, len(first.fires)) == (1, 0, 1)
    assert first.fires[0].scheduled_for == START + MINUTE
    assert first.cache == [(schedule.id, schedule.schedule_id, START + 2 * MINUTE)]
    again = await ledger_of(service).claim(now, 10, "replica-b")
    assert (again.selected, again.lost, again.fires) == (0, 0, [])
    assert [(s, c) for s, _, c, _ in await _runs(database, schedule.schedule_id)] == [("queued", "replica-a")]
    next_at, count, total, missed = await _row(database, schedule.id)
    assert (next_at.replace(tzinfo=None), count, total, missed) == ((START + 2 * MINUTE).replace(tzinfo=None), 1, 1, 0)


# ---- the occurrence key --------------------------------------------------------------------------

def _insert_run(database: Database, run_id: str, schedule_id: str, workflow_id: str, scheduled_for: datetime,
                trigger: str = "schedule") -> Any:
    sql = database.dialect.params(
        "INSERT INTO workflow_schedule_runs (run_id, schedule_id, workflow_id, scheduled_for, fired_at, status, "
        "attempt, \"trigger\", claimed_by) VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, 'r')")
    ts = database.dialect.ts
    return lambda dal: dal.executesql(sql, placeholders=[run_id, schedule_id, workflow_id, ts(scheduled_for),
                                                         ts(scheduled_for), trigger])


async def test_the_database_refuses_a_second_run_of_one_scheduled_occurrence(service: ScheduleService,
                                                                            database: Database) -> None:
    """(schedule_id, scheduled_for) of scheduled runs is unique in the database itself: a second
    claim of one occurrence fails there, whatever the code above it believes."""
    schedule = await _every_minute(service)
    occurrence = START + MINUTE
    await database.write(_insert_run(database, "run-1", schedule.schedule_id, schedule.workflow_id, occurrence))
    with pytest.raises(Exception) as refused:
        await database.write(_insert_run(database, "run-2", schedule.schedule_id, schedule.workflow_id, occurrence))
    assert is_integrity_error(refused.value), refused.value
    # the key covers scheduled runs only: a manual run at the same instant, and the next occurrence, are fine
    await database.write(_insert_run(database, "run-3", schedule.schedule_id, schedule.workflow_id, occurrence,
                                     trigger="manual"))
    await database.write(_insert_run(database, "run-4", schedule.schedule_id, schedule.workflow_id,
                                     occurrence + MINUTE))
    assert [t for *_, t in await _runs(database, schedule.schedule_id)] == ["schedule", "manual", "schedule"]


# ---- retention --------------------------------------------------------------------------------------

async def test_retention_deletes_old_ended_runs_and_keeps_unfinished_ones(service: ScheduleService,
                                                                          database: Database) -> None:
    """Runs still queued or running are never deleted, however old: a replica may be about to
    start or end them, and recovery must still find them."""
    schedule = await _every_minute(service)
    ts, mark = database.dialect.ts, database.dialect.params
    old = START - timedelta(days=40)
    statuses = ("completed", "failed", "missed", "queued", "running", "skipped", "cancelled", "timed_out")

    def leave(dal: DAL) -> None:
        for i, status in enumerate(statuses):
            dal.executesql(mark(
                "INSERT INTO workflow_schedule_runs (run_id, schedule_id, workflow_id, scheduled_for, status, attempt, "
                "\"trigger\", claimed_by) VALUES (?, ?, ?, ?, ?, 0, 'schedule', 'gone')"),
                placeholders=[f"old-{status}", schedule.schedule_id, schedule.workflow_id, ts(old + i * MINUTE),
                              status])
        dal.executesql(mark(  # one recent ended run: younger than the cutoff, kept
            "INSERT INTO workflow_schedule_runs (run_id, schedule_id, workflow_id, scheduled_for, status, attempt, "
            "\"trigger\") VALUES ('recent', ?, ?, ?, 'completed', 1, 'schedule')"),
            placeholders=[schedule.schedule_id, schedule.workflow_id, ts(START)])
        for status in ("completed", "running", "queued"):
            dal.executesql(mark(
                "INSERT INTO workflow_executions (execution_id, workflow_id, \"trigger\", status, attempt, created_at) "
                "VALUES (?, ?, 'api', ?, 1, ?)"), placeholders=[f"exec-{status}", schedule.workflow_id, status, ts(old)])

    await database.write(leave)
    cutoff = START - timedelta(days=30)
    assert await ledger_of(service).purge(cutoff) == 6 + 1  # six ended runs, one ended execution
    assert await ledger_of(service).purge(cutoff) == 0
    left = await database.read(lambda dal: sorted(r[0].strip() for r in dal.executesql(
        "SELECT run_id FROM workflow_schedule_runs")))
    assert left == ["old-queued", "old-running", "recent"]
    executions = await database.read(lambda dal: sorted(r[0].strip() for r in dal.executesql(
        "SELECT execution_id FROM workflow_executions")))
    assert executions == ["exec-queued", "exec-running"]


async def test_retention_works_in_batches(service: ScheduleService, database: Database) -> None:
    schedule = await _every_minute(service)
    ts = database.dialect.ts
    old = START - timedelta(days=40)
    sql = database.dialect.params(
        "INSERT INTO workflow_schedule_runs (run_id, schedule_id, workflow_id, scheduled_for, status, attempt, "
        "\"trigger\") VALUES (?, ?, ?, ?, 'completed', 1, 'schedule')")
    await database.write(lambda dal: [dal.executesql(sql, placeholders=[f"r{i}", schedule.schedule_id,
                                                                        schedule.workflow_id, ts(old + i * MINUTE)])
                                      for i in range(5)])
    cutoff = START - timedelta(days=30)
    assert [await ledger_of(service).purge(cutoff, batch=2) for _ in range(4)] == [2, 2, 1, 0]


# ---- transitions: start, end, end before an attempt, cancel, manual, orphans ----------------------

async def _run_row(database: Database, run_id: str) -> tuple[Any, ...]:
    sql = database.dialect.params("SELECT status, attempt, execution_id, error, duration_ms, finished_at "
                                  "FROM workflow_schedule_runs WHERE run_id = ?")
    rows = await database.read(lambda dal: dal.executesql(sql, placeholders=[run_id]))
    status, attempt, execution_id, error, duration_ms, finished_at = rows[0]
    return status, attempt, execution_id.strip() if execution_id else None, error, duration_ms, finished_at


async def _execution(database: Database, execution_id: str) -> tuple[Any, ...] | None:
    sql = database.dialect.params("SELECT status, attempt, run_id, error, started_at FROM workflow_executions "
                                  "WHERE execution_id = ?")
    rows = await database.read(lambda dal: dal.executesql(sql, placeholders=[execution_id]))
    if not rows:
        return None
    status, attempt, run_id, error, started_at = rows[0]
    return status, attempt, run_id.strip() if run_id else None, error, started_at


async def _counters(database: Database, pk: int) -> tuple[Any, ...]:
    sql = database.dialect.params("SELECT total_runs, successful_runs, failed_runs, total_duration_ms, "
                                  "last_run_status, last_execution_id FROM workflow_schedules WHERE id = ?")
    rows = await database.read(lambda dal: dal.executesql(sql, placeholders=[pk]))
    total, ok, failed, ms, last_status, last_execution = rows[0]
    return total, ok, failed, ms, last_status, last_execution.strip() if last_execution else None


def _start(fire: Fire, execution_id: str, attempt: int, at: datetime) -> ExecutionStart:
    return ExecutionStart(execution_id, fire.workflow_id, fire.community_id, fire.trigger,
                          fire.trigger_data(attempt), attempt, at, prepared=False)


def _end(execution_id: str | None, status: str, at: datetime, ms: int = 40) -> ExecutionEnd:
    return ExecutionEnd(execution_id, status, None if status == "completed" else f"{status} here", at, ms,
                        [{"index": 0, "status": status}])


async def _claimed(service: ScheduleService, *, startable: int = 0, replica: str = "replica-a") -> tuple[Any, Fire]:
    schedule = await _every_minute(service)
    claim = await ledger_of(service).claim(START + MINUTE, 10, replica, startable=startable)
    assert len(claim.fires) == 1
    return schedule, claim.fires[0]


async def test_a_fire_that_can_start_at_once_is_written_running_at_the_claim(
        service: ScheduleService, database: Database) -> None:
    """With a slot set aside, the claim records the run running, attempt 1: its start costs no
    write of its own, and its first attempt (its id the run's) lives on the run row, with no
    execution row. Without a slot it stays queued."""
    schedule, fire = await _claimed(service, startable=1)
    assert fire.started and fire.execution_id == fire.run_id
    status, attempt, execution_id, *_ = await _run_row(database, fire.run_id)
    assert (status, attempt, execution_id) == ("running", 1, None)  # NULL: the run's own id
    assert await _execution(database, fire.run_id) is None
    other = await _every_minute(service, "another")
    claim = await ledger_of(service).claim(START + MINUTE, 10, "replica-a", startable=0)
    (queued,) = claim.fires
    assert (queued.schedule_id, queued.started, queued.execution_id) == (other.schedule_id, False, None)
    assert (await _run_row(database, queued.run_id))[:3] == ("queued", 0, None)
    assert claim.started == 0 and schedule.schedule_id != other.schedule_id


async def test_the_claim_starts_no_more_fires_than_slots_and_never_a_jittered_one(
        service: ScheduleService, database: Database) -> None:
    wf = await add_workflow(service.database)
    for i in range(3):
        await service.add_schedule({"workflow_id": wf, "name": f"plain-{i}", "schedule_type": "interval",
                                    "interval_seconds": 60})
    await service.add_schedule({"workflow_id": wf, "name": "jittered", "schedule_type": "interval",
                                "interval_seconds": 60, "jitter_seconds": 30})
    claim = await ledger_of(service).claim(START + MINUTE, 10, "replica-a", startable=2)
    assert len(claim.fires) == 4 and claim.started == 2
    assert all(not f.started for f in claim.fires if f.jitter_seconds)
    statuses = sorted([(await _run_row(database, f.run_id))[0] for f in claim.fires])
    assert statuses == ["queued", "queued", "running", "running"]


async def test_a_first_attempt_lives_on_its_run_row_from_start_to_end(
        service: ScheduleService, database: Database, clock: ManualClock) -> None:
    """The common case, one attempt: its id is the run's, its start and end (step results
    included) are written on the run row, and no execution row is written at all."""
    schedule, fire = await _claimed(service)
    link = fire.link("replica-a")
    assert await ledger_of(service).start(_start(fire, fire.run_id, 1, clock.now()), link)
    assert (await _run_row(database, fire.run_id))[:3] == ("running", 1, None)
    end = _end(fire.run_id, "completed", clock.now())
    await ledger_of(service).end(end, link, run_final=True, start=_start(fire, fire.run_id, 1, clock.now()))
    assert (await _run_row(database, fire.run_id))[:5] == ("completed", 1, None, None, 40)
    assert await _execution(database, fire.run_id) is None
    assert await _counters(database, schedule.id) == (1, 1, 0, 40, "completed", fire.run_id)
    (run,) = (await service.get_history(schedule.schedule_id)).items
    assert run.execution_id == run.run_id  # read back as the run's id
    results = await database.read(lambda dal: dal.executesql(database.dialect.params(
        "SELECT step_results FROM workflow_schedule_runs WHERE run_id = ?"), placeholders=[fire.run_id]))
    stored = results[0][0]
    # stored without each step's index (its position), read back with it
    assert (json.loads(stored) if isinstance(stored, str) else stored) == [{"status": "completed"}]
    execution = await WorkflowStore(database).get_execution(fire.run_id)
    assert execution.step_results == [{"index": 0, "status": "completed"}] and execution.status == "completed"


async def test_a_first_attempt_on_the_run_row_gets_an_execution_row_when_a_retry_follows(
        service: ScheduleService, database: Database, clock: ManualClock) -> None:
    schedule, fire = await _claimed(service)
    link = fire.link("replica-a")
    first = _start(fire, fire.run_id, 1, clock.now())
    assert await ledger_of(service).start(first, link)
    await ledger_of(service).end(_end(fire.run_id, "failed", clock.now()), link, run_final=False, start=first)
    assert (await _execution(database, fire.run_id))[:3] == ("failed", 1, fire.run_id)  # type: ignore[index]
    assert (await _run_row(database, fire.run_id))[0] == "running"
    second = _start(fire, "exec-2", 2, clock.now())
    assert await ledger_of(service).start(second, link)
    await ledger_of(service).end(_end("exec-2", "completed", clock.now()), link, run_final=True, start=second)
    assert (await _run_row(database, fire.run_id))[:3] == ("completed", 2, "exec-2")
    assert await _counters(database, schedule.id) == (1, 1, 0, 40, "completed", "exec-2")


async def test_start_then_a_final_end_records_the_run_and_counts_it_once(
        service: ScheduleService, database: Database, clock: ManualClock) -> None:
    schedule, fire = await _claimed(service)
    link = fire.link("replica-a")
    assert await ledger_of(service).start(_start(fire, "exec-1", 1, clock.now()), link)
    assert (await _run_row(database, fire.run_id))[:3] == ("running", 1, "exec-1")
    assert (await _execution(database, "exec-1"))[:3] == ("running", 1, fire.run_id)  # type: ignore[index]
    await ledger_of(service).end(_end("exec-1", "completed", clock.now()), link, run_final=True)
    status, attempt, execution_id, error, duration_ms, finished_at = await _run_row(database, fire.run_id)
    assert (status, attempt, execution_id, error, duration_ms) == ("completed", 1, "exec-1", None, 40)
    assert finished_at is not None
    assert (await _execution(database, "exec-1"))[0] == "completed"  # type: ignore[index]
    assert await _counters(database, schedule.id) == (1, 1, 0, 40, "completed", "exec-1")
    # the same end again (a retried batch) ends nothing and counts nothing
    await ledger_of(service).end(_end("exec-1", "completed", clock.now()), link, run_final=True)
    assert await _counters(database, schedule.id) == (1, 1, 0, 40, "completed", "exec-1")


async def test_an_attempt_that_is_not_final_ends_its_execution_only(
        service: ScheduleService, database: Database, clock: ManualClock) -> None:
    """A failed attempt with retries left: the execution ends, the run stays running and is not
    counted; the retry's start takes the run to attempt 2, and its failure ends and counts it."""
    schedule, fire = await _claimed(service)
    link = fire.link("replica-a")
    assert await ledger_of(service).start(_start(fire, "exec-1", 1, clock.now()), link)
    await ledger_of(service).end(_end("exec-1", "failed", clock.now()), link, run_final=False)
    assert (await _run_row(database, fire.run_id))[0] == "running"
    assert (await _execution(database, "exec-1"))[0] == "failed"  # type: ignore[index]
    assert (await _counters(database, schedule.id))[:3] == (1, 0, 0)
    assert await ledger_of(service).start(_start(fire, "exec-2", 2, clock.now()), link)
    assert (await _run_row(database, fire.run_id))[:3] == ("running", 2, "exec-2")
    await ledger_of(service).end(_end("exec-2", "timed_out", clock.now(), ms=70), link, run_final=True)
    assert (await _run_row(database, fire.run_id))[:4] == ("timed_out", 2, "exec-2", "timed_out here")
    assert await _counters(database, schedule.id) == (1, 0, 1, 70, "timed_out", "exec-2")


async def test_a_run_that_ended_or_belongs_to_another_replica_cannot_start(
        service: ScheduleService, database: Database, clock: ManualClock) -> None:
    _, fire = await _claimed(service)
    assert not await ledger_of(service).start(_start(fire, "exec-theirs", 1, clock.now()), fire.link("replica-b"))
    assert await _execution(database, "exec-theirs") is None
    await ledger_of(service).end_unstarted(fire.link("replica-a"), "cancelled", "cancelled: superseded", clock.now())
    assert not await ledger_of(service).start(_start(fire, "exec-late", 1, clock.now()), fire.link("replica-a"))
    assert await _execution(database, "exec-late") is None
    assert (await _run_row(database, fire.run_id))[0] == "cancelled"


async def test_a_run_started_at_the_claim_and_ended_before_its_attempt_is_cancelled(
        service: ScheduleService, database: Database, clock: ManualClock) -> None:
    """Shutdown between the claim and the first step: the run is cancelled (not left running for
    recovery to call failed), and counts as neither success nor failure."""
    schedule, fire = await _claimed(service, startable=1)
    await ledger_of(service).end_unstarted(fire.link("replica-a"), "cancelled", "cancelled: the service stopped",
                                       clock.now())
    assert (await _run_row(database, fire.run_id))[0] == "cancelled"
    assert await _counters(database, schedule.id) == (1, 0, 0, 0, "cancelled", None)


async def test_cancel_previous_ends_the_running_run_and_its_execution_in_the_next_claim(
        service: ScheduleService, database: Database, clock: ManualClock) -> None:
    wf = await add_workflow(service.database)
    schedule = await service.add_schedule({"workflow_id": wf, "name": "newest-wins", "schedule_type": "interval",
                                           "interval_seconds": 60, "overlap_policy": "cancel_previous"})
    first = (await ledger_of(service).claim(START + MINUTE, 10, "replica-a", startable=1)).fires[0]
    second_claim = await ledger_of(service).claim(START + 2 * MINUTE, 10, "replica-b", startable=1)
    assert second_claim.cancelled == [first.run_id]
    assert (await _run_row(database, first.run_id))[0] == "cancelled"
    assert (await _run_row(database, second_claim.fires[0].run_id))[0] == "running"
    assert (await ledger_of(service).status_of([first.run_id]))[first.run_id] == "cancelled"
    assert schedule.overlap_policy.value == "cancel_previous"


async def test_a_manual_run_is_recorded_queued_with_its_execution_and_counted(
        service: ScheduleService, database: Database, clock: ManualClock) -> None:
    schedule = await _every_minute(service)
    now = clock.now()
    fire = Fire("manual-1", schedule.id, schedule.schedule_id, schedule.workflow_id, None, now, now, {"k": 1}, None,
                trigger="manual", execution_id="exec-manual")
    audited: list[str] = []
    await ledger_of(service).record_manual(fire, "replica-a", lambda dal: audited.append("in the transaction"))
    assert audited == ["in the transaction"]
    assert (await _run_row(database, "manual-1"))[:3] == ("queued", 0, "exec-manual")
    execution = await _execution(database, "exec-manual")
    assert execution is not None and execution[:3] == ("queued", 1, "manual-1") and execution[4] is None
    assert (await _counters(database, schedule.id))[0] == 1
    assert await ledger_of(service).start(ExecutionStart("exec-manual", schedule.workflow_id, None, "manual",
                                                     fire.trigger_data(), 1, now, prepared=True),
                                      fire.link("replica-a"))
    assert (await _execution(database, "exec-manual"))[0] == "running"  # type: ignore[index]


async def test_an_orphan_is_adopted_once_and_failed_once(
        service: ScheduleService, database: Database, clock: ManualClock) -> None:
    schedule, fire = await _claimed(service, replica="replica-gone")
    (orphan,) = await ledger_of(service).orphans(["replica-live"])
    assert (orphan.run_id, orphan.status, orphan.claimed_by) == (fire.run_id, "queued", "replica-gone")
    assert await ledger_of(service).adopt(orphan, "replica-live", clock.now())
    assert not await ledger_of(service).adopt(orphan, "replica-other", clock.now())  # taken already
    assert await ledger_of(service).orphans(["replica-live"]) == []
    (mine,) = await ledger_of(service).orphans(["replica-other"])
    assert await ledger_of(service).fail_orphan(mine, "failed: replica-live stopped", clock.now())
    assert not await ledger_of(service).fail_orphan(mine, "failed: again", clock.now())
    assert (await _run_row(database, fire.run_id))[::3] == ("failed", "failed: replica-live stopped")
    assert (await _counters(database, schedule.id))[:3] == (1, 0, 1)


async def test_a_hard_delete_forgets_the_schedules_runs(service: ScheduleService, database: Database) -> None:
    schedule, fire = await _claimed(service)
    await service.remove_schedule(schedule.schedule_id, hard=True)
    assert await ledger_of(service).status_of([fire.run_id]) == {}
