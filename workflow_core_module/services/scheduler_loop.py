"""The scheduler loop: wakes at the next due time (or the poll interval, or a change), claims what
is due exactly once, and hands it to the dispatcher.

``run()`` is the lifecycle (waiting, recovery, heartbeat, retention, shutdown);
``run_pass(now)`` is one pass and returns what it did, so tests drive it with a manual clock.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..clock import Clock
from ..config import Settings
from ..db.ledger import ClaimResult, Fire, Orphan, RunLedger
from ..db.replicas import ReplicaRegistry
from ..logs import system
from .cache import ScheduleCache
from .changes import ScheduleChange, ScheduleChanges
from .dispatcher import Dispatcher

log = logging.getLogger(__name__)

BATCH_SIZE = 500
DEGRADED_POLL_SECONDS = 5.0
HEARTBEAT_SECONDS = 5.0
RETENTION_EVERY_SECONDS = 3600.0
CHECKPOINT_EVERY_SECONDS = 60.0  # at most this often, and only when nothing is running


@dataclass
class PassResult:
    """What one pass did."""

    started_at: datetime
    duration_ms: float = 0.0
    due: int = 0
    fired: int = 0
    missed: int = 0
    skipped: int = 0
    completed: int = 0
    expired: int = 0
    lost: int = 0
    broken: int = 0
    lags_ms: list[float] = field(default_factory=list)
    more: bool = False  # stopped at the batch limit with rows still due
    halted: bool = False  # maintenance mode: nothing claimed

    def add(self, claim: ClaimResult) -> None:
        self.fired += len(claim.fires)
        self.missed += claim.missed
        self.skipped += claim.skipped
        self.completed += claim.completed
        self.expired += claim.expired
        self.lost += claim.lost
        self.broken += len(claim.broken)
        self.lags_ms.extend(claim.lags_ms)


class SchedulerLoop:
    def __init__(self, changes: ScheduleChanges, dispatcher: Dispatcher, ledger: RunLedger,
                 replicas: ReplicaRegistry, settings: Settings, clock: Clock, *,
                 set_aside: Callable[[str, str], Awaitable[None]], replica_id: str | None = None,
                 batch_size: int = BATCH_SIZE, replica_timeout_seconds: float | None = None,
                 max_batches_per_pass: int = 20) -> None:
        self.changes = changes
        self.cache: ScheduleCache = changes.cache
        self.set_aside = set_aside  # pauses a schedule the rules cannot plan (schedule_id, reason)
        self.dispatcher = dispatcher
        self.ledger = ledger
        self.replicas = replicas
        self.settings = settings
        self.clock = clock
        self.replica_id = replica_id or dispatcher.replica_id
        self.batch_size = batch_size
        self.max_batches_per_pass = max_batches_per_pass
        self.replica_timeout_seconds = replica_timeout_seconds or settings.replica_timeout_seconds
        self.started_at = clock.now()
        self.last_pass: PassResult | None = None
        self.last_pass_at: datetime | None = None
        self.recent_lags_ms: deque[float] = deque(maxlen=10_000)
        self.totals: dict[str, int] = {"passes": 0, "fired": 0, "missed": 0, "skipped": 0, "lost": 0}
        self.pass_listeners: list[Any] = []
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._armed_for: datetime | None = None
        self._last_retention = 0.0
        self._last_checkpoint = time.monotonic()
        self._failing_since: float | None = None
        self.degraded = False  # set while Redis is configured but unreachable
        self.halted = False  # maintenance mode, as the last pass found it
        self._background: set[asyncio.Task[None]] = set()
        self.running = False
        changes.subscribe(self._on_change)

    # ---- waking ------------------------------------------------------------------------------

    def _on_change(self, change: ScheduleChange) -> None:
        """A schedule changed: wake early if it is now due before the time we sleep until.
        (Changes made by a claim need no wake: the loop re-arms after every pass.)"""
        if change.claimed:
            return
        if change.due is not None and (self._armed_for is None or change.due < self._armed_for):
            self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    @property
    def woken(self) -> bool:
        """A wake is pending: the loop passes again before the time it is armed for."""
        return self._wake.is_set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def next_wait_seconds(self, now: datetime) -> float:
        head = self.cache.next_due()
        wait = self.settings.poll_interval_seconds
        if self.degraded:  # no change notifications: look at the database more often
            wait = min(wait, DEGRADED_POLL_SECONDS)
        self._armed_for = now + timedelta(seconds=wait)
        if head is not None:
            until = (head[1] - now).total_seconds()
            if until < wait:
                wait = max(0.0, until)
                self._armed_for = head[1]
        return wait

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        waiters = [asyncio.ensure_future(self.clock.sleep(seconds)), asyncio.ensure_future(self._wake.wait())]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        self._wake.clear()

    # ---- the lifecycle ----------------------------------------------------------------------

    async def run(self) -> None:
        """Run until stop(): passes, heartbeats, recovery and retention; survives database outages."""
        self.running = True
        system(log, "scheduler.start", "scheduler loop started", replica_id=self.replica_id,
               active_schedules=len(self.cache))
        keeper = asyncio.create_task(self._keep_alive(), name="scheduler-heartbeat")
        watcher = asyncio.create_task(self.dispatcher.watch_cancels(), name="scheduler-cancels")
        try:
            while not self._stop.is_set():
                try:
                    await self._maybe_purge()
                    result = await self.run_pass(self.clock.now())
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    await self._outage(exc)
                    continue
                if self._failing_since is not None:
                    system(log, "scheduler.recovered", "database reachable again; scheduler resumed",
                           outage_seconds=round(time.monotonic() - self._failing_since, 1))
                    self._failing_since = None
                if result.more:
                    await asyncio.sleep(0)
                    continue
                self.halted = result.halted
                if result.halted:  # maintenance: look again after a resume here, a heartbeat or a poll
                    await self._sleep(self.settings.poll_interval_seconds)
                    continue
                if not result.fired and not self.dispatcher.pending:
                    await self._maybe_checkpoint()
                await self._sleep(self.next_wait_seconds(self.clock.now()))
        finally:
            keeper.cancel()
            watcher.cancel()
            await asyncio.gather(keeper, watcher, return_exceptions=True)
            self.running = False
            system(log, "scheduler.stop", "scheduler loop stopped", replica_id=self.replica_id)

    async def _keep_alive(self) -> None:
        """Every few seconds, whatever the loop is doing: heartbeat, then resolve runs of replicas
        whose heartbeat stopped."""
        while not self._stop.is_set():
            try:
                await self.heartbeat()
                await self.recover()
                if self.halted and not (await self.ledger.maintenance()).paused:
                    self.wake()  # maintenance ended on another replica
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the pass loop reports outages; this only retries
                log.debug("heartbeat failed: %s", exc)
            await self.clock.sleep(HEARTBEAT_SECONDS)

    async def _outage(self, exc: Exception) -> None:
        """Log once per outage, then back off (1 s doubling to the poll interval) until it ends."""
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            self._backoff = 1.0
            log.error("scheduler pass failed: %s: %s; retrying with backoff", type(exc).__name__, exc,
                      extra={"category": "ERROR", "action": "scheduler.outage"})
        else:
            self._backoff = min(self._backoff * 2, max(1.0, self.settings.poll_interval_seconds))
        await self._sleep(self._backoff)

    async def _maybe_checkpoint(self) -> None:
        """SQLite: when idle, fold the WAL back into the database and truncate it, so the file a
        burst grew does not stay at its high-water mark."""
        now_mono = time.monotonic()
        if now_mono - self._last_checkpoint < CHECKPOINT_EVERY_SECONDS:
            return
        self._last_checkpoint = now_mono
        try:
            await self.ledger.database.checkpoint()
        except Exception as exc:  # a busy or locked file: the next idle moment tries again
            log.debug("idle checkpoint failed: %s", exc)

    async def _maybe_purge(self) -> None:
        now_mono = time.monotonic()
        if now_mono - self._last_retention >= RETENTION_EVERY_SECONDS:
            self._last_retention = now_mono
            await self.purge_history()

    async def heartbeat(self) -> None:
        await self.replicas.heartbeat(self.replica_id, socket.gethostname(), os.getpid(), self.started_at,
                                  self.clock.now(), self.last_pass_at)

    # ---- one pass -------------------------------------------------------------------------------

    async def run_pass(self, now: datetime) -> PassResult:
        """Claim and dispatch everything due at `now`, in batches, yielding between them."""
        began = time.perf_counter()
        result = PassResult(started_at=now)
        for _ in range(self.max_batches_per_pass):
            claim = await self._claim(now)
            if claim.halted:
                result.halted = True
                break
            result.due += claim.selected
            self._apply(claim)
            result.add(claim)
            if claim.selected < self.batch_size:
                break
            await asyncio.sleep(0)  # let requests in between batches
        else:
            result.more = True
        if not result.more and not result.halted:
            await self._refresh_stale(now)
        result.duration_ms = (time.perf_counter() - began) * 1000
        self._finish_pass(result, now)
        return result

    async def _claim(self, now: datetime) -> ClaimResult:
        """One claim, with the free concurrency slots set aside for fires that can start at once
        (recorded running by the claim itself); those it did not use go back."""
        reserved = await self.dispatcher.reserve(self.batch_size)
        try:
            claim = await self.ledger.claim(now, self.batch_size, self.replica_id, startable=reserved)
        except BaseException:
            self.dispatcher.release(reserved)
            raise
        self.dispatcher.release(reserved - claim.started)
        return claim

    def _apply(self, claim: ClaimResult) -> None:
        for pk, schedule_id, due in claim.cache:
            self.changes.publish(pk, schedule_id, due, claimed=True)
        self.dispatcher.cancel(claim.cancelled)
        for fire in claim.fires:
            self.dispatcher.submit(fire)
        for pk, schedule_id, error in claim.broken:
            task = asyncio.create_task(self._set_aside(pk, schedule_id, error))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _set_aside(self, pk: int, schedule_id: str, error: str) -> None:
        """A row the time rules fail on is paused (and audited), so it cannot block the loop."""
        log.error("schedule %s cannot be planned (%s); pausing it", schedule_id, error,
                  extra={"category": "ERROR", "action": "scheduler.broken_schedule"})
        try:
            await self.set_aside(schedule_id, error)
        except Exception:
            log.exception("could not pause broken schedule %s", schedule_id, extra={"category": "ERROR"})
            self.cache.remove(pk)

    async def _refresh_stale(self, now: datetime) -> None:
        """Nothing is due in the database at `now`: cache entries saying otherwise are stale
        (another replica claimed them), so read them again."""
        stale: list[int] = []
        while (head := self.cache.next_due()) is not None and head[1] <= now and len(stale) < 10_000:
            stale.append(head[0])
            self.cache.remove(head[0])
        for pk, _, due in await self.ledger.refresh(stale):
            self.cache.set(pk, due)

    def _finish_pass(self, result: PassResult, now: datetime) -> None:
        self.last_pass, self.last_pass_at = result, now
        self.totals["passes"] += 1
        for key in ("fired", "missed", "skipped", "lost"):
            self.totals[key] += getattr(result, key)
        self.recent_lags_ms.extend(result.lags_ms)
        if result.due:
            system(log, "scheduler.pass", f"pass: {result.fired} fired, {result.missed} missed, "
                   f"{result.skipped} skipped", due=result.due, duration_ms=round(result.duration_ms, 1),
                   lost=result.lost)
        for listener in self.pass_listeners:
            try:
                listener(result)
            except Exception:
                log.exception("pass listener failed", extra={"category": "ERROR"})

    # ---- recovery -------------------------------------------------------------------------------

    async def recover(self) -> int:
        """Resolve runs left queued/running by replicas that are gone. Returns how many."""
        now = self.clock.now()
        live = [r["replica_id"] for r in await self.replicas.live(now, self.replica_timeout_seconds)]
        if self.replica_id not in live:
            live.append(self.replica_id)
        resolved = 0
        for orphan in await self.ledger.orphans(live):
            resolved += await self._resolve(orphan, now)
        if resolved:
            system(log, "scheduler.recover", f"resolved {resolved} run(s) of stopped replicas")
        return resolved

    async def _resolve(self, orphan: Orphan, now: datetime) -> int:
        owner = orphan.claimed_by or "unknown"
        if orphan.schedule_pk is None:
            return int(await self.ledger.fail_orphan(orphan, f"failed: replica {owner} stopped; schedule gone", now,
                                                   self.replica_id))
        if orphan.status == "running":
            reason = (f"failed: replica {owner} stopped while this run was executing "
                      f"(attempt {orphan.attempt}); not re-run, its steps may have taken effect")
            return int(await self.ledger.fail_orphan(orphan, reason, now, self.replica_id))
        late = (now - orphan.scheduled_for).total_seconds()
        if late > orphan.grace_period_seconds:
            reason = (f"failed: replica {owner} stopped before starting this run, and it is now {int(late)} s "
                      f"late (grace period {orphan.grace_period_seconds} s)")
            return int(await self.ledger.fail_orphan(orphan, reason, now, self.replica_id))
        if not await self.ledger.adopt(orphan, self.replica_id, now):
            return 0
        self.dispatcher.submit(Fire(
            orphan.run_id, orphan.schedule_pk, orphan.schedule_id, orphan.workflow_id, orphan.community_id,
            orphan.scheduled_for, now, orphan.context_data, orphan.callback_url, trigger=orphan.trigger,
            attempt=orphan.attempt, limits=orphan.limits, upstream=orphan.upstream,
        ))
        return 1

    async def purge_history(self) -> int:
        """Delete runs and executions older than HISTORY_RETENTION_DAYS, in small batches."""
        cutoff = self.clock.now() - timedelta(days=self.settings.history_retention_days)
        total = 0
        while not self._stop.is_set():
            deleted = await self.ledger.purge(cutoff)
            total += deleted
            if deleted == 0:
                break
            await asyncio.sleep(0)
        alerts = 0
        while not self._stop.is_set():
            deleted = await self.ledger.alerts.purge(cutoff)
            alerts += deleted
            if deleted == 0:
                break
            await asyncio.sleep(0)
        if total or alerts:
            system(log, "scheduler.retention", f"deleted {total} old run and execution rows and {alerts} old alerts")
        return total

