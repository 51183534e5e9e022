"""Records read from the database: frozen, with aware UTC datetimes."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Generic, TypeVar

from ..scheduling import TimeRule, as_utc
from ..scheduling.types import OverlapPolicy, ScheduleStatus, ScheduleType
from ..scheduling.validation import ScheduleFields

T = TypeVar("T")


def aware(value: datetime | str | None) -> datetime | None:
    """A stored instant as aware UTC: the drivers give naive UTC datetimes, or ISO text (SQLite
    through a raw cursor)."""
    if value is None:
        return None
    return as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


@dataclass(frozen=True, slots=True)
class Schedule:
    id: int
    schedule_id: str
    workflow_id: str
    community_id: str | None
    name: str
    description: str
    schedule_type: ScheduleType
    cron_expression: str | None
    interval_seconds: int | None
    scheduled_time: datetime | None
    timezone: str
    start_date: datetime | None
    end_date: datetime | None
    is_active: bool
    status: ScheduleStatus
    next_execution_at: datetime | None
    last_execution_at: datetime | None
    last_execution_id: str | None
    last_run_status: str | None
    last_run_at: datetime | None
    max_executions: int | None
    execution_count: int
    grace_period_seconds: int
    overlap_policy: OverlapPolicy
    jitter_seconds: int
    context_data: dict[str, Any]
    tags: tuple[str, ...]
    callback_url: str | None
    created_by: str
    total_runs: int
    successful_runs: int
    failed_runs: int
    missed_runs: int
    total_duration_ms: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Schedule:
        """From a mapping of column values; columns it lacks take their defaults."""
        get = row.get
        return cls(
            id=int(get("id")),
            schedule_id=get("schedule_id"),
            workflow_id=get("workflow_id"),
            community_id=get("community_id"),
            name=get("name"),
            description=get("description") or "",
            schedule_type=ScheduleType(get("schedule_type")),
            cron_expression=get("cron_expression"),
            interval_seconds=get("interval_seconds"),
            scheduled_time=aware(get("scheduled_time")),
            timezone=get("timezone") or "UTC",
            start_date=aware(get("start_date")),
            end_date=aware(get("end_date")),
            is_active=bool(get("is_active")),
            status=ScheduleStatus(get("status")),
            next_execution_at=aware(get("next_execution_at")),
            last_execution_at=aware(get("last_execution_at")),
            last_execution_id=get("last_execution_id"),
            last_run_status=get("last_run_status"),
            last_run_at=aware(get("last_run_at")),
            max_executions=get("max_executions"),
            execution_count=get("execution_count") or 0,
            grace_period_seconds=get("grace_period_seconds") or 0,
            overlap_policy=OverlapPolicy(get("overlap_policy") or OverlapPolicy.SKIP.value),
            jitter_seconds=get("jitter_seconds") or 0,
            context_data=dict(get("context_data") or {}),
            tags=tuple(get("tags") or ()),
            callback_url=get("callback_url"),
            created_by=get("created_by") or "",
            total_runs=get("total_runs") or 0,
            successful_runs=get("successful_runs") or 0,
            failed_runs=get("failed_runs") or 0,
            missed_runs=get("missed_runs") or 0,
            total_duration_ms=get("total_duration_ms") or 0,
            created_at=as_utc(get("created_at")),
            updated_at=as_utc(get("updated_at")),
            deleted_at=aware(get("deleted_at")),
        )

    def spec(self) -> ScheduleFields:
        """The user-settable part, as validation produces it."""
        names = ScheduleFields.__dataclass_fields__
        return ScheduleFields(**{name: getattr(self, name) for name in names})

    def time_rule(self) -> TimeRule:
        return self.spec().time_rule(anchor=self.created_at)

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


@dataclass(frozen=True, slots=True)
class Run:
    run_id: str
    schedule_id: str
    workflow_id: str
    execution_id: str | None
    scheduled_for: datetime
    fired_at: datetime | None
    finished_at: datetime | None
    status: str
    attempt: int
    error: str | None
    note: str | None
    duration_ms: int | None
    trigger: str
    claimed_by: str | None

    @classmethod
    def from_row(cls, row: Any) -> Run:
        values = {f.name: row[f.name] for f in fields(cls)}
        for name in ("scheduled_for", "fired_at", "finished_at"):
            values[name] = aware(values[name])
        values["attempt"] = values["attempt"] or 0
        if values["execution_id"] is None and values["attempt"] >= 1:
            values["execution_id"] = values["run_id"]  # a first attempt recorded on the run row
        return cls(**values)


def step_results(stored: Any) -> list[dict[str, Any]]:
    """Step results as read: JSON text or a decoded list, each step given its `index` back
    (journal.stored_results leaves it out)."""
    if isinstance(stored, (str, bytes)):
        stored = json.loads(stored)
    return [r if "index" in r else {"index": i, **r} for i, r in enumerate(stored or [])]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
