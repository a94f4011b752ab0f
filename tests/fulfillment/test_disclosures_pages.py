"""The accounting pages: the panel section, the patient's accounting page and its forms (errors keep the input), the
correction page, the report's generation and audited download, and another tenant's objects answering 404."""

from __future__ import annotations

from datetime import date, timedelta

from django.urls import reverse

from fulfillment.choices import DisclosurePurpose
from fulfillment.models import Disclosure, DisclosureSuspension, ReleaseDocument
from roi import clock
from roi.choices import AccessAction
from roi.models import AccessEvent
from tests import factories
from workflow.choices import RequestorKind, RequestType


def _page(patient) -> str:
    return reverse("fulfillment:patient-disclosures", kwargs={"pk": patient.pk})


def _disclosure(patient, on, recipient="County Health Department"):
    return Disclosure.objects.create(
        tenant=patient.tenant, patient=patient, disclosed_on=on, recipient_name=recipient,
        description="Reportable disease notification", purpose=DisclosurePurpose.PUBLIC_HEALTH,
        recorded_at=clock.now(),
    )  # fmt: skip


def test_the_patient_page_lists_the_accounting_and_is_an_audited_phi_view(client_for, alice, tenant_a):
    patient = factories.PatientFactory(tenant=tenant_a)
    _disclosure(patient, date.today() - timedelta(days=30))
    response = client_for(alice).get(_page(patient))
    page = response.content.decode()
    assert response.status_code == 200
    assert "County Health Department" in page
    assert patient.mrn in page
    event = AccessEvent.objects.get(action=AccessAction.VIEW_PATIENT)
    assert (event.actor, event.patient_id, event.detail) == (alice, patient.pk, "accounting of disclosures")


def test_recording_a_disclosure_with_errors_keeps_the_input(client_for, alice, tenant_a):
    patient = factories.PatientFactory(tenant=tenant_a)
    url = reverse("fulfillment:disclosure-record", kwargs={"pk": patient.pk})
    body = {
        "disclosed_on": (date.today() - timedelta(days=2)).isoformat(),
        "recipient_name": "State Cancer Registry",
        "description": "Pathology report",
        "purpose": "",
    }
    response = client_for(alice).post(url, body)
    assert response.status_code == 400
    assert 'value="State Cancer Registry"' in response.content.decode()
    assert not Disclosure.objects.exists()
    response = client_for(alice).post(url, {**body, "purpose": "public_health"})
    assert response.status_code == 302
    assert Disclosure.objects.get().recorded_by == alice


def test_an_oral_suspension_over_thirty_days_is_refused_on_the_page(client_for, alice, tenant_a):
    patient = factories.PatientFactory(tenant=tenant_a)
    url = reverse("fulfillment:suspension-record", kwargs={"pk": patient.pk})
    body = {
        "agency": "Springfield Police",
        "statement": "Ongoing investigation",
        "oral": "on",
        "starts_on": "2026-01-01",
        "ends_on": "2026-03-01",
    }
    response = client_for(alice).post(url, body)
    page = response.content.decode()
    assert response.status_code == 400
    assert "at most 30 days" in page
    assert 'value="Springfield Police"' in page
    assert not DisclosureSuspension.objects.exists()
    assert client_for(alice).post(url, {**body, "ends_on": "2026-01-31"}).status_code == 302


def test_correcting_an_entry_from_its_page(client_for, alice, tenant_a):
    patient = factories.PatientFactory(tenant=tenant_a)
    disclosure = _disclosure(patient, date(2025, 3, 1))
    url = reverse("fulfillment:disclosure-correct", kwargs={"pk": disclosure.pk})
    assert client_for(alice).get(url).status_code == 200
    response = client_for(alice).post(url, {"reason": "Wrong patient", "entered_in_error": "on"})
    assert response.status_code == 302
    disclosure.refresh_from_db()
    assert disclosure.entered_in_error_at is not None
    assert "Entered in error: Wrong patient" in client_for(alice).get(_page(patient)).content.decode()


def test_another_tenants_patient_and_disclosure_answer_404(client_for, alice, tenant_b):
    patient = factories.PatientFactory(tenant=tenant_b)
    disclosure = _disclosure(patient, date(2025, 3, 1))
    client = client_for(alice)
    assert client.get(_page(patient)).status_code == 404
    assert client.get(reverse("fulfillment:disclosure-correct", kwargs={"pk": disclosure.pk})).status_code == 404
    assert not AccessEvent.objects.exists()


def test_an_accounting_request_generates_and_downloads_its_report(media, client_for, alice, tenant_a):
    rr = factories.RecordRequestFactory(
        tenant=tenant_a, request_type=RequestType.ACCOUNTING, requestor__kind=RequestorKind.PATIENT
    )
    client = client_for(alice)
    detail = client.get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()
    assert "Generate the accounting report" in detail
    assert "Not accountable" in detail
    response = client.post(reverse("fulfillment:accounting-report-generate", args=[rr.tracking_number]))
    assert response.status_code == 302
    report = ReleaseDocument.objects.get(request=rr)
    download = client.get(reverse("fulfillment:accounting-report", args=[rr.tracking_number, report.pk]))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content).startswith(b"%PDF")
    event = AccessEvent.objects.get(action=AccessAction.DOWNLOAD_DOCUMENT)
    assert (event.request_id, event.patient_id, event.object_id) == (rr.pk, rr.patient_id, str(report.pk))


def test_a_legal_request_panel_says_its_release_is_accountable(client_for, alice, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a, request_type=RequestType.LEGAL)
    page = client_for(alice).get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()
    assert "A release on this request is accountable" in page
    assert reverse("fulfillment:patient-disclosures", kwargs={"pk": rr.patient_id}) in page
