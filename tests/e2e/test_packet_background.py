"""A big packet in a real browser: 200 record pages are built by a real worker while the specialist keeps working
on the request; the panel shows the progress and announces the packet when it is ready."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from fulfillment.models import PacketBuild, ReleaseDocument
from tests.fulfillment.corpus import pdf_pages
from tests.fulfillment.helpers import add
from workflow.choices import RequestState

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.usefixtures("transactional_db", "media")]


def test_a_200_page_packet_builds_in_the_background_while_the_page_stays_usable(
    live_server, login, page, alice, request_in_state, db_worker_queue, settings
):
    settings.PACKET_BUILD_QUEUE = db_worker_queue
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    document = add(rr, alice, pdf_pages(200), name="complete-chart.pdf")

    login(alice)
    page.goto(f"{live_server.url}/requests/{rr.tracking_number}/")
    page.get_by_role("button", name=re.compile(r"Build the packet \(200 record pages\)")).click()
    expect(page.locator(".messages")).to_contain_text("is being built in the background")
    progress = page.locator("#packet-build")
    expect(progress).to_contain_text(re.compile(r"Waiting for the background worker|Building the packet|is ready"))
    if shots := os.environ.get("ROI_SCREENSHOT_DIR"):
        page.locator("#release-documents").screenshot(path=f"{shots}/packet-building.png")

    # Meanwhile the specialist works on the same request: the build holds no lock on it.
    page.get_by_text("Check pages, leave pages out").click()
    page.get_by_role("button", name="Every page is this patient's").click()
    expect(page.locator(".messages")).to_contain_text("patient")
    document.refresh_from_db()
    assert document.patient_confirmed

    # The page came back from that form; the release panel (where the build's progress is) opens again if it closed.
    release = page.locator("#panel-release")
    if not release.evaluate("panel => panel.open"):
        release.locator("summary").click()
    expect(page.locator("#packet-build")).to_contain_text("Packet version 1 is ready", timeout=120_000)
    expect(page.locator("#packet-build")).to_contain_text("200 record pages")
    if shots:
        page.locator("#release-documents").screenshot(path=f"{shots}/packet-ready.png")
    build = PacketBuild.objects.get(request=rr)
    assert (build.state, build.pages_done, build.packet.record_pages) == ("built", 200, 200)
    assert ReleaseDocument.objects.get(pk=document.pk).patient_confirmed
