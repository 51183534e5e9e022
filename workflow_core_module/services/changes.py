"""The change publisher between schedule CRUD and the scheduler: the in-memory mirror of what is
due (the cache), and who hears when it changes.

Schedule CRUD publishes every committed change; the scheduler loop publishes what its claims
moved; the Redis coordinator publishes other replicas' changes. Each listener hears every change
with where it came from, and none of them knows the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ..scheduling.schedule import Schedule
from .cache import ScheduleCache

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScheduleChange:
    """A committed change: schedule `pk` is now due at `due` (None: not active). `origin` is
    the replica it came from when another replica made it (None: made here); `claimed` says a
    claim of this replica's scheduler made it (the loop re-arms itself after each pass);
    `resume_at` is when a pause made here lifts itself."""

    pk: int
    schedule_id: str
    due: datetime | None
    origin: str | None = None
    claimed: bool = False
    resume_at: datetime | None = None


Listener = Callable[[ScheduleChange], None]


class ScheduleChanges:
    def __init__(self, cache: ScheduleCache | None = None) -> None:
        self.cache = cache if cache is not None else ScheduleCache()
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def publish(self, pk: int, schedule_id: str, due: datetime | None, *, origin: str | None = None,
                claimed: bool = False, resume_at: datetime | None = None) -> None:
        """Mirror a committed state into the cache and tell every listener."""
        self.cache.set(pk, due)
        change = ScheduleChange(pk, schedule_id, due, origin, claimed, resume_at)
        for listener in self._listeners:
            try:
                listener(change)
            except Exception:
                log.exception("schedule change listener failed", extra={"category": "ERROR"})

    def mirror(self, schedule: Schedule) -> None:
        """Publish a schedule row as committed by this replica."""
        live = schedule.is_active and schedule.deleted_at is None
        self.publish(schedule.id, schedule.schedule_id, schedule.next_execution_at if live else None,
                     resume_at=None if live else schedule.paused_until)
