"""Staff sessions: a new session id at sign-in, signed out after the organisation's idle limit and after the
maximum length, a disabled account signed out everywhere, and an admin ending a member's sessions."""

from __future__ import annotations

import time

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from roi.choices import Role
from roi.models import StaffSession
from roi.sessions import LOGIN_AT, SEEN_AT
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(tenant_a):
    return factories.MembershipFactory(tenant=tenant_a, user__username="ada", role=Role.ADMIN).user


def _signed_in(user) -> Client:
    """Signed in through the real pages: password, then a recovery code as the second factor."""
    client = Client()
    response = client.post("/login/", {"username": user.username, "password": factories.TEST_PASSWORD})
    assert response.status_code == 302
    code = factories.two_factor_enrolled(user, recovery_codes=1)[0]
    assert client.post("/2fa/verify/", {"token": code}).status_code == 302
    return client


def _age(client: Client, *, seen: float = 0, login: float = 0) -> None:
    session = client.session
    if seen:
        session[SEEN_AT] = time.time() - seen
    if login:
        session[LOGIN_AT] = time.time() - login
    session.save()


def test_signing_in_gives_a_new_session_id_and_records_the_session(alice):
    client = Client()
    client.get("/login/")
    # A session that exists before signing in (one an attacker could have planted) must not survive it.
    anonymous = client.session
    anonymous["planted"] = True
    anonymous.save()
    before = client.cookies["sessionid"].value
    client.post("/login/", {"username": "alice", "password": factories.TEST_PASSWORD}, REMOTE_ADDR="10.0.0.7")
    after = client.cookies["sessionid"].value
    assert before != after
    recorded = StaffSession.objects.get(session_key=after)
    assert (recorded.user, recorded.ip_address, recorded.ended_at) == (alice, "10.0.0.7", None)
    client.post("/logout/")
    recorded.refresh_from_db()
    assert recorded.ended_reason == StaffSession.Ended.SIGNED_OUT


def test_an_idle_session_ends_after_the_organisation_limit_and_comes_back_to_the_page(alice, tenant_a):
    client = _signed_in(alice)
    assert client.get("/requests/").status_code == 200
    _age(client, seen=14 * 60)
    assert client.get("/requests/").status_code == 200  # 14 minutes: still signed in (the default is 15)
    _age(client, seen=16 * 60)
    response = client.get("/requests/?state=open")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/requests/%3Fstate%3Dopen"
    follow = client.get(response["Location"])
    assert "signed out after 15 minutes without activity" in follow.content.decode()
    assert StaffSession.objects.get(user=alice).ended_reason == StaffSession.Ended.IDLE
    assert client.get("/requests/").status_code == 302


def test_the_idle_limit_is_the_organisation_setting(alice, tenant_a):
    tenant_a.session_idle_minutes = 60
    tenant_a.save()
    client = _signed_in(alice)
    _age(client, seen=45 * 60)
    assert client.get("/requests/").status_code == 200


def test_a_session_ends_after_the_maximum_length_however_active(alice, settings):
    client = _signed_in(alice)
    _age(client, login=settings.STAFF_SESSION_MAX_HOURS * 3600 + 60)
    response = client.get("/requests/")
    assert response.status_code == 302
    assert StaffSession.objects.get(user=alice).ended_reason == StaffSession.Ended.MAX_AGE


def test_an_htmx_request_of_an_idle_session_is_sent_to_the_sign_in_page(alice):
    client = _signed_in(alice)
    _age(client, seen=16 * 60)
    response = client.get("/requests/", HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith("/login/?next=")


def test_activity_is_written_to_the_session_at_most_once_a_minute(alice):
    client = _signed_in(alice)
    _age(client, seen=30)
    client.get("/requests/")
    assert time.time() - client.session[SEEN_AT] >= 29  # not rewritten
    _age(client, seen=61)
    client.get("/requests/")
    assert time.time() - client.session[SEEN_AT] < 5


def test_a_disabled_account_is_signed_out_everywhere_on_its_next_request(alice):
    laptop, phone = _signed_in(alice), _signed_in(alice)
    alice.is_active = False
    alice.save()
    for client in (laptop, phone):
        response = client.get("/requests/")
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_an_admin_ends_a_member_sessions_on_every_device(ada, alice, sam, tenant_a):
    laptop, phone, other = _signed_in(alice), _signed_in(alice), _signed_in(sam)
    admin = _signed_in(ada)
    page = admin.get("/staff/sessions/").content.decode()
    assert "End 2 sessions" in page
    response = admin.post("/staff/sessions/", {"user": alice.pk}, follow=True)
    assert f"{alice}: 2 sessions ended." in response.content.decode()
    for client in (laptop, phone):
        assert client.get("/requests/").status_code == 302
    assert other.get("/requests/").status_code == 200
    ended = StaffSession.objects.filter(user=alice)
    assert {(s.ended_reason, s.ended_by_id) for s in ended} == {(StaffSession.Ended.ENDED_BY_ADMIN, ada.pk)}
    assert not Session.objects.filter(session_key__in=[s.session_key for s in ended]).exists()


def test_the_sessions_page_is_for_tenant_admins_and_their_members_only(ada, alice, sam, charlie, client_for):
    assert client_for(alice).get("/staff/sessions/").status_code == 403
    assert client_for(sam).get("/staff/sessions/").status_code == 403
    # Another organisation's user answers like a missing one, and keeps their session.
    other = _signed_in(charlie)
    assert client_for(ada).post("/staff/sessions/", {"user": charlie.pk}).status_code == 404
    assert client_for(ada).post("/staff/sessions/", {"user": "x"}).status_code == 404
    assert other.get("/requests/").status_code == 200


def test_an_admin_sets_the_idle_limit_and_a_wrong_value_says_what_to_fix(ada, tenant_a, client_for):
    client = client_for(ada)
    response = client.post("/staff/sessions/", {"session_idle_minutes": "3"})
    assert response.status_code == 400
    assert "between 5 and 240" in response.content.decode()
    response = client.post("/staff/sessions/", {"session_idle_minutes": "ten"})
    assert response.status_code == 400
    tenant_a.refresh_from_db()
    assert tenant_a.session_idle_minutes == 15
    response = client.post("/staff/sessions/", {"session_idle_minutes": "30"}, follow=True)
    assert "Idle sessions now end after 30 minutes." in response.content.decode()
    tenant_a.refresh_from_db()
    assert tenant_a.session_idle_minutes == 30
    assert tenant_a.history.first().history_user == ada
