"""Schedule chains in the dashboard, in a real browser against a real serve process: an after
schedule made in the form (type "After another", its upstream picked by name, the outcome), its
row saying "after <upstream> (on failure)", a run of the upstream starting it, and the history
showing the chain both ways. Screenshots at 1280 and 390 px land in tests/artifacts/; a console
error fails the test."""

from __future__ import annotations

from playwright.sync_api import expect

from .browser import screenshot
from .test_dashboard import PHONE, Ui, _no_horizontal_scroll, browser, phone, service, ui

__all__ = ["browser", "phone", "service", "ui"]  # fixtures used here


def test_an_after_schedule_is_made_in_the_form_listed_by_its_upstream_and_shown_in_both_histories(ui: Ui) -> None:
    upstream = ui.service.schedule("nightly-export")
    page = ui.sign_in()
    page.get_by_role("button", name="New schedule").click()
    form = page.locator("#schedule-dialog")
    form.get_by_label("Name", exact=True).fill("failure-report")
    form.get_by_label("After another").check()
    expect(form.locator("[data-calendar-field]")).to_be_hidden()
    expect(form.locator("[data-preview-description]")).to_have_text("Pick the schedule it runs after.")
    form.locator("[name=after_schedule_id]").select_option(label="nightly-export")
    form.locator("[name=after_on]").select_option("failure")
    expect(form.locator("[data-preview-description]")).to_have_text("Runs after nightly-export fails or times out")
    expect(form.locator("[data-preview-times] li")).to_have_count(0)
    screenshot(page, "dashboard-chain-form-1280")
    form.get_by_role("button", name="Save schedule").click()
    expect(form).to_be_hidden()

    [saved] = ui.service.named("failure-report")
    assert (saved["schedule_type"], saved["after"], saved["next_execution_at"]) == (
        "after", {"schedule_id": upstream["schedule_id"], "on": "failure"}, None)
    row = ui.row("failure-report")
    expect(row.locator("[data-label=Timing]")).to_contain_text("after nightly-export (on failure)")
    expect(row.locator("[data-label=Timing] .type")).to_have_text("After")
    expect(row.locator("[data-label='Next run']")).to_have_text("—")

    ui.row("nightly-export").get_by_role("button", name="History").click()
    history = page.locator("#history-dialog")
    chain = history.locator("[data-history-chain]")
    expect(chain).to_have_text("Then: failure-report.")
    chain.get_by_role("button", name="failure-report").click()
    expect(history.locator("[data-history-title]")).to_have_text("failure-report")
    expect(history.locator("[data-history-timing]")).to_have_text(
        "Runs after nightly-export fails or times out · active")
    expect(chain).to_have_text("Runs after nightly-export. ")
    expect(history.locator("[data-history-next]")).to_have_text("None of its own: see above")
    screenshot(page, "dashboard-chain-history-1280")
    history.get_by_role("button", name="Close").first.click()

    ui.row("failure-report").get_by_role("button", name="Edit").click()
    expect(form.locator("[name=after_schedule_id]")).to_have_value(upstream["schedule_id"])
    expect(form.locator("[name=after_on]")).to_have_value("failure")
    expect(form.locator("[name=after_schedule_id] option", has_text="failure-report")).to_have_count(0)
    form.get_by_role("button", name="Cancel").click()
    _no_horizontal_scroll(page, 1280)


def test_the_type_filter_finds_after_schedules_on_a_phone(phone: Ui) -> None:
    head = phone.service.schedule("phone-head")
    status, _ = phone.service.call("POST", "/schedules", {"workflow_id": phone.service.workflow_id, "name": "phone-tail",
                                                          "schedule_type": "after",
                                                          "after": {"schedule_id": head["schedule_id"], "on": "any"}})
    assert status == 201
    page = phone.sign_in()
    page.get_by_label("Filter by type").select_option("after")
    row = phone.row("phone-tail")
    expect(row).to_contain_text("after phone-head (on any end)")
    expect(phone.row("phone-head")).to_have_count(0)
    screenshot(page, "dashboard-chain-list-390")
    _no_horizontal_scroll(page, PHONE["width"])
