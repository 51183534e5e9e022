"""The dispatcher runs claimed occurrences: jitter, overlap waits, bounded concurrency, a timeout
per attempt, retries with exponential backoff, the final record, and the callback.

Each attempt is one execution row. A run's start is committed before its first step runs, so a
run found `running` after a crash has (maybe) done something and is never run a second time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..clock import Clock
from ..config import Settings
from ..db.journal import End, RunLink
from ..db.run_store import Fire, RunStore
from ..engine.engine import FINAL_STATUSES, RunGone, WorkflowEngine
from ..engine.outbound import fetch
from ..scheduling import jitter_delay_seconds
from ..scheduling.types import iso_z

log = logging.getLogger(__name__)

_POLL_SECONDS = 1.0  # how often a buffered run checks on a run held by another replica
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


class Dispatcher:
    def __init__(self, engine: WorkflowEngine, runs: RunStore, settings: Settings, clock: Clock,
                 replica_id: str) -> None:
        self.engine = engine
        self.runs = runs
        self.settings = settings
        self.clock = clock
        self.replica_id = replica_id
        self._slots = asyncio.Semaphore(settings.max_concurrent_workflows)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._executing = 0
        self.accepting = True
        self.listeners: list[FinishedListener] = []

    # ---- what is going on -----------------------------------------------------------------

    @property
    def running(self) -> int:
        """Runs executing steps now."""
        return self._executing

    @property
    def pending(self) -> int:
        """Runs claimed by this process and not ended (waiting or executing)."""
        return len(self._tasks)

    # ---- submitting and cancelling ----------------------------------------------------------

    def submit(self, fire: Fire) -> asyncio.Task[None]:
        if not self.accepting:
            raise RuntimeError("the dispatcher is shutting down")
        task = asyncio.create_task(self._run(fire), name=f"run-{fire.run_id}")
        self._tasks[fire.run_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(fire.run_id, None))
        return task

    def cancel(self, run_ids: list[str]) -> None:
        """Cancel runs of this process (already recorded as cancelled by whoever asked)."""
        for run_id in run_ids:
            task = self._tasks.get(run_id)
            if task is not None:
                task.cancel()

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
        try:
            delay = jitter_delay_seconds(fire.schedule_id, fire.scheduled_for, fire.jitter_seconds)
            if delay > 0:
                await self.clock.sleep(delay)
            if fire.wait_for:
                await self._wait_for(fire.wait_for)
            async with self._slots:
                self._executing += 1
                try:
                    status = await self._attempts(fire)
                finally:
                    self._executing -= 1
        except RunGone:
            return
        except asyncio.CancelledError:
            # Ended before or between attempts: record it, whatever else happens.
            reason = "cancelled: the service stopped or the run was superseded"
            await asyncio.shield(self._record(fire, "cancelled", reason))
            raise
        except Exception as exc:
            log.exception("run %s of schedule %s failed to run", fire.run_id, fire.schedule_id,
                          extra={"category": "ERROR", "action": "run.error"})
            status = "failed"
            await asyncio.shield(self._record(fire, "failed", f"internal error: {type(exc).__name__}: {exc}"))
        finally:
            duration = (self.clock.now() - began).total_seconds()
            for listener in self.listeners:
                try:
                    listener(fire, status, duration)
                except Exception:
                    log.exception("run listener failed", extra={"category": "ERROR"})
        if fire.callback_url:
            await self._callback(fire)

    async def _attempts(self, fire: Fire) -> str:
        max_attempts = self.settings.workflow_max_retries + 1
        link = RunLink(fire.run_id, fire.schedule_pk, self.replica_id)
        attempt = fire.attempt
        while True:
            attempt += 1
            first = attempt == fire.attempt + 1
            last = attempt >= max_attempts
            trigger = fire.trigger_data() | {"attempt": attempt}
            outcome = await self.engine.run(
                fire.workflow_id, trigger, execution_id=fire.execution_id if first else None,
                prepared=bool(first and fire.execution_id), attempt=attempt, run=link, last_attempt=last,
                community_id=fire.community_id,
            )
            if outcome.status in FINAL_STATUSES or last or not outcome.retryable:
                return outcome.status
            backoff = self.settings.workflow_retry_base_seconds * 2 ** (attempt - 1)
            log.info("run %s attempt %d %s; retrying in %.1f s", fire.run_id, attempt, outcome.status, backoff,
                     extra={"category": "SYSTEM", "action": "run.retry", "schedule_id": fire.schedule_id})
            await self.clock.sleep(backoff)

    async def _record(self, fire: Fire, status: str, error: str) -> None:
        """End a run that no attempt is running (cancelled or failed before or between attempts)."""
        link = RunLink(fire.run_id, fire.schedule_pk, self.replica_id)
        try:
            await self.engine.journal.end(End(None, status, error, self.clock.now(), 0, [], link, run_final=True))
        except Exception:
            log.exception("could not record run %s as %s", fire.run_id, status, extra={"category": "ERROR"})

    async def _wait_for(self, run_ids: tuple[str, ...]) -> None:
        """buffer_one: start only after the runs ahead have ended (here or on another replica)."""
        remaining = set(run_ids)
        while remaining:
            local = [self._tasks[r] for r in remaining if r in self._tasks]
            if local:
                await asyncio.wait(local)
            statuses = await self.runs.status_of(remaining)
            remaining = {r for r, s in statuses.items() if s in ("queued", "running")}
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
        sql = self.runs.dialect.params(
            "SELECT status, finished_at, duration_ms, error, attempt, execution_id FROM workflow_schedule_runs "
            "WHERE run_id = ?")
        rows = await self.runs.database.read(lambda dal: dal.executesql(sql, placeholders=[fire.run_id]))
        status, finished_at, duration_ms, error, attempt, execution_id = rows[0] if rows else (None,) * 6
        data = fire.trigger_data()
        return {**{k: data[k] for k in ("schedule_id", "run_id", "trigger", "scheduled_for", "fired_at")},
                "execution_id": execution_id, "status": status,
                "finished_at": iso_z(finished_at) if finished_at else None,
                "duration_ms": duration_ms, "attempt": attempt, "error": error}
