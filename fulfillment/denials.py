"""Fulfillment: denials of access, 45 CFR 164.524(a) and (d).

- `denial_create`: a supervisor denies a request in full (the `deny` transition, in the same transaction) or in part
  (the request stays open; the withheld documents or pages are left out of the release through PageExclusion and
  ReleaseDocument.excluded_reason = DENIED, which the packets part honours). Either way the denial letter is written
  (fulfillment.denial_letters), kept as an intake Letter, and the requestor is emailed, without PHI, that a letter
  exists (intake.notices, through the notification outbox).
- Who determined it (164.524(a)(3)): a denial on a reviewable basis (danger to life or safety, harm to a person named,
  harm through a personal representative) names the licensed health care professional who made the determination,
  a member the tenant admin designated (roi.services.licensed_professional_designate); the other bases name nobody.
- Review (164.524(a)(4)): only for the reviewable bases. The reviewing official is a designated licensed health care
  professional who took no part in the original decision: neither the supervisor who recorded the denial nor the
  professional who determined it. Checked when a supervisor designates the reviewer and again when the reviewer
  decides (a designation removed meanwhile stops the decision). An overturned partial denial lifts its exclusions;
  an overturned full denial is recorded, and the release is made under a follow-up request, because `denied` is a
  final state of the request.
- The outcome in writing (164.524(d)(4)): deciding the review writes the review decision letter
  (fulfillment.denial_letters), kept as an intake Letter, and emails the requestor, without PHI, that it exists.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from fulfillment import denial_letters
from fulfillment.choices import DenialReviewOutcome, ExclusionReason
from fulfillment.models import Denial, PageExclusion, ReleaseDocument
from intake import rules
from roi import clock
from roi.audit import history_stamp
from roi.choices import SUPERVISING_ROLES
from roi.errors import NotPermitted, ServiceError
from roi.models import Membership, Tenant
from roi.selectors import licensed_professional
from roi.tenancy import has_role, role_in
from workflow.choices import (
    OPEN_STATES,
    REVIEWABLE_DENIALS,
    DenialBasis,
    RequestState,
    is_psychotherapy_notes,
)
from workflow.models import RecordRequest
from workflow.transitions import request_deny

logger = logging.getLogger(__name__)


def is_reviewable(basis: str) -> bool:
    return basis in REVIEWABLE_DENIALS


def review_refusal(basis: str) -> str:
    """Why a review cannot be requested on this basis."""
    label = DenialBasis(basis).label if basis in DenialBasis.values else basis
    return (
        f"This denial cannot be reviewed: its basis ({label}) is one the HIPAA Privacy Rule does not open to review "
        "(45 CFR 164.524(a)(2)). Only denials for danger to life or safety or harm to a person (164.524(a)(3)) "
        "are reviewed by another licensed health care professional."
    )


# --- Withholding pages of a partial denial ---------------------------------------------------------------------


def _withhold(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, denial: Denial, items: list[tuple[int, int, int]]
) -> list[dict[str, Any]]:
    """Leave out the pages of each (document id, first page, last page): the whole document when the range is every
    page (excluded_reason), else a PageExclusion. Returns what is recorded on Denial.withheld."""
    ids = [document_id for document_id, _, _ in items]
    documents = {
        d.pk: d
        for d in ReleaseDocument.objects.for_tenant(tenant)
        .select_for_update()
        .filter(request=record_request, pk__in=ids)
    }
    withheld: list[dict[str, Any]] = []
    now = clock.now()
    note = f"Denial {denial.pk}: {DenialBasis(denial.basis).label}"[:300]
    for document_id, first, last in items:
        document = documents.get(document_id)
        if document is None:
            raise ServiceError("Choose documents of this request to withhold.", field="withheld")
        if document.excluded_reason:
            raise ServiceError(f"{document.original_name} is already left out of the release.", field="withheld")
        if not (1 <= first <= last <= document.page_count):
            raise ServiceError(
                f"{document.original_name} has pages 1 to {document.page_count}: give a range within them.",
                field="withheld",
            )
        if first == 1 and last == document.page_count:
            document.excluded_reason = ExclusionReason.DENIED
            document.excluded_note = note
            history_stamp(document, actor)
            document.save(update_fields=["excluded_reason", "excluded_note"])
            withheld.append({"document": document.pk, "exclusion": None, "first_page": first, "last_page": last})
            continue
        exclusion = PageExclusion(
            tenant=tenant,
            document=document,
            first_page=first,
            last_page=last,
            reason=ExclusionReason.DENIED,
            note=note,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            created_at=now,
        )
        history_stamp(exclusion, actor)
        exclusion.save()
        withheld.append({"document": document.pk, "exclusion": exclusion.pk, "first_page": first, "last_page": last})
    return withheld


def _lift(*, tenant: Tenant, actor: Any, denial: Denial) -> int:
    """Put back in the release what a partial denial withheld (the rows' history keeps the exclusion)."""
    lifted = 0
    for item in denial.withheld:
        if item.get("exclusion"):
            exclusion = (
                PageExclusion.objects.for_tenant(tenant)
                .filter(pk=item["exclusion"], reason=ExclusionReason.DENIED)
                .first()
            )
            if exclusion is not None:
                exclusion._history_user = actor if getattr(actor, "is_authenticated", False) else None
                exclusion.delete()
                lifted += 1
            continue
        document = (
            ReleaseDocument.objects.for_tenant(tenant)
            .filter(pk=item["document"], excluded_reason=ExclusionReason.DENIED)
            .first()
        )
        if document is not None:
            document.excluded_reason = ""
            document.excluded_note = ""
            history_stamp(document, actor)
            document.save(update_fields=["excluded_reason", "excluded_note"])
            lifted += 1
    return lifted


# --- Licensed health care professionals (164.524(a)(3), (a)(4)) ----------------------------------------------------


def _not_designated(tenant: Tenant, person: Any, as_what: str) -> str:
    """Why `person` cannot act `as_what`: not a designated licensed professional of this tenant. A member is named; a
    stranger to the tenant is not (an id from elsewhere must not reveal whose it is)."""
    member = person is not None and Membership.objects.for_tenant(tenant).filter(user_id=person.pk).exists()
    who = str(person) if member else "That person"
    return (
        f"{who} is not designated as a licensed health care professional of this organisation, so cannot be "
        f"{as_what}. A tenant admin designates licensed professionals on the Licensed reviewers page; choose one "
        "of them."
    )


def _determination_check(*, tenant: Tenant, basis: str, determined_by: Any) -> None:
    """164.524(a)(3): a reviewable basis rests on a designated licensed professional's determination; the other bases
    rest on the rule itself, so naming a determination there would record one the law does not ask for."""
    if not is_reviewable(basis):
        if determined_by is not None:
            label = DenialBasis(basis).label
            raise ServiceError(
                f"Leave 'Determined by' empty for this basis ({label}): a licensed health care professional's "
                "determination is part of a denial for danger to life or safety or harm to a person only "
                "(45 CFR 164.524(a)(3)).",
                field="determined_by",
            )
        return
    if determined_by is None:
        raise ServiceError(
            "Name the licensed health care professional who determined that access is likely to cause this harm: a "
            "denial for danger to life or safety or harm to a person rests on that determination "
            "(45 CFR 164.524(a)(3)).",
            field="determined_by",
        )
    if licensed_professional(tenant=tenant, user=determined_by, lock=True) is None:
        raise ServiceError(
            _not_designated(tenant, determined_by, "named as determining a denial"), field="determined_by"
        )


def _reviewer_check(*, tenant: Tenant, denial: Denial, reviewer: Any) -> None:
    """164.524(a)(4): the reviewing official is a designated licensed professional who did not participate in the
    original decision: not the supervisor who recorded it, not the professional who determined it."""
    if reviewer is None or not Membership.objects.for_tenant(tenant).filter(user=reviewer, is_active=True).exists():
        raise ServiceError("Choose a staff member of this organisation as the reviewer.", field="reviewer")
    if reviewer.pk == denial.decided_by_id:
        raise ServiceError(
            "The reviewer must be someone who did not take part in the denial (45 CFR 164.524(a)(4)): "
            f"{reviewer} recorded it.",
            field="reviewer",
        )
    if reviewer.pk == denial.determined_by_id:
        raise ServiceError(
            f"{reviewer} determined this denial: the reviewer must be another licensed health care professional, one "
            "who took no part in the original decision (45 CFR 164.524(a)(4)).",
            field="reviewer",
        )
    if licensed_professional(tenant=tenant, user=reviewer, lock=True) is None:
        raise ServiceError(_not_designated(tenant, reviewer, "the reviewing official"), field="reviewer")


# --- Services --------------------------------------------------------------------------------------------------


def deny_permission_check(*, actor: Any, tenant: Tenant) -> None:
    """A denial, in full or in part, is a supervisor's decision (as the `deny` transition's permission says)."""
    if not has_role(actor, tenant, SUPERVISING_ROLES):
        role = role_in(actor, tenant) or "no role"
        raise NotPermitted(f"Your role ({role}) cannot do this: 'Deny' needs a supervisor or admin.")


def denial_create(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    basis: str,
    scope_denied: str,
    explanation: str,
    partial: bool = False,
    records_location: str = "",
    withheld: list[tuple[int, int, int]] | None = None,
    determined_by: Any = None,
    expected_state: str | None = None,
) -> Denial:
    """Deny access in full (the request moves to `denied`) or in part (it stays open and the rest is released).
    `withheld`: (document id, first page, last page) of a partial denial. `determined_by`: for a reviewable basis,
    the designated licensed health care professional who determined it (164.524(a)(3)); None for the others."""
    if record_request.tenant_id != tenant.pk:
        raise ServiceError("Request not found.")
    if basis not in DenialBasis.values:
        raise ServiceError("Choose the basis for the denial from the list.", field="basis")
    scope_denied, explanation = (scope_denied or "").strip(), (explanation or "").strip()
    records_location = (records_location or "").strip()
    if not scope_denied:
        raise ServiceError("Say what is withheld.", field="scope_denied")
    if not explanation:
        raise ServiceError("Explain the denial in plain language for the letter.", field="explanation")
    deny_permission_check(actor=actor, tenant=tenant)
    if withheld and not partial:
        raise ServiceError("A full denial withholds everything: choose pages only for a denial in part.")
    with transaction.atomic():
        # The designation is read with its row locked: a removal at the same moment either lands first and refuses
        # this denial, or waits until it is recorded.
        _determination_check(tenant=tenant, basis=basis, determined_by=determined_by)
        if partial:
            current = RecordRequest.objects.for_tenant(tenant).select_for_update().get(pk=record_request.pk)
            if expected_state and current.state != expected_state:
                raise ServiceError("This request changed since you opened it. Reload to see the latest.")
            if current.state not in OPEN_STATES:
                state = RequestState(current.state).label.lower()
                raise ServiceError(f"A request that is {state} cannot be denied in part: the rest must be open.")
        else:
            current = request_deny(
                tenant=tenant,
                actor=actor,
                record_request=record_request,
                basis=basis,
                explanation=explanation,
                expected_state=expected_state,
            )
        denial = Denial(
            tenant=tenant,
            request=current,
            basis=basis,
            partial=partial,
            scope_denied=scope_denied[:500],
            explanation=explanation,
            records_location=records_location[:300],
            decided_by=actor,
            decided_at=clock.now(),
            determined_by=determined_by,
        )
        history_stamp(denial, actor)
        denial.save()
        if partial and withheld:
            denial.withheld = _withhold(
                tenant=tenant, actor=actor, record_request=current, denial=denial, items=withheld
            )
        current.patient = record_request.patient
        current.requestor = record_request.requestor
        denial.letter = denial_letters.denial_letter_generate(
            tenant=tenant, actor=actor, record_request=current, denial=denial
        )
        history_stamp(denial, actor)
        denial.save(update_fields=["withheld", "letter"])
    return denial


PSYCHOTHERAPY_SCOPE = "Psychotherapy notes"
PSYCHOTHERAPY_EXPLANATION = (
    "Psychotherapy notes are a therapist's separate notes of counselling sessions, kept apart from the medical record. "
    "The right to see and get a copy of your records does not include them, and this decision cannot be reviewed. "
    "The rest of the records you asked for is being released to you."
)


def psychotherapy_denial_due(*, tenant: Tenant, record_request: RecordRequest) -> bool:
    """A right-of-access request (or a patient's directive) asks for psychotherapy notes and their denial is not
    written yet (164.524(a)(1)(i), (d)(1)-(2)): the release gate holds the first release until it is."""
    return (
        rules.psychotherapy_notes_to_deny(record_request)
        and record_request.state in OPEN_STATES
        and not psychotherapy_denial_written(tenant=tenant, record_request=record_request)
    )


def psychotherapy_denial_written(*, tenant: Tenant, record_request: RecordRequest) -> bool:
    return (
        Denial.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk, basis=DenialBasis.PSYCHOTHERAPY_NOTES)
        .exists()
    )


