"""The run ledger: the one place that moves a schedule run between states, and the one place that
writes a schedule's run counters and ``last_*`` fields.

A run's life, transition by transition (each a method here):

* **claim** (``claim``): for each due schedule, one transaction reads its unfinished runs (for the
  overlap policy), plans it with the pure rules (``scheduling.plan``), moves it with a
  conditional update (``WHERE id = ? AND next_execution_at = <old>``: only the process whose
  update changed the row goes on) and inserts its runs: **missed**, **skipped**, and the fired
  one, either ``queued`` or, when it can start at once (no jitter, no overlap wait, a
  concurrency slot set aside for it), already ``running`` (attempt 1), so that its start costs
  no write of its own. Runs of ``cancel_previous`` are **cancelled** there too. The unique
  index on (schedule_id, scheduled_for) of scheduled runs makes a second claim of one
  occurrence fail in the database itself;
* **start** / **end** of each attempt (``start``, ``end``, ``end_unstarted``): batched by the
  journal (db/journal.py). A start is durable before the first step; an end is handed over and
  made durable without holding a concurrency slot. A run's first attempt takes the run's id and
  is recorded on the run row itself (its step results included); only a retried run, a manual
  run and an API execution have workflow_executions rows;
* **chain** (in the journal's end transaction, ``db/chains.py``): a run of an ``after``
  schedule, started by the end of a run of its upstream (trigger ``after``), unique per
  (schedule, upstream run);
* **record manual** (``record_manual``): a run started by hand, with its queued execution;
* **adopt** or **fail** an orphan (``orphans``, ``adopt``, ``fail_orphan``): unfinished runs of a
  replica that stopped;
* **purge** (``purge``) and **forget** (``forget_runs``): retention and hard delete.

The SQL that differs between SQLite and PostgreSQL is in db/ledger_sql.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydal import DAL

from ..scheduling import (
    DueState,
    OverlapPolicy,
    Plan,
    RunStatus,
    ScheduleStatus,
    TimeRule,
    as_utc,
    plan,
)
from ..scheduling.records import Maintenance
from ..scheduling.schedule import DUE_COLUMNS, RunLimits, Schedule
from ..scheduling.types import iso_z
from .alerts import AlertBatch, AlertBook, AlertStore, Subject
from .chains import Chained, RunEnded, upstream_of
from .control import read_maintenance
from .database import Database, Dialect, cursor
from .fire import Fire, RunLink
from .journal import (
    PAUSED_AFTER_FAILURES,
    AutoPaused,
    ExecutionEnd,
    ExecutionStart,
    Journal,
    execution_row,
    run_summary,
)
from .ledger_sql import RUN_COLUMNS, UNFINISHED_SQL, end_unfinished, ledger_sql, unfinished_runs
from .sql import TableCodec


@dataclass(frozen=True, slots=True)
class DueRow:
    """What the claim needs of a due schedule: its record as the due query reads it (the other
    fields take their defaults), its time rule and its due state."""

    schedule: Schedule
    rule: TimeRule
    state: DueState

    @classmethod
    def from_row(cls, codec: TableCodec, row: Sequence[Any]) -> DueRow:
        """From a row of the due query (DUE_COLUMNS order)."""
        s = Schedule.from_row(codec.decode(row, DUE_COLUMNS))
        return cls(s, s.rule(), DueState(_due(s), s.execution_count, s.max_executions, s.grace_period_seconds,
                                         s.catchup_policy, s.catchup_max))


def _due(s: Schedule) -> datetime:
    assert s.next_execution_at is not None  # the due query selects rows with one
    return s.next_execution_at


@dataclass
class ClaimResult:
    selected: int = 0  # due rows the claim looked at
    fires: list[Fire] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)  # runs cancelled by cancel_previous
    cache: list[tuple[int, str, datetime | None]] = field(default_factory=list)  # (pk, schedule_id, due)
    missed: int = 0
    skipped: int = 0
    completed: int = 0
    expired: int = 0
    lost: int = 0
    broken: list[tuple[int, str, str]] = field(default_factory=list)  # (pk, schedule_id, error)
    lags_ms: list[float] = field(default_factory=list)
    halted: bool = False  # maintenance mode: nothing was looked at
    alerts: AlertBatch = field(default_factory=AlertBatch)  # alerts the claim wrote

    @property
    def started(self) -> int:
        """Fires recorded running at the claim (each took a slot set aside for it)."""
        return sum(fire.started for fire in self.fires)


@dataclass(frozen=True, slots=True)
class Orphan:
    run_id: str
    schedule_pk: int | None
    schedule_id: str
    workflow_id: str
    community_id: str | None
    scheduled_for: datetime
    status: str
    trigger: str
    claimed_by: str | None
    execution_id: str | None
    attempt: int
    grace_period_seconds: int
    context_data: dict[str, Any]
    callback_url: str | None
    limits: RunLimits
    upstream: dict[str, Any] | None = None  # a chain run's: the run whose end started it


class _Claim:
    """One claim transaction's bookkeeping: the rows to insert and what the caller gets back."""

    def __init__(self, dialect: Dialect, now: datetime, replica_id: str, startable: int, selected: int,
                 alerts: AlertBook) -> None:
        self.ts = dialect.ts
        self.alerts = alerts
        self.now = now
        self.replica_id = replica_id
        self.startable = startable
        self.result = ClaimResult(selected=selected)
        self.runs: list[tuple[Any, ...]] = []
        self.cancels: list[tuple[str, str]] = []  # (run_id, reason)

    def run_row(self, run_id: str, row: DueRow, execution_id: str | None, scheduled_for: datetime,
                fired_at: datetime | None, finished: bool, status: str, attempt: int, error: str | None,
                note: str | None) -> None:
        ts, s = self.ts, row.schedule
        self.runs.append((run_id, s.schedule_id, s.workflow_id, execution_id, ts(scheduled_for), ts(fired_at),
                          ts(self.now) if finished else None, status, attempt, error, note, "schedule",
                          self.replica_id))

    def add(self, row: DueRow, p: Plan) -> None:
        """What a moved row brings: cache update, run rows, the fire."""
        d, now, result, s = p.decision, self.now, self.result, row.schedule
        result.cache.append((s.id, s.schedule_id, d.next_execution_at if d.is_active else None))
        result.completed += d.status is ScheduleStatus.COMPLETED
        result.expired += d.status is ScheduleStatus.EXPIRED
        if d.missed_for is not None:
            late = int((now - d.missed_for).total_seconds())
            self.run_row(str(uuid.uuid4()), row, None, d.missed_for, None, True, RunStatus.MISSED.value, 0,
                         f"missed: {late} s late, grace period {row.state.grace_period_seconds} s", None)
            result.missed += 1
        for missed in d.also_missed:
            self.run_row(str(uuid.uuid4()), row, None, missed, None, True, RunStatus.MISSED.value, 0,
                         f"missed: catching up runs the newest {row.state.catchup_max} occurrences only", None)
        result.missed += len(d.also_missed)
        alerting = self.alerts.wants(s.alerts)
        if alerting:
            self._alert(row, p)
        if p.fire_status is None:
            return
        assert d.fire_for is not None
        run_id = str(uuid.uuid4())
        note = f"coalesced {d.coalesced} occurrences" if d.coalesced > 1 else None
        if p.fire_status == "skipped":
            self.run_row(run_id, row, None, d.fire_for, now, True, "skipped", 0, p.reason, note)
            result.skipped += 1
            return
        self.cancels.extend((run, p.reason or "cancelled") for run in p.cancel)
        # One that can start at once has its first attempt recorded on the run row
        # (journal.on_run_row): running, attempt 1, its execution id the run's, stored as NULL.
        started = self.startable > 0 and not s.jitter_seconds and not p.wait_for
        self.startable -= started
        self.run_row(run_id, row, None, d.fire_for, now, False, "running" if started else "queued", int(started),
                     None, note)
        result.fires.append(Fire(run_id, s.id, s.schedule_id, s.workflow_id, s.community_id, d.fire_for,
                                 now, s.context_data, s.callback_url, s.jitter_seconds, wait_for=p.wait_for,
                                 execution_id=run_id if started else None, started=started, limits=s.limits(),
                                 alerting=alerting))
        result.lags_ms.append((now - d.fire_for).total_seconds() * 1000)

    def _alert(self, row: DueRow, p: Plan) -> None:
        """The alerts of a moved row of a schedule that alerts: missed occurrences, an expiry."""
        d, s, batch = p.decision, row.schedule, self.result.alerts
        subject = Subject.of(s)
        missed = [*([d.missed_for] if d.missed_for is not None else []), *d.also_missed]
        if missed:
            late = int((self.now - min(missed)).total_seconds())
            self.alerts.missed(batch, subject, missed, self.now,
                               f"{len(missed)} occurrence(s) missed, the oldest {late} s late "
                               f"(grace period {row.state.grace_period_seconds} s)")
        if p.fire_status is not None and p.fire_status != "skipped":
            self.alerts.fired(batch, subject)
        if d.status is ScheduleStatus.EXPIRED:
            self.alerts.paused(batch, subject, self.now, "expired: its end date has passed")


