"""Fulfillment: quality control of the release packet before it goes out (docs/domain.md, "The five phases",
phase 4: right patient on every page, within scope, valid basis on the day of release, right recipient and
destination).

The checklist is computed on the latest built packet of a request (not superseded). A computed failure blocks:
whatever the reviewer ticks, a packet that fails one cannot pass. The reviewer ticks what only a person can confirm
(that they looked at every page, that the scope matches what the requestor asked for). A pass records the fact on
the request (qc_passed_at/by, which workflow's `deliver` guard reads); a failure clears it and tells the builder why.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Trunc
from django.urls import reverse

from fulfillment import disclosures, gate, invoices
from fulfillment import documents as docs
from fulfillment.choices import QcOutcome
from fulfillment.models import QcReview, ReleaseDocument, ReleasePacket
from fulfillment.policy import policy_for
from intake import bases, rules
from intake.authorizations import review_with_records
from intake.models import IntakeReview
from roi import clock, page_images
from roi.audit import history_stamp
from roi.errors import NotPermitted, ServiceError
from roi.models import Tenant
from roi.notifications import notify
from roi.tenancy import require_staff, role_in
from workflow.choices import DeliveryMethod, RecordType, RequestState, RequestType, SensitiveCategory
from workflow.models import RecordRequest
from workflow.services import request_locked

# Check codes, in the order the reviewer works through them. QcReview.checks and .failures use these codes.
PATIENT = "patient"
SCOPE = "scope"
BASIS = "basis"
SENSITIVE = "sensitive"
RECIPIENT = "recipient"
FEE = "fee"
CHECK_ORDER = (PATIENT, SCOPE, BASIS, SENSITIVE, RECIPIENT, FEE)
# How the viewer names a retrieved record (fulfillment/views/viewer.py), for the pages shown to a reviewer.
DOCUMENT_KIND = "release"

# QC reviews the release before delivery, and a newer version built for a resend ("missing records", "additional
# records found") after it.
REVIEW_STATES = (RequestState.IN_FULFILLMENT, RequestState.DELIVERED, RequestState.CLOSED)

CHECK_LABELS = {
    PATIENT: "Right patient on every page",
    SCOPE: "Within the requested scope and dates",
    BASIS: "Basis for the release still valid today",
    SENSITIVE: "Sensitive categories covered by consent",
    RECIPIENT: "Recipient and destination match the request",
    FEE: "Fee settled or waived",
}

# What the reviewer confirms by ticking, beside what the system computed.
CONFIRM_PROMPTS = {
    PATIENT: "I looked at every page: each one is this patient's (name, date of birth or MRN).",
    SCOPE: "The records released are what was asked for, no more (minimum necessary where it applies).",
    BASIS: "The authorization, directive, order or other basis covers this release today.",
    SENSITIVE: "Sensitive records in the packet are covered by the consent on file.",
    RECIPIENT: "The cover sheet's recipient and the delivery destination are the ones the request names.",
    FEE: "The fee is paid, waived, or not owed for this release.",
}


@dataclass(frozen=True)
class QcCheck:
    """One line of the checklist: what the system found (`problems`, empty when it passes) and whether a problem
    can be settled by the reviewer's tick (never: computed problems always block)."""

    code: str
    label: str
    prompt: str
    findings: tuple[str, ...]  # what the system checked, for the reviewer to see
    problems: tuple[str, ...]  # computed failures: each blocks the pass

    @property
    def computed_ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class QcChecklist:
    packet: ReleasePacket
    checks: tuple[QcCheck, ...]
    documents: tuple[ReleaseDocument, ...]

    @property
    def blocked(self) -> bool:
        return any(not check.computed_ok for check in self.checks)


# --- Selectors ---------------------------------------------------------------------------------------------


def current_packet(*, tenant: Tenant, record_request: RecordRequest) -> ReleasePacket | None:
    """The latest built version of the release that has not been superseded: the one QC reviews."""
    return (
        ReleasePacket.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk, superseded_at__isnull=True)
        .select_related("built_by")
        .order_by("-version")
        .first()
    )


