"""Denials of access (45 CFR 164.524): in full (the deny transition, in the same transaction) and in part (the rest
released, withheld pages excluded), the letter and its email; for the reviewable bases, the designated licensed
professional who determined the denial (a)(3), the review by another designated professional who took no part in it
(a)(4), and the written notice of the review's outcome (d)(4)."""

from __future__ import annotations

import re

import pytest

from fulfillment import denials
from fulfillment.choices import DenialReviewOutcome, ExclusionReason
from fulfillment.models import Denial, PageExclusion
from intake.choices import LetterKind
from intake.models import Letter
from roi.errors import NotPermitted, ServiceError
from roi.models import Membership, Notification
from roi.notifications import notifications_send_pending
from roi.services import licensed_professional_remove
from tests import factories
from tests.fulfillment.factories import ReleaseDocumentFactory
from tests.fulfillment.pdfs import pdf_texts
from tests.portal.translations import english_left
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
def lee(tenant):
    """Dr. Lee: the psychiatrist who determines denials, designated by tenant A's admin."""
    return factories.licensed_professional(tenant=tenant, username="lee", first_name="Morgan", last_name="Lee")


@pytest.fixture
def reviewer(tenant):
    """Dr. Rivera: another staff member of tenant A, designated as a licensed professional."""
    return factories.licensed_professional(
        tenant=tenant, username="rivera", first_name="Inés", last_name="Rivera", credential="Psychologist, PhD, CA"
    )


def _letter_text(letter: Letter) -> str:
    return " ".join(" ".join(pdf_texts(letter.file.read())).split())


def _deny(rr, actor, basis=DenialBasis.ENDANGER_LIFE, **kwargs):
    """A denial by `actor`; a reviewable one determined by Dr. Lee unless the test names someone else."""
    kwargs.setdefault("scope_denied", "Psychiatric progress notes of 2025")
    kwargs.setdefault("explanation", "Our psychiatrist judged that access now is likely to endanger your safety.")
    if "determined_by" not in kwargs and basis in REVIEWABLE_DENIALS:
        kwargs["determined_by"] = factories.licensed_professional(tenant=rr.tenant, username="lee")
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
    assert denial.determined_by.username == "lee"
    assert denial.letter.kind == LetterKind.DENIAL
    assert len(callbacks) == 1  # the email, after commit
    text = _letter_text(denial.letter)
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
    text = _letter_text(denial.letter)
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
    text = _letter_text(denial.letter)
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
        assert not _says(body, private), private


def _says(text: str, words: str) -> bool:
    """`words` appear in `text` as words (a first name "Ann" is not in "cannot")."""
    return re.search(rf"\b{re.escape(words.lower())}\b", text.lower()) is not None


# --- Who determined it: 164.524(a)(3) -----------------------------------------------------------------------------


def test_164_524_a_3_a_reviewable_denial_names_the_licensed_professional_who_determined_it(media, tenant, sam, lee):
    rr = factories.RecordRequestFactory(tenant=tenant)
    for basis in sorted(REVIEWABLE_DENIALS):
        with pytest.raises(ServiceError) as error:
            _deny(rr, sam, basis=basis, determined_by=None)
        assert error.value.field == "determined_by"
        assert "Name the licensed health care professional who determined" in error.value.message
        assert "164.524(a)(3)" in error.value.message
    assert not Denial.objects.exists()
    assert not Letter.objects.exists()
    assert RecordRequest.objects.get(pk=rr.pk).state == S.RECEIVED
    denial = _deny(rr, sam, basis=DenialBasis.HARM_OTHER_PERSON, determined_by=lee)
    assert (denial.determined_by, denial.decided_by) == (lee, sam)
    assert denial.history.first().determined_by_id == lee.pk


def test_164_524_a_3_the_professional_who_determined_it_must_be_designated(media, tenant, sam, alice, charlie, lee):
    rr = factories.RecordRequestFactory(tenant=tenant)
    with pytest.raises(ServiceError) as error:
        _deny(rr, sam, determined_by=alice)
    assert error.value.field == "determined_by"
    assert f"{alice} is not designated as a licensed health care professional" in error.value.message
    assert "Licensed reviewers page" in error.value.message
    # Another organisation's member is refused without being named.
    charlie_membership = Membership.objects.get(user=charlie)
    Membership.objects.filter(pk=charlie_membership.pk).update(is_licensed_professional=True)
    with pytest.raises(ServiceError) as error:
        _deny(rr, sam, determined_by=charlie)
    assert error.value.message.startswith("That person is not designated")
    assert str(charlie) not in error.value.message
    # A designation removed by the admin no longer counts.
    licensed_professional_remove(
        tenant=tenant, actor=Membership.objects.get(user__username="hoyt").user, member_user=lee
    )
    with pytest.raises(ServiceError, match="is not designated"):
        _deny(rr, sam, determined_by=lee)
    assert not Denial.objects.exists()
    assert RecordRequest.objects.get(pk=rr.pk).state == S.RECEIVED


