"""Fulfillment: fees. The fee a request carries (from the fee rule table and the tenant's right-of-access method),
fee estimates and invoices with their PDFs, payments, waivers and voids, and the prepayment hold on third-party
releases.

Rules (DOMAIN.md, "Fees"): a patient's own request (45 CFR 164.524(c)(4)) pays at most a reasonable, cost-based fee,
never a search or retrieval fee, and is never held back for an unpaid bill; third parties pay the state's schedule
where one applies; some states waive the fee for disability claims. Every number lives in FeeRule (platform data)
or the tenant's FulfillmentPolicy, never here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet

from exceptions.choices import ExceptionReason
from exceptions.services import exception_open, exception_resolve
from fulfillment.choices import FeeMethod, InvoiceKind, InvoiceStatus, PaymentMethod
from fulfillment.models import FeeRule, FulfillmentPolicy, Invoice, InvoiceSequence, ReleasePacket
from fulfillment.policy import policy_for
from roi import clock
from roi.audit import history_stamp
from roi.choices import STAFF_ROLES, SUPERVISING_ROLES
from roi.errors import Conflict, NotPermitted, ServiceError
from roi.models import Tenant
from roi.pdf import render_pdf
from roi.tenancy import role_in
from workflow.choices import EXCEPTION_SOURCES, DeliveryMethod, RequestorKind, RequestState, RequestType
from workflow.models import RecordRequest

FEDERAL = "US"
# HHS access guidance: a flat fee for electronic copies of electronic records may not exceed $6.50, everything
# (labour, supplies, postage) included.
FLAT_FEE_CAP_CENTS = 650
# The purposes a fee waiver can depend on (FeeRule.waiver_purpose); staff mark one when they issue.
DISABILITY_CLAIM = "disability_claim"
FEE_PURPOSES = [("", "None of these"), (DISABILITY_CLAIM, "Disability benefits claim (e.g. Social Security)")]
# Requests of the individual: never held for payment (164.524; 164.528 for the accounting).
INDIVIDUAL_REQUESTORS = frozenset({RequestorKind.PATIENT, RequestorKind.PERSONAL_REPRESENTATIVE})
# Statement printed on right-of-access invoices (HHS access guidance).
NOT_WITHHELD_STATEMENT = (
    "Your access to your records does not depend on paying this invoice or any other bill: we do not withhold "
    "records because of unpaid medical bills."
)
NUMBER_PREFIXES = {InvoiceKind.ESTIMATE: "EST", InvoiceKind.INVOICE: "INV"}
NO_INVOICE_STATES = (RequestState.CANCELLED, RequestState.DENIED)


def dollars(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


# --- The fee: which rule applies, and what it comes to ----------------------------------------------------------


@dataclass(frozen=True)
class FeeQuote:
    lines: list[dict[str, Any]]  # [{description, quantity, unit_cents, cents}], as Invoice.lines stores them
    total_cents: int
    basis: str
    rule: FeeRule | None
    pages: int
    delivery_method: str
    purpose: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> str:
        return dollars(self.total_cents)


def _line(description: str, quantity: int, unit_cents: int) -> dict[str, Any]:
    return {"description": description, "quantity": quantity, "unit_cents": unit_cents, "cents": quantity * unit_cents}


def _specificity(rule: FeeRule, jurisdiction: str, purpose: str) -> tuple[bool, bool, bool, int, bool, int, int]:
    """Higher is more specific; among rules naming types (or kinds), the one naming fewer is narrower. The last
    key makes ties deterministic: the older rule."""
    return (
        rule.jurisdiction == jurisdiction,
        bool(rule.waiver_purpose) and rule.waiver_purpose == purpose,
        bool(rule.request_types),
        -len(rule.request_types),
        bool(rule.requestor_kinds),
        -len(rule.requestor_kinds),
        -rule.pk,
    )


def applicable_fee_rule(*, tenant: Tenant, request_type: str, requestor_kind: str, purpose: str = "") -> FeeRule | None:
    """The most specific active rule: the tenant's state before "US", a waiver for the purpose given before a
    schedule, a rule naming the request type (then the requestor kind) before one for every type, a narrower list
    before a wider one. A waiver rule only applies to its purpose."""
    jurisdiction = tenant.jurisdiction
    rules = FeeRule.objects.filter(is_active=True, jurisdiction__in=[FEDERAL, jurisdiction]).order_by("id")
    matching = [
        rule
        for rule in rules
        if (not rule.request_types or request_type in rule.request_types)
        and (not rule.requestor_kinds or requestor_kind in rule.requestor_kinds)
        and (not rule.waiver_purpose or rule.waiver_purpose == purpose)
    ]
    if not matching:
        return None
    return max(matching, key=lambda rule: _specificity(rule, jurisdiction, purpose))


def tier_lines(tiers: list[dict[str, Any]], pages: int) -> list[dict[str, Any]]:
    """One line per tier the pages reach: [{"up_to": 10, "cents": 0}, {"up_to": 60, "cents": 100}, {"up_to": null,
    "cents": 25}] prices pages 1-10, 11-60, then every page after. Pages past a last tier with a limit pay its price."""
    lines: list[dict[str, Any]] = []
    start = 1
    for index, tier in enumerate(tiers):
        last_tier = index == len(tiers) - 1
        up_to = None if last_tier else tier.get("up_to")
        end = pages if up_to is None else min(pages, int(up_to))
        if end >= start:
            unit = int(tier["cents"])
            label = f"Pages {start}-{end}" if end > start else f"Page {start}"
            lines.append(_line(f"{label} at {dollars(unit)} a page", end - start + 1, unit))
        if up_to is not None:
            start = max(start, int(up_to) + 1)
        if start > pages:
            break
    return lines


def _access_lines(policy: FulfillmentPolicy, pages: int, mailed: bool) -> tuple[list[dict[str, Any]], str]:
    """The right-of-access fee by the tenant's method. Never a search or retrieval fee (164.524(c)(4))."""
    method = policy.access_fee_method
    if method == FeeMethod.FLAT:
        flat = min(policy.access_flat_fee_cents, FLAT_FEE_CAP_CENTS)
        return [_line("Copy of your records, flat fee (everything included)", 1, flat)], "flat fee, at most $6.50"
    lines: list[dict[str, Any]] = []
    if method == FeeMethod.ACTUAL:
        lines.append(_line("Copying labour, per page", pages, policy.access_labour_cents_per_page))
        lines.append(_line("Supplies (paper, media)", 1, policy.access_supplies_cents))
        text = "actual cost of labour, supplies and postage"
    elif method == FeeMethod.AVERAGE:
        lines.append(_line("Copies, average cost per page", pages, policy.access_per_page_cents))
        text = "average cost per page"
    else:
        return [], "no fee (organisation policy)"
    if mailed:
        lines.append(_line("Postage", 1, policy.postage_cents))
    return lines, text


