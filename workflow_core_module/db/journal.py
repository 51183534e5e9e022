"""The execution journal: the starts and ends of executions, and of the schedule runs they belong
to, written in batches.

A burst starts thousands of runs within a second, and each start must be committed before the
run's first step (so that a run found `running` after a crash is never run again). Written one
by one, those commits and the ends that follow would keep the writer thread busy for seconds.
The journal gathers every start and end requested in the same turn of the event loop, plus
those that arrive while a batch is being written, into one transaction of plain statements
(`executemany` where no per-row answer is needed).
Each caller still gets its own answer: whether its run could start.

Writes wait out transient database errors (a restart, a failover): a known outcome is never lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydal import DAL

from .database import Database, cursor, is_transient
from .sql import unnest

log = logging.getLogger(__name__)

RETRY_SECONDS = 900.0  # how long a batch waits for the database before giving up


@dataclass(frozen=True, slots=True)
class RunLink:
    """The schedule run an execution attempt belongs to."""

    run_id: str
    schedule_pk: int
    replica_id: str


@dataclass(frozen=True, slots=True)
class Start:
    execution_id: str
    workflow_id: str
    community_id: str | None
    trigger: str
    trigger_data: dict[str, Any]
    attempt: int
    started_at: datetime
    prepared: bool  # the execution row exists already (queued)
    run: RunLink | None = None


@dataclass(frozen=True, slots=True)
class End:
    """An attempt's outcome. With `run_final`, it is also its run's outcome."""

    execution_id: str | None  # None: the run ended before any attempt started
    status: str
    error: str | None
    finished_at: datetime
    duration_ms: int
    step_results: list[dict[str, Any]]
    run: RunLink | None = None
    run_final: bool = False


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


class Journal:
    def __init__(self, database: Database) -> None:
        self.database = database
        mark, ts = database.dialect.params, database.dialect.ts
        self._ts = ts
        self._start_run = mark(
            "UPDATE workflow_schedule_runs SET status = 'running', attempt = ?, execution_id = ? "
            "WHERE run_id = ? AND status IN ('queued', 'running') AND claimed_by = ?")
        self._insert_execution = mark(
            "INSERT INTO workflow_executions (execution_id, workflow_id, run_id, schedule_id, community_id, "
            '"trigger", trigger_data, status, attempt, started_at, step_results, created_at) '
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, '[]', ?)")
        self._start_execution = mark(
            "UPDATE workflow_executions SET status = 'running', attempt = ?, started_at = ?, run_id = ?, "
            "schedule_id = ? WHERE execution_id = ?")
        self._end_execution = mark(
            "UPDATE workflow_executions SET status = ?, finished_at = ?, duration_ms = ?, error = ?, "
            "step_results = ? WHERE execution_id = ?")
        self._end_run = mark(
            "UPDATE workflow_schedule_runs SET status = ?, finished_at = ?, duration_ms = ?, error = ? "
            "WHERE run_id = ? AND status IN ('queued', 'running')")
        self._count = mark(
            "UPDATE workflow_schedules SET successful_runs = successful_runs + ?, failed_runs = failed_runs + ?, "
            "total_duration_ms = total_duration_ms + ?, last_execution_at = ?, "
            "last_execution_id = COALESCE(?, last_execution_id), last_run_status = ?, last_run_at = ? WHERE id = ?")
        self._starts: list[tuple[Start, asyncio.Future[bool]]] = []
        self._ends: list[tuple[End, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    # ---- the async side --------------------------------------------------------------------

    async def start(self, entry: Start) -> bool:
        """Record a start; False when its run had already ended (cancelled, taken over)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._starts.append((entry, future))
        self._kick()
        return await future

    async def end(self, entry: End) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._ends.append((entry, future))
        self._kick()
        await future

    def _kick(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_all())

    async def _write_all(self) -> None:
        await asyncio.sleep(0)  # let the rest of this turn add to the batch
        while self._starts or self._ends:
            starts, self._starts = self._starts, []
            ends, self._ends = self._ends, []
            try:
                started = await self._durably([s for s, _ in starts], [e for e, _ in ends])
            except Exception as exc:
                waiting: list[asyncio.Future[Any]] = [f for _, f in starts] + [f for _, f in ends]
                for future in waiting:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), ok in zip(starts, started, strict=True):
                if not future.done():
                    future.set_result(ok)
            for _, end_future in ends:
                if not end_future.done():
                    end_future.set_result(None)

    async def _durably(self, starts: list[Start], ends: list[End]) -> list[bool]:
        delay, waited = 0.25, 0.0
        while True:
            try:
                return await self.database.write(self._write, starts, ends)
            except Exception as exc:
                if not is_transient(exc) or waited >= RETRY_SECONDS:
                    raise
                if waited == 0.0:
                    log.warning("database unavailable for %d run start(s) and %d end(s) (%s); retrying until "
                                "it is back", len(starts), len(ends), type(exc).__name__,
                                extra={"category": "ERROR", "action": "journal.retry"})
            await asyncio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 5.0)

    # ---- the writer thread -----------------------------------------------------------------

    # PostgreSQL: join keys are "bpchar", the type of the CHAR(36) id columns, so that values
    # compare as those columns do (trailing blanks ignored).

    def _write(self, dal: DAL, starts: Sequence[Start], ends: Sequence[End]) -> list[bool]:
        ts = self._ts
        started = self._start_runs(dal, starts)
        go = [s for s, ok in zip(starts, started, strict=True) if ok]
        fresh = [(s.execution_id, s.workflow_id, s.run.run_id if s.run else None,
                  s.trigger_data.get("schedule_id"), s.community_id, s.trigger, _json(s.trigger_data), s.attempt,
                  ts(s.started_at), ts(s.started_at)) for s in go if not s.prepared]
        prepared = [(s.attempt, ts(s.started_at), s.run.run_id if s.run else None, s.trigger_data.get("schedule_id"),
                     s.execution_id) for s in go if s.prepared]
        outcomes = [(e.status, ts(e.finished_at), e.duration_ms, e.error, _json(e.step_results), e.execution_id)
                    for e in ends if e.execution_id is not None]
        if self.database.is_sqlite:
            cur = cursor(dal)
            for sql, rows in ((self._insert_execution, fresh), (self._start_execution, prepared),
                              (self._end_execution, outcomes)):
                if rows:
                    cur.executemany(sql, rows)
        else:
            self._pg_executions(dal, fresh, prepared, outcomes)
        self._end_runs(dal, [e for e in ends if e.run is not None and e.run_final])
        return started

    def _start_runs(self, dal: DAL, starts: Sequence[Start]) -> list[bool]:
        """Mark runs running; a run that ended meanwhile (or belongs to another replica) may not start."""
        linked = [(s.run.run_id, s.attempt, s.execution_id, s.run.replica_id) for s in starts if s.run is not None]
        if not linked:
            return [True] * len(starts)
        cur = cursor(dal)
        if self.database.is_sqlite:
            ok_ids = set()
            for run_id, attempt, execution_id, replica in linked:
                cur.execute(self._start_run, (attempt, execution_id, run_id, replica))
                if cur.rowcount == 1:
                    ok_ids.add(run_id)
        else:
            source, columns = unnest(("bpchar", "int", "text", "text"), linked)
            cur.execute("UPDATE workflow_schedule_runs AS r SET status = 'running', attempt = v.attempt, "
                        f"execution_id = v.execution_id FROM {source} AS v(run_id, attempt, execution_id, replica) "
                        "WHERE r.run_id = v.run_id AND r.status IN ('queued', 'running') AND r.claimed_by = v.replica "
                        "RETURNING r.run_id", columns)
            ok_ids = {row[0] for row in cur.fetchall()}
        return [s.run is None or s.run.run_id in ok_ids for s in starts]

    def _pg_executions(self, dal: DAL, fresh: list[tuple[Any, ...]], prepared: list[tuple[Any, ...]],
                       outcomes: list[tuple[Any, ...]]) -> None:
        cur = cursor(dal)
        if fresh:
            source, columns = unnest(("text", "text", "text", "text", "text", "text", "text", "int", "timestamp",
                                      "timestamp"), fresh)
            cur.execute("INSERT INTO workflow_executions (execution_id, workflow_id, run_id, schedule_id, "
                        'community_id, "trigger", trigger_data, status, attempt, started_at, step_results, created_at) '
                        "SELECT v.e, v.w, v.r, v.s, v.c, v.t, v.d::jsonb, 'running', v.a, v.at, '[]'::jsonb, v.created "
                        f"FROM {source} AS v(e, w, r, s, c, t, d, a, at, created)", columns)
        if prepared:
            source, columns = unnest(("int", "timestamp", "text", "text", "bpchar"), prepared)
            cur.execute("UPDATE workflow_executions AS x SET status = 'running', attempt = v.a, started_at = v.at, "
                        f"run_id = v.r, schedule_id = v.s FROM {source} AS v(a, at, r, s, e) "
                        "WHERE x.execution_id = v.e", columns)
        if outcomes:
            source, columns = unnest(("text", "timestamp", "int", "text", "text", "bpchar"), outcomes)
            cur.execute("UPDATE workflow_executions AS x SET status = v.status, finished_at = v.at, "
                        "duration_ms = v.ms, error = v.error, step_results = v.results::jsonb "
                        f"FROM {source} AS v(status, at, ms, error, results, e) WHERE x.execution_id = v.e", columns)

    def _end_runs(self, dal: DAL, ends: Sequence[End]) -> None:
        """End runs still unfinished, and count each on its schedule (once, however many per batch)."""
        if not ends:
            return
        ts = self._ts
        rows = [(e.status, ts(e.finished_at), e.duration_ms, e.error, e.run.run_id) for e in ends if e.run]
        cur = cursor(dal)
        if self.database.is_sqlite:
            ended = set()
            for row in rows:
                cur.execute(self._end_run, row)
                if cur.rowcount == 1:
                    ended.add(row[4])
        else:
            source, columns = unnest(("text", "timestamp", "int", "text", "bpchar"), rows)
            cur.execute("UPDATE workflow_schedule_runs AS r SET status = v.status, finished_at = v.at, "
                        f"duration_ms = v.ms, error = v.error FROM {source} AS v(status, at, ms, error, run_id) "
                        "WHERE r.run_id = v.run_id AND r.status IN ('queued', 'running') RETURNING r.run_id",
                        columns)
            ended = {row[0] for row in cur.fetchall()}
        counters = _counts([e for e in ends if e.run and e.run.run_id in ended])
        if not counters:
            return
        values = [(ok, failed, ms, ts(at), execution_id, status, ts(at), pk)
                  for pk, (ok, failed, ms, at, execution_id, status) in counters.items()]
        if self.database.is_sqlite:
            cur.executemany(self._count, values)
            return
        source, columns = unnest(("int", "int", "bigint", "timestamp", "text", "text", "timestamp", "bigint"), values)
        cur.execute("UPDATE workflow_schedules AS s SET successful_runs = s.successful_runs + v.ok, "
                    "failed_runs = s.failed_runs + v.failed, total_duration_ms = s.total_duration_ms + v.ms, "
                    "last_execution_at = v.at, last_execution_id = COALESCE(v.e, s.last_execution_id), "
                    "last_run_status = v.status, last_run_at = v.run_at "
                    f"FROM {source} AS v(ok, failed, ms, at, e, status, run_at, id) WHERE s.id = v.id", columns)


def _counts(ends: Sequence[End]) -> dict[int, tuple[int, int, int, datetime, str | None, str]]:
    """Per schedule: successes, failures, their total duration, and the newest end's time, execution
    and status."""
    out: dict[int, tuple[int, int, int, datetime, str | None, str]] = {}
    for e in sorted(ends, key=lambda e: e.finished_at):
        assert e.run is not None
        success = e.status == "completed"
        failure = e.status in ("failed", "timed_out")
        ok, failed, ms, *_ = out.get(e.run.schedule_pk, (0, 0, 0, e.finished_at, None, e.status))
        out[e.run.schedule_pk] = (ok + success, failed + failure, ms + (e.duration_ms if success or failure else 0),
                                  e.finished_at, e.execution_id, e.status)
    return out
