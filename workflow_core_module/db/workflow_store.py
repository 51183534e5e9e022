"""Data access for workflows and their executions.

A workflow belongs to a community, or to none (shared: usable by every community, changed only
with a global key). `scope` = a community sees its own workflows and the shared ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydal import DAL

from ..errors import Conflict, NotFound
from ..scheduling.records import Execution, Page, Workflow, aware, step_results
from .audit import AuditEntry, AuditLog, changed_fields
from .database import Database
from .schedule_store import Scope, is_integrity_error
from .sql import TableCodec, count


class WorkflowStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.dialect = database.dialect
        self.workflows = TableCodec(database.dal, "workflows", database.dialect)
        self.executions = TableCodec(database.dal, "workflow_executions", database.dialect)
        self.write_audit = AuditLog(database).write  # also for changes the engine records in its writes

    @staticmethod
    def _visible(scope: Scope) -> tuple[str, list[Any]]:
        return ("1 = 1", []) if scope is None else ("(community_id = ? OR community_id IS NULL)", [scope])

    def fetch(self, dal: DAL, workflow_id: str, scope: Scope, *, for_update: bool = False) -> Workflow:
        where, params = self._visible(scope)
        lock = "FOR UPDATE" if for_update and not self.database.is_sqlite else ""
        rows = self.workflows.select(dal, f"workflow_id = ? AND {where}", [workflow_id, *params], lock)
        if not rows:
            raise NotFound("workflow", workflow_id)
        return Workflow.from_row(rows[0])

    async def get(self, workflow_id: str, scope: Scope = None) -> Workflow:
        return await self.database.read(self.fetch, workflow_id, scope)

    async def find_by_name(self, name: str, community_id: str | None) -> Workflow | None:
        def run(dal: DAL) -> Workflow | None:
            rows = self.workflows.select(dal, "COALESCE(community_id, '') = ? AND name = ?", [community_id or "", name])
            return Workflow.from_row(rows[0]) if rows else None

        return await self.database.read(run)

    async def list_page(self, scope: Scope, limit: int, offset: int) -> Page[Workflow]:
        where, params = self._visible(scope)

        def run(dal: DAL) -> Page[Workflow]:
            total = count(dal, self.dialect, f"SELECT COUNT(*) FROM workflows WHERE {where}", params)
            rows = self.workflows.select(dal, where, params, f"ORDER BY id LIMIT {int(limit)} OFFSET {int(offset)}")
            return Page([Workflow.from_row(r) for r in rows], total, limit, offset)

        return await self.database.read(run)

    def _name_taken(self, name: str) -> Conflict:
        return Conflict(f"a workflow named {name!r} already exists", {"name": "already in use"})

    async def create(self, values: Mapping[str, Any], audit: AuditEntry) -> Workflow:
        def run(dal: DAL) -> Workflow:
            try:
                pk = self.workflows.insert(dal, values)
            except Exception as exc:
                if is_integrity_error(exc):
                    raise self._name_taken(values["name"]) from None
                raise
            self.write_audit(dal, audit, "workflow", values["workflow_id"], values.get("community_id"),
                        changed_fields(None, values))
            return Workflow.from_row({**values, "id": pk})

        return await self.database.write(run)

    async def update(self, workflow_id: str, scope: Scope, values: Mapping[str, Any], audit: AuditEntry) -> Workflow:
        def run(dal: DAL) -> Workflow:
            before = self.fetch(dal, workflow_id, scope, for_update=True)
            if before.is_active and values.get("is_active") is False:
                self._refuse_in_use(dal, workflow_id, "disable")
            try:
                self.workflows.update(dal, values, "id = ?", [before.id])
            except Exception as exc:
                if is_integrity_error(exc):
                    raise self._name_taken(str(values.get("name"))) from None
                raise
            self.write_audit(dal, audit, "workflow", workflow_id, before.community_id, changed_fields(before, values))
            return Workflow.from_row(self.workflows.select(dal, "id = ?", [before.id])[0])

        return await self.database.write(run)

    def _refuse_in_use(self, dal: DAL, workflow_id: str, doing: str) -> None:
        """409 while live schedules point at the workflow: they would fire something that cannot run."""
        users = count(
            dal, self.dialect,
            "SELECT COUNT(*) FROM workflow_schedules WHERE workflow_id = ? AND deleted_at IS NULL "
            "AND status IN ('active', 'paused')",
            [workflow_id],
        )
        if users:
            raise Conflict(
                f"cannot {doing} a workflow used by {users} active or paused schedule(s); "
                "remove or point them elsewhere first",
                {"schedules": users},
            )

    async def delete(self, workflow_id: str, scope: Scope, audit: AuditEntry) -> Workflow:
        """Delete a workflow; refused (409) while live schedules point at it."""

        def run(dal: DAL) -> Workflow:
            current = self.fetch(dal, workflow_id, scope, for_update=True)
            self._refuse_in_use(dal, workflow_id, "delete")
            dal.executesql(self.dialect.params("DELETE FROM workflows WHERE id = ?"), placeholders=[current.id])
            self.write_audit(dal, audit, "workflow", workflow_id, current.community_id, {"name": current.name})
            return current

        return await self.database.write(run)

    # ---- executions ------------------------------------------------------------------------

    async def get_execution(self, execution_id: str, scope: Scope = None) -> Execution:
        where = "execution_id = ?" if scope is None else "execution_id = ? AND community_id = ?"
        params = [execution_id] if scope is None else [execution_id, scope]

        def run(dal: DAL) -> Execution:
            rows = self.executions.select(dal, where, params)
            if rows:
                return Execution.from_row(rows[0])
            found = self._on_run_row(dal, execution_id, scope)
            if found is None:
                raise NotFound("execution", execution_id)
            return found

        return await self.database.read(run)

    async def executions_of_run(self, run_id: str) -> list[Execution]:
        """The attempts of one schedule run recorded as executions (a first attempt recorded on the
        run row itself is not among them: read it with get_execution(run_id)), by attempt."""

        def run(dal: DAL) -> list[Execution]:
            rows = self.executions.select(dal, "run_id = ?", [run_id], "ORDER BY attempt, id")
            return [Execution.from_row(r) for r in rows]

        return await self.database.read(run)

    def _on_run_row(self, dal: DAL, execution_id: str, scope: Scope) -> Execution | None:
        """A schedule run's first attempt, recorded on its run row: its id is the run's."""
        community = "COALESCE(s.community_id, w.community_id)"
        sql = self.dialect.params(
            f"SELECT r.run_id, r.workflow_id, r.schedule_id, {community}, r.\"trigger\", r.status, r.attempt, "
            "r.scheduled_for, r.fired_at, r.finished_at, r.duration_ms, r.error, r.step_results "
            "FROM workflow_schedule_runs r LEFT JOIN workflow_schedules s ON s.schedule_id = r.schedule_id "
            "LEFT JOIN workflows w ON w.workflow_id = r.workflow_id "
            "WHERE r.run_id = ? AND r.execution_id IS NULL AND r.attempt >= 1"
            + ("" if scope is None else f" AND {community} = ?"))
        rows = dal.executesql(sql, placeholders=[execution_id] + ([] if scope is None else [scope]))
        if not rows:
            return None
        (run_id, workflow_id, schedule_id, community_id, trigger, status, attempt, scheduled_for, fired_at,
         finished_at, duration_ms, error, results) = rows[0]
        finished = aware(finished_at)
        started = finished - timedelta(milliseconds=duration_ms or 0) if finished else aware(fired_at)
        assert started is not None
        trigger_data = {"trigger": trigger, "schedule_id": schedule_id, "run_id": run_id, "execution_id": run_id,
                        "scheduled_for": aware(scheduled_for), "fired_at": aware(fired_at), "attempt": attempt}
        return Execution(
            execution_id=run_id.strip(), workflow_id=workflow_id, run_id=run_id.strip(), schedule_id=schedule_id,
            community_id=community_id, trigger=trigger, trigger_data=trigger_data, status=status, attempt=attempt,
            started_at=started, finished_at=finished, duration_ms=duration_ms, error=error,
            step_results=step_results(results), created_at=started,
        )

    def insert_execution(self, dal: DAL, values: Mapping[str, Any]) -> None:
        self.executions.insert(dal, values)
