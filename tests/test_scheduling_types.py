"""The value types of the scheduling domain: what is final, and how instants are normalised."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from workflow_core_module.db.ledger_sql import UNFINISHED_SQL
from workflow_core_module.scheduling import UNFINISHED, RunStatus, ScheduleType, TimeRule, as_utc, whole_second
from workflow_core_module.scheduling.trigger import TRIGGER_KEYS, TriggerData, trigger_dict

UTC = timezone.utc


def test_only_queued_and_running_are_unfinished() -> None:
    """UNFINISHED is what the ledger's SQL, overlap checks and recovery treat as not ended."""
    assert set(UNFINISHED) == {RunStatus.QUEUED.value, RunStatus.RUNNING.value}
    assert UNFINISHED_SQL == "('queued', 'running')"


def test_a_time_rule_is_a_frozen_value() -> None:
    rule = TimeRule(ScheduleType.INTERVAL, interval_seconds=60)
    with pytest.raises(FrozenInstanceError):
        rule.interval_seconds = 120  # type: ignore[misc]
    assert rule == TimeRule(ScheduleType.INTERVAL, interval_seconds=60) and hash(rule) == hash(
        TimeRule(ScheduleType.INTERVAL, interval_seconds=60))


def test_as_utc_reads_naive_values_as_utc_and_converts_aware_ones() -> None:
    naive = datetime(2027, 1, 1, 9, 30, 15, 500)
    assert as_utc(naive) == datetime(2027, 1, 1, 9, 30, 15, 500, tzinfo=UTC) and as_utc(naive).tzinfo is UTC
    berlin = datetime(2027, 7, 1, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert as_utc(berlin) == berlin and as_utc(berlin).utcoffset() == timedelta(0)
    assert (as_utc(berlin).hour, as_utc(berlin).tzinfo) == (7, UTC)


def test_whole_second_rounds_a_fraction_down_or_up_in_utc() -> None:
    value = datetime(2027, 1, 1, 10, 0, 5, 999_999, tzinfo=ZoneInfo("Europe/Berlin"))
    assert whole_second(value, up=False) == datetime(2027, 1, 1, 9, 0, 5, tzinfo=UTC)
    assert whole_second(value, up=True) == datetime(2027, 1, 1, 9, 0, 6, tzinfo=UTC)
    tiny = datetime(2027, 1, 1, 9, 0, 5, 1)  # naive: read as UTC
    assert (whole_second(tiny, up=False), whole_second(tiny, up=True)) == (
        datetime(2027, 1, 1, 9, 0, 5, tzinfo=UTC), datetime(2027, 1, 1, 9, 0, 6, tzinfo=UTC))


def test_a_whole_second_stays_where_it_is() -> None:
    exact = datetime(2027, 1, 1, 9, 0, 5, tzinfo=UTC)
    assert whole_second(exact, up=True) == exact == whole_second(exact, up=False)
    berlin = exact.astimezone(ZoneInfo("Europe/Berlin"))
    assert whole_second(berlin, up=True) == exact and whole_second(berlin, up=True).tzinfo is UTC


def test_which_way_to_round_is_always_named() -> None:
    with pytest.raises(TypeError):
        whole_second(datetime(2027, 1, 1, tzinfo=UTC), True)  # type: ignore[misc]


def test_trigger_dict_is_trigger_data_as_a_dict() -> None:
    values = {"trigger": "schedule", "schedule_id": "s", "run_id": "r", "scheduled_for": "2027-01-01T00:00:00Z",
              "fired_at": "2027-01-01T00:00:01Z", "attempt": 2, "context_data": {"k": 1}}
    assert trigger_dict(**values) == TriggerData(**values).as_dict()
    assert trigger_dict(trigger="api") == TriggerData(trigger="api").as_dict()
    assert list(trigger_dict(trigger="api")) == list(TRIGGER_KEYS)
    with pytest.raises(TypeError, match="not a trigger key: nope"):
        trigger_dict(trigger="api", nope=1)
