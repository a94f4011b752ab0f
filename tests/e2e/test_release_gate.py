"""The release gate in a real browser, as the people who use it: a patient's written revocation is recorded on a
request whose packet already passed QC (the case that once led to an impermissible disclosure). The request goes
into exception with an owner, the gate's verdict on the page names the rule and its citation, Deliver is gone, a
download link already issued under the same authorization no longer works, and the audit trail shows the revocation
with its document. Then a personal representative's authority: recorded from its document and checked by a named
staff member on the checklist page, which validates the request in the same action."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from fulfillment import delivery
from fulfillment.models import Delivery, ReleaseRefusal
from intake.models import IntakeReview, RepresentativeAuthority, Revocation
from roi.choices import Role
from tests import factories
from tests.fulfillment.helpers import authorization_on_file, packet, pass_qc
from tests.fulfillment.pdfs import make_pdf
from workflow.choices import DeliveryMethod, RequestorKind, RequestState, RequestType

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db", "media")]

EMAIL = "records@lawfirm.example.com"


def _shots(tmp_path: Path) -> Path:
    return Path(os.environ.get("ROI_SCREENSHOT_DIR", tmp_path))


def test_a_revocation_after_qc_refuses_the_release_kills_the_link_and_is_audited(
    live_server, login, page, alice, sam, tenant_a, request_in_state, tmp_path
):
    admin = factories.MembershipFactory(tenant=tenant_a, user__username="ada", role=Role.ADMIN).user
    # Two requests of one patient by one law firm, on one authorization: one delivered by link, one QC-passed.
    sent = request_in_state(
        RequestState.IN_FULFILLMENT, delivery_method=DeliveryMethod.PORTAL_DOWNLOAD, delivery_destination=EMAIL,
        assignee=alice,
    )  # fmt: skip
    review = authorization_on_file(sent)
    packet(sent, builder=alice)
    pass_qc(sent, reviewer=sam)
    issued = delivery.delivery_record(
        tenant=tenant_a,
        actor=alice,
        record_request=sent,
        evidence=delivery.Evidence(method=DeliveryMethod.PORTAL_DOWNLOAD, destination=EMAIL),
    )
    ready = request_in_state(
        RequestState.IN_FULFILLMENT, patient=sent.patient, requestor=sent.requestor, assignee=alice,
        delivery_method=DeliveryMethod.PORTAL_DOWNLOAD, delivery_destination=EMAIL,
    )  # fmt: skip
    factories.complete_review(ready, auth=False)
    IntakeReview.objects.filter(request=ready).update(authorization=review.authorization)
    packet(ready, builder=alice)
    pass_qc(ready, reviewer=sam)
    written = tmp_path / "revocation.pdf"
    written.write_bytes(make_pdf(1, "I revoke my authorization to release my records to Hartley & Moss"))

    login(sam)
    page.goto(f"{live_server.url}/requests/{ready.tracking_number}/")
    gate = page.locator("#release-gate")
    expect(gate).to_contain_text("Release allowed now")
    page.get_by_text("Record a written revocation of the authorization").click()
    form = page.locator("form.revoke-form")
    form.get_by_label("Written revocation received on").fill(timezone.localdate(timezone=tenant_a.tzinfo).isoformat())
    form.get_by_label("The written revocation").set_input_files(str(written))
    page.once("dialog", lambda dialog: dialog.accept())  # "every open request relying on it goes into exception"
    form.get_by_role("button", name="Record the revocation").click()

    expect(page.get_by_role("status")).to_contain_text("Revocation recorded.")
    expect(page.get_by_role("status")).to_contain_text(ready.tracking_number)
    expect(page.get_by_role("status")).to_contain_text("1 download link stopped")
    expect(page.locator("h1 .badge")).to_have_text("Exception")
    # In exception the page opens the exception panel; the release panel folds, and opening it shows the gate again.
    expect(page.locator("#panel-exceptions")).to_contain_text("Authorization revoked")
    page.locator("#panel-release > summary").click()
    expect(gate).to_contain_text("Release refused now")
    expect(gate.locator('[data-code="AUTH_REVOKED"]')).to_contain_text("164.508(b)(2)(iii), (b)(5)")
    expect(page.locator("form.delivery-form")).to_have_count(0)
    timeline = page.locator("ol.timeline")
    expect(timeline).to_contain_text("Authorization revoked")
    expect(timeline.get_by_role("link", name="the written revocation")).to_be_visible()
    page.screenshot(path=str(_shots(tmp_path) / "release-gate-revoked.png"), full_page=True)

    revocation = Revocation.objects.get()
    assert revocation.recorded_by == sam
    assert revocation.document.kind == "revocation"
    episode = ready.exception_episodes.get(resolved_at__isnull=True)
    assert (episode.reason, episode.owner) == ("authorization_revoked", alice)

    # The link issued for the other request no longer works for the requestor.
    page.goto(f"{live_server.url}/download/{issued.token}/")
    expect(page.locator("main")).to_contain_text("no longer works")
    assert Delivery.objects.filter(request=ready).count() == 0
    assert not ReleaseRefusal.objects.filter(request=ready).exists()  # nobody tried to release it: nothing refused

    # The audit trail of the request shows the revocation, with its document.
    page.goto(f"{live_server.url}/requests/")
    page.get_by_role("button", name="Sign out").click()
    login(admin)
    page.goto(f"{live_server.url}/reports/audit/requests/{ready.tracking_number}/")
    trail = page.locator("main")
    expect(trail).to_contain_text("Authorization revoked")
    expect(trail).to_contain_text(sam.username)


def test_a_representatives_authority_is_a_document_checked_by_a_named_staff_member(
    live_server, login, page, alice, tenant_a, tmp_path
):
    rr = factories.RecordRequestFactory(
        tenant=tenant_a, request_type=RequestType.RIGHT_OF_ACCESS, intake_completed_at=None, assignee=alice,
        requestor__kind=RequestorKind.PERSONAL_REPRESENTATIVE, requestor__name="Ann Whitlow",
        requestor__organization="",
    )  # fmt: skip
    factories.complete_review(rr, representative=False)
    poa = factories.IntakeDocumentFactory(
        request=rr, tenant=tenant_a, kind="authority", original_name="health-care-poa.pdf"
    )

    login(alice)
    page.goto(f"{live_server.url}/requests/{rr.tracking_number}/intake/")
    records = page.locator("#basis-records")
    expect(records).to_contain_text("Personal representative's authority")
    expect(records).to_contain_text("record the document that gives them that authority")
    # Running the checklist first is refused: the document is on file but nobody recorded and checked it.
    page.get_by_role("button", name="Save and run checklist").click()
    expect(page.get_by_role("status")).to_contain_text("nobody has recorded and checked")
    form = page.locator(f'form[action="/requests/{rr.tracking_number}/intake/representative/"]')
    form.get_by_label("Representative").fill("Ann Whitlow")
    form.get_by_label("Authority", exact=True).select_option("healthcare_poa")
    form.get_by_label("The document that proves it").select_option(str(poa.pk))
    form.get_by_role("button", name="Record and mark checked by me").click()
    expect(form.locator(".field-error")).to_contain_text("Confirm that you checked the document")
    form.get_by_label("I looked at this document").check()
    form.get_by_role("button", name="Record and mark checked by me").click()
    expect(page.get_by_role("status")).to_contain_text("Recorded and checked by you")
    expect(records).to_contain_text(f"checked by {alice}")
    page.screenshot(path=str(_shots(tmp_path) / "representative-recorded.png"), full_page=True)

    page.get_by_role("button", name="Save and run checklist").click()
    expect(page.get_by_role("status")).to_contain_text("Validated")
    rep = RepresentativeAuthority.objects.get(patient=rr.patient)
    assert (rep.document, rep.verified_by, rep.authority_type) == (poa, alice, "healthcare_poa")
    rr.refresh_from_db()
    assert rr.state == RequestState.VALIDATED
    assert IntakeReview.objects.get(request=rr).representative == rep
    assert rep.verified_at > timezone.now() - timedelta(minutes=5)
    # The request page says who acts for the patient, on what authority, and who checked it (in the intake panel,
    # folded once the request is validated).
    expect(page.locator("h1 .badge")).to_have_text("Validated")
    page.locator("#panel-intake > summary").click()
    expect(page.locator("#basis-records")).to_contain_text("Ann Whitlow (health care power of attorney)")
    expect(page.locator("#basis-records")).to_contain_text(f"checked by {alice}")
    page.screenshot(path=str(_shots(tmp_path) / "representative-validated.png"), full_page=True)
