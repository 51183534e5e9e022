"""A community's chat settings (managers, default time zone, chat platform, date order): what the
API, chat and the CLI change, each change audited with who made it."""

from __future__ import annotations

from collections.abc import Sequence

from ..clock import Clock
from ..db.audit import AuditEntry
from ..db.community_store import CommunityStore
from ..db.database import Database
from ..scheduling.community import DATE_ORDERS, MAX_MANAGERS, PLATFORMS, Community

__all__ = ["DATE_ORDERS", "MAX_MANAGERS", "PLATFORMS", "Community", "CommunityService"]


class CommunityService:
    def __init__(self, database: Database, clock: Clock) -> None:
        self.store = CommunityStore(database)
        self.clock = clock

    def _entry(self, actor: str, action: str) -> AuditEntry:
        return AuditEntry(actor, action, self.clock.now())

    async def get(self, community_id: str) -> Community:
        """The community's settings (defaults when nothing was set yet)."""
        return await self.store.get(community_id)

    async def platform_of(self, community_id: str) -> str | None:
        return (await self.store.get(community_id)).platform

    async def set_managers(self, community_id: str, managers: Sequence[str], *, actor: str) -> Community:
        return await self.store.update(community_id, self._entry(actor, "community.managers"),
                                       managers=list(managers))

    async def change_managers(self, community_id: str, *, actor: str, add: Sequence[str] = (),
                              remove: Sequence[str] = ()) -> Community:
        """Add and remove managers in one audited change (LimitExceeded past MAX_MANAGERS)."""
        return await self.store.change_managers(community_id, self._entry(actor, "community.managers"), add=add,
                                                remove=remove)

    async def set_timezone(self, community_id: str, zone: str, *, actor: str) -> Community:
        return await self.store.update(community_id, self._entry(actor, "community.timezone"), timezone=zone)

    async def set_platform(self, community_id: str, platform: str, *, actor: str) -> Community:
        return await self.store.update(community_id, self._entry(actor, "community.platform"), platform=platform)

    async def set_date_order(self, community_id: str, date_order: str | None, *, actor: str) -> Community:
        """`dmy` or `mdy`; None goes back to the default of the community's zone."""
        return await self.store.set_date_order(community_id, self._entry(actor, "community.date_order"), date_order)
