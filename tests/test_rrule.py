"""RRULE schedules in the pure layer: table tests without a database."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil import rrule as du

from workflow_core_module.scheduling.decisions import status_for_next
from workflow_core_module.scheduling.describe import describe
from workflow_core_module.scheduling.occurrences import next_occurrence, occurrences
from workflow_core_module.scheduling.rrules import RRuleError, check_rrule, parse_rrule
from workflow_core_module.scheduling.types import ScheduleStatus, ScheduleType, TimeRule
from workflow_core_module.scheduling.validation import Limits, ValidationError, validate_schedule

UTC = timezone.utc
BERLIN = "Europe/Berlin"


def rule(text: str, start: datetime, zone: str = BERLIN, **kw: Any) -> TimeRule:
    return TimeRule(ScheduleType.RRULE, zone, rrule=parse_rrule(text).text, start_date=start, anchor=start, **kw)


def local(times: list[datetime], zone: str = BERLIN) -> list[str]:
    return [t.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M") for t in times]


def berlin(*args: int) -> datetime:
    """A Berlin wall time as an instant."""
    return datetime(*args, tzinfo=ZoneInfo(BERLIN)).astimezone(UTC)


START = berlin(2026, 12, 1, 19, 0)  # DTSTART: Tuesday 1 December 2026, 19:00 in Berlin


@pytest.mark.parametrize("text", ["FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2", "FREQ=MONTHLY;BYDAY=2TU"])
def test_second_tuesday_of_the_month_at_19(text: str) -> None:
    r = rule(text, START)
    assert local(occurrences(r, START - timedelta(days=1), 6)) == [
        "Tue 2026-12-08 19:00", "Tue 2027-01-12 19:00", "Tue 2027-02-09 19:00", "Tue 2027-03-09 19:00",
        "Tue 2027-04-13 19:00", "Tue 2027-05-11 19:00"]  # 19:00 in winter and in summer
    assert describe(r) == "Every second Tuesday of the month at 19:00 (Europe/Berlin)"


def test_every_other_week_monday_and_thursday_across_the_spring_change() -> None:
    start = berlin(2027, 3, 15, 8, 30)  # a Monday; clocks go forward on Sunday 2027-03-28
    r = rule("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH", start)
    times = occurrences(r, start - timedelta(seconds=1), 6)
    assert local(times) == ["Mon 2027-03-15 08:30", "Thu 2027-03-18 08:30", "Mon 2027-03-29 08:30",
                            "Thu 2027-04-01 08:30", "Mon 2027-04-12 08:30", "Thu 2027-04-15 08:30"]
    assert [t.strftime("%H:%M") for t in times] == ["07:30", "07:30", "06:30", "06:30", "06:30", "06:30"]  # UTC
    assert describe(r) == "Every 2 weeks on Monday and Thursday at 08:30 (Europe/Berlin)"


def test_every_other_week_across_the_autumn_change() -> None:
    start = berlin(2027, 10, 25, 8, 30)  # a Monday; clocks go back on Sunday 2027-10-31
    times = occurrences(rule("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH", start), start - timedelta(seconds=1), 4)
    assert local(times) == ["Mon 2027-10-25 08:30", "Thu 2027-10-28 08:30", "Mon 2027-11-08 08:30",
                            "Thu 2027-11-11 08:30"]
    assert [t.strftime("%H:%M") for t in times] == ["06:30", "06:30", "07:30", "07:30"]


def test_a_wall_time_in_the_gap_runs_after_it_and_one_in_the_fold_runs_once() -> None:
    start = berlin(2027, 3, 26, 2, 30)
    spring = occurrences(rule("FREQ=DAILY", start), start - timedelta(seconds=1), 4)
    # 02:30 does not exist on 2027-03-28: the first instant after the gap (03:00 CEST = 01:00 UTC)
    assert [t.isoformat() for t in spring] == ["2027-03-26T01:30:00+00:00", "2027-03-27T01:30:00+00:00",
                                               "2027-03-28T01:00:00+00:00", "2027-03-29T00:30:00+00:00"]
    start = berlin(2027, 10, 30, 2, 30)
    autumn = occurrences(rule("FREQ=DAILY", start), start - timedelta(seconds=1), 3)
    # 02:30 happens twice on 2027-10-31: once, at its first reading (CEST, 00:30 UTC)
    assert [t.isoformat() for t in autumn] == ["2027-10-30T00:30:00+00:00", "2027-10-31T00:30:00+00:00",
                                               "2027-11-01T01:30:00+00:00"]


def utc_times(times: list[datetime]) -> list[str]:
    return [t.astimezone(UTC).strftime("%H:%M") for t in times]


@pytest.mark.parametrize("text, expected", [
    # no fixed hours, like a cron whose hour is *: both readings of 02:xx (00:xx and 01:xx UTC)
    ("FREQ=HOURLY", ["23:00", "00:00", "01:00", "02:00", "03:00"]),
    ("FREQ=MINUTELY;INTERVAL=30", ["23:00", "23:30", "00:00", "00:30", "01:00", "01:30", "02:00"]),
    ("FREQ=HOURLY;BYMINUTE=15", ["23:15", "00:15", "01:15", "02:15"]),
    # fixed hours run once, at the first reading, like a cron with a fixed hour
    ("FREQ=HOURLY;BYHOUR=1,2,3", ["23:00", "00:00", "02:00"]),
    # COUNT counts wall times: each once
    ("FREQ=HOURLY;COUNT=5", ["23:00", "00:00", "02:00", "03:00"]),
])
def test_a_repeated_hour_runs_twice_unless_the_rule_fixes_its_hours(text: str, expected: list[str]) -> None:
    start = berlin(2027, 10, 31, 1, 0)  # 23:00 UTC on the 30th; 02:00-02:59 happens twice on the 31st
    times = occurrences(rule(text, start), start - timedelta(seconds=1), len(expected))
    assert utc_times(times) == expected


def test_a_repeated_hour_asked_from_inside_either_reading() -> None:
    start = berlin(2027, 10, 31, 0, 0)
    hourly = rule("FREQ=MINUTELY;INTERVAL=30", start)
    for asked, expected in [("00:10", "00:30"), ("00:30", "01:00"), ("00:45", "01:00"), ("01:10", "01:30"),
                            ("01:30", "02:00")]:
        hour, minute = map(int, asked.split(":"))
        at = datetime(2027, 10, 31, hour, minute, tzinfo=UTC)
        assert utc_times([next_occurrence(hourly, at)]) == [expected], asked  # type: ignore[list-item]


def test_count_3_then_nothing_and_the_schedule_completes() -> None:
    r = rule("FREQ=DAILY;COUNT=3", START)
    times = occurrences(r, START - timedelta(days=1), 10)
    assert local(times) == ["Tue 2026-12-01 19:00", "Wed 2026-12-02 19:00", "Thu 2026-12-03 19:00"]
    assert next_occurrence(r, times[-1]) is None
    assert status_for_next(r, None, 3, None) is ScheduleStatus.COMPLETED
    assert describe(r) == "Every day at 19:00, 3 times (Europe/Berlin)"


def test_until_is_honoured_in_the_rule_zone_or_utc() -> None:
    assert local(occurrences(rule("FREQ=DAILY;UNTIL=20261203", START), START - timedelta(days=1), 9)) == [
        "Tue 2026-12-01 19:00", "Wed 2026-12-02 19:00"]  # a date: midnight at its start, in Berlin
    assert len(occurrences(rule("FREQ=DAILY;UNTIL=20261203T180000Z", START), START - timedelta(days=1), 9)) == 3


def test_last_weekday_of_the_month() -> None:
    r = rule("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", berlin(2027, 1, 1, 17, 0))
    assert local(occurrences(r, berlin(2027, 1, 1), 6)) == [
        "Fri 2027-01-29 17:00", "Fri 2027-02-26 17:00", "Wed 2027-03-31 17:00", "Fri 2027-04-30 17:00",
        "Mon 2027-05-31 17:00", "Wed 2027-06-30 17:00"]
    assert describe(r) == "Every last weekday of the month at 17:00 (Europe/Berlin)"


def test_byhour_and_byminute_give_the_times_of_day() -> None:
    r = rule("FREQ=WEEKLY;BYDAY=SA;BYHOUR=10,16;BYMINUTE=15", START)
    assert local(occurrences(r, START, 3)) == ["Sat 2026-12-05 10:15", "Sat 2026-12-05 16:15", "Sat 2026-12-12 10:15"]


@pytest.mark.parametrize("text", [
    "FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH", "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=-1",
    "FREQ=YEARLY;INTERVAL=2;BYMONTH=2;BYMONTHDAY=29", "FREQ=DAILY;INTERVAL=9", "FREQ=HOURLY;INTERVAL=5;BYMINUTE=7",
    "FREQ=MINUTELY;INTERVAL=97", "FREQ=WEEKLY;INTERVAL=3;WKST=SU;BYDAY=SU,SA", "FREQ=YEARLY;BYDAY=-1FR;BYMONTH=11",
    "FREQ=MONTHLY;BYDAY=5SA", "FREQ=DAILY;BYMONTH=2,3;BYDAY=MO", "FREQ=MONTHLY",
])
def test_moving_dtstart_forward_never_changes_the_occurrences(text: str) -> None:
    """Occurrences are looked for from a DTSTART moved forward by whole periods; in UTC (no DST
    rule in the way) they must be exactly dateutil's from the real DTSTART."""
    rng = random.Random(text)
    start = datetime(2025, 1, 30, 13, 45, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 400_000))
    r = rule(text, start, "UTC")
    reference = du.rrulestr(text, dtstart=start.replace(tzinfo=None))
    for _ in range(15):
        after = start + timedelta(minutes=rng.randrange(0, 6_000_000))
        expected = reference.after(after.replace(tzinfo=None))
        assert next_occurrence(r, after) == (expected.replace(tzinfo=UTC) if expected else None), (text, after)


