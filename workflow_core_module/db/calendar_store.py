"""Data access for calendars, and for the schedules that use one.

A calendar belongs to a community, or to none (shared: usable by every community, changed only
with a global key), like a workflow. Each schedule with a ``calendar_id`` keeps the calendar as
it is now in its ``calendar_spec`` column; changing a calendar rewrites that copy and the
schedule's next occurrence in the calendar's own transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydal import DAL

from ..errors import Conflict, Invalid, NotFound
from ..scheduling.calendars import Calendar, CalendarRule
from ..scheduling.records import Page
from ..scheduling.schedule import Schedule
from .audit import AuditEntry, AuditLog, changed_fields
from .database import Database
from .schedule_store import Scope, is_integrity_error
from .sql import TableCodec, count

MAX_LISTED_USERS = 50  # schedules named in a 409


# A schedule's new values given the calendar's new rule (None: the schedule keeps its timing).
Recompute = Callable[[Schedule, CalendarRule], Mapping[str, Any]]


class CalendarStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.dialect = database.dialect
        self.calendars = TableCodec(database.dal, "calendars", database.dialect)
        self.schedules = TableCodec(database.dal, "workflow_schedules", database.dialect)
        self.write_audit = AuditLog(database).write

    @staticmethod
    def _visible(scope: Scope) -> tuple[str, list[Any]]:
        return ("1 = 1", []) if scope is None else ("(community_id = ? OR community_id IS NULL)", [scope])

    def fetch(self, dal: DAL, calendar_id: str, scope: Scope, *, lock: str = "") -> Calendar:
        where, params = self._visible(scope)
        suffix = lock if lock and not self.database.is_sqlite else ""
        rows = self.calendars.select(dal, f"calendar_id = ? AND {where}", [calendar_id, *params], suffix)
        if not rows:
            raise NotFound("calendar", calendar_id)
        return Calendar.from_row(rows[0])

    def for_schedule(self, dal: DAL, calendar_id: str, community_id: str | None, lock: bool = True) -> CalendarRule:
        """The calendar a schedule of `community_id` may use (its community's or a shared one),
        read-locked on PostgreSQL until the schedule's write commits, so that a calendar change
        cannot slip between the read and the write (SQLite has one writer)."""
        where = "(community_id = ? OR community_id IS NULL)" if community_id else "community_id IS NULL"
        params = [calendar_id, community_id] if community_id else [calendar_id]
        suffix = "FOR SHARE" if lock and not self.database.is_sqlite else ""
        rows = self.calendars.select(dal, f"calendar_id = ? AND {where}", params, suffix)
        if not rows:
            raise Invalid({"calendar_id": f"no calendar with id {calendar_id} in this community (a schedule may use "
                                          "its own community's calendars and shared ones)"})
        return Calendar.from_row(rows[0]).rule()

    async def get(self, calendar_id: str, scope: Scope = None) -> Calendar:
        return await self.database.read(self.fetch, calendar_id, scope)

    async def list_page(self, scope: Scope, limit: int, offset: int) -> Page[Calendar]:
        where, params = self._visible(scope)

        def run(dal: DAL) -> Page[Calendar]:
            total = count(dal, self.dialect, f"SELECT COUNT(*) FROM calendars WHERE {where}", params)
            rows = self.calendars.select(dal, where, params, f"ORDER BY id LIMIT {int(limit)} OFFSET {int(offset)}")
            return Page([Calendar.from_row(r) for r in rows], total, limit, offset)

        return await self.database.read(run)

    @staticmethod
    def _name_taken(name: str) -> Conflict:
        return Conflict(f"a calendar named {name!r} already exists here", {"name": "already in use"})

    async def create(self, values: Mapping[str, Any], audit: AuditEntry) -> Calendar:
        def run(dal: DAL) -> Calendar:
            try:
                pk = self.calendars.insert(dal, values)
            except Exception as exc:
                if is_integrity_error(exc):
                    raise self._name_taken(values["name"]) from None
                raise
            self.write_audit(dal, audit, "calendar", values["calendar_id"], values.get("community_id"),
                             changed_fields(None, values))
            return Calendar.from_row({**values, "id": pk})

        return await self.database.write(run)

    def _users(self, dal: DAL, calendar_id: str) -> list[Schedule]:
        rows = self.schedules.select(dal, "calendar_id = ? AND deleted_at IS NULL", [calendar_id], "ORDER BY id")
        return [Schedule.from_row(r) for r in rows]

    async def update(self, calendar_id: str, scope: Scope, write_scope: Callable[[Calendar], None],
                     values: Mapping[str, Any], recompute: Recompute, audit: AuditEntry,
                     ) -> tuple[Calendar, list[Schedule]]:
        """Change a calendar and, in the same transaction, every schedule that uses it (its copy
        of the calendar and, when active, its next occurrence). Returns the calendar and the
        schedules as written."""

        def run(dal: DAL) -> tuple[Calendar, list[Schedule]]:
            before = self.fetch(dal, calendar_id, scope, lock="FOR UPDATE")
            write_scope(before)
            try:
                self.calendars.update(dal, values, "id = ?", [before.id])
            except Exception as exc:
                if is_integrity_error(exc):
                    raise self._name_taken(str(values.get("name"))) from None
                raise
            after = Calendar.from_row(self.calendars.select(dal, "id = ?", [before.id])[0])
            rule = after.rule()
            written = []
            for schedule in self._users(dal, calendar_id):
                changes = dict(recompute(schedule, rule))
                self.schedules.update(dal, changes, "id = ?", [schedule.id])
                written.append(Schedule.from_row(self.schedules.select(dal, "id = ?", [schedule.id])[0]))
            audit_values = {k: v for k, v in values.items() if k != "updated_at"}
            changes = changed_fields(before.fields, audit_values)
            if written:
                changes["schedules_recomputed"] = [None, len(written)]
            self.write_audit(dal, audit, "calendar", calendar_id, before.community_id, changes)
            return after, written

        return await self.database.write(run)

    async def delete(self, calendar_id: str, scope: Scope, write_scope: Callable[[Calendar], None],
                     audit: AuditEntry) -> Calendar:
        """Remove a calendar no schedule uses (409 naming the schedules that do)."""

        def run(dal: DAL) -> Calendar:
            current = self.fetch(dal, calendar_id, scope, lock="FOR UPDATE")
            write_scope(current)
            users = self._users(dal, calendar_id)
            if users:
                listed = [{"schedule_id": s.schedule_id, "name": s.name} for s in users[:MAX_LISTED_USERS]]
                raise Conflict(
                    f"calendar is used by {len(users)} schedule(s); point them elsewhere or remove them first",
                    {"schedules": listed, "count": len(users)})
            dal.executesql(self.dialect.params("DELETE FROM calendars WHERE id = ?"), placeholders=[current.id])
            self.write_audit(dal, audit, "calendar", calendar_id, current.community_id, {"name": current.fields.name})
            return current

        return await self.database.write(run)