def fee_quote(
    *, tenant: Tenant, record_request: RecordRequest, pages: int, delivery_method: str, purpose: str | None = None
) -> FeeQuote:
    """The fee for releasing `pages` pages of records for the request by `delivery_method`: its lines, total and
    the basis (rule or method, with the citation) printed on the estimate or invoice."""
    if pages < 0:
        raise ServiceError("The page count cannot be negative.", field="pages")
    purpose = purpose or ""
    if purpose and purpose not in dict(FEE_PURPOSES):
        raise ServiceError("Choose the purpose from the list.", field="purpose")
    request_type = record_request.request_type
    rule = applicable_fee_rule(
        tenant=tenant, request_type=request_type, requestor_kind=record_request.requestor.kind, purpose=purpose
    )
    common = {"rule": rule, "pages": pages, "delivery_method": delivery_method, "purpose": purpose}
    if rule is None:
        if request_type == RequestType.CONTINUITY_OF_CARE:
            basis = "Continuity of care between providers: no fee (organisation default)."
        else:
            basis = f"No fee rule applies to this request ({tenant.jurisdiction} or federal): no fee."
        return FeeQuote(lines=[], total_cents=0, basis=basis, **common)
    citation = f"{rule.citation}{'' if rule.verified else ', unverified'}"
    if rule.waived:
        return FeeQuote(lines=[], total_cents=0, basis=_basis(f"No fee. {rule.description}", citation), **common)

    policy = policy_for(tenant)
    mailed = delivery_method == DeliveryMethod.MAIL
    right_of_access = request_type == RequestType.RIGHT_OF_ACCESS
    notes: list[str] = []
    if rule.cost_based:
        lines, method_text = _access_lines(policy, pages, mailed)
        lines = [line for line in lines if line["cents"]]  # an amount the tenant left at zero is not charged
        basis = _basis(
            f"Right of access: reasonable, cost-based fee ({method_text}); no search or retrieval fee", citation
        )
    else:
        lines = []
        if rule.base_fee_cents and not right_of_access:
            lines.append(_line("Retrieval and processing fee", 1, rule.base_fee_cents))
        elif rule.base_fee_cents:
            notes.append("No search or retrieval fee on a patient's own request (45 CFR 164.524(c)(4)).")
        lines.extend(tier_lines(rule.page_tiers, pages))
        # Tier lines stay even at $0.00: "pages 1-10 included in the retrieval fee" explains the total.
        if mailed and policy.postage_cents:
            lines.append(_line("Postage", 1, policy.postage_cents))
        basis = _basis(rule.description, citation)
    total = sum(line["cents"] for line in lines)
    caps = []
    if rule.max_total_cents is not None:
        caps.append((rule.max_total_cents, f"Limit under {rule.citation}: at most {dollars(rule.max_total_cents)}"))
    if right_of_access and policy.access_fee_method == FeeMethod.FLAT:
        flat = min(policy.access_flat_fee_cents, FLAT_FEE_CAP_CENTS)
        caps.append((flat, f"Right of access, flat fee method: at most {dollars(flat)}"))
    for cap, text in sorted(caps):
        if total > cap:
            lines.append(_line(text, 1, cap - total))
            total = cap
    return FeeQuote(lines=lines, total_cents=total, basis=basis, notes=notes, **common)


