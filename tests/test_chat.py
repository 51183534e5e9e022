"""`!schedule` through POST /api/v1/execute: the router's envelope, permissions, limits, replies."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from quart import Quart

from workflow_core_module.app import create_app
from workflow_core_module.clock import ManualClock

from .conftest import START, make_settings
from .processes import ServeProcess, http_json, wait_until
from .sink import HttpSink

KEY = {"X-Service-Key": "router-key"}
MOD = ["moderator"]


@pytest.fixture
async def app(sqlite_url: str) -> AsyncIterator[Quart]:
    clock = ManualClock(START)  # Sunday 22 Nov 2026 12:00 UTC
    settings = make_settings(sqlite_url, admin_api_key="router-key", chat_rate_limit_per_minute=100,
                             max_schedules_per_community=6, chat_message_url="http://127.0.0.1:9/send",
                             log_level="WARNING")
    application = create_app(settings, clock=clock)
    async with application.test_app():
        yield application


async def say(client: Any, args: str, *, roles: list[str] | None = MOD, user: str = "u1", community: str = "c1",
              headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None,
              session: str | None = None) -> tuple[int, Any]:
    # Each command its own session, as the router sends it (a repeated session is a retry).
    body: dict[str, Any] = {"command": "!schedule", "args": args, "user_id": user, "username": f"name-{user}",
                            "entity_id": "channel-7", "community_id": community,
                            "session_id": session or f"sess_{uuid.uuid4().hex}",
                            "platform": "twitch", "message": f"!schedule {args}", **(extra or {})}
    if roles is not None:
        body["user_roles"] = roles
    response = await client.post("/api/v1/execute", json=body, headers=KEY if headers is None else headers)
    return response.status_code, await response.get_json()


async def reply(client: Any, args: str, **kw: Any) -> str:
    status, body = await say(client, args, **kw)
    assert status == 200 and body["success"] is True, body
    assert body["data"]["session_id"].startswith("sess_") and body["data"]["response_action"] == "chat"
    message: str = body["data"]["response_data"]["message"]
    assert 0 < len(message) < 400 and "\n" not in message
    return message


async def test_envelope_and_a_scheduled_reply_in_the_community_zone(app: Quart) -> None:
    client = app.test_client()
    assert await reply(client, "timezone Europe/Berlin") == (
        "Times here are now read in Europe/Berlin (it is 13:00 there). Existing schedules keep their own zone.")
    status, body = await say(client, "add every weekday at 9am as stream-soon say Going live at 10!",
                             extra={"unknown_field": [1, 2], "user_roles": ["Moderator"]})
    assert status == 200 and set(body) == {"success", "data"}
    assert set(body["data"]) == {"session_id", "response_action", "response_data"}
    assert body["data"]["response_data"]["message"] == (
        'Scheduled "stream-soon": every weekday at 09:00 (Europe/Berlin), next Mon 23 Nov 09:00.')
    runtime = app.extensions["runtime"]
    [schedule] = (await runtime.schedules.list_schedules(scope="c1")).items
    assert schedule.created_by == "twitch:name-u1" and schedule.cron_expression == "0 9 * * 1-5"
    assert schedule.timezone == "Europe/Berlin" and schedule.context_data["message"] == "Going live at 10!"
    actors = await runtime.database.read(lambda dal: dal.executesql(
        "SELECT actor, action FROM audit_log WHERE entity_type = 'schedule'"))
    assert [tuple(r) for r in actors] == [("twitch:name-u1", "schedule.create")]


async def test_list_info_next_pause_resume_remove_by_name_and_number(app: Quart) -> None:
    client = app.test_client()
    await reply(client, "add every day at 18:00 as evening say Stream soon")
    await reply(client, "add in 10 minutes say Break is over")
    listed = await reply(client, "list")
    assert listed.startswith("2 schedules: #1 evening (every day at 18:00; next Sun 22 Nov 18:00) · #2 break-is-over")
    assert (await reply(client, "info #2")).startswith('"break-is-over" (#2): once, next Sun 22 Nov 12:10')
    assert await reply(client, "next evening") == "Next for \"evening\": Sun 22 Nov 18:00, Mon 23 Nov 18:00, " \
                                                  "Tue 24 Nov 18:00 (UTC)."
    assert await reply(client, "pause #1") == 'Paused "evening". Start it again with: !schedule resume evening'
    assert "paused" in await reply(client, "list")
    assert await reply(client, "resume evening") == 'Resumed "evening": next Sun 22 Nov 18:00.'
    assert await reply(client, "rename evening nightly") == 'Renamed "evening" to "nightly".'
    assert await reply(client, "remove #2") == 'Removed "break-is-over".'
    assert await reply(client, "remove nightly") == 'Removed "nightly".'
    assert await reply(client, "list") == "No schedules here yet. Add one: !schedule add every day at 18:00 say Stream starts soon!"
    assert await reply(client, "info #9") == "I can't find a schedule #9 here. See the numbered list: !schedule list"


async def test_how_people_write_times_becomes_what_they_meant(app: Quart) -> None:
    """The phrases of the "Everyday use" issue, through the router's envelope, in Berlin."""
    client = app.test_client()
    await reply(client, "timezone Europe/Berlin")
    expected = {
        "daily at 9am": 'Scheduled "a": every day at 09:00 (Europe/Berlin), next Mon 23 Nov 09:00.',
        "every morning at 8": 'Scheduled "b": every day at 08:00 (Europe/Berlin), next Mon 23 Nov 08:00.',
        "every other day at 10:00": 'Scheduled "c": every other day at 10:00 (Europe/Berlin), next Mon 23 Nov 10:00. '
                                    "It repeats every 2 days (48 hours) exactly, so after the clock change it runs at 11:00 "
                                    "from Mon 29 Mar.",
        "tonight at 8pm": 'Scheduled "d" for Sun 22 Nov 20:00 (Europe/Berlin).',
        "on 24/12": 'Scheduled "e" for Thu 24 Dec 09:00 (Europe/Berlin). No time was given, so 09:00.',
        "every hour at :30": 'Scheduled "f": every hour at :30 (Europe/Berlin), next Sun 22 Nov 13:30.',
    }
    for (when, answer), name in zip(expected.items(), "abcdef", strict=True):
        assert await reply(client, f"add {when} as {name} say  It's {when}!  ") == answer
    schedules = {s.name: s for s in (await app.extensions["runtime"].schedules.list_schedules(scope="c1")).items}
    plants = schedules["c"]
    assert (plants.schedule_type.value, plants.interval_seconds) == ("interval", 172800)
    assert plants.start_date == plants.next_execution_at == START + timedelta(hours=21)  # Mon 10:00 CET
    assert plants.description == "every other day at 10:00" and schedules["d"].description == "once"
    assert schedules["e"].context_data["message"] == "It's on 24/12!"  # the message, as typed (trimmed)
    assert await reply(client, "next c") == (
        'Next for "c": Mon 23 Nov 10:00, Wed 25 Nov 10:00, Fri 27 Nov 10:00 (Europe/Berlin).')
    assert await reply(client, "add every morning say hi") == (
        'At what time in the morning? Add at <time> before "say". '
        "Try: !schedule add every morning at 8 say Good morning!")


