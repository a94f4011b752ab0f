"""The fees part of the fulfillment panel."""

from __future__ import annotations

from typing import Any

from fulfillment.choices import InvoiceKind, InvoiceStatus
from fulfillment.fees import default_fee_method, dollars, fee_quote, is_directive, patient_rate_for, release_pages
from fulfillment.forms.fees import InvoiceIssueForm, PaymentForm, ReasonForm
from fulfillment.invoices import (
    NO_INVOICE_STATES,
    display_lines,
    invoices_for_request,
    release_fee_problem,
    tenant_today,
)


def panel_context(*, tenant: Any, record_request: Any, forms: dict[str, Any]) -> dict[str, Any]:
    """The fees section of the fulfillment panel: the estimate and invoice in force, the older ones, the fee if
    invoiced now, the prepayment hold, and the forms (bound ones come back with their errors and input).
    Two queries (invoices, release packet pages), more only when a packet or an unpaid invoice asks for them."""
    invoices = list(invoices_for_request(tenant=tenant, record_request=record_request))
    for invoice in invoices:
        invoice.rows = display_lines(invoice.lines)  # type: ignore[attr-defined]  # an attribute for the template
        invoice.total = dollars(invoice.total_cents)  # type: ignore[attr-defined]  # an attribute for the template
    current_invoice = next((i for i in invoices if i.kind == InvoiceKind.INVOICE and i.status != "void"), None)
    current_estimate = next((i for i in invoices if i.kind == InvoiceKind.ESTIMATE and i.status != "void"), None)
    unpaid = any(i.kind == InvoiceKind.INVOICE and i.status == InvoiceStatus.ISSUED for i in invoices)
    packet_pages = release_pages(tenant=tenant, record_request=record_request)
    patient_rate = patient_rate_for(record_request)
    method = default_fee_method(tenant=tenant, record_request=record_request)  # reads the policy for those only
    quote = None
    priceable = record_request.delivery_method or not patient_rate  # the individual's copy: electronic or paper?
    if packet_pages is not None and record_request.state not in NO_INVOICE_STATES and priceable:
        quote = fee_quote(
            tenant=tenant,
            record_request=record_request,
            pages=packet_pages,
            delivery_method=record_request.delivery_method,
        )
    issue_form = forms.get("fees_issue_form") or InvoiceIssueForm(
        packet_pages=packet_pages,
        default_fee_method=method,
        initial={"delivery_method": record_request.delivery_method},
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
            "patient_rate": patient_rate,
            "directive": is_directive(
                request_type=record_request.request_type, requestor_kind=record_request.requestor.kind
            ),
            "can_issue": record_request.state not in NO_INVOICE_STATES,
            "issue_form": issue_form,
            "pay_form": forms.get("fees_pay_form") or PaymentForm(initial={"paid_on": tenant_today(tenant)}),
            "waive_form": forms.get("fees_waive_form") or ReasonForm(prefix="waive"),
            "void_form": forms.get("fees_void_form") or ReasonForm(prefix="void"),
            "void_target": forms.get("fees_void_target"),
        }
    }
