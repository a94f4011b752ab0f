"""Estimates and invoices: issuing (numbers, pages, the fee method, PDF), payment, waiver, void, and the prepayment
hold on third-party releases (never on a patient's own request, nor on a patient's directive)."""

from __future__ import annotations

import subprocess
from datetime import timedelta

import pytest
from django.db import transaction

from exceptions.models import ExceptionEpisode
from fulfillment import fees, invoices
from fulfillment.choices import FeeMethod, InvoiceKind, InvoiceStatus, PaymentMethod
from fulfillment.models import Invoice
from fulfillment.policy import policy_for
from roi.errors import Conflict, NotPermitted, ServiceError
from tests import factories
from tests.concurrency import run_at_once
from tests.fulfillment.factories import ReleasePacketFactory
from tests.fulfillment.pdfs import pdf_texts
from workflow.choices import DeliveryMethod, RequestorKind, RequestState, RequestType


@pytest.fixture
def prepayment(tenant_a):
    policy = policy_for(tenant_a)
    policy.require_prepayment_third_party = True
    policy.save()
    return policy


def _issue(tenant, actor, rr, kind=InvoiceKind.INVOICE, pages=100, **kwargs):
    return invoices.invoice_issue(tenant=tenant, actor=actor, record_request=rr, kind=kind, pages=pages, **kwargs)


def _today(tenant):
    return invoices.tenant_today(tenant)


# --- Issuing ------------------------------------------------------------------------------------------------


def test_an_estimate_is_numbered_priced_and_printed(tenant_a, alice, media):
    # The requestor's name is fixed: a generated one can carry the patient's surname ("Lopez") onto the estimate.
    rr = factories.RecordRequestFactory(
        tenant=tenant_a, patient__first_name="Maria", patient__last_name="Lopez", requestor__name="Dana Whitfield"
    )
    estimate = _issue(tenant_a, alice, rr, kind=InvoiceKind.ESTIMATE, pages=100)
    assert estimate.number == "EST-000001"
    assert estimate.total_cents == 2500  # CA example schedule, $0.25 a page
    assert estimate.status == InvoiceStatus.ISSUED
    assert "123110" in estimate.basis
    assert estimate.issued_by == alice
    text = " ".join(pdf_texts(invoices.invoice_open(estimate)))
    assert "$25.00" in text
    assert rr.tracking_number in text
    assert "EST-000001" in text
    assert "M. L." in text
    assert "Lopez" not in text  # initials only
    assert "Maria" not in text


def test_the_pdf_of_a_right_of_access_invoice_says_records_are_not_withheld(tenant_a, alice, media, tmp_path):
    rr = factories.RecordRequestFactory(
        tenant=tenant_a, request_type=RequestType.RIGHT_OF_ACCESS, requestor__kind=RequestorKind.PATIENT
    )
    invoice = _issue(tenant_a, alice, rr)
    content = invoices.invoice_open(invoice)
    text = " ".join(pdf_texts(content)).replace("\n", " ")
    assert "$6.50" in text
    assert "not withhold" in text
    assert "How to pay" in text
    assert rr.tracking_number in text
    # Render the first page to an image as a reviewer would look at it.
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(content)
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")], check=True)
    assert (tmp_path / "page-1.png").stat().st_size > 1000


def _policy(tenant, **amounts):
    policy = policy_for(tenant)
    for name, value in amounts.items():
        setattr(policy, name, value)
    policy.save()
    return policy


def _access_request(tenant, requestor=RequestorKind.PATIENT, **fields):
    """A right-of-access request for an electronic copy: the patient's own, or a directive when the requestor is
    someone else."""
    fields.setdefault("delivery_method", DeliveryMethod.EMAIL_LINK)
    return factories.RecordRequestFactory(
        tenant=tenant, request_type=RequestType.RIGHT_OF_ACCESS, requestor__kind=requestor, **fields
    )


