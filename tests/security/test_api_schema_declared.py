"""What the schema says about the request API's answers, checked on real answers: the gaps the schema-driven
tests (test_api_schema.py) found, pinned one by one."""

from __future__ import annotations

import pytest
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests import factories
from tests.security.conftest import api_schema
from workflow.choices import RequestState

SCHEMA = api_schema()
DETAIL = SCHEMA["/api/v1/requests/{tracking_number}/"]["GET"]
JSON = "application/json"
CANCEL = SCHEMA["/api/v1/requests/{tracking_number}/cancel/"]["POST"]


def _check(case, response, *checks) -> None:
    case.validate_response(response, checks=list(checks))


@pytest.fixture
def headers(alice, tenant_a, api_token_for) -> dict[str, str]:
    return {"Authorization": f"Token {api_token_for(alice, tenant_a)[1]}"}


def test_an_unassigned_request_without_method_or_denial_matches_the_schema(request_in_state, wsgi_app, headers):
    """assignee is null, delivery_method and denial_basis are "" until set: the schema must allow all three."""
    rr = request_in_state(RequestState.RECEIVED, delivery_method="", delivery_destination="")
    assert rr.assignee_id is None
    assert rr.denial_basis == ""
    case = DETAIL.Case(path_parameters={"tracking_number": rr.tracking_number})
    response = case.call(app=wsgi_app, headers=headers)
    assert response.status_code == 200
    _check(case, response, response_schema_conformance)


def test_the_token_scheme_is_in_the_schema():
    schemes = SCHEMA.raw_schema["components"]["securitySchemes"]
    assert schemes["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'Token-based authentication with required prefix "Token"',
    }
    assert {"tokenAuth": []} in SCHEMA.raw_schema["paths"]["/api/v1/requests/"]["get"]["security"]


def test_error_answers_are_declared_with_their_bodies(request_in_state, tenant_b, wsgi_app, headers):
    """400 (a guard), 403 (a specialist may not deny), 404 (another tenant's request), 409 (a stale expected_state),
    401 (no token): each is a status the schema lists, with the body it describes."""
    received = request_in_state(RequestState.RECEIVED).tracking_number
    other_tenant = factories.RecordRequestFactory(tenant=tenant_b).tracking_number
    deny = SCHEMA["/api/v1/requests/{tracking_number}/deny/"]["POST"]
    body = {"basis": "not_held", "scope_denied": "all", "explanation": "not held here"}
    calls = [
        (CANCEL.Case(path_parameters={"tracking_number": received}, body={}, media_type=JSON), headers, 400),
        (deny.Case(path_parameters={"tracking_number": received}, body=body, media_type=JSON), headers, 403),
        (
            CANCEL.Case(path_parameters={"tracking_number": other_tenant}, body={"reason": "x"}, media_type=JSON),
            headers,
            404,
        ),
        (
            CANCEL.Case(
                path_parameters={"tracking_number": received},
                body={"reason": "x", "expected_state": "validated"},
                media_type=JSON,
            ),
            headers,
            409,
        ),
        (DETAIL.Case(path_parameters={"tracking_number": received}), {}, 401),
    ]
    for case, sent_headers, expected in calls:
        response = case.call(app=wsgi_app, headers=sent_headers)
        assert response.status_code == expected, (expected, response.text)
        _check(case, response, status_code_conformance, response_schema_conformance)


def test_the_extension_answers_are_declared_with_their_bodies(
    request_in_state, tenant_a, tenant_b, wsgi_app, headers, media
):
    """extend: 200 with the request, the extension and the notice; 400 for a type that cannot be extended (a service
    error) and for a missing reason (a validation error); 404 for another tenant's request."""
    tenant_a.jurisdiction = "IL"  # California's example rule allows no extension; HIPAA's allows one
    tenant_a.save()
    extend = SCHEMA["/api/v1/requests/{tracking_number}/extend/"]["POST"]
    access = request_in_state(RequestState.RECEIVED, request_type="right_of_access").tracking_number
    authorization = request_in_state(RequestState.RECEIVED).tracking_number
    other_tenant = factories.RecordRequestFactory(tenant=tenant_b, request_type="right_of_access").tracking_number
    calls = [
        (access, {"reason": "Records in off-site storage"}, 200),
        (authorization, {"reason": "Records in off-site storage"}, 400),
        (access, {}, 400),
        (other_tenant, {"reason": "Records in off-site storage"}, 404),
    ]
    for number, body, expected in calls:
        case = extend.Case(path_parameters={"tracking_number": number}, body=body, media_type=JSON)
        response = case.call(app=wsgi_app, headers=headers)
        assert response.status_code == expected, (expected, response.text)
        _check(case, response, status_code_conformance, response_schema_conformance)


def test_a_control_character_in_a_query_or_path_answers_a_declared_400(request_in_state, wsgi_app, headers):
    """roi.security.InputHygieneMiddleware refuses it before the view: the schema lists that 400 for reads too (the
    schema-driven test sends such parameters)."""
    listing = SCHEMA["/api/v1/requests/"]["GET"]
    number = request_in_state(RequestState.RECEIVED).tracking_number
    calls = [
        listing.Case(query={"page_size": "1\x00"}),
        DETAIL.Case(path_parameters={"tracking_number": number + "\x1f"}),
        CANCEL.Case(path_parameters={"tracking_number": number}, body={"reason": "x\x00"}, media_type=JSON),
    ]
    for case in calls:
        response = case.call(app=wsgi_app, headers=headers)
        assert response.status_code == 400, response.text
        assert "control character" in response.json()["detail"]
        _check(case, response, status_code_conformance, response_schema_conformance)
