"""Requestor accounts: sign up, confirm by email, sign in (slowed, never locked; one answer for every failure), the list
of the account's own requests at one organisation, sign out. Waits are stepped through with `clock.frozen`, never
slept."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal import accounts
from portal.models import RequestorAccount
from roi import clock
from roi.choices import AccessAction
from roi.models import AccessEvent, Notification
from tests import factories

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def url(name: str, tenant, **kwargs) -> str:
    return reverse(f"portal:{name}", kwargs={"slug": tenant.slug, **kwargs})


def sign_up(client, tenant, email: str, password: str = PASSWORD):
    return client.post(
        url("account-signup", tenant),
        {
            "name": "Pat Records",
            "organization": "Lopez & Partners LLP",
            "email": email,
            "password": password,
            "password_again": password,
        },
    )


def confirmation_link(tenant, email: str) -> str:
    notification = Notification.objects.filter(tenant=tenant, email_to=email).latest("pk")
    return re.search(r"https?://\S+", notification.body).group(0).split("://", 1)[1].split("/", 1)[1]


def sign_in(client, tenant, email: str, password: str = PASSWORD):
    return client.post(url("account-signin", tenant), {"email": email, "password": password})


@pytest.fixture
def confirmed(visitor, tenant_a, unique_email):
    sign_up(visitor, tenant_a, unique_email)
    visitor.get("/" + confirmation_link(tenant_a, unique_email))
    return RequestorAccount.objects.get(tenant=tenant_a, email=unique_email)


def test_signing_up_emails_a_confirmation_link_and_nothing_is_shown_before_it(visitor, tenant_a, unique_email):
    response = sign_up(visitor, tenant_a, unique_email)
    assert response.status_code == 200
    assert "Check your email" in response.content.decode()
    account = RequestorAccount.objects.get(tenant=tenant_a, email=unique_email)
    assert account.password != PASSWORD
    assert account.password.startswith("md5$")
    assert account.email_confirmed_at is None
    notification = Notification.objects.get(tenant=tenant_a, email_to=unique_email)
    assert "/account/confirm/" in notification.body

    refused = sign_in(visitor, tenant_a, unique_email)
    assert "Confirm your email address first" in refused.content.decode()
    assert visitor.get(url("account", tenant_a))["Location"] == url("account-signin", tenant_a)

    confirmed = visitor.get("/" + confirmation_link(tenant_a, unique_email))
    assert confirmed.status_code == 200
    assert "confirmed" in confirmed.content.decode()
    response = sign_in(visitor, tenant_a, unique_email)
    assert response.status_code == 302
    assert response["Location"] == url("account", tenant_a)


def test_a_weak_password_is_refused_with_the_validators_message(visitor, tenant_a, unique_email):
    response = sign_up(visitor, tenant_a, unique_email, password="short")
    assert response.status_code == 400
    assert "password" in response.context["form"].errors
    assert not RequestorAccount.objects.exists()
    assert not Notification.objects.exists()


def test_signing_up_with_an_address_that_has_an_account_looks_the_same(visitor, confirmed, tenant_a):
    response = sign_up(visitor, tenant_a, confirmed.email, password="another long passphrase")
    assert "Check your email" in response.content.decode()
    assert RequestorAccount.objects.filter(email=confirmed.email).count() == 1
    confirmed.refresh_from_db()
    assert accounts.check_password(PASSWORD, confirmed.password)


def test_a_confirmation_link_of_another_organisation_does_not_confirm(visitor, tenant_a, tenant_b, unique_email):
    sign_up(visitor, tenant_a, unique_email)
    path = confirmation_link(tenant_a, unique_email)
    token = path.rstrip("/").rsplit("/", 1)[1]
    response = visitor.get(url("account-confirm", tenant_b, token=token))
    assert response.status_code == 404
    assert RequestorAccount.objects.get(email=unique_email).email_confirmed_at is None


def test_the_account_lists_only_its_own_requests_at_this_organisation(visitor, confirmed, tenant_a, tenant_b):
    staff = factories.MembershipFactory(tenant=tenant_a).user
    mine = factories.RecordRequestFactory(tenant=tenant_a, requestor__email=confirmed.email.upper(), assignee=staff)
    also_mine = factories.RecordRequestFactory(tenant=tenant_a, requestor__email=confirmed.email)
    someone_elses = factories.RecordRequestFactory(tenant=tenant_a, requestor__email="other@firm.example.com")
    other_tenant = factories.RecordRequestFactory(tenant=tenant_b, requestor__email=confirmed.email)
    sign_in(visitor, tenant_a, confirmed.email)

    page = visitor.get(url("account", tenant_a))
    assert page.status_code == 200
    body = page.content.decode()
    assert mine.tracking_number in body
    assert also_mine.tracking_number in body
    assert someone_elses.tracking_number not in body
    assert other_tenant.tracking_number not in body
    assert "<td>Under review</td>" in body  # picked up by staff: the phase the status page shows
    assert "<td>Received</td>" in body  # nobody has picked it up yet

    events = AccessEvent.objects.filter(tenant=tenant_a, action=AccessAction.PORTAL_STATUS_VIEW)
    assert sorted(events.values_list("request_id", flat=True)) == sorted([mine.pk, also_mine.pk])
    assert not AccessEvent.objects.filter(tenant=tenant_b).exists()

    opened = visitor.get(url("account-open", tenant_a, tracking_number=mine.tracking_number))
    assert opened["Location"] == reverse("portal:status", kwargs={"tracking_number": mine.tracking_number})
    assert visitor.get(opened["Location"]).status_code == 200
    refused = visitor.get(url("account-open", tenant_a, tracking_number=someone_elses.tracking_number))
    assert refused["Location"] == url("account", tenant_a)
    status = visitor.get(reverse("portal:status", kwargs={"tracking_number": someone_elses.tracking_number}))
    assert status.status_code == 302  # asked to verify


def test_the_list_reads_a_fixed_number_of_queries(visitor, confirmed, tenant_a, django_assert_max_num_queries):
    for _ in range(5):
        factories.RecordRequestFactory(tenant=tenant_a, requestor__email=confirmed.email)
    sign_in(visitor, tenant_a, confirmed.email)
    with django_assert_max_num_queries(6):
        assert visitor.get(url("account", tenant_a)).status_code == 200


def test_the_sign_in_is_not_valid_at_another_organisation(visitor, confirmed, tenant_a, tenant_b):
    sign_in(visitor, tenant_a, confirmed.email)
    assert visitor.get(url("account", tenant_b)).status_code == 302


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(visitor, confirmed, tenant_a):
    wrong = sign_in(visitor, tenant_a, confirmed.email, password="not the password at all")
    unknown = sign_in(visitor, tenant_a, "nobody-" + confirmed.email)
    assert wrong.status_code == unknown.status_code == 200

    def alert(response) -> str:
        return re.search(r'<div class="alert[^>]*>(.*?)</div>', response.content.decode(), re.S).group(1)

    assert alert(wrong) == alert(unknown)
    assert "The email address or the password is not right" in alert(wrong)


def test_signing_out_ends_the_session_even_for_a_copied_cookie(visitor, confirmed, tenant_a):
    sign_in(visitor, tenant_a, confirmed.email)
    copied = visitor.cookies[accounts.COOKIE_NAME].value
    visitor.post(url("account-signout", tenant_a))
    assert visitor.get(url("account", tenant_a)).status_code == 302
    visitor.cookies[accounts.COOKIE_NAME] = copied
    visitor.cookies[accounts.COOKIE_NAME]["path"] = url("submit", tenant_a)
    assert visitor.get(url("account", tenant_a)).status_code == 302


def test_the_request_form_is_prefilled_for_a_signed_in_account(visitor, confirmed, tenant_a):
    sign_in(visitor, tenant_a, confirmed.email)
    form = visitor.get(url("submit", tenant_a)).context["form"]
    assert form.initial["requestor_email"] == confirmed.email
    assert form.initial["requestor_organization"] == "Lopez & Partners LLP"


def test_account_pages_of_an_inactive_organisation_are_404(visitor, tenant_a):
    tenant_a.is_active = False
    tenant_a.save()
    for name in ("account", "account-signin", "account-signup"):
        assert visitor.get(url(name, tenant_a)).status_code == 404


# --- Sign-in: slowed, never locked ------------------------------------------------------------------------------

WRONG = "guess guess guess"
STRANGER = "203.0.113.66"
REQUESTOR_OFFICE = "198.51.100.20"


class Timeline:
    """The test's own clock: `at(seconds)` runs what follows that many seconds after the start."""

    def __init__(self) -> None:
        self.start = timezone.now()

    @contextmanager
    def at(self, seconds: float) -> Iterator[None]:
        with clock.frozen(self.start + timedelta(seconds=seconds)):
            yield


