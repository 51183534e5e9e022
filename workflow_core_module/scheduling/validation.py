"""Validation of a schedule spec: one precise message per wrong field. Pure.

Input is a mapping as it arrives from JSON (or Python callers: datetimes are accepted too).
Output is a normalised, frozen :class:`ScheduleFields`. Date-times with an offset (or `Z`)
are absolute; naive ones are read in the schedule's own `timezone`. Instants are truncated to
whole seconds.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import zones
from .alerts import check_alerts
from .cron import CronError, parse_cron
from .occurrences import next_occurrence
from .rrules import MAX_RULE_CHARS, RRuleError, check_rrule, parse_rrule
from .schedule import FIELD_NAMES, ScheduleFields
from .types import UTC, CatchupPolicy, ChainOn, OverlapPolicy, ScheduleType, whole_second
from .zones import canonical_zone, suggest_zone, wall_to_utc

MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 2000
MAX_COMMUNITY_CHARS = 100
MAX_TAGS = 20
MAX_TAG_CHARS = 50
MAX_CONTEXT_BYTES = 64 * 1024
MAX_GRACE_SECONDS = 7 * 24 * 3600
MAX_JITTER_SECONDS = 3600
MAX_INTERVAL_SECONDS = 366 * 24 * 3600
MAX_URL_CHARS = 2000
MAX_TIMEOUT_SECONDS = 24 * 3600
MAX_PAUSE_REASON_CHARS = 500
MAX_PAUSE_AFTER_FAILURES = 1000
MAX_CATCHUP = 1000
MAX_RETRIES = 10
MAX_RETRY_BACKOFF_SECONDS = 3600

_TYPE_FIELDS = {
    ScheduleType.CRON: "cron_expression",
    ScheduleType.INTERVAL: "interval_seconds",
    ScheduleType.ONE_TIME: "scheduled_time",
    ScheduleType.RRULE: "rrule",
    ScheduleType.AFTER: "after",
}
_TIMING_FIELDS = frozenset(
    {"schedule_type", "cron_expression", "interval_seconds", "scheduled_time", "timezone",
     "start_date", "end_date", "rrule", "calendar_id", "after"}
)
_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")


class ValidationError(ValueError):
    """One or more fields are wrong. `errors` maps field name -> what is wrong."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


@dataclass(frozen=True, slots=True)
class Limits:
    min_interval_seconds: int = 60
    default_grace_period_seconds: int = 900


