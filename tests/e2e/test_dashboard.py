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
    # One page of results, so the count line is the total alone ("· N on this page" shows only when paged).
    expect(page.locator("#queue-count")).to_have_text(f"{overdue} request{'s' if overdue != 1 else ''}")
    expect(page.locator("table.queue tbody tr")).to_have_count(overdue)
    page.go_back()

    # A table as CSV: the same rows as on the page.
    with page.expect_download() as download_info:
        page.locator("#table-staff_load").get_by_role("link", name="CSV").click()
    download = download_info.value
    assert re.fullmatch(r"staff-load-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename)
    path = tmp_path / "staff_load.csv"
    download.save_as(path)
    lines = path.read_text().splitlines()
    assert lines[0] == "Staff member,Open,Overdue,In exception,Stalled"
    shown = page.locator("#table-staff_load tbody tr")
    expect(shown).to_have_count(len(lines) - 1)
    assert lines[1].startswith(shown.first.locator("th").inner_text())


@pytest.mark.parametrize("width", [1440, 390], ids=["desktop", "phone"])
def test_the_dashboard_on_a_fresh_install_has_a_trend_and_aging_cells_that_open_their_queue(
    live_server, login, sam, alice, tenant_a, tmp_path, width
):
    import os
    from pathlib import Path

    from django.core.management import call_command

    busy_month(tenant_a, [alice, sam])
    call_command("snapshot_metrics", "--days", "84", "--tenant", tenant_a.slug)
    page: Page = login(sam)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/reports/")
    trend = page.locator("section", has=page.get_by_role("heading", name="Trend", level=3))
    expect(trend.locator("svg").first).to_be_visible()
    expect(trend).not_to_contain_text("No daily snapshot with open work yet")
    expect(page.locator(".tile").filter(has_text="Resend rate")).to_contain_text("requests delivered")
    assert_accessible(page)
    shots = Path(os.environ.get("ROI_SCREENSHOT_DIR", tmp_path))
    page.screenshot(path=str(shots / f"dashboard-{width}.png"), full_page=True)

    # An aging cell: the queue of that state and band, with as many requests as the cell says.
    cell = page.locator("#table-open_by_state tbody tr", has_text="Validated").locator("td a").first
    count = int(cell.inner_text())
    cell.click()
    expect(page).to_have_url(re.compile(r"/requests/\?state=validated&aging_band=0"))
    if count:
        expect(page.locator("#queue-count")).to_have_text(f"{count} request{'s' if count != 1 else ''}")
        expect(page.locator("table.queue tbody tr")).to_have_count(count)