async def test_numbers_stay_with_their_schedule_so_an_old_number_removes_nothing_else(app: Quart) -> None:
    client = app.test_client()
    for name in ("first", "second", "third"):
        await reply(client, f"add every day at 18:00 as {name} say {name}")
    assert await reply(client, "remove #1") == 'Removed "first".'
    # someone who listed before that still reads #1 as "first": the number finds nothing now
    assert await reply(client, "remove #1") == "I can't find a schedule #1 here. See the numbered list: !schedule list"
    assert (await reply(client, "info #3")).startswith('"third" (#3): every day at 18:00')
    await reply(client, "add every day at 19:00 as fourth say fourth")
    await reply(client, "rename #2 second-renamed")
    assert await reply(client, "list") == (
        "3 schedules: #2 second-renamed (every day at 18:00; next Sun 22 Nov 18:00) · "
        "#3 third (every day at 18:00; next Sun 22 Nov 18:00) · #4 fourth (every day at 19:00; next Sun 22 Nov 19:00)")
    assert await reply(client, "remove #3") == 'Removed "third".'
    assert await reply(client, "next #4") == 'Next for "fourth": Sun 22 Nov 19:00, Mon 23 Nov 19:00, Tue 24 Nov 19:00 (UTC).'
    assert await reply(client, "list", community="c2") == (
        "No schedules here yet. Add one: !schedule add every day at 18:00 say Stream starts soon!")