def merge_changes(current: ScheduleFields, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The spec an update asks for: `current` overlaid with `changes`.

    Changing `schedule_type` drops the old type's timing field unless the change sets it.
    """
    merged = current.as_dict()
    new_type = changes.get("schedule_type")
    if new_type is not None and new_type != current.schedule_type.value:
        for name in _TYPE_FIELDS.values():
            merged[name] = None
    merged.update(changes)
    return merged


def validate_schedule(
    data: Mapping[str, Any],
    *,
    limits: Limits,
    now: datetime | None = None,
    anchor: datetime | None = None,
    timing_only: bool = False,
) -> ScheduleFields:
    """Check a whole spec. With `now`, also require an occurrence after `now`.

    `anchor` is the interval grid's origin for that check (the creation time; default `now`).
    `timing_only` (for previews) makes `workflow_id` and `name` optional.
    Raises :class:`ValidationError` naming every wrong field.
    """
    if not isinstance(data, Mapping):
        raise ValidationError({"body": "expected a JSON object"})
    errors: dict[str, str] = {}
    unknown = sorted(set(data) - FIELD_NAMES)
    for name in unknown:
        errors[name] = "unknown field"
    v = _Reader(data, errors)

    schedule_type = v.choice("schedule_type", ScheduleType, required=True)
    zone = v.zone("timezone")
    values: dict[str, Any] = {
        "workflow_id": v.uuid("workflow_id", required=not timing_only),
        "name": v.text("name", MAX_NAME_CHARS, required=not timing_only),
        "description": v.text("description", MAX_DESCRIPTION_CHARS) or "",
        "community_id": v.text("community_id", MAX_COMMUNITY_CHARS) or None,
        "schedule_type": schedule_type,
        "timezone": zone,
        "cron_expression": v.cron("cron_expression"),
        "interval_seconds": v.integer("interval_seconds", limits.min_interval_seconds, MAX_INTERVAL_SECONDS),
        "scheduled_time": v.instant("scheduled_time", zone),
        "rrule": v.rrule("rrule"),
        "calendar_id": v.uuid("calendar_id", required=False),
        "after": v.after("after"),
        "start_date": v.instant("start_date", zone),
        "end_date": v.instant("end_date", zone, bound="until"),
        "max_executions": v.integer("max_executions", 1, 10**9),
        "grace_period_seconds": v.integer("grace_period_seconds", 0, MAX_GRACE_SECONDS),
        "overlap_policy": v.choice("overlap_policy", OverlapPolicy) or OverlapPolicy.SKIP,
        "jitter_seconds": v.integer("jitter_seconds", 0, MAX_JITTER_SECONDS) or 0,
        "catchup_policy": v.choice("catchup_policy", CatchupPolicy) or CatchupPolicy.LATEST,
        "catchup_max": v.integer("catchup_max", 1, MAX_CATCHUP) or 10,
        "context_data": v.context("context_data"),
        "tags": v.tags("tags"),
        "callback_url": v.url("callback_url"),
        "timeout_seconds": v.integer("timeout_seconds", 1, MAX_TIMEOUT_SECONDS),
        "max_retries": v.integer("max_retries", 0, MAX_RETRIES),
        "retry_backoff_seconds": v.integer("retry_backoff_seconds", 1, MAX_RETRY_BACKOFF_SECONDS),
        "pause_after_failures": v.integer("pause_after_failures", 1, MAX_PAUSE_AFTER_FAILURES),
        "alerts": v.alerts("alerts"),
    }
    if values["grace_period_seconds"] is None:
        values["grace_period_seconds"] = limits.default_grace_period_seconds

    if isinstance(schedule_type, ScheduleType):
        needed = _TYPE_FIELDS[schedule_type]
        if values[needed] is None and not any(k == needed or k.startswith(f"{needed}.") for k in errors):
            errors[needed] = f"required for {schedule_type.value} schedules"
        for other_type, other in _TYPE_FIELDS.items():
            if other_type is not schedule_type and data.get(other) is not None and other not in errors:
                errors[other] = f"only allowed for {other_type.value} schedules, not {schedule_type.value}"
    for i, channel in enumerate((values["alerts"] or {}).get("channels", ())):
        if channel.get("type") != "chat":
            continue
        if values["community_id"] is None:
            errors[f"alerts.channels[{i}]"] = "a chat alert posts into the schedule's community: set community_id"
        elif not channel.get("entity_id") and not values["context_data"].get("entity_id"):
            errors[f"alerts.channels[{i}].entity_id"] = ("required: the chat channel to post into (schedules made in "
                                                         "chat have it in context_data.entity_id)")
    if schedule_type is ScheduleType.AFTER and values["calendar_id"] is not None:
        errors.setdefault("calendar_id", "an after schedule runs when its upstream's runs end: it takes no calendar")
    start, end = values["start_date"], values["end_date"]
    if start is not None and end is not None and end <= start and "end_date" not in errors:
        errors["end_date"] = "must be after start_date"
    if schedule_type is ScheduleType.RRULE and values["rrule"] is not None and not errors:
        if start is None:
            errors["start_date"] = "required for rrule schedules: it is the rule's DTSTART (its first day and time)"
        else:
            try:
                check_rrule(parse_rrule(values["rrule"]), zone, start, limits.min_interval_seconds)
            except RRuleError as exc:
                errors["rrule"] = f"{_show(values['rrule'])} {exc}"
    if errors:
        raise ValidationError(errors)

    if timing_only:
        values["workflow_id"] = values["workflow_id"] or ""
        values["name"] = values["name"] or ""
    fields = ScheduleFields(**values)
    if now is not None:
        _require_future(fields, now, anchor or now)
    return fields


def validate_pause(data: Mapping[str, Any], *, zone: str, now: datetime) -> tuple[str | None, datetime | None]:
    """A pause request: why (optional, one line of up to 500 characters) and until when (optional,
    after `now`; without an offset it is read in the schedule's `zone`). Returns (reason, until)."""
    if not isinstance(data, Mapping):
        raise ValidationError({"body": "expected a JSON object"})
    errors = {name: "unknown field" for name in sorted(set(data) - {"reason", "until"})}
    v = _Reader(data, errors)
    reason = v.text("reason", MAX_PAUSE_REASON_CHARS)
    until = v.instant("until", zone)
    if until is not None and until <= now and "until" not in errors:
        errors["until"] = "must be in the future"
    if errors:
        raise ValidationError(errors)
    return reason or None, until


MAX_BACKFILL_RUNS = 1000


def validate_backfill(data: Mapping[str, Any], *, zone: str, now: datetime) -> tuple[datetime, datetime, int]:
    """A backfill request: `start` and `end` (ISO; without an offset read in the schedule's
    `zone`), a past range (start <= end <= now), and `max_runs` (1-1000, default 1000).
    Returns (start, end, max_runs)."""
    if not isinstance(data, Mapping):
        raise ValidationError({"body": "expected a JSON object"})
    errors = {name: "unknown field" for name in sorted(set(data) - {"start", "end", "max_runs"})}
    v = _Reader(data, errors)
    start = v.instant("start", zone)
    end = v.instant("end", zone, bound="until")
    max_runs = v.integer("max_runs", 1, MAX_BACKFILL_RUNS)
    for name, value in (("start", start), ("end", end)):
        if value is None and name not in errors:
            errors[name] = "required"
    if start is not None and end is not None and not errors:
        if end < start:
            errors["end"] = "must not be before start"
        elif end > now:
            errors["end"] = "must not be in the future: backfill runs past occurrences only"
    if errors:
        raise ValidationError(errors)
    assert start is not None and end is not None
    return start, end, max_runs or MAX_BACKFILL_RUNS


MAX_ACTOR_CHARS = 200  # audit_log.actor
MAX_ACTION_CHARS = 64  # audit_log.action
_SPACED_OFFSET = re.compile(r"^(\S+T\S+) (\d{2}(?::?\d{2})?)$")


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which audit rows to list: all the given conditions hold. `since` is inclusive and
    `until` exclusive, both aware UTC in whole seconds."""

    entity_type: str | None = None
    entity_id: str | None = None
    community_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def validate_audit_filter(data: Mapping[str, Any]) -> AuditFilter:
    """The audit log's query: `schedule_id` or `workflow_id` (a UUID; not both), `community_id`,
    `actor` and `action` (exact), `since` and `until` (ISO instants; without an offset, UTC).
    Raises ValidationError naming each wrong field."""
    errors = {name: "unknown field" for name in sorted(set(data) - _AUDIT_FIELDS)}
    v = _Reader({k: _offset_sign(v) if k in ("since", "until") else v for k, v in data.items()}, errors)
    schedule_id = v.uuid("schedule_id", required=False)
    workflow_id = v.uuid("workflow_id", required=False)
    if data.get("schedule_id") is not None and data.get("workflow_id") is not None:
        errors.setdefault("workflow_id", "give schedule_id or workflow_id, not both")
    community_id = v.text("community_id", MAX_COMMUNITY_CHARS)
    actor = v.text("actor", MAX_ACTOR_CHARS)
    action = v.text("action", MAX_ACTION_CHARS)
    # Whole seconds (as stored), each bound widened to the second it falls in.
    since = v.instant("since", "UTC", bound="to")
    until = v.instant("until", "UTC", bound="from")
    if since is not None and until is not None and until <= since:
        errors.setdefault("until", "must be after since")
    if errors:
        raise ValidationError(errors)
    entity = ("schedule", schedule_id) if schedule_id else ("workflow", workflow_id) if workflow_id else (None, None)
    return AuditFilter(entity[0], entity[1], community_id or None, actor or None, action or None, since, until)


_AUDIT_FIELDS = frozenset({"schedule_id", "workflow_id", "community_id", "actor", "action", "since", "until"})


def _offset_sign(value: Any) -> Any:
    """An instant from a query string whose `+` offset arrived as a space (an unencoded
    `...T12:00:00+02:00` in a URL), with its `+` back."""
    if isinstance(value, str):
        spaced = _SPACED_OFFSET.match(value.strip())
        if spaced:
            return f"{spaced[1]}+{spaced[2]}"
    return value


def _require_future(fields: ScheduleFields, now: datetime, anchor: datetime) -> None:
    if fields.schedule_type is ScheduleType.AFTER:  # no time of its own: only its window must be ahead
        if fields.end_date is not None and fields.end_date <= now.astimezone(UTC):
            raise ValidationError({"end_date": "has passed: this schedule could never run"})
        return
    rule = fields.time_rule(anchor)
    if next_occurrence(rule, now) is not None:
        return
    if fields.schedule_type is ScheduleType.ONE_TIME and fields.scheduled_time is not None:
        if fields.scheduled_time <= now.astimezone(UTC):
            raise ValidationError({"scheduled_time": "must be in the future"})
        if fields.start_date is not None and fields.scheduled_time < fields.start_date:
            raise ValidationError({"scheduled_time": "is before start_date"})
    if fields.end_date is not None:
        raise ValidationError({"end_date": "the window ends before the next occurrence"})
    raise ValidationError({"schedule_type": "this schedule has no future occurrence"})


class _Reader:
    """Reads one field at a time from `data`, recording a message per bad field."""

    def __init__(self, data: Mapping[str, Any], errors: dict[str, str]) -> None:
        self.data = data
        self.errors = errors

    def _get(self, name: str) -> Any:
        return self.data.get(name)

    def _bad(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def text(self, name: str, max_chars: int, *, required: bool = False) -> str | None:
        value = self._get(name)
        if value is None:
            if required:
                self._bad(name, "required")
            return None
        if not isinstance(value, str):
            self._bad(name, f"expected a string, got {_kind(value)}")
            return None
        value = value.strip()
        if required and not value:
            self._bad(name, "must not be empty")
            return None
        if len(value) > max_chars:
            self._bad(name, f"at most {max_chars} characters, got {len(value)}")
            return None
        if any(ord(c) < 32 and c not in "\t\n" for c in value):
            self._bad(name, "must not contain control characters")
            return None
        return value

    def uuid(self, name: str, *, required: bool) -> str | None:
        value = self._get(name)
        if value is None:
            if required:
                self._bad(name, "required")
            return None
        if not isinstance(value, str):
            self._bad(name, f"expected a UUID string, got {_kind(value)}")
            return None
        try:
            return str(uuid.UUID(value))
        except ValueError:
            self._bad(name, f"{_show(value)} is not a UUID")
            return None

    def choice(self, name: str, enum: type[Any], *, required: bool = False) -> Any:
        value = self._get(name)
        if value is None:
            if required:
                self._bad(name, f"required: one of {', '.join(e.value for e in enum)}")
            return None
        try:
            return enum(value)
        except ValueError:
            self._bad(name, f"must be one of {', '.join(e.value for e in enum)}, got {_show(value)}")
            return None

    def integer(self, name: str, minimum: int, maximum: int) -> int | None:
        value = self._get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                self._bad(name, f"expected a whole number, got {_kind(value)} {_show(value)}")
                return None
        if not minimum <= value <= maximum:
            self._bad(name, f"must be between {minimum} and {maximum}, got {value}")
            return None
        return value

    def zone(self, name: str) -> str:
        """An IANA zone name in any case, stored in its canonical spelling."""
        value = self._get(name)
        if value is None:
            return "UTC"
        if not isinstance(value, str) or not value.strip():
            self._bad(name, f"expected an IANA time zone name like 'Europe/Berlin', got {_show(value)}")
            return "UTC"
        canonical = canonical_zone(value)
        if canonical is None:
            suggested = suggest_zone(value)
            hint = f"did you mean {suggested!r}?" if suggested else "use an IANA name like 'America/New_York'"
            self._bad(name, f"unknown time zone {_show(value)}; {hint}")
            return "UTC"
        return canonical

    def cron(self, name: str) -> str | None:
        value = self._get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            self._bad(name, f"expected a string, got {_kind(value)}")
            return None
        if len(value) > 200:
            self._bad(name, "at most 200 characters")
            return None
        try:
            return parse_cron(value).expression
        except CronError as exc:
            self._bad(name, f"{_show(value)} {exc}")
            return None

    def rrule(self, name: str) -> str | None:
        """An RFC 5545 RRULE value, normalised (checked against its DTSTART later)."""
        value = self._get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            self._bad(name, f"expected a string, got {_kind(value)}")
            return None
        if len(value) > MAX_RULE_CHARS:
            self._bad(name, f"at most {MAX_RULE_CHARS} characters")
            return None
        try:
            return parse_rrule(value).text
        except RRuleError as exc:
            self._bad(name, f"{_show(value)} {exc}")
            return None

    def instant(self, name: str, zone: str, *, bound: str = "from") -> datetime | None:
        """An ISO date-time read in `zone` (when it has no offset), in whole seconds: rounded up
        for a time to fire at or from (never early), down for an end (never past it)."""
        value = self._get(name)
        if value is None:
            return None
        if isinstance(value, datetime):
            parsed = value
        elif isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip())
            except ValueError:
                self._bad(name, f"{_show(value)} is not an ISO 8601 date-time like 2026-12-24T18:00:00Z")
                return None
        else:
            self._bad(name, f"expected an ISO 8601 date-time string, got {_kind(value)}")
            return None
        if parsed.tzinfo is None:  # a wall time in the schedule's zone, by the one DST rule
            parsed = wall_to_utc(parsed, zones.zone(zone))
        try:
            result = whole_second(parsed.astimezone(UTC), up=bound == "from")
        except (OverflowError, ValueError):
            self._bad(name, f"{_show(value)} is out of range")
            return None
        if not 1970 <= result.year <= 9998:
            self._bad(name, f"{_show(value)} is out of range (years 1970-9998)")
            return None
        return result

    def context(self, name: str) -> dict[str, Any]:
        value = self._get(name)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self._bad(name, f"expected a JSON object, got {_kind(value)}")
            return {}
        try:
            encoded = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            self._bad(name, f"must be plain JSON ({exc})")
            return {}
        if len(encoded.encode()) > MAX_CONTEXT_BYTES:
            self._bad(name, f"at most {MAX_CONTEXT_BYTES} bytes of JSON")
            return {}
        result: dict[str, Any] = json.loads(encoded)
        return result

    def tags(self, name: str) -> tuple[str, ...]:
        value = self._get(name)
        if value is None:
            return ()
        if not isinstance(value, (list, tuple)):
            self._bad(name, f"expected a list of strings, got {_kind(value)}")
            return ()
        out: list[str] = []
        for item in value:
            if not isinstance(item, str) or not item.strip():
                self._bad(name, f"every tag must be a non-empty string, got {_show(item)}")
                return ()
            tag = item.strip()
            if len(tag) > MAX_TAG_CHARS or any(ord(c) < 32 for c in tag) or "," in tag:
                self._bad(name, f"tag {_show(tag)}: at most {MAX_TAG_CHARS} characters, "
                                "no commas or control characters")
                return ()
            if tag not in out:
                out.append(tag)
        if len(out) > MAX_TAGS:
            self._bad(name, f"at most {MAX_TAGS} tags, got {len(out)}")
            return ()
        return tuple(out)

    def alerts(self, name: str) -> dict[str, Any] | None:
        value, problems = check_alerts(self._get(name))
        for field_name, message in problems.items():
            self._bad(field_name, message)
        return value

    def after(self, name: str) -> dict[str, Any] | None:
        """{"schedule_id": <UUID>, "on": success|failure|any (default success)}, normalised. Whether
        the upstream exists, is in reach and makes no cycle is checked against the stored schedules."""
        value = self._get(name)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self._bad(name, f'expected an object like {{"schedule_id": "<uuid>", "on": "success"}}, got {_kind(value)}')
            return None
        unknown = sorted(set(value) - {"schedule_id", "on"})
        if unknown:
            self._bad(f"{name}.{unknown[0]}", "unknown field (after takes schedule_id and on)")
            return None
        inner = _Reader(value, {})
        upstream = inner.uuid("schedule_id", required=True)
        on = inner.choice("on", ChainOn) or ChainOn.SUCCESS
        for field_name, message in inner.errors.items():
            self._bad(f"{name}.{field_name}", message)
        if upstream is None or inner.errors:
            return None
        return {"schedule_id": upstream, "on": on.value}

    def url(self, name: str) -> str | None:
        value = self._get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str) or len(value) > MAX_URL_CHARS or not _URL.match(value.strip()):
            self._bad(name, f"expected an http:// or https:// URL, got {_show(value)}")
            return None
        return value.strip()


def _kind(value: Any) -> str:
    return {
        bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
        dict: "an object", type(None): "null",
    }.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
