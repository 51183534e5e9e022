"""The scheduler of one replica: its run ledger, replica registry, dispatcher and loop, their
lifecycle, and runs started by hand.

It talks to schedule CRUD (ScheduleService) through the change publisher only: it hears every
committed change and publishes what its claims move. It reads a schedule (for a run by hand) and
pauses one its rules cannot plan through the service's public methods.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from ..clock import Clock, SystemClock, sleep_unless
from ..config import Settings
from ..db.audit import AuditEntry
from ..db.chains import Chained
from ..db.control import ControlStore
from ..db.database import Database
from ..db.journal import AutoPaused
from ..db.ledger import Fire, RunLedger
from ..db.replicas import ReplicaRegistry
from ..db.schedule_store import Scope
from ..engine.engine import WorkflowEngine
from ..errors import Forbidden, Invalid, Unavailable
from ..logs import audit
from ..scheduling import OverlapPolicy, next_occurrence
from ..scheduling.occurrences import occurrences_between
from ..scheduling.records import Maintenance
from ..scheduling.validation import MAX_PAUSE_REASON_CHARS, ValidationError, validate_backfill
from .alerts import AlertDeliverer
from .changes import ScheduleChange
from .dispatcher import Dispatcher
from .schedule_service import ScheduleService
from .scheduler_loop import SchedulerLoop

log = logging.getLogger(__name__)


def new_replica_id() -> str:
    """hostname-pid-random: unique per process start, readable in the replica list."""
    return f"{socket.gethostname()[:30]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class Scheduler:
    def __init__(self, database: Database, settings: Settings, *, engine: WorkflowEngine,
                 schedules: ScheduleService, clock: Clock | None = None, replica_id: str | None = None) -> None:
        self.database = database
        self.settings = settings
        self.engine = engine
        self.schedules = schedules
        self.changes = schedules.changes
        self.clock: Clock = clock or SystemClock()
        self.replica_id = replica_id or new_replica_id()
        self.ledger = RunLedger(database)
        self.ledger.journal.alerts.operator = bool(settings.alert_webhook_url)
        self.control = ControlStore(database)
        self.replicas = ReplicaRegistry(database)
        self.dispatcher = Dispatcher(engine, self.ledger, settings, self.clock, self.replica_id)
        self.alerts = AlertDeliverer(self.ledger.alerts, engine, settings, self.clock, self.replica_id)
        self.ledger.journal.alert_listeners.append(self.alerts.nudge)
        self.loop: SchedulerLoop | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._pauses_task: asyncio.Task[None] | None = None
        self._pauses_changed = asyncio.Event()
        self.changes.subscribe(self._heard)
        self.ledger.journal.paused_listeners.append(self._paused_itself)
        self.ledger.journal.chain_listeners.append(self._chained)

    def new_loop(self, **loop_options: Any) -> SchedulerLoop:
        """A loop over this scheduler's parts, not started (tests drive its passes by hand)."""
        return SchedulerLoop(self.changes, self.dispatcher, self.ledger, self.replicas, self.settings, self.clock,
                             set_aside=self._set_aside, replica_id=self.replica_id, **loop_options)

    async def start(self, **loop_options: Any) -> SchedulerLoop:
        """Rebuild the cache and start the loop as a background task."""
        if self.loop is not None:
            return self.loop
        await self.schedules.load_cache()
        self.engine.warm_up()
        self.loop = self.new_loop(**loop_options)
        self._loop_task = asyncio.create_task(self.loop.run(), name="scheduler-loop")
        self._pauses_task = asyncio.create_task(self.keep_pauses(), name="pause-keeper")
        self.alerts.start()
        return self.loop

    def _paused_itself(self, paused: list[AutoPaused]) -> None:
        for p in paused:
            self.changes.publish(p.schedule_pk, p.schedule_id, None)
            audit(log, "schedule.pause", f"schedule paused after {p.failures} consecutive failures", actor="system",
                  schedule_id=p.schedule_id, community_id=p.community_id)

    def _chained(self, chained: Chained) -> None:
        """Chain runs committed with their upstream run's end: run them here. One the dispatcher
        no longer takes (shutting down) stays queued and is recovered as an orphan."""
        for pk, schedule_id in chained.ended:
            self.changes.publish(pk, schedule_id, None)
        self.dispatcher.cancel(chained.cancelled)
        for fire in chained.fires:
            try:
                self.dispatcher.submit(fire)
            except RuntimeError:
                log.warning("chain run %s of schedule %s left queued: the dispatcher is shutting down", fire.run_id,
                            fire.schedule_id, extra={"category": "SYSTEM", "action": "run.chain_queued"})

    def _heard(self, change: ScheduleChange) -> None:
        if change.resume_at is not None:  # a pause made here that lifts itself
            self._pauses_changed.set()

    async def keep_pauses(self) -> None:
        """Lift pauses whose `until` has come, on whichever replica is up: at the earliest end this
        replica knows of (a pause with an end made here wakes it), and at least every
        POLL_INTERVAL_SECONDS (pauses made on another replica)."""
        while True:
            self._pauses_changed.clear()
            try:
                next_end = await self.schedules.end_due_pauses()
            except Exception:
                log.exception("could not lift the pauses that have ended", extra={"category": "ERROR"})
                next_end = None
            wait = self.settings.poll_interval_seconds
            if next_end is not None:
                wait = min(wait, max(0.0, (next_end - self.clock.now()).total_seconds()))
            await sleep_unless(self.clock, wait, self._pauses_changed)

    async def stop(self, grace_seconds: float | None = None) -> None:
        """Stop claiming, let running workflows finish (up to the grace), record the rest."""
        grace = self.settings.shutdown_grace_seconds if grace_seconds is None else grace_seconds
        if self._pauses_task is not None:
            self._pauses_task.cancel()
            await asyncio.gather(self._pauses_task, return_exceptions=True)
            self._pauses_task = None
        if self.loop is not None and self._loop_task is not None:
            self.loop.stop()
            try:
                await asyncio.wait_for(asyncio.shield(self._loop_task), timeout=max(grace, 5.0))
            except asyncio.TimeoutError:
                self._loop_task.cancel()
                await asyncio.gather(self._loop_task, return_exceptions=True)
        await self.dispatcher.close(grace)
        await self.alerts.stop()
        if self.loop is not None:
            try:
                await self.replicas.leave(self.replica_id)
            except Exception:
                log.warning("could not remove replica %s from the replica list", self.replica_id,
                            extra={"category": "ERROR"})
        self.loop, self._loop_task = None, None

    # ---- maintenance mode ---------------------------------------------------------------------

    async def maintenance(self) -> Maintenance:
        return await self.control.get()

    async def pause_all(self, *, reason: str | None, actor: str, scope: Scope = None) -> Maintenance:
        """Maintenance mode: no replica claims anything until resume_all (kept in the database, so
        it survives restarts). Runs already going finish. Global keys only."""
        _global_only(scope)
        reason = _reason(reason)
        current = await self.control.get()
        if current.paused:
            state = Maintenance(True, reason if reason is not None else current.reason, current.since, current.by)
        else:
            state = Maintenance(True, reason, self.clock.now(), actor[:200])
        await self.control.set(state, AuditEntry(actor, "scheduler.pause", self.clock.now()))
        audit(log, "scheduler.pause", "maintenance mode: nothing is claimed until resumed", actor=actor,
              reason=reason)
        return state

    async def resume_all(self, *, actor: str, scope: Scope = None) -> Maintenance:
        """End maintenance mode; each schedule's grace period and catch-up policy decide what the
        time it missed becomes."""
        _global_only(scope)
        before, after = await self.control.set(Maintenance(), AuditEntry(actor, "scheduler.resume", self.clock.now()))
        if before.paused:
            audit(log, "scheduler.resume", "maintenance mode ended", actor=actor)
        if self.loop is not None:
            self.loop.wake()
        return after

    async def _set_aside(self, schedule_id: str, reason: str) -> None:
        """A schedule the time rules cannot plan is paused (and audited), so it cannot block the loop."""
        await self.schedules.pause_schedule(schedule_id, actor=f"scheduler: {reason}"[:200])

    async def run_now(self, schedule_id: str, *, actor: str = "system", scope: Scope = None) -> tuple[str, str]:
        """Run a schedule's workflow now (trigger `manual`); returns (run_id, execution_id).

        Works for paused or finished schedules too; it does not count toward max_executions.
        """
        if not self.dispatcher.accepting:
            raise Unavailable("the scheduler is not running")
        schedule = await self.schedules.get_schedule(schedule_id, scope=scope)
        now = self.clock.now()
        fire = Fire(str(uuid.uuid4()), schedule.id, schedule.schedule_id, schedule.workflow_id,
                    schedule.community_id, now, now, schedule.context_data, schedule.callback_url,
                    trigger="manual", execution_id=str(uuid.uuid4()), limits=schedule.limits())

        def audited(dal: Any) -> None:
            self.schedules.store.write_audit(dal, AuditEntry(actor, "schedule.run", now), "schedule",
                                             schedule.schedule_id, schedule.community_id, {"run_id": fire.run_id})

        await self.ledger.record_manual(fire, self.replica_id, audited)
        self.dispatcher.submit(fire)
        audit(log, "schedule.run", f"schedule {schedule.name!r} run by hand", actor=actor,
              schedule_id=schedule.schedule_id, run_id=fire.run_id)
        assert fire.execution_id is not None
        return fire.run_id, fire.execution_id


    async def backfill(self, schedule_id: str, request: Mapping[str, Any], *, actor: str = "system",
                       scope: Scope = None) -> list[Fire]:
        """Run every occurrence of the schedule's rule in a past range (trigger `backfill`): one run
        each, oldest first, one at a time unless overlap_policy is `allow`. An occurrence that has
        a backfill run already is left out, so backfilling a range again runs nothing twice. It
        neither moves next_execution_at nor counts toward max_executions. The runs started."""
        if not self.dispatcher.accepting:
            raise Unavailable("the scheduler is not running")
        schedule = await self.schedules.get_schedule(schedule_id, scope=scope)
        now = self.clock.now()
        try:
            start, end, max_runs = validate_backfill(request, zone=schedule.timezone, now=now)
        except ValidationError as exc:
            raise Invalid(exc.errors) from None
        rule = schedule.rule()
        first = next_occurrence(rule, start - timedelta(seconds=1))
        if first is None or first > end:
            raise Invalid({"start": "the range holds no occurrence of this schedule"})
        owed = occurrences_between(rule, first, end, max_runs + 1)
        if len(owed) > max_runs:
            raise Invalid({"end": f"the range holds more than {max_runs} occurrences; backfill it in parts"})
        fires = [Fire(str(uuid.uuid4()), schedule.id, schedule.schedule_id, schedule.workflow_id,
                      schedule.community_id, at, now, schedule.context_data, schedule.callback_url,
                      trigger="backfill", limits=schedule.limits()) for at in owed]

        def audited(dal: Any, runs: int) -> None:
            self.schedules.store.write_audit(dal, AuditEntry(actor, "schedule.backfill", now), "schedule",
                                             schedule.schedule_id, schedule.community_id,
                                             {"start": start.isoformat(), "end": end.isoformat(), "runs": runs})

        written = await self.ledger.record_backfill(fires, self.replica_id, audited)
        in_order = schedule.overlap_policy is not OverlapPolicy.ALLOW
        for before, fire in zip([None, *written], written, strict=False):
            self.dispatcher.submit(replace(fire, wait_for=(before.run_id,)) if in_order and before else fire)
        audit(log, "schedule.backfill", f"schedule {schedule.name!r} backfilled: {len(written)} runs", actor=actor,
              schedule_id=schedule.schedule_id, runs=len(written))
        return written


def _global_only(scope: Scope) -> None:
    if scope is not None:
        raise Forbidden("maintenance mode concerns every community: it needs a global key")


def _reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    if not isinstance(reason, str) or len(reason.strip()) > MAX_PAUSE_REASON_CHARS or any(
            ord(c) < 32 for c in reason):
        raise Invalid({"reason": f"one line of at most {MAX_PAUSE_REASON_CHARS} characters"})
    return reason.strip() or None
