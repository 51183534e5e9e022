"""The run ledger's SQL on both backends: the claim's guard, the occurrence key, retention.

Each test runs on a SQLite file and, with TEST_POSTGRES_URL set, on PostgreSQL (the
`database` fixture), so a guard dropped from either dialect's SQL fails here.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from pydal import DAL

from workflow_core_module.clock import ManualClock
from workflow_core_module.db.database import Database
from workflow_core_module.db.run_store import RunStore
from workflow_core_module.db.schedule_store import is_integrity_error
from workflow_core_module.services.schedule_service import ScheduleService

from .conftest import START, add_workflow

MINUTE = timedelta(minutes=1)


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
    runs: RunStore = service.runs
    due = START + MINUTE
    theirs = due + MINUTE
    read_due = runs._select_due

    def read_then_lose_the_race(dal: DAL, now: datetime, limit: int) -> list[Any]:
        rows = read_due(dal, now, limit)
        assert [r.pk for r in rows] == [schedule.id]
        dal.executesql(database.dialect.params(  # the other replica's claim commits first
            "UPDATE workflow_schedules SET next_execution_at = ?, execution_count = 1, total_runs = 1 WHERE id = ?"),
            placeholders=[database.dialect.ts(theirs), schedule.id])
        return rows

    runs._select_due = read_then_lose_the_race  # type: ignore[method-assign]
    result = await runs.claim_due(due + timedelta(seconds=1), 10, "replica-late")
    assert (result.selected, result.lost, result.fires, result.cache) == (1, 1, [], [])
    assert (result.missed, result.skipped, result.completed, result.expired) == (0, 0, 0, 0)
    assert await _runs(database, schedule.schedule_id) == []
    next_at, count, total, missed = await _row(database, schedule.id)
    assert (next_at.replace(tzinfo=None), count, total, missed) == (theirs.replace(tzinfo=None), 1, 1, 0)


async def test_a_claim_of_a_fresh_row_moves_it_once(service: ScheduleService, database: Database) -> None:
    """The same claim without the race: it wins, fires once, and a second claim finds nothing."""
    schedule = await _every_minute(service)
    now = START + MINUTE + timedelta(seconds=1)
    first = await service.runs.claim_due(now, 10, "replica-a")
    assert (first.selected, first.lost, len(first.fires)) == (1, 0, 1)
    assert first.fires[0].scheduled_for == START + MINUTE
    assert first.cache == [(schedule.id, schedule.schedule_id, START + 2 * MINUTE)]
    again = await service.runs.claim_due(now, 10, "replica-b")
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
    assert await service.runs.delete_older_than(cutoff) == 6 + 1  # six ended runs, one ended execution
    assert await service.runs.delete_older_than(cutoff) == 0
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
    assert [await service.runs.delete_older_than(cutoff, batch=2) for _ in range(4)] == [2, 2, 1, 0]
