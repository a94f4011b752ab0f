"""A realistic demo organisation for `make run`: synthetic patients and requestors, a few hundred requests across
types, channels, states and ages, each received through the intake service and moved to its state through the real
services (intake checklist, exception episodes, transitions), so the timeline, transition log, history, episodes and
letters are what staff would see in production. It lives in portal, the top of the import chain, because it uses
every app below.

All names come from Faker with a fixed seed; none is a real person. Deterministic: the same data every time.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from faker import Faker

from exceptions.choices import ExceptionReason
from exceptions.escalations import escalation_rules_seed_defaults, escalations_acknowledge, escalations_evaluate
from exceptions.models import EscalationEvent
from exceptions.services import exception_open
from fulfillment import delivery, disclosures, documents, gate, packets, qc
from fulfillment.choices import ExclusionReason, RetrievalSource
from intake import authorizations, bases, rules
from intake import documents as intake_documents
from intake import services as intake_services
from intake.choices import AuthorityType, DocumentKind, DocumentSource
from intake.models import IntakeDocument, IntakeReview
from portal import demo_documents
from portal.demo_documents import Case
from portal.demo_two_factor import DEMO_TOTP_KEY_HEX, demo_totp_key
from roi import clock, page_images, rls
from roi.audit import access_record
from roi.choices import AccessAction, Role
from roi.models import Membership, Notification, Tenant, User
from roi.notifications import notifications_mark_all_read
from workflow import services, transitions
from workflow.choices import (
    OPEN_STATES,
    Channel,
    DeliveryMethod,
    DenialBasis,
    RecordType,
    RequestorKind,
    RequestType,
    SensitiveCategory,
)
from workflow.models import Patient, RecordRequest, Requestor, WorkQueue
from workflow.urgency import urgency_refresh

DEMO_PASSWORD = "openroi-demo-2026"  # noqa: S105 - synthetic demo accounts, printed by make run


@dataclass(frozen=True)
class DemoTenant:
    slug: str
    name: str
    jurisdiction: str
    timezone: str
    requests: int
    seed: int
    address: str
    phone: str
    fax: str


DEMO_TENANTS = [
    DemoTenant(
        "riverside",
        "Riverside Regional Medical Center",
        "CA",
        "America/Los_Angeles",
        320,
        11,
        "4100 River Road, Sacramento, CA 95819",
        "(916) 555-0140",
        "(916) 555-0141",
    ),
    DemoTenant(
        "lakeshore",
        "Lakeshore Health System",
        "NY",
        "America/New_York",
        180,
        23,
        "200 Harbor Street, Rochester, NY 14604",
        "(585) 555-0170",
        "(585) 555-0171",
    ),
    # No state clock is seeded for Kansas, so this organisation runs on the federal rules alone: 30 days for the right
    # of access and 60 for an accounting, each with its one 30-day extension and its notice (164.524(b)(2),
    # 164.528(c)(1)(ii)).
    DemoTenant(
        "prairie",
        "Prairie View Community Hospital",
        "KS",
        "America/Chicago",
        90,
        37,
        "1800 Prairie Avenue, Salina, KS 67401",
        "(785) 555-0120",
        "(785) 555-0121",
    ),
]

# (username, first, last, {tenant slug: role}, superuser)
DEMO_USERS = [
    ("maria.specialist", "Maria", "Gonzalez", {"riverside": Role.SPECIALIST}, False),
    ("james.specialist", "James", "Okafor", {"riverside": Role.SPECIALIST}, False),
    ("dana.supervisor", "Dana", "Whitfield", {"riverside": Role.SUPERVISOR, "lakeshore": Role.SUPERVISOR}, False),
    ("alex.admin", "Alex", "Moreno", {"riverside": Role.ADMIN}, False),
    ("lee.specialist", "Lee", "Chen", {"lakeshore": Role.SPECIALIST}, False),
    ("pat.supervisor", "Pat", "Kowalski", {"lakeshore": Role.SUPERVISOR}, False),
    ("kim.specialist", "Kim", "Lindqvist", {"prairie": Role.SPECIALIST}, False),
    ("robin.supervisor", "Robin", "Achebe", {"prairie": Role.SUPERVISOR}, False),
    ("operator", "Platform", "Operator", {}, True),
]

TYPE_WEIGHTS = [
    (RequestType.RIGHT_OF_ACCESS, 34),
    (RequestType.AUTHORIZATION, 32),
    (RequestType.CONTINUITY_OF_CARE, 12),
    (RequestType.LEGAL, 12),
    (RequestType.ACCOUNTING, 3),
    (RequestType.OTHER, 4),
    # Disclosures 164.512 permits without an authorization (intake.bases).
    (RequestType.WORKERS_COMP, 2),
    (RequestType.LAW_ENFORCEMENT, 1),
    (RequestType.PUBLIC_HEALTH, 1),
    (RequestType.HEALTH_OVERSIGHT, 1),
]
CHANNEL_WEIGHTS = [
    (Channel.FAX, 34),
    (Channel.MAIL, 14),
    (Channel.PORTAL, 16),
    (Channel.EMAIL, 14),
    (Channel.PHONE, 5),
    (Channel.API, 12),
    (Channel.WALK_IN, 5),
]
# (reason, what is wrong, next step)
EXCEPTIONS = [
    (ExceptionReason.INCOMPLETE_AUTHORIZATION, "Authorization has no expiration date.",
     "Deficiency letter sent; wait for a corrected authorization."),
    (ExceptionReason.IDENTITY_NOT_VERIFIED, "Requestor identity not verified.", "Asked for a copy of photo ID."),
    (ExceptionReason.AWAITING_DEPARTMENT, "Imaging films from 2023 are in off-site storage.",
     "Follow up with imaging on the retrieval."),
    (ExceptionReason.SCOPE_UNCLEAR, "'All records' for a 20-year history.", "Call the law office to narrow dates."),
    (ExceptionReason.LEGAL_REVIEW, "Subpoena without satisfactory assurance.", "Privacy officer to review."),
    (ExceptionReason.PAYMENT_PENDING, "Insurer has not prepaid the estimate.", "Send the invoice reminder."),
]  # fmt: skip

# Team queues: new requests join the first whose types include theirs.
DEMO_QUEUES = [
    ("Legal and subpoenas", [RequestType.LEGAL]),
    ("Continuity of care", [RequestType.CONTINUITY_OF_CARE]),
    ("Patient access", [RequestType.RIGHT_OF_ACCESS, RequestType.ACCOUNTING]),
    ("Third parties", [RequestType.AUTHORIZATION, RequestType.OTHER, RequestType.WORKERS_COMP]),
    ("Agencies and law enforcement", [t for t in bases.BASES if t != RequestType.WORKERS_COMP]),
]

# Every checklist answer a complete review gives; defects, and what only some authorizations are (paid marketing),
# stay unticked.
DEFECT_FIELDS = {
    "auth_improperly_combined",
    "auth_known_false",
    "auth_conditions_benefits",
    "auth_remuneration_involved",
    "auth_remuneration_statement",
}
LAW_FIRMS = ["Hartley & Moss LLP", "Brennan Injury Law", "Castillo Reyes Attorneys", "Northgate Legal Group"]
INSURERS = ["Pacific Mutual Life", "Keystone Disability Insurance", "Summit Health Plan"]
AGENCIES = ["Social Security Administration, DDS", "State Workers' Compensation Board", "County Superior Court"]
PROVIDERS = ["Valley Orthopedic Associates", "Bayview Cardiology", "Cedar Family Medicine"]
WORKERS_COMP_CARRIERS = ["Granite State Workers' Comp Mutual", "Heartland Employers Insurance"]
PUBLIC_AGENCIES = {
    RequestType.LAW_ENFORCEMENT: "County Sheriff's Office, Investigations",
    RequestType.PUBLIC_HEALTH: "State Department of Health, Epidemiology",
    RequestType.HEALTH_OVERSIGHT: "State Board of Nursing",
}


def _weighted(rng: random.Random, pairs: list[tuple[Any, int]]) -> Any:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _destination(rng: random.Random, fake: Faker, method: str, requestor: Requestor) -> str:
    if method in (DeliveryMethod.EMAIL_LINK, DeliveryMethod.PORTAL_DOWNLOAD):
        return requestor.email
    if method == DeliveryMethod.FAX:
        return requestor.fax or fake.numerify("(###) 555-####")
    if method == DeliveryMethod.MAIL:
        return requestor.postal_address
    return ""


def _ensure_users() -> dict[str, User]:
    users = {}
    for username, first, last, _roles, superuser in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@openroi.invalid"},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.is_staff = user.is_superuser = superuser
            user.save()
            # Two-factor sign-in is on for every demo account, with one published key (synthetic accounts only):
            # add it to an authenticator app, or read the current code with `manage.py demo_code`.
            TOTPDevice.objects.create(user=user, name="Authenticator app", key=DEMO_TOTP_KEY_HEX, confirmed=True)
        users[username] = user
    return users


def _requestor_for(rng: random.Random, fake: Faker, tenant: Tenant, request_type: str, patient: Patient) -> Requestor:
    address = {
        "address_line1": fake.street_address(),
        "city": fake.city(),
        "state": tenant.jurisdiction,
        "postal_code": fake.postcode(),
    }
    if request_type in (RequestType.RIGHT_OF_ACCESS, RequestType.ACCOUNTING) or (
        request_type == RequestType.OTHER and rng.random() < 0.5
    ):
        kind = RequestorKind.PATIENT if rng.random() < 0.85 else RequestorKind.PERSONAL_REPRESENTATIVE
        name = patient.full_name if kind == RequestorKind.PATIENT else fake.name()
        return Requestor.objects.create(
            tenant=tenant,
            kind=kind,
            name=name,
            email=demo_email(name),
            phone=fake.numerify("(###) 555-####"),
            **address,
        )
    if request_type == RequestType.AUTHORIZATION:
        kind = RequestorKind.ATTORNEY if rng.random() < 0.6 else RequestorKind.INSURER
        org = rng.choice(LAW_FIRMS if kind == RequestorKind.ATTORNEY else INSURERS)
    elif request_type == RequestType.CONTINUITY_OF_CARE:
        kind, org = RequestorKind.PROVIDER, rng.choice(PROVIDERS)
    elif request_type == RequestType.LEGAL:
        kind = RequestorKind.GOVERNMENT if rng.random() < 0.5 else RequestorKind.ATTORNEY
        org = rng.choice(AGENCIES if kind == RequestorKind.GOVERNMENT else LAW_FIRMS)
    elif request_type == RequestType.WORKERS_COMP:
        kind, org = RequestorKind.INSURER, rng.choice(WORKERS_COMP_CARRIERS)
    elif request_type in bases.BASES:
        kind, org = RequestorKind.GOVERNMENT, PUBLIC_AGENCIES[request_type]
    else:
        kind, org = RequestorKind.OTHER, fake.company()
    domain = org.lower().replace("&", "").replace(",", "").replace("'", "").split()[0] + ".example.com"
    return Requestor.objects.create(
        tenant=tenant,
        kind=kind,
        name=fake.name(),
        organization=org,
        email=f"records@{domain}",
        phone=fake.numerify("(###) 555-####"),
        fax=fake.numerify("(###) 555-####"),
        **address,
    )


def _pdf_upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def _complete_intake(tenant: Tenant, actor: User, rr: RecordRequest, supervisor: User, case: Case) -> None:
    """What a specialist does for a good request: confirm every checklist item, record the authorization and the
    representative's authority from their documents, then run the checklist. The signed forms are the synthetic
    documents of `case` (portal.demo_documents): a faxed request's authorization is the one that came with the fax."""
    answers: dict[str, Any] = {}
    for model_field in IntakeReview._meta.get_fields():
        name = model_field.name
        if name not in intake_services.REVIEW_FIELDS or name in DEFECT_FIELDS:
            continue
        if model_field.get_internal_type() == "BooleanField":
            answers[name] = True
    answers.update(
        identity_method="photo_id_copy",
        legal_document_type="court_order",
        consents_received=list(rr.sensitive_categories),
        part2_use_against_patient="no",
    )
    public = bases.BASES.get(rr.request_type)
    if public is not None:
        # The basis met on its first path; the decisions a rule leaves to judgment are the supervisor's.
        chosen = {e.key: e.choices[0][0] for e in public.elements if e.kind == bases.CHOICE}
        confirmed = {e.key: True for e in public.elements_for(chosen) if e.kind == bases.CONFIRM}
        answers["basis_answers"] = chosen | confirmed
    intake_services.intake_review_save(tenant=tenant, actor=actor, record_request=rr, **answers)
    if public is not None and bases.decision_keys(rr.request_type):
        decided = {e.key: bases.MET for e in public.elements_for(answers["basis_answers"]) if e.kind == bases.DECISION}
        intake_services.intake_review_save(
            tenant=tenant, actor=supervisor, record_request=rr, basis_answers=answers["basis_answers"] | decided
        )
    requestor = rr.requestor
    representative = None
    if requestor.kind == RequestorKind.PERSONAL_REPRESENTATIVE:
        authority = intake_documents.document_add(
            tenant=tenant,
            actor=actor,
            record_request=rr,
            uploaded_file=_pdf_upload(
                "health-care-power-of-attorney.pdf", demo_documents.power_of_attorney_pdf(case, agent=requestor)
            ),
            kind=DocumentKind.AUTHORITY,
        )
        representative = authorizations.representative_record(
            tenant=tenant,
            actor=actor,
            record_request=rr,
            name=requestor.name,
            authority_type=AuthorityType.HEALTHCARE_POA,
            document=authority,
        )
    if rules.basis_for(rr.request_type, requestor.kind) in authorizations.KIND_FOR_BASIS:
        signer = representative.name if representative else rr.patient.full_name
        # The form that came with a faxed request (its page 2, signed by the patient), or the one the requestor sent
        # by other means.
        faxed = IntakeDocument.objects.for_tenant(tenant).filter(
            request=rr, source=DocumentSource.FAX, kind=DocumentKind.AUTHORIZATION
        )
        form = None if representative else faxed.order_by("pk").first()
        if form is None:
            authority = "Health care agent (power of attorney)" if representative else ""
            form = intake_documents.document_add(
                tenant=tenant,
                actor=actor,
                record_request=rr,
                uploaded_file=_pdf_upload(
                    "authorization-to-release-health-information.pdf",
                    demo_documents.authorization_pdf(case, signer=signer, authority=authority),
                ),
                kind=DocumentKind.AUTHORIZATION,
            )
        authorizations.authorization_record(
            tenant=tenant,
            actor=actor,
            record_request=rr,
            document=form,
            signer_name=signer,
            signed_on=case.signed_on,
            recipient=case.recipient,
            expires_on=case.expires_on,
            representative=representative,
        )
    if intake_services.possible_duplicates(tenant=tenant, record_request=rr).exists():
        intake_services.duplicate_mark_distinct(tenant=tenant, actor=actor, record_request=rr)
    outcome = intake_services.intake_complete(tenant=tenant, actor=actor, record_request=rr)
    assert outcome.validated, [d.code for d in outcome.deficiencies]


