"""create_app(settings) -> the Quart app, with the database and services tied to its lifecycle."""

from __future__ import annotations

import logging
from typing import Any

from quart import Quart

from .clock import Clock, SystemClock
from .config import Settings
from .db.database import Database, describe_url
from .db.migrations import migrate
from .db.workflow_store import WorkflowStore
from .engine.engine import WorkflowEngine
from .logs import system
from .services.schedule_service import ScheduleService

log = logging.getLogger(__name__)


class Runtime:
    """What one serving process holds: the database and the services built on it."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.database: Database | None = None
        self.engine: WorkflowEngine | None = None
        self.schedules: ScheduleService | None = None

    async def start(self) -> None:
        self.database = await Database.connect(self.settings.database_url)
        applied = await migrate(self.database)
        self.engine = WorkflowEngine(self.database, self.settings, store=WorkflowStore(self.database),
                                     clock=self.clock)
        self.schedules = ScheduleService(self.database, self.settings, clock=self.clock, engine=self.engine)
        await self.schedules.start_scheduler()
        system(log, "service.start", "service started", database=describe_url(self.settings.database_url),
               migrations_applied=len(applied), active_schedules=len(self.schedules.cache),
               replica_id=self.schedules.replica_id)

    async def stop(self) -> None:
        if self.schedules is not None:
            await self.schedules.stop_scheduler()
        if self.engine is not None:
            await self.engine.close()
        if self.database is not None:
            await self.database.close()
        system(log, "service.stop", "service stopped")


def create_app(settings: Settings, *, clock: Clock | None = None) -> Quart:
    app = Quart(__name__)
    runtime = Runtime(settings, clock or SystemClock())
    app.extensions["runtime"] = runtime

    @app.before_serving
    async def _start() -> None:
        await runtime.start()

    @app.after_serving
    async def _stop() -> None:
        await runtime.stop()

    @app.get("/health")
    async def health() -> Any:
        return {"status": "ok"}

    return app
