"""The status read model: the health report (database, Redis, scheduler) and the scheduler's
status as a caller may see it (a community key sees its own community only)."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any

from ..clock import Clock
from ..config import Settings
from ..db.database import Database
from ..scheduling.types import iso_z_or_none as ts
from .coordination import Coordinator
from .run_views import next_runs
from .schedule_service import ScheduleService
from .scheduler import Scheduler

log = logging.getLogger(__name__)

HEALTH_DB_TIMEOUT_SECONDS = 2.0
NEXT_RUNS = 3  # the soonest runs the status lists


class StatusReport:
    def __init__(self, settings: Settings, clock: Clock, database: Database, schedules: ScheduleService,
                 scheduler: Scheduler) -> None:
        self.settings = settings
        self.clock = clock
        self.database = database
        self.schedules = schedules
        self.scheduler = scheduler
        self.coordinator: Coordinator | None = None  # set once Redis is configured and started

    def _cache_view(self) -> dict[str, Any]:
        """What this replica's own cache holds (changes from other replicas arrive through Redis)."""
        head = self.schedules.cache.next_due()
        return {"active_schedules": len(self.schedules.cache), "next_due_at": ts(head[1]) if head else None}

    def _scheduler_view(self, now: datetime) -> dict[str, Any]:
        loop = self.scheduler.loop
        head = self.schedules.cache.next_due()
        lag = max(0.0, (now - head[1]).total_seconds()) if head is not None else 0.0
        return {"running": bool(loop and loop.running), "last_pass_at": ts(loop.last_pass_at if loop else None),
                "lag_seconds": round(lag, 3)}

    async def health(self) -> dict[str, Any]:
        now = self.clock.now()
        checks: dict[str, Any] = {}
        began = time.perf_counter()
        try:
            await asyncio.wait_for(self.database.ping(), HEALTH_DB_TIMEOUT_SECONDS)
            checks["database"] = {"status": "ok", "latency_ms": round((time.perf_counter() - began) * 1000, 1)}
        except Exception as exc:
            checks["database"] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
        if self.coordinator is None:
            checks["redis"] = {"status": "disabled"}
        elif await self.coordinator.ping():
            checks["redis"] = {"status": "ok"}
        else:
            checks["redis"] = {"status": "error", "error": self.coordinator.last_error}
        scheduler = self._scheduler_view(now)
        loop = self.scheduler.loop
        stale_after = 2 * self.settings.poll_interval_seconds
        fresh = bool(loop and loop.last_pass_at and (now - loop.last_pass_at).total_seconds() <= stale_after)
        scheduler["status"] = "ok" if scheduler["running"] and fresh else "error"
        checks["scheduler"] = scheduler
        if checks["database"]["status"] != "ok" or scheduler["status"] != "ok":
            status = "unhealthy"
        elif checks["redis"]["status"] == "error":
            status = "degraded"
        else:
            status = "healthy"
        return {"status": status, "checks": checks}

    async def scheduler_status(self, scope: str | None) -> dict[str, Any]:
        """The scheduler as a global key sees it; a community key sees its own community only
        (no other community's counts or names, no host, pid or replica)."""
        now = self.clock.now()
        store = self.schedules.store
        loop = self.scheduler.loop
        head = await store.next_due(scope)
        failures = [{**f, "scheduled_for": ts(f["scheduled_for"]), "finished_at": ts(f["finished_at"])}
                    for f in await store.recent_failures(scope)]
        next_due = {"schedule_id": head[0], "name": head[1], "at": ts(head[2])} if head else None
        upcoming = [{"schedule_id": s.schedule_id, "name": s.name, "timezone": s.timezone, "at": ts(at)}
                    for s, at in next_runs(await store.soonest(scope, NEXT_RUNS), now, NEXT_RUNS)]
        if scope is not None:
            lag = max(0.0, (now - head[2]).total_seconds()) if head is not None else 0.0
            return {"running": bool(loop and loop.running), "last_pass_at": ts(loop.last_pass_at if loop else None),
                    "lag_seconds": round(lag, 3), "active_schedules": await store.count_active(scope),
                    "next_due": next_due, "next_runs": upcoming, "recent_failures": failures,
                    "maintenance": {**await self._maintenance(), "by": None}}  # not who, for a community
        last = loop.last_pass if loop else None
        return {
            **self._scheduler_view(now),
            "replica_id": self.scheduler.replica_id,
            "cache": self._cache_view(),
            "active_schedules": len(self.schedules.cache),
            "next_due": next_due,
            "next_runs": upcoming,
            "last_pass": None if last is None else {
                "due": last.due, "fired": last.fired, "missed": last.missed, "skipped": last.skipped,
                "duration_ms": round(last.duration_ms, 2)},
            "replicas": await self._replicas(now),
            "recent_failures": failures,
            "maintenance": await self._maintenance(),
        }

    async def _maintenance(self) -> dict[str, Any]:
        m = await self.scheduler.maintenance()
        return {"paused": m.paused, "reason": m.reason, "since": ts(m.since), "by": m.by}

    async def _replicas(self, now: datetime) -> list[dict[str, Any]]:
        """Live replicas: from their Redis heartbeat keys, or the database's heartbeat rows."""
        if self.coordinator is not None and self.coordinator.up:
            try:
                return [{**r, "started_at": _iso_z(r["started_at"]), "last_pass_at": _iso_z(r["last_pass_at"]),
                         "source": "redis"} for r in await self.coordinator.replicas()]
            except Exception as exc:  # Redis went away between the check and the read
                log.debug("replica list from Redis failed: %s", exc)
        loop = self.scheduler.loop
        rows = await self.scheduler.replicas.live(now, loop.replica_timeout_seconds if loop else 30.0)
        return [{"replica_id": r["replica_id"], "host": r["host"], "pid": r["pid"], "started_at": ts(r["started_at"]),
                 "last_pass_at": ts(r["last_pass_at"]), "heartbeat_at": ts(r["heartbeat_at"]), "source": "database"}
                for r in rows]


def _iso_z(value: str | None) -> str | None:
    """A time a replica wrote into Redis (ISO text), as answers write instants."""
    return None if value is None else ts(datetime.fromisoformat(value))
