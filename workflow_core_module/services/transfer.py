"""Export and import: the schedules matching the list filters as one document, with the
workflows they use, and such a document applied back, all or nothing.

The document (version 1)::

    {"version": 1, "exported_at": "...Z",
     "schedules": [{<every field of ScheduleFields>, "status": "active"|"paused", "pause_reason", "paused_until"}],
     "workflows": [{"workflow_id", "name", "description", "community_id", "steps", "is_active"}]}

A schedule names its workflow by the *exported* workflow_id; an import finds or creates that
workflow by name in the target community and points the schedule at it. A workflow_id the
document does not list is taken as the id of a workflow that already exists where the schedule
goes. An import first checks every entry (nothing is written while any is wrong: the answer
names each problem by its index), then writes everything, audit rows included, in one unit of
work on the database's writer thread, and only after the commit mirrors the schedules into the
cache. A dry run does the same work inside the transaction and rolls it back, so it answers
exactly what the import would do (name conflicts, quota, disabled workflows included).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydal import DAL

from ..db.audit import AuditEntry
from ..db.schedule_store import ScheduleFilter, Scope, is_integrity_error
from ..db.transfer_store import TransferStore
from ..errors import Conflict, Forbidden, Invalid, LimitExceeded
from ..logs import audit
from ..scheduling import ScheduleStatus, as_utc, next_occurrence, status_for_next
from ..scheduling.calendars import CalendarRule
from ..scheduling.records import Workflow
from ..scheduling.schedule import Schedule, ScheduleFields
from ..scheduling.types import iso_z, iso_z_or_none
from ..scheduling.validation import ValidationError, validate_pause, validate_schedule
from .schedule_service import ScheduleService, upstream_id
from .workflow_service import WorkflowService

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MAX_EXPORT = 10_000  # schedules in one export (more: narrow the filters)
MAX_IMPORT_SCHEDULES = 10_000
MAX_IMPORT_WORKFLOWS = 1_000
MODES = ("create", "upsert")

_DOCUMENT_KEYS = frozenset({"version", "exported_at", "schedules", "workflows"})
_WORKFLOW_KEYS = frozenset({"workflow_id", "name", "description", "community_id", "steps", "is_active"})
_STATE_KEYS = ("status", "pause_reason", "paused_until")  # what a schedule entry holds beside its spec
_FINISHED = (ScheduleStatus.COMPLETED.value, ScheduleStatus.EXPIRED.value)


@dataclass(slots=True)
class ImportResult:
    """What an import did (or, for a dry run, would do). Names, in document order."""

    mode: str
    dry_run: bool
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)  # finished schedules: {"index", "name", "reason"}
    workflows_created: list[str] = field(default_factory=list)
    workflows_updated: list[str] = field(default_factory=list)
    written: list[Schedule] = field(default_factory=list)  # the rows as committed, for the cache
    forget: list[str] = field(default_factory=list)  # workflows whose cached definition changed

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "dry_run": self.dry_run, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "skipped": self.skipped, "workflows_created": self.workflows_created,
                "workflows_updated": self.workflows_updated}


@dataclass(frozen=True, slots=True)
class _WorkflowEntry:
    index: int
    source_id: str  # the workflow_id the document's schedules use
    community_id: str | None  # where it is looked for and created
    shared_first: bool  # a community key's entry without a community: a shared one of that name is used as is
    values: dict[str, Any]  # name, description, is_active, steps (checked)


@dataclass(frozen=True, slots=True)
class _ScheduleEntry:
    index: int
    fields: ScheduleFields  # checked; workflow_id still the document's
    paused: bool
    pause_reason: str | None
    paused_until: datetime | None = None  # the pause lifts itself then


class _DryRun(Exception):
    """Raised at the end of a dry run's unit of work, so that everything it wrote rolls back."""

    def __init__(self, result: ImportResult) -> None:
        super().__init__("dry run")
        self.result = result


