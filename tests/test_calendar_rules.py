"""Calendars in the pure occurrence computation: table tests without a database."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from workflow_core_module.scheduling.calendars import CalendarError, CalendarRule, validate_calendar
from workflow_core_module.scheduling.describe import describe
from workflow_core_module.scheduling.occurrences import (
    MAX_CALENDAR_SKIPS,
    latest_at_or_before,
    next_occurrence,
    occurrences,
    occurrences_explained,
)
from workflow_core_module.scheduling.types import ScheduleType, TimeRule

UTC = timezone.utc
BERLIN = "Europe/Berlin"


def calendar(**spec: Any) -> CalendarRule:
    return validate_calendar({"name": "c", **spec}).rule("cal-1")


def cron(expression: str, zone: str = BERLIN, cal: CalendarRule | None = None) -> TimeRule:
    return TimeRule(ScheduleType.CRON, zone, cron_expression=expression, calendar=cal)


def year_2027(rule: TimeRule) -> list[datetime]:
    found = occurrences(rule, datetime(2026, 12, 31, 12, tzinfo=UTC), 400)
    return [t for t in found if t.astimezone(ZoneInfo(rule.timezone)).year == 2027]


def berlin_days(times: list[datetime]) -> set[date]:
    return {t.astimezone(ZoneInfo(BERLIN)).date() for t in times}


# ---- DE-BY: 2027's Bavarian holidays and weekends removed from "0 9 * * *" --------------------

BAVARIA = {"timezone": BERLIN, "weekdays_only": True, "holidays": {"country": "DE", "subdivision": "BY"}}


def test_bavarian_workdays_2027_count_and_names() -> None:
    plain = year_2027(cron("0 9 * * *"))
    assert len(plain) == 365
    kept = year_2027(cron("0 9 * * *", cal=calendar(**BAVARIA)))
    # 365 days - 104 weekend days (2027 starts on a Friday) - 8 holidays on a weekday = 253
    assert len(kept) == 253
    days = berlin_days(kept)
    holidays_on_weekdays = {date(2027, 1, 1), date(2027, 1, 6), date(2027, 3, 26), date(2027, 3, 29),
                            date(2027, 5, 6), date(2027, 5, 17), date(2027, 5, 27), date(2027, 11, 1)}
    assert not days & holidays_on_weekdays
    assert all(d.weekday() < 5 for d in days)
    # every kept one is still 09:00 in Berlin, winter and summer
    assert {t.astimezone(ZoneInfo(BERLIN)).hour for t in kept} == {9}
    assert date(2027, 1, 4) in days and date(2027, 12, 31) in days  # a Monday, and New Year's Eve (no holiday)


@pytest.mark.parametrize(("day", "reason"), [
    (date(2027, 1, 6), "holiday: Epiphany (DE-BY)"),
    (date(2027, 5, 27), "holiday: Corpus Christi (DE-BY)"),
    (date(2027, 11, 1), "holiday: All Saints' Day (DE-BY)"),
    (date(2027, 1, 9), "weekend (weekdays only)"),
    (date(2027, 12, 25), "weekend (weekdays only)"),  # Christmas on a Saturday: the weekend says it first
])
def test_bavarian_days_skipped_with_their_reason(day: date, reason: str) -> None:
    assert calendar(**BAVARIA).skip(day) is not None
    assert calendar(**BAVARIA).skip(day)[1] == reason  # type: ignore[index]


def test_corpus_christi_is_bavarian_not_berlin() -> None:
    berlin = calendar(timezone=BERLIN, holidays={"country": "DE", "subdivision": "BE"})
    assert berlin.skip(date(2027, 5, 27)) is None
    assert calendar(**BAVARIA).skip(date(2027, 5, 27)) is not None


def test_explain_names_the_days_and_why() -> None:
    rule = cron("0 9 * * *", cal=calendar(**BAVARIA))
    times, skipped = occurrences_explained(rule, datetime(2026, 12, 31, 12, tzinfo=UTC), 3)
    assert [t.isoformat() for t in times] == ["2027-01-04T08:00:00+00:00", "2027-01-05T08:00:00+00:00",
                                              "2027-01-07T08:00:00+00:00"]
    assert [(t.date().isoformat(), why) for t, why in skipped] == [
        ("2027-01-01", "holiday: New Year's Day (DE-BY)"),
        ("2027-01-02", "weekend (weekdays only)"),  # one jump for the whole weekend
        ("2027-01-06", "holiday: Epiphany (DE-BY)"),
    ]


# ---- excluded_dates ranges ------------------------------------------------------------------


def test_ranges_and_single_dates_are_skipped_inclusively() -> None:
    cal = calendar(timezone="UTC", excluded_dates=["2027-03-01", {"from": "2027-03-03", "to": "2027-03-05"},
                                                   {"from": "2027-03-05", "to": "2027-03-06"}])
    assert cal.ranges == ((date(2027, 3, 1), date(2027, 3, 1)), (date(2027, 3, 3), date(2027, 3, 6)))  # merged
    times = occurrences(cron("0 12 * * *", "UTC", cal), datetime(2027, 2, 28, 13, tzinfo=UTC), 4)
    assert [t.day for t in times] == [2, 7, 8, 9]
    _, skipped = occurrences_explained(cron("0 12 * * *", "UTC", cal), datetime(2027, 2, 28, 13, tzinfo=UTC), 2)
    assert [why for _, why in skipped] == ["excluded date (2027-03-01)", "excluded date (2027-03-03 to 2027-03-06)"]


def test_an_interval_schedule_skips_excluded_days_without_leaving_its_grid() -> None:
    cal = calendar(timezone="UTC", excluded_dates=["2027-03-02"])
    anchor = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)
    rule = TimeRule(ScheduleType.INTERVAL, "UTC", interval_seconds=7 * 3600, anchor=anchor, calendar=cal)
    times = occurrences(rule, anchor, 6)
    assert [t.isoformat() for t in times] == [
        "2027-03-01T07:00:00+00:00", "2027-03-01T14:00:00+00:00", "2027-03-01T21:00:00+00:00",
        "2027-03-03T01:00:00+00:00", "2027-03-03T08:00:00+00:00", "2027-03-03T15:00:00+00:00"]
    # the coalescing walk sees the calendar too (no arithmetic shortcut across an excluded day)
    latest, count = latest_at_or_before(rule, times[2], datetime(2027, 3, 3, 2, tzinfo=UTC))
    assert (latest, count) == (times[3], 2)


def test_a_calendar_that_excludes_everything_ends_the_search() -> None:
    cal = calendar(timezone="UTC", weekdays_only=True)
    assert next_occurrence(cron("0 9 * * 6", "UTC", cal), datetime(2027, 1, 1, tzinfo=UTC)) is None
    assert MAX_CALENDAR_SKIPS == 1000


# ---- the calendar's zone, not the schedule's --------------------------------------------------


def test_the_day_is_read_in_the_calendar_zone() -> None:
    # 23:30 UTC on Friday 2027-01-08 is Saturday 08:30 in Tokyo and still Friday in New York.
    rule_tokyo = cron("30 23 * * *", "UTC", calendar(timezone="Asia/Tokyo", weekdays_only=True))
    rule_ny = cron("30 23 * * *", "UTC", calendar(timezone="America/New_York", weekdays_only=True))
    after = datetime(2027, 1, 8, 12, tzinfo=UTC)
    assert next_occurrence(rule_ny, after) == datetime(2027, 1, 8, 23, 30, tzinfo=UTC)
    # Tokyo: Fri 23:30 UTC (Sat there) and Sat 23:30 UTC (Sun there) are weekend; Sun 23:30 UTC is Monday
    assert next_occurrence(rule_tokyo, after) == datetime(2027, 1, 10, 23, 30, tzinfo=UTC)


def test_an_excluded_date_in_another_zone_moves_with_that_zone() -> None:
    # Christmas Eve in Auckland is 11:00 UTC on the 23rd to 11:00 UTC on the 24th.
    cal = calendar(timezone="Pacific/Auckland", excluded_dates=["2027-12-24"])
    rule = cron("0 * * * *", "UTC", cal)
    times = occurrences(rule, datetime(2027, 12, 23, 9, 30, tzinfo=UTC), 3)
    assert [t.isoformat() for t in times] == ["2027-12-23T10:00:00+00:00", "2027-12-24T11:00:00+00:00",
                                              "2027-12-24T12:00:00+00:00"]


# ---- words and bounds -----------------------------------------------------------------------


def test_description_names_what_the_calendar_leaves_out() -> None:
    assert describe(cron("0 9 * * *", cal=calendar(**BAVARIA))) == \
        "At 09:00 (Europe/Berlin), except weekends and public holidays in DE-BY"
    assert describe(cron("0 9 * * *", "UTC", calendar(timezone=BERLIN, excluded_dates=[
        {"from": "2027-08-01", "to": "2027-08-14"}]))) == "At 09:00, except 14 excluded dates (Europe/Berlin)"


@pytest.mark.parametrize(("spec", "field", "message"), [
    ({"name": ""}, "name", "required"),
    ({"name": "x" * 101}, "name", "at most 100 characters"),
    ({"excluded_dates": ["2027-02-30"]}, "excluded_dates", "is not a date"),
    ({"excluded_dates": [{"from": "2027-01-01", "to": "2028-01-02"}]}, "excluded_dates", "at most 366 days"),
    ({"excluded_dates": [{"from": "2027-02-01", "to": "2027-01-01"}]}, "excluded_dates", "is before from"),
    ({"excluded_dates": [{"from": "2027-02-01"}]}, "excluded_dates", "exactly the keys"),
    ({"excluded_dates": ["2027-01-01"] * 201}, "excluded_dates", "at most 200"),
    ({"excluded_dates": "2027-01-01"}, "excluded_dates", "expected a list"),
    ({"holidays": {"country": "XX"}}, "holidays", "unknown country"),
    ({"holidays": {"country": "DE", "subdivision": "ZZ"}}, "holidays", "unknown subdivision 'ZZ' of DE"),
    ({"holidays": {"country": "DE", "region": "BY"}}, "holidays", "expected"),
    ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
    ({"weekdays_only": "yes"}, "weekdays_only", "true or false"),
    ({"colour": "red"}, "colour", "unknown field"),
])
def test_bad_calendars_are_refused_naming_the_field(spec: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(CalendarError) as caught:
        validate_calendar({"name": "c", **spec})
    assert message in caught.value.errors[field]


def test_codes_are_normalised() -> None:
    fields = validate_calendar({"name": " c ", "holidays": {"country": "de", "subdivision": "by"}})
    assert fields.name == "c" and fields.holidays == {"country": "DE", "subdivision": "BY"}


def test_the_copy_on_a_schedule_reads_back_equal() -> None:
    cal = calendar(**BAVARIA, excluded_dates=["2027-08-02", {"from": "2027-08-10", "to": "2027-08-12"}])
    assert CalendarRule.from_json(cal.as_json()) == cal


def test_adjacent_ranges_merge_and_cost_one_jump() -> None:
    ranges = [{"from": (date(2027, 1, 1) + timedelta(days=366 * i)).isoformat(),
               "to": (date(2027, 1, 1) + timedelta(days=366 * i + 365)).isoformat()} for i in range(5)]
    cal = calendar(timezone="UTC", excluded_dates=ranges)
    times, skipped = occurrences_explained(cron("0 0 * * *", "UTC", cal), datetime(2026, 12, 31, 1, tzinfo=UTC), 1)
    assert times == [datetime(2032, 1, 5, tzinfo=UTC)]  # 5 x 366 days after 2027-01-01
    assert len(cal.ranges) == 1 and [why for _, why in skipped] == ["excluded date (2027-01-01 to 2032-01-04)"]
