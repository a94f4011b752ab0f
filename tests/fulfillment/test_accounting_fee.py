"""The accounting's fee (45 CFR 164.528(c)(2)): the first accounting in any twelve months is free; a later one may
carry the organisation's cost-based fee, invoiced only after the fee estimate told the requestor in advance."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from fulfillment import fees, invoices
from fulfillment.choices import InvoiceKind
from fulfillment.models import Invoice
from fulfillment.policy import policy_for
from roi.errors import ServiceError
from tests import factories
from workflow.choices import DeliveryMethod, RequestorKind, RequestState, RequestType

pytestmark = pytest.mark.usefixtures("media")


def _accounting(tenant, patient, received_days_ago: int, **fields):
    return factories.RecordRequestFactory(
        tenant=tenant,
        patient=patient,
        request_type=RequestType.ACCOUNTING,
        requestor__kind=RequestorKind.PATIENT,
        received_at=timezone.now() - timedelta(days=received_days_ago),
        delivery_method=DeliveryMethod.MAIL,
        **fields,
    )


def _quote(rr):
    return fees.fee_quote(tenant=rr.tenant, record_request=rr, pages=0, delivery_method=DeliveryMethod.MAIL)


@pytest.fixture
def charged(tenant_a):
    policy = policy_for(tenant_a)
    policy.accounting_fee_cents = 1500
    policy.save()
    return policy


def test_164_528_c_2_the_first_accounting_in_twelve_months_is_free(tenant_a, charged):
    patient = factories.PatientFactory(tenant=tenant_a)
    factories.RecordRequestFactory(tenant=tenant_a, patient=patient, request_type=RequestType.RIGHT_OF_ACCESS)
    first = _quote(_accounting(tenant_a, patient, 3))
    assert (first.total_cents, first.basis) == (
        0,
        "The first accounting in twelve months is free (45 CFR 164.528(c)(2))",
    )


def test_164_528_c_2_a_second_within_twelve_months_is_charged_only_after_the_estimate(tenant_a, alice, charged):
    patient = factories.PatientFactory(tenant=tenant_a)
    earlier = _accounting(tenant_a, patient, 200, state=RequestState.DELIVERED)
    second = _accounting(tenant_a, patient, 2, state=RequestState.VALIDATED)
    quote = _quote(second)
    assert quote.total_cents == 1500
    assert earlier.tracking_number in quote.basis
    assert "withdraw or modify" in quote.basis

    with pytest.raises(ServiceError, match="issue the fee estimate first"):
        invoices.invoice_issue(tenant=tenant_a, actor=alice, record_request=second, kind=InvoiceKind.INVOICE, pages=0)
    assert not Invoice.objects.filter(request=second).exists()

    estimate = invoices.invoice_issue(
        tenant=tenant_a, actor=alice, record_request=second, kind=InvoiceKind.ESTIMATE, pages=0
    )
    assert estimate.total_cents == 1500
    invoice = invoices.invoice_issue(
        tenant=tenant_a, actor=alice, record_request=second, kind=InvoiceKind.INVOICE, pages=0
    )
    assert invoice.total_cents == 1500
    second.refresh_from_db()
    assert second.state == RequestState.VALIDATED  # the individual's own request is never held for payment


@pytest.mark.parametrize(
    ("days_ago", "state"),
    [(400, RequestState.DELIVERED), (100, RequestState.CANCELLED)],
    ids=["more-than-twelve-months-ago", "cancelled"],
)
def test_164_528_c_2_an_earlier_accounting_long_ago_or_cancelled_does_not_count(tenant_a, charged, days_ago, state):
    patient = factories.PatientFactory(tenant=tenant_a)
    _accounting(tenant_a, patient, days_ago, state=state)
    assert _quote(_accounting(tenant_a, patient, 1)).total_cents == 0


def test_a_second_accounting_is_free_where_the_organisation_sets_no_fee(tenant_a):
    patient = factories.PatientFactory(tenant=tenant_a)
    _accounting(tenant_a, patient, 30)
    quote = _quote(_accounting(tenant_a, patient, 1))
    assert quote.total_cents == 0
    assert "charges no fee" in quote.basis


def test_an_accounting_takes_no_fee_method(tenant_a):
    rr = _accounting(tenant_a, factories.PatientFactory(tenant=tenant_a), 1)
    with pytest.raises(ServiceError, match="its own fee rule"):
        fees.fee_quote(
            tenant=tenant_a, record_request=rr, pages=0, delivery_method=DeliveryMethod.MAIL, fee_method="flat"
        )
