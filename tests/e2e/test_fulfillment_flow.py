"""Quality control and delivery in a real browser: a validated request with a built packet goes to fulfillment, a
second person does QC (the builder may not), it is delivered by portal download, and the link serves the PDF."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from fulfillment.models import Delivery
from tests.fulfillment.test_qc_helpers import authorization_on_file, packet
from workflow.choices import DeliveryMethod, RequestState

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db", "media")]


def test_packet_goes_through_qc_by_a_second_person_and_is_downloaded_by_link(
    live_server, login, page, alice, sam, request_in_state, tmp_path
):
    rr = request_in_state(
        RequestState.VALIDATED, delivery_method=DeliveryMethod.PORTAL_DOWNLOAD, delivery_destination="rosa@example.org"
    )
    authorization_on_file(rr)
    built = packet(rr, builder=alice)

    login(alice)
    page.goto(f"{live_server.url}/requests/{rr.tracking_number}/")
    page.get_by_role("button", name="Start fulfillment").click()
    expect(page.get_by_role("status")).to_contain_text("moved to fulfillment")
    qc_form = page.locator("form.qc-form")
    expect(qc_form).to_contain_text(f"Reviewing packet v{built.version}")
    for box in qc_form.locator("input[type=checkbox]").all():
        box.check()
    qc_form.get_by_role("button", name="Record QC result").click()
    expect(page.get_by_role("status")).to_contain_text("two-person rule")  # Alice built it: she may not pass it

    page.get_by_role("button", name="Sign out").click()
    login(sam)
    page.goto(f"{live_server.url}/requests/{rr.tracking_number}/")
    shots = Path(os.environ.get("ROI_SCREENSHOT_DIR", tmp_path))
    page.locator("section.fulfillment").screenshot(path=str(shots / "qc-checklist.png"))
    qc_form = page.locator("form.qc-form")
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
    expect(link).to_have_text(re.compile(r"/requests/download/"))
    expect(page.locator(".delivery-part")).to_contain_text("0 of 3 downloads")

    page.locator("section.fulfillment").screenshot(path=str(shots / "fulfillment-panel.png"))

    url = live_server.url + re.search(r"/requests/download/[^/]+/", link.inner_text()).group(0)
    response = page.context.request.get(url)
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(response.body()).hexdigest() == built.sha256
    delivery = Delivery.objects.get(request=rr)
    assert delivery.packet == built
    assert delivery.links.get().uses == 1
