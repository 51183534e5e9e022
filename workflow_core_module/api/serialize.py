"""JSON shapes of records: timestamps ISO 8601 in UTC with a Z suffix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..db.records import Page, Run, Schedule
from ..db.workflow_store import Execution, Workflow
from ..scheduling.describe import describe
from ..scheduling.types import iso_z_or_none

T = TypeVar("T")


ts = iso_z_or_none  # an instant in an answer (whole seconds, ``Z``), or null


def schedule_json(s: Schedule, *, stats: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "schedule_id": s.schedule_id, "workflow_id": s.workflow_id, "community_id": s.community_id,
        "name": s.name, "description": s.description, "schedule_type": s.schedule_type.value,
        "cron_expression": s.cron_expression, "interval_seconds": s.interval_seconds,
        "scheduled_time": ts(s.scheduled_time), "timezone": s.timezone, "start_date": ts(s.start_date),
        "end_date": ts(s.end_date), "is_active": s.is_active, "status": s.status.value,
        "next_execution_at": ts(s.next_execution_at), "last_execution_at": ts(s.last_execution_at),
        "last_execution_id": s.last_execution_id, "last_run_status": s.last_run_status,
        "last_run_at": ts(s.last_run_at), "max_executions": s.max_executions,
        "execution_count": s.execution_count, "grace_period_seconds": s.grace_period_seconds,
        "overlap_policy": s.overlap_policy.value, "jitter_seconds": s.jitter_seconds,
        "context_data": s.context_data, "tags": list(s.tags), "callback_url": s.callback_url,
        "created_by": s.created_by, "total_runs": s.total_runs, "successful_runs": s.successful_runs,
        "failed_runs": s.failed_runs, "missed_runs": s.missed_runs, "created_at": ts(s.created_at),
        "updated_at": ts(s.updated_at), "timing_description": describe(s.time_rule()),
    }
    if stats:
        out["stats"] = s.stats()
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


def page_json(page: Page[T], item: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    return {"items": [item(x) for x in page.items], "total": page.total, "limit": page.limit, "offset": page.offset}
