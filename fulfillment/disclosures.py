"""Fulfillment: the accounting of disclosures, 45 CFR 164.528.

- `disclosure_for_delivery`: the deliver service (fulfillment.delivery) calls this inside its transaction; a release
  whose basis is accountable writes its Disclosure row, decided by the table ACCOUNTABILITY_RULES below.
- Staff record disclosures made outside a request (a public-health report) and correct them from the patient's
  accounting page; history keeps every version, and a mistaken entry is marked "entered in error", never deleted.
- Agencies' suspensions (164.528(a)(2)).
- The accounting itself (`accounting_entries`): the patient's page and the report PDF of an `accounting` request. The
  report is stored as a ReleaseDocument of that request, so it goes out like any release: packet, QC, delivery with
  evidence (a Delivery needs a packet; a Letter is only a notice and carries no delivery evidence).
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from pypdf import PdfReader

from fulfillment.choices import DisclosurePurpose, ExclusionReason, ResendReason, RetrievalSource
from fulfillment.models import Delivery, Disclosure, DisclosureSuspension, ReleaseDocument
from intake import bases
from intake.letters import LETTER_DATE_FORMAT, status_url
from intake.models import IntakeReview
from roi import clock
from roi.audit import history_stamp
from roi.errors import ServiceError
from roi.models import Tenant
from roi.pdf import render_pdf
from workflow.choices import OPEN_STATES, RecordType, RequestorKind, RequestType
from workflow.deadlines import local_date
from workflow.models import Patient, RecordRequest, Requestor

# 164.528(a): "in the six years prior to the date on which the accounting is requested".
ACCOUNTING_YEARS = 6
# 164.528(a)(2)(ii)(C): an oral suspension lasts no longer than 30 days from the oral statement.
ORAL_SUSPENSION_MAX_DAYS = 30
REPORT_TEMPLATE = "fulfillment/disclosures/accounting_report.html"


# --- Which releases are accountable ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountabilityRule:
    """One row of the table: a request type (and, where it matters, the requestor kind or the legal document the
    intake review recorded), whether a release on it is accountable, the purpose recorded, and why."""

    request_type: str
    accountable: bool
    citation: str
    reason: str
    requestor_kinds: frozenset[str] = frozenset()  # empty: any requestor
    legal_document_type: str | None = None  # None: any (legal requests only)
    purpose: str = ""
    answer: tuple[str, tuple[str, ...]] | None = None  # a 164.512 basis's answer it depends on (intake.bases)


SELF = frozenset({RequestorKind.PATIENT, RequestorKind.PERSONAL_REPRESENTATIVE})
T = RequestType

# First matching row wins. Only purposes in DisclosurePurpose are accountable; everything else is a named exclusion.
ACCOUNTABILITY_RULES: tuple[AccountabilityRule, ...] = (
    AccountabilityRule(
        T.RIGHT_OF_ACCESS, False, "45 CFR 164.528(a)(1)(ii)",
        "Disclosure to the individual (or at their direction) under the right of access.",
    ),
    AccountabilityRule(
        T.ACCOUNTING, False, "45 CFR 164.528(a)(1)(ii)", "The accounting itself goes to the individual."
    ),
    AccountabilityRule(
        T.AUTHORIZATION, False, "45 CFR 164.528(a)(1)(iv)", "Disclosure under the patient's signed authorization."
    ),
    AccountabilityRule(
        T.CONTINUITY_OF_CARE, False, "45 CFR 164.528(a)(1)(i)", "Disclosure for treatment (continuity of care)."
    ),
    AccountabilityRule(
        T.LEGAL, True, "45 CFR 164.512(e)(1)(i)", "Court order.",
        legal_document_type="court_order", purpose=DisclosurePurpose.COURT_ORDER,
    ),
    AccountabilityRule(
        T.LEGAL, True, "45 CFR 164.512(e)(1)(ii)", "Subpoena or discovery request without a court order.",
        legal_document_type="subpoena", purpose=DisclosurePurpose.SUBPOENA,
    ),
    AccountabilityRule(
        T.LEGAL, True, "45 CFR 164.512(a), (f)(1)(ii)(C)", "Administrative request or agency demand.",
        legal_document_type="administrative", purpose=DisclosurePurpose.OTHER_REQUIRED_BY_LAW,
    ),
    # The intake review did not say which legal document it was: still accountable (every 164.512(e) release is);
    # recorded as required by law so staff can correct the purpose from the accounting page.
    AccountabilityRule(
        T.LEGAL, True, "45 CFR 164.512(e)", "Subpoena or court order (the intake review does not say which).",
        purpose=DisclosurePurpose.OTHER_REQUIRED_BY_LAW,
    ),
    AccountabilityRule(
        T.OTHER, False, "45 CFR 164.528(a)(1)(ii)", "Disclosure to the individual or their representative.",
        requestor_kinds=SELF,
    ),
    # "Other" to a government agency or court: public health, oversight, law enforcement, SSA, workers' comp... The
    # request does not say which, so we record it (conservative: an accounting that lists one disclosure too many
    # is a smaller harm than one that hides one) as required by law; staff correct the purpose on the entry.
    AccountabilityRule(
        T.OTHER, True, "45 CFR 164.512", "Release to a government agency without an authorization (purpose unstated).",
        requestor_kinds=frozenset({RequestorKind.GOVERNMENT}), purpose=DisclosurePurpose.OTHER_REQUIRED_BY_LAW,
    ),
    # Other third parties (attorneys, insurers, providers, others) are validated by intake as authorizations.
    AccountabilityRule(
        T.OTHER, False, "45 CFR 164.528(a)(1)(iv)", "Third-party release validated as an authorization at intake."
    ),
    # The 164.512 bases: each basis's own rows (intake.bases), accountable unless 164.528(a)(1) excludes them.
    *(
        AccountabilityRule(
            code, row.accountable, row.citation, row.reason, purpose=row.purpose, answer=row.when
        )
        for code, b in bases.BASES.items()
        for row in b.accounting
    ),
)  # fmt: skip


def accountability_rule(
    *,
    request_type: str,
    requestor_kind: str,
    legal_document_type: str = "",
    basis_answers: dict[str, Any] | None = None,
) -> AccountabilityRule:
    answers = basis_answers or {}
    for rule in ACCOUNTABILITY_RULES:
        if rule.request_type != request_type:
            continue
        if rule.requestor_kinds and requestor_kind not in rule.requestor_kinds:
            continue
        if rule.legal_document_type is not None and rule.legal_document_type != legal_document_type:
            continue
        if rule.answer is not None and answers.get(rule.answer[0]) not in rule.answer[1]:
            continue
        return rule
    raise ValueError(f"No accountability rule for {request_type!r}")  # the table covers every RequestType


def accountability_for(*, tenant: Tenant, record_request: RecordRequest) -> AccountabilityRule:
    legal_document_type, answers = "", {}
    if record_request.request_type == RequestType.LEGAL or record_request.request_type in bases.BASES:
        legal_document_type, answers = (
            IntakeReview.objects.for_tenant(tenant)
            .filter(request_id=record_request.pk)
            .values_list("legal_document_type", "basis_answers")
            .first()
        ) or ("", {})
    return accountability_rule(
        request_type=record_request.request_type,
        requestor_kind=record_request.requestor.kind,
        legal_document_type=legal_document_type or "",
        basis_answers=answers,
    )


# --- Writing disclosures ---------------------------------------------------------------------------------------


def _packet_description(*, tenant: Tenant, delivery: Delivery) -> str:
    """What was disclosed, briefly: the record types released, their dates of service and the page count."""
    packet = delivery.packet
    documents = list(ReleaseDocument.objects.for_tenant(tenant).filter(pk__in=packet.document_ids))
    types = sorted({doc.get_record_type_display() for doc in documents}) or delivery.request.record_type_labels
    starts = [d.service_date_from for d in documents if d.service_date_from]
    ends = [d.service_date_to or d.service_date_from for d in documents if d.service_date_to or d.service_date_from]
    if not starts:
        starts = [delivery.request.scope_date_from] if delivery.request.scope_date_from else []
        ends = [delivery.request.scope_date_to] if delivery.request.scope_date_to else []
    text = "; ".join(types) or "Health records"
    if starts and ends:
        text += f", dates of service {min(starts):%b %-d, %Y} to {max(ends):%b %-d, %Y}"
    pages = packet.record_pages
    text += f" ({pages} page{'s' if pages != 1 else ''})"
    return text[:500]


def disclosure_for_delivery(*, tenant: Tenant, actor: Any, delivery: Delivery) -> Disclosure | None:
    """The accounting-of-disclosures entry a delivery makes when its basis is accountable (164.528), or None.
    The deliver service calls this in its transaction. A resend to the same recipient repeats the same disclosure
    and adds none, unless it carries additional records. Calling it twice for one delivery returns the same row."""
    if delivery.tenant_id != tenant.pk:
        raise ServiceError("Delivery not found.")
    existing = Disclosure.objects.for_tenant(tenant).filter(delivery=delivery).first()
    if existing is not None:
        return existing
    record_request = RecordRequest.objects.for_tenant(tenant).select_related("requestor").get(pk=delivery.request_id)
    rule = accountability_for(tenant=tenant, record_request=record_request)
    if not rule.accountable:
        return None
    if (
        delivery.resend_of_id is not None
        and delivery.resend_reason != ResendReason.ADDITIONAL_RECORDS
        and Disclosure.objects.for_tenant(tenant).filter(delivery_id=delivery.resend_of_id).exists()
    ):
        return None
    requestor = record_request.requestor
    address = requestor.postal_address or (delivery.destination if delivery.method == "mail" else "")
    disclosure = Disclosure(
        tenant=tenant,
        patient_id=record_request.patient_id,
        request=record_request,
        delivery=delivery,
        disclosed_on=local_date(delivery.delivered_at, tenant),
        recipient_name=str(requestor)[:300],
        recipient_address=address[:300],
        description=_packet_description(tenant=tenant, delivery=delivery),
        purpose=rule.purpose,
        purpose_statement=f"{rule.reason} Request {record_request.tracking_number} ({rule.citation}).",
        recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        recorded_at=clock.now(),
    )
    history_stamp(disclosure, actor)
    disclosure.save()
    return disclosure


def _clean_disclosure_fields(values: dict[str, Any], *, tenant: Tenant) -> dict[str, Any]:
    cleaned = {
        "disclosed_on": values["disclosed_on"],
        "recipient_name": (values.get("recipient_name") or "").strip(),
        "recipient_address": (values.get("recipient_address") or "").strip(),
        "description": (values.get("description") or "").strip(),
        "purpose": values.get("purpose") or "",
        "purpose_statement": (values.get("purpose_statement") or "").strip(),
    }
    if cleaned["purpose"] not in DisclosurePurpose.values:
        raise ServiceError(
            "Choose the purpose from the list: disclosures for treatment, payment, operations, to the patient or "
            "under an authorization are not accounted for (45 CFR 164.528(a)(1)).",
            field="purpose",
        )
    for name, label in (("recipient_name", "recipient"), ("description", "description of what was disclosed")):
        if not cleaned[name]:
            raise ServiceError(f"Give the {label}.", field=name)
    if cleaned["disclosed_on"] > local_date(clock.now(), tenant):
        raise ServiceError("The date of the disclosure cannot be in the future.", field="disclosed_on")
    return cleaned


def disclosure_record(*, tenant: Tenant, actor: Any, patient: Patient, **values: Any) -> Disclosure:
    """A disclosure made outside a request (a public-health report, a report to an oversight agency), recorded from
    the patient's accounting page. `values`: disclosed_on, recipient_name, recipient_address, description,
    purpose, purpose_statement."""
    if patient.tenant_id != tenant.pk:
        raise ServiceError("Patient not found.")
    cleaned = _clean_disclosure_fields(values, tenant=tenant)
    with transaction.atomic():
        disclosure = Disclosure(
            tenant=tenant,
            patient=patient,
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
            recorded_at=clock.now(),
            **cleaned,
        )
        history_stamp(disclosure, actor)
        disclosure.save()
    return disclosure


def disclosure_correct(
    *, tenant: Tenant, actor: Any, disclosure: Disclosure, reason: str, entered_in_error: bool = False, **values: Any
) -> Disclosure:
    """Correct an entry, or mark it entered in error, which takes it out of the accounting. Disclosures are records
    of fact (roi/records.py): a correction is a new entry that points at the one it corrects (the accounting lists
    the newest), and marking an entry in error fills in its two write-once columns. Returns the entry as it now
    stands."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Say why the entry is corrected.", field="reason")
    with transaction.atomic():
        try:
            current = Disclosure.objects.for_tenant(tenant).select_for_update().get(pk=disclosure.pk)
        except Disclosure.DoesNotExist:
            raise ServiceError("Disclosure not found.") from None
        if current.entered_in_error_at is not None:
            raise ServiceError("This entry was marked entered in error; record a new disclosure instead.")
        if Disclosure.objects.for_tenant(tenant).filter(corrects=current).exists():
            raise ServiceError("This entry was corrected already; correct its newest version.")
        if entered_in_error:
            current.entered_in_error_at = clock.now()
            current.entered_in_error_reason = reason[:300]
            history_stamp(current, actor)
            current._change_reason = reason[:100]  # django-simple-history: shown with the version
            current.save(update_fields=["entered_in_error_at", "entered_in_error_reason"])
            return current
        corrected = Disclosure(
            tenant=tenant,
            patient=current.patient,
            request=current.request,
            delivery=None,  # the delivery stays with the entry it wrote
            disclosed_on=current.disclosed_on,
            recipient_name=current.recipient_name,
            recipient_address=current.recipient_address,
            description=current.description,
            purpose=current.purpose,
            purpose_statement=current.purpose_statement,
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
            recorded_at=clock.now(),
            corrects=current,
            correction_reason=reason[:300],
        )
        for name, value in _clean_disclosure_fields(values, tenant=tenant).items():
            setattr(corrected, name, value)
        history_stamp(corrected, actor)
        corrected._change_reason = reason[:100]
        corrected.save()
    return corrected