class RunLedger:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.dialect = database.dialect
        self.sql = ledger_sql(database.dialect)
        self.journal = Journal(database, self.sql)
        self.alerts = AlertStore(database)
        self.schedules = TableCodec(database.dal, "workflow_schedules", database.dialect)

    # ---- claim -------------------------------------------------------------------------------

    async def maintenance(self) -> Maintenance:
        return await self.database.read(read_maintenance, self.dialect)

    async def claim(self, now: datetime, limit: int, replica_id: str, *, startable: int = 0) -> ClaimResult:
        """Claim what is due at `now` (up to `limit` rows): one transaction on the writer thread.
        Up to `startable` fires that can start at once are recorded running already (the caller
        holds that many concurrency slots for them)."""
        result = await self.database.write(self.claim_batch, now, limit, replica_id, startable)
        if result.alerts.rows:
            for alerted in self.journal.alert_listeners:
                alerted()
        return result

    def claim_batch(self, dal: DAL, now: datetime, limit: int, replica_id: str, startable: int = 0) -> ClaimResult:
        if read_maintenance(dal, self.dialect).paused:  # maintenance mode: nothing is claimed
            return ClaimResult(selected=0, halted=True)
        cur = cursor(dal)
        rows = [DueRow.from_row(self.schedules, r) for r in self.sql.select_due(cur, self.dialect.ts(now), limit)]
        claim = _Claim(self.dialect, now, replica_id, startable, len(rows), self.journal.alerts)
        if not rows:
            return claim.result
        overlapping = [r.schedule.schedule_id for r in rows if r.schedule.overlap_policy is not OverlapPolicy.ALLOW]
        unfinished = unfinished_runs(dal, self.dialect, overlapping) if overlapping else {}
        planned: list[tuple[DueRow, Plan]] = []
        for row in rows:
            try:
                s = row.schedule
                p = plan(row.rule, row.state, now, s.overlap_policy, tuple(unfinished.get(s.schedule_id, ())))
            except Exception as exc:  # a row the rules cannot handle: set aside, never block the others
                claim.result.broken.append((s.id, s.schedule_id, f"{type(exc).__name__}: {exc}"))
                continue
            if p is not None:
                planned.append((row, p))
        moved = self.sql.move(cur, [self._move_values(row, p, now) for row, p in planned]) if planned else set()
        for row, p in planned:
            if row.schedule.id in moved:
                claim.add(row, p)
            else:
                claim.result.lost += 1  # another process claimed it first
        if claim.runs:
            self.sql.insert_runs(cur, claim.runs)
        if claim.result.alerts.rows or claim.result.alerts.states:
            self.journal.alerts.write(dal, claim.result.alerts)
        for run_id, reason in claim.cancels:
            if end_unfinished(dal, self.dialect, run_id, RunStatus.CANCELLED.value, reason, now):
                claim.result.cancelled.append(run_id)
        return claim.result

    def _move_values(self, row: DueRow, p: Plan, now: datetime) -> tuple[Any, ...]:
        """The schedule's new state and counters. A run that ends at the claim (skipped, or only a
        miss) is the schedule's last run."""
        ts, d = self.dialect.ts, p.decision
        ended = "skipped" if p.fire_status == "skipped" else ("missed" if d.missed_for and not p.fire_status else None)
        active = self.dialect.true if d.is_active else self.dialect.false
        missed = (1 if d.missed_for else 0) + len(d.also_missed)
        return (row.schedule.id, ts(d.next_execution_at), d.status.value, active, d.execution_count,
                missed + (1 if p.fire_status else 0), missed, self.dialect.exact(row.state.next_execution_at), ended,
                ts(now) if ended else None, ts(now))

    async def refresh(self, pks: Sequence[int]) -> list[tuple[int, str, datetime | None]]:
        """Current (pk, schedule_id, due or None) of some schedules, for a cache that may be stale."""
        if not pks:
            return []
        marks = ", ".join("?" for _ in pks)
        sql = self.dialect.params(
            "SELECT id, schedule_id, next_execution_at, is_active, deleted_at FROM workflow_schedules "
            f"WHERE id IN ({marks})"
        )

        def run(dal: DAL) -> list[tuple[int, str, datetime | None]]:
            found = {}
            for pk, schedule_id, nxt, active, deleted in dal.executesql(sql, placeholders=list(pks)):
                live = active in (True, "T") and deleted is None and nxt is not None
                found[int(pk)] = (int(pk), schedule_id, as_utc(nxt) if live else None)
            return [found.get(pk, (pk, "", None)) for pk in pks]

        return await self.database.read(run)

    # ---- attempts: start and end (batched by the journal) --------------------------------------

    async def start(self, start: ExecutionStart, run: RunLink | None = None) -> bool:
        """An attempt's start, durable before its first step; False when its run has ended
        (cancelled, taken over) and it may not start."""
        return await self.journal.start(start, run)

    def end(self, end: ExecutionEnd, run: RunLink | None = None, *, run_final: bool = False,
            start: ExecutionStart | None = None) -> asyncio.Future[None]:
        """An attempt's end (with `run_final`, its run's too), given the attempt's `start`; the
        future is done once durable. A run's only attempt is recorded on the run row."""
        return self.journal.end(end, run, run_final=run_final, start=start)

    def end_unstarted(self, run: RunLink, status: str, error: str, now: datetime,
                      execution_id: str | None = None) -> asyncio.Future[None]:
        """End a run no attempt is running (cancelled or failed before or between attempts), and
        the execution recorded ahead for it (a manual run's, queued) when that attempt never ran."""
        return self.journal.end(ExecutionEnd(execution_id, status, error, now, 0, []), run, run_final=True)

    # ---- backfill ------------------------------------------------------------------------------

    async def record_backfill(self, fires: Sequence[Fire], replica_id: str,
                              also: Callable[[DAL, int], None]) -> list[Fire]:
        """Backfill runs (trigger `backfill`), queued: those of `fires` whose occurrence has no
        backfill run yet (the unique index decides), counted on the schedule, and whatever
        `also(dal, how many)` writes (the audit row) in the same transaction. The fires written."""
        ts = self.dialect.ts
        sql = self.dialect.params(_insert_run_sql() + " ON CONFLICT DO NOTHING RETURNING run_id")

        def run(dal: DAL) -> list[Fire]:
            cur, written = cursor(dal), []
            for fire in fires:
                cur.execute(sql, (fire.run_id, fire.schedule_id, fire.workflow_id, None, ts(fire.scheduled_for),
                                  ts(fire.fired_at), None, "queued", 0, None, None, fire.trigger, replica_id))
                if cur.fetchone() is not None:
                    written.append(fire)
            if written:
                dal.executesql(self.dialect.params("UPDATE workflow_schedules SET total_runs = total_runs + ? "
                                                   "WHERE id = ?"), placeholders=[len(written), fires[0].schedule_pk])
            also(dal, len(written))
            return written

        return await self.database.write(run)

    # ---- manual runs ---------------------------------------------------------------------------

    async def record_manual(self, fire: Fire, replica_id: str, also: Callable[[DAL], None]) -> None:
        """A run started by hand: its run row and queued execution, counted on its schedule, and
        whatever `also` writes (the audit row) in the same transaction."""
        ts = self.dialect.ts
        assert fire.execution_id is not None
        start = ExecutionStart(fire.execution_id, fire.workflow_id, fire.community_id, fire.trigger,
                               fire.trigger_data(), 1, fire.fired_at, prepared=False)
        execution = execution_row(start, fire.run_id, ts, queued=True)
        run_row = (fire.run_id, fire.schedule_id, fire.workflow_id, fire.execution_id, ts(fire.scheduled_for),
                   ts(fire.fired_at), None, "queued", 0, None, None, fire.trigger, replica_id)

        def run(dal: DAL) -> None:
            cur = cursor(dal)
            self.sql.insert_runs(cur, [run_row])
            self.sql.insert_executions(cur, [execution])
            dal.executesql(self.dialect.params("UPDATE workflow_schedules SET total_runs = total_runs + 1 "
                                               "WHERE id = ?"), placeholders=[fire.schedule_pk])
            also(dal)

        await self.database.write(run)

    # ---- reads ---------------------------------------------------------------------------------

    async def status_of(self, run_ids: Iterable[str]) -> dict[str, str]:
        ids = list(run_ids)
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        sql = self.dialect.params(f"SELECT run_id, status FROM workflow_schedule_runs WHERE run_id IN ({marks})")
        rows = await self.database.read(lambda dal: dal.executesql(sql, placeholders=ids))
        return {run_id: status for run_id, status in rows}

    async def summary(self, run_id: str) -> dict[str, Any]:
        """What a callback reports of an ended run."""
        sql = self.dialect.params(
            "SELECT status, finished_at, duration_ms, error, attempt, execution_id FROM workflow_schedule_runs "
            "WHERE run_id = ?")
        rows = await self.database.read(lambda dal: dal.executesql(sql, placeholders=[run_id]))
        status, finished_at, duration_ms, error, attempt, execution_id = rows[0] if rows else (None,) * 6
        if execution_id is None and (attempt or 0) >= 1:
            execution_id = run_id  # its first attempt, recorded on the run row
        return {"execution_id": execution_id, "status": status,
                "finished_at": iso_z(finished_at) if finished_at else None,
                "duration_ms": duration_ms, "attempt": attempt, "error": error}

    # ---- orphans -------------------------------------------------------------------------------

    async def orphans(self, live_replicas: Sequence[str], limit: int = 1000) -> list[Orphan]:
        """Unfinished runs whose owner is not a live replica."""
        marks = ", ".join("?" for _ in live_replicas) or "''"
        sql = self.dialect.params(
            "SELECT r.run_id, s.id, r.schedule_id, r.workflow_id, s.community_id, r.scheduled_for, r.status, "
            "r.\"trigger\", r.claimed_by, r.execution_id, r.attempt, s.grace_period_seconds, s.context_data, "
            "s.callback_url, s.timeout_seconds, s.max_retries, s.retry_backoff_seconds, "
            "u.schedule_id, u.run_id, u.status, u.finished_at FROM workflow_schedule_runs r "
            "LEFT JOIN workflow_schedules s ON s.schedule_id = r.schedule_id "
            "LEFT JOIN workflow_schedule_runs u ON u.run_id = r.upstream_run_id "
            f"WHERE r.status IN {UNFINISHED_SQL} AND (r.claimed_by IS NULL OR r.claimed_by NOT IN ({marks})) "
            f"ORDER BY r.scheduled_for LIMIT {int(limit)}")
        codec = self.schedules

        def run(dal: DAL) -> list[Orphan]:
            out = []
            for row in dal.executesql(sql, placeholders=list(live_replicas)):
                context = codec.decode((row[12],), ("context_data",))["context_data"]
                upstream = None if row[18] is None else upstream_of(str(row[17]).rstrip(), str(row[18]).rstrip(),
                                                                    row[19], as_utc(row[20]))
                out.append(Orphan(row[0], row[1], row[2], row[3], row[4], as_utc(row[5]), row[6], row[7], row[8],
                                  row[9], row[10] or 0, row[11] or 0, dict(context or {}), row[13],
                                  RunLimits(*row[14:17]), upstream))
            return out

        return await self.database.read(run)

    async def adopt(self, orphan: Orphan, replica_id: str, now: datetime) -> bool:
        """Take a queued orphan over (to fire it again); False if another replica did first."""
        sql = self.dialect.params(
            "UPDATE workflow_schedule_runs SET claimed_by = ?, fired_at = ?, note = ? WHERE run_id = ? "
            "AND status = 'queued' AND " + ("claimed_by IS NULL" if orphan.claimed_by is None else "claimed_by = ?"))
        params = [replica_id, self.dialect.ts(now), f"re-fired: replica {orphan.claimed_by} stopped before starting it",
                  orphan.run_id] + ([] if orphan.claimed_by is None else [orphan.claimed_by])

        def run(dal: DAL) -> bool:
            taken = cursor(dal)
            taken.execute(sql, params)
            return taken.rowcount == 1

        return await self.database.write(run)

    async def fail_orphan(self, orphan: Orphan, reason: str, now: datetime, replica_id: str = "") -> bool:
        """Record an orphan as failed with the reason (and count it); False if it had ended. Its
        schedule's `failure` chains start (queued for `replica_id`), as for any failed run."""

        paused: list[AutoPaused] = []
        chained = Chained()
        alerts = AlertBatch()

        def run(dal: DAL) -> bool:
            chained.clear()
            alerts.rows.clear()
            alerts.states.clear()
            if not end_unfinished(dal, self.dialect, orphan.run_id, RunStatus.FAILED.value, reason, now):
                return False
            if orphan.schedule_pk is not None:
                pk, book = orphan.schedule_pk, self.journal.alerts
                self.journal.chains.ended(dal, self.schedules, [RunEnded(orphan.run_id, pk, RunStatus.FAILED.value,
                                                                         now, replica_id)], chained, alerts)
                subject = book.load(dal, [pk]).get(pk)  # its failure alerts, as for a failed run
                dal.executesql(self.dialect.params(
                    "UPDATE workflow_schedules SET failed_runs = failed_runs + 1, last_run_status = 'failed', "
                    "last_run_at = ?, consecutive_failures = consecutive_failures + 1 WHERE id = ?"),
                    placeholders=[self.dialect.ts(now), pk])
                paused[:] = self.journal.pause_failing(dal, [pk], now)
                if subject is not None:
                    failed = RunStatus.FAILED.value
                    book.ended(alerts, subject, [(failed, now, run_summary(orphan.run_id, failed, now, None, reason))])
                    for p in paused:
                        book.paused(alerts, subject, now, PAUSED_AFTER_FAILURES.format(n=p.failures))
                if alerts.rows or alerts.states:
                    book.write(dal, alerts)
            return True

        ended = await self.database.write(run)
        self.journal.committed(paused, alerts, chained)
        return bool(ended)

    # ---- retention and deletion ----------------------------------------------------------------

    async def purge(self, cutoff: datetime, batch: int = 1000) -> int:
        """Delete one batch of finished runs and executions older than `cutoff`; returns how many."""
        mark, when = self.dialect.params, self.dialect.ts(cutoff)

        def run(dal: DAL) -> int:
            gone = cursor(dal)
            gone.execute(mark(
                "DELETE FROM workflow_schedule_runs WHERE id IN (SELECT id FROM workflow_schedule_runs "
                f"WHERE scheduled_for < ? AND status NOT IN {UNFINISHED_SQL} LIMIT {int(batch)})"), (when,))
            deleted = gone.rowcount
            gone.execute(mark(
                "DELETE FROM workflow_executions WHERE id IN (SELECT id FROM workflow_executions "
                f"WHERE created_at < ? AND status NOT IN {UNFINISHED_SQL} LIMIT {int(batch)})"), (when,))
            return int(deleted + gone.rowcount)

        return await self.database.write(run)


def forget_runs(dal: DAL, dialect: Dialect, schedule_id: str) -> None:
    """Hard delete: a schedule's runs go with it (inside the caller's transaction)."""
    dal.executesql(dialect.params("DELETE FROM workflow_schedule_runs WHERE schedule_id = ?"),
                   placeholders=[schedule_id])


def _insert_run_sql() -> str:
    names = ", ".join(f'"{c}"' for c in RUN_COLUMNS)
    return f"INSERT INTO workflow_schedule_runs ({names}) VALUES ({', '.join('?' for _ in RUN_COLUMNS)})"