def _basis(text: str, citation: str) -> str:
    suffix = f" ({citation})"
    limit = 300 - len(suffix)
    text = text.strip().rstrip(".")
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text + suffix


def release_pages(*, tenant: Tenant, record_request: RecordRequest) -> int | None:
    """Pages of records in the latest release packet (not the cover sheet), or None before one is built."""
    packet = (
        ReleasePacket.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk, superseded_at__isnull=True)
        .order_by("-version")
        .values_list("record_pages", flat=True)
        .first()
    )
    return packet


# --- Numbers ------------------------------------------------------------------------------------------------


def next_invoice_number(*, tenant: Tenant, kind: str) -> str:
    """The tenant's next estimate or invoice number, e.g. INV-000042. One statement: the row lock it takes lasts to
    the end of the caller's transaction, so two issuers never share a number and a rollback leaves no gap."""
    table = InvoiceSequence._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (tenant_id, kind, last_number) VALUES (%s, %s, 1) "  # noqa: S608 (our table name)
            f"ON CONFLICT (tenant_id, kind) DO UPDATE SET last_number = {table}.last_number + 1 RETURNING last_number",
            [tenant.pk, kind],
        )
        (number,) = cursor.fetchone()
    return f"{NUMBER_PREFIXES[InvoiceKind(kind)]}-{number:06d}"


# --- Selectors ----------------------------------------------------------------------------------------------


def invoices_for_request(*, tenant: Tenant, record_request: RecordRequest) -> QuerySet[Invoice]:
    return (
        Invoice.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk)
        .select_related("issued_by", "fee_rule")
        .order_by("-issued_at", "-id")
    )


def invoice_for_staff(*, tenant: Tenant, tracking_number: str, pk: int) -> Invoice:
    """One invoice of the tenant's request; raises Invoice.DoesNotExist for another tenant's, like a missing one."""
    return (
        Invoice.objects.for_tenant(tenant)
        .select_related("request", "request__patient", "request__requestor", "tenant")
        .get(pk=pk, request__tracking_number=tracking_number)
    )


