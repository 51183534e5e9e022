"""Schedules in words (scheduling/describe.py): pure, a table of what each rule reads as."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from workflow_core_module.scheduling.calendars import CalendarRule
from workflow_core_module.scheduling.describe import describe, describe_interval
from workflow_core_module.scheduling.types import ChainOn, ScheduleType, TimeRule

UTC = timezone.utc
BERLIN = "Europe/Berlin"


@pytest.mark.parametrize("seconds, words", [
    (1, "Every second"), (45, "Every 45 seconds"), (60, "Every minute"), (90, "Every 90 seconds"),
    (120, "Every 2 minutes"), (3600, "Every hour"), (5400, "Every 90 minutes"), (7200, "Every 2 hours"),
    (86400, "Every day"), (90000, "Every 25 hours"), (172800, "Every 2 days"), (604800, "Every 7 days"),
])
def test_intervals_name_their_largest_whole_unit(seconds: int, words: str) -> None:
    assert describe_interval(seconds) == words
    assert describe(TimeRule(ScheduleType.INTERVAL, interval_seconds=seconds)) == words
    # an interval's zone changes nothing it does, so it is not named
    assert describe(TimeRule(ScheduleType.INTERVAL, BERLIN, interval_seconds=seconds)) == words


@pytest.mark.parametrize("expression, zone, words", [
    ("0 9 * * 1-5", "UTC", "At 09:00, Monday through Friday"),
    ("0 9 * * 1-5", BERLIN, "At 09:00, Monday through Friday (Europe/Berlin)"),
    ("*/10 * * * *", "UTC", "Every 10 minutes"),
    ("30 1 * * *", "America/New_York", "At 01:30 (America/New_York)"),
    ("0 9 * * *", "WET", "At 09:00 (WET)"),  # zones sorting after "UTC" are named too
    ("0 9 * * *", "".join(["U", "TC"]), "At 09:00"),  # "UTC" read from a request, not the literal
])
def test_cron_reads_as_cron_descriptor_words_with_the_zone_unless_utc(expression: str, zone: str, words: str) -> None:
    assert describe(TimeRule(ScheduleType.CRON, zone, cron_expression=expression)) == words


def test_a_cron_cron_descriptor_cannot_word_is_shown_as_written() -> None:
    # croniter takes "@hourly"-style and 6-field (seconds) forms cron-descriptor may not; a
    # string it refuses stands for any of them
    assert describe(TimeRule(ScheduleType.CRON, BERLIN, cron_expression="not a cron")) == \
        "Cron not a cron (Europe/Berlin)"


def test_an_rrule_reads_capitalised_with_its_zone_and_an_unreadable_one_as_written() -> None:
    start = datetime(2027, 1, 1, 18, tzinfo=UTC)
    rule = TimeRule(ScheduleType.RRULE, BERLIN, rrule="FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2", start_date=start)
    assert describe(rule) == "Every second Tuesday of the month at 19:00 (Europe/Berlin)"
    assert describe(TimeRule(ScheduleType.RRULE, "UTC", rrule="FREQ=SOMETIMES", start_date=start)) == \
        "RRULE FREQ=SOMETIMES"


@pytest.mark.parametrize("when, zone, words", [
    (datetime(2027, 3, 1, 8, 0, tzinfo=UTC), BERLIN, "Once, at 2027-03-01 09:00 (Europe/Berlin)"),
    (datetime(2027, 3, 1, 8, 0, 5, tzinfo=UTC), "UTC", "Once, at 2027-03-01 08:00:05"),
    (datetime(2027, 7, 1, 8, 0, 0, tzinfo=UTC), BERLIN, "Once, at 2027-07-01 10:00 (Europe/Berlin)"),
])
def test_a_one_time_schedule_reads_in_its_zone_with_seconds_only_when_it_has_some(
        when: datetime, zone: str, words: str) -> None:
    assert describe(TimeRule(ScheduleType.ONE_TIME, zone, scheduled_time=when)) == words


def test_a_rule_without_its_timing_field_never_fires() -> None:
    assert describe(TimeRule(ScheduleType.CRON)) == "Never"
    assert describe(TimeRule(ScheduleType.INTERVAL, interval_seconds=0)) == "Never"
    assert describe(TimeRule(ScheduleType.RRULE)) == "Never"
    assert describe(TimeRule(ScheduleType.ONE_TIME)) == "Never"


def cal(zone: str = BERLIN, **kw: object) -> CalendarRule:
    return CalendarRule("cal-1", zone, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("calendar, tail", [
    (cal(), ""),
    (cal(weekdays_only=True), ", except weekends"),
    (cal(holidays=("DE", "BY")), ", except public holidays in DE-BY"),
    (cal(holidays=("FR", None)), ", except public holidays in FR"),
    (cal(ranges=((date(2027, 12, 24), date(2027, 12, 24)),)), ", except 1 excluded date"),
    (cal(ranges=((date(2027, 12, 24), date(2027, 12, 26)), (date(2027, 12, 31), date(2027, 12, 31)))),
     ", except 4 excluded dates"),
    (cal(weekdays_only=True, holidays=("DE", None)), ", except weekends and public holidays in DE"),
    (cal(weekdays_only=True, holidays=("DE", "BY"), ranges=((date(2027, 8, 2), date(2027, 8, 13)),)),
     ", except weekends, public holidays in DE-BY and 12 excluded dates"),
    (cal("UTC", weekdays_only=True), ", except weekends (UTC)"),
    (cal("America/New_York", weekdays_only=True), ", except weekends (America/New_York)"),
    (cal("".join(["Europe/", "Berlin"]), weekdays_only=True), ", except weekends"),  # equal, not the same str
])
def test_a_calendar_says_what_it_leaves_out_and_its_zone_when_another(calendar: CalendarRule, tail: str) -> None:
    expression = TimeRule(ScheduleType.CRON, BERLIN, cron_expression="0 9 * * *", calendar=calendar)
    assert describe(expression) == "At 09:00 (Europe/Berlin)" + tail
    every = TimeRule(ScheduleType.INTERVAL, BERLIN, interval_seconds=3600, calendar=calendar)
    assert describe(every) == "Every hour" + tail
    start = datetime(2027, 1, 4, 8, tzinfo=UTC)
    weekly = TimeRule(ScheduleType.RRULE, BERLIN, rrule="FREQ=WEEKLY;BYDAY=MO", start_date=start, calendar=calendar)
    assert describe(weekly).endswith("(Europe/Berlin)" + tail)


def test_a_one_time_schedule_does_not_name_a_calendar() -> None:
    once = TimeRule(ScheduleType.ONE_TIME, BERLIN, scheduled_time=datetime(2027, 3, 1, 8, tzinfo=UTC),
                    calendar=cal(weekdays_only=True))
    assert describe(once) == "Once, at 2027-03-01 09:00 (Europe/Berlin)"


def test_the_type_decides_not_the_fields_a_rule_also_carries() -> None:
    every = {"cron_expression": "0 9 * * *", "interval_seconds": 60, "rrule": "FREQ=DAILY",
             "scheduled_time": datetime(2027, 3, 1, 8, tzinfo=UTC), "start_date": datetime(2027, 3, 1, 8, tzinfo=UTC)}
    assert describe(TimeRule(ScheduleType.CRON, **every)) == "At 09:00"  # type: ignore[arg-type]
    assert describe(TimeRule(ScheduleType.INTERVAL, **every)) == "Every minute"  # type: ignore[arg-type]
    assert describe(TimeRule(ScheduleType.RRULE, **every)) == "Every day at 08:00"  # type: ignore[arg-type]
    assert describe(TimeRule(ScheduleType.ONE_TIME, **every)) == "Once, at 2027-03-01 08:00"  # type: ignore[arg-type]
    assert describe(TimeRule(ScheduleType.CRON, interval_seconds=60)) == "Never"  # no expression: nothing to say


@pytest.mark.parametrize("on, words", [(ChainOn.SUCCESS, "ends successfully"), (ChainOn.FAILURE, "fails or times out"),
                                       (ChainOn.ANY, "ends (successfully or not)")])
def test_an_after_schedule_names_its_upstream_and_the_outcome_it_waits_for(on: ChainOn, words: str) -> None:
    rule = TimeRule(ScheduleType.AFTER, BERLIN, after=("s-1", on))
    assert describe(rule, "nightly-export") == f"Runs after nightly-export {words}"
    assert describe(rule) == f"Runs after schedule s-1 {words}"  # no name at hand: its id
