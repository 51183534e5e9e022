"""A schedule's fields, declared once. Pure.

:class:`ScheduleFields` holds what a user sets (validated by ``validation.py``), :class:`Schedule`
adds what the service keeps (ids, state, counters). Each field's Python type says what kind of
value it holds; its :func:`col` metadata adds what the type cannot say (a string column's width,
whether answers show it, whether the due query reads it, its API description). From these two
classes derive the pyDAL table (``db/tables.py``), row decoding (:meth:`Schedule.from_row`), the
due query's column list, the API's request and answer models and the JSON answer. Adding a field
is one line here and a migration.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from enum import Enum
from typing import Any

from .calendars import CalendarRule
from .types import UTC, CatchupPolicy, ChainOn, OverlapPolicy, RunStatus, ScheduleStatus, ScheduleType, TimeRule, as_utc


@dataclass(frozen=True, slots=True)
class Col:
    """What a field's type does not say."""

    length: int | None = None  # a string column's width (None: unbounded text)
    bigint: bool = False
    answer: bool = True  # shown in the API's answers
    due: bool = False  # read by the due query (the claim's view of a schedule)
    doc: str | None = None
    example: Any = None


def col(length: int | None = None, **meta: Any) -> dict[str, Col]:
    """Field metadata: ``field(metadata=col(36, due=True))``."""
    return {"col": Col(length, **meta)}


_UUID = 36


@dataclass(frozen=True, slots=True)
class RunLimits:
    """A schedule's own limits for its runs; None: the service's default."""

    timeout_seconds: int | None = None
    max_retries: int | None = None
    retry_backoff_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class ScheduleFields:
    """Every user-settable column of a schedule, validated and normalised."""

    workflow_id: str = field(metadata=col(_UUID, due=True, doc="UUID of the workflow to run"))
    name: str = field(metadata=col(100, due=True, example="weekday-standup"))
    schedule_type: ScheduleType = field(metadata=col(16, due=True))
    description: str = field(default="", metadata=col())
    community_id: str | None = field(default=None, metadata=col(100, due=True))
    cron_expression: str | None = field(default=None, metadata=col(
        200, due=True, doc="5 fields, 6 with seconds first, or @hourly etc.", example="0 9 * * 1-5"))
    interval_seconds: int | None = field(default=None, metadata=col(due=True, example=600))
    scheduled_time: datetime | None = field(default=None, metadata=col(due=True))
    rrule: str | None = field(default=None, metadata=col(
        300, due=True, doc="rrule schedules: an RFC 5545 RRULE read in `timezone` from start_date (its DTSTART)",
        example="FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2"))
    calendar_id: str | None = field(default=None, metadata=col(
        _UUID, due=True, doc="a calendar whose excluded days hold no occurrence (its community's or a shared one)"))
    after: dict[str, Any] | None = field(default=None, metadata=col(
        doc="after schedules: the schedule whose runs start this one, and on which of their ends (`success`: "
            "completed, `failure`: failed or timed out, `any`: either; default success)",
        example={"schedule_id": "6a6b95f9-5ab5-43a9-b33f-249071982a69", "on": "success"}))
    timezone: str = field(default="UTC", metadata=col(
        64, due=True, doc="IANA zone name; default UTC", example="Europe/Berlin"))
    start_date: datetime | None = field(default=None, metadata=col(due=True))
    end_date: datetime | None = field(default=None, metadata=col(due=True))
    max_executions: int | None = field(default=None, metadata=col(due=True))
    grace_period_seconds: int = field(default=900, metadata=col(due=True))
    overlap_policy: OverlapPolicy = field(default=OverlapPolicy.SKIP, metadata=col(16, due=True))
    catchup_policy: CatchupPolicy = field(default=CatchupPolicy.LATEST, metadata=col(
        16, due=True, doc="occurrences missed inside the grace period: `latest` fires once for them all, `all` "
                          "fires each, oldest first"))
    catchup_max: int = field(default=10, metadata=col(
        due=True, doc="with `all`, the most occurrences that fire; older ones are recorded missed"))
    jitter_seconds: int = field(default=0, metadata=col(due=True))
    context_data: dict[str, Any] = field(default_factory=dict, metadata=col(due=True))
    tags: tuple[str, ...] = field(default=(), metadata=col())
    callback_url: str | None = field(default=None, metadata=col(2000, due=True))
    timeout_seconds: int | None = field(default=None, metadata=col(
        due=True, doc="each attempt's time limit; null: the service's WORKFLOW_TIMEOUT_SECONDS"))
    max_retries: int | None = field(default=None, metadata=col(
        due=True, doc="attempts after the first when one fails; null: the service's WORKFLOW_MAX_RETRIES"))
    retry_backoff_seconds: int | None = field(default=None, metadata=col(
        due=True, doc="the wait before the first retry, doubled for each later one; null: the service's "
                      "WORKFLOW_RETRY_BASE_SECONDS"))
    pause_after_failures: int | None = field(default=None, metadata=col(
        doc="pause by itself after this many failed or timed-out runs in a row; null: never"))
    alerts: dict[str, Any] | None = field(default=None, metadata=col(
        due=True, doc="who to tell when a run fails, is missed, the schedule pauses itself or recovers "
                      "(docs/alerts.md); null: nobody",
        example={"on": ["failure", "recovered"], "after_consecutive": 2, "channels": [{"type": "chat"}]}))

    def time_rule(self, anchor: datetime, calendar: CalendarRule | None = None) -> TimeRule:
        """The timing part; `anchor` (the creation time) starts an interval grid without a start_date.
        `calendar` is the calendar named by calendar_id (loaded by the caller)."""
        return TimeRule(
            schedule_type=self.schedule_type,
            timezone=self.timezone,
            cron_expression=self.cron_expression,
            interval_seconds=self.interval_seconds,
            scheduled_time=self.scheduled_time,
            start_date=self.start_date,
            end_date=self.end_date,
            anchor=self.start_date or anchor.astimezone(UTC).replace(microsecond=0),
            rrule=self.rrule,
            calendar=calendar if self.calendar_id is not None else None,
            after=self.upstream(),
        )

    def upstream(self) -> tuple[str, ChainOn] | None:
        """An after schedule's (upstream schedule_id, on which ends); None for a time schedule."""
        if self.schedule_type is not ScheduleType.AFTER or not self.after:
            return None
        return str(self.after["schedule_id"]), ChainOn(self.after.get("on") or ChainOn.SUCCESS.value)

    def limits(self) -> RunLimits:
        return RunLimits(self.timeout_seconds, self.max_retries, self.retry_backoff_seconds)

    def as_dict(self) -> dict[str, Any]:
        """The user-settable values, plain (enums as text, tags as a list); context_data is shared."""
        values = {name: getattr(self, name) for name in FIELD_ORDER}
        values["schedule_type"] = self.schedule_type.value
        values["overlap_policy"] = self.overlap_policy.value
        values["catchup_policy"] = self.catchup_policy.value
        values["tags"] = list(self.tags)
        return values


