"""Alerts in the dashboard, in a real browser against a real serve process: a schedule's alert
settings made in its form (and read back when editing), a failing schedule standing out in the
list, and the panel of recent alerts showing the one a local webhook sink received.
Screenshots at 1280 and 390 px land in tests/artifacts/; a console error fails the test."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from .browser import CHROMIUM, CHROMIUM_ARGS, ConsoleWatch, api, require_chromium, screenshot
from .processes import ServeProcess, free_port
from .sink import HttpSink

KEY = "dashboard-alerts-key"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, HttpSink]]:
    require_chromium()
    cwd = tmp_path_factory.mktemp("dashboard-alerts")
    env = {"DATABASE_URL": f"sqlite://{cwd}/ui.sqlite", "ADMIN_API_KEY": KEY, "MIN_INTERVAL_SECONDS": "1",
           "OUTBOUND_ALLOWLIST": "127.0.0.1", "WORKFLOW_MAX_RETRIES": "0", "ALERT_POLL_SECONDS": "0.2"}
    with HttpSink() as sink, ServeProcess(env, cwd=cwd) as server:
        yield server.url, sink


@contextmanager
def signed_in(url: str, viewport: dict[str, int]) -> Iterator[tuple[Any, ConsoleWatch]]:
    """A page of the dashboard signed in with KEY (New York time); a console error fails the test."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=viewport, locale="en-US", timezone_id="America/New_York")
        context.set_default_timeout(15_000)
        page = context.new_page()
        watch = ConsoleWatch(page)
        try:
            page.goto(url + "/ui/")
            page.get_by_label("API key").fill(KEY)
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator("#app")).to_be_visible()
            yield page, watch
            watch.assert_clean()
        finally:
            context.close()
            browser.close()


def call(url: str, method: str, path: str, body: object | None = None, expect_status: int = 200) -> Any:
    status, data = api(url, KEY, method, path, body)
    assert status == expect_status, (status, data)
    return data


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_alert_settings_from_the_form_a_failing_row_and_the_recent_alerts(served: tuple[str, HttpSink],
                                                                          viewport: dict[str, int]) -> None:
    url, sink = served
    width = viewport["width"]
    nowhere = f"http://127.0.0.1:{free_port()}/down"
    wf = call(url, "POST", "/workflows", {"name": f"breaks-{width}", "steps": [
        {"action": "http_request", "method": "GET", "url": nowhere, "timeout_seconds": 2}]}, 201)
    name = f"alerting-{width}"
    with signed_in(url, viewport) as (page, watch):
        page.get_by_role("button", name="New schedule").click()
        form = page.locator("dialog[open] form")
        form.locator("[name=name]").fill(name)
        form.locator("[name=workflow_id]").select_option(wf["workflow_id"])
        form.get_by_role("radio", name="Interval").check()
        form.locator("[name=interval_value]").fill("2")
        form.locator("[name=interval_unit]").select_option("1")
        form.locator("[name=alerts_enabled]").check()
        expect(form.locator("[data-alerts-detail]")).to_be_visible()
        form.locator("[name=alerts_on][value=missed]").uncheck()
        form.locator("[name=alerts_after]").fill("2")
        form.locator("[name=alerts_webhook]").fill("http://169.254.169.254/latest")  # refused: its error shows
        with watch.expect_http_error(400, "/api/v1/schedules"):
            form.get_by_role("button", name="Save schedule").click()
            expect(form.locator('[data-error-for="alerts"]')).to_contain_text("channels[0].url")
        form.locator("[name=alerts_webhook]").fill(sink.url + f"/alerts-{width}")
        form.get_by_role("button", name="Save schedule").click()
        expect(page.locator("dialog[open]")).to_have_count(0)
        [made] = [s for s in call(url, "GET", f"/schedules?q={name}")["items"] if s["name"] == name]
        assert made["alerts"] == {"on": ["failure", "paused", "recovered"], "after_consecutive": 2,
                                  "repeat_every_seconds": 3600, "enabled": True,
                                  "channels": [{"type": "webhook", "url": sink.url + f"/alerts-{width}"}]}
        deadline = time.monotonic() + 30
        while not [r for r in sink.received if r.path == f"/alerts-{width}"]:
            assert time.monotonic() < deadline, "no alert reached the sink"
            time.sleep(0.1)
        page.reload()  # the list as it is now: the schedule has failed at least twice
        expect(page.locator("#app")).to_be_visible()
        row = page.locator("tbody[data-rows] tr").filter(has=page.locator(".name").get_by_text(name, exact=True))
        expect(row).to_have_class("row-failing")
        expect(row.locator(".badge-failed").first).to_contain_text("in a row")
        expect(row.locator(".alerts-note")).to_have_text("alerts: webhook")
        panel = page.locator("[data-alerts]")
        expect(panel.get_by_text(name).first).to_be_visible()
        expect(panel.locator(".badge-alert-failure").first).to_have_text("failure")
        screenshot(page, f"dashboard-alerts-{width}", full_page=True)
        row.get_by_role("button", name=f"Edit {name}").click()
        form = page.locator("dialog[open] form")
        expect(form.locator("[name=alerts_enabled]")).to_be_checked()
        expect(form.locator("[name=alerts_after]")).to_have_value("2")
        expect(form.locator("[name=alerts_on][value=missed]")).not_to_be_checked()
        expect(form.locator("[name=alerts_webhook]")).to_have_value(sink.url + f"/alerts-{width}")
        screenshot(page, f"dashboard-alerts-form-{width}")
        form.locator("[name=alerts_enabled]").uncheck()
        expect(form.locator("[data-alerts-detail]")).to_be_hidden()
        form.get_by_role("button", name="Save schedule").click()
        expect(page.locator("dialog[open]")).to_have_count(0)
        assert call(url, "GET", f"/schedules/{made['schedule_id']}")["alerts"] is None
        call(url, "POST", f"/schedules/{made['schedule_id']}/pause", {})


