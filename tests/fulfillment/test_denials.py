"""Denials of access (45 CFR 164.524): in full (the deny transition, in the same transaction) and in part (the rest
released, withheld pages excluded), the letter and its email, and the review by another licensed professional."""

from __future__ import annotations

import pytest

from fulfillment import denials
from fulfillment.choices import DenialReviewOutcome, ExclusionReason
from fulfillment.models import Denial, PageExclusion
from intake.choices import LetterKind
from intake.models import Letter
from roi.choices import Role
from roi.errors import NotPermitted, ServiceError
from roi.models import Notification
from roi.notifications import notifications_send_pending
from tests import factories
from tests.fulfillment.factories import ReleaseDocumentFactory
from tests.fulfillment.pdfs import pdf_texts
from workflow.choices import REVIEWABLE_DENIALS, DenialBasis, RequestState
from workflow.models import RecordRequest, RequestTransition

S = RequestState
REVIEW_WORDS = "licensed health care professional"


@pytest.fixture
def tenant(tenant_a):
    tenant_a.privacy_officer = "Dana Whitfield, Privacy Officer"
    tenant_a.him_phone = "(555) 010-2000"
    tenant_a.save()
    return tenant_a


@pytest.fixture
def reviewer(tenant):
    """Dr. Rivera: another staff member of tenant A, a licensed professional."""
    return factories.MembershipFactory(tenant=tenant, user__username="rivera", role=Role.SPECIALIST).user


def _letter_text(denial: Denial) -> str:
    return " ".join(" ".join(pdf_texts(denial.letter.file.read())).split())


def _deny(rr, actor, basis=DenialBasis.ENDANGER_LIFE, **kwargs):
    kwargs.setdefault("scope_denied", "Psychiatric progress notes of 2025")
    kwargs.setdefault("explanation", "Our psychiatrist judged that access now is likely to endanger your safety.")
    return denials.denial_create(tenant=rr.tenant, actor=actor, record_request=rr, basis=basis, **kwargs)


def test_a_full_denial_moves_the_request_writes_the_log_row_and_the_letter(
    media, tenant, sam, django_capture_on_commit_callbacks
):
    rr = factories.RecordRequestFactory(tenant=tenant, request_type="right_of_access", requestor__kind="patient")
    with django_capture_on_commit_callbacks() as callbacks:
        denial = _deny(rr, sam, expected_state=S.RECEIVED)
    rr.refresh_from_db()
    assert (rr.state, rr.denial_basis) == (S.DENIED, DenialBasis.ENDANGER_LIFE)
    row = RequestTransition.objects.get(request=rr)
    assert (row.transition, row.from_state, row.to_state, row.actor) == ("deny", S.RECEIVED, S.DENIED, sam)
    assert row.reason.startswith("Our psychiatrist")
    assert not denial.partial
    assert denial.letter.kind == LetterKind.DENIAL
    assert len(callbacks) == 1  # the email, after commit
    text = _letter_text(denial)
    assert "We cannot release the records you asked for" in text
    assert "likely to endanger the life or physical safety" in text
    assert "Psychiatric progress notes of 2025" in text
    assert REVIEW_WORDS in text
    assert "did not take part" in text
    assert "Dana Whitfield" in text
    assert "(555) 010-2000" in text
    assert "Office for Civil Rights" in text
    assert "1-800-368-1019" in text


@pytest.mark.parametrize("basis", list(DenialBasis))
def test_the_review_paragraph_appears_only_for_reviewable_bases(media, tenant, sam, basis):
    rr = factories.RecordRequestFactory(tenant=tenant)
    denial = _deny(rr, sam, basis=basis, records_location="Springfield Clinic, 4 Elm St")
    text = _letter_text(denial)
    assert ("Your right to have this decision reviewed" in text) is (basis in REVIEWABLE_DENIALS)
    assert "Office for Civil Rights" in text
    assert ("Springfield Clinic, 4 Elm St" in text) is (basis == DenialBasis.NOT_HELD)


