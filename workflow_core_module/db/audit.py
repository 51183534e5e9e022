"""The audit log: one row per mutation, written in the mutation's own transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydal import DAL

from .database import Database
from .sql import TableCodec


@dataclass(frozen=True, slots=True)
class AuditEntry:
    actor: str
    action: str
    at: datetime


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "value") and not isinstance(value, (str, int, float, bool)):
        return value.value  # enums
    return value


def changed_fields(before: Any, after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """field -> [old, new] for every value in `after` that differs from `before`'s attribute."""
    changes: dict[str, list[Any]] = {}
    for name, new in after.items():
        if name == "updated_at":
            continue
        old = getattr(before, name, None) if before is not None else None
        if _jsonable(old) != _jsonable(new):
            changes[name] = [_jsonable(old), _jsonable(new)]
    return changes


class AuditLog:
    def __init__(self, database: Database) -> None:
        self.codec = TableCodec(database.dal, "audit_log", database.dialect)

    def write(self, dal: DAL, entry: AuditEntry, entity_type: str, entity_id: str | None,
              community_id: str | None, changes: Mapping[str, Any]) -> None:
        self.codec.insert(dal, {
            "at": entry.at, "actor": entry.actor, "action": entry.action, "entity_type": entity_type,
            "entity_id": entity_id, "community_id": community_id, "changes": dict(changes),
        })