@pytest.fixture
def timeline() -> Timeline:
    return Timeline()


def attempt(tenant, email: str, password: str, address: str, client: Client | None = None, **extra):
    """A sign-in from `address`, in a new browser unless `client` is given."""
    client = client or Client()
    return client.post(
        url("account-signin", tenant), {"email": email, "password": password}, REMOTE_ADDR=address, **extra
    )


def alert(response) -> str:
    """The page's message, its lines joined."""
    return " ".join(re.search(r'<div class="alert[^>]*>(.*?)</div>', response.content.decode(), re.S).group(1).split())


def test_the_allowances_are_those_of_the_documentation(settings):
    assert settings.PORTAL_LOGIN_FREE_FAILURES_PER_ACCOUNT == 5
    assert settings.PORTAL_LOGIN_FREE_FAILURES_PER_ADDRESS == 20
    assert settings.PORTAL_LOGIN_MAX_WAIT_SECONDS == 300


def test_during_a_wait_the_right_password_is_refused_like_a_wrong_one_and_works_after_it(timeline, confirmed, tenant_a):
    with timeline.at(0):
        for _ in range(5):
            assert attempt(tenant_a, confirmed.email, WRONG, STRANGER).status_code == 200
        right = attempt(tenant_a, confirmed.email, PASSWORD, STRANGER)
        wrong = attempt(tenant_a, confirmed.email, WRONG, STRANGER)
    assert (right.status_code, right["Retry-After"], alert(right)) == (429, "10", alert(wrong))
    assert wrong.status_code == 429
    assert alert(right) == (
        "Too many unsuccessful sign-in tries for this account. For your security, please try again in 10 seconds."
    )
    assert accounts.COOKIE_NAME not in right.cookies
    with timeline.at(9):  # a second early: still refused, and told how long is left
        early = attempt(tenant_a, confirmed.email, PASSWORD, STRANGER)
    assert (early.status_code, early["Retry-After"]) == (429, "1")
    assert "try again in 1 second." in alert(early)
    with timeline.at(10):
        browser = Client()
        assert attempt(tenant_a, confirmed.email, PASSWORD, STRANGER, browser).status_code == 302
        assert browser.get(url("account", tenant_a)).status_code == 200
    with timeline.at(11):  # the account forgot its failures: the next mistake is an ordinary one
        assert attempt(tenant_a, confirmed.email, WRONG, STRANGER).status_code == 200


