"""`"when"` in plain words through the REST API: the same schedule, and the same next times, as
the chat command gives for the same phrase."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart

from workflow_core_module.chat import parse_command, schedule_spec
from workflow_core_module.chat.commands import Add

from .conftest import START
from .harness import api_call

BERLIN = "Europe/Berlin"


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """SQLite only. The words are read before any SQL runs and what they become is stored like any schedule (tested on
    both databases elsewhere)."""
    return sqlite_url


# Each phrase of the table and list that names a time (and a few more).
PHRASES = [
    "daily at 9am", "every morning at 8", "every other day at 10:00", "every 1st of the month at 12:00",
    "on the 1st at 9", "every thursday 8pm", "weekdays at 9am", "at 9pm every day", "tonight at 8pm",
    "next friday at 17:00", "on 24/12", "every year on dec 24", "every hour at :30", "every 2 days at 10:00",
    "every weekday at 9am until dec 31", "every 30 minutes times 5", "in 10 minutes", "every monday at 18:00",
]


async def preview(app: Quart, body: dict[str, Any]) -> tuple[int, Any]:
    return await api_call(app, "post", "/api/v1/schedules/preview", {**body, "count": 5})


@pytest.mark.parametrize("phrase", PHRASES)
async def test_preview_with_when_gives_the_chat_commands_times(app: Quart, phrase: str) -> None:
    command = parse_command(f"add {phrase} say hi", now=START, timezone=BERLIN)
    assert isinstance(command, Add)
    status, by_chat = await preview(app, schedule_spec(command))
    assert status == 200, by_chat
    status, by_words = await preview(app, {"when": phrase, "timezone": BERLIN})
    assert status == 200, by_words
    assert by_words["times"] == by_chat["times"] and by_words["times"]


async def test_create_with_when_answers_the_schedule_it_became(app: Quart) -> None:
    _, wf = await api_call(app, "post", "/api/v1/workflows", {"name": "wf", "steps": [{"action": "log", "message": "x"}]})
    status, created = await api_call(app, "post", "/api/v1/schedules", {
        "workflow_id": wf["workflow_id"], "name": "standup", "when": "every weekday at 9am", "timezone": BERLIN})
    assert status == 201, created
    assert (created["schedule_type"], created["cron_expression"], created["timezone"]) == ("cron", "0 9 * * 1-5",
                                                                                            BERLIN)
    assert created["next_execution_at"] == "2026-11-23T08:00:00Z"  # Monday 09:00 in Berlin
    assert "when" not in created


@pytest.mark.parametrize("body,field,says", [
    ({"when": "every weekday at 9am", "cron_expression": "0 9 * * *"}, "when", "not both"),
    ({"when": "every weekday at 9am", "schedule_type": "cron"}, "when", "not both"),
    ({"when": "evry day at 9"}, "when", "Try: !schedule"),
    ({"when": "every day at 9 as mine"}, "when", "name field"),
    ({"when": "every day at 9", "timezone": "Mars/Base"}, "timezone", "unknown time zone"),
    ({"when": "every day at 9 until dec 31", "end_date": "2027-01-01T00:00:00Z"}, "when", "not both"),
    ({"when": "x" * 201}, "when", "200"),
    ({"cron_expression": "0 9 * * *"}, "schedule_type", "required"),
])
async def test_a_wrong_when_is_a_400_naming_it(app: Quart, body: dict[str, Any], field: str, says: str) -> None:
    _, wf = await api_call(app, "post", "/api/v1/workflows", {"name": "wf", "steps": [{"action": "log", "message": "x"}]})
    status, err = await api_call(app, "post", "/api/v1/schedules", {"workflow_id": wf["workflow_id"], "name": "n",
                                                                     **body})
    assert status == 400 and says in err["error"]["details"].get(field, ""), err
    assert (await api_call(app, "get", "/api/v1/schedules"))[1]["total"] == 0


# ---- PATCH and PUT with "when" ------------------------------------------------------------------


async def _schedule(app: Quart, **body: Any) -> dict[str, Any]:
    _, wf = await api_call(app, "post", "/api/v1/workflows", {"name": "wf", "steps": [{"action": "log", "message": "x"}]})
    status, created = await api_call(app, "post", "/api/v1/schedules", {"workflow_id": wf["workflow_id"], "name": "s",
                                                                       **body})
    assert status == 201, created
    return created


async def test_patch_with_when_replaces_the_timing(app: Quart) -> None:
    created = await _schedule(app, when="every 2 days at 10:00", timezone=BERLIN, end_date="2027-06-01T00:00:00Z")
    assert created["schedule_type"] == "interval" and created["start_date"] is not None
    path = f"/api/v1/schedules/{created['schedule_id']}"
    # no timezone given: read in the schedule's own (Berlin), not UTC
    status, changed = await api_call(app, "patch", path, {"when": "every weekday at 9am"})
    assert status == 200, changed
    assert (changed["schedule_type"], changed["cron_expression"], changed["timezone"]) == ("cron", "0 9 * * 1-5", BERLIN)
    assert changed["interval_seconds"] is None and changed["start_date"] is None  # nothing of the old timing left
    assert changed["end_date"] == "2027-06-01T00:00:00Z"  # not timing: it stays
    assert changed["next_execution_at"] == "2026-11-23T08:00:00Z"  # Monday 09:00 in Berlin
    status, changed = await api_call(app, "patch", path, {"when": "in 10 minutes", "timezone": "UTC"})
    assert status == 200, changed
    assert (changed["schedule_type"], changed["scheduled_time"], changed["cron_expression"]) == (
        "one_time", "2026-11-22T12:10:00Z", None)
    assert changed["timezone"] == "UTC" and changed["next_execution_at"] == "2026-11-22T12:10:00Z"
    status, changed = await api_call(app, "patch", path, {"when": "every 30 minutes times 5", "name": "renamed"})
    assert status == 200 and (changed["cron_expression"], changed["max_executions"], changed["name"]) == (
        "*/30 * * * *", 5, "renamed")
    assert changed["scheduled_time"] is None


@pytest.mark.parametrize("body,field,says", [
    ({"when": "evry day at 9"}, "when", "Try: !schedule"),
    ({"when": "every day at 9", "cron_expression": "0 9 * * *"}, "when", "not both"),
    ({"when": "every day at 9", "start_date": "2027-01-01T00:00:00Z"}, "when", "not both"),
    ({"when": "every day at 9 until dec 31", "end_date": "2027-01-01T00:00:00Z"}, "when", "not both"),
    ({"when": "every day at 9", "timezone": "Mars/Base"}, "timezone", "unknown time zone"),
    ({"when": "on feb 30 at 9"}, "when", "no day 30 in February"),
    ({"when": "x" * 201}, "when", "200"),
])
async def test_patch_with_a_wrong_when_is_a_400_that_changes_nothing(app: Quart, body: dict[str, Any], field: str,
                                                                      says: str) -> None:
    created = await _schedule(app, when="every day at 18:00")
    path = f"/api/v1/schedules/{created['schedule_id']}"
    _, before = await api_call(app, "get", path)
    status, err = await api_call(app, "patch", path, body)
    assert status == 400 and says in err["error"]["details"].get(field, "-"), err
    assert (await api_call(app, "get", path))[1] == before


async def test_patch_reads_dates_in_the_schedules_community_order(app: Quart) -> None:
    created = await _schedule(app, when="every day at 18:00", community_id="red")
    path = f"/api/v1/schedules/{created['schedule_id']}"
    status, err = await api_call(app, "patch", path, {"when": "on 01/02 at 9"})
    assert status == 400 and err["error"]["details"]["when"].startswith('Is "01/02" 1 Feb or Jan 2?')
    await api_call(app, "put", "/api/v1/communities/red/date-order", {"date_order": "dmy"})
    status, changed = await api_call(app, "patch", path, {"when": "on 01/02 at 9"})
    assert status == 200 and changed["scheduled_time"] == "2027-02-01T09:00:00Z"
    # PUT takes when too (fields not given take their defaults, the zone UTC among them)
    put = {"workflow_id": created["workflow_id"], "name": "s", "when": "on 01/02 at 9"}
    status, replaced = await api_call(app, "put", path, put)
    assert status == 200 and replaced["scheduled_time"] == "2027-02-01T09:00:00Z", replaced
    status, err = await api_call(app, "put", path, put | {"when": "whenever"})
    assert status == 400 and "when" in err["error"]["details"]


async def test_patch_with_when_out_of_scope_is_404(app: Quart) -> None:
    created = await _schedule(app, when="every day at 18:00", community_id="red")
    runtime = app.extensions["runtime"]
    _, blue = await runtime.keys.create("blue-key", "blue", runtime.clock.now())
    status, _ = await api_call(app, "patch", f"/api/v1/schedules/{created['schedule_id']}", {"when": "daily at 9"},
                               {"X-API-Key": blue})
    assert status == 404
    assert (await api_call(app, "get", f"/api/v1/schedules/{created['schedule_id']}"))[1]["cron_expression"] == "0 18 * * *"
