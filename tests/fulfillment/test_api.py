"""The request API's deliver and deny go through fulfillment: a delivery keeps its packet version and evidence, a
denial its basis and letter. The generic transitions would move the request without either."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fulfillment.models import Delivery, Denial
from intake.models import Letter
from tests import factories
from tests.fulfillment.helpers import authorization_on_file, packet, pass_qc
from workflow.choices import DeliveryMethod, RequestState
from workflow.models import RecordRequest, RequestTransition

S = RequestState


def _post(client: Any, rr: Any, action: str, body: dict[str, Any]) -> Any:
    return client.post(
        f"/api/v1/requests/{rr.tracking_number}/{action}/", data=json.dumps(body), content_type="application/json"
    )


@pytest.fixture
def ready(media, request_in_state, alice, sam):
    """A request in fulfillment, to be faxed, whose packet (built by Alice) passed QC by Sam."""
    rr = request_in_state(S.IN_FULFILLMENT, delivery_method=DeliveryMethod.FAX, delivery_destination="(312) 555-0199")
    authorization_on_file(rr)
    packet(rr, builder=alice)
    pass_qc(rr, reviewer=sam)
    return rr


def test_api_deliver_records_the_delivery_with_its_packet_and_evidence(ready, client_for, alice):
    body = {"method": "fax", "destination": "(312) 555-0199", "fax_confirmation": "JOB 4471"}
    response = _post(client_for(alice), ready, "deliver", body)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["state"] == S.DELIVERED
    assert data["packet_version"] == ready.packets.get(superseded_at__isnull=True).version
    assert data["download_url"] is None
    delivery = Delivery.objects.get(request=ready)
    assert (delivery.method, delivery.fax_confirmation) == ("fax", "JOB 4471")
    assert RequestTransition.objects.filter(request=ready, transition="deliver").count() == 1


def test_api_deliver_without_the_methods_evidence_answers_400_naming_the_field(ready, client_for, alice):
    response = _post(client_for(alice), ready, "deliver", {"method": "fax", "destination": "(312) 555-0199"})
    assert response.status_code == 400
    assert response.json()["field"] == "fax_confirmation"
    ready.refresh_from_db()
    assert ready.state == S.IN_FULFILLMENT
    assert not Delivery.objects.filter(request=ready).exists()


def test_api_deliver_before_qc_is_refused_by_the_release_gate_with_each_rule(
    media, request_in_state, client_for, alice
):
    rr = request_in_state(S.IN_FULFILLMENT, delivery_method=DeliveryMethod.FAX, delivery_destination="(312) 555-0199")
    RecordRequest.objects.filter(pk=rr.pk).update(qc_passed_at=None)  # no packet has passed QC
    body = {"method": "fax", "destination": "(312) 555-0199", "fax_confirmation": "JOB 1"}
    response = _post(client_for(alice), rr, "deliver", body)
    assert response.status_code == 409
    assert "quality control" in response.json()["detail"]
    refusals = response.json()["refusals"]
    assert refusals[0]["code"] == "NO_PACKET"
    assert {"code", "subject", "message", "citation", "fix"} <= set(refusals[0])


def test_api_portal_delivery_returns_the_download_link_once(media, request_in_state, client_for, alice, sam):
    rr = request_in_state(
        S.IN_FULFILLMENT, delivery_method=DeliveryMethod.PORTAL_DOWNLOAD, delivery_destination="rosa@example.org"
    )
    authorization_on_file(rr)
    packet(rr, builder=alice)
    pass_qc(rr, reviewer=sam)
    response = _post(client_for(alice), rr, "deliver", {"method": "portal_download", "destination": "rosa@example.org"})
    assert response.status_code == 200, response.content
    url = response.json()["download_url"]
    assert "/download/" in url
    path = url.split("testserver", 1)[1]
    assert client_for(alice).get(path)["Content-Type"].startswith("text/html")  # the portal page, asking to verify
    download = client_for(alice).post(path, {"verifier": rr.requestor.email})
    assert download.status_code == 200
    assert b"".join(download.streaming_content if download.streaming else [download.content]).startswith(b"%PDF")


def test_api_deny_writes_the_denial_and_its_letter(media, client_for, sam, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    body = {"basis": "not_held", "scope_denied": "All records", "explanation": "We hold no records of this patient."}
    response = _post(client_for(sam), rr, "deny", {**body, "records_location": "Lakeview Clinic, 2 Elm St"})
    assert response.status_code == 200, response.content
    assert response.json()["state"] == S.DENIED
    denial = Denial.objects.get(request=rr)
    assert denial.basis == "not_held"
    assert denial.partial is False
    assert Letter.objects.filter(request=rr, kind="denial").count() == 1


def test_api_deny_by_a_specialist_answers_403_and_changes_nothing(media, client_for, alice, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    body = {"basis": "not_held", "scope_denied": "All records", "explanation": "Not held here."}
    response = _post(client_for(alice), rr, "deny", body)
    assert response.status_code == 403
    rr.refresh_from_db()
    assert rr.state == S.RECEIVED
    assert not Denial.objects.filter(request=rr).exists()


def test_api_deny_without_a_basis_answers_400(media, client_for, sam, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    response = _post(client_for(sam), rr, "deny", {"scope_denied": "All", "explanation": "x"})
    assert response.status_code == 400
    assert not Denial.objects.filter(request=rr).exists()


def test_164_524_a_3_api_deny_on_a_reviewable_basis_names_the_designated_professional(
    media, client_for, sam, alice, charlie, tenant_a
):
    lee = factories.licensed_professional(tenant=tenant_a, username="lee")
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    body = {"basis": "endanger_life", "scope_denied": "Psychiatric notes", "explanation": "Danger to life."}
    response = _post(client_for(sam), rr, "deny", body)
    assert response.status_code == 400
    assert response.json()["field"] == "determined_by"
    assert "164.524(a)(3)" in response.json()["detail"]
    for not_designated, says in ((alice, "is not designated"), (charlie, "No staff member of this organisation")):
        response = _post(client_for(sam), rr, "deny", {**body, "determined_by": not_designated.pk})
        assert response.status_code == 400
        assert says in response.json()["detail"]
    assert str(charlie) not in response.json()["detail"]
    assert not Denial.objects.filter(request=rr).exists()
    response = _post(client_for(sam), rr, "deny", {**body, "determined_by": lee.pk})
    assert response.status_code == 200, response.content
    assert Denial.objects.get(request=rr).determined_by == lee
