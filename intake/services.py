"""Intake services: one way in for every channel, the checklist, duplicates, extensions.

`intake_receive` is what the staff form, mail and fax ingestion, the API and the portal all call: it matches or
creates the patient and the requestor, computes the legal due date with the deadline engine, records the request in
`received`, keeps its documents, flags possible duplicates and sends the acknowledgment letter. `intake_complete`
runs the checklist: every check passes, the request is validated; otherwise an exception episode opens with the
deficiency as its reason, the right next step and a due date, and the deficiency letter goes out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse

from exceptions import services as exception_services
from exceptions.choices import ExceptionReason
from exceptions.models import ExceptionEpisode
from intake import bases, deadlines, letters, notices, rules
from intake.authorizations import authorization_facts, representative_facts, review_with_records
from intake.choices import LetterKind, NoticeEvent
from intake.models import ConsentRule, Extension, IntakeDocument, IntakeReview, JurisdictionRule, Letter
from intake.patients import is_unidentified_patient
from roi import clock
from roi.audit import history_stamp
from roi.choices import SUPERVISING_ROLES
from roi.errors import NotPermitted, ServiceError
from roi.models import Tenant
from roi.notifications import notify
from roi.selectors import supervisors
from roi.tenancy import has_role, require_staff
from workflow import services as workflow_services
from workflow import transitions
from workflow.choices import (
    OPEN_STATES,
    RequestState,
    RequestType,
    with_implied_categories,
)
from workflow.deadlines import local_date
from workflow.models import Patient, RecordRequest, Requestor

T = TypeVar("T")

# --- Receiving a request ----------------------------------------------------------------------------------


@dataclass
class IncomingDocument:
    """A document arriving with a request, from any channel (an upload, an email attachment, an API payload)."""

    uploaded_file: Any  # a Django File / UploadedFile
    kind: str
    source: str
    note: str = ""


def patient_match_or_create(
    *, tenant: Tenant, actor: Any, mrn: str = "", first_name: str, last_name: str, date_of_birth: date
) -> Patient:
    """Find the patient by MRN, or by last name, first initial and date of birth; create one if none matches.

    An MRN that exists with other demographics is refused rather than silently attached to the wrong patient.
    Placeholder patients are nobody in particular (intake/patients.py): details that look like one never match it.
    """
    mrn = (mrn or "").strip()
    patients = Patient.objects.for_tenant(tenant).filter(is_placeholder=False)
    if mrn:
        existing = patients.filter(mrn=mrn).first()
        if existing is not None:
            if (
                existing.date_of_birth != date_of_birth
                or existing.last_name.strip().lower() != last_name.strip().lower()
            ):
                raise ServiceError(
                    f"MRN {mrn} belongs to a patient with a different name or date of birth. Check the MRN, or "
                    "leave it empty to match by name and date of birth.",
                    field="mrn",
                )
            return existing
    matches = list(
        patients.filter(
            last_name__iexact=last_name.strip(),
            first_name__istartswith=first_name.strip()[:1],
            date_of_birth=date_of_birth,
        )[:2]
    )
    if len(matches) == 1 and not mrn:
        return matches[0]
    if not mrn:
        raise ServiceError(
            "No single patient matches this name and date of birth. Give the MRN to create or choose the patient.",
            field="mrn",
        )
    return workflow_services.patient_create(
        tenant=tenant, actor=actor, mrn=mrn, first_name=first_name, last_name=last_name, date_of_birth=date_of_birth
    )


def possible_duplicates(*, tenant: Tenant, record_request: RecordRequest) -> QuerySet[RecordRequest]:
    """Same requestor (by identity, not row) and same patient (MRN, or last name + first initial + date of birth)
    within the tenant's window before this request's receipt (docs/domain.md, "Duplicates").

    A request whose patient is a placeholder (arrived by email, fax or the portal, patient not identified yet) has
    no possible duplicates and is nobody's: every placeholder has the same name and date of birth, so two letters
    from one law firm about two different patients would otherwise be offered as one request twice. The check runs
    again once staff identify the patient (the checklist counts it then)."""
    patient = record_request.patient
    if patient.is_placeholder:
        return RecordRequest.objects.none()
    window_start = record_request.received_at - timedelta(days=tenant.duplicate_window_days)
    # The requestors and patients that count as the same are found first (a few rows each), so that the requests
    # are read through the (tenant, patient) index. Written as one statement with ORs of upper() comparisons, which
    # are not leakproof, the tenant policy made PostgreSQL test every request of the window (117 ms at 155,874
    # requests).
    requestor = record_request.requestor
    if requestor.email:
        same_requestor = Q(email__iexact=requestor.email)
    else:
        same_requestor = Q(name__iexact=requestor.name, organization__iexact=requestor.organization)
    requestor_ids = {
        requestor.pk,
        *Requestor.objects.for_tenant(tenant).filter(same_requestor).values_list("pk", flat=True),
    }
    patient_ids = {
        patient.pk,
        *Patient.objects.for_tenant(tenant)
        .filter(
            date_of_birth=patient.date_of_birth,  # the (tenant, date of birth) index; the names among a few rows
            last_name__iexact=patient.last_name,
            first_name__istartswith=patient.first_name[:1],
            is_placeholder=False,
        )
        .values_list("pk", flat=True),
    }
    return (
        RecordRequest.objects.for_tenant(tenant)
        .filter(
            requestor_id__in=sorted(requestor_ids),
            patient_id__in=sorted(patient_ids),
            received_at__gte=window_start,
            received_at__lte=record_request.received_at,
        )
        .exclude(pk=record_request.pk)
        .exclude(patient__is_placeholder=True)
        .exclude(state=RequestState.CANCELLED, duplicate_of__isnull=False)
        .select_related("patient", "requestor")
        .order_by("-received_at")
    )


def intake_receive(
    *,
    tenant: Tenant,
    actor: Any,
    channel: str,
    patient: Patient | None = None,
    patient_data: dict[str, Any] | None = None,
    requestor: Requestor | None = None,
    requestor_data: dict[str, Any] | None = None,
    request_type: str,
    received_at: datetime | None = None,
    documents: list[IncomingDocument] | None = None,
    needs_intake_completion: bool = False,
    acknowledge: bool = True,
    **request_fields: Any,
) -> RecordRequest:
    """Record a request from any channel in one transaction; the acknowledgment letter goes out on commit."""
    from intake.documents import document_attach  # documents validate and store files; imported late (heavy)

    if (patient is None) == (patient_data is None):
        raise ServiceError("Give the patient: choose an existing one or enter their details.", field="patient")
    if (requestor is None) == (requestor_data is None):
        raise ServiceError("Give the requestor: choose an existing one or enter their details.", field="requestor")
    received_at = received_at or clock.now()
    with transaction.atomic():
        if patient is None:
            patient = patient_match_or_create(tenant=tenant, actor=actor, **patient_data)
        elif patient.tenant_id != tenant.pk:
            raise ServiceError("That patient does not exist.", field="patient")
        if requestor is None:
            requestor = workflow_services.requestor_create(tenant=tenant, actor=actor, **requestor_data)
        elif requestor.tenant_id != tenant.pk:
            raise ServiceError("That requestor does not exist.", field="requestor")
        due = deadlines.due_date_for(
            tenant=tenant, request_type=request_type, requestor_kind=requestor.kind, received_at=received_at
        )
        record_request = workflow_services.request_create(
            tenant=tenant,
            actor=actor,
            patient=patient,
            requestor=requestor,
            request_type=request_type,
            channel=channel,
            received_at=received_at,
            legal_due_date=due.due,
            needs_intake_completion=needs_intake_completion,
            **request_fields,
        )
        for incoming in documents or []:
            document_attach(
                tenant=tenant,
                actor=actor,
                record_request=record_request,
                uploaded_file=incoming.uploaded_file,
                kind=incoming.kind,
                source=incoming.source,
                note=incoming.note,
            )
        if acknowledge:
            _acknowledge(tenant=tenant, actor=actor, record_request=record_request, due=due)
        else:
            # Ingested mail and fax wait for staff to identify the patient before the letter (it prints the
            # patient's name); the email names no patient, so the requestor hears at once that we have it. The
            # due date may still change with the request type, so this one does not promise it.
            notices.requestor_notify(
                tenant=tenant,
                record_request=record_request,
                event=NoticeEvent.RECEIVED,
                facts={"received_on": local_date(record_request.received_at, tenant)},
            )
    return record_request


def _acknowledge(*, tenant: Tenant, actor: Any, record_request: RecordRequest, due: deadlines.DueDate) -> Letter:
    """The acknowledgment letter: tracking number, what happens next, and the legal due date with its rule; and
    the requestor's "received" email (once per request: after an ingested request's early one, the letter links to
    that)."""
    letter = letters.letter_generate(
        tenant=tenant,
        actor=actor,
        record_request=record_request,
        kind=LetterKind.ACKNOWLEDGMENT,
        summary={"legal_due_date": due.due.isoformat(), "basis": due.explanation},
    )
    notices.letter_notify(
        tenant=tenant,
        letter=letter,
        facts={"received_on": local_date(record_request.received_at, tenant), "due_date": due.due},
    )
    return letter


# --- The checklist ------------------------------------------------------------------------------------------


# The answers a specialist gives on the checklist. The authorization and the representative's authority are records
# of their own (intake.authorizations), linked rather than answered.
REVIEW_FIELDS = frozenset(
    f.name
    for f in IntakeReview._meta.get_fields()
    if f.concrete
    and f.name
    not in {
        "id",
        "tenant",
        "request",
        "reviewed_by",
        "reviewed_at",
        "authorization",
        "representative",
        "basis_decided_by",
        "basis_decided_at",
    }
)


def intake_review_for(*, tenant: Tenant, record_request: RecordRequest) -> IntakeReview:
    review = IntakeReview.objects.for_tenant(tenant).filter(request_id=record_request.pk).first()
    return review or IntakeReview(tenant=tenant, request=record_request)


def intake_facts(
    *,
    tenant: Tenant,
    record_request: RecordRequest,
    review: IntakeReview | None = None,
    at_release: bool = False,
) -> rules.IntakeFacts:
    """Everything the checklist's rules look at, read now. `at_release`: for the release gate, which re-runs the rules
    at the moment records leave (duplicates were settled before validation and are not counted again)."""
    if review is None or (review.pk is not None and not getattr(review, "records_loaded", False)):
        review = review_with_records(tenant=tenant, record_request=record_request) or review
    review = review or IntakeReview(tenant=tenant, request=record_request)
    open_duplicates = (
        0
        if at_release or record_request.duplicate_reviewed_at
        else possible_duplicates(tenant=tenant, record_request=record_request).count()
    )
    requestor = record_request.requestor
    return rules.IntakeFacts(
        request_type=record_request.request_type,
        requestor_kind=requestor.kind,
        record_types=list(record_request.record_types),
        scope_date_from=record_request.scope_date_from,
        scope_date_to=record_request.scope_date_to,
        scope_notes=record_request.scope_notes,
        sensitive_categories=list(record_request.sensitive_categories),
        delivery_gaps=[g for g in record_request.intake_gaps() if g.startswith("Delivery")],
        needs_intake_completion=record_request.needs_intake_completion,
        open_duplicates=open_duplicates,
        patient_unidentified=is_unidentified_patient(record_request.patient),
        review={name: getattr(review, name) for name in REVIEW_FIELDS},
        today=local_date(clock.now(), tenant),
        received_on=local_date(record_request.received_at, tenant),
        requestor_names=(requestor.name, requestor.organization),
        document_kinds=frozenset(
            IntakeDocument.objects.for_tenant(tenant)
            .filter(request_id=record_request.pk)
            .order_by()
            .values_list("kind", flat=True)
            .distinct()
        ),
        authorization=authorization_facts(review.authorization if review.authorization_id else None),
        representative=representative_facts(review.representative if review.representative_id else None),
        consent_rule=consent_rule_lookup(tenant.jurisdiction),
        patient_born_on=None
        if is_unidentified_patient(record_request.patient)
        else record_request.patient.date_of_birth,
        patient_died_on=record_request.patient.date_of_death,
        age_of_majority=rules.AGE_OF_MAJORITY.get(tenant.jurisdiction, 18),
    )


def consent_rule_lookup(jurisdiction: str) -> Callable[[str], rules.ConsentRuleFacts | None]:
    """The state's consent rule for a sensitive category, read from the database the first time a category asks for
    it (most requests carry none, and their pages make no query for it)."""
    found: dict[str, rules.ConsentRuleFacts | None] = {}

    def lookup(category: str) -> rules.ConsentRuleFacts | None:
        if category not in found:
            rule = ConsentRule.objects.filter(jurisdiction=jurisdiction, category=category, is_active=True).first()
            found[category] = (
                rules.ConsentRuleFacts(rule.citation, frozenset(rule.not_needed_for), rule.verified) if rule else None
            )
        return found[category]

    return lookup


def intake_evaluate(*, tenant: Tenant, record_request: RecordRequest) -> list[rules.Deficiency]:
    return rules.evaluate(intake_facts(tenant=tenant, record_request=record_request))


def intake_review_save(*, tenant: Tenant, actor: Any, record_request: RecordRequest, **confirmed: Any) -> IntakeReview:
    """Store what the specialist confirmed while looking at the documents. Unknown fields are refused."""
    require_staff(actor, tenant)
    unknown = set(confirmed) - REVIEW_FIELDS
    if unknown:
        raise ServiceError(f"Unknown checklist fields: {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        current = RecordRequest.objects.for_tenant(tenant).select_for_update().get(pk=record_request.pk)
        if current.state not in (RequestState.RECEIVED, RequestState.EXCEPTION):
            raise ServiceError("The intake checklist can be changed while the request is received or in exception.")
        review = intake_review_for(tenant=tenant, record_request=current)
        if "basis_answers" in confirmed:
            confirmed["basis_answers"] = _basis_answers(
                tenant=tenant, actor=actor, record_request=current, review=review, answers=confirmed["basis_answers"]
            )
        for name, value in confirmed.items():
            setattr(review, name, value)
        review.reviewed_by = actor
        review.reviewed_at = clock.now()
        history_stamp(review, actor)
        review.save()
        current.last_activity_at = review.reviewed_at
        history_stamp(current, actor)
        current.save(update_fields=["last_activity_at", "updated_at"])
    return review


def _basis_answers(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, review: IntakeReview, answers: Any
) -> dict[str, Any]:
    """The answers about the request's 164.512 basis (intake.bases), checked: each a known element with an allowed
    value. A decision (met or not met) is a supervisor's: a specialist who changes one is refused, and the review
    records who decided, when. Answers about another basis (the request type was corrected) are kept as they were."""
    if not isinstance(answers, dict):
        raise ServiceError("The basis answers must be a set of answers by question.", field="basis_answers")
    before = dict(review.basis_answers or {})
    basis = bases.basis(record_request.request_type)
    elements = {e.key: e for e in basis.elements} if basis else {}
    for key, value in answers.items():
        element = elements.get(key)
        if element is None:
            if before.get(key) == value:
                continue  # kept from another basis
            raise ServiceError(f"'{key}' is not a question of this request's basis.", field="basis_answers")
        allowed: tuple[Any, ...] = (True,)
        if element.kind == bases.CHOICE:
            allowed = tuple(code for code, _ in element.choices)
        elif element.kind == bases.DECISION:
            allowed = (bases.MET, bases.NOT_MET)
        if value not in allowed:
            raise ServiceError(f"Answer '{element.question}' with one of the choices offered.", field="basis_answers")
    changed = {k for k in elements if elements[k].kind == bases.DECISION and before.get(k) != answers.get(k)}
    if changed:
        if not has_role(actor, tenant, SUPERVISING_ROLES):
            raise NotPermitted(
                "Only a supervisor records whether the rule is met ("
                + "; ".join(elements[k].question.rstrip(".") for k in sorted(changed))
                + "). Leave it for them: the request waits in its exception until they decide."
            )
        review.basis_decided_by = actor
        review.basis_decided_at = clock.now()
    return dict(answers)


@dataclass
class IntakeOutcome:
    record_request: RecordRequest
    validated: bool
    deficiencies: list[rules.Deficiency] = field(default_factory=list)
    episode: ExceptionEpisode | None = None
    letter: Letter | None = None
    resolved: bool = False  # an exception was resolved by the run (the request is back where it was)


def intake_complete(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, expected_state: str | None = None
) -> IntakeOutcome:
    """Run the checklist on a received request: validate it, or open an exception with a deficiency letter. On a
    request in an exception the checklist opened, run it again (intake_repair): fixed, the exception is resolved and
    the request validated in the same action.

    Staff-only findings (a possible duplicate) are refused with a message instead: staff settle them now.
    """
    with transaction.atomic():
        current = (
            RecordRequest.objects.for_tenant(tenant)
            .select_for_update()
            .select_related("requestor")
            .get(pk=record_request.pk)
        )
        if expected_state and current.state != expected_state:
            raise ServiceError(
                f"This request changed since you opened it: it is now {RequestState(current.state).label.lower()}."
                " Reload to see the latest."
            )
        if current.state == RequestState.EXCEPTION and current.state_before_exception == RequestState.RECEIVED:
            return intake_repair(tenant=tenant, actor=actor, record_request=current)
        if current.state != RequestState.RECEIVED:
            raise ServiceError("The intake checklist runs on received requests.")
        deficiencies = intake_evaluate(tenant=tenant, record_request=current)
        staff_only = [d for d in deficiencies if d.staff_only]
        if staff_only:
            raise ServiceError(" ".join(d.staff_message for d in staff_only))
        if not deficiencies:
            return IntakeOutcome(_validate(tenant=tenant, actor=actor, record_request=current), True)
        respond_by = local_date(clock.now(), tenant) + timedelta(days=tenant.deficiency_follow_up_days)
        reason = rules.episode_reason(deficiencies)
        episode = exception_services.exception_open(
            tenant=tenant,
            actor=actor,
            record_request=current,
            reason=reason,
            detail=_detail(deficiencies),
            # The next step of the deficiency that decided the reason (legal review before a letter, say).
            next_step=next(d.next_step for d in deficiencies if d.reason == reason),
            next_action_due=respond_by,
            deficiency_codes=[d.code for d in deficiencies],
            lettered=any(d.requestor_message for d in deficiencies),
        )
        letter = _deficiency_letter(
            tenant=tenant, actor=actor, record_request=current, deficiencies=deficiencies, respond_by=respond_by
        )
        current.refresh_from_db()
        return IntakeOutcome(current, False, deficiencies, episode, letter)


def _detail(deficiencies: list[rules.Deficiency]) -> str:
    return " ".join(d.labelled for d in deficiencies)


def _validate(*, tenant: Tenant, actor: Any, record_request: RecordRequest) -> RecordRequest:
    record_request.intake_completed_at = clock.now()
    record_request.needs_intake_completion = False
    history_stamp(record_request, actor)
    record_request.save(update_fields=["intake_completed_at", "needs_intake_completion", "updated_at"])
    validated = transitions.request_validate(tenant=tenant, actor=actor, record_request=record_request)
    _psychotherapy_denial_notice(tenant=tenant, record_request=validated)
    return validated


def _psychotherapy_denial_notice(*, tenant: Tenant, record_request: RecordRequest) -> None:
    """A right-of-access request (or a patient's directive) that asks for psychotherapy notes validates: the rest is
    released, the notes are denied (164.524(a)(1)(i), unreviewable). Supervisors are told in the app at once, so the
    denial is made before the release waits on it (the release gate holds the first release until it is)."""
    if not rules.psychotherapy_notes_to_deny(record_request):
        return
    link = reverse("workflow:detail", args=[record_request.tracking_number])
    for user in supervisors(tenant=tenant):
        notify(
            tenant=tenant,
            recipient=user,
            kind="psychotherapy_denial_due",
            subject=f"Psychotherapy notes to deny on {record_request.tracking_number}",
            body="A right-of-access request asks for psychotherapy notes, which the right of access does not cover "
            "(45 CFR 164.524(a)(1)(i)). Deny them (unreviewable) from the request page, or from the restricted "
            "request page without opening it; the rest is released once the denial is written.",
            link=link,
            dedupe_key=f"psychotherapy-denial-due:{record_request.pk}:{user.pk}",
        )


def _deficiency_letter(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    deficiencies: list[rules.Deficiency],
    respond_by: date,
) -> Letter | None:
    """The deficiency letter listing what the requestor must send (none when every finding is staff work), and its
    "action needed" email."""
    requestor_facing = [d for d in deficiencies if d.requestor_message]
    if not requestor_facing:
        return None
    letter = letters.letter_generate(
        tenant=tenant,
        actor=actor,
        record_request=record_request,
        kind=LetterKind.DEFICIENCY,
        summary={
            "deficiencies": [
                {
                    "code": d.code,
                    "subject": d.subject,
                    "message": d.requestor_message,
                    "citation": d.citation,
                    "template": d.requestor_template,
                    "params": dict(d.requestor_params),
                }
                for d in requestor_facing
            ],
            "respond_by": respond_by.isoformat(),
            "legal_due_date": record_request.legal_due_date.isoformat(),
        },
    )
    notices.letter_notify(
        tenant=tenant,
        letter=letter,
        facts={
            "deficiencies": letter.summary["deficiencies"],
            "respond_by": respond_by,
            "due_date": record_request.legal_due_date,
        },
        occurrence=f"letter-{letter.pk}",
    )
    return letter


# Exceptions whose cause is the basis of the release (what a request relies on): recording what fixes it and
# running the checks again resolves them (intake_repair).
BASIS_REASONS = frozenset(
    {
        ExceptionReason.AUTHORIZATION_REVOKED,
        ExceptionReason.EXPIRED_AUTHORIZATION,
        ExceptionReason.INCOMPLETE_AUTHORIZATION,
        ExceptionReason.IDENTITY_NOT_VERIFIED,
        ExceptionReason.LEGAL_REVIEW,
        ExceptionReason.SCOPE_UNCLEAR,
        ExceptionReason.AWAITING_REQUESTOR,
    }
)


def intake_repair(*, tenant: Tenant, actor: Any, record_request: RecordRequest) -> IntakeOutcome:
    """Check again a request in an exception the rules opened (the checklist at intake; a revocation or a refused
    release later), after staff recorded what fixes it. Every check passes: the exception is resolved and the
    request returns to where it was, validated if it was waiting at intake, in one action. Something is still wrong:
    the open episode says what, and a letter goes out only for what the requestor has not been told yet (no second
    deficiency letter for the same findings)."""
    with transaction.atomic():
        current = (
            RecordRequest.objects.for_tenant(tenant)
            .select_for_update()
            .select_related("requestor", "patient")
            .get(pk=record_request.pk)
        )
        episode = (
            ExceptionEpisode.objects.for_tenant(tenant)
            .select_for_update()
            .filter(request_id=current.pk, resolved_at__isnull=True)
            .first()
        )
        if current.state != RequestState.EXCEPTION or episode is None:
            raise ServiceError("Only a request in exception is checked again.")
        at_intake = current.state_before_exception == RequestState.RECEIVED
        if not at_intake and not (episode.deficiency_codes and episode.reason in BASIS_REASONS):
            raise ServiceError(
                "This exception was not opened by the rules: resolve it on the request page with what was done."
            )
        deficiencies = rules.evaluate(
            intake_facts(tenant=tenant, record_request=current, at_release=not at_intake), at_release=not at_intake
        )
        staff_only = [d for d in deficiencies if d.staff_only]
        if staff_only:
            raise ServiceError(" ".join(d.staff_message for d in staff_only))
        if not deficiencies:
            fixed = ", ".join(episode.deficiency_codes) or episode.get_reason_display()
            exception_services.exception_resolve(
                tenant=tenant,
                actor=actor,
                record_request=current,
                resolution=f"Every check passes again (was: {fixed}).",
                expected_state=RequestState.EXCEPTION,
            )
            current.refresh_from_db()
            if at_intake:
                current = _validate(tenant=tenant, actor=actor, record_request=current)
            return IntakeOutcome(current, at_intake, [], episode, None, resolved=True)
        told = set(episode.deficiency_codes)
        new = [d for d in deficiencies if d.code not in told]
        reason = rules.episode_reason(deficiencies)
        episode = exception_services.exception_update_findings(
            tenant=tenant,
            actor=actor,
            episode=episode,
            reason=reason,
            detail=_detail(deficiencies),
            deficiency_codes=[d.code for d in deficiencies],
        )
        letter = None
        if new:
            respond_by = local_date(clock.now(), tenant) + timedelta(days=tenant.deficiency_follow_up_days)
            letter = _deficiency_letter(
                tenant=tenant, actor=actor, record_request=current, deficiencies=new, respond_by=respond_by
            )
        current.refresh_from_db()
        return IntakeOutcome(current, False, deficiencies, episode, letter)


def basis_record_and_resume(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, record: Callable[[], T]
) -> tuple[T, IntakeOutcome | None]:
    """Record what a request relies on (`record`: an intake.authorizations service) and, when the request waits in
    an exception the rules opened, check it again in the same transaction: one action fixes what was flagged and
    returns the request to where it was. Nothing else about the request changes."""
    with transaction.atomic():
        result = record()
        current = RecordRequest.objects.for_tenant(tenant).get(pk=record_request.pk)
        if current.state != RequestState.EXCEPTION:
            return result, None
        episode = ExceptionEpisode.objects.for_tenant(tenant).filter(request_id=current.pk, resolved_at__isnull=True)
        repairable = (
            current.state_before_exception == RequestState.RECEIVED
            or episode.filter(reason__in=BASIS_REASONS).exclude(deficiency_codes=[]).exists()
        )
        if not repairable:
            return result, None
        try:
            with transaction.atomic():
                outcome = intake_repair(tenant=tenant, actor=actor, record_request=current)
        except ServiceError:
            return result, None  # still something staff must settle first; the record stands
        return result, outcome


DETAIL_FIELDS = frozenset(
    {
        "request_type", "record_types", "scope_date_from", "scope_date_to", "scope_notes", "sensitive_categories",
        "delivery_method", "delivery_destination", "urgency_date", "urgency_reason",
    }
)  # fmt: skip


def intake_details_update(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    patient: Patient | None = None,
    patient_data: dict[str, Any] | None = None,
    **details: Any,
) -> RecordRequest:
    """Correct or complete a received request's details (the patient, type, scope, delivery): what a specialist does
    for a request that arrived by email or fax. The legal due date is recomputed from the receipt date for the
    (possibly new) type; the acknowledgment letter goes out now if the request had none yet."""
    require_staff(actor, tenant)
    unknown = set(details) - DETAIL_FIELDS
    if unknown:
        raise ServiceError(f"Unknown request fields: {', '.join(sorted(unknown))}.")
    start, end = details.get("scope_date_from"), details.get("scope_date_to")
    if start and end and start > end:
        raise ServiceError("The scope's start date is after its end date.", field="scope_date_from")
    with transaction.atomic():
        current = (
            RecordRequest.objects.for_tenant(tenant)
            .select_for_update()
            .select_related("requestor")
            .get(pk=record_request.pk)
        )
        if current.state != RequestState.RECEIVED:
            raise ServiceError("Request details can be corrected while the request is received, before validation.")
        if patient_data is not None:
            patient = patient_match_or_create(tenant=tenant, actor=actor, **patient_data)
        if patient is not None:
            if patient.tenant_id != tenant.pk:
                raise ServiceError("That patient does not exist.", field="patient")
            current.patient = patient
        for name, value in details.items():
            setattr(
                current,
                name,
                value if value is not None or name not in {"record_types", "sensitive_categories"} else [],
            )
        current.sensitive_categories = with_implied_categories(current.record_types, current.sensitive_categories)
        due = deadlines.due_date_for(
            tenant=tenant,
            request_type=current.request_type,
            requestor_kind=current.requestor.kind,
            received_at=current.received_at,
        )
        current.legal_due_date = due.due
        current.needs_intake_completion = is_unidentified_patient(current.patient)
        current.last_activity_at = clock.now()
        history_stamp(current, actor)
        current.save()
        if (
            not current.needs_intake_completion
            and not Letter.objects.for_tenant(tenant)
            .filter(request_id=current.pk, kind=LetterKind.ACKNOWLEDGMENT)
            .exists()
        ):
            _acknowledge(tenant=tenant, actor=actor, record_request=current, due=due)
    return current


# --- Duplicates ---------------------------------------------------------------------------------------------


def duplicate_link(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, original: RecordRequest
) -> RecordRequest:
    """Close a request as a duplicate of an earlier one (cancelled, with the reference). No hard delete, ever."""
    require_staff(actor, tenant)
    if original.tenant_id != tenant.pk or original.pk == record_request.pk:
        raise ServiceError("Choose another request of this organisation as the original.")
    if original.duplicate_of_id is not None or original.state == RequestState.CANCELLED:
        raise ServiceError(
            f"{original.tracking_number} is itself cancelled or a duplicate; link to the request that stands."
        )
    with transaction.atomic():
        current = workflow_services.request_locked(tenant=tenant, pk=record_request.pk)
        current.duplicate_of = original
        current.duplicate_reviewed_at = clock.now()
        history_stamp(current, actor)
        current.save(update_fields=["duplicate_of", "duplicate_reviewed_at", "updated_at"])
        return transitions.request_cancel(
            tenant=tenant, actor=actor, record_request=current, reason=f"Duplicate of {original.tracking_number}."
        )


def duplicate_mark_distinct(*, tenant: Tenant, actor: Any, record_request: RecordRequest) -> RecordRequest:
    require_staff(actor, tenant)
    with transaction.atomic():
        current = workflow_services.request_locked(tenant=tenant, pk=record_request.pk)
        if current.state not in OPEN_STATES:
            raise ServiceError("Only an open request can be marked distinct.")
        current.duplicate_reviewed_at = clock.now()
        current.last_activity_at = current.duplicate_reviewed_at
        history_stamp(current, actor)
        current.save(update_fields=["duplicate_reviewed_at", "last_activity_at", "updated_at"])
    return current


# --- Extensions ---------------------------------------------------------------------------------------------

EXTENDABLE_TYPES = {RequestType.RIGHT_OF_ACCESS, RequestType.ACCOUNTING}


def extension_rule(*, tenant: Tenant, record_request: RecordRequest) -> JurisdictionRule | None:
    """The rule whose clock set the due date: it decides how long an extension may be."""
    return deadlines.due_date_for(
        tenant=tenant,
        request_type=record_request.request_type,
        requestor_kind=record_request.requestor.kind,
        received_at=record_request.received_at,
    ).rule


def extension_grant(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, reason: str, days: int | None = None
) -> Extension:
    """The one extension: right of access or accounting only, before the original due date, with a written notice
    (164.524(b)(2)(ii), 164.528(c)(1)(ii)). Waiting on the requestor is not a reason the law accepts to stop the clock,
    so nothing else ever moves the due date."""
    require_staff(actor, tenant)
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Give the reason for the delay; it is printed on the notice.", field="reason")
    with transaction.atomic():
        current = (
            RecordRequest.objects.for_tenant(tenant)
            .select_for_update()
            .select_related("requestor")
            .get(pk=record_request.pk)
        )
        if current.request_type not in EXTENDABLE_TYPES:
            raise ServiceError("Only right-of-access and accounting requests can be extended.")
        if current.state not in OPEN_STATES:
            raise ServiceError("Only an open request can be extended.")
        if Extension.objects.for_tenant(tenant).filter(request_id=current.pk).exists():
            raise ServiceError("This request was already extended once; the law allows only one extension.")
        today = local_date(clock.now(), tenant)
        if today > current.legal_due_date:
            raise ServiceError(
                f"The due date ({current.legal_due_date:%b %-d, %Y}) has passed: an extension must be given before it."
            )
        rule = extension_rule(tenant=tenant, record_request=current)
        allowed = rule.extension_days if rule else 0
        if allowed == 0:
            where = f"{rule.jurisdiction} rule ({rule.citation})" if rule else "organisation policy"
            raise ServiceError(f"The {where} that sets this due date allows no extension.")
        days = allowed if days is None else days
        if not 1 <= days <= allowed:
            raise ServiceError(f"An extension may add 1 to {allowed} days.", field="days")
        original = current.legal_due_date
        current.legal_due_date = deadlines.add_days(original, days, rule.day_kind)
        current.last_activity_at = clock.now()
        history_stamp(current, actor)
        current.save(update_fields=["legal_due_date", "last_activity_at", "updated_at"])
        extension = Extension.objects.create(
            tenant=tenant,
            request=current,
            original_due_date=original,
            new_due_date=current.legal_due_date,
            reason=reason,
            granted_by=actor if getattr(actor, "is_authenticated", False) else None,
            granted_at=clock.now(),
        )
        letter = letters.letter_generate(
            tenant=tenant,
            actor=actor,
            record_request=current,
            kind=LetterKind.EXTENSION,
            summary={
                "reason": reason,
                "original_due_date": original.isoformat(),
                "new_due_date": current.legal_due_date.isoformat(),
            },
        )
        notices.letter_notify(
            tenant=tenant,
            letter=letter,
            facts=notices.extension_facts(current, original=original, new=current.legal_due_date, reason=reason),
        )
    return extension
