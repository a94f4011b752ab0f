"""Deceased patients: the date of death recorded on the patient's page (from a death certificate or the estate's
letters), an executor's request that waits for it (45 CFR 164.502(g)(4)), and the fifty-year end of PHI (160.103)."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from intake import services
from roi.errors import ServiceError
from roi.models import AccessEvent
from tests import factories
from workflow.choices import RequestorKind, RequestState, RequestType
from workflow.models import Patient


def _executor_request(tenant):
    rr = factories.RecordRequestFactory(
        tenant=tenant,
        request_type=RequestType.RIGHT_OF_ACCESS,
        requestor__kind=RequestorKind.PERSONAL_REPRESENTATIVE,
        requestor__name="Owen Park",
        patient__date_of_birth=date(1940, 5, 1),
    )
    factories.complete_review(rr, representative={"authority_type": "executor"})
    return rr


def test_164_502_g_4_an_executors_request_validates_once_the_date_of_death_is_recorded(tenant_a, alice, client_for):
    rr = _executor_request(tenant_a)
    with pytest.raises(ServiceError, match="no date of death recorded"):
        services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    rr.refresh_from_db()
    assert rr.state == RequestState.RECEIVED  # refused before anything changed

    died = date(2025, 11, 2)
    response = client_for(alice).post(
        reverse("fulfillment:patient-death", args=[rr.patient_id]), {"date_of_death": died.isoformat()}
    )
    assert response.status_code == 302
    patient = Patient.objects.get(pk=rr.patient_id)
    assert patient.date_of_death == died
    assert patient.history.first().history_user == alice  # who recorded it, kept

    outcome = services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    assert outcome.validated


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2999-01-01", "cannot be in the future"),
        ("1900-01-02", "before the date of birth"),
        ("not a date", "Enter a valid date"),
    ],
)
def test_a_date_of_death_that_cannot_be_is_refused_on_its_field_and_nothing_changes(
    tenant_a, alice, client_for, value, message
):
    patient = factories.PatientFactory(tenant=tenant_a, date_of_birth=date(1950, 4, 2))
    response = client_for(alice).post(reverse("fulfillment:patient-death", args=[patient.pk]), {"date_of_death": value})
    assert response.status_code == 400
    assert message in response.content.decode()
    patient.refresh_from_db()
    assert patient.date_of_death is None


def test_the_patient_page_shows_when_the_records_stop_being_phi(tenant_a, alice, client_for):
    """160.103: fifty years after death the records are no longer PHI; the page says when, and viewing it is an access
    event like any patient page."""
    patient = factories.PatientFactory(tenant=tenant_a, date_of_birth=date(1920, 1, 5), date_of_death=date(1970, 3, 9))
    response = client_for(alice).get(reverse("fulfillment:patient-authorizations", args=[patient.pk]))
    page = response.content.decode()
    assert "died Mar 9, 1970" in page
    assert "stop being PHI on Mar 9, 2020" in page
    assert AccessEvent.objects.filter(patient_id=patient.pk, actor=alice).exists()


def test_a_leap_day_death_ends_phi_on_the_last_day_of_february():
    assert Patient(date_of_birth=date(1900, 1, 1), date_of_death=date(1972, 2, 29)).phi_until == date(2022, 2, 28)