@dataclass(frozen=True)
class PacketProgress:
    """Where the current packet stands, for the request page's next step: read in one statement."""

    version: int
    built_by_id: int | None
    failed: bool  # its latest review failed it


def packet_progress(*, tenant: Tenant, record_request: RecordRequest) -> PacketProgress | None:
    row = (
        ReleasePacket.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk, superseded_at__isnull=True)
        .annotate(
            last_outcome=Subquery(
                QcReview.objects.filter(tenant=tenant, packet_id=OuterRef("pk"))
                .order_by("-reviewed_at", "-id")
                .values("outcome")[:1]
            )
        )
        .order_by("-version")
        .values("version", "built_by_id", "last_outcome")
        .first()
    )
    if row is None:
        return None
    return PacketProgress(
        version=row["version"], built_by_id=row["built_by_id"], failed=row["last_outcome"] == QcOutcome.FAILED
    )


def latest_review(*, tenant: Tenant, packet: ReleasePacket) -> QcReview | None:
    return QcReview.objects.for_tenant(tenant).filter(packet_id=packet.pk).select_related("reviewer").first()


def packet_passed_qc(*, tenant: Tenant, packet: ReleasePacket) -> bool:
    """The latest review of this packet version passed (a later failure of the same version would undo it)."""
    review = latest_review(tenant=tenant, packet=packet)
    return review is not None and review.outcome == QcOutcome.PASSED


def last_failure(*, tenant: Tenant, record_request: RecordRequest) -> QcReview | None:
    return (
        QcReview.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk, outcome=QcOutcome.FAILED)
        .select_related("reviewer", "packet")
        .first()
    )


def reviews_for(*, tenant: Tenant, record_request: RecordRequest) -> QuerySet[QcReview]:
    return QcReview.objects.for_tenant(tenant).filter(request_id=record_request.pk).select_related("reviewer", "packet")


def qc_counts_by_period(
    *, tenant: Tenant, start: datetime, end: datetime, period: str = "month"
) -> list[dict[str, Any]]:
    """QC outcomes per day, week or month (in the tenant's calendar) for the QC error rate supervisors ask for:
    [{period: date, passed, failed, total}], oldest first. Reviews in [start, end)."""
    if period not in ("day", "week", "month"):
        raise ServiceError("Period must be day, week or month.", field="period")
    rows = (
        QcReview.objects.for_tenant(tenant)
        .filter(reviewed_at__gte=start, reviewed_at__lt=end)
        .annotate(period=Trunc("reviewed_at", period, tzinfo=tenant.tzinfo))
        .values("period")
        .annotate(
            passed=Count("id", filter=Q(outcome=QcOutcome.PASSED)),
            failed=Count("id", filter=Q(outcome=QcOutcome.FAILED)),
            total=Count("id"),
        )
        .order_by("period")
    )
    return [{**row, "period": row["period"].date()} for row in rows]


# --- The checklist -------------------------------------------------------------------------------------------


def _fmt(day: date | None) -> str:
    return f"{day:%b %-d, %Y}" if day else "?"


def _patient_check(documents: list[ReleaseDocument], missing_ids: list[int]) -> QcCheck:
    problems = [
        f"{doc.original_name}: not confirmed as this patient's." for doc in documents if not doc.patient_confirmed
    ]
    if missing_ids:
        problems.append("The packet lists documents that are not this request's; rebuild it.")
    if not documents and not missing_ids:
        problems.append("The packet includes no records; rebuild it from the request's documents.")
    findings = [f"{len(documents)} document{'s' if len(documents) != 1 else ''} in the packet."]
    return QcCheck(PATIENT, CHECK_LABELS[PATIENT], CONFIRM_PROMPTS[PATIENT], tuple(findings), tuple(problems))


