"""Staff sign-in and two-factor codes are slowed, never locked (roi/sign_in.py, roi/throttle.py): password spraying
from one address and guessing one account from many addresses both wait, the wait doubles up to a ceiling, an attempt
before its turn is refused unchecked (the right password too), and a stranger can make the real user wait no longer
than the ceiling; on a browser that signed in as them before, not at all.

Waits are stepped through with `clock.frozen`, never slept."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from roi import clock
from roi.choices import AccessAction, Role
from roi.models import AccessEvent
from roi.sign_in import KNOWN_DEVICE_COOKIE
from tests import factories

pytestmark = pytest.mark.django_db

WRONG = "wrong horse battery"
STRANGER = "203.0.113.66"


class Timeline:
    """The test's own clock: `at(seconds)` runs what follows that many seconds after the start."""

    def __init__(self) -> None:
        self.start = timezone.now()

    @contextmanager
    def at(self, seconds: float) -> Iterator[None]:
        with clock.frozen(self.start + timedelta(seconds=seconds)):
            yield


def _sign_in(username: str, password: str, address: str, client: Client | None = None):
    client = client or Client(REMOTE_ADDR=address)
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def _message(response) -> str:
    body = response.content.decode()
    start = body.index('<div class="message error" role="alert">')
    return body[start : body.index("</div>", start)]


@pytest.fixture
def timeline() -> Timeline:
    return Timeline()


@pytest.fixture
def colleagues(tenant_a) -> list:
    return [factories.MembershipFactory(tenant=tenant_a, user__username=f"staff{n}").user for n in range(10)]


def test_spraying_ten_accounts_from_one_address_is_slowed(settings, timeline, colleagues, alice):
    assert settings.SIGN_IN_FREE_FAILURES_PER_ADDRESS == 10
    with timeline.at(0):
        for user in colleagues:  # one guess per account: no account reaches its own limit
            assert _sign_in(user.username, WRONG, STRANGER).status_code == 200
        refused = _sign_in("alice", factories.TEST_PASSWORD, STRANGER)
        assert refused.status_code == 429
        assert refused["Retry-After"] == "10"
        assert "Too many failed sign-in attempts from your network. Try again in 10 seconds." in _message(refused)
        # The accounts themselves are not slowed: from another address, their owners sign in.
        assert _sign_in("alice", factories.TEST_PASSWORD, "198.51.100.7").status_code == 302
        assert _sign_in("staff0", factories.TEST_PASSWORD, "198.51.100.8").status_code == 302
    with timeline.at(10):
        assert _sign_in("staff1", WRONG, STRANGER).status_code == 200  # its turn: checked, and it waits longer now
        assert _sign_in("staff2", WRONG, STRANGER)["Retry-After"] == "20"


def test_one_account_from_ten_addresses_is_slowed(timeline, alice):
    with timeline.at(0):
        statuses = [_sign_in("alice", WRONG, f"198.51.100.{n}").status_code for n in range(1, 11)]
    assert statuses == [200] * 5 + [429] * 5
    with timeline.at(1):
        refused = _sign_in("alice", factories.TEST_PASSWORD, "198.51.100.99")
    assert refused.status_code == 429
    assert "Too many failed sign-in attempts for this account. Try again in 9 seconds." in _message(refused)


def test_the_wait_doubles_up_to_the_ceiling(settings, timeline, alice):
    assert settings.SIGN_IN_MAX_WAIT_SECONDS == 300
    with timeline.at(0):
        for _ in range(5):
            _sign_in("alice", WRONG, STRANGER)
    waits, moment = [], 0
    for _ in range(8):
        with timeline.at(moment):
            wait = int(_sign_in("alice", WRONG, STRANGER)["Retry-After"])
        waits.append(wait)
        moment += wait
        with timeline.at(moment - 1):  # a second early: still refused
            assert _sign_in("alice", WRONG, STRANGER).status_code == 429
        with timeline.at(moment):
            assert _sign_in("alice", WRONG, STRANGER).status_code == 200
    assert waits == [10, 20, 40, 80, 160, 300, 300, 300]


def test_during_a_wait_the_right_password_is_refused_like_a_wrong_one_and_works_after_it(timeline, alice):
    with timeline.at(0):
        for _ in range(5):
            _sign_in("alice", WRONG, STRANGER)
        right = _sign_in("alice", factories.TEST_PASSWORD, STRANGER)
        wrong = _sign_in("alice", WRONG, STRANGER)
    assert (right.status_code, right["Retry-After"], _message(right)) == (
        wrong.status_code,
        wrong["Retry-After"],
        _message(wrong),
    )
    assert right.status_code == 429
    assert "_auth_user_id" not in right.wsgi_request.session
    with timeline.at(10):
        signed_in = _sign_in("alice", factories.TEST_PASSWORD, STRANGER)
    assert signed_in.status_code == 302
    with timeline.at(11):  # the account forgot its failures: the next mistake is an ordinary one
        assert _sign_in("alice", WRONG, STRANGER).status_code == 200


