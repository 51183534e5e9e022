"""create_app(settings) -> the Quart app, with the database and services tied to its lifecycle."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
from datetime import datetime
from typing import Any

from quart import Quart

from . import __version__
from .api import register_api
from .api.auth import Authenticator
from .api.chat import Replays
from .api.metrics import Metrics
from .api.serialize import ts
from .chat.service import ChatService
from .clock import Clock, SystemClock
from .config import Settings
from .db.database import Database, describe_url
from .db.key_store import KeyStore
from .db.migrations import migrate
from .db.workflow_store import WorkflowStore
from .engine.engine import WorkflowEngine
from .logs import system
from .services.community_service import CommunityService
from .services.coordination import Coordinator
from .services.schedule_service import ScheduleService
from .services.scheduler import Scheduler
from .services.workflow_service import WorkflowService

log = logging.getLogger(__name__)

HEALTH_DB_TIMEOUT_SECONDS = 2.0


class Runtime:
    """What one serving process holds: the database and the services built on it."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.metrics = Metrics()
        self.database: Database
        self.engine: WorkflowEngine
        self.schedules: ScheduleService
        self.scheduler: Scheduler
        self.workflows: WorkflowService
        self.keys: KeyStore
        self.communities: CommunityService
        self.chat: ChatService
        self.auth: Authenticator
        self.coordinator: Coordinator | None = None
        self.chat_replays = Replays(clock)
        self.started = False

    async def start(self) -> None:
        self.database = await Database.connect(self.settings.database_url)
        applied = await migrate(self.database)
        self.engine = WorkflowEngine(self.database, self.settings, store=WorkflowStore(self.database),
                                     clock=self.clock)
        self.schedules = ScheduleService(self.database, self.settings, clock=self.clock)
        self.scheduler = Scheduler(self.database, self.settings, engine=self.engine, schedules=self.schedules,
                                   clock=self.clock)
        self.workflows = WorkflowService(self.engine, self.clock)
        self.keys = KeyStore(self.database)
        self.communities = CommunityService(self.database, self.clock)
        self.engine.use_community_platforms(self.communities.platform_of)
        self.chat = ChatService(self.schedules, self.scheduler, self.workflows, self.communities, self.settings,
                                self.clock)
        self.auth = Authenticator(self.keys, self.clock, self.settings.admin_api_key,
                                  self.settings.router_service_key)
        if not self.settings.admin_api_key:
            await self._first_admin_key()
        loop = await self.scheduler.start()
        self.metrics.watch(self.schedules.cache, self.scheduler.dispatcher, loop)
        if self.settings.redis_url:
            self.coordinator = Coordinator(self.settings.redis_url, self.settings.database_url, self.schedules,
                                           self.scheduler,
                                           on_state=lambda up: setattr(loop, "degraded", not up))
            loop.degraded = True  # until Redis answers
            await self.coordinator.start()
        # Everything built so far (modules, templates, the cache rebuild) lives as long as the
        # process: move it out of the collector's way, so full collections stay short.
        gc.collect()
        gc.freeze()
        self.started = True
        system(log, "service.start", "service started", database=describe_url(self.settings.database_url),
               migrations_applied=len(applied), active_schedules=len(self.schedules.cache),
               replica_id=self.scheduler.replica_id)

    async def _first_admin_key(self) -> None:
        key = await self.keys.ensure_admin(self.clock.now())
        if key is None:
            return
        # Shown once, on stdout only (never logged): only its hash is stored.
        print("\n" + "=" * 72 + "\nAdmin API key (global; shown once, store it now):\n\n    " + key
              + "\n\nSend it as the X-API-Key header. Set ADMIN_API_KEY to use a key of your own.\n" + "=" * 72,
              file=sys.stdout, flush=True)
        system(log, "key.bootstrap", "generated the admin API key (printed once on stdout)")

    async def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        grace = self.settings.shutdown_grace_seconds
        if self.coordinator is not None:
            await self.coordinator.close()
        await asyncio.gather(self.scheduler.stop(grace), self.workflows.close(grace))
        await self.engine.close()
        await self.database.close()
        system(log, "service.stop", "service stopped")

    # ---- probes -----------------------------------------------------------------------------

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
            await asyncio.wait_for(self.database.read(lambda dal: dal.executesql("SELECT 1")),
                                   HEALTH_DB_TIMEOUT_SECONDS)
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
        if scope is not None:
            lag = max(0.0, (now - head[2]).total_seconds()) if head is not None else 0.0
            return {"running": bool(loop and loop.running), "last_pass_at": ts(loop.last_pass_at if loop else None),
                    "lag_seconds": round(lag, 3), "active_schedules": await store.count_active(scope),
                    "next_due": next_due, "recent_failures": failures}
        last = loop.last_pass if loop else None
        return {
            **self._scheduler_view(now),
            "replica_id": self.scheduler.replica_id,
            "cache": self._cache_view(),
            "active_schedules": len(self.schedules.cache),
            "next_due": next_due,
            "last_pass": None if last is None else {
                "due": last.due, "fired": last.fired, "missed": last.missed, "skipped": last.skipped,
                "duration_ms": round(last.duration_ms, 2)},
            "replicas": await self._replicas(now),
            "recent_failures": failures,
        }

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


def create_app(settings: Settings, *, clock: Clock | None = None) -> Quart:
    app = Quart(__name__)
    runtime = Runtime(settings, clock or SystemClock())
    app.extensions["runtime"] = runtime
    register_api(app, __version__)

    @app.before_serving
    async def _start() -> None:
        await runtime.start()

    @app.after_serving
    async def _stop() -> None:
        await runtime.stop()

    return app
