"""Alert delivery: takes alerts from the outbox (db/alerts.py) and sends them.

Runs beside the scheduler loop on every replica; the outbox's claim gives each alert to exactly
one of them. Alerts for one target (a webhook URL, a community's chat channel, the operator's
ALERT_WEBHOOK_URL) that are due together go as one digest message. A failed send is retried
with backoff (ALERT_RETRY_BASE_SECONDS, doubled each time) up to 5 attempts in all. Delivery
never touches a run: it reads what the run's transaction wrote.

* webhook and operator: ``POST`` JSON ``{"event", "schedule", "run", "occurred_at"}`` (a digest:
  ``{"event": "digest", "alerts": [...], "occurred_at"}``), signed like callbacks
  (X-Webhook-Timestamp, X-Webhook-Signature) when WEBHOOK_SIGNING_SECRET is set. A schedule's
  webhook goes through the outbound policy; the operator's URL is the operator's own.
* chat: one line into the schedule's community through CHAT_MESSAGE_URL, the path chat_message
  takes; the channel's `message` template (over `schedule`, `run`, `event`) replaces the default.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from ..clock import Clock, sleep_unless
from ..config import Settings
from ..db.alerts import AlertBook, AlertStore, Outcome, Pending, Subject
from ..db.schedule_store import Scope
from ..engine.actions import StepFailed, chat_platform, post_chat
from ..engine.engine import WorkflowEngine
from ..engine.outbound import OutboundRefused, fetch
from ..engine.templates import TemplateRenderError, render
from ..errors import Conflict
from ..scheduling.alerts import alert_text, digest_text
from ..scheduling.schedule import Schedule
from ..scheduling.types import UTC
from .dispatcher import signature_headers
from .schedule_service import ScheduleService

log = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 10.0
_MAX_PARALLEL = 20  # targets sent to at once
SentListener = Callable[[str, str, bool], None]  # (channel, event, delivered)


def local_time(at: str | None, zone: str) -> str:
    """An alert's ISO UTC time in the schedule's zone, to the second, with the zone's abbreviation."""
    when = datetime.fromisoformat((at or "").replace("Z", "+00:00")) if at else datetime.now(UTC)
    try:
        local = when.astimezone(ZoneInfo(zone))
    except (KeyError, ValueError):
        local = when.astimezone(UTC)
    return local.strftime("%Y-%m-%d %H:%M:%S %Z")


def chat_line(payload: dict[str, Any]) -> str:
    """An alert as one chat line: the channel's template, else the default text."""
    schedule, event = payload.get("schedule") or {}, str(payload.get("event"))
    when = local_time(payload.get("occurred_at"), str(schedule.get("timezone") or "UTC"))
    template = ((payload.get("chat") or {}).get("message") or "").strip()
    if template:
        try:
            text = render(template, {"schedule": schedule, "run": payload.get("run") or {}, "event": event,
                                     "occurred_at": when})
            if isinstance(text, str) and text.strip():
                return text.strip()[:500]
        except TemplateRenderError as exc:
            log.warning("alert message template of schedule %s failed: %s", schedule.get("schedule_id"), exc,
                        extra={"category": "ERROR", "action": "alert.template"})
    return alert_text(event, schedule, payload.get("run"), when)


def webhook_body(payload: dict[str, Any]) -> dict[str, Any]:
    return {key: payload.get(key) for key in ("event", "schedule", "run", "occurred_at")}