# --- Suspensions ---------------------------------------------------------------------------------------------


def agency_key(name: str) -> str:
    """A recipient's name with case, spacing and punctuation folded, and nothing else: "Springfield Police Dept."
    and "springfield police dept" are one agency, "Springfield Police Athletic League" is another."""
    return "".join(character for character in name.casefold() if character.isalnum())


def suspends(suspension: DisclosureSuspension, disclosure: Disclosure) -> bool:
    """Whether the suspension leaves the disclosure out of the accounting (164.528(a)(2)): it was made under a
    request by the agency's requestor on file, or to a recipient named exactly as the agency (the entry's recipient,
    or the name or organisation of the requestor it was made to), case, spacing and punctuation aside. Part of a
    name is never enough: the accounting must list every disclosure to anyone else. The caller loads
    `disclosure.request.requestor` with the row (select_related)."""
    requestor = disclosure.request.requestor if disclosure.request_id is not None else None
    if requestor is not None and requestor.pk == suspension.agency_requestor_id:
        return True
    key = agency_key(suspension.agency)
    names = [disclosure.recipient_name, *((requestor.name, requestor.organization) if requestor else ())]
    return bool(key) and any(agency_key(name) == key for name in names)


def suspension_record(
    *,
    tenant: Tenant,
    actor: Any,
    patient: Patient,
    agency: str = "",
    agency_requestor: Requestor | None = None,
    statement: str,
    oral: bool,
    starts_on: date,
    ends_on: date,
) -> DisclosureSuspension:
    """An agency's statement that an accounting would impede its work (164.528(a)(2)): disclosures to it are left
    out of the patient's accounting until `ends_on`. An oral statement lasts at most 30 days. The agency is its
    requestor on file (`agency_requestor`, named by its organisation unless `agency` is given), or its exact name as
    the disclosures give their recipient (`suspends`)."""
    if patient.tenant_id != tenant.pk:
        raise ServiceError("Patient not found.")
    if agency_requestor is not None and agency_requestor.tenant_id != tenant.pk:
        raise ServiceError("That agency is not on file in this organisation; choose it again.", field="agency")
    agency, statement = (agency or "").strip(), (statement or "").strip()
    if not agency and agency_requestor is not None:
        agency = agency_requestor.organization.strip() or agency_requestor.name.strip()
    if not agency_key(agency):
        raise ServiceError(
            "Name the agency exactly as the disclosures name their recipient, or choose it from the list (the "
            "official who asked goes in the statement).",
            field="agency",
        )
    if not statement:
        raise ServiceError("Record the agency's statement and the time it asks for.", field="statement")
    if ends_on < starts_on:
        raise ServiceError("The end date must be on or after the start date.", field="ends_on")
    if oral and (ends_on - starts_on).days > ORAL_SUSPENSION_MAX_DAYS:
        raise ServiceError(
            f"An oral request suspends the accounting for at most {ORAL_SUSPENSION_MAX_DAYS} days (45 CFR "
            f"164.528(a)(2)(ii)): end it by {starts_on + timedelta(days=ORAL_SUSPENSION_MAX_DAYS):%b %-d, %Y}, or ask "
            "the agency for a written statement giving the time it needs.",
            field="ends_on",
        )
    with transaction.atomic():
        suspension = DisclosureSuspension(
            tenant=tenant,
            patient=patient,
            agency=agency[:300],
            agency_requestor=agency_requestor,
            statement=statement,
            oral=oral,
            starts_on=starts_on,
            ends_on=ends_on,
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
            recorded_at=clock.now(),
        )
        history_stamp(suspension, actor)
        suspension.save()
    return suspension


