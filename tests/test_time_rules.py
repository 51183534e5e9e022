"""The pure time rules: cron with our DST semantics, intervals, one-time, the window.

Every test passes instants in; nothing reads the clock.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from workflow_core_module.scheduling import (
    CronError,
    ScheduleType,
    TimeRule,
    next_cron,
    next_occurrence,
    occurrences,
    parse_cron,
)

UTC = timezone.utc
NY = "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def cron_rule(expr: str, tz: str = "UTC", start: datetime | None = None, end: datetime | None = None) -> TimeRule:
    return TimeRule(ScheduleType.CRON, tz, cron_expression=expr, start_date=start, end_date=end)


def fires_between(rule: TimeRule, start: datetime, end: datetime) -> list[datetime]:
    out, t = [], start
    while (t := next_occurrence(rule, t)) is not None and t <= end:  # type: ignore[assignment]
        out.append(t)
    return out


def local_day(tz: str, day: tuple[int, int, int]) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    start = datetime(*day, tzinfo=zone).astimezone(UTC)
    end = (datetime(*day, tzinfo=zone) + timedelta(days=1)).astimezone(UTC)
    return start - timedelta(seconds=1), end - timedelta(seconds=1)


# ---- DST: the table from the issue --------------------------------------------------------

@pytest.mark.parametrize(
    ("expr", "day", "expected_local"),
    [
        # fall back 2027-11-07: 01:00-02:00 happens twice
        ("30 1 * * *", (2027, 11, 7), ["01:30 EDT"]),
        ("0 30 1 * * *", (2027, 11, 7), ["01:30 EDT"]),
        ("30 2 * * *", (2027, 11, 7), ["02:30 EST"]),
        # spring forward 2027-03-14: 02:00-03:00 does not exist
        ("30 2 * * *", (2027, 3, 14), ["03:00 EDT"]),
        ("0 2 * * *", (2027, 3, 14), ["03:00 EDT"]),
        ("*/20 2 * * *", (2027, 3, 14), ["03:00 EDT"]),
        ("30 1 * * *", (2027, 3, 14), ["01:30 EST"]),
        ("0 3 * * *", (2027, 3, 14), ["03:00 EDT"]),
    ],
)
def test_fixed_hour_runs_once_across_transitions(expr: str, day: tuple[int, int, int], expected_local: list[str]) -> None:
    start, end = local_day(NY, day)
    fired = fires_between(cron_rule(expr, NY), start, end)
    assert [t.astimezone(ZoneInfo(NY)).strftime("%H:%M %Z") for t in fired] == expected_local


def test_croniter_alone_fires_twice_on_fall_back_but_we_do_not() -> None:
    zone = ZoneInfo(NY)
    it = croniter("30 1 * * *", datetime(2027, 11, 7, 0, 0, tzinfo=zone))
    naive_fires = [it.get_next(datetime) for _ in range(2)]
    assert naive_fires[0].date() == naive_fires[1].date()  # the bug we fix
    start, end = local_day(NY, (2027, 11, 7))
    assert len(fires_between(cron_rule("30 1 * * *", NY), start, end)) == 1


@pytest.mark.parametrize(("day", "hours"), [((2027, 11, 7), 25), ((2027, 3, 14), 23)])
def test_wildcard_hour_runs_on_every_real_hour(day: tuple[int, int, int], hours: int) -> None:
    start, end = local_day(NY, day)
    fired = fires_between(cron_rule("0 * * * *", NY), start, end)
    assert len(fired) == hours
    gaps = {b - a for a, b in zip(fired, fired[1:], strict=False)}
    assert gaps == {timedelta(hours=1)}  # every real hour, none twice, none skipped


def test_stepped_hour_in_a_fold_runs_at_both_readings() -> None:
    start, end = local_day(NY, (2027, 11, 7))
    fired = fires_between(cron_rule("15 */1 * * *", NY), start, end)
    readings = [t.astimezone(ZoneInfo(NY)).strftime("%H:%M %Z") for t in fired]
    assert readings.count("01:15 EDT") == 1 and readings.count("01:15 EST") == 1


def test_seconds_field_is_first() -> None:
    spec = parse_cron("30 0 9 * * *")
    assert spec.has_seconds
    assert next_cron(spec, "UTC", utc(2027, 1, 1)) == utc(2027, 1, 1, 9, 0, 30)


@pytest.mark.parametrize(
    ("macro", "after", "expected"),
    [
        ("@hourly", utc(2027, 1, 1, 10, 30), utc(2027, 1, 1, 11)),
        ("@daily", utc(2027, 1, 1, 10, 30), utc(2027, 1, 2)),
        ("@weekly", utc(2027, 1, 1, 10, 30), utc(2027, 1, 3)),  # Sunday
        ("@monthly", utc(2027, 1, 1, 10, 30), utc(2027, 2, 1)),
        ("@yearly", utc(2027, 1, 1, 10, 30), utc(2028, 1, 1)),
    ],
)
def test_macros(macro: str, after: datetime, expected: datetime) -> None:
    assert next_occurrence(cron_rule(macro), after) == expected


def test_cron_is_read_in_the_schedule_zone() -> None:
    # 09:00 on weekdays in Berlin (UTC+1 in winter) is 08:00 UTC.
    rule = cron_rule("0 9 * * 1-5", "Europe/Berlin")
    assert next_occurrence(rule, utc(2026, 11, 22, 12)) == utc(2026, 11, 23, 8)  # Sunday -> Monday


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("", "is empty"),
        ("* * * *", "has 4 fields"),
        ("* * * * * * *", "has 7 fields"),
        ("61 * * * *", "invalid minute field '61'"),
        ("0 25 * * *", "invalid hour field '25'"),
        ("H * * * *", "hashed or random"),
        ("0 0 30 2 *", "never matches"),
        ("@reboot", "unknown macro"),
        ("*/0 * * * *", "invalid minute field"),
        ("0 9 * * FUNDAY", "invalid day of week field 'FUNDAY'"),
        ("0 0 9 * 13 *", "invalid month field '13'"),
        ("61 0 9 * * *", "invalid second field '61'"),
    ],
)
def test_bad_cron_is_explained(expr: str, fragment: str) -> None:
    with pytest.raises(CronError, match=fragment):
        parse_cron(expr)


# ---- DST: against a brute-force oracle --------------------------------------------------------

def _matcher(expr: str):  # type: ignore[no-untyped-def]
    """An independent matcher for plain 5-field expressions (no L, #, W)."""
    (minutes, hours, days, months, weekdays), _ = croniter.expand(expr)
    star_day, star_weekday = days == ["*"], weekdays == ["*"]

    def match(wall: datetime) -> bool:
        if minutes != ["*"] and wall.minute not in minutes:
            return False
        if hours != ["*"] and wall.hour not in hours:
            return False
        if months != ["*"] and wall.month not in months:
            return False
        day_ok = star_day or wall.day in days
        weekday_ok = star_weekday or (wall.isoweekday() % 7) in weekdays or (wall.isoweekday() == 7 and 7 in weekdays)
        if star_day or star_weekday:
            return day_ok and weekday_ok
        return day_ok or weekday_ok

    return match


def oracle(expr: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    """Scan every real minute in (start, end] and apply the DST rules by hand."""
    zone, match = ZoneInfo(tz), _matcher(expr)
    spec = parse_cron(expr)
    out: list[datetime] = []
    t = start.replace(second=0) + timedelta(minutes=1)
    while t <= end:
        local = t.astimezone(zone)
        wall = local.replace(tzinfo=None, fold=0)
        previous = (t - timedelta(minutes=1)).astimezone(zone)
        if local.utcoffset() > previous.utcoffset():  # type: ignore[operator]
            # t is the first instant after a spring-forward gap: missing walls of fixed-hour
            # expressions run here, once.
            gap_wall = previous.replace(tzinfo=None) + timedelta(minutes=1)
            missing = False
            while gap_wall < wall:
                missing = missing or match(gap_wall)
                gap_wall += timedelta(minutes=1)
            if missing and not spec.wildcard_hour:
                out.append(t)
                t += timedelta(minutes=1)
                continue
        if match(wall) and (spec.wildcard_hour or local.fold == 0):
            out.append(t)
        t += timedelta(minutes=1)
    return out


ZONES = ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Santiago", "Asia/Kolkata", "UTC"]
EXPRS = ["30 1 * * *", "0 2 * * *", "*/15 * * * *", "0 */2 * * *", "45 2,3 * * 0", "0 0-3 * * *", "5 1 1-10 * *"]


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize("expr", EXPRS)
def test_matches_oracle_around_transitions(tz: str, expr: str) -> None:
    zone = ZoneInfo(tz)
    # The days around each transition of 2027 in this zone, plus one ordinary day.
    days = {datetime(2027, 1, 15, tzinfo=UTC)}
    t = datetime(2027, 1, 1, tzinfo=UTC)
    while t.year == 2027:
        if (t + timedelta(hours=6)).astimezone(zone).utcoffset() != t.astimezone(zone).utcoffset():
            days.add(t)
        t += timedelta(hours=6)
    rule = cron_rule(expr, tz)
    for day in sorted(days):
        start, end = day - timedelta(hours=18), day + timedelta(hours=30)
        assert fires_between(rule, start, end) == oracle(expr, tz, start, end), (expr, tz, day)


# ---- properties -----------------------------------------------------------------------------

instants = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2060, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC, microsecond=0)
)
cron_exprs = st.sampled_from(EXPRS + ["0 9 * * 1-5", "*/7 * * * *", "0 0 29 2 *", "0 12 L * *", "30 0 9 * * *"])
zones = st.sampled_from(ZONES + ["Pacific/Chatham", "Europe/Dublin", "Africa/Casablanca"])


