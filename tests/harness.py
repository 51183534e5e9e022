"""A scheduler under test: real database, engine and loop, driven by a manual clock."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from workflow_core_module.clock import Clock, ManualClock
from workflow_core_module.config import Settings
from workflow_core_module.db.database import Database
from workflow_core_module.db.workflow_store import WorkflowStore
from workflow_core_module.engine.actions import StepContext, StepFailed
from workflow_core_module.engine.engine import WorkflowEngine
from workflow_core_module.services.schedule_service import ScheduleService
from workflow_core_module.services.scheduler import Scheduler as SchedulerService
from workflow_core_module.services.scheduler_loop import PassResult, SchedulerLoop

from .conftest import add_workflow


@dataclass
class Recorder:
    """A registered action that counts its calls; it can be told to block or to fail."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    gate: asyncio.Event | None = None
    fail_first: int = 0
    started: asyncio.Event = field(default_factory=asyncio.Event)
    active: int = 0  # calls inside the step now
    max_active: int = 0  # the most that ever were at once

    async def __call__(self, params: dict[str, Any], context: StepContext) -> dict[str, Any]:
        self.calls.append(dict(context.trigger))
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        self.started.set()
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.fail_first > 0:
                self.fail_first -= 1
                raise StepFailed("told to fail")
            return {"n": len(self.calls)}
        finally:
            self.active -= 1

    def per_occurrence(self) -> Counter[tuple[str, str]]:
        return Counter((c["schedule_id"], c["scheduled_for"]) for c in self.calls)


class Scheduler:
    def __init__(self, database: Database, settings: Settings, clock: Clock) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self.engine = WorkflowEngine(database, settings, store=WorkflowStore(database), clock=clock)
        self.recorder = Recorder()
        self.engine.register_action("record", self.recorder)
        self.service = ScheduleService(database, settings, clock=clock)
        self.scheduler = SchedulerService(database, settings, engine=self.engine, schedules=self.service, clock=clock)
        self.loop: SchedulerLoop | None = None

    async def workflow(self, **kw: Any) -> str:
        kw.setdefault("steps", [{"action": "record"}])
        return await add_workflow(self.database, **kw)

    def attach_loop(self, **options: Any) -> SchedulerLoop:
        """A loop driven by hand (no background task): call `tick`."""
        self.loop = self.scheduler.new_loop(**options)
        return self.loop

    async def tick(self, seconds: float = 0.0) -> PassResult:
        """Advance the clock, run one pass, and let what it started run to its end."""
        assert self.loop is not None
        if seconds and isinstance(self.clock, ManualClock):
            self.clock.advance(seconds)
        result = await self.loop.run_pass(self.clock.now())
        await self.settle()
        return result

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until no run of this process is pending."""
        dispatcher = self.scheduler.dispatcher
        try:
            async with asyncio.timeout(timeout):
                await dispatcher.idle()
        except TimeoutError:
            raise TimeoutError(f"{dispatcher.pending} run(s) still pending after {timeout} s") from None

    async def runs(self, schedule_id: str) -> list[Any]:
        page = await self.service.get_history(schedule_id, limit=500)
        return list(reversed(page.items))

    async def statuses(self, schedule_id: str) -> list[str]:
        return [r.status for r in await self.runs(schedule_id)]

    async def close(self) -> None:
        await self.scheduler.stop(grace_seconds=1)
        await self.engine.close()


def at(clock: ManualClock, seconds: float) -> datetime:
    return clock.now() + timedelta(seconds=seconds)


async def until(predicate: Callable[[], Any] | Callable[[], Awaitable[Any]], *, timeout: float = 10.0,
                what: str = "the condition") -> Any:
    """Wait until `predicate()` (plain or async) returns something true, and return it.

    Tests wait for what they expect to see, never for an amount of time; a condition that does
    not come true within `timeout` seconds (real time) fails the test naming `what`.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)


def sleepers(clock: ManualClock) -> list[float]:
    """Seconds from now until each pending ManualClock sleep ends."""
    return [(deadline - clock.now()).total_seconds() for deadline in clock.sleeping_until()]


async def api_call(app: Any, method: str, path: str, body: Any = None,
                   headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One request through the app's test client with the global key (conftest.ADMIN_KEY): (status,
    the parsed JSON body or None)."""
    response = await getattr(app.test_client(), method)(path, headers=headers or {"X-API-Key": "admin-secret"},
                                                        json=body)
    data = await response.get_data()
    return response.status_code, json.loads(data) if data else None
