"""An accounting of disclosures (45 CFR 164.528) asks for a list of disclosures, not records: its period is the six
years before receipt (fulfillment/disclosures.py), so intake asks no record types or dates of service of it, through
the rules, the model's own gaps, the services, the staff forms and the API. Every other request type still needs its
scope."""

from __future__ import annotations

import json
from datetime import date

import pytest

from intake import rules, services
from intake.forms.details import RequestDetailsForm
from tests.intake.helpers import NEW_URL, form_data
from workflow.choices import DeliveryMethod, RequestorKind, RequestState, RequestType
from workflow.models import RecordRequest

VERIFIED = {"identity_verified": True, "identity_method": "photo_id_copy"}
NO_SCOPE = {"record_types": [], "scope_date_from": None, "scope_date_to": None, "scope_notes": ""}
SCOPE_GAP = "Scope: give the record types or the dates of service requested."


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _facts(request_type: str, **overrides) -> rules.IntakeFacts:
    values = {
        "request_type": request_type,
        "requestor_kind": RequestorKind.PATIENT,
        **NO_SCOPE,
        "sensitive_categories": [],
        "delivery_gaps": [],
        "needs_intake_completion": False,
        "open_duplicates": 0,
        "review": VERIFIED,
        "today": date(2026, 6, 15),
        **overrides,
    }
    return rules.IntakeFacts(**values)


def _receive(tenant, actor, request_type: str, **overrides):
    values = {
        "tenant": tenant,
        "actor": actor,
        "channel": "phone",
        "patient_data": {"mrn": "A100", "first_name": "Rosa", "last_name": "Diaz", "date_of_birth": date(1980, 5, 4)},
        "requestor_data": {"kind": RequestorKind.PATIENT, "name": "Rosa Diaz", "email": "rosa@example.com"},
        "request_type": request_type,
        "acknowledge": False,
        "delivery_method": DeliveryMethod.MAIL,
        "delivery_destination": "12 Ocean Avenue, San Francisco, CA 94112",
        **NO_SCOPE,
        **overrides,
    }
    return services.intake_receive(**values)


# --- The rules and the model ---------------------------------------------------------------------------------------


def test_164_528_the_checklist_asks_no_scope_of_an_accounting_request():
    assert rules.evaluate(_facts(RequestType.ACCOUNTING)) == []


@pytest.mark.parametrize(
    "request_type",
    [RequestType.RIGHT_OF_ACCESS, RequestType.AUTHORIZATION, RequestType.CONTINUITY_OF_CARE, RequestType.LEGAL,
     RequestType.OTHER],
)  # fmt: skip
def test_164_528_every_other_request_type_still_needs_record_types_or_dates(request_type):
    assert "SCOPE_UNCLEAR" in [d.code for d in rules.evaluate(_facts(request_type))]


def test_164_528_intake_gaps_ask_no_scope_of_an_accounting_request_only():
    fields = {**NO_SCOPE, "delivery_method": DeliveryMethod.PICKUP}
    assert RecordRequest(request_type=RequestType.ACCOUNTING, **fields).intake_gaps() == []
    assert RecordRequest(request_type=RequestType.RIGHT_OF_ACCESS, **fields).intake_gaps() == [SCOPE_GAP]


# --- The services --------------------------------------------------------------------------------------------------


def test_164_528_an_accounting_request_validates_without_record_types(tenant_a, alice):
    rr = _receive(tenant_a, alice, RequestType.ACCOUNTING)
    services.intake_review_save(tenant=tenant_a, actor=alice, record_request=rr, **VERIFIED)
    outcome = services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    assert (outcome.validated, outcome.deficiencies) == (True, [])
    assert outcome.record_request.state == RequestState.VALIDATED
    assert outcome.record_request.record_types == []


def test_164_528_a_right_of_access_request_without_a_scope_is_still_deficient(tenant_a, alice):
    rr = _receive(tenant_a, alice, RequestType.RIGHT_OF_ACCESS)
    services.intake_review_save(tenant=tenant_a, actor=alice, record_request=rr, **VERIFIED)
    outcome = services.intake_complete(tenant=tenant_a, actor=alice, record_request=rr)
    assert not outcome.validated
    assert [d.code for d in outcome.deficiencies] == ["SCOPE_UNCLEAR"]
    assert outcome.record_request.state == RequestState.EXCEPTION


def test_164_528_a_request_corrected_to_an_accounting_drops_its_scope_gap(tenant_a, alice):
    rr = _receive(tenant_a, alice, RequestType.RIGHT_OF_ACCESS)
    assert SCOPE_GAP in rr.intake_gaps()
    form = RequestDetailsForm(
        data={"request_type": RequestType.ACCOUNTING, "delivery_method": DeliveryMethod.PICKUP},
        record_request=rr,
        patient_unidentified=False,
    )
    assert form.is_valid(), form.errors
    updated = services.intake_details_update(tenant=tenant_a, actor=alice, record_request=rr, **form.details())
    assert (updated.request_type, updated.record_types, updated.intake_gaps()) == (RequestType.ACCOUNTING, [], [])


# --- The staff form and the API ------------------------------------------------------------------------------------


def _without_scope(data: dict) -> dict:
    for name in ("record_types", "scope_date_from", "scope_date_to", "scope_notes", "sensitive_categories"):
        data.pop(name)
    return data


def test_164_528_the_staff_form_receives_an_accounting_request_without_record_types(client_for, alice, tenant_a):
    data = _without_scope(form_data(tenant_a, request_type=RequestType.ACCOUNTING))
    response = client_for(alice).post(NEW_URL, data)
    assert response.status_code == 302
    rr = RecordRequest.objects.get()
    assert (rr.request_type, rr.record_types, rr.scope_date_from, rr.scope_date_to) == (
        RequestType.ACCOUNTING, [], None, None,
    )  # fmt: skip
    # What is left for the specialist is the identity check, not a scope.
    assert [d.code for d in services.intake_evaluate(tenant=tenant_a, record_request=rr)] == ["IDENTITY_NOT_VERIFIED"]


def test_164_528_the_api_creates_and_validates_an_accounting_request_without_record_types(
    client, alice, tenant_a, api_token_for
):
    headers = {"Authorization": f"Token {api_token_for(alice, tenant_a)[1]}"}
    body = {
        "patient": {"mrn": "A-1001", "first_name": "Rosa", "last_name": "Diaz", "date_of_birth": "1980-04-02"},
        "requestor": {"kind": "patient", "name": "Rosa Diaz", "email": "rosa@example.com"},
        "request_type": RequestType.ACCOUNTING,
        "channel": "phone",
        "delivery_method": DeliveryMethod.PICKUP,
    }
    created = client.post("/api/v1/requests/", json.dumps(body), content_type="application/json", headers=headers)
    assert created.status_code == 201, created.content
    number = created.json()["tracking_number"]
    assert created.json()["record_types"] == []
    reviewed = client.post(
        f"/api/v1/requests/{number}/intake-review/", json.dumps(VERIFIED), content_type="application/json",
        headers=headers,
    )  # fmt: skip
    assert reviewed.status_code == 200, reviewed.content
    validated = client.post(
        f"/api/v1/requests/{number}/validate/", "{}", content_type="application/json", headers=headers
    )
    assert validated.status_code == 200, validated.content
    assert (validated.json()["validated"], validated.json()["deficiencies"], validated.json()["state"]) == (
        True, [], RequestState.VALIDATED,
    )  # fmt: skip