@settings(max_examples=300, deadline=None)
@given(expr=cron_exprs, tz=zones, after=instants)
def test_next_cron_is_after_and_monotonic(expr: str, tz: str, after: datetime) -> None:
    rule = cron_rule(expr, tz)
    first = next_occurrence(rule, after)
    assert first is not None and first > after
    second = next_occurrence(rule, first)
    assert second is not None and second > first
    # nothing in between: asking from any instant in [after, first) gives first again
    middle = after + timedelta(seconds=int((first - after).total_seconds()) // 2)
    assert next_occurrence(rule, middle) == first


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["cron", "interval", "one_time"]),
    expr=cron_exprs, tz=zones, after=instants,
    interval=st.integers(min_value=60, max_value=40 * 86400),
    start_offset=st.integers(min_value=-400 * 86400, max_value=400 * 86400),
    length=st.integers(min_value=1, max_value=800 * 86400),
)
def test_next_is_inside_the_window(kind: str, expr: str, tz: str, after: datetime, interval: int,
                                   start_offset: int, length: int) -> None:
    start = after + timedelta(seconds=start_offset)
    end = start + timedelta(seconds=length)
    rule = TimeRule(
        ScheduleType(kind), tz,
        cron_expression=expr if kind == "cron" else None,
        interval_seconds=interval if kind == "interval" else None,
        scheduled_time=start + timedelta(seconds=length // 2) if kind == "one_time" else None,
        start_date=start, end_date=end, anchor=start,
    )
    result = next_occurrence(rule, after)
    if result is not None:
        assert result > after
        assert start <= result <= end
        later = next_occurrence(rule, result)
        assert later is None or later > result


# ---- interval, one_time, window ---------------------------------------------------------------

def test_interval_is_anchored_without_drift_over_10000_steps() -> None:
    anchor = utc(2026, 1, 1, 0, 0, 7)
    rule = TimeRule(ScheduleType.INTERVAL, interval_seconds=97, anchor=anchor)
    t = anchor
    for step in range(1, 10_001):
        # late by a varying amount, as a real loop would be: the grid must not move
        fired = next_occurrence(rule, t)
        assert fired == anchor + timedelta(seconds=97 * step)
        t = fired + timedelta(seconds=step % 5)  # type: ignore[operator]
    assert t - timedelta(seconds=10_000 % 5) == anchor + timedelta(seconds=970_000)


def test_interval_before_its_anchor_starts_at_the_anchor() -> None:
    rule = TimeRule(ScheduleType.INTERVAL, interval_seconds=3600, anchor=utc(2027, 1, 1, 9))
    assert next_occurrence(rule, utc(2026, 12, 31)) == utc(2027, 1, 1, 9)
    assert next_occurrence(rule, utc(2027, 1, 1, 9)) == utc(2027, 1, 1, 10)


def test_one_time_fires_once() -> None:
    rule = TimeRule(ScheduleType.ONE_TIME, scheduled_time=utc(2027, 1, 1, 9))
    assert next_occurrence(rule, utc(2026, 12, 31)) == utc(2027, 1, 1, 9)
    assert next_occurrence(rule, utc(2027, 1, 1, 9)) is None


def test_end_date_is_honoured() -> None:
    rule = cron_rule("0 * * * *", end=utc(2027, 1, 1, 12))
    times = occurrences(rule, utc(2027, 1, 1, 9, 30), 10)
    assert times == [utc(2027, 1, 1, h) for h in (10, 11, 12)]
    assert next_occurrence(rule, utc(2027, 1, 1, 12)) is None


def test_start_date_is_inclusive() -> None:
    rule = cron_rule("0 * * * *", start=utc(2027, 1, 1, 12))
    assert next_occurrence(rule, utc(2026, 6, 1)) == utc(2027, 1, 1, 12)


def test_sub_second_after_is_handled() -> None:
    rule = cron_rule("* * * * * *")
    assert next_occurrence(rule, utc(2027, 1, 1, 0, 0, 0).replace(microsecond=500_000)) == utc(2027, 1, 1, 0, 0, 1)


# ---- asked from inside a fall-back fold ------------------------------------------------------
# The loop asks for the next occurrence from "now", and "now" can be anywhere: in the first or
# the second reading of a repeated hour. Every minute of both readings is asked here and the
# answer compared with the brute-force oracle.

def fall_backs(tz: str, year: int) -> list[tuple[datetime, timedelta]]:
    """(instant of the transition, size of the shift) for each fall-back of `year` in `tz`."""
    zone, out = ZoneInfo(tz), []
    t = datetime(year, 1, 1, tzinfo=UTC)
    step = timedelta(minutes=15)
    while t.year == year:
        before, after = t.astimezone(zone).utcoffset(), (t + step).astimezone(zone).utcoffset()
        if after < before:  # type: ignore[operator]
            out.append((t + step, before - after))  # type: ignore[operator]
        t += step
    return out


FOLDS = [("America/New_York", 2027), ("Europe/Berlin", 2027), ("Australia/Lord_Howe", 2027)]
FOLD_EXPRS = ["30 1 * * *", "45 2 * * *", "45 1 * * *", "0 2 * * *", "59 1 * * *", "10 1-3 * * *",
              "*/15 * * * *", "15 */1 * * *", "0 * * * *", "40 */2 * * *"]


def test_fold_days_are_the_ones_named() -> None:
    assert [t for t, _ in fall_backs("America/New_York", 2027)] == [utc(2027, 11, 7, 6)]
    assert [t for t, _ in fall_backs("Europe/Berlin", 2027)] == [utc(2027, 10, 31, 1)]
    assert fall_backs("Australia/Lord_Howe", 2027) == [(utc(2027, 4, 3, 15), timedelta(minutes=30))]


@pytest.mark.parametrize(("tz", "year"), FOLDS)
@pytest.mark.parametrize("expr", FOLD_EXPRS)
def test_next_from_every_minute_of_both_readings_of_a_fold(tz: str, year: int, expr: str) -> None:
    rule = cron_rule(expr, tz)
    for at, shift in fall_backs(tz, year):
        first_reading = at - shift  # the repeated wall times start here (first reading)
        second_end = at + shift  # ... and their second reading ends here
        expected_all = oracle(expr, tz, first_reading - timedelta(hours=1), second_end + timedelta(hours=50))
        asked = first_reading - timedelta(minutes=5)
        while asked <= second_end + timedelta(minutes=5):
            for probe in (asked, asked + timedelta(seconds=30)):
                expected = expected_all[bisect.bisect_right(expected_all, probe)]
                assert next_occurrence(rule, probe) == expected, (expr, tz, probe.astimezone(ZoneInfo(tz)).isoformat())
            asked += timedelta(minutes=1)


@pytest.mark.parametrize(
    ("expr", "tz", "asked", "expected"),
    [
        # the two cases: asked in the second (standard-time) reading, before the minute
        ("30 1 * * *", "America/New_York", utc(2027, 11, 7, 6, 10), utc(2027, 11, 8, 6, 30)),
        ("45 2 * * *", "Europe/Berlin", utc(2027, 10, 31, 1, 20), utc(2027, 11, 1, 1, 45)),
    ],
)
def test_fixed_hour_asked_inside_the_second_reading_has_a_next_run(
    expr: str, tz: str, asked: datetime, expected: datetime
) -> None:
    assert next_occurrence(cron_rule(expr, tz), asked) == expected


_FOLD_ZONES = ZONES + ["Pacific/Chatham", "Europe/Dublin", "Africa/Casablanca"]
_FOLD_INSTANTS = [(tz, at, shift) for tz in _FOLD_ZONES for year in (2026, 2027, 2035) for at, shift in fall_backs(tz, year)]


@settings(max_examples=400, deadline=None)
@given(
    fold=st.sampled_from(_FOLD_INSTANTS),
    seconds=st.integers(min_value=-3 * 3600, max_value=3 * 3600),
    expr=cron_exprs,
)
def test_a_next_occurrence_always_exists_near_a_fold(fold: tuple[str, datetime, timedelta], seconds: int, expr: str) -> None:
    tz, at, _ = fold
    asked = at + timedelta(seconds=seconds)
    rule = cron_rule(expr, tz)
    nxt = next_occurrence(rule, asked)
    assert nxt is not None and nxt > asked, (expr, tz, asked)
    # and nothing is skipped: asking again from just before it gives it back
    assert next_occurrence(rule, nxt - timedelta(seconds=1)) == nxt
