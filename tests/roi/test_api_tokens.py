"""API tokens (`Authorization: Token <key>`): a token acts as its service user in its own tenant only; revoked,
unknown and malformed credentials answer 401; a service user without a role in the token's tenant answers 403."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from roi.choices import AccessAction, Role
from roi.models import AccessEvent, ApiToken
from tests import factories
from workflow.models import RecordRequest

LIST_URL = "/api/v1/requests/"


@pytest.fixture
def service_user(tenant_a):
    """The integration's service user: a specialist in tenant A."""
    return factories.MembershipFactory(tenant=tenant_a, user__username="ehr-sync", role=Role.SPECIALIST).user


def _get(url: str, authorization: str | None) -> object:
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    return Client().get(url, **headers)


def test_valid_token_acts_as_its_service_user_in_its_tenant_only(tenant_a, tenant_b, service_user, api_token_for):
    # The service user also works in tenant B; the token still sees tenant A only.
    factories.MembershipFactory(tenant=tenant_b, user=service_user, role=Role.SUPERVISOR)
    ours = factories.RecordRequestFactory(tenant=tenant_a)
    theirs = factories.RecordRequestFactory(tenant=tenant_b)
    _, key = api_token_for(service_user, tenant_a)

    listing = _get(LIST_URL, f"Token {key}")
    assert listing.status_code == 200
    assert [row["tracking_number"] for row in listing.json()["results"]] == [ours.tracking_number]
    assert _get(f"{LIST_URL}{theirs.tracking_number}/", f"Token {key}").status_code == 404

    detail = _get(f"{LIST_URL}{ours.tracking_number}/", f"Token {key}")
    assert detail.status_code == 200
    event = AccessEvent.objects.get(action=AccessAction.VIEW_REQUEST)
    assert (event.tenant, event.actor, event.request_id) == (tenant_a, service_user, ours.pk)


def test_token_acts_with_the_role_of_its_service_user(tenant_a, service_user, api_token_for):
    """The specialist service user may not deny: roles apply to tokens exactly as to people."""
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    _, key = api_token_for(service_user, tenant_a)
    response = Client().post(
        f"{LIST_URL}{rr.tracking_number}/deny/",
        data={"basis": "not_held", "scope_denied": "All records", "explanation": "Held elsewhere"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {key}",
    )
    assert response.status_code == 403
    assert RecordRequest.objects.get(pk=rr.pk).state == "received"


def test_token_keyword_is_case_insensitive(tenant_a, service_user, api_token_for):
    _, key = api_token_for(service_user, tenant_a)
    assert _get(LIST_URL, f"token {key}").status_code == 200


def test_revoked_token_answers_401(tenant_a, service_user, api_token_for):
    token, key = api_token_for(service_user, tenant_a)
    assert _get(LIST_URL, f"Token {key}").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    response = _get(LIST_URL, f"Token {key}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(
    "authorization",
    ["Token", "Token a b", "Token roi_not-a-real-key", "Token ", "Bearer {key}", "{key}", ""],
    ids=["no-key", "two-parts", "unknown-key", "empty-key", "other-scheme", "no-keyword", "empty"],
)
def test_malformed_or_unknown_credentials_answer_401(authorization, tenant_a, service_user, api_token_for):
    _, key = api_token_for(service_user, tenant_a)
    factories.RecordRequestFactory(tenant=tenant_a)
    response = _get(LIST_URL, authorization.format(key=key))
    assert response.status_code == 401
    assert "results" not in response.json()


def test_token_of_an_inactive_user_or_tenant_answers_401(tenant_a, service_user, api_token_for):
    _, key = api_token_for(service_user, tenant_a)
    service_user.is_active = False
    service_user.save()
    assert _get(LIST_URL, f"Token {key}").status_code == 401
    service_user.is_active = True
    service_user.save()
    tenant_a.is_active = False
    tenant_a.save()
    assert _get(LIST_URL, f"Token {key}").status_code == 401


def test_last_used_at_is_recorded(tenant_a, service_user, api_token_for):
    token, key = api_token_for(service_user, tenant_a)
    assert token.last_used_at is None
    _get(LIST_URL, f"Token {key}")
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert timezone.now() - token.last_used_at < timedelta(seconds=30)


def test_last_used_at_is_written_at_most_once_a_minute(tenant_a, service_user, api_token_for):
    token, key = api_token_for(service_user, tenant_a)
    recent = timezone.now() - timedelta(seconds=10)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=recent)
    _get(LIST_URL, f"Token {key}")
    token.refresh_from_db()
    assert token.last_used_at == recent

    stale = timezone.now() - timedelta(minutes=5)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=stale)
    _get(LIST_URL, f"Token {key}")
    token.refresh_from_db()
    assert token.last_used_at > stale + timedelta(minutes=4)


def test_token_whose_user_has_no_membership_in_its_tenant_answers_403(tenant_a, tenant_b, api_token_for):
    # Member of tenant B only, but holding a token of tenant A.
    user = factories.MembershipFactory(tenant=tenant_b, user__username="stray-sync", role=Role.SUPERVISOR).user
    factories.RecordRequestFactory(tenant=tenant_a)
    _, key = api_token_for(user, tenant_a)
    response = _get(LIST_URL, f"Token {key}")
    assert response.status_code == 403
    assert response.json() == {"detail": "You have no access to this organisation's requests."}
    assert not AccessEvent.objects.exists()


def test_token_whose_membership_is_inactive_answers_403(tenant_a, service_user, api_token_for):
    _, key = api_token_for(service_user, tenant_a)
    service_user.memberships.update(is_active=False)
    assert _get(LIST_URL, f"Token {key}").status_code == 403