def psychotherapy_notes_deny(*, tenant: Tenant, actor: Any, record_request: RecordRequest) -> Denial:
    """The routine denial of psychotherapy notes under the right of access: unreviewable (164.524(a)(1)(i), (a)(2)),
    in part (the rest is released), with its letter. A supervisor makes it from the request page or, for a restricted
    request, from the "Restricted request" page, without opening the records (no break-glass, no reassigning): the
    decision turns on what was asked for, not on what the notes say. The psychotherapy notes already retrieved are
    withheld; those retrieved later are left out as they arrive (fulfillment.documents)."""
    deny_permission_check(actor=actor, tenant=tenant)
    with transaction.atomic():
        current = (
            RecordRequest.objects.for_tenant(tenant)
            .select_for_update(of=("self",))
            .select_related("requestor", "patient")
            .get(pk=record_request.pk)
        )
        if not psychotherapy_denial_due(tenant=tenant, record_request=current):
            raise ServiceError(
                "There are no psychotherapy notes to deny on this request: it does not ask for them under the right "
                "of access, it is closed, or their denial is already written."
            )
        notes = ReleaseDocument.objects.for_tenant(tenant).filter(request=current, excluded_reason="")
        withheld = [
            (doc.pk, 1, doc.page_count)
            for doc in notes
            if is_psychotherapy_notes([doc.record_type], doc.sensitive_categories)
        ]
        return denial_create(
            tenant=tenant,
            actor=actor,
            record_request=current,
            basis=DenialBasis.PSYCHOTHERAPY_NOTES,
            scope_denied=PSYCHOTHERAPY_SCOPE,
            explanation=PSYCHOTHERAPY_EXPLANATION,
            partial=True,
            withheld=withheld,
        )