async def test_list_pages(app: Quart) -> None:
    client = app.test_client()
    for i in range(6):  # the fixture's most per community
        await reply(client, f"add every day at 1{i}:00 as s{i} say m{i}")
    assert await reply(client, "list") == (
        "6 schedules, page 1 of 2: #1 s0 (every day at 10:00; next Mon 23 Nov 10:00) · "
        "#2 s1 (every day at 11:00; next Mon 23 Nov 11:00) · #3 s2 (every day at 12:00; next Mon 23 Nov 12:00) · "
        "#4 s3 (every day at 13:00; next Sun 22 Nov 13:00) · #5 s4 (every day at 14:00; next Sun 22 Nov 14:00) · "
        "more: !schedule list 2")
    assert await reply(client, "list 2") == "6 schedules, page 2 of 2: #6 s5 (every day at 15:00; next Sun 22 Nov 15:00)"
    assert await reply(client, "list page 3") == "There are only 2 pages of schedules here (6). Try: !schedule list 2"
    await reply(client, "pause s5")
    assert (await reply(client, "list 2")).endswith("#6 s5 (every day at 15:00; paused)")
    await reply(client, "remove s0")
    assert (await reply(client, "list")).startswith("5 schedules: #2 s1")
    assert await reply(client, "list 2") == "There is only 1 page of schedules here (5). Try: !schedule list"


async def test_a_long_list_page_shortens_descriptions_not_names_or_the_pointer(app: Quart) -> None:
    client = app.test_client()
    for i in range(6):
        await reply(client, f'add "{i} 9 * * 1-5" as a-rather-long-schedule-name-number-{i} say m{i}')
    first = await reply(client, "list")
    assert first.endswith(" · more: !schedule list 2")
    for i in range(5):  # no room for "at 09:0i, Monday through Friday": the name and the next run stay
        assert f"#{i + 1} a-rather-long-schedule-name-number-{i} (next Mon 23 Nov 09:0{i})" in first
    await reply(client, "remove #1")
    await reply(client, "rename #2 short")
    shorter = await reply(client, "list")  # now there is room for some of each description
    assert "#2 short (at 09:01, Monday through Friday; next Mon 23 Nov 09:01)" in shorter
    assert "…; next Mon 23 Nov 09:05)" in shorter and not shorter.endswith("list 2")


async def test_zone_and_date_order_are_not_rate_limited_but_need_a_manager(app: Quart) -> None:
    client = app.test_client()
    app.extensions["runtime"].chat.limiter.per_minute = 3
    await reply(client, "add every day at 18:00 as evening say hi")
    for zone in ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC"):
        assert (await reply(client, f"timezone {zone}")).startswith(f"Times here are now read in {zone}")
    for order in ("dmy", "mdy", "auto"):
        assert (await reply(client, f"dateorder {order}")).startswith("Dates like 01/02")
    assert (await reply(client, "pause evening")).startswith("Paused")
    assert (await reply(client, "resume evening")).startswith("Resumed")
    assert (await reply(client, "pause evening")).startswith("Slow down: at most 3 schedule changes a minute")
    assert (await reply(client, "timezone Europe/Berlin")).startswith("Times here are now read")  # still fine
    refused = await reply(client, "dateorder dmy", roles=["viewer"])
    assert refused.startswith("Sorry name-u1, only owner, admin, moderator can change schedules here.")
    assert (await reply(client, "dateorder", roles=["viewer"])).startswith("Dates like 01/02")  # anyone may look


async def test_date_order_for_dates_that_read_both_ways(app: Quart) -> None:
    client = app.test_client()
    assert await reply(client, "dateorder") == (
        "Dates like 01/02 get a question back here: UTC has no single usual order. "
        "Set one: !schedule dateorder dmy (01/02 is 1 Feb) or mdy (Jan 2)")
    assert await reply(client, "add on 01/02 at 9 say hi") == (
        'Is "01/02" 1 Feb or Jan 2? Write the month as a word (1 feb), or set how dates are read here once: '
        "!schedule dateorder dmy (day first) or mdy (month first). Try: !schedule dateorder dmy")
    assert (await reply(client, "add on 24/12 at 18:00 say hi")).startswith('Scheduled "hi" for Thu 24 Dec 18:00')
    assert await reply(client, "dateorder mdy") == "Dates like 01/02 are now read month first (01/02 is Jan 2) here."
    assert await reply(client, "add on 01/02 at 9 as jan say hi") == 'Scheduled "jan" for Sat 02 Jan 09:00 (UTC).'
    assert await reply(client, "dateorder") == (
        "Dates like 01/02 are read month first (01/02 is Jan 2) here, as set here. 24/12 and 12/24 read one way "
        "anyway. Change it with: !schedule dateorder dmy")
    await reply(client, "timezone Europe/Berlin")
    assert await reply(client, "dateorder auto") == (
        "Dates like 01/02 now follow the time zone Europe/Berlin: day first (01/02 is 1 Feb).")
    assert (await reply(client, "add on 01/02 at 9 as feb say hi")).startswith('Scheduled "feb" for Mon 01 Feb 09:00')
    runtime = app.extensions["runtime"]
    assert (await runtime.communities.get("c1")).date_order is None
    actions = await runtime.database.read(lambda dal: dal.executesql(
        "SELECT action, changes FROM audit_log WHERE action = 'community.date_order' ORDER BY id"))
    assert [(r[0], json.loads(r[1]) if isinstance(r[1], str) else r[1]) for r in actions] == [
        ("community.date_order", {"date_order": "mdy"}), ("community.date_order", {"date_order": None})]


