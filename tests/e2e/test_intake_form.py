"""The staff intake form in a real browser: a specialist records a faxed request from a blank form, with a new
patient, a new requestor, its scope and delivery, and the scanned request uploaded; then a search picks a patient
already on file."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfWriter

from intake.models import IntakeDocument
from tests import factories
from workflow.models import RecordRequest

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


@pytest.fixture
def scan(tmp_path):
    writer = PdfWriter()
    for _ in range(2):
        writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    path = tmp_path / "faxed request.pdf"
    path.write_bytes(out.getvalue())
    return path


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def open_form(page: Page, live_server) -> None:
    page.goto(f"{live_server.url}/requests/new/")
    expect(page.get_by_role("heading", name="New request")).to_be_visible()


def test_specialist_records_a_faxed_request_from_a_blank_form(live_server, login, alice, scan):
    page = login(alice)
    open_form(page, live_server)

    receipt = page.get_by_role("group", name="Receipt")
    receipt.get_by_label("Fax", exact=True).check()
    receipt.get_by_label("Request type").select_option(label="Third party with authorization")

    patient = page.get_by_role("group", name="New patient")
    patient.get_by_label("MRN", exact=True).fill("E2E-4410")
    patient.get_by_label("First name").fill("Rosa")
    patient.get_by_label("Last name").fill("Diaz")
    patient.get_by_label("Date of birth").fill("1980-05-04")

    requestor = page.get_by_role("group", name="New requestor")
    requestor.get_by_label("Kind of requestor").select_option(label="Attorney")
    requestor.get_by_label("Name", exact=True).fill("Jo Hartley")
    requestor.get_by_label("Organization").fill("Hartley & Moss LLP")
    requestor.get_by_label("Email").fill("records@hartley.example.com")

    scope = page.get_by_role("group", name="Scope", exact=True)
    scope.get_by_label("Dates of service from").fill("2024-01-01")
    scope.get_by_label("Dates of service to").fill("2024-06-30")
    scope.get_by_label("Discharge summaries").check()
    scope.get_by_label("Laboratory results").check()

    delivery = page.get_by_role("group", name="Delivery")
    delivery.get_by_label("Delivery method").select_option(label="Fax")
    delivery.get_by_label("Destination").fill("(312) 555-0199")

    page.get_by_label("Scanned request").set_input_files(scan)
    page.get_by_role("button", name="Record request").click()

    expect(page).to_have_url(re.compile(r"/requests/ROI-[0-9A-Z-]+/$"))
    rr = RecordRequest.objects.get()
    expect(page.get_by_role("status")).to_contain_text(f"Request {rr.tracking_number} received.")
    expect(page.locator("h1 .badge")).to_have_text("Received")
    expect(page.get_by_text("faxed request.pdf")).to_be_visible()
    assert rr.channel == "fax"
    assert (rr.patient.mrn, rr.requestor.organization) == ("E2E-4410", "Hartley & Moss LLP")
    assert IntakeDocument.objects.get(request=rr).page_count == 2


def test_a_refused_form_keeps_the_values_and_a_search_picks_the_patient_on_file(
    live_server, login, alice, tenant_a, scan
):
    on_file = factories.PatientFactory(
        tenant=tenant_a, mrn="E2E-1", first_name="Ana", last_name="Okafor", date_of_birth=date(1975, 1, 2)
    )
    page = login(alice)
    open_form(page, live_server)

    page.get_by_role("group", name="Receipt").get_by_label("Phone", exact=True).check()
    page.get_by_label("Request type").select_option(label="Right of access (patient)")
    requestor = page.get_by_role("group", name="New requestor")
    requestor.get_by_label("Kind of requestor").select_option(label="Patient")
    page.get_by_role("button", name="Record request").click()

    # Nothing saved; the form says what to fix and keeps what was entered.
    expect(page.get_by_role("alert").first).to_contain_text("Nothing was saved")
    expect(page.get_by_text("Enter the requestor's name, or search for the requestor above.").first).to_be_visible()
    expect(page.get_by_role("group", name="New requestor").get_by_label("Kind of requestor")).to_have_value("patient")
    assert not RecordRequest.objects.exists()

    page.get_by_label("MRN or last name").fill("okafor")
    page.get_by_label("Date of birth (for a name search)").fill("1975-01-02")
    page.get_by_role("button", name="Find patient").click()
    page.get_by_label(re.compile(r"Okafor, Ana · MRN E2E-1")).check()
    page.get_by_role("group", name="New requestor").get_by_label("Name", exact=True).fill("Ana Okafor")
    page.get_by_role("button", name="Record request").click()

    expect(page).to_have_url(re.compile(r"/requests/ROI-[0-9A-Z-]+/$"))
    assert RecordRequest.objects.get().patient == on_file
