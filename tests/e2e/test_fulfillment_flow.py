"""Fulfillment in a real browser, from validated to delivered: the specialist uploads the retrieved records (which
starts fulfillment), confirms the patient and builds the packet; she may not pass her own packet's QC; a second
person does; it is delivered by portal download, and the link serves exactly the packet that passed."""

from __future__ import annotations

import hashlib
import os
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from fulfillment.models import Delivery, ReleasePacket
from tests.e2e.viewer import page_through
from tests.fulfillment.helpers import authorization_on_file
from tests.fulfillment.pdfs import make_pdf
from workflow.choices import DeliveryMethod, RequestState

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db", "media")]


def test_packet_goes_through_qc_by_a_second_person_and_is_downloaded_by_link(
    live_server, login, page, alice, sam, request_in_state, tmp_path
):
    rr = request_in_state(
        RequestState.VALIDATED, delivery_method=DeliveryMethod.PORTAL_DOWNLOAD, delivery_destination="rosa@example.org"
    )
    authorization_on_file(rr)
    records = tmp_path / "discharge-summary.pdf"
    records.write_bytes(make_pdf(2, "Discharge summary page"))

    login(alice)
    page.goto(f"{live_server.url}/requests/{rr.tracking_number}/")
    page.get_by_text("Upload retrieved records").click()
    upload = page.locator("form.document-upload:has(#id_rd_file)")  # intake has a document upload of its own
    upload.get_by_label("File").set_input_files(str(records))
    upload.get_by_label("Came from").select_option("ehr_him")
    upload.get_by_label("Record type").select_option("discharge_summary")
    seen = (rr.scope_date_from or date.today() - timedelta(days=30)) + timedelta(days=1)
    upload.get_by_label("Dates of service from").fill(seen.isoformat())
    upload.get_by_label("to", exact=True).fill(seen.isoformat())
    upload.get_by_role("button", name="Upload").click()
    expect(page.locator("h1 .badge")).to_have_text("In fulfillment")  # the first records started fulfillment
    page.get_by_text("Check pages, leave pages out").click()
    page.get_by_role("button", name="Every page is this patient's").click()
    page.get_by_role("button", name=re.compile(r"Build the packet \(2 record pages\)")).click()
    qc_form = page.locator("form.qc-form")
    expect(qc_form).to_contain_text("Reviewing packet v1")
    built = ReleasePacket.objects.get(request=rr)
    assert (built.version, built.record_pages, built.page_count > 2, built.built_by) == (1, 2, True, alice)
    for box in qc_form.locator("input[type=checkbox]").all():
        box.check()
    qc_form.get_by_role("button", name="Record QC result").click()
    expect(page.get_by_role("status")).to_contain_text("two-person rule")  # Alice built it: she may not pass it

    page.get_by_role("button", name="Sign out").click()
    login(sam)
    page.goto(f"{live_server.url}/requests/{rr.tracking_number}/")
    shots = Path(os.environ.get("ROI_SCREENSHOT_DIR", tmp_path))
    qc_form = page.locator("form.qc-form")
    expect(qc_form).to_contain_text("Reviewing packet v1")  # the release panel loads after the first paint
    # Ticking "I looked at every page" without looking is refused, and says which pages are left.
    for box in qc_form.locator("input[type=checkbox]").all():
        box.check()
    viewer = page.locator("#qc-document-viewer [data-viewer]")
    expect(viewer.locator(".viewer-count")).to_contain_text("Page 1 of 2")
    qc_form.get_by_role("button", name="Record QC result").click()
    expect(page.get_by_role("alert").first).to_contain_text("You have not looked at every page")
    expect(page.locator(".qc-not-shown")).to_contain_text("discharge-summary.pdf: page 2")
    page.locator("#panel-release").screenshot(path=str(shots / "qc-checklist.png"))
    page_through(page, page.locator("#qc-document-viewer [data-viewer]"), pages=2)
    for box in qc_form.locator("input[type=checkbox]").all():
        box.check()
    qc_form.get_by_role("button", name="Record QC result").click()
    expect(page.get_by_role("status")).to_contain_text(f"Quality control passed for packet v{built.version}")
    expect(page.locator(".qc-part")).to_contain_text("QC passed")

    delivery_form = page.locator("form.delivery-form")
    expect(delivery_form.get_by_label("Destination")).to_have_value("rosa@example.org")
    delivery_form.get_by_role("button", name="Record delivery").click()
    expect(page.get_by_role("status")).to_contain_text(f"Request {rr.tracking_number} delivered")
    expect(page.locator("h1 .badge")).to_have_text("Delivered")
    link = page.get_by_test_id("issued-link")
    expect(link).to_have_text(re.compile(r"/download/"))
    expect(page.locator(".delivery-part")).to_contain_text("0 of 3 downloads")

    page.locator("#panel-release").screenshot(path=str(shots / "fulfillment-panel.png"))

    # The link opens the portal's download page, which asks the requestor to verify before a download is counted.
    url = live_server.url + re.search(r"/download/[^/]+/", link.inner_text()).group(0)
    page.goto(url)
    page.get_by_label("Email address, phone number or the patient's date of birth").fill(rr.requestor.email)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download your records").click()
    assert hashlib.sha256(Path(download.value.path()).read_bytes()).hexdigest() == built.sha256
    delivery = Delivery.objects.get(request=rr)
    assert delivery.packet == built
    assert delivery.links.get().uses == 1