# ---- refused -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "message"), [
    ("DTSTART:20260101T090000Z\nRRULE:FREQ=DAILY", "must be one RRULE value"),
    ("FREQ=DAILY;DTSTART=20260101T090000Z", "DTSTART is the schedule's start_date"),
    ("RRULE:FREQ=DAILY;EXDATE=20260101", "unknown part 'EXDATE'"),
    ("FREQ=DAILY;X-NAME=1", "unknown part 'X-NAME'"),
    ("FREQ=SECONDLY", "FREQ=SECONDLY is not supported"),
    ("FREQ=FORTNIGHTLY", "is not one of"),
    ("BYDAY=MO", "FREQ is required"),
    ("FREQ=DAILY;FREQ=WEEKLY", "given twice"),
    ("FREQ=DAILY;COUNT=2;UNTIL=20270101", "not both"),
    ("FREQ=DAILY;COUNT=100000", "COUNT"),
    ("FREQ=WEEKLY;BYDAY=2TU", "needs FREQ=MONTHLY or YEARLY"),
    ("FREQ=MONTHLY;BYDAY=6TU", "between 1 and 5"),
    ("FREQ=DAILY;BYSETPOS=1;BYDAY=MO", "BYSETPOS needs FREQ=YEARLY"),
    ("FREQ=DAILY;BYSECOND=5", "BYSECOND is not supported"),
    ("FREQ=YEARLY;BYYEARDAY=100", "BYYEARDAY is not supported"),
    ("FREQ=YEARLY;BYWEEKNO=20", "BYWEEKNO is not supported"),
    ("FREQ=YEARLY;BYEASTER=0", "BYEASTER"),
    ("FREQ=DAILY;INTERVAL=2;BYDAY=MO", "INTERVAL > 1"),
    ("FREQ=DAILY;BYHOUR=25", "between 0 and 23"),
    ("FREQ=MONTHLY;BYMONTHDAY=0", "between 1 and 31"),
    ("FREQ=DAILY;UNTIL=20270231", "not a real date"),
    ("FREQ=DAILY;BYHOUR=" + ",".join(["1"] * 80), "more than 60 values"),
    ("FREQ=DAILY;" + "BYMINUTE=1;" * 40, "longer than 300"),
])
def test_malformed_rules_are_refused(text: str, message: str) -> None:
    with pytest.raises(RRuleError, match=None) as caught:
        parse_rrule(text)
    assert message in str(caught.value)


