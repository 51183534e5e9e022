"""CalendarService: create, read, change and remove calendars; keep the schedules that use one
in step with it.

A community key sees its community's calendars and the shared ones (community_id null) and
changes only its own. When a calendar changes, every schedule using it gets the new calendar
and, when active, its next occurrence recomputed from now, in the calendar's transaction; the
changed schedules are then published like any schedule change (the cache, the loop's timer and,
with Redis, the other replicas).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from ..clock import Clock, SystemClock
from ..db.audit import AuditEntry
from ..db.calendar_store import CalendarStore
from ..db.database import Database
from ..db.schedule_store import Scope
from ..errors import Forbidden, Invalid, NotFound
from ..logs import audit
from ..scheduling import ScheduleStatus, next_occurrence, status_for_next
from ..scheduling.calendars import Calendar, CalendarError, CalendarRule, validate_calendar
from ..scheduling.records import Page
from ..scheduling.schedule import Schedule
from ..scheduling.types import MAX_OFFSET, MAX_PAGE
from .changes import ScheduleChanges

log = logging.getLogger(__name__)


class CalendarService:
    def __init__(self, database: Database, changes: ScheduleChanges, *, clock: Clock | None = None) -> None:
        self.store = CalendarStore(database)
        self.changes = changes
        self.clock: Clock = clock or SystemClock()

    @staticmethod
    def _validated(data: Mapping[str, Any]) -> Any:
        try:
            return validate_calendar(data)
        except CalendarError as exc:
            raise Invalid(exc.errors) from None

    @staticmethod
    def _own(scope: Scope) -> Any:
        def check(calendar: Calendar) -> None:
            if scope is not None and calendar.community_id != scope:
                raise Forbidden("a shared calendar can be changed with a global key only",
                                {"calendar_id": "shared: read-only for a community key"})
        return check

    async def create(self, spec: Mapping[str, Any], *, actor: str, scope: Scope) -> Calendar:
        data = dict(spec) if isinstance(spec, Mapping) else spec
        if scope is not None and isinstance(data, dict):
            if data.get("community_id") in (None, ""):
                data["community_id"] = scope
            elif data["community_id"] != scope:
                raise Forbidden(f"this key acts for community {scope!r} only",
                                {"community_id": "outside your community"})
        fields = self._validated(data)
        now = self.clock.now()
        values = fields.as_dict() | {"calendar_id": str(uuid.uuid4()), "created_by": actor[:200],
                                     "created_at": now, "updated_at": now}
        created = await self.store.create(values, AuditEntry(actor, "calendar.create", now))
        audit(log, "calendar.create", f"calendar {fields.name!r} created", actor=actor,
              calendar_id=created.calendar_id, community_id=created.community_id)
        return created

    async def get(self, calendar_id: str, *, scope: Scope) -> Calendar:
        return await self.store.get(_calendar_id(calendar_id), scope)

    async def list(self, *, scope: Scope, limit: int = 50, offset: int = 0) -> Page[Calendar]:
        if not 1 <= limit <= MAX_PAGE or not 0 <= offset <= MAX_OFFSET:
            raise Invalid({"limit": f"1-{MAX_PAGE}", "offset": f"0-{MAX_OFFSET}"})
        return await self.store.list_page(scope, limit, offset)

    async def replace(self, calendar_id: str, spec: Mapping[str, Any], *, actor: str, scope: Scope) -> Calendar:
        """PUT: the whole calendar. Schedules using it are recomputed; a change that would leave
        one of them without any occurrence is refused (400 naming it)."""
        calendar_id = _calendar_id(calendar_id)
        current = await self.store.get(calendar_id, scope)
        data = dict(spec) if isinstance(spec, Mapping) else spec
        if isinstance(data, dict):
            given = data.get("community_id", current.community_id)
            if given != current.community_id:
                raise Invalid({"community_id": "cannot be changed; create a new calendar instead"})
            data["community_id"] = current.community_id
        fields = self._validated(data)
        now = self.clock.now()
        values = fields.as_dict() | {"updated_at": now}
        values.pop("community_id")

        def recompute(schedule: Schedule, rule: CalendarRule) -> dict[str, Any]:
            out: dict[str, Any] = {"calendar_spec": rule.as_json(), "updated_at": now}
            if schedule.status is ScheduleStatus.ACTIVE:
                timing = schedule.time_rule(schedule.created_at, rule)
                nxt = next_occurrence(timing, now)
                status = status_for_next(timing, nxt, schedule.execution_count, schedule.max_executions)
                if status is not ScheduleStatus.ACTIVE:
                    raise Invalid({"excluded_dates": f"schedule {schedule.name!r} ({schedule.schedule_id}) would have "
                                                     "no occurrence left on this calendar"})
                out["next_execution_at"] = nxt
            return out

        updated, schedules = await self.store.update(calendar_id, scope, self._own(scope), values, recompute,
                                                     AuditEntry(actor, "calendar.update", now))
        for schedule in schedules:
            self.changes.mirror(schedule)
        audit(log, "calendar.update", f"calendar {updated.fields.name!r} updated; {len(schedules)} schedule(s) "
              "recomputed", actor=actor, calendar_id=calendar_id, community_id=updated.community_id)
        return updated

    async def delete(self, calendar_id: str, *, actor: str, scope: Scope) -> None:
        now = self.clock.now()
        removed = await self.store.delete(_calendar_id(calendar_id), scope, self._own(scope),
                                          AuditEntry(actor, "calendar.delete", now))
        audit(log, "calendar.delete", f"calendar {removed.fields.name!r} removed", actor=actor,
              calendar_id=removed.calendar_id, community_id=removed.community_id)


def _calendar_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise NotFound("calendar", str(value)) from None