# --- The accounting --------------------------------------------------------------------------------------------


def window_start(received_on: date) -> date:
    """The first day of the six years before `received_on` (Feb 29 falls back to Feb 28: one day more, never
    less)."""
    try:
        return received_on.replace(year=received_on.year - ACCOUNTING_YEARS)
    except ValueError:
        return received_on.replace(year=received_on.year - ACCOUNTING_YEARS, day=28)


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


@dataclass
class AccountingEntry:
    """One line of the accounting: a disclosure, or repeated disclosures to one recipient for one purpose
    summarised as 164.528(b)(3) allows (the first in full, how many, and the date of the last)."""

    first: Disclosure
    disclosures: list[Disclosure] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.disclosures)

    @property
    def last_on(self) -> date:
        return self.disclosures[-1].disclosed_on

    @property
    def is_summary(self) -> bool:
        return self.count > 1


def patient_disclosures(*, tenant: Tenant, patient: Patient) -> QuerySet[Disclosure]:
    """Every disclosure row of the patient, newest first, for the staff page (entered-in-error and corrected ones
    included; `superseded` marks an entry a newer one corrects)."""
    return (
        Disclosure.objects.for_tenant(tenant)
        .filter(patient=patient)
        .annotate(superseded=Exists(Disclosure.objects.for_tenant(tenant).filter(corrects=OuterRef("pk"))))
        .select_related("request__requestor", "recorded_by")
        .order_by("-disclosed_on", "-id")
    )


