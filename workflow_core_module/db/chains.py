"""Schedule chains: the runs an upstream run's end starts, written in the transaction that
records that end.

An `after` schedule runs when a run of its upstream ends with an outcome it waits for
(``ChainOn``). The journal (db/journal.py) records run ends in batches; for each batch, a probe
of an index that is empty without chains (``ANY_CHAIN``), then, when there are chains, one
indexed statement finds the after schedules of the batch's schedules (``ledger_sql.downstream``),
and when there are some, this book plans each with the pure rules (``scheduling.plan_chained``:
window, max_executions, then the overlap policy exactly as a time schedule's fire) and writes
their runs (trigger ``after``) in the same transaction. A chain run's natural key is (schedule,
upstream run) (unique index ux_runs_upstream): however many replicas record ends, an upstream
run starts each downstream schedule at most once. The runs are handed to the dispatcher after
the commit; one whose replica stops before running it is an orphan like any queued run.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydal import DAL

from ..scheduling import OverlapPolicy, ScheduleStatus, Unfinished, plan_chained
from ..scheduling.schedule import Schedule
from ..scheduling.types import CHAIN_STATUSES, ChainOn, iso_z
from .alerts import AlertBatch, AlertBook, Subject
from .database import Dialect, cursor
from .fire import Fire
from .ledger_sql import ANY_CHAIN, CHAIN_COLUMNS, LedgerSQL, end_unfinished, unfinished_runs
from .sql import TableCodec

_STARTING = CHAIN_STATUSES[ChainOn.ANY]  # the statuses that may start anything


@dataclass(frozen=True, slots=True)
class RunEnded:
    """A run whose end was recorded in this transaction."""

    run_id: str
    schedule_pk: int
    status: str
    finished_at: datetime
    replica_id: str  # who recorded it: its chain runs are queued for that replica


@dataclass
class Chained:
    """What one transaction's run ends started: fires to submit after the commit, runs that a
    cancel_previous ended (to cancel where they execute), after schedules that became completed
    or expired (pk, schedule_id) for the cache."""

    fires: list[Fire] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    ended: list[tuple[int, str]] = field(default_factory=list)
    skipped: int = 0

    def __bool__(self) -> bool:
        return bool(self.fires or self.cancelled or self.ended or self.skipped)

    def clear(self) -> None:
        self.fires.clear()
        self.cancelled.clear()
        self.ended.clear()
        self.skipped = 0


@dataclass
class _Downstream:
    """An after schedule as this transaction changes it."""

    schedule: Schedule
    count: int
    status: ScheduleStatus
    unfinished: list[Unfinished]
    planned: list[tuple[str, bool]] = field(default_factory=list)  # (run_id, a fire: not skipped)
    ended_at: datetime | None = None  # when a run of it ended at once (skipped)

    def settle(self, written: set[str]) -> int:
        """Keep what was written (a run whose key, schedule and upstream run, existed already was
        not: that end had started this schedule before); the rows written."""
        kept = [(run_id, fire) for run_id, fire in self.planned if run_id in written]
        if len(kept) < len(self.planned):
            self.count = self.schedule.execution_count + sum(fire for _, fire in kept)
            limit = self.schedule.max_executions
            self.status = ScheduleStatus.COMPLETED if limit is not None and self.count >= limit \
                else self.schedule.status
            if all(fire for _, fire in kept):
                self.ended_at = None
        self.planned = kept
        return len(kept)


class ChainBook:
    """Plans and writes chain runs inside the caller's transaction."""

    def __init__(self, dialect: Dialect, sql: LedgerSQL, alerts: AlertBook) -> None:
        self.dialect = dialect
        self.sql = sql
        self.alerts = alerts

    def ended(self, dal: DAL, codec: TableCodec, ends: Sequence[RunEnded], out: Chained, alerts: AlertBatch) -> None:
        """Start what `ends` start (adding to `out` and to the alert batch `alerts`)."""
        starting = [e for e in ends if e.status in _STARTING]
        if not starting:
            return
        cur = cursor(dal)
        cur.execute(ANY_CHAIN)
        if cur.fetchone() is None:
            return
        rows = self.sql.downstream(cur, sorted({e.schedule_pk for e in starting}))
        if not rows:
            return
        below: dict[int, list[tuple[str, _Downstream]]] = {}
        found: dict[int, _Downstream] = {}
        for row in rows:
            values = codec.decode(row[2:], CHAIN_COLUMNS)
            pk = int(values["id"])
            if pk not in found:
                s = Schedule.from_row(values)
                found[pk] = _Downstream(s, s.execution_count, s.status, [])
            below.setdefault(int(row[0]), []).append((str(row[1]).rstrip(), found[pk]))
        waiting = {d.schedule.schedule_id: d for d in found.values()
                   if d.schedule.overlap_policy is not OverlapPolicy.ALLOW}
        for schedule_id, runs in (unfinished_runs(dal, self.dialect, list(waiting)) if waiting else {}).items():
            waiting[schedule_id].unfinished = runs
        new_runs: list[tuple[Any, ...]] = []
        fires: list[Fire] = []
        cancels: list[tuple[str, str, str, datetime]] = []  # (by run, run to cancel, why, when)
        for end in sorted(starting, key=lambda e: e.finished_at):
            for upstream_id, d in below.get(end.schedule_pk, ()):
                self._start(end, upstream_id, d, new_runs, fires, cancels, alerts)
        written = self.sql.insert_chained(cur, new_runs) if new_runs else set()
        out.fires.extend(f for f in fires if f.run_id in written)
        ts, true, false = self.dialect.ts, self.dialect.true, self.dialect.false
        at = ts(max(e.finished_at for e in starting))
        moves = []
        for d in found.values():
            written_rows = d.settle(written)
            if not written_rows and d.status is d.schedule.status:
                continue
            if d.status is not ScheduleStatus.ACTIVE:
                out.ended.append((d.schedule.id, d.schedule.schedule_id))
            skipped = sum(not fire for _, fire in d.planned)
            out.skipped += skipped
            moves.append((d.count, d.status.value, true if d.status is ScheduleStatus.ACTIVE else false, written_rows,
                          "skipped" if d.ended_at else None, ts(d.ended_at), at, d.schedule.id))
        if moves:
            self.sql.move_chained(cur, moves)
        for by, run_id, reason, when in cancels:
            if by in written and end_unfinished(dal, self.dialect, run_id, "cancelled", reason, when):
                out.cancelled.append(run_id)

    def _start(self, end: RunEnded, upstream_id: str, d: _Downstream, new_runs: list[tuple[Any, ...]],
               fires: list[Fire], cancels: list[tuple[str, str, str, datetime]], alerts: AlertBatch) -> None:
        """One downstream schedule of one ended run."""
        s = d.schedule
        after = s.upstream()
        if d.status is not ScheduleStatus.ACTIVE or after is None or not after[1].matches(end.status):
            return
        now = end.finished_at
        p = plan_chained(s.rule(), d.count, s.max_executions, end.finished_at, now, s.overlap_policy,
                         tuple(d.unfinished))
        if p is None:
            return
        decision, subject = p.decision, None
        d.count, d.status = decision.execution_count, decision.status
        alerting = self.alerts.wants(s.alerts)
        if alerting:
            subject = Subject.of(s)
        if subject is not None and decision.status is ScheduleStatus.EXPIRED:
            self.alerts.paused(alerts, subject, now, "expired: its end date has passed")
        if p.fire_status is None:
            return
        run_id = str(uuid.uuid4())
        upstream = upstream_of(upstream_id, end.run_id, end.status, end.finished_at)
        ts = self.dialect.ts
        skipped = p.fire_status == "skipped"
        d.planned.append((run_id, not skipped))
        new_runs.append((run_id, s.schedule_id, s.workflow_id, None, ts(end.finished_at), ts(now),
                         ts(now) if skipped else None, "skipped" if skipped else "queued", 0,
                         p.reason if skipped else None, f"after run {end.run_id} of {upstream_id} ({end.status})",
                         "after", end.replica_id, end.run_id))
        if skipped:
            d.ended_at = now
            return
        if subject is not None:
            self.alerts.fired(alerts, subject)
        cancels.extend((run_id, run, p.reason or "cancelled", now) for run in p.cancel)
        d.unfinished = [u for u in d.unfinished if u.run_id not in p.cancel] + [Unfinished(run_id, False)]
        fires.append(Fire(run_id, s.id, s.schedule_id, s.workflow_id, s.community_id, end.finished_at, now,
                          s.context_data, s.callback_url, s.jitter_seconds, trigger="after", wait_for=p.wait_for,
                          limits=s.limits(), alerting=alerting, upstream=upstream))


def upstream_of(schedule_id: str, run_id: str, status: str, finished_at: datetime) -> dict[str, Any]:
    """A chain run's trigger_data.upstream."""
    return {"schedule_id": schedule_id, "run_id": run_id, "status": status, "finished_at": iso_z(finished_at)}
