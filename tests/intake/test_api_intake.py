"""The request API through intake (intake/api/): create via intake_receive with documents and Idempotency-Key,
exceptions with their episode, validate running the intake checklist, the checklist answers endpoint; through the
routes roi/urls.py mounts at /api/v1/."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from django.test import Client

from exceptions.models import ExceptionEpisode
from intake.models import IdempotencyKey, IntakeDocument, IntakeReview, Letter
from tests import factories
from tests.concurrency import run_at_once
from tests.intake import messages
from workflow.choices import Channel, DeliveryMethod, RequestorKind, RequestState, RequestType
from workflow.models import Patient, RecordRequest, Requestor

LIST_URL = "/api/v1/requests/"
S = RequestState


def _b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


def _body(**overrides: Any) -> dict[str, Any]:
    body = {
        "patient": {"mrn": "A-1001", "first_name": "Rosa", "last_name": "Diaz", "date_of_birth": "1980-04-02"},
        "requestor": {"kind": "patient", "name": "Rosa Diaz"},
        "request_type": RequestType.RIGHT_OF_ACCESS,
        "record_types": ["lab"],
        "delivery_method": "portal_download",
        "documents": [
            {"kind": "request_letter", "filename": "request.pdf", "content_base64": _b64(messages.pdf_bytes(2))}
        ],
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def _api(key: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {key}")


def _post(client: Client, url: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def _counts() -> tuple[int, int, int, int]:
    return (
        Patient.objects.count(),
        Requestor.objects.count(),
        RecordRequest.objects.count(),
        IntakeDocument.objects.count(),
    )


@pytest.fixture
def alice_token(alice, tenant_a, api_token_for):
    """A token of tenant A's interface with Alice's (a specialist's) permissions; it acts as its own account."""
    return api_token_for(alice, tenant_a)


@pytest.fixture
def alice_api(alice_token) -> Client:
    return _api(alice_token[1])


# --- Create -----------------------------------------------------------------------------------------------------


def test_create_with_a_token_goes_through_intake(alice_api, tenant_a):
    response = _post(alice_api, LIST_URL, _body())

    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["state"], data["channel"]) == (S.RECEIVED, Channel.API)
    rr = RecordRequest.objects.get(tracking_number=data["tracking_number"])
    assert rr.tenant == tenant_a
    (document,) = IntakeDocument.objects.filter(request=rr)
    assert (document.kind, document.source, document.page_count) == ("request_letter", "api", 2)
    # intake_receive sends the acknowledgment letter.
    assert Letter.objects.filter(request=rr, kind="acknowledgment").count() == 1


def test_the_same_idempotency_key_and_body_replays_the_first_request(alice_api):
    first = _post(alice_api, LIST_URL, _body(), **{"Idempotency-Key": "order-7731"})
    before = _counts()

    again = _post(alice_api, LIST_URL, _body(), **{"Idempotency-Key": "order-7731"})

    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["tracking_number"] == first.json()["tracking_number"]
    assert again.json() == first.json()
    assert _counts() == before
    assert Letter.objects.count() == 1


def test_the_same_key_with_another_body_answers_422_and_creates_nothing(alice_api):
    _post(alice_api, LIST_URL, _body(), **{"Idempotency-Key": "order-7731"})
    before = _counts()

    response = _post(alice_api, LIST_URL, _body(record_types=["billing"]), **{"Idempotency-Key": "order-7731"})

    assert response.status_code == 422
    assert "already used with a different request body" in response.json()["detail"]
    assert _counts() == before


def test_without_a_key_each_call_creates_a_request(alice_api):
    first = _post(alice_api, LIST_URL, _body(documents=None)).json()
    second = _post(alice_api, LIST_URL, _body(documents=None)).json()
    assert first["tracking_number"] != second["tracking_number"]
    assert RecordRequest.objects.count() == 2
    assert Patient.objects.count() == 1  # matched by MRN the second time


