"""A schedule's alerts: what its `alerts` setting may say, and when an alert is due. Pure.

The setting (null: no alerts)::

    {"on": ["failure", "missed", "paused", "recovered"], "after_consecutive": 1,
     "repeat_every_seconds": 3600, "enabled": true,
     "channels": [{"type": "chat", "entity_id": "...", "message": "..."},
                  {"type": "webhook", "url": "https://..."}]}

The rules that keep alerts from becoming a storm live in :func:`after_end`, :func:`after_missed`
and :func:`after_paused`: each takes the schedule's :class:`AlertState` and what happened, and
gives the events to send and the new state. One alert per change of state (failing, missing),
the first failure alert after `after_consecutive` failures in a row, then at most one per
`repeat_every_seconds` while the state lasts (0: none).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from .types import as_utc, iso_z

EVENTS = ("failure", "missed", "paused", "recovered", "success")
DEFAULT_EVENTS = ("failure", "missed", "paused", "recovered")
CHANNEL_TYPES = ("chat", "webhook")
FAILED = frozenset({"failed", "timed_out"})

MAX_CHANNELS = 5
MAX_AFTER_CONSECUTIVE = 1000
MAX_REPEAT_SECONDS = 30 * 24 * 3600
MIN_REPEAT_SECONDS = 60
MAX_MESSAGE_CHARS = 500
MAX_ENTITY_CHARS = 200
MAX_URL_CHARS = 2000
_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")
_SETTING_KEYS = frozenset({"on", "after_consecutive", "repeat_every_seconds", "channels", "enabled"})
_CHANNEL_KEYS = {"chat": frozenset({"type", "entity_id", "platform", "message"}),
                 "webhook": frozenset({"type", "url"})}


@dataclass(frozen=True, slots=True)
class Channel:
    type: str  # chat | webhook
    url: str | None = None
    entity_id: str | None = None  # chat: the channel to post into (default: the schedule's context_data.entity_id)
    platform: str | None = None
    message: str | None = None  # chat: a template over schedule, run and event

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in (("type", self.type), ("url", self.url), ("entity_id", self.entity_id),
                                  ("platform", self.platform), ("message", self.message)) if v is not None}


@dataclass(frozen=True, slots=True)
class AlertSettings:
    on: frozenset[str]
    channels: tuple[Channel, ...]
    after_consecutive: int = 1
    repeat_every_seconds: int = 3600
    enabled: bool = True

    @classmethod
    def of(cls, value: Mapping[str, Any] | None) -> AlertSettings | None:
        """A stored (already checked) setting; None when there is none or it is switched off."""
        if not value or not value.get("enabled", True):
            return None
        return cls(frozenset(value.get("on") or DEFAULT_EVENTS),
                   tuple(Channel(**c) for c in value.get("channels") or ()),
                   int(value.get("after_consecutive") or 1), int(value.get("repeat_every_seconds", 3600)))

    @classmethod
    def default(cls) -> AlertSettings:
        """The rules for a schedule without its own setting whose alerts still go to the operator
        (ALERT_WEBHOOK_URL): the default events, no channel of its own."""
        return cls(frozenset(DEFAULT_EVENTS), ())


def check_alerts(value: Any) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The `alerts` setting, normalised, and a message per wrong part (keys like
    ``alerts.channels[0].url``). None (or {}) is no alerts."""
    if value is None:
        return None, {}
    if not isinstance(value, Mapping):
        return None, {"alerts": "expected an object like {\"on\": [\"failure\"], \"channels\": [{\"type\": \"chat\"}]} "
                                "or null"}
    errors: dict[str, str] = {}
    for key in sorted(set(value) - _SETTING_KEYS):
        errors[f"alerts.{str(key)[:40]}"] = "unknown field"
    on = value.get("on", list(DEFAULT_EVENTS))
    if not isinstance(on, list) or not on or not all(isinstance(e, str) and e in EVENTS for e in on):
        errors["alerts.on"] = f"a non-empty list of: {', '.join(EVENTS)}"
        on = []
    out: dict[str, Any] = {"on": [e for e in EVENTS if e in on]}
    for name, low, high, default in (("after_consecutive", 1, MAX_AFTER_CONSECUTIVE, 1),
                                     ("repeat_every_seconds", 0, MAX_REPEAT_SECONDS, 3600)):
        number = value.get(name, default)
        if isinstance(number, bool) or not isinstance(number, int) or not low <= number <= high:
            errors[f"alerts.{name}"] = f"a whole number from {low} to {high}"
        elif name == "repeat_every_seconds" and 0 < number < MIN_REPEAT_SECONDS:
            errors[f"alerts.{name}"] = f"0 (never repeat) or at least {MIN_REPEAT_SECONDS}"
        out[name] = number
    enabled = value.get("enabled", True)
    if not isinstance(enabled, bool):
        errors["alerts.enabled"] = "true or false"
    out["enabled"] = enabled
    channels = value.get("channels")
    if not isinstance(channels, list) or not 1 <= len(channels) <= MAX_CHANNELS:
        errors["alerts.channels"] = f"a list of 1 to {MAX_CHANNELS} channels, each {{\"type\": \"chat\"}} or " \
                                    "{\"type\": \"webhook\", \"url\": \"https://...\"}"
        channels = []
    out["channels"] = [_check_channel(c, f"alerts.channels[{i}]", errors) for i, c in enumerate(channels)]
    return (None, errors) if errors else (out, {})


