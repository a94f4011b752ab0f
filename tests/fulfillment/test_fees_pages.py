"""The fees section of the request page, its actions, the PDF download, the fulfillment settings page (admins) and
the fee rule table (staff); routes that cannot take each other's paths; another tenant's invoice is a 404."""

from __future__ import annotations

import pytest
from django.urls import resolve, reverse

from fulfillment import invoices
from fulfillment.choices import FeeMethod, InvoiceKind, InvoiceStatus
from fulfillment.models import FulfillmentPolicy, Invoice
from fulfillment.policy import policy_for
from roi.choices import AccessAction, Role
from roi.models import AccessEvent
from tests import factories
from tests.fulfillment.factories import ReleasePacketFactory
from workflow.choices import DeliveryMethod, RequestorKind, RequestState, RequestType


@pytest.fixture
def ada(tenant_a):
    """Tenant A's admin."""
    return factories.MembershipFactory(tenant=tenant_a, user__username="ada", role=Role.ADMIN).user


@pytest.fixture
def rr(tenant_a):
    return factories.RecordRequestFactory(tenant=tenant_a)


def _detail(client, rr) -> str:
    response = client.get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all")
    assert response.status_code == 200
    return response.content.decode()


# --- Routes -------------------------------------------------------------------------------------------------


def test_fixed_words_and_tracking_numbers_reach_their_own_views():
    assert resolve("/requests/fulfillment/settings/").view_name == "fulfillment:settings"
    assert resolve("/requests/fulfillment/fee-rules/").view_name == "fulfillment:fee-rules"
    assert resolve("/requests/ROI-2345-6789-ABCD/").view_name == "workflow:detail"
    assert resolve("/requests/ROI-2345-6789-ABCD/qc-review/").view_name == "fulfillment:qc"
    assert resolve("/requests/ROI-2345-6789-ABCD/fees/issue/").view_name == "fulfillment:fee-issue"
    assert resolve("/requests/ROI-2345-6789-ABCD/fees/7/pdf/").view_name == "fulfillment:invoice-pdf"
    assert resolve("/requests/exceptions/").view_name == "exceptions:board"
    assert resolve("/requests/new/").view_name.startswith("intake:")


# --- The panel and its actions ------------------------------------------------------------------------------


def test_the_panel_offers_an_estimate_and_then_shows_it(client_for, alice, rr, media):
    client = client_for(alice)
    page = _detail(client, rr)
    assert "Issue estimate" in page
    assert "Issue invoice" in page
    response = client.post(
        reverse("fulfillment:fee-issue", args=[rr.tracking_number]),
        {"fee-kind": "estimate", "fee-pages": "40", "fee-delivery_method": "", "fee-purpose": ""},
    )
    assert response.status_code == 302
    estimate = Invoice.objects.get(request=rr)
    assert estimate.kind == InvoiceKind.ESTIMATE
    assert estimate.total_cents == 1000
    page = _detail(client, rr)
    assert estimate.number in page
    assert "$10.00" in page
    assert reverse("fulfillment:invoice-pdf", args=[rr.tracking_number, estimate.pk]) in page


