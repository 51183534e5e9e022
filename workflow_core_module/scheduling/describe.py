"""Human descriptions of a schedule's timing. Pure."""

from __future__ import annotations

from cron_descriptor import ExpressionDescriptor, Options

from . import zones
from .rrules import RRuleError, describe_rrule, parse_rrule
from .types import ChainOn, ScheduleType, TimeRule

_OPTIONS = Options()
_OPTIONS.use_24hour_time_format = True
_OPTIONS.verbose = False

_UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


def describe_interval(seconds: int) -> str:
    for size, unit in _UNITS:
        if seconds % size == 0:
            count = seconds // size
            return f"Every {unit}" if count == 1 else f"Every {count} {unit}s"
    return f"Every {seconds} seconds"


_ENDS = {ChainOn.SUCCESS: "ends successfully", ChainOn.FAILURE: "fails or times out",
         ChainOn.ANY: "ends (successfully or not)"}


def describe_after(upstream: str, on: ChainOn) -> str:
    """"Runs after nightly-export ends successfully": `upstream` is the upstream's name (or id)."""
    return f"Runs after {upstream} {_ENDS[on]}"


def describe(rule: TimeRule, upstream_name: str | None = None) -> str:
    """"At 09:00, Monday through Friday (Europe/Berlin)", "Every 10 minutes", "Once, at ...",
    "Runs after <upstream_name, or schedule <id>> ends successfully"."""
    if rule.after is not None:
        upstream, on = rule.after
        return describe_after(upstream_name or f"schedule {upstream}", on)
    zone = "" if rule.timezone == "UTC" else f" ({rule.timezone})"
    if rule.schedule_type is ScheduleType.CRON and rule.cron_expression:
        try:
            text = ExpressionDescriptor(rule.cron_expression, _OPTIONS).get_description()
        except Exception:  # a valid croniter expression cron-descriptor cannot word
            text = f"Cron {rule.cron_expression}"
        return text + zone + _calendar(rule)
    if rule.schedule_type is ScheduleType.INTERVAL and rule.interval_seconds:
        return describe_interval(rule.interval_seconds) + _calendar(rule)
    if rule.schedule_type is ScheduleType.RRULE and rule.rrule:
        try:
            text = describe_rrule(parse_rrule(rule.rrule), rule.start_date, rule.timezone)
        except RRuleError:
            text = f"RRULE {rule.rrule}"
        return text[:1].upper() + text[1:] + zone + _calendar(rule)
    if rule.scheduled_time is not None:
        local = zones.local(rule.scheduled_time, rule.timezone)
        return f"Once, at {local:%Y-%m-%d %H:%M}" + (f":{local:%S}" if local.second else "") + zone
    return "Never"


def _calendar(rule: TimeRule) -> str:
    """What the rule's calendar leaves out, in words."""
    calendar = rule.calendar
    if calendar is None:
        return ""
    parts = []
    if calendar.weekdays_only:
        parts.append("weekends")
    if calendar.holidays is not None:
        country, subdivision = calendar.holidays
        parts.append(f"public holidays in {country}" + (f"-{subdivision}" if subdivision else ""))
    if calendar.ranges:
        days = sum((last - first).days + 1 for first, last in calendar.ranges)
        parts.append("1 excluded date" if days == 1 else f"{days} excluded dates")
    if not parts:
        return ""
    where = "" if calendar.timezone == rule.timezone else f" ({calendar.timezone})"
    return ", except " + ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1] + where