class TransferService:
    def __init__(self, schedules: ScheduleService, workflows: WorkflowService) -> None:
        self.schedules = schedules
        self.workflows = workflows
        self.store = TransferStore(schedules.database, schedules.store)
        self.clock = schedules.clock

    # ---- export --------------------------------------------------------------------------

    async def export(
        self,
        *,
        scope: Scope = None,
        workflow_id: str | None = None,
        community_id: str | None = None,
        status: str | None = None,
        schedule_type: str | None = None,
        tag: str | None = None,
        q: str | None = None,
    ) -> dict[str, Any]:
        """Every schedule matching the list filters (at most MAX_EXPORT, or 400), and the workflows
        they use that the caller can see."""
        now = self.clock.now()
        filters = ScheduleFilter(scope, workflow_id, community_id, status, schedule_type, tag, q)
        total, schedules = await self.store.matching(filters, MAX_EXPORT + 1)
        if total > MAX_EXPORT:
            raise Invalid({"filter": f"{total} schedules match; one export holds at most {MAX_EXPORT}: narrow the "
                                     "filters (tag, status, schedule_type, workflow_id, q) and export in parts"})
        used = list(dict.fromkeys(s.workflow_id for s in schedules))
        workflows = await self.store.workflows_by_id(used, scope)
        return {"version": FORMAT_VERSION, "exported_at": iso_z(now),
                "schedules": [_exported_schedule(s) for s in schedules],
                "workflows": [_exported_workflow(w) for w in workflows]}

    # ---- import --------------------------------------------------------------------------

    async def import_document(self, document: Any, *, mode: str = "create", dry_run: bool = False,
                              actor: str, scope: Scope = None) -> ImportResult:
        """Apply an export document: all of it, or (any entry wrong) nothing. `create` refuses a
        schedule whose name is taken; `upsert` updates it (and a same-named workflow's steps)."""
        if mode not in MODES:
            raise Invalid({"mode": f"must be one of {', '.join(MODES)}"})
        now = self.clock.now()
        # Checking thousands of cron expressions and templates is CPU work: off the event loop.
        workflows, schedules, skipped = await asyncio.to_thread(self._checked, document, scope, now)

        def unit(dal: DAL) -> ImportResult:
            result = ImportResult(mode, dry_run, skipped=list(skipped))
            self._apply(dal, result, workflows, schedules, actor, scope, now)
            if dry_run:
                raise _DryRun(result)
            return result

        try:
            result = await self.schedules.database.write(unit)
        except _DryRun as done:
            return done.result
        except Exception as exc:
            if is_integrity_error(exc):  # a name taken by a concurrent write since we looked
                raise Conflict("a schedule or workflow of the same name was created meanwhile; "
                               "nothing was imported, try again") from None
            raise
        for workflow_id in result.forget:
            self.workflows.engine.forget(workflow_id)
        for schedule in result.written:
            self.schedules.changes.mirror(schedule)
        audit(log, "schedule.import", f"import ({mode}): {len(result.created)} created, {len(result.updated)} "
              f"updated, {len(result.workflows_created)} workflows created", actor=actor, community_id=scope)
        return result

    def _checked(self, document: Any, scope: Scope, now: datetime,
                 ) -> tuple[list[_WorkflowEntry], list[_ScheduleEntry], list[dict[str, Any]]]:
        """Every entry checked; raises Forbidden (an entry of another community) or Invalid (the
        rest), each problem named by its place: ``schedules[3].cron_expression``."""
        if not isinstance(document, Mapping):
            raise Invalid({"body": "expected an export document (a JSON object)"})
        errors: dict[str, str] = {f"{k}": "unknown field" for k in document if k not in _DOCUMENT_KEYS}
        if document.get("version") != FORMAT_VERSION:
            errors["version"] = f"must be {FORMAT_VERSION}"
        raw_schedules = document.get("schedules")
        raw_workflows = document.get("workflows") or []
        if not isinstance(raw_schedules, list):
            errors["schedules"] = "required: a list of schedules"
            raw_schedules = []
        elif len(raw_schedules) > MAX_IMPORT_SCHEDULES:
            errors["schedules"] = f"at most {MAX_IMPORT_SCHEDULES} per import, got {len(raw_schedules)}"
        if not isinstance(raw_workflows, list):
            errors["workflows"] = "expected a list of workflows"
            raw_workflows = []
        elif len(raw_workflows) > MAX_IMPORT_WORKFLOWS:
            errors["workflows"] = f"at most {MAX_IMPORT_WORKFLOWS} per import, got {len(raw_workflows)}"
        if errors:
            raise Invalid(errors, "the document is not an export document; nothing was imported")

        forbidden: dict[str, str] = {}
        workflows = self._checked_workflows(raw_workflows, scope, errors, forbidden)
        schedules, skipped = self._checked_schedules(raw_schedules, scope, now, errors, forbidden)
        if forbidden:
            raise Forbidden(f"this key acts for community {scope!r} only; nothing was imported", forbidden)
        if errors:
            raise Invalid(errors, f"{len(errors)} problem(s) in the document; nothing was imported")
        return workflows, schedules, skipped

    def _checked_workflows(self, raw: list[Any], scope: Scope, errors: dict[str, str],
                           forbidden: dict[str, str]) -> list[_WorkflowEntry]:
        entries: list[_WorkflowEntry] = []
        ids: dict[str, int] = {}
        names: dict[tuple[str | None, str], int] = {}
        for index, entry in enumerate(raw):
            where = f"workflows[{index}]"
            if not isinstance(entry, Mapping):
                errors[where] = "expected a workflow object"
                continue
            problems = {f"{where}.{k}": "unknown field" for k in entry if k not in _WORKFLOW_KEYS}
            source = _uuid(entry.get("workflow_id"))
            if source is None:
                problems[f"{where}.workflow_id"] = "required: the workflow's id, as its schedules name it"
            elif source in ids:
                problems[f"{where}.workflow_id"] = f"also the id of workflows[{ids[source]}]"
            given = entry.get("community_id")
            if given is not None and not isinstance(given, str):
                problems[f"{where}.community_id"] = "expected a string or null"
                given = None
            if scope is not None and given not in (None, "", scope):
                forbidden[f"{where}.community_id"] = "outside your community"
                continue
            community = scope if scope is not None else (given or None)
            try:
                values = self.workflows.validate(entry, scope)
            except Invalid as exc:
                problems |= {f"{where}.{k}": v for k, v in exc.errors.items()}
                values = {}
            if values:
                key = (community, values["name"])
                if key in names:
                    problems[f"{where}.name"] = f"also the name of workflows[{names[key]}]"
                names.setdefault(key, index)
            if problems:
                errors |= problems
                continue
            assert source is not None
            ids[source] = index
            entries.append(_WorkflowEntry(index, source, community, scope is not None and not given, values))
        return entries

    def _checked_schedules(self, raw: list[Any], scope: Scope, now: datetime, errors: dict[str, str],
                           forbidden: dict[str, str],
                           ) -> tuple[list[_ScheduleEntry], list[dict[str, Any]]]:
        entries: list[_ScheduleEntry] = []
        skipped: list[dict[str, Any]] = []
        names: dict[tuple[str | None, str], int] = {}
        statuses = [s.value for s in ScheduleStatus]
        limits = self.schedules.limits
        for index, entry in enumerate(raw):
            where = f"schedules[{index}]"
            if not isinstance(entry, Mapping):
                errors[where] = "expected a schedule object"
                continue
            status = entry.get("status", ScheduleStatus.ACTIVE.value)
            if status not in statuses:
                errors[f"{where}.status"] = f"must be one of {', '.join(statuses)}"
                continue
            if status in _FINISHED:  # it would start over (a one-time, or max_executions reached)
                name = entry.get("name")
                skipped.append({"index": index, "name": name if isinstance(name, str) else None,
                                "reason": f"{status}: a finished schedule is not imported"})
                continue
            spec = {k: v for k, v in entry.items() if k not in _STATE_KEYS}
            given = spec.get("community_id")
            if scope is not None:
                if given in (None, ""):
                    spec["community_id"] = scope
                elif given != scope:
                    forbidden[f"{where}.community_id"] = "outside your community"
                    continue
            problems: dict[str, str] = {}
            reason, until = entry.get("pause_reason"), entry.get("paused_until")
            if status == ScheduleStatus.PAUSED.value:
                try:
                    reason, until = validate_pause({"reason": reason, "until": _still_ahead(until, now)},
                                                   zone="UTC", now=now)
                except ValidationError as exc:
                    problems |= {f"{where}.{'pause_reason' if k == 'reason' else 'paused_until'}": v
                                 for k, v in exc.errors.items()}
            elif reason not in (None, "") or until is not None:
                problems[f"{where}.pause_reason"] = "only for a paused schedule"
            try:
                fields = validate_schedule(spec, limits=limits, now=now)
            except ValidationError as exc:
                errors |= problems | {f"{where}.{k}": v for k, v in exc.errors.items()}
                continue
            if fields.callback_url:
                problem = self.schedules.outbound.check_url(fields.callback_url)
                if problem:
                    problems[f"{where}.callback_url"] = problem
            key = (fields.community_id, fields.name)
            if key in names:
                problems[f"{where}.name"] = f"also the name of schedules[{names[key]}] in the same community"
            names.setdefault(key, index)
            if problems:
                errors |= problems
                continue
            entries.append(_ScheduleEntry(index, fields, status == ScheduleStatus.PAUSED.value, reason, until))
        return entries, skipped

    def _apply(self, dal: DAL, result: ImportResult, workflows: list[_WorkflowEntry],
               schedules: list[_ScheduleEntry], actor: str, scope: Scope, now: datetime) -> None:
        """The writes, inside one unit of work; raises (rolling everything back) on any problem."""
        store = self.store
        ids = {w.source_id: self._workflow(dal, result, w, actor, scope, now) for w in workflows}
        by_community: dict[str | None, list[str]] = {}
        for s in schedules:
            by_community.setdefault(s.fields.community_id, []).append(s.fields.name)
        existing = {c: store.schedules_named(dal, c, names) for c, names in by_community.items()}
        errors: dict[str, str] = {}
        touched: set[str] = set()
        new: list[dict[str, Any]] = []
        scopes: dict[str, tuple[bool, str | None] | None] = {}
        for s in schedules:
            where = f"schedules[{s.index}]"
            community = s.fields.community_id
            workflow_id = ids.get(s.fields.workflow_id, s.fields.workflow_id)
            if workflow_id not in scopes:
                scopes[workflow_id] = store.workflow_scope(dal, workflow_id)
            found = scopes[workflow_id]
            if found is None or (found[1] is not None and found[1] != community):
                errors[f"{where}.workflow_id"] = (f"no workflow with id {s.fields.workflow_id} in this community "
                                                  "(list it under workflows, or name one that exists)")
                continue
            if not found[0]:
                errors[f"{where}.workflow_id"] = "the workflow is disabled"
                continue
            fields = replace(s.fields, workflow_id=workflow_id)
            try:  # a calendar of the schedule's community or a shared one, as it is in this database
                calendar = self.schedules.calendar_in(dal, fields)
            except Invalid as exc:
                errors[f"{where}.calendar_id"] = exc.errors["calendar_id"]
                continue
            current = existing[community].get(fields.name)
            try:  # an after schedule's upstream: a live schedule of its community here, and no cycle
                self.schedules.check_upstream(dal, fields, current.schedule_id if current else "", scope)
            except Invalid as exc:
                errors.update({f"{where}.{k}": v for k, v in exc.errors.items()})
                continue
            if current is None:
                new.append(_new_values(fields, s, actor, now, calendar))
                result.created.append(fields.name)
                if community is not None:
                    touched.add(community)
            elif result.mode == "create":
                space = f"community {community!r}" if community is not None else "the shared space"
                errors[f"{where}.name"] = f"already in use in {space} (mode=upsert updates that schedule)"
            else:
                try:
                    values = _changed_values(current, fields, s, actor, now, calendar)
                except Conflict as exc:
                    errors[f"{where}.status"] = exc.message
                    continue
                if not values:
                    result.unchanged.append(fields.name)
                    continue
                entry = AuditEntry(actor, "schedule.update", now)
                result.written.append(store.update_schedule(dal, current, values, entry))
                result.updated.append(fields.name)
                if community is not None:
                    touched.add(community)  # a finished schedule made live again counts too
        if errors:
            raise Invalid(errors, f"{len(errors)} problem(s) in the document; nothing was imported")
        result.written += store.insert_schedules(dal, new, AuditEntry(actor, "schedule.create", now))
        quota = self.schedules.settings.max_schedules_per_community
        for community in sorted(touched):
            live = store.live_schedules(dal, community)
            if quota is not None and live > quota:
                raise LimitExceeded(f"community {community!r} would have {live} schedules (the limit is {quota}); "
                                    "nothing was imported", {"community_id": community, "limit": quota,
                                                             "would_have": live})

    def _workflow(self, dal: DAL, result: ImportResult, entry: _WorkflowEntry, actor: str, scope: Scope,
                  now: datetime) -> str:
        """The target's id for a document workflow: found by name (updated in upsert mode), or created."""
        name = entry.values["name"]
        current = self.store.workflow_named(dal, name, None) if entry.shared_first else None
        if current is None:
            current = self.store.workflow_named(dal, name, entry.community_id)
        if current is None:
            values = entry.values | {"workflow_id": str(uuid.uuid4()), "community_id": entry.community_id,
                                     "created_by": actor, "created_at": now, "updated_at": now}
            self.store.insert_workflow(dal, values, AuditEntry(actor, "workflow.create", now))
            result.workflows_created.append(name)
            return str(values["workflow_id"])
        changeable = scope is None or current.community_id is not None  # shared ones: global keys only
        if result.mode == "upsert" and changeable:
            values = {k: entry.values[k] for k in ("steps", "description") if entry.values[k] != getattr(current, k)}
            if values:
                self.store.update_workflow(dal, current, values | {"updated_at": now},
                                           AuditEntry(actor, "workflow.update", now))
                result.workflows_updated.append(name)
                result.forget.append(current.workflow_id)
        return current.workflow_id


