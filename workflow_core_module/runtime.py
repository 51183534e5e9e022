"""Runtime: what one serving process holds (the database and the services built on it), started
and stopped with the app's serving lifecycle. The HTTP layer sees it as api.context.Services."""

from __future__ import annotations

import asyncio
import gc
import logging
import sys

from .api.chat import Replays
from .api.metrics import Metrics
from .chat.service import ChatService
from .clock import Clock
from .config import Settings
from .db.database import Database, describe_url
from .db.key_store import KeyStore
from .db.migrations import migrate
from .db.workflow_store import WorkflowStore
from .engine.engine import WorkflowEngine
from .logs import system
from .services.access import Authenticator
from .services.alerts import AlertService
from .services.audit_service import AuditService
from .services.bulk import BulkService
from .services.calendar_service import CalendarService
from .services.community_service import CommunityService
from .services.coordination import Coordinator
from .services.run_views import RunViews
from .services.schedule_service import ScheduleService
from .services.scheduler import Scheduler
from .services.status import StatusReport
from .services.transfer import TransferService
from .services.workflow_service import WorkflowService

log = logging.getLogger(__name__)


class Runtime:
    """What one serving process holds: the database and the services built on it."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.metrics = Metrics()
        self.database: Database
        self.engine: WorkflowEngine
        self.schedules: ScheduleService
        self.calendars: CalendarService
        self.scheduler: Scheduler
        self.workflows: WorkflowService
        self.bulk: BulkService
        self.transfer: TransferService
        self.keys: KeyStore
        self.communities: CommunityService
        self.chat: ChatService
        self.auth: Authenticator
        self.audit: AuditService
        self.alerts: AlertService
        self.coordinator: Coordinator | None = None
        self.status: StatusReport
        self.views: RunViews
        self.chat_replays = Replays(clock)
        self.started = False

    async def start(self) -> None:
        self.database = await Database.connect(self.settings.database_url)
        applied = await migrate(self.database)
        self.engine = WorkflowEngine(self.database, self.settings, store=WorkflowStore(self.database),
                                     clock=self.clock)
        self.schedules = ScheduleService(self.database, self.settings, clock=self.clock)
        self.calendars = CalendarService(self.database, self.schedules.changes, clock=self.clock)
        self.scheduler = Scheduler(self.database, self.settings, engine=self.engine, schedules=self.schedules,
                                   clock=self.clock)
        self.workflows = WorkflowService(self.engine, self.clock)
        self.alerts = AlertService(self.schedules, self.scheduler.alerts)
        self.bulk = BulkService(self.schedules)
        self.transfer = TransferService(self.schedules, self.workflows)
        self.keys = KeyStore(self.database)
        self.audit = AuditService(self.database)
        self.communities = CommunityService(self.database, self.clock)
        self.engine.use_community_platforms(self.communities.platform_of)
        self.views = RunViews(self.schedules, self.workflows)
        self.status = StatusReport(self.settings, self.clock, self.database, self.schedules, self.scheduler)
        self.auth = Authenticator(self.keys, self.clock, self.settings.admin_api_key,
                                  self.settings.router_service_key)
        if not self.settings.admin_api_key:
            await self._first_admin_key()
        loop = await self.scheduler.start()
        self.metrics.watch(self.schedules.cache, self.scheduler.dispatcher, loop)
        self.scheduler.alerts.listeners.append(self.metrics.alert_sent)
        if self.settings.redis_url:
            self.coordinator = Coordinator(self.settings.redis_url, self.settings.database_url, self.schedules,
                                           self.scheduler,
                                           on_state=lambda up: setattr(loop, "degraded", not up))
            loop.degraded = True  # until Redis answers
            self.status.coordinator = self.coordinator
            await self.coordinator.start()
        # chat's rate limit counts on Redis with the other replicas when there is one (the coordinator's client)
        self.chat = ChatService(self.schedules, self.scheduler, self.workflows, self.communities, self.settings,
                                self.clock, shared=self.coordinator)
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
        self.views.close()
        self.schedules.overlap_finder.close()
        await self.engine.close()
        await self.database.close()
        system(log, "service.stop", "service stopped")
