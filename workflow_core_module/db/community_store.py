"""Per-community settings for chat: the default time zone and the managers (chat user ids)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydal import DAL

from .audit import AuditEntry, AuditLog
from .database import Database
from .sql import TableCodec


@dataclass(frozen=True, slots=True)
class Community:
    community_id: str
    timezone: str = "UTC"
    managers: tuple[str, ...] = ()


class CommunityStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.codec = TableCodec(database.dal, "communities", database.dialect)
        self.audit = AuditLog(database)

    def _fetch(self, dal: DAL, community_id: str) -> Community:
        rows = self.codec.select(dal, "community_id = ?", [community_id])
        if not rows:
            return Community(community_id)
        return Community(community_id, rows[0]["timezone"] or "UTC", tuple(rows[0]["managers"] or ()))

    async def get(self, community_id: str) -> Community:
        return await self.database.read(self._fetch, community_id)

    async def update(self, community_id: str, entry: AuditEntry, *, timezone: str | None = None,
                     managers: Sequence[str] | None = None) -> Community:
        """Set the zone and/or the managers (creating the row on first use), with an audit row."""

        def run(dal: DAL) -> Community:
            current = self._fetch(dal, community_id)
            values = {"community_id": community_id, "timezone": timezone or current.timezone,
                      "managers": list(current.managers if managers is None else managers),
                      "updated_by": entry.actor, "updated_at": entry.at}
            # An upsert, so two replicas writing a new community at once cannot collide.
            sql = self.codec.insert_sql(values) + (
                " ON CONFLICT (community_id) DO UPDATE SET timezone = excluded.timezone, "
                "managers = excluded.managers, updated_by = excluded.updated_by, updated_at = excluded.updated_at")
            dal.executesql(sql, placeholders=[self.codec.param(k, v) for k, v in values.items()])
            changes = {k: v for k, v in (("timezone", timezone), ("managers", managers)) if v is not None}
            self.audit.write(dal, entry, "community", community_id, community_id,
                             {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in changes.items()})
            return self._fetch(dal, community_id)

        return await self.database.write(run)