async def test_pause_for_a_while_because_of_something(app: Quart) -> None:
    client = app.test_client()
    await reply(client, "timezone Europe/Berlin")
    await reply(client, "add every day at 18:00 as evening say Stream soon")
    assert await reply(client, "pause evening for 2 hours because raid night") == (
        'Paused "evening" until Sun 22 Nov 15:00 (raid night). Start it again with: !schedule resume evening')
    [schedule] = (await app.extensions["runtime"].schedules.list_schedules(scope="c1")).items
    assert (schedule.pause_reason, schedule.paused_until, schedule.paused_by) == (
        "raid night", START + timedelta(hours=2), "twitch:name-u1")
    assert "paused until Sun 22 Nov 15:00 (raid night)" in await reply(client, "info evening")
    assert (await reply(client, "pause evening until 23:00")).startswith('Paused "evening" until Sun 22 Nov 23:00.')
    assert (await reply(client, "pause evening for 2 lightyears")).startswith('"2" what? Add a unit')


async def test_who_may_change_schedules(app: Quart) -> None:
    client = app.test_client()
    refused = await reply(client, "add every day at 18:00 say hi", roles=["viewer", "vip"])
    assert refused == "Sorry name-u1, only owner, admin, moderator can change schedules here. Anyone can look: !schedule list"
    assert (await reply(client, "list", roles=[])).startswith("No schedules here yet")  # anyone may look
    no_roles = await reply(client, "add every day at 18:00 say hi", roles=None)
    assert "only the community's schedule managers" in no_roles
    managers = await client.put("/api/v1/communities/c1/managers", json={"managers": ["u1"]},
                                headers={"X-API-Key": "router-key"})
    assert managers.status_code == 200
    assert (await reply(client, "add every day at 18:00 say hi", roles=None)).startswith('Scheduled "hi"')


async def test_limits_each_say_which_and_what_to_do(app: Quart) -> None:
    client = app.test_client()
    too_often = await reply(client, "add every minute say spam")
    assert too_often == ("That's too often for chat: at most once every 5 minutes. "
                         "Try: !schedule add every 5 minutes say Drink some water")
    assert "too often" in await reply(client, 'add "*/30 * * * * *" say spam')  # cron is checked too
    for i in range(6):
        assert (await reply(client, f"add every day at 1{i}:00 say m{i}")).startswith("Scheduled")
    assert await reply(client, "add every day at 20:00 say one more") == (
        "This community already has 6 schedules, the most allowed. Remove one first: !schedule list")
    runtime = app.extensions["runtime"]
    runtime.chat.limiter.per_minute = 2
    await reply(client, "pause #1", user="u9")
    await reply(client, "resume #1", user="u9")
    slow = await reply(client, "pause #1", user="u9")
    assert slow.startswith("Slow down: at most 2 schedule changes a minute per person. Try again in")
    assert (await reply(client, "pause #1", user="u8")).startswith("Paused")  # per person


async def test_wrong_words_get_a_pointer_and_an_example(app: Quart) -> None:
    client = app.test_client()
    wrong = await reply(client, "add evry day at 18:00 say hi")
    assert '"evry"' in wrong and "Try: !schedule add" in wrong
    assert '"frobnicate"' in await reply(client, "frobnicate")
    assert (await reply(client, "")).startswith("!schedule add <when> say <message>")
    assert await reply(client, "help add") == (
        "add: !schedule add every day at 18:00 say Stream starts soon! — more: !schedule help when")
    taken = await reply(client, "add every day at 18:00 as dup say a")
    assert taken.startswith("Scheduled")
    assert 'Pick another name with "as <name>"' in await reply(client, "add every day at 19:00 as dup say b")
    missing = await reply(client, "add every day at 18:00 run no-such-workflow")
    assert missing == "I can't find a workflow named \"no-such-workflow\" in this community. Check its exact name."


