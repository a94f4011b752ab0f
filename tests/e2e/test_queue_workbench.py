"""The queue as a day's workbench in a real browser at laptop size (1440 x 900): one line per request and fifteen
or more on the first screen, the keyboard (j/k/Enter, ?, c, /), the skip link, the supervisor's select-all, and
axe-core with no serious violation. Screenshots at 1440 px go to ROI_SCREENSHOT_DIR."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests import factories
from tests.e2e.axe import assert_accessible
from workflow.choices import RequestState, RequestType

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

LAPTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
TYPES = [RequestType.RIGHT_OF_ACCESS, RequestType.LEGAL, RequestType.CONTINUITY_OF_CARE, RequestType.AUTHORIZATION]
REASONS = [
    "Legal due in 2 days; subpoena; requestor hearing on the 14th",
    "3 days overdue; right of access",
    "Internal target passed; in exception 6 days",
    "",
]


def _shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("ROI_SCREENSHOT_DIR", tmp_path))


def _a_days_work(tenant, assignee, count: int = 30) -> list:
    """`count` open requests of every type, urgency and age, the long names and reasons a real queue has."""
    now = timezone.now()
    made = []
    for i in range(count):
        made.append(
            factories.RecordRequestFactory(
                tenant=tenant,
                assignee=assignee,
                request_type=TYPES[i % len(TYPES)],
                state=[RequestState.RECEIVED, RequestState.VALIDATED, RequestState.IN_FULFILLMENT][i % 3],
                received_at=now - timedelta(days=(i * 3) % 40),
                priority_score=100 - i,
                priority_reasons=REASONS[i % len(REASONS)],
                aging_band=min(i // 6, 4),
                is_stalled=i % 7 == 0,
                requestor__organization="Hartley, Moreno & Associates Personal Injury Law" if i % 2 else "",
                patient__last_name="Montgomery-Fitzgerald" if i % 5 == 0 else f"Lee{i}",
            )
        )
    return made


def _visible_rows(page: Page) -> dict:
    return page.evaluate(
        """() => {
            const rows = Array.from(document.querySelectorAll('table.queue tbody tr'));
            const heights = rows.map(r => r.getBoundingClientRect().height);
            const visible = rows.filter(r => r.getBoundingClientRect().bottom <= window.innerHeight).length;
            return {visible, tallest: Math.max(...heights), shortest: Math.min(...heights)};
        }"""
    )


def test_a_specialist_sees_a_screen_of_their_work_and_drives_it_from_the_keyboard(
    live_server, login, page: Page, alice, tenant_a, tmp_path
):
    made = _a_days_work(tenant_a, alice)
    free = factories.RecordRequestFactory(tenant=tenant_a, priority_score=5)  # unassigned: not on "my work"
    page.set_viewport_size(LAPTOP)
    page = login(alice)

    # The first visit is Alice's own open work, with the total of the view.
    expect(page.get_by_role("link", name="My work", exact=True).last).to_have_attribute("aria-current", "page")
    expect(page.locator("#queue-count")).to_have_text("30 requests")
    expect(page.locator("#queue-table").get_by_role("link", name=free.tracking_number)).to_have_count(0)

    # One line per request: every row as tall as the shortest, fifteen or more above the fold.
    sizes = _visible_rows(page)
    assert sizes["tallest"] <= sizes["shortest"] + 1, sizes
    assert sizes["tallest"] < 36, sizes
    assert sizes["visible"] >= 15, sizes
    # The priority's first reason and the aging band are text on the row, not a tooltip.
    first_row = page.locator("table.queue tbody tr").first
    expect(first_row.locator(".priority-why")).to_have_text("Legal due in 2 days")
    expect(first_row.locator(".priority-why")).to_be_visible()
    expect(first_row.locator(".aging-band")).to_be_visible()
    page.screenshot(path=str(_shots(tmp_path) / "queue-specialist-1440.png"))
    assert_accessible(page)

    # On a phone the filters start folded, the first request is on the first screen, each request is a card with
    # its labels, and nothing is wider than the screen.
    page.set_viewport_size(PHONE)
    page.reload()
    expect(page.locator("details.queue-filters")).not_to_have_attribute("open", "")
    expect(first_row.locator(".priority-why")).to_be_visible()
    assert first_row.bounding_box()["y"] < PHONE["height"]
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(_shots(tmp_path) / "queue-specialist-phone.png"), full_page=True)
    assert_accessible(page)
    page.set_viewport_size(LAPTOP)

    # j and k move the row focus; Enter opens the focused request.
    page.keyboard.press("j")
    expect(page.get_by_role("link", name=made[0].tracking_number)).to_be_focused()
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(page.get_by_role("link", name=made[2].tracking_number)).to_be_focused()
    page.keyboard.press("k")
    expect(page.get_by_role("link", name=made[1].tracking_number)).to_be_focused()
    page.screenshot(path=str(_shots(tmp_path) / "queue-row-focus-1440.png"))

    # Not while typing: j in a field is a letter.
    page.get_by_text("Save this view").click()
    page.get_by_label("Name", exact=True).fill("")
    page.get_by_label("Name", exact=True).press("j")
    expect(page.get_by_label("Name", exact=True)).to_have_value("j")
    expect(page.get_by_label("Name", exact=True)).to_be_focused()

    # ? shows the shortcuts; Escape closes them.
    page.get_by_label("Name", exact=True).blur()
    page.keyboard.press("?")
    help_dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_dialog).to_be_visible()
    expect(help_dialog).to_contain_text("claim the next request")
    page.screenshot(path=str(_shots(tmp_path) / "queue-shortcuts-help-1440.png"))
    assert_accessible(page)
    page.keyboard.press("Escape")
    expect(help_dialog).to_be_hidden()

    page.keyboard.press("j")
    page.keyboard.press("j")
    focused = page.evaluate("() => document.activeElement.textContent")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/requests/{focused}/$"))

    # c on the queue claims the next request: the unassigned one.
    page.goto(f"{live_server.url}/requests/")
    page.keyboard.press("c")
    expect(page).to_have_url(re.compile(rf"/requests/{free.tracking_number}/$"))
    expect(page.get_by_role("status")).to_contain_text(f"Request {free.tracking_number} is yours now.")


def test_every_page_has_a_skip_link_and_slash_goes_to_the_search_box(live_server, login, page: Page, alice):
    page.set_viewport_size(LAPTOP)
    page = login(alice)
    page.goto(f"{live_server.url}/requests/new/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("main#content")).to_be_focused()
    # "/" focuses the header search box of every staff page, and the "/" is not typed into it.
    search = page.get_by_role("searchbox", name="Search requests")
    expect(search).not_to_be_focused()
    page.keyboard.press("/")
    expect(search).to_be_focused()
    expect(search).to_have_value("")
    # A page without the box (none is rendered before sign-in completes): "/" does nothing harmful.
    page.evaluate("() => { document.activeElement.blur(); document.querySelector('.site-search').remove(); }")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.keyboard.press("/")
    assert errors == []


def test_a_supervisor_selects_every_row_and_reassigns_them(
    live_server, login, page: Page, sam, alice, tenant_a, tmp_path
):
    made = _a_days_work(tenant_a, None, count=20)
    page.set_viewport_size(LAPTOP)
    page = login(sam)
    expect(page.locator("#queue-count")).to_have_text("20 requests")
    sizes = _visible_rows(page)
    assert sizes["visible"] >= 15, sizes
    page.get_by_label("Select all 20 rows on this page").check()
    expect(page.locator("[data-selected-count]")).to_have_text("20 selected")
    page.get_by_label(f"Select {made[3].tracking_number}").uncheck()
    expect(page.locator("[data-selected-count]")).to_have_text("19 selected")
    expect(page.get_by_label("Select all 20 rows on this page")).not_to_be_checked()
    page.get_by_label(f"Select {made[3].tracking_number}").check()
    expect(page.get_by_label("Select all 20 rows on this page")).to_be_checked()
    page.screenshot(path=str(_shots(tmp_path) / "queue-supervisor-select-all-1440.png"))
    assert_accessible(page)
    page.get_by_label("Assign ticked requests to").select_option(label=str(alice))
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"20 requests assigned to {alice}.")