def _new_values(fields: ScheduleFields, entry: _ScheduleEntry, actor: str, now: datetime,
                calendar: CalendarRule | None) -> dict[str, Any]:
    """Every column of a new schedule, active (next occurrence from now) or paused as exported."""
    values = fields.as_dict() | {"schedule_id": str(uuid.uuid4()), "execution_count": 0, "created_by": actor,
                                 "created_at": now, "updated_at": now, "upstream_id": upstream_id(fields),
                                 "calendar_spec": None if calendar is None else calendar.as_json()}
    if entry.paused:
        return values | _paused(entry, actor, now)
    return values | {"status": ScheduleStatus.ACTIVE.value, "is_active": True,
                     "next_execution_at": next_occurrence(fields.time_rule(anchor=now, calendar=calendar), now)}


def _paused(entry: _ScheduleEntry, actor: str, now: datetime) -> dict[str, Any]:
    return {"status": ScheduleStatus.PAUSED.value, "is_active": False, "next_execution_at": None,
            "pause_reason": entry.pause_reason, "paused_at": now, "paused_by": actor[:200],
            "paused_until": entry.paused_until}


_UNPAUSED = {"pause_reason": None, "paused_at": None, "paused_by": None, "paused_until": None}


def _changed_values(current: Schedule, fields: ScheduleFields, entry: _ScheduleEntry, actor: str,
                    now: datetime, calendar: CalendarRule | None) -> dict[str, Any]:
    """The columns an upsert changes on `current` (empty: nothing). The spec as ScheduleService's
    update applies it (timing changes recompute the next occurrence from now), then the state
    the document asks for: paused (with its reason) or active (resumed from now)."""
    before = current.as_dict()
    values = {k: v for k, v in fields.as_dict().items() if v != before[k]}
    rule = fields.time_rule(current.created_at, calendar)
    if rule != current.rule():
        values["calendar_spec"] = None if calendar is None else calendar.as_json()
        values["upstream_id"] = upstream_id(fields)
    retimed = rule != current.rule() or fields.max_executions != current.max_executions
    was_paused = current.status is ScheduleStatus.PAUSED
    if was_paused and entry.paused:
        if entry.pause_reason != current.pause_reason:
            values["pause_reason"] = entry.pause_reason
        if entry.paused_until != current.paused_until:
            values["paused_until"] = entry.paused_until
    else:
        status, nxt = current.status, current.next_execution_at
        if retimed or was_paused:
            nxt = next_occurrence(rule, now)
            status = status_for_next(rule, nxt, current.execution_count, fields.max_executions)
        live = status is ScheduleStatus.ACTIVE
        if entry.paused:
            if not live:
                raise Conflict(f"the schedule named {fields.name!r} is {status.value}; only an active schedule "
                               "can be paused")
            values |= _paused(entry, actor, now)
        elif retimed or was_paused:
            values |= {"status": status.value, "is_active": live, "next_execution_at": nxt if live else None}
            if was_paused:
                values |= _UNPAUSED | {"consecutive_failures": 0}
    values = {k: v for k, v in values.items() if k in before or v != getattr(current, k)}
    if values:
        values["updated_at"] = now
    return values


def _exported_schedule(s: Schedule) -> dict[str, Any]:
    spec = s.as_dict()
    for name in ("scheduled_time", "start_date", "end_date"):
        spec[name] = iso_z_or_none(spec[name])
    return spec | {"status": s.status.value, "pause_reason": s.pause_reason,
                   "paused_until": iso_z_or_none(s.paused_until)}


def _still_ahead(until: Any, now: datetime) -> Any:
    """An exported pause end, left out when it has passed (the pause would have lifted by now; a
    paused entry whose end passed is imported paused with no end)."""
    if isinstance(until, str):
        try:
            if as_utc(datetime.fromisoformat(until.strip())) <= now:
                return None
        except ValueError:
            return until  # validation names it
    return until


def _exported_workflow(w: Workflow) -> dict[str, Any]:
    return {"workflow_id": w.workflow_id, "name": w.name, "description": w.description,
            "community_id": w.community_id, "steps": w.steps, "is_active": w.is_active}


def _uuid(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
