"""Placeholder patients (intake/patients.py) stand in for the patient of a request that arrived by email, fax or the
portal until staff identify the patient. Every placeholder has the same name and date of birth, so they are marked
(Patient.is_placeholder) and left out of the patient match and of duplicate detection, in both directions: a
placeholder request has no possible duplicates and is no one's, and details that look like a placeholder never match
one."""

from __future__ import annotations

from datetime import date

import pytest

from intake import ingest, services
from intake.patients import placeholder_patient_create
from roi.errors import ServiceError
from tests import factories
from tests.intake import messages
from workflow.choices import Channel, RequestorKind, RequestType
from workflow.models import Patient

LAW_FIRM = "Jane Hartley <jhartley@hartleymoss.example>"


@pytest.fixture(autouse=True)
def _media(media):
    return media


def _emailed(tenant, subject: str):
    raw = messages.build(
        sender=LAW_FIRM, subject=subject, attachments=[(messages.pdf_bytes(1), "application", "pdf", "letter.pdf")]
    )
    result = ingest.ingest_message(tenant=tenant, raw=raw, channel=Channel.EMAIL)
    assert result.status == ingest.CREATED
    return result.record_request


def _identify(tenant, actor, record_request, **patient):
    return services.intake_details_update(
        tenant=tenant, actor=actor, record_request=record_request, patient_data=patient, request_type="authorization"
    )


def test_email_fax_and_portal_requests_get_a_placeholder_marked_as_such(tenant_a):
    rr = _emailed(tenant_a, "Records for our client Rosa Diaz")
    assert rr.patient.is_placeholder
    assert Patient.objects.get(pk=rr.patient.pk).is_placeholder
    assert not factories.PatientFactory(tenant=tenant_a).is_placeholder


def test_two_emailed_requests_from_one_law_firm_are_not_offered_as_duplicates(tenant_a):
    """Two letters about two different clients: before, both placeholders matched by name and date of birth and
    the second request was blocked until someone marked it distinct."""
    first = _emailed(tenant_a, "Records for our client Rosa Diaz")
    second = _emailed(tenant_a, "Records for our client Lena Okafor")
    assert first.requestor_id == second.requestor_id
    assert list(services.possible_duplicates(tenant=tenant_a, record_request=second)) == []
    assert list(services.possible_duplicates(tenant=tenant_a, record_request=first)) == []
    assert services.intake_facts(tenant=tenant_a, record_request=second).open_duplicates == 0


def test_once_identified_as_the_same_patient_the_requests_are_possible_duplicates_again(tenant_a, alice):
    first = _emailed(tenant_a, "Records for our client Rosa Diaz")
    second = _emailed(tenant_a, "Records for our client Rosa Diaz, again")
    rosa = {"mrn": "A-77", "first_name": "Rosa", "last_name": "Diaz", "date_of_birth": date(1980, 5, 4)}
    _identify(tenant_a, alice, first, **rosa)
    # One identified, the other still a placeholder: no match either way.
    assert list(services.possible_duplicates(tenant=tenant_a, record_request=first)) == []
    second = _identify(tenant_a, alice, second, **rosa)
    assert [rr.pk for rr in services.possible_duplicates(tenant=tenant_a, record_request=second)] == [first.pk]


def test_a_hand_registered_patient_named_like_a_placeholder_is_no_duplicate_of_a_placeholder_request_nor_the_reverse(
    tenant_a, alice
):
    """The mark, not the name, decides: a real patient a clerk registered as "Unidentified, (walk-in)" born
    1900-01-01 (a convention some departments use) is a person; the placeholder of an emailed request is not."""
    placeholder_request = _emailed(tenant_a, "Records for our client")
    real = factories.PatientFactory(
        tenant=tenant_a, mrn="W-1", first_name="(walk-in)", last_name="Unidentified", date_of_birth=date(1900, 1, 1)
    )
    real_request = services.intake_receive(
        tenant=tenant_a,
        actor=alice,
        channel=Channel.MAIL,
        patient=real,
        requestor=placeholder_request.requestor,
        request_type=RequestType.AUTHORIZATION,
        acknowledge=False,
    )
    assert list(services.possible_duplicates(tenant=tenant_a, record_request=real_request)) == []
    assert list(services.possible_duplicates(tenant=tenant_a, record_request=placeholder_request)) == []


def test_details_that_look_like_a_placeholder_never_match_one(tenant_a, alice):
    placeholder = _emailed(tenant_a, "Records for our client").patient
    looks_like_it = {"first_name": "(email intake)", "last_name": "Unidentified", "date_of_birth": date(1900, 1, 1)}
    with pytest.raises(ServiceError, match="No single patient matches"):
        services.patient_match_or_create(tenant=tenant_a, actor=alice, **looks_like_it)
    # With an MRN of its own it is a new (real) patient, never the placeholder.
    created = services.patient_match_or_create(tenant=tenant_a, actor=alice, mrn="N-5", **looks_like_it)
    assert created.pk != placeholder.pk
    assert not created.is_placeholder
    # Nor by the placeholder's own MRN: that number is not a patient's.
    with pytest.raises(ServiceError, match="already exists"):
        services.patient_match_or_create(tenant=tenant_a, actor=alice, mrn=placeholder.mrn, **looks_like_it)


def test_a_request_received_through_the_api_is_never_attached_to_a_placeholder(tenant_a, alice, api_token_for, client):
    _emailed(tenant_a, "Records for our client")
    body = {
        "patient": {"first_name": "(email intake)", "last_name": "Unidentified", "date_of_birth": "1900-01-01"},
        "requestor": {"kind": RequestorKind.ATTORNEY, "name": "Jane Hartley"},
        "request_type": RequestType.AUTHORIZATION,
    }
    response = client.post(
        "/api/v1/requests/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {api_token_for(alice, tenant_a)[1]}",
    )
    assert response.status_code == 400
    assert response.json()["field"] == "mrn"


def test_the_patient_lookup_never_lists_a_placeholder(client_for, alice, tenant_a):
    placeholder = _emailed(tenant_a, "Records for our client").patient
    client = client_for(alice)
    by_name = client.get(
        "/requests/patients/lookup/", {"patient_q": "Unidentified", "patient_q_dob": "1900-01-01"}
    ).content.decode()
    assert "No patient on file matches Unidentified" in by_name
    by_mrn = client.get("/requests/patients/lookup/", {"patient_q": placeholder.mrn}).content.decode()
    assert f"No patient has MRN {placeholder.mrn}" in by_mrn


def test_the_receive_form_refuses_a_placeholder_picked_by_a_crafted_post(client_for, alice, tenant_a):
    placeholder = placeholder_patient_create(tenant=tenant_a, actor=None, reference="P1", source="portal request")
    response = client_for(alice).post("/requests/new/", {"channel": "phone", "patient_id": str(placeholder.pk)})
    assert response.status_code == 400
    assert "That patient is no longer on file here. Search again." in response.content.decode()