def test_an_email_without_an_account_is_slowed_exactly_like_one_with_an_account(timeline, confirmed, tenant_a):
    nobody = "nobody-" + confirmed.email
    with timeline.at(0):
        answers = {
            email: [alert(attempt(tenant_a, email, WRONG, f"192.0.2.{n}")) for n in range(7)]
            for email in (confirmed.email, nobody)
        }
    assert answers[confirmed.email] == answers[nobody]
    assert "the next one has to wait 10 seconds" in answers[nobody][4]
    assert "please try again" not in answers[nobody][4]
    assert "please try again in 10 seconds" in answers[nobody][5]


def test_a_failure_that_starts_a_wait_says_so(timeline, confirmed, tenant_a):
    with timeline.at(0):
        for _ in range(4):
            assert "has to wait" not in alert(attempt(tenant_a, confirmed.email, WRONG, STRANGER))
        fifth = attempt(tenant_a, confirmed.email, WRONG, STRANGER)
    assert fifth.status_code == 200
    assert alert(fifth) == (
        "The email address or the password is not right. Check both and try again. "
        "After several unsuccessful tries, the next one has to wait 10 seconds."
    )


def test_the_wait_doubles_up_to_the_ceiling(settings, timeline, confirmed, tenant_a):
    with timeline.at(0):
        for _ in range(5):
            attempt(tenant_a, confirmed.email, WRONG, STRANGER)
    waits, moment = [], 0
    for _ in range(8):
        with timeline.at(moment):
            wait = int(attempt(tenant_a, confirmed.email, WRONG, STRANGER)["Retry-After"])
        waits.append(wait)
        moment += wait
        with timeline.at(moment - 1):
            assert attempt(tenant_a, confirmed.email, WRONG, STRANGER).status_code == 429
        with timeline.at(moment):
            assert attempt(tenant_a, confirmed.email, WRONG, STRANGER).status_code == 200
    assert waits == [10, 20, 40, 80, 160, 300, 300, 300]
    with timeline.at(moment):
        assert "please try again in 5 minutes." in alert(attempt(tenant_a, confirmed.email, WRONG, STRANGER))