async def test_keys_and_envelope_errors(app: Quart) -> None:
    client = app.test_client()
    status, body = await say(client, "list", headers={})
    assert status == 401 and body == {"success": False, "error": {
        "code": "unauthorized", "message": "missing or unknown service key (header X-Service-Key)"}}
    assert (await say(client, "list", headers={"X-Service-Key": "nope"}))[0] == 401
    assert (await say(client, "list", headers={"X-API-Key": "router-key"}))[0] == 200  # either header
    runtime = app.extensions["runtime"]
    _, red = await runtime.keys.create("red-router", "red", runtime.clock.now())
    assert (await say(client, "list", community="red", headers={"X-Service-Key": red}))[0] == 200
    status, body = await say(client, "list", community="blue", headers={"X-Service-Key": red})
    assert status == 403 and body["success"] is False
    response = await client.post("/api/v1/execute", json={"args": "list"}, headers=KEY)
    assert response.status_code == 400 and (await response.get_json())["success"] is False
    response = await client.post("/api/v1/execute", data="not json", headers=KEY)
    assert response.status_code == 400
    other = await reply(client, "hello", extra={"command": "!quote"})
    assert other == "This module answers !schedule (or !sched). Try: !schedule help"
    assert (await say(client, "list", extra={"command": "!SCHED"}))[0] == 200


def test_end_to_end_a_moderator_schedules_a_message_the_router_receives(tmp_path: Path) -> None:
    with HttpSink() as router:
        env = {"DATABASE_URL": f"sqlite://{tmp_path}/chat.sqlite", "ADMIN_API_KEY": "router-key",
               "CHAT_MIN_INTERVAL_SECONDS": "1", "CHAT_MESSAGE_URL": router.url + "/send"}
        with ServeProcess(env, cwd=tmp_path) as server:
            def execute(args: str) -> dict[str, Any]:
                body = {"command": "!schedule", "args": args, "user_id": "42", "username": "mod", "entity_id": "chan",
                        "community_id": "c1", "session_id": "abc", "platform": "discord", "message": "!schedule " + args,
                        "user_roles": ["moderator"]}
                request = urllib.request.Request(server.url + "/api/v1/execute", data=json.dumps(body).encode(),
                                                 headers={"X-Service-Key": "router-key",
                                                          "Content-Type": "application/json"}, method="POST")
                with urllib.request.urlopen(request, timeout=10) as response:
                    assert response.status == 200
                    return dict(json.loads(response.read()))

            added = execute("add every 2 seconds say hi")
            assert added["data"]["response_data"]["message"].startswith('Scheduled "hi": every 2 seconds')
            posts = router.wait_for(2, timeout=15)
            assert all(p.path == "/send" and p.json() == {"community_id": "c1", "entity_id": "chan",
                                                          "platform": "discord", "message": "hi"} for p in posts)
            # A second schedule keeps firing: it shows the loop ran on past the moment "hi" was due again.
            assert execute("add every 2 seconds as canary say canary")["data"]["response_data"]["message"] \
                .startswith('Scheduled "canary"')
            assert execute("pause hi")["data"]["response_data"]["message"].startswith('Paused "hi"')
            paused_at = time.time()

            def said(message: str, after: float = 0.0) -> list[Any]:
                return [p for p in list(router.received) if p.json()["message"] == message and p.at > after]

            # "hi" was next due at most 2 s after the pause; three canaries after it span more than that
            wait_until(lambda: len(said("canary", paused_at)) >= 3, what="three canaries after the pause")
            _, page = http_json("GET", server.url + "/api/v1/schedules?q=hi", "router-key")
            [hi] = [s for s in page["items"] if s["name"] == "hi"]

            def hi_runs_ended() -> list[Any]:
                _, history = http_json("GET", f"{server.url}/api/v1/schedules/{hi['schedule_id']}/history?limit=500",
                                       "router-key")
                ended = all(r["status"] == "completed" for r in history["items"])
                return history["items"] if ended and len(said("hi")) == history["total"] else []

            runs = wait_until(hi_runs_ended, what="every run of hi to have ended and posted once")
            last = max(datetime.fromisoformat(r["scheduled_for"].replace("Z", "+00:00")).timestamp() for r in runs)
            assert last <= paused_at, "an occurrence after the pause ran"
            assert len(said("hi")) == len(runs) >= 2  # and nothing posted "hi" without a run
            assert execute("list")["data"]["response_data"]["message"].startswith("2 schedules: #1 hi")