def test_a_form_error_keeps_the_input(client_for, alice, rr, media):
    response = client_for(alice).post(
        reverse("fulfillment:fee-issue", args=[rr.tracking_number]),
        {"fee-kind": "invoice", "fee-pages": "", "fee-delivery_method": "mail", "fee-purpose": "disability_claim"},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Enter the number of pages" in page
    assert '<option value="mail" selected>' in page
    assert '<option value="disability_claim" selected>' in page
    assert not Invoice.objects.exists()


def test_a_service_refusal_is_shown_with_the_input_kept(client_for, alice, tenant_a, media):
    rr = factories.RecordRequestFactory(tenant=tenant_a, request_type="continuity_of_care")
    response = client_for(alice).post(
        reverse("fulfillment:fee-issue", args=[rr.tracking_number]),
        {"fee-kind": "invoice", "fee-pages": "33", "fee-delivery_method": "", "fee-purpose": ""},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing to invoice" in page
    assert 'value="33"' in page


def _access_request(tenant, requestor=RequestorKind.PATIENT):
    return factories.RecordRequestFactory(
        tenant=tenant,
        request_type=RequestType.RIGHT_OF_ACCESS,
        requestor__kind=requestor,
        delivery_method=DeliveryMethod.PORTAL_DOWNLOAD,
    )


def _issue_post(method: str | None, pages: str = "40") -> dict[str, str]:
    body = {"fee-kind": "estimate", "fee-pages": pages, "fee-delivery_method": "", "fee-purpose": ""}
    if method is not None:
        body["fee-fee_method"] = method
    return body


def test_the_issue_form_offers_the_fee_method_only_for_the_patients_own_copy(client_for, alice, tenant_a, rr):
    policy = policy_for(tenant_a)
    policy.access_fee_method = FeeMethod.AVERAGE
    policy.save()
    page = _detail(client_for(alice), _access_request(tenant_a))
    assert 'name="fee-fee_method"' in page
    assert '<option value="average" selected>' in page
    assert "45 CFR 164.524(c)(4)" in page
    for other in (rr, _access_request(tenant_a, RequestorKind.ATTORNEY)):
        assert 'name="fee-fee_method"' not in _detail(client_for(alice), other)


def test_an_estimate_with_the_method_staff_offered_from_the_panel(client_for, alice, tenant_a, media):
    policy = policy_for(tenant_a)
    policy.access_labour_cents_electronic = 1100
    policy.save()
    rr = _access_request(tenant_a)
    client = client_for(alice)
    response = client.post(reverse("fulfillment:fee-issue", args=[rr.tracking_number]), _issue_post("actual", "400"))
    assert response.status_code == 302
    estimate = Invoice.objects.get(request=rr)
    assert (estimate.fee_method, estimate.total_cents) == (FeeMethod.ACTUAL, 1100)
    page = _detail(client, rr)
    assert "Fee method: Actual cost (labour, supplies, postage)" in page
    assert "per request (not per page)" in page


def test_a_bad_fee_method_answers_400_with_a_message(client_for, alice, tenant_a, media):
    rr = _access_request(tenant_a)
    response = client_for(alice).post(
        reverse("fulfillment:fee-issue", args=[rr.tracking_number]), _issue_post("per_page", "12")
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Choose the fee method from the list (flat fee, actual cost or average cost)." in page
    assert 'value="12"' in page
    assert not Invoice.objects.exists()


def test_ciox_v_azar_a_method_posted_for_a_directive_is_not_applied(client_for, alice, tenant_a, media):
    """The form asks no method for a directive, so a posted one is dropped: the state's schedule applies."""
    rr = _access_request(tenant_a, RequestorKind.ATTORNEY)
    client = client_for(alice)
    response = client.post(reverse("fulfillment:fee-issue", args=[rr.tracking_number]), _issue_post("flat"))
    assert response.status_code == 302
    estimate = Invoice.objects.get(request=rr)
    assert (estimate.fee_method, estimate.total_cents) == ("", 1000)  # 40 pages at California's $0.25
    page = _detail(client, rr)
    assert "not the patient rate (Ciox Health v. Azar, D.D.C. 2020)" in page
    assert "Fee method:" not in page


def test_the_panel_says_which_method_and_why_before_anything_is_issued(client_for, alice, tenant_a, media):
    rr = _access_request(tenant_a)
    ReleasePacketFactory(request=rr, record_pages=250, version=1)
    page = _detail(client_for(alice), rr)
    assert "Fee if invoiced now (250 pages in the release packet): <strong>$6.50</strong>" in page
    assert "fee method: Flat fee (at most $6.50, everything included)" in page
    assert "Right of access: flat fee for an electronic copy, at most $6.50" in page
    assert "(45 CFR 164.524(c)(4); HHS access guidance)" in page


def test_payment_from_the_panel_and_its_errors(client_for, alice, tenant_a, rr, media):
    invoice = invoices.invoice_issue(tenant=tenant_a, actor=alice, record_request=rr, kind="invoice", pages=10)
    client = client_for(alice)
    url = reverse("fulfillment:invoice-pay", args=[rr.tracking_number, invoice.pk])
    bad = client.post(url, {"pay-method": "check", "pay-reference": "", "pay-paid_on": "2026-01-02"})
    assert bad.status_code == 400
    assert "Enter the reference" in bad.content.decode()
    assert 'value="2026-01-02"' in bad.content.decode()
    today = invoices.tenant_today(tenant_a).isoformat()
    good = client.post(url, {"pay-method": "check", "pay-reference": "1042", "pay-paid_on": today})
    assert good.status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert "Paid by check (1042)" in _detail(client, rr)


def test_a_specialist_cannot_waive_from_the_panel(client_for, alice, sam, tenant_a, rr, media):
    invoice = invoices.invoice_issue(tenant=tenant_a, actor=alice, record_request=rr, kind="invoice", pages=10)
    url = reverse("fulfillment:invoice-waive", args=[rr.tracking_number, invoice.pk])
    assert client_for(alice).post(url, {"waive-reason": "hardship"}).status_code == 403
    assert client_for(sam).post(url, {"waive-reason": ""}).status_code == 400
    assert client_for(sam).post(url, {"waive-reason": "hardship"}).status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.WAIVED


def test_void_from_the_panel(client_for, alice, sam, tenant_a, rr, media):
    invoice = invoices.invoice_issue(tenant=tenant_a, actor=alice, record_request=rr, kind="estimate", pages=10)
    url = reverse("fulfillment:invoice-void", args=[rr.tracking_number, invoice.pk])
    response = client_for(sam).post(url, {"void-reason": "requestor withdrew"})
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID
    assert "requestor withdrew" in _detail(client_for(sam), rr)


def test_the_panel_shows_the_prepayment_hold(client_for, alice, tenant_a, request_in_state, media):
    policy = policy_for(tenant_a)
    policy.require_prepayment_third_party = True
    policy.save()
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    invoice = invoices.invoice_issue(tenant=tenant_a, actor=alice, record_request=rr, kind="invoice", pages=10)
    page = _detail(client_for(alice), rr)
    assert "Release on hold" in page
    assert invoice.number in page


def test_the_pdf_download_is_audited(client_for, alice, tenant_a, rr, media):
    invoice = invoices.invoice_issue(tenant=tenant_a, actor=alice, record_request=rr, kind="invoice", pages=10)
    response = client_for(alice).get(reverse("fulfillment:invoice-pdf", args=[rr.tracking_number, invoice.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "no-store"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    event = AccessEvent.objects.get(action=AccessAction.DOWNLOAD_DOCUMENT, object_id=str(invoice.pk))
    assert (event.actor, event.request_id, event.patient_id) == (alice, rr.pk, rr.patient_id)


def test_another_tenants_invoice_answers_404(client_for, alice, charlie, tenant_a, rr, media):
    invoice = invoices.invoice_issue(tenant=tenant_a, actor=alice, record_request=rr, kind="invoice", pages=10)
    client = client_for(charlie)
    for name in ("invoice-pdf",):
        assert client.get(reverse(f"fulfillment:{name}", args=[rr.tracking_number, invoice.pk])).status_code == 404
    for name, body in (
        ("invoice-pay", {"pay-method": "cash", "pay-paid_on": "2026-01-01"}),
        ("invoice-waive", {"waive-reason": "x"}),
        ("invoice-void", {"void-reason": "x"}),
    ):
        response = client.post(reverse(f"fulfillment:{name}", args=[rr.tracking_number, invoice.pk]), body)
        assert response.status_code == 404
    # Tenant B's own request with tenant A's invoice number is no way in either.
    own = factories.RecordRequestFactory(tenant=charlie.memberships.get().tenant)
    assert client.get(reverse("fulfillment:invoice-pdf", args=[own.tracking_number, invoice.pk])).status_code == 404
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ISSUED
    assert not AccessEvent.objects.filter(object_id=str(invoice.pk)).exists()


def test_an_invoice_of_another_request_of_the_same_tenant_answers_404(client_for, alice, tenant_a, rr, media):
    invoice = invoices.invoice_issue(tenant=tenant_a, actor=alice, record_request=rr, kind="invoice", pages=10)
    other = factories.RecordRequestFactory(tenant=tenant_a)
    url = reverse("fulfillment:invoice-pdf", args=[other.tracking_number, invoice.pk])
    assert client_for(alice).get(url).status_code == 404


# --- Settings (admins) ---------------------------------------------------------------------------------------

SETTINGS = {
    "qc_two_person_rule": "on",
    "retrieval_overdue_days": "7",
    "download_link_days": "10",
    "download_link_max_uses": "2",
    "access_fee_method": FeeMethod.ACTUAL,
    "access_flat_fee": "6.50",
    "access_per_page": "0",
    "access_average_electronic": "0",
    "access_supplies": "2.00",
    "access_labour_per_page": "0.12",
    "access_labour_electronic": "4.25",
    "postage": "1.50",
    "accounting_fee": "15.00",
    "require_prepayment_third_party": "on",
    "payment_instructions": "Checks payable to Alpha General Hospital.",
}


def test_only_admins_reach_the_settings_page(client_for, alice, sam, ada):
    url = reverse("fulfillment:settings")
    assert client_for(alice).get(url).status_code == 403
    assert client_for(sam).get(url).status_code == 403
    assert client_for(sam).post(url, SETTINGS).status_code == 403
    page = client_for(ada).get(url)
    assert page.status_code == 200
    assert "Flat fee ($)" in page.content.decode()
    assert not FulfillmentPolicy.objects.filter(require_prepayment_third_party=True).exists()


def test_settings_are_saved_in_cents_with_history(client_for, ada, tenant_a):
    response = client_for(ada).post(reverse("fulfillment:settings"), SETTINGS)
    assert response.status_code == 302
    policy = FulfillmentPolicy.objects.get(tenant=tenant_a)
    assert policy.access_fee_method == FeeMethod.ACTUAL
    assert (policy.access_supplies_cents, policy.access_labour_cents_per_page, policy.postage_cents) == (200, 12, 150)
    assert policy.access_labour_cents_electronic == 425
    assert policy.accounting_fee_cents == 1500
    assert policy.require_prepayment_third_party
    assert policy.retrieval_overdue_days == 7
    assert policy.history.first().history_user == ada
    page = client_for(ada).get(reverse("fulfillment:settings")).content.decode()
    assert f"changed by {ada}" in page
    assert 'value="2.00"' in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"access_fee_method": FeeMethod.FLAT, "access_flat_fee": "7.00"}, "at most $6.50"),
        ({"access_fee_method": FeeMethod.FLAT, "access_flat_fee": "0"}, "Enter the flat fee"),
        ({"access_fee_method": FeeMethod.AVERAGE, "access_per_page": "0"}, "needs a cost per page"),
        (
            {"access_fee_method": FeeMethod.AVERAGE, "access_per_page": "0.10", "access_average_electronic": "0"},
            "needs an amount per electronic copy too: a per-page amount is for paper copies only",
        ),
        ({"access_average_electronic": "-5"}, "greater than or equal to 0"),
        (
            {"access_supplies": "0", "access_labour_per_page": "0", "access_labour_electronic": "0"},
            "needs labour or supplies",
        ),
        ({"postage": "-1"}, "greater than or equal to 0"),
        ({"retrieval_overdue_days": "0"}, "Between 1 and 90"),
        ({"download_link_days": "400"}, "Between 1 and 90"),
        ({"download_link_max_uses": "0"}, "Between 1 and 20"),
    ],
)
def test_invalid_settings_are_refused_and_keep_the_input(client_for, ada, tenant_a, changes, message):
    response = client_for(ada).post(reverse("fulfillment:settings"), {**SETTINGS, **changes})
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert "Checks payable to Alpha General Hospital." in page
    assert not FulfillmentPolicy.objects.filter(tenant=tenant_a, require_prepayment_third_party=True).exists()


# --- Fee rule table (staff, read-only) ------------------------------------------------------------------------


def test_the_fee_rule_table_shows_the_rules_and_flags_unverified_ones(client_for, alice, tenant_a):
    response = client_for(alice).get(reverse("fulfillment:fee-rules"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "45 CFR 164.524(c)(4)" in page
    assert "Cal. Health &amp; Safety Code 123110" in page
    assert "Unverified example" in page
    assert "Verified" in page
    assert "Tex. Health &amp; Safety Code 241.154" in page  # other states, folded away
    assert "$30.00 retrieval and processing" in page
    assert "Right of access: the patient&#x27;s own copy (patient or personal representative)" in page
    assert "Right of access: a patient&#x27;s directive sending a copy to a third party" in page
    assert "no per-page fee on an electronic copy" in page
    assert client_for(alice).post(reverse("fulfillment:fee-rules")).status_code == 405  # read-only