def is_individual_request(record_request: RecordRequest) -> bool:
    """The patient's (or their representative's) own request: right of access, or the individual asking."""
    return (
        record_request.request_type in (RequestType.RIGHT_OF_ACCESS, RequestType.ACCOUNTING)
        or record_request.requestor.kind in INDIVIDUAL_REQUESTORS
    )


def needs_prepayment(*, policy: FulfillmentPolicy, record_request: RecordRequest) -> bool:
    return policy.require_prepayment_third_party and not is_individual_request(record_request)


def release_fee_problem(*, tenant: Any, record_request: Any) -> str | None:
    """Why the fee holds this release back (an unpaid invoice where the tenant requires prepayment from third
    parties), as a message saying what to do, or None. QC's "fee settled or waived" check calls this.

    Right-of-access releases are never held: 164.524 allows no withholding for unpaid bills."""
    if record_request.request_type == RequestType.RIGHT_OF_ACCESS:
        return None
    if not needs_prepayment(policy=policy_for(tenant), record_request=record_request):
        return None
    unpaid = (
        Invoice.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk, kind=InvoiceKind.INVOICE, status=InvoiceStatus.ISSUED)
        .first()
    )
    if unpaid is None:
        return None
    return (
        f"Invoice {unpaid.number} ({dollars(unpaid.total_cents)}) is unpaid, and this organisation requires "
        "prepayment from third parties: record the payment (or have a supervisor waive the fee) before release."
    )


# --- Services -------------------------------------------------------------------------------------------------


def _require_role(actor: Any, tenant: Tenant, roles: frozenset[str], what: str) -> None:
    if role_in(actor, tenant) not in roles:
        raise NotPermitted(f"Your role cannot {what}.")


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def tenant_today(tenant: Tenant) -> date:
    return clock.now().astimezone(tenant.tzinfo).date()


def _pdf_context(invoice: Invoice, record_request: RecordRequest, tenant: Tenant, policy: FulfillmentPolicy) -> dict:
    patient = record_request.patient
    return {
        "tenant": tenant,
        "invoice": invoice,
        "request": record_request,
        "requestor": record_request.requestor,
        "patient_initials": f"{patient.first_name[:1]}. {patient.last_name[:1]}.".upper(),
        "rows": display_lines(invoice.lines),
        "total": dollars(invoice.total_cents),
        "issued_on": invoice.issued_at.astimezone(tenant.tzinfo).date(),
        "payment_instructions": policy.payment_instructions,
        "right_of_access": record_request.request_type == RequestType.RIGHT_OF_ACCESS,
        "not_withheld_statement": NOT_WITHHELD_STATEMENT,
        "prepayment": invoice.kind == InvoiceKind.INVOICE
        and needs_prepayment(policy=policy, record_request=record_request),
        "date_format": "F\u00a0j,\u00a0Y",
    }


def display_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**line, "unit": dollars(int(line["unit_cents"])), "amount": dollars(int(line["cents"]))} for line in lines]