def _accounting_scope_check(tenant: Tenant, record_request: RecordRequest, documents: list[ReleaseDocument]) -> QcCheck:
    """An accounting request (164.528) asks for a list of disclosures, not records: its scope is the accounting of
    the six years before receipt, so the release holds that report and nothing else."""
    start, end = disclosures.accounting_period(tenant=tenant, record_request=record_request)
    findings = [
        f"Requested: the accounting of disclosures from {_fmt(start)} to {_fmt(end)} (45 CFR 164.528(a)); no "
        "record types or dates of service."
    ]
    reports = set(
        disclosures.accounting_reports(tenant=tenant, record_request=record_request).values_list("pk", flat=True)
    )
    problems = []
    for doc in documents:
        if doc.pk not in reports:
            problems.append(
                f"{doc.original_name}: an accounting request releases the accounting of disclosures, not records; "
                "leave it out."
            )
        elif (doc.service_date_from, doc.service_date_to) != (start, end):
            problems.append(
                f"{doc.original_name}: covers {_fmt(doc.service_date_from)} to {_fmt(doc.service_date_to)}, not the "
                "six years before the request; generate the accounting again and rebuild the packet."
            )
    return QcCheck(SCOPE, CHECK_LABELS[SCOPE], CONFIRM_PROMPTS[SCOPE], tuple(findings), tuple(problems))


def _scope_check(tenant: Tenant, record_request: RecordRequest, documents: list[ReleaseDocument]) -> QcCheck:
    if record_request.request_type == RequestType.ACCOUNTING:
        return _accounting_scope_check(tenant, record_request, documents)
    wanted = set(record_request.record_types)
    everything = RecordType.COMPLETE in wanted or not wanted
    start, end = record_request.scope_date_from, record_request.scope_date_to
    findings = [
        "Requested: "
        + ("; ".join(record_request.record_type_labels) or "any record type")
        + (f", dates of service {_fmt(start) if start else 'any'} to {_fmt(end) if end else 'present'}"),
        minimum_necessary(record_request),
    ]
    problems = []
    for doc in documents:
        if not everything and doc.record_type not in wanted:
            problems.append(f"{doc.original_name}: {doc.get_record_type_display()} was not requested.")
        first, last = doc.service_date_from, doc.service_date_to or doc.service_date_from
        if (start and last and last < start) or (end and first and first > end):
            problems.append(
                f"{doc.original_name}: dates of service {_fmt(first)} to {_fmt(last)} fall outside the requested dates."
            )
    return QcCheck(SCOPE, CHECK_LABELS[SCOPE], CONFIRM_PROMPTS[SCOPE], tuple(findings), tuple(problems))


def minimum_necessary(record_request: RecordRequest) -> str:
    """Whether the release must be limited to the minimum necessary for its purpose (164.502(b)), said for the QC
    reviewer who confirms it: it does not apply to the individual's own request, a disclosure they authorized, one for
    treatment, or one required by law (164.502(b)(2))."""
    basis = _basis(record_request)
    public = bases.BASES.get(basis)
    if public is not None:
        verb = "applies" if public.minimum_necessary else "does not apply"
        return f"Minimum necessary {verb}: {public.label.lower()} ({public.minimum_necessary_note})."
    if basis == rules.LEGAL:
        return (
            "Minimum necessary applies to a subpoena (45 CFR 164.502(b)); a court order releases only what it "
            "expressly covers (164.512(e)(1)(i))."
        )
    if basis == rules.TREATMENT:
        return "Minimum necessary does not apply to a disclosure for treatment (45 CFR 164.502(b)(2)(i))."
    if basis == rules.AUTHORIZATION:
        return "Minimum necessary does not apply: release what the authorization describes (45 CFR 164.502(b)(2)(iii))."
    return "Minimum necessary does not apply to the individual's own request (45 CFR 164.502(b)(2)(ii))."


def _basis(record_request: RecordRequest) -> str:
    return rules.basis_for(record_request.request_type, record_request.requestor.kind)