def test_only_a_supervisor_denies(media, tenant, alice):
    rr = factories.RecordRequestFactory(tenant=tenant)
    with pytest.raises(NotPermitted):
        _deny(rr, alice)
    with pytest.raises(NotPermitted):
        _deny(rr, alice, partial=True)
    assert not Denial.objects.exists()
    assert not Letter.objects.exists()
    assert RecordRequest.objects.get(pk=rr.pk).state == S.RECEIVED


def test_a_failed_transition_leaves_no_denial_and_no_letter(media, tenant, sam, request_in_state):
    rr = request_in_state(S.IN_FULFILLMENT)
    with pytest.raises(ServiceError):
        _deny(rr, sam)
    assert not Denial.objects.exists()
    assert not Letter.objects.exists()


def test_a_partial_denial_keeps_the_request_open_and_excludes_the_withheld_pages(media, tenant, sam, request_in_state):
    rr = request_in_state(S.IN_FULFILLMENT, request_type="right_of_access")
    notes = ReleaseDocumentFactory(request=rr, page_count=6)
    whole = ReleaseDocumentFactory(request=rr, page_count=2)
    kept = ReleaseDocumentFactory(request=rr, page_count=3)
    denial = _deny(rr, sam, partial=True, withheld=[(notes.pk, 2, 4), (whole.pk, 1, 2)])
    rr.refresh_from_db()
    assert rr.state == S.IN_FULFILLMENT
    assert rr.denial_basis == ""
    exclusion = PageExclusion.objects.get(document=notes)
    assert (exclusion.first_page, exclusion.last_page, exclusion.reason) == (2, 4, ExclusionReason.DENIED)
    whole.refresh_from_db()
    kept.refresh_from_db()
    assert whole.excluded_reason == ExclusionReason.DENIED
    assert kept.excluded_reason == ""
    text = _letter_text(denial)
    assert "We cannot release part of the records you asked for" in text
    assert "We will send you the rest" in text


def test_a_partial_denial_refuses_pages_outside_the_document(media, tenant, sam, request_in_state):
    rr = request_in_state(S.IN_FULFILLMENT)
    document = ReleaseDocumentFactory(request=rr, page_count=3)
    with pytest.raises(ServiceError) as error:
        _deny(rr, sam, partial=True, withheld=[(document.pk, 2, 5)])
    assert "pages 1 to 3" in error.value.message
    assert not PageExclusion.objects.exists()
    assert not Denial.objects.exists()


def test_the_email_says_a_letter_exists_and_nothing_about_the_patient(media, tenant, sam, mailoutbox):
    rr = factories.RecordRequestFactory(tenant=tenant)
    denial = _deny(rr, sam)
    notice = Notification.objects.get(email_to=rr.requestor.email, kind="requestor_denied")
    assert denial.letter.notification == notice  # the request page shows whether it went out
    assert notifications_send_pending() == 1
    assert notifications_send_pending() == 0  # once
    message = mailoutbox[0]
    assert rr.tracking_number in message.subject
    body = message.body
    assert rr.tracking_number in body
    for private in (rr.patient.first_name, rr.patient.last_name, "progress notes", "endanger", "psychiatrist"):
        assert private.lower() not in body.lower()


# --- Review --------------------------------------------------------------------------------------------------


def test_an_unreviewable_denial_refuses_a_review_with_the_reason(media, tenant, sam):
    denial = _deny(factories.RecordRequestFactory(tenant=tenant), sam, basis=DenialBasis.PSYCHOTHERAPY_NOTES)
    with pytest.raises(ServiceError) as error:
        denials.denial_review_request(tenant=tenant, actor=sam, denial=denial)
    assert "cannot be reviewed" in error.value.message
    assert "164.524(a)(2)" in error.value.message


