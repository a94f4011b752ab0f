"""The request API (/api/v1/requests/): cursor-paged list, audited retrieve, create with nested parties, one endpoint
per transition with the service's errors as 400/403/409, assignment, and the OpenAPI schema and docs."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone

from roi import clock
from roi.choices import AccessAction
from roi.models import AccessEvent
from tests import factories
from workflow.choices import Channel, RequestState, RequestType
from workflow.models import Patient, RecordRequest, Requestor, RequestTransition
from workflow.transitions import TRANSITIONS

S = RequestState
LIST_URL = "/api/v1/requests/"


def _post(client: Any, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def _action_url(rr: RecordRequest, name: str) -> str:
    return f"{LIST_URL}{rr.tracking_number}/{name.replace('_', '-')}/"


# --- List and retrieve ----------------------------------------------------------------------------------------


def test_list_is_cursor_paged_and_shows_only_the_tenant_rows(client_for, alice, tenant_a, tenant_b):
    now = timezone.now()
    ours = [
        factories.RecordRequestFactory(tenant=tenant_a, received_at=now - timedelta(days=days)) for days in (1, 2, 3)
    ]
    theirs = factories.RecordRequestFactory(tenant=tenant_b)
    client = client_for(alice)

    first = client.get(LIST_URL, {"page_size": 2})
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"next", "previous", "results"}  # cursor pagination: no count, no page numbers
    assert body["previous"] is None
    assert "cursor" in parse_qs(urlparse(body["next"]).query)
    assert [row["tracking_number"] for row in body["results"]] == [ours[0].tracking_number, ours[1].tracking_number]

    second = client.get(body["next"]).json()
    assert [row["tracking_number"] for row in second["results"]] == [ours[2].tracking_number]
    assert second["next"] is None
    assert theirs.tracking_number not in first.content.decode() + json.dumps(second)

    event = AccessEvent.objects.filter(action=AccessAction.LIST_REQUESTS).first()
    assert event.tenant == tenant_a
    assert event.actor == alice


def test_retrieve_writes_an_access_event(client_for, alice, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    response = client_for(alice).get(f"{LIST_URL}{rr.tracking_number}/")
    assert response.status_code == 200
    assert response.json()["patient"]["mrn"] == rr.patient.mrn
    event = AccessEvent.objects.get(action=AccessAction.VIEW_REQUEST)
    assert (event.tenant, event.actor, event.request_id, event.patient_id) == (tenant_a, alice, rr.pk, rr.patient_id)
    assert event.actor_label == "alice"


# --- Create -----------------------------------------------------------------------------------------------------


def _create_body(**overrides: Any) -> dict[str, Any]:
    """A valid create body for tenant A; an override of None leaves the field out."""
    body = {
        "patient": {"mrn": "A-1001", "first_name": "Rosa", "last_name": "Diaz", "date_of_birth": "1980-04-02"},
        "requestor": {"kind": "patient", "name": "Rosa Diaz", "email": "rosa@example.org"},
        "request_type": RequestType.RIGHT_OF_ACCESS,
        "record_types": ["lab"],
        "delivery_method": "email_link",
        "delivery_destination": "rosa@example.org",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def _counts() -> tuple[int, int, int]:
    return Patient.objects.count(), Requestor.objects.count(), RecordRequest.objects.count()


# 06:30 UTC on 1 March 2024 is still 29 February in Los Angeles (tenant A): the clock starts on the local date.
RECEIVED_AT = "2024-03-01T06:30:00Z"


@pytest.mark.parametrize(
    ("request_type", "due"),
    # Tenant A is in California: its 15-day example rule beats HIPAA's 30 days for the right of access.
    [(RequestType.RIGHT_OF_ACCESS, date(2024, 3, 15)), (RequestType.ACCOUNTING, date(2024, 4, 29))],
)
def test_create_starts_in_received_with_the_legal_due_date_in_the_tenant_time_zone(
    request_type, due, client_for, alice, tenant_a
):
    # The next day: a receipt time is taken from the last 180 days only (workflow/deadlines.py).
    with clock.frozen(datetime(2024, 3, 2, 9, 0, tzinfo=UTC)):
        response = _post(client_for(alice), LIST_URL, _create_body(request_type=request_type, received_at=RECEIVED_AT))
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["state"] == S.RECEIVED
    assert data["channel"] == Channel.API
    assert data["legal_due_date"] == due.isoformat()
    rr = RecordRequest.objects.get(tracking_number=data["tracking_number"])
    assert rr.tenant == tenant_a
    assert rr.patient.tenant == tenant_a
    assert rr.requestor.tenant == tenant_a
    assert rr.legal_due_date == due


def test_create_matches_an_existing_patient_by_mrn_within_the_tenant(client_for, alice, tenant_a):
    existing = factories.PatientFactory(
        tenant=tenant_a, mrn="A-1001", first_name="Rosa", last_name="Diaz", date_of_birth=date(1980, 4, 2)
    )
    before = _counts()
    response = _post(client_for(alice), LIST_URL, _create_body())
    assert response.status_code == 201
    assert response.json()["patient"]["id"] == existing.pk
    assert _counts() == (before[0], before[1] + 1, before[2] + 1)


def test_create_does_not_match_a_patient_of_another_tenant(client_for, alice, tenant_a, tenant_b):
    foreign = factories.PatientFactory(tenant=tenant_b, mrn="A-1001")
    response = _post(client_for(alice), LIST_URL, _create_body())
    assert response.status_code == 201
    created = Patient.objects.get(pk=response.json()["patient"]["id"])
    assert created.pk != foreign.pk
    assert (created.tenant, created.mrn, created.last_name) == (tenant_a, "A-1001", "Diaz")


@pytest.mark.parametrize(
    ("overrides", "error_field"),
    [
        ({"scope_date_from": "2024-05-01", "scope_date_to": "2024-01-01"}, "scope_date_from"),
        ({"request_type": "gossip"}, "request_type"),
        ({"patient": None}, "patient"),
        ({"patient": {"mrn": "A-1001"}}, "patient"),
        ({"requestor": {"kind": "landlord", "name": "X"}}, "requestor"),
    ],
    ids=["scope-dates-reversed", "unknown-request-type", "missing-patient", "incomplete-patient", "bad-requestor"],
)
def test_invalid_create_answers_400_with_field_errors_and_saves_nothing(
    overrides, error_field, client_for, alice, tenant_a
):
    before = _counts()
    response = _post(client_for(alice), LIST_URL, _create_body(**overrides))
    assert response.status_code == 400
    assert error_field in response.json()
    assert _counts() == before


def test_create_with_a_future_receipt_time_is_refused_on_its_field_and_saves_nothing(client_for, alice, tenant_a):
    """The serializer asks the check request_create asks (workflow/deadlines.py), before any patient or requestor is
    made. A refusal after they are made rolls them back: tests/intake/test_api_intake.py (a renamed program)."""
    before = _counts()
    future = (timezone.now() + timedelta(days=2)).isoformat()
    response = _post(client_for(alice), LIST_URL, _create_body(received_at=future))
    assert response.status_code == 400
    [message] = response.json()["received_at"]
    assert message.startswith("The receipt time cannot be in the future. Enter when the request reached the")
    assert _counts() == before


# --- Transitions ------------------------------------------------------------------------------------------------


def test_full_path_through_the_api_from_received_to_closed(client_for, alice, tenant_a, media):
    rr = factories.RecordRequestFactory(tenant=tenant_a, intake_completed_at=None)
    form = factories.IntakeDocumentFactory(request=rr, tenant=tenant_a)
    client = client_for(alice)
    complete_authorization = {
        "auth_describes_information": True, "auth_names_discloser": True, "auth_names_recipient": True,
        "auth_states_purpose": True, "auth_right_to_revoke_statement": True, "auth_conditioning_statement": True,
        "auth_redisclosure_statement": True, "auth_plain_language": True,
    }  # fmt: skip
    assert _post(client, _action_url(rr, "intake_review"), complete_authorization).status_code == 200
    signed = {
        "document": form.pk, "signer_name": rr.patient.full_name, "signed_on": str(timezone.localdate(timezone=tenant_a.tzinfo)),
        "expires_on": "2099-01-01", "recipient": rr.requestor.organization,
    }  # fmt: skip
    response = _post(client, _action_url(rr, "authorization"), signed)
    assert response.status_code == 200, response.content
    assert response.json()["authorization"]["expires_on"] == "2099-01-01"
    steps = [
        ("validate", {"expected_state": S.RECEIVED}, S.VALIDATED),
        ("start_fulfillment", {"expected_state": S.VALIDATED}, S.IN_FULFILLMENT),
    ]
    for name, body, state in steps:
        response = _post(client, _action_url(rr, name), body)
        assert response.status_code == 200, (name, response.content)
        assert response.json()["state"] == state, name
    # Delivery (with its packet, QC and evidence) and the rest: tests/fulfillment/test_api.py.
    log = list(RequestTransition.objects.filter(request=rr).values_list("transition", "actor__username"))
    assert log == [(n, "alice") for n in ("validate", "start_fulfillment")]


@pytest.mark.parametrize(
    ("name", "source", "body", "target", "actor"),
    [
        (
            "raise_exception",
            S.VALIDATED,
            {
                "reason": "expired_authorization",
                "detail": "Authorization expired",
                "next_step": "Ask for a new one",
                "next_action_due": "2099-01-01",
            },
            S.EXCEPTION,
            "alice",
        ),
        ("resolve", S.EXCEPTION, {"reason": "New authorization received"}, S.RECEIVED, "alice"),
        ("cancel", S.VALIDATED, {"reason": "Withdrawn by the requestor"}, S.CANCELLED, "alice"),
    ],
)
def test_other_transition_endpoints_move_the_request(
    name, source, body, target, actor, request, request_in_state, client_for
):
    rr = request_in_state(source)
    response = _post(client_for(request.getfixturevalue(actor)), _action_url(rr, name), body)
    assert response.status_code == 200, response.content
    assert response.json()["state"] == target
    log = RequestTransition.objects.filter(request=rr).latest("at")
    assert log.transition == name
    assert body.get("detail", body["reason"]) in log.reason  # an exception's log reads "<reason label>: <detail>"


def test_every_transition_has_an_endpoint():
    for name in TRANSITIONS:
        assert reverse(f"request-{name.replace('_', '-')}", args=["ROI-2222-2222-2222"]).endswith(
            f"/{name.replace('_', '-')}/"
        )


def test_transition_missing_its_reason_answers_400_naming_the_field(client_for, alice, request_in_state):
    rr = request_in_state(S.VALIDATED)
    response = _post(client_for(alice), _action_url(rr, "cancel"), {})
    assert response.status_code == 400
    assert response.json() == {"detail": "Why it is cancelled is required.", "field": "reason"}


def test_stale_expected_state_answers_409_and_changes_nothing(client_for, alice, request_in_state):
    rr = request_in_state(S.VALIDATED)
    log_rows = RequestTransition.objects.filter(request=rr).count()
    response = _post(client_for(alice), _action_url(rr, "cancel"), {"expected_state": S.RECEIVED, "reason": "dup"})
    assert response.status_code == 409
    assert "changed since you opened it" in response.json()["detail"]
    rr.refresh_from_db()
    assert rr.state == S.VALIDATED
    assert RequestTransition.objects.filter(request=rr).count() == log_rows


# --- Assign -----------------------------------------------------------------------------------------------------


def test_specialist_can_claim_for_themselves(client_for, alice, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    response = _post(client_for(alice), _action_url(rr, "assign"), {"assignee": alice.pk})
    assert response.status_code == 200
    assert response.json()["assignee"] == "alice"


def test_specialist_cannot_assign_someone_else(client_for, alice, sam, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    response = _post(client_for(alice), _action_url(rr, "assign"), {"assignee": sam.pk})
    assert response.status_code == 403
    assert "Only a supervisor or admin" in response.json()["detail"]
    rr.refresh_from_db()
    assert rr.assignee is None


def test_supervisor_assigns_and_unassigns(client_for, alice, sam, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    client = client_for(sam)
    assert _post(client, _action_url(rr, "assign"), {"assignee": alice.pk}).json()["assignee"] == "alice"
    rr.refresh_from_db()
    assert rr.assignee == alice
    assert _post(client, _action_url(rr, "assign"), {"assignee": None}).json()["assignee"] is None


def test_assigning_a_user_of_another_tenant_answers_404(client_for, sam, charlie, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    response = _post(client_for(sam), _action_url(rr, "assign"), {"assignee": charlie.pk})
    assert response.status_code == 404
    rr.refresh_from_db()
    assert rr.assignee is None


# --- Schema and docs ----------------------------------------------------------------------------------------


def test_schema_is_an_openapi_document_with_every_transition_path(client_for, alice):
    response = client_for(alice).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for name in [*TRANSITIONS, "assign"]:
        path = f"/api/v1/requests/{{tracking_number}}/{name.replace('_', '-')}/"
        assert "post" in paths[path], path
    assert {"get", "post"} <= set(paths["/api/v1/requests/"])


def test_docs_page_renders_with_local_swagger_assets(client_for, alice):
    response = client_for(alice).get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    # Served from our own static files (hashed names under the manifest storage), never from a CDN.
    assert re.search(r'"/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle(\.[0-9a-f]+)?\.js"', page)
    assert "cdn.jsdelivr.net" not in page
    assert "unpkg.com" not in page
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
