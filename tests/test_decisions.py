"""The due-row decision: fire, coalesce, missed, expired, exhausted. Pure, clock passed in."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from workflow_core_module.scheduling import (
    DueState,
    ScheduleStatus,
    ScheduleType,
    TimeRule,
    decide,
    jitter_delay_seconds,
)

UTC = timezone.utc
T0 = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)


def every_minute(**kw: object) -> TimeRule:
    return TimeRule(ScheduleType.INTERVAL, interval_seconds=60, anchor=T0, **kw)  # type: ignore[arg-type]


def state(due: datetime = T0, count: int = 0, max_executions: int | None = None, grace: int = 900) -> DueState:
    return DueState(due, count, max_executions, grace)


def test_not_due_yet() -> None:
    assert decide(every_minute(), state(), T0 - timedelta(seconds=1)) is None


def test_on_time_fires_and_advances() -> None:
    d = decide(every_minute(), state(), T0 + timedelta(milliseconds=300))
    assert d is not None
    assert (d.fire_for, d.coalesced, d.missed_for) == (T0, 1, None)
    assert d.next_execution_at == T0 + timedelta(minutes=1)
    assert d.status is ScheduleStatus.ACTIVE and d.execution_count == 1


def test_several_occurrences_inside_grace_fire_once() -> None:
    now = T0 + timedelta(minutes=4, seconds=30)  # 09:00..09:04 all due, all inside 15 min grace
    d = decide(every_minute(), state(), now)
    assert d is not None
    assert d.fire_for == T0 + timedelta(minutes=4)  # the latest due occurrence stands for all
    assert d.coalesced == 5
    assert d.missed_for is None
    assert d.next_execution_at == T0 + timedelta(minutes=5)
    assert d.execution_count == 1


def test_missed_beyond_grace_records_one_miss_and_moves_to_the_future() -> None:
    daily = TimeRule(ScheduleType.CRON, cron_expression="0 9 * * *")
    now = T0 + timedelta(minutes=20)  # grace is 15 minutes
    d = decide(daily, state(grace=900), now)
    assert d is not None
    assert d.fire_for is None
    assert d.missed_for == T0
    assert d.next_execution_at == T0 + timedelta(days=1)
    assert d.next_execution_at > now
    assert d.status is ScheduleStatus.ACTIVE and d.execution_count == 0


def test_after_a_long_outage_one_miss_and_one_fire_for_the_newest_inside_grace() -> None:
    now = T0 + timedelta(hours=3, seconds=10)
    d = decide(every_minute(), state(grace=300), now)
    assert d is not None
    assert d.missed_for == T0
    assert d.fire_for == T0 + timedelta(hours=3)
    assert d.coalesced == 5  # 11:56 .. 12:00 are inside 5 minutes of 12:00:10; 11:55 is not
    assert d.next_execution_at == T0 + timedelta(hours=3, minutes=1)


def test_zero_grace_misses_anything_late() -> None:
    d = decide(every_minute(), state(grace=0), T0 + timedelta(seconds=1))
    assert d is not None and d.missed_for == T0 and d.fire_for is None


def test_max_executions_reached_completes_in_the_same_claim() -> None:
    d = decide(every_minute(), state(count=1, max_executions=2), T0)
    assert d is not None
    assert d.fire_for == T0 and d.execution_count == 2
    assert d.status is ScheduleStatus.COMPLETED and d.next_execution_at is None


def test_exhausted_row_completes_without_firing() -> None:
    d = decide(every_minute(), state(count=2, max_executions=2), T0)
    assert d is not None
    assert d.fire_for is None and d.status is ScheduleStatus.COMPLETED


def test_one_time_completes_after_firing() -> None:
    rule = TimeRule(ScheduleType.ONE_TIME, scheduled_time=T0)
    d = decide(rule, state(), T0 + timedelta(seconds=2))
    assert d is not None
    assert d.fire_for == T0 and d.status is ScheduleStatus.COMPLETED and d.next_execution_at is None


def test_one_time_missed_is_expired() -> None:
    rule = TimeRule(ScheduleType.ONE_TIME, scheduled_time=T0)
    d = decide(rule, state(grace=60), T0 + timedelta(minutes=5))
    assert d is not None
    assert d.fire_for is None and d.missed_for == T0 and d.status is ScheduleStatus.EXPIRED


def test_last_occurrence_before_end_date_fires_then_expires() -> None:
    rule = every_minute(end_date=T0 + timedelta(seconds=30))
    d = decide(rule, state(), T0 + timedelta(seconds=45))  # now is past end_date, the occurrence was not
    assert d is not None
    assert d.fire_for == T0 and d.status is ScheduleStatus.EXPIRED and not d.is_active


def test_coalescing_stops_at_end_date() -> None:
    rule = every_minute(end_date=T0 + timedelta(minutes=2))
    d = decide(rule, state(), T0 + timedelta(minutes=10))
    assert d is not None
    assert d.fire_for == T0 + timedelta(minutes=2) and d.coalesced == 3
    assert d.status is ScheduleStatus.EXPIRED


@pytest.mark.parametrize("jitter", [0, 1, 30, 3600])
def test_jitter_is_deterministic_and_bounded(jitter: int) -> None:
    delays = [jitter_delay_seconds(f"s{i}", T0, jitter) for i in range(2000)]
    assert delays == [jitter_delay_seconds(f"s{i}", T0, jitter) for i in range(2000)]
    assert all(0 <= d < max(jitter, 1e-9) or (jitter == 0 and d == 0) for d in delays)
    if jitter:
        # spread over the range, not bunched: each tenth of it gets some
        buckets = {int(d / jitter * 10) for d in delays}
        assert buckets == set(range(10))
