"""One daylight-saving rule and one way to name a zone, for the REST API, chat and cron alike."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from workflow_core_module.chat import Add, ChatParseError, parse_command
from workflow_core_module.scheduling import next_cron, parse_cron
from workflow_core_module.scheduling.types import iso_z
from workflow_core_module.scheduling.validation import Limits, ValidationError, validate_schedule
from workflow_core_module.scheduling.zones import canonical_zone, suggest_zone

UTC = timezone.utc
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
LIMITS = Limits(min_interval_seconds=60, default_grace_period_seconds=900)
WF = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"


def one_time(at: str, zone: str) -> Any:
    return validate_schedule({"workflow_id": WF, "name": "x", "schedule_type": "one_time", "scheduled_time": at,
                              "timezone": zone}, limits=LIMITS, now=NOW)


@pytest.mark.parametrize(("wall", "zone", "expected"), [
    # spring forward: 02:00-03:00 does not exist; the first instant after the gap
    ("2027-03-28T02:30:00", "Europe/Berlin", datetime(2027, 3, 28, 1, 0, tzinfo=UTC)),
    ("2027-03-14T02:15:00", "America/New_York", datetime(2027, 3, 14, 7, 0, tzinfo=UTC)),
    # fall back: 01:30 happens twice; the first reading
    ("2027-11-07T01:30:00", "America/New_York", datetime(2027, 11, 7, 5, 30, tzinfo=UTC)),
    ("2027-10-31T02:45:00", "Europe/Berlin", datetime(2027, 10, 31, 0, 45, tzinfo=UTC)),
])
def test_rest_chat_and_cron_read_a_wall_time_the_same_way(wall: str, zone: str, expected: datetime) -> None:
    assert one_time(wall, zone).scheduled_time == expected
    day, clock = wall.split("T")
    months = {"03": "mar", "10": "oct", "11": "nov"}
    _, month, dom = day.split("-")
    command = parse_command(f"add on {months[month]} {int(dom)} at {clock[:5]} say hi", now=NOW, timezone=zone)
    assert isinstance(command, Add) and command.when.scheduled_time == expected
    hour, minute = int(clock[:2]), int(clock[3:5])
    start = expected.replace(hour=0, minute=0) if expected.hour > 0 else expected.replace(day=expected.day - 1)
    assert next_cron(parse_cron(f"{minute} {hour} {int(dom)} {int(month)} *"), zone, start) == expected


@pytest.mark.parametrize(("given", "stored"), [("europe/berlin", "Europe/Berlin"), ("UTC", "UTC"),
                                               ("AMERICA/NEW_YORK", "America/New_York"), (" Asia/Kolkata ", "Asia/Kolkata")])
def test_zone_names_are_accepted_in_any_case_and_stored_canonical(given: str, stored: str) -> None:
    assert one_time("2027-06-01T09:00:00", given).timezone == stored
    assert canonical_zone(given) == stored


@pytest.mark.parametrize(("given", "hint"), [
    ("localtime", None), ("posix/Europe/Berlin", "Europe/Berlin"), ("right/UTC", None), ("Factory", None),
    ("Europe/Berln", "Europe/Berlin"), ("berlin", "Europe/Berlin"), ("../../etc/passwd", None), ("x" * 200, None),
])
def test_host_dependent_and_unknown_zones_are_refused_with_a_suggestion(given: str, hint: str | None) -> None:
    with pytest.raises(ValidationError) as caught:
        one_time("2027-06-01T09:00:00", given)
    message = caught.value.errors["timezone"]
    assert "unknown time zone" in message
    assert (f"did you mean {hint!r}" in message) if hint else "did you mean" not in message
    assert suggest_zone(given) == hint
    with pytest.raises(ChatParseError, match="I don't know the time zone"):
        parse_command(f"timezone {given}", now=NOW)


@pytest.mark.parametrize(("value", "fraction", "text"), [
    (datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC), False, "2027-01-02T03:04:05Z"),
    (datetime(2027, 1, 2, 3, 4, 5, 250_000, tzinfo=UTC), False, "2027-01-02T03:04:05Z"),
    (datetime(2027, 1, 2, 3, 4, 5, 250_000, tzinfo=UTC), True, "2027-01-02T03:04:05.250000Z"),
    (datetime(2027, 1, 2, 3, 4, 5), True, "2027-01-02T03:04:05Z"),  # naive values are UTC
    (datetime(2027, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1))), False, "2027-01-02T03:04:05Z"),
])
def test_one_way_to_write_an_instant(value: datetime, fraction: bool, text: str) -> None:
    assert iso_z(value, fraction=fraction) == text
