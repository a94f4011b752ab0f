"""The fee rule table and fee_quote: which rule applies and what it comes to, case by case. The individual's own
copy pays the patient rate by the method (45 CFR 164.524(c)(4), HHS access guidance); a patient's directive to a
third party pays the state's schedule (Ciox Health v. Azar, D.D.C. 2020)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from fulfillment import fees
from fulfillment.choices import FeeMethod
from fulfillment.models import FeeRule
from fulfillment.policy import policy_for
from roi.errors import ServiceError
from tests import factories
from workflow.choices import DeliveryMethod, RequestorKind, RequestType

RoA = RequestType.RIGHT_OF_ACCESS
AUTH = RequestType.AUTHORIZATION
ELECTRONIC = [DeliveryMethod.PORTAL_DOWNLOAD, DeliveryMethod.EMAIL_LINK]
PAPER = [DeliveryMethod.MAIL, DeliveryMethod.PICKUP, DeliveryMethod.FAX]
# A tenant that set every amount: a per-page amount would show up on any copy it reached.
EVERY_AMOUNT = {
    "access_flat_fee_cents": 650,
    "access_per_page_cents": 25,
    "access_average_cents_electronic": 900,
    "access_labour_cents_per_page": 30,
    "access_labour_cents_electronic": 1200,
    "access_supplies_cents": 200,
    "postage_cents": 150,
}


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
    Case("roa_average_cost_paper_copy_per_page", "IL", RoA, RequestorKind.PATIENT, 100, 500, "average cost per page",
         delivery=DeliveryMethod.PICKUP,
         policy={"access_fee_method": FeeMethod.AVERAGE, "access_per_page_cents": 5}, lines=1),
    Case("roa_average_cost_electronic_copy_per_copy", "IL", RoA, RequestorKind.PATIENT, 100, 900, "not per page",
         policy={"access_fee_method": FeeMethod.AVERAGE, "access_per_page_cents": 5,
                 "access_average_cents_electronic": 900}, lines=1),
    Case("roa_actual_cost_electronic_per_request", "IL", RoA, RequestorKind.PERSONAL_REPRESENTATIVE, 400, 1400,
         "per request (not per page)", delivery=DeliveryMethod.PORTAL_DOWNLOAD,
         policy={"access_fee_method": FeeMethod.ACTUAL, "access_labour_cents_per_page": 10,
                 "access_labour_cents_electronic": 1200, "access_supplies_cents": 200, "postage_cents": 150}, lines=2),
    Case("roa_no_fee_method", "IL", RoA, RequestorKind.PATIENT, 100, 0, "164.524(c)(4)",
         policy={"access_fee_method": FeeMethod.NONE}, lines=0),
    # A patient's directive to a third party: the state's schedule, as for other third parties (Ciox v. Azar).
    Case("directive_ca_state_schedule", "CA", RoA, RequestorKind.ATTORNEY, 100, 2500, "Ciox"),
    Case("directive_ny_mailed", "NY", RoA, RequestorKind.INSURER, 10, 1150, "N.Y. Public Health Law 18",
         delivery=DeliveryMethod.MAIL, policy={"postage_cents": 400}),
    Case("directive_tx_with_retrieval_fee", "TX", RoA, RequestorKind.ATTORNEY, 61, 3000 + 50 * 100 + 50, "241.154",
         lines=4),
    Case("directive_no_state_schedule_no_fee", "IL", RoA, RequestorKind.ATTORNEY, 100, 0, "Ciox"),
    Case("directive_ga_disability_claim_waived", "GA", RoA, RequestorKind.ATTORNEY, 300, 0, "31-33-3",
         purpose="disability_claim"),
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


# --- The individual's own copy: 45 CFR 164.524(c)(4) and HHS access guidance -----------------------------------------


def _quote(tenant, rr, pages, delivery, **kwargs):
    return fees.fee_quote(tenant=tenant, record_request=rr, pages=pages, delivery_method=delivery, **kwargs)


@pytest.mark.django_db
@pytest.mark.parametrize("delivery", ELECTRONIC)
def test_164_524_c_4_no_per_page_fee_on_an_electronic_copy_under_the_average_method(delivery):
    tenant, rr = _request("IL", RoA, RequestorKind.PATIENT, {**EVERY_AMOUNT, "access_fee_method": FeeMethod.AVERAGE})
    one_page = _quote(tenant, rr, 1, delivery)
    thousands = _quote(tenant, rr, 5000, delivery)
    assert one_page.total_cents == thousands.total_cents == 900
    assert [(line["quantity"], line["unit_cents"]) for line in thousands.lines] == [(1, 900)]
    assert thousands.method == FeeMethod.AVERAGE
    assert "standard average cost of an electronic copy, per copy (not per page)" in thousands.basis
    assert "45 CFR 164.524(c)(4); HHS access guidance" in thousands.basis


@pytest.mark.django_db
@pytest.mark.parametrize("delivery", ELECTRONIC)
@pytest.mark.parametrize(
    ("method", "total"),
    [(FeeMethod.FLAT, 650), (FeeMethod.ACTUAL, 1200 + 200), (FeeMethod.AVERAGE, 900), (FeeMethod.NONE, 0)],
)
def test_164_524_c_4_no_per_page_fee_on_an_electronic_copy_under_any_method(delivery, method, total):
    """Whatever the page count, the same fee, every line once; no postage on a download or an email link."""
    tenant, rr = _request("IL", RoA, RequestorKind.PATIENT, EVERY_AMOUNT)
    for pages in (1, 40, 5000):
        quote = _quote(tenant, rr, pages, delivery, fee_method=method)
        assert quote.total_cents == total, quote.lines
        assert all(line["quantity"] == 1 for line in quote.lines), quote.lines
        assert not any("Postage" in line["description"] for line in quote.lines)
        assert not any("page" in line["description"].lower() for line in quote.lines)


@pytest.mark.django_db
@pytest.mark.parametrize("delivery", ELECTRONIC)
def test_164_524_c_4_the_flat_fee_for_an_electronic_copy_is_at_most_6_50_everything_included(delivery):
    tenant, rr = _request("IL", RoA, RequestorKind.PATIENT, {**EVERY_AMOUNT, "access_flat_fee_cents": 2000})
    quote = _quote(tenant, rr, 800, delivery)
    assert quote.total_cents == 650
    assert quote.method == FeeMethod.FLAT
    assert quote.basis.startswith("Right of access: flat fee for an electronic copy, at most $6.50")
    assert quote.basis.endswith("(45 CFR 164.524(c)(4); HHS access guidance)")


@pytest.mark.django_db
@pytest.mark.parametrize("delivery", PAPER)
@pytest.mark.parametrize(
    ("method", "per_page"), [(FeeMethod.ACTUAL, 30), (FeeMethod.AVERAGE, 25)], ids=["actual", "average"]
)
def test_164_524_c_4_a_paper_copy_may_still_be_priced_per_page_under_the_actual_and_average_methods(
    delivery, method, per_page
):
    tenant, rr = _request("IL", RoA, RequestorKind.PATIENT, EVERY_AMOUNT)
    ten = _quote(tenant, rr, 10, delivery, fee_method=method)
    hundred = _quote(tenant, rr, 100, delivery, fee_method=method)
    assert hundred.total_cents - ten.total_cents == 90 * per_page
    assert any(line["quantity"] == 100 and line["unit_cents"] == per_page for line in hundred.lines)
    assert any(line["description"] == "Postage" for line in hundred.lines) == (delivery == DeliveryMethod.MAIL)
    assert "paper copy" in hundred.basis


@pytest.mark.django_db
@pytest.mark.parametrize("method", [FeeMethod.FLAT, FeeMethod.ACTUAL, FeeMethod.AVERAGE])
@pytest.mark.parametrize("delivery", [DeliveryMethod.EMAIL_LINK, DeliveryMethod.MAIL])
@pytest.mark.parametrize("requestor", [RequestorKind.PATIENT, RequestorKind.PERSONAL_REPRESENTATIVE])
def test_164_524_c_4_never_a_search_or_retrieval_fee_on_the_individuals_own_copy(method, delivery, requestor):
    """Not from the federal rule, nor from a state schedule with a retrieval fee that names the individual's
    request (the seeded Texas one names third parties; this one is made for the test)."""
    FeeRule.objects.create(
        jurisdiction="TX",
        request_types=[RoA],
        base_fee_cents=3000,
        page_tiers=[{"up_to": None, "cents": 100}],
        description="test schedule with a retrieval fee",
        citation="test TX",
    )
    for state in ("TX", "IL"):
        tenant, rr = _request(state, RoA, requestor, EVERY_AMOUNT)
        quote = _quote(tenant, rr, 50, delivery, fee_method=method)
        assert not any("retrieval" in line["description"].lower() for line in quote.lines), quote.lines
        assert 0 < quote.total_cents < 3000
        assert "no search or retrieval fee" in quote.basis


@pytest.mark.django_db
def test_45_cfr_160_203_a_lower_state_limit_caps_the_individuals_fee_and_never_adds_per_page_lines():
    """A state schedule that names the individual's request limits the fee (the stricter law wins); it does not
    price the electronic copy per page."""
    FeeRule.objects.create(
        jurisdiction="CA",
        request_types=[RoA],
        requestor_kinds=[RequestorKind.PATIENT],
        page_tiers=[{"up_to": None, "cents": 25}],
        description="test patient schedule",
        citation="test CA patient",
    )
    tenant, rr = _request("CA", RoA, RequestorKind.PATIENT, EVERY_AMOUNT)
    low = _quote(tenant, rr, 10, DeliveryMethod.EMAIL_LINK)
    assert low.total_cents == 250
    assert [line["quantity"] for line in low.lines] == [1, 1]
    assert "Limit under test CA patient: at most $2.50" in low.lines[-1]["description"]
    assert "test CA patient" in low.basis
    high = _quote(tenant, rr, 400, DeliveryMethod.EMAIL_LINK)
    assert high.total_cents == 650
    assert [line["quantity"] for line in high.lines] == [1]


@pytest.mark.django_db
def test_the_method_is_the_tenants_unless_staff_offer_another():
    tenant, rr = _request("IL", RoA, RequestorKind.PATIENT, {**EVERY_AMOUNT, "access_fee_method": FeeMethod.ACTUAL})
    usual = _quote(tenant, rr, 30, DeliveryMethod.EMAIL_LINK)
    offered = _quote(tenant, rr, 30, DeliveryMethod.EMAIL_LINK, fee_method=FeeMethod.FLAT)
    assert (usual.method, usual.total_cents) == (FeeMethod.ACTUAL, 1400)
    assert (offered.method, offered.total_cents) == (FeeMethod.FLAT, 650)
    assert offered.method_label == FeeMethod.FLAT.label


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["cheapest", "FLAT", "per_page"])
def test_an_unknown_fee_method_is_refused(bad):
    tenant, rr = _request("IL", RoA, RequestorKind.PATIENT, {})
    with pytest.raises(ServiceError, match="Choose the fee method from the list") as error:
        _quote(tenant, rr, 3, DeliveryMethod.EMAIL_LINK, fee_method=bad)
    assert error.value.field == "fee_method"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("request_type", "requestor"),
    [(RoA, RequestorKind.ATTORNEY), (AUTH, RequestorKind.INSURER)],
    ids=["directive", "authorization"],
)  # an accounting has a fee rule of its own: tests/fulfillment/test_accounting_fee.py
def test_a_fee_method_is_refused_where_the_patient_rate_does_not_apply(request_type, requestor):
    tenant, rr = _request("CA", request_type, requestor, {})
    with pytest.raises(ServiceError, match="only to the patient's own copy") as error:
        _quote(tenant, rr, 3, DeliveryMethod.EMAIL_LINK, fee_method=FeeMethod.FLAT)
    assert error.value.field == "fee_method"


# --- A patient's directive to a third party: Ciox Health v. Azar (D.D.C. 2020) ------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("delivery", [*ELECTRONIC, DeliveryMethod.MAIL])
def test_ciox_v_azar_a_directive_to_a_third_party_is_not_held_to_the_patient_rate(delivery):
    tenant, rr = _request("CA", RoA, RequestorKind.ATTORNEY, {"access_fee_method": FeeMethod.FLAT})
    quote = _quote(tenant, rr, 100, delivery)
    assert quote.total_cents == 2500  # the state's $0.25 a page, not the $6.50 flat fee
    assert quote.method == ""
    assert not quote.rule.cost_based
    assert quote.rule.request_types == [RoA]
    assert RequestorKind.ATTORNEY in quote.rule.requestor_kinds
    assert quote.basis.startswith("Directive to a third party, not the patient rate (Ciox v. Azar, 2020)")
    assert "Cal. Health & Safety Code 123110, unverified" in quote.basis
    assert "…" not in quote.basis


@pytest.mark.django_db
def test_ciox_v_azar_a_directive_pays_the_states_retrieval_fee_where_the_schedule_has_one():
    tenant, rr = _request("TX", RoA, RequestorKind.INSURER, {})
    quote = _quote(tenant, rr, 5, DeliveryMethod.EMAIL_LINK)
    assert quote.lines[0] == {
        "description": "Retrieval and processing fee",
        "quantity": 1,
        "unit_cents": 3000,
        "cents": 3000,
    }
    assert quote.total_cents == 3000
    assert not quote.notes
    assert "…" not in quote.basis  # the Texas description fits beside the directive's words


@pytest.mark.django_db
def test_ciox_v_azar_a_directive_with_no_state_schedule_carries_no_fee_and_says_why():
    tenant, rr = _request("IL", RoA, RequestorKind.ATTORNEY, {})
    quote = _quote(tenant, rr, 100, DeliveryMethod.EMAIL_LINK)
    assert quote.total_cents == 0
    assert quote.rule is None
    assert "not the patient rate (Ciox v. Azar, 2020)" in quote.basis
    assert "no fee rule applies" in quote.basis


@pytest.mark.django_db
def test_ciox_v_azar_a_cost_based_rule_never_reaches_a_directive_whatever_its_scope():
    """An operator's cost-based rule for every request type and requestor still prices only the individual's copy."""
    FeeRule.objects.filter(cost_based=True).update(is_active=False)
    everything = FeeRule.objects.create(
        jurisdiction="US", cost_based=True, description="cost-based for all", citation="45 CFR 164.524(c)(4) test"
    )
    tenant, directive = _request("IL", RoA, RequestorKind.ATTORNEY, {})
    patient = factories.RecordRequestFactory(tenant=tenant, request_type=RoA, requestor__kind=RequestorKind.PATIENT)
    assert fees.applicable_fee_rule(tenant=tenant, request_type=RoA, requestor_kind=RequestorKind.ATTORNEY) is None
    assert _quote(tenant, directive, 100, DeliveryMethod.EMAIL_LINK).total_cents == 0
    assert _quote(tenant, patient, 100, DeliveryMethod.EMAIL_LINK).rule == everything


@pytest.mark.django_db
@pytest.mark.parametrize("requestor", [RequestorKind.PATIENT, RequestorKind.PERSONAL_REPRESENTATIVE])
def test_ciox_v_azar_the_individuals_own_copy_keeps_the_patient_rate(requestor):
    tenant, rr = _request("CA", RoA, requestor, {})
    quote = _quote(tenant, rr, 100, DeliveryMethod.EMAIL_LINK)
    assert quote.total_cents == 650
    assert quote.rule.cost_based
    assert quote.rule.jurisdiction == "US"


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
    assert access.requestor_kinds == [RequestorKind.PATIENT, RequestorKind.PERSONAL_REPRESENTATIVE]
    waivers = FeeRule.objects.filter(waived=True, waiver_purpose=fees.DISABILITY_CLAIM)
    assert set(waivers.values_list("jurisdiction", flat=True)) == {"GA", "MD", "WV"}


@pytest.mark.django_db
def test_ciox_v_azar_each_seeded_third_party_schedule_has_its_twin_for_directives():
    directives = FeeRule.objects.filter(request_types=[RoA], cost_based=False).exclude(jurisdiction="US")
    assert sorted(directives.values_list("jurisdiction", flat=True)) == ["CA", "NY", "TX"]
    for twin in directives:
        third_party = FeeRule.objects.get(
            jurisdiction=twin.jurisdiction,
            citation=twin.citation,
            request_types=[AUTH, RequestType.LEGAL, RequestType.OTHER],
        )
        assert (twin.base_fee_cents, twin.page_tiers, twin.max_total_cents) == (
            third_party.base_fee_cents,
            third_party.page_tiers,
            third_party.max_total_cents,
        )
        assert not twin.verified
        assert not set(twin.requestor_kinds) & fees.INDIVIDUAL_REQUESTORS