def test_the_estimate_pdf_says_which_method(tenant_a, alice, media):
    _policy(tenant_a, access_labour_cents_electronic=1500, access_supplies_cents=0, access_labour_cents_per_page=40)
    rr = _access_request(tenant_a)
    estimate = _issue(tenant_a, alice, rr, kind=InvoiceKind.ESTIMATE, pages=300, fee_method=FeeMethod.ACTUAL)
    assert estimate.fee_method == FeeMethod.ACTUAL
    assert estimate.total_cents == 1500  # labour per request: 300 pages cost what 3 would
    text = " ".join(pdf_texts(invoices.invoice_open(estimate))).replace("\n", " ")
    assert "Fee method Actual cost (labour, supplies, postage)" in text
    assert "Delivery Email with secure link" in text
    assert "Labour to prepare the electronic copy (per request)" in text
    assert "per request (not per page)" in text
    assert "45 CFR 164.524(c)(4); HHS access guidance" in text
    assert "$15.00" in text
    assert "not withhold" in text


def test_without_a_method_offered_the_invoice_follows_and_keeps_the_tenants(tenant_a, alice, media):
    _policy(tenant_a, access_fee_method=FeeMethod.AVERAGE, access_average_cents_electronic=800)
    invoice = _issue(tenant_a, alice, _access_request(tenant_a), pages=75)
    assert (invoice.fee_method, invoice.total_cents) == (FeeMethod.AVERAGE, 800)
    assert "standard average cost of an electronic copy" in invoice.basis
    text = " ".join(pdf_texts(invoices.invoice_open(invoice))).replace("\n", " ")
    assert "Fee method Average cost" in text


@pytest.mark.parametrize(
    ("requestor", "fee_method", "message"),
    [
        (RequestorKind.PATIENT, "cheapest", "Choose the fee method from the list"),
        (RequestorKind.ATTORNEY, FeeMethod.FLAT, "only to the patient's own copy"),
    ],
    ids=["unknown", "directive"],
)
def test_a_bad_fee_method_is_refused_and_nothing_is_issued(tenant_a, alice, media, requestor, fee_method, message):
    rr = _access_request(tenant_a, requestor)
    with pytest.raises(ServiceError, match=message) as error:
        _issue(tenant_a, alice, rr, fee_method=fee_method)
    assert error.value.field == "fee_method"
    assert not Invoice.objects.exists()
    assert invoices.next_invoice_number(tenant=tenant_a, kind=InvoiceKind.INVOICE) == "INV-000001"


def test_164_524_c_4_the_individuals_copy_needs_a_delivery_method_to_be_priced(tenant_a, alice, media):
    rr = _access_request(tenant_a, delivery_method="")
    with pytest.raises(ServiceError, match="never priced per page") as error:
        _issue(tenant_a, alice, rr, kind=InvoiceKind.ESTIMATE)
    assert error.value.field == "delivery_method"
    estimate = _issue(tenant_a, alice, rr, kind=InvoiceKind.ESTIMATE, delivery_method=DeliveryMethod.PORTAL_DOWNLOAD)
    assert estimate.delivery_method == DeliveryMethod.PORTAL_DOWNLOAD


def test_ciox_v_azar_a_directives_invoice_follows_the_state_schedule_without_the_patients_statement(
    tenant_a, alice, media
):
    rr = _access_request(tenant_a, RequestorKind.ATTORNEY)
    invoice = _issue(tenant_a, alice, rr, pages=100)
    assert (invoice.total_cents, invoice.fee_method) == (2500, "")
    assert invoice.fee_rule.request_types == [RequestType.RIGHT_OF_ACCESS]
    text = " ".join(pdf_texts(invoices.invoice_open(invoice))).replace("\n", " ")
    assert "$25.00" in text
    assert "Ciox v. Azar" in text
    assert "not withhold" not in text  # addressed to the recipient, whose records they are not
    assert "Fee method" not in text


def test_a_third_party_invoice_does_not_carry_the_access_statement(tenant_a, alice, media):
    invoice = _issue(tenant_a, alice, factories.RecordRequestFactory(tenant=tenant_a))
    assert "not withhold" not in " ".join(pdf_texts(invoices.invoice_open(invoice)))


def test_the_release_packet_page_count_wins_over_the_one_entered(tenant_a, alice, media):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    ReleasePacketFactory(request=rr, record_pages=12, version=1)
    invoice = _issue(tenant_a, alice, rr, pages=999)
    assert invoice.pages == 12
    assert invoice.total_cents == 300


def test_a_superseded_packet_does_not_count(tenant_a, alice, media):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    ReleasePacketFactory(request=rr, record_pages=12, version=1, superseded_at=invoices.clock.now())
    ReleasePacketFactory(request=rr, record_pages=8, version=2)
    assert fees.release_pages(tenant=tenant_a, record_request=rr) == 8


