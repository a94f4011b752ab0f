"""What the schema says about the request API's answers, checked on real answers: the gaps the schema-driven
tests (test_api_schema.py) found, pinned one by one."""

from __future__ import annotations

import pytest
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.security.conftest import api_schema
from workflow.choices import RequestState

SCHEMA = api_schema()
DETAIL = SCHEMA["/api/v1/requests/{tracking_number}/"]["GET"]
CANCEL = SCHEMA["/api/v1/requests/{tracking_number}/cancel/"]["POST"]


def _check(case, response, *checks) -> None:  # type: ignore[no-untyped-def]
    case.validate_response(response, checks=list(checks))


@pytest.fixture
def headers(alice, tenant_a, api_token_for) -> dict[str, str]:
    return {"Authorization": f"Token {api_token_for(alice, tenant_a)[1]}"}


def test_an_unassigned_request_without_method_or_denial_matches_the_schema(request_in_state, wsgi_app, headers):
    """assignee is null, delivery_method and denial_basis are "" until set: the schema must allow all three."""
    rr = request_in_state(RequestState.RECEIVED, delivery_method="", delivery_destination="")
    assert rr.assignee_id is None and rr.denial_basis == ""
    case = DETAIL.Case(path_parameters={"tracking_number": rr.tracking_number})
    response = case.call(app=wsgi_app, headers=headers)
    assert response.status_code == 200
    _check(case, response, response_schema_conformance)
