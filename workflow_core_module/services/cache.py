"""The in-memory mirror of active schedules: id -> next due second, and the earliest of them.

Small by design, because a million active schedules must fit: a dict of int -> int plus a
heap of single ints (``due_second << 40 | id``), about 150 bytes per schedule in all. Entries
replaced or removed stay in the heap until they reach its head (lazy deletion); the heap is
rebuilt when stale entries outnumber live ones.

The cache only answers "what is due next, and when"; the database stays the source of truth,
and a stale cache can only delay a fire until the next poll, never cause one.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import datetime

from ..scheduling import UTC

_ID_BITS = 40
_ID_MASK = (1 << _ID_BITS) - 1


class ScheduleCache:
    __slots__ = ("_due", "_heap")

    def __init__(self) -> None:
        self._due: dict[int, int] = {}
        self._heap: list[int] = []

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, schedule_pk: int) -> bool:
        return schedule_pk in self._due

    def replace_all(self, entries: Iterable[tuple[int, int]]) -> None:
        """Rebuild from (id, due epoch second) pairs."""
        self._due = dict(entries)
        self._rebuild_heap()

    def set(self, schedule_pk: int, due: datetime | None) -> None:
        """Record the next due time of a schedule; None (inactive) removes it."""
        if due is None:
            self._due.pop(schedule_pk, None)
            return
        second = int(due.timestamp())
        if self._due.get(schedule_pk) == second:
            return
        self._due[schedule_pk] = second
        heapq.heappush(self._heap, second << _ID_BITS | schedule_pk)
        if len(self._heap) > 2 * len(self._due) + 1024:
            self._rebuild_heap()

    def remove(self, schedule_pk: int) -> None:
        self._due.pop(schedule_pk, None)

    def due_at(self, schedule_pk: int) -> datetime | None:
        second = self._due.get(schedule_pk)
        return None if second is None else datetime.fromtimestamp(second, UTC)

    def next_due(self) -> tuple[int, datetime] | None:
        """(id, due time) of the earliest active schedule, or None when there is none."""
        heap, due = self._heap, self._due
        while heap:
            head = heap[0]
            schedule_pk, second = head & _ID_MASK, head >> _ID_BITS
            if due.get(schedule_pk) == second:
                return schedule_pk, datetime.fromtimestamp(second, UTC)
            heapq.heappop(heap)
        return None

    def snapshot(self) -> dict[int, int]:
        """A copy of id -> due epoch second (for tests and diagnostics)."""
        return dict(self._due)

    def _rebuild_heap(self) -> None:
        self._heap = [second << _ID_BITS | pk for pk, second in self._due.items()]
        heapq.heapify(self._heap)