def test_a_failure_that_starts_a_wait_says_so(timeline, alice):
    with timeline.at(0):
        for _ in range(4):
            assert "has to wait" not in _message(_sign_in("alice", WRONG, STRANGER))
        fifth = _sign_in("alice", WRONG, STRANGER)
    assert fifth.status_code == 200
    assert "Please enter a correct username and password" in _message(fifth)
    assert "the next one has to wait 10 seconds" in _message(fifth)


def test_a_stranger_makes_the_real_user_wait_at_most_the_ceiling(settings, timeline, alice):
    """The stranger takes every turn first, from ever new addresses, and hammers in between; the real user, whenever
    they come, waits no more than the ceiling (refused attempts neither count nor move the wait), and signs in once
    the stranger stops."""
    with timeline.at(0):
        for n in range(5):
            _sign_in("alice", WRONG, f"192.0.2.{n + 1}")
    moment = 0
    for n in range(20):
        with timeline.at(moment):
            real = _sign_in("alice", factories.TEST_PASSWORD, "198.51.100.20")
            assert real.status_code == 429
            wait = int(real["Retry-After"])
            assert wait <= settings.SIGN_IN_MAX_WAIT_SECONDS
            for _ in range(5):
                assert _sign_in("alice", WRONG, f"192.0.2.{n + 100}").status_code == 429
        moment += wait
        with timeline.at(moment):
            assert _sign_in("alice", WRONG, f"192.0.2.{n + 10}").status_code == 200
    assert wait == settings.SIGN_IN_MAX_WAIT_SECONDS
    with timeline.at(moment + 1):
        wait = int(_sign_in("alice", factories.TEST_PASSWORD, "198.51.100.20")["Retry-After"])
    with timeline.at(moment + 1 + wait):
        assert _sign_in("alice", factories.TEST_PASSWORD, "198.51.100.20").status_code == 302


def test_a_sprayers_own_account_does_not_clear_its_address(timeline, colleagues, tenant_a):
    mallory = factories.MembershipFactory(tenant=tenant_a, user__username="mallory").user
    with timeline.at(0):
        for user in colleagues:
            _sign_in(user.username, WRONG, STRANGER)
    with timeline.at(10):
        assert _sign_in(mallory.username, factories.TEST_PASSWORD, STRANGER).status_code == 302
        after = _sign_in("staff3", WRONG, STRANGER)
    assert after.status_code == 429
    assert after["Retry-After"] == "20"  # the success took its turn and cleared nothing


def test_failures_past_the_free_ones_are_on_the_organisations_audit_trail(timeline, alice, tenant_a, caplog):
    events = AccessEvent.objects.filter(tenant=tenant_a, action=AccessAction.STAFF_LOCKOUT)
    with timeline.at(0):
        for _ in range(4):
            _sign_in("alice", WRONG, STRANGER)
        assert not events.exists()
        _sign_in("alice", WRONG, STRANGER)
        for _ in range(5):  # refused unchecked: no event each, however many
            _sign_in("alice", WRONG, STRANGER)
    assert events.count() == 1
    with timeline.at(10):
        _sign_in("alice", WRONG, STRANGER)
    assert events.count() == 2
    latest = events.order_by("-id").first()
    assert (latest.ip_address, latest.actor_label) == (STRANGER, "sign-in as alice")
    assert "6 for this account" in latest.detail
    assert "next try waits 20 seconds" in latest.detail
    # Names that belong to nobody leave no tenant's event; the log says the address is slowed.
    with timeline.at(0), caplog.at_level(logging.WARNING, logger="roi.sign_in"):
        for n in range(10):
            _sign_in(f"nobody{n}", WRONG, "192.0.2.200")
    assert events.count() == 2
    assert "Sign-in attempts from 192.0.2.200 are slowed" in caplog.text


def test_the_platform_admin_sign_in_is_slowed_the_same_way(timeline, db):
    factories.UserFactory(username="operator", is_staff=True, is_superuser=True)
    with timeline.at(0):
        for _ in range(5):
            _sign_in("operator", WRONG, STRANGER, Client(REMOTE_ADDR=STRANGER))
        client = Client(REMOTE_ADDR=STRANGER)
        response = client.post("/platform-admin/login/", {"username": "operator", "password": factories.TEST_PASSWORD})
    assert response.status_code == 200
    assert "Too many failed sign-in attempts for this account. Try again in 10 seconds." in response.content.decode()
    assert "_auth_user_id" not in client.session


def _signed_in_completely(user, address: str) -> Client:
    client = Client(REMOTE_ADDR=address)
    assert _sign_in(user.username, factories.TEST_PASSWORD, address, client).status_code == 302
    code = factories.two_factor_enrolled(user, recovery_codes=1)[0]
    assert client.post("/2fa/verify/", {"token": code}).status_code == 302
    assert client.get("/requests/").status_code == 200  # the first page after it remembers the browser
    return client