@dataclass(frozen=True, slots=True, kw_only=True)
class Schedule(ScheduleFields):
    """A stored schedule: its spec and what the service keeps about it. Aware UTC datetimes."""

    id: int = field(metadata=col(answer=False, due=True))
    schedule_id: str = field(metadata=col(_UUID, due=True))
    is_active: bool = field(default=True, metadata=col())
    status: ScheduleStatus = field(default=ScheduleStatus.ACTIVE, metadata=col(16))
    next_execution_at: datetime | None = field(default=None, metadata=col(due=True))
    last_execution_at: datetime | None = field(default=None, metadata=col())
    last_execution_id: str | None = field(default=None, metadata=col(_UUID))
    last_run_status: RunStatus | None = field(default=None, metadata=col(16))
    last_run_at: datetime | None = field(default=None, metadata=col())
    execution_count: int = field(default=0, metadata=col(due=True))
    pause_reason: str | None = field(default=None, metadata=col(500))
    paused_at: datetime | None = field(default=None, metadata=col())
    paused_by: str | None = field(default=None, metadata=col(200))
    paused_until: datetime | None = field(default=None, metadata=col())  # it resumes by itself then
    consecutive_failures: int = field(default=0, metadata=col())  # failed or timed-out runs in a row
    alert_state: dict[str, Any] | None = field(default=None, metadata=col(
        due=True, doc="what its alerts remember: failing / missing since the last alert (docs/alerts.md)"))
    created_by: str = field(default="", metadata=col(200))
    # The calendar named by calendar_id as it is now (CalendarRule.as_json), kept on the row so
    # that every reader of the schedule (the claim, /next, chat, every replica) computes the same
    # times without a read of its own; rewritten whenever the calendar changes.
    calendar_spec: dict[str, Any] | None = field(default=None, metadata=col(due=True, answer=False))
    # An after schedule's upstream (after.schedule_id) as a column of its own: indexed, it finds
    # the schedules a run's end starts, and those that keep a schedule from being deleted.
    upstream_id: str | None = field(default=None, metadata=col(_UUID, answer=False))
    total_runs: int = field(default=0, metadata=col())
    successful_runs: int = field(default=0, metadata=col())
    failed_runs: int = field(default=0, metadata=col())
    missed_runs: int = field(default=0, metadata=col())
    total_duration_ms: int = field(default=0, metadata=col(bigint=True, answer=False))
    created_at: datetime = field(metadata=col(due=True))
    updated_at: datetime = field(metadata=col())
    deleted_at: datetime | None = field(default=None, metadata=col(answer=False))

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Schedule:
        """From a mapping of column values as the table codec decodes them (naive UTC datetimes,
        JSON decoded); columns it lacks, or holds as NULL, take their defaults."""
        values = _DEFAULTS.copy()
        for name, factory in _FACTORIES:
            values[name] = factory()
        for name, value in row.items():
            if value is not None and name in values:
                decode = _DECODERS[name]
                values[name] = value if decode is None else decode(value)
        return cls(**values)

    def rule(self) -> TimeRule:
        calendar = CalendarRule.from_json(self.calendar_spec) if self.calendar_spec else None
        return self.time_rule(anchor=self.created_at, calendar=calendar)

    def stats(self) -> dict[str, Any]:
        finished = self.successful_runs + self.failed_runs
        return {
            "total_runs": self.total_runs,
            "successful_runs": self.successful_runs,
            "failed_runs": self.failed_runs,
            "missed_runs": self.missed_runs,
            "success_rate": round(self.successful_runs / finished, 4) if finished else None,
            "avg_duration_ms": round(self.total_duration_ms / finished, 1) if finished else None,
        }


