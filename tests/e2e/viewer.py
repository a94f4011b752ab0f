"""Paging through a document in the viewer (static/js/viewer.js) the way a QC reviewer does: with the arrow keys,
waiting for each page to be drawn, since a pass needs every released page shown (fulfillment/qc.py)."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect


def _drawn(page: Page, viewer: Locator, number: int) -> None:
    expect(viewer.locator(".viewer-count")).to_contain_text(f"Page {number} of")
    handle = viewer.locator("[data-viewer-image]").element_handle()
    page.wait_for_function(
        "([image, n]) => image && image.complete && image.naturalWidth > 0 && image.src.includes('?n=' + n + '&size=page')",
        arg=[handle, number],
    )


def page_through(page: Page, viewer: Locator, pages: int) -> None:
    """From page 1 (the viewer opens on it) to the last, one arrow key a page: no clicks."""
    _drawn(page, viewer, 1)
    viewer.focus()
    for number in range(2, pages + 1):
        page.keyboard.press("ArrowRight")
        _drawn(page, viewer, number)