def test_keys_are_per_tenant(alice_api, charlie, tenant_b, api_token_for):
    charlie_api = _api(api_token_for(charlie, tenant_b)[1])
    a = _post(alice_api, LIST_URL, _body(), **{"Idempotency-Key": "k-1"})
    b = _post(charlie_api, LIST_URL, _body(), **{"Idempotency-Key": "k-1"})
    assert (a.status_code, b.status_code) == (201, 201)
    assert RecordRequest.objects.get(tracking_number=b.json()["tracking_number"]).tenant == tenant_b


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_calls_with_one_key_create_one_request(alice, tenant_a, api_token_for):
    key = api_token_for(alice, tenant_a)[1]
    body = _body(documents=None)

    race = run_at_once(lambda: _post(_api(key), LIST_URL, body, **{"Idempotency-Key": "race-1"}), n=2)

    assert race.errors == []
    results = race.results
    assert sorted(r.status_code for r in results) == [200, 201]
    assert results[0].json()["tracking_number"] == results[1].json()["tracking_number"]
    assert RecordRequest.objects.count() == 1
    assert Patient.objects.count() == 1
    assert IdempotencyKey.objects.get().request == RecordRequest.objects.get()


@pytest.mark.parametrize(
    ("overrides", "error_field"),
    [
        ({"patient": None}, "patient"),
        ({"request_type": "gossip"}, "request_type"),
        ({"requestor": {"kind": "landlord", "name": "X"}}, "requestor"),
        (
            {"documents": [{"kind": "request_letter", "filename": "a.pdf", "content_base64": "%%%not base64"}]},
            "documents",
        ),
        ({"documents": [{"kind": "selfie", "filename": "a.pdf", "content_base64": _b64(b"%PDF-")}]}, "documents"),
    ],
    ids=["missing-patient", "unknown-type", "bad-requestor", "bad-base64", "bad-document-kind"],
)
def test_invalid_input_answers_400_with_field_errors_and_saves_nothing(overrides, error_field, alice_api):
    before = _counts()
    response = _post(alice_api, LIST_URL, _body(**overrides), **{"Idempotency-Key": "k-invalid"})
    assert response.status_code == 400
    assert error_field in response.json()
    assert _counts() == before
    assert not IdempotencyKey.objects.exists()


def test_a_renamed_program_is_refused_like_an_upload_and_nothing_is_saved(alice_api):
    before = _counts()
    exe = {"kind": "authorization", "filename": "authorization.pdf", "content_base64": _b64(messages.EXE_BYTES)}
    response = _post(alice_api, LIST_URL, _body(documents=[_body()["documents"][0], exe]))
    assert response.status_code == 400
    assert "Windows program" in response.json()["detail"]
    assert _counts() == before


def test_an_mrn_with_other_demographics_is_refused(alice_api, tenant_a):
    factories.PatientFactory(tenant=tenant_a, mrn="A-1001", last_name="Someone-Else")
    response = _post(alice_api, LIST_URL, _body(documents=None))
    assert response.status_code == 400
    assert response.json()["field"] == "mrn"
    assert RecordRequest.objects.count() == 0


def test_anonymous_and_other_tenant_callers_get_nothing(client, charlie, tenant_b, tenant_a, api_token_for):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    assert _post(client, LIST_URL, _body()).status_code == 401
    charlie_api = _api(api_token_for(charlie, tenant_b)[1])
    response = _post(charlie_api, f"{LIST_URL}{rr.tracking_number}/intake-review/", {"identity_verified": True})
    assert response.status_code == 404
    assert not IntakeReview.objects.exists()


# --- Exceptions with their episode ----------------------------------------------------------------------------


