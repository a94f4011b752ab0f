"""Two pages of the release gate's records, used in a real browser as the people who use them: a specialist records
a patient's written revocation from the patient's authorizations page (a revocation dated in the future is refused
on the form and records nothing; the corrected one stops the request relying on it), and a tenant admin designates a
licensed health care professional (a designation without a licence is refused on that member's row)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from intake.models import Revocation
from roi.choices import Role
from roi.models import Membership
from tests import factories
from tests.fulfillment.helpers import authorization_on_file, packet, pass_qc
from tests.fulfillment.pdfs import make_pdf
from workflow.choices import RequestState

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db", "media")]


def _shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("ROI_SCREENSHOT_DIR", tmp_path))


def test_a_revocation_from_the_patients_page_is_refused_when_future_dated_then_stops_the_request(
    live_server, login, page, alice, sam, tenant_a, request_in_state, tmp_path
):
    rr = request_in_state(RequestState.IN_FULFILLMENT, assignee=alice)
    authorization_on_file(rr)
    packet(rr, builder=alice)
    pass_qc(rr, reviewer=sam)
    written = tmp_path / "revocation.pdf"
    written.write_bytes(make_pdf(1, "I revoke my authorization"))
    today = timezone.localdate(timezone=tenant_a.tzinfo)

    login(sam)
    page.goto(f"{live_server.url}/requests/patients/{rr.patient_id}/authorizations/")
    expect(page.get_by_role("heading", name="Authorizations and representatives")).to_be_visible()
    record = page.locator("article.basis-record")
    expect(record).to_contain_text("Not revoked")
    expect(record.get_by_role("link", name=rr.tracking_number)).to_be_visible()

    record.get_by_text("Record a written revocation").click()
    form = record.locator("form.revoke-form")
    form.get_by_label("Written revocation received on").fill((today + timedelta(days=2)).isoformat())
    form.get_by_label("The written revocation").set_input_files(str(written))
    page.once("dialog", lambda dialog: dialog.accept())
    form.get_by_role("button", name="Record the revocation").click()
    # Refused on the form, with the form still open and nothing recorded.
    expect(page.locator(".field-error")).to_contain_text("cannot have been received in the future")
    assert not Revocation.objects.exists()

    form = page.locator("form.revoke-form")
    form.get_by_label("Written revocation received on").fill(today.isoformat())
    form.get_by_label("The written revocation").set_input_files(str(written))
    page.once("dialog", lambda dialog: dialog.accept())
    form.get_by_role("button", name="Record the revocation").click()
    expect(page.get_by_role("status")).to_contain_text("Revocation recorded.")
    expect(page.get_by_role("status")).to_contain_text(rr.tracking_number)
    expect(page.locator("article.basis-record")).to_contain_text("Revoked")
    expect(page.locator("article.basis-record").get_by_role("link", name="the revocation")).to_be_visible()
    page.screenshot(path=str(_shots(tmp_path) / "patient-authorizations-revoked.png"), full_page=True)
    rr.refresh_from_db()
    assert rr.state == RequestState.EXCEPTION
    assert Revocation.objects.get().recorded_by == sam


def test_a_tenant_admin_designates_a_licensed_reviewer_and_a_designation_needs_the_licence(
    live_server, login, page, sam, tenant_a, tmp_path
):
    admin = factories.MembershipFactory(tenant=tenant_a, user__username="ada", role=Role.ADMIN).user
    login(admin)
    page.goto(f"{live_server.url}/staff/licensed-reviewers/")
    table = page.locator("#licensed-reviewers")
    own = table.get_by_role("row").filter(has_text=str(admin))
    expect(own).to_contain_text("Another tenant admin designates you.")
    row = table.get_by_role("row").filter(has_text=str(sam))
    row.get_by_role("button", name="Designate").click()
    row = page.locator("#licensed-reviewers").get_by_role("row").filter(has_text=str(sam))
    expect(row.locator(".field-error")).to_contain_text("Say which licence this person holds")
    assert not Membership.objects.get(tenant=tenant_a, user=sam).is_licensed_professional

    row.get_by_label("Licence (profession, state, number)").fill("Psychiatrist, CA A-123456")
    row.get_by_role("button", name="Designate").click()
    expect(page.get_by_role("status")).to_contain_text("is designated as a licensed health care professional")
    row = page.locator("#licensed-reviewers").get_by_role("row").filter(has_text=str(sam))
    expect(row).to_contain_text("Designated: Psychiatrist, CA A-123456")
    expect(row).to_contain_text(f"by {admin}")
    page.screenshot(path=str(_shots(tmp_path) / "licensed-reviewers.png"), full_page=True)
    membership = Membership.objects.get(tenant=tenant_a, user=sam)
    assert (membership.is_licensed_professional, membership.licensed_designated_by) == (True, admin)
