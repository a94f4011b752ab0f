"""The receipt time starts every legal clock, so the one typed at the desk or sent by an integration is bounded: not
in the future, at most RECEIPT_LOOKBACK_DAYS (180) back (workflow/deadlines.py). A date in 2000 used to be taken and
gave a due date 26 years ago. The staff form, the API and request_create ask the same check and say the same thing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from django.test import Client

from roi import clock
from roi.errors import ServiceError
from tests import factories
from tests.intake.helpers import NEW_URL, form_data, refused
from workflow import services as workflow_services
from workflow.deadlines import RECEIPT_LOOKBACK_DAYS
from workflow.models import RecordRequest

NOW = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)  # 9 am in Los Angeles (tenant A); 180 days back: Dec 3, 2025
TOO_OLD = (
    "The receipt time is more than 180 days ago. Enter when the request reached the organisation, between "
    "Dec 3, 2025 and now (check the year)."
)
IN_FUTURE = (
    "The receipt time cannot be in the future. Enter when the request reached the organisation, between Dec 3, 2025 "
    "and now."
)


@pytest.fixture(autouse=True)
def _frozen(media):
    with clock.frozen(NOW):
        yield


@pytest.fixture
def api(alice, tenant_a, api_token_for) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {api_token_for(alice, tenant_a)[1]}")


def _api_create(api: Client, received_at: str):
    body = {
        "patient": {"mrn": "A-1001", "first_name": "Rosa", "last_name": "Diaz", "date_of_birth": "1980-04-02"},
        "requestor": {"kind": "patient", "name": "Rosa Diaz"},
        "request_type": "right_of_access",
        "received_at": received_at,
    }
    return api.post("/api/v1/requests/", json.dumps(body), content_type="application/json")


# --- The staff form ---------------------------------------------------------------------------------------------


def test_the_form_refuses_a_receipt_more_than_180_days_back_and_says_the_range(client_for, alice, tenant_a):
    message, _ = refused(client_for(alice), form_data(tenant_a, received_at="2025-12-02T09:00"), "received_at")
    assert message == TOO_OLD


def test_the_form_refuses_a_receipt_in_the_future_and_says_the_range(client_for, alice, tenant_a):
    message, _ = refused(client_for(alice), form_data(tenant_a, received_at="2026-06-01T09:05"), "received_at")
    assert message == IN_FUTURE


def test_mail_found_late_is_recorded_with_the_day_it_arrived_and_is_overdue_at_once(client_for, alice, tenant_a):
    response = client_for(alice).post(NEW_URL, form_data(tenant_a, received_at="2025-12-04T09:00"))
    assert response.status_code == 302
    rr = RecordRequest.objects.get()
    # California's 15 days for right of access, from the day it arrived.
    assert rr.legal_due_date == date(2025, 12, 19)


# --- The API ---------------------------------------------------------------------------------------------------


def test_the_api_refuses_a_receipt_in_2000_with_the_forms_message_and_saves_nothing(api):
    response = _api_create(api, "2000-01-01T09:00:00-08:00")
    assert response.status_code == 400
    assert response.json() == {"received_at": [TOO_OLD]}
    assert not RecordRequest.objects.exists()


def test_the_api_refuses_a_receipt_in_the_future(api):
    response = _api_create(api, "2026-06-01T16:05:00Z")
    assert response.status_code == 400
    assert response.json() == {"received_at": [IN_FUTURE]}


def test_the_api_takes_a_receipt_within_the_range(api):
    response = _api_create(api, "2026-03-02T09:00:00-08:00")
    assert response.status_code == 201, response.content
    assert response.json()["legal_due_date"] == "2026-03-17"


def test_the_schema_says_the_range(client_for, alice):
    schema = client_for(alice).get("/api/schema/", {"format": "json"}).json()
    field = schema["components"]["schemas"]["IntakeRecordRequestCreateRequest"]["properties"]["received_at"]
    assert "at most 180 days ago" in field["description"]


# --- The service, for every other caller -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received_at", "expected"),
    [
        (datetime(2000, 1, 1, tzinfo=UTC), "more than 180 days ago"),
        (NOW - timedelta(days=RECEIPT_LOOKBACK_DAYS, seconds=1), "more than 180 days ago"),
        (NOW + timedelta(minutes=2), "cannot be in the future"),
    ],
)
def test_request_create_refuses_a_receipt_out_of_range_on_its_field(tenant_a, alice, received_at, expected):
    with pytest.raises(ServiceError, match=expected) as refused_error:
        workflow_services.request_create(
            tenant=tenant_a,
            actor=alice,
            patient=factories.PatientFactory(tenant=tenant_a),
            requestor=factories.RequestorFactory(tenant=tenant_a),
            request_type="right_of_access",
            channel="mail",
            received_at=received_at,
        )
    assert refused_error.value.field == "received_at"


@pytest.mark.parametrize(
    "received_at", [NOW - timedelta(days=RECEIPT_LOOKBACK_DAYS), NOW + timedelta(seconds=30)], ids=["edge", "skew"]
)
def test_request_create_takes_the_oldest_day_allowed_and_a_clock_a_little_ahead(tenant_a, alice, received_at):
    rr = workflow_services.request_create(
        tenant=tenant_a,
        actor=alice,
        patient=factories.PatientFactory(tenant=tenant_a),
        requestor=factories.RequestorFactory(tenant=tenant_a),
        request_type="right_of_access",
        channel="mail",
        received_at=received_at,
    )
    assert rr.received_at == received_at
