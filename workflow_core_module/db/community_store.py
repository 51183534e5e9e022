"""Per-community settings for chat: the default time zone, the platform and the managers (chat user ids).

The rules for these values live here, once: the API, the CLI and the chat commands all check
with :func:`check_platform` and :func:`user_id_problem`, and the store checks again.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydal import DAL

from ..config import CHAT_PLATFORMS
from ..errors import Invalid, LimitExceeded
from .audit import AuditEntry, AuditLog
from .database import Database
from .sql import TableCodec

PLATFORMS = CHAT_PLATFORMS  # the platforms WaddleBot's router knows
"""The chat platforms a community can be on (what the router's send endpoint is told)."""
MAX_MANAGERS = 500
MAX_USER_ID_CHARS = 100
MAX_COMMUNITY_ID_CHARS = 100


@dataclass(frozen=True, slots=True)
class Community:
    community_id: str
    timezone: str = "UTC"
    managers: tuple[str, ...] = ()
    platform: str | None = None  # one of PLATFORMS, or None when nobody has set it


def check_platform(value: str) -> str:
    """`value` as one of :data:`PLATFORMS` (any case, outer spaces ignored), else Invalid."""
    name = value.strip().lower() if isinstance(value, str) else ""
    if name not in PLATFORMS:
        raise Invalid({"platform": f"must be one of {', '.join(PLATFORMS)}"})
    return name


def user_id_problem(user_id: str) -> str | None:
    """What is wrong with `user_id` as a manager's chat user id, or None when it is fine."""
    if not isinstance(user_id, str) or not user_id:
        return "a user id must not be empty"
    if len(user_id) > MAX_USER_ID_CHARS:
        return f"a user id has at most {MAX_USER_ID_CHARS} characters"
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in user_id):
        return "a user id has no spaces or control characters"
    return None


def _check_community_id(community_id: str) -> None:
    if not 1 <= len(community_id) <= MAX_COMMUNITY_ID_CHARS:
        raise Invalid({"community_id": f"1-{MAX_COMMUNITY_ID_CHARS} characters"})


def _check_user_ids(user_ids: Sequence[str]) -> None:
    for user_id in user_ids:
        problem = user_id_problem(user_id)
        if problem:
            raise Invalid({"managers": problem})


def _check_managers(managers: Sequence[str]) -> tuple[str, ...]:
    _check_user_ids(managers)
    unique = tuple(dict.fromkeys(managers))
    if len(unique) > MAX_MANAGERS:
        raise LimitExceeded(f"a community has at most {MAX_MANAGERS} managers",
                                     {"limit": MAX_MANAGERS, "field": "managers"})
    return unique


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
        return Community(community_id, row["timezone"] or "UTC", tuple(row["managers"] or ()), row["platform"])

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
            changes["managers"] = _check_managers(managers)
        if platform is not None:
            changes["platform"] = check_platform(platform)
        return await self._change(community_id, entry, lambda current: changes)

    async def change_managers(self, community_id: str, entry: AuditEntry, *, add: Sequence[str] = (),
                              remove: Sequence[str] = ()) -> Community:
        """Remove `remove`, then append those of `add` not there yet, on the row as it is in the
        transaction (two concurrent changes both count). More than MAX_MANAGERS is refused."""
        _check_user_ids([*add, *remove])

        def change(current: Community) -> Mapping[str, Any]:
            kept = [m for m in current.managers if m not in remove]
            return {"managers": _check_managers([*kept, *add])}

        return await self._change(community_id, entry, change)

    async def _change(self, community_id: str, entry: AuditEntry,
                      change: Callable[[Community], Mapping[str, Any]]) -> Community:
        _check_community_id(community_id)

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
