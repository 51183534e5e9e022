"""Times with a fraction of a second: never fire early, never let an occurrence past an end, and a
due time stored with any precision (by this service or by plain SQL) is claimed like any other.

The rule (docs/scheduling.md): schedule instants are whole seconds; a user time to fire at or
from (scheduled_time, start_date) is rounded up to the next whole second, an end_date down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from workflow_core_module.clock import ManualClock
from workflow_core_module.db.database import Database

from .conftest import START, make_settings
from .harness import Scheduler


@pytest.fixture
async def sched(database: Database, clock: ManualClock) -> AsyncIterator[Scheduler]:
    s = Scheduler(database, make_settings(database.url), clock)
    s.attach_loop()
    try:
        yield s
    finally:
        await s.close()


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


async def test_a_one_time_with_a_fraction_never_starts_before_it(sched: Scheduler, clock: ManualClock) -> None:
    wf = await sched.workflow()
    at = START + timedelta(seconds=42, microseconds=936_000)
    s = await sched.service.add_schedule({"workflow_id": wf, "name": "fraction", "schedule_type": "one_time",
                                          "scheduled_time": iso(at)})
    assert s.next_execution_at == START + timedelta(seconds=43)  # rounded up, not down to :42
    await sched.tick(42.5)  # 12:00:42.5: the old truncation fired here, 0.436 s early
    assert sched.recorder.calls == []
    await sched.tick(0.5)  # 12:00:43.0, after the requested 42.936
    assert clock.now() >= at
    assert [c["scheduled_for"] for c in sched.recorder.calls] == [iso(START + timedelta(seconds=43))]


async def test_a_preview_honours_a_fractional_start_and_end(sched: Scheduler) -> None:
    start = START + timedelta(hours=1, microseconds=500)
    _, times = sched.service.preview({"schedule_type": "cron", "cron_expression": "* * * * * *",
                                      "start_date": iso(start),
                                      "end_date": iso(start + timedelta(seconds=3, microseconds=900_000))}, 10)
    # 13:00:00.0005 starts at 13:00:01; the end 13:00:03.9005 lets 13:00:03 in, not 13:00:04.
    assert times == [START + timedelta(hours=1, seconds=n) for n in (1, 2, 3)]
    assert all(t >= start for t in times)


async def test_a_due_time_with_microseconds_written_by_plain_sql_fires_once(
        sched: Scheduler, clock: ManualClock, database: Database) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule({"workflow_id": wf, "name": "outside", "schedule_type": "interval",
                                          "interval_seconds": 3600})
    due = START + timedelta(minutes=5, microseconds=250_000)
    stored: Any = due.replace(tzinfo=None).isoformat(" ") if database.is_sqlite else due.replace(tzinfo=None)
    await database.write(lambda dal: dal.executesql(
        database.dialect.params("UPDATE workflow_schedules SET next_execution_at = ? WHERE schedule_id = ?"),
        placeholders=[stored, s.schedule_id]))
    await sched.service.load_cache()
    first = await sched.tick(301)  # 12:05:01, past the 12:05:00.25 due time
    second = await sched.tick(1)
    assert (first.fired, first.lost, second.fired) == (1, 0, 0), (first, second)
    assert len(sched.recorder.calls) == 1
    [run] = await sched.runs(s.schedule_id)
    assert run.status == "completed"