def test_a_stranger_at_one_address_keeps_the_requestor_at_another_waiting_at_most_the_ceiling(
    settings, timeline, confirmed, tenant_a
):
    """The stranger knows the requestor's email, takes every turn first and hammers in between; the requestor, in a
    browser that never signed in, waits no more than the ceiling (refused attempts neither count nor move the
    wait), and signs in once the stranger stops."""
    with timeline.at(0):
        for _ in range(5):
            attempt(tenant_a, confirmed.email, WRONG, STRANGER)
    moment = 0
    for _ in range(12):
        with timeline.at(moment):
            real = attempt(tenant_a, confirmed.email, PASSWORD, REQUESTOR_OFFICE)
            assert real.status_code == 429
            wait = int(real["Retry-After"])
            assert wait <= settings.PORTAL_LOGIN_MAX_WAIT_SECONDS
            for _ in range(5):
                assert attempt(tenant_a, confirmed.email, WRONG, STRANGER).status_code == 429
        moment += wait
        with timeline.at(moment):
            assert attempt(tenant_a, confirmed.email, WRONG, STRANGER).status_code == 200
    assert wait == settings.PORTAL_LOGIN_MAX_WAIT_SECONDS
    with timeline.at(moment + 1):
        wait = int(attempt(tenant_a, confirmed.email, PASSWORD, REQUESTOR_OFFICE)["Retry-After"])
    assert wait < settings.PORTAL_LOGIN_MAX_WAIT_SECONDS
    with timeline.at(moment + 1 + wait):
        assert attempt(tenant_a, confirmed.email, PASSWORD, REQUESTOR_OFFICE).status_code == 302


def test_a_browser_that_signed_in_before_is_not_slowed_by_a_stranger(timeline, confirmed, tenant_a):
    laptop = Client()
    with timeline.at(0):
        assert attempt(tenant_a, confirmed.email, PASSWORD, REQUESTOR_OFFICE, laptop).status_code == 302
        assert accounts.KNOWN_BROWSERS.cookie in laptop.cookies
        laptop.post(url("account-signout", tenant_a))
        # A stranger on the firm's own network guesses the password and sprays other emails.
        for n in range(25):
            attempt(tenant_a, confirmed.email if n < 6 else f"clerk{n}@lawfirm.example.com", WRONG, REQUESTOR_OFFICE)
        assert attempt(tenant_a, confirmed.email, PASSWORD, REQUESTOR_OFFICE).status_code == 429  # a new browser
        assert attempt(tenant_a, confirmed.email, PASSWORD, REQUESTOR_OFFICE, laptop).status_code == 302
        laptop.post(url("account-signout", tenant_a))
        # The browser has its own allowance: its failures slow it, not the account.
        for _ in range(5):
            assert attempt(tenant_a, confirmed.email, WRONG, REQUESTOR_OFFICE, laptop).status_code == 200
        refused = attempt(tenant_a, confirmed.email, PASSWORD, REQUESTOR_OFFICE, laptop)
    assert refused.status_code == 429
    assert "from this browser" in alert(refused)