def _target_path(rng: random.Random, age_days: int) -> list[str]:
    """Which transitions this request went through, given how old it is: old work is mostly finished,
    but some old requests are still open (overdue) or stuck in exception, as in any real backlog."""
    roll = rng.random()
    if age_days <= 2:
        options = [([], 0.75), (["validate"], 0.2), (["exception"], 0.05)]
    elif age_days <= 10:
        options = [
            ([], 0.15), (["validate"], 0.2), (["validate", "start"], 0.3), (["exception"], 0.15),
            (["validate", "start", "deliver"], 0.15), (["cancel"], 0.05),
        ]  # fmt: skip
    elif age_days <= 30:
        options = [
            ([], 0.04), (["validate", "start"], 0.12), (["exception"], 0.08), (["validate", "start", "exception"], 0.06),
            (["validate", "start", "deliver"], 0.35), (["validate", "start", "deliver", "close"], 0.27),
            (["deny"], 0.04), (["cancel"], 0.04),
        ]  # fmt: skip
    else:
        options = [
            (["validate", "start"], 0.06), (["exception"], 0.06),
            (["validate", "start", "deliver", "close"], 0.76), (["validate", "start", "deliver"], 0.06),
            (["deny"], 0.03), (["cancel"], 0.03),
        ]  # fmt: skip
    cumulative = 0.0
    for path, weight in options:
        cumulative += weight
        if roll <= cumulative:
            return path
    return options[-1][0]


