"""Read-only views for the dashboard: the step actions' schemas, one run with its steps, the
newest runs of the listed schedules and their upcoming runs (a timeline)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from quart import Blueprint
from quart_schema import document_response, validate_querystring

from ..engine.steps import STEP_MODELS
from ..services.run_views import MAX_RECENT_PER_SCHEDULE, MAX_TIMELINE_HOURS, RunViews
from .context import runtime, scope
from .schemas import ErrorOut, ExecutionOut, RunOut, ScheduleQuery
from .serialize import execution_json, run_json, ts

bp = Blueprint("runs", __name__, url_prefix="/api/v1")


class ActionOut(BaseModel):
    action: str
    description: str
    fields: list[str] = Field(description="the step's fields in the order a form shows them")
    schema_: dict[str, Any] = Field(alias="schema", description="the step's JSON schema (fields, types, bounds)")


class ActionsOut(BaseModel):
    items: list[ActionOut]


class RunScheduleOut(BaseModel):
    schedule_id: str
    name: str
    timezone: str
    workflow_id: str
    deleted: bool


class RunDetailOut(BaseModel):
    run: RunOut
    schedule: RunScheduleOut
    execution: ExecutionOut | None = Field(description="the latest attempt, with its steps")
    attempts: list[ExecutionOut] = Field(description="every attempt recorded, first to latest")


class RecentQuery(ScheduleQuery):
    runs: int = Field(20, ge=1, le=MAX_RECENT_PER_SCHEDULE, description="ended runs per schedule")


class RecentRun(BaseModel):
    run_id: str
    status: str
    scheduled_for: str
    finished_at: str | None
    duration_ms: int | None


class RecentOut(BaseModel):
    items: list[dict[str, Any]] = Field(description="per listed schedule: schedule_id, name and runs (RecentRun, "
                                                    "newest first)")


class TimelineQuery(ScheduleQuery):
    hours: int = Field(MAX_TIMELINE_HOURS, ge=1, le=MAX_TIMELINE_HOURS)


class TimelineOut(BaseModel):
    start: str
    end: str
    complete: bool = Field(description="false when a schedule had more runs in the window than are listed")
    items: list[dict[str, Any]] = Field(description="per listed active schedule: schedule_id, name, timezone, "
                                                    "times (its runs in the window) and complete")


def _views() -> RunViews:
    return runtime().views


def _filters(query: ScheduleQuery) -> dict[str, Any]:
    return query.model_dump(include=set(ScheduleQuery.model_fields))


@bp.get("/actions")
@document_response(ActionsOut)
async def list_actions() -> dict[str, Any]:
    """The built-in step actions and the JSON schema of each (what a workflow's steps may hold)."""
    return {"items": [{"action": name, "description": " ".join((model.__doc__ or "").split()),
                       "fields": [f for f in model.model_fields if f != "label"] + ["label"],
                       "schema": model.model_json_schema()} for name, model in STEP_MODELS.items()]}


@bp.get("/runs/<run_id>")
@document_response(RunDetailOut)
@document_response(ErrorOut, 404)
async def get_run(run_id: str) -> dict[str, Any]:
    """One run: its times, trigger and attempts, its schedule, and each attempt's steps (status,
    duration, output bounded to 16 KB, error). A run of another community's schedule is 404."""
    detail = await _views().run(run_id, scope=scope())
    s = detail.schedule
    return {"run": run_json(detail.run),
            "schedule": {"schedule_id": s.schedule_id, "name": s.name, "timezone": s.timezone,
                         "workflow_id": s.workflow_id, "deleted": s.deleted_at is not None},
            "execution": execution_json(detail.execution) if detail.execution is not None else None,
            "attempts": [execution_json(e) for e in detail.attempts]}


@bp.get("/schedules/recent-runs")
@validate_querystring(RecentQuery)
@document_response(RecentOut)
async def recent_runs(query_args: RecentQuery) -> dict[str, Any]:
    """The newest ended runs of each schedule the list's filters, limit and offset select."""
    page, runs = await _views().recent(scope=scope(), filters=_filters(query_args), per_schedule=query_args.runs)
    return {"items": [{"schedule_id": s.schedule_id, "name": s.name, "runs": [
        {"run_id": r.run_id, "status": r.status, "scheduled_for": ts(r.scheduled_for),
         "finished_at": ts(r.finished_at), "duration_ms": r.duration_ms} for r in runs.get(s.schedule_id, [])]}
        for s in page.items]}


@bp.get("/schedules/timeline")
@validate_querystring(TimelineQuery)
@document_response(TimelineOut)
async def timeline(query_args: TimelineQuery) -> dict[str, Any]:
    """The runs the schedules the list's filters, limit and offset select will fire in the next
    `hours` (default and at most 168): at most 2,000 per schedule, 20,000 in all and half a second
    of computing (the schedules past it are listed without runs, and `complete` is false)."""
    start, end, found, complete = await _views().timeline(scope=scope(), filters=_filters(query_args),
                                                          hours=query_args.hours)
    return {"start": ts(start), "end": ts(end), "complete": complete, "items": [
        {"schedule_id": u.schedule.schedule_id, "name": u.schedule.name, "timezone": u.schedule.timezone,
         "times": [ts(t) for t in u.times], "complete": u.complete} for u in found]}
