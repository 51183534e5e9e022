"""Records read from the database: frozen, with aware UTC datetimes. Pure (the stores build
them, the API and chat show them). A schedule's record is declared in ``schedule.py``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Generic, TypeVar

from .types import as_utc

T = TypeVar("T")


def aware(value: datetime | str | None) -> datetime | None:
    """A stored instant as aware UTC: the drivers give naive UTC datetimes, or ISO text (SQLite
    through a raw cursor)."""
    if value is None:
        return None
    return as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


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


@dataclass(frozen=True, slots=True)
class Workflow:
    id: int
    workflow_id: str
    name: str
    description: str
    community_id: str | None
    steps: list[dict[str, Any]]
    is_active: bool
    created_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Workflow:
        return cls(
            id=int(row["id"]), workflow_id=row["workflow_id"], name=row["name"],
            description=row.get("description") or "", community_id=row.get("community_id"),
            steps=list(row.get("steps") or []), is_active=bool(row.get("is_active")),
            created_by=row.get("created_by") or "", created_at=as_utc(row["created_at"]),
            updated_at=as_utc(row["updated_at"]),
        )


@dataclass(frozen=True, slots=True)
class Execution:
    execution_id: str
    workflow_id: str
    run_id: str | None
    schedule_id: str | None
    community_id: str | None
    trigger: str
    trigger_data: dict[str, Any]
    status: str
    attempt: int
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    error: str | None
    step_results: list[dict[str, Any]]
    created_at: datetime

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Execution:
        return cls(
            execution_id=row["execution_id"], workflow_id=row["workflow_id"], run_id=row.get("run_id"),
            schedule_id=row.get("schedule_id"), community_id=row.get("community_id"), trigger=row["trigger"],
            trigger_data=dict(row.get("trigger_data") or {}), status=row["status"], attempt=row.get("attempt") or 1,
            started_at=aware(row.get("started_at")), finished_at=aware(row.get("finished_at")),
            duration_ms=row.get("duration_ms"), error=row.get("error"),
            step_results=step_results(row.get("step_results")), created_at=as_utc(row["created_at"]),
        )


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One row of the audit log: who (`actor`) did what (`action`) to which entity, when, and
    what changed (field -> [old, new] for updates; what the action records otherwise)."""

    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str | None
    community_id: str | None
    changes: dict[str, Any]

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AuditRecord:
        changes = row.get("changes")
        if isinstance(changes, (str, bytes)):
            changes = json.loads(changes)
        return cls(at=as_utc(row["at"]), actor=row["actor"], action=row["action"], entity_type=row["entity_type"],
                   entity_id=row.get("entity_id"), community_id=row.get("community_id"),
                   changes=dict(changes) if isinstance(changes, Mapping) else {})


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a key's name and the community it is limited to (None: every one)."""

    name: str
    community_id: str | None

    @property
    def is_global(self) -> bool:
        return self.community_id is None


@dataclass(frozen=True, slots=True)
class Maintenance:
    """Maintenance mode: while `paused`, no replica claims anything."""

    paused: bool = False
    reason: str | None = None
    since: datetime | None = None
    by: str | None = None


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
