"""Per-community settings for chat: the default time zone, the platform, the managers (chat user ids)
and the order chat reads a date like 01/02 in.

The rules for these values live in ``scheduling/community.py``, once: the API, the CLI and the
chat commands all check with them, and the store checks again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydal import DAL

from ..scheduling.community import (
    Community,
    check_community_id,
    check_date_order,
    check_managers,
    check_platform,
    check_user_ids,
)
from .audit import AuditEntry, AuditLog
from .database import Database
from .sql import TableCodec


class CommunityStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.codec = TableCodec(database.dal, "communities", database.dialect)
        self.audit = AuditLog(database)

    def _fetch(self, dal: DAL, community_id: str, lock: bool = False) -> Community:
        suffix = "FOR UPDATE" if lock and not self.database.is_sqlite else ""
        rows = self.codec.select(dal, "community_id = ?", [community_id], suffix)
        if not rows:
            return Community(community_id)
        row = rows[0]
        return Community(community_id, row["timezone"] or "UTC", tuple(row["managers"] or ()), row["platform"],
                         row["date_order"])

    async def get(self, community_id: str) -> Community:
        return await self.database.read(self._fetch, community_id)

    async def update(self, community_id: str, entry: AuditEntry, *, timezone: str | None = None,
                     managers: Sequence[str] | None = None, platform: str | None = None) -> Community:
        """Set the zone, the managers and/or the platform (creating the row on first use), with an
        audit row. None leaves a value as it is; `platform` must be one of :data:`PLATFORMS`."""
        changes: dict[str, Any] = {}
        if timezone is not None:
            changes["timezone"] = timezone
        if managers is not None:
            changes["managers"] = check_managers(managers)
        if platform is not None:
            changes["platform"] = check_platform(platform)
        return await self._change(community_id, entry, lambda current: changes)

    async def set_date_order(self, community_id: str, entry: AuditEntry, date_order: str | None) -> Community:
        """Set the date order (one of :data:`DATE_ORDERS`), or clear it with None (the zone's default
        then), with an audit row."""
        value = None if date_order is None else check_date_order(date_order)
        return await self._change(community_id, entry, lambda current: {"date_order": value})

    async def change_managers(self, community_id: str, entry: AuditEntry, *, add: Sequence[str] = (),
                              remove: Sequence[str] = ()) -> Community:
        """Remove `remove`, then append those of `add` not there yet, on the row as it is in the
        transaction (two concurrent changes both count). More than MAX_MANAGERS is refused."""
        check_user_ids([*add, *remove])

        def change(current: Community) -> Mapping[str, Any]:
            kept = [m for m in current.managers if m not in remove]
            return {"managers": check_managers([*kept, *add])}

        return await self._change(community_id, entry, change)

    async def _change(self, community_id: str, entry: AuditEntry,
                      change: Callable[[Community], Mapping[str, Any]]) -> Community:
        check_community_id(community_id)

        def run(dal: DAL) -> Community:
            # Make sure the row exists, then lock it (PostgreSQL), so replicas changing one community at
            # once apply their changes one after the other instead of overwriting each other.
            blank = {"community_id": community_id, "timezone": "UTC", "managers": [], "updated_by": entry.actor,
                     "updated_at": entry.at}
            dal.executesql(self.codec.insert_sql(blank) + " ON CONFLICT (community_id) DO NOTHING",
                           placeholders=[self.codec.param(k, v) for k, v in blank.items()])
            current = self._fetch(dal, community_id, lock=True)
            changes = dict(change(current))
            self.codec.update(dal, {**changes, "updated_by": entry.actor, "updated_at": entry.at},
                              "community_id = ?", [community_id])
            self.audit.write(dal, entry, "community", community_id, community_id,
                             {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in changes.items()})
            return self._fetch(dal, community_id)

        return await self.database.write(run)
