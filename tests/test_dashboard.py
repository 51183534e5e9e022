"""The operator dashboard at /ui in a real browser (Debian's chromium through Playwright) against a
real serve process. Every test fails on a browser console error or page error (see ConsoleWatch).
Screenshots of the list, the form and the history at 1280 and 390 px land in tests/artifacts/.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect, sync_playwright

from .browser import CHROMIUM, CHROMIUM_ARGS, ConsoleWatch, api, require_chromium, screenshot
from .processes import ROOT, ServeProcess

ADMIN_KEY = "dashboard-admin-key"
WEEKDAY_CRON = "0 8-23 * * 1-5"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
COUNTDOWN = re.compile(r"^in (\d+d )?\d+[dhms]")
DURATION = re.compile(r"^\d+(\.\d)? m?s$")


@dataclass
class Service:
    url: str
    env: dict[str, str]
    cwd: Path
    workflow_id: str

    def call(self, method: str, path: str, body: object | None = None) -> tuple[int, Any]:
        return api(self.url, ADMIN_KEY, method, path, body)

    def schedule(self, name: str, **fields: Any) -> dict[str, Any]:
        status, body = self.call("POST", "/schedules", {
            "workflow_id": self.workflow_id, "name": name, "schedule_type": "cron", "cron_expression": "0 7 * * *",
            "timezone": "Europe/Berlin", **fields})
        assert status == 201, body
        return dict(body)

    def named(self, name: str) -> list[dict[str, Any]]:
        status, page = self.call("GET", f"/schedules?{urlencode({'q': name, 'limit': 500})}")
        assert status == 200, page
        return [s for s in page["items"] if s["name"] == name]


@dataclass
class Ui:
    page: Any
    watch: ConsoleWatch
    service: Service

    def sign_in(self, key: str = ADMIN_KEY) -> Any:
        self.page.goto(self.service.url + "/ui/")
        self.page.get_by_label("API key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.locator("#app")).to_be_visible()
        return self.page

    def row(self, name: str) -> Any:
        return self.page.locator("tbody[data-rows] tr").filter(
            has=self.page.locator(".name").get_by_text(name, exact=True))


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    require_chromium()
    cwd = tmp_path_factory.mktemp("dashboard")
    env = {"DATABASE_URL": f"sqlite://{cwd}/ui.sqlite", "ADMIN_API_KEY": ADMIN_KEY, "MIN_INTERVAL_SECONDS": "1"}
    with ServeProcess(env, cwd=cwd) as server:
        status, workflow = api(server.url, ADMIN_KEY, "POST", "/workflows",
                               {"name": "nightly-report", "steps": [{"action": "log", "message": "report"}]})
        assert status == 201, workflow
        yield Service(server.url, env, cwd, workflow["workflow_id"])


@pytest.fixture(scope="module")
def browser(service: Service) -> Iterator[Any]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _ui(browser: Any, service: Service, viewport: dict[str, int]) -> Iterator[Ui]:
    context = browser.new_context(viewport=viewport, locale="en-US", timezone_id="America/New_York",
                                  accept_downloads=True)
    context.set_default_timeout(10_000)
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


def _community_key(service: Service, community: str) -> str:
    done = subprocess.run([sys.executable, "-m", "workflow_core_module", "keys", "create", "--name", f"{community}-bot",
                           "--community", community], cwd=service.cwd, env={"PYTHONPATH": str(ROOT), **service.env},
                          capture_output=True, text=True, timeout=30, check=True)
    return done.stdout.strip().splitlines()[-1]


def _no_horizontal_scroll(page: Any, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_sign_in_keeps_the_key_in_the_tab_and_shows_the_scope(ui: Ui) -> None:
    page = ui.page
    page.goto(ui.service.url + "/ui/")
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#app")).to_be_hidden()
    ui.sign_in()
    expect(page.locator("[data-who-name]")).to_have_text("admin")
    expect(page.locator("[data-who-scope]")).to_have_text("all communities")
    expect(page.locator("#scheduler")).to_contain_text("Running")
    assert page.evaluate("sessionStorage.getItem('wcm.apiKey')") == ADMIN_KEY
    page.reload()
    expect(page.locator("[data-who-name]")).to_have_text("admin")

    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#signin")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('wcm.apiKey')") is None
    ui.sign_in(_community_key(ui.service, "red"))
    expect(page.locator("[data-who-scope]")).to_have_text("community red")

    page.evaluate("sessionStorage.setItem('wcm.apiKey', 'a-revoked-key')")
    with ui.watch.expect_http_error(401, "/api/v1/whoami"):
        page.reload()
        expect(page.locator("[data-signin-error]")).to_contain_text("not accepted (401)")
    expect(page.locator("#app")).to_be_hidden()


def test_create_from_the_weekday_template_previews_five_times_before_saving(ui: Ui) -> None:
    spec = {"schedule_type": "cron", "cron_expression": WEEKDAY_CRON, "timezone": "Europe/Berlin", "count": 5}
    before = ui.service.call("POST", "/schedules/preview", spec)[1]["times"]
    page = ui.sign_in()
    page.get_by_role("button", name="New schedule").click()
    form = page.locator("#schedule-dialog")
    form.get_by_label("Name", exact=True).fill("weekday-hourly")
    form.get_by_label("Time zone", exact=True).fill("Europe/Berlin")
    form.get_by_role("button", name="Weekdays, hourly 08–23").click()
    expect(form.get_by_label("Cron expression")).to_have_value(WEEKDAY_CRON)
    times = form.locator("[data-preview-times] time")
    expect(times).to_have_count(5)
    expect(form.locator("[data-preview-description]")).to_contain_text("Monday through Friday")
    shown = [t.get_attribute("datetime") for t in times.all()]
    assert shown in (before, ui.service.call("POST", "/schedules/preview", spec)[1]["times"])  # an hour may turn
    assert ui.service.named("weekday-hourly") == [], "nothing is saved before Save"
    screenshot(page, "dashboard-form-1280")

    form.get_by_role("button", name="Save schedule").click()
    expect(form).to_be_hidden()
    row = ui.row("weekday-hourly")
    expect(row).to_contain_text("Monday through Friday")
    expect(row.locator("[data-label=Zone]")).to_have_text("Europe/Berlin")
    expect(row.locator("[data-label=Status] .badge")).to_have_text("active")
    expect(row.locator(".countdown")).to_have_text(COUNTDOWN)
    [saved] = ui.service.named("weekday-hourly")
    assert (saved["cron_expression"], saved["timezone"], saved["workflow_id"]) == (
        WEEKDAY_CRON, "Europe/Berlin", ui.service.workflow_id)
    _no_horizontal_scroll(page, DESKTOP["width"])

    row.get_by_role("button", name="Clone").click()
    expect(form.get_by_label("Name", exact=True)).to_have_value("weekday-hourly (copy)")
    warning = form.locator("[data-overlap-warning]")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("“weekday-hourly” fires in the same minute")
    form.get_by_role("button", name="Cancel").click()
    expect(form).to_be_hidden()
    assert ui.service.named("weekday-hourly (copy)") == []


def test_the_switch_disables_and_enables_a_schedule(ui: Ui) -> None:
    schedule = ui.service.schedule("toggle-me")
    page = ui.sign_in()
    status = ui.row("toggle-me").locator("[data-label=Status] .badge")
    switch = ui.row("toggle-me").get_by_role("switch")
    expect(switch).to_be_checked()
    switch.click()
    expect(status).to_have_text("paused")
    expect(switch).not_to_be_checked()
    expect(ui.row("toggle-me").locator("[data-label='Next run']")).to_have_text("—")
    assert ui.service.call("GET", f"/schedules/{schedule['schedule_id']}")[1]["status"] == "paused"
    switch.click()
    expect(status).to_have_text("active")
    expect(switch).to_be_checked()
    assert ui.service.call("GET", f"/schedules/{schedule['schedule_id']}")[1]["status"] == "active"
    expect(page.locator(".toast").last).to_contain_text("Enabled “toggle-me”")


def test_the_form_sets_catch_up_retries_and_pause_after_failures_and_a_row_shows_why_it_is_paused(ui: Ui) -> None:
    schedule = ui.service.schedule("operator-fields", max_retries=2, pause_after_failures=4)
    assert ui.service.call("POST", f"/schedules/{schedule['schedule_id']}/pause",
                           {"reason": "raid night"})[0] == 200
    page = ui.sign_in()
    row = ui.row("operator-fields")
    expect(row.locator("[data-label=Status] .pause-note")).to_have_text("raid night")
    row.get_by_role("button", name="Edit").click()
    form = page.locator("#schedule-dialog")
    expect(form.get_by_label("Retries", exact=True)).to_have_value("2")
    expect(form.get_by_label("Pause after failures in a row")).to_have_value("4")
    form.get_by_label("After downtime").select_option("all")
    form.get_by_label("Catch up at most").fill("25")
    form.get_by_label("Timeout per attempt (s)").fill("90")
    form.get_by_label("Retries", exact=True).fill("0")
    form.get_by_role("button", name="Save schedule").click()
    expect(form).to_be_hidden()
    [saved] = ui.service.named("operator-fields")
    assert (saved["catchup_policy"], saved["catchup_max"], saved["timeout_seconds"], saved["max_retries"],
            saved["pause_after_failures"], saved["retry_backoff_seconds"]) == ("all", 25, 90, 0, 4, None)


def test_run_now_appears_in_the_history_with_statistics(ui: Ui) -> None:
    ui.service.schedule("run-me")
    page = ui.sign_in()
    row = ui.row("run-me")
    row.get_by_role("button", name="Run now").click()
    expect(page.locator(".toast").last).to_contain_text("Started a run of “run-me”")
    row.get_by_role("button", name="History").click()
    history = page.locator("#history-dialog")
    expect(history.locator("[data-history-title]")).to_have_text("run-me")
    runs = history.locator("tbody tr")
    expect(runs).to_have_count(1)
    expect(runs.first.locator("[data-label=Trigger]")).to_have_text("manual")
    expect(runs.first.locator("[data-label=Status] .badge")).to_have_text("completed")
    expect(runs.first.locator("[data-label=Duration]")).to_have_text(DURATION)
    stats = history.locator("[data-history-stats]")
    expect(stats).to_contain_text("Success rate100%")
    expect(history.locator("[data-history-next] li")).to_have_count(5)
    screenshot(page, "dashboard-history-1280")

    history.get_by_label("Status").select_option("failed")
    expect(history.locator("[data-history-empty]")).to_have_text("No failed runs.")
    expect(runs).to_have_count(0)
    history.get_by_label("Status").select_option("")
    expect(runs).to_have_count(1)
    history.get_by_role("button", name="Close").click()
    expect(row.locator("[data-label='Last run'] .badge")).to_have_text("completed")


def test_an_invalid_cron_shows_the_api_error_next_to_the_field(ui: Ui) -> None:
    page = ui.sign_in()
    page.get_by_role("button", name="New schedule").click()
    form = page.locator("#schedule-dialog")
    form.get_by_label("Name", exact=True).fill("broken-cron")
    cron = form.get_by_label("Cron expression")
    error = form.locator('[data-error-for="cron_expression"]')
    with ui.watch.expect_http_error(400, "/api/v1/schedules/preview"):
        cron.fill("0 8-25 * * 1-5")
        expect(error).to_have_text("'0 8-25 * * 1-5' has an invalid hour field '8-25' (allowed: 0-23, lists, ranges, "
                                   "steps)")
    expect(cron).to_have_attribute("aria-invalid", "")
    expect(form.locator("[data-preview-times] li")).to_have_count(0)
    with ui.watch.expect_http_error(400, "/api/v1/schedules"):
        form.get_by_role("button", name="Save schedule").click()
        expect(form.locator("[type=submit]")).to_be_enabled()
    expect(form).to_be_visible()
    expect(error).to_contain_text("invalid hour field '8-25'")
    assert ui.service.named("broken-cron") == []

    cron.fill("0 9 * * *")
    expect(error).to_be_hidden()
    expect(form.locator("[data-preview-times] li")).to_have_count(5)
    expect(cron).not_to_have_attribute("aria-invalid", "")


def test_export_takes_every_matching_schedule_and_import_shows_a_dry_run_first(ui: Ui) -> None:
    made = [ui.service.schedule(f"portable-{n:02}", tags=["portable"], context_data={"n": n}) for n in range(27)]
    ui.service.schedule("not-portable")
    assert ui.service.call("POST", f"/schedules/{made[3]['schedule_id']}/pause", {"reason": "on hold"})[0] == 200
    page = ui.sign_in()
    page.locator("[data-limit]").select_option("25")
    page.get_by_label("Filter by tag").fill("portable")
    expect(page.locator("#schedules [data-range]")).to_have_text("1–25 of 27")
    with page.expect_download() as download:
        page.locator("[data-export]").click()
    exported = json.loads(Path(download.value.path()).read_text())
    assert sorted(s["name"] for s in exported["schedules"]) == [f"portable-{n:02}" for n in range(27)]  # not a page
    assert [w["name"] for w in exported["workflows"]] == ["nightly-report"]
    by_name = {s["name"]: s for s in exported["schedules"]}
    assert (by_name["portable-03"]["status"], by_name["portable-03"]["pause_reason"]) == ("paused", "on hold")
    assert by_name["portable-05"]["context_data"] == {"n": 5}
    status, result = ui.service.call("POST", "/schedules/bulk", {"action": "delete", "filter": {"tag": "portable"}})
    assert status == 200 and result["changed"] == 27, result

    dialog = page.locator("#import-dialog")
    summary = dialog.locator("[data-import-summary]")
    with page.expect_file_chooser() as chooser:
        page.locator("[data-import]").click()
    chooser.value.set_files(download.value.path())
    expect(summary).to_contain_text("Ready: 27 schedules to create, 0 to update, 0 unchanged, 0 skipped.")
    expect(dialog.locator("tr", has_text="portable-26")).to_contain_text("create")
    assert ui.service.named("portable-00") == []  # the dry run changed nothing
    dialog.get_by_role("button", name="Import").click()
    expect(summary).to_contain_text("Imported: 27 created, 0 updated")
    expect(dialog.locator("tr", has_text="portable-26")).to_contain_text("created")
    expect(dialog.get_by_role("button", name="Import")).to_be_hidden()
    screenshot(page, "dashboard-import-1280")
    dialog.get_by_role("button", name="Done").click()
    expect(page.locator("#schedules [data-range]")).to_have_text("1–25 of 27")
    [again] = ui.service.named("portable-03")
    assert again["schedule_id"] != made[3]["schedule_id"]
    assert (again["status"], again["pause_reason"], again["context_data"]) == ("paused", "on hold", {"n": 3})

    # the same file again: the names are in use, which stops it until they may be updated
    with ui.watch.expect_http_error(400, "/api/v1/schedules/import"):
        with page.expect_file_chooser() as chooser:
            page.locator("[data-import]").click()
        chooser.value.set_files(download.value.path())
        expect(summary).to_contain_text("Nothing can be imported: 27 problems")
    expect(dialog.locator("tr", has_text="portable-00")).to_contain_text("already in use")
    expect(dialog.get_by_role("button", name="Import")).to_be_disabled()
    dialog.get_by_label("A schedule whose name is already in use").select_option("upsert")
    expect(summary).to_contain_text("Ready: 0 schedules to create, 0 to update, 27 unchanged")
    expect(dialog.get_by_role("button", name="Import")).to_be_disabled()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert len(ui.service.named("portable-00")) == 1


def test_bulk_disable_and_enable_by_tag(ui: Ui) -> None:
    made = [ui.service.schedule(f"bulk-{n}", tags=["bulk"]) for n in range(3)]
    page = ui.sign_in()
    bulk = page.locator("[data-bulk]")
    bulk.get_by_label("Tag to select").fill("bulk")
    bulk.get_by_role("button", name="Select by tag").click()
    expect(bulk.locator("[data-bulk-count]")).to_have_text("3 selected")
    for n in range(3):
        expect(ui.row(f"bulk-{n}").locator("[data-select]")).to_be_checked()
    with page.expect_request("**/api/v1/schedules/bulk") as sent:  # one request for all three
        bulk.get_by_role("button", name="Disable selected").click()
    body = json.loads(sent.value.post_data or "{}")
    assert (body["action"], sorted(body["schedule_ids"])) == ("pause", sorted(m["schedule_id"] for m in made))
    expect(page.locator(".toast").last).to_contain_text("Disabled 3 of 3")
    expect(bulk.locator("[data-bulk-count]")).to_have_text("0 selected")
    for n in range(3):
        expect(ui.row(f"bulk-{n}").locator("[data-label=Status] .badge")).to_have_text("paused")
    assert {ui.service.call("GET", f"/schedules/{s['schedule_id']}")[1]["status"] for s in made} == {"paused"}

    ui.row("bulk-0").locator("[data-select]").check()
    ui.row("bulk-2").locator("[data-select]").check()
    bulk.get_by_role("button", name="Enable selected").click()
    expect(ui.row("bulk-2").locator("[data-label=Status] .badge")).to_have_text("active")
    statuses = [ui.service.call("GET", f"/schedules/{s['schedule_id']}")[1]["status"] for s in made]
    assert statuses == ["active", "paused", "active"]
    expect(bulk.locator("[data-bulk-count]")).to_have_text("0 selected")
    _no_horizontal_scroll(page, DESKTOP["width"])
    screenshot(page, "dashboard-list-1280", full_page=True)


def test_phone_layout_list_form_history_and_an_edit(phone: Ui) -> None:
    created = phone.service.schedule("on-the-phone", tags=["mobile"])
    page = phone.sign_in()
    page.get_by_role("searchbox", name="Search by name").fill("on-the-phone")
    row = phone.row("on-the-phone")
    expect(page.locator("tbody[data-rows] tr")).to_have_count(1)
    expect(row.locator("[data-label=Timing]")).to_be_visible()
    _no_horizontal_scroll(page, PHONE["width"])
    page.get_by_role("searchbox", name="Search by name").fill("")
    expect(page.locator("[data-range]").first).not_to_have_text("1–1 of 1")
    screenshot(page, "dashboard-list-390", full_page=True)

    row.get_by_role("button", name="Edit").click()
    form = page.locator("#schedule-dialog")
    expect(form.locator("[data-form-title]")).to_have_text("Edit schedule")
    expect(form.get_by_label("Cron expression")).to_have_value("0 7 * * *")
    expect(form.locator("[data-preview-times] li")).to_have_count(5)
    expect(form.locator("[data-preview]")).to_be_in_viewport()
    _no_horizontal_scroll(page, PHONE["width"])
    screenshot(page, "dashboard-form-390")
    form.get_by_label("Tags (comma separated)").fill("mobile, phone")
    form.get_by_role("button", name="Save schedule").click()
    expect(form).to_be_hidden()
    expect(row.locator(".tag")).to_have_text(["mobile", "phone"])
    [edited] = phone.service.named("on-the-phone")
    assert (edited["schedule_id"], edited["cron_expression"], edited["timezone"], edited["tags"]) == (
        created["schedule_id"], "0 7 * * *", "Europe/Berlin", ["mobile", "phone"])

    row.get_by_role("button", name="Run now").click()
    row.get_by_role("button", name="History").click()
    history = page.locator("#history-dialog")
    expect(history.locator("tbody tr").first.locator("[data-label=Status] .badge")).to_have_text("completed")
    _no_horizontal_scroll(page, PHONE["width"])
    screenshot(page, "dashboard-history-390")