# The release gate's refusals about the basis (the authorization, directive, representative, order) go to the basis
# check; those about what the documents carry (consents, psychotherapy notes, Part 2) to the sensitive check.
SENSITIVE_SUBJECTS = frozenset(
    {"Sensitive-category consent", "Part 2 consent", "Psychotherapy notes", "Psychotherapy-notes authorization"}
)
SENSITIVE_CODES = ("CONSENT_MISSING_", "PSYCHOTHERAPY_", "PART2_", "AUTH_PSYCHOTHERAPY_", "MINOR_CONSENTED_")


def _is_sensitive(refusal: gate.Refusal) -> bool:
    return refusal.subject in SENSITIVE_SUBJECTS or refusal.code.startswith(SENSITIVE_CODES)


def _line(refusal: gate.Refusal) -> str:
    return f"{refusal.message} ({refusal.citation}) {refusal.fix}"


def _basis_check(record_request: RecordRequest, review: IntakeReview | None, refusals: list[gate.Refusal]) -> QcCheck:
    """The release gate's rules on today's facts (fulfillment.gate.basis_refusals): the same verdict the release
    itself will ask for, so this check never passes beside a revoked or expired authorization."""
    basis = _basis(record_request)
    findings = [rules.BASIS_LABELS[basis]]
    auth = review.authorization if review is not None and review.authorization_id else None
    if auth is not None:
        findings.append(str(auth))
        if auth.expires_on is not None:
            findings.append(f"Expires {_fmt(auth.expires_on)}.")
        elif auth.expiration_event:
            findings.append(f"Expires on an event: {auth.expiration_event}.")
    # Scope and delivery findings are the scope and recipient checks' own.
    problems = [_line(r) for r in refusals if not _is_sensitive(r) and r.subject not in ("Scope", "Delivery")]
    return QcCheck(BASIS, CHECK_LABELS[BASIS], CONFIRM_PROMPTS[BASIS], tuple(findings), tuple(problems))


def _sensitive_check(
    documents: list[ReleaseDocument], review: IntakeReview | None, packet: ReleasePacket, refusals: list[gate.Refusal]
) -> QcCheck:
    """Every sensitive category in the packet covered by the right consent; psychotherapy notes only on an
    authorization of their own and never under the right of access; Part 2 records with the 2.32 notice. The rules
    are the release gate's (fulfillment.gate)."""
    consents = set(review.consents_received) if review is not None else set()
    present: dict[str, list[str]] = {}
    leaving = gate.leaving_categories(documents, packet)
    for doc in documents:
        for category in leaving[doc.pk]:
            present.setdefault(category, []).append(doc.original_name)
    problems = [_line(r) for r in refusals if _is_sensitive(r)]
    if SensitiveCategory.SUD_PART2 in present and not packet.includes_part2:
        problems.append("Part 2 records are in the packet but its pages lack the redisclosure notice; rebuild it.")
    findings = [
        "In the packet: " + ("; ".join(SensitiveCategory(c).label for c in present) if present else "none"),
    ]
    if consents:
        findings.append("Consents on file: " + "; ".join(SensitiveCategory(c).label for c in sorted(consents)))
    return QcCheck(SENSITIVE, CHECK_LABELS[SENSITIVE], CONFIRM_PROMPTS[SENSITIVE], tuple(findings), tuple(problems))


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _recipient_check(record_request: RecordRequest, packet: ReleasePacket) -> QcCheck:
    requestor = record_request.requestor
    recipient = _norm(packet.recipient)
    names = [_norm(n) for n in (requestor.name, requestor.organization) if n.strip()]
    method = record_request.delivery_method
    destination = record_request.delivery_destination
    findings = [
        f"Cover sheet: {packet.recipient or '(none)'}",
        f"Request: {requestor}; "
        + (DeliveryMethod(method).label if method else "no delivery method")
        + (f" to {destination}" if destination else ""),
    ]
    problems = []
    if not recipient or not any(name in recipient for name in names):
        problems.append(
            f"The cover sheet names {packet.recipient or 'nobody'!s}, not the requestor ({requestor}); rebuild "
            "the packet for the right recipient."
        )
    problems.extend(gap for gap in record_request.intake_gaps() if gap.startswith("Delivery"))
    return QcCheck(RECIPIENT, CHECK_LABELS[RECIPIENT], CONFIRM_PROMPTS[RECIPIENT], tuple(findings), tuple(problems))