def patient_suspensions(*, tenant: Tenant, patient: Patient) -> QuerySet[DisclosureSuspension]:
    return (
        DisclosureSuspension.objects.for_tenant(tenant)
        .filter(patient=patient)
        .select_related("agency_requestor")
        .order_by("-starts_on", "-id")
    )


def suspended_count(suspension: DisclosureSuspension, rows: list[Disclosure]) -> int:
    """How many of the patient's entries (`patient_disclosures`) the suspension leaves out while it runs: the
    accounting page shows it beside each suspension, so a name that matches nobody is seen, not trusted."""
    return sum(
        1 for row in rows if row.entered_in_error_at is None and not row.superseded and suspends(suspension, row)
    )


# The suspension form lists at most this many government requestors; any other agency's name can be typed.
GOVERNMENT_CHOICES = 200


def agency_candidates(*, tenant: Tenant, patient: Patient) -> tuple[list[Requestor | str], list[Requestor]]:
    """Who a suspension can name, for the accounting page's form: the patient's disclosure recipients (the requestor
    a disclosure was made to, or the recipient's name as recorded for one made outside a request) and the
    organisation's government requestors, at most GOVERNMENT_CHOICES of them, by name (a name can always be typed)."""
    recipients: list[Requestor | str] = []
    seen_requestors: set[int] = set()
    seen_names: set[str] = set()
    for row in patient_disclosures(tenant=tenant, patient=patient).filter(
        entered_in_error_at__isnull=True, corrected_by__isnull=True
    ):
        requestor = row.request.requestor if row.request_id is not None else None
        if requestor is not None and requestor.pk not in seen_requestors:
            seen_requestors.add(requestor.pk)
            recipients.append(requestor)
        elif requestor is None and agency_key(row.recipient_name) not in seen_names:
            seen_names.add(agency_key(row.recipient_name))
            recipients.append(row.recipient_name)
    government = list(
        Requestor.objects.for_tenant(tenant)
        .filter(kind=RequestorKind.GOVERNMENT)
        .exclude(pk__in=seen_requestors)
        .order_by("organization", "name", "id")[:GOVERNMENT_CHOICES]
    )
    return recipients, government


