"""The one shape of a run's trigger data, for every kind of run (pure: no I/O, no clock).

A workflow's steps see it as ``trigger`` (templates) and ``StepContext.trigger`` (actions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from .types import iso_z


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerData:
    """What a run's steps see as ``trigger`` (templates) and ``StepContext.trigger`` (actions).

    Every kind of run has every key, null where it does not apply, so a workflow written for one
    trigger runs from any other. docs/workflows.md describes each key and when it is null.
    """

    trigger: str  # schedule | manual | backfill | after | api: what started the run
    schedule_id: str | None = None  # schedule, manual, backfill: the schedule whose run this is
    run_id: str | None = None  # schedule, manual, backfill: the run (one occurrence)
    execution_id: str | None = None  # filled by the engine when the steps run (a retry is a new one)
    scheduled_for: str | None = None  # the occurrence's time (ISO 8601, UTC); manual: when it was asked
    fired_at: str | None = None  # when the run was started
    attempt: int | None = None  # 1, then 2... when a scheduled run is retried
    requested_by: str | None = None  # api: the name of the API key that asked
    context_data: dict[str, Any] = field(default_factory=dict)  # the schedule's or the request's data
    trigger_source: str | None = None  # api from WaddleBot's router: what fired it, e.g. "command"
    session_id: str | None = None  # api from the router: its session id
    entity_id: str | None = None  # api from the router: the chat channel or server
    user_id: str | None = None  # api from the router: the chat user
    platform: str | None = None  # api from the router: twitch, discord, slack, kick...
    # after: the run whose end started this one: {"schedule_id", "run_id", "status", "finished_at"}
    upstream: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in TRIGGER_KEYS}


TRIGGER_KEYS: tuple[str, ...] = tuple(f.name for f in fields(TriggerData))


_EMPTY = dict.fromkeys(TRIGGER_KEYS)


def trigger_dict(**values: Any) -> dict[str, Any]:
    """TriggerData(**values).as_dict(), built directly: a scheduled run makes one per attempt,
    and a burst makes thousands (a frozen dataclass of 16 fields costs more than the run's
    no-op step). Unknown keys are refused as TriggerData would."""
    unknown = values.keys() - _EMPTY.keys()
    if unknown:
        raise TypeError(f"not a trigger key: {', '.join(sorted(unknown))}")
    return _EMPTY | {"context_data": {}} | values


def trigger_time(value: datetime) -> str:
    """A time stamp of the trigger data: ISO 8601 in UTC with a ``Z``, fraction kept."""
    return iso_z(value, fraction=True)


def complete_trigger(data: Mapping[str, Any], execution_id: str | None = None) -> dict[str, Any]:
    """`data` with every key of :class:`TriggerData` (null when missing; keys of its own are kept),
    and the execution running the steps."""
    full = dict.fromkeys(TRIGGER_KEYS) | {"trigger": "api", "context_data": {}} | dict(data)
    if execution_id is not None:
        full["execution_id"] = execution_id
    return full