def invoice_issue(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    kind: str,
    pages: int | None = None,
    delivery_method: str | None = None,
    purpose: str = "",
) -> Invoice:
    """Issue a fee estimate or an invoice for the request, with its PDF. The page count is the latest release
    packet's when one is built, else the one staff enter. Where the tenant requires prepayment from third parties,
    an unpaid invoice on a third party's open request puts it in "payment pending"."""
    _require_role(actor, tenant, STAFF_ROLES, "issue estimates or invoices")
    if kind not in InvoiceKind.values:
        raise ServiceError("Choose an estimate or an invoice.", field="kind")
    if delivery_method and delivery_method not in DeliveryMethod.values:
        raise ServiceError("Choose the delivery method from the list.", field="delivery_method")
    with transaction.atomic():
        try:
            current = (
                RecordRequest.objects.for_tenant(tenant)
                .select_for_update(of=("self",))
                .select_related("patient", "requestor")
                .get(pk=record_request.pk)
            )
        except RecordRequest.DoesNotExist:
            raise ServiceError("That request does not exist.") from None
        if current.state in NO_INVOICE_STATES:
            raise ServiceError(f"A {RequestState(current.state).label.lower()} request gets no estimate or invoice.")
        packet_pages = release_pages(tenant=tenant, record_request=current)
        if packet_pages is not None:
            pages = packet_pages
        elif pages is None:
            raise ServiceError("Enter the number of pages (no release packet is built yet).", field="pages")
        delivery_method = delivery_method or current.delivery_method
        quote = fee_quote(
            tenant=tenant, record_request=current, pages=pages, delivery_method=delivery_method, purpose=purpose
        )
        if kind == InvoiceKind.INVOICE:
            in_force = (
                Invoice.objects.for_tenant(tenant).filter(request=current, kind=kind).exclude(status=InvoiceStatus.VOID)
            )
            existing = in_force.first()
            if existing is not None:
                raise ServiceError(
                    f"Invoice {existing.number} is already {existing.get_status_display().lower()} for this request: "
                    "void it first to issue a corrected one."
                )
            if quote.total_cents == 0:
                raise ServiceError(f"Nothing to invoice: {quote.basis}")
        now = clock.now()
        invoice = Invoice(
            tenant=tenant,
            request=current,
            kind=kind,
            number=next_invoice_number(tenant=tenant, kind=kind),
            status=InvoiceStatus.ISSUED,
            lines=quote.lines,
            total_cents=quote.total_cents,
            basis=quote.basis,
            issued_at=now,
            issued_by=_user(actor),
            pages=pages,
            delivery_method=delivery_method,
            purpose=quote.purpose,
            fee_rule=quote.rule,
        )
        policy = policy_for(tenant)
        pdf = render_pdf("fulfillment/fees/invoice_pdf.html", _pdf_context(invoice, current, tenant, policy))
        invoice.sha256 = hashlib.sha256(pdf).hexdigest()
        invoice.file.save(f"{invoice.number}.pdf", ContentFile(pdf), save=False)
        history_stamp(invoice, actor)
        try:
            with transaction.atomic():
                invoice.save()
        except IntegrityError:
            invoice.file.delete(save=False)
            raise Conflict("Someone issued an invoice for this request at the same moment. Reload to see it.") from None
        except BaseException:
            invoice.file.delete(save=False)
            raise
        hold = (
            kind == InvoiceKind.INVOICE
            and needs_prepayment(policy=policy, record_request=current)
            and current.state in EXCEPTION_SOURCES
        )
        if hold:
            _open_payment_wait(tenant=tenant, actor=actor, record_request=current, invoice=invoice)
        else:
            RecordRequest.objects.for_tenant(tenant).filter(pk=current.pk).update(last_activity_at=now)
    return invoice


def _open_payment_wait(*, tenant: Tenant, actor: Any, record_request: RecordRequest, invoice: Invoice) -> None:
    """Put the request in "payment pending" for the invoice. Should that fail, the whole issue rolls back; the PDF
    already written is removed with it (Django has no rollback hook for files)."""
    try:
        exception_open(
            tenant=tenant,
            actor=actor,
            record_request=record_request,
            reason=ExceptionReason.PAYMENT_PENDING,
            detail=f"Invoice {invoice.number} ({dollars(invoice.total_cents)}) unpaid; prepayment required.",
            next_step=f"Record the payment of invoice {invoice.number} when it arrives (or waive the fee)",
            next_action_due=tenant_today(tenant) + timedelta(days=tenant.deficiency_follow_up_days),
            expected_state=record_request.state,
        )
    except BaseException:
        invoice.file.delete(save=False)
        raise


def _locked_invoice(tenant: Tenant, invoice: Invoice) -> Invoice:
    try:
        return (
            Invoice.objects.for_tenant(tenant)
            .select_for_update(of=("self",))
            .select_related("request", "request__requestor")
            .get(pk=invoice.pk)
        )
    except Invoice.DoesNotExist:
        raise ServiceError("That invoice does not exist.") from None


