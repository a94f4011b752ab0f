"""Requestor accounts: sign up, confirm by email, sign in (rate-limited, one answer for every failure), the list of the
account's own requests at one organisation, sign out."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from portal import accounts
from portal.models import RequestorAccount
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


def test_sign_in_locks_after_repeated_failures_even_with_the_right_password(visitor, confirmed, tenant_a):
    for _ in range(accounts.FAILURES_PER_EMAIL):
        sign_in(visitor, tenant_a, confirmed.email, password="guess guess guess")
    locked = sign_in(visitor, tenant_a, confirmed.email)
    assert locked.status_code == 429
    assert "Too many unsuccessful tries" in locked.content.decode()
    assert visitor.get(url("account", tenant_a)).status_code == 302


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
    from django.test import Client

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
