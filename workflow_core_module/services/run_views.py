"""Read models for the dashboard: one run with its steps, the newest runs of listed schedules
(sparklines) and the upcoming runs of listed schedules over the next days (the timeline).

Each is scoped like the rest of the API: a community key reaches its own community's schedules
and runs only; anything else is "not found".
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..db.schedule_store import Scope
from ..errors import Invalid, NotFound
from ..scheduling.occurrences import next_occurrence
from ..scheduling.records import Execution, Page, Run
from ..scheduling.schedule import Schedule
from ..scheduling.types import ScheduleStatus
from .schedule_service import ScheduleService
from .workflow_service import WorkflowService

MAX_TIMELINE_HOURS = 7 * 24
MAX_RUNS_PER_SCHEDULE = 2_000  # upcoming runs listed per schedule (every 5 minutes for a week)
MAX_TIMELINE_RUNS = 20_000  # upcoming runs listed in all (bounds the CPU one request may take)
MAX_RECENT_PER_SCHEDULE = 50
# Wall time one timeline may spend computing runs (a next occurrence costs ~0.2 ms of Python):
# the rest of its schedules are listed without runs, and the answer says it is incomplete.
TIMELINE_DEADLINE_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class RunDetail:
    run: Run
    schedule: Schedule
    attempts: list[Execution]  # by attempt; the last is the run's latest

    @property
    def execution(self) -> Execution | None:
        return self.attempts[-1] if self.attempts else None


@dataclass(frozen=True, slots=True)
class Upcoming:
    schedule: Schedule
    times: list[datetime]
    complete: bool  # False: more runs fall in the window than were listed


def upcoming_runs(schedules: list[Schedule], now: datetime, until: datetime,
                  deadline_seconds: float = TIMELINE_DEADLINE_SECONDS) -> tuple[list[Upcoming], bool]:
    """The runs each active schedule will fire in (now, until], bounded per schedule, in all and in
    the wall time spent (the schedules past the deadline are listed without runs); the flag is
    False when a bound cut the list short. CPU work: call it off the event loop."""
    found: list[Upcoming] = []
    budget = MAX_TIMELINE_RUNS
    stop_at = time.monotonic() + deadline_seconds
    for schedule in schedules:
        if schedule.status is not ScheduleStatus.ACTIVE or schedule.next_execution_at is None:
            continue
        if time.monotonic() > stop_at:
            found.append(Upcoming(schedule, [], False))
            continue
        remaining = (MAX_RUNS_PER_SCHEDULE if schedule.max_executions is None
                     else max(0, schedule.max_executions - schedule.execution_count))
        limit = min(remaining, MAX_RUNS_PER_SCHEDULE, budget)
        rule = schedule.rule()
        times: list[datetime] = []
        current: datetime | None = schedule.next_execution_at if schedule.next_execution_at > now else None
        if current is None:
            current = next_occurrence(rule, now)
        while current is not None and current <= until and len(times) < limit:
            times.append(current)
            current = next_occurrence(rule, current)
        complete = current is None or current > until or len(times) >= remaining
        budget -= len(times)
        found.append(Upcoming(schedule, times, complete))
    return found, all(u.complete for u in found)


def next_runs(schedules: list[Schedule], now: datetime, count: int) -> list[tuple[Schedule, datetime]]:
    """The `count` soonest runs of `schedules` (a schedule may appear several times). Given the
    `count` schedules due soonest, these are the soonest runs of all: a later schedule's first
    run comes after each of their first runs."""
    found: list[tuple[Schedule, datetime]] = []
    for schedule in schedules:
        if schedule.status is not ScheduleStatus.ACTIVE or schedule.next_execution_at is None:
            continue
        remaining = count if schedule.max_executions is None else \
            min(count, max(0, schedule.max_executions - schedule.execution_count))
        current: datetime | None = schedule.next_execution_at
        rule = schedule.rule()
        for _ in range(remaining):
            if current is None:
                break
            found.append((schedule, current))
            current = next_occurrence(rule, max(current, now))
    found.sort(key=lambda pair: pair[1])
    return found[:count]


class RunViews:
    def __init__(self, schedules: ScheduleService, workflows: WorkflowService) -> None:
        self.schedules = schedules
        self.workflows = workflows
        # One timeline computed at a time, however many dashboards ask: each holds the GIL a while.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="timeline")

    async def run(self, run_id: str, *, scope: Scope) -> RunDetail:
        """One run, its schedule (also when deleted) and its execution's step results."""
        if not isinstance(run_id, str) or len(run_id) > 64 or not run_id.isprintable():
            raise NotFound("run", str(run_id)[:64])
        store = self.schedules.store
        run = await store.run(run_id, scope)
        schedule = await store.database.read(lambda dal: store.fetch(dal, run.schedule_id, scope, deleted=True))
        # The run is the caller's (checked above), and so are its attempts.
        attempts = {e.attempt: e for e in await self.workflows.store.executions_of_run(run.run_id)}
        for execution_id in {run.execution_id, run.run_id} - {e.execution_id for e in attempts.values()} - {None}:
            try:  # a first attempt recorded on the run row, or the one the run names
                found = await self.workflows.get_execution(str(execution_id), scope=None)
            except NotFound:
                continue  # none (a missed or skipped run), or removed with its history
            attempts.setdefault(found.attempt, found)
        return RunDetail(run, schedule, [attempts[n] for n in sorted(attempts)])

    async def _listed(self, scope: Scope, filters: dict[str, Any]) -> Page[Schedule]:
        return await self.schedules.list_schedules(scope=scope, **filters)

    async def recent(self, *, scope: Scope, filters: dict[str, Any], per_schedule: int = 20
                     ) -> tuple[Page[Schedule], dict[str, list[Run]]]:
        """The schedules the list's `filters` (and limit/offset) show, and the newest ended runs of each."""
        if not 1 <= per_schedule <= MAX_RECENT_PER_SCHEDULE:
            raise Invalid({"runs": f"must be between 1 and {MAX_RECENT_PER_SCHEDULE}"})
        page = await self._listed(scope, filters)
        runs = await self.schedules.store.recent_runs([s.schedule_id for s in page.items], per_schedule)
        return page, runs

    async def timeline(self, *, scope: Scope, filters: dict[str, Any], hours: int
                       ) -> tuple[datetime, datetime, list[Upcoming], bool]:
        """The runs the listed schedules will fire in the next `hours` (at most a week)."""
        if not 1 <= hours <= MAX_TIMELINE_HOURS:
            raise Invalid({"hours": f"must be between 1 and {MAX_TIMELINE_HOURS}"})
        page = await self._listed(scope, filters)
        now = self.schedules.clock.now()
        until = now + timedelta(hours=hours)
        found, complete = await asyncio.get_running_loop().run_in_executor(
            self._executor, upcoming_runs, list(page.items), now, until)
        return now, until, found, complete

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
