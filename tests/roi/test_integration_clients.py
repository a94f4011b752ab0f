"""Integration clients (roi.models.IntegrationClient) and the Integrations page (roi/views/integrations.py).

Personas: tenant A with Ada (tenant admin), Sam (supervisor) and Alice (specialist); tenant B with its own client.
A client is its own kind of account: it cannot sign in, has no membership and opens no staff page. Ada creates it,
issues it tokens (the key shown once), rotates and revokes them, and deactivates it; each change is an access event.
Sam and Alice get 403; tenant B's client and tokens answer 404 like missing ones."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from roi.choices import AccessAction, ApiScope, Role
from roi.models import AccessEvent, ApiToken, IntegrationClient, Membership
from roi.services import API_TOKEN_ROTATION_GRACE_HOURS
from roi.views.integrations import NEW_KEY_SESSION
from tests import factories
from tests.factories import TEST_PASSWORD

LIST_URL = reverse("integrations")


@pytest.fixture
def ada(tenant_a):
    return factories.MembershipFactory(tenant=tenant_a, user__username="ada", role=Role.ADMIN).user


@pytest.fixture
def interface(tenant_a):
    return factories.IntegrationClientFactory(tenant=tenant_a, name="Epic interface")


def _client_url(client: IntegrationClient) -> str:
    return reverse("integration-client", args=[client.pk])


def _issue(http: Client, client: IntegrationClient, scopes: list[str], days: int | str = 90) -> ApiToken:
    response = http.post(_client_url(client), {"scopes": scopes, "days": days})
    assert response.status_code == 302, response.content[:500]
    assert response["Location"] == _client_url(client)
    return ApiToken.objects.filter(client=client).latest("id")


def _shown_key(http: Client, client: IntegrationClient) -> str:
    """The key on the client's page after the redirect; it is never shown again."""
    page = http.get(_client_url(client)).content.decode()
    start = page.index('id="new-api-key">') + len('id="new-api-key">')
    return page[start : page.index("<", start)]


# --- An integration client is not a person --------------------------------------------------------------------------


def test_an_integration_client_cannot_sign_in_with_the_login_form(interface):
    account = interface.service_user
    assert not account.has_usable_password()
    http = Client()
    for password in (TEST_PASSWORD, "", "!"):
        response = http.post(reverse("login"), {"username": account.username, "password": password})
        assert response.status_code == 200  # the form again, with its error
        assert "_auth_user_id" not in http.session


def test_the_database_refuses_a_password_staff_status_or_membership_for_a_service_account(tenant_a, interface):
    account = interface.service_user
    account.set_password(TEST_PASSWORD)
    with pytest.raises(IntegrityError), transaction.atomic():
        account.save()
    account.refresh_from_db()
    account.is_staff = True
    with pytest.raises(IntegrityError), transaction.atomic():
        account.save()
    with pytest.raises(IntegrityError, match="never gets a membership"), transaction.atomic():
        Membership.objects.create(tenant=tenant_a, user=account, role=Role.SPECIALIST)
    assert not Membership.objects.filter(user=account).exists()


def test_a_service_account_opens_no_staff_page_even_with_a_session(client_for, interface, tenant_a):
    factories.RecordRequestFactory(tenant=tenant_a)
    http = client_for(interface.service_user)
    assert http.get(reverse("workflow:queue")).status_code == 403  # no organisation: "No organisation access"
    assert http.get(LIST_URL).status_code == 403
    listing = http.get("/api/v1/requests/")  # a session is no token: no tenant, no rows
    assert listing.status_code == 403