class AlertDeliverer:
    def __init__(self, store: AlertStore, engine: WorkflowEngine, settings: Settings, clock: Clock,
                 replica_id: str) -> None:
        self.store = store
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.replica_id = replica_id
        self.listeners: list[SentListener] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # ---- the background task ---------------------------------------------------------------

    def nudge(self) -> None:
        """Alerts were written here: look now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="alert-deliverer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("alert delivery pass failed", extra={"category": "ERROR", "action": "alert.pass"})
            await sleep_unless(self.clock, self.settings.alert_poll_seconds, self._wake)

    async def deliver_due(self) -> int:
        """Send what is due now, one message per target; how many alerts were tried."""
        now = self.clock.now()
        rows = await self.store.claim(now, self.replica_id, self.settings.alert_digest_seconds)
        if not rows:
            return 0
        groups: dict[str, list[Pending]] = {}
        for row in rows:
            groups.setdefault(row.target, []).append(row)
        gate = asyncio.Semaphore(_MAX_PARALLEL)

        async def one(group: list[Pending]) -> Outcome:
            async with gate:
                return await self._send(group)

        outcomes = await asyncio.gather(*(one(g) for g in groups.values()))
        await self.store.record(outcomes, self.clock.now(), self.settings.alert_retry_base_seconds)
        by_id = {row.id: row for row in rows}
        for outcome in outcomes:
            for pk in outcome.ids:
                self._tell(by_id[pk].channel, by_id[pk].event, outcome.ok)
        return len(rows)

    def _tell(self, channel: str, event: str, ok: bool) -> None:
        for listener in self.listeners:
            listener(channel, event, ok)

    # ---- sending ---------------------------------------------------------------------------

    async def _send(self, group: Sequence[Pending]) -> Outcome:
        """One message for `group` (alerts of one target): the alert itself, or a digest."""
        first = group[0]
        ids = tuple(row.id for row in group)
        try:
            if first.channel == "chat":
                await self._chat(first, [chat_line(row.payload) for row in group])
            else:
                if len(group) == 1:
                    body = webhook_body(first.payload)
                else:
                    body = {"event": "digest", "alerts": [webhook_body(row.payload) for row in group],
                            "occurred_at": self.clock.now().astimezone(UTC).isoformat().replace("+00:00", "Z")}
                await self._post(first, body)
        except _NotSent as exc:
            log.warning("alert to %s not delivered (attempt %d): %s", _shown(first), first.attempts + 1, exc,
                        extra={"category": "ERROR", "action": "alert.failed", "schedule_id": first.schedule_id})
            return Outcome(ids, False, str(exc), len(group))
        return Outcome(ids, True, None, len(group))

    async def _post(self, row: Pending, body: dict[str, Any]) -> None:
        operator = row.channel == "operator"
        url = self.settings.alert_webhook_url if operator else row.target
        if not url:
            raise _NotSent("ALERT_WEBHOOK_URL is no longer set")
        content = json.dumps(body, separators=(",", ":"), default=str).encode()
        headers = {"Content-Type": "application/json", "X-Alert-Id": row.alert_id,
                   **signature_headers(self.settings.webhook_signing_secret, content, self.clock.now())}
        client = self.engine.operator_http if operator else self.engine.http
        try:
            response, _ = await fetch(client, "POST", url, content=content, headers=headers,
                                      timeout_seconds=SEND_TIMEOUT_SECONDS)
        except OutboundRefused as exc:
            raise _NotSent(f"{exc}; nothing was sent") from None
        except (httpx.HTTPError, TimeoutError) as exc:
            raise _NotSent(f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__) from None
        if not response.is_success:
            raise _NotSent(f"answered {response.status_code}")

    async def _chat(self, row: Pending, lines: list[str]) -> None:
        chat = row.payload.get("chat") or {}
        community = row.community_id or ""
        if not community:
            raise _NotSent("this schedule belongs to no community, so there is no chat to post into")
        message = lines[0] if len(lines) == 1 else digest_text(lines)
        try:
            platform = await chat_platform({"platform": chat.get("platform") or ""}, community, self.engine.chat)
            await post_chat(self.engine.chat, self.engine.operator_http, community=community, platform=platform,
                            entity=str(chat.get("entity_id") or ""), message=message,
                            event_id=row.alert_id if len(lines) == 1 else str(uuid.uuid4()))
        except StepFailed as exc:
            raise _NotSent(str(exc)[:500]) from None

    # ---- a test alert ----------------------------------------------------------------------

    async def test(self, schedule: Schedule) -> list[dict[str, Any]]:
        """Send a test alert through every channel of `schedule` (and the operator's) now, once
        each; recorded like any alert. What each channel gave."""
        now = self.clock.now()
        book = AlertBook(self.store.dialect, operator=bool(self.settings.alert_webhook_url))
        rows = book.test(Subject.of(schedule), now)
        ids = await self.store.add(rows)
        answers, outcomes = [], []
        for pk, row in zip(ids, rows, strict=True):
            pending = Pending(pk, row[0], row[1], row[2], row[3], row[4], row[5], json.loads(row[6]), 0)
            outcome = await self._send([pending])
            outcomes.append(outcome)
            self._tell(pending.channel, "test", outcome.ok)
            answers.append({"channel": pending.channel, "target": _shown(pending), "delivered": outcome.ok,
                            "error": outcome.error})
        await self.store.record(outcomes, self.clock.now(), None)
        return answers


class _NotSent(Exception):
    """Why an alert did not reach its target."""


def _shown(row: Pending) -> str:
    return "ALERT_WEBHOOK_URL" if row.channel == "operator" else row.target


class AlertService:
    """What the API and chat do with alerts: read deliveries, send a test."""

    def __init__(self, schedules: ScheduleService, deliverer: AlertDeliverer) -> None:
        self.schedules = schedules
        self.deliverer = deliverer

    async def of_schedule(self, schedule_id: str, *, scope: Scope = None, limit: int = 50,
                          before: int | None = None) -> list[dict[str, Any]]:
        """A schedule's alert deliveries, newest first (404 outside the caller's community)."""
        schedule = await self.schedules.get_schedule(schedule_id, scope=scope)
        return await self.deliverer.store.listing(schedule_id=schedule.schedule_id, limit=limit, before=before)

    async def recent(self, *, scope: Scope = None, limit: int = 50, before: int | None = None) -> list[dict[str, Any]]:
        """The newest alert deliveries the caller may see (a community key: its community's only)."""
        return await self.deliverer.store.listing(community_id=scope, scoped=scope is not None, limit=limit,
                                                  before=before)

    async def test(self, schedule_id: str, *, scope: Scope = None) -> list[dict[str, Any]]:
        schedule = await self.schedules.get_schedule(schedule_id, scope=scope)
        if not schedule.alerts and not self.deliverer.settings.alert_webhook_url:
            raise Conflict("this schedule has no alerts to test: set its alerts first",
                           {"alerts": "null: no channel to send to"})
        return await self.deliverer.test(schedule)
