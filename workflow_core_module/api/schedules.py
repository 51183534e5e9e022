"""/api/v1/schedules: the schedules API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from quart import Blueprint, Response
from quart_schema import document_request, document_response, validate_querystring, validate_request
from werkzeug.routing import BaseConverter, Map, ValidationError

from ..errors import Forbidden
from ..scheduling.describe import describe
from ..scheduling.occurrences import occurrences_explained
from ..scheduling.records import Page
from ..scheduling.schedule import Schedule
from ..scheduling.types import ScheduleStatus, TimeRule
from ..scheduling.zones import local
from ..services.schedule_service import ScheduleService
from .context import actor, optional_body, payload, runtime, scope
from .schemas import (
    BackfillOut,
    BackfillRequest,
    DeleteQuery,
    ErrorOut,
    HistoryQuery,
    NextQuery,
    PauseRequest,
    PreviewOut,
    RunPage,
    RunStarted,
    ScheduleCreate,
    ScheduleDetail,
    ScheduleOut,
    SchedulePage,
    SchedulePreview,
    ScheduleQuery,
    ScheduleUpdate,
    StatusOut,
)
from .serialize import page_json, run_json, schedule_json, ts
from .when import expand_when

PREFIX = "/api/v1/schedules"
bp = Blueprint("schedules", __name__, url_prefix=PREFIX)
# What a preview with "when" answers back as `timing`, so a form can show what the phrase became.
_READ_FROM_WHEN = ("schedule_type", "cron_expression", "interval_seconds", "scheduled_time", "rrule", "start_date",
                   "end_date", "max_executions")


class ScheduleIdConverter(BaseConverter):
    """A schedule id in a path: any segment but the collection's own words (bulk, export, status, ...).
    So `GET /schedules/bulk` answers 405 (bulk takes POST), not 404 from looking up a schedule "bulk"."""

    _words: frozenset[str] | None = None

    def to_python(self, value: str) -> str:
        if self._words is None:
            self._words = _collection_words(self.map)
        if value in self._words:
            raise ValidationError()
        return value


def _collection_words(url_map: Map) -> frozenset[str]:
    head = PREFIX + "/"
    rules = (rule.rule[len(head):] for rule in url_map.iter_rules() if rule.rule.startswith(head))
    return frozenset(rest for rest in rules if rest and "/" not in rest and "<" not in rest)


def _service() -> ScheduleService:
    return runtime().schedules


async def _read_when(spec: dict[str, Any], community_id: str | None, **options: Any) -> dict[str, Any]:
    """`spec` with its "when" read (api/when.py) in the date order chat uses in `community_id`: its
    setting, else its zone's usual order, else the request zone's (the reader asks when none has one).
    A community key naming another community with a "when" is refused (403) before anything is read."""
    if spec.get("when") is None:
        return expand_when(spec, runtime().clock.now())
    own = scope()
    if own is not None and community_id not in (None, own):
        raise Forbidden(f"this key acts for community {own!r} only", {"community_id": "outside your community"})
    order = (await runtime().communities.get(community_id)).reads_dates if community_id else None
    return expand_when(spec, runtime().clock.now(), date_order=order, **options)


@bp.post("")
@validate_request(ScheduleCreate)
@document_response(ScheduleOut, 201)
@document_response(ErrorOut, 400)
async def create_schedule(data: ScheduleCreate) -> tuple[dict[str, Any], int]:
    """Create a schedule; it is active at once and answers with its next_execution_at."""
    spec = payload(data)
    spec = await _read_when(spec, spec.get("community_id") or scope())
    created = await _service().add_schedule(spec, actor=actor(), scope=scope())
    return await _answer(created), 201


async def _answer(s: Schedule) -> dict[str, Any]:
    """schedule_json, an after schedule's description naming its upstream."""
    return schedule_json(s, upstream_name=await _service().upstream_name(s, scope()))


@bp.get("")
@validate_querystring(ScheduleQuery)
@document_response(SchedulePage)
async def list_schedules(query_args: ScheduleQuery) -> dict[str, Any]:
    """List schedules, filtered and paged.

    `include_deleted=true` (global keys only) lists soft-deleted ones too, each with its `deleted_at`."""
    page = await _service().list_schedules(scope=scope(), **query_args.model_dump())
    return await _page_of_schedules(page, deleted=query_args.include_deleted)


@bp.get("/status")
@document_response(StatusOut)
async def scheduler_status() -> dict[str, Any]:
    """The scheduler: running, active schedules, next due, last pass, lag, replicas, recent failures."""
    return await runtime().status.scheduler_status(scope())