# ---- what derives from the declaration ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    """One field as the table, the API and the row decoder see it."""

    name: str
    kind: type  # the Python type without None: str, int, bool, datetime, dict, tuple or an Enum
    nullable: bool
    settable: bool  # part of ScheduleFields
    required: bool  # settable and without a default: a create must give it
    meta: Col

    @property
    def enum(self) -> type[Enum] | None:
        return self.kind if issubclass(self.kind, Enum) else None


def _column(f: Any, hint: Any, settable: set[str]) -> Column:
    args = typing.get_args(hint)
    nullable = isinstance(hint, types.UnionType) and type(None) in args
    base = next(a for a in args if a is not type(None)) if nullable else hint
    base = typing.get_origin(base) or base
    required = f.default is MISSING and f.default_factory is MISSING
    return Column(f.name, base, nullable, f.name in settable, required and f.name in settable, f.metadata["col"])


def _columns() -> tuple[Column, ...]:
    hints = typing.get_type_hints(Schedule)
    settable = {f.name for f in fields(ScheduleFields)}
    return tuple(_column(f, hints[f.name], settable) for f in fields(Schedule))


COLUMNS: tuple[Column, ...] = _columns()
FIELD_ORDER = tuple(f.name for f in fields(ScheduleFields))  # the settable ones
FIELD_NAMES = frozenset(FIELD_ORDER)
DUE_COLUMNS = tuple(c.name for c in COLUMNS if c.meta.due)
ANSWER_COLUMNS = tuple(c for c in COLUMNS if c.meta.answer)


def _decoder(c: Column) -> Callable[[Any], Any] | None:
    """Stored value -> field value (None: as stored)."""
    if c.kind is datetime:
        return as_utc
    if c.enum is not None:
        return c.enum
    return c.kind if c.kind in (bool, dict, tuple) else None


_DECODERS = {c.name: _decoder(c) for c in COLUMNS}
_DEFAULTS: dict[str, Any] = {f.name: None if f.default is MISSING else f.default for f in fields(Schedule)}
_FACTORIES = tuple((f.name, f.default_factory) for f in fields(Schedule) if f.default_factory is not MISSING)
