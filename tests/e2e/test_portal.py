"""The requestor portal on a phone-sized screen: look a request up, read its status, upload what was asked for, in
English and Spanish, with axe-core's WCAG 2.1 A/AA checks on every page (no serious or critical violation)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from intake.models import IntakeDocument
from intake.status_links import status_link_path
from tests import factories
from tests.e2e.axe import assert_accessible
from tests.fulfillment.pdfs import make_pdf
from tests.portal.helpers import deficient_request, download_link
from workflow.models import RecordRequest

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db", "media")]

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A phone: narrow viewport, touch, mobile user agent behaviour. Portal pages forbid every script by their CSP;
    the test context bypasses it only so that Playwright can inject axe-core."""
    return {**browser_context_args, "viewport": PHONE, "is_mobile": True, "has_touch": True, "bypass_csp": True}


def _fits_the_screen(page: Page) -> None:
    """Nothing wider than the phone: no sideways scrolling (WCAG 1.4.10 reflow)."""
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]


def _shot(page: Page, tmp_path: Path, name: str) -> None:
    """A full-page screenshot, kept where ROI_SCREENSHOT_DIR says (to look at the pages), else with the test."""
    page.screenshot(path=str(Path(os.environ.get("ROI_SCREENSHOT_DIR", tmp_path)) / name), full_page=True)


def test_a_requestor_looks_up_a_request_on_a_phone_and_sees_its_status(live_server, page: Page, tenant_a, tmp_path):
    rr = factories.RecordRequestFactory(
        tenant=tenant_a, requestor__email="paralegal@hartley.example.com", patient__date_of_birth=date(1980, 4, 2)
    )
    page.goto(f"{live_server.url}/status/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check the status of a records request")
    assert_accessible(page)
    _fits_the_screen(page)

    # A wrong verifier: the one answer for every failure, announced to screen readers.
    page.get_by_label("Tracking number").fill(rr.tracking_number)
    page.get_by_label("Email address, phone number or the patient's date of birth").fill("someone@else.example")
    page.get_by_role("button", name="Check status").click()
    expect(page.get_by_role("alert")).to_contain_text("We could not find a request with these details")
    assert_accessible(page)

    page.get_by_label("Email address, phone number or the patient's date of birth").fill(
        "paralegal@hartley.example.com"
    )
    page.get_by_role("button", name="Check status").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(rr.tracking_number)
    expect(page.locator(".status-now")).to_have_text("Received")  # nobody has picked it up yet
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    assert rr.patient.last_name not in page.content()
    assert_accessible(page)
    _fits_the_screen(page)
    _shot(page, tmp_path, "portal-status-phone.png")


def test_action_needed_upload_from_a_phone_in_spanish(live_server, page: Page, tenant_a, alice, tmp_path):
    rr = deficient_request(tenant_a, alice)
    page.goto(f"{live_server.url}{status_link_path(rr.tracking_number)}")
    expect(page.locator(".status-now")).to_have_text("Action needed from you")
    assert_accessible(page)
    _fits_the_screen(page)
    _shot(page, tmp_path, "portal-action-needed-phone.png")

    page.get_by_role("button", name="Español").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    assert_accessible(page)

    # Back to English for the upload (the labels below are the English ones).
    page.get_by_role("button", name="English").click()
    upload = page.locator("form[enctype='multipart/form-data']")
    upload.get_by_label("What are you sending?").select_option("authorization")
    page.set_input_files("input[type=file]", files=[{
        "name": "authorization.pdf", "mimeType": "application/pdf", "buffer": make_pdf(1, "Signed authorization"),
    }])  # fmt: skip
    upload.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("status")).to_contain_text("We received your document")
    expect(page.locator(".status-now")).to_have_text("Under review")
    assert IntakeDocument.objects.filter(request=rr, source="portal").count() == 1
    assert_accessible(page)


def test_an_upload_without_a_file_says_what_to_fix(live_server, page: Page, tenant_a, alice):
    rr = deficient_request(tenant_a, alice)
    page.goto(f"{live_server.url}{status_link_path(rr.tracking_number)}")
    page.locator("form[enctype='multipart/form-data']").get_by_role("button", name="Upload").click()
    expect(page.get_by_role("alert")).to_contain_text("The document was not uploaded")
    expect(page.locator(".field-error")).to_contain_text(["Choose the file to upload."])
    assert_accessible(page)


def test_a_patient_submits_a_request_from_a_phone_and_follows_it(live_server, page: Page, tenant_a, tmp_path):
    page.goto(f"{live_server.url}/submit/{tenant_a.slug}/")
    assert_accessible(page)
    _fits_the_screen(page)

    # Sent blank: every required field says what to fill in, and nothing is created.
    page.locator("form[enctype='multipart/form-data'] button[type=submit]").last.click()
    expect(page.locator(".field-error").first).to_be_visible()
    assert_accessible(page)
    assert not RecordRequest.objects.exists()

    page.locator("input[name=asking][value=self]").check()
    page.get_by_label("Your full name").fill("Maria Lopez")
    page.get_by_label("Your email address").fill("maria.lopez@example.com")
    page.get_by_label("Patient's first name").fill("Maria")
    page.get_by_label("Patient's last name").fill("Lopez")
    page.get_by_label("Patient's date of birth").fill("1980-03-14")
    page.locator("input[name=record_types][value=lab]").check()
    page.locator("input[name=delivery_method][value=portal_download]").check()
    page.set_input_files("input[name=identity_document]", files=[{
        "name": "photo-id.pdf", "mimeType": "application/pdf", "buffer": make_pdf(1, "Photo ID"),
    }])  # fmt: skip
    page.locator("input[name=attestation]").check()
    page.locator("form[enctype='multipart/form-data'] button[type=submit]").last.click()

    rr = RecordRequest.objects.get()
    expect(page.locator("body")).to_contain_text(rr.tracking_number)
    assert (rr.channel, rr.state) == ("portal", "received")
    assert_accessible(page)
    _fits_the_screen(page)
    _shot(page, tmp_path, "portal-submitted-phone.png")
    page.goto(f"{live_server.url}/status/{rr.tracking_number}/")  # the browser was granted access on submission
    expect(page.locator(".status-now")).to_have_text("Received")
    assert_accessible(page)


def test_account_and_download_pages_pass_the_checks_on_a_phone(live_server, page: Page, tenant_a):

    account = f"/submit/{tenant_a.slug}/account"
    for path in (f"{account}/signup/", f"{account}/signin/", f"{account}/password/"):
        page.goto(f"{live_server.url}{path}")
        assert_accessible(page)
        _fits_the_screen(page)
        page.locator("main form button[type=submit]").first.click()  # sent blank: the errors, announced
        expect(page.locator(".field-error, [role=alert]").first).to_be_visible()
        assert_accessible(page)

    _link_row, token = download_link(tenant_a)
    page.goto(f"{live_server.url}/download/{token}/")
    assert_accessible(page)
    _fits_the_screen(page)
    page.goto(f"{live_server.url}/download/not-a-token/")
    assert_accessible(page)
