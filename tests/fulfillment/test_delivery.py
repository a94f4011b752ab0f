"""Delivery of the QC-passed packet: each method's evidence, the transition it performs, the link email, resends and
their rules, revoking and reissuing links, and the pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from fulfillment import delivery as service
from fulfillment import links
from fulfillment.choices import ResendReason
from fulfillment.models import Delivery, DownloadLink
from roi import clock
from roi.errors import ServiceError
from roi.models import Notification
from tests import factories
from tests.fulfillment.helpers import authorization_on_file, document, packet, pass_qc
from workflow.choices import DeliveryMethod, RequestState
from workflow.models import RequestTransition

S = RequestState
E = service.Evidence

pytestmark = pytest.mark.usefixtures("media")

FAX = "(312) 555-0199"
ADDRESS = "100 Main Street, Springfield IL 62701"
EMAIL = "records@lawfirm.example.com"

METHODS = {
    DeliveryMethod.FAX: ({"delivery_destination": FAX}, {"destination": FAX, "fax_confirmation": "JOB 4471 OK"}),
    DeliveryMethod.MAIL: (
        {"delivery_destination": ADDRESS},
        {"destination": ADDRESS, "mail_tracking_number": "9400 1000 0000 0000 0001"},
    ),
    DeliveryMethod.EMAIL_LINK: ({"delivery_destination": EMAIL}, {"destination": EMAIL}),
    DeliveryMethod.PORTAL_DOWNLOAD: ({"delivery_destination": EMAIL}, {"destination": EMAIL}),
    DeliveryMethod.PICKUP: (
        {"delivery_destination": ""},
        {"destination": "Rosa Diaz", "pickup_id_description": "Illinois driver's license"},
    ),
}


@pytest.fixture
def ready(request_in_state, alice, sam):
    """A request in fulfillment whose packet (built by Alice) passed QC (by Sam), delivered by `method`."""

    def make(method: str = DeliveryMethod.FAX):
        rr = request_in_state(S.IN_FULFILLMENT, delivery_method=method, **METHODS[method][0])
        authorization_on_file(rr)
        packet(rr, builder=alice)
        pass_qc(rr, reviewer=sam)
        return rr

    return make


def _evidence(method: str, sam, **changes) -> service.Evidence:
    fields = dict(METHODS[method][1])
    if method == DeliveryMethod.PICKUP:
        fields["pickup_id_checked_by"] = sam
    fields.update(changes)
    return E(method=method, **fields)


def _deliver(rr, actor, evidence):
    return service.delivery_record(tenant=rr.tenant, actor=actor, record_request=rr, evidence=evidence)


# --- Evidence per method -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "changes", "field"),
    [
        (DeliveryMethod.FAX, {"fax_confirmation": " "}, "fax_confirmation"),
        (DeliveryMethod.FAX, {"destination": "555-0199"}, "destination"),
        (DeliveryMethod.MAIL, {"mail_tracking_number": ""}, "mail_tracking_number"),
        (DeliveryMethod.MAIL, {"destination": "Springfield"}, "destination"),
        (DeliveryMethod.EMAIL_LINK, {"destination": "not an address"}, "destination"),
        (DeliveryMethod.PORTAL_DOWNLOAD, {"destination": ""}, "destination"),
        (DeliveryMethod.PICKUP, {"pickup_id_checked_by": None}, "pickup_id_checked_by"),
        (DeliveryMethod.PICKUP, {"pickup_id_description": ""}, "pickup_id_description"),
        (DeliveryMethod.PICKUP, {"destination": ""}, "destination"),
    ],
)
def test_each_method_requires_its_evidence(ready, alice, sam, method, changes, field):
    rr = ready(method)
    with pytest.raises(ServiceError) as error:
        _deliver(rr, alice, _evidence(method, sam, **changes))
    assert error.value.field == field
    rr.refresh_from_db()
    assert rr.state == S.IN_FULFILLMENT
    assert not Delivery.objects.exists()


def test_the_id_checker_must_be_a_staff_member_of_the_tenant(ready, alice, sam, charlie):
    rr = ready(DeliveryMethod.PICKUP)
    with pytest.raises(ServiceError) as error:
        _deliver(rr, alice, _evidence(DeliveryMethod.PICKUP, sam, pickup_id_checked_by=charlie))
    assert error.value.field == "pickup_id_checked_by"


@pytest.mark.parametrize("method", list(METHODS))
def test_each_method_delivers_with_its_evidence_and_moves_the_request(ready, alice, sam, method):
    rr = ready(method)
    result = _deliver(rr, alice, _evidence(method, sam))
    delivery = result.delivery
    rr.refresh_from_db()
    assert rr.state == S.DELIVERED
    assert rr.delivery_evidence == delivery.evidence
    assert rr.delivered_at is not None
    assert delivery.packet == rr.packets.get()  # the one packet built and checked
    assert f"(packet v{delivery.packet.version})" in delivery.evidence
    assert delivery.method == method
    assert delivery.delivered_by == alice
    log = RequestTransition.objects.get(request=rr, transition="deliver")
    assert log.reason == delivery.evidence
    assert log.actor == alice
    assert delivery.history.first().history_user == alice
    if method == DeliveryMethod.FAX:
        assert delivery.fax_confirmation == "JOB 4471 OK"
        assert "confirmation JOB 4471 OK" in delivery.evidence
    if method == DeliveryMethod.MAIL:
        assert "tracking 9400" in delivery.evidence
    if method == DeliveryMethod.PICKUP:
        assert delivery.pickup_id_checked_by == sam
        assert f"Illinois driver's license checked by {sam}" in delivery.evidence
    if method in links.LINK_METHODS:
        link = result.link
        assert link.delivery == delivery
        assert link.token_digest == links.token_digest(result.token)
        assert link.max_uses == 3
        assert link.expires_at - link.created_at == timedelta(days=14)
        assert not DownloadLink.objects.filter(token_digest=result.token).exists()
    else:
        assert result.link is None


def test_delivery_needs_the_current_packet_to_have_passed_qc(request_in_state, alice, sam):
    rr = request_in_state(S.IN_FULFILLMENT, delivery_destination=FAX)
    authorization_on_file(rr)
    packet(rr, builder=alice)
    with pytest.raises(ServiceError, match="not passed quality control"):
        _deliver(rr, alice, _evidence(DeliveryMethod.FAX, sam))
    pass_qc(rr, reviewer=sam)
    packet(rr, builder=alice)  # a new version after the pass: it has not been checked
    with pytest.raises(ServiceError, match="not passed quality control"):
        _deliver(rr, alice, _evidence(DeliveryMethod.FAX, sam))
    rr.refresh_from_db()
    assert rr.state == S.IN_FULFILLMENT


def test_delivery_goes_where_qc_checked_or_not_at_all(ready, alice, sam):
    rr = ready(DeliveryMethod.FAX)
    with pytest.raises(ServiceError) as error:
        _deliver(rr, alice, _evidence(DeliveryMethod.FAX, sam, destination="(773) 555-0100"))
    assert error.value.field == "destination"
    with pytest.raises(ServiceError) as error:
        _deliver(rr, alice, _evidence(DeliveryMethod.MAIL, sam))
    assert error.value.field == "method"
    # The same number written another way is the same destination.
    assert _deliver(rr, alice, _evidence(DeliveryMethod.FAX, sam, destination="312.555.0199")).delivery


def test_delivery_calls_the_disclosures_part_in_its_transaction(ready, alice, sam, monkeypatch):
    seen = []
    monkeypatch.setattr("fulfillment.disclosures.disclosure_for_delivery", lambda **kw: seen.append(kw["delivery"].pk))
    rr = ready()
    result = _deliver(rr, alice, _evidence(DeliveryMethod.FAX, sam))
    assert seen == [result.delivery.pk]


def test_the_link_email_carries_the_link_and_no_health_information(
    ready, alice, sam, django_capture_on_commit_callbacks
):
    rr = ready(DeliveryMethod.EMAIL_LINK)
    with django_capture_on_commit_callbacks(execute=True):
        result = _deliver(rr, alice, _evidence(DeliveryMethod.EMAIL_LINK, sam))
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [EMAIL]
    assert message.attachments == []
    assert result.url in message.body
    assert rr.tracking_number in message.subject
    patient = rr.patient
    for secret in (patient.first_name, patient.last_name, patient.mrn, str(patient.date_of_birth.year)):
        assert secret not in message.body
        assert secret not in message.subject
    assert rr.requestor.name not in message.body
    result.link.refresh_from_db()
    assert result.link.emailed_at is not None


def test_no_email_is_sent_when_the_delivery_rolls_back(ready, alice, sam, django_capture_on_commit_callbacks):
    rr = ready(DeliveryMethod.EMAIL_LINK)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ServiceError):
        service.delivery_record(
            tenant=rr.tenant,
            actor=alice,
            record_request=rr,
            evidence=_evidence(DeliveryMethod.EMAIL_LINK, sam),
            expected_state=S.VALIDATED,
        )
    assert mail.outbox == []
    assert not DownloadLink.objects.exists()


def _sent_notices(rr):
    return list(Notification.objects.filter(kind="requestor_sent", dedupe_key__startswith=f"requestor:{rr.pk}:"))


def test_a_fax_delivery_tells_the_requestor_once_without_phi(ready, alice, sam):
    rr = ready(DeliveryMethod.FAX)
    result = _deliver(rr, alice, _evidence(DeliveryMethod.FAX, sam))
    [notice] = _sent_notices(rr)
    assert notice.email_to == rr.requestor.email
    assert notice.dedupe_key.endswith(f"delivery-{result.delivery.pk}")
    assert "by fax" in notice.body
    assert "/status/link/" in notice.body
    patient = rr.patient
    for secret in (patient.first_name, patient.last_name, patient.mrn, str(patient.date_of_birth.year)):
        assert secret not in notice.body
        assert secret not in notice.subject
    # A retried job writing the same delivery's notice gets the same row.
    service._notify_sent(tenant=rr.tenant, record_request=rr, result=result)
    assert _sent_notices(rr) == [notice]


def test_a_download_delivery_says_to_open_the_status_page_verify_and_download(ready, alice, sam):
    rr = ready(DeliveryMethod.PORTAL_DOWNLOAD)
    result = _deliver(rr, alice, _evidence(DeliveryMethod.PORTAL_DOWNLOAD, sam))
    [notice] = _sent_notices(rr)
    assert notice.subject.startswith("Your records are ready")
    assert "Download your records" in notice.body
    assert "/status/link/" in notice.body
    assert result.token not in notice.body  # the outbox never holds a working download link


def test_a_resend_writes_no_second_sent_notice(delivered, alice, sam):
    rr, first = delivered
    _resend(rr, alice, first, ResendReason.NOT_RECEIVED, _evidence(DeliveryMethod.FAX, sam))
    assert len(_sent_notices(rr)) == 1


# --- Resends -------------------------------------------------------------------------------------------------


@pytest.fixture
def delivered(ready, alice, sam):
    rr = ready(DeliveryMethod.FAX)
    first = _deliver(rr, alice, _evidence(DeliveryMethod.FAX, sam)).delivery
    rr.refresh_from_db()
    return rr, first


def _resend(rr, actor, original, reason, evidence, note=""):
    return service.delivery_resend(
        tenant=rr.tenant, actor=actor, record_request=rr, original=original, reason=reason, evidence=evidence, note=note
    )


def test_a_resend_is_a_new_delivery_linked_to_the_original_with_its_reason(delivered, alice, sam):
    rr, first = delivered
    evidence = _evidence(DeliveryMethod.MAIL, sam)
    resent = _resend(rr, alice, first, "not_received", evidence, note="Fax line was down").delivery
    assert resent.resend_of == first
    assert resent.resend_reason == "not_received"
    assert resent.resend_note == "Fax line was down"
    assert resent.packet == first.packet
    assert resent.mail_tracking_number
    rr.refresh_from_db()
    assert rr.state == S.DELIVERED  # a resend is no transition
    again = _resend(rr, alice, resent, "unreadable", _evidence(DeliveryMethod.FAX, sam)).delivery
    assert again.resend_of == first  # a resend of a resend still points at the first delivery


def test_a_resend_needs_a_reason_and_its_evidence(delivered, alice, sam):
    rr, first = delivered
    with pytest.raises(ServiceError) as error:
        _resend(rr, alice, first, "", _evidence(DeliveryMethod.FAX, sam))
    assert error.value.field == "reason"
    with pytest.raises(ServiceError) as error:
        _resend(rr, alice, first, "unreadable", _evidence(DeliveryMethod.FAX, sam, fax_confirmation=""))
    assert error.value.field == "fax_confirmation"
    assert Delivery.objects.count() == 1


def test_only_delivered_or_closed_requests_are_resent(ready, alice, sam):
    rr = ready()
    with pytest.raises(ServiceError, match="Only a delivered or closed request"):
        _resend(rr, alice, Delivery(pk=0), "unreadable", _evidence(DeliveryMethod.FAX, sam))


def test_a_closed_request_can_be_resent(delivered, alice, sam):
    rr, first = delivered
    from workflow.transitions import request_close

    request_close(tenant=rr.tenant, actor=alice, record_request=rr)
    rr.refresh_from_db()
    assert _resend(rr, alice, first, "unreadable", _evidence(DeliveryMethod.FAX, sam)).delivery.resend_of == first


@pytest.mark.parametrize("reason", ["missing_records", "additional_records"])
def test_more_records_need_a_newer_qc_passed_packet(delivered, alice, sam, reason):
    rr, first = delivered
    with pytest.raises(ServiceError, match="build a new packet version"):
        _resend(rr, alice, first, reason, _evidence(DeliveryMethod.FAX, sam))
    document(rr), document(rr)  # the records found later; the new version holds them with the first ones
    from fulfillment.documents import documents_for

    newer = packet(rr, builder=alice, documents=list(documents_for(tenant=rr.tenant, record_request=rr)))
    with pytest.raises(ServiceError, match="build a new packet version"):
        _resend(rr, alice, first, reason, _evidence(DeliveryMethod.FAX, sam))  # built, but not QC-passed
    pass_qc(rr, reviewer=sam)
    resent = _resend(rr, alice, first, reason, _evidence(DeliveryMethod.FAX, sam)).delivery
    assert resent.packet == newer


def test_resend_counts_per_period_for_the_resend_rate(delivered, alice, sam, tenant_a):
    rr, first = delivered
    _resend(rr, alice, first, "unreadable", _evidence(DeliveryMethod.FAX, sam))
    _resend(rr, alice, first, "not_received", _evidence(DeliveryMethod.FAX, sam))
    now = clock.now()
    rows = service.delivery_counts_by_period(tenant=tenant_a, start=now - timedelta(days=40), end=now + timedelta(1))
    assert sum(r["deliveries"] for r in rows) == 1
    assert sum(r["resends"] for r in rows) == 2
    reasons: dict[str, int] = {}
    for row in rows:
        for reason, count in row["by_reason"].items():
            reasons[reason] = reasons.get(reason, 0) + count
    assert reasons == {"unreadable": 1, "not_received": 1}


# --- Links: revoke and reissue ---------------------------------------------------------------------------------


@pytest.fixture
def linked(ready, alice, sam):
    rr = ready(DeliveryMethod.PORTAL_DOWNLOAD)
    result = _deliver(rr, alice, _evidence(DeliveryMethod.PORTAL_DOWNLOAD, sam))
    rr.refresh_from_db()
    return rr, result


def test_staff_revoke_a_link_and_issue_a_new_one_that_replaces_the_others(client_for, linked, alice):
    rr, result = linked
    client = client_for(alice)
    response = client.post(reverse("fulfillment:link-revoke", args=[rr.tracking_number, result.link.pk]))
    assert response.status_code == 302
    result.link.refresh_from_db()
    assert result.link.revoked_at is not None
    assert Client().get(links.download_path(result.token)).status_code == 410

    response = client.post(reverse("fulfillment:link-reissue", args=[rr.tracking_number, result.delivery.pk]))
    # POST-redirect-GET: the page it redirects to shows the new link once; a refresh shows it no more.
    assert (response.status_code, response["Location"]) == (302, reverse("workflow:detail", args=[rr.tracking_number]))
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="issued-link"' not in client.get(response["Location"]).content.decode()
    new = DownloadLink.objects.exclude(pk=result.link.pk).get()
    assert new.issued_by == alice
    token = re.search(r"/download/([A-Za-z0-9_-]{40,})/", page).group(1)
    assert links.token_digest(token) == new.token_digest
    assert Client().get(links.download_path(token)).status_code == 200  # the portal's page, asking to verify


def test_links_are_issued_only_for_deliveries_by_link(delivered, alice):
    rr, first = delivered
    with pytest.raises(ServiceError, match="Only a delivery by download link"):
        service.download_link_reissue(tenant=rr.tenant, actor=alice, record_request=rr, delivery_id=first.pk)


def test_another_tenants_links_and_deliveries_answer_404(client_for, linked, charlie):
    rr, result = linked
    client = client_for(charlie)
    assert client.post(reverse("fulfillment:link-revoke", args=[rr.tracking_number, result.link.pk])).status_code == 404
    url = reverse("fulfillment:link-reissue", args=[rr.tracking_number, result.delivery.pk])
    assert client.post(url).status_code == 404
    result.link.refresh_from_db()
    assert result.link.revoked_at is None
    assert DownloadLink.objects.count() == 1


def test_a_link_of_another_request_is_not_reached_through_this_one(client_for, linked, alice, request_in_state):
    _, result = linked
    other = request_in_state(S.VALIDATED)
    response = client_for(alice).post(reverse("fulfillment:link-revoke", args=[other.tracking_number, result.link.pk]))
    assert response.status_code == 404


# --- Pages ------------------------------------------------------------------------------------------------------


def test_the_deliver_form_records_a_fax_delivery(client_for, ready, alice, sam):
    rr = ready(DeliveryMethod.FAX)
    client = client_for(alice)
    page = client.get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()
    assert reverse("fulfillment:deliver", args=[rr.tracking_number]) in page
    assert f'action="/requests/{rr.tracking_number}/do/deliver/"' not in page  # the panel owns `deliver`
    data = {"method": "fax", "destination": FAX, "fax_confirmation": "JOB 88412", "expected_state": S.IN_FULFILLMENT}
    response = client.post(reverse("fulfillment:deliver", args=[rr.tracking_number]), data)
    assert response.status_code == 302
    rr.refresh_from_db()
    assert rr.state == S.DELIVERED
    assert "JOB 88412" in rr.delivery_evidence


def test_a_deliver_form_missing_evidence_keeps_what_was_typed(client_for, ready, alice):
    rr = ready(DeliveryMethod.FAX)
    data = {"method": "fax", "destination": FAX, "fax_confirmation": "", "expected_state": S.IN_FULFILLMENT}
    response = client_for(alice).post(reverse("fulfillment:deliver", args=[rr.tracking_number]), data)
    assert response.status_code == 400
    page = response.content.decode()
    assert f'value="{FAX}"' in page
    assert "Give the fax transmission confirmation" in page
    rr.refresh_from_db()
    assert rr.state == S.IN_FULFILLMENT


def test_the_generic_deliver_action_is_gone_from_the_page(client_for, ready, alice):
    rr = ready(DeliveryMethod.FAX)
    url = reverse("workflow:transition", args=[rr.tracking_number, "deliver"])
    response = client_for(alice).post(url, {"evidence": "x", "expected_state": S.IN_FULFILLMENT})
    assert response.status_code == 404


def test_the_resend_form_keeps_input_on_error_and_records_a_resend(client_for, delivered, alice):
    rr, first = delivered
    client = client_for(alice)
    url = reverse("fulfillment:resend", args=[rr.tracking_number])
    data = {"resend_of": first.pk, "reason": "not_received", "method": "mail", "destination": ADDRESS}
    response = client.post(url, data)
    assert response.status_code == 400
    assert ADDRESS in response.content.decode()
    assert "Give the mail tracking number." in response.content.decode()
    response = client.post(url, {**data, "mail_tracking_number": "9400 7"})
    assert response.status_code == 302
    assert Delivery.objects.get(resend_of=first).mail_tracking_number == "9400 7"


def test_no_membership_gets_403_on_every_delivery_action(client_for, linked):
    rr, result = linked
    outsider = client_for(factories.UserFactory(username="outsider"))
    urls = [
        reverse("fulfillment:deliver", args=[rr.tracking_number]),
        reverse("fulfillment:resend", args=[rr.tracking_number]),
        reverse("fulfillment:link-revoke", args=[rr.tracking_number, result.link.pk]),
        reverse("fulfillment:link-reissue", args=[rr.tracking_number, result.delivery.pk]),
    ]
    for url in urls:
        assert outsider.post(url, {"reason": "unreadable"}).status_code == 403
    result.link.refresh_from_db()
    assert result.link.revoked_at is None
    assert Delivery.objects.count() == 1


def test_the_release_panel_reads_deliveries_and_links_in_a_fixed_number_of_queries(client_for, linked, alice, sam):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rr, result = linked
    client = client_for(alice)
    url = reverse("workflow:panel", args=[rr.tracking_number, "release"])  # the part of the page that lists them
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for reason in ("not_received", "unreadable"):
        _resend(rr, alice, result.delivery, reason, _evidence(DeliveryMethod.PORTAL_DOWNLOAD, sam))
    with CaptureQueriesContext(connection) as three:
        assert client.get(url).status_code == 200
    assert len(three) == len(one)


def test_pages_left_out_after_qc_stop_the_delivery_until_the_packet_is_rebuilt_and_passed(ready, alice, sam, tenant_a):
    """A partial denial (or any exclusion) after QC: the packet that passed still holds those pages, so it is not
    sent; rebuilt and passed again, it goes."""
    from fulfillment import documents
    from fulfillment.models import ReleaseDocument
    from fulfillment.packets import packet_build

    rr = ready()
    withheld = ReleaseDocument.objects.get(request=rr)
    documents.page_exclusion_add(
        tenant=tenant_a, actor=sam, document=withheld, first_page=1, last_page=1, reason="denied"
    )
    with pytest.raises(ServiceError, match="no longer matches the request: documents or excluded pages changed"):
        _deliver(rr, alice, _evidence(DeliveryMethod.FAX, sam))
    rr.refresh_from_db()
    assert rr.state == S.IN_FULFILLMENT
    assert not Delivery.objects.filter(request=rr).exists()

    rebuilt = packet_build(tenant=tenant_a, actor=alice, record_request=rr)
    pass_qc(rr, reviewer=sam)
    result = _deliver(rr, alice, _evidence(DeliveryMethod.FAX, sam))
    assert result.delivery.packet == rebuilt
    assert rebuilt.record_pages == withheld.page_count - 1
