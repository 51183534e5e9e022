"""Value types of the scheduling domain. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .calendars import CalendarRule

UTC = timezone.utc


class ScheduleType(str, Enum):
    CRON = "cron"
    INTERVAL = "interval"
    ONE_TIME = "one_time"
    RRULE = "rrule"  # an RFC 5545 recurrence rule (scheduling/rrules.py)
    AFTER = "after"  # runs when a run of another schedule ends (a chain): no time of its own


class ChainOn(str, Enum):
    """Which ends of its upstream's runs start an `after` schedule."""

    SUCCESS = "success"  # completed
    FAILURE = "failure"  # failed or timed out (after the last retry)
    ANY = "any"  # completed, failed or timed out; a cancelled run starts nothing

    def matches(self, status: str) -> bool:
        return status in CHAIN_STATUSES[self]


class ScheduleStatus(str, Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    EXPIRED = "expired"


class OverlapPolicy(str, Enum):
    SKIP = "skip"
    ALLOW = "allow"
    BUFFER_ONE = "buffer_one"
    CANCEL_PREVIOUS = "cancel_previous"


class CatchupPolicy(str, Enum):
    LATEST = "latest"  # occurrences missed inside the grace period coalesce into one fire
    ALL = "all"  # each of them fires, oldest first (at most catchup_max; older ones are missed)


class RunStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"
    MISSED = "missed"
    CANCELLED = "cancelled"


MAX_PAGE = 500  # the most items one page of a list holds
MAX_OFFSET = 1_000_000_000  # the furthest a page may start

UNFINISHED = ("queued", "running")  # the statuses of a run (or execution) that has not ended

# The run statuses that start a chain, per `on`. A skipped or missed occurrence is not a run that
# ended, and a cancelled one was stopped from outside (superseded, or the service stopping).
CHAIN_STATUSES = {ChainOn.SUCCESS: frozenset({"completed"}), ChainOn.FAILURE: frozenset({"failed", "timed_out"}),
                  ChainOn.ANY: frozenset({"completed", "failed", "timed_out"})}


@dataclass(frozen=True, slots=True)
class TimeRule:
    """Everything that decides *when* a schedule fires.

    All datetimes are timezone-aware UTC with whole seconds. `anchor` is where an interval
    schedule's grid starts (start_date, or the creation time), so occurrences never drift.
    """

    schedule_type: ScheduleType
    timezone: str = "UTC"
    cron_expression: str | None = None
    interval_seconds: int | None = None
    scheduled_time: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    anchor: datetime | None = None
    rrule: str | None = None  # rrule schedules: the rule; start_date is its DTSTART
    calendar: CalendarRule | None = None  # days on which no occurrence happens
    after: tuple[str, ChainOn] | None = None  # after schedules: (the upstream's schedule_id, on which ends)


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; naive values are taken to be UTC already (as stored)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@lru_cache(maxsize=4096)
def iso_z(value: datetime, *, fraction: bool = False) -> str:
    """The one way an instant is written out: ISO 8601 in UTC with a ``Z`` (naive values are UTC),
    in whole seconds unless `fraction` keeps the sub-second part (when there is one). Memoised:
    a burst writes the same few instants (its due time, the claim's now) thousands of times."""
    utc = as_utc(value)
    if not fraction or not utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    return utc.replace(tzinfo=None).isoformat() + "Z"


def iso_z_or_none(value: datetime | None) -> str | None:
    """An instant as answers write it (iso_z, whole seconds), or None."""
    return None if value is None else iso_z(value)


def whole_second(value: datetime, *, up: bool) -> datetime:
    """`value` in UTC on a whole second: the next one when `up` (a time given with a fraction
    never fires early), else the one before (an end never lets a later occurrence in)."""
    floor = as_utc(value).replace(microsecond=0)
    return floor + timedelta(seconds=1) if up and floor != as_utc(value) else floor
