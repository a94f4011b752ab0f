"""The records a release rests on, kept as records of their own rather than ticks on a checklist: the authorization
or directive a request relies on (who signed it, when, until when, whom it names, the document it is on), and a
personal representative's authority (the document and the staff member who checked it).

Recording one of them on a request in exception is how staff fix what the checklist flagged: when every check then
passes, the same action resolves the exception and returns the request to where it was (validating it if it was
waiting at intake), without a second deficiency letter (intake.services.intake_repair).

Revoking an authorization stops releases, so its service lives with the release gate (fulfillment.revocations).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from intake import rules
from intake.choices import AuthorityType, AuthorizationKind
from intake.models import Authorization, IntakeDocument, IntakeReview, RepresentativeAuthority
from roi import clock
from roi.audit import history_stamp
from roi.choices import SUPERVISING_ROLES
from roi.errors import NotPermitted, ServiceError
from roi.models import Tenant
from roi.tenancy import has_role, require_staff
from workflow.choices import OPEN_STATES, RequestorKind, RequestState, SensitiveCategory
from workflow.deadlines import local_date
from workflow.models import Patient, RecordRequest
from workflow.services import request_locked

# The kind of record each basis relies on.
KIND_FOR_BASIS = {rules.AUTHORIZATION: AuthorizationKind.AUTHORIZATION, rules.DIRECTIVE: AuthorizationKind.DIRECTIVE}


# --- Facts for the rules ------------------------------------------------------------------------------------------


def representative_facts(rep: RepresentativeAuthority | None) -> rules.RepresentativeFacts | None:
    if rep is None:
        return None
    return rules.RepresentativeFacts(
        name=rep.name,
        authority_type=rep.authority_type,
        has_document=rep.document_id is not None,
        verified=rep.is_verified,
        ends_on=rep.ends_on,
        declined=rep.declined_at is not None,
    )


def authorization_facts(auth: Authorization | None) -> rules.AuthorizationFacts | None:
    if auth is None:
        return None
    revocation = getattr(auth, "revocation", None)
    return rules.AuthorizationFacts(
        kind=auth.kind,
        signed_on=auth.signed_on,
        recipient=auth.recipient,
        has_document=auth.document_id is not None,
        expires_on=auth.expires_on,
        expiration_event=auth.expiration_event,
        event_occurred_on=auth.expiration_event_occurred_on,
        revoked_on=revocation.received_on if revocation is not None else None,
        covers_psychotherapy_notes=auth.covers_psychotherapy_notes,
        representative=representative_facts(auth.representative),
    )


def review_with_records(*, tenant: Tenant, record_request: RecordRequest) -> IntakeReview | None:
    """The request's review with the records it links to, in one query (marked as loaded so that callers handing it
    on are not read again: intake.services.intake_facts)."""
    review = (
        IntakeReview.objects.for_tenant(tenant)
        .select_related(
            "authorization__representative",
            "authorization__revocation__document__request",
            "authorization__document__request",
            "representative__document__request",
            "representative__verified_by",
        )
        .filter(request_id=record_request.pk)
        .first()
    )
    if review is not None:
        review.records_loaded = True  # type: ignore[attr-defined]  # marks the records as read for this review
    return review


# --- Reads --------------------------------------------------------------------------------------------------------


def patient_authorizations(*, tenant: Tenant, patient: Patient) -> QuerySet[Authorization]:
    """Every authorization and directive of the patient, newest first, with its revocation and representative."""
    return (
        Authorization.objects.for_tenant(tenant)
        .filter(patient=patient)
        .select_related("revocation", "revocation__document", "representative", "document", "recorded_by")
        .order_by("-signed_on", "-id")
    )


def patient_representatives(*, tenant: Tenant, patient: Patient) -> QuerySet[RepresentativeAuthority]:
    return (
        RepresentativeAuthority.objects.for_tenant(tenant)
        .filter(patient=patient)
        .select_related("document", "verified_by", "declined_by")
        .order_by("-verified_at", "-id")
    )


def requests_relying_on(*, tenant: Tenant, authorization: Authorization) -> QuerySet[RecordRequest]:
    return RecordRequest.objects.for_tenant(tenant).filter(intake_review__authorization=authorization)


# --- Writes -------------------------------------------------------------------------------------------------------


def _locked_open_request(tenant: Tenant, record_request: RecordRequest) -> RecordRequest:
    current = request_locked(tenant=tenant, pk=record_request.pk)
    if current.state not in OPEN_STATES:
        raise ServiceError(
            f"This request is {RequestState(current.state).label.lower()}: what it relies on can no longer change."
        )
    return current


def _review(tenant: Tenant, record_request: RecordRequest) -> IntakeReview:
    review = IntakeReview.objects.for_tenant(tenant).select_for_update().filter(request_id=record_request.pk).first()
    return review or IntakeReview(tenant=tenant, request=record_request)


def _document_of(tenant: Tenant, record_request: RecordRequest, document: IntakeDocument | None, what: str) -> Any:
    if document is None:
        raise ServiceError(f"Choose the document {what} is on (upload it to the request first).", field="document")
    if document.tenant_id != tenant.pk or document.request_id != record_request.pk:
        raise ServiceError("Choose a document received with this request.", field="document")
    return document


def representative_record(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    name: str,
    authority_type: str,
    document: IntakeDocument | None,
    ends_on: date | None = None,
    note: str = "",
) -> RepresentativeAuthority:
    """Record a personal representative's authority from a document received with the request, checked by the
    actor: the staff member recording it is the one named as having verified it (164.502(g), 164.514(h)). When the
    request's requestor is the representative (asking for the patient's records), the request relies on it from now
    on; otherwise it is recorded for the patient (a representative who signed an authorization, say)."""
    require_staff(actor, tenant)
    name = (name or "").strip()
    if not name:
        raise ServiceError("Give the representative's name as the document names them.", field="name")
    if authority_type not in AuthorityType.values:
        raise ServiceError("Choose what gives the representative authority.", field="authority_type")
    with transaction.atomic():
        current = _locked_open_request(tenant, record_request)
        document = _document_of(tenant, current, document, "the representative's authority")
        today = local_date(clock.now(), tenant)
        if ends_on is not None and ends_on < today:
            raise ServiceError(
                f"The authority ended on {ends_on:%b %-d, %Y}: it cannot be relied on. Ask for current proof.",
                field="ends_on",
            )
        now = clock.now()
        rep = RepresentativeAuthority(
            tenant=tenant,
            patient=current.patient,
            name=name[:200],
            authority_type=authority_type,
            document=document,
            ends_on=ends_on,
            verified_by=actor,
            verified_at=now,
            note=(note or "").strip()[:300],
        )
        history_stamp(rep, actor)
        rep.save()
        if current.requestor.kind == RequestorKind.PERSONAL_REPRESENTATIVE:
            _link(tenant=tenant, actor=actor, record_request=current, representative=rep)
    return rep


def representative_decline(
    *, tenant: Tenant, actor: Any, representative: RepresentativeAuthority, reason: str
) -> RepresentativeAuthority:
    """A supervisor's professional judgment not to treat this person as the patient's personal representative: a
    reasonable belief that the patient has been or may be subjected to domestic violence, abuse or neglect by them, or
    that treating them as the representative could endanger the patient (164.502(g)(5)). Recorded with who decided,
    when and why; every request relying on them is refused by the checklist and the release gate from then on."""
    if not has_role(actor, tenant, SUPERVISING_ROLES):
        raise NotPermitted("Only a supervisor decides not to treat someone as the patient's representative.")
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(
            "Say why (the belief of abuse, neglect or danger, briefly): it is kept with the decision.", field="reason"
        )
    with transaction.atomic():
        current = (
            RepresentativeAuthority.objects.for_tenant(tenant).select_for_update().filter(pk=representative.pk).first()
        )
        if current is None:
            raise ServiceError("That representative does not exist.")
        if current.declined_at is not None:
            raise ServiceError(f"{current.name} is already not treated as the representative.")
        current.declined_at = clock.now()
        current.declined_by = actor
        current.declined_reason = reason[:300]
        history_stamp(current, actor)
        current.save(update_fields=["declined_at", "declined_by", "declined_reason"])
    return current


def representative_link(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, representative: RepresentativeAuthority
) -> RepresentativeAuthority:
    """The request relies on a representative's authority already recorded for the patient (another request of
    theirs)."""
    require_staff(actor, tenant)
    with transaction.atomic():
        current = _locked_open_request(tenant, record_request)
        if representative.tenant_id != tenant.pk or representative.patient_id != current.patient_id:
            raise ServiceError("Choose a representative recorded for this patient.", field="representative")
        if representative.declined_at is not None:
            raise ServiceError(
                f"{representative.name} is not treated as the patient's representative (45 CFR 164.502(g)(5)).",
                field="representative",
            )
        if not representative.is_verified:
            raise ServiceError(
                "That representative's authority was never checked against a document: record it again from its "
                "document.",
                field="representative",
            )
        _link(tenant=tenant, actor=actor, record_request=current, representative=representative)
    return representative


def _link(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    representative: RepresentativeAuthority | None = None,
    authorization: Authorization | None = None,
) -> IntakeReview:
    review = _review(tenant, record_request)
    if representative is not None:
        review.representative = representative
    if authorization is not None:
        review.authorization = authorization
    review.reviewed_by = actor if getattr(actor, "is_authenticated", False) else None
    review.reviewed_at = clock.now()
    history_stamp(review, actor)
    review.save()
    RecordRequest.objects.for_tenant(tenant).filter(pk=record_request.pk).update(last_activity_at=review.reviewed_at)
    return review


def authorization_record(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    document: IntakeDocument | None,
    signer_name: str,
    signed_on: date | None,
    recipient: str,
    expires_on: date | None = None,
    expiration_event: str = "",
    representative: RepresentativeAuthority | None = None,
    covers_psychotherapy_notes: bool = False,
) -> Authorization:
    """Record the authorization (or, for a patient's directive to a third party, the directive) the request relies
    on, from the signed document received with it, and link the request to it. Its kind follows the request's basis.
    What makes it defective (expired, naming someone else, a representative without proven authority) is the
    checklist's and the release gate's to say; this refuses only what cannot be true of a signed form."""
    require_staff(actor, tenant)
    signer_name, recipient = (signer_name or "").strip(), (recipient or "").strip()
    expiration_event = (expiration_event or "").strip()
    if not signer_name:
        raise ServiceError("Give the name of the person who signed it.", field="signer_name")
    if signed_on is None:
        raise ServiceError(
            "Give the date it was signed. A form with no signature date is a deficiency: run the checklist to ask "
            "for a signed and dated one.",
            field="signed_on",
        )
    if not recipient:
        raise ServiceError("Give the recipient the form names (person or organisation).", field="recipient")
    with transaction.atomic():
        current = _locked_open_request(tenant, record_request)
        basis = rules.basis_for(current.request_type, current.requestor.kind)
        kind = KIND_FOR_BASIS.get(basis)
        if kind is None:
            raise ServiceError(
                f"This request's basis ({rules.BASIS_LABELS[basis]}) relies on no authorization or directive."
            )
        document = _document_of(tenant, current, document, "the signed form")
        if signed_on > local_date(clock.now(), tenant):
            raise ServiceError("The signature date is in the future: check the date on the form.", field="signed_on")
        if expires_on is not None and expires_on < signed_on:
            raise ServiceError("The expiration date is before the signature date: check both.", field="expires_on")
        if representative is not None and (
            representative.tenant_id != tenant.pk or representative.patient_id != current.patient_id
        ):
            raise ServiceError("Choose a representative recorded for this patient.", field="representative")
        auth = Authorization(
            tenant=tenant,
            patient=current.patient,
            kind=kind,
            document=document,
            signer_name=signer_name[:200],
            signed_on=signed_on,
            representative=representative,
            expires_on=expires_on,
            expiration_event=expiration_event[:200],
            recipient=recipient[:300],
            covers_psychotherapy_notes=covers_psychotherapy_notes,
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
            recorded_at=clock.now(),
        )
        history_stamp(auth, actor)
        auth.save()
        _link(tenant=tenant, actor=actor, record_request=current, authorization=auth)
    return auth


def authorization_link(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, authorization: Authorization
) -> Authorization:
    """The request relies on an authorization already recorded for the patient (one form covering several
    requests, say an attorney's follow-up). A revoked one cannot be chosen."""
    require_staff(actor, tenant)
    with transaction.atomic():
        current = _locked_open_request(tenant, record_request)
        if authorization.tenant_id != tenant.pk or authorization.patient_id != current.patient_id:
            raise ServiceError("Choose an authorization recorded for this patient.", field="authorization")
        basis = rules.basis_for(current.request_type, current.requestor.kind)
        if KIND_FOR_BASIS.get(basis) != authorization.kind:
            raise ServiceError(
                f"This request needs a {AuthorizationKind(KIND_FOR_BASIS.get(basis) or authorization.kind).label}.",
                field="authorization",
            )
        if Authorization.objects.for_tenant(tenant).filter(pk=authorization.pk, revocation__isnull=False).exists():
            raise ServiceError(
                "That authorization was revoked: no release can rest on it (45 CFR 164.508(b)(5)).",
                field="authorization",
            )
        _link(tenant=tenant, actor=actor, record_request=current, authorization=authorization)
    return authorization


def authorization_event_occurred(
    *, tenant: Tenant, actor: Any, authorization: Authorization, occurred_on: date
) -> Authorization:
    """Record that an authorization's expiration event ("end of the lawsuit") is known to have occurred: from that day
    it is defective (164.508(b)(2)(i)), for every request relying on it."""
    require_staff(actor, tenant)
    with transaction.atomic():
        try:
            current = Authorization.objects.for_tenant(tenant).select_for_update().get(pk=authorization.pk)
        except Authorization.DoesNotExist:
            raise ServiceError("That authorization does not exist.") from None
        if not current.expiration_event:
            raise ServiceError("This authorization ends on a date, not an event.")
        if occurred_on > local_date(clock.now(), tenant):
            raise ServiceError("The event cannot have occurred in the future.", field="occurred_on")
        if occurred_on < current.signed_on:
            raise ServiceError("The event cannot have occurred before the form was signed.", field="occurred_on")
        current.expiration_event_occurred_on = occurred_on
        history_stamp(current, actor)
        current.save(update_fields=["expiration_event_occurred_on"])
    return current


def consent_record(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, category: str, document: IntakeDocument | None
) -> IntakeReview:
    """Record a sensitive category's specific consent from the signed consent received with the request, at any time
    while the request is open: a category found in the retrieved records after validation gets its consent here, and
    the release gate stops asking for it. The consent is a document checked by the actor, who is recorded as having
    reviewed it (the review's history keeps the change). Psychotherapy notes need an authorization of their own
    instead (164.508(a)(2))."""
    require_staff(actor, tenant)
    if category not in SensitiveCategory.values:
        raise ServiceError("Choose the sensitive category the consent covers.", field="category")
    if category == SensitiveCategory.PSYCHOTHERAPY_NOTES:
        raise ServiceError(
            "Psychotherapy notes are released only on an authorization of their own (45 CFR 164.508(a)(2)): record "
            "it as the request's authorization, on a request for them alone.",
            field="category",
        )
    with transaction.atomic():
        current = _locked_open_request(tenant, record_request)
        document = _document_of(tenant, current, document, "the consent")
        review = _review(tenant, current)
        if category in (review.consents_received or []):
            raise ServiceError(f"A consent for {SensitiveCategory(category).label.lower()} is already on file.")
        review.consents_received = [*(review.consents_received or []), category]
        review.reviewed_by = actor
        review.reviewed_at = clock.now()
        review._change_reason = f"consent on file: {document.original_name}"[:100]
        history_stamp(review, actor)
        review.save()
    return review