@pytest.mark.parametrize("text", [
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    "FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=31",  # dateutil alone walks to the year 9999 on this one
    "FREQ=DAILY;BYMONTH=4;BYMONTHDAY=31",
    "FREQ=MONTHLY;INTERVAL=12;BYMONTH=2",  # DTSTART in December: every 12th month is never February
    "FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29",  # from 2026, every 4th year is never a leap year
    "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6",
    "FREQ=HOURLY;INTERVAL=2;BYHOUR=3",  # from 19:00 every second hour is odd... 19, 21, 23, 1, 3 -- reachable
])
def test_a_rule_that_never_fires_is_refused_quickly(text: str) -> None:
    spec = parse_rrule(text)
    if text.startswith("FREQ=HOURLY"):
        check_rrule(spec, BERLIN, START, 60)  # reachable: accepted
        return
    with pytest.raises(RRuleError, match="never fires"):
        check_rrule(spec, BERLIN, START, 60)


def test_a_rule_firing_more_often_than_the_minimum_is_refused() -> None:
    with pytest.raises(RRuleError, match="fires every 60 seconds at its closest; the shortest allowed is 300"):
        check_rrule(parse_rrule("FREQ=HOURLY;BYMINUTE=0,1,30"), BERLIN, START, 300)
    check_rrule(parse_rrule("FREQ=HOURLY;BYMINUTE=0,30"), BERLIN, START, 300)