def _fulfil(rng: random.Random, tenant: Tenant, rr: RecordRequest, worker: User, staff: list[User], case: Case) -> None:
    """What staff do from "in fulfillment" to "delivered" for a recent demo request, through the real services:
    upload the retrieved records (the hospital's chart; for some, an outside clinic's fax too, its cover sheet left
    out), build the packet, QC by a second person, deliver with the method's evidence."""
    if rr.request_type == RequestType.ACCOUNTING:
        # An accounting releases its report of disclosures, not records (45 CFR 164.528).
        disclosures.accounting_report_generate(tenant=tenant, actor=worker, record_request=rr)
    else:
        record_type = next((t for t in rr.record_types if t != RecordType.COMPLETE), RecordType.DISCHARGE_SUMMARY)
        seen = (rr.scope_date_to or rr.received_at.date()) - timedelta(days=rng.randint(1, 20))
        rng.randint(2, 4)  # the placeholder record's page count once: still drawn, so the rest of the demo is unchanged
        chart, admitted_on, _pages = demo_documents.chart_pdf(case, discharged_on=seen, printed_at=clock.now())
        documents.release_document_upload(
            tenant=tenant,
            actor=worker,
            record_request=rr,
            uploaded_file=_pdf_upload(f"{rr.patient.mrn}-inpatient-record.pdf", chart),
            source=RetrievalSource.EHR_HIM,
            record_type=record_type,
            service_date_from=admitted_on,
            service_date_to=seen,
            patient_confirmed=True,
        )
        outside = case.rng("outside-records")
        if outside.random() < 0.5:
            visit_on = min(seen + timedelta(days=outside.randint(7, 14)), rr.scope_date_to or seen)
            faxed = documents.release_document_upload(
                tenant=tenant,
                actor=worker,
                record_request=rr,
                uploaded_file=SimpleUploadedFile(
                    "fax-outside-records.tif",
                    demo_documents.outside_records_fax(case, visit_on=visit_on, rng=outside),
                    content_type="image/tiff",
                ),
                source=RetrievalSource.OTHER_FACILITY,
                record_type=record_type,
                service_date_from=visit_on,
                service_date_to=visit_on,
                patient_confirmed=True,
            )
            documents.page_exclusion_add(
                tenant=tenant,
                actor=worker,
                document=faxed,
                first_page=1,
                reason=ExclusionReason.OTHER,
                note="Fax cover sheet of the sending clinic, not part of the record.",
            )
    packets.packet_build(tenant=tenant, actor=worker, record_request=rr)
    reviewer = next(user for user in staff if user != worker)  # the two-person rule: not the packet's builder
    # The reviewer pages through the packet in the viewer, as a pass requires (what the viewer records per page).
    built = qc.current_packet(tenant=tenant, record_request=rr)
    in_packet = gate.packet_documents(tenant=tenant, record_request=rr, packet=built)
    for _document, viewer, pages in qc.released_pages(tenant=tenant, packet=built, documents=in_packet):
        for page in pages:
            page_images.page_shown(user_id=reviewer.pk, document=viewer, page=page)
    review = qc.qc_review_record(tenant=tenant, actor=reviewer, record_request=rr, confirmed=qc.CHECK_ORDER)
    assert review.outcome == "passed", review.failures
    method = rr.delivery_method
    delivery.delivery_record(
        tenant=tenant,
        actor=worker,
        record_request=rr,
        evidence=delivery.Evidence(
            method=method,
            destination=rr.delivery_destination if method != DeliveryMethod.PICKUP else rr.requestor.name,
            fax_confirmation=f"JOB {rng.randint(1000, 9999)} OK" if method == DeliveryMethod.FAX else "",
            mail_tracking_number=f"9400 1000 0000 {rng.randint(1000, 9999)}" if method == DeliveryMethod.MAIL else "",
            pickup_id_checked_by=reviewer if method == DeliveryMethod.PICKUP else None,
            pickup_id_description="State driver's license" if method == DeliveryMethod.PICKUP else "",
        ),
    )


