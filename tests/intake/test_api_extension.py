"""POST /api/v1/requests/<tracking_number>/extend/: the one extension of a right-of-access or accounting request
(45 CFR 164.524(b)(2), 164.528(c)(1)(ii)) through intake.services.extension_grant, with its written notice. Each refusal
says why; another organisation's request answers 404 and an anonymous call 401 (tests/security checks the answers
against the schema)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from django.test import Client

from intake.models import Extension, Letter
from roi import clock
from roi.models import ApiToken
from tests import factories
from workflow.choices import RequestorKind, RequestType
from workflow.models import RecordRequest

pytestmark = pytest.mark.usefixtures("media")


@pytest.fixture
def illinois(db):
    """An Illinois organisation: HIPAA's 30 days set the due date, and its one extension of up to 30 more."""
    tenant = factories.TenantFactory(slug="illinois", jurisdiction="IL", timezone="America/Chicago")
    user = factories.MembershipFactory(tenant=tenant, user__username="ivy").user
    return tenant, user


@pytest.fixture
def api(illinois, api_token_for):
    """Calls by the Illinois organisation's user, with its API token."""
    tenant, user = illinois
    return _caller(Client(HTTP_AUTHORIZATION=f"Token {api_token_for(user, tenant)[1]}"))


def _caller(client: Client):
    def extend(rr: RecordRequest, body: dict):
        url = f"/api/v1/requests/{rr.tracking_number}/extend/"
        return client.post(url, json.dumps(body), content_type="application/json")

    return extend


def _request(tenant, request_type: str = RequestType.RIGHT_OF_ACCESS) -> RecordRequest:
    return factories.RecordRequestFactory(
        tenant=tenant, request_type=request_type, requestor__kind=RequestorKind.PATIENT, requestor__organization=""
    )


@pytest.mark.parametrize("request_type", [RequestType.RIGHT_OF_ACCESS, RequestType.ACCOUNTING])
def test_164_524_b_2_the_extension_moves_the_due_date_and_generates_the_notice(api, illinois, request_type):
    tenant, _user = illinois
    rr = _request(tenant, request_type)
    original = rr.legal_due_date
    body = {"reason": "Records in off-site storage", "days": 20}
    response = api(rr, body)
    assert response.status_code == 200, response.content
    answer = response.json()
    new = original + timedelta(days=20)
    assert answer["legal_due_date"] == new.isoformat()
    assert answer["extension"]["original_due_date"] == original.isoformat()
    assert answer["extension"]["new_due_date"] == new.isoformat()
    interface = ApiToken.objects.get(tenant=tenant).user  # the organisation's interface granted it, as itself
    assert (answer["extension"]["reason"], answer["extension"]["granted_by"]) == (body["reason"], interface.username)
    assert answer["notice"]["kind"] == "extension"
    letter = Letter.objects.get(request=rr, kind="extension")
    assert letter.file.read(5) == b"%PDF-"
    assert letter.summary["new_due_date"] == new.isoformat()
    rr.refresh_from_db()
    assert rr.legal_due_date == new


def test_164_524_b_2_without_days_the_extension_takes_what_the_rule_allows(api, illinois):
    rr = _request(illinois[0])
    response = api(rr, {"reason": "Imaging from the archive"})
    assert response.status_code == 200, response.content
    assert response.json()["legal_due_date"] == (rr.legal_due_date + timedelta(days=30)).isoformat()


def test_164_524_b_2_a_second_extension_is_refused(api, illinois):
    rr = _request(illinois[0])
    assert api(rr, {"reason": "Off-site storage"}).status_code == 200
    body = {"reason": "Still waiting"}
    response = api(rr, body)
    assert response.status_code == 400
    assert response.json() == {"detail": "This request was already extended once; the law allows only one extension."}
    assert Extension.objects.filter(request=rr).count() == 1
    assert Letter.objects.filter(request=rr, kind="extension").count() == 1


def test_164_524_b_2_a_request_type_that_cannot_be_extended_is_refused(api, illinois):
    rr = _request(illinois[0], RequestType.AUTHORIZATION)
    response = api(rr, {"reason": "Off-site storage"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Only right-of-access and accounting requests can be extended."}
    assert not Extension.objects.exists()


def test_164_524_b_2_an_extension_after_the_due_date_is_refused(api, illinois):
    tenant, _ = illinois
    rr = _request(tenant)
    day_after = datetime.combine(rr.legal_due_date + timedelta(days=1), datetime.min.time(), tzinfo=tenant.tzinfo)
    with clock.frozen(day_after.replace(hour=12)):
        response = api(rr, {"reason": "Late"})
    assert response.status_code == 400
    assert response.json() == {
        "detail": f"The due date ({rr.legal_due_date:%b %-d, %Y}) has passed: an extension must be given before it."
    }
    assert not Extension.objects.exists()


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        (
            {"reason": "   "},
            {"detail": "Give the reason for the delay; it is printed on the notice.", "field": "reason"},
        ),
        ({"reason": "Off-site", "days": 31}, {"detail": "An extension may add 1 to 30 days.", "field": "days"}),
        ({}, {"reason": ["This field is required."]}),
    ],
)
def test_164_524_b_2_a_missing_reason_or_too_many_days_says_which_field(api, illinois, body, answer):
    rr = _request(illinois[0])
    response = api(rr, body)
    assert response.status_code == 400
    assert response.json() == answer
    assert not Extension.objects.exists()


def test_another_organisations_request_answers_404_and_is_not_extended(api, tenant_b):
    rr = _request(tenant_b)
    body = {"reason": "Off-site storage"}
    response = api(rr, body)
    assert response.status_code == 404
    assert not Extension.objects.exists()


def test_an_anonymous_call_is_refused(illinois):
    rr = _request(illinois[0])
    response = _caller(Client())(rr, {"reason": "Off-site storage"})
    assert response.status_code == 401
    assert not Extension.objects.exists()
