"""occurrences(), latest_at_or_before() and minutes_between(): the helpers around next_occurrence.
Pure, clock passed in."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from workflow_core_module.scheduling import (
    ScheduleType,
    TimeRule,
    latest_at_or_before,
    minutes_between,
    next_occurrence,
    occurrences,
)

UTC = timezone.utc
T0 = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def every(seconds: int, **kw: object) -> TimeRule:
    return TimeRule(ScheduleType.INTERVAL, interval_seconds=seconds, anchor=T0, **kw)  # type: ignore[arg-type]


def minute_of(t: datetime) -> int:
    return int(t.timestamp()) // 60


# ---- minutes_between -----------------------------------------------------------------------------

def test_minutes_between_counts_the_minutes_in_the_half_open_window() -> None:
    assert minutes_between(every(60), T0, T0 + 5 * MINUTE, cap=100) == {minute_of(T0 + i * MINUTE) for i in range(1, 6)}


def test_minutes_between_folds_several_fires_of_one_minute_into_it() -> None:
    got = minutes_between(every(20), T0, T0 + 2 * MINUTE, cap=100)
    assert got == {minute_of(T0), minute_of(T0 + MINUTE), minute_of(T0 + 2 * MINUTE)}


def test_minutes_between_stops_at_the_cap() -> None:
    assert minutes_between(every(60), T0, T0 + 60 * MINUTE, cap=3) == {minute_of(T0 + i * MINUTE) for i in (1, 2, 3)}
    assert minutes_between(every(60), T0, T0 + 60 * MINUTE, cap=0) == set()


def test_minutes_between_stops_when_the_rule_has_no_more() -> None:
    once = TimeRule(ScheduleType.ONE_TIME, scheduled_time=T0 + MINUTE)
    assert minutes_between(once, T0, T0 + 60 * MINUTE, cap=100) == {minute_of(T0 + MINUTE)}
    assert minutes_between(once, T0 + MINUTE, T0 + 60 * MINUTE, cap=100) == set()


def test_minutes_between_ignores_fires_after_the_end() -> None:
    assert minutes_between(every(3600), T0, T0 + 30 * MINUTE, cap=100) == set()
    assert minutes_between(every(60), T0 - MINUTE, T0, cap=100) == {minute_of(T0)}  # the end is inside


# ---- occurrences -----------------------------------------------------------------------------------

def test_occurrences_are_consecutive_and_stop_at_the_window_end() -> None:
    assert occurrences(every(60), T0, 3) == [T0 + MINUTE, T0 + 2 * MINUTE, T0 + 3 * MINUTE]
    assert occurrences(every(60, end_date=T0 + 2 * MINUTE), T0, 10) == [T0 + MINUTE, T0 + 2 * MINUTE]
    assert occurrences(every(60), T0, 0) == []


def test_occurrences_of_a_cron_in_its_zone() -> None:
    rule = TimeRule(ScheduleType.CRON, timezone="Europe/Berlin", cron_expression="0 9 * * *")
    assert occurrences(rule, T0, 2) == [datetime(2027, 1, 2, 8, 0, tzinfo=UTC), datetime(2027, 1, 3, 8, 0, tzinfo=UTC)]


# ---- next_occurrence: windows and grids ------------------------------------------------------------

@pytest.mark.parametrize(("after", "expected"), [
    (T0 - timedelta(days=1), T0),  # before the anchor: the anchor itself
    (T0 - timedelta(seconds=1), T0),
    (T0, T0 + MINUTE),  # strictly after
    (T0 + timedelta(seconds=59, microseconds=999_999), T0 + MINUTE),
    (T0 + MINUTE, T0 + 2 * MINUTE),
])
def test_interval_grid(after: datetime, expected: datetime) -> None:
    assert next_occurrence(every(60), after) == expected


def test_the_window_opens_at_start_date_inclusive() -> None:
    start = T0 + 10 * MINUTE
    rule = every(60, start_date=start)
    assert next_occurrence(rule, T0) == start
    assert next_occurrence(rule, start - timedelta(seconds=1)) == start
    assert next_occurrence(rule, start) == start + MINUTE


def test_an_every_second_cron_starts_exactly_at_start_date() -> None:
    start = T0 + timedelta(seconds=30)
    rule = TimeRule(ScheduleType.CRON, cron_expression="* * * * * *", start_date=start)
    assert next_occurrence(rule, T0 - timedelta(days=1)) == start
    assert next_occurrence(rule, start - timedelta(seconds=1)) == start
    assert next_occurrence(rule, start) == start + timedelta(seconds=1)


def test_the_window_closes_at_end_date_inclusive() -> None:
    end = T0 + 2 * MINUTE
    assert next_occurrence(every(60, end_date=end), T0 + MINUTE) == end
    assert next_occurrence(every(60, end_date=end), end) is None
    assert next_occurrence(every(60, end_date=end - timedelta(seconds=1)), T0 + MINUTE) is None


def test_one_time_fires_once_and_only_after_its_time() -> None:
    once = TimeRule(ScheduleType.ONE_TIME, scheduled_time=T0)
    assert next_occurrence(once, T0 - timedelta(seconds=1)) == T0
    assert next_occurrence(once, T0) is None
    assert next_occurrence(TimeRule(ScheduleType.ONE_TIME), T0) is None


# ---- latest_at_or_before ---------------------------------------------------------------------------

@pytest.mark.parametrize(("rule", "now", "expected"), [
    (every(60), T0, (T0, 1)),
    (every(60), T0 + timedelta(seconds=59), (T0, 1)),
    (every(60), T0 + 3 * MINUTE, (T0 + 3 * MINUTE, 4)),
    (every(60, end_date=T0 + 2 * MINUTE), T0 + 10 * MINUTE, (T0 + 2 * MINUTE, 3)),
    (TimeRule(ScheduleType.CRON, cron_expression="*/15 * * * *"), T0 + 50 * MINUTE, (T0 + 45 * MINUTE, 4)),
    (TimeRule(ScheduleType.CRON, cron_expression="*/15 * * * *", end_date=T0 + 20 * MINUTE), T0 + 50 * MINUTE,
     (T0 + 15 * MINUTE, 2)),
    (TimeRule(ScheduleType.CRON, cron_expression="*/15 * * * *"), T0, (T0, 1)),
    (TimeRule(ScheduleType.CRON, cron_expression="*/15 * * * *"), T0 + 45 * MINUTE, (T0 + 45 * MINUTE, 4)),  # now on one
    (TimeRule(ScheduleType.CRON, cron_expression="*/15 * * * *", end_date=T0 + 30 * MINUTE), T0 + 50 * MINUTE,
     (T0 + 30 * MINUTE, 3)),  # the window ends on one
])
def test_latest_at_or_before(rule: TimeRule, now: datetime, expected: tuple[datetime, int]) -> None:
    latest, count = latest_at_or_before(rule, T0, now)
    assert (latest, count) == expected
    assert type(count) is int  # it is shown to people: "coalesced 4 occurrences", never "4.0"
