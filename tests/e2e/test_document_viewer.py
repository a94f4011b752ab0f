"""The document viewer in a real browser: beside the intake checklist at 1440 px, paging with the strip, the buttons
and the arrow keys, zoom and rotation, an excluded page marked in QC's viewer; no CSP violation, axe clean."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from fulfillment.models import PageExclusion
from tests import factories
from tests.e2e.axe import assert_accessible
from tests.e2e.csp import RECORD_VIOLATIONS, violations
from tests.fulfillment.factories import ReleaseDocumentFactory
from tests.fulfillment.helpers import packet
from tests.fulfillment.pdfs import make_pdf
from workflow.choices import RequestState

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db", "media")]


def _shots(tmp_path) -> Path:
    folder = Path(os.environ.get("ROI_SCREENSHOT_DIR", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _loaded(page: Page) -> None:
    """The large page has arrived and been laid out."""
    page.wait_for_function(
        "() => { const i = document.querySelector('[data-viewer-image]'); return i && i.complete && i.naturalWidth > 0 && i.style.width; }"
    )


def test_the_checklist_has_the_viewer_beside_it_and_pages_turn(live_server, login, alice, tenant_a, tmp_path):
    rr = factories.RecordRequestFactory(tenant=tenant_a, incomplete=True, request_type="right_of_access")
    factories.IntakeDocumentFactory(
        request=rr, tenant=tenant_a, pdf=make_pdf(3, "Signed authorization page"), page_count=3,
        original_name="authorization.pdf",
    )  # fmt: skip
    page = login(alice)
    page.add_init_script(RECORD_VIOLATIONS)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/requests/{rr.tracking_number}/intake/")
    viewer = page.locator("[data-viewer]")
    expect(viewer).to_be_visible()
    _loaded(page)
    # Side by side: the viewer's pane starts to the right of the checklist's column, at the same height.
    main = page.locator(".workbench-main").bounding_box()
    pane = page.locator(".workbench-viewer").bounding_box()
    assert pane["x"] >= main["x"] + main["width"]
    assert abs(pane["y"] - main["y"]) < 5
    expect(viewer.locator(".viewer-count")).to_have_text("Page 1 of 3")
    page.screenshot(path=str(_shots(tmp_path) / "viewer-checklist-1440.png"))

    viewer.get_by_role("button", name="Next page").click()
    expect(viewer.locator(".viewer-count")).to_have_text("Page 2 of 3")
    viewer.locator(".viewer-thumb[data-page='3']").click()
    expect(viewer.locator(".viewer-count")).to_have_text("Page 3 of 3")
    expect(viewer.locator(".viewer-thumb[data-page='3']")).to_have_attribute("aria-current", "page")
    viewer.focus()
    page.keyboard.press("ArrowLeft")
    expect(viewer.locator(".viewer-count")).to_have_text("Page 2 of 3")
    _loaded(page)
    width = page.locator("[data-viewer-image]").bounding_box()["width"]
    viewer.get_by_role("button", name="Zoom in").click()
    expect(viewer.locator("[data-viewer-zoom]")).to_have_text("125 %")
    assert page.locator("[data-viewer-image]").bounding_box()["width"] > width * 1.2
    viewer.get_by_role("button", name="Fit width").click()
    viewer.get_by_role("button", name="Rotate the view a quarter turn (the document is not changed)").click()
    canvas = page.locator("[data-viewer-canvas]").bounding_box()
    assert canvas["width"] > canvas["height"], "a portrait page turned a quarter is wider than tall"
    page.screenshot(path=str(_shots(tmp_path) / "viewer-checklist-rotated.png"))
    viewer.get_by_role("button", name="Rotate the view a quarter turn (the document is not changed)").click()

    assert violations(page) == []
    assert_accessible(page)

    # On a phone the viewer follows the checklist, the page fits the screen's width.
    page.set_viewport_size({"width": 390, "height": 844})
    viewer.get_by_role("button", name="Fit width").click()
    _loaded(page)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    assert page.locator("[data-viewer-image]").bounding_box()["width"] <= 390
    link = page.get_by_role("link", name="Open on its own page").bounding_box()
    assert link["x"] + link["width"] <= 390, "the link to the full page is on the screen, not cut off"
    viewer.scroll_into_view_if_needed()
    page.screenshot(path=str(_shots(tmp_path) / "viewer-checklist-phone.png"))
    assert_accessible(page)


def test_qc_shows_a_records_excluded_pages(live_server, login, alice, request_in_state, tmp_path):
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    record = ReleaseDocumentFactory(request=rr, tenant=rr.tenant, page_count=3, original_name="discharge.pdf")
    PageExclusion.objects.create(
        tenant=rr.tenant, document=record, first_page=2, last_page=2, reason="other_patient", created_at=timezone.now()
    )
    packet(rr, builder=alice, documents=[record])
    page = login(alice)
    page.add_init_script(RECORD_VIOLATIONS)
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{live_server.url}/requests/{rr.tracking_number}/")
    # A review is due, so the viewer opens on the packet's first record by itself.
    viewer = page.locator("#qc-document-viewer [data-viewer]")
    expect(viewer.locator(".viewer-count")).to_contain_text("Page 1 of 3")
    expect(viewer.locator(".viewer-thumb[data-page='2'] .viewer-flag-excluded")).to_have_text("Excluded")
    viewer.get_by_role("button", name="Next page").click()
    expect(viewer.locator(".viewer-mark-excluded")).to_have_text("Excluded from the release: Another patient's page")
    _loaded(page)
    page.locator(".qc-part").screenshot(path=str(_shots(tmp_path) / "viewer-qc.png"))
    assert violations(page) == []
    assert_accessible(page)
