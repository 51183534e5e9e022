"""Schedule spec validation: each wrong field gets its own precise message."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from workflow_core_module.scheduling import OverlapPolicy, ScheduleType
from workflow_core_module.scheduling.validation import (
    AuditFilter,
    Limits,
    ValidationError,
    merge_changes,
    validate_audit_filter,
    validate_backfill,
    validate_pause,
    validate_schedule,
)

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
    assert (fields.interval_seconds, fields.workflow_id, fields.name) == (300, "", "")
    named = validate_schedule({"schedule_type": "interval", "interval_seconds": 300, "name": "n", "workflow_id": WF},
                              limits=LIMITS, timing_only=True)
    assert (named.workflow_id, named.name) == (WF, "n")


def test_merge_changes_drops_the_old_types_field() -> None:
    current = validate_schedule(spec(), limits=LIMITS)
    merged = merge_changes(current, {"schedule_type": "interval", "interval_seconds": 120})
    assert merged["cron_expression"] is None and merged["interval_seconds"] == 120
    assert validate_schedule(merged, limits=LIMITS).schedule_type is ScheduleType.INTERVAL


def test_a_non_object_body_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        validate_schedule([1, 2], limits=LIMITS)  # type: ignore[arg-type]
    assert info.value.errors == {"body": "expected a JSON object"}


# ---- every bound, at the bound and one past it ---------------------------------------------------
# The numbers are written out here, not imported: a changed limit is a changed contract.

INTERVAL = {"schedule_type": "interval", "cron_expression": ..., "interval_seconds": 3600}
INTEGER_BOUNDS = [
    ("interval_seconds", 60, 366 * 24 * 3600, INTERVAL),
    ("max_executions", 1, 10**9, {}),
    ("grace_period_seconds", 0, 7 * 24 * 3600, {}),
    ("jitter_seconds", 0, 3600, {}),
    ("catchup_max", 1, 1000, {}),
    ("timeout_seconds", 1, 24 * 3600, {}),
    ("max_retries", 0, 10, {}),
    ("retry_backoff_seconds", 1, 3600, {}),
    ("pause_after_failures", 1, 1000, {}),
]


@pytest.mark.parametrize(("name", "low", "high", "base"), INTEGER_BOUNDS, ids=[b[0] for b in INTEGER_BOUNDS])
def test_each_whole_number_takes_its_bounds_and_refuses_one_past_them(name: str, low: int, high: int,
                                                                      base: dict[str, Any]) -> None:
    for value in (low, high):
        fields = validate_schedule(spec(**{**base, name: value}), limits=LIMITS, now=NOW)
        assert getattr(fields, name) == value
    for value in (low - 1, high + 1):
        assert errors_of(spec(**{**base, name: value})) == {name: f"must be between {low} and {high}, got {value}"}
    assert getattr(validate_schedule(spec(**{**base, name: float(high)}), limits=LIMITS), name) == high
    assert errors_of(spec(**{**base, name: 1.5})) == {name: "expected a whole number, got a number 1.5"}
    assert errors_of(spec(**{**base, name: False})) == {name: "expected a whole number, got a boolean False"}


def test_limits_are_values() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        LIMITS.min_interval_seconds = 1  # type: ignore[misc]


def test_what_a_spec_leaves_out_takes_its_default() -> None:
    fields = validate_schedule(spec(), limits=Limits())
    assert (fields.grace_period_seconds, fields.jitter_seconds, fields.catchup_max) == (900, 0, 10)
    assert (fields.overlap_policy.value, fields.catchup_policy.value, fields.timezone) == ("skip", "latest", "UTC")
    assert (fields.description, fields.community_id, fields.tags, fields.context_data) == ("", None, (), {})
    assert (fields.max_executions, fields.timeout_seconds, fields.max_retries, fields.retry_backoff_seconds,
            fields.pause_after_failures, fields.callback_url, fields.alerts, fields.after) == (None,) * 8
    assert validate_schedule(spec(grace_period_seconds=0), limits=Limits()).grace_period_seconds == 0
    assert errors_of(spec(**{**INTERVAL, "interval_seconds": 59})) == {
        "interval_seconds": f"must be between 60 and {366 * 24 * 3600}, got 59"}
    with pytest.raises(ValidationError):
        validate_schedule(spec(**{**INTERVAL, "interval_seconds": 59}), limits=Limits())
    assert validate_schedule(spec(**{**INTERVAL, "interval_seconds": 60}), limits=Limits()).interval_seconds == 60


@pytest.mark.parametrize(("name", "limit"), [("name", 100), ("description", 2000), ("community_id", 100)])
def test_each_text_takes_its_length_and_refuses_one_more(name: str, limit: int) -> None:
    fields = validate_schedule(spec(**{name: "x" * limit}), limits=LIMITS)
    assert getattr(fields, name) == "x" * limit
    assert errors_of(spec(**{name: "x" * (limit + 1)})) == {name: f"at most {limit} characters, got {limit + 1}"}
    assert getattr(validate_schedule(spec(**{name: f"  {'x' * limit}\n"}), limits=LIMITS), name) == "x" * limit


def test_text_keeps_tabs_newlines_and_spaces_and_refuses_other_control_characters() -> None:
    fields = validate_schedule(spec(description="a\tb\nc d"), limits=LIMITS)
    assert fields.description == "a\tb\nc d"
    assert errors_of(spec(description="a\x1fb")) == {"description": "must not contain control characters"}
    assert errors_of(spec(description="a\rb")) == {"description": "must not contain control characters"}
    assert errors_of(spec(description=["x"])) == {"description": "expected a string, got a list"}
    assert validate_schedule(spec(description="   ", community_id="  "), limits=LIMITS).community_id is None


def test_tags_at_their_bounds() -> None:
    twenty = [f"t{i}" for i in range(20)]
    assert validate_schedule(spec(tags=twenty + ["t0", " t1 "]), limits=LIMITS).tags == tuple(twenty)
    assert errors_of(spec(tags=twenty + ["t20"])) == {"tags": "at most 20 tags, got 21"}
    assert validate_schedule(spec(tags=["x" * 50]), limits=LIMITS).tags == ("x" * 50,)
    too_long = "x" * 51
    message = f"tag {too_long!r}: at most 50 characters, no commas or control characters"
    assert errors_of(spec(tags=[too_long])) == {"tags": message}
    assert "no commas" in errors_of(spec(tags=["a,b"]))["tags"]
    assert "no commas" in errors_of(spec(tags=["a\tb"]))["tags"]
    assert "no commas" in errors_of(spec(tags=["a\x1fb"]))["tags"]
    assert errors_of(spec(tags=["ok", 5])) == {"tags": "every tag must be a non-empty string, got 5"}
    assert validate_schedule(spec(tags=("a", "b")), limits=LIMITS).tags == ("a", "b")
    assert validate_schedule(spec(tags=["night shift"]), limits=LIMITS).tags == ("night shift",)  # a space is fine


def test_context_data_at_its_byte_bound() -> None:
    def of_size(size: int) -> dict[str, Any]:
        return {"x": "y" * (size - len('{"x": ""}'))}

    assert validate_schedule(spec(context_data=of_size(64 * 1024)), limits=LIMITS).context_data == of_size(65536)
    assert errors_of(spec(context_data=of_size(64 * 1024 + 1))) == {"context_data": "at most 65536 bytes of JSON"}
    assert errors_of(spec(context_data={"x": float("nan")}))["context_data"].startswith("must be plain JSON (")
    assert errors_of(spec(context_data={"x": {1, 2}}))["context_data"].startswith("must be plain JSON (")
    stored = validate_schedule(spec(context_data={"n": (1, 2)}), limits=LIMITS).context_data
    assert stored == {"n": [1, 2]}  # what JSON makes of it, as it will read back


def test_callback_url_at_its_bounds() -> None:
    url = "https://hooks.example.com/" + "x" * (2000 - len("https://hooks.example.com/"))
    assert validate_schedule(spec(callback_url=url), limits=LIMITS).callback_url == url
    assert validate_schedule(spec(callback_url=" https://x.test/a\n"), limits=LIMITS).callback_url == "https://x.test/a"
    assert errors_of(spec(callback_url=url + "x"))["callback_url"].startswith("expected an http:// or https:// URL")
    assert validate_schedule(spec(callback_url=""), limits=LIMITS).callback_url is None
    assert "got 5" in errors_of(spec(callback_url=5))["callback_url"]
    assert "http://" in errors_of(spec(callback_url="https://"))["callback_url"]


def test_cron_and_rrule_text_bounds() -> None:
    longest = "0 " + "1," * 95 + "12 * * *"  # 200 characters
    assert validate_schedule(spec(cron_expression=longest), limits=LIMITS).cron_expression.startswith("0 1,1,")
    assert errors_of(spec(cron_expression=longest.replace("12", "123"))) == {
        "cron_expression": "at most 200 characters"}
    rrule = {"schedule_type": "rrule", "cron_expression": ..., "start_date": "2027-01-01T09:00:00Z"}
    assert errors_of(spec(**rrule, rrule="FREQ=DAILY;" + "X" * 290)) == {"rrule": "at most 300 characters"}
    at_limit = errors_of(spec(**rrule, rrule="FREQ=DAILY;" + "X" * 289))["rrule"]  # 300: parsed, and wrong
    assert at_limit.startswith("'FREQ=DAILY;XXX") and at_limit != "at most 300 characters"
    assert errors_of(spec(**rrule, rrule=5)) == {"rrule": "expected a string, got a number"}
    assert errors_of(spec(**{**rrule, "start_date": ...}, rrule="FREQ=DAILY")) == {
        "start_date": "required for rrule schedules: it is the rule's DTSTART (its first day and time)"}
    assert validate_schedule(spec(**rrule, rrule="freq=daily"), limits=LIMITS).rrule == "FREQ=DAILY"
    never = "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"  # parses; only its check against DTSTART refuses it
    assert errors_of(spec(**rrule, rrule=never)) == {"rrule": (
        f"{never!r} never fires: no day matches all of its parts (looked at 400 years, a whole cycle of the calendar)")}


def test_long_values_are_shown_cut_to_sixty_characters() -> None:
    sixty = "x" * 58  # repr adds two quotes
    assert errors_of(spec(workflow_id=sixty)) == {"workflow_id": f"'{sixty}' is not a UUID"}
    longer = "x" * 59
    assert errors_of(spec(workflow_id=longer)) == {"workflow_id": f"'{'x' * 56}... is not a UUID"}


@pytest.mark.parametrize(("value", "kind"), [
    (True, "a boolean"), (5, "a number"), (1.5, "a number"), ("x", "a string"), ([1], "a list"), (b"x", "bytes"),
])
def test_a_wrong_type_is_named(value: Any, kind: str) -> None:
    assert errors_of(spec(context_data=value)) == {"context_data": f"expected a JSON object, got {kind}"}
    assert errors_of(spec(name={"a": 1})) == {"name": "expected a string, got an object"}


def test_a_types_field_is_required_and_the_other_types_fields_refused() -> None:
    one_time = "2027-01-01T00:00:00Z"
    timing = {"cron": ("cron_expression", "0 2 * * *"), "interval": ("interval_seconds", 3600),
              "one_time": ("scheduled_time", one_time), "rrule": ("rrule", "FREQ=DAILY"),
              "after": ("after", {"schedule_id": WF})}
    for kind, (field, _) in timing.items():
        base = {"workflow_id": WF, "name": "n", "schedule_type": kind, "start_date": one_time}
        assert errors_of(base)[field] == f"required for {kind} schedules"
        for other, (other_field, other_value) in timing.items():
            if other != kind:
                errors = errors_of({**base, other_field: other_value})
                assert errors[other_field] == f"only allowed for {other} schedules, not {kind}"
    assert set(errors_of(spec(cron_expression="61 * * * *"))) == {"cron_expression"}  # no "required" as well
    assert errors_of(spec(cron_expression=..., community_id="c" * 101)) == {  # an error sorting before it
        "community_id": "at most 100 characters, got 101", "cron_expression": "required for cron schedules"}
    assert errors_of(spec(cron_expression=..., tags="x")) == {  # and one sorting after it
        "cron_expression": "required for cron schedules", "tags": "expected a list of strings, got a string"}
    assert set(errors_of(spec(**{**INTERVAL, "interval_seconds": 5}))) == {"interval_seconds"}


def test_after_takes_an_upstream_and_when() -> None:
    base = {"workflow_id": WF, "name": "n", "schedule_type": "after"}
    fields = validate_schedule({**base, "after": {"schedule_id": WF.upper()}}, limits=LIMITS, now=NOW)
    assert fields.after == {"schedule_id": WF, "on": "success"}
    assert validate_schedule({**base, "after": {"schedule_id": WF, "on": "any"}}, limits=LIMITS).after == {
        "schedule_id": WF, "on": "any"}
    assert errors_of({**base, "after": {"schedule_id": WF, "zz": 1, "aa": 2}}) == {
        "after.aa": "unknown field (after takes schedule_id and on)"}
    assert errors_of({**base, "after": {"schedule_id": WF, "when": 1}}) == {
        "after.when": "unknown field (after takes schedule_id and on)"}
    assert errors_of({**base, "after": {}}) == {"after.schedule_id": "required"}
    assert errors_of({**base, "after": {"schedule_id": WF, "on": "never"}}) == {
        "after.on": "must be one of success, failure, any, got 'never'"}
    assert errors_of({**base, "after": [WF]}) == {
        "after": 'expected an object like {"schedule_id": "<uuid>", "on": "success"}, got a list'}
    assert errors_of({**base, "after": {"schedule_id": WF}, "calendar_id": WF}) == {
        "calendar_id": "an after schedule runs when its upstream's runs end: it takes no calendar"}
    for passed in ("2026-11-22T12:00:00Z", "2026-11-01T00:00:00Z"):
        assert errors_of({**base, "after": {"schedule_id": WF}, "end_date": passed}) == {
            "end_date": "has passed: this schedule could never run"}
    assert validate_schedule({**base, "after": {"schedule_id": WF}, "end_date": "2026-11-22T12:00:01Z"},
                             limits=LIMITS, now=NOW).end_date is not None


def test_a_window_must_be_open() -> None:
    same = "2027-01-01T00:00:00Z"
    assert errors_of(spec(start_date=same, end_date=same)) == {"end_date": "must be after start_date"}
    assert validate_schedule(spec(start_date=same, end_date="2027-01-02T03:00:00Z"), limits=LIMITS,
                             now=NOW).end_date is not None
    assert errors_of(spec(start_date=same, end_date="2027-01-01T01:00:00Z")) == {
        "end_date": "the window ends before the next occurrence"}
    one_time = {"schedule_type": "one_time", "cron_expression": ...}
    assert errors_of(spec(**one_time, scheduled_time="2026-11-22T12:00:00Z")) == {
        "scheduled_time": "must be in the future"}
    assert errors_of(spec(**one_time, scheduled_time="2027-01-01T00:00:00Z", start_date="2027-01-02T00:00:00Z")) == {
        "scheduled_time": "is before start_date"}
    assert errors_of(spec(**one_time, scheduled_time="2027-01-01T00:00:00Z", start_date="2027-01-01T00:00:00Z",
                          end_date="2026-12-01T00:00:00Z"))["end_date"] == "must be after start_date"
    assert errors_of(spec(**one_time, scheduled_time="2027-01-01T00:00:00Z", end_date="2026-12-31T00:00:00Z")) == {
        "end_date": "the window ends before the next occurrence"}
    assert errors_of(spec(**one_time, scheduled_time="2027-01-02T00:00:00Z", start_date="2027-01-01T00:00:00Z",
                          end_date="2027-01-01T12:00:00Z")) == {"end_date": "the window ends before the next occurrence"}
    fields = validate_schedule(spec(**one_time, scheduled_time="2026-11-22T12:00:01Z"), limits=LIMITS, now=NOW)
    assert fields.scheduled_time == datetime(2026, 11, 22, 12, 0, 1, tzinfo=timezone.utc)


def test_instants_in_range_and_rounded_toward_the_window() -> None:
    one_time = {"schedule_type": "one_time", "cron_expression": ...}
    assert validate_schedule(spec(**one_time, scheduled_time="9998-12-31T23:59:59Z"), limits=LIMITS).scheduled_time \
        == datetime(9998, 12, 31, 23, 59, 59, tzinfo=timezone.utc)
    assert errors_of(spec(**one_time, scheduled_time="9999-01-01T00:00:00Z")) == {
        "scheduled_time": "'9999-01-01T00:00:00Z' is out of range (years 1970-9998)"}
    assert validate_schedule(spec(start_date="1970-01-01T00:00:00Z"), limits=LIMITS).start_date == datetime(
        1970, 1, 1, tzinfo=timezone.utc)
    assert errors_of(spec(**one_time, scheduled_time="1969-12-31T23:59:59Z")) == {
        "scheduled_time": "'1969-12-31T23:59:59Z' is out of range (years 1970-9998)"}
    assert errors_of(spec(**one_time, scheduled_time="9999-12-31T23:59:59.5Z")) == {
        "scheduled_time": "'9999-12-31T23:59:59.5Z' is out of range"}
    assert errors_of(spec(**one_time, scheduled_time=20270101)) == {
        "scheduled_time": "expected an ISO 8601 date-time string, got a number"}
    aware = datetime(2027, 1, 1, 12, 0, 0, 500_000, tzinfo=timezone.utc)
    fields = validate_schedule(spec(start_date=aware, end_date=aware.replace(year=2028)), limits=LIMITS)
    assert fields.start_date == datetime(2027, 1, 1, 12, 0, 1, tzinfo=timezone.utc)  # up: never early
    assert fields.end_date == datetime(2028, 1, 1, 12, 0, 0, tzinfo=timezone.utc)  # down: never past it
    assert validate_schedule(spec(start_date=" 2027-01-01T12:00:00Z "), limits=LIMITS).start_date == datetime(
        2027, 1, 1, 12, tzinfo=timezone.utc)


def test_zone_names_are_canonical_and_an_unknown_one_gets_a_suggestion() -> None:
    assert validate_schedule(spec(timezone="europe/berlin"), limits=LIMITS).timezone == "Europe/Berlin"
    assert errors_of(spec(timezone="Europe/Berln")) == {
        "timezone": "unknown time zone 'Europe/Berln'; did you mean 'Europe/Berlin'?"}
    assert errors_of(spec(timezone="Qqqqqq/Zzzzzz")) == {
        "timezone": "unknown time zone 'Qqqqqq/Zzzzzz'; use an IANA name like 'America/New_York'"}
    assert errors_of(spec(timezone="  ")) == {
        "timezone": "expected an IANA time zone name like 'Europe/Berlin', got '  '"}
    assert errors_of(spec(schedule_type=...)) == {
        "schedule_type": "required: one of cron, interval, one_time, rrule, after"}


def test_a_chat_alert_needs_a_community_and_a_channel_to_post_into() -> None:
    chat = {"on": ["failure"], "channels": [{"type": "chat"}]}
    assert errors_of(spec(alerts=chat)) == {
        "alerts.channels[0]": "a chat alert posts into the schedule's community: set community_id"}
    from_json = {"on": ["failure"], "channels": [{"type": "".join(["ch", "at"])}]}  # equal, not the literal
    assert errors_of(spec(alerts=from_json)) == errors_of(spec(alerts=chat))
    assert errors_of(spec(alerts=chat, community_id="c")) == {"alerts.channels[0].entity_id": (
        "required: the chat channel to post into (schedules made in chat have it in context_data.entity_id)")}
    assert validate_schedule(spec(alerts=chat, community_id="c", context_data={"entity_id": "room"}),
                             limits=LIMITS).alerts is not None
    with_entity = {"on": ["failure"], "channels": [{"type": "webhook", "url": "https://x.test/a"},
                                                   {"type": "chat", "entity_id": "room"}]}
    assert validate_schedule(spec(alerts=with_entity, community_id="c"), limits=LIMITS).alerts is not None
    after_a_webhook = {"on": ["failure"], "channels": [{"type": "webhook", "url": "https://x.test/a"}, {"type": "chat"}]}
    assert errors_of(spec(alerts=after_a_webhook, community_id="c")) == {"alerts.channels[1].entity_id": (
        "required: the chat channel to post into (schedules made in chat have it in context_data.entity_id)")}
    assert errors_of(spec(alerts={"on": ["nope"], "channels": [{"type": "chat"}]})) == {
        "alerts.on": "a non-empty list of: failure, missed, paused, recovered, success"}


def test_merge_changes_keeps_the_timing_of_an_unchanged_type() -> None:
    every = validate_schedule(spec(**INTERVAL), limits=LIMITS)
    merged = merge_changes(every, {"schedule_type": "cron", "cron_expression": "0 3 * * *"})  # to a type sorting before
    assert (merged["interval_seconds"], merged["cron_expression"]) == (None, "0 3 * * *")
    current = validate_schedule(spec(), limits=LIMITS)
    assert merge_changes(current, {"schedule_type": "cron", "name": "x"})["cron_expression"] == "0 2 * * *"
    same_type = "".join(["cr", "on"])  # as a JSON body gives it: equal to the enum's value, not the same object
    assert merge_changes(current, {"schedule_type": same_type})["cron_expression"] == "0 2 * * *"
    assert merge_changes(current, {"name": "x"})["cron_expression"] == "0 2 * * *"
    merged = merge_changes(current, {"schedule_type": "one_time", "scheduled_time": "2027-01-01T00:00:00Z"})
    assert (merged["cron_expression"], merged["scheduled_time"]) == (None, "2027-01-01T00:00:00Z")


# ---- pause, backfill and the audit filter ------------------------------------------------------

def _refused(check: Any, data: Any, **kw: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        check(data, **kw)
    return info.value.errors


def test_a_pause_takes_a_reason_and_a_future_until() -> None:
    assert validate_pause({}, zone="UTC", now=NOW) == (None, None)
    assert validate_pause({"reason": "  "}, zone="UTC", now=NOW) == (None, None)
    assert validate_pause({"reason": "r" * 500, "until": "2026-11-22T12:00:01Z"}, zone="UTC", now=NOW) == (
        "r" * 500, NOW + timedelta(seconds=1))
    assert validate_pause({"until": "2026-11-22T14:00:00"}, zone="Europe/Berlin", now=NOW) == (
        None, datetime(2026, 11, 22, 13, 0, tzinfo=timezone.utc))  # a wall time in the schedule's zone
    assert _refused(validate_pause, {"reason": "r" * 501}, zone="UTC", now=NOW) == {
        "reason": "at most 500 characters, got 501"}
    for past in ("2026-11-22T12:00:00Z", "2026-11-22T11:00:00Z"):
        assert _refused(validate_pause, {"until": past}, zone="UTC", now=NOW) == {"until": "must be in the future"}
    assert _refused(validate_pause, {"until": "soon"}, zone="UTC", now=NOW) == {
        "until": "'soon' is not an ISO 8601 date-time like 2026-12-24T18:00:00Z"}
    assert _refused(validate_pause, {"for": 5}, zone="UTC", now=NOW) == {"for": "unknown field"}
    assert _refused(validate_pause, ["x"], zone="UTC", now=NOW) == {"body": "expected a JSON object"}


def test_a_backfill_is_a_past_range_of_at_most_a_thousand_runs() -> None:
    start, end = "2026-11-01T00:00:00Z", "2026-11-22T12:00:00Z"
    day = datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert validate_backfill({"start": start, "end": end}, zone="UTC", now=NOW) == (day, NOW, 1000)
    assert validate_backfill({"start": start, "end": start, "max_runs": 1}, zone="UTC", now=NOW) == (day, day, 1)
    assert validate_backfill({"start": start, "end": end, "max_runs": 1000}, zone="UTC", now=NOW)[2] == 1000
    assert _refused(validate_backfill, {"start": end, "end": start}, zone="UTC", now=NOW) == {
        "end": "must not be before start"}
    assert _refused(validate_backfill, {"start": start, "end": "2026-11-22T12:00:01Z"}, zone="UTC", now=NOW) == {
        "end": "must not be in the future: backfill runs past occurrences only"}
    assert _refused(validate_backfill, {}, zone="UTC", now=NOW) == {"start": "required", "end": "required"}
    assert _refused(validate_backfill, {"start": start}, zone="UTC", now=NOW) == {"end": "required"}
    for bad in (0, 1001):
        assert _refused(validate_backfill, {"start": end, "end": start, "max_runs": bad}, zone="UTC", now=NOW) == {
            "max_runs": f"must be between 1 and 1000, got {bad}"}  # the range is not judged beside another error
    assert _refused(validate_backfill, {"start": "x", "end": start}, zone="UTC", now=NOW) == {
        "start": "'x' is not an ISO 8601 date-time like 2026-12-24T18:00:00Z"}
    assert _refused(validate_backfill, {"start": start, "end": end, "runs": 1}, zone="UTC", now=NOW) == {
        "runs": "unknown field"}
    assert _refused(validate_backfill, "x", zone="UTC", now=NOW) == {"body": "expected a JSON object"}
    fraction = validate_backfill({"start": "2026-11-01T00:00:00.5", "end": "2026-11-02T00:00:00.5"},
                                 zone="Europe/Berlin", now=NOW)
    assert fraction[:2] == (datetime(2026, 10, 31, 23, 0, 1, tzinfo=timezone.utc),
                            datetime(2026, 11, 1, 23, 0, 0, tzinfo=timezone.utc))


def test_the_audit_filter_names_one_entity_and_a_half_open_window() -> None:
    wf = WF.upper()
    assert validate_audit_filter({}) == AuditFilter()
    assert validate_audit_filter({"schedule_id": wf, "community_id": " c ", "actor": "a" * 200, "action": "x" * 64}) \
        == AuditFilter("schedule", WF, "c", "a" * 200, "x" * 64)
    assert validate_audit_filter({"workflow_id": WF}) == AuditFilter("workflow", WF)
    assert validate_audit_filter({"community_id": "", "actor": " "}) == AuditFilter()
    assert _refused(validate_audit_filter, {"schedule_id": WF, "workflow_id": WF}) == {
        "workflow_id": "give schedule_id or workflow_id, not both"}
    assert _refused(validate_audit_filter, {"actor": "a" * 201, "action": "x" * 65}) == {
        "actor": "at most 200 characters, got 201", "action": "at most 64 characters, got 65"}
    assert _refused(validate_audit_filter, {"who": 1}) == {"who": "unknown field"}
    found = validate_audit_filter({"since": "2026-11-22T12:00:00.5Z", "until": "2026-11-22T12:00:01.5Z"})
    assert (found.since, found.until) == (NOW, NOW + timedelta(seconds=2))  # each widened to its whole second
    for until in ("2026-11-22T12:00:00Z", "2026-11-22T11:00:00Z"):
        assert _refused(validate_audit_filter, {"since": "2026-11-22T12:00:00Z", "until": until}) == {
            "until": "must be after since"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.actor = "someone"  # type: ignore[misc]  # a filter is a value
    assert validate_audit_filter({"since": "2026-11-22T12:00:00Z"}).until is None
    assert validate_audit_filter({"until": "2026-11-22T12:00:00Z"}).since is None
    spaced = validate_audit_filter({"since": "2026-11-22T14:00:00 02:00", "until": " 2026-11-22T14:00:01 0200 "})
    assert (spaced.since, spaced.until) == (NOW, NOW + timedelta(seconds=1))  # a `+` a query string turned into " "
    assert validate_audit_filter({"since": "2026-11-22T12:00:00"}).since == NOW  # no offset: UTC