def _check_channel(value: Any, where: str, errors: dict[str, str]) -> dict[str, Any]:
    if not isinstance(value, Mapping) or value.get("type") not in CHANNEL_TYPES:
        errors[where] = f"an object whose type is one of {', '.join(CHANNEL_TYPES)}"
        return {}
    kind = value["type"]
    for key in sorted(set(value) - _CHANNEL_KEYS[kind]):
        errors[f"{where}.{str(key)[:40]}"] = f"unknown field for a {kind} channel"
    out: dict[str, Any] = {"type": kind}
    if kind == "webhook":
        url = value.get("url")
        if not isinstance(url, str) or len(url) > MAX_URL_CHARS or not _URL.match(url.strip()):
            errors[f"{where}.url"] = "required: an http:// or https:// URL"
        else:
            out["url"] = url.strip()
        return out
    for name, limit in (("entity_id", MAX_ENTITY_CHARS), ("platform", 32), ("message", MAX_MESSAGE_CHARS)):
        text = value.get(name)
        if text is None:
            continue
        if not isinstance(text, str) or not text.strip() or len(text) > limit or any(
                ord(c) < 32 and c not in "\t" for c in text):
            errors[f"{where}.{name}"] = f"a one-line string of 1 to {limit} characters"
        else:
            out[name] = text.strip()
    return out


# ---- the storm rules -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AlertState:
    """What a schedule's alerts remember (stored as its `alert_state`)."""

    failing: bool = False  # a failure alert went out and no success has followed
    failure_at: datetime | None = None  # when the last failure alert went out
    missing: bool = False  # a missed alert went out and no occurrence has fired since
    missed_at: datetime | None = None
    success_at: datetime | None = None

    @classmethod
    def of(cls, value: Mapping[str, Any] | None) -> AlertState:
        if not value:
            return cls()
        return cls(bool(value.get("failing")), _when(value.get("failure_at")), bool(value.get("missing")),
                   _when(value.get("missed_at")), _when(value.get("success_at")))

    def as_dict(self) -> dict[str, Any]:
        return {"failing": self.failing, "failure_at": iso_z(self.failure_at) if self.failure_at else None,
                "missing": self.missing, "missed_at": iso_z(self.missed_at) if self.missed_at else None,
                "success_at": iso_z(self.success_at) if self.success_at else None}


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return as_utc(value)
    return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00"))) if isinstance(value, str) else None


def _repeat_due(last: datetime | None, at: datetime, every: int) -> bool:
    return last is None or (every > 0 and at - last >= timedelta(seconds=every))


def after_end(settings: AlertSettings, state: AlertState, status: str, streak: int,
              at: datetime) -> tuple[list[str], AlertState]:
    """A run ended with `status` at `at`, `streak` being the failures in a row counting this one."""
    events: list[str] = []
    if status in FAILED:
        if "failure" in settings.on and streak >= settings.after_consecutive:
            if not state.failing or _repeat_due(state.failure_at, at, settings.repeat_every_seconds):
                events.append("failure")
                state = replace(state, failing=True, failure_at=at)
    elif status == "completed":
        if state.failing:
            state = replace(state, failing=False, failure_at=None)
            if "recovered" in settings.on:
                events.append("recovered")
        if "success" in settings.on and _repeat_due(state.success_at, at, settings.repeat_every_seconds):
            events.append("success")
            state = replace(state, success_at=at)
        if state.missing:
            state = replace(state, missing=False, missed_at=None)
    return events, state


def after_missed(settings: AlertSettings, state: AlertState, at: datetime) -> tuple[list[str], AlertState]:
    """One or more occurrences were recorded missed at `at`."""
    if "missed" not in settings.on:
        return [], state
    if state.missing and not _repeat_due(state.missed_at, at, settings.repeat_every_seconds):
        return [], state
    return ["missed"], replace(state, missing=True, missed_at=at)


def after_fired(state: AlertState) -> AlertState:
    """An occurrence fired: whatever was missing is no longer."""
    return replace(state, missing=False, missed_at=None) if state.missing else state


def after_paused(settings: AlertSettings) -> list[str]:
    """The schedule paused itself (failures in a row) or expired: one alert, always."""
    return ["paused"] if "paused" in settings.on else []


# ---- what an alert says ----------------------------------------------------------------------

_VERBS = {"failure": "failed", "missed": "missed a run", "paused": "was paused", "recovered": "recovered",
          "success": "succeeded", "test": "sent a test alert"}


def first_line(text: str | None, limit: int = 200) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def alert_text(event: str, schedule: Mapping[str, Any], run: Mapping[str, Any] | None, local_time: str) -> str:
    """The one-line default text: the schedule, what happened, when, and the error's first line."""
    name = str(schedule.get("name") or schedule.get("schedule_id"))
    text = f"[{event}] Schedule \"{name}\" {_VERBS.get(event, event)} at {local_time}"
    run = run or {}
    if event == "failure" and run.get("streak", 0) > 1:
        text += f" ({run['streak']} failures in a row)"
    if event == "paused" and schedule.get("pause_reason"):
        text += f": {first_line(schedule['pause_reason'])}"
    elif event in ("failure", "missed") and run.get("error"):
        text += f": {first_line(run['error'])}"
    return text


def digest_text(lines: list[str], limit: int = 10) -> str:
    """Several alerts for one channel as one message."""
    head = f"{len(lines)} schedule alerts:"
    shown = [f"• {line}" for line in lines[:limit]]
    more = [f"…and {len(lines) - limit} more"] if len(lines) > limit else []
    return "\n".join([head, *shown, *more])