def accounting_entries(*, tenant: Tenant, patient: Patient, period_end: date, as_of: date) -> list[AccountingEntry]:
    """The accounting for disclosures made in the six years up to `period_end` (the day the accounting was asked
    for), oldest first. Disclosures to an agency whose suspension is active on `as_of` (the day the accounting is
    given) are left out, with nothing in the accounting to say so (164.528(a)(2))."""
    rows = list(
        Disclosure.objects.for_tenant(tenant)
        .filter(
            patient=patient,
            entered_in_error_at__isnull=True,
            corrected_by__isnull=True,  # a corrected entry counts as its newest version
            purpose__in=DisclosurePurpose.values,  # the exclusions of 164.528(a)(1) have no row; check anyway
            disclosed_on__gte=window_start(period_end),
            disclosed_on__lte=period_end,
        )
        .select_related("request__requestor")  # what `suspends` compares
        .order_by("disclosed_on", "id")
    )
    active = list(
        DisclosureSuspension.objects.for_tenant(tenant).filter(
            patient=patient, starts_on__lte=as_of, ends_on__gte=as_of
        )
    )
    entries: dict[tuple[str, str], AccountingEntry] = {}
    for row in rows:
        if any(suspends(suspension, row) for suspension in active):
            continue
        key = (_normal(row.recipient_name), row.purpose)
        entry = entries.setdefault(key, AccountingEntry(first=row))
        entry.disclosures.append(row)
    return sorted(entries.values(), key=lambda e: (e.first.disclosed_on, e.first.pk))


