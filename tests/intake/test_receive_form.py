"""The staff intake form (/requests/new/): one POST records the whole request through intake_receive, or records
nothing and shows what to fix on the field it is about. Also the patient and requestor lookups it uses."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from intake.models import IntakeDocument, Letter
from roi.choices import Role
from tests import factories
from tests.intake.helpers import NEW_URL, counts, form_data, local_input, refused
from workflow.choices import Channel, RequestState
from workflow.models import Patient, RecordRequest, Requestor


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def local_date(value: str) -> date:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M").date()


# --- A complete request --------------------------------------------------------------------------------------------


def test_a_complete_post_records_one_received_request_with_everything(client_for, alice, tenant_a):
    # The request has a sensitive category, so its page would open only for an assignee (test_break_glass.py);
    # this test follows the redirect to read what was recorded.
    tenant_a.restricted_requests_need_break_glass = False
    tenant_a.save()
    data = form_data(tenant_a)
    response = client_for(alice).post(NEW_URL, data, follow=True)

    assert response.status_code == 200
    rr = RecordRequest.objects.get()
    assert response.redirect_chain == [(reverse("workflow:detail", args=[rr.tracking_number]), 302)]
    assert f"Request {rr.tracking_number} received." in response.content.decode()
    assert rr.tenant == tenant_a
    assert rr.state == RequestState.RECEIVED
    assert rr.channel == Channel.FAX
    assert local_input(rr.received_at, tenant_a) == data["received_at"]
    assert (rr.patient.mrn, rr.patient.last_name, rr.patient.date_of_birth) == ("CA-77001", "Diaz", date(1980, 5, 4))
    assert (rr.requestor.kind, rr.requestor.name, rr.requestor.city) == ("patient", "Rosa Diaz", "San Francisco")
    assert rr.record_types == ["discharge_summary", "lab"]
    assert rr.sensitive_categories == ["mental_health"]
    assert (rr.delivery_method, rr.delivery_destination) == ("fax", "(415) 555-0199")
    # Tenant A is in California: the seeded example rule (15 calendar days) beats HIPAA's 30.
    assert rr.legal_due_date == local_date(data["received_at"]) + timedelta(days=15)
    documents = list(IntakeDocument.objects.filter(request=rr).order_by("id"))
    assert [(d.kind, d.source, d.content_type, d.page_count) for d in documents] == [
        ("request_letter", "staff_upload", "application/pdf", 2),
        ("authorization", "staff_upload", "image/tiff", 2),
    ]
    assert [d.original_name for d in documents] == ["request.pdf", "authorization.tif"]
    assert Letter.objects.get(request=rr).kind == "acknowledgment"


def test_an_illinois_tenant_gets_the_federal_30_days(db, client_for):
    tenant = factories.TenantFactory(slug="illinois", jurisdiction="IL", timezone="America/Chicago")
    ivy = factories.MembershipFactory(tenant=tenant, user__username="ivy", role=Role.SPECIALIST).user
    data = form_data(tenant)
    response = client_for(ivy).post(NEW_URL, data)

    assert response.status_code == 302
    rr = RecordRequest.objects.get()
    assert rr.tenant == tenant
    assert rr.legal_due_date == local_date(data["received_at"]) + timedelta(days=30)


def test_a_patient_and_requestor_on_file_are_picked_not_duplicated(client_for, alice, tenant_a):
    patient = factories.PatientFactory(tenant=tenant_a)
    requestor = factories.RequestorFactory(tenant=tenant_a)
    data = form_data(tenant_a, patient_id=str(patient.pk), requestor_id=str(requestor.pk), request_type="authorization")
    for name in (
        "mrn",
        "first_name",
        "last_name",
        "date_of_birth",
        *tuple(k for k in data if k.startswith("requestor_")),
    ):
        data.pop(name, None)
    data["requestor_id"] = str(requestor.pk)
    response = client_for(alice).post(NEW_URL, data)

    assert response.status_code == 302
    rr = RecordRequest.objects.get()
    assert (rr.patient, rr.requestor) == (patient, requestor)
    assert (Patient.objects.count(), Requestor.objects.count()) == (1, 1)


def test_a_phone_request_needs_no_document(client_for, alice, tenant_a):
    data = form_data(tenant_a, channel=Channel.PHONE, scanned_request=None, document_2=None)
    response = client_for(alice).post(NEW_URL, data)
    assert response.status_code == 302
    rr = RecordRequest.objects.get()
    assert rr.channel == Channel.PHONE
    assert not IntakeDocument.objects.exists()


# --- Refused: nothing is saved, the field says what to fix ---------------------------------------------------------


def test_a_bad_file_saves_nothing_and_keeps_the_values(client_for, alice, tenant_a):
    exe = SimpleUploadedFile("authorization.pdf", b"MZ\x90\x00" + b"\x00" * 500, content_type="application/pdf")
    message, html = refused(client_for(alice), form_data(tenant_a, document_2=exe), "document_2")

    assert message == (
        "'authorization.pdf' is not a PDF, TIFF, PNG or JPEG file (its content looks like a Windows program). "
        "Attach the scanned document itself, saved as PDF, TIFF, PNG or JPEG."
    )
    assert counts() == (0, 0, 0, 0, 0)
    assert 'value="CA-77001"' in html
    assert 'value="Rosa Diaz"' in html
    assert 'value="(415) 555-0199"' in html
    assert "Choose the documents again" in html


def test_a_missing_patient_field_saves_nothing(client_for, alice, tenant_a):
    message, html = refused(client_for(alice), form_data(tenant_a, date_of_birth=None), "date_of_birth")
    assert message == "Enter the patient's date of birth."
    assert counts() == (0, 0, 0, 0, 0)
    assert 'value="Diaz"' in html


def test_a_new_requestor_needs_kind_and_name(client_for, alice, tenant_a):
    data = form_data(tenant_a, requestor_kind="", requestor_name="")
    message, _ = refused(client_for(alice), data, "requestor_kind")
    assert message == "Choose the kind of requestor (patient, attorney, insurer...)."


def test_a_fax_request_needs_its_scanned_request(client_for, alice, tenant_a):
    data = form_data(tenant_a, scanned_request=None, document_2=None)
    message, _ = refused(client_for(alice), data, "scanned_request")
    assert message.startswith("Attach the scanned request")


def test_a_future_receipt_time_is_refused(client_for, alice, tenant_a):
    data = form_data(tenant_a, received_at=local_input(timezone.now() + timedelta(hours=3), tenant_a))
    message, _ = refused(client_for(alice), data, "received_at")
    # The allowed range is spelled out (tests/intake/test_received_at_bounds.py).
    assert message.startswith("The receipt time cannot be in the future. Enter when the request reached the")


def test_the_mrn_conflict_is_shown_on_the_mrn_field(client_for, alice, tenant_a):
    factories.PatientFactory(tenant=tenant_a, mrn="CA-77001", last_name="Okafor", date_of_birth=date(1975, 1, 2))
    message, _ = refused(client_for(alice), form_data(tenant_a), "mrn")
    assert message == (
        "MRN CA-77001 belongs to a patient with a different name or date of birth. Check the MRN, or leave it empty "
        "to match by name and date of birth."
    )
    assert counts() == (0, 1, 0, 0, 0)


def test_another_tenants_patient_cannot_be_picked(client_for, alice, tenant_a, tenant_b):
    # A name no generated staff name can share: the page lists staff, whose names are random too.
    theirs = factories.PatientFactory(tenant=tenant_b, last_name="Quillfeather")
    data = form_data(tenant_a, patient_id=str(theirs.pk), mrn="", first_name="", last_name="", date_of_birth="")
    message, html = refused(client_for(alice), data, "patient_id")
    assert message == "That patient is no longer on file here. Search again."
    assert theirs.last_name not in html


def test_a_malformed_fax_destination_is_refused(client_for, alice, tenant_a):
    message, _ = refused(client_for(alice), form_data(tenant_a, delivery_destination="555-01"), "delivery_destination")
    assert message == "'555-01' is not a complete fax number (10 digits or more)."


# --- The page and its lookups --------------------------------------------------------------------------------------


def test_the_form_starts_with_now_in_the_tenants_time_zone(client_for, alice, tenant_a):
    before = timezone.now()
    response = client_for(alice).get(NEW_URL)
    assert response.status_code == 200
    html = response.content.decode()
    # Pacific time, as the specialist in California reads the clock (minutes, so either side of a minute's turn).
    assert any(f'value="{local_input(moment, tenant_a)}"' in html for moment in (before, timezone.now()))


def test_anonymous_users_go_to_the_login_page(client):
    response = client.get(NEW_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert client.get(reverse("intake:patient-lookup"), {"patient_q": "A1"}).status_code == 302


def test_the_patient_lookup_finds_by_mrn_or_by_last_name_and_birth_date(client_for, alice, tenant_a):
    rosa = factories.PatientFactory(tenant=tenant_a, mrn="CA-1", last_name="Diaz", date_of_birth=date(1980, 5, 4))
    factories.PatientFactory(tenant=tenant_a, mrn="CA-2", last_name="Diaz", date_of_birth=date(1990, 1, 1))
    client = client_for(alice)
    url = reverse("intake:patient-lookup")

    by_mrn = client.get(url, {"patient_q": "CA-1"}).content.decode()
    assert f'value="{rosa.pk}"' in by_mrn
    assert 'type="radio"' in by_mrn
    assert "CA-2" not in by_mrn

    by_name = client.get(url, {"patient_q": "diaz", "patient_q_dob": "1980-05-04"}).content.decode()
    assert f'value="{rosa.pk}"' in by_name
    assert "CA-2" not in by_name

    name_only = client.get(url, {"patient_q": "Diaz"}).content.decode()
    assert "add the date of birth" in name_only
    assert "CA-1" not in name_only


def test_lookups_never_show_another_tenants_rows(client_for, charlie, tenant_a):
    factories.PatientFactory(tenant=tenant_a, mrn="CA-1", last_name="Diaz", date_of_birth=date(1980, 5, 4))
    factories.RequestorFactory(tenant=tenant_a, name="Jo Hartley", organization="Hartley & Moss LLP")
    client = client_for(charlie)
    patients = client.get(reverse("intake:patient-lookup"), {"patient_q": "CA-1"}).content.decode()
    requestors = client.get(reverse("intake:requestor-lookup"), {"requestor_q": "Hartley"}).content.decode()
    assert "Diaz" not in patients
    assert 'type="radio"' not in patients
    assert "Jo Hartley" not in requestors
    assert 'type="radio"' not in requestors


def test_the_requestor_lookup_finds_by_name_organization_or_email(client_for, alice, tenant_a):
    jo = factories.RequestorFactory(tenant=tenant_a, name="Jo Hartley", email="jo@hartley.example.com")
    client = client_for(alice)
    for query in ("hartley", "Moss", "jo@hartley"):
        html = client.get(reverse("intake:requestor-lookup"), {"requestor_q": query}).content.decode()
        assert f'value="{jo.pk}"' in html, query
