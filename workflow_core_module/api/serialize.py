"""JSON shapes of records: timestamps ISO 8601 in UTC with a Z suffix."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from ..scheduling.describe import describe
from ..scheduling.records import AuditRecord, Execution, Page, Run, Workflow
from ..scheduling.schedule import ANSWER_COLUMNS, Column, Schedule
from ..scheduling.types import iso_z_or_none

T = TypeVar("T")


ts = iso_z_or_none  # an instant in an answer (whole seconds, ``Z``), or null


def _value(value: Enum | None) -> Any:
    return None if value is None else value.value


def _listed(value: tuple[Any, ...]) -> list[Any]:
    return list(value)


def _encoder(c: Column) -> Callable[[Any], Any] | None:
    if c.kind is datetime:
        return ts
    if c.enum is not None:
        return _value
    return _listed if c.kind is tuple else None


_SCHEDULE_ANSWER = tuple((c.name, _encoder(c)) for c in ANSWER_COLUMNS)


def schedule_json(s: Schedule, *, stats: bool = False, deleted: bool = False,
                  upstream_name: str | None = None) -> dict[str, Any]:
    """Every answer column of the declaration (scheduling/schedule.py), and a description of the
    timing (an after schedule's names its upstream by `upstream_name` when given, else by id);
    `deleted` adds `deleted_at` (lists that include deleted schedules)."""
    out = {name: getattr(s, name) if encode is None else encode(getattr(s, name)) for name, encode in _SCHEDULE_ANSWER}
    out["timing_description"] = describe(s.rule(), upstream_name)
    if stats:
        out["stats"] = s.stats()
    if deleted:
        out["deleted_at"] = ts(s.deleted_at)
    return out


def run_json(r: Run) -> dict[str, Any]:
    return {
        "run_id": r.run_id, "execution_id": r.execution_id, "scheduled_for": ts(r.scheduled_for),
        "fired_at": ts(r.fired_at), "finished_at": ts(r.finished_at), "status": r.status, "attempt": r.attempt,
        "error": r.error, "note": r.note, "duration_ms": r.duration_ms, "trigger": r.trigger,
    }


def workflow_json(w: Workflow) -> dict[str, Any]:
    return {
        "workflow_id": w.workflow_id, "name": w.name, "description": w.description, "community_id": w.community_id,
        "steps": w.steps, "is_active": w.is_active, "created_by": w.created_by, "created_at": ts(w.created_at),
        "updated_at": ts(w.updated_at),
    }


def execution_json(e: Execution) -> dict[str, Any]:
    return {
        "execution_id": e.execution_id, "workflow_id": e.workflow_id, "run_id": e.run_id,
        "schedule_id": e.schedule_id, "community_id": e.community_id, "trigger": e.trigger, "status": e.status,
        "attempt": e.attempt, "started_at": ts(e.started_at), "finished_at": ts(e.finished_at),
        "duration_ms": e.duration_ms, "error": e.error, "step_results": e.step_results,
        "created_at": ts(e.created_at),
    }


def audit_json(r: AuditRecord) -> dict[str, Any]:
    return {"at": ts(r.at), "actor": r.actor, "action": r.action, "entity_type": r.entity_type,
            "entity_id": r.entity_id, "community_id": r.community_id, "changes": r.changes}


def page_json(page: Page[T], item: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    return {"items": [item(x) for x in page.items], "total": page.total, "limit": page.limit, "offset": page.offset}
