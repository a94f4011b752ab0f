"""The staff pages work under their content security policy (no inline script or style): htmx swaps, the behaviour
in static/js/app.js, and the API docs page, in a browser context that does not bypass the policy, and with not one
violation reported by the browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests import factories
from tests.e2e.csp import RECORD_VIOLATIONS, violations
from workflow.choices import RequestState

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

# Runs before any page script (through the DevTools protocol, which the policy does not govern) and keeps every
# violation the browser reports, whether the blocked thing was a script, a style or an event handler attribute.


def test_staff_pages_run_under_the_policy_without_a_violation(
    live_server, login, page: Page, alice, tenant_b, request_in_state
):
    validated = request_in_state(RequestState.VALIDATED)
    in_work = request_in_state(RequestState.IN_FULFILLMENT)
    factories.MembershipFactory(tenant=tenant_b, user=alice)
    page.add_init_script(RECORD_VIOLATIONS)
    page = login(alice)

    response = page.request.get(f"{live_server.url}/requests/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "unsafe-inline" not in response.headers["content-security-policy"]

    # htmx (a static script) swaps the queue table in place; Everything first (a specialist lands on their own work).
    page.get_by_role("link", name="Everything").click()
    table = page.locator("#queue-table")
    with page.expect_response(lambda r: "state=validated" in r.url and r.request.header_value("hx-request")):
        page.get_by_label("State").select_option(label="Validated")
    expect(table.get_by_role("link", name=in_work.tracking_number)).to_have_count(0)
    expect(table.get_by_role("link", name=validated.tracking_number)).to_be_visible()
    assert violations(page) == []

    # The organisation switch submits on change: an onchange attribute before, static/js/app.js now.
    page.get_by_label("Organisation").select_option(label=tenant_b.name)
    expect(page.get_by_label("Organisation")).to_have_value(str(tenant_b.pk))
    expect(page.locator("#queue-table").get_by_role("link", name=validated.tracking_number)).to_have_count(0)
    assert violations(page) == []

    page.goto(f"{live_server.url}/requests/new/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert violations(page) == []

    # Swagger UI: its start-up script comes from /api/docs/?script, its page styles from a stylesheet.
    page.goto(f"{live_server.url}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("OpenROI API")
    expect(page.locator(".opblock").first).to_be_visible()
    assert violations(page) == []
    expect(page).to_have_url(re.compile(r"/api/docs/$"))


def test_the_browser_knows_every_feature_of_the_permissions_policy(live_server, login, page: Page, alice):
    """Chromium reports a feature it does not know as a console error on every page: the policy names only features
    it applies (roi.security.PERMISSIONS_POLICY), on staff pages and portal pages alike."""
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page = login(alice)
    page.goto(f"{live_server.url}/requests/")
    page.goto(f"{live_server.url}/status/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    # The policy is in force: the page may not even ask for the camera.
    assert page.evaluate("() => document.featurePolicy.allowsFeature('camera')") is False
    problems = [text for text in messages if "Permissions-Policy" in text or "feature" in text.lower()]
    assert problems == [], "\n".join(problems)
