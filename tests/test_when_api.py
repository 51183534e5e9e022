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
