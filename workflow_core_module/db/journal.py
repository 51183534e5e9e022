"""The execution journal: the starts and ends of executions, and of the schedule runs they belong
to, written in batches. The run ledger (db/ledger.py) owns the transitions; this is how it
batches the two that happen per attempt.

A burst starts thousands of runs within a second, and each start must be committed before the
run's first step (so that a run found `running` after a crash is never run again). Written one
by one, those commits and the ends that follow would keep the writer thread busy for seconds.
The journal gathers every start and end requested in the same turn of the event loop, plus
those that arrive while a batch is being written, into one transaction (see db/ledger_sql.py).
Each start's caller gets its own answer: whether its run could start. An end is handed over and
its caller decides when to wait for it to be durable (a run's end does not hold a concurrency
slot while it waits).

Writes wait out transient database errors (a restart, a failover): a known outcome is never lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from pydal import DAL

from ..scheduling.types import iso_z
from .alerts import AlertBatch, AlertBook
from .audit import AuditEntry, AuditLog
from .chains import ChainBook, Chained, RunEnded
from .database import Database, cursor
from .durably import durably
from .fire import RunLink
from .ledger_sql import LedgerSQL
from .sql import TableCodec

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExecutionStart:
    """An attempt about to run its first step."""

    execution_id: str
    workflow_id: str
    community_id: str | None
    trigger: str
    trigger_data: dict[str, Any]
    attempt: int
    started_at: datetime
    prepared: bool  # the execution row exists already (queued)


@dataclass(frozen=True, slots=True)
class ExecutionEnd:
    """An attempt's outcome (execution_id None: its run ended before any attempt started)."""

    execution_id: str | None
    status: str
    error: str | None
    finished_at: datetime
    duration_ms: int
    step_results: list[dict[str, Any]]


def on_run_row(start: ExecutionStart | None, run: RunLink | None) -> bool:
    """A schedule run's first attempt, not prepared ahead: it takes the run's id and is recorded
    on the run row (no workflow_executions row, unless a retry follows it). Most runs have one
    attempt: this keeps a run to one row."""
    return start is not None and run is not None and not start.prepared and start.execution_id == run.run_id


@dataclass(frozen=True, slots=True)
class _Start:
    start: ExecutionStart
    run: RunLink | None


@dataclass(frozen=True, slots=True)
class _End:
    end: ExecutionEnd
    run: RunLink | None
    run_final: bool  # the attempt's outcome is also its run's
    start: ExecutionStart | None  # the attempt's start (None: the run ended before any attempt)


