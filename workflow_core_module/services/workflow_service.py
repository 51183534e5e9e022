"""WorkflowService: workflows written through the API or chat, and executions started by hand.

Scope rules: a community key sees its community's workflows and the shared ones (no
community), creates in its own community, and may not change shared workflows.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from ..clock import Clock
from ..db.audit import AuditEntry
from ..db.schedule_store import Scope
from ..engine.engine import WorkflowEngine
from ..errors import Forbidden, Invalid, NotFound
from ..logs import audit
from ..scheduling.records import Execution, Page, Workflow
from ..scheduling.trigger import TriggerData, trigger_time

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 2000


def _text(errors: dict[str, str], name: str, value: Any, limit: int, *, required: bool) -> str:
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            errors[name] = "required"
        return ""
    if not isinstance(value, str):
        errors[name] = "expected a string"
        return ""
    value = value.strip()
    if required and not value:
        errors[name] = "must not be empty"
    elif len(value) > limit:
        errors[name] = f"at most {limit} characters, got {len(value)}"
    elif any(ord(c) < 32 and c not in "\t\n" for c in value):
        errors[name] = "must not contain control characters"
    return value


class WorkflowService:
    def __init__(self, engine: WorkflowEngine, clock: Clock) -> None:
        self.engine = engine
        self.store = engine.store
        self.clock = clock
        self._executions: set[asyncio.Task[Any]] = set()

    def _values(self, data: Mapping[str, Any], community_id: str | None) -> dict[str, Any]:
        errors: dict[str, str] = {}
        values = {
            "name": _text(errors, "name", data.get("name"), MAX_NAME_CHARS, required=True),
            "description": _text(errors, "description", data.get("description"), MAX_DESCRIPTION_CHARS,
                                 required=False),
            "is_active": data.get("is_active", True) is not False,
        }
        if errors:
            raise Invalid(errors)
        values["steps"] = self.engine.validate_steps(data.get("steps"), community_id=community_id)
        return values

    def validate(self, data: Mapping[str, Any], community_id: str | None) -> dict[str, Any]:
        """A workflow's name, description, is_active and steps, checked (Invalid naming each problem).
        `community_id` is the community of whoever writes it (None: a global key). CPU work for
        many templates: call it off the event loop."""
        return self._values(data, community_id)

    async def _checked(self, data: Mapping[str, Any], community_id: str | None) -> dict[str, Any]:
        """:meth:`_values` off the event loop: compiling up to a hundred templates is CPU work."""
        return await asyncio.to_thread(self._values, data, community_id)

    @staticmethod
    def _community(data: Mapping[str, Any], scope: Scope) -> str | None:
        community = data.get("community_id") or None
        if scope is None:
            return community
        if community not in (None, scope):
            raise Forbidden(f"this key acts for community {scope!r} only",
                                     {"community_id": "outside your community"})
        return scope

    async def create(self, data: Mapping[str, Any], *, actor: str, scope: Scope = None) -> Workflow:
        now = self.clock.now()
        community = self._community(data, scope)
        values = await self._checked(data, scope) | {
            "workflow_id": str(uuid.uuid4()), "community_id": community, "created_by": actor,
            "created_at": now, "updated_at": now,
        }
        created = await self.store.create(values, AuditEntry(actor, "workflow.create", now))
        audit(log, "workflow.create", f"workflow {created.name!r} created", actor=actor,
              workflow_id=created.workflow_id, community_id=created.community_id)
        return created

    async def get(self, workflow_id: str, *, scope: Scope = None) -> Workflow:
        return await self.store.get(_uuid(workflow_id, "workflow"), scope)

    async def list(self, *, scope: Scope = None, limit: int = 50, offset: int = 0) -> Page[Workflow]:
        return await self.store.list_page(scope, limit, offset)

    async def find_by_name(self, name: str, community_id: str | None) -> Workflow | None:
        return await self.store.find_by_name(name, community_id)

    async def _changeable(self, workflow_id: str, scope: Scope) -> Workflow:
        current = await self.get(workflow_id, scope=scope)
        if scope is not None and current.community_id is None:
            raise Forbidden("shared workflows are changed with a global key")
        return current

    async def replace(self, workflow_id: str, data: Mapping[str, Any], *, actor: str, scope: Scope = None) -> Workflow:
        current = await self._changeable(workflow_id, scope)
        if "community_id" in data and (data["community_id"] or None) != current.community_id:
            raise Invalid({"community_id": "cannot be changed; create a new workflow instead"})
        now = self.clock.now()
        values = await self._checked(data, scope) | {"updated_at": now}
        updated = await self.store.update(current.workflow_id, scope, values, AuditEntry(actor, "workflow.update", now))
        self.engine.forget(updated.workflow_id)
        audit(log, "workflow.update", f"workflow {updated.name!r} updated", actor=actor,
              workflow_id=updated.workflow_id)
        return updated

    async def delete(self, workflow_id: str, *, actor: str, scope: Scope = None) -> None:
        current = await self._changeable(workflow_id, scope)
        now = self.clock.now()
        await self.store.delete(current.workflow_id, scope, AuditEntry(actor, "workflow.delete", now))
        self.engine.forget(current.workflow_id)
        audit(log, "workflow.delete", f"workflow {current.name!r} deleted", actor=actor,
              workflow_id=current.workflow_id)

    async def execute(self, workflow_id: str, context_data: Mapping[str, Any] | None, *, actor: str,
                      scope: Scope = None, extra: Mapping[str, str] | None = None) -> str:
        """Start a workflow now (trigger `api`); returns the execution id at once.

        The run acts for the caller's community (a community key running a shared workflow),
        else the workflow's. `extra` (the router's session_id, entity_id...) is copied into the
        trigger data beside `context_data`."""
        workflow = await self.get(workflow_id, scope=scope)
        if not workflow.is_active:
            raise Invalid({"workflow_id": "the workflow is disabled"})
        community = scope or workflow.community_id
        trigger = TriggerData(trigger="api", **(extra or {}), requested_by=actor, upstream=None,
                              fired_at=trigger_time(self.clock.now()), attempt=1,
                              context_data=dict(context_data or {})).as_dict()
        execution_id = await self.engine.prepare(workflow.workflow_id, trigger, trigger="api",
                                                 community_id=community,
                                                 audit=AuditEntry(actor, "workflow.execute", self.clock.now()))
        task = asyncio.create_task(self.engine.run(workflow.workflow_id, trigger, execution_id=execution_id,
                                                   prepared=True, community_id=community))
        self._executions.add(task)
        task.add_done_callback(self._executions.discard)
        audit(log, "workflow.execute", f"workflow {workflow.name!r} started", actor=actor,
              workflow_id=workflow.workflow_id, execution_id=execution_id)
        return execution_id

    async def get_execution(self, execution_id: str, *, scope: Scope = None) -> Execution:
        return await self.store.get_execution(_uuid(execution_id, "execution"), scope)

    async def idle(self) -> None:
        """Return once every execution started here has ended and its end is recorded (at once
        when none is running)."""
        while self._executions:  # one started while this waited is waited for too
            await asyncio.wait(list(self._executions))

    async def close(self, grace_seconds: float) -> None:
        """Let executions started here finish up to the grace, then cancel them (recorded)."""
        tasks = list(self._executions)
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=grace_seconds)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)


def _uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise NotFound(what, str(value)) from None
