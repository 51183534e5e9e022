"""Data access for acting on many schedules at once: bulk actions, export and import.

The reads return many rows in one call (export, the targets of a bulk action). The methods
that take a `dal` run inside a unit of work the caller opened with ``Database.write``, so an
import's workflows, schedules and audit rows commit together or not at all. As in
:mod:`schedule_store`, `scope` limits rows to one community and soft-deleted schedules never
match.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pydal import DAL

from ..scheduling.records import Workflow
from ..scheduling.schedule import Schedule
from .audit import AuditEntry, AuditLog, changed_fields
from .database import Database
from .schedule_store import ScheduleFilter, ScheduleStore, Scope
from .sql import TableCodec, count, quote

_CHUNK = 500  # values per IN (...) list
_ROWS = 200  # rows per multi-row INSERT (about 45 columns each: within both engines' parameter limits)


def _chunks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


class TransferStore:
    def __init__(self, database: Database, schedules: ScheduleStore) -> None:
        self.database = database
        self.dialect = database.dialect
        self.schedule_store = schedules
        self.schedules = TableCodec(database.dal, "workflow_schedules", database.dialect)
        self.workflows = TableCodec(database.dal, "workflows", database.dialect)
        self.write_audit = AuditLog(database).write

    # ---- reads -------------------------------------------------------------------------

    async def matching(self, f: ScheduleFilter, limit: int) -> tuple[int, list[Schedule]]:
        """(how many schedules match `f`, the first `limit` of them in id order), read together."""
        where, params = self.schedule_store._filter_sql(f)  # the list endpoint's filters, exactly

        def run(dal: DAL) -> tuple[int, list[Schedule]]:
            total = count(dal, self.dialect, f"SELECT COUNT(*) FROM workflow_schedules WHERE {where}", params)
            rows = self.schedules.select(dal, where, params, f"ORDER BY id LIMIT {int(limit)}")
            return total, [Schedule.from_row(r) for r in rows]

        return await self.database.read(run)

    async def matching_states(self, f: ScheduleFilter, limit: int) -> tuple[int, list[tuple[str, str]]]:
        """Like :meth:`matching`, but only (schedule_id, status) of each: what a bulk action needs."""
        where, params = self.schedule_store._filter_sql(f)

        def run(dal: DAL) -> tuple[int, list[tuple[str, str]]]:
            total = count(dal, self.dialect, f"SELECT COUNT(*) FROM workflow_schedules WHERE {where}", params)
            sql = self.dialect.params(
                f"SELECT schedule_id, status FROM workflow_schedules WHERE {where} ORDER BY id LIMIT {int(limit)}")
            return total, [(r[0], r[1]) for r in dal.executesql(sql, placeholders=params)]

        return await self.database.read(run)

    async def states(self, schedule_ids: Sequence[str], scope: Scope) -> dict[str, str]:
        """schedule_id -> status of those of `schedule_ids` that exist, are not deleted and are in scope."""
        extra, extra_params = ("", []) if scope is None else (" AND community_id = ?", [scope])

        def run(dal: DAL) -> dict[str, str]:
            found: dict[str, str] = {}
            for chunk in _chunks(schedule_ids):
                sql = self.dialect.params(
                    f"SELECT schedule_id, status FROM workflow_schedules WHERE schedule_id IN ({_marks(chunk)}) "
                    f"AND deleted_at IS NULL{extra}")
                found.update((r[0], r[1]) for r in dal.executesql(sql, placeholders=[*chunk, *extra_params]))
            return found

        return await self.database.read(run)

    async def workflows_by_id(self, workflow_ids: Sequence[str], scope: Scope) -> list[Workflow]:
        """The workflows of `workflow_ids` visible in `scope` (its own and the shared ones), in id order."""
        visible = " AND (community_id = ? OR community_id IS NULL)"
        extra, extra_params = ("", []) if scope is None else (visible, [scope])

        def run(dal: DAL) -> list[Workflow]:
            rows: list[dict[str, Any]] = []
            for chunk in _chunks(workflow_ids):
                rows += self.workflows.select(dal, f"workflow_id IN ({_marks(chunk)}){extra}", [*chunk, *extra_params])
            return sorted((Workflow.from_row(r) for r in rows), key=lambda w: w.id)

        return await self.database.read(run)

    # ---- inside a unit of work ---------------------------------------------------------

    def workflow_named(self, dal: DAL, name: str, community_id: str | None) -> Workflow | None:
        """The workflow called `name` in `community_id` (None: among the shared ones)."""
        rows = self.workflows.select(dal, "COALESCE(community_id, '') = ? AND name = ?", [community_id or "", name])
        return Workflow.from_row(rows[0]) if rows else None

    def insert_workflow(self, dal: DAL, values: Mapping[str, Any], audit: AuditEntry) -> None:
        self.workflows.insert(dal, values)
        self.write_audit(dal, audit, "workflow", values["workflow_id"], values.get("community_id"),
                         changed_fields(None, values))

    def update_workflow(self, dal: DAL, before: Workflow, values: Mapping[str, Any], audit: AuditEntry) -> None:
        self.workflows.update(dal, values, "id = ?", [before.id])
        self.write_audit(dal, audit, "workflow", before.workflow_id, before.community_id,
                         changed_fields(before, values))

    def schedules_named(self, dal: DAL, community_id: str | None, names: Sequence[str]) -> dict[str, Schedule]:
        """name -> the live schedule of that name in `community_id` (None: the shared space)."""
        found: dict[str, Schedule] = {}
        for chunk in _chunks(names):
            rows = self.schedules.select(
                dal, f"deleted_at IS NULL AND COALESCE(community_id, '') = ? AND name IN ({_marks(chunk)})",
                [community_id or "", *chunk])
            found.update((r["name"], Schedule.from_row(r)) for r in rows)
        return found

    def insert_schedules(self, dal: DAL, rows: Sequence[Mapping[str, Any]], audit: AuditEntry) -> list[Schedule]:
        """Insert many schedules (each with every column but id) with an audit row each; a few
        hundred rows per statement, since a round trip per row is what an import of thousands
        costs on PostgreSQL. Returns them as stored (in no particular order)."""
        groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
        for values in rows:
            groups.setdefault(tuple(values), []).append(values)
        stored: list[Schedule] = []
        for names, group in groups.items():
            row_marks = "(" + ", ".join("?" for _ in names) + ")"
            for start in range(0, len(group), _ROWS):
                chunk = group[start:start + _ROWS]
                sql = self.dialect.params(
                    f"INSERT INTO workflow_schedules ({', '.join(map(quote, names))}) VALUES "
                    f"{', '.join([row_marks] * len(chunk))} RETURNING id, schedule_id")
                params = [self.schedules.param(n, values[n]) for values in chunk for n in names]
                pks = {r[1]: int(r[0]) for r in dal.executesql(sql, placeholders=params)}
                for values in chunk:
                    self.write_audit(dal, audit, "schedule", values["schedule_id"], values.get("community_id"),
                                     changed_fields(None, values))
                    stored.append(Schedule.from_row({**values, "id": pks[values["schedule_id"]], "deleted_at": None}))
        return stored

    def update_schedule(self, dal: DAL, before: Schedule, values: Mapping[str, Any], audit: AuditEntry) -> Schedule:
        """Change a schedule's columns with its audit row; returns the row as stored now."""
        self.schedules.update(dal, values, "id = ?", [before.id])
        self.write_audit(dal, audit, "schedule", before.schedule_id, before.community_id,
                         changed_fields(before, values))
        return self.schedule_store.fetch_pk(dal, before.id)

    def live_schedules(self, dal: DAL, community_id: str) -> int:
        """Schedules that count toward a community's quota (as ScheduleStore's check counts them)."""
        return count(dal, self.dialect,
                     "SELECT COUNT(*) FROM workflow_schedules WHERE community_id = ? AND deleted_at IS NULL "
                     "AND status IN ('active', 'paused')", [community_id])

    def workflow_scope(self, dal: DAL, workflow_id: str) -> tuple[bool, str | None] | None:
        """(is_active, community_id) of a workflow, or None when it does not exist."""
        return self.schedule_store.workflow_scope(dal, workflow_id)
