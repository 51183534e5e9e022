"""Data access for schedules, their runs and the audit log.

Every method is async and runs its SQL through :class:`Database` on a worker thread; each
mutation (with its audit row) is one transaction. `scope` restricts rows to one community
(None: every community), and rows outside the scope behave as if they did not exist. So do
soft-deleted rows, except where a method takes `deleted=True`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydal import DAL

from ..errors import Conflict, Invalid, LimitExceeded, NotFound
from ..scheduling import as_utc
from ..scheduling.records import Page, Run
from ..scheduling.schedule import Schedule
from .audit import AuditEntry, AuditLog, changed_fields
from .database import Database, cursor
from .ledger import forget_runs
from .sql import TableCodec, count, like_pattern

Scope = str | None

_LIVE = "deleted_at IS NULL"


MAX_FILTER_CHARS = 200


@dataclass(frozen=True, slots=True)
class ScheduleFilter:
    scope: Scope = None
    workflow_id: str | None = None
    community_id: str | None = None
    status: str | None = None
    schedule_type: str | None = None
    tag: str | None = None
    q: str | None = None
    include_deleted: bool = False

    def __post_init__(self) -> None:
        """Text filters are bounded and printable: a NUL would reach the driver (PostgreSQL refuses
        it with an error, not an empty answer)."""
        wrong = {}
        for name in ("workflow_id", "community_id", "status", "schedule_type", "tag", "q"):
            value = getattr(self, name)
            if value is not None and (len(value) > MAX_FILTER_CHARS or any(ord(c) < 32 for c in value)):
                wrong[name] = f"at most {MAX_FILTER_CHARS} printable characters"
        if wrong:
            raise Invalid(wrong)


def is_integrity_error(exc: BaseException) -> bool:
    """A unique or check constraint refused the write (sqlite3 and psycopg2 name it alike)."""
    return type(exc).__name__ in ("IntegrityError", "UniqueViolation")


class ScheduleStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.dialect = database.dialect
        self.schedules = TableCodec(database.dal, "workflow_schedules", database.dialect)
        self.runs = TableCodec(database.dal, "workflow_schedule_runs", database.dialect)
        self.write_audit = AuditLog(database).write

    # ---- reads -------------------------------------------------------------------------

    def _scope_sql(self, scope: Scope, *, deleted: bool = False) -> tuple[str, list[Any]]:
        """Rows in `scope`: live ones only, or soft-deleted ones too with `deleted`."""
        rows = "1 = 1" if deleted else _LIVE
        return (rows, []) if scope is None else (f"{rows} AND community_id = ?", [scope])

    def fetch(self, dal: DAL, schedule_id: str, scope: Scope, *, for_update: bool = False,
              deleted: bool = False) -> Schedule:
        where, params = self._scope_sql(scope, deleted=deleted)
        lock = "FOR UPDATE" if for_update and not self.database.is_sqlite else ""
        rows = self.schedules.select(dal, f"schedule_id = ? AND {where}", [schedule_id, *params], lock)
        if not rows:
            raise NotFound("schedule", schedule_id)
        return Schedule.from_row(rows[0])

    def fetch_pk(self, dal: DAL, pk: int) -> Schedule:
        return Schedule.from_row(self.schedules.select(dal, "id = ?", [pk])[0])

    async def get(self, schedule_id: str, scope: Scope = None) -> Schedule:
        return await self.database.read(self.fetch, schedule_id, scope)

    async def names(self, schedule_ids: list[str], scope: Scope) -> dict[str, str]:
        """schedule_id -> name of those of `schedule_ids` that are live and in `scope`."""
        if not schedule_ids:
            return {}
        where, params = self._scope_sql(scope)
        marks = ", ".join("?" for _ in schedule_ids)
        sql = self.dialect.params(f"SELECT schedule_id, name FROM workflow_schedules "
                                  f"WHERE schedule_id IN ({marks}) AND {where}")
        rows = await self.database.read(lambda dal: dal.executesql(sql, placeholders=[*schedule_ids, *params]))
        return {str(schedule_id): str(name) for schedule_id, name in rows}

    async def next_due(self, scope: Scope) -> tuple[str, str, datetime] | None:
        """(schedule_id, name, due) of the earliest active schedule in scope."""
        where, params = ("is_active = ?", [self.dialect.true]) if scope is None else \
            ("is_active = ? AND community_id = ?", [self.dialect.true, scope])
        sql = self.dialect.params(f"SELECT schedule_id, name, next_execution_at FROM workflow_schedules WHERE {where} "
                                  "AND next_execution_at IS NOT NULL ORDER BY next_execution_at LIMIT 1")
        rows = await self.database.read(lambda dal: dal.executesql(sql, placeholders=params))
        return (rows[0][0], rows[0][1], as_utc(rows[0][2])) if rows else None

    async def soonest(self, scope: Scope, limit: int) -> list[Schedule]:
        """The `limit` active schedules in scope due soonest, soonest first."""
        where, params = ("is_active = ?", [self.dialect.true]) if scope is None else \
            ("is_active = ? AND community_id = ?", [self.dialect.true, scope])

        def read(dal: DAL) -> list[Schedule]:
            rows = self.schedules.select(dal, f"{where} AND next_execution_at IS NOT NULL", params,
                                         f"ORDER BY next_execution_at LIMIT {int(limit)}")
            return [Schedule.from_row(r) for r in rows]

        return await self.database.read(read)

    async def pauses_ending(self, limit: int) -> list[tuple[str, datetime]]:
        """(schedule_id, paused_until) of paused schedules that resume by themselves, soonest first."""
        sql = ("SELECT schedule_id, paused_until FROM workflow_schedules WHERE paused_until IS NOT NULL "
               f"AND deleted_at IS NULL ORDER BY paused_until LIMIT {int(limit)}")
        rows = await self.database.read(lambda dal: dal.executesql(sql))
        return [(r[0], as_utc(r[1] if isinstance(r[1], datetime) else datetime.fromisoformat(r[1]))) for r in rows]

    async def count_active(self, scope: Scope) -> int:
        where, params = ("is_active = ?", [self.dialect.true]) if scope is None else \
            ("is_active = ? AND community_id = ?", [self.dialect.true, scope])
        return await self.database.read(
            lambda dal: count(dal, self.dialect, f"SELECT COUNT(*) FROM workflow_schedules WHERE {where}", params))

    async def creation_numbers(self, community_id: str) -> list[tuple[str, int]]:
        """(schedule_id, n) of the community's live schedules, oldest first, where n counts every
        schedule made in the community, removed ones included: a number stays with its schedule
        and is never given to another (only a hard delete, which removes the row, renumbers)."""
        sql = self.dialect.params(
            "SELECT schedule_id, n FROM (SELECT schedule_id, deleted_at, ROW_NUMBER() OVER (ORDER BY id) AS n "
            "FROM workflow_schedules WHERE community_id = ?) numbered WHERE deleted_at IS NULL ORDER BY n")
        rows = await self.database.read(lambda dal: dal.executesql(sql, placeholders=[community_id]))
        return [(str(r[0]), int(r[1])) for r in rows]

    async def recent_failures(self, scope: Scope, limit: int = 10) -> list[dict[str, Any]]:
        """The newest failed or timed-out runs, with their schedule's name."""
        where, params = ("", []) if scope is None else ("AND s.community_id = ?", [scope])
        sql = self.dialect.params(
            "SELECT r.run_id, r.schedule_id, s.name, r.status, r.error, r.scheduled_for, r.finished_at "
            "FROM workflow_schedule_runs r JOIN workflow_schedules s ON s.schedule_id = r.schedule_id "
            f"WHERE r.status IN ('failed', 'timed_out') {where} ORDER BY r.id DESC LIMIT {int(limit)}")
        rows = await self.database.read(lambda dal: dal.executesql(sql, placeholders=params))
        return [{"run_id": r[0], "schedule_id": r[1], "name": r[2], "status": r[3], "error": r[4],
                 "scheduled_for": as_utc(r[5]), "finished_at": as_utc(r[6]) if r[6] else None} for r in rows]

    def _filter_sql(self, f: ScheduleFilter) -> tuple[str, list[Any]]:
        where, params = self._scope_sql(f.scope, deleted=f.include_deleted)
        clauses = [where]
        for column, value in (("workflow_id", f.workflow_id), ("community_id", f.community_id),
                              ("status", f.status), ("schedule_type", f.schedule_type)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if f.q:
            clauses.append("LOWER(name) LIKE ? ESCAPE '!'")
            params.append(like_pattern(f.q.lower()))
        if f.tag:
            if self.database.is_sqlite:
                clauses.append("EXISTS (SELECT 1 FROM json_each(workflow_schedules.tags) WHERE json_each.value = ?)")
                params.append(f.tag)
            else:
                clauses.append("tags @> ?::jsonb")
                params.append(json.dumps([f.tag]))
        return " AND ".join(clauses), params

    async def list_page(self, f: ScheduleFilter, limit: int, offset: int) -> Page[Schedule]:
        where, params = self._filter_sql(f)

        def run(dal: DAL) -> Page[Schedule]:
            total = count(dal, self.dialect, f"SELECT COUNT(*) FROM workflow_schedules WHERE {where}", params)
            rows = self.schedules.select(dal, where, params, f"ORDER BY id LIMIT {int(limit)} OFFSET {int(offset)}")
            return Page([Schedule.from_row(r) for r in rows], total, limit, offset)

        return await self.database.read(run)

    async def history(self, schedule_id: str, status: str | None, limit: int, offset: int) -> Page[Run]:
        where, params = "schedule_id = ?", [schedule_id]
        if status:
            where, params = where + " AND status = ?", [*params, status]

        def run(dal: DAL) -> Page[Run]:
            total = count(dal, self.dialect, f"SELECT COUNT(*) FROM workflow_schedule_runs WHERE {where}", params)
            rows = self.runs.select(
                dal, where, params,
                f"ORDER BY COALESCE(fired_at, scheduled_for) DESC, id DESC LIMIT {int(limit)} OFFSET {int(offset)}",
            )
            return Page([Run.from_row(r) for r in rows], total, limit, offset)

        return await self.database.read(run)

    async def run(self, run_id: str, scope: Scope) -> Run:
        """One run by its id; a run of a schedule outside `scope` (its community) is not found.
        Runs of soft-deleted schedules are found (a recent failure may name one)."""
        where, params = "run_id = ?", [run_id]
        if scope is not None:
            where += " AND schedule_id IN (SELECT schedule_id FROM workflow_schedules WHERE community_id = ?)"
            params.append(scope)

        def read(dal: DAL) -> Run:
            rows = self.runs.select(dal, where, params)
            if not rows:
                raise NotFound("run", run_id)
            return Run.from_row(rows[0])

        return await self.database.read(read)

    async def recent_runs(self, schedule_ids: list[str], per_schedule: int) -> dict[str, list[Run]]:
        """The newest `per_schedule` ended runs (not queued or running) of each schedule, newest first."""
        if not schedule_ids:
            return {}
        marks = ", ".join("?" for _ in schedule_ids)
        where = (f"id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY schedule_id ORDER BY id DESC) "
                 f"AS n FROM workflow_schedule_runs WHERE schedule_id IN ({marks}) "
                 f"AND status NOT IN ('queued', 'running')) ranked WHERE n <= {int(per_schedule)})")

        def read(dal: DAL) -> dict[str, list[Run]]:
            found: dict[str, list[Run]] = {}
            for row in self.runs.select(dal, where, list(schedule_ids), "ORDER BY id DESC"):
                run = Run.from_row(row)
                found.setdefault(run.schedule_id, []).append(run)
            return found

        return await self.database.read(read)

    async def active_due_seconds(self) -> list[tuple[int, int]]:
        """(id, next due epoch second) of every active schedule, for the cache."""
        epoch = (
            "CAST(strftime('%s', next_execution_at) AS INTEGER)"
            if self.database.is_sqlite
            else "CAST(EXTRACT(EPOCH FROM next_execution_at) AS BIGINT)"
        )
        sql = self.dialect.params(
            f"SELECT id, {epoch} FROM workflow_schedules WHERE is_active = ? AND next_execution_at IS NOT NULL"
        )

        def run(dal: DAL) -> list[tuple[int, int]]:
            rows = cursor(dal)
            rows.execute(sql, (self.dialect.true,))
            out: list[tuple[int, int]] = []
            while chunk := rows.fetchmany(10_000):
                out.extend(chunk)
            return out

        return await self.database.read(run)

    def workflow_scope(self, dal: DAL, workflow_id: str) -> tuple[bool, str | None] | None:
        """(is_active, community_id) of a workflow, or None when it does not exist."""
        sql = self.dialect.params("SELECT is_active, community_id FROM workflows WHERE workflow_id = ?")
        rows = dal.executesql(sql, placeholders=[workflow_id])
        if not rows:
            return None
        return rows[0][0] in (True, "T"), rows[0][1]

    # ---- chains ------------------------------------------------------------------------

    def lock_chains(self, dal: DAL) -> None:
        """Inside a write that changes which schedule runs after which (or deletes one): on
        PostgreSQL, one such write at a time, so two concurrent changes cannot close a cycle or
        leave a chain behind a deleted schedule. SQLite has one writer anyway."""
        if not self.database.is_sqlite:
            dal.executesql("SELECT pg_advisory_xact_lock(7312002)")

    def chain_link(self, dal: DAL, schedule_id: str) -> tuple[str | None, str | None, str] | None:
        """(community_id, upstream_id, name) of a live schedule, or None when there is none."""
        rows = dal.executesql(self.dialect.params(
            f"SELECT community_id, upstream_id, name FROM workflow_schedules WHERE schedule_id = ? AND {_LIVE}"),
            placeholders=[schedule_id])
        if not rows:
            return None
        community_id, upstream_id, name = rows[0]
        return community_id, upstream_id.rstrip() if upstream_id else None, name

    def downstream(self, dal: DAL, schedule_id: str, *, live_only: bool = False) -> list[dict[str, Any]]:
        """The schedules that run after `schedule_id` and are not deleted (with `live_only`, only
        the active and paused ones): schedule_id, name, status, by name."""
        live = " AND status IN ('active', 'paused')" if live_only else ""
        rows = dal.executesql(self.dialect.params(
            f"SELECT schedule_id, name, status FROM workflow_schedules WHERE upstream_id = ? AND {_LIVE}{live} "
            "ORDER BY name"), placeholders=[schedule_id])
        return [{"schedule_id": str(r[0]).rstrip(), "name": r[1], "status": r[2]} for r in rows]

    async def chain_of(self, schedule: Schedule) -> dict[str, Any]:
        """A schedule's place in chains: its upstream (schedule_id, name; null when it has none or
        it is gone) and the schedules that run after it."""
        def read(dal: DAL) -> dict[str, Any]:
            upstream = None
            if schedule.upstream_id:
                link = self.chain_link(dal, schedule.upstream_id)
                upstream = {"schedule_id": schedule.upstream_id, "name": link[2] if link else None}
            return {"upstream": upstream, "downstream": self.downstream(dal, schedule.schedule_id)}

        return await self.database.read(read)

    # ---- writes ------------------------------------------------------------------------

    @staticmethod
    def _name_taken(community_id: str | None, name: str) -> Conflict:
        where = f"community {community_id!r}" if community_id is not None else "the shared space"
        return Conflict(
            f"a schedule named {name!r} already exists in {where}", {"name": "already in use"}
        )

    def check_quota(self, dal: DAL, community_id: str | None, quota: int | None) -> None:
        """LimitExceeded when the community already has `quota` active or paused schedules."""
        if quota is None or community_id is None:
            return
        live = count(
            dal, self.dialect,
            f"SELECT COUNT(*) FROM workflow_schedules WHERE community_id = ? AND {_LIVE} "
            "AND status IN ('active', 'paused')",
            [community_id],
        )
        if live >= quota:
            raise LimitExceeded(
                f"community {community_id!r} already has {live} schedules (the limit is {quota}); "
                "remove or finish one first",
                {"limit": quota, "current": live},
            )

    async def create(
        self,
        values: Mapping[str, Any],
        audit: AuditEntry,
        quota: int | None,
        check: Callable[[DAL], None] | None = None,
    ) -> Schedule:
        """Insert a schedule (all columns but id given) with its audit row.

        `check(dal)` runs first in the same transaction (the caller's workflow check). A name
        already in use is refused by the unique index, so no extra read is needed.
        """

        def run(dal: DAL) -> Schedule:
            if check is not None:
                check(dal)
            self.check_quota(dal, values.get("community_id"), quota)
            try:
                pk = self.schedules.insert(dal, values)
            except Exception as exc:
                if is_integrity_error(exc):
                    raise self._name_taken(values.get("community_id"), values["name"]) from None
                raise
            self.write_audit(dal, audit, "schedule", values["schedule_id"], values.get("community_id"),
                             changed_fields(None, values))
            return Schedule.from_row({**values, "id": pk, "deleted_at": None})

        return await self.database.write(run)

    async def mutate(
        self,
        schedule_id: str,
        scope: Scope,
        change: Callable[[DAL, Schedule], Mapping[str, Any] | None],
        audit: AuditEntry,
        *,
        deleted: bool = False,
    ) -> tuple[Schedule, Schedule]:
        """Apply ``change(dal, current)`` (column -> new value) atomically; returns (before, after).

        `change` runs inside the transaction against the current row, so concurrent updates
        never overwrite each other; it may raise to abort. An empty change writes nothing.
        With `deleted`, a soft-deleted row is found too (to restore it).
        """

        def run(dal: DAL) -> tuple[Schedule, Schedule]:
            before = self.fetch(dal, schedule_id, scope, for_update=True, deleted=deleted)
            values = change(dal, before)
            if not values:
                return before, before
            try:
                self.schedules.update(dal, values, "id = ?", [before.id])
            except Exception as exc:
                if is_integrity_error(exc):
                    raise self._name_taken(before.community_id, str(values.get("name", before.name))) from None
                raise
            after = self.fetch_pk(dal, before.id)
            changes = changed_fields(before, values)
            if changes:
                self.write_audit(dal, audit, "schedule", before.schedule_id, before.community_id, changes)
            return before, after

        return await self.database.write(run)

    async def delete(self, schedule_id: str, scope: Scope, audit: AuditEntry, *, hard: bool) -> Schedule:
        """Soft delete (deleted_at set, inactive) or, with `hard`, remove the row and its runs (a
        soft-deleted row too: it is still in its community's scope). Refused (409, listing them)
        while active or paused schedules run after it."""

        def run(dal: DAL) -> Schedule:
            # The row, then the chains' lock: the order an update or a restore takes them in
            # (its row, then check_upstream's lock); the other order deadlocks against them.
            current = self.fetch(dal, schedule_id, scope, for_update=True, deleted=hard)
            self.lock_chains(dal)
            dependents = self.downstream(dal, current.schedule_id, live_only=True)
            if dependents and current.deleted_at is None:
                named = ", ".join(repr(d["name"]) for d in dependents[:5]) + (", ..." if len(dependents) > 5 else "")
                raise Conflict(f"{len(dependents)} schedule(s) run after this one ({named}); delete them or point "
                               "them elsewhere first", {"count": len(dependents), "schedules": dependents})
            if hard:
                forget_runs(dal, self.dialect, current.schedule_id)
                dal.executesql(self.dialect.params("DELETE FROM workflow_schedules WHERE id = ?"),
                               placeholders=[current.id])
            else:
                self.schedules.update(dal, {"deleted_at": audit.at, "updated_at": audit.at, "is_active": False,
                                            "next_execution_at": None}, "id = ?", [current.id])
            self.write_audit(dal, audit, "schedule", current.schedule_id, current.community_id,
                             {"hard": hard, "name": current.name})
            return current

        return await self.database.write(run)