def test_without_a_packet_the_page_count_is_required(tenant_a, alice, media):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    with pytest.raises(ServiceError) as error:
        _issue(tenant_a, alice, rr, pages=None)
    assert error.value.field == "pages"
    assert not Invoice.objects.exists()


def test_one_invoice_in_force_per_request_and_a_corrected_one_after_void(tenant_a, alice, sam, media):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    first = _issue(tenant_a, alice, rr)
    with pytest.raises(ServiceError, match="void it first"):
        _issue(tenant_a, alice, rr, pages=50)
    invoices.invoice_void(tenant=tenant_a, actor=sam, invoice=first, reason="wrong page count")
    second = _issue(tenant_a, alice, rr, pages=50)
    assert (first.number, second.number) == ("INV-000001", "INV-000002")
    first.refresh_from_db()
    assert first.status == InvoiceStatus.VOID
    assert first.void_reason == "wrong page count"
    assert Invoice.objects.filter(request=rr).count() == 2  # nothing deleted


def test_nothing_to_invoice_when_no_fee_applies(tenant_a, alice, media):
    rr = factories.RecordRequestFactory(tenant=tenant_a, request_type=RequestType.CONTINUITY_OF_CARE)
    with pytest.raises(ServiceError, match="Nothing to invoice"):
        _issue(tenant_a, alice, rr)
    estimate = _issue(tenant_a, alice, rr, kind=InvoiceKind.ESTIMATE)
    assert estimate.total_cents == 0


def test_cancelled_requests_get_no_invoice(request_in_state, tenant_a, alice, media):
    rr = request_in_state(RequestState.CANCELLED)
    with pytest.raises(ServiceError, match="cancelled"):
        _issue(tenant_a, alice, rr)


def test_another_tenants_request_cannot_be_invoiced(tenant_a, tenant_b, alice, media):
    rr_b = factories.RecordRequestFactory(tenant=tenant_b)
    with pytest.raises(ServiceError):
        _issue(tenant_a, alice, rr_b)
    assert not Invoice.objects.exists()


