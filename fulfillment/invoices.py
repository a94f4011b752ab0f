"""Fulfillment: fee estimates and invoices with their PDFs, payments, waivers and voids, and the prepayment hold on
third-party releases. What a request's fee comes to is fulfillment/fees.py's: an estimate or invoice records that
quote, numbered, as a PDF.

Rules (docs/domain.md, "Fees"): the individual's own copy is never held back for an unpaid bill (45 CFR 164.524; HHS
access guidance); a third party may be asked to pay first when the tenant's policy says so.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet

from exceptions.choices import ExceptionReason
from exceptions.services import exception_open, exception_resolve
from fulfillment.choices import FeeMethod, InvoiceKind, InvoiceStatus, PaymentMethod
from fulfillment.fees import INDIVIDUAL_REQUESTORS, dollars, fee_quote, patient_rate_for, release_pages
from fulfillment.models import FulfillmentPolicy, Invoice, InvoiceSequence
from fulfillment.policy import policy_for
from intake.rules import DIRECTIVE, basis_for
from roi import clock
from roi.audit import history_stamp
from roi.choices import STAFF_ROLES, SUPERVISING_ROLES
from roi.errors import Conflict, NotPermitted, ServiceError
from roi.models import Tenant
from roi.pdf import render_pdf
from roi.tenancy import role_in
from workflow.choices import EXCEPTION_SOURCES, DeliveryMethod, RequestState, RequestType
from workflow.models import RecordRequest
from workflow.services import request_locked

# Statement printed on the invoice for an individual's own copy (HHS access guidance).
NOT_WITHHELD_STATEMENT = (
    "Your access to your records does not depend on paying this invoice or any other bill: we do not withhold "
    "records because of unpaid medical bills."
)
NUMBER_PREFIXES = {InvoiceKind.ESTIMATE: "EST", InvoiceKind.INVOICE: "INV"}
NO_INVOICE_STATES = (RequestState.CANCELLED, RequestState.DENIED)


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
    """The individual's own request: whatever the patient or their personal representative asks (their copy, their
    accounting)."""
    return record_request.requestor.kind in INDIVIDUAL_REQUESTORS


def exempt_from_prepayment(record_request: RecordRequest) -> bool:
    """Never held for payment, whatever the prepayment setting: the individual's own requests (164.524: access is
    not withheld for unpaid bills; 164.528 for the accounting) and a patient's directive to a third party.

    The directive is our decision. Ciox Health v. Azar took the directive's fee out of the patient rate (the
    recipient pays the state's schedule, fee_quote), not the directive out of 164.524: an electronic copy sent on
    the patient's written directive is still the patient's right, on the same 30-day clock, which nothing pauses.
    Holding it until the recipient pays would let a third party's unpaid invoice delay the patient's right, so the
    recipient is invoiced and the release goes out. Change it here, and only on counsel's advice."""
    if is_individual_request(record_request):
        return True
    return basis_for(record_request.request_type, record_request.requestor.kind) == DIRECTIVE


def needs_prepayment(*, policy: FulfillmentPolicy, record_request: RecordRequest) -> bool:
    return policy.require_prepayment_third_party and not exempt_from_prepayment(record_request)


def release_fee_problem(*, tenant: Any, record_request: Any) -> str | None:
    """Why the fee holds this release back (an unpaid invoice where the tenant requires prepayment from third
    parties), as a message saying what to do, or None. QC's "fee settled or waived" check calls this.

    Right-of-access releases are never held: the individual's own copy (164.524 allows no withholding for unpaid
    bills) and a patient's directive (exempt_from_prepayment says why)."""
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
        # Addressed to the individual only: a directive's invoice goes to its recipient, whose records they are not.
        "patient_rate": patient_rate_for(record_request),
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
    fee_method: str | None = None,
) -> Invoice:
    """Issue a fee estimate or an invoice for the request, with its PDF. The page count is the latest release
    packet's when one is built, else the one staff enter. `fee_method` is the method staff offer for the
    individual's own copy (the tenant's when not given; refused for any other request); the invoice keeps it and
    its PDF says it. Where the tenant requires prepayment from third parties, an unpaid invoice on a third party's
    open request puts it in "payment pending"."""
    _require_role(actor, tenant, STAFF_ROLES, "issue estimates or invoices")
    if kind not in InvoiceKind.values:
        raise ServiceError("Choose an estimate or an invoice.", field="kind")
    if delivery_method and delivery_method not in DeliveryMethod.values:
        raise ServiceError("Choose the delivery method from the list.", field="delivery_method")
    if fee_method and fee_method not in FeeMethod.values:
        raise ServiceError(
            "Choose the fee method from the list (flat fee, actual cost or average cost).", field="fee_method"
        )
    with transaction.atomic():
        current = request_locked(tenant=tenant, pk=record_request.pk)
        if current.state in NO_INVOICE_STATES:
            raise ServiceError(f"A {RequestState(current.state).label.lower()} request gets no estimate or invoice.")
        packet_pages = release_pages(tenant=tenant, record_request=current)
        if packet_pages is not None:
            pages = packet_pages
        elif pages is None:
            raise ServiceError("Enter the number of pages (no release packet is built yet).", field="pages")
        delivery_method = delivery_method or current.delivery_method
        if not delivery_method and patient_rate_for(current):
            raise ServiceError(
                "Choose the delivery method: an electronic copy is never priced per page, a paper one may be.",
                field="delivery_method",
            )
        quote = fee_quote(
            tenant=tenant,
            record_request=current,
            pages=pages,
            delivery_method=delivery_method,
            purpose=purpose,
            fee_method=fee_method,
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
            told = Invoice.objects.for_tenant(tenant).filter(request=current, kind=InvoiceKind.ESTIMATE)
            if current.request_type == RequestType.ACCOUNTING and not told.exclude(status=InvoiceStatus.VOID).exists():
                raise ServiceError(
                    "A second accounting within twelve months is charged only after the requestor is told of the fee "
                    "in advance and may withdraw or modify the request (45 CFR 164.528(c)(2)): issue the fee estimate "
                    "first, and the invoice once they go ahead."
                )
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
            fee_method=quote.method,
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
