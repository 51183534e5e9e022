"""The pure scheduling domain: types, validation, next occurrences and due-row decisions.

Nothing in this package performs I/O or reads the clock; every instant is an argument.
"""

from .cron import CronError, CronSpec, next_cron, parse_cron
from .decisions import (
    Decision,
    DueState,
    Plan,
    Unfinished,
    decide,
    jitter_delay_seconds,
    plan,
    plan_chained,
    status_for_next,
)
from .occurrences import latest_at_or_before, minutes_between, next_occurrence, occurrences
from .types import (
    UNFINISHED,
    UTC,
    CatchupPolicy,
    OverlapPolicy,
    RunStatus,
    ScheduleStatus,
    ScheduleType,
    TimeRule,
    as_utc,
    whole_second,
)

__all__ = [
    "UTC",
    "CatchupPolicy",
    "CronError",
    "CronSpec",
    "Decision",
    "DueState",
    "OverlapPolicy",
    "Plan",
    "Unfinished",
    "RunStatus",
    "UNFINISHED",
    "ScheduleStatus",
    "ScheduleType",
    "TimeRule",
    "as_utc",
    "decide",
    "jitter_delay_seconds",
    "latest_at_or_before",
    "minutes_between",
    "next_cron",
    "next_occurrence",
    "occurrences",
    "parse_cron",
    "plan",
    "plan_chained",
    "status_for_next",
    "whole_second",
]
