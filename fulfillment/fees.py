"""Fulfillment: fees. The fee a request carries, quoted from the fee rule table and the tenant's right-of-access
method: pure reads, no writes. Estimates and invoices that record a quote, payments and the prepayment hold are
fulfillment/invoices.py.

Rules (docs/domain.md, "Fees"): the individual's own copy (45 CFR 164.524(c)(4), "the patient rate") pays at most a
reasonable, cost-based fee by one of HHS's three methods (flat up to $6.50, actual cost, average cost), which staff
offer per request; an electronic copy is never priced per page; never a search or retrieval fee; never held back
for an unpaid bill. Since Ciox Health v. Azar (D.D.C. 2020) the patient rate does not cover a patient's directive
sending a copy to a third party: a directive, like any third party, pays the state's schedule where one applies.
Some states waive the fee for disability claims. Every number lives in FeeRule (platform data) or the tenant's
FulfillmentPolicy, never here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fulfillment.choices import FeeMethod
from fulfillment.models import FeeRule, FulfillmentPolicy, ReleasePacket
from fulfillment.policy import policy_for
from intake import bases
from intake.rules import DIRECTIVE, INDIVIDUAL, basis_for
from roi.errors import ServiceError
from roi.models import Tenant
from workflow.choices import DeliveryMethod, RequestorKind, RequestState, RequestType
from workflow.deadlines import local_date
from workflow.models import RecordRequest

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
