"""The staff pages in a real browser: the queue and its htmx filter, the detail page's actions through a request's
life, the intake checklist, and the stale-page conflict. Few tests, each covering a whole user journey."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from workflow import transitions
from workflow.choices import RequestState

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def action_form(page: Page, button: str):
    """The detail page's form whose submit button is `button` (each action is its own form)."""
    return page.locator("form.transition").filter(has=page.get_by_role("button", name=button, exact=True))


def expect_state(page: Page, label: str) -> None:
    expect(page.locator("h1 .badge")).to_have_text(label)


def test_specialist_works_a_request_from_the_queue(live_server, login, alice, tenant_b, request_in_state):
    received = request_in_state(RequestState.VALIDATED)
    in_work = request_in_state(RequestState.IN_FULFILLMENT)
    other_tenant = factories.RecordRequestFactory(tenant=tenant_b)

    page = login(alice)
    page.get_by_role("link", name="Everything").click()  # a specialist lands on their own work
    table = page.locator("#queue-table")
    expect(table.get_by_role("link", name=received.tracking_number)).to_be_visible()
    expect(table.get_by_role("link", name=in_work.tracking_number)).to_be_visible()
    expect(table.get_by_text(other_tenant.tracking_number)).to_have_count(0)

    # The filter swaps the table in place with htmx: wait for that request, then for the table to show it.
    with page.expect_response(lambda r: "state=validated" in r.url and r.request.header_value("hx-request")):
        page.get_by_label("State").select_option(label="Validated")
    expect(table.get_by_role("link", name=in_work.tracking_number)).to_have_count(0)
    expect(table.get_by_role("link", name=received.tracking_number)).to_be_visible()
    expect(page).to_have_url(re.compile(r"state=validated"))

    table.get_by_role("link", name=received.tracking_number).click()
    expect_state(page, "Validated")
    page.get_by_role("button", name="Claim").click()
    expect(page.get_by_role("status")).to_contain_text(f"Assigned to {alice}.")
    expect(page.locator(".case-facts div").filter(has_text="Assigned to")).to_contain_text(str(alice))

    page.get_by_role("button", name="Start fulfillment").click()
    expect(page.get_by_role("status")).to_contain_text("moved to fulfillment")
    expect_state(page, "In fulfillment")

    page.locator("#panel-exceptions > summary").click()  # a panel that loads when opened
    page.get_by_text("Raise an exception").click()  # the form is folded away until needed
    form = page.locator("form").filter(has=page.get_by_role("button", name="Raise exception"))
    form.get_by_label("Reason").select_option(label="Incomplete authorization")
    form.get_by_label("What is wrong").fill("Authorization signature missing")
    form.get_by_label("Next step").fill("Ask the law office for a signed copy")
    form.get_by_role("button", name="Raise exception").click()
    expect(page.get_by_role("status")).to_contain_text("put in exception")
    expect_state(page, "Exception")
    expect(page.locator(".callout.exception")).to_contain_text("Authorization signature missing")
    expect(page.locator(".callout.exception")).to_contain_text("Ask the law office for a signed copy")
    expect(page.locator(".timeline li").filter(has_text="In fulfillment → Exception")).to_contain_text(
        "Authorization signature missing"
    )

    form = page.locator("form").filter(has=page.get_by_role("button", name="Resolve exception"))
    form.get_by_label("Resolution note").fill("Signed authorization received by fax")
    form.get_by_role("button", name="Resolve exception").click()
    expect(page.get_by_role("status")).to_contain_text("returned to work")
    expect_state(page, "In fulfillment")
    expect(page.locator(".timeline li").filter(has_text="Exception → In fulfillment")).to_contain_text(
        "Signed authorization received by fax"
    )


def test_incomplete_request_points_to_the_intake_checklist(live_server, login, alice, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a, incomplete=True, request_type="right_of_access")
    page = login(alice)
    page.goto(f"{live_server.url}/requests/{rr.tracking_number}/")
    panel = page.locator(".checklist")
    expect(panel).to_contain_text("Scope has neither record types nor dates of service.")
    expect(panel).to_contain_text("Delivery: choose how the records will be delivered.")
    expect(page.get_by_role("button", name="Validate", exact=True)).to_have_count(0)
    page.get_by_role("link", name=re.compile("intake checklist", re.IGNORECASE)).first.click()
    expect(page).to_have_url(re.compile(rf"/requests/{rr.tracking_number}/intake/$"))


def test_stale_page_reports_the_conflict(live_server, login, alice, sam, tenant_a, request_in_state):
    rr = request_in_state(RequestState.RECEIVED)
    page = login(alice)
    page.goto(f"{live_server.url}/requests/{rr.tracking_number}/")
    expect_state(page, "Received")

    # Someone else cancels the request while Alice's page is open.
    transitions.request_cancel(tenant=tenant_a, actor=sam, record_request=rr, reason="Withdrawn by phone")

    page.get_by_text("More actions").click()  # cancelling is rare and final: folded away, and confirmed
    page.once("dialog", lambda dialog: dialog.accept())
    cancel = page.locator("form").filter(has=page.get_by_role("button", name="Cancel request"))
    cancel.get_by_label("Why it is cancelled").fill("Duplicate")
    cancel.get_by_role("button", name="Cancel request").click()
    expect(page.get_by_role("status")).to_contain_text("changed since you opened it")
    expect(page.get_by_role("status")).to_contain_text("cancelled")
    expect_state(page, "Cancelled")
    rr.refresh_from_db()
    assert rr.state == RequestState.CANCELLED
