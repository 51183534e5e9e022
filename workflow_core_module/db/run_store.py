"""SQL of the scheduler loop: the due query, the claim, run transitions, recovery, heartbeats,
retention.

The claim is the heart of exactly-once firing. For each due row, one transaction:

* reads the schedule's unfinished runs (for the overlap policy),
* plans the row with the pure rules (``scheduling.plan``),
* moves the row with a conditional update (``WHERE id = ? AND next_execution_at = <old>``):
  only the process whose update changed the row goes on,
* inserts the run rows (missed / queued / skipped). The unique index on (schedule_id,
  scheduled_for) for scheduled runs makes a second claim of one occurrence fail in the
  database itself.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydal import DAL

from ..scheduling import (
    DueState,
    OverlapPolicy,
    Plan,
    RunStatus,
    ScheduleStatus,
    ScheduleType,
    TimeRule,
    Unfinished,
    as_utc,
    plan,
)
from ..scheduling.trigger import TriggerData, trigger_time
from .database import Database, cursor
from .records import aware
from .sql import TableCodec, unnest

_DUE_COLUMNS = (
    "id", "schedule_id", "workflow_id", "community_id", "name", "schedule_type", "cron_expression",
    "interval_seconds", "scheduled_time", "timezone", "start_date", "end_date", "next_execution_at",
    "execution_count", "max_executions", "grace_period_seconds", "overlap_policy", "jitter_seconds",
    "context_data", "callback_url", "created_at",
)
UNFINISHED = ("queued", "running")


@dataclass(frozen=True, slots=True)
class DueRow:
    """What the loop needs of a due schedule."""

    pk: int
    schedule_id: str
    workflow_id: str
    community_id: str | None
    name: str
    rule: TimeRule
    state: DueState
    overlap_policy: OverlapPolicy
    jitter_seconds: int
    context_data: dict[str, Any]
    callback_url: str | None

    @classmethod
    def from_row(cls, row: Sequence[Any], context: dict[str, Any]) -> DueRow:
        """From a row of the due query (_DUE_COLUMNS order); timestamps naive UTC from the driver."""
        (pk, schedule_id, workflow_id, community_id, name, schedule_type, cron_expression, interval_seconds,
         scheduled_time, timezone, start_date, end_date, next_execution_at, execution_count, max_executions,
         grace_period_seconds, overlap_policy, jitter_seconds, _, callback_url, created_at) = row
        start = aware(start_date)
        rule = TimeRule(
            ScheduleType(schedule_type), timezone or "UTC", cron_expression, interval_seconds, aware(scheduled_time),
            start, aware(end_date), start or _required(created_at).replace(microsecond=0),
        )
        state = DueState(_required(next_execution_at), execution_count or 0, max_executions, grace_period_seconds or 0)
        return cls(int(pk), schedule_id, workflow_id, community_id, name, rule, state,
                   OverlapPolicy(overlap_policy or "skip"), jitter_seconds or 0, context, callback_url)


@dataclass(frozen=True, slots=True)
class Fire:
    """A claimed occurrence to run (or a manual / recovered run)."""

    run_id: str
    schedule_pk: int
    schedule_id: str
    workflow_id: str
    community_id: str | None
    scheduled_for: datetime
    fired_at: datetime
    context_data: dict[str, Any]
    callback_url: str | None
    jitter_seconds: int = 0
    trigger: str = "schedule"
    wait_for: tuple[str, ...] = ()
    attempt: int = 0
    execution_id: str | None = None  # the first attempt's id, when it was chosen ahead

    def trigger_data(self) -> dict[str, Any]:
        """The run's `trigger` (every key of TriggerData; the dispatcher sets `attempt` per attempt)."""
        return TriggerData(trigger=self.trigger, schedule_id=self.schedule_id, run_id=self.run_id,
                           scheduled_for=trigger_time(self.scheduled_for), fired_at=trigger_time(self.fired_at),
                           attempt=self.attempt + 1, context_data=self.context_data).as_dict()


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


def _required(value: datetime | str) -> datetime:
    result = aware(value)
    assert result is not None
    return result