def _locked(tenant: Tenant, denial: Denial) -> Denial:
    try:
        return Denial.objects.for_tenant(tenant).select_for_update().get(pk=denial.pk)
    except Denial.DoesNotExist:
        raise ServiceError("Denial not found.") from None


def denial_review_request(*, tenant: Tenant, actor: Any, denial: Denial) -> Denial:
    """Record that the individual asked for a review (164.524(a)(4)); unreviewable bases are refused with why."""
    with transaction.atomic():
        current = _locked(tenant, denial)
        if not is_reviewable(current.basis):
            raise ServiceError(review_refusal(current.basis))
        if current.review_requested_at is not None:
            raise ServiceError("A review of this denial was already requested.")
        current.review_requested_at = clock.now()
        history_stamp(current, actor)
        current.save(update_fields=["review_requested_at"])
    return current


def denial_reviewer_assign(*, tenant: Tenant, actor: Any, denial: Denial, reviewer: Any) -> Denial:
    """A supervisor designates the reviewing official: a designated licensed health care professional of the tenant
    who took no part in the denial (164.524(a)(4)). A reviewer not yet decided can be replaced (a designation
    removed, an absence)."""
    if not has_role(actor, tenant, SUPERVISING_ROLES):
        raise NotPermitted("A supervisor or admin designates the reviewer.")
    with transaction.atomic():
        current = _locked(tenant, denial)
        if current.review_requested_at is None:
            raise ServiceError("Record that a review was requested first.")
        if current.review_outcome:
            raise ServiceError("This review is already decided.")
        _reviewer_check(tenant=tenant, denial=current, reviewer=reviewer)
        current.reviewer = reviewer
        history_stamp(current, actor)
        current.save(update_fields=["reviewer"])
    return current


