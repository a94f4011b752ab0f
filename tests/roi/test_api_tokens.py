"""API tokens (`Authorization: Token <key>`, roi/api_auth.py): a token belongs to an integration client and acts as
its service account, with the client's role, in its own tenant only; each operation needs its declared scope (403
naming it); expired, revoked and rotated-out keys, and those of a deactivated client, answer 401; restricted requests
are missing for a token without the `restricted` scope; every use is an access event naming the client and the
token's prefix."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from fulfillment.api import FulfillmentRecordRequestViewSet
from roi.choices import AccessAction, ApiScope, Role
from roi.models import AccessEvent, ApiToken
from roi.services import API_TOKEN_ROTATION_GRACE_HOURS, api_token_rotate
from tests import factories
from workflow.choices import SensitiveCategory
from workflow.models import RecordRequest

LIST_URL = "/api/v1/requests/"


@pytest.fixture
def interface(tenant_a):
    """Tenant A's EHR interface: an integration client with a supervisor's permissions, so that only scopes stop it."""
    return factories.IntegrationClientFactory(tenant=tenant_a, name="Epic interface", role=Role.SUPERVISOR)


def _issue(client, *scopes: str, **fields: Any) -> tuple[ApiToken, str]:
    key = ApiToken.generate_key()
    token = factories.ApiTokenFactory(
        client=client,
        prefix=key[:8],
        key_digest=ApiToken.digest(key),
        scopes=list(scopes or ApiScope.values),
        **fields,
    )
    return token, key


def _get(url: str, authorization: str | None) -> Any:
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    return Client().get(url, **headers)


def _call(method: str, url: str, key: str, body: dict[str, Any] | None = None) -> Any:
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    if method == "get":
        return client.get(url)
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


# --- Who a token acts as -----------------------------------------------------------------------------------------


def test_a_token_acts_as_its_clients_service_account_in_its_tenant_only(tenant_a, tenant_b, interface):
    ours = factories.RecordRequestFactory(tenant=tenant_a)
    theirs = factories.RecordRequestFactory(tenant=tenant_b)
    _, key = _issue(interface)

    listing = _get(LIST_URL, f"Token {key}")
    assert listing.status_code == 200
    assert [row["tracking_number"] for row in listing.json()["results"]] == [ours.tracking_number]
    assert _get(f"{LIST_URL}{theirs.tracking_number}/", f"Token {key}").status_code == 404

    assert _get(f"{LIST_URL}{ours.tracking_number}/", f"Token {key}").status_code == 200
    event = AccessEvent.objects.get(action=AccessAction.VIEW_REQUEST)
    assert (event.tenant, event.actor, event.request_id) == (tenant_a, interface.service_user, ours.pk)
    assert event.actor.is_service_account
    assert not event.actor.memberships.exists()


def test_the_clients_role_applies_in_the_services(tenant_a):
    """A client with a specialist's permissions may not deny, whatever its scopes: roles apply to tokens as to
    people."""
    specialist_interface = factories.IntegrationClientFactory(tenant=tenant_a, role=Role.SPECIALIST)
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    _, key = _issue(specialist_interface)
    response = _call(
        "post",
        f"{LIST_URL}{rr.tracking_number}/deny/",
        key,
        {"basis": "not_held", "scope_denied": "All records", "explanation": "Held elsewhere"},
    )
    assert response.status_code == 403
    assert RecordRequest.objects.get(pk=rr.pk).state == "received"


def test_token_keyword_is_case_insensitive(interface):
    _, key = _issue(interface)
    assert _get(LIST_URL, f"token {key}").status_code == 200


# --- Scopes --------------------------------------------------------------------------------------------------------


def _operations() -> list[tuple[str, str, str]]:
    """(action, method, URL template) of every operation of the request API, from the viewset itself."""
    operations = [("list", "get", LIST_URL), ("retrieve", "get", LIST_URL + "{number}/"), ("create", "post", LIST_URL)]
    for extra in FulfillmentRecordRequestViewSet.get_extra_actions():
        for method, action in extra.mapping.items():
            operations.append((action, method, f"{LIST_URL}{{number}}/{extra.url_path}/"))
    return operations


def test_every_operation_of_the_api_declares_the_scope_a_token_needs():
    declared = FulfillmentRecordRequestViewSet.token_scopes
    assert {action for action, _, _ in _operations()} == set(declared)
    assert set(declared.values()) == {ApiScope.READ, ApiScope.INTAKE, ApiScope.TRANSITIONS}


@pytest.mark.parametrize("scope", [ApiScope.READ, ApiScope.INTAKE, ApiScope.TRANSITIONS])
def test_each_scope_allows_its_operations_and_no_others(scope, tenant_a, interface, media):
    _, key = _issue(interface, scope)
    declared = FulfillmentRecordRequestViewSet.token_scopes
    allowed, refused = [], []
    for action, method, template in _operations():
        rr = factories.RecordRequestFactory(tenant=tenant_a)
        before = (rr.state, rr.history.count())
        response = _call(method, template.format(number=rr.tracking_number), key)
        if declared[action] == scope:
            assert response.status_code != 403, (action, response.content[:300])
            allowed.append(action)
        else:
            assert response.status_code == 403, (action, response.status_code)
            assert f"lacks the '{declared[action]}' scope" in response.json()["detail"], action
            fresh = RecordRequest.objects.get(pk=rr.pk)
            assert (fresh.state, fresh.history.count()) == before, action
            refused.append(action)
    assert refused
    expected = {
        ApiScope.READ: {"list", "retrieve"},
        ApiScope.INTAKE: {"create", "intake_review", "authorization", "representative"},
    }
    if scope in expected:
        assert set(allowed) == expected[scope]
    else:
        assert {"validate", "deliver", "deny", "cancel", "assign", "extend"} <= set(allowed)


def test_a_missing_scope_is_named_in_a_clear_403(tenant_a, interface):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    _, key = _issue(interface, ApiScope.READ)
    response = _call("post", f"{LIST_URL}{rr.tracking_number}/cancel/", key, {"reason": "duplicate"})
    assert response.status_code == 403
    assert response.json() == {
        "detail": f"This token lacks the 'transitions' scope, which POST {LIST_URL}{rr.tracking_number}/cancel/ "
        "needs. Ask your organisation's admin for a token with the 'transitions' scope (Integrations page)."
    }
    assert RecordRequest.objects.get(pk=rr.pk).state == "received"


def test_an_operation_that_declares_no_scope_is_closed_to_tokens(interface):
    _, key = _issue(interface)  # every scope
    response = Client().options(LIST_URL, HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 403
    assert response.json()["detail"] == "This operation is not open to integration clients."


def test_staff_signed_in_through_the_browser_have_no_scopes_to_lack(tenant_a, alice, client_for):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    client = client_for(alice)
    assert client.get(LIST_URL).status_code == 200
    response = client.post(
        f"{LIST_URL}{rr.tracking_number}/cancel/", data={"reason": "duplicate"}, content_type="application/json"
    )
    assert response.status_code == 200


# --- Restricted requests -------------------------------------------------------------------------------------------


@pytest.fixture
def restricted(tenant_a):
    return factories.RecordRequestFactory(tenant=tenant_a, sensitive_categories=[SensitiveCategory.SUD_PART2])


def test_restricted_requests_are_missing_for_a_token_without_the_restricted_scope(tenant_a, interface, restricted):
    plain = factories.RecordRequestFactory(tenant=tenant_a)
    _, key = _issue(interface, ApiScope.READ, ApiScope.TRANSITIONS)
    listed = [row["tracking_number"] for row in _get(LIST_URL, f"Token {key}").json()["results"]]
    assert listed == [plain.tracking_number]
    detail = _get(f"{LIST_URL}{restricted.tracking_number}/", f"Token {key}")
    assert detail.status_code == 404
    assert restricted.patient.last_name not in detail.content.decode()
    cancel = _call("post", f"{LIST_URL}{restricted.tracking_number}/cancel/", key, {"reason": "duplicate"})
    assert cancel.status_code == 404
    assert RecordRequest.objects.get(pk=restricted.pk).state == "received"
    assert not AccessEvent.objects.filter(request_id=restricted.pk).exists()


def test_the_restricted_scope_shows_them(tenant_a, interface, restricted):
    _, key = _issue(interface, ApiScope.READ, ApiScope.RESTRICTED)
    listed = [row["tracking_number"] for row in _get(LIST_URL, f"Token {key}").json()["results"]]
    assert listed == [restricted.tracking_number]
    assert _get(f"{LIST_URL}{restricted.tracking_number}/", f"Token {key}").status_code == 200
    assert AccessEvent.objects.filter(action=AccessAction.VIEW_REQUEST, request_id=restricted.pk).count() == 1


def test_without_the_organisations_restriction_no_request_is_restricted(tenant_a, interface, restricted):
    tenant_a.restricted_requests_need_break_glass = False
    tenant_a.save()
    _, key = _issue(interface, ApiScope.READ)
    assert _get(f"{LIST_URL}{restricted.tracking_number}/", f"Token {key}").status_code == 200


def test_a_request_an_intake_token_creates_restricted_is_its_answer_then_missing(interface, media):
    _, key = _issue(interface, ApiScope.INTAKE, ApiScope.READ)
    body = {
        "patient": {"mrn": "A-1001", "first_name": "Rosa", "last_name": "Diaz", "date_of_birth": "1980-04-02"},
        "requestor": {"kind": "patient", "name": "Rosa Diaz"},
        "request_type": "right_of_access",
        "record_types": ["lab"],
        "sensitive_categories": [SensitiveCategory.HIV],
        "delivery_method": "portal_download",
    }
    created = _call("post", LIST_URL, key, body)
    assert created.status_code == 201, created.content
    number = created.json()["tracking_number"]
    assert _get(f"{LIST_URL}{number}/", f"Token {key}").status_code == 404
    assert _get(LIST_URL, f"Token {key}").json()["results"] == []


# --- Expiry, revocation, rotation, deactivation --------------------------------------------------------------------


def test_an_expired_token_answers_401_saying_so(interface):
    token, key = _issue(interface)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = _get(LIST_URL, f"Token {key}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "expired" in response.json()["detail"]
    assert "results" not in response.json()


def test_a_revoked_token_answers_401_saying_so(interface):
    token, key = _issue(interface)
    assert _get(LIST_URL, f"Token {key}").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    response = _get(LIST_URL, f"Token {key}")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_a_rotated_key_works_for_the_grace_period_then_answers_401(tenant_a, interface, monkeypatch):
    old, old_key = _issue(interface, ApiScope.READ)
    new, new_key = api_token_rotate(tenant=tenant_a, actor=None, token=old)
    old.refresh_from_db()
    assert old.replaced_by == new
    assert old.expires_at <= timezone.now() + timedelta(hours=API_TOKEN_ROTATION_GRACE_HOURS)
    assert (new.scopes, new.client) == (old.scopes, old.client)
    assert _get(LIST_URL, f"Token {old_key}").status_code == 200  # the integration switches without an outage
    assert _get(LIST_URL, f"Token {new_key}").status_code == 200

    later = timezone.now() + timedelta(hours=API_TOKEN_ROTATION_GRACE_HOURS, minutes=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert _get(LIST_URL, f"Token {old_key}").status_code == 401
    assert _get(LIST_URL, f"Token {new_key}").status_code == 200


def test_a_deactivated_client_or_organisation_answers_401(tenant_a, interface):
    _, key = _issue(interface)
    interface.is_active = False
    interface.save()
    response = _get(LIST_URL, f"Token {key}")
    assert response.status_code == 401
    assert "deactivated" in response.json()["detail"]
    interface.is_active = True
    interface.save()
    assert _get(LIST_URL, f"Token {key}").status_code == 200
    tenant_a.is_active = False
    tenant_a.save()
    assert _get(LIST_URL, f"Token {key}").status_code == 401


@pytest.mark.parametrize(
    "authorization",
    ["Token", "Token a b", "Token roi_not-a-real-key", "Token ", "Bearer {key}", "{key}", ""],
    ids=["no-key", "two-parts", "unknown-key", "empty-key", "other-scheme", "no-keyword", "empty"],
)
def test_malformed_or_unknown_credentials_answer_401_and_record_nothing(authorization, tenant_a, interface):
    _, key = _issue(interface)
    factories.RecordRequestFactory(tenant=tenant_a)
    response = _get(LIST_URL, authorization.format(key=key))
    assert response.status_code == 401
    assert "results" not in response.json()
    assert not AccessEvent.objects.exists()


# --- Audit and last use --------------------------------------------------------------------------------------------


def test_every_call_is_an_access_event_naming_the_client_and_the_token_prefix(tenant_a, interface):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    token, key = _issue(interface, ApiScope.READ)
    _get(f"{LIST_URL}{rr.tracking_number}/", f"Token {key}")
    _call("post", f"{LIST_URL}{rr.tracking_number}/cancel/", key, {"reason": "x"})  # refused: no scope

    calls = list(AccessEvent.objects.filter(action=AccessAction.API_CALL).order_by("id"))
    assert [event.detail for event in calls] == [
        f"GET {LIST_URL}{rr.tracking_number}/ with token {token.prefix}",
        f"POST {LIST_URL}{rr.tracking_number}/cancel/ with token {token.prefix}",
    ]
    for event in calls:
        assert (event.tenant, event.actor, event.actor_label) == (
            tenant_a,
            interface.service_user,
            "Epic interface (integration client)",
        )
        assert (event.object_type, event.object_id) == ("roi.ApiToken", str(token.pk))


def test_a_refused_key_is_recorded_too(tenant_a, interface):
    token, key = _issue(interface)
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    _get(LIST_URL, f"Token {key}")
    event = AccessEvent.objects.get()
    assert (event.action, event.tenant, event.actor_label) == (
        AccessAction.API_CALL,
        tenant_a,
        "Epic interface (integration client)",
    )
    assert event.detail == f"refused, revoked: GET {LIST_URL} with token {token.prefix}"


def test_last_used_at_is_recorded(interface):
    token, key = _issue(interface)
    assert token.last_used_at is None
    _get(LIST_URL, f"Token {key}")
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert timezone.now() - token.last_used_at < timedelta(seconds=30)


def test_last_used_at_is_written_at_most_once_a_minute(interface):
    token, key = _issue(interface)
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