def test_a_persons_account_cannot_be_given_a_token(tenant_a, alice, interface):
    """Tokens are issued to clients only (the services take a client and use its own account; the command refuses
    --user, tests/roi/test_health_and_commands.py); a token row naming a person's account, written past them, acts
    for no one."""
    key = ApiToken.generate_key()
    factories.ApiTokenFactory(client=interface, user=alice, prefix=key[:8], key_digest=ApiToken.digest(key))
    factories.RecordRequestFactory(tenant=tenant_a)
    response = Client().get("/api/v1/requests/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401
    assert not AccessEvent.objects.exists()


# --- The Integrations page: create, issue, rotate, revoke, deactivate ---------------------------------------------------


def test_ada_creates_a_client_and_issues_a_token_whose_key_is_shown_once(tenant_a, ada, client_for):
    http = client_for(ada)
    assert http.get(LIST_URL).status_code == 200

    response = http.post(
        LIST_URL, {"name": "  Epic   interface ", "description": "Run by IT, ext. 4410", "role": Role.SUPERVISOR}
    )
    client = IntegrationClient.objects.get()
    assert response["Location"] == _client_url(client)
    assert (client.tenant, client.name, client.role, client.created_by) == (
        tenant_a,
        "Epic interface",
        Role.SUPERVISOR,
        ada,
    )
    assert client.history.get().history_user == ada

    token = _issue(http, client, [ApiScope.READ, ApiScope.INTAKE], days=30)
    assert (token.scopes, token.created_by, token.user) == ([ApiScope.READ, ApiScope.INTAKE], ada, client.service_user)
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    key = _shown_key(http, client)
    assert ApiToken.digest(key) == token.key_digest
    assert key not in http.get(_client_url(client)).content.decode()  # once only
    assert NEW_KEY_SESSION not in http.session

    listing = http.get(LIST_URL).content.decode()
    assert "Epic interface" in listing
    assert token.prefix in listing
    assert key not in listing
    assert Client().get("/api/v1/requests/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"scopes": [], "days": 90}, "Choose at least one scope"),
        ({"scopes": ["read"], "days": 0}, "1 to 365 days"),
        ({"scopes": ["read"], "days": 366}, "at most 365 days"),
        ({"scopes": ["read"], "days": "soon"}, "whole number of days"),
        ({"scopes": ["write"], "days": 90}, "Select a valid choice"),
    ],
)
def test_a_token_needs_a_scope_and_an_expiry_within_a_year(fields, message, interface, ada, client_for):
    response = client_for(ada).post(_client_url(interface), fields)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_client_name_is_needed_once_per_organisation(tenant_b, interface, ada, client_for):
    factories.IntegrationClientFactory(tenant=tenant_b, name="Beta EHR")
    http = client_for(ada)
    taken = http.post(LIST_URL, {"name": "EPIC INTERFACE", "role": Role.SPECIALIST})
    assert taken.status_code == 400
    assert "already exists" in taken.content.decode()
    assert http.post(LIST_URL, {"name": "", "role": Role.SPECIALIST}).status_code == 400
    admin_role = http.post(LIST_URL, {"name": "Vendor portal", "role": Role.ADMIN})
    assert admin_role.status_code == 400
    assert http.post(LIST_URL, {"name": "Beta EHR", "role": Role.SPECIALIST}).status_code == 302  # another tenant's
    assert IntegrationClient.objects.filter(tenant=interface.tenant).count() == 2


def test_rotating_gives_a_new_key_and_the_old_one_a_grace_period(tenant_a, interface, ada, client_for):
    http = client_for(ada)
    old = _issue(http, interface, [ApiScope.READ, ApiScope.TRANSITIONS])
    _shown_key(http, interface)

    response = http.post(reverse("integration-token-rotate", args=[old.pk]))
    assert response["Location"] == _client_url(interface)
    old.refresh_from_db()
    new = old.replaced_by
    assert (new.client, new.scopes, new.created_by) == (interface, old.scopes, ada)
    assert old.expires_at <= timezone.now() + timedelta(hours=API_TOKEN_ROTATION_GRACE_HOURS)
    assert old.revoked_at is None
    assert ApiToken.digest(_shown_key(http, interface)) == new.key_digest
    assert "Rotated" in http.get(_client_url(interface)).content.decode()

    again = http.post(reverse("integration-token-rotate", args=[old.pk]))
    assert again.status_code == 400
    assert "already rotated" in again.content.decode()
    assert ApiToken.objects.count() == 2