async def test_alerts_on_and_off_post_into_the_channel_they_came_from(app: Quart) -> None:
    client = app.test_client()
    await reply(client, "add every day at 18:00 as evening say Stream soon")
    assert await reply(client, "alerts evening") == (
        'Alerts for "evening" are off. Turn them on here with: !schedule alerts evening on')
    assert await reply(client, "alerts evening on") == (
        'Alerts for "evening" are on: failure, missed, paused, recovered, to 1 chat. '
        "Stop them with: !schedule alerts evening off")
    [schedule] = (await app.extensions["runtime"].schedules.list_schedules(scope="c1")).items
    assert schedule.alerts is not None
    assert schedule.alerts["channels"] == [{"type": "chat", "entity_id": "channel-7", "platform": "twitch"}]
    assert (await reply(client, "alerts evening off")).startswith('Alerts for "evening" are off.')
    assert (await reply(client, "alerts evening off")) == 'Alerts for "evening" are already off.'
    assert (await reply(client, "alerts evening on")).startswith('Alerts for "evening" are on')
    [schedule] = (await app.extensions["runtime"].schedules.list_schedules(scope="c1")).items
    assert schedule.alerts is not None and len(schedule.alerts["channels"]) == 1  # not added twice
    assert (await reply(client, "alerts evening maybe")).startswith('I didn\'t expect "maybe" here')
    assert (await reply(client, "alerts evening on", roles=["viewer"])).startswith("Sorry name-u1, only")
    assert (await reply(client, "alerts nothing on")).startswith('I can\'t find a schedule "nothing"')


async def test_every_second_tuesday_of_the_month_is_an_rrule_schedule(app: Quart) -> None:
    client = app.test_client()
    await reply(client, "timezone Europe/Berlin")
    assert await reply(client, "add every second tuesday of the month at 19:00 as meetup say Meetup tonight!") == (
        'Scheduled "meetup": every second Tuesday of the month at 19:00 (Europe/Berlin), next Tue 08 Dec 19:00.')
    runtime = app.extensions["runtime"]
    [schedule] = (await runtime.schedules.list_schedules(scope="c1")).items
    assert schedule.schedule_type.value == "rrule"
    assert schedule.rrule == "FREQ=MONTHLY;BYDAY=2TU;BYHOUR=19;BYMINUTE=0"
    assert await reply(client, "next meetup") == (
        'Next for "meetup": Tue 08 Dec 19:00, Tue 12 Jan 19:00, Tue 09 Feb 19:00 (Europe/Berlin).')
    assert await reply(client, "info meetup") == await reply(client, "info #1")
    assert await reply(client, "add every first monday of the month at 19:00 say Community meeting") == (
        'Scheduled "community-meeting": every first Monday of the month at 19:00 (Europe/Berlin), '
        'next Mon 07 Dec 19:00.')  # as docs/chat-commands.md shows it


async def test_the_list_names_the_schedule_an_after_schedule_runs_after(app: Quart) -> None:
    client = app.test_client()
    await reply(client, "add every day at 18:00 as evening say Stream soon")
    runtime = app.extensions["runtime"]
    [evening] = (await runtime.schedules.list_schedules(scope="c1")).items
    await runtime.schedules.add_schedule({"workflow_id": evening.workflow_id, "name": "after-evening",
                                          "schedule_type": "after", "after": {"schedule_id": evening.schedule_id,
                                                                               "on": "any"}}, scope="c1")
    assert await reply(client, "list") == ("2 schedules: #1 evening (every day at 18:00; next Sun 22 Nov 18:00) · "
                                           "#2 after-evening (Runs after evening ends (successfully or not); active)")
    assert await reply(client, "info after-evening") == (
        '"after-evening" (#2): Runs after evening ends (successfully or not), active; runs a workflow; 0 runs.')
    assert await reply(client, "remove evening") == (
        "1 schedule(s) run after this one ('after-evening'); delete them or point them elsewhere first.")