def test_raise_exception_opens_an_episode(alice_api, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    body = {
        "reason": "scope_unclear",
        "detail": "The letter asks for 'everything'.",
        "next_step": "Call the requestor to narrow the scope.",
        "next_action_due": "2999-01-01",
        "expected_state": S.RECEIVED,
    }

    response = _post(alice_api, f"{LIST_URL}{rr.tracking_number}/raise-exception/", body)

    assert response.status_code == 200, response.content
    assert response.json()["state"] == S.EXCEPTION
    episode = ExceptionEpisode.objects.get(request=rr)
    # An integration owns no work (it cannot sign in): unassigned, the episode waits unowned, which supervisors see.
    assert (episode.reason, episode.next_step, episode.owner, episode.resolved_at) == (
        "scope_unclear",
        "Call the requestor to narrow the scope.",
        None,
        None,
    )


def test_raise_exception_without_its_next_step_answers_400(alice_api, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    response = _post(alice_api, f"{LIST_URL}{rr.tracking_number}/raise-exception/", {"reason": "other", "detail": "x"})
    assert response.status_code == 400
    assert {"next_step", "next_action_due"} <= set(response.json())
    rr.refresh_from_db()
    assert rr.state == S.RECEIVED
    assert not ExceptionEpisode.objects.exists()


def test_resolve_closes_the_episode(alice_api, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    _post(
        alice_api,
        f"{LIST_URL}{rr.tracking_number}/raise-exception/",
        {"reason": "other", "detail": "x", "next_step": "Wait.", "next_action_due": "2999-01-01"},
    )
    response = _post(alice_api, f"{LIST_URL}{rr.tracking_number}/resolve/", {"resolution": "Sorted by phone."})
    assert response.status_code == 200, response.content
    assert response.json()["state"] == S.RECEIVED
    episode = ExceptionEpisode.objects.get(request=rr)
    assert episode.resolution == "Sorted by phone."
    assert episode.resolved_at is not None


# --- The checklist ----------------------------------------------------------------------------------------------


def _own_request(tenant) -> RecordRequest:
    """A patient's own right-of-access request, complete but for the checklist answers."""
    return factories.RecordRequestFactory(
        tenant=tenant,
        request_type=RequestType.RIGHT_OF_ACCESS,
        requestor__kind=RequestorKind.PATIENT,
        delivery_method=DeliveryMethod.PICKUP,
        delivery_destination="",
        intake_completed_at=None,
    )


def test_validate_runs_the_checklist_and_reports_deficiencies(alice_api, tenant_a):
    rr = _own_request(tenant_a)

    response = _post(alice_api, f"{LIST_URL}{rr.tracking_number}/validate/", {"expected_state": S.RECEIVED})

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["state"], data["validated"]) == (S.EXCEPTION, False)
    assert [d["code"] for d in data["deficiencies"]] == ["IDENTITY_NOT_VERIFIED"]
    episode = ExceptionEpisode.objects.get(request=rr)
    assert episode.deficiency_codes == ["IDENTITY_NOT_VERIFIED"]
    assert Letter.objects.filter(request=rr, kind="deficiency").exists()


def test_checklist_answers_then_validate_validates(alice_api, alice_token, tenant_a):
    rr = _own_request(tenant_a)
    review = _post(
        alice_api,
        f"{LIST_URL}{rr.tracking_number}/intake-review/",
        {"identity_verified": True, "identity_method": "photo_id_copy"},
    )
    assert review.status_code == 200, review.content
    assert (review.json()["identity_verified"], review.json()["reviewed_by"]) == (True, alice_token[0].user.username)

    response = _post(alice_api, f"{LIST_URL}{rr.tracking_number}/validate/", {})

    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["validated"], response.json()["deficiencies"]) == (
        S.VALIDATED,
        True,
        [],
    )
    rr.refresh_from_db()
    assert rr.intake_completed_at is not None


def test_an_invalid_checklist_answer_answers_400(alice_api, tenant_a):
    rr = _own_request(tenant_a)
    response = _post(alice_api, f"{LIST_URL}{rr.tracking_number}/intake-review/", {"identity_method": "guess"})
    assert response.status_code == 400
    assert "identity_method" in response.json()
    assert not IntakeReview.objects.exists()