def _fee_check(tenant: Tenant, record_request: RecordRequest) -> QcCheck:
    problem = invoices.release_fee_problem(tenant=tenant, record_request=record_request)
    findings = ("Nothing holds this release." if not problem else "The fee holds this release.",)
    return QcCheck(FEE, CHECK_LABELS[FEE], CONFIRM_PROMPTS[FEE], findings, (problem,) if problem else ())


def qc_checklist(*, tenant: Tenant, record_request: RecordRequest, packet: ReleasePacket) -> QcChecklist:
    """Every check of the checklist computed on one packet version."""
    documents = gate.packet_documents(tenant=tenant, record_request=record_request, packet=packet)
    missing = sorted(set(packet.document_ids) - {doc.pk for doc in documents})
    review = review_with_records(tenant=tenant, record_request=record_request)
    refusals = gate.basis_refusals(
        tenant=tenant, record_request=record_request, documents=documents, review=review, packet=packet
    )
    checks = (
        _patient_check(documents, missing),
        _scope_check(tenant, record_request, documents),
        _basis_check(record_request, review, refusals),
        _sensitive_check(documents, review, packet, refusals),
        _recipient_check(record_request, packet),
        _fee_check(tenant, record_request),
    )
    return QcChecklist(packet=packet, checks=checks, documents=tuple(documents))


def released_pages(
    *, tenant: Tenant, packet: ReleasePacket, documents: list[ReleaseDocument]
) -> list[tuple[ReleaseDocument, page_images.ViewerDocument, list[int]]]:
    """Each document of the packet, as the viewer names it, with the pages the packet releases."""
    released = {
        int(item["document"]): sorted(int(p) for p in item.get("pages") or []) for item in packet.contents or []
    }
    return [
        (
            document,
            page_images.viewer_document(DOCUMENT_KIND, document, tenant_id=tenant.pk),
            released.get(document.pk, []),
        )
        for document in documents
    ]


def released_pages_not_shown(
    *, tenant: Tenant, packet: ReleasePacket, documents: list[ReleaseDocument], user_id: int
) -> list[str]:
    """The pages the packet releases that were not shown to the user at reading size in the viewer
    (roi.page_images), one line per document ("discharge.pdf: pages 2-5"); empty when every page was shown."""
    lines = []
    for document, viewer, pages in released_pages(tenant=tenant, packet=packet, documents=documents):
        missing = page_images.pages_not_shown(
            tenant_id=tenant.pk, user_id=user_id, key=viewer.key, digest=viewer.digest, pages=pages
        )
        if missing:
            lines.append(f"{document.original_name}: {docs.pages_runs(missing)}")
    return lines


# --- The service -------------------------------------------------------------------------------------------


