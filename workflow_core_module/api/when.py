"""`"when"` in a schedule request: a phrase in plain words (the chat's reader) in place of the
type-specific timing fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..chat import ChatParseError, read_when
from ..errors import Invalid
from ..scheduling.zones import canonical_zone

# What a phrase sets; a request giving one of these beside "when" is refused, not merged.
_TIMING = ("schedule_type", "cron_expression", "interval_seconds", "scheduled_time", "start_date")


def expand_when(spec: dict[str, Any], now: datetime, *, zone: str = "UTC", date_order: str | None = None,
                replace_timing: bool = False) -> dict[str, Any]:
    """`spec` with its "when" read into timing fields, in the request's `timezone` (default `zone`).

    `date_order` (``dmy``/``mdy``) reads a date like 01/02; None: the usual order of the zone,
    else the reader asks (a 400 with its question). `replace_timing` (PATCH): the timing fields
    the phrase does not set are cleared, so nothing of the old timing (a start_date, a cron) is
    left beside the new one; an end_date or max_executions the phrase does not give stays."""
    if "when" not in spec:
        return spec
    spec = dict(spec)
    phrase = spec.pop("when")
    if phrase is None:
        return spec
    given = [name for name in _TIMING if spec.get(name) is not None]
    if given:
        raise Invalid({"when": f"give either when or {', '.join(given)}, not both"})
    zone = spec.get("timezone") or zone
    if canonical_zone(zone) is None:
        raise Invalid({"timezone": f"unknown time zone {zone!r}"})
    try:
        timing = read_when(phrase, now=now, timezone=canonical_zone(zone) or zone, date_order=date_order)
    except ChatParseError as exc:
        raise Invalid({"when": str(exc)}) from None
    if "end_date" in timing and spec.get("end_date") is not None:
        raise Invalid({"when": "give the end either in when (until ...) or as end_date, not both"})
    if "max_executions" in timing and spec.get("max_executions") is not None:
        raise Invalid({"when": "give the count either in when (... times) or as max_executions, not both"})
    cleared = dict.fromkeys(_TIMING) if replace_timing else {}
    return cleared | spec | timing