@bp.post("/preview")
@validate_request(SchedulePreview)
@document_response(PreviewOut)
@document_response(ErrorOut, 400)
async def preview_schedule(data: SchedulePreview) -> dict[str, Any]:
    """Validate a spec without saving it: its next times and a human description."""
    asked = payload(data)
    spec = await _read_when(asked, asked.get("community_id") or scope())
    count = spec.pop("count", 10)
    editing = spec.pop("schedule_id", None)
    explain = spec.pop("explain", False)
    service = _service()
    fields, rule, times, skipped = await service.preview_explained(spec, count, scope=scope(), editing=editing)
    overlaps = await service.overlaps(fields, rule=rule, scope=scope(), exclude=editing)
    upstream = await service.upstream_name(fields, scope())
    return {"times": [ts(t) for t in times], "description": describe(rule, upstream),
            "overlaps": [o | {"first_at": ts(o["first_at"])} for o in overlaps.found],
            "overlaps_complete": overlaps.complete,
            "timing": {k: v for k, v in spec.items() if k in _READ_FROM_WHEN} if asked.get("when") else None,
            **_skipped(rule, skipped, explain)}


def _skipped(rule: TimeRule, skipped: list[tuple[datetime, str]], explain: bool) -> dict[str, Any]:
    """With `explain`: each day the calendar skipped (its first occurrence, its date there, why)."""
    if not explain:
        return {}
    zone = rule.calendar.timezone if rule.calendar is not None else rule.timezone
    return {"skipped": [{"time": ts(t), "date": local(t, zone).date().isoformat(), "reason": why}
                        for t, why in skipped]}


@bp.get("/workflow/<workflow_id>")
@validate_querystring(ScheduleQuery)
@document_response(SchedulePage)
async def schedules_of_workflow(workflow_id: str, query_args: ScheduleQuery) -> dict[str, Any]:
    """Schedules that run one workflow."""
    filters = query_args.model_dump() | {"workflow_id": workflow_id}
    page = await _service().list_schedules(scope=scope(), **filters)
    return await _page_of_schedules(page, deleted=query_args.include_deleted)


async def _page_of_schedules(page: Page[Schedule], *, deleted: bool) -> dict[str, Any]:
    """A page of schedules as answers write them; an after schedule's timing names its upstream."""
    names = await _service().upstream_names(page.items, scope())

    def item(s: Schedule) -> dict[str, Any]:
        after = s.upstream()
        return schedule_json(s, deleted=deleted, upstream_name=names.get(after[0]) if after else None)

    return page_json(page, item)


@bp.get("/<schedule_id:schedule_id>")
@document_response(ScheduleDetail)
@document_response(ErrorOut, 404)
async def get_schedule(schedule_id: str) -> dict[str, Any]:
    """One schedule, with its run statistics and its chains (its upstream, the schedules after it)."""
    service = _service()
    schedule = await service.get_schedule(schedule_id, scope=scope())
    chain = await service.chain(schedule)
    upstream = chain["upstream"]["name"] if chain["upstream"] else None
    return schedule_json(schedule, stats=True, upstream_name=upstream) | {"chain": chain}


@bp.put("/<schedule_id:schedule_id>")
@validate_request(ScheduleCreate)
@document_response(ScheduleOut)
async def replace_schedule(schedule_id: str, data: ScheduleCreate) -> dict[str, Any]:
    """Replace a schedule's spec (fields not given take their defaults); next_execution_at is recomputed.
    `when` is read as in POST, in the schedule's community's date order."""
    spec = payload(data)
    if spec.get("when") is not None:
        current = await _service().get_schedule(schedule_id, scope=scope())
        spec = await _read_when(spec, current.community_id)
    updated = await _service().update_schedule(schedule_id, spec, actor=actor(), scope=scope(), replace=True)
    return await _answer(updated)


@bp.patch("/<schedule_id:schedule_id>")
@validate_request(ScheduleUpdate)
@document_response(ScheduleOut)
async def update_schedule(schedule_id: str, data: ScheduleUpdate) -> dict[str, Any]:
    """Change some fields; a timing change recomputes next_execution_at.

    `when` (as in POST) replaces the timing: schedule_type and its fields, and start_date; read in
    `timezone` if given, else the schedule's own, and in its community's date order. An end_date or
    max_executions stays unless the phrase gives one (until ..., ... times)."""
    spec = payload(data)
    if spec.get("when") is not None:
        current = await _service().get_schedule(schedule_id, scope=scope())
        spec = await _read_when(spec, current.community_id, zone=current.timezone, replace_timing=True)
    updated = await _service().update_schedule(schedule_id, spec, actor=actor(), scope=scope())
    return await _answer(updated)


@bp.delete("/<schedule_id:schedule_id>")
@validate_querystring(DeleteQuery)
async def delete_schedule(schedule_id: str, query_args: DeleteQuery) -> Response:
    """Soft delete (204); `?hard=true` removes the row and its runs, also of a soft-deleted schedule."""
    await _service().remove_schedule(schedule_id, actor=actor(), scope=scope(), hard=query_args.hard)
    return Response(status=204)


