"""Which active schedules of a workflow fire in the same minute as a proposed one?

Asked by the dashboard's live preview on every keystroke, so it must cost the event loop
nothing: the work runs on one dedicated thread, stops at a deadline (the answer then says it is
partial), and each other schedule's minutes are remembered per hour, so the next preview only
intersects sets.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ..scheduling import TimeRule, minutes_between

OVERLAP_CAP = 2000  # occurrences looked at per schedule
OVERLAP_DEADLINE_SECONDS = 0.5  # wall time one preview may spend on other schedules
_CACHE_ENTRIES = 2048
_BUCKET = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Candidate:
    schedule_id: str
    name: str
    version: datetime  # updated_at: a change gives a new cache key
    rule: TimeRule


@dataclass
class Overlaps:
    found: list[dict[str, Any]] = field(default_factory=list)
    checked: int = 0
    total: int = 0

    @property
    def complete(self) -> bool:
        return self.checked == self.total


class OverlapFinder:
    def __init__(self, *, deadline_seconds: float = OVERLAP_DEADLINE_SECONDS) -> None:
        self.deadline_seconds = deadline_seconds
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="overlaps")
        self._minutes: OrderedDict[tuple[str, datetime, datetime, int], set[int]] = OrderedDict()
        self._lock = threading.Lock()

    async def find(self, rule: TimeRule, others: list[Candidate], now: datetime, days: int) -> Overlaps:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.find_now, rule, others, now, days)

    def find_now(self, rule: TimeRule, others: list[Candidate], now: datetime, days: int) -> Overlaps:
        """The work itself (on the executor's thread): others in order until the deadline."""
        stop_at = time.monotonic() + self.deadline_seconds
        end = now + timedelta(days=days)
        result = Overlaps(total=len(others))
        mine = minutes_between(rule, now, end, OVERLAP_CAP)
        if not mine:
            result.checked = result.total
            return result
        for other in others:
            if time.monotonic() > stop_at:
                break
            shared = mine & self._minutes_of(other, now, days)
            result.checked += 1
            if shared:
                result.found.append({"schedule_id": other.schedule_id, "name": other.name, "minutes": len(shared),
                                     "first_at": datetime.fromtimestamp(min(shared) * 60, timezone.utc)})
        return result

    def _minutes_of(self, other: Candidate, now: datetime, days: int) -> set[int]:
        """Its minutes from the start of this hour to `days` and an hour later: a superset of the
        window of any preview asked within the hour."""
        bucket = now.replace(minute=0, second=0, microsecond=0)
        key = (other.schedule_id, other.version, bucket, days)
        with self._lock:
            cached = self._minutes.get(key)
            if cached is not None:
                self._minutes.move_to_end(key)
                return cached
        minutes = minutes_between(other.rule, bucket, bucket + timedelta(days=days) + _BUCKET, OVERLAP_CAP)
        with self._lock:
            self._minutes[key] = minutes
            while len(self._minutes) > _CACHE_ENTRIES:
                self._minutes.popitem(last=False)
        return minutes

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