def as_json(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


def stored_results(results: list[dict[str, Any]]) -> str:
    """Step results as stored: each step's `index` is its position in the list, so it is left
    out (records.step_results puts it back); about 10 bytes a step, on every run."""
    return as_json([{k: v for k, v in r.items() if not (k == "index" and v == i)} for i, r in enumerate(results)])


PAUSED_AFTER_FAILURES = "paused after {n} consecutive failures"


@dataclass(frozen=True, slots=True)
class AutoPaused:
    """A schedule that paused itself: its pause_after_failures was reached."""

    schedule_pk: int
    schedule_id: str
    community_id: str | None
    failures: int


class Journal:
    def __init__(self, database: Database, sql: LedgerSQL) -> None:
        self.database = database
        self.sql = sql
        self.audit = AuditLog(database)
        self.paused_listeners: list[Callable[[list[AutoPaused]], None]] = []  # told after the commit
        self.alerts = AlertBook(database.dialect)
        self.alert_listeners: list[Callable[[], None]] = []  # told after a commit that wrote alerts
        self.chains = ChainBook(database.dialect, sql, self.alerts)
        self.chain_listeners: list[Callable[[Chained], None]] = []  # told after a commit that started chain runs
        self._schedules = TableCodec(database.dal, "workflow_schedules", database.dialect)
        self._ts = database.dialect.ts
        self._starts: list[tuple[_Start, asyncio.Future[bool]]] = []
        self._ends: list[tuple[_End, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    # ---- the async side --------------------------------------------------------------------

    async def start(self, start: ExecutionStart, run: RunLink | None = None) -> bool:
        """Record a start; False when its run had already ended (cancelled, taken over)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._starts.append((_Start(start, run), future))
        self._kick()
        return await future

    def end(self, end: ExecutionEnd, run: RunLink | None = None, *, run_final: bool = False,
            start: ExecutionStart | None = None) -> asyncio.Future[None]:
        """Hand an end over (with the attempt's `start`, when it had one); the future is done
        once it is durable."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._ends.append((_End(end, run, run_final, start), future))
        self._kick()
        return future

    def _kick(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._write_all())

    async def _write_all(self) -> None:
        await asyncio.sleep(0)  # let the rest of this turn add to the batch
        while self._starts or self._ends:
            starts, self._starts = self._starts, []
            ends, self._ends = self._ends, []
            start_list, end_list = [s for s, _ in starts], [e for e, _ in ends]
            paused: list[AutoPaused] = []
            alerts = AlertBatch()
            chained = Chained()
            try:
                started = await durably(partial(self.database.write, self._write, start_list, end_list, paused, alerts,
                                                chained),
                                        f"{len(starts)} run start(s) and {len(ends)} end(s)")
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
            self.committed(paused, alerts, chained)

    def committed(self, paused: list[AutoPaused], alerts: AlertBatch, chained: Chained) -> None:
        """After a commit: tell the listeners what it did (schedules it paused, alerts it wrote,
        chain runs it started: the scheduler submits those). A listener that fails is logged and
        keeps none of the others from being told."""
        told: list[tuple[list[Callable[..., None]], tuple[Any, ...], str]] = [
            (self.paused_listeners if paused else [], (paused,), "auto-pause"),
            (self.alert_listeners if alerts.rows else [], (), "alert"),
            (self.chain_listeners if chained else [], (chained,), "chain")]
        for listeners, args, what in told:
            for listener in listeners:
                try:
                    listener(*args)
                except Exception:
                    log.exception("%s listener failed", what, extra={"category": "ERROR"})

    # ---- the writer thread -----------------------------------------------------------------

    def _write(self, dal: DAL, starts: Sequence[_Start], ends: Sequence[_End], paused: list[AutoPaused],
               alerts: AlertBatch, chained: Chained) -> list[bool]:
        """One batch; the schedules it paused (pause_after_failures) are added to `paused`, the
        alerts it wrote to `alerts`, the chain runs it started to `chained`."""
        paused.clear()  # a retried batch starts over
        alerts.rows.clear()
        alerts.states.clear()
        # ... but what its last attempt started may have been committed all the same (the commit
        # went through and its acknowledgement was lost): _end_runs keeps those chain runs
        earlier = Chained(list(chained.fires), list(chained.cancelled), list(chained.ended), chained.skipped)
        chained.clear()
        ts, sql, cur = self._ts, self.sql, cursor(dal)
        # A first attempt on the run row leaves the run's execution_id NULL: it is the run id.
        linked = [(s.run.run_id, s.start.attempt, None if on_run_row(s.start, s.run) else s.start.execution_id,
                   s.run.replica_id) for s in starts if s.run]
        ok_runs = sql.start_runs(cur, linked) if linked else set()
        started = [s.run is None or s.run.run_id.rstrip() in ok_runs for s in starts]
        go = [s for s, ok in zip(starts, started, strict=True) if ok]
        fresh = [execution_row(s.start, s.run.run_id if s.run else None, ts) for s in go
                 if not s.start.prepared and not on_run_row(s.start, s.run)]
        prepared = [(s.start.attempt, ts(s.start.started_at), s.run.run_id if s.run else None,
                     s.start.trigger_data.get("schedule_id"), s.start.execution_id) for s in go if s.start.prepared]
        outcomes = []
        for e in ends:
            if e.end.execution_id is None or (e.run_final and on_run_row(e.start, e.run)):
                continue  # no attempt, or the run's only attempt: its results go on the run row
            if e.start is not None and on_run_row(e.start, e.run):
                fresh.append(execution_row(e.start, e.run.run_id if e.run else None, ts))  # a retry follows it
            outcomes.append((e.end.status, ts(e.end.finished_at), e.end.duration_ms, e.end.error,
                             stored_results(e.end.step_results), e.end.execution_id))
        if fresh:
            sql.insert_executions(cur, fresh)
        if prepared:
            sql.start_prepared(cur, prepared)
        if outcomes:
            sql.end_executions(cur, outcomes)
        self._end_runs(dal, [e for e in ends if e.run is not None and e.run_final], paused, alerts, chained, earlier)
        return started

    def _end_runs(self, dal: DAL, ends: Sequence[_End], paused: list[AutoPaused], alerts: AlertBatch,
                  chained: Chained, earlier: Chained | None = None) -> None:
        """End runs still unfinished, start the after schedules their ends start, count each on
        its schedule (once, however many per batch), pause the schedules that have now failed
        pause_after_failures times in a row, and decide their alerts. `earlier`: what the last
        attempt of this batch started, if it was retried."""
        if not ends:
            return
        cur = cursor(dal)
        ts = self._ts
        ended = self.sql.end_runs(cur, [(e.end.status, ts(e.end.finished_at), e.end.duration_ms, e.end.error,
                                         stored_results(e.end.step_results) if on_run_row(e.start, e.run) else None,
                                         e.run.run_id) for e in ends if e.run])
        if earlier:
            # Runs this batch ends that are ended already: its last attempt committed them. Their
            # chain runs are in the database, queued for this replica, and nobody else will start
            # them: hand them over again (a run that does not exist fails its start, harmlessly).
            again = {e.run.run_id.rstrip() for e in ends if e.run and e.run.run_id.rstrip() not in ended}
            kept = [f for f in earlier.fires if f.upstream and f.upstream["run_id"] in again]
            if kept:
                chained.fires.extend(kept)
                chained.cancelled.extend(earlier.cancelled)
                chained.ended.extend(earlier.ended)
        counted = [e for e in ends if e.run and e.run.run_id.rstrip() in ended]
        counters = _counts(counted)
        if not counters:
            return
        # Before the upstream may pause itself below: the failure that pauses it still starts
        # its `failure` chains.
        self.chains.ended(dal, self._schedules, [RunEnded(e.run.run_id, e.run.schedule_pk, e.end.status,
                                                          e.end.finished_at, e.run.replica_id)
                                                 for e in counted if e.run], chained, alerts)
        alerting = [e for e in counted if e.run and (e.run.alerting or self.alerts.operator)]
        subjects = self.alerts.load(dal, sorted({e.run.schedule_pk for e in alerting if e.run})) if alerting else {}
        self.sql.count_ends(cur, [(ok, failed, ms, ts(at), execution_id, status, ts(at), reset, streak, pk)
                                  for pk, (ok, failed, ms, at, execution_id, status, reset, streak)
                                  in counters.items()])
        for pk, subject in subjects.items():
            self.alerts.ended(alerts, subject, [(e.end.status, e.end.finished_at, _run_summary(e)) for e in
                                                sorted(alerting, key=lambda e: e.end.finished_at)
                                                if e.run and e.run.schedule_pk == pk])
        failing = [pk for pk, count in counters.items() if count[7]]
        if failing:
            at = max(count[3] for count in counters.values())
            stopped = self.pause_failing(dal, failing, at)
            paused.extend(stopped)
            for p in stopped:
                if p.schedule_pk in subjects:
                    self.alerts.paused(alerts, subjects[p.schedule_pk], at, PAUSED_AFTER_FAILURES.format(n=p.failures))
        if alerts.rows or alerts.states:
            self.alerts.write(dal, alerts)

    def pause_failing(self, dal: DAL, pks: Sequence[int], at: datetime) -> list[AutoPaused]:
        """Pause those of `pks` whose failures in a row reached their pause_after_failures (audited,
        actor `system`), in the caller's transaction."""
        done = [AutoPaused(int(pk), schedule_id, community_id, int(n)) for pk, schedule_id, community_id, n in
                self.sql.pause_failing(cursor(dal), pks, PAUSED_AFTER_FAILURES, self._ts(at))]
        for p in done:
            reason = PAUSED_AFTER_FAILURES.format(n=p.failures)
            self.audit.write(dal, AuditEntry("system", "schedule.pause", at), "schedule", p.schedule_id,
                             p.community_id, {"status": "paused", "pause_reason": reason})
        return done


def _run_summary(e: _End) -> dict[str, Any]:
    assert e.run is not None
    return run_summary(e.run.run_id, e.end.status, e.end.finished_at, e.end.duration_ms, e.end.error)


def run_summary(run_id: str, status: str, finished_at: datetime, duration_ms: int | None,
                error: str | None) -> dict[str, Any]:
    """A run as its alerts show it."""
    return {"run_id": run_id, "status": status, "finished_at": iso_z(finished_at), "duration_ms": duration_ms,
            "error": (error or "")[:1000] or None}


def execution_row(start: ExecutionStart, run_id: str | None, ts: Callable[[datetime | None], Any], *,
                  queued: bool = False) -> tuple[Any, ...]:
    """An execution's row as driver parameters (ledger_sql.EXECUTION_COLUMNS): running since its
    start, or `queued` (a manual run's, not started yet)."""
    return (start.execution_id, start.workflow_id, run_id, start.trigger_data.get("schedule_id"), start.community_id,
            start.trigger, as_json(start.trigger_data), "queued" if queued else "running", start.attempt,
            None if queued else ts(start.started_at), "[]", ts(start.started_at))


_Counted = tuple[int, int, int, datetime, str | None, str, bool, int]


def _counts(ends: Sequence[_End]) -> dict[int, _Counted]:
    """Per schedule: successes, failures, their total duration, the newest end's time, execution
    and status, whether a success was among them, and the failures after the last success."""
    out: dict[int, _Counted] = {}
    for e in sorted(ends, key=lambda e: e.end.finished_at):
        assert e.run is not None
        end = e.end
        success = end.status == "completed"
        failure = end.status in ("failed", "timed_out")
        ok, failed, ms, _, _, _, reset, streak = out.get(
            e.run.schedule_pk, (0, 0, 0, end.finished_at, None, end.status, False, 0))
        out[e.run.schedule_pk] = (ok + success, failed + failure,
                                  ms + (end.duration_ms if success or failure else 0),
                                  end.finished_at, end.execution_id, end.status,
                                  reset or success, 0 if success else streak + failure)
    return out
