"""Fulfillment: fees. The fee a request carries (from the fee rule table and the tenant's right-of-access method),
fee estimates and invoices with their PDFs, payments, waivers and voids, and the prepayment hold on third-party
releases.

Rules (DOMAIN.md, "Fees"): the individual's own copy (45 CFR 164.524(c)(4), "the patient rate") pays at most a
reasonable, cost-based fee by one of HHS's three methods (flat up to $6.50, actual cost, average cost), which staff
offer per request; an electronic copy is never priced per page; never a search or retrieval fee; never held back
for an unpaid bill. Since Ciox Health v. Azar (D.D.C. 2020) the patient rate does not cover a patient's directive
sending a copy to a third party: a directive, like any third party, pays the state's schedule where one applies.
Some states waive the fee for disability claims. Every number lives in FeeRule (platform data) or the tenant's
FulfillmentPolicy, never here.
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
from intake import bases
from intake.rules import DIRECTIVE, INDIVIDUAL, basis_for
from roi import clock
from roi.audit import history_stamp
from roi.choices import STAFF_ROLES, SUPERVISING_ROLES
from roi.errors import Conflict, NotPermitted, ServiceError
from roi.models import Tenant
from roi.pdf import render_pdf
from roi.tenancy import role_in
from workflow.choices import EXCEPTION_SOURCES, DeliveryMethod, RequestorKind, RequestState, RequestType
from workflow.deadlines import local_date
from workflow.models import RecordRequest
from workflow.services import request_locked

FEDERAL = "US"
# HHS access guidance: a flat fee for electronic copies of electronic records may not exceed $6.50, everything
# (labour, supplies, postage) included.
FLAT_FEE_CAP_CENTS = 650
# The individual's copies that HHS access guidance treats as electronic: no per-page fee under any method. Fax, mail
# and pickup are paper copies here (printed, or printed at the other end), where per-page amounts stay allowed.
ELECTRONIC_DELIVERY = frozenset(
    {DeliveryMethod.PORTAL_DOWNLOAD, DeliveryMethod.EMAIL_LINK, DeliveryMethod.UNENCRYPTED_EMAIL}
)
ACCESS_CITATION = "45 CFR 164.524(c)(4); HHS access guidance"
DIRECTIVE_PREFIX = "Directive to a third party, not the patient rate (Ciox v. Azar, 2020): "
# The purposes a fee waiver can depend on (FeeRule.waiver_purpose); staff mark one when they issue.
DISABILITY_CLAIM = "disability_claim"
FEE_PURPOSES = [("", "None of these"), (DISABILITY_CLAIM, "Disability benefits claim (e.g. Social Security)")]
# Requests of the individual: never held for payment (164.524; 164.528 for the accounting).
INDIVIDUAL_REQUESTORS = frozenset({RequestorKind.PATIENT, RequestorKind.PERSONAL_REPRESENTATIVE})
# Statement printed on the invoice for an individual's own copy (HHS access guidance).
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
    method: str = ""  # FeeMethod the fee follows; empty where the patient rate does not apply

    @property
    def total(self) -> str:
        return dollars(self.total_cents)

    @property
    def method_label(self) -> str:
        return FeeMethod(self.method).label if self.method else ""


def patient_rate_applies(*, request_type: str, requestor_kind: str) -> bool:
    """The individual's own copy: a right-of-access request of the patient or their personal representative. The
    cost-based limit of 45 CFR 164.524(c)(4) covers this and, since Ciox Health v. Azar (D.D.C. 2020), not a
    patient's directive sending a copy to a third party. The fee method form and the access statement ask this."""
    return request_type == RequestType.RIGHT_OF_ACCESS and basis_for(request_type, requestor_kind) == INDIVIDUAL


def patient_rate_for(record_request: RecordRequest) -> bool:
    return patient_rate_applies(request_type=record_request.request_type, requestor_kind=record_request.requestor.kind)