@bp.post("/<schedule_id:schedule_id>/restore")
@document_response(ScheduleOut)
@document_response(ErrorOut, 403)
@document_response(ErrorOut, 409)
async def restore_schedule(schedule_id: str) -> dict[str, Any]:
    """Bring back a soft-deleted schedule (global keys only; 403 otherwise).

    One that was active or paused comes back paused (resume it to run again); a completed or
    expired one as it was. 409 when a live schedule of its community has its name, its workflow
    is gone or disabled, the community is at its limit, or it is not deleted."""
    return schedule_json(await _service().restore_schedule(schedule_id, actor=actor(), scope=scope()))


@bp.post("/<schedule_id:schedule_id>/pause")
@bp.post("/<schedule_id:schedule_id>/disable")
@document_request(PauseRequest)
@document_response(ScheduleOut)
@document_response(ErrorOut, 400)
async def pause_schedule(schedule_id: str) -> dict[str, Any]:
    """Pause (alias: disable): nothing fires until resumed, or until `until` when given."""
    request = payload(await optional_body(PauseRequest))
    return schedule_json(await _service().pause_schedule(schedule_id, actor=actor(), scope=scope(), request=request))


@bp.post("/<schedule_id:schedule_id>/resume")
@bp.post("/<schedule_id:schedule_id>/enable")
@document_response(ScheduleOut)
@document_response(ErrorOut, 409)
async def resume_schedule(schedule_id: str) -> dict[str, Any]:
    """Resume from now (alias: enable); clears the pause's reason and end. A completed or expired
    schedule answers 409."""
    return schedule_json(await _service().resume_schedule(schedule_id, actor=actor(), scope=scope()))


@bp.post("/<schedule_id:schedule_id>/toggle")
@document_response(ScheduleOut)
@document_response(ErrorOut, 409)
async def toggle_schedule(schedule_id: str) -> dict[str, Any]:
    """Pause an active schedule, resume a paused one."""
    service = _service()
    current = await service.get_schedule(schedule_id, scope=scope())
    change = service.resume_schedule if current.status is ScheduleStatus.PAUSED else service.pause_schedule
    return schedule_json(await change(current.schedule_id, actor=actor(), scope=scope()))


@bp.post("/<schedule_id:schedule_id>/run")
@document_response(RunStarted, 202)
async def run_schedule(schedule_id: str) -> tuple[dict[str, Any], int]:
    """Run the workflow now (trigger `manual`)."""
    run_id, execution_id = await runtime().scheduler.run_now(schedule_id, actor=actor(), scope=scope())
    return {"run_id": run_id, "execution_id": execution_id}, 202


@bp.post("/<schedule_id:schedule_id>/backfill")
@validate_request(BackfillRequest)
@document_response(BackfillOut, 202)
@document_response(ErrorOut, 400)
async def backfill_schedule(schedule_id: str, data: BackfillRequest) -> tuple[dict[str, Any], int]:
    """Run the schedule's occurrences in a past range (at most 1,000); a range backfilled before
    runs nothing twice. It does not move next_execution_at or count toward max_executions."""
    runs = await runtime().scheduler.backfill(schedule_id, payload(data), actor=actor(), scope=scope())
    return {"runs": len(runs), "first": ts(runs[0].scheduled_for) if runs else None,
            "last": ts(runs[-1].scheduled_for) if runs else None}, 202


@bp.get("/<schedule_id:schedule_id>/history")
@bp.get("/<schedule_id:schedule_id>/runs")
@validate_querystring(HistoryQuery)
@document_response(RunPage)
async def schedule_history(schedule_id: str, query_args: HistoryQuery) -> dict[str, Any]:
    """Runs, newest first (alias: runs)."""
    page = await _service().get_history(schedule_id, scope=scope(), **query_args.model_dump())
    return page_json(page, run_json)


@bp.get("/<schedule_id:schedule_id>/next")
@validate_querystring(NextQuery)
@document_response(PreviewOut)
async def next_times(schedule_id: str, query_args: NextQuery) -> dict[str, Any]:
    """The next `count` occurrences (as if resumed now, for a paused schedule)."""
    service = _service()
    schedule = await service.get_schedule(schedule_id, scope=scope())
    times = await service.next_executions(schedule.schedule_id, query_args.count, scope=scope())
    rule = schedule.rule()
    explain = query_args.explain
    skipped = occurrences_explained(rule, runtime().clock.now(), len(times))[1] if explain and times else []
    upstream = await service.upstream_name(schedule, scope())
    return {"times": [ts(t) for t in times], "description": describe(rule, upstream)} | _skipped(rule, skipped, explain)