def _require_issued(invoice: Invoice, action: str) -> None:
    if invoice.status != InvoiceStatus.ISSUED:
        raise Conflict(
            f"{invoice.get_kind_display()} {invoice.number} is already {invoice.get_status_display().lower()}: "
            f"it cannot be {action}."
        )


def _release_payment_hold(*, tenant: Tenant, actor: Any, record_request: RecordRequest, resolution: str) -> None:
    """Return the request to work when its open exception is the payment wait and no invoice is left unpaid."""
    fresh = RecordRequest.objects.for_tenant(tenant).get(pk=record_request.pk)
    if fresh.state != RequestState.EXCEPTION or fresh.exception_reason != ExceptionReason.PAYMENT_PENDING:
        RecordRequest.objects.for_tenant(tenant).filter(pk=fresh.pk).update(last_activity_at=clock.now())
        return
    unpaid = Invoice.objects.for_tenant(tenant).filter(
        request_id=fresh.pk, kind=InvoiceKind.INVOICE, status=InvoiceStatus.ISSUED
    )
    if unpaid.exists():
        return
    exception_resolve(
        tenant=tenant, actor=actor, record_request=fresh, resolution=resolution, expected_state=RequestState.EXCEPTION
    )


def invoice_record_payment(
    *, tenant: Tenant, actor: Any, invoice: Invoice, method: str, reference: str, paid_on: date
) -> Invoice:
    """Record the full payment of an invoice (method, reference, date received); a payment wait on the request
    ends with it."""
    _require_role(actor, tenant, STAFF_ROLES, "record payments")
    reference = (reference or "").strip()
    if method not in PaymentMethod.values:
        raise ServiceError("Choose how it was paid.", field="method")
    if method != PaymentMethod.CASH and not reference:
        raise ServiceError("Enter the reference (check number, card authorisation or transfer id).", field="reference")
    if paid_on > tenant_today(tenant):
        raise ServiceError("The payment date cannot be in the future.", field="paid_on")
    with transaction.atomic():
        current = _locked_invoice(tenant, invoice)
        if current.kind != InvoiceKind.INVOICE:
            raise ServiceError("An estimate is not paid: issue the invoice and record the payment on it.")
        _require_issued(current, "paid")
        if paid_on < current.issued_at.astimezone(tenant.tzinfo).date() - timedelta(days=366):
            raise ServiceError("Check the payment date: it is long before the invoice.", field="paid_on")
        current.status = InvoiceStatus.PAID
        current.paid_at = clock.now()
        current.paid_on = paid_on
        current.payment_method = method
        current.payment_reference = reference[:100]
        history_stamp(current, actor)
        current.save()
        label = PaymentMethod(method).label.lower()
        _release_payment_hold(
            tenant=tenant,
            actor=actor,
            record_request=current.request,
            resolution=f"Invoice {current.number} paid by {label}{f' ({reference})' if reference else ''} on {paid_on}.",
        )
    return current


def invoice_waive(*, tenant: Tenant, actor: Any, invoice: Invoice, reason: str) -> Invoice:
    """Waive an invoice's fee (supervisors and admins), with the reason; a payment wait on the request ends."""
    _require_role(actor, tenant, SUPERVISING_ROLES, "waive a fee (a supervisor or admin can)")
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Say why the fee is waived.", field="reason")
    with transaction.atomic():
        current = _locked_invoice(tenant, invoice)
        if current.kind != InvoiceKind.INVOICE:
            raise ServiceError("An estimate is not waived: void it, or issue the invoice and waive that.")
        _require_issued(current, "waived")
        current.status = InvoiceStatus.WAIVED
        current.waived_at = clock.now()
        current.waived_reason = reason[:300]
        history_stamp(current, actor)
        current.save()
        _release_payment_hold(
            tenant=tenant,
            actor=actor,
            record_request=current.request,
            resolution=f"Fee of invoice {current.number} waived: {reason}"[:500],
        )
    return current