def test_a_browser_is_remembered_for_one_account_at_one_organisation(timeline, confirmed, tenant_a, tenant_b):
    laptop = Client()
    with timeline.at(0):
        assert attempt(tenant_a, confirmed.email, PASSWORD, REQUESTOR_OFFICE, laptop).status_code == 302
        for n in range(5):  # the same email at another organisation is another account
            attempt(tenant_b, confirmed.email, WRONG, f"192.0.2.{n}")
        assert attempt(tenant_b, confirmed.email, PASSWORD, REQUESTOR_OFFICE, laptop).status_code == 429
        # A forged cookie is no cookie.
        cookie = accounts.KNOWN_BROWSERS.cookie
        laptop.cookies[cookie] = laptop.cookies[cookie].value[:-3] + "AAA"
        for n in range(5):
            attempt(tenant_a, confirmed.email, WRONG, f"192.0.2.{n + 10}")
        assert attempt(tenant_a, confirmed.email, PASSWORD, REQUESTOR_OFFICE, laptop).status_code == 429


def test_spraying_many_emails_from_one_address_is_slowed(timeline, confirmed, tenant_a, tenant_b, caplog):
    with timeline.at(0), caplog.at_level(logging.WARNING, logger="portal.accounts"):
        for n in range(20):  # one guess per email, at both organisations: no account reaches its own allowance
            tenant = tenant_a if n % 2 else tenant_b
            assert attempt(tenant, f"clerk{n}@lawfirm.example.com", WRONG, STRANGER).status_code == 200
        refused = attempt(tenant_a, confirmed.email, PASSWORD, STRANGER)
        assert (refused.status_code, refused["Retry-After"]) == (429, "10")
        assert alert(refused) == (
            "Too many unsuccessful sign-in tries from your network. For your security, please try again in 10 seconds."
        )
        # The accounts themselves are not slowed: from another address, the requestor signs in.
        assert attempt(tenant_a, confirmed.email, PASSWORD, REQUESTOR_OFFICE).status_code == 302
    assert f"Requestor sign-ins from {STRANGER} are slowed (20 failures)" in caplog.text
    with timeline.at(10):
        assert attempt(tenant_a, "clerk99@lawfirm.example.com", WRONG, STRANGER).status_code == 200
        assert attempt(tenant_a, "clerk98@lawfirm.example.com", WRONG, STRANGER)["Retry-After"] == "20"


def test_a_sprayers_own_account_does_not_clear_its_address(timeline, confirmed, tenant_a):
    with timeline.at(0):
        for n in range(20):
            attempt(tenant_a, f"clerk{n}@lawfirm.example.com", WRONG, STRANGER)
    with timeline.at(10):
        assert attempt(tenant_a, confirmed.email, PASSWORD, STRANGER).status_code == 302
        after = attempt(tenant_a, "clerk3@lawfirm.example.com", WRONG, STRANGER)
    assert (after.status_code, after["Retry-After"]) == (429, "20")  # the success took its turn and cleared nothing


def test_the_wait_is_said_in_the_visitors_language(timeline, confirmed, tenant_a):
    spanish = {"HTTP_ACCEPT_LANGUAGE": "es-US,es;q=0.9"}
    with timeline.at(0):
        for _ in range(5):
            attempt(tenant_a, confirmed.email, WRONG, STRANGER, **spanish)
        refused = attempt(tenant_a, confirmed.email, PASSWORD, STRANGER, **spanish)
    assert refused.status_code == 429
    assert alert(refused) == (
        "Demasiados intentos fallidos de inicio de sesión para esta cuenta. Por su seguridad, inténtelo de nuevo "
        "dentro de 10 segundos."
    )