def _apply_path(
    rng: random.Random,
    tenant: Tenant,
    rr: RecordRequest,
    path: list[str],
    staff: list[User],
    supervisor: User,
    case: Case,
    *,
    fulfil_for_real: bool = False,
) -> None:
    now = timezone.now()
    moment = rr.received_at
    span = max((now - rr.received_at).total_seconds(), 3600)
    step = span / (len(path) + 1.5)

    def tick() -> datetime:
        nonlocal moment
        moment = min(moment + timedelta(seconds=step * rng.uniform(0.5, 1.0)), now - timedelta(minutes=5))
        return moment

    worker = rng.choice(staff)
    if path and path[0] != "cancel":
        with clock.frozen(tick()):
            services.request_assign(tenant=tenant, actor=supervisor, record_request=rr, assignee=worker)
    for step_name in path:
        with clock.frozen(tick()):
            if step_name in FINISHING_STEPS:
                # Beat had been evaluating the rules all along: what fired about this request before it was finished
                # closes with it ("Closed: request delivered on ..." in the inbox).
                escalations_evaluate(tenant_id=tenant.pk, now=clock.now(), request_id=rr.pk)
            if step_name == "validate":
                _complete_intake(tenant, worker, rr, supervisor, case)
            elif step_name == "start":
                transitions.request_start_fulfillment(tenant=tenant, actor=worker, record_request=rr)
            elif step_name == "exception":
                reason, detail, next_step = rng.choice(EXCEPTIONS)
                exception_open(
                    tenant=tenant,
                    actor=worker,
                    record_request=rr,
                    reason=reason,
                    detail=detail,
                    next_step=next_step,
                    next_action_due=clock.now().date() + timedelta(days=rng.randint(2, 10)),
                )
            elif step_name == "deliver" and fulfil_for_real:
                _fulfil(rng, tenant, rr, worker, staff, case)
            elif step_name == "deliver":
                # Older demo history is recorded without packets (building one for every request only slows
                # seeding): the fact QC records on a pass, and the delivery's one-line evidence.
                RecordRequest.objects.filter(pk=rr.pk).update(qc_passed_at=clock.now(), qc_passed_by=supervisor)
                evidence = {
                    DeliveryMethod.FAX: "Fax confirmation #" + str(rng.randint(100000, 999999)),
                    DeliveryMethod.MAIL: "USPS tracking 9400 1000 0000 " + str(rng.randint(1000, 9999)),
                    DeliveryMethod.PICKUP: "Collected in person; driver's license checked",
                }.get(rr.delivery_method, "Portal link issued; downloaded by requestor")
                transitions.request_deliver(tenant=tenant, actor=worker, record_request=rr, evidence=evidence)
            elif step_name == "close":
                transitions.request_close(tenant=tenant, actor=worker, record_request=rr)
            elif step_name == "deny":
                transitions.request_deny(
                    tenant=tenant,
                    actor=supervisor,
                    record_request=rr,
                    basis=rng.choice(
                        [DenialBasis.INVALID_REQUEST, DenialBasis.NOT_HELD, DenialBasis.PSYCHOTHERAPY_NOTES]
                    ),
                    explanation="See the denial letter for the basis and your rights.",
                )
            elif step_name == "cancel":
                transitions.request_cancel(
                    tenant=tenant, actor=worker, record_request=rr, reason="Requestor withdrew the request by phone."
                )
        rr.refresh_from_db()


