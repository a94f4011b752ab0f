"""Quality control of the release packet: every check, the blocked cases, the two-person rule, what a pass and a
failure record, the page, and the one-click QC of the foundation being gone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse

from fulfillment import qc
from fulfillment.models import FulfillmentPolicy, QcReview
from roi import clock
from roi.errors import NotPermitted, ServiceError
from roi.models import Notification
from tests import factories
from tests.fulfillment.helpers import authorization_on_file, document, packet, pass_qc, show_released_pages
from workflow.choices import RecordType, RequestorKind, RequestState, RequestType, SensitiveCategory

S = RequestState
ALL = qc.CHECK_ORDER

pytestmark = pytest.mark.usefixtures("media")


@pytest.fixture
def rr(request_in_state):
    rr = request_in_state(S.IN_FULFILLMENT)
    authorization_on_file(rr)
    return rr


def _review(rr, actor, confirmed=ALL, note=""):
    """The reviewer's review after paging through the packet (tests/fulfillment/test_document_viewer.py has the
    pages-shown rule itself)."""
    if qc.current_packet(tenant=rr.tenant, record_request=rr) is not None:
        show_released_pages(rr, reviewer=actor)
    return qc.qc_review_record(tenant=rr.tenant, actor=actor, record_request=rr, confirmed=confirmed, note=note)


def _codes(review: QcReview) -> set[str]:
    return {failure["code"] for failure in review.failures}


# --- Pass ---------------------------------------------------------------------------------------------------


def test_a_clean_packet_confirmed_by_a_second_person_passes_and_records_it_on_the_request(rr, alice, sam):
    built = packet(rr, builder=alice)
    review = _review(rr, sam)
    assert review.outcome == "passed"
    assert review.packet == built
    assert review.failures == []
    assert review.checks == {code: True for code in ALL}
    rr.refresh_from_db()
    assert rr.qc_passed_by == sam
    assert rr.qc_passed_at == review.reviewed_at
    assert rr.history.first().history_user == sam
    assert review.history.first().history_user == sam


def test_the_builder_cannot_review_their_own_packet(rr, alice):
    packet(rr, builder=alice)
    with pytest.raises(NotPermitted, match="two-person rule"):
        _review(rr, alice)
    assert not QcReview.objects.exists()


def test_the_two_person_rule_can_be_turned_off_by_the_tenant(rr, alice):
    FulfillmentPolicy.objects.update_or_create(tenant=rr.tenant, defaults={"qc_two_person_rule": False})
    packet(rr, builder=alice)
    assert _review(rr, alice).outcome == "passed"


def test_qc_reviews_the_latest_version_not_a_superseded_one(rr, alice, sam):
    old = packet(rr, builder=alice)
    new = packet(rr, builder=alice)
    old.refresh_from_db()
    assert old.superseded_at is not None
    assert _review(rr, sam).packet == new


def test_a_stale_page_reviewing_an_older_version_records_nothing(rr, alice, sam):
    first = packet(rr, builder=alice)
    packet(rr, builder=alice)
    with pytest.raises(ServiceError, match="was built since you opened the page"):
        qc.qc_review_record(tenant=rr.tenant, actor=sam, record_request=rr, confirmed=ALL, packet_version=first.version)
    assert not QcReview.objects.exists()


def test_qc_needs_a_packet_and_a_request_in_fulfillment(request_in_state, alice, sam):
    rr = request_in_state(S.IN_FULFILLMENT)
    with pytest.raises(ServiceError, match="build the packet first"):
        _review(rr, sam)
    validated = request_in_state(S.VALIDATED)
    packet(validated, builder=alice)
    with pytest.raises(ServiceError, match="in fulfillment"):
        _review(validated, sam)


def test_a_newer_version_of_a_delivered_release_is_reviewed_without_undoing_the_delivered_pass(
    request_in_state, alice, sam
):
    rr = request_in_state(S.DELIVERED)  # its release passed QC before delivery
    passed_at = rr.qc_passed_at
    authorization_on_file(rr)
    packet(rr, builder=alice, recipient="Someone Else")  # built for a resend, wrongly addressed
    assert _review(rr, sam).outcome == "failed"
    rr.refresh_from_db()
    assert rr.qc_passed_at == passed_at
    assert rr.state == S.DELIVERED


def test_a_passed_version_is_not_reviewed_again(rr, alice, sam):
    packet(rr, builder=alice)
    pass_qc(rr, reviewer=sam)
    with pytest.raises(ServiceError, match="already passed"):
        _review(rr, sam)


# --- What the reviewer ticks ---------------------------------------------------------------------------------


def test_an_unticked_check_fails_the_packet_with_the_reviewers_note(rr, alice, sam):
    packet(rr, builder=alice)
    review = _review(rr, sam, confirmed=[c for c in ALL if c != qc.PATIENT], note="Page 2 is another patient's")
    assert review.outcome == "failed"
    assert _codes(review) == {qc.PATIENT}
    assert review.note == "Page 2 is another patient's"
    assert review.checks[qc.PATIENT] is False


def test_failing_by_leaving_a_check_unticked_needs_a_note(rr, alice, sam):
    packet(rr, builder=alice)
    with pytest.raises(ServiceError, match="say in the note what is wrong") as error:
        _review(rr, sam, confirmed=[])
    assert error.value.field == "note"
    assert not QcReview.objects.exists()


# --- Computed checks: each blocks whatever is ticked ----------------------------------------------------------


def test_a_document_not_confirmed_as_this_patients_blocks(rr, alice, sam):
    packet(rr, builder=alice, documents=[document(rr), document(rr, patient_confirmed=False, original_name="x.pdf")])
    review = _review(rr, sam)
    assert review.outcome == "failed"
    assert review.failures == [{"code": qc.PATIENT, "message": "x.pdf: not confirmed as this patient's."}]


def test_a_packet_without_records_blocks(rr, alice, sam):
    packet(rr, builder=alice, documents=[])
    assert _codes(_review(rr, sam)) == {qc.PATIENT}


def test_a_record_type_that_was_not_requested_blocks(rr, alice, sam):
    packet(rr, builder=alice, documents=[document(rr, record_type=RecordType.BILLING, original_name="bill.pdf")])
    review = _review(rr, sam)
    assert _codes(review) == {qc.SCOPE}
    assert "bill.pdf: Billing records and itemised bills was not requested." in review.failures[0]["message"]


def test_dates_of_service_outside_the_requested_dates_block(rr, alice, sam):
    before = rr.scope_date_from - timedelta(days=40)
    doc = document(rr, service_date_from=before, service_date_to=before + timedelta(days=2), original_name="old.pdf")
    packet(rr, builder=alice, documents=[doc])
    review = _review(rr, sam)
    assert _codes(review) == {qc.SCOPE}
    assert "fall outside the requested dates" in review.failures[0]["message"]


def test_a_complete_record_set_request_takes_every_record_type(request_in_state, alice, sam):
    rr = request_in_state(S.IN_FULFILLMENT, record_types=[RecordType.COMPLETE])
    authorization_on_file(rr)
    packet(rr, builder=alice, documents=[document(rr, record_type=RecordType.BILLING)])
    assert _review(rr, sam).outcome == "passed"


def _authorization(rr):
    return rr.intake_review.authorization


def test_164_508_b_2_i_an_expired_authorization_blocks(rr, alice, sam):
    auth = _authorization(rr)
    auth.expires_on = date.today() - timedelta(days=2)
    auth.signed_on = auth.expires_on - timedelta(days=30)
    auth.save()
    packet(rr, builder=alice)
    review = _review(rr, sam)
    assert _codes(review) == {qc.BASIS}
    assert "164.508(b)(2)(i)" in review.failures[0]["message"]


def test_authorization_expiry_is_judged_in_the_tenants_calendar(rr, alice, sam):
    # 05:00 UTC on March 2 is still March 1 in Los Angeles (tenant A): an authorization expiring March 1 holds.
    auth = _authorization(rr)
    auth.expires_on = date(2030, 3, 1)
    auth.save()
    packet(rr, builder=alice)
    with clock.frozen(datetime(2030, 3, 2, 5, 0, tzinfo=UTC)):
        assert _review(rr, sam).outcome == "passed"


def test_authorization_expired_the_day_before_in_the_tenants_calendar_blocks(rr, alice, sam):
    auth = _authorization(rr)
    auth.expires_on = date(2030, 3, 1)
    auth.save()
    packet(rr, builder=alice)
    with clock.frozen(datetime(2030, 3, 2, 9, 0, tzinfo=UTC)):  # March 2, 01:00 in Los Angeles
        assert _codes(_review(rr, sam)) == {qc.BASIS}


def test_164_508_b_5_a_revoked_authorization_blocks(rr, alice, sam):
    factories.RevocationFactory(authorization=_authorization(rr), tenant=rr.tenant)
    packet(rr, builder=alice)
    review = _review(rr, sam)
    assert _codes(review) == {qc.BASIS}
    assert "revoked" in review.failures[0]["message"]
    assert "164.508(b)(2)(iii)" in review.failures[0]["message"]


def test_164_508_a_2_psychotherapy_notes_without_their_own_authorization_cannot_pass_whatever_is_ticked(rr, alice, sam):
    rr.intake_review.consents_received = [SensitiveCategory.PSYCHOTHERAPY_NOTES]  # a consent is not enough
    rr.intake_review.save()
    notes = document(rr, sensitive_categories=[SensitiveCategory.PSYCHOTHERAPY_NOTES])
    packet(rr, builder=alice, documents=[notes])
    review = _review(rr, sam, confirmed=ALL)
    assert review.outcome == "failed"
    assert _codes(review) == {qc.SENSITIVE}
    assert "164.508(a)(2)" in review.failures[0]["message"]


def test_psychotherapy_notes_pass_with_an_authorization_for_them_alone(request_in_state, alice, sam):
    rr = request_in_state(S.IN_FULFILLMENT, record_types=[RecordType.PSYCHOTHERAPY_NOTES])
    authorization_on_file(rr, covers_psychotherapy_notes=True)
    notes = document(rr, record_type=RecordType.PSYCHOTHERAPY_NOTES)
    packet(rr, builder=alice, documents=[notes])
    assert _review(rr, sam).outcome == "passed"


def test_164_508_b_3_ii_psychotherapy_notes_and_other_records_under_one_authorization_cannot_pass(
    request_in_state, alice, sam
):
    rr = request_in_state(S.IN_FULFILLMENT, record_types=[RecordType.PSYCHOTHERAPY_NOTES])
    authorization_on_file(rr, covers_psychotherapy_notes=True)
    notes = document(rr, record_type=RecordType.PSYCHOTHERAPY_NOTES)
    other = document(rr, record_type=RecordType.PSYCHOTHERAPY_NOTES, sensitive_categories=[])
    other.record_type = RecordType.DISCHARGE_SUMMARY
    other.save()
    packet(rr, builder=alice, documents=[notes, other])
    review = _review(rr, sam)
    assert qc.SENSITIVE in _codes(review)
    assert any("164.508(b)(3)(ii)" in f["message"] for f in review.failures)


def test_42_cfr_2_31_part2_records_without_the_part2_consent_cannot_pass(rr, alice, sam):
    part2 = document(rr, sensitive_categories=[SensitiveCategory.SUD_PART2])
    packet(rr, builder=alice, documents=[part2], includes_part2=True)
    review = _review(rr, sam)
    assert _codes(review) == {qc.SENSITIVE}
    assert "42 CFR 2.31" in review.failures[0]["message"]


def test_part2_records_pass_with_the_consent_and_the_redisclosure_notice(rr, alice, sam):
    rr.intake_review.consents_received = [SensitiveCategory.SUD_PART2]
    rr.intake_review.save()
    part2 = document(rr, sensitive_categories=[SensitiveCategory.SUD_PART2])
    packet(rr, builder=alice, documents=[part2], includes_part2=False)
    assert any("redisclosure notice" in f["message"] for f in _review(rr, sam).failures)
    packet(rr, builder=alice, documents=[part2], includes_part2=True)
    assert _review(rr, sam).outcome == "passed"


def test_other_sensitive_categories_need_their_consent(rr, alice, sam):
    packet(rr, builder=alice, documents=[document(rr, sensitive_categories=[SensitiveCategory.HIV])])
    assert _codes(_review(rr, sam)) == {qc.SENSITIVE}


def test_164_524_a_1_i_a_patient_receiving_their_own_records_needs_no_consent_but_psychotherapy_notes_stay_out(
    request_in_state, alice, sam
):
    rr = request_in_state(
        S.IN_FULFILLMENT, request_type=RequestType.RIGHT_OF_ACCESS, requestor__kind=RequestorKind.PATIENT
    )
    factories.complete_review(rr)
    packet(rr, builder=alice, documents=[document(rr, sensitive_categories=[SensitiveCategory.HIV])])
    assert _review(rr, sam).outcome == "passed"
    other = request_in_state(
        S.IN_FULFILLMENT, request_type=RequestType.RIGHT_OF_ACCESS, requestor__kind=RequestorKind.PATIENT
    )
    factories.complete_review(other)
    packet(other, builder=alice, documents=[document(other, sensitive_categories=["psychotherapy_notes"])])
    review = _review(other, sam)
    assert _codes(review) == {qc.SENSITIVE}
    assert "164.524(a)(1)(i)" in review.failures[0]["message"]


def test_a_cover_sheet_naming_someone_else_blocks(rr, alice, sam):
    packet(rr, builder=alice, recipient="Acme Insurance Claims")
    review = _review(rr, sam)
    assert _codes(review) == {qc.RECIPIENT}
    assert "Acme Insurance Claims" in review.failures[0]["message"]


def test_a_destination_that_is_not_usable_blocks(request_in_state, alice, sam):
    rr = request_in_state(S.IN_FULFILLMENT)
    authorization_on_file(rr)
    packet(rr, builder=alice)
    rr.delivery_destination = "555-01"  # corrected after validation, badly
    rr.save()
    assert _codes(_review(rr, sam)) == {qc.RECIPIENT}


def test_a_fee_that_holds_the_release_blocks(rr, alice, sam, monkeypatch):
    # The fees part owns release_fee_problem; here it answers as it will for an unpaid prepaid invoice.
    monkeypatch.setattr("fulfillment.invoices.release_fee_problem", lambda **kw: "Invoice INV-1 is unpaid.")
    packet(rr, builder=alice)
    review = _review(rr, sam)
    assert review.failures == [{"code": qc.FEE, "message": "Invoice INV-1 is unpaid."}]


# --- What a failure leaves behind ------------------------------------------------------------------------------


def test_a_failure_clears_qc_and_tells_the_builder_why(rr, alice, sam):
    packet(rr, builder=alice, recipient="Someone Else")
    rr.qc_passed_at, rr.qc_passed_by = clock.now(), sam  # a stale pass of an earlier version
    rr.save()
    review = _review(rr, sam)
    rr.refresh_from_db()
    assert rr.qc_passed_at is None
    assert rr.qc_passed_by is None
    notice = Notification.objects.get(recipient=alice, kind="qc_failed")
    assert rr.tracking_number in notice.subject
    assert review.failures[0]["message"] in notice.body
    assert notice.link == reverse("workflow:detail", args=[rr.tracking_number])
    assert notice.email_to == ""  # in-app only: the reasons name documents


def test_qc_counts_per_period_for_the_error_rate(rr, alice, sam, tenant_a):
    packet(rr, builder=alice, recipient="Someone Else")
    _review(rr, sam)
    packet(rr, builder=alice)
    _review(rr, sam)
    start, end = clock.now() - timedelta(days=40), clock.now() + timedelta(days=1)
    rows = qc.qc_counts_by_period(tenant=tenant_a, start=start, end=end, period="month")
    assert sum(r["passed"] for r in rows) == 1
    assert sum(r["failed"] for r in rows) == 1
    assert sum(r["total"] for r in rows) == 2
    other = factories.TenantFactory(slug="other")
    assert qc.qc_counts_by_period(tenant=other, start=start, end=end) == []


# --- The page -----------------------------------------------------------------------------------------------


def _detail(client, rr) -> str:
    return client.get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()


def test_the_panel_shows_the_checklist_and_the_form_records_a_pass(client_for, rr, alice, sam):
    built = packet(rr, builder=alice)
    client = client_for(sam)
    page = _detail(client, rr)
    assert reverse("fulfillment:qc", args=[rr.tracking_number]) in page
    for label in qc.CHECK_LABELS.values():
        assert label in page
    data = {"packet_version": built.version, **{f"confirm_{code}": "on" for code in ALL}}
    show_released_pages(rr, reviewer=sam)
    response = client.post(reverse("fulfillment:qc", args=[rr.tracking_number]), data)
    assert response.status_code == 302
    rr.refresh_from_db()
    assert rr.qc_passed_by == sam
    assert "QC passed" in _detail(client, rr)


def test_the_panel_shows_the_last_failure_until_a_new_version_passes(client_for, rr, alice, sam):
    first = packet(rr, builder=alice, recipient="Someone Else")
    client = client_for(sam)
    data = {"packet_version": first.version, **{f"confirm_{code}": "on" for code in ALL}}
    client.post(reverse("fulfillment:qc", args=[rr.tracking_number]), data)
    assert "The cover sheet names Someone Else" in _detail(client, rr)
    packet(rr, builder=alice)
    assert "The cover sheet names Someone Else" in _detail(client, rr)  # the new version is not reviewed yet
    pass_qc(rr, reviewer=sam)
    page = _detail(client, rr)
    assert "The cover sheet names Someone Else" not in page
    assert "QC passed" in page


def test_the_builder_posting_the_form_is_refused_and_sees_why(client_for, rr, alice):
    built = packet(rr, builder=alice)
    data = {"packet_version": built.version, **{f"confirm_{code}": "on" for code in ALL}}
    response = client_for(alice).post(reverse("fulfillment:qc", args=[rr.tracking_number]), data)
    assert response.status_code == 403
    assert "two-person rule" in response.content.decode()
    assert not QcReview.objects.exists()


def test_an_unticked_form_without_a_note_keeps_the_ticks_and_asks_for_the_note(client_for, rr, alice, sam):
    built = packet(rr, builder=alice)
    data = {"packet_version": built.version, "confirm_patient": "on"}
    response = client_for(sam).post(reverse("fulfillment:qc", args=[rr.tracking_number]), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert 'name="confirm_patient" id="id_qc_confirm_patient" checked' in page
    assert "say in the note what is wrong" in page


def test_another_tenants_user_gets_404_and_no_membership_gets_403(client_for, rr, alice, charlie):
    built = packet(rr, builder=alice)
    data = {"packet_version": built.version, **{f"confirm_{code}": "on" for code in ALL}}
    url = reverse("fulfillment:qc", args=[rr.tracking_number])
    assert client_for(charlie).post(url, data).status_code == 404
    outsider = factories.UserFactory(username="outsider")
    assert client_for(outsider).post(url, data).status_code == 403
    assert not QcReview.objects.exists()


# --- The foundation's one-click QC is gone --------------------------------------------------------------------


def test_the_one_click_qc_page_and_api_action_are_gone(client_for, request_in_state, sam):
    rr = request_in_state(S.IN_FULFILLMENT)
    client = client_for(sam)
    assert client.post(f"/requests/{rr.tracking_number}/qc/").status_code == 404
    api = client.post(f"/api/v1/requests/{rr.tracking_number}/record-qc/", content_type="application/json")
    assert api.status_code == 404
    assert "Record QC passed" not in _detail(client, rr)
    rr.refresh_from_db()
    assert rr.qc_passed_at is None
    schema = client.get("/api/schema/", {"format": "json"}).json()
    assert not any("record-qc" in path for path in schema["paths"])
