"""Schedule spec validation: each wrong field gets its own precise message."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from workflow_core_module.scheduling import OverlapPolicy, ScheduleType
from workflow_core_module.scheduling.validation import Limits, ValidationError, merge_changes, validate_schedule

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
LIMITS = Limits(min_interval_seconds=60, default_grace_period_seconds=900)
WF = "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"


def spec(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"workflow_id": WF, "name": "nightly", "schedule_type": "cron", "cron_expression": "0 2 * * *"}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not ...}


def errors_of(data: dict[str, Any], **kw: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        validate_schedule(data, limits=LIMITS, now=NOW, **kw)
    return info.value.errors


def test_a_valid_spec_is_normalised() -> None:
    fields = validate_schedule(
        spec(name="  nightly  ", tags=["a", "b", "a"], timezone="Europe/Berlin", cron_expression="0  2 * *  *"),
        limits=LIMITS, now=NOW,
    )
    assert fields.name == "nightly"
    assert fields.tags == ("a", "b")
    assert fields.cron_expression == "0 2 * * *"
    assert fields.schedule_type is ScheduleType.CRON
    assert fields.overlap_policy is OverlapPolicy.SKIP
    assert fields.grace_period_seconds == 900
    assert fields.context_data == {}


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        (spec(workflow_id=...), "workflow_id", "required"),
        (spec(workflow_id="nope"), "workflow_id", "not a UUID"),
        (spec(workflow_id=5), "workflow_id", "expected a UUID string, got a number"),
        (spec(name=...), "name", "required"),
        (spec(name="   "), "name", "must not be empty"),
        (spec(name="x" * 101), "name", "at most 100 characters"),
        (spec(name="a\x00b"), "name", "control characters"),
        (spec(schedule_type="weekly"), "schedule_type", "must be one of cron, interval, one_time"),
        (spec(schedule_type=...), "schedule_type", "required"),
        (spec(cron_expression=...), "cron_expression", "required for cron schedules"),
        (spec(cron_expression="* * *"), "cron_expression", "has 3 fields"),
        (spec(cron_expression=7), "cron_expression", "expected a string"),
        (spec(interval_seconds=60), "interval_seconds", "only allowed for interval schedules, not cron"),
        (spec(schedule_type="interval", cron_expression=..., interval_seconds=30), "interval_seconds", "between 60 and"),
        (spec(schedule_type="interval", cron_expression=..., interval_seconds="60"), "interval_seconds", "whole number"),
        (spec(schedule_type="interval", cron_expression=..., interval_seconds=True), "interval_seconds", "whole number"),
        (spec(schedule_type="interval", cron_expression=..., interval_seconds=90.5), "interval_seconds", "whole number"),
        (spec(schedule_type="one_time", cron_expression=...), "scheduled_time", "required for one_time"),
        (spec(schedule_type="one_time", cron_expression=..., scheduled_time="tomorrow"), "scheduled_time", "ISO 8601"),
        (spec(schedule_type="one_time", cron_expression=..., scheduled_time="2020-01-01T00:00:00Z"), "scheduled_time",
         "must be in the future"),
        (spec(timezone="Mars/Olympus"), "timezone", "unknown time zone"),
        (spec(timezone="../../etc/passwd"), "timezone", "unknown time zone"),
        (spec(timezone=3), "timezone", "IANA"),
        (spec(start_date="2027-01-02T00:00:00Z", end_date="2027-01-01T00:00:00Z"), "end_date", "after start_date"),
        (spec(end_date="2026-11-01T00:00:00Z"), "end_date", "window ends before the next occurrence"),
        (spec(max_executions=0), "max_executions", "between 1 and"),
        (spec(grace_period_seconds=-1), "grace_period_seconds", "between 0 and"),
        (spec(overlap_policy="queue"), "overlap_policy", "skip, allow, buffer_one, cancel_previous"),
        (spec(jitter_seconds=7200), "jitter_seconds", "between 0 and 3600"),
        (spec(context_data=[1, 2]), "context_data", "expected a JSON object, got a list"),
        (spec(context_data={"x": "y" * 70_000}), "context_data", "at most 65536 bytes"),
        (spec(tags="a,b"), "tags", "expected a list of strings"),
        (spec(tags=["ok", ""]), "tags", "non-empty string"),
        (spec(tags=[f"t{i}" for i in range(21)]), "tags", "at most 20 tags"),
        (spec(callback_url="javascript:alert(1)"), "callback_url", "http:// or https://"),
        (spec(colour="blue"), "colour", "unknown field"),
    ],
)
def test_each_wrong_field_is_named(data: dict[str, Any], field: str, fragment: str) -> None:
    errors = errors_of(data)
    assert field in errors, errors
    assert fragment in errors[field], errors[field]


def test_all_wrong_fields_are_reported_together() -> None:
    errors = errors_of(spec(name=..., timezone="Nowhere", jitter_seconds=-5))
    assert set(errors) == {"name", "timezone", "jitter_seconds"}


def test_naive_times_are_read_in_the_schedule_zone() -> None:
    fields = validate_schedule(
        spec(schedule_type="one_time", cron_expression=..., scheduled_time="2026-12-24T18:00:00",
             timezone="Europe/Berlin"),
        limits=LIMITS, now=NOW,
    )
    assert fields.scheduled_time == datetime(2026, 12, 24, 17, 0, tzinfo=timezone.utc)


def test_offsets_are_absolute_and_fractions_never_fire_early() -> None:
    fields = validate_schedule(
        spec(schedule_type="one_time", cron_expression=..., scheduled_time="2026-12-24T18:00:00.750+02:00",
             timezone="America/New_York"),
        limits=LIMITS, now=NOW,
    )
    # 16:00:00.750 UTC rounds up to 16:00:01 (truncating to 16:00:00 would fire 0.75 s early)
    assert fields.scheduled_time == datetime(2026, 12, 24, 16, 0, 1, tzinfo=timezone.utc)


def test_timing_only_makes_identity_optional() -> None:
    fields = validate_schedule({"schedule_type": "interval", "interval_seconds": 300}, limits=LIMITS, timing_only=True)
    assert fields.interval_seconds == 300


def test_merge_changes_drops_the_old_types_field() -> None:
    current = validate_schedule(spec(), limits=LIMITS)
    merged = merge_changes(current, {"schedule_type": "interval", "interval_seconds": 120})
    assert merged["cron_expression"] is None and merged["interval_seconds"] == 120
    assert validate_schedule(merged, limits=LIMITS).schedule_type is ScheduleType.INTERVAL


def test_a_non_object_body_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        validate_schedule([1, 2], limits=LIMITS)  # type: ignore[arg-type]
    assert info.value.errors == {"body": "expected a JSON object"}
