"""The dispatcher runs claimed occurrences: jitter, overlap waits, bounded concurrency, a timeout
per attempt, retries with exponential backoff, the final record, and the callback.

Each attempt is one execution row, recorded through the run ledger. A run's start is committed
before its first step runs (at the claim itself when a concurrency slot was set aside for it),
so a run found `running` after a crash has (maybe) done something and is never run a second
time. An attempt's end is handed to the ledger and its slot freed at once; the run's task waits
for the end to be durable before the callback and before it counts as done.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from ..clock import Clock
from ..config import Settings
from ..db.journal import ExecutionEnd, ExecutionStart
from ..db.ledger import Fire, RunLedger
from ..engine.engine import OUTCOMES_NOT_RETRIED, NotStarted, WorkflowEngine
from ..engine.outbound import fetch
from ..scheduling import UNFINISHED, jitter_delay_seconds

log = logging.getLogger(__name__)

_POLL_SECONDS = 1.0  # how often a buffered run checks on a run held by another replica
CANCEL_POLL_SECONDS = 1.0  # how often executing runs are checked for a cancel made elsewhere
CALLBACK_TIMEOUT_SECONDS = 10.0  # the whole callback, answer included


FinishedListener = Callable[[Fire, str, float], None]  # (fire, final status, duration seconds)


def signature_headers(secret: str, body: bytes, now: datetime) -> dict[str, str]:
    """X-Webhook-Timestamp and X-Webhook-Signature (sha256=<hex HMAC of "<timestamp>.<body>">), or
    nothing without a secret. The receiver recomputes the HMAC and rejects old timestamps."""
    if not secret:
        return {}
    timestamp = str(int(now.timestamp()))
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Webhook-Timestamp": timestamp, "X-Webhook-Signature": f"sha256={digest}"}


class _Attempt:
    """The engine's recorder for one attempt of a schedule run: through the ledger, linked to the
    run; the outcome is the run's when a retry would not change it or no retry is left."""

    def __init__(self, ledger: RunLedger, run: _Run, *, last: bool, started_at_claim: bool) -> None:
        self.ledger = ledger
        self.run = run
        self.last = last
        self.started_at_claim = started_at_claim
        self.start: ExecutionStart | None = None

    async def started(self, start: ExecutionStart) -> bool:
        self.start = start
        ok = self.started_at_claim or await self.ledger.start(start, self.run.link)
        self.run.waiting_execution = None  # the engine records this execution's end from here on
        self.run.executing_since = start.started_at if ok else None
        return ok

    def ended(self, end: ExecutionEnd, retryable: bool) -> Awaitable[None]:
        self.run.executing_since = None
        final = end.status in OUTCOMES_NOT_RETRIED or self.last or not retryable
        return self.ledger.end(end, self.run.link, run_final=final, start=self.start)


class _Run:
    """A fire being run: its link in the ledger, the execution recorded ahead of its first attempt
    (a manual run's, queued) while no attempt has taken it over, and since when an attempt has
    been executing (None between attempts)."""

    __slots__ = ("link", "waiting_execution", "executing_since")

    def __init__(self, fire: Fire, replica_id: str) -> None:
        self.link = fire.link(replica_id)
        self.waiting_execution = None if fire.execution_id == fire.run_id else fire.execution_id
        self.executing_since: datetime | None = None  # an attempt is between its recorded start and its end


