"""Hostile input against the request API: Schemathesis generates calls from the OpenAPI schema (valid and invalid
bodies and parameters, on tracking numbers of tenant A in every state and of tenant B) and sends them in-process to
the WSGI app, with an API token of tenant A for each role. No call may answer 5xx, and every answer must have a
status the schema declares and a body that matches it.

The calls run in the test's transaction (pytest-django's `db`, rolled back at the end): what one call changes the
next one sees (a request cancelled by one example answers the next with a 400), and nothing outlives the test.
Size: every operation x 3 roles x EXAMPLES_PER_OPERATION generated calls.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from roi.choices import Role
from tests import factories
from tests.security.conftest import api_schema
from workflow.choices import RequestState as S

# The same examples on every run, so CI does not turn red on a draw it never made before; ROI_FUZZ_RANDOM=1 explores
# new ones (run it when touching the API or the lifecycle, and pin what it finds as a test).
DERANDOMIZE = os.environ.get("ROI_FUZZ_RANDOM") != "1"

EXAMPLES_PER_OPERATION = 20
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
SCHEMA = api_schema()
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.fixture
def tracking_numbers(request_in_state, tenant_b) -> list[str]:
    """Tenant A's requests in every state the API acts on, and one of tenant B's (404 to tenant A's tokens)."""
    states = [S.RECEIVED, S.VALIDATED, S.IN_FULFILLMENT, S.EXCEPTION, S.DELIVERED, S.DENIED, S.CANCELLED]
    numbers = [request_in_state(state).tracking_number for state in states]
    return [*numbers, factories.RecordRequestFactory(tenant=tenant_b).tracking_number]


def test_the_schema_has_the_request_api():
    assert len(OPERATIONS) == 16


@pytest.mark.usefixtures("media")
@pytest.mark.parametrize("role", [Role.SPECIALIST, Role.SUPERVISOR, Role.ADMIN])
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_no_call_fails_the_server_or_the_schema(role, operation, tenant_a, api_token_for, wsgi_app, tracking_numbers):
    user = factories.MembershipFactory(tenant=tenant_a, role=role).user
    headers = {"Authorization": f"Token {api_token_for(user, tenant_a)[1]}"}
    takes_number = "tracking_number" in operation.path_parameters

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=DERANDOMIZE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def call(data: st.DataObject) -> None:
        mode = data.draw(st.sampled_from([GenerationMode.POSITIVE, GenerationMode.NEGATIVE]), label="mode")
        path = (
            {"tracking_number": data.draw(st.sampled_from(tracking_numbers), label="number")} if takes_number else None
        )
        case = data.draw(operation.as_strategy(generation_mode=mode, path_parameters=path), label="case")
        response = case.call(app=wsgi_app, headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    call()