def invoice_void(*, tenant: Tenant, actor: Any, invoice: Invoice, reason: str) -> Invoice:
    """Void an issued estimate or invoice (supervisors and admins), with the reason. The row and its PDF stay."""
    _require_role(actor, tenant, SUPERVISING_ROLES, "void an estimate or invoice (a supervisor or admin can)")
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("Say why it is voided.", field="reason")
    with transaction.atomic():
        current = _locked_invoice(tenant, invoice)
        _require_issued(current, "voided")
        current.status = InvoiceStatus.VOID
        current.voided_at = clock.now()
        current.void_reason = reason[:300]
        history_stamp(current, actor)
        current.save()
        _release_payment_hold(
            tenant=tenant,
            actor=actor,
            record_request=current.request,
            resolution=f"Invoice {current.number} voided: {reason}"[:500],
        )
    return current


def invoice_open(invoice: Invoice) -> bytes:
    """The stored PDF, checked against its digest. The caller (an audited download view) writes the access event."""
    if not invoice.file:
        raise ServiceError("This invoice has no PDF; contact your administrator.")
    with invoice.file.open("rb") as handle:
        content = handle.read()
    if hashlib.sha256(content).hexdigest() != invoice.sha256:
        raise ServiceError("The stored PDF does not match the one issued; contact your administrator.")
    return content


# --- The panel ------------------------------------------------------------------------------------------------


def panel_context(*, tenant: Any, record_request: Any, forms: dict[str, Any]) -> dict[str, Any]:
    """The fees section of the fulfillment panel: the estimate and invoice in force, the older ones, the fee if
    invoiced now, the prepayment hold, and the forms (bound ones come back with their errors and input).
    Two queries (invoices, release packet pages), more only when a packet or an unpaid invoice asks for them."""
    from fulfillment.views.fees import InvoiceIssueForm, PaymentForm, ReasonForm  # the forms live with the views

    invoices = list(invoices_for_request(tenant=tenant, record_request=record_request))
    for invoice in invoices:
        invoice.rows = display_lines(invoice.lines)  # type: ignore[attr-defined]
        invoice.total = dollars(invoice.total_cents)  # type: ignore[attr-defined]
    current_invoice = next((i for i in invoices if i.kind == InvoiceKind.INVOICE and i.status != "void"), None)
    current_estimate = next((i for i in invoices if i.kind == InvoiceKind.ESTIMATE and i.status != "void"), None)
    unpaid = any(i.kind == InvoiceKind.INVOICE and i.status == InvoiceStatus.ISSUED for i in invoices)
    packet_pages = release_pages(tenant=tenant, record_request=record_request)
    quote = None
    if packet_pages is not None and record_request.state not in NO_INVOICE_STATES:
        quote = fee_quote(
            tenant=tenant,
            record_request=record_request,
            pages=packet_pages,
            delivery_method=record_request.delivery_method,
        )
    issue_form = forms.get("fees_issue_form") or InvoiceIssueForm(
        packet_pages=packet_pages, initial={"delivery_method": record_request.delivery_method}
    )
    return {
        "fees": {
            "invoices": invoices,
            "invoice": current_invoice,
            "estimate": current_estimate,
            "older": [i for i in invoices if i not in (current_invoice, current_estimate)],
            "packet_pages": packet_pages,
            "quote": quote,
            "quote_rows": display_lines(quote.lines) if quote else [],
            # Asked only when an unpaid invoice is on the page: the panel stays at two queries otherwise.
            "hold": release_fee_problem(tenant=tenant, record_request=record_request) if unpaid else None,
            "right_of_access": record_request.request_type == RequestType.RIGHT_OF_ACCESS,
            "can_issue": record_request.state not in NO_INVOICE_STATES,
            "issue_form": issue_form,
            "pay_form": forms.get("fees_pay_form") or PaymentForm(initial={"paid_on": tenant_today(tenant)}),
            "waive_form": forms.get("fees_waive_form") or ReasonForm(prefix="waive"),
            "void_form": forms.get("fees_void_form") or ReasonForm(prefix="void"),
            "void_target": forms.get("fees_void_target"),
        }
    }
