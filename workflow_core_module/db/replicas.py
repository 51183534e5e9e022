"""The scheduler_replicas table: each replica's heartbeat, so that others know who is alive (and
whose unfinished runs to resolve when it stops)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydal import DAL

from ..scheduling import as_utc
from .database import Database, cursor


class ReplicaRegistry:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.dialect = database.dialect

    async def heartbeat(self, replica_id: str, host: str, pid: int, started_at: datetime, now: datetime,
                        last_pass_at: datetime | None) -> None:
        ts = self.dialect.ts

        def run(dal: DAL) -> None:
            beat = cursor(dal)
            beat.execute(self.dialect.params(
                "UPDATE scheduler_replicas SET heartbeat_at = ?, last_pass_at = ? WHERE replica_id = ?"),
                (ts(now), ts(last_pass_at), replica_id))
            if beat.rowcount == 0:
                beat.execute(self.dialect.params(
                    "INSERT INTO scheduler_replicas (replica_id, host, pid, started_at, heartbeat_at, last_pass_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)"), (replica_id, host, pid, ts(started_at), ts(now), ts(last_pass_at)))

        await self.database.write(run)

    async def leave(self, replica_id: str) -> None:
        await self.database.write(lambda dal: dal.executesql(
            self.dialect.params("DELETE FROM scheduler_replicas WHERE replica_id = ?"), placeholders=[replica_id]))

    async def live(self, now: datetime, timeout_seconds: float) -> list[dict[str, Any]]:
        """Replicas whose heartbeat is fresh."""
        since = now - timedelta(seconds=timeout_seconds)
        sql = self.dialect.params(
            "SELECT replica_id, host, pid, started_at, heartbeat_at, last_pass_at FROM scheduler_replicas "
            "WHERE heartbeat_at >= ? ORDER BY started_at")
        rows = await self.database.read(lambda dal: dal.executesql(sql, placeholders=[self.dialect.ts(since)]))
        return [{"replica_id": r[0], "host": r[1], "pid": r[2], "started_at": as_utc(r[3]),
                 "heartbeat_at": as_utc(r[4]), "last_pass_at": as_utc(r[5]) if r[5] else None} for r in rows]