def qc_review_record(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    confirmed: Iterable[str],
    note: str = "",
    packet_version: int | None = None,
) -> QcReview:
    """Record the reviewer's QC of the current packet. It passes only when every computed check passes and the
    reviewer confirmed every check; otherwise it is recorded as failed with every reason, QC is cleared on the
    request and the packet's builder is notified. `packet_version` is the version the reviewer looked at: if a
    newer one was built meanwhile, nothing is recorded."""
    require_staff(actor, tenant)
    confirmed = set(confirmed) & set(CHECK_ORDER)
    note = (note or "").strip()
    with transaction.atomic():
        current = request_locked(tenant=tenant, pk=record_request.pk)
        if current.state not in REVIEW_STATES:
            raise ServiceError(
                f"Quality control is done while the request is in fulfillment (or, for a resend, delivered); it is "
                f"{RequestState(current.state).label.lower()}."
            )
        packet = current_packet(tenant=tenant, record_request=current)
        if packet is None:
            raise ServiceError("There is no release packet to review yet: build the packet first.")
        if packet_version is not None and packet.version != packet_version:
            raise ServiceError(
                f"Packet v{packet.version} was built since you opened the page; review that version.", field="packet"
            )
        if packet_passed_qc(tenant=tenant, packet=packet):
            raise ServiceError(f"Packet v{packet.version} already passed quality control.")
        if policy_for(tenant).qc_two_person_rule and packet.built_by_id == actor.pk:
            raise NotPermitted(
                "You built this packet: another staff member must do its quality control (two-person rule)."
            )
        checklist = qc_checklist(tenant=tenant, record_request=current, packet=packet)
        failures = [
            {"code": check.code, "message": problem} for check in checklist.checks for problem in check.problems
        ]
        unconfirmed = [code for code in CHECK_ORDER if code not in confirmed]
        if unconfirmed and not failures and not note:
            raise ServiceError(
                "Tick every check you confirmed; for a failed review, say in the note what is wrong.", field="note"
            )
        failures.extend(
            {"code": code, "message": f"Not confirmed by the reviewer: {CHECK_LABELS[code].lower()}."}
            for code in unconfirmed
        )
        if not failures:
            # A pass: "I looked at every page" is checked, not taken on trust. Each released page must have been
            # shown to the reviewer in the viewer (roi.page_images); nothing is recorded until it was. A failure
            # needs no paging through: the reviewer says what is wrong.
            not_shown = released_pages_not_shown(
                tenant=tenant, packet=packet, documents=list(checklist.documents), user_id=actor.pk
            )
            if not_shown:
                raise ServiceError(
                    "You have not looked at every page the packet releases: "
                    + "; ".join(not_shown)
                    + ". Open each record in the viewer beside the checks and page through it (the arrow keys turn "
                    "the pages), then record the review.",
                    field=f"confirm_{PATIENT}",
                )
        now = clock.now()
        outcome = QcOutcome.FAILED if failures else QcOutcome.PASSED
        review = QcReview(
            tenant=tenant,
            request=current,
            packet=packet,
            reviewer=actor,
            reviewed_at=now,
            outcome=outcome,
            checks={code: code in confirmed for code in CHECK_ORDER},
            failures=failures,
            note=note,
            release_facts=gate.release_facts(
                tenant=tenant, record_request=current, packet=packet, documents=list(checklist.documents)
            )
            if outcome == QcOutcome.PASSED
            else {},
        )
        history_stamp(review, actor)
        review.save()
        if current.state == RequestState.IN_FULFILLMENT:
            # The fact workflow's `deliver` guard reads. Once delivered it stays: the release that went out passed;
            # a later version's review only decides what a resend may send.
            current.qc_passed_at = now if outcome == QcOutcome.PASSED else None
            current.qc_passed_by = actor if outcome == QcOutcome.PASSED else None
        current.last_activity_at = now
        history_stamp(current, actor)
        current.save(update_fields=["qc_passed_at", "qc_passed_by", "last_activity_at", "updated_at"])
        if outcome == QcOutcome.FAILED:
            _notify_builder(tenant=tenant, record_request=current, packet=packet, review=review)
    return review


def _notify_builder(*, tenant: Tenant, record_request: RecordRequest, packet: ReleasePacket, review: QcReview) -> None:
    """An in-app notice to whoever built the packet (no email: the reasons name documents)."""
    builder = packet.built_by
    if builder is None or role_in(builder, tenant) is None:
        return
    reasons = "\n".join(f"- {failure['message']}" for failure in review.failures)
    body = f"Quality control of packet v{packet.version} failed:\n{reasons}"
    if review.note:
        body += f"\n\nReviewer's note: {review.note}"
    notify(
        tenant=tenant,
        recipient=builder,
        kind="qc_failed",
        subject=f"QC failed on {record_request.tracking_number} (packet v{packet.version})",
        body=body,
        link=reverse("workflow:detail", args=[record_request.tracking_number]),
        dedupe_key=f"qc-failed:{review.pk}",
    )
