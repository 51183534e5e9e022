"""A schedule's fields are declared once (scheduling/schedule.py); the table, the stored record,
the request models and the answers derive from it. These tests set every declared field through
the API and read each back, so a layer that drops or mangles a field fails here."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart

from workflow_core_module.api.schemas import ScheduleCreate, ScheduleOut, ScheduleUpdate
from workflow_core_module.scheduling.schedule import ANSWER_COLUMNS, COLUMNS, FIELD_NAMES

from .harness import api_call

ADMIN = {"X-API-Key": "admin-secret"}

# A value other than the default for every user-settable field (a new field needs one here).
EVERY_FIELD = {
    "name": "every-field",
    "schedule_type": "cron",
    "description": "all of them",
    "community_id": "guild-1",
    "cron_expression": "15 6 * * 1",
    "timezone": "Europe/Berlin",
    "start_date": "2030-01-01T00:00:00Z",
    "end_date": "2031-01-01T00:00:00Z",
    "max_executions": 7,
    "grace_period_seconds": 120,
    "overlap_policy": "buffer_one",
    "jitter_seconds": 30,
    "context_data": {"channel": "#general", "n": [1, 2]},
    "tags": ["weekly", "ops"],
    "callback_url": "https://example.org/done",
    "timeout_seconds": 90,
    "max_retries": 0,
    "retry_backoff_seconds": 5,
    "pause_after_failures": 3,
    "catchup_policy": "all",
    "catchup_max": 25,
    "alerts": {"on": ["failure", "recovered"], "after_consecutive": 2, "repeat_every_seconds": 600, "enabled": True,
               "channels": [{"type": "webhook", "url": "https://example.org/alerts"},
                            {"type": "chat", "entity_id": "#ops", "message": "{{ schedule.name }} {{ event }}"}]},
}
NOT_FOR_CRON = {"interval_seconds", "scheduled_time", "rrule", "after"}  # the other types' timing fields


async def _with_calendar(app: Quart, body: dict[str, Any]) -> dict[str, Any]:
    """`body` with a calendar of its community (calendar_id needs one that exists)."""
    status, calendar = await api_call(app, "post", "/api/v1/calendars",
                                      {"name": "holidays", "community_id": "guild-1", "excluded_dates": ["2030-12-24"]})
    assert status == 201, calendar
    return {**body, "calendar_id": calendar["calendar_id"]}


async def test_every_declared_field_is_stored_and_answered(app: Quart) -> None:
    status, wf = await api_call(app, "post", "/api/v1/workflows",
                             {"name": "wf", "community_id": "guild-1", "steps": [{"action": "log", "message": "x"}]})
    assert status == 201, wf
    body = await _with_calendar(app, {**EVERY_FIELD, "workflow_id": wf["workflow_id"]})
    assert set(body) | NOT_FOR_CRON == FIELD_NAMES, "give every settable field a value above"
    status, created = await api_call(app, "post", "/api/v1/schedules", body)
    assert status == 201, created
    status, read = await api_call(app, "get", f"/api/v1/schedules/{created['schedule_id']}")
    assert status == 200
    for answer in (created, read):
        assert {name: answer[name] for name in body} == body
        assert set(answer) - {"stats", "chain"} == set(ScheduleOut.model_fields), "answer and documented model differ"
    status, listed = await api_call(app, "get", "/api/v1/schedules?tag=ops")
    assert [s["jitter_seconds"] for s in listed["items"]] == [30]


async def test_a_patch_changes_one_field_and_keeps_every_other(app: Quart) -> None:
    _, wf = await api_call(app, "post", "/api/v1/workflows",
                        {"name": "wf", "community_id": "guild-1", "steps": [{"action": "log", "message": "x"}]})
    body = await _with_calendar(app, {**EVERY_FIELD, "workflow_id": wf["workflow_id"]})
    _, created = await api_call(app, "post", "/api/v1/schedules", body)
    status, patched = await api_call(app, "patch", f"/api/v1/schedules/{created['schedule_id']}", {"jitter_seconds": 5})
    assert status == 200, patched
    assert patched["jitter_seconds"] == 5
    unchanged = {name for name in body if name != "jitter_seconds"}
    assert {n: patched[n] for n in unchanged} == {n: created[n] for n in unchanged}


def test_the_request_models_follow_the_declaration() -> None:
    create, update = ScheduleCreate.model_json_schema(), ScheduleUpdate.model_json_schema()
    # `when` (plain words) is the one request field beside the declared ones, in POST and PATCH alike
    assert "when" in create["properties"] and "when" in update["properties"]
    assert set(create["properties"]) - {"when"} == set(update["properties"]) - {"when"} == FIELD_NAMES
    # schedule_type may come from `when` (plain words): the domain rules require one of the two
    assert set(create["required"]) == {c.name for c in COLUMNS if c.required} - {"schedule_type"} == {
        "workflow_id", "name"}
    assert "required" not in update  # a PATCH may leave out anything
    assert set(ScheduleOut.model_fields) == {c.name for c in ANSWER_COLUMNS} | {"timing_description"}
    assert not {"id", "deleted_at", "total_duration_ms"} & set(ScheduleOut.model_fields)


@pytest.mark.parametrize("field,value", [("overlap_policy", "sometimes"), ("schedule_type", "hourly"),
                                         ("jitter_seconds", "30"), ("tags", "ops")])
async def test_a_wrong_value_for_a_declared_field_is_400(app: Quart, field: str, value: Any) -> None:
    _, wf = await api_call(app, "post", "/api/v1/workflows", {"name": "wf", "steps": [{"action": "log", "message": "x"}]})
    body = {"workflow_id": wf["workflow_id"], "name": "bad", "schedule_type": "cron", "cron_expression": "0 9 * * *",
            field: value}
    status, err = await api_call(app, "post", "/api/v1/schedules", body)
    assert status == 400 and field in err["error"]["details"], err
    assert (await api_call(app, "get", "/api/v1/schedules"))[1]["total"] == 0