def test_a_browser_that_signed_in_before_is_not_slowed_by_a_stranger(timeline, alice, colleagues):
    office = "198.51.100.30"
    with timeline.at(0):
        laptop = _signed_in_completely(alice, office)
        assert KNOWN_DEVICE_COOKIE in laptop.cookies
        laptop.post("/logout/")
        # A stranger on the same network (the hospital's shared address) guesses alice's password and sprays.
        for _ in range(6):
            _sign_in("alice", WRONG, office)
        for user in colleagues:
            _sign_in(user.username, WRONG, office)
        assert _sign_in("alice", factories.TEST_PASSWORD, office).status_code == 429  # a new browser waits
        assert _sign_in("alice", factories.TEST_PASSWORD, office, laptop).status_code == 302  # hers does not
        laptop.post("/logout/")
        # Her browser has its own allowance: its failures slow it, not the account.
        for _ in range(5):
            assert _sign_in("alice", WRONG, office, laptop).status_code == 200
        refused = _sign_in("alice", factories.TEST_PASSWORD, office, laptop)
    assert refused.status_code == 429
    assert "from this browser" in _message(refused)


def test_a_browser_remembered_for_one_user_is_not_remembered_for_another(timeline, alice, sam):
    with timeline.at(0):
        laptop = _signed_in_completely(alice, "198.51.100.31")
        laptop.post("/logout/")
        for _ in range(5):
            _sign_in("sam", WRONG, "192.0.2.9")
        assert _sign_in("sam", factories.TEST_PASSWORD, "198.51.100.31", laptop).status_code == 429
        # A forged cookie is no cookie.
        laptop.cookies[KNOWN_DEVICE_COOKIE] = laptop.cookies[KNOWN_DEVICE_COOKIE].value[:-3] + "AAA"
        for _ in range(5):
            _sign_in("alice", WRONG, "192.0.2.10")
        assert _sign_in("alice", factories.TEST_PASSWORD, "198.51.100.31", laptop).status_code == 429


# --- Two-factor codes ------------------------------------------------------------------------------------------


def _password_only(user, address: str = STRANGER) -> Client:
    client = Client(REMOTE_ADDR=address)
    assert _sign_in(user.username, factories.TEST_PASSWORD, address, client).status_code == 302
    return client


def test_wrong_codes_are_slowed_with_a_ceiling_and_the_right_code_works_after_the_wait(settings, timeline, tenant_a):
    ada = factories.MembershipFactory(tenant=tenant_a, user__username="ada", role=Role.ADMIN).user
    codes = factories.two_factor_enrolled(ada, recovery_codes=2)
    with timeline.at(0):
        client = _password_only(ada)
        for _ in range(5):
            assert client.post("/2fa/verify/", {"token": "123456"}).status_code == 400
        refused = client.post("/2fa/verify/", {"token": codes[0]})
    assert refused.status_code == 429
    assert refused["Retry-After"] == "10"
    assert "Too many failed two-factor attempts for this account. Try again in 10 seconds." in refused.content.decode()
    # Someone who knows the password and keeps guessing codes for hours: each wait stays under the ceiling.
    moment = 10
    for _ in range(30):
        with timeline.at(moment):
            assert client.post("/2fa/verify/", {"token": "123456"}).status_code == 400
            wait = int(client.post("/2fa/verify/", {"token": "123456"})["Retry-After"])
        assert wait <= settings.TWO_FACTOR_MAX_WAIT_SECONDS
        moment += wait
    assert wait == settings.TWO_FACTOR_MAX_WAIT_SECONDS
    with timeline.at(moment):
        assert client.post("/2fa/verify/", {"token": codes[0]}).status_code == 302
    events = AccessEvent.objects.filter(tenant=tenant_a, action=AccessAction.STAFF_LOCKOUT)
    assert events.count() == 31
    assert "failed two-factor codes" in events.first().detail


def test_renewing_recovery_codes_counts_against_the_same_codes(timeline, tenant_a, alice):
    codes = factories.two_factor_enrolled(alice, recovery_codes=1)
    with timeline.at(0):
        client = _password_only(alice)
        for _ in range(4):
            client.post("/2fa/verify/", {"token": "123456"})
        assert client.post("/2fa/verify/", {"token": codes[0]}).status_code == 302  # a success forgets them
        client.get("/requests/")  # signed in completely: this browser is remembered, and counts on its own now
        for _ in range(5):
            assert client.post("/account/recovery-codes/", {"token": "123456"}).status_code == 400
        refused = client.post("/account/recovery-codes/", {"token": "123456"})
    assert refused.status_code == 429
    assert "from this browser. Try again in 10 seconds" in refused.content.decode()


def test_parallel_attempts_within_the_free_failures_are_never_refused(timeline):
    """Two attempts at once (two tabs, a double click) read the clock a moment apart and may reach Redis in the other
    order: with no wait due, the later one must not be told to wait for the earlier one's turn."""
    import uuid

    from roi.throttle import Policy, Subject, attempt_admit

    subject = Subject(Policy("test:parallel", free=5, max_wait=300), uuid.uuid4().hex)
    with timeline.at(1.0):
        attempt_admit([subject])
    with timeline.at(0.5):  # read the clock first, arrived second
        attempt_admit([subject])  # admitted: raises Throttled otherwise