def accounting_period(*, tenant: Tenant, record_request: RecordRequest) -> tuple[date, date]:
    end = local_date(record_request.received_at, tenant)
    return window_start(end), end


def accounting_reports(*, tenant: Tenant, record_request: RecordRequest) -> QuerySet[ReleaseDocument]:
    """The accounting reports generated for the request, newest first (older ones are left out of the release)."""
    return (
        ReleaseDocument.objects.for_tenant(tenant)
        .filter(request=record_request, original_name__startswith=REPORT_NAME_PREFIX)
        .order_by("-uploaded_at", "-id")
    )


REPORT_NAME_PREFIX = "accounting-of-disclosures-"


def accounting_report_generate(*, tenant: Tenant, actor: Any, record_request: RecordRequest) -> ReleaseDocument:
    """Render the accounting for an `accounting` request and add it to the request's release documents (an earlier
    report of the request is left out of the release, as superseded). The packet, QC and delivery follow."""
    if record_request.tenant_id != tenant.pk:
        raise ServiceError("Request not found.")
    if record_request.request_type != RequestType.ACCOUNTING:
        raise ServiceError("Only a request for an accounting of disclosures has an accounting report.")
    if record_request.state not in OPEN_STATES:
        raise ServiceError("The request is no longer open: its accounting cannot be regenerated.")
    now = clock.now()
    today = local_date(now, tenant)
    start, end = accounting_period(tenant=tenant, record_request=record_request)
    patient = record_request.patient
    entries = accounting_entries(tenant=tenant, patient=patient, period_end=end, as_of=today)
    context = {
        "tenant": tenant,
        "request": record_request,
        "patient": patient,
        "requestor": record_request.requestor,
        "today": today,
        "received_on": end,
        "period_start": start,
        "period_end": end,
        "entries": entries,
        "status_url": status_url(record_request),
        "date_format": LETTER_DATE_FORMAT,
    }
    pdf = render_pdf(REPORT_TEMPLATE, context)
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    with transaction.atomic():
        superseded = list(accounting_reports(tenant=tenant, record_request=record_request).filter(excluded_reason=""))
        for old in superseded:
            old.excluded_reason = ExclusionReason.OTHER
            old.excluded_note = f"Superseded by the accounting generated {today:%b %-d, %Y}."
            history_stamp(old, actor)
            old.save(update_fields=["excluded_reason", "excluded_note"])
        document = ReleaseDocument(
            tenant=tenant,
            request=record_request,
            source=RetrievalSource.OTHER,
            record_type=RecordType.OTHER,
            service_date_from=start,
            service_date_to=end,
            original_name=f"{REPORT_NAME_PREFIX}{today.isoformat()}.pdf",
            content_type="application/pdf",
            size_bytes=len(pdf),
            sha256=hashlib.sha256(pdf).hexdigest(),
            page_count=pages,
            # Generated from this patient's own rows: nothing of another patient can be on it.
            patient_confirmed=True,
            uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
            uploaded_at=now,
        )
        document.file.save("accounting.pdf", ContentFile(pdf), save=False)
        history_stamp(document, actor)
        try:
            with transaction.atomic():
                document.save()
        except BaseException:
            document.file.delete(save=False)
            raise
    return document


def report_open(document: ReleaseDocument) -> bytes:
    with document.file.open("rb") as handle:
        content = handle.read()
    if hashlib.sha256(content).hexdigest() != document.sha256:
        raise ServiceError("The stored report does not match the one generated; contact your administrator.")
    return content