def denial_review_decide(*, tenant: Tenant, actor: Any, denial: Denial, outcome: str, note: str) -> tuple[Denial, str]:
    """The reviewer records the outcome; the review decision letter is written and the requestor emailed that it
    exists (164.524(d)(4)). Returns (denial, what staff do next)."""
    note = (note or "").strip()
    if outcome not in DenialReviewOutcome.values:
        raise ServiceError("Choose the outcome of the review.", field="outcome")
    if not note:
        raise ServiceError("Give the reviewer's reasons.", field="note")
    with transaction.atomic():
        current = _locked(tenant, denial)
        if current.reviewer_id is None:
            raise ServiceError("Designate the reviewer first.")
        if current.review_outcome:
            raise ServiceError("This review is already decided.")
        if actor.pk != current.reviewer_id:
            raise NotPermitted("Only the designated reviewer records the outcome of the review.")
        if actor.pk in (current.decided_by_id, current.determined_by_id):
            raise NotPermitted(
                "The reviewer must not have taken part in the denial (45 CFR 164.524(a)(4)): a supervisor designates "
                "another reviewer."
            )
        # The designation counts when the decision is made, not only when the reviewer was chosen.
        if licensed_professional(tenant=tenant, user=actor, lock=True) is None:
            raise NotPermitted(
                "You are no longer designated as a licensed health care professional of this organisation, so you "
                "cannot decide this review (45 CFR 164.524(a)(4)). A supervisor designates another reviewer; a tenant "
                "admin restores designations on the Licensed reviewers page."
            )
        current.review_outcome = outcome
        current.review_note = note
        current.reviewed_at = clock.now()
        record_request = (
            RecordRequest.objects.for_tenant(tenant).select_related("patient", "requestor").get(pk=current.request_id)
        )
        current.review_letter = denial_letters.review_letter_generate(
            tenant=tenant, actor=actor, record_request=record_request, denial=current
        )
        history_stamp(current, actor)
        current.save(update_fields=["review_outcome", "review_note", "reviewed_at", "review_letter"])
        written = "The review decision letter was generated and the requestor told that it exists"
        if outcome == DenialReviewOutcome.UPHELD:
            return current, f"Denial upheld. {written} (45 CFR 164.524(d)(4))."
        if current.partial:
            lifted = _lift(tenant=tenant, actor=actor, denial=current)
            return current, (
                f"Denial overturned: {lifted} withheld item{'s' if lifted != 1 else ''} put back in the release. "
                f"{written}. Rebuild the packet; if the release was already delivered, send the pages as a resend "
                "with 'additional records'."
            )
        return current, (
            f"Denial overturned. {written}. This request stays denied (a final state): open a follow-up request for "
            "the same patient and requestor and release the records under it, citing this review."
        )


def request_denials(*, tenant: Tenant, record_request: RecordRequest) -> QuerySet[Denial]:
    return (
        Denial.objects.for_tenant(tenant)
        .filter(request=record_request)
        .select_related(
            "decided_by", "determined_by", "reviewer", "letter__notification", "review_letter__notification"
        )
        .order_by("decided_at", "id")
    )
