"""The alert rules, pure: what an `alerts` setting may say, when an alert is due (one per change of
state, after_consecutive, repeats), and what it says."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from workflow_core_module.scheduling.alerts import (
    AlertSettings,
    AlertState,
    Channel,
    after_end,
    after_fired,
    after_missed,
    after_paused,
    alert_text,
    check_alerts,
    digest_text,
    first_line,
)

START = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def _settings(**kw: Any) -> AlertSettings:
    value, errors = check_alerts({"channels": [{"type": "webhook", "url": "https://x.test/a"}], **kw})
    assert not errors and value is not None
    settings = AlertSettings.of(value)
    assert settings is not None
    return settings


def _run(settings: AlertSettings, outcomes: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """(minute, status) runs through after_end; (minute, event) of each alert."""
    state, streak, sent = AlertState(), 0, []
    for minute, status in outcomes:
        streak = 0 if status == "completed" else streak + (status in ("failed", "timed_out"))
        events, state = after_end(settings, state, status, streak, START + timedelta(minutes=minute))
        sent += [(minute, e) for e in events]
    return sent


def test_three_failures_after_two_give_one_failure_alert_then_recovered() -> None:
    settings = _settings(after_consecutive=2)
    assert _run(settings, [(1, "failed"), (2, "timed_out"), (3, "failed"), (4, "completed"), (5, "completed")]) == [
        (2, "failure"), (4, "recovered")]


def test_one_failure_below_after_consecutive_alerts_nothing_and_recovers_silently() -> None:
    assert _run(_settings(after_consecutive=2), [(1, "failed"), (2, "completed"), (3, "failed")]) == []


def test_repeat_every_seconds_limits_repeats_while_failing() -> None:
    failing = [(m, "failed") for m in range(1, 26)]
    assert _run(_settings(repeat_every_seconds=600), failing) == [(1, "failure"), (11, "failure"), (21, "failure")]
    assert _run(_settings(repeat_every_seconds=0), failing) == [(1, "failure")]


def test_success_alerts_are_limited_like_repeats_and_recovered_needs_an_alerted_failure() -> None:
    settings = _settings(on=["success", "recovered"], repeat_every_seconds=3600)
    runs = [(m, "completed") for m in range(0, 130, 10)] + [(131, "failed"), (132, "completed")]
    assert _run(settings, runs) == [(0, "success"), (60, "success"), (120, "success")]  # no failure alert: no recovered


def test_missed_alerts_once_per_state_and_repeat() -> None:
    settings = _settings(repeat_every_seconds=600)
    state, sent = AlertState(), []
    for minute in range(0, 25, 2):
        events, state = after_missed(settings, state, START + timedelta(minutes=minute))
        sent += [minute for _ in events]
    assert sent == [0, 10, 20]


@pytest.mark.parametrize("value,field", [
    ("yes", "alerts"),
    ({"channels": []}, "alerts.channels"),
    ({"channels": [{"type": "sms"}]}, "alerts.channels[0]"),
    ({"channels": [{"type": "webhook"}]}, "alerts.channels[0].url"),
    ({"channels": [{"type": "webhook", "url": "ftp://x.test"}]}, "alerts.channels[0].url"),
    ({"channels": [{"type": "webhook", "url": "https://x.test", "secret": "s"}]}, "alerts.channels[0].secret"),
    ({"channels": [{"type": "chat", "message": "x" * 501}]}, "alerts.channels[0].message"),
    ({"channels": [{"type": "chat", "message": "two\nlines"}]}, "alerts.channels[0].message"),
    ({"channels": [{"type": "chat"}] * 6}, "alerts.channels"),
    ({"on": ["failure", "fire"], "channels": [{"type": "chat"}]}, "alerts.on"),
    ({"on": [], "channels": [{"type": "chat"}]}, "alerts.on"),
    ({"after_consecutive": 0, "channels": [{"type": "chat"}]}, "alerts.after_consecutive"),
    ({"after_consecutive": True, "channels": [{"type": "chat"}]}, "alerts.after_consecutive"),
    ({"repeat_every_seconds": 5, "channels": [{"type": "chat"}]}, "alerts.repeat_every_seconds"),
    ({"repeat_every_seconds": 10**9, "channels": [{"type": "chat"}]}, "alerts.repeat_every_seconds"),
    ({"enabled": "no", "channels": [{"type": "chat"}]}, "alerts.enabled"),
    ({"channels": [{"type": "chat"}], "then": 1}, "alerts.then"),
])
def test_a_wrong_alerts_setting_names_what_is_wrong(value: Any, field: str) -> None:
    normalised, errors = check_alerts(value)
    assert normalised is None and field in errors, errors




def test_a_missed_state_ends_when_an_occurrence_fires_and_alerts_again_at_once() -> None:
    settings = _settings()
    _, state = after_missed(settings, AlertState(), START)
    assert state.missing and after_missed(settings, state, START + timedelta(minutes=1))[0] == []
    state = after_fired(state)
    assert not state.missing and state.missed_at is None
    assert after_missed(settings, state, START + timedelta(minutes=2))[0] == ["missed"]
    assert after_fired(AlertState()) == AlertState()


def test_only_the_events_asked_for_alert() -> None:
    settings = _settings(on=["recovered"])
    assert _run(settings, [(1, "failed"), (2, "completed")]) == []  # no failure alert went out: nothing recovered
    assert after_missed(settings, AlertState(), START) == ([], AlertState())
    assert after_paused(settings) == [] and after_paused(_settings()) == ["paused"]
    assert _run(_settings(), [(1, "cancelled"), (2, "skipped")]) == []


def test_a_setting_is_normalised_and_switched_off_is_none() -> None:
    value, errors = check_alerts({"on": ["recovered", "failure"], "channels": [
        {"type": "webhook", "url": " https://x.test/a "}, {"type": "chat", "entity_id": " #ops ", "message": " hi "}]})
    assert errors == {} and value == {
        "on": ["failure", "recovered"], "after_consecutive": 1, "repeat_every_seconds": 3600, "enabled": True,
        "channels": [{"type": "webhook", "url": "https://x.test/a"}, {"type": "chat", "entity_id": "#ops",
                                                                       "message": "hi"}]}
    assert check_alerts(None) == (None, {})
    assert AlertSettings.of({**value, "enabled": False}) is None and AlertSettings.of(None) is None
    settings = AlertSettings.of(value)
    assert settings is not None and settings.channels[1].as_dict() == {"type": "chat", "entity_id": "#ops",
                                                                        "message": "hi"}
    assert AlertSettings.default().on == frozenset({"failure", "missed", "paused", "recovered"})


def test_the_state_survives_its_stored_form() -> None:
    state = AlertState(True, START, True, START + timedelta(seconds=5), None)
    assert AlertState.of(state.as_dict()) == state
    assert state.as_dict()["failure_at"] == "2026-11-22T12:00:00Z"
    assert AlertState.of(None) == AlertState() == AlertState.of({})


def test_what_an_alert_says() -> None:
    schedule = {"name": "backup", "schedule_id": "s1", "pause_reason": "paused after 3 consecutive failures\nmore"}
    run = {"error": "step 0 failed: boom\ntraceback...", "streak": 3}
    at = "2026-11-22 13:00:00 CET"
    assert alert_text("failure", schedule, run, at) == (
        '[failure] Schedule "backup" failed at 2026-11-22 13:00:00 CET (3 failures in a row): step 0 failed: boom')
    assert alert_text("failure", schedule, {"streak": 1}, at) == '[failure] Schedule "backup" failed at ' + at
    assert alert_text("paused", schedule, None, at) == (
        '[paused] Schedule "backup" was paused at 2026-11-22 13:00:00 CET: paused after 3 consecutive failures')
    assert alert_text("missed", {"schedule_id": "s1"}, {"error": "late"}, at) == (
        '[missed] Schedule "s1" missed a run at 2026-11-22 13:00:00 CET: late')
    assert alert_text("recovered", schedule, run, at).endswith("recovered at 2026-11-22 13:00:00 CET")
    assert first_line("x" * 300, 10) == "x" * 9 + "…" and first_line(None) == "" and first_line("  ") == ""
    assert digest_text(["a", "b"]) == "2 schedule alerts:\n• a\n• b"
    many = digest_text([str(i) for i in range(12)], limit=10).splitlines()
    assert many[0] == "12 schedule alerts:" and many[-1] == "…and 2 more" and len(many) == 12


# ---- every limit, at its edge -------------------------------------------------------------------

def _errors(value: Any) -> dict[str, str]:
    return check_alerts(value)[1]


WEBHOOK = {"type": "webhook", "url": "https://x.test/a"}


@pytest.mark.parametrize("field,ok,bad", [
    ("after_consecutive", [1, 1000], [0, 1001]),
    ("repeat_every_seconds", [0, 60, 30 * 24 * 3600], [-1, 1, 59, 30 * 24 * 3600 + 1]),
])
def test_number_bounds_are_exact(field: str, ok: list[int], bad: list[int]) -> None:
    for value in ok:
        assert _errors({field: value, "channels": [WEBHOOK]}) == {}, value
    for value in bad:
        assert f"alerts.{field}" in _errors({field: value, "channels": [WEBHOOK]}), value


def test_channel_count_and_text_bounds_are_exact() -> None:
    assert _errors({"channels": [WEBHOOK] * 5}) == {}
    assert "alerts.channels" in _errors({"channels": [WEBHOOK] * 6})
    for name, limit in (("entity_id", 200), ("platform", 32), ("message", 500)):
        assert _errors({"channels": [{"type": "chat", name: "x" * limit}]}) == {}, name
        assert f"alerts.channels[0].{name}" in _errors({"channels": [{"type": "chat", name: "x" * (limit + 1)}]})
    url = "https://x.test/" + "a" * (2000 - len("https://x.test/"))
    assert _errors({"channels": [{"type": "webhook", "url": url}]}) == {}
    assert "alerts.channels[0].url" in _errors({"channels": [{"type": "webhook", "url": url + "a"}]})
    assert _errors({"channels": [{"type": "chat", "message": "a\tb"}]}) == {}
    for bad in ("a\x01b", "a\x1fb", "   "):
        assert "alerts.channels[0].message" in _errors({"channels": [{"type": "chat", "message": bad}]}), bad


def test_unknown_fields_are_named_shortly_and_per_channel_kind() -> None:
    long = "k" * 50
    assert _errors({"channels": [WEBHOOK], long: 1}) == {f"alerts.{'k' * 40}": "unknown field"}
    assert _errors({"channels": [{**WEBHOOK, long: 1}]}) == {
        f"alerts.channels[0].{'k' * 40}": "unknown field for a webhook channel"}
    assert _errors({"channels": [{"type": "chat", "url": "https://x.test"}]}) == {
        "alerts.channels[0].url": "unknown field for a chat channel"}
    assert _errors({"channels": [{**WEBHOOK, "message": "hi"}]}) == {
        "alerts.channels[0].message": "unknown field for a webhook channel"}


def test_a_stored_setting_takes_the_defaults_it_leaves_out() -> None:
    settings = AlertSettings.of({"channels": [WEBHOOK]})
    assert settings == AlertSettings(frozenset({"failure", "missed", "paused", "recovered"}),
                                     (Channel("webhook", "https://x.test/a"),), 1, 3600, True)
    assert AlertSettings.of({"channels": [WEBHOOK], "enabled": True}) == settings
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.after_consecutive = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.channels[0].url = "https://elsewhere"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        AlertState().failing = True  # type: ignore[misc]


def test_a_repeat_is_due_at_exactly_its_interval() -> None:
    settings = _settings(repeat_every_seconds=600)
    _, state = after_end(settings, AlertState(), "failed", 1, START)
    assert after_end(settings, state, "failed", 2, START + timedelta(seconds=599))[0] == []
    assert after_end(settings, state, "failed", 2, START + timedelta(seconds=600))[0] == ["failure"]
    assert after_end(settings, state, "failed", 2, START + timedelta(seconds=601))[0] == ["failure"]  # not only exactly


@pytest.mark.parametrize("status", ["cancelled", "skipped", "missed", "queued"])
def test_only_a_completed_run_recovers(status: str) -> None:
    settings = _settings(on=["failure", "recovered", "success"])
    _, failing = after_end(settings, AlertState(), "failed", 1, START)
    events, state = after_end(settings, failing, status, 0, START + timedelta(minutes=1))
    assert (events, state) == ([], failing)
    _, missing = after_missed(_settings(), AlertState(), START)
    assert after_end(settings, missing, status, 0, START)[1].missing is True
    assert after_end(settings, missing, "completed", 0, START)[1].missing is False


def test_what_an_alert_says_at_its_edges() -> None:
    at = "13:00"
    assert first_line("y" * 200) == "y" * 200 and first_line("y" * 201) == "y" * 199 + "…"
    assert first_line("z" * 10, 10) == "z" * 10
    assert alert_text("failure", {"name": "a"}, {"streak": 2}, at) == '[failure] Schedule "a" failed at 13:00 (2 failures in a row)'
    assert alert_text("recovered", {"name": "a"}, {"streak": 5}, at) == '[recovered] Schedule "a" recovered at 13:00'
    assert alert_text("paused", {"name": "a"}, None, at) == '[paused] Schedule "a" was paused at 13:00'
    assert alert_text("failure", {"name": "a", "pause_reason": "why"}, {}, at) == '[failure] Schedule "a" failed at 13:00'
    assert alert_text("success", {"name": "a"}, {"error": "e"}, at) == '[success] Schedule "a" succeeded at 13:00'
    assert "…and" not in digest_text([str(i) for i in range(10)])
    assert digest_text([str(i) for i in range(11)]).splitlines()[-1] == "…and 1 more"
    assert digest_text([str(i) for i in range(25)]).splitlines()[-1] == "…and 15 more"


def test_the_operators_default_rules_alert_at_the_first_failure_and_repeat_hourly() -> None:
    """AlertSettings.default(): a schedule with no `alerts` of its own whose alerts still go to the
    operator (ALERT_WEBHOOK_URL) alerts at its first failure, and again while failing no sooner
    than an hour later."""
    rules = AlertSettings.default()
    events, state = after_end(rules, AlertState(), "failed", 1, START)
    assert events == ["failure"]
    assert after_end(rules, state, "failed", 2, START + timedelta(seconds=3599))[0] == []
    assert after_end(rules, state, "failed", 2, START + timedelta(seconds=3600))[0] == ["failure"]


def _read(text: str) -> str:
    """`text` as a JSON body or a database row gives it: an equal string, not the interned literal
    (a rule that compared with `is` would pass with literals and fail in the service)."""
    copy = "".join(list(text))
    assert copy == text and copy is not text
    return copy


def test_the_rules_compare_values_read_from_requests_and_rows_by_equality() -> None:
    value, errors = check_alerts({"channels": [{"type": _read("webhook")}]})
    assert value is None and errors == {"alerts.channels[0].url": "required: an http:// or https:// URL"}
    rules = _settings(on=["failure", "recovered"])
    state = after_end(rules, AlertState(), "failed", 1, START)[1]
    assert after_end(rules, state, _read("completed"), 0, START)[0] == ["recovered"]
    schedule = {"name": "nightly", "pause_reason": "paused after 3 failures in a row"}
    assert alert_text(_read("failure"), schedule, {"streak": 3}, "12:00") == (
        "[failure] Schedule \"nightly\" failed at 12:00 (3 failures in a row)")
    assert alert_text(_read("paused"), schedule, None, "12:00") == (
        "[paused] Schedule \"nightly\" was paused at 12:00: paused after 3 failures in a row")
