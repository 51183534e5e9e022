"""Corners of the cron module that the time-rule tables do not reach (found by mutation testing)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from croniter import CroniterBadDateError

from workflow_core_module.scheduling import cron
from workflow_core_module.scheduling.cron import parse_cron

UTC = timezone.utc
AFTER = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)


class _Exhausted:
    """A croniter that finds no further date, as croniter does past its search horizon."""

    def set_current(self, *args: Any, **kwargs: Any) -> None:
        pass

    def get_next(self, *args: Any) -> Any:
        raise CroniterBadDateError("failed to find next date")


def test_an_expression_with_no_further_date_has_no_next_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """No further date is an answer (None: the schedule expires), not an error that would set the
    schedule aside as broken."""
    spec = parse_cron("0 9 * * *")
    monkeypatch.setattr(cron, "_iterator", lambda _: _Exhausted())
    assert cron.next_cron.__wrapped__(spec, "UTC", AFTER) is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(("expression", "message"), [
    ("61 9 * * *", "invalid minute field '61' (allowed: 0-59,"),
    ("0 24 * * *", "invalid hour field '24' (allowed: 0-23,"),
    ("0 9 32 * *", "invalid day of month field '32' (allowed: 1-31,"),
    ("0 9 * 13 *", "invalid month field '13' (allowed: 1-12 or JAN-DEC,"),
    ("0 9 * * 8", "invalid day of week field '8' (allowed: 0-6 or SUN-SAT,"),
    ("60 0 9 * * *", "invalid second field '60' (allowed: 0-59,"),
    ("0 61 9 * * *", "invalid minute field '61' (allowed: 0-59,"),
    ("0 0 24 * * *", "invalid hour field '24' (allowed: 0-23,"),
    ("0 0 9 * * 8", "invalid day of week field '8' (allowed: 0-6 or SUN-SAT,"),
])
def test_an_invalid_field_is_named_with_its_range(expression: str, message: str) -> None:
    """Five fields or six (seconds first): the message names the field by its place and gives the
    range that place accepts."""
    with pytest.raises(cron.CronError) as info:
        parse_cron(expression)
    assert message in str(info.value), str(info.value)


def _walk(expression: str, zone: str, after: datetime, count: int) -> list[datetime]:
    spec, out = parse_cron(expression), []
    for _ in range(count):
        nxt = cron.next_cron(spec, zone, after)
        assert nxt is not None
        out.append(nxt)
        after = nxt
    return out


def test_every_second_runs_on_every_real_second_across_a_spring_forward_gap() -> None:
    """Berlin 2027-03-28: 02:00 CET jumps to 03:00 CEST (01:00 UTC). An every-second expression
    runs on each real second: no second lost, none twice, no stall in the gap."""
    start = datetime(2027, 3, 28, 0, 59, 57, tzinfo=UTC)  # 01:59:57 CET
    got = _walk("* * * * * *", "Europe/Berlin", start, 6)
    assert [int(t.timestamp()) - int(start.timestamp()) for t in got] == [1, 2, 3, 4, 5, 6]


def test_every_second_in_a_fixed_hour_runs_once_per_wall_second_across_a_fold() -> None:
    """New York 2027-11-07: 01:00-02:00 happens twice. `* * 1 * * *` (hour fixed) runs in the first
    reading only, then on the next day."""
    first_reading_end = datetime(2027, 11, 7, 5, 59, 58, tzinfo=UTC)  # 01:59:58 EDT
    got = _walk("* * 1 * * *", "America/New_York", first_reading_end, 3)
    assert got == [datetime(2027, 11, 7, 5, 59, 59, tzinfo=UTC), datetime(2027, 11, 8, 6, 0, 0, tzinfo=UTC),
                   datetime(2027, 11, 8, 6, 0, 1, tzinfo=UTC)]


def test_every_second_with_a_stepped_hour_runs_on_both_readings_of_a_fold() -> None:
    last_first_reading = datetime(2027, 11, 7, 5, 59, 59, tzinfo=UTC)  # 01:59:59 EDT
    got = _walk("* * */1 * * *", "America/New_York", last_first_reading, 2)
    assert got == [datetime(2027, 11, 7, 6, 0, 0, tzinfo=UTC), datetime(2027, 11, 7, 6, 0, 1, tzinfo=UTC)]


@pytest.mark.parametrize(("expression", "wildcard_hour"), [
    ("0 30 1 * * *", False), ("0 30 */2 * * *", True), ("0 30 * * * *", True), ("0 30 1-3 * * *", False),
    ("30 1 * * *", False), ("30 */2 * * *", True), ("30 * * * *", True), ("30 1,2 * * *", False),
])
def test_the_hour_field_is_found_with_and_without_seconds(expression: str, wildcard_hour: bool) -> None:
    assert parse_cron(expression).wildcard_hour is wildcard_hour


def test_a_six_field_fixed_hour_runs_once_on_a_fall_back_day() -> None:
    """`0 30 1 * * *` in New York on 2027-11-07: 01:30 EDT only, not 01:30 EST as well."""
    before = datetime(2027, 11, 7, 4, 0, tzinfo=UTC)  # 00:00 EDT
    assert _walk("0 30 1 * * *", "America/New_York", before, 2) == [
        datetime(2027, 11, 7, 5, 30, tzinfo=UTC), datetime(2027, 11, 8, 6, 30, tzinfo=UTC)]


def test_a_fixed_hour_asked_from_the_second_reading_runs_at_the_end_of_the_fold() -> None:
    """`*/20 1-2 * * *` in New York on 2027-11-07, asked at 01:10 EST (the second reading): 01:20
    and 01:40 ran in the first reading already; the next run is 02:00 EST, right where the fold ends."""
    second_reading = datetime(2027, 11, 7, 6, 10, tzinfo=UTC)  # 01:10 EST
    assert _walk("*/20 1-2 * * *", "America/New_York", second_reading, 3) == [
        datetime(2027, 11, 7, 7, 0, tzinfo=UTC), datetime(2027, 11, 7, 7, 20, tzinfo=UTC),
        datetime(2027, 11, 7, 7, 40, tzinfo=UTC)]