def test_numbers_are_per_tenant_and_per_kind(tenant_a, tenant_b, alice, charlie, media):
    a1 = _issue(tenant_a, alice, factories.RecordRequestFactory(tenant=tenant_a))
    b1 = _issue(tenant_b, charlie, factories.RecordRequestFactory(tenant=tenant_b))
    e1 = _issue(tenant_a, alice, factories.RecordRequestFactory(tenant=tenant_a), kind=InvoiceKind.ESTIMATE)
    a2 = _issue(tenant_a, alice, factories.RecordRequestFactory(tenant=tenant_a))
    assert [a1.number, b1.number, e1.number, a2.number] == ["INV-000001", "INV-000001", "EST-000001", "INV-000002"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_issuers_never_share_a_number():
    tenant = factories.TenantFactory(slug="busy")
    workers = 8

    def issue() -> str:
        with transaction.atomic():
            return invoices.next_invoice_number(tenant=tenant, kind=InvoiceKind.INVOICE)

    race = run_at_once(issue, n=workers)
    assert not race.errors
    assert sorted(race.results) == [f"INV-{n:06d}" for n in range(1, workers + 1)]


def test_a_rolled_back_issue_gives_its_number_back(tenant_a, alice, media):
    def issue_then_fail() -> None:
        with transaction.atomic():
            invoices.next_invoice_number(tenant=tenant_a, kind=InvoiceKind.INVOICE)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        issue_then_fail()
    assert invoices.next_invoice_number(tenant=tenant_a, kind=InvoiceKind.INVOICE) == "INV-000001"


# --- Payment, waiver, void ----------------------------------------------------------------------------------


def test_recording_payment(tenant_a, alice, media):
    invoice = _issue(tenant_a, alice, factories.RecordRequestFactory(tenant=tenant_a))
    paid = invoices.invoice_record_payment(
        tenant=tenant_a,
        actor=alice,
        invoice=invoice,
        method=PaymentMethod.CHECK,
        reference="1042",
        paid_on=_today(tenant_a),
    )
    assert paid.status == InvoiceStatus.PAID
    assert (paid.payment_method, paid.payment_reference, paid.paid_on) == ("check", "1042", _today(tenant_a))
    assert paid.history.first().history_user == alice
    with pytest.raises(Conflict, match="already paid"):
        invoices.invoice_record_payment(
            tenant=tenant_a, actor=alice, invoice=invoice, method="cash", reference="", paid_on=_today(tenant_a)
        )


@pytest.mark.parametrize(
    ("method", "reference", "days_ahead", "field"),
    [("check", "", 0, "reference"), ("cheque", "1", 0, "method"), ("cash", "", 2, "paid_on")],
)
def test_payment_input_is_checked(tenant_a, alice, media, method, reference, days_ahead, field):
    invoice = _issue(tenant_a, alice, factories.RecordRequestFactory(tenant=tenant_a))
    with pytest.raises(ServiceError) as error:
        invoices.invoice_record_payment(
            tenant=tenant_a,
            actor=alice,
            invoice=invoice,
            method=method,
            reference=reference,
            paid_on=_today(tenant_a) + timedelta(days=days_ahead),
        )
    assert error.value.field == field
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.ISSUED


def test_an_estimate_is_not_paid_or_waived(tenant_a, alice, sam, media):
    estimate = _issue(tenant_a, alice, factories.RecordRequestFactory(tenant=tenant_a), kind=InvoiceKind.ESTIMATE)
    with pytest.raises(ServiceError, match="estimate"):
        invoices.invoice_record_payment(
            tenant=tenant_a, actor=alice, invoice=estimate, method="cash", reference="", paid_on=_today(tenant_a)
        )
    with pytest.raises(ServiceError, match="estimate"):
        invoices.invoice_waive(tenant=tenant_a, actor=sam, invoice=estimate, reason="x")


def test_waiver_and_void_need_a_reason_and_a_supervisor(tenant_a, alice, sam, media):
    invoice = _issue(tenant_a, alice, factories.RecordRequestFactory(tenant=tenant_a))
    with pytest.raises(NotPermitted):
        invoices.invoice_waive(tenant=tenant_a, actor=alice, invoice=invoice, reason="hardship")
    with pytest.raises(NotPermitted):
        invoices.invoice_void(tenant=tenant_a, actor=alice, invoice=invoice, reason="typo")
    with pytest.raises(ServiceError, match="why"):
        invoices.invoice_waive(tenant=tenant_a, actor=sam, invoice=invoice, reason="  ")
    waived = invoices.invoice_waive(tenant=tenant_a, actor=sam, invoice=invoice, reason="financial hardship")
    assert waived.status == InvoiceStatus.WAIVED
    assert waived.waived_reason == "financial hardship"
    with pytest.raises(Conflict):
        invoices.invoice_void(tenant=tenant_a, actor=sam, invoice=invoice, reason="late")


# --- Prepayment: "payment pending" on third-party releases -------------------------------------------------------


def _episode(rr):
    return ExceptionEpisode.objects.filter(request=rr).order_by("-id").first()


def test_an_unpaid_third_party_invoice_holds_the_release_until_paid(
    request_in_state, tenant_a, alice, prepayment, media
):
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    invoice = _issue(tenant_a, alice, rr)
    rr.refresh_from_db()
    assert rr.state == RequestState.EXCEPTION
    assert rr.exception_reason == "payment_pending"
    episode = _episode(rr)
    assert episode.is_open
    assert invoice.number in episode.detail
    assert "Record the payment" in episode.next_step
    problem = invoices.release_fee_problem(tenant=tenant_a, record_request=rr)
    assert invoice.number in problem
    assert "record the payment" in problem

    invoices.invoice_record_payment(
        tenant=tenant_a, actor=alice, invoice=invoice, method="card", reference="AUTH-7", paid_on=_today(tenant_a)
    )
    rr.refresh_from_db()
    assert rr.state == RequestState.IN_FULFILLMENT
    episode.refresh_from_db()
    assert not episode.is_open
    assert invoice.number in episode.resolution
    assert invoices.release_fee_problem(tenant=tenant_a, record_request=rr) is None


@pytest.mark.parametrize("ending", ["waive", "void"])
def test_a_waiver_or_void_also_ends_the_payment_wait(request_in_state, tenant_a, alice, sam, prepayment, media, ending):
    rr = request_in_state(RequestState.VALIDATED)
    invoice = _issue(tenant_a, alice, rr)
    action = invoices.invoice_waive if ending == "waive" else invoices.invoice_void
    action(tenant=tenant_a, actor=sam, invoice=invoice, reason="agreed with the requestor")
    rr.refresh_from_db()
    assert rr.state == RequestState.VALIDATED
    assert not _episode(rr).is_open
    assert invoices.release_fee_problem(tenant=tenant_a, record_request=rr) is None


def test_right_of_access_is_never_held(request_in_state, tenant_a, alice, prepayment, media):
    rr = request_in_state(
        RequestState.IN_FULFILLMENT, request_type=RequestType.RIGHT_OF_ACCESS, requestor__kind=RequestorKind.PATIENT
    )
    invoice = _issue(tenant_a, alice, rr, delivery_method=DeliveryMethod.MAIL)
    assert invoice.status == InvoiceStatus.ISSUED
    rr.refresh_from_db()
    assert rr.state == RequestState.IN_FULFILLMENT
    assert _episode(rr) is None
    assert invoices.release_fee_problem(tenant=tenant_a, record_request=rr) is None


def test_164_524_c_3_ii_a_patients_directive_is_not_held_for_payment_either(
    request_in_state, tenant_a, alice, prepayment, media
):
    """The directive's fee is the recipient's (Ciox v. Azar), the directive itself still the patient's right, on the
    same clock: invoiced, never held (invoices.exempt_from_prepayment)."""
    rr = request_in_state(
        RequestState.IN_FULFILLMENT, request_type=RequestType.RIGHT_OF_ACCESS, requestor__kind=RequestorKind.INSURER
    )
    invoice = _issue(tenant_a, alice, rr, pages=100)
    assert invoice.total_cents == 2500
    rr.refresh_from_db()
    assert rr.state == RequestState.IN_FULFILLMENT
    assert _episode(rr) is None
    assert invoices.release_fee_problem(tenant=tenant_a, record_request=rr) is None
    assert "We send the records when we receive the payment" not in " ".join(pdf_texts(invoices.invoice_open(invoice)))


def test_right_of_access_is_never_held_even_by_an_unpaid_invoice_row(tenant_a, prepayment):
    """Whatever rows exist, the check answers None for a right-of-access request (164.524): here a directive (the
    factory's requestor is an attorney)."""
    rr = factories.RecordRequestFactory(tenant=tenant_a, request_type=RequestType.RIGHT_OF_ACCESS)
    Invoice.objects.create(
        tenant=tenant_a,
        request=rr,
        kind="invoice",
        number="INV-9",
        total_cents=650,
        basis="x",
        issued_at=rr.received_at,
    )
    assert invoices.release_fee_problem(tenant=tenant_a, record_request=rr) is None


def test_no_hold_without_the_prepayment_setting(request_in_state, tenant_a, alice, media):
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    _issue(tenant_a, alice, rr)
    rr.refresh_from_db()
    assert rr.state == RequestState.IN_FULFILLMENT
    assert invoices.release_fee_problem(tenant=tenant_a, record_request=rr) is None


def test_no_hold_when_nothing_is_owed(request_in_state, tenant_a, alice, prepayment, media):
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    assert invoices.release_fee_problem(tenant=tenant_a, record_request=rr) is None
    _issue(tenant_a, alice, rr, kind=InvoiceKind.ESTIMATE)
    assert invoices.release_fee_problem(tenant=tenant_a, record_request=rr) is None


def test_a_request_already_in_exception_stays_held_by_the_fee_check(
    request_in_state, tenant_a, alice, prepayment, media
):
    rr = request_in_state(RequestState.EXCEPTION)
    invoice = _issue(tenant_a, alice, rr)
    rr.refresh_from_db()
    assert rr.exception_reason == "awaiting_department"  # the open episode is not replaced
    assert invoice.number in invoices.release_fee_problem(tenant=tenant_a, record_request=rr)
    invoices.invoice_record_payment(
        tenant=tenant_a, actor=alice, invoice=invoice, method="cash", reference="", paid_on=_today(tenant_a)
    )
    rr.refresh_from_db()
    assert rr.state == RequestState.EXCEPTION  # paying does not resolve someone else's exception
    assert invoices.release_fee_problem(tenant=tenant_a, record_request=rr) is None
