"""The audit log: one row per mutation, written in the mutation's own transaction, and read
back a page at a time (newest first)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydal import DAL

from ..scheduling.records import AuditRecord, Page
from ..scheduling.validation import AuditFilter
from .database import Database
from .sql import TableCodec, count


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
        self.database = database
        self.codec = TableCodec(database.dal, "audit_log", database.dialect)

    def write(self, dal: DAL, entry: AuditEntry, entity_type: str, entity_id: str | None,
              community_id: str | None, changes: Mapping[str, Any]) -> None:
        self.codec.insert(dal, {
            "at": entry.at, "actor": entry.actor, "action": entry.action, "entity_type": entity_type,
            "entity_id": entity_id, "community_id": community_id, "changes": dict(changes),
        })

    def _where(self, f: AuditFilter, scope: str | None) -> tuple[str, list[Any]]:
        """The filter as SQL; `scope` (a community) limits the rows to that community's own."""
        clauses, params = ["1 = 1"], []
        conditions: list[tuple[str, Any]] = [
            ("community_id = ?", scope), ("entity_type = ?", f.entity_type), ("entity_id = ?", f.entity_id),
            ("community_id = ?", f.community_id), ("actor = ?", f.actor), ("action = ?", f.action),
            ("at >= ?", self.database.dialect.ts(f.since)), ("at < ?", self.database.dialect.ts(f.until)),
        ]
        for clause, value in conditions:
            if value is not None:
                clauses.append(clause)
                params.append(value)
        return " AND ".join(clauses), params

    async def page(self, f: AuditFilter, scope: str | None, limit: int, offset: int) -> Page[AuditRecord]:
        """One page of the rows matching `f` within `scope`, newest first, and how many match."""
        where, params = self._where(f, scope)
        dialect = self.database.dialect

        def run(dal: DAL) -> Page[AuditRecord]:
            total = count(dal, dialect, f"SELECT COUNT(*) FROM audit_log WHERE {where}", params)
            rows = self.codec.select(dal, where, params,
                                     f"ORDER BY at DESC, id DESC LIMIT {int(limit)} OFFSET {int(offset)}")
            return Page([AuditRecord.from_row(r) for r in rows], total, limit, offset)

        return await self.database.read(run)
