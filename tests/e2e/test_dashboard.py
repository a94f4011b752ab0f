"""A supervisor in a real browser: opens the dashboard, follows a figure to the queue behind it, downloads a table
as CSV; the page passes axe-core's WCAG 2.1 A/AA checks (no serious or critical violation)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.axe import assert_accessible
from tests.reporting.datasets import busy_month

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_supervisor_follows_a_dashboard_figure_to_its_queue_and_downloads_a_csv(
    live_server, login, sam, alice, tenant_a, tmp_path
):
    busy_month(tenant_a, [alice, sam])
    page: Page = login(sam)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    assert_accessible(page)

    # The overdue tile says how many; the queue it opens lists exactly those.
    tile = page.locator(".tile").filter(has_text="Overdue")
    overdue = int(tile.locator(".tile-value").inner_text())
    assert overdue > 0
    tile.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/requests/\?overdue=on"))
    expect(page.locator("p.count")).to_have_text(f"{overdue} request{'s' if overdue != 1 else ''} on this page")
    page.go_back()

    # A table as CSV: the same rows as on the page.
    with page.expect_download() as download_info:
        page.locator("#table-staff_load").get_by_role("link", name="CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith(f"{tenant_a.slug}-staff_load-")
    path = tmp_path / "staff_load.csv"
    download.save_as(path)
    lines = path.read_text().splitlines()
    assert lines[1] == "Staff member,Open,Overdue,In exception,Stalled"
    shown = page.locator("#table-staff_load tbody tr")
    expect(shown).to_have_count(len(lines) - 2)
    assert lines[2].startswith(shown.first.locator("th").inner_text())
