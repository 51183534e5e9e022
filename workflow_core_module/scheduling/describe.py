"""Human descriptions of a schedule's timing. Pure."""

from __future__ import annotations

from cron_descriptor import ExpressionDescriptor, Options

from . import zones
from .types import ScheduleType, TimeRule

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


def describe(rule: TimeRule) -> str:
    """"At 09:00, Monday through Friday (Europe/Berlin)", "Every 10 minutes", "Once, at ..."."""
    zone = "" if rule.timezone == "UTC" else f" ({rule.timezone})"
    if rule.schedule_type is ScheduleType.CRON and rule.cron_expression:
        try:
            text = ExpressionDescriptor(rule.cron_expression, _OPTIONS).get_description()
        except Exception:  # a valid croniter expression cron-descriptor cannot word
            text = f"Cron {rule.cron_expression}"
        return text + zone
    if rule.schedule_type is ScheduleType.INTERVAL and rule.interval_seconds:
        return describe_interval(rule.interval_seconds)
    if rule.scheduled_time is not None:
        local = zones.local(rule.scheduled_time, rule.timezone)
        return f"Once, at {local:%Y-%m-%d %H:%M}" + (f":{local:%S}" if local.second else "") + zone
    return "Never"
