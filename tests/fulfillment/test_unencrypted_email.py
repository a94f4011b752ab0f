"""Unencrypted email, the individual's choice (HHS access guidance on 45 CFR 164.524(c)(2)-(3)): offered only for the
individual's own copy, and released only once staff explained the risk and recorded the choice, with who explained
it. The release gate enforces it; the delivery form cannot skip it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from fulfillment import delivery, fees, gate, qc
from fulfillment.choices import ReleaseAction
from roi.errors import ServiceError
from tests import factories
from tests.fulfillment.helpers import packet, pass_qc
from workflow.choices import DeliveryMethod, RequestorKind, RequestState, RequestType

pytestmark = pytest.mark.usefixtures("media")

EMAIL = "rosa.diaz@example.com"


def _own_copy(request_in_state, alice, **fields):
    values = {
        "request_type": RequestType.RIGHT_OF_ACCESS,
        "requestor__kind": RequestorKind.PATIENT,
        "delivery_method": DeliveryMethod.UNENCRYPTED_EMAIL,
        "delivery_destination": EMAIL,
        "assignee": alice,
        **fields,
    }
    rr = request_in_state(RequestState.IN_FULFILLMENT, **values)
    factories.complete_review(rr)
    return rr


def _codes(rr) -> set[str]:
    current = qc.current_packet(tenant=rr.tenant, record_request=rr)
    verdict = gate.release_verdict(tenant=rr.tenant, record_request=rr, packet=current, action=ReleaseAction.DELIVER)
    return {r.code for r in verdict.refusals}


def _send(rr, actor):
    evidence = delivery.Evidence(method=DeliveryMethod.UNENCRYPTED_EMAIL, destination=EMAIL)
    return delivery.delivery_record(tenant=rr.tenant, actor=actor, record_request=rr, evidence=evidence)


def test_unencrypted_email_leaves_only_after_the_individual_chose_it_told_the_risk(request_in_state, alice, sam):
    rr = _own_copy(request_in_state, alice)
    packet(rr, builder=alice)
    pass_qc(rr, reviewer=sam)
    assert _codes(rr) == {"UNENCRYPTED_EMAIL_NOT_CHOSEN"}
    with pytest.raises(ServiceError):
        _send(rr, alice)
    rr.refresh_from_db()
    assert rr.state == RequestState.IN_FULFILLMENT

    chosen = delivery.unencrypted_email_choice_record(tenant=rr.tenant, actor=alice, record_request=rr, how="phone")
    assert (chosen.unencrypted_email_accepted_how, chosen.unencrypted_email_explained_by) == ("phone", alice)
    assert chosen.history.first().history_user == alice
    rr.refresh_from_db()
    assert _codes(rr) == set()
    sent = _send(rr, alice)
    assert sent.delivery.evidence.startswith(f"Emailed without encryption to {EMAIL}, the individual's choice")
    rr.refresh_from_db()
    assert rr.state == RequestState.DELIVERED


def test_a_third_party_never_gets_unencrypted_email(request_in_state, alice, sam):
    rr = _own_copy(
        request_in_state, alice, request_type=RequestType.AUTHORIZATION, requestor__kind=RequestorKind.ATTORNEY
    )
    packet(rr, builder=alice)
    assert "UNENCRYPTED_EMAIL_NOT_THE_INDIVIDUAL" in _codes(rr)
    with pytest.raises(ServiceError, match="Only the individual may choose unencrypted email"):
        delivery.unencrypted_email_choice_record(tenant=rr.tenant, actor=alice, record_request=rr, how="phone")
    rr.refresh_from_db()
    assert rr.unencrypted_email_accepted_at is None


@pytest.mark.parametrize(
    ("fields", "how", "message"),
    [
        ({}, "carrier pigeon", "Say how the individual made the choice"),
        ({"delivery_method": DeliveryMethod.EMAIL_LINK}, "phone", "is not unencrypted email"),
    ],
)
def test_a_choice_that_cannot_be_recorded_is_refused(request_in_state, alice, fields, how, message):
    rr = _own_copy(request_in_state, alice, **fields)
    with pytest.raises(ServiceError, match=message):
        delivery.unencrypted_email_choice_record(tenant=rr.tenant, actor=alice, record_request=rr, how=how)


def test_the_request_page_shows_the_warning_and_records_the_choice(request_in_state, alice, client_for):
    rr = _own_copy(request_in_state, alice)
    client = client_for(alice)
    page = client.get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()
    assert "Ordinary email is not encrypted" in page
    url = reverse("fulfillment:unencrypted-email-choice", args=[rr.tracking_number])
    unconfirmed = client.post(url, {"how": "phone"})
    assert unconfirmed.status_code == 400
    assert "Confirm that you explained the risk" in unconfirmed.content.decode()
    assert client.post(url, {"how": "in_writing", "explained": "1"}).status_code == 302
    page = client.get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()
    assert "Chosen after the warning in writing" in page


def test_an_unencrypted_email_copy_is_an_electronic_copy_with_no_per_page_fee(request_in_state, alice):
    rr = _own_copy(request_in_state, alice)
    quote = fees.fee_quote(
        tenant=rr.tenant, record_request=rr, pages=250, delivery_method=DeliveryMethod.UNENCRYPTED_EMAIL
    )
    assert all("page" not in line["description"].lower() for line in quote.lines)