def test_choosing_a_new_password_ends_the_wait_of_the_account(timeline, confirmed, tenant_a):
    with timeline.at(0):
        for _ in range(6):
            attempt(tenant_a, confirmed.email, WRONG, STRANGER)
        requestor = Client(REMOTE_ADDR=REQUESTOR_OFFICE)
        requestor.post(url("account-reset-request", tenant_a), {"email": confirmed.email})
        assert _set(requestor, _reset_link(tenant_a, confirmed.email)).status_code == 302
        assert attempt(tenant_a, confirmed.email, NEW_PASSWORD, REQUESTOR_OFFICE, requestor).status_code == 302


# --- Forgotten password ------------------------------------------------------------------------------------------

NEW_PASSWORD = "a brand new long passphrase"


def _reset_link(tenant, email: str) -> str:
    notification = Notification.objects.filter(tenant=tenant, email_to=email, subject__contains="new password").latest(
        "pk"
    )
    return "/" + re.search(r"https?://\S+", notification.body).group(0).split("://", 1)[1].split("/", 1)[1]


def _set(client, link: str, password: str = NEW_PASSWORD, again: str | None = None):
    return client.post(link, {"password": password, "password_again": again or password})


def test_a_forgotten_password_is_replaced_through_an_emailed_link_that_works_once(visitor, confirmed, tenant_a):
    response = visitor.post(url("account-reset-request", tenant_a), {"email": confirmed.email.upper()})
    assert "If an account uses this address" in response.content.decode()
    link = _reset_link(tenant_a, confirmed.email)
    assert visitor.get(link).status_code == 200
    response = _set(visitor, link)
    assert response.status_code == 302
    assert sign_in(visitor, tenant_a, confirmed.email, NEW_PASSWORD).status_code == 302  # the new password works
    visitor.post(url("account-signout", tenant_a))
    assert sign_in(visitor, tenant_a, confirmed.email, PASSWORD).status_code == 200  # the old one does not
    gone = visitor.get(link)  # used: the link stops working
    assert gone.status_code == 404
    assert "This link no longer works" in gone.content.decode()


def test_a_reset_ends_every_session_of_the_account(visitor, confirmed, tenant_a):
    sign_in(visitor, tenant_a, confirmed.email)
    assert visitor.get(url("account", tenant_a)).status_code == 200
    second = Client(REMOTE_ADDR="10.77.0.1")  # the requestor, on another device
    second.post(url("account-reset-request", tenant_a), {"email": confirmed.email})
    _set(second, _reset_link(tenant_a, confirmed.email))
    assert visitor.get(url("account", tenant_a)).status_code == 302  # signed out


def test_an_unknown_or_unconfirmed_address_gets_the_same_answer_and_no_email(visitor, tenant_a, unique_email):
    sign_up(visitor, tenant_a, unique_email)  # not confirmed
    before = Notification.objects.count()
    answers = {
        visitor.post(url("account-reset-request", tenant_a), {"email": email}).content.decode().split("<main")[1]
        for email in (unique_email, "nobody-here@example.com")
    }
    assert len({answer.split('name="csrfmiddlewaretoken"')[0] for answer in answers}) == 1
    assert Notification.objects.count() == before


def test_a_weak_new_password_is_refused_and_the_link_keeps_working(visitor, confirmed, tenant_a):
    visitor.post(url("account-reset-request", tenant_a), {"email": confirmed.email})
    link = _reset_link(tenant_a, confirmed.email)
    response = _set(visitor, link, "password123")
    assert response.status_code == 400
    assert "too common" in response.content.decode() or "too short" in response.content.decode()
    assert _set(visitor, link).status_code == 302


def test_a_reset_link_is_refused_when_forged_old_or_of_another_organisation(
    visitor, confirmed, tenant_a, tenant_b, monkeypatch
):
    import time

    token = accounts.reset_token(confirmed)
    assert visitor.get(url("account-reset", tenant_b, token=token)).status_code == 404
    assert visitor.get(url("account-reset", tenant_a, token=token[:-3] + "abc")).status_code == 404
    later = time.time() + (accounts.RESET_MINUTES + 1) * 60
    monkeypatch.setattr(time, "time", lambda: later)  # django.core.signing reads time.time()
    assert visitor.get(url("account-reset", tenant_a, token=token)).status_code == 404