def spec(**kw: Any) -> dict[str, Any]:
    return {"schedule_type": "rrule", "rrule": "FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2", "timezone": BERLIN,
            "start_date": "2026-12-01T19:00:00", **kw}


def test_validation_names_the_field() -> None:
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    fields = validate_schedule(spec(), limits=Limits(), now=now, timing_only=True)
    assert fields.rrule == "FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2" and fields.start_date == START
    with pytest.raises(ValidationError) as caught:
        validate_schedule(spec(start_date=None), limits=Limits(), now=now, timing_only=True)
    assert "required for rrule schedules" in caught.value.errors["start_date"]
    with pytest.raises(ValidationError) as caught:
        validate_schedule(spec(rrule="FREQ=MINUTELY"), limits=Limits(min_interval_seconds=120), now=now,
                          timing_only=True)
    assert "the shortest allowed is 120" in caught.value.errors["rrule"]
    with pytest.raises(ValidationError) as caught:
        validate_schedule(spec(cron_expression="0 9 * * *"), limits=Limits(), now=now, timing_only=True)
    assert caught.value.errors == {"cron_expression": "only allowed for cron schedules, not rrule"}
    with pytest.raises(ValidationError) as caught:
        validate_schedule({"schedule_type": "cron", "cron_expression": "0 9 * * *", "rrule": "FREQ=DAILY"},
                          limits=Limits(), now=now, timing_only=True)
    assert caught.value.errors == {"rrule": "only allowed for rrule schedules, not cron"}
    with pytest.raises(ValidationError) as caught:  # ended before now
        validate_schedule(spec(rrule="FREQ=DAILY;COUNT=2", start_date="2026-01-01T09:00:00"), limits=Limits(),
                          now=now, timing_only=True)
    assert "no future occurrence" in caught.value.errors["schedule_type"]
    with pytest.raises(ValidationError) as caught:
        validate_schedule(spec(rrule=123), limits=Limits(), now=now, timing_only=True)
    assert caught.value.errors == {"rrule": "expected a string, got a number"}


@pytest.mark.parametrize(("text", "words"), [
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29", "every year on the 29th of February at 19:00"),
    ("FREQ=YEARLY;BYMONTH=11;BYDAY=4TH", "every fourth Thursday of November at 19:00"),
    ("FREQ=YEARLY", "every year on 1 December at 19:00"),
    ("FREQ=MONTHLY;BYMONTHDAY=1,15", "every month on the 1st and 15th at 19:00"),
    ("FREQ=MONTHLY;BYMONTHDAY=-1", "every month on the last day at 19:00"),
    ("FREQ=WEEKLY", "every week on Tuesday at 19:00"),
    ("FREQ=DAILY;BYHOUR=9,17;BYMINUTE=30", "every day at 09:30 and 17:30"),
    ("FREQ=HOURLY;INTERVAL=2", "every 2 hours at :00"),
    ("FREQ=MINUTELY;BYMINUTE=0,1", "every minute at :00 and :01"),
    ("FREQ=DAILY;UNTIL=20270101", "every day at 19:00, until 2027-01-01"),
])
def test_words(text: str, words: str) -> None:
    from workflow_core_module.scheduling.rrules import describe_rrule

    assert describe_rrule(parse_rrule(text), START, BERLIN) == words
