"""The request timeline in a real browser: a specialist adds an internal note, edits it, and filters the timeline to
what was said to the requestor in one click (htmx swaps the timeline in place), with no serious accessibility
violation and nothing the content security policy refuses."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from intake.notices import requestor_notify
from tests import factories
from tests.e2e.axe import axe_violations, describe
from tests.e2e.csp import RECORD_VIOLATIONS
from tests.e2e.csp import violations as csp_violations
from workflow.services import status_call_log

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_specialist_adds_a_note_and_filters_the_timeline(live_server, login, alice, tenant_a, tmp_path, page: Page):
    rr = factories.RecordRequestFactory(tenant=tenant_a, requestor__email="paralegal@hartley.example.com")
    status_call_log(tenant=tenant_a, actor=alice, record_request=rr, caller="requestor", outcome="status_given")
    requestor_notify(tenant=tenant_a, record_request=rr, event="received")
    shots = Path(os.environ.get("ROI_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)

    page.add_init_script(RECORD_VIOLATIONS)
    page.set_viewport_size({"width": 1440, "height": 1000})
    login(alice)
    page.goto(f"{live_server.url}/requests/{rr.tracking_number}/")
    timeline = page.locator("#timeline")

    timeline.get_by_label("Internal note").fill("Called imaging: the films come Tuesday.")
    timeline.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("status")).to_contain_text("Note added.")
    note = timeline.locator("li.timeline-note")
    expect(note).to_contain_text("Called imaging: the films come Tuesday.")
    expect(note).to_contain_text(str(alice))

    note.get_by_text("Edit note").click()
    note.get_by_label("New version of the note").fill("Called imaging: the films come Wednesday.")
    note.get_by_role("button", name="Save new version").click()
    expect(page.get_by_role("status")).to_contain_text("Note edited")
    expect(note).to_contain_text("the films come Wednesday.")
    expect(note.locator(".badge.edited")).to_have_text("edited")
    note.locator(".note-versions summary").click()
    expect(note.locator(".note-versions")).to_contain_text("the films come Tuesday.")

    # One click: what was said to the requestor, swapped in place.
    filters = timeline.get_by_role("navigation", name="Timeline filter")
    with page.expect_response(lambda r: "/timeline/" in r.url and r.request.header_value("hx-request")):
        filters.get_by_role("link", name=re.compile("Communication with the requestor")).click()
    timeline = page.locator("#timeline")
    entries = timeline.locator("ol.timeline > li")
    expect(entries).to_have_count(2)
    expect(entries.nth(0)).to_contain_text("Email to the requestor: Request received")
    expect(entries.nth(1)).to_contain_text("Status call from the requestor")
    expect(timeline.locator("li.timeline-note")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"\?show=communication"))
    expect(timeline.get_by_role("link", name=re.compile("Communication"))).to_have_attribute("aria-current", "true")
    timeline.screenshot(path=str(shots / "timeline-communication.png"))
    page.screenshot(path=str(shots / "timeline-1440.png"), full_page=True)

    found = axe_violations(page)
    assert not found, describe(found)
    assert not csp_violations(page)

    with page.expect_response(lambda r: "/timeline/" in r.url):
        page.locator("#timeline").get_by_role("link", name=re.compile("^Notes")).click()
    expect(page.locator("#timeline ol.timeline > li")).to_have_count(1)
    expect(page.locator("#timeline li.timeline-note")).to_contain_text("Wednesday")