FINISHING_STEPS = frozenset({"deliver", "deny", "cancel"})
# The demo's supervisors have worked their inbox and staff have read their notices every day, except for the last
# PENDING_DAYS: what waits on the first morning is a few days' worth, as in a department that keeps up.
HISTORY_DAYS = 60
PENDING_DAYS = 2


def _escalation_history(tenant: Tenant) -> None:
    """Beat's escalation runs over the demo's last HISTORY_DAYS days (one a day is enough: a rule fires once per
    request), each day's escalations acknowledged by a supervisor a few hours later, and everyone's notices read,
    except for the last PENDING_DAYS days; then the run of now. Requests finished meanwhile took theirs with them."""
    now = timezone.now()
    supervisors = [
        m.user
        for m in Membership.objects.for_tenant(tenant).select_related("user").order_by("id")
        if m.role in (Role.SUPERVISOR, Role.ADMIN)
    ]
    for days_ago in range(HISTORY_DAYS, PENDING_DAYS, -1):
        moment = now - timedelta(days=days_ago)
        fired = escalations_evaluate(tenant_id=tenant.pk, now=moment)
        pending = list(
            EscalationEvent.objects.for_tenant(tenant)
            .filter(pk__in=fired, acknowledged_at__isnull=True, closed_at__isnull=True)
            .values_list("pk", flat=True)
        )
        if pending:
            with clock.frozen(moment + timedelta(hours=3)):
                escalations_acknowledge(
                    tenant=tenant, actor=supervisors[days_ago % len(supervisors)], event_ids=pending
                )
    cutoff = now - timedelta(days=PENDING_DAYS)
    read_up_to = (
        Notification.objects.for_tenant(tenant)
        .filter(created_at__lt=cutoff)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    if read_up_to is not None:
        with clock.frozen(cutoff):
            for membership in Membership.objects.for_tenant(tenant).select_related("user"):
                notifications_mark_all_read(tenant=tenant, actor=membership.user, up_to_id=read_up_to)
    for days_ago in range(PENDING_DAYS, 0, -1):
        escalations_evaluate(tenant_id=tenant.pk, now=now - timedelta(days=days_ago))
    escalations_evaluate(tenant_id=tenant.pk)


def _received_documents(case: Case, channel: str) -> list[intake_services.IncomingDocument]:
    """What arrived with the request: a faxed request comes as the fax server delivers it, one multi-page TIFF (a
    cover sheet, then the signed authorization or the requestor's letter)."""
    if channel != Channel.FAX:
        return []
    fax = demo_documents.intake_fax(case)
    return [
        intake_services.IncomingDocument(
            uploaded_file=SimpleUploadedFile("fax.tif", fax.content, content_type="image/tiff"),
            kind=DocumentKind.AUTHORIZATION if fax.carries_authorization else DocumentKind.REQUEST_LETTER,
            source=DocumentSource.FAX,
            note=f"Fax from {fax.sender} ({fax.sender_fax}), {fax.pages} pages"[:300],
        )
    ]


def demo_email(name: str) -> str:
    """A person's demo address from their name: its letters (accents dropped) and digits, words joined by dots. ("Mrs. Theresa
    Rivera" once gave "mrs..theresa.rivera@example.com", which intake rightly refuses.)"""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return ".".join(re.findall(r"[a-z0-9]+", plain)) + "@example.com"


# Demo deliveries made through the real fulfillment services, per tenant (each builds a packet PDF: about a second).
REAL_FULFILLMENTS = 6


def seed_tenant(spec: DemoTenant, users: dict[str, User], *, scale: float = 1.0) -> Tenant:
    rng = random.Random(spec.seed)
    count = max(1, round(spec.requests * scale))
    fake = Faker("en_US")
    fake.seed_instance(spec.seed)
    tenant = Tenant.objects.create(
        name=spec.name,
        slug=spec.slug,
        jurisdiction=spec.jurisdiction,
        timezone=spec.timezone,
        him_department_name="Health Information Management - Release of Information",
        him_address=spec.address,
        him_phone=spec.phone,
        him_fax=spec.fax,
        him_email=f"roi@{spec.slug}.example.org",
        privacy_officer="Privacy Officer",
    )
    # The rest is the new tenant's: its row-level security scope until the caller's `rls.scope` ends (roi/rls.py).
    rls.activate(rls.Scope(tenant_id=tenant.pk))
    escalation_rules_seed_defaults(tenant)
    for position, (name, types) in enumerate(DEMO_QUEUES):
        WorkQueue.objects.create(tenant=tenant, name=name, position=position, request_types=types)
    for username, _first, _last, roles, _superuser in DEMO_USERS:
        if spec.slug in roles:
            Membership.objects.create(tenant=tenant, user=users[username], role=roles[spec.slug])
    members = Membership.objects.for_tenant(tenant).select_related("user")
    staff = [m.user for m in members]
    supervisor = next(m.user for m in members if m.role in (Role.SUPERVISOR, Role.ADMIN))
    patients = [
        Patient.objects.create(
            tenant=tenant,
            mrn=f"{spec.slug[:2].upper()}{100000 + i}",
            first_name=fake.first_name(),
            last_name=fake.last_name(),
            date_of_birth=fake.date_of_birth(minimum_age=1, maximum_age=92),
        )
        for i in range(max(1, count * 2 // 3))
    ]
    now = timezone.now()
    real_fulfillments = REAL_FULFILLMENTS
    for index in range(count):
        # Arrival ages skew recent, with a long tail: most of a queue is young, the backlog is old.
        age_days = min(int(rng.expovariate(1 / 18)), 120)
        received_at = now - timedelta(days=age_days, hours=rng.randint(0, 9), minutes=rng.randint(0, 59))
        request_type = _weighted(rng, TYPE_WEIGHTS)
        patient = rng.choice(patients)
        requestor = _requestor_for(rng, fake, tenant, request_type, patient)
        # Unencrypted email is the individual's own choice after a warning (fulfillment.delivery): never random.
        method = rng.choice([m for m in DeliveryMethod if m != DeliveryMethod.UNENCRYPTED_EMAIL])
        path = _target_path(rng, age_days)
        incomplete = not path and rng.random() < 0.35  # half-finished intake, as fax and mail requests often are
        scope_from = (received_at - timedelta(days=rng.randint(60, 1500))).date()
        # Drawn in the order the demo always drew them, so that the same seed gives the same demo.
        channel = _weighted(rng, CHANNEL_WEIGHTS)
        fields = {
            # Psychotherapy notes have rules of their own (an authorization of their own, a denial under the right
            # of access): not among the random demo requests.
            "sensitive_categories": rng.sample(
                [c.value for c in SensitiveCategory if c != SensitiveCategory.PSYCHOTHERAPY_NOTES], k=1
            )
            if rng.random() < 0.08
            else [],
            "scope_date_from": None if incomplete and rng.random() < 0.5 else scope_from,
            "scope_date_to": None if incomplete else received_at.date(),
            "record_types": rng.sample(
                [t.value for t in RecordType if t not in (RecordType.OTHER, RecordType.PSYCHOTHERAPY_NOTES)],
                k=rng.randint(1, 4),
            ),
            "delivery_method": "" if incomplete and rng.random() < 0.5 else method,
            "delivery_destination": "" if incomplete else _destination(rng, fake, method, requestor),
        }
        # What the request's documents say (portal.demo_documents), from a seed of its own: the main sequence above
        # is not disturbed by how many random choices a document makes.
        case = Case(
            tenant=tenant,
            patient=patient,
            requestor=requestor,
            request_type=request_type,
            received_at=received_at,
            record_types=tuple(fields["record_types"]),
            scope_from=fields["scope_date_from"],
            scope_to=fields["scope_date_to"],
            sensitive_categories=tuple(fields["sensitive_categories"]),
            seed=spec.seed * 100_003 + index,
        )
        with clock.frozen(received_at):
            rr = intake_services.intake_receive(
                tenant=tenant,
                actor=None,
                patient=patient,
                requestor=requestor,
                request_type=request_type,
                channel=channel,
                received_at=received_at,
                documents=_received_documents(case, channel),
                # A few acknowledgment letters for the demo; generating one for every request only slows seeding.
                acknowledge=index < 5,
                **fields,
            )
        # The most recent deliveries go through fulfillment for real (packet, QC, delivery), so the demo shows it.
        real = "deliver" in path and age_days <= 30 and real_fulfillments > 0
        real_fulfillments -= real
        _apply_path(rng, tenant, rr, path, staff, supervisor, case, fulfil_for_real=real)
    _status_calls_and_portal_views(random.Random(spec.seed + 7), tenant, staff)
    return tenant


def _status_calls_and_portal_views(rng: random.Random, tenant: Tenant, staff: list[User]) -> None:
    """Calls asking where a request stands, logged through the service at a moment after the request's last
    activity (as they happen), and portal status views by requestors (recorded now: an access event's time is the
    database's), so the dashboard's calls-beside-portal-views figures have something to show."""
    now = timezone.now()
    for rr in RecordRequest.objects.for_tenant(tenant).filter(state__in=OPEN_STATES).order_by("id"):
        if (now - rr.received_at).days >= 3 and rng.random() < 0.35:
            for _ in range(rng.choice([1, 1, 2])):
                moment = rr.last_activity_at + (now - rr.last_activity_at) * rng.uniform(0.2, 0.95)
                with clock.frozen(moment):
                    services.status_call_log(
                        tenant=tenant,
                        actor=rng.choice(staff),
                        record_request=rr,
                        caller=rng.choice(["requestor", "requestor", "patient"]),
                        outcome=rng.choice(["status_given", "status_given", "voicemail", "redirected"]),
                    )
                rr.refresh_from_db(fields=["last_activity_at"])
        if rr.channel == Channel.PORTAL or rng.random() < 0.2:
            for _ in range(rng.randint(1, 3)):
                access_record(
                    tenant=tenant,
                    actor=None,
                    action=AccessAction.PORTAL_STATUS_VIEW,
                    obj=rr,
                    request_id=rr.pk,
                    patient_id=rr.patient_id,
                    detail="status page (demo data)",
                    actor_label="portal requestor (demo data)",
                )


def seed_demo(*, only_if_empty: bool, scale: float = 1.0) -> list[str]:
    """Create the demo tenants that do not exist yet; returns the names of those created."""
    if only_if_empty and Tenant.objects.exists():
        return []
    created = []
    with transaction.atomic():
        users = _ensure_users()
        for spec in DEMO_TENANTS:
            if Tenant.objects.filter(slug=spec.slug).exists():
                continue
            with rls.scope(rls.NOTHING):
                tenant = seed_tenant(spec, users, scale=scale)
                # What beat would do within minutes of start: urgency fields, then the escalations they trigger.
                urgency_refresh(tenant_id=tenant.pk)
                _escalation_history(tenant)
            created.append(spec.name)
    return created


def login_table() -> str:
    lines = [
        f"Demo logins (password for all: {DEMO_PASSWORD}; two-factor code: `make demo-code`, or add the key "
        f"{demo_totp_key()} to an authenticator app)"
    ]
    for username, _first, _last, roles, _superuser in DEMO_USERS:
        where = (
            ", ".join(f"{role.label} at {slug}" for slug, role in roles.items()) or "platform admin (/platform-admin/)"
        )
        lines.append(f"  {username:<18} {where}")
    lines.extend(portal_examples())
    return "\n".join(lines)


def portal_examples() -> list[str]:
    """How to try the requestor portal on the demo data: a request waiting on its requestor, looked up with the
    requestor's email (tracking numbers are random, so they are read from the database)."""
    lines = ["Requestor portal (no login): /status/ with a tracking number and the requestor's email"]
    riverside = Tenant.objects.filter(slug="riverside").values_list("pk", flat=True).first()
    with rls.tenant_scope(riverside):
        return lines + _waiting_examples()


def _waiting_examples() -> list[str]:
    from portal.uploads import open_requestor_episode

    lines = []
    waiting = (
        RecordRequest.objects.filter(tenant__slug="riverside", state="exception")
        .exclude(requestor__email="")
        .select_related("requestor", "tenant")
        .order_by("-received_at")
    )
    for record_request in waiting[:20]:
        if open_requestor_episode(record_request) is not None:
            lines.append(
                f"  {record_request.tracking_number} with {record_request.requestor.email} (action needed: upload)"
            )
            break
    sent = RecordRequest.objects.filter(tenant__slug="riverside", state="delivered").exclude(requestor__email="")
    example = sent.select_related("requestor").order_by("-received_at").first()
    if example is not None:
        lines.append(f"  {example.tracking_number} with {example.requestor.email} (records sent)")
    lines.append("  online requests: /submit/riverside/ and /submit/lakeshore/")
    return lines
