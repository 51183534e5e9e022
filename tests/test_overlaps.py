"""The preview's overlap finder: what it reports, and that it lets go of its thread at stop."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from workflow_core_module.scheduling import TimeRule
from workflow_core_module.scheduling.types import ScheduleType
from workflow_core_module.services.overlaps import Candidate, OverlapFinder

from .harness import until

NOW = datetime(2027, 3, 1, 8, 0, tzinfo=timezone.utc)


def cron(expression: str) -> TimeRule:
    return TimeRule(ScheduleType.CRON, cron_expression=expression)


def overlap_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("overlaps")]


async def test_it_names_the_schedules_sharing_a_minute_and_stops_its_thread_on_close() -> None:
    before = set(overlap_threads())  # other tests' finders may still hold theirs
    finder = OverlapFinder()
    others = [Candidate("s-1", "same minute", NOW, cron("0 9 * * *")),
              Candidate("s-2", "other minute", NOW, cron("30 9 * * *"))]
    found = await finder.find(cron("0 9 * * 1-5"), others, NOW, 7)
    assert found.complete and found.checked == 2
    assert [(f["name"], f["minutes"]) for f in found.found] == [("same minute", 5)]  # Mon 1 to Fri 5 March
    assert found.found[0]["first_at"] == datetime(2027, 3, 1, 9, 0, tzinfo=timezone.utc)
    mine = set(overlap_threads()) - before
    assert len(mine) == 1
    finder.close()
    await until(lambda: not any(t.is_alive() for t in mine), what="the overlap finder's thread to end after close")