def test_164_524_a_3_an_unreviewable_denial_names_no_determination(media, tenant, sam, lee):
    rr = factories.RecordRequestFactory(tenant=tenant)
    with pytest.raises(ServiceError) as error:
        _deny(rr, sam, basis=DenialBasis.NOT_HELD, records_location="not known", determined_by=lee)
    assert error.value.field == "determined_by"
    assert "Leave 'Determined by' empty for this basis" in error.value.message
    denial = _deny(rr, sam, basis=DenialBasis.NOT_HELD, records_location="not known")
    assert denial.determined_by is None


# --- Review: 164.524(a)(4) ---------------------------------------------------------------------------------------


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


def test_164_524_a_4_the_reviewer_must_be_designated_not_self_attested(media, tenant, sam, alice, reviewer):
    """Alice is a staff member of the tenant who would once have ticked "I am licensed": that is no longer how a
    reviewer qualifies. Only the tenant admin's designation does, and then she may review."""
    denial = _deny(factories.RecordRequestFactory(tenant=tenant), sam)
    denials.denial_review_request(tenant=tenant, actor=sam, denial=denial)
    with pytest.raises(ServiceError) as error:
        denials.denial_reviewer_assign(tenant=tenant, actor=sam, denial=denial, reviewer=alice)
    assert error.value.field == "reviewer"
    assert f"{alice} is not designated as a licensed health care professional" in error.value.message
    assert Denial.objects.get(pk=denial.pk).reviewer is None
    factories.licensed_professional(tenant=tenant, username=alice.username, credential="Registered nurse, CA RN-1")
    denial = denials.denial_reviewer_assign(tenant=tenant, actor=sam, denial=denial, reviewer=alice)
    denial, _ = denials.denial_review_decide(
        tenant=tenant, actor=alice, denial=denial, outcome="upheld", note="The risk stands."
    )
    assert (denial.review_outcome, denial.reviewer) == (DenialReviewOutcome.UPHELD, alice)
    assert denial.reviewer_attested_licensed is False  # the designation is the proof, not a tick


def test_164_524_a_4_the_professional_who_determined_the_denial_cannot_review_it(media, tenant, sam, lee, reviewer):
    denial = _deny(factories.RecordRequestFactory(tenant=tenant), sam, determined_by=lee)
    denials.denial_review_request(tenant=tenant, actor=sam, denial=denial)
    with pytest.raises(ServiceError) as error:
        denials.denial_reviewer_assign(tenant=tenant, actor=sam, denial=denial, reviewer=lee)
    assert error.value.field == "reviewer"
    assert f"{lee} determined this denial" in error.value.message
    assert "took no part in the original decision (45 CFR 164.524(a)(4))" in error.value.message
    assert Denial.objects.get(pk=denial.pk).reviewer is None
    assert (
        denials.denial_reviewer_assign(tenant=tenant, actor=sam, denial=denial, reviewer=reviewer).reviewer == reviewer
    )


def test_164_524_a_4_the_supervisor_who_recorded_the_denial_cannot_review_it_even_when_designated(
    media, tenant, sam, lee
):
    factories.licensed_professional(tenant=tenant, username=sam.username, credential="Physician, MD, CA G-1")
    denial = _deny(factories.RecordRequestFactory(tenant=tenant), sam, determined_by=lee)
    denials.denial_review_request(tenant=tenant, actor=sam, denial=denial)
    with pytest.raises(ServiceError, match="did not take part in the denial"):
        denials.denial_reviewer_assign(tenant=tenant, actor=sam, denial=denial, reviewer=sam)