def test_the_reviewer_is_another_staff_member_of_the_tenant(media, tenant, sam, alice, charlie, reviewer):
    denial = _deny(factories.RecordRequestFactory(tenant=tenant), sam)
    with pytest.raises(ServiceError):  # nobody asked yet
        denials.denial_reviewer_assign(tenant=tenant, actor=sam, denial=denial, reviewer=reviewer)
    denials.denial_review_request(tenant=tenant, actor=alice, denial=denial)
    with pytest.raises(ServiceError, match="did not take part"):
        denials.denial_reviewer_assign(tenant=tenant, actor=sam, denial=denial, reviewer=sam)
    with pytest.raises(ServiceError, match="staff member of this organisation"):
        denials.denial_reviewer_assign(tenant=tenant, actor=sam, denial=denial, reviewer=charlie)
    with pytest.raises(NotPermitted):
        denials.denial_reviewer_assign(tenant=tenant, actor=alice, denial=denial, reviewer=reviewer)
    assert (
        denials.denial_reviewer_assign(tenant=tenant, actor=sam, denial=denial, reviewer=reviewer).reviewer == reviewer
    )


def _in_review(denial, sam, reviewer):
    denials.denial_review_request(tenant=denial.tenant, actor=sam, denial=denial)
    return denials.denial_reviewer_assign(tenant=denial.tenant, actor=sam, denial=denial, reviewer=reviewer)


def test_only_the_reviewer_decides_and_must_attest_being_licensed(media, tenant, sam, alice, reviewer):
    denial = _in_review(_deny(factories.RecordRequestFactory(tenant=tenant), sam), sam, reviewer)
    decide = denials.denial_review_decide
    with pytest.raises(NotPermitted):
        decide(tenant=tenant, actor=alice, denial=denial, outcome="upheld", note="Agree", attests_licensed=True)
    with pytest.raises(ServiceError) as error:
        decide(tenant=tenant, actor=reviewer, denial=denial, outcome="upheld", note="Agree", attests_licensed=False)
    assert error.value.field == "attests_licensed"
    denial, next_step = decide(
        tenant=tenant, actor=reviewer, denial=denial, outcome="upheld", note="Agree", attests_licensed=True
    )
    assert (denial.review_outcome, denial.reviewer_attested_licensed) == (DenialReviewOutcome.UPHELD, True)
    assert "upheld" in next_step.lower()
    with pytest.raises(ServiceError, match="already decided"):
        decide(tenant=tenant, actor=reviewer, denial=denial, outcome="overturned", note="x", attests_licensed=True)


def test_an_overturned_partial_denial_puts_the_pages_back(media, tenant, sam, reviewer, request_in_state):
    rr = request_in_state(S.IN_FULFILLMENT)
    notes = ReleaseDocumentFactory(request=rr, page_count=6)
    whole = ReleaseDocumentFactory(request=rr, page_count=2)
    denial = _deny(rr, sam, partial=True, withheld=[(notes.pk, 2, 4), (whole.pk, 1, 2)])
    denial = _in_review(denial, sam, reviewer)
    _, next_step = denials.denial_review_decide(
        tenant=tenant, actor=reviewer, denial=denial, outcome="overturned", note="Safe now", attests_licensed=True
    )
    assert not PageExclusion.objects.filter(document=notes).exists()
    whole.refresh_from_db()
    assert whole.excluded_reason == ""
    assert "2 withheld items put back" in next_step


def test_an_overturned_full_denial_is_recorded_and_release_goes_through_a_follow_up(media, tenant, sam, reviewer):
    rr = factories.RecordRequestFactory(tenant=tenant)
    denial = _in_review(_deny(rr, sam), sam, reviewer)
    denial, next_step = denials.denial_review_decide(
        tenant=tenant, actor=reviewer, denial=denial, outcome="overturned", note="Release", attests_licensed=True
    )
    assert denial.review_outcome == DenialReviewOutcome.OVERTURNED
    assert RecordRequest.objects.get(pk=rr.pk).state == S.DENIED
    assert "follow-up request" in next_step
