"""A law-enforcement administrative request in a real browser (45 CFR 164.512(f)(1)(ii)(C)): the specialist records
the path on the checklist and runs it; the request waits in an exception for a supervisor, with no letter to the
police; the supervisor records the three-part test met on the same checklist and checks again, which resolves the
exception and validates the request in one step, with their name beside the decision."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from intake.models import Letter
from tests import factories
from tests.fulfillment.pdfs import make_pdf
from workflow.choices import RequestorKind, RequestState, RequestType

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db", "media")]

TEST_PARTS = [
    "The information sought is relevant and material to a legitimate law enforcement inquiry.",
    "The request is specific and limited in scope as far as is reasonably practicable for its purpose.",
    "De-identified information could not reasonably be used.",
]


def _shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("ROI_SCREENSHOT_DIR", tmp_path))


def _checklist(page: Page, live_server, rr) -> None:
    page.goto(f"{live_server.url}/requests/{rr.tracking_number}/intake/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Intake checklist")


def test_164_512_f_1_ii_C_an_administrative_request_that_meets_the_test(
    live_server, login, alice, sam, tenant_a, tmp_path
):
    requestor = factories.RequestorFactory(
        tenant=tenant_a, kind=RequestorKind.GOVERNMENT, name="Det. Ray Ortiz", organization="Springfield Police"
    )
    rr = factories.RecordRequestFactory(
        tenant=tenant_a, requestor=requestor, request_type=RequestType.LAW_ENFORCEMENT, intake_completed_at=None
    )
    page = login(alice)
    _checklist(page, live_server, rr)
    section = page.locator("#section-basis")
    expect(section.locator("legend")).to_contain_text("Law enforcement purpose")
    expect(section).to_contain_text("Who may ask: A law enforcement official")
    section.get_by_label("What does the request come with?").select_option(label=(
        "An administrative request (administrative subpoena or summons, civil or investigative demand)"
    ))  # fmt: skip
    page.get_by_role("button", name="Save and run checklist").click()
    expect(page.get_by_role("status")).to_contain_text("Exception opened: Legal review.")
    expect(page.locator("h1 .badge")).to_have_text("Exception")
    assert not Letter.objects.filter(request=rr, kind="deficiency").exists()  # nothing sent to the police

    # A specialist cannot record the decision: refused, nothing saved, the answers still on the page.
    _checklist(page, live_server, rr)
    page.get_by_label(TEST_PARTS[0]).select_option(label="Met")
    page.get_by_role("button", name="Save checklist").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Nothing saved: Only a supervisor records whether the rule is met"
    )
    expect(page.get_by_label(TEST_PARTS[0])).to_have_value("met")
    rr.refresh_from_db()
    assert rr.intake_review.basis_answers == {"process": "administrative"}

    page.get_by_role("button", name="Sign out").click()
    login(sam)
    _checklist(page, live_server, rr)
    for part in TEST_PARTS:
        page.get_by_label(part).select_option(label="Met")
    page.screenshot(path=str(_shots(tmp_path) / "law-enforcement-checklist.png"), full_page=True)
    page.get_by_role("button", name="Save and check again").click()
    expect(page.get_by_role("status")).to_contain_text("Every check passes: the exception is resolved")
    expect(page.locator("h1 .badge")).to_have_text("Validated")

    _checklist(page, live_server, rr)
    expect(page.get_by_test_id("basis-decided")).to_contain_text(f"Decisions last recorded by {sam.get_full_name()}")
    rr.refresh_from_db()
    assert rr.state == RequestState.VALIDATED
    assert not Letter.objects.filter(request=rr, kind="deficiency").exists()


def _upload(page: Page, path: Path, *, seen, minor_consented: bool) -> None:
    page.get_by_text("Upload retrieved records").click()
    upload = page.locator("form.document-upload:has(#id_rd_file)")
    upload.get_by_label("File").set_input_files(str(path))
    upload.get_by_label("Came from").select_option("ehr_him")
    upload.get_by_label("Record type").select_option("progress_notes")
    upload.get_by_label("Dates of service from").fill(seen.isoformat())
    upload.get_by_label("to", exact=True).fill(seen.isoformat())
    if minor_consented:
        upload.get_by_label("Care the minor consented to on their own").check()
    upload.get_by_role("button", name="Upload").click()
    expect(page.locator("h1 .badge")).to_have_text("In fulfillment")


def test_164_502_g_3_a_parent_gets_the_chart_without_the_care_the_teenager_consented_to(
    live_server, login, alice, tenant_a, request_in_state, tmp_path
):
    """A parent asks for their 15-year-old's records. The clinic notes of care the teenager consented to on their own
    are tagged as such at upload; the gate refuses the packet that holds them, naming the rule; left out, the rest
    may go."""
    born = timezone.localdate() - timedelta(days=365 * 15 + 40)
    rr = request_in_state(
        RequestState.VALIDATED, request_type=RequestType.RIGHT_OF_ACCESS, assignee=alice,
        requestor__kind=RequestorKind.PERSONAL_REPRESENTATIVE, requestor__name="Lee Park", requestor__organization="",
        patient__date_of_birth=born, record_types=["progress_notes"], delivery_method="mail",
        delivery_destination="12 Elm St, Springfield",
    )  # fmt: skip
    factories.complete_review(rr, representative={"authority_type": "parent_of_minor"})
    chart, clinic = tmp_path / "progress-notes.pdf", tmp_path / "teen-clinic-visit.pdf"
    chart.write_bytes(make_pdf(2, "Progress note"))
    clinic.write_bytes(make_pdf(1, "Confidential adolescent clinic visit"))
    seen = (rr.scope_date_from or timezone.localdate() - timedelta(days=30)) + timedelta(days=1)

    page = login(alice)
    page.goto(f"{live_server.url}/requests/{rr.tracking_number}/")
    _upload(page, chart, seen=seen, minor_consented=False)
    _upload(page, clinic, seen=seen, minor_consented=True)
    for name in ("progress-notes.pdf", "teen-clinic-visit.pdf"):
        row = page.locator("li", has_text=name).filter(has=page.get_by_text("Check pages, leave pages out"))
        row.get_by_text("Check pages, leave pages out").click()
        row.get_by_role("button", name="Every page is this patient's").click()
    page.get_by_role("button", name=re.compile(r"Build the packet \(3 record pages\)")).click()

    gate = page.locator("#release-gate")
    refusal = gate.locator('[data-code="MINOR_CONSENTED_CARE_TO_PARENT"]')
    expect(refusal).to_contain_text("care the minor consented to on their own")
    expect(refusal).to_contain_text("164.502(g)(3)")
    page.screenshot(path=str(_shots(tmp_path) / "minor-consented-refused.png"), full_page=True)

    row = page.locator("li", has_text="teen-clinic-visit.pdf").filter(
        has=page.get_by_text("Check pages, leave pages out")
    )
    row.get_by_text("Check pages, leave pages out").click()
    whole = row.locator("form[aria-label^='Leave all of']")
    whole.get_by_label("Why").select_option("sensitive_without_consent")
    whole.get_by_role("button", name="Leave the whole document out").click()
    page.once("dialog", lambda dialog: dialog.accept())  # "Version 1 is superseded and the new one needs QC again"
    page.get_by_role("button", name=re.compile(r"Rebuild the packet \(2 record pages\)")).click()
    expect(gate).not_to_contain_text("consented to on their own")
    expect(gate.locator('[data-code="MINOR_CONSENTED_CARE_TO_PARENT"]')).to_have_count(0)


def test_164_502_g_4_an_executors_request_waits_for_the_date_of_death_then_validates(
    live_server, login, alice, tenant_a, tmp_path
):
    """An executor asks for a deceased patient's records: the checklist will not validate until the patient's date of
    death is recorded (from the death certificate or the letters), on the patient's page, with who recorded it."""
    rr = factories.RecordRequestFactory(
        tenant=tenant_a, request_type=RequestType.RIGHT_OF_ACCESS, intake_completed_at=None, assignee=alice,
        requestor__kind=RequestorKind.PERSONAL_REPRESENTATIVE, requestor__name="Owen Park",
        requestor__organization="", patient__date_of_birth=timezone.localdate() - timedelta(days=365 * 80),
    )  # fmt: skip
    factories.complete_review(rr, representative={"authority_type": "executor"})
    died = timezone.localdate() - timedelta(days=40)

    page = login(alice)
    _checklist(page, live_server, rr)
    page.get_by_role("button", name="Save and run checklist").click()
    expect(page.get_by_role("status")).to_contain_text("no date of death recorded")

    page.locator("#basis-records").get_by_role("link", name="The patient's page").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Authorizations and representatives")
    death = page.get_by_role("form", name="Date of death")
    death.get_by_label("Date of death").fill((timezone.localdate() + timedelta(days=3)).isoformat())
    death.get_by_role("button", name="Save").click()
    expect(death.locator(".field-error")).to_contain_text("cannot be in the future")
    death.get_by_label("Date of death").fill(died.isoformat())
    death.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Date of death recorded")
    expect(page.locator(".page-head")).to_contain_text(f"died {died:%b} {died.day}, {died.year}")
    page.screenshot(path=str(_shots(tmp_path) / "patient-date-of-death.png"), full_page=True)

    _checklist(page, live_server, rr)
    page.get_by_role("button", name="Save and run checklist").click()
    expect(page.get_by_role("status")).to_contain_text("Validated")
    rr.refresh_from_db()
    assert rr.state == RequestState.VALIDATED
    assert rr.patient.history.first().history_user == alice