def test_164_524_a_4_a_designation_removed_before_the_decision_blocks_it(media, tenant, sam, reviewer):
    denial = _in_review(_deny(factories.RecordRequestFactory(tenant=tenant), sam), sam, reviewer)
    admin = Membership.objects.get(user__username="hoyt").user
    licensed_professional_remove(tenant=tenant, actor=admin, member_user=reviewer)
    with pytest.raises(NotPermitted) as error:
        denials.denial_review_decide(tenant=tenant, actor=reviewer, denial=denial, outcome="overturned", note="x")
    assert "no longer designated as a licensed health care professional" in error.value.message
    denial.refresh_from_db()
    assert (denial.review_outcome, denial.reviewed_at, denial.review_letter) == ("", None, None)
    assert not Letter.objects.filter(kind=LetterKind.DENIAL_REVIEW).exists()
    assert not Notification.objects.filter(kind="requestor_denial_reviewed").exists()
    # A supervisor designates another reviewer, who decides.
    other = factories.licensed_professional(tenant=tenant, username="okafor", credential="Psychiatrist, MD, CA B-2")
    denial = denials.denial_reviewer_assign(tenant=tenant, actor=sam, denial=denial, reviewer=other)
    denial, _ = denials.denial_review_decide(tenant=tenant, actor=other, denial=denial, outcome="upheld", note="Agree")
    assert (denial.review_outcome, denial.reviewer) == (DenialReviewOutcome.UPHELD, other)


def test_only_the_designated_reviewer_decides_once(media, tenant, sam, alice, lee, reviewer):
    denial = _in_review(_deny(factories.RecordRequestFactory(tenant=tenant), sam), sam, reviewer)
    decide = denials.denial_review_decide
    for someone_else in (alice, sam, lee):
        with pytest.raises(NotPermitted):
            decide(tenant=tenant, actor=someone_else, denial=denial, outcome="upheld", note="Agree")
    with pytest.raises(ServiceError) as error:
        decide(tenant=tenant, actor=reviewer, denial=denial, outcome="upheld", note=" ")
    assert error.value.field == "note"
    denial, next_step = decide(tenant=tenant, actor=reviewer, denial=denial, outcome="upheld", note="Agree")
    assert denial.review_outcome == DenialReviewOutcome.UPHELD
    assert "upheld" in next_step.lower()
    assert "review decision letter was generated" in next_step
    with pytest.raises(ServiceError, match="already decided"):
        decide(tenant=tenant, actor=reviewer, denial=denial, outcome="overturned", note="x")
    with pytest.raises(ServiceError, match="already decided"):
        denials.denial_reviewer_assign(tenant=tenant, actor=sam, denial=denial, reviewer=lee)


def test_an_overturned_partial_denial_puts_the_pages_back(media, tenant, sam, reviewer, request_in_state):
    rr = request_in_state(S.IN_FULFILLMENT)
    notes = ReleaseDocumentFactory(request=rr, page_count=6)
    whole = ReleaseDocumentFactory(request=rr, page_count=2)
    denial = _deny(rr, sam, partial=True, withheld=[(notes.pk, 2, 4), (whole.pk, 1, 2)])
    denial = _in_review(denial, sam, reviewer)
    _, next_step = denials.denial_review_decide(
        tenant=tenant, actor=reviewer, denial=denial, outcome="overturned", note="Safe now"
    )
    assert not PageExclusion.objects.filter(document=notes).exists()
    whole.refresh_from_db()
    assert whole.excluded_reason == ""
    assert "2 withheld items put back" in next_step


def test_an_overturned_full_denial_is_recorded_and_release_goes_through_a_follow_up(media, tenant, sam, reviewer):
    rr = factories.RecordRequestFactory(tenant=tenant)
    denial = _in_review(_deny(rr, sam), sam, reviewer)
    denial, next_step = denials.denial_review_decide(
        tenant=tenant, actor=reviewer, denial=denial, outcome="overturned", note="Release"
    )
    assert denial.review_outcome == DenialReviewOutcome.OVERTURNED
    assert RecordRequest.objects.get(pk=rr.pk).state == S.DENIED
    assert "follow-up request" in next_step


# --- The outcome in writing: 164.524(d)(4) --------------------------------------------------------------------------


