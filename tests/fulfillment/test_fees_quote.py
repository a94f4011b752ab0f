"""The fee rule table and fee_quote: which rule applies and what it comes to, case by case."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from fulfillment import fees
from fulfillment.choices import FeeMethod
from fulfillment.models import FeeRule
from fulfillment.policy import policy_for
from tests import factories
from workflow.choices import DeliveryMethod, RequestorKind, RequestType

RoA = RequestType.RIGHT_OF_ACCESS
AUTH = RequestType.AUTHORIZATION


@dataclass(frozen=True)
class Case:
    name: str
    state: str
    request_type: str
    requestor: str
    pages: int
    total: int
    basis_has: str
    delivery: str = DeliveryMethod.EMAIL_LINK
    purpose: str = ""
    policy: dict[str, Any] = field(default_factory=dict)
    lines: int | None = None


CASES = [
    # Right of access, 45 CFR 164.524(c)(4), by the tenant's method.
    Case("roa_flat_default", "CA", RoA, RequestorKind.PATIENT, 200, 650, "164.524(c)(4)", lines=1),
    Case("roa_flat_includes_postage", "CA", RoA, RequestorKind.PATIENT, 200, 500, "flat fee",
         delivery=DeliveryMethod.MAIL, policy={"access_flat_fee_cents": 500, "postage_cents": 300}, lines=1),
    Case("roa_flat_never_over_cap_even_if_stored_higher", "IL", RoA, RequestorKind.PATIENT, 10, 650, "flat",
         policy={"access_flat_fee_cents": 2000}),
    Case("roa_actual_cost_mailed", "IL", RoA, RequestorKind.PERSONAL_REPRESENTATIVE, 40, 750, "actual cost",
         delivery=DeliveryMethod.MAIL,
         policy={"access_fee_method": FeeMethod.ACTUAL, "access_labour_cents_per_page": 10,
                 "access_supplies_cents": 200, "postage_cents": 150}, lines=3),
    Case("roa_actual_cost_no_postage_by_fax", "IL", RoA, RequestorKind.PATIENT, 40, 600, "actual cost",
         delivery=DeliveryMethod.FAX,
         policy={"access_fee_method": FeeMethod.ACTUAL, "access_labour_cents_per_page": 10,
                 "access_supplies_cents": 200, "postage_cents": 150}, lines=2),
    Case("roa_average_cost", "IL", RoA, RequestorKind.PATIENT, 100, 500, "average cost per page",
         policy={"access_fee_method": FeeMethod.AVERAGE, "access_per_page_cents": 5}, lines=1),
    Case("roa_no_fee_method", "IL", RoA, RequestorKind.PATIENT, 100, 0, "164.524(c)(4)",
         policy={"access_fee_method": FeeMethod.NONE}, lines=0),
    # Third-party schedules (unverified examples).
    Case("ca_per_page", "CA", AUTH, RequestorKind.ATTORNEY, 100, 2500, "123110, unverified"),
    Case("ny_per_page", "NY", AUTH, RequestorKind.INSURER, 10, 750, "N.Y. Public Health Law 18"),
    Case("ny_per_page_plus_postage", "NY", RequestType.LEGAL, RequestorKind.ATTORNEY, 10, 1150, "18(2)(e)",
         delivery=DeliveryMethod.MAIL, policy={"postage_cents": 400}),
    Case("tx_base_covers_first_10", "TX", AUTH, RequestorKind.ATTORNEY, 5, 3000, "241.154"),
    Case("tx_exactly_10", "TX", AUTH, RequestorKind.ATTORNEY, 10, 3000, "241.154"),
    Case("tx_page_61", "TX", AUTH, RequestorKind.ATTORNEY, 61, 3000 + 50 * 100 + 50, "241.154"),
    Case("tx_all_tiers", "TX", AUTH, RequestorKind.ATTORNEY, 500, 3000 + 5000 + 340 * 50 + 100 * 25, "241.154",
         lines=5),
    Case("tx_patient_access_stays_federal", "TX", RoA, RequestorKind.PATIENT, 500, 650, "164.524(c)(4)"),
    # Waivers: the state's rule for the purpose staff marked.
    Case("ga_disability_claim", "GA", AUTH, RequestorKind.ATTORNEY, 300, 0, "31-33-3", purpose="disability_claim"),
    Case("md_disability_claim_patient", "MD", RoA, RequestorKind.PATIENT, 300, 0, "4-304",
         purpose="disability_claim"),
    Case("wv_disability_claim", "WV", AUTH, RequestorKind.GOVERNMENT, 300, 0, "16-29-2", purpose="disability_claim"),
    Case("ga_without_the_purpose_no_waiver_no_schedule", "GA", AUTH, RequestorKind.ATTORNEY, 300, 0, "No fee rule"),
    Case("ga_patient_without_purpose_pays_access_fee", "GA", RoA, RequestorKind.PATIENT, 30, 650, "164.524"),
    Case("ca_disability_purpose_no_waiver_in_ca", "CA", AUTH, RequestorKind.ATTORNEY, 4, 100, "123110",
         purpose="disability_claim"),
    # No fee by default.
    Case("continuity_of_care", "CA", RequestType.CONTINUITY_OF_CARE, RequestorKind.PROVIDER, 80, 0,
         "Continuity of care"),
    Case("accounting_first_free", "NY", RequestType.ACCOUNTING, RequestorKind.PATIENT, 3, 0, "164.528(c)(2)"),
]  # fmt: skip


def _request(state: str, request_type: str, requestor: str, policy: dict[str, Any]):
    tenant = factories.TenantFactory(jurisdiction=state, slug=f"t-{state.lower()}")
    if policy:
        current = policy_for(tenant)
        for name, value in policy.items():
            setattr(current, name, value)
        current.save()
    return tenant, factories.RecordRequestFactory(tenant=tenant, request_type=request_type, requestor__kind=requestor)


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_fee_quote(case: Case):
    tenant, rr = _request(case.state, case.request_type, case.requestor, case.policy)
    quote = fees.fee_quote(
        tenant=tenant, record_request=rr, pages=case.pages, delivery_method=case.delivery, purpose=case.purpose
    )
    assert quote.total_cents == case.total, quote.lines
    assert sum(line["cents"] for line in quote.lines) == quote.total_cents
    assert case.basis_has in quote.basis
    assert len(quote.basis) <= 300
    if case.lines is not None:
        assert len(quote.lines) == case.lines, quote.lines


@pytest.mark.django_db
def test_right_of_access_never_carries_a_search_fee_even_under_a_state_schedule():
    """A state rule that covers patients' requests (none is seeded) still loses its retrieval fee, and the flat
    method still caps the total."""
    FeeRule.objects.create(
        jurisdiction="CA",
        request_types=[RoA],
        base_fee_cents=2000,
        page_tiers=[{"up_to": None, "cents": 25}],
        description="test schedule",
        citation="test",
    )
    tenant, rr = _request("CA", RoA, RequestorKind.PATIENT, {})
    quote = fees.fee_quote(tenant=tenant, record_request=rr, pages=100, delivery_method=DeliveryMethod.MAIL)
    assert not any("Retrieval" in line["description"] for line in quote.lines)
    assert quote.total_cents == 650
    assert quote.notes


@pytest.mark.django_db
def test_max_total_caps_the_fee_with_a_visible_line():
    FeeRule.objects.create(
        jurisdiction="NY",
        request_types=[RequestType.LEGAL],
        page_tiers=[{"up_to": None, "cents": 75}],
        max_total_cents=1000,
        description="capped schedule",
        citation="test cap",
    )
    tenant, rr = _request("NY", RequestType.LEGAL, RequestorKind.ATTORNEY, {})
    quote = fees.fee_quote(tenant=tenant, record_request=rr, pages=100, delivery_method=DeliveryMethod.FAX)
    assert quote.total_cents == 1000
    assert quote.lines[-1]["cents"] == 1000 - 7500
    assert "at most $10.00" in quote.lines[-1]["description"]


@pytest.mark.django_db
def test_the_state_rule_wins_over_a_federal_one_for_the_same_request():
    FeeRule.objects.create(
        jurisdiction="US", request_types=[AUTH], base_fee_cents=9999, description="federal test", citation="US test"
    )
    tenant, rr = _request("CA", AUTH, RequestorKind.ATTORNEY, {})
    assert fees.fee_quote(tenant=tenant, record_request=rr, pages=4, delivery_method="fax").total_cents == 100
    other, rr_il = _request("IL", AUTH, RequestorKind.ATTORNEY, {})
    assert fees.fee_quote(tenant=other, record_request=rr_il, pages=4, delivery_method="fax").total_cents == 9999


@pytest.mark.django_db
def test_a_rule_naming_the_requestor_kind_wins_and_inactive_rules_do_not_count():
    FeeRule.objects.create(
        jurisdiction="CA",
        request_types=[AUTH],
        requestor_kinds=[RequestorKind.INSURER],
        page_tiers=[{"up_to": None, "cents": 10}],
        description="insurers",
        citation="test insurer",
    )
    FeeRule.objects.create(
        jurisdiction="CA", request_types=[AUTH], waived=True, description="off", citation="x", is_active=False
    )
    tenant, insurer_rr = _request("CA", AUTH, RequestorKind.INSURER, {})
    attorney_rr = factories.RecordRequestFactory(tenant=tenant, request_type=AUTH)
    assert fees.fee_quote(tenant=tenant, record_request=insurer_rr, pages=10, delivery_method="fax").total_cents == 100
    assert fees.fee_quote(tenant=tenant, record_request=attorney_rr, pages=10, delivery_method="fax").total_cents == 250


def test_tier_lines_price_each_span_once():
    tiers = [{"up_to": 10, "cents": 0}, {"up_to": 60, "cents": 100}, {"up_to": None, "cents": 25}]
    assert [(line["quantity"], line["unit_cents"]) for line in fees.tier_lines(tiers, 70)] == [
        (10, 0),
        (50, 100),
        (10, 25),
    ]
    assert fees.tier_lines(tiers, 0) == []
    assert [line["quantity"] for line in fees.tier_lines(tiers, 11)] == [10, 1]


@pytest.mark.django_db
def test_negative_pages_and_unknown_purposes_are_refused():
    from roi.errors import ServiceError

    tenant, rr = _request("CA", AUTH, RequestorKind.ATTORNEY, {})
    with pytest.raises(ServiceError):
        fees.fee_quote(tenant=tenant, record_request=rr, pages=-1, delivery_method="fax")
    with pytest.raises(ServiceError):
        fees.fee_quote(tenant=tenant, record_request=rr, pages=1, delivery_method="fax", purpose="birthday")


@pytest.mark.django_db
def test_the_seeded_table_marks_only_the_cited_federal_rules_verified():
    rules = list(FeeRule.objects.all())
    assert {r.jurisdiction for r in rules} >= {"US", "CA", "NY", "TX", "GA", "MD", "WV"}
    for rule in rules:
        assert rule.verified == (rule.jurisdiction == "US"), rule
    access = FeeRule.objects.get(jurisdiction="US", request_types=[RoA])
    assert access.cost_based
    assert access.base_fee_cents == 0
    assert access.citation == "45 CFR 164.524(c)(4)"
    waivers = FeeRule.objects.filter(waived=True, waiver_purpose=fees.DISABILITY_CLAIM)
    assert set(waivers.values_list("jurisdiction", flat=True)) == {"GA", "MD", "WV"}
