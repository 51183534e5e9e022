"""Calendars and RRULE schedules through the API and the scheduler loop (real database, manual clock)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart

from workflow_core_module.clock import ManualClock
from workflow_core_module.db.database import Database
from workflow_core_module.scheduling.types import ScheduleStatus
from workflow_core_module.services.calendar_service import CalendarService

from .conftest import START, make_settings
from .harness import Scheduler
from .test_api import call, cron_body, workflow


@pytest.fixture
def client(app: Quart) -> Any:
    return app.test_client()


BAVARIA = {"name": "bavaria", "timezone": "Europe/Berlin", "weekdays_only": True,
           "holidays": {"country": "DE", "subdivision": "BY"}}


async def keys(app: Quart) -> tuple[dict[str, str], dict[str, str]]:
    runtime = app.extensions["runtime"]
    _, red = await runtime.keys.create("red-bot", "red", runtime.clock.now())
    _, blue = await runtime.keys.create("blue-bot", "blue", runtime.clock.now())
    return {"X-API-Key": red}, {"X-API-Key": blue}


async def test_calendars_are_scoped_like_workflows(client: Any, app: Quart) -> None:
    red, blue = await keys(app)
    _, shared = await call(client, "post", "/api/v1/calendars", {"name": "shared", "excluded_dates": ["2026-12-25"]},
                           expect=201)
    assert shared["community_id"] is None and shared["excluded_dates"] == ["2026-12-25"]
    _, mine = await call(client, "post", "/api/v1/calendars", BAVARIA, red, expect=201)
    assert mine["community_id"] == "red" and mine["holidays"] == {"country": "DE", "subdivision": "BY"}
    _, page = await call(client, "get", "/api/v1/calendars", headers=red, expect=200)
    assert {c["name"] for c in page["items"]} == {"shared", "bavaria"} and page["total"] == 2
    _, page = await call(client, "get", "/api/v1/calendars", headers=blue, expect=200)
    assert [c["name"] for c in page["items"]] == ["shared"]
    await call(client, "get", f"/api/v1/calendars/{mine['calendar_id']}", headers=blue, expect=404)
    await call(client, "put", f"/api/v1/calendars/{mine['calendar_id']}", BAVARIA, blue, expect=404)
    await call(client, "delete", f"/api/v1/calendars/{mine['calendar_id']}", headers=blue, expect=404)
    # a community key reads a shared calendar but cannot change it, nor write for another community
    await call(client, "get", f"/api/v1/calendars/{shared['calendar_id']}", headers=red, expect=200)
    await call(client, "put", f"/api/v1/calendars/{shared['calendar_id']}", {"name": "mine now"}, red, expect=403)
    await call(client, "delete", f"/api/v1/calendars/{shared['calendar_id']}", headers=red, expect=403)
    await call(client, "post", "/api/v1/calendars", {**BAVARIA, "community_id": "blue"}, red, expect=403)
    # a schedule uses its own community's calendar or a shared one, never another community's
    wf = await workflow(client, "blue-wf", headers=blue)
    status, refused = await call(client, "post", "/api/v1/schedules",
                                 cron_body(wf, calendar_id=mine["calendar_id"]), blue)
    assert status == 400 and "no calendar with id" in refused["error"]["details"]["calendar_id"]
    await call(client, "post", "/api/v1/schedules", cron_body(wf, calendar_id=shared["calendar_id"]), blue,
               expect=201)
    status, refused = await call(client, "post", "/api/v1/schedules/preview",
                                 {"schedule_type": "cron", "cron_expression": "0 9 * * *",
                                  "calendar_id": mine["calendar_id"]}, blue)
    assert status == 400 and "calendar_id" in refused["error"]["details"]
    await call(client, "put", f"/api/v1/calendars/{mine['calendar_id']}", {**BAVARIA, "community_id": "blue"}, red,
               expect=400)  # community_id cannot change


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "excluded_dates": ["2027-01-01"] * 201}, "excluded_dates"),
    ({"name": "x", "excluded_dates": [{"from": "2027-01-01", "to": "2028-06-01"}]}, "excluded_dates"),
    ({"name": "x", "excluded_dates": ["01/02/2027"]}, "excluded_dates"),
    ({"name": "x", "holidays": {"country": "ZZ"}}, "holidays"),
    ({"name": "x", "holidays": {"country": "DE", "subdivision": "XX"}}, "holidays"),
    ({"name": "x", "timezone": "Nowhere/Land"}, "timezone"),
    ({"name": "x" * 101}, None),
    ({"name": "x", "weekends": True}, None),
    ({"name": "x", "excluded_dates": [{"from": "2027-01-01", "to": "2027-01-02", "by": "me"}]}, None),
])
async def test_bad_calendars_are_400_and_change_nothing(client: Any, body: dict[str, Any], field: str | None) -> None:
    status, error = await call(client, "post", "/api/v1/calendars", body)
    assert status == 400, error
    if field is not None:
        assert field in error["error"]["details"]
    _, page = await call(client, "get", "/api/v1/calendars", expect=200)
    assert page["total"] == 0


async def test_preview_and_next_show_the_skipped_days_and_why(client: Any) -> None:
    _, cal = await call(client, "post", "/api/v1/calendars", BAVARIA, expect=201)
    body = {"schedule_type": "cron", "cron_expression": "0 9 * * *", "timezone": "Europe/Berlin",
            "calendar_id": cal["calendar_id"], "count": 3, "explain": True}
    _, preview = await call(client, "post", "/api/v1/schedules/preview", body, expect=200)
    # now is Sunday 2026-11-22 12:00 UTC: Monday to Wednesday
    assert preview["times"] == ["2026-11-23T08:00:00Z", "2026-11-24T08:00:00Z", "2026-11-25T08:00:00Z"]
    assert preview["description"] == "At 09:00 (Europe/Berlin), except weekends and public holidays in DE-BY"
    assert preview["skipped"] == []
    _, quiet = await call(client, "post", "/api/v1/schedules/preview", {**body, "explain": False}, expect=200)
    assert "skipped" not in quiet
    wf = await workflow(client)
    _, created = await call(client, "post", "/api/v1/schedules",
                            cron_body(wf, cron_expression="0 9 * * *", calendar_id=cal["calendar_id"]), expect=201)
    assert created["calendar_id"] == cal["calendar_id"] and created["next_execution_at"] == "2026-11-23T08:00:00Z"
    _, nxt = await call(client, "get", f"/api/v1/schedules/{created['schedule_id']}/next?count=6&explain=true",
                        expect=200)
    assert nxt["times"][-1] == "2026-11-30T08:00:00Z"  # Monday to Friday, then the next Monday
    assert nxt["skipped"] == [{"time": "2026-11-28T08:00:00Z", "date": "2026-11-28", "reason": "weekend (weekdays only)"}]


async def test_preview_overlaps_leave_out_the_days_its_calendar_skips(client: Any) -> None:
    wf = await workflow(client)
    await call(client, "post", "/api/v1/schedules", cron_body(wf, name="weekends", cron_expression="0 9 * * 0,6"),
               expect=201)
    body = {"workflow_id": wf, "schedule_type": "cron", "cron_expression": "0 9 * * *", "timezone": "Europe/Berlin"}
    _, plain = await call(client, "post", "/api/v1/schedules/preview", body, expect=200)
    assert [(o["name"], o["minutes"]) for o in plain["overlaps"]] == [("weekends", 2)]  # Sat and Sun at 09:00 in Berlin
    _, weekdays = await call(client, "post", "/api/v1/calendars", {"name": "weekdays", "weekdays_only": True},
                             expect=201)
    _, preview = await call(client, "post", "/api/v1/schedules/preview",
                            {**body, "calendar_id": weekdays["calendar_id"]}, expect=200)
    assert preview["overlaps"] == [] and preview["overlaps_complete"] is True


async def test_editing_a_calendar_recomputes_its_schedules_and_a_used_one_cannot_go(client: Any, app: Quart) -> None:
    _, cal = await call(client, "post", "/api/v1/calendars", {"name": "work", "timezone": "Europe/Berlin"},
                        expect=201)
    wf = await workflow(client)
    _, daily = await call(client, "post", "/api/v1/schedules",
                          cron_body(wf, cron_expression="0 9 * * *", calendar_id=cal["calendar_id"]), expect=201)
    assert daily["next_execution_at"] == "2026-11-23T08:00:00Z"
    _, paused = await call(client, "post", "/api/v1/schedules",
                           cron_body(wf, name="paused", cron_expression="0 9 * * *", calendar_id=cal["calendar_id"]),
                           expect=201)
    await call(client, "post", f"/api/v1/schedules/{paused['schedule_id']}/pause", expect=200)
    holiday = {"name": "work", "timezone": "Europe/Berlin",
               "excluded_dates": [{"from": "2026-11-23", "to": "2026-11-25"}]}
    await call(client, "put", f"/api/v1/calendars/{cal['calendar_id']}", holiday, expect=200)
    _, read = await call(client, "get", f"/api/v1/schedules/{daily['schedule_id']}", expect=200)
    assert read["next_execution_at"] == "2026-11-26T08:00:00Z"
    assert read["timing_description"] == "At 09:00 (Europe/Berlin), except 3 excluded dates"
    runtime = app.extensions["runtime"]
    stored = await runtime.schedules.get_schedule(daily["schedule_id"])
    assert runtime.schedules.cache.due_at(stored.id) == stored.next_execution_at  # the cache holds the new time
    # the paused one resumes on the new calendar
    _, resumed = await call(client, "post", f"/api/v1/schedules/{paused['schedule_id']}/resume", expect=200)
    assert resumed["next_execution_at"] == "2026-11-26T08:00:00Z"
    # a change that leaves a schedule nothing is refused and changes nothing
    await call(client, "post", "/api/v1/schedules", cron_body(wf, name="saturdays", cron_expression="0 9 * * 6",
                                                              calendar_id=cal["calendar_id"]), expect=201)
    weekdays = {"name": "work", "weekdays_only": True}
    status, refused = await call(client, "put", f"/api/v1/calendars/{cal['calendar_id']}", weekdays)
    assert status == 400 and "no occurrence left" in refused["error"]["details"]["excluded_dates"]
    _, read = await call(client, "get", f"/api/v1/schedules/{daily['schedule_id']}", expect=200)
    assert read["next_execution_at"] == "2026-11-26T08:00:00Z"
    # in use: 409 naming the schedules; once they are gone, 204
    status, conflict = await call(client, "delete", f"/api/v1/calendars/{cal['calendar_id']}")
    assert status == 409 and conflict["error"]["details"]["count"] == 3
    assert {s["name"] for s in conflict["error"]["details"]["schedules"]} == {"nightly", "paused", "saturdays"}
    for schedule in conflict["error"]["details"]["schedules"]:
        await call(client, "delete", f"/api/v1/schedules/{schedule['schedule_id']}", expect=204)
    await call(client, "delete", f"/api/v1/calendars/{cal['calendar_id']}", expect=204)
    await call(client, "get", f"/api/v1/calendars/{cal['calendar_id']}", expect=404)


async def test_a_schedule_can_change_or_drop_its_calendar(client: Any) -> None:
    _, cal = await call(client, "post", "/api/v1/calendars", {**BAVARIA, "name": "c"}, expect=201)
    wf = await workflow(client)
    _, created = await call(client, "post", "/api/v1/schedules", cron_body(wf, cron_expression="0 9 * * *"),
                            expect=201)
    assert created["next_execution_at"] == "2026-11-23T08:00:00Z"
    await call(client, "patch", f"/api/v1/schedules/{created['schedule_id']}",
               {"cron_expression": "0 9 * * 6", "calendar_id": cal["calendar_id"]}, expect=400)  # Saturdays only
    _, patched = await call(client, "patch", f"/api/v1/schedules/{created['schedule_id']}",
                            {"cron_expression": "0 9 * * 0,1"}, expect=200)
    assert patched["next_execution_at"] == "2026-11-23T08:00:00Z"
    _, patched = await call(client, "patch", f"/api/v1/schedules/{created['schedule_id']}",
                            {"calendar_id": cal["calendar_id"]}, expect=200)
    assert patched["next_execution_at"] == "2026-11-23T08:00:00Z" and patched["calendar_id"] == cal["calendar_id"]
    _, patched = await call(client, "patch", f"/api/v1/schedules/{created['schedule_id']}",
                            {"cron_expression": "0 9 * * 0"}, expect=400)  # Sundays: nothing left
    _, patched = await call(client, "patch", f"/api/v1/schedules/{created['schedule_id']}",
                            {"calendar_id": None, "cron_expression": "0 9 * * 0"}, expect=200)
    assert patched["next_execution_at"] == "2026-11-29T08:00:00Z" and patched["calendar_id"] is None


async def test_rrule_through_the_api_with_its_words(client: Any) -> None:
    body = {"schedule_type": "rrule", "rrule": "FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2", "timezone": "Europe/Berlin",
            "start_date": "2026-12-01T19:00:00", "count": 3}
    _, preview = await call(client, "post", "/api/v1/schedules/preview", body, expect=200)
    assert preview["times"] == ["2026-12-08T18:00:00Z", "2027-01-12T18:00:00Z", "2027-02-09T18:00:00Z"]
    assert preview["description"] == "Every second Tuesday of the month at 19:00 (Europe/Berlin)"
    for rrule, message in (("DTSTART:20261201T190000\nRRULE:FREQ=DAILY", "must be one RRULE value"),
                           ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never fires"),
                           ("FREQ=MINUTELY;BYMINUTE=0,1", None)):
        status, error = await call(client, "post", "/api/v1/schedules/preview", {**body, "rrule": rrule})
        if message is None:
            assert status == 200  # every minute twice an hour is not more often than MIN_INTERVAL_SECONDS (60)
            continue
        assert status == 400 and message in error["error"]["details"]["rrule"]
    wf = await workflow(client)
    spec = {k: v for k, v in body.items() if k != "count"} | {"workflow_id": wf, "name": "meetup"}
    _, created = await call(client, "post", "/api/v1/schedules", spec, expect=201)
    assert created["rrule"] == "FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2" and created["next_execution_at"] == \
        "2026-12-08T18:00:00Z"
    # export carries rrule and calendar_id; an import of the document into a fresh name restores it
    _, document = await call(client, "get", "/api/v1/schedules/export", expect=200)
    exported = next(s for s in document["schedules"] if s["name"] == "meetup")
    assert exported["rrule"] == "FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2" and "calendar_id" in exported


async def test_export_and_import_carry_the_calendar(client: Any) -> None:
    _, cal = await call(client, "post", "/api/v1/calendars", {**BAVARIA, "name": "c"}, expect=201)
    wf = await workflow(client)
    await call(client, "post", "/api/v1/schedules",
               cron_body(wf, name="weekday", cron_expression="0 9 * * *", calendar_id=cal["calendar_id"]), expect=201)
    _, document = await call(client, "get", "/api/v1/schedules/export", expect=200)
    for s in document["schedules"]:
        s["name"] = "copy"
    _, result = await call(client, "post", "/api/v1/schedules/import", document, expect=200)
    assert result["created"] == ["copy"]
    _, page = await call(client, "get", "/api/v1/schedules?q=copy", expect=200)
    copy = page["items"][0]
    assert copy["calendar_id"] == cal["calendar_id"]
    assert copy["timing_description"].endswith("except weekends and public holidays in DE-BY")
    # the copy counts as a user of the calendar
    status, _ = await call(client, "delete", f"/api/v1/calendars/{cal['calendar_id']}")
    assert status == 409


# ---- the scheduler loop -------------------------------------------------------------------------


@pytest.fixture
async def sched(database: Database, clock: ManualClock) -> AsyncIterator[Scheduler]:
    s = Scheduler(database, make_settings(database.url), clock)
    s.attach_loop()
    yield s
    await s.close()


async def test_the_loop_skips_calendar_days_and_records_nothing_for_them(sched: Scheduler,
                                                                         clock: ManualClock) -> None:
    calendars = CalendarService(sched.database, sched.service.changes, clock=clock)
    cal = await calendars.create({"name": "weekdays", "weekdays_only": True,
                                  "excluded_dates": ["2026-11-25"]}, actor="t", scope=None)
    wf = await sched.workflow()
    s = await sched.service.add_schedule({"workflow_id": wf, "name": "daily", "schedule_type": "cron",
                                          "cron_expression": "0 9 * * *", "calendar_id": cal.calendar_id})
    for _ in range(7 * 24):  # a week, an hour at a time, from Sunday 2026-11-22 12:00 UTC
        await sched.tick(3600)
    runs = await sched.runs(s.schedule_id)
    assert [(r.scheduled_for.strftime("%a %d"), r.status) for r in runs] == [
        ("Mon 23", "completed"), ("Tue 24", "completed"), ("Thu 26", "completed"), ("Fri 27", "completed")]
    row = await sched.service.get_schedule(s.schedule_id)
    assert row.next_execution_at == START.replace(hour=9) + timedelta(days=8)  # Monday 30th
    assert row.missed_runs == 0


async def test_an_rrule_with_count_3_fires_three_times_then_completes(sched: Scheduler, clock: ManualClock) -> None:
    wf = await sched.workflow()
    s = await sched.service.add_schedule({"workflow_id": wf, "name": "three", "schedule_type": "rrule",
                                          "rrule": "FREQ=DAILY;COUNT=3", "timezone": "Europe/Berlin",
                                          "start_date": "2026-11-23T07:00:00"})
    fired = []
    for _ in range(5):  # to each next time, then a day more
        row = await sched.service.get_schedule(s.schedule_id)
        wait = (row.next_execution_at - clock.now()).total_seconds() if row.next_execution_at else 86400
        fired.append((await sched.tick(wait)).fired)
    assert fired == [1, 1, 1, 0, 0]
    row = await sched.service.get_schedule(s.schedule_id)
    assert row.status is ScheduleStatus.COMPLETED and not row.is_active and row.next_execution_at is None
    assert [r.scheduled_for.isoformat() for r in await sched.runs(s.schedule_id)] == [
        "2026-11-23T06:00:00+00:00", "2026-11-24T06:00:00+00:00", "2026-11-25T06:00:00+00:00"]
