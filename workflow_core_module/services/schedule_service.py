"""ScheduleService: create, read, change and remove schedules; keep the cache in step.

The service validates with the pure rules in :mod:`scheduling`, writes through the store (one
transaction per mutation, audit row included), then mirrors the committed row into the cache
and tells its listeners (the scheduler loop's timer, and Redis when configured).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from ..clock import Clock, SystemClock
from ..config import Settings
from ..db.audit import AuditEntry
from ..db.calendar_store import CalendarStore
from ..db.database import Database
from ..db.schedule_store import ScheduleFilter, ScheduleStore, Scope
from ..engine.outbound import OutboundPolicy
from ..engine.templates import check_template, is_template
from ..errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from ..logs import audit
from ..scheduling import (
    ScheduleStatus,
    next_occurrence,
    occurrences,
    status_for_next,
)
from ..scheduling.calendars import CalendarRule
from ..scheduling.occurrences import occurrences_explained
from ..scheduling.records import Page, Run
from ..scheduling.schedule import FIELD_NAMES, Schedule
from ..scheduling.types import MAX_OFFSET, MAX_PAGE, TimeRule
from ..scheduling.validation import (
    Limits,
    ScheduleFields,
    ValidationError,
    merge_changes,
    validate_pause,
    validate_schedule,
)
from .changes import ScheduleChange, ScheduleChanges
from .overlaps import Candidate, OverlapFinder, Overlaps

__all__ = [
    "Conflict",
    "DomainError",
    "Invalid",
    "NotFound",
    "ScheduleChange",
    "ScheduleService",
]

log = logging.getLogger(__name__)

MAX_PREVIEW = 100
MAX_CHAIN_WALK = 1000  # the most upstreams followed when looking for a cycle
RESTORED_REASON = "restored after deletion; resume it to run again"
_COUNTED = (ScheduleStatus.ACTIVE, ScheduleStatus.PAUSED)  # what the community's quota counts


def _require_calendar_leaves_one(calendar: CalendarRule | None, nxt: datetime | None) -> None:
    if calendar is not None and nxt is None:
        raise Invalid({"calendar_id": "the calendar excludes every remaining occurrence of this schedule"})


def _validated(data: Mapping[str, Any], **kwargs: Any) -> ScheduleFields:
    try:
        return validate_schedule(data, **kwargs)
    except ValidationError as exc:
        raise Invalid(exc.errors) from None


class ScheduleService:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        clock: Clock | None = None,
        changes: ScheduleChanges | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.store = ScheduleStore(database)
        self.changes = changes if changes is not None else ScheduleChanges()
        self.cache = self.changes.cache
        self.clock: Clock = clock or SystemClock()
        self.limits = Limits(settings.min_interval_seconds, settings.default_grace_period_seconds)
        self.outbound = OutboundPolicy(settings.outbound_allowlist)
        self.overlap_finder = OverlapFinder()
        self.calendar_store = CalendarStore(database)

    def _fields(self, data: Mapping[str, Any], **kwargs: Any) -> ScheduleFields:
        """A validated spec, its URLs (callback_url, alert webhooks) checked against the outbound
        policy and its alert message templates compiled."""
        fields = _validated(data, limits=self.limits, **kwargs)
        problems: dict[str, str] = {}
        urls = [("callback_url", fields.callback_url)] if fields.callback_url else []
        for i, channel in enumerate((fields.alerts or {}).get("channels", ())):
            if channel.get("url"):
                urls.append((f"alerts.channels[{i}].url", channel["url"]))
            if channel.get("message") and is_template(channel["message"]):
                problem = check_template(channel["message"])
                if problem:
                    problems[f"alerts.channels[{i}].message"] = problem
        for name, url in urls:
            problem = self.outbound.check_url(url)
            if problem:
                problems[name] = problem
        if problems:
            raise Invalid(problems)
        return fields

    # ---- the cache and who hears about changes ---------------------------------------

    async def load_cache(self) -> int:
        """Rebuild the cache from the database; returns the number of active schedules."""
        self.cache.replace_all(await self.store.active_due_seconds())
        return len(self.cache)

    def _mirror(self, schedule: Schedule) -> None:
        self.changes.mirror(schedule)

    # ---- create ------------------------------------------------------------------------

    async def add_schedule(self, spec: Mapping[str, Any], *, actor: str = "system", scope: Scope = None) -> Schedule:
        """Validate and store a new schedule; it is active at once."""
        now = self.clock.now()
        data = _in_scope(spec, scope)
        fields = self._fields(data, now=now)
        calendar = await self._calendar(fields)
        rule = fields.time_rule(anchor=now, calendar=calendar)
        nxt = next_occurrence(rule, now)
        _require_calendar_leaves_one(calendar, nxt)
        schedule_id = str(uuid.uuid4())

        def checked(dal: Any) -> None:
            self._check_workflow_and_calendar(dal, fields, calendar)
            self.check_upstream(dal, fields, schedule_id, scope)

        values = fields.as_dict() | {
            "calendar_spec": None if calendar is None else calendar.as_json(),
            "upstream_id": upstream_id(fields),
            "schedule_id": schedule_id,
            "is_active": True,
            "status": ScheduleStatus.ACTIVE.value,
            "next_execution_at": nxt,
            "execution_count": 0,
            "created_by": actor,
            "created_at": now,
            "updated_at": now,
        }
        created = await self.store.create(
            values, AuditEntry(actor, "schedule.create", now), self.settings.max_schedules_per_community,
            check=checked,
        )
        self._mirror(created)
        audit(log, "schedule.create", f"schedule {created.name!r} created", actor=actor,
              schedule_id=created.schedule_id, community_id=created.community_id,
              next_execution_at=nxt.isoformat() if nxt else None)
        return created

    def _check_workflow(self, dal: Any, workflow_id: str, community_id: str | None) -> None:
        """Runs inside the write: the workflow exists, is enabled and is visible to the community."""
        found = self.store.workflow_scope(dal, workflow_id)
        if found is None or (found[1] is not None and found[1] != community_id):
            raise Invalid({"workflow_id": f"no workflow with id {workflow_id} in this community"})
        if not found[0]:
            raise Invalid({"workflow_id": "the workflow is disabled"})

    def _check_workflow_and_calendar(self, dal: Any, fields: ScheduleFields, calendar: CalendarRule | None) -> None:
        self._check_workflow(dal, fields.workflow_id, fields.community_id)
        if self.calendar_in(dal, fields) != calendar:
            raise Conflict("the calendar changed while the schedule was being saved; send it again",
                           {"calendar_id": "changed meanwhile"})

    def check_upstream(self, dal: Any, fields: ScheduleFields, schedule_id: str, scope: Scope, *,
                        lock: bool = True) -> None:
        """Runs inside the write: an after schedule's upstream is a live schedule of the same
        community (shared schedules chain with shared ones only), and following upstreams from it
        never comes back to `schedule_id` (no cycle). Another community's schedule is, to a
        community key, as unknown as a schedule that does not exist."""
        after = fields.upstream()
        if after is None:
            return
        if lock:
            self.store.lock_chains(dal)
        upstream_id = after[0]
        link = self.store.chain_link(dal, upstream_id)
        where = "this community" if fields.community_id is not None else "the shared space"
        unknown = Invalid({"after.schedule_id": f"no schedule with id {upstream_id} in {where}"})
        if link is None:
            raise unknown
        if link[0] != fields.community_id:
            if scope is not None:
                raise unknown
            raise Invalid({"after.schedule_id": f"schedule {upstream_id} is in {_space(link[0])} and this one in "
                                                f"{_space(fields.community_id)}: a chain stays in one community"})
        names, current = [fields.name or schedule_id, link[2]], (upstream_id, link)
        for _ in range(MAX_CHAIN_WALK):
            if current[0] == schedule_id:
                raise Invalid({"after.schedule_id": "would make a cycle: " + " runs after ".join(names)})
            above = current[1][1]
            found = self.store.chain_link(dal, above) if above else None
            if above is None or found is None:
                return
            names.append(found[2])
            current = (above, found)
        raise Invalid({"after.schedule_id": f"the chain above it is longer than {MAX_CHAIN_WALK} schedules"})

    async def chain(self, schedule: Schedule) -> dict[str, Any]:
        """Its upstream (schedule_id, name) and the schedules that run after it."""
        return await self.store.chain_of(schedule)

    async def upstream_name(self, schedule: Schedule | ScheduleFields, scope: Scope = None) -> str | None:
        """The name of an after schedule's upstream (None: not an after schedule, or not in reach)."""
        after = schedule.upstream()
        if after is None:
            return None
        try:
            return (await self.store.get(after[0], scope)).name
        except NotFound:
            return None

    async def upstream_names(self, schedules: Sequence[Schedule], scope: Scope = None) -> dict[str, str]:
        """upstream_name for a page of schedules at once: upstream schedule_id -> name (one read)."""
        upstreams = {after[0] for after in (s.upstream() for s in schedules) if after is not None}
        return await self.store.names(sorted(upstreams), scope)

    async def _calendar(self, fields: ScheduleFields) -> CalendarRule | None:
        """The calendar a spec names, as it is now (its community's or a shared one; else 400)."""
        if fields.calendar_id is None:
            return None
        return await self.database.read(self.calendar_store.for_schedule, fields.calendar_id, fields.community_id,
                                        False)

    def calendar_in(self, dal: Any, fields: ScheduleFields) -> CalendarRule | None:
        """_calendar inside a write (read-locked on PostgreSQL until it commits)."""
        if fields.calendar_id is None:
            return None
        return self.calendar_store.for_schedule(dal, fields.calendar_id, fields.community_id)

    # ---- read --------------------------------------------------------------------------

    async def get_schedule(self, schedule_id: str, *, scope: Scope = None) -> Schedule:
        return await self.store.get(_schedule_id(schedule_id), scope)

    async def list_schedules(
        self,
        *,
        scope: Scope = None,
        workflow_id: str | None = None,
        community_id: str | None = None,
        status: str | None = None,
        schedule_type: str | None = None,
        tag: str | None = None,
        q: str | None = None,
        include_deleted: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[Schedule]:
        """A page of schedules, by id. `include_deleted` (global keys only) lists soft-deleted
        ones too, so an operator can find one to restore or remove for good."""
        if include_deleted and scope is not None:
            raise Forbidden("only a global key may list deleted schedules", {"include_deleted": "global keys only"})
        if not 1 <= limit <= MAX_PAGE:
            raise Invalid({"limit": f"must be between 1 and {MAX_PAGE}"})
        if not 0 <= offset <= MAX_OFFSET:
            raise Invalid({"offset": f"must be between 0 and {MAX_OFFSET}"})
        filters = ScheduleFilter(scope, workflow_id, community_id, status, schedule_type, tag, q, include_deleted)
        return await self.store.list_page(filters, limit, offset)

    async def get_history(
        self, schedule_id: str, *, scope: Scope = None, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> Page[Run]:
        if not 1 <= limit <= MAX_PAGE or not 0 <= offset <= MAX_OFFSET:
            raise Invalid({"limit": f"1-{MAX_PAGE}", "offset": f"0-{MAX_OFFSET}"})
        schedule = await self.get_schedule(schedule_id, scope=scope)
        return await self.store.history(schedule.schedule_id, status, limit, offset)

    async def next_executions(self, schedule_id: str, count: int = 10, *, scope: Scope = None) -> list[datetime]:
        """The next `count` occurrences of a stored schedule (as if resumed now, when paused)."""
        schedule = await self.get_schedule(schedule_id, scope=scope)
        if schedule.status not in (ScheduleStatus.ACTIVE, ScheduleStatus.PAUSED):
            return []
        remaining = _remaining(schedule.max_executions, schedule.execution_count)
        return occurrences(schedule.rule(), self.clock.now(), min(_count(count), remaining))

    async def creation_numbers(self, community_id: str) -> dict[str, int]:
        """schedule_id -> its number in the community: the n-th schedule ever made there (removed
        ones count, so numbers never move to another schedule). Chat's ``#n``."""
        return dict(await self.store.creation_numbers(community_id))

    def preview(self, spec: Mapping[str, Any], count: int = 10) -> tuple[ScheduleFields, list[datetime]]:
        """Validate a spec (workflow and name optional) and list its next times; saves nothing."""
        now = self.clock.now()
        fields = self._fields(spec, now=now, timing_only=True)
        remaining = _remaining(fields.max_executions, 0)
        return fields, occurrences(fields.time_rule(anchor=now), now, min(_count(count), remaining))

    async def preview_explained(
        self, spec: Mapping[str, Any], count: int = 10, *, scope: Scope = None, editing: str | None = None,
    ) -> tuple[ScheduleFields, Any, list[datetime], list[tuple[datetime, str]]]:
        """preview, with the spec's calendar (if any) applied: (fields, its time rule, the next
        times, the days the calendar skipped on the way and why). An after schedule's upstream is
        checked as a save would (`editing`: the schedule being changed, for cycles); it has no times."""
        now = self.clock.now()
        data = _in_scope(spec, scope)
        fields = self._fields(data, now=now, timing_only=True)
        if fields.upstream() is not None:
            await self.database.read(partial(self.check_upstream, lock=False), fields, _maybe_id(editing), scope)
        calendar = await self._calendar(fields)
        rule = fields.time_rule(anchor=now, calendar=calendar)
        remaining = _remaining(fields.max_executions, 0)
        times, skipped = occurrences_explained(rule, now, min(_count(count), remaining))
        return fields, rule, times, skipped

    async def overlaps(self, fields: ScheduleFields, *, rule: TimeRule | None = None, scope: Scope = None,
                       exclude: str | None = None, days: int = 7) -> Overlaps:
        """Active schedules of the same workflow that fire in the same minute as `fields` (by
        `rule`, its time rule with its calendar, when given) within the next `days` (each
        schedule's first 2,000 occurrences are looked at). Computed off the event loop, within a
        deadline: `complete` says whether every schedule was looked at."""
        if not fields.workflow_id:
            return Overlaps()
        now = self.clock.now()
        page = await self.list_schedules(scope=scope, workflow_id=fields.workflow_id, status="active", limit=500)
        others = [Candidate(o.schedule_id, o.name, o.updated_at, o.rule()) for o in page.items
                  if o.schedule_id != exclude]
        return await self.overlap_finder.find(rule or fields.time_rule(anchor=now), others, now, days)

    # ---- change ------------------------------------------------------------------------

    async def update_schedule(
        self,
        schedule_id: str,
        changes: Mapping[str, Any],
        *,
        actor: str = "system",
        scope: Scope = None,
        replace: bool = False,
    ) -> Schedule:
        """Change a schedule (PATCH semantics; `replace` for PUT). Timing changes recompute
        next_execution_at from now; a completed or expired schedule whose new timing has a
        future occurrence becomes active again."""
        if not isinstance(changes, Mapping):
            raise Invalid({"body": "expected a JSON object"})
        schedule_id = _schedule_id(schedule_id)
        now = self.clock.now()

        def change(current: Schedule, dal: Any) -> dict[str, Any]:
            if "community_id" in changes and changes["community_id"] != current.community_id:
                raise Invalid({"community_id": "cannot be changed; create a new schedule instead"})
            if replace:
                data = dict(changes)
                data.setdefault("community_id", current.community_id)
            else:
                data = merge_changes(current, changes)
            fields = self._fields(data)
            calendar = self.calendar_in(dal, fields)
            before = current.as_dict()
            values = {k: v for k, v in fields.as_dict().items() if v != before[k]}
            if "alerts" in values:
                values["alert_state"] = None  # new alert settings start from a clean slate
            timing = fields.time_rule(current.created_at, calendar) != current.rule()
            if timing:
                values["calendar_spec"] = None if calendar is None else calendar.as_json()
            if timing or fields.max_executions != current.max_executions:
                if timing:
                    self._fields(data, now=now, anchor=current.created_at)
                if current.status is not ScheduleStatus.PAUSED:
                    rule = fields.time_rule(current.created_at, calendar)
                    nxt = next_occurrence(rule, now)
                    _require_calendar_leaves_one(calendar, nxt)
                    status = status_for_next(rule, nxt, current.execution_count, fields.max_executions)
                    live = status is ScheduleStatus.ACTIVE
                    values |= {"status": status.value, "is_active": live, "next_execution_at": nxt if live else None}
            if values:
                values["updated_at"] = now
            return values

        def change_checked(dal: Any, current: Schedule) -> dict[str, Any]:
            values = change(current, dal)
            if "workflow_id" in values:
                self._check_workflow(dal, values["workflow_id"], current.community_id)
            # a chain coming back to life (a completed one given more runs) is checked too: its
            # upstream may have been deleted while it could not run
            reviving = values.get("status") == ScheduleStatus.ACTIVE.value and current.status not in _COUNTED
            if "after" in values or "schedule_type" in values or (reviving and current.upstream()):
                fields = self._fields({**current.as_dict(), **{k: v for k, v in values.items() if k in FIELD_NAMES}})
                self.check_upstream(dal, fields, current.schedule_id, scope)
                values["upstream_id"] = upstream_id(fields)
            if reviving:  # a completed or expired schedule coming back takes a place, like a new one
                self.store.check_quota(dal, current.community_id, self.settings.max_schedules_per_community)
            return values

        entry = AuditEntry(actor, "schedule.update", now)
        _, after = await self.store.mutate(schedule_id, scope, change_checked, entry)
        self._mirror(after)
        audit(log, "schedule.update", f"schedule {after.name!r} updated", actor=actor,
              schedule_id=after.schedule_id, community_id=after.community_id)
        return after

    async def pause_schedule(self, schedule_id: str, *, actor: str = "system", scope: Scope = None,
                             request: Mapping[str, Any] | None = None) -> Schedule:
        """Pause: nothing fires until resumed. `request` may give a `reason` and an `until` (ISO;
        the schedule then resumes by itself at that time). Pausing a paused schedule again
        replaces its reason and end."""
        now = self.clock.now()

        def change(_: Any, current: Schedule) -> dict[str, Any]:
            try:
                reason, until = validate_pause(request or {}, zone=current.timezone, now=now)
            except ValidationError as exc:
                raise Invalid(exc.errors) from None
            if current.status is ScheduleStatus.PAUSED:
                if (reason, until) == (current.pause_reason, current.paused_until):
                    return {}
                return {"pause_reason": reason, "paused_until": until, "updated_at": now}
            if current.status is not ScheduleStatus.ACTIVE:
                raise Conflict(
                    f"schedule is {current.status.value}; only an active schedule can be paused",
                    {"status": current.status.value},
                )
            return {"status": ScheduleStatus.PAUSED.value, "is_active": False, "next_execution_at": None,
                    "pause_reason": reason, "paused_at": now, "paused_by": actor[:200], "paused_until": until,
                    "updated_at": now}

        return await self._transition(schedule_id, scope, change, "schedule.pause", actor, now)

    async def resume_schedule(self, schedule_id: str, *, actor: str = "system", scope: Scope = None,
                              pause_ended: bool = False) -> Schedule:
        """Resume from now; clears the pause's reason and end. `pause_ended`: only if the pause
        has an end and it has come (how a pause with `until` lifts itself)."""
        now = self.clock.now()

        def change(_: Any, current: Schedule) -> dict[str, Any]:
            if current.status is ScheduleStatus.ACTIVE:
                return {"paused_until": None, "updated_at": now} if current.paused_until else {}
            if pause_ended and (current.paused_until is None or current.paused_until > now):
                return {}
            if current.status is not ScheduleStatus.PAUSED:
                hint = " (change its end_date to extend it)" if current.status is ScheduleStatus.EXPIRED else ""
                raise Conflict(
                    f"schedule is {current.status.value} and cannot be resumed{hint}",
                    {"status": current.status.value},
                )
            rule = current.rule()
            nxt = next_occurrence(rule, now)
            status = status_for_next(rule, nxt, current.execution_count, current.max_executions)
            if status is not ScheduleStatus.ACTIVE:
                raise Conflict(
                    f"schedule has no future occurrence (it would be {status.value}); change its timing first",
                    {"status": status.value},
                )
            return {"status": status.value, "is_active": True, "next_execution_at": nxt, "updated_at": now,
                    "pause_reason": None, "paused_at": None, "paused_by": None, "paused_until": None,
                    "consecutive_failures": 0}

        return await self._transition(schedule_id, scope, change, "schedule.resume", actor, now)

    async def end_due_pauses(self) -> datetime | None:
        """Resume every paused schedule whose `until` has come (actor `system`); the next such
        end still ahead, or None. A schedule that cannot resume (no future occurrence left) stays
        paused, its end cleared and the reason saying why."""
        while True:
            now = self.clock.now()
            ending = await self.store.pauses_ending(100)
            for schedule_id, until in ending:
                if until > now:
                    return until
                try:
                    await self.resume_schedule(schedule_id, actor="system", pause_ended=True)
                except Conflict as exc:
                    await self._keep_paused(schedule_id, str(exc), now)
                except NotFound:
                    continue
            if len(ending) < 100:
                return None

    async def _keep_paused(self, schedule_id: str, why: str, now: datetime) -> None:
        def change(_: Any, current: Schedule) -> dict[str, Any]:
            reason = f"{current.pause_reason or 'paused'}; could not resume at its end: {why}"
            return {"paused_until": None, "pause_reason": reason[:500], "updated_at": now}

        await self._transition(schedule_id, None, change, "schedule.pause_end_failed", "system", now)

    async def _transition(
        self, schedule_id: str, scope: Scope, change: Callable[[Any, Schedule], dict[str, Any]], action: str,
        actor: str, now: datetime,
    ) -> Schedule:
        entry = AuditEntry(actor, action, now)
        before, after = await self.store.mutate(_schedule_id(schedule_id), scope, change, entry)
        if after is not before:
            self._mirror(after)
            audit(log, action, f"schedule {after.name!r} {after.status.value}", actor=actor,
                  schedule_id=after.schedule_id, community_id=after.community_id)
        return after

    async def remove_schedule(
        self, schedule_id: str, *, actor: str = "system", scope: Scope = None, hard: bool = False
    ) -> None:
        """Soft delete (the row stays, hidden) or, with `hard`, delete the row and its runs; a
        soft-deleted schedule can still be removed for good by its community (or a global key)."""
        now = self.clock.now()
        removed = await self.store.delete(
            _schedule_id(schedule_id), scope, AuditEntry(actor, "schedule.delete", now), hard=hard
        )
        self.changes.publish(removed.id, removed.schedule_id, None)
        audit(log, "schedule.delete", f"schedule {removed.name!r} deleted", actor=actor,
              schedule_id=removed.schedule_id, community_id=removed.community_id, hard=hard)


    async def restore_schedule(self, schedule_id: str, *, actor: str = "system", scope: Scope = None) -> Schedule:
        """Bring back a soft-deleted schedule (global keys only). One that was active or paused
        comes back paused, with no next run and a reason saying so, so nothing fires until someone
        resumes it; a completed or expired one comes back as it was. Refused (409) when a live
        schedule of the community has its name, when its workflow is gone or disabled, when it
        runs after a schedule that is gone, or when the community is at its limit of schedules;
        nothing changes then."""
        if scope is not None:
            raise Forbidden("only a global key may restore a deleted schedule")
        now = self.clock.now()
        quota = self.settings.max_schedules_per_community

        def change(dal: Any, current: Schedule) -> dict[str, Any]:
            if current.deleted_at is None:
                raise Conflict("schedule is not deleted", {"deleted_at": None})
            values: dict[str, Any] = {"deleted_at": None, "updated_at": now}
            if current.status in (ScheduleStatus.ACTIVE, ScheduleStatus.PAUSED):
                found = self.store.workflow_scope(dal, current.workflow_id)
                if found is None or not found[0]:
                    state = "no longer exists" if found is None else "is disabled"
                    raise Conflict(f"the schedule's workflow {current.workflow_id} {state}; it cannot be restored",
                                   {"workflow_id": state})
                try:  # an after schedule whose upstream went meanwhile could never run again
                    self.check_upstream(dal, current, current.schedule_id, None)
                except Invalid as exc:
                    raise Conflict(f"{exc.details['after.schedule_id']}; it cannot be restored", exc.details) from None
                self.store.check_quota(dal, current.community_id, quota)
                values |= {"status": ScheduleStatus.PAUSED.value, "is_active": False, "next_execution_at": None,
                           "pause_reason": RESTORED_REASON, "paused_at": now, "paused_by": actor[:200],
                           "paused_until": None}
            return values

        entry = AuditEntry(actor, "schedule.restore", now)
        _, after = await self.store.mutate(_schedule_id(schedule_id), None, change, entry, deleted=True)
        self._mirror(after)
        audit(log, "schedule.restore", f"schedule {after.name!r} restored ({after.status.value})", actor=actor,
              schedule_id=after.schedule_id, community_id=after.community_id)
        return after


def upstream_id(fields: ScheduleFields) -> str | None:
    """The upstream_id column of a spec: an after schedule's upstream."""
    after = fields.upstream()
    return after[0] if after else None


def _space(community_id: str | None) -> str:
    return "the shared space" if community_id is None else f"community {community_id!r}"


def _in_scope(spec: Mapping[str, Any], scope: Scope) -> dict[str, Any]:
    """A spec for a key of community `scope` (None: global): its community filled in, or refused
    when it names another."""
    data = dict(spec)
    if scope is not None:
        if data.get("community_id") in (None, ""):
            data["community_id"] = scope
        elif data["community_id"] != scope:
            raise Forbidden(f"this key acts for community {scope!r} only", {"community_id": "outside your community"})
    return data


def _maybe_id(value: str | None) -> str:
    """A schedule id if `value` is one, else '' (which no schedule has)."""
    try:
        return str(uuid.UUID(str(value))) if value else ""
    except ValueError:
        return ""


def _schedule_id(value: str) -> str:
    """Normalise a schedule id; anything that is not a UUID cannot exist."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise NotFound("schedule", str(value)) from None


def _count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_PREVIEW:
        raise Invalid({"count": f"must be a whole number between 1 and {MAX_PREVIEW}"})
    return count


def _remaining(max_executions: int | None, execution_count: int) -> int:
    return MAX_PREVIEW if max_executions is None else max(0, max_executions - execution_count)
