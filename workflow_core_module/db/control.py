"""Maintenance mode, kept in the database (one row of scheduler_control) so that every replica
obeys it and it survives restarts. The claim reads it in its own transaction (db/ledger.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydal import DAL

from ..scheduling import as_utc
from ..scheduling.records import Maintenance
from .audit import AuditEntry, AuditLog
from .database import Database, Dialect, cursor

_READ = "SELECT paused, reason, since, paused_by FROM scheduler_control WHERE id = 1"


def read_maintenance(dal: DAL, dialect: Dialect) -> Maintenance:
    cur = cursor(dal)
    cur.execute(_READ)
    row = cur.fetchone()
    if row is None:
        return Maintenance()
    since = row[2]
    if isinstance(since, str):
        since = datetime.fromisoformat(since)
    return Maintenance(row[0] in (True, "T", 1), row[1], None if since is None else as_utc(since), row[3])


class ControlStore:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.dialect = database.dialect
        self.audit = AuditLog(database)

    async def get(self) -> Maintenance:
        return await self.database.read(read_maintenance, self.dialect)

    async def set(self, state: Maintenance, entry: AuditEntry) -> tuple[Maintenance, Maintenance]:
        """Write `state` (audited in the same transaction); (before, after)."""

        def run(dal: DAL) -> tuple[Maintenance, Maintenance]:
            before = read_maintenance(dal, self.dialect)
            d = self.dialect
            params: list[Any] = [d.true if state.paused else d.false, state.reason, d.ts(state.since), state.by]
            dal.executesql(d.params("UPDATE scheduler_control SET paused = ?, reason = ?, since = ?, paused_by = ? "
                                    "WHERE id = 1"), placeholders=params)
            if before.paused != state.paused:
                self.audit.write(dal, entry, "scheduler", None, None,
                                 {"paused": state.paused, "reason": state.reason})
            return before, state

        return await self.database.write(run)
