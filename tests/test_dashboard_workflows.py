"""The dashboard's everyday-use features in a real browser (Debian's chromium) against a real serve
process: the Workflows page (a form per step from the actions' schemas, the raw JSON view, a test
run against a local sink, delete refused while schedules use it), a run's detail, the status's
next 3 runs, the 7-day timeline and the sparklines, and the "When, in words" field.
Screenshots at 1280 and 390 px land in tests/artifacts/; every test fails on a console error.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from playwright.sync_api import expect, sync_playwright

from .browser import CHROMIUM, CHROMIUM_ARGS, ConsoleWatch, api, require_chromium, screenshot
from .processes import ServeProcess
from .sink import HttpSink, Received

ADMIN_KEY = "dashboard-workflows-key"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# A time as the dashboard writes it: to the second, with the zone's name (the browser is in New York).
SHOWN_TIME = re.compile(r"\d{2}:\d{2}:\d{2} (EST|EDT)")


class Service:
    def __init__(self, url: str, sink: HttpSink) -> None:
        self.url = url
        self.sink = sink

    def call(self, method: str, path: str, body: object | None = None) -> tuple[int, Any]:
        return api(self.url, ADMIN_KEY, method, path, body)

    def workflow(self, name: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
        status, body = self.call("POST", "/workflows", {"name": name, "steps": steps})
        assert status == 201, body
        return dict(body)

    def schedule(self, name: str, workflow_id: str, **fields: Any) -> dict[str, Any]:
        spec = {"workflow_id": workflow_id, "name": name, "schedule_type": "cron", "cron_expression": "0 7 * * *",
                "timezone": "Europe/Berlin", **fields}
        status, body = self.call("POST", "/schedules", spec)
        assert status == 201, body
        return dict(body)

    def ended_runs(self, schedule_id: str, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Waits until the schedule has `count` runs, none queued or running."""
        deadline = time.monotonic() + timeout
        while True:
            status, page = self.call("GET", f"/schedules/{schedule_id}/history?limit=100")
            assert status == 200, page
            runs = page["items"]
            if len(runs) >= count and not any(r["status"] in ("queued", "running") for r in runs):
                return list(runs)
            assert time.monotonic() < deadline, runs
            time.sleep(0.1)


def _refuse_failing(received: Received) -> tuple[int, Any] | None:
    return (500, {"error": "told to fail"}) if received.path.startswith("/fail") else None


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    require_chromium()
    cwd = tmp_path_factory.mktemp("dashboard-workflows")
    env = {"DATABASE_URL": f"sqlite://{cwd}/ui.sqlite", "ADMIN_API_KEY": ADMIN_KEY, "MIN_INTERVAL_SECONDS": "1",
           "OUTBOUND_ALLOWLIST": "127.0.0.1",  # the sink is local: the outbound policy refuses loopback otherwise
           "WORKFLOW_MAX_RETRIES": "0"}
    with HttpSink(check=_refuse_failing) as sink, ServeProcess(env, cwd=cwd) as server:
        yield Service(server.url, sink)


@pytest.fixture(scope="module")
def browser(service: Service) -> Iterator[Any]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Ui:
    def __init__(self, page: Any, watch: ConsoleWatch, service: Service) -> None:
        self.page = page
        self.watch = watch
        self.service = service

    def sign_in(self, fragment: str = "") -> Any:
        self.page.goto(self.service.url + "/ui/" + fragment)
        self.page.get_by_label("API key").fill(ADMIN_KEY)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.locator("#app")).to_be_visible()
        return self.page

    def row(self, name: str) -> Any:
        return self.page.locator("tbody[data-rows] tr").filter(
            has=self.page.locator(".name").get_by_text(name, exact=True))

    def workflow_row(self, name: str) -> Any:
        return self.page.locator("tbody[data-workflow-rows] tr[data-workflow-id]").filter(
            has=self.page.locator(".name").get_by_text(name, exact=True))


def _ui(browser: Any, service: Service, viewport: dict[str, int]) -> Iterator[Ui]:
    context = browser.new_context(viewport=viewport, locale="en-US", timezone_id="America/New_York")
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = ConsoleWatch(page)
    try:
        yield Ui(page, watch, service)
        watch.assert_clean()
    finally:
        context.close()


@pytest.fixture
def ui(browser: Any, service: Service) -> Iterator[Ui]:
    yield from _ui(browser, service, DESKTOP)