def is_directive(*, request_type: str, requestor_kind: str) -> bool:
    """A patient's written directive sending a copy to a third party (164.524(c)(3)(ii)): the requestor is the
    recipient, not the patient or their representative."""
    return request_type == RequestType.RIGHT_OF_ACCESS and basis_for(request_type, requestor_kind) == DIRECTIVE


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
    before a wider one. A waiver rule only applies to its purpose. A cost-based rule (the patient rate) applies to
    the individual's own copy only, whatever its scope says: a directive or a third party never falls under it
    (Ciox Health v. Azar, D.D.C. 2020)."""
    jurisdiction = tenant.jurisdiction
    patient_rate = patient_rate_applies(request_type=request_type, requestor_kind=requestor_kind)
    rules = FeeRule.objects.filter(is_active=True, jurisdiction__in=[FEDERAL, jurisdiction]).order_by("id")
    matching = [
        rule
        for rule in rules
        if (not rule.request_types or request_type in rule.request_types)
        and (not rule.requestor_kinds or requestor_kind in rule.requestor_kinds)
        and (not rule.waiver_purpose or rule.waiver_purpose == purpose)
        and (patient_rate or not rule.cost_based)
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


# What each method comes to for the individual's own copy, as the basis line says it: (method, electronic) -> text.
ACCESS_METHOD_TEXT = {
    (FeeMethod.FLAT, True): "flat fee for an electronic copy, at most $6.50, everything included",
    (FeeMethod.FLAT, False): "flat fee, at most $6.50, everything included (postage too)",
    (FeeMethod.ACTUAL, True): "actual cost of the labour to prepare the electronic copy, per request (not per page), "
    "and supplies",
    (FeeMethod.ACTUAL, False): "actual cost of a paper copy: copying labour per page, supplies (postage when mailed)",
    (FeeMethod.AVERAGE, True): "standard average cost of an electronic copy, per copy (not per page)",
    (FeeMethod.AVERAGE, False): "average cost per page of a paper copy (postage when mailed)",
    (FeeMethod.NONE, True): "no fee (organisation policy)",
    (FeeMethod.NONE, False): "no fee (organisation policy)",
}


def _access_lines(
    policy: FulfillmentPolicy, method: str, pages: int, delivery_method: str
) -> tuple[list[dict[str, Any]], str]:
    """The fee for the individual's own copy by `method`, and its basis text. Never a search or retrieval fee
    (164.524(c)(4)); never a per-page line on an electronic copy (HHS access guidance): labour and the average cost
    of an electronic copy are per request. Postage only when the copy is mailed."""
    electronic = delivery_method in ELECTRONIC_DELIVERY
    text = ACCESS_METHOD_TEXT[(FeeMethod(method), electronic)]
    if method == FeeMethod.NONE:
        return [], text
    if method == FeeMethod.FLAT:
        flat = min(policy.access_flat_fee_cents, FLAT_FEE_CAP_CENTS)
        what = "Electronic copy of your records" if electronic else "Copy of your records"
        return [_line(f"{what}, flat fee (everything included)", 1, flat)], text
    lines: list[dict[str, Any]] = []
    if electronic and method == FeeMethod.ACTUAL:
        lines.append(
            _line("Labour to prepare the electronic copy (per request)", 1, policy.access_labour_cents_electronic)
        )
        lines.append(_line("Supplies (media)", 1, policy.access_supplies_cents))
    elif electronic:
        lines.append(_line("Electronic copy, standard average cost", 1, policy.access_average_cents_electronic))
    elif method == FeeMethod.ACTUAL:
        lines.append(_line("Copying labour, per page", pages, policy.access_labour_cents_per_page))
        lines.append(_line("Supplies (paper, media)", 1, policy.access_supplies_cents))
    else:
        lines.append(_line("Copies, average cost per page", pages, policy.access_per_page_cents))
    if delivery_method == DeliveryMethod.MAIL:
        lines.append(_line("Postage", 1, policy.postage_cents))
    return lines, text


def _capped(lines: list[dict[str, Any]], caps: list[tuple[int, str]]) -> tuple[list[dict[str, Any]], int]:
    """The lowest limit the total exceeds becomes a visible negative line."""
    total = sum(line["cents"] for line in lines)
    for cap, text in sorted(caps):
        if total > cap:
            lines = [*lines, _line(text, 1, cap - total)]
            total = cap
    return lines, total


def fee_quote(
    *,
    tenant: Tenant,
    record_request: RecordRequest,
    pages: int,
    delivery_method: str,
    purpose: str | None = None,
    fee_method: str | None = None,
) -> FeeQuote:
    """The fee for releasing `pages` pages of records for the request by `delivery_method`: its lines, total and
    the basis (rule or method, with the citation) printed on the estimate or invoice. `fee_method` is the method
    staff offer for the individual's own copy (the tenant's method when not given); refused for any other request,
    which follows the fee rule table."""
    if pages < 0:
        raise ServiceError("The page count cannot be negative.", field="pages")
    purpose = purpose or ""
    if purpose and purpose not in dict(FEE_PURPOSES):
        raise ServiceError("Choose the purpose from the list.", field="purpose")
    if fee_method and fee_method not in FeeMethod.values:
        raise ServiceError(
            "Choose the fee method from the list (flat fee, actual cost or average cost).", field="fee_method"
        )
    request_type = record_request.request_type
    requestor_kind = record_request.requestor.kind
    patient_rate = patient_rate_applies(request_type=request_type, requestor_kind=requestor_kind)
    directive = is_directive(request_type=request_type, requestor_kind=requestor_kind)
    if request_type == RequestType.ACCOUNTING:
        if fee_method:
            raise ServiceError(
                "An accounting of disclosures has its own fee rule (45 CFR 164.528(c)(2)): leave the fee method out.",
                field="fee_method",
            )
        return _accounting_quote(
            tenant=tenant, record_request=record_request, pages=pages, delivery_method=delivery_method, purpose=purpose
        )
    if fee_method and not patient_rate:
        raise ServiceError(
            "A fee method applies only to the patient's own copy (45 CFR 164.524(c)(4)): this request follows the fee "
            "rule table. Leave the fee method out.",
            field="fee_method",
        )
    rule = applicable_fee_rule(tenant=tenant, request_type=request_type, requestor_kind=requestor_kind, purpose=purpose)
    common = {"rule": rule, "pages": pages, "delivery_method": delivery_method, "purpose": purpose}
    if rule is None:
        if request_type == RequestType.CONTINUITY_OF_CARE:
            basis = "Continuity of care between providers: no fee (organisation default)."
        elif request_type in bases.BASES:
            public = bases.BASES[request_type]
            basis = f"{public.label} ({public.citation}): {public.fee}"
        elif directive:
            basis = f"{DIRECTIVE_PREFIX}no fee rule applies to it ({tenant.jurisdiction} or federal): no fee."
        else:
            basis = f"No fee rule applies to this request ({tenant.jurisdiction} or federal): no fee."
        return FeeQuote(lines=[], total_cents=0, basis=basis, **common)
    citation = f"{rule.citation}{'' if rule.verified else ', unverified'}"
    if rule.waived:
        return FeeQuote(lines=[], total_cents=0, basis=_basis(f"No fee. {rule.description}", citation), **common)

    policy = policy_for(tenant)
    if patient_rate:
        return _access_quote(policy=policy, method=fee_method or policy.access_fee_method, citation=citation, **common)
    # Everyone else, a patient's directive included (Ciox Health v. Azar): the rule's schedule, with its retrieval
    # fee where it has one.
    lines = []
    if rule.base_fee_cents:
        lines.append(_line("Retrieval and processing fee", 1, rule.base_fee_cents))
    lines.extend(tier_lines(rule.page_tiers, pages))
    # Tier lines stay even at $0.00: "pages 1-10 included in the retrieval fee" explains the total.
    if delivery_method == DeliveryMethod.MAIL and policy.postage_cents:
        lines.append(_line("Postage", 1, policy.postage_cents))
    caps = []
    if rule.max_total_cents is not None:
        caps.append((rule.max_total_cents, f"Limit under {rule.citation}: at most {dollars(rule.max_total_cents)}"))
    lines, total = _capped(lines, caps)
    basis = _basis(f"{DIRECTIVE_PREFIX if directive else ''}{rule.description}", citation)
    return FeeQuote(lines=lines, total_cents=total, basis=basis, **common)


def _access_quote(
    *,
    rule: FeeRule,
    policy: FulfillmentPolicy,
    method: str,
    citation: str,
    pages: int,
    delivery_method: str,
    purpose: str,
) -> FeeQuote:
    """The individual's own copy by the method. The cost-based rule prices it; a state schedule that names the
    individual's request only limits it (the stricter law wins, 45 CFR 160.203), never adds a per-page line to an
    electronic copy nor a retrieval fee."""
    lines, method_text = _access_lines(policy, method, pages, delivery_method)
    lines = [line for line in lines if line["cents"]]  # an amount the tenant left at zero is not charged
    notes: list[str] = []
    caps = []
    citations = ACCESS_CITATION
    if not rule.cost_based:
        citations = f"{ACCESS_CITATION}; {citation}"
        if rule.base_fee_cents:
            notes.append("No search or retrieval fee on a patient's own request (45 CFR 164.524(c)(4)).")
        if rule.page_tiers:  # its copy charges, without the retrieval fee the individual never pays
            schedule = sum(line["cents"] for line in tier_lines(rule.page_tiers, pages))
            if delivery_method == DeliveryMethod.MAIL:
                schedule += policy.postage_cents
            caps.append((schedule, f"Limit under {rule.citation}: at most {dollars(schedule)}"))
    if rule.max_total_cents is not None:
        caps.append((rule.max_total_cents, f"Limit under {rule.citation}: at most {dollars(rule.max_total_cents)}"))
    lines, total = _capped(lines, caps)
    basis = _basis(f"Right of access: {method_text}; no search or retrieval fee", citations)
    return FeeQuote(
        lines=lines,
        total_cents=total,
        basis=basis,
        notes=notes,
        method=method,
        rule=rule,
        pages=pages,
        delivery_method=delivery_method,
        purpose=purpose,
    )


ACCOUNTING_FEE = "45 CFR 164.528(c)(2)"


def earlier_accounting(*, tenant: Tenant, record_request: RecordRequest) -> RecordRequest | None:
    """The patient's latest other accounting request received in the twelve months before this one (not cancelled):
    this one is then a second accounting in twelve months, which may carry a fee (164.528(c)(2))."""
    since = record_request.received_at - timedelta(days=365)
    return (
        RecordRequest.objects.for_tenant(tenant)
        .filter(
            patient_id=record_request.patient_id,
            request_type=RequestType.ACCOUNTING,
            received_at__gte=since,
            received_at__lt=record_request.received_at,
        )
        .exclude(pk=record_request.pk)
        .exclude(state=RequestState.CANCELLED)
        .order_by("-received_at")
        .first()
    )


def _accounting_quote(
    *, tenant: Tenant, record_request: RecordRequest, pages: int, delivery_method: str, purpose: str
) -> FeeQuote:
    """The first accounting in any twelve months is free; a later one may carry the organisation's cost-based fee,
    charged only after the individual was told of it in advance (an estimate) and could withdraw or modify the
    request (invoice_issue checks that the estimate came first)."""
    common = {"rule": None, "pages": pages, "delivery_method": delivery_method, "purpose": purpose}
    earlier = earlier_accounting(tenant=tenant, record_request=record_request)
    if earlier is None:
        return FeeQuote(
            lines=[],
            total_cents=0,
            basis=_basis("The first accounting in twelve months is free", ACCOUNTING_FEE),
            **common,
        )
    when = local_date(earlier.received_at, tenant)
    another = f"Another accounting within twelve months (request {earlier.tracking_number}, received {when:%b %-d, %Y})"
    fee = policy_for(tenant).accounting_fee_cents
    if not fee:
        return FeeQuote(
            lines=[],
            total_cents=0,
            basis=_basis(f"{another}: this organisation charges no fee", ACCOUNTING_FEE),
            **common,
        )
    lines = [_line("Accounting of disclosures (another within twelve months)", 1, fee)]
    basis = _basis(
        f"{another}: a cost-based fee, told in advance; the requestor may withdraw or modify the request to avoid or "
        "reduce it",
        ACCOUNTING_FEE,
    )
    return FeeQuote(lines=lines, total_cents=fee, basis=basis, **common)


def _basis(text: str, citation: str) -> str:
    suffix = f" ({citation})"
    limit = 300 - len(suffix)
    text = text.strip().rstrip(".")
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text + suffix


def default_fee_method(*, tenant: Tenant, record_request: RecordRequest) -> str:
    """The method the issue form offers first: the tenant's, for the individual's own copy; "" (no choice shown)
    for every other request."""
    return policy_for(tenant).access_fee_method if patient_rate_for(record_request) else ""


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
