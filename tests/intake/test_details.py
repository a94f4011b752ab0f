"""A request that arrived by fax is finished by a specialist: identify the patient, confirm type, scope and
delivery; then the checklist can run."""

from __future__ import annotations

from datetime import date

import pytest

from intake import ingest, services
from intake.models import Letter
from roi.errors import ServiceError
from tests.intake.messages import fax_message
from workflow.choices import RequestState


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def faxed(tenant_a):
    return ingest.ingest_message(tenant=tenant_a, raw=fax_message(), channel="fax").record_request


def test_an_ingested_request_cannot_be_validated_before_its_details_are_completed(tenant_a, alice, faxed):
    assert faxed.needs_intake_completion
    codes = [d.code for d in services.intake_evaluate(tenant=tenant_a, record_request=faxed)]
    assert "INTAKE_DETAILS_UNCONFIRMED" in codes
    with pytest.raises(ServiceError, match="identify the patient"):
        services.intake_complete(tenant=tenant_a, actor=alice, record_request=faxed)


def test_completing_the_details_identifies_the_patient_and_recomputes_the_due_date(tenant_a, alice, faxed):
    assert not Letter.objects.filter(request=faxed).exists()  # no acknowledgment for an unidentified patient
    updated = services.intake_details_update(
        tenant=tenant_a,
        actor=alice,
        record_request=faxed,
        patient_data={"mrn": "C-2001", "first_name": "Lena", "last_name": "Okafor", "date_of_birth": date(1977, 2, 3)},
        request_type="right_of_access",
        record_types=["lab"],
        delivery_method="mail",
        delivery_destination="12 Elm Street, Sacramento, CA 95819",
    )
    assert updated.patient.mrn == "C-2001"
    assert not updated.needs_intake_completion
    # Right of access in California: the 15-day example rule, counted from the receipt date.
    assert (updated.legal_due_date - updated.received_at.astimezone(tenant_a.tzinfo).date()).days == 15
    assert Letter.objects.filter(request=faxed, kind="acknowledgment").count() == 1
    codes = [d.code for d in services.intake_evaluate(tenant=tenant_a, record_request=updated)]
    assert "INTAKE_DETAILS_UNCONFIRMED" not in codes


def test_the_details_page_saves_and_shows_errors(client_for, alice, faxed):
    client = client_for(alice)
    url = f"/requests/{faxed.tracking_number}/intake/details/"
    page = client.get(url)
    assert page.status_code == 200
    assert "patient is not identified yet" in page.content.decode()
    bad = client.post(url, {"request_type": "right_of_access", "mrn": "C-1", "first_name": "Lena"})
    assert bad.status_code == 400
    assert "Enter the patient" in bad.content.decode()
    good = client.post(
        url,
        {
            "request_type": "right_of_access",
            "mrn": "C-1",
            "first_name": "Lena",
            "last_name": "Okafor",
            "date_of_birth": "1977-02-03",
            "record_types": ["lab"],
            "delivery_method": "pickup",
        },
    )
    assert good.status_code == 302
    faxed.refresh_from_db()
    assert faxed.patient.last_name == "Okafor"
    assert faxed.state == RequestState.RECEIVED


def test_another_tenant_gets_404_on_the_details_page(client_for, charlie, faxed):
    assert client_for(charlie).get(f"/requests/{faxed.tracking_number}/intake/details/").status_code == 404