@pytest.fixture
def phone(browser: Any, service: Service) -> Iterator[Ui]:
    yield from _ui(browser, service, PHONE)


def _no_horizontal_scroll(page: Any, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_a_workflow_from_the_form_test_runs_against_the_sink_and_its_schedules_run_shows_the_step(ui: Ui) -> None:
    sink = ui.service.sink
    page = ui.sign_in()
    page.get_by_role("link", name="Workflows").click()
    expect(page.locator("#workflows")).to_be_visible()
    expect(page.locator("#schedules")).to_be_hidden()
    page.get_by_role("button", name="New workflow").click()
    dialog = page.locator("#workflow-dialog")
    dialog.get_by_label("Name", exact=True).fill("ping-sink")
    dialog.get_by_label("Description").fill("Tells the sink we are alive")
    step = dialog.locator("fieldset.step").first
    expect(step.get_by_label("Step 1 action")).to_have_value("http_request")  # a new workflow starts with one
    step.get_by_label("URL").fill(f"{sink.url}/hook")
    step.get_by_label("Method").select_option("POST")
    step.get_by_label("Headers").fill('{"X-Run": "{{ trigger.trigger }}"}')
    step.get_by_label("Body").fill('{"text": "hello"}')
    screenshot(page, "dashboard-workflow-form-1280")
    dialog.get_by_role("button", name="Save workflow").click()
    expect(dialog).to_be_hidden()
    row = ui.workflow_row("ping-sink")
    expect(row.locator("[data-label=Steps]")).to_have_text("http_request")
    status, page_of = ui.service.call("GET", "/workflows")
    [saved] = [w for w in page_of["items"] if w["name"] == "ping-sink"]
    assert saved["steps"] == [{"action": "http_request", "url": f"{sink.url}/hook", "method": "POST",
                               "headers": {"X-Run": "{{ trigger.trigger }}"}, "body": {"text": "hello"}}]

    before = len(sink.received)
    row.get_by_role("button", name="Test run").click()
    result = page.locator(f"tr[data-test-run-for='{saved['workflow_id']}']")
    expect(result.locator("[data-test-run-status]")).to_have_attribute("data-test-run-status", "completed")
    expect(result.locator(".status-code")).to_have_text("HTTP 200")
    expect(result.locator("tbody tr [data-label=Status] .badge")).to_have_text("completed")
    [hit] = sink.wait_for(before + 1)[before:]
    assert (hit.method, hit.path, hit.json(), hit.headers["X-Run"]) == ("POST", "/hook", {"text": "hello"}, "api")
    screenshot(page, "dashboard-workflows-1280", full_page=True)
    _no_horizontal_scroll(page, DESKTOP["width"])

    page.get_by_role("link", name="Schedules").click()
    page.get_by_role("button", name="New schedule").click()
    form = page.locator("#schedule-dialog")
    form.get_by_label("Name", exact=True).fill("sink-schedule")
    form.get_by_label("Workflow").select_option(label="ping-sink")
    form.get_by_label("Time zone", exact=True).fill("Europe/Berlin")
    form.get_by_label("When, in words").fill("every day at 9am")
    expect(form.get_by_label("Cron expression")).to_have_value("0 9 * * *")
    form.get_by_role("button", name="Save schedule").click()
    expect(form).to_be_hidden()
    schedule_row = ui.row("sink-schedule")
    expect(schedule_row.get_by_role("button", name="Workflow ping-sink of sink-schedule")).to_be_visible()

    before = len(sink.received)
    schedule_row.get_by_role("button", name="Run now").click()
    [schedule] = [s for s in ui.service.call("GET", "/schedules?q=sink-schedule")[1]["items"]]
    [run] = ui.service.ended_runs(schedule["schedule_id"], 1)
    assert run["status"] == "completed", run
    assert sink.wait_for(before + 1)[before].headers["X-Run"] == "manual"
    schedule_row.get_by_role("button", name="History").click()
    history = page.locator("#history-dialog")
    expect(history.locator("tbody tr")).to_have_count(1)
    history.locator("tbody tr").first.get_by_role("button", name=re.compile("^Details of the run")).click()
    detail = page.locator("#run-dialog")
    expect(detail.locator("[data-run-title]")).to_have_text("Run of “sink-schedule”")
    facts = detail.locator("[data-run-facts]")
    expect(facts).to_contain_text("Triggermanual")
    expect(facts).to_contain_text("Attempts1")
    for label in ("Scheduled for", "Started", "Finished"):
        shown = facts.locator("div", has_text=label).locator("time")
        expect(shown).to_have_text(re.compile(r"\d{2}:\d{2}:\d{2} GMT\+1$"))  # in the schedule's zone, named
    steps = detail.locator("[data-run-steps] tr")
    expect(steps).to_have_count(1)
    expect(steps.first.locator("[data-label=Status] .badge")).to_have_text("completed")
    expect(steps.first.locator(".status-code")).to_have_text("HTTP 200")
    expect(steps.first.locator("[data-label=Duration]")).to_have_text(re.compile(r"^\d+(\.\d)? m?s$"))
    screenshot(page, "dashboard-run-1280")
    detail.get_by_role("button", name="Close").click()
    history.get_by_role("button", name="Close").click()

    # the schedule links its workflow, and the workflow lists its schedule
    schedule_row.get_by_role("button", name="Workflow ping-sink of sink-schedule").click()
    dialog = page.locator("#workflow-dialog")
    expect(dialog.locator("[data-workflow-form-title]")).to_have_text("Edit workflow")
    expect(dialog.locator("[data-workflow-schedules]")).to_contain_text("sink-schedule")
    dialog.get_by_role("button", name="Cancel").click()
    expect(ui.workflow_row("ping-sink").locator("[data-label=Schedules]")).to_contain_text("sink-schedule")


def test_delete_and_disable_of_a_workflow_in_use_say_which_schedules_hold_it(ui: Ui) -> None:
    workflow = ui.service.workflow("held", [{"action": "log", "message": "hi"}])
    ui.service.schedule("holder-a", workflow["workflow_id"])
    page = ui.sign_in("#workflows")
    row = ui.workflow_row("held")
    expect(row.locator("[data-label=Schedules]")).to_contain_text("holder-a")
    with ui.watch.expect_http_error(409, f"/api/v1/workflows/{workflow['workflow_id']}"):
        row.get_by_role("button", name="Delete held").click()
        page.locator("#confirm-dialog").get_by_role("button", name="Delete workflow").click()
        expect(page.locator(".toast-error").last).to_contain_text(
            "Not deleted: “held” is used by 1 active or paused schedule(s): “holder-a”. Delete them or point them "
            "at another workflow first.")
    with ui.watch.expect_http_error(409, f"/api/v1/workflows/{workflow['workflow_id']}"):
        row.get_by_role("button", name="Disable held").click()
        expect(page.locator(".toast-error").last).to_contain_text("Not disabled: “held” is used by 1")
    assert ui.service.call("GET", f"/workflows/{workflow['workflow_id']}")[1]["is_active"] is True

    free = ui.service.workflow("free", [{"action": "log", "message": "hi"}])
    free_row = ui.workflow_row("free")
    page.reload()
    free_row.get_by_role("button", name="Disable free").click()
    expect(free_row.locator("[data-label=Status] .badge")).to_have_text("disabled")
    free_row.get_by_role("button", name="Delete free").click()
    page.locator("#confirm-dialog").get_by_role("button", name="Delete workflow").click()
    expect(free_row).to_have_count(0)
    assert ui.service.call("GET", f"/workflows/{free['workflow_id']}")[0] == 404


def test_the_json_view_carries_the_steps_both_ways_and_api_errors_land_on_the_step(ui: Ui) -> None:
    ui.service.workflow("two-steps", [{"action": "log", "message": "first"}, {"action": "delay", "seconds": 1}])
    page = ui.sign_in("#workflows")
    ui.workflow_row("two-steps").get_by_role("button", name="Edit").click()
    dialog = page.locator("#workflow-dialog")
    steps = dialog.locator("fieldset.step")
    expect(steps).to_have_count(2)
    expect(steps.nth(1).get_by_label("Seconds")).to_have_value("1")
    dialog.get_by_role("button", name="JSON", exact=True).click()
    raw = dialog.get_by_label("Steps (a JSON array, as the API takes it)")
    expect(raw).to_have_value(re.compile(r'"message": "first"'))
    raw.fill('[{"action": "delay", "seconds": 5}, {"action": "log", "message": "second", "label": "greet"}]')
    dialog.get_by_role("button", name="Form", exact=True).click()
    expect(steps).to_have_count(2)
    expect(steps.nth(0).get_by_label("Step 1 action")).to_have_value("delay")
    expect(steps.nth(1).get_by_label("Message")).to_have_value("second")
    expect(steps.nth(1).get_by_label("Label")).to_have_value("greet")
    steps.nth(0).get_by_label("Seconds").fill("100000")  # over a day: the API names the field
    with ui.watch.expect_http_error(400, f"/api/v1/workflows/{_id(ui, 'two-steps')}"):
        dialog.get_by_role("button", name="Save workflow").click()
        expect(steps.nth(0).locator("[data-error-for=seconds]")).to_be_visible()
    steps.nth(0).get_by_role("button", name="Move down: step 1").click()
    expect(steps.nth(0).get_by_label("Step 1 action")).to_have_value("log")
    steps.nth(1).get_by_role("button", name="Remove: step 2").click()
    dialog.get_by_role("button", name="Save workflow").click()
    expect(dialog).to_be_hidden()
    workflow = ui.service.call("GET", f"/workflows/{_id(ui, 'two-steps')}")[1]
    assert workflow["steps"] == [{"action": "log", "message": "second", "label": "greet"}]


def _id(ui: Ui, name: str) -> str:
    [found] = [w for w in ui.service.call("GET", "/workflows?limit=500")[1]["items"] if w["name"] == name]
    return str(found["workflow_id"])


def test_the_timeline_counts_runs_per_hour_marks_overlaps_and_lists_an_hour(ui: Ui) -> None:
    workflow = ui.service.workflow("timeline-wf", [{"action": "log", "message": "hi"}])
    at = (datetime.now(timezone.utc) + timedelta(days=2)).replace(hour=14, minute=5, second=0, microsecond=0)
    for n in range(3):  # three runs in one minute
        ui.service.schedule(f"tl-once-{n}", workflow["workflow_id"], schedule_type="one_time", timezone="UTC",
                            cron_expression=None, scheduled_time=at.strftime("%Y-%m-%dT%H:%M:%S"), tags=["tl"])
    ui.service.schedule("tl-daily", workflow["workflow_id"], cron_expression="30 3 * * *", timezone="UTC", tags=["tl"])
    page = ui.sign_in()
    page.get_by_label("Filter by tag").fill("tl")
    expect(page.locator("#schedules [data-range]")).to_have_text("1–4 of 4")
    timeline = page.locator("[data-timeline]")
    hour = timeline.locator(f"[data-hour='{at.strftime('%Y-%m-%dT%H:00:00.000Z')}']")
    expect(hour).to_have_attribute("data-count", "3")
    expect(hour).to_have_attribute("data-overlaps", "1")
    expect(hour.locator(".tl-crowded")).to_have_count(1)  # 3 runs against one an hour elsewhere
    expect(hour.locator(".tl-overlap")).to_have_count(1)
    daily = timeline.locator("[data-count='1']")
    expect(daily).to_have_count(7)  # 03:30 UTC on each of the 7 days ahead
    expect(timeline.locator("[data-timeline-summary]")).to_contain_text("10 runs in the next 7 days")
    expect(timeline.locator("[data-timeline-summary]")).to_contain_text("1 crowded hour")
    hour.click()
    listed = timeline.locator("[data-timeline-hour] li")
    expect(listed).to_have_count(3)
    expect(listed.locator(".badge")).to_have_text(["same minute"] * 3)
    expect(listed.first).to_contain_text("tl-once-0")
    expect(listed.first.locator("time")).to_have_text(SHOWN_TIME)
    screenshot(page, "dashboard-timeline-1280")
    hour.focus()  # the keyboard reaches it too
    daily.first.focus()
    page.keyboard.press("Enter")
    expect(listed).to_have_count(1)
    expect(listed.first).to_contain_text("tl-daily")


def test_a_sparkline_shows_the_last_runs_with_failures_marked(ui: Ui) -> None:
    sink = ui.service.sink
    ok = ui.service.workflow("spark-ok", [{"action": "http_request", "url": f"{sink.url}/ok"}])
    bad = ui.service.workflow("spark-bad", [{"action": "http_request", "url": f"{sink.url}/fail"}])
    schedule = ui.service.schedule("sparky", ok["workflow_id"], max_retries=0,
                                   description="Sends a ping to the sink so the sparkline has runs. " * 4)
    sid = schedule["schedule_id"]
    for n, workflow in enumerate((ok, ok, bad)):
        status, _ = ui.service.call("PATCH", f"/schedules/{sid}", {"workflow_id": workflow["workflow_id"]})
        assert status == 200
        assert ui.service.call("POST", f"/schedules/{sid}/run")[0] == 202
        ui.service.ended_runs(sid, n + 1)
    page = ui.sign_in()
    row = ui.row("sparky")
    spark = row.locator("svg.sparkline")
    expect(spark).to_have_attribute("data-runs", "3")
    expect(spark).to_have_attribute("data-failures", "1")
    expect(spark.locator("rect")).to_have_count(3)
    expect(spark.locator("rect").nth(2)).to_have_attribute("data-status", "failed")  # the newest on the right
    expect(spark.locator("rect.spark-ok")).to_have_count(2)
    expect(spark).to_have_attribute("aria-label", re.compile(r"^Last 3 runs: longest .*, 1 failed$"))
    description = row.locator(".description")
    expect(description).to_have_text(re.compile(r"^Sends a ping to the sink.{40,70}…$"))
    assert description.get_attribute("title") == schedule["description"].strip()
    expect(row.locator("[data-label='Next run'] small")).to_have_text(SHOWN_TIME)

    failures = page.locator("#scheduler").get_by_role("button", name="Details of the failed run of sparky")
    failures.first.click()
    detail = page.locator("#run-dialog")
    expect(detail.locator("[data-run-facts] .badge")).to_have_text("failed")
    expect(detail.locator("[data-run-error]")).to_contain_text("500")
    expect(detail.locator("[data-run-steps] tr [data-label=Status] .badge")).to_have_text("failed")
    detail.get_by_role("button", name="Open the schedule's history").click()
    expect(page.locator("#history-dialog [data-history-title]")).to_have_text("sparky")


def test_a_retried_run_shows_each_attempt_and_its_steps(ui: Ui) -> None:
    sink = ui.service.sink
    bad = ui.service.workflow("retry-bad", [{"action": "log", "message": "before"},
                                            {"action": "http_request", "url": f"{sink.url}/fail"}])
    schedule = ui.service.schedule("retried", bad["workflow_id"], max_retries=1, retry_backoff_seconds=1)
    assert ui.service.call("POST", f"/schedules/{schedule['schedule_id']}/run")[0] == 202
    [run] = ui.service.ended_runs(schedule["schedule_id"], 1)
    assert (run["status"], run["attempt"]) == ("failed", 2), run
    page = ui.sign_in()
    ui.row("retried").get_by_role("button", name="History").click()
    page.locator("#history-dialog tbody tr").first.get_by_role("button", name=re.compile("^Details")).click()
    detail = page.locator("#run-dialog")
    expect(detail.locator("[data-run-facts]")).to_contain_text("Attempts2")
    attempts = detail.locator("[data-run-attempts] li")
    expect(attempts).to_have_count(2)
    expect(attempts.locator(".badge")).to_have_text(["failed", "failed"])
    expect(detail.locator("[data-run-steps-title]")).to_have_text("Steps of attempt 2")
    expect(detail.get_by_role("button", name="Attempt 2")).to_have_attribute("aria-pressed", "true")
    detail.get_by_role("button", name="Attempt 1").click()
    expect(detail.locator("[data-run-steps-title]")).to_have_text("Steps of attempt 1")
    steps = detail.locator("[data-run-steps] tr")
    expect(steps.locator("[data-label=Status] .badge")).to_have_text(["completed", "failed"])
    expect(steps.nth(1).locator("[data-label=Error]")).to_contain_text("500")
    screenshot(page, "dashboard-run-attempts-1280")


def test_the_status_lists_the_next_three_runs(ui: Ui) -> None:
    workflow = ui.service.workflow("often-wf", [{"action": "log", "message": "hi"}])
    ui.service.schedule("often", workflow["workflow_id"], schedule_type="interval", cron_expression=None,
                        interval_seconds=3600)
    page = ui.sign_in()
    upcoming = page.locator("#scheduler .next-runs li")
    expect(upcoming).to_have_count(3)
    for n in range(3):
        expect(upcoming.nth(n).locator(".block")).to_have_text(SHOWN_TIME)
    expect(page.locator("#scheduler")).to_contain_text("Next runs")


def test_when_in_words_fills_the_timing_fields_and_shows_the_readers_hint(ui: Ui) -> None:
    page = ui.sign_in()
    page.get_by_role("button", name="New schedule").click()
    form = page.locator("#schedule-dialog")
    form.get_by_label("Time zone", exact=True).fill("Europe/Berlin")
    words = form.get_by_label("When, in words")
    words.fill("every weekday at 9am")
    expect(form.get_by_label("Cron expression")).to_have_value("0 9 * * 1-5")
    expect(form.locator("[name=schedule_type][value=cron]")).to_be_checked()
    expect(form.locator("[data-when-status]")).to_contain_text("Read as:")
    expect(form.locator("[data-preview-times] li")).to_have_count(5)

    words.fill("every 30 minutes times 5")
    expect(form.get_by_label("Max executions")).to_have_value("5")
    expect(form.get_by_label("Cron expression")).to_have_value("*/30 * * * *")
    words.fill("every 2 days at 10:00")
    expect(form.locator("[name=schedule_type][value=interval]")).to_be_checked()
    expect(form.get_by_label("Every", exact=True)).to_have_value("2")
    expect(form.get_by_label("Interval unit")).to_have_value("86400")
    expect(form.get_by_label("Start (optional)")).to_have_value(re.compile(r"T10:00(:00)?$"))
    expect(form.get_by_label("Max executions")).to_have_value("")  # what the last phrase set goes with it
    words.fill("tomorrow at 8pm")
    expect(form.locator("[name=schedule_type][value=one_time]")).to_be_checked()
    expect(form.get_by_label("Run at (in the schedule's time zone)")).to_have_value(re.compile(r"T20:00(:00)?$"))
    expect(form.get_by_label("Start (optional)")).to_have_value("")

    error = form.locator('[data-error-for="when"]')
    with ui.watch.expect_http_error(400, "/api/v1/schedules/preview"):
        words.fill("evry day at 9")
        expect(error).to_be_visible()
    expect(error).to_contain_text("Try: !schedule")
    expect(words).to_have_attribute("aria-invalid", "")
    expect(form.locator("[name=schedule_type][value=one_time]")).to_be_checked()  # unchanged
    screenshot(page, "dashboard-when-1280")
    form.get_by_role("button", name="Cancel").click()


def test_phone_layout_of_the_workflows_page_and_a_run(phone: Ui) -> None:
    sink = phone.service.sink
    workflow = phone.service.workflow("phone-wf", [{"action": "http_request", "url": f"{sink.url}/phone"}])
    schedule = phone.service.schedule("phone-schedule", workflow["workflow_id"])
    page = phone.sign_in("#workflows")
    row = phone.workflow_row("phone-wf")
    row.get_by_role("button", name="Test run").click()
    expect(page.locator(f"tr[data-test-run-for='{workflow['workflow_id']}'] .status-code")).to_have_text("HTTP 200")
    _no_horizontal_scroll(page, PHONE["width"])
    screenshot(page, "dashboard-workflows-390", full_page=True)
    row.get_by_role("button", name="Edit").click()
    expect(page.locator("#workflow-dialog fieldset.step")).to_have_count(1)
    _no_horizontal_scroll(page, PHONE["width"])
    screenshot(page, "dashboard-workflow-form-390")
    page.locator("#workflow-dialog").get_by_role("button", name="Cancel").click()

    assert phone.service.call("POST", f"/schedules/{schedule['schedule_id']}/run")[0] == 202
    [run] = phone.service.ended_runs(schedule["schedule_id"], 1)
    page.get_by_role("link", name="Schedules").click()
    page.get_by_role("searchbox", name="Search by name").fill("phone-schedule")
    expect(page.locator("tbody[data-rows] tr")).to_have_count(1)
    _no_horizontal_scroll(page, PHONE["width"])
    screenshot(page, "dashboard-list-timeline-390", full_page=True)
    phone.row("phone-schedule").get_by_role("button", name="History").click()
    page.locator("#history-dialog tbody tr").first.get_by_role("button", name=re.compile("^Details")).click()
    detail = page.locator("#run-dialog")
    expect(detail.locator("[data-run-steps] .status-code")).to_have_text("HTTP 200")
    assert run["status"] == "completed"
    _no_horizontal_scroll(page, PHONE["width"])
    screenshot(page, "dashboard-run-390")