def _context(value: Any) -> dict[str, Any]:
    """context_data as stored: JSON text on SQLite, already decoded on PostgreSQL."""
    if not value:
        return {}
    return dict(json.loads(value) if isinstance(value, (str, bytes)) else value)


class RunStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.dialect = database.dialect
        self.runs = TableCodec(database.dal, "workflow_schedule_runs", database.dialect)
        self.schedules = TableCodec(database.dal, "workflow_schedules", database.dialect)
        self.executions = TableCodec(database.dal, "workflow_executions", database.dialect)
        mark = self.dialect.params
        self._due_sql = mark(
            f"SELECT {', '.join(_DUE_COLUMNS)} FROM workflow_schedules "
            "WHERE is_active = ? AND next_execution_at <= ? ORDER BY next_execution_at LIMIT ?"
        )
        self._claim_sql = mark(
            "UPDATE workflow_schedules SET next_execution_at = ?, status = ?, is_active = ?, execution_count = ?, "
            "total_runs = total_runs + ?, missed_runs = missed_runs + ?, updated_at = ?, "
            "last_run_status = COALESCE(?, last_run_status), last_run_at = COALESCE(?, last_run_at) "
            "WHERE id = ? AND next_execution_at = ? AND is_active = ?"
        )
        self._insert_run_sql = self.runs.insert_sql(
            ("run_id", "schedule_id", "workflow_id", "execution_id", "scheduled_for", "fired_at", "finished_at",
             "status", "attempt", "error", "note", "trigger", "claimed_by")
        )

    # ---- the due query ----------------------------------------------------------------------

    def _select_due(self, dal: DAL, now: datetime, limit: int) -> list[DueRow]:
        """Due rows, inside the claim's transaction. On PostgreSQL they are locked and rows other
        replicas hold are skipped, so concurrent passes share a burst instead of queueing on it;
        SQLite's writer already holds the database's write lock here."""
        lock = "" if self.database.is_sqlite else " FOR UPDATE SKIP LOCKED"
        rows = cursor(dal)
        rows.execute(self._due_sql + lock, (self.dialect.true, self.dialect.ts(now), limit))
        context_at = _DUE_COLUMNS.index("context_data")
        return [DueRow.from_row(r, _context(r[context_at])) for r in rows.fetchall()]

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

    # ---- the claim ------------------------------------------------------------------------

    def _unfinished(self, dal: DAL, schedule_ids: Sequence[str]) -> dict[str, list[Unfinished]]:
        out: dict[str, list[Unfinished]] = {}
        for start in range(0, len(schedule_ids), 500):
            chunk = schedule_ids[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows = dal.executesql(self.dialect.params(
                "SELECT schedule_id, run_id, status FROM workflow_schedule_runs "
                f"WHERE status IN ('queued', 'running') AND schedule_id IN ({marks})"), placeholders=list(chunk))
            for schedule_id, run_id, status in rows:
                out.setdefault(schedule_id, []).append(Unfinished(run_id, status == "running"))
        return out

    def claim_batch(self, dal: DAL, now: datetime, limit: int, replica_id: str) -> ClaimResult:
        """Select up to `limit` due rows, plan them, move them and record their runs: one
        transaction on the writer thread."""
        rows = self._select_due(dal, now, limit)
        result = ClaimResult(selected=len(rows))
        if not rows:
            return result
        overlapping = [r.schedule_id for r in rows if r.overlap_policy is not OverlapPolicy.ALLOW]
        unfinished = self._unfinished(dal, overlapping) if overlapping else {}
        planned: list[tuple[DueRow, Plan]] = []
        for row in rows:
            try:
                p = plan(row.rule, row.state, now, row.overlap_policy, tuple(unfinished.get(row.schedule_id, ())))
            except Exception as exc:  # a row the rules cannot handle: set aside, never block the others
                result.broken.append((row.pk, row.schedule_id, f"{type(exc).__name__}: {exc}"))
                continue
            if p is not None:
                planned.append((row, p))
        moved = self._move(dal, planned, now)
        new_runs: list[tuple[Any, ...]] = []
        cancels: list[tuple[str, str]] = []  # (run_id, reason)
        for row, p in planned:
            if row.pk not in moved:
                result.lost += 1  # another process claimed it first
                continue
            self._record(row, p, now, replica_id, result, new_runs, cancels)
        if new_runs:
            self._insert_runs(dal, new_runs)
        for run_id, reason in cancels:
            if self._end_unfinished(dal, run_id, RunStatus.CANCELLED.value, reason, now):
                result.cancelled.append(run_id)
        return result

    async def claim_due(self, now: datetime, limit: int, replica_id: str) -> ClaimResult:
        return await self.database.write(self.claim_batch, now, limit, replica_id)

    def _move(self, dal: DAL, planned: Sequence[tuple[DueRow, Plan]], now: datetime) -> set[int]:
        """Apply each plan's new state to its row, only where next_execution_at is still what was
        read (the claim); returns the ids that moved."""
        if not planned:
            return set()
        ts, true, false = self.dialect.ts, self.dialect.true, self.dialect.false
        values = []
        for row, p in planned:
            d = p.decision
            # A run that ends at the claim (skipped, or only a miss) is the schedule's last run.
            ended = "skipped" if p.fire_status == "skipped" else ("missed" if d.missed_for and not p.fire_status
                                                                  else None)
            values.append((row.pk, ts(d.next_execution_at), d.status.value, true if d.is_active else false,
                           d.execution_count, (1 if d.missed_for else 0) + (1 if p.fire_status else 0),
                           1 if d.missed_for else 0, self.dialect.exact(row.state.next_execution_at), ended,
                           ts(now) if ended else None))
        if self.database.is_sqlite:
            update, moved = cursor(dal), set()
            for pk, nxt, status, active, count, runs, missed, old, ended, ended_at in values:
                update.execute(self._claim_sql, (nxt, status, active, count, runs, missed, ts(now), ended, ended_at,
                                                 pk, old, true))
                if update.rowcount == 1:
                    moved.add(pk)
            return moved
        source, columns = unnest(("bigint", "timestamp", "text", "boolean", "int", "int", "int", "timestamp", "text",
                                  "timestamp"), values)
        moved = cursor(dal)
        moved.execute(
            "UPDATE workflow_schedules AS s SET next_execution_at = v.nxt, status = v.status, is_active = v.active, "
            "execution_count = v.count, total_runs = s.total_runs + v.runs, missed_runs = s.missed_runs + v.missed, "
            "updated_at = %s, last_run_status = COALESCE(v.ended, s.last_run_status), "
            f"last_run_at = COALESCE(v.ended_at, s.last_run_at) FROM {source} "
            "AS v(id, nxt, status, active, count, runs, missed, old, ended, ended_at) "
            "WHERE s.id = v.id AND s.next_execution_at = v.old AND s.is_active RETURNING s.id",
            [ts(now), *columns])
        return {int(r[0]) for r in moved.fetchall()}

    def _insert_runs(self, dal: DAL, new_runs: list[tuple[Any, ...]]) -> None:
        if self.database.is_sqlite:
            cursor(dal).executemany(self._insert_run_sql, new_runs)
            return
        source, columns = unnest(("text", "text", "text", "text", "timestamp", "timestamp", "timestamp", "text", "int",
                                  "text", "text", "text", "text"), new_runs)
        cursor(dal).execute(self._insert_run_sql.split(" VALUES ")[0] + f" SELECT * FROM {source}", columns)

    def _record(self, row: DueRow, p: Plan, now: datetime, replica_id: str, result: ClaimResult,
                new_runs: list[tuple[Any, ...]], cancels: list[tuple[str, str]]) -> None:
        """What a moved row brings: cache update, run rows, the fire."""
        ts, d = self.dialect.ts, p.decision
        result.cache.append((row.pk, row.schedule_id, d.next_execution_at if d.is_active else None))
        result.completed += d.status is ScheduleStatus.COMPLETED
        result.expired += d.status is ScheduleStatus.EXPIRED
        if d.missed_for is not None:
            late = int((now - d.missed_for).total_seconds())
            new_runs.append((str(uuid.uuid4()), row.schedule_id, row.workflow_id, None, ts(d.missed_for), None,
                             ts(now), RunStatus.MISSED.value, 0,
                             f"missed: {late} s late, grace period {row.state.grace_period_seconds} s",
                             None, "schedule", replica_id))
            result.missed += 1
        if p.fire_status is None:
            return
        assert d.fire_for is not None
        run_id = str(uuid.uuid4())
        skipped = p.fire_status == "skipped"
        note = f"coalesced {d.coalesced} occurrences" if d.coalesced > 1 else None
        new_runs.append((run_id, row.schedule_id, row.workflow_id, None, ts(d.fire_for), ts(now),
                         ts(now) if skipped else None, p.fire_status, 0, p.reason if skipped else None, note,
                         "schedule", replica_id))
        if skipped:
            result.skipped += 1
            return
        cancels.extend((run, p.reason or "cancelled") for run in p.cancel)
        result.fires.append(Fire(run_id, row.pk, row.schedule_id, row.workflow_id, row.community_id,
                                 d.fire_for, now, row.context_data, row.callback_url, row.jitter_seconds,
                                 wait_for=p.wait_for))
        result.lags_ms.append((now - d.fire_for).total_seconds() * 1000)

    def _end_unfinished(self, dal: DAL, run_id: str, status: str, error: str, now: datetime) -> bool:
        """End a run that has not ended yet (and its running execution); False if it already had."""
        ended = cursor(dal)
        ended.execute(self.dialect.params(
            "UPDATE workflow_schedule_runs SET status = ?, finished_at = ?, error = ? "
            "WHERE run_id = ? AND status IN ('queued', 'running')"), (status, self.dialect.ts(now), error, run_id))
        if ended.rowcount != 1:
            return False
        dal.executesql(self.dialect.params(
            "UPDATE workflow_executions SET status = ?, finished_at = ?, error = ? "
            "WHERE run_id = ? AND status IN ('queued', 'running')"),
            placeholders=[status, self.dialect.ts(now), error, run_id])
        return True

    # ---- manual runs ------------------------------------------------------------------------

    def insert_manual(self, dal: DAL, fire: Fire, replica_id: str) -> None:
        ts = self.dialect.ts
        cursor(dal).execute(self._insert_run_sql, (
            fire.run_id, fire.schedule_id, fire.workflow_id, fire.execution_id, ts(fire.scheduled_for),
            ts(fire.fired_at), None, "queued", 0, None, None, fire.trigger, replica_id))
        dal.executesql(self.dialect.params("UPDATE workflow_schedules SET total_runs = total_runs + 1 WHERE id = ?"),
                       placeholders=[fire.schedule_pk])

    # ---- run state -------------------------------------------------------------------------
    # Starts and ends of runs are written in batches by the execution journal (db/journal.py).

    async def status_of(self, run_ids: Iterable[str]) -> dict[str, str]:
        ids = list(run_ids)
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        sql = self.dialect.params(f"SELECT run_id, status FROM workflow_schedule_runs WHERE run_id IN ({marks})")
        rows = await self.database.read(lambda dal: dal.executesql(sql, placeholders=ids))
        return {run_id: status for run_id, status in rows}

    # ---- replicas and recovery -------------------------------------------------------------

    async def heartbeat(self, replica_id: str, host: str, pid: int, started_at: datetime, now: datetime,
                        last_pass_at: datetime | None) -> None:
        ts = self.dialect.ts

        def run(dal: DAL) -> None:
            beat = cursor(dal)
            beat.execute(self.dialect.params(
                "UPDATE scheduler_replicas SET heartbeat_at = ?, last_pass_at = ? WHERE replica_id = ?"),
                (ts(now), ts(last_pass_at), replica_id))
            if beat.rowcount == 0:
                beat.execute(self.dialect.params(
                    "INSERT INTO scheduler_replicas (replica_id, host, pid, started_at, heartbeat_at, last_pass_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)"), (replica_id, host, pid, ts(started_at), ts(now), ts(last_pass_at)))

        await self.database.write(run)

    async def leave(self, replica_id: str) -> None:
        await self.database.write(lambda dal: dal.executesql(
            self.dialect.params("DELETE FROM scheduler_replicas WHERE replica_id = ?"), placeholders=[replica_id]))

    async def replicas(self, now: datetime, timeout_seconds: float) -> list[dict[str, Any]]:
        """Replicas whose heartbeat is fresh."""
        since = now - timedelta(seconds=timeout_seconds)
        sql = self.dialect.params(
            "SELECT replica_id, host, pid, started_at, heartbeat_at, last_pass_at FROM scheduler_replicas "
            "WHERE heartbeat_at >= ? ORDER BY started_at")
        rows = await self.database.read(lambda dal: dal.executesql(sql, placeholders=[self.dialect.ts(since)]))
        return [{"replica_id": r[0], "host": r[1], "pid": r[2], "started_at": as_utc(r[3]),
                 "heartbeat_at": as_utc(r[4]), "last_pass_at": as_utc(r[5]) if r[5] else None} for r in rows]

    async def orphans(self, live_replicas: Sequence[str], limit: int = 1000) -> list[Orphan]:
        """Unfinished runs whose owner is not a live replica."""
        marks = ", ".join("?" for _ in live_replicas) or "''"
        sql = self.dialect.params(
            "SELECT r.run_id, s.id, r.schedule_id, r.workflow_id, s.community_id, r.scheduled_for, r.status, "
            "r.\"trigger\", r.claimed_by, r.execution_id, r.attempt, s.grace_period_seconds, s.context_data, "
            "s.callback_url FROM workflow_schedule_runs r "
            "LEFT JOIN workflow_schedules s ON s.schedule_id = r.schedule_id "
            f"WHERE r.status IN ('queued', 'running') AND (r.claimed_by IS NULL OR r.claimed_by NOT IN ({marks})) "
            f"ORDER BY r.scheduled_for LIMIT {int(limit)}")
        codec = self.schedules

        def run(dal: DAL) -> list[Orphan]:
            out = []
            for row in dal.executesql(sql, placeholders=list(live_replicas)):
                context = codec.decode((row[12],), ("context_data",))["context_data"]
                out.append(Orphan(row[0], row[1], row[2], row[3], row[4], as_utc(row[5]), row[6], row[7], row[8],
                                  row[9], row[10] or 0, row[11] or 0, dict(context or {}), row[13]))
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

    async def fail_orphan(self, orphan: Orphan, reason: str, now: datetime) -> bool:
        """Record an orphan as failed with the reason (and count it); False if it had ended."""

        def run(dal: DAL) -> bool:
            if not self._end_unfinished(dal, orphan.run_id, RunStatus.FAILED.value, reason, now):
                return False
            if orphan.schedule_pk is not None:
                dal.executesql(self.dialect.params(
                    "UPDATE workflow_schedules SET failed_runs = failed_runs + 1, last_run_status = 'failed', "
                    "last_run_at = ? WHERE id = ?"), placeholders=[self.dialect.ts(now), orphan.schedule_pk])
            return True

        return await self.database.write(run)

    # ---- retention --------------------------------------------------------------------------

    async def delete_older_than(self, cutoff: datetime, batch: int = 1000) -> int:
        """Delete one batch of finished runs and executions older than `cutoff`; returns how many."""
        mark, when = self.dialect.params, self.dialect.ts(cutoff)

        def run(dal: DAL) -> int:
            gone = cursor(dal)
            gone.execute(mark(
                "DELETE FROM workflow_schedule_runs WHERE id IN (SELECT id FROM workflow_schedule_runs "
                f"WHERE scheduled_for < ? AND status NOT IN ('queued', 'running') LIMIT {int(batch)})"), (when,))
            deleted = gone.rowcount
            gone.execute(mark(
                "DELETE FROM workflow_executions WHERE id IN (SELECT id FROM workflow_executions "
                f"WHERE created_at < ? AND status NOT IN ('queued', 'running') LIMIT {int(batch)})"), (when,))
            return int(deleted + gone.rowcount)

        return await self.database.write(run)