def test_an_rrule_schedule_from_words_with_a_calendar_and_back_in_the_form(served: tuple[str, HttpSink]) -> None:
    url, _ = served
    wf = call(url, "POST", "/workflows", {"name": "monthly", "steps": [{"action": "log", "message": "x"}]}, 201)
    calendar = call(url, "POST", "/calendars", {"name": "weekdays", "weekdays_only": True,
                                                "timezone": "America/New_York"}, 201)
    with signed_in(url, {"width": 1280, "height": 900}) as (page, _):
        page.get_by_role("button", name="New schedule").click()
        form = page.locator("dialog[open] form")
        form.locator("[name=name]").fill("council")
        form.locator("[name=workflow_id]").select_option(wf["workflow_id"])
        form.locator("[name=timezone]").fill("America/New_York")
        form.locator("[name=when_words]").fill("every second tuesday of the month at 19:00")
        expect(form.get_by_role("radio", name="RRULE")).to_be_checked()
        expect(form.locator("[name=rrule]")).to_have_value("FREQ=MONTHLY;BYDAY=2TU;BYHOUR=19;BYMINUTE=0")
        form.locator("[name=calendar_id]").fill(calendar["calendar_id"])
        expect(page.locator("[data-preview-description]")).to_contain_text("second Tuesday")
        form.get_by_role("button", name="Save schedule").click()
        expect(page.locator("dialog[open]")).to_have_count(0)
        row = page.locator("tbody[data-rows] tr").filter(has=page.locator(".name").get_by_text("council",
                                                                                              exact=True))
        expect(row.locator(".type")).to_have_text("RRULE")
        made = [s for s in call(url, "GET", "/schedules?q=council")["items"] if s["name"] == "council"][0]
        assert (made["schedule_type"], made["rrule"], made["calendar_id"]) == (
            "rrule", "FREQ=MONTHLY;BYDAY=2TU;BYHOUR=19;BYMINUTE=0", calendar["calendar_id"])
        row.get_by_role("button", name="Edit council").click()
        form = page.locator("dialog[open] form")
        expect(form.get_by_role("radio", name="RRULE")).to_be_checked()
        expect(form.locator("[name=rrule]")).to_have_value("FREQ=MONTHLY;BYDAY=2TU;BYHOUR=19;BYMINUTE=0")
        expect(form.locator("[name=calendar_id]")).to_have_value(calendar["calendar_id"])
        screenshot(page, "dashboard-rrule-form-1280")
        form.get_by_role("button", name="Save schedule").click()
        expect(page.locator("dialog[open]")).to_have_count(0)

