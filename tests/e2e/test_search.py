"""The search box in the header of every staff page, in a real browser: typed into, submitted with Enter, the
results as queue rows, the page accessible and within the content security policy."""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.e2e.axe import assert_accessible
from tests.e2e.csp import RECORD_VIOLATIONS, violations

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]
PHONE = {"width": 390, "height": 844}


def test_a_specialist_finds_a_request_from_the_header_box(
    live_server, login, page, alice, tenant_a, tenant_b, tmp_path
):
    page.set_viewport_size({"width": 1440, "height": 900})
    page.add_init_script(RECORD_VIOLATIONS)
    wanted = [
        factories.RecordRequestFactory(
            tenant=tenant_a, patient__first_name="John", patient__last_name="Smith",
            patient__date_of_birth=date(1961, 3, 14),
        ),
        factories.RecordRequestFactory(
            tenant=tenant_a, patient__first_name="Jon", patient__last_name="Smyth",
            patient__date_of_birth=date(1970, 8, 2),
        ),
    ]  # fmt: skip
    factories.RecordRequestFactory(tenant=tenant_a, patient__first_name="Maria", patient__last_name="Garcia")
    theirs = factories.RecordRequestFactory(tenant=tenant_b, patient__first_name="John", patient__last_name="Smith")

    login(alice)
    box = page.get_by_role("searchbox", name="Search requests")
    box.fill("Smith, Jonh")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/requests/search/\?q="))
    expect(page.get_by_role("heading", name="Search requests")).to_be_visible()
    summary = page.locator(".search-summary")
    expect(summary).to_contain_text("found")
    expect(summary).to_contain_text("patient name")
    table = page.locator("#queue-table")
    expect(table.get_by_role("link", name=wanted[0].tracking_number)).to_be_visible()
    expect(table.get_by_text(theirs.tracking_number)).to_have_count(0)
    expect(page.get_by_role("searchbox", name="Search requests")).to_have_value("Smith, Jonh")
    page.screenshot(
        path=str(Path(os.environ.get("ROI_SCREENSHOT_DIR", tmp_path)) / "search-results.png"), full_page=True
    )
    assert_accessible(page)

    # On a phone the results reflow: each row a card, nothing wider than the screen.
    page.set_viewport_size(PHONE)
    expect(table.get_by_role("link", name=wanted[0].tracking_number)).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(
        path=str(Path(os.environ.get("ROI_SCREENSHOT_DIR", tmp_path)) / "search-results-phone.png"), full_page=True
    )
    assert_accessible(page)
    page.set_viewport_size({"width": 1440, "height": 900})

    # A tracking number typed in lower case without hyphens opens the request itself.
    box = page.get_by_role("searchbox", name="Search requests")
    box.fill(wanted[1].tracking_number.lower().replace("-", ""))
    box.press("Enter")
    expect(page).to_have_url(re.compile(rf"/requests/{wanted[1].tracking_number}/$"))

    # A miss says so, and lists nothing.
    box = page.get_by_role("searchbox", name="Search requests")
    box.fill("Quackenbush")
    box.press("Enter")
    expect(page.locator(".search-summary")).to_contain_text("No request matches")
    expect(page.locator("#queue-table")).to_have_count(0)
    page.screenshot(path=str(Path(os.environ.get("ROI_SCREENSHOT_DIR", tmp_path)) / "search-miss.png"), full_page=True)
    assert_accessible(page)
    assert violations(page) == []