class Dispatcher:
    def __init__(self, engine: WorkflowEngine, ledger: RunLedger, settings: Settings, clock: Clock,
                 replica_id: str) -> None:
        self.engine = engine
        self.ledger = ledger
        self.settings = settings
        self.clock = clock
        self.replica_id = replica_id
        self._slots = asyncio.Semaphore(settings.max_concurrent_workflows)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()  # set while no task is pending (cleared by submit, set by the last to end)
        self._idle.set()
        self._runs: dict[str, _Run] = {}
        self._executing = 0
        self._waiting = 0
        self.accepting = True
        self.listeners: list[FinishedListener] = []
        self.cancel_listeners: list[Callable[[list[str]], None]] = []  # runs this replica cancelled

    # ---- what is going on -----------------------------------------------------------------

    @property
    def running(self) -> int:
        """Runs executing steps now."""
        return self._executing

    @property
    def waiting(self) -> int:
        """Runs waiting for the runs ahead of them to end (buffer_one, catch-up, backfill)."""
        return self._waiting

    @property
    def pending(self) -> int:
        """Runs claimed by this process and not ended (waiting or executing)."""
        return len(self._tasks)

    async def idle(self) -> None:
        """Return once no run claimed by this process is pending (at once when none is): what
        a drain or a test waits on instead of polling `pending` (arq's burst mode)."""
        while self._tasks:  # a run submitted after the last one ended and before this woke
            await self._idle.wait()

    # ---- submitting and cancelling ----------------------------------------------------------

    async def reserve(self, wanted: int) -> int:
        """Set aside up to `wanted` free concurrency slots, without waiting; how many. Each goes
        to a fire recorded running at its claim (``Fire.started``), the rest back with release()."""
        taken = 0
        while taken < wanted and self.accepting and not self._slots.locked():
            await self._slots.acquire()  # free: returns at once
            taken += 1
        return taken

    def release(self, count: int) -> None:
        for _ in range(count):
            self._slots.release()

    def submit(self, fire: Fire) -> asyncio.Task[None]:
        """Run a fire; one with `started` brings the slot set aside for it."""
        if not self.accepting:
            if fire.started:
                self._slots.release()
            raise RuntimeError("the dispatcher is shutting down")
        task = asyncio.create_task(self._run(fire), name=f"run-{fire.run_id}")
        self._tasks[fire.run_id] = task
        self._idle.clear()
        task.add_done_callback(lambda _: self._ended(fire.run_id))
        return task

    def _ended(self, run_id: str) -> None:
        self._tasks.pop(run_id, None)
        if not self._tasks:
            self._idle.set()

    def cancel(self, run_ids: list[str], *, here: bool = True) -> int:
        """Cancel runs (already recorded as cancelled by whoever asked) that run in this process;
        how many did. With `here` (this replica's claim cancelled them), the cancel listeners
        pass the ids on to the other replicas (Redis), for runs executing there."""
        cancelled = 0
        for run_id in run_ids:
            task = self._tasks.get(run_id)
            if task is not None and not task.done():
                task.cancel()
                cancelled += 1
        if here and run_ids:
            for listener in self.cancel_listeners:
                try:
                    listener(list(run_ids))
                except Exception:
                    log.exception("cancel listener failed", extra={"category": "ERROR"})
        return cancelled

    async def cancel_ended_elsewhere(self) -> int:
        """Cancel the runs executing here that the ledger says have ended (another replica's claim
        cancelled them with cancel_previous, or took them for orphans); how many. The signal when
        Redis is absent or missed it; with Redis the cancel arrives at once through cancel()."""
        # Runs that started executing less than a poll ago are left for the next poll: a burst
        # of short runs is then never read back at all.
        started_before = self.clock.now() - timedelta(seconds=CANCEL_POLL_SECONDS)
        executing = [run_id for run_id, run in self._runs.items()
                     if run.executing_since is not None and run.executing_since <= started_before]
        if not executing:
            return 0
        ended = [run_id for run_id, status in (await self.ledger.status_of(executing)).items()
                 if status not in UNFINISHED and self._runs.get(run_id) is not None
                 and self._runs[run_id].executing_since is not None]
        if ended:
            log.info("%d run(s) ended elsewhere while executing here; cancelling them", len(ended),
                     extra={"category": "SYSTEM", "action": "run.cancel_remote"})
        return self.cancel(ended, here=False)

    async def watch_cancels(self) -> None:
        """Every CANCEL_POLL_SECONDS: cancel_ended_elsewhere (database errors only delay it)."""
        while True:
            await self.clock.sleep(CANCEL_POLL_SECONDS)
            try:
                await self.cancel_ended_elsewhere()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("cancel check failed: %s", exc)

    async def close(self, grace_seconds: float) -> None:
        """Stop taking runs; let running ones finish up to `grace_seconds`, cancel the rest."""
        self.accepting = False
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=grace_seconds)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
            log.warning("%d run(s) cancelled at shutdown", len(late), extra={"category": "SYSTEM",
                                                                           "action": "scheduler.shutdown"})

    # ---- one run -----------------------------------------------------------------------------

    async def _run(self, fire: Fire) -> None:
        status, began = "cancelled", self.clock.now()
        run = self._runs[fire.run_id] = _Run(fire, self.replica_id)
        try:
            if fire.started:
                slot: _held | asyncio.Semaphore = _held(self._slots)
            else:
                delay = jitter_delay_seconds(fire.schedule_id, fire.scheduled_for, fire.jitter_seconds)
                if delay > 0:
                    await self.clock.sleep(delay)
                if fire.wait_for:
                    self._waiting += 1
                    try:
                        await self._wait_for(fire.wait_for)
                    finally:
                        self._waiting -= 1
                slot = self._slots
            async with slot:
                self._executing += 1
                try:
                    status, recorded = await self._attempts(fire, run)
                finally:
                    self._executing -= 1
            await asyncio.shield(recorded)
        except NotStarted:
            return
        except asyncio.CancelledError:
            # Ended before or between attempts: record it, whatever else happens.
            reason = "cancelled: the service stopped or the run was superseded"
            await asyncio.shield(self._record(run, "cancelled", reason))
            raise
        except Exception as exc:
            log.exception("run %s of schedule %s failed to run", fire.run_id, fire.schedule_id,
                          extra={"category": "ERROR", "action": "run.error"})
            status = "failed"
            await asyncio.shield(self._record(run, "failed", f"internal error: {type(exc).__name__}: {exc}"))
        finally:
            self._runs.pop(fire.run_id, None)
            duration = (self.clock.now() - began).total_seconds()
            for listener in self.listeners:
                try:
                    listener(fire, status, duration)
                except Exception:
                    log.exception("run listener failed", extra={"category": "ERROR"})
        if fire.callback_url:
            await self._callback(fire)

    async def _attempts(self, fire: Fire, run: _Run) -> tuple[str, Awaitable[None]]:
        """Attempts until one is final; (its status, done when its end is durable). An attempt's
        end is durable before the next attempt begins."""
        limits, settings = fire.limits, self.settings
        retries = settings.workflow_max_retries if limits.max_retries is None else limits.max_retries
        backoff_base = (settings.workflow_retry_base_seconds if limits.retry_backoff_seconds is None
                        else limits.retry_backoff_seconds)
        max_attempts = retries + 1
        attempt = fire.attempt
        while True:
            attempt += 1
            first = attempt == fire.attempt + 1
            last = attempt >= max_attempts
            outcome = await self.engine.run(
                fire.workflow_id, fire.trigger_data(attempt), execution_id=self._execution_id(fire, attempt),
                prepared=bool(first and fire.execution_id and not fire.started), attempt=attempt,
                community_id=fire.community_id, durable_end=False, timeout_seconds=limits.timeout_seconds,
                recorder=_Attempt(self.ledger, run, last=last, started_at_claim=first and fire.started),
            )
            assert outcome.recorded is not None
            if outcome.status in OUTCOMES_NOT_RETRIED or last or not outcome.retryable:
                return outcome.status, outcome.recorded
            await asyncio.shield(outcome.recorded)
            backoff = backoff_base * 2 ** (attempt - 1)
            log.info("run %s attempt %d %s; retrying in %.1f s", fire.run_id, attempt, outcome.status, backoff,
                     extra={"category": "SYSTEM", "action": "run.retry", "schedule_id": fire.schedule_id})
            await self.clock.sleep(backoff)

    @staticmethod
    def _execution_id(fire: Fire, attempt: int) -> str | None:
        """The id of an attempt's execution: chosen ahead for the first (a manual run's), or the
        run's own for a first attempt (recorded on the run row); new for a retry."""
        if attempt != fire.attempt + 1:
            return None
        return fire.execution_id or (fire.run_id if attempt == 1 else None)

    async def _record(self, run: _Run, status: str, error: str) -> None:
        """End a run that no attempt is running (cancelled or failed before or between attempts),
        with the execution recorded ahead for it if no attempt took that over."""
        try:
            await self.ledger.end_unstarted(run.link, status, error, self.clock.now(), run.waiting_execution)
        except Exception:
            log.exception("could not record run %s as %s", run.link.run_id, status, extra={"category": "ERROR"})

    async def _wait_for(self, run_ids: tuple[str, ...]) -> None:
        """buffer_one: start only after the runs ahead have ended (here or on another replica)."""
        remaining = set(run_ids)
        while remaining:
            local = [self._tasks[r] for r in remaining if r in self._tasks]
            if local:
                await asyncio.wait(local)
            statuses = await self.ledger.status_of(remaining)
            remaining = {r for r, s in statuses.items() if s in UNFINISHED}
            if remaining and not any(r in self._tasks for r in remaining):
                await self.clock.sleep(_POLL_SECONDS)

    async def _callback(self, fire: Fire) -> None:
        """POST a summary of the ended run to its callback_url; failures are logged, never fatal."""
        assert fire.callback_url
        try:
            summary = await self._summary(fire)
            body = json.dumps(summary, separators=(",", ":")).encode()
            headers = {"Content-Type": "application/json"} | signature_headers(
                self.settings.webhook_signing_secret, body, self.clock.now())
            response, _ = await fetch(self.engine.http, "POST", fire.callback_url, content=body, headers=headers,
                                      timeout_seconds=CALLBACK_TIMEOUT_SECONDS)
            if not response.is_success:
                log.warning("callback %s answered %d", fire.callback_url, response.status_code,
                            extra={"category": "ERROR", "action": "run.callback", "run_id": fire.run_id})
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("callback %s failed: %s", fire.callback_url, exc,
                        extra={"category": "ERROR", "action": "run.callback", "run_id": fire.run_id})

    async def _summary(self, fire: Fire) -> dict[str, Any]:
        data = fire.trigger_data()
        return {**{k: data[k] for k in ("schedule_id", "run_id", "trigger", "scheduled_for", "fired_at")},
                **await self.ledger.summary(fire.run_id)}


class _held:
    """A concurrency slot already taken (set aside at the claim): released on exit."""

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self.slots = slots

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *_: object) -> None:
        self.slots.release()