def test_revoking_stops_a_token_and_cannot_be_repeated(interface, ada, client_for):
    http = client_for(ada)
    token = _issue(http, interface, [ApiScope.READ])
    key = _shown_key(http, interface)
    response = http.post(reverse("integration-token-revoke", args=[token.pk]))
    assert response["Location"] == _client_url(interface)
    token.refresh_from_db()
    assert (token.revoked_by, token.revoked_at is not None) == (ada, True)
    assert Client().get("/api/v1/requests/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
    again = http.post(reverse("integration-token-revoke", args=[token.pk]))
    assert again.status_code == 400
    assert "already revoked" in again.content.decode()
    assert http.post(reverse("integration-token-rotate", args=[token.pk])).status_code == 400


def test_deactivating_a_client_stops_its_tokens_and_refuses_new_ones(interface, ada, client_for):
    http = client_for(ada)
    _issue(http, interface, [ApiScope.READ])
    key = _shown_key(http, interface)
    http.post(reverse("integration-client-active", args=[interface.pk]), {"active": "0"})
    interface.refresh_from_db()
    assert not interface.is_active
    assert Client().get("/api/v1/requests/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
    refused = http.post(_client_url(interface), {"scopes": ["read"], "days": 90})
    assert refused.status_code == 400
    assert "deactivated" in refused.content.decode()
    http.post(reverse("integration-client-active", args=[interface.pk]), {"active": "1"})
    assert Client().get("/api/v1/requests/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_every_change_is_an_access_event_by_the_admin(tenant_a, ada, client_for):
    http = client_for(ada)
    http.post(LIST_URL, {"name": "Epic interface", "role": Role.SPECIALIST})
    client = IntegrationClient.objects.get()
    token = _issue(http, client, [ApiScope.READ])
    http.post(reverse("integration-token-rotate", args=[token.pk]))
    http.post(reverse("integration-token-revoke", args=[token.pk]))
    http.post(reverse("integration-client-active", args=[client.pk]), {"active": "0"})
    events = list(AccessEvent.objects.filter(action=AccessAction.INTEGRATION_CHANGE).order_by("id"))
    assert [event.detail.split(" ")[0] for event in events] == [
        "created",
        "issued",
        "rotated",
        "revoked",
        "deactivated",
    ]
    assert {(event.tenant, event.actor, event.ip_address) for event in events} == {(tenant_a, ada, "127.0.0.1")}
    assert token.prefix in events[1].detail
    assert "read" in events[1].detail


def test_changes_need_the_csrf_token(ada, interface):
    http = Client(enforce_csrf_checks=True)
    http.force_login(ada)
    assert http.post(LIST_URL, {"name": "Vendor portal", "role": Role.SPECIALIST}).status_code == 403
    assert http.post(_client_url(interface), {"scopes": ["read"], "days": 90}).status_code == 403
    assert IntegrationClient.objects.count() == 1
    assert not ApiToken.objects.exists()


def test_the_list_costs_the_same_queries_whatever_the_number_of_clients_and_tokens(tenant_a, ada, client_for):
    http = client_for(ada)
    factories.ApiTokenFactory(client=factories.IntegrationClientFactory(tenant=tenant_a))
    http.get(LIST_URL)  # the session's first page
    with CaptureQueriesContext(connection) as few:
        assert http.get(LIST_URL).status_code == 200
    for _ in range(4):
        client = factories.IntegrationClientFactory(tenant=tenant_a)
        for _ in range(3):
            factories.ApiTokenFactory(client=client)
    with CaptureQueriesContext(connection) as many:
        assert http.get(LIST_URL).status_code == 200
    assert len(many.captured_queries) == len(few.captured_queries)


# --- Who may: admins of the organisation only ---------------------------------------------------------------------


def test_supervisors_specialists_and_anonymous_callers_get_no_integrations(sam, alice, interface, client_for):
    token = factories.ApiTokenFactory(client=interface)
    for person in (sam, alice):
        http = client_for(person)
        assert http.get(LIST_URL).status_code == 403
        assert http.get(_client_url(interface)).status_code == 403
        assert http.post(LIST_URL, {"name": "Vendor portal", "role": Role.SPECIALIST}).status_code == 403
        assert http.post(_client_url(interface), {"scopes": ["read"], "days": 90}).status_code == 403
        assert http.post(reverse("integration-token-revoke", args=[token.pk])).status_code == 403
        assert http.post(reverse("integration-token-rotate", args=[token.pk])).status_code == 403
    anonymous = Client().get(LIST_URL)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    token.refresh_from_db()
    assert (token.revoked_at, token.replaced_by) == (None, None)
    assert IntegrationClient.objects.count() == 1
    assert ApiToken.objects.count() == 1


def test_another_organisations_client_and_tokens_answer_404_and_stay_unchanged(tenant_b, ada, client_for):
    theirs = factories.ApiTokenFactory(client=factories.IntegrationClientFactory(tenant=tenant_b, name="Beta EHR"))
    http = client_for(ada)
    assert http.get(_client_url(theirs.client)).status_code == 404
    assert http.post(_client_url(theirs.client), {"scopes": ["read"], "days": 90}).status_code == 404
    assert http.post(reverse("integration-client-active", args=[theirs.client_id]), {"active": "0"}).status_code == 404
    assert http.post(reverse("integration-token-rotate", args=[theirs.pk])).status_code == 404
    assert http.post(reverse("integration-token-revoke", args=[theirs.pk])).status_code == 404
    assert "Beta EHR" not in http.get(LIST_URL).content.decode()
    theirs.refresh_from_db()
    theirs.client.refresh_from_db()
    assert (theirs.revoked_at, theirs.replaced_by, theirs.client.is_active) == (None, None, True)
    assert ApiToken.objects.count() == 1
    assert not AccessEvent.objects.filter(tenant=tenant_b).exists()


def test_the_admin_navigation_links_the_integrations_page(ada, sam, client_for):
    assert f'href="{LIST_URL}"' in client_for(ada).get(reverse("workflow:queue")).content.decode()
    assert f'href="{LIST_URL}"' not in client_for(sam).get(reverse("workflow:queue")).content.decode()


def test_a_platform_operator_revokes_a_token_from_the_platform_admin_through_the_same_service(
    tenant_b, interface, client_for
):
    ours = factories.ApiTokenFactory(client=interface)
    theirs = factories.ApiTokenFactory(client=factories.IntegrationClientFactory(tenant=tenant_b))
    operator = factories.UserFactory(username="operator", is_superuser=True, is_staff=True)
    http = client_for(operator)
    changelist = reverse("admin:roi_apitoken_changelist")
    assert http.get(changelist).status_code == 200
    # The platform admin acts for one organisation at a time (roi/tenancy.py): the other's token is not in its list.
    act_for = {"action": "act_for", "_selected_action": [interface.tenant_id]}
    http.post(reverse("admin:roi_tenant_changelist"), act_for)
    response = http.post(changelist, {"action": "revoke", "_selected_action": [ours.pk, theirs.pk]})
    assert response.status_code == 302
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    http.post(reverse("admin:roi_tenant_changelist"), {"action": "act_for", "_selected_action": [tenant_b.pk]})
    http.post(changelist, {"action": "revoke", "_selected_action": [theirs.pk]})
    for token in (ours, theirs):
        token.refresh_from_db()
        assert token.revoked_by == operator
        event = AccessEvent.objects.get(tenant=token.tenant, action=AccessAction.INTEGRATION_CHANGE)
        assert (event.actor, event.detail) == (operator, f"revoked token {token.prefix} of '{token.client.name}'")
    assert http.post(reverse("admin:roi_apitoken_add")).status_code == 403
