"""The portal pages this change touched, in a real browser at desktop and phone widths: the lookup page with its
organisation, the request form showing only the fields that apply (CSS alone: the portal's CSP forbids scripts), the
error summary focused and in view after a failed send, the confirmation and the status page with tappable contact
details, the favicon; axe-core's WCAG 2.1 A/AA checks on each (no serious or critical violation)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import assert_accessible
from tests.fulfillment.pdfs import make_pdf
from workflow.models import RecordRequest

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db", "media")]

WIDTHS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """Portal pages forbid every script by their CSP; the test context bypasses it only so that Playwright can
    inject axe-core."""
    return {**browser_context_args, "bypass_csp": True}


def _shot(page: Page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(Path(os.environ.get("ROI_SCREENSHOT_DIR", tmp_path)) / name), full_page=True)


def _fits(page: Page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth") <= page.viewport_size["width"]


@pytest.mark.parametrize("size", WIDTHS, ids=list(WIDTHS))
def test_a_patient_finds_the_form_fills_only_what_applies_and_looks_the_request_up(
    live_server, page: Page, tenant_a, tmp_path, size, browser
):
    tenant_a.him_phone = "(312) 555-0100"
    tenant_a.him_email = "roi@alpha.example.org"
    tenant_a.save()
    page.set_viewport_size(WIDTHS[size])
    page.goto(f"{live_server.url}/status/?org={tenant_a.slug}")
    expect(page.locator("link[rel=icon]")).to_have_attribute("href", "/static/favicon.svg")
    expect(page.get_by_text("Requests for medical records from Alpha General Hospital.")).to_be_visible()
    expect(page.get_by_role("link", name="(312) 555-0100")).to_have_attribute("href", "tel:+13125550100")
    assert_accessible(page)
    _fits(page)
    _shot(page, tmp_path, f"portal-lookup-{size}.png")

    page.get_by_role("link", name="Request medical records from Alpha General Hospital").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Request medical records")
    # Nothing answered yet: no question-specific field shows.
    for name in ("third_party_kind", "requestor_organization", "identity_document", "authority_document",
                 "authorization_document", "delivery_fax", "address_line1"):  # fmt: skip
        expect(page.locator(f"[name={name}]")).to_be_hidden()
    _shot(page, tmp_path, f"portal-submit-blank-{size}.png")

    page.locator("input[name=asking][value=third_party]").check()
    expect(page.locator("[name=third_party_kind]")).to_be_visible()
    expect(page.locator("[name=requestor_organization]")).to_be_visible()
    expect(page.locator("[name=authorization_document]")).to_be_visible()
    page.locator("input[name=asking][value=self]").check()
    expect(page.locator("[name=requestor_organization]")).to_be_hidden()
    expect(page.locator("[name=identity_document]")).to_be_visible()
    page.locator("input[name=delivery_method][value=mail]").check()
    expect(page.locator("[name=address_line1]")).to_be_visible()
    expect(page.locator("[name=delivery_fax]")).to_be_hidden()
    assert_accessible(page)

    # Sent with the address missing: the summary is focused and in view, and leads to the field.
    page.get_by_label("Your full name").fill("Maria Lopez")
    page.get_by_label("Your email address").fill("maria.lopez@example.com")
    page.get_by_label("Patient's first name").fill("Maria")
    page.get_by_label("Patient's last name").fill("Lopez")
    page.get_by_label("Patient's date of birth").fill("1980-03-14")
    page.locator("input[name=record_types][value=lab]").check()
    page.locator("input[name=attestation]").check()
    page.locator("form[enctype='multipart/form-data'] button[type=submit]").last.click()
    summary = page.locator("#form-errors")
    expect(summary).to_be_focused()
    expect(summary).to_be_in_viewport()
    expect(summary).to_contain_text("Enter the street address to mail the records to.")
    expect(page.locator("[name=address_line1]")).to_be_visible()  # its answer is still "mail"
    assert_accessible(page)
    _fits(page)
    _shot(page, tmp_path, f"portal-submit-errors-{size}.png")
    summary.get_by_role("link").filter(has_text="street address").click()
    expect(page.locator("#field-address_line1")).to_be_in_viewport()

    page.locator("input[name=delivery_method][value=portal_download]").check()
    page.set_input_files("input[name=identity_document]", files=[{
        "name": "photo-id.pdf", "mimeType": "application/pdf", "buffer": make_pdf(1, "Photo ID"),
    }])  # fmt: skip
    page.locator("form[enctype='multipart/form-data'] button[type=submit]").last.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("We received your request")
    rr = RecordRequest.objects.get()
    assert_accessible(page)
    _fits(page)
    _shot(page, tmp_path, f"portal-received-{size}.png")

    # Another browser: the patient looks the request up with the date of birth typed on the form.
    other = browser.new_context(bypass_csp=True, viewport=WIDTHS[size])
    lookup = other.new_page()
    lookup.goto(f"{live_server.url}/status/?org={tenant_a.slug}")
    lookup.get_by_label("Tracking number").fill(rr.tracking_number)
    lookup.get_by_label("Email address, phone number or the patient's date of birth").fill("03/14/1980")
    lookup.get_by_role("button", name="Check status").click()
    expect(lookup.get_by_role("heading", level=1)).to_contain_text(rr.tracking_number)
    expect(lookup.get_by_role("link", name="roi@alpha.example.org")).to_have_attribute(
        "href", "mailto:roi@alpha.example.org"
    )
    assert_accessible(lookup)
    _fits(lookup)
    _shot(lookup, tmp_path, f"portal-status-{size}.png")
    other.close()


def test_a_failed_lookup_focuses_its_answer_on_a_phone(live_server, page: Page, tenant_a):
    page.set_viewport_size(WIDTHS["phone"])
    page.goto(f"{live_server.url}/status/")
    page.get_by_label("Tracking number").fill("ROI-AAAA-BBBB-CCCC")
    page.get_by_label("Email address, phone number or the patient's date of birth").fill("someone@example.com")
    page.get_by_role("button", name="Check status").click()
    answer = page.locator("#form-errors")
    expect(answer).to_be_focused()
    expect(answer).to_contain_text("We could not find a request with these details")
    assert_accessible(page)
