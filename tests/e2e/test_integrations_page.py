"""The Integrations page in a real browser, as the tenant admin who uses it: she creates a client, issues it a token
whose key she copies from the page it is shown on once, rotates it and revokes the old one; the key works against
the API, the page holds to its content security policy and to WCAG AA."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import expect

from roi.choices import Role
from roi.models import ApiToken, IntegrationClient
from tests import factories
from tests.e2e.axe import assert_accessible
from tests.e2e.csp import RECORD_VIOLATIONS, violations

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_a_tenant_admin_issues_rotates_and_revokes_an_integrations_token(live_server, login, page, tenant_a, tmp_path):
    admin = factories.MembershipFactory(tenant=tenant_a, user__username="ada", role=Role.ADMIN).user
    page.add_init_script(RECORD_VIOLATIONS)
    login(admin)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Integrations").click()
    expect(page.get_by_role("heading", name="Integrations", exact=True)).to_be_visible()

    form = page.locator("#new-client")
    form.get_by_label("Name").fill("Epic interface")
    form.get_by_label("Acts with the permissions of").select_option(Role.SPECIALIST)
    form.get_by_role("button", name="Create client").click()
    expect(page.get_by_role("status").first).to_contain_text("Integration client 'Epic interface' created")

    issue = page.locator("#issue-token")
    issue.get_by_label("Record new requests and their intake").check()
    issue.get_by_label("Expires after (days)").fill("30")
    issue.get_by_role("button", name="Issue token").click()
    key = page.locator("#new-api-key").inner_text()
    assert key.startswith("roi_")
    token = ApiToken.objects.get()
    assert token.scopes == ["read", "intake"]
    assert Client().get("/api/v1/requests/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200
    assert_accessible(page)

    page.reload()
    expect(page.locator("#new-api-key")).to_have_count(0)  # shown once
    page.get_by_role("button", name="Rotate").click()
    expect(page.locator("#new-api-key")).to_have_text(re.compile(r"^roi_"))
    assert page.locator("#new-api-key").inner_text() != key
    expect(page.locator(".api-tokens")).to_contain_text("Rotated")
    page.get_by_role("row").filter(has_text=token.prefix).get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("status").first).to_contain_text(f"Token {token.prefix}... revoked")
    assert Client().get("/api/v1/requests/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
    assert IntegrationClient.objects.get().tokens.count() == 2
    page.screenshot(
        path=str(Path(os.environ.get("ROI_SCREENSHOT_DIR", tmp_path)) / "integration-client.png"), full_page=True
    )
    assert violations(page) == []