def test_164_524_d_4_the_review_outcome_is_sent_in_writing(media, tenant, sam, reviewer, mailoutbox):
    rr = factories.RecordRequestFactory(tenant=tenant, requestor__email="jw@example.com")
    denial = _in_review(_deny(rr, sam), sam, reviewer)
    denial, _ = denials.denial_review_decide(
        tenant=tenant, actor=reviewer, denial=denial, outcome="upheld", note="Dr. Rivera's private reasoning"
    )
    letter = denial.review_letter
    assert (letter.kind, letter.request_id, letter.generated_by) == (LetterKind.DENIAL_REVIEW, rr.pk, reviewer)
    assert letter.summary == {"denial": denial.pk, "partial": False, "outcome": "upheld"}
    assert Letter.objects.filter(request=rr).count() == 2  # the denial letter, then this one
    text = _letter_text(letter)
    assert "The review of our decision: the denial stands" in text
    assert "agreed with the original decision" in text
    assert "Psychiatric progress notes of 2025" in text
    assert "likely to endanger the life or physical safety" in text
    assert "164.524(d)(4)" in text
    assert "did not take part in the original decision" in text
    assert "Dana Whitfield" in text  # the organisation's privacy officer, for a complaint
    assert "Office for Civil Rights" in text
    assert "200 Independence Avenue" in text
    assert "1-800-368-1019" in text
    assert rr.patient.last_name in text  # the letter is the place for the patient's name
    assert str(reviewer) not in text  # neither the reviewer's name nor reasons: the office's record
    assert "private reasoning" not in text
    # The email: one outbox row, linked from the letter, saying a letter exists and nothing about the patient.
    notice = Notification.objects.get(kind="requestor_denial_reviewed")
    assert (notice.email_to, notice.dedupe_key) == (
        "jw@example.com",
        f"requestor:{rr.pk}:denial_reviewed:denial-review-{denial.pk}",
    )
    assert letter.notification == notice
    assert notice.subject == f"The review of our decision on your records request {rr.tracking_number}"
    assert "the reviewer agreed with our decision, so we still cannot release the records." in notice.body
    assert "how to complain if you disagree" in notice.body
    assert notifications_send_pending() == 2  # the denial's email and this one
    body = mailoutbox[-1].body
    assert rr.tracking_number in body
    for private in (
        rr.patient.first_name,
        rr.patient.last_name,
        "progress notes",
        "endanger",
        str(reviewer),
        "reasoning",
    ):
        assert not _says(body, private), private


def test_164_524_d_4_an_overturned_review_says_the_records_will_be_released(
    media, tenant, sam, reviewer, request_in_state
):
    rr = request_in_state(S.IN_FULFILLMENT, requestor__email="jw@example.com")
    notes = ReleaseDocumentFactory(request=rr, page_count=6)
    denial = _in_review(_deny(rr, sam, partial=True, withheld=[(notes.pk, 2, 4)]), sam, reviewer)
    denial, _ = denials.denial_review_decide(
        tenant=tenant, actor=reviewer, denial=denial, outcome="overturned", note="Safe now"
    )
    text = _letter_text(denial.review_letter)
    assert "the records will be released to you" in text
    assert "decided that you should have access" in text
    assert "putting these records back" in text
    assert "do not need to make a new request" in text
    notice = Notification.objects.get(kind="requestor_denial_reviewed")
    assert "should be released to you" in notice.body
    assert "what happens next" in notice.body


def test_164_524_d_4_an_overturned_full_denial_letter_promises_the_release_without_a_new_request(
    media, tenant, sam, reviewer
):
    rr = factories.RecordRequestFactory(tenant=tenant)
    denial = _in_review(_deny(rr, sam), sam, reviewer)
    denial, _ = denials.denial_review_decide(
        tenant=tenant, actor=reviewer, denial=denial, outcome="overturned", note="Release"
    )
    text = _letter_text(denial.review_letter)
    assert "We will release these records to you" in text
    assert "new tracking number" in text


def test_164_524_d_4_a_spanish_speaking_requestor_is_told_in_spanish(media, tenant, sam, reviewer):
    rr = factories.RecordRequestFactory(tenant=tenant, requestor__email="jw@example.com", requestor__language="es")
    denial = _in_review(_deny(rr, sam), sam, reviewer)
    denials.denial_review_decide(tenant=tenant, actor=reviewer, denial=denial, outcome="upheld", note="Agree")
    notice = Notification.objects.get(kind="requestor_denial_reviewed")
    assert notice.subject == f"La revisión de nuestra decisión sobre su solicitud de expedientes {rr.tracking_number}"
    assert notice.body.startswith("Hola:")
    assert "el revisor estuvo de acuerdo con nuestra decisión" in notice.body
    assert english_left(f"{notice.subject}\n{notice.body}") == []
