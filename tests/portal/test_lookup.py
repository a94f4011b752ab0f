"""Status lookup: success with each verifier, one identical answer for every failure, padding, slowing down failures
(never a lockout a stranger could cause) and its audit, the signed link, and what a browser without a grant sees."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from intake.status_links import status_link_path, status_link_token
from portal.lookup import tracking_number_normalise
from portal.models import LookupLockout
from roi import clock
from roi.choices import AccessAction
from roi.models import AccessEvent
from tests import factories
from workflow.choices import RequestorKind

pytestmark = pytest.mark.django_db

LOOKUP = reverse("portal:lookup")
EMAIL = "paralegal@hartley.example.com"


@pytest.fixture
def record_request(tenant_a):
    return factories.RecordRequestFactory(
        tenant=tenant_a,
        requestor__email="Paralegal@Hartley.example.com",
        requestor__phone="(312) 555-0142",
        patient__date_of_birth=date(1980, 4, 2),
    )


def _post(client: Client, number: str, verifier: str, **extra):
    return client.post(LOOKUP, {"tracking_number": number, "verifier": verifier}, **extra)


def _failure_text(response) -> str:
    """The answer without what legitimately differs between two responses (the CSRF token, the typed number)."""
    body = response.content.decode()
    start = body.index('<div class="alert error"')
    return body[start : body.index("</div>", start)]


@pytest.mark.parametrize("verifier", ["paralegal@hartley.example.com ", "312-555-0142", "+1 312 555 0142"])
def test_the_requestors_email_or_phone_opens_the_status_page(client, record_request, verifier):
    response = _post(client, record_request.tracking_number.lower().replace("-", " "), verifier)
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:status", args=[record_request.tracking_number])
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert record_request.tracking_number in page.content.decode()
    lookup = AccessEvent.objects.get(action=AccessAction.PORTAL_LOOKUP)
    assert (lookup.tenant_id, lookup.request_id, lookup.patient_id) == (
        record_request.tenant_id,
        record_request.pk,
        record_request.patient_id,
    )
    assert AccessEvent.objects.filter(action=AccessAction.PORTAL_STATUS_VIEW, request_id=record_request.pk).count() == 1


def test_date_of_birth_works_for_the_patient_but_not_for_a_third_party(client, tenant_a, record_request):
    assert _post(client, record_request.tracking_number, "04/02/1980").status_code == 200  # attorney: refused
    patient_request = factories.RecordRequestFactory(tenant=tenant_a, requestor__kind=RequestorKind.PATIENT)
    dob = patient_request.patient.date_of_birth
    assert _post(client, patient_request.tracking_number, dob.strftime("%m/%d/%Y")).status_code == 302


def test_every_failure_gets_the_same_answer(client, tenant_a, record_request):
    empty_contact = factories.RecordRequestFactory(tenant=tenant_a, requestor__email="", requestor__phone="")
    answers = [
        _post(client, "ROI-2222-3333-4444", "paralegal@hartley.example.com"),  # no such number
        _post(client, record_request.tracking_number, "someone@else.example.com"),  # wrong verifier
        _post(client, record_request.tracking_number, "nonsense"),  # not a verifier at all
        _post(client, empty_contact.tracking_number, ""),  # form error path is separate; see below
        _post(client, empty_contact.tracking_number, "@"),  # a requestor with no email cannot match an empty one
    ]
    failures = [answer for answer in answers if b'class="alert error"' in answer.content]
    assert len(failures) == 4
    assert {answer.status_code for answer in failures} == {200}
    assert len({_failure_text(answer) for answer in failures}) == 1
    assert "could not find a request with these details" in _failure_text(failures[0])
    assert not AccessEvent.objects.filter(action=AccessAction.PORTAL_LOOKUP).exists()


def test_an_empty_field_says_what_to_enter_and_checks_nothing(client):
    response = client.post(LOOKUP, {"tracking_number": "", "verifier": ""})
    text = response.content.decode()
    assert "Enter the tracking number from our letter or email." in text
    assert "Enter your email address, phone number or the patient" in text
    assert 'class="alert error"' not in text


def test_failures_take_at_least_the_configured_time_whether_or_not_the_number_exists(client, settings, record_request):
    settings.PORTAL_LOOKUP_FAILURE_MS = 150
    for number in ("ROI-2222-3333-4444", record_request.tracking_number):
        started = time.perf_counter()
        _post(client, number, "wrong@example.com")
        assert time.perf_counter() - started >= 0.15


def test_a_number_failed_from_many_addresses_slows_every_lookup_of_it_for_a_while(settings, record_request):
    settings.PORTAL_LOOKUP_FREE_ADDRESSES_PER_NUMBER = 3
    start = timezone.now()
    with clock.frozen(start):
        for index in range(3):
            stranger = Client(REMOTE_ADDR=f"10.0.0.{index}")
            assert _post(stranger, record_request.tracking_number, "x@y.example").status_code == 200
        # Slowed now: even the right verifier, from a new address, waits its turn, without a database check.
        slowed = _post(Client(REMOTE_ADDR="10.0.0.99"), record_request.tracking_number, EMAIL)
        assert slowed.status_code == 429
        assert slowed["Retry-After"] == "10"
        assert "please try again in 10 seconds" in slowed.content.decode()
        # A number typed in another form is the same number.
        again = _post(Client(REMOTE_ADDR="10.0.0.98"), record_request.tracking_number.replace("-", ""), "x")
        assert again.status_code == 429
    lockout = LookupLockout.objects.get()
    assert (lockout.scope, lockout.subject, lockout.failures) == ("tracking_number", record_request.tracking_number, 3)
    event = AccessEvent.objects.get(action=AccessAction.PORTAL_LOCKOUT)
    assert (event.tenant_id, event.request_id) == (record_request.tenant_id, record_request.pk)
    # Slowed, not locked: when its turn comes, the requestor gets in.
    with clock.frozen(start + timedelta(seconds=10)):
        assert _post(Client(REMOTE_ADDR="10.0.0.99"), record_request.tracking_number, EMAIL).status_code == 302


def test_a_strangers_failures_from_one_address_do_not_stop_the_requestor_at_another(record_request):
    stranger = Client(REMOTE_ADDR="203.0.113.9")
    answers = [_post(stranger, record_request.tracking_number, f"guess{n}@y.example").status_code for n in range(60)]
    assert answers[:20] == [200] * 20  # PORTAL_LOOKUP_FREE_FAILURES_PER_ADDRESS
    assert set(answers[20:]) == {429}
    requestor = Client(REMOTE_ADDR="198.51.100.20")
    assert _post(requestor, record_request.tracking_number, EMAIL).status_code == 302
    # The requestor's own typo on the way costs them nothing either.
    other = Client(REMOTE_ADDR="198.51.100.21")
    assert _post(other, record_request.tracking_number, "paralegal@hartley.example.org").status_code == 200
    assert _post(other, record_request.tracking_number, EMAIL).status_code == 302


def test_the_emailed_link_works_while_the_number_and_the_address_are_slowed(settings, record_request):
    settings.PORTAL_LOOKUP_FREE_ADDRESSES_PER_NUMBER = 2
    settings.PORTAL_LOOKUP_FREE_FAILURES_PER_ADDRESS = 2
    for index in range(4):
        _post(Client(REMOTE_ADDR=f"10.3.0.{index}"), record_request.tracking_number, "x@y.example")
    _post(Client(REMOTE_ADDR="10.3.0.1"), "ROI-2222-3333-4444", "x@y.example")
    office = Client(REMOTE_ADDR="10.3.0.1")  # the requestor shares an address the attack came from
    slowed = _post(office, record_request.tracking_number, EMAIL)
    assert slowed.status_code == 429
    assert "use the link in the email we sent you" in slowed.content.decode()
    opened = office.get(status_link_path(record_request.tracking_number))
    assert opened.status_code == 302
    page = office.get(opened["Location"])
    assert page.status_code == 200
    assert record_request.tracking_number in page.content.decode()


def test_one_address_hammering_is_slowed_more_each_time_up_to_the_ceiling(settings, record_request):
    assert (settings.PORTAL_LOOKUP_FREE_FAILURES_PER_ADDRESS, settings.PORTAL_LOOKUP_MAX_WAIT_SECONDS) == (20, 300)
    hammer = Client(REMOTE_ADDR="203.0.113.10")
    start = timezone.now()
    with clock.frozen(start):
        for index in range(20):
            _post(hammer, f"ROI-2222-3333-{index % 8 + 2}{index % 8 + 2}{index % 8 + 2}{index % 8 + 2}", "x@y.example")
    waits, moment = [], 0
    for _ in range(8):
        with clock.frozen(start + timedelta(seconds=moment)):
            slowed = _post(hammer, record_request.tracking_number, EMAIL)
            assert slowed.status_code == 429
            waits.append(int(slowed["Retry-After"]))
        moment += waits[-1]
        with clock.frozen(start + timedelta(seconds=moment)):
            assert _post(hammer, "ROI-2222-3333-4444", "x@y.example").status_code == 200
            spanish = _post(hammer, "ROI-2222-3333-4444", "x@y.example", HTTP_ACCEPT_LANGUAGE="es")
    assert waits == [10, 20, 40, 80, 160, 300, 300, 300]
    assert "please try again in 5 minutes, or use the link in the email we sent you" in slowed.content.decode()
    assert "5 minutos" in spanish.content.decode()


def test_an_address_slows_after_its_failures_on_any_numbers(client, settings, record_request):
    settings.PORTAL_LOOKUP_FREE_FAILURES_PER_ADDRESS = 4
    for index in range(4):
        _post(client, f"ROI-2222-3333-{index + 2}{index + 2}{index + 2}{index + 2}", "x@y.example")
    assert _post(client, record_request.tracking_number, EMAIL).status_code == 429
    other_browser = Client(REMOTE_ADDR="10.1.1.1")
    assert _post(other_browser, record_request.tracking_number, EMAIL).status_code == 302
    lockout = LookupLockout.objects.get()
    assert (lockout.scope, lockout.subject) == ("address", "127.0.0.1")
    # The guessed numbers belong to no tenant: no tenant's audit trail gets a row for them.
    assert not AccessEvent.objects.filter(action=AccessAction.PORTAL_LOCKOUT).exists()


def test_a_slowdown_for_a_number_that_does_not_exist_looks_the_same(settings, record_request):
    settings.PORTAL_LOOKUP_FREE_ADDRESSES_PER_NUMBER = 2
    answers = {}
    for number in ("ROI-2222-3333-4444", record_request.tracking_number):
        for index in range(2):
            _post(Client(REMOTE_ADDR=f"10.2.{index}.1"), number, "x@y.example")
        answers[number] = _post(Client(REMOTE_ADDR="10.2.9.9"), number, "x@y.example")
    assert {answer.status_code for answer in answers.values()} == {429}
    assert {answer["Retry-After"] for answer in answers.values()} == {"10"}
    texts = {a.content.decode().split('role="alert">')[1].split("<")[0] for a in answers.values()}
    assert len(texts) == 1


def test_the_signed_link_opens_the_status_page_and_a_forged_one_does_not(client, record_request):
    response = client.get(status_link_path(record_request.tracking_number))
    assert response.status_code == 302
    assert client.get(response["Location"]).status_code == 200
    assert AccessEvent.objects.filter(action=AccessAction.PORTAL_LOOKUP, detail__contains="signed link").count() == 1

    other = Client()
    token = status_link_token(record_request.tracking_number)
    forged = other.get(reverse("portal:status-link", args=[token[:-2] + ("AA" if token[-2:] != "AA" else "BB")]))
    assert forged.status_code == 404
    assert "This link no longer works" in forged.content.decode()


def test_without_a_grant_the_status_page_asks_for_the_verifier_whether_the_number_exists_or_not(client, record_request):
    for number in (record_request.tracking_number, "ROI-2222-3333-4444"):
        response = client.get(reverse("portal:status", args=[number]))
        assert response.status_code == 302
        assert response["Location"] == f"{LOOKUP}?number={number}"
    assert not AccessEvent.objects.filter(action=AccessAction.PORTAL_STATUS_VIEW).exists()


def test_a_grant_for_one_request_shows_no_other(client, tenant_a, record_request):
    other = factories.RecordRequestFactory(tenant=tenant_a)
    _post(client, record_request.tracking_number, "paralegal@hartley.example.com")
    assert client.get(reverse("portal:status", args=[record_request.tracking_number])).status_code == 200
    assert client.get(reverse("portal:status", args=[other.tracking_number])).status_code == 302


def test_a_tampered_grant_cookie_grants_nothing(client, tenant_a, record_request):
    other = factories.RecordRequestFactory(tenant=tenant_a)
    _post(client, record_request.tracking_number, "paralegal@hartley.example.com")
    cookie = client.cookies["roi_portal_access"].value
    value, _sep, rest = cookie.partition(":")
    client.cookies["roi_portal_access"] = f"{value},{other.pk}:{rest}"
    assert client.get(reverse("portal:status", args=[record_request.tracking_number])).status_code == 302


def test_leaving_forgets_the_grant(client, record_request):
    _post(client, record_request.tracking_number, "paralegal@hartley.example.com")
    client.post(reverse("portal:leave"))
    assert client.get(reverse("portal:status", args=[record_request.tracking_number])).status_code == 302


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("roi-abcd-efgh-jkmn", "ROI-ABCD-EFGH-JKMN"),
        ("ABCD EFGH JKMN", "ROI-ABCD-EFGH-JKMN"),
        ("ROIABCDEFGHJKMN", "ROI-ABCD-EFGH-JKMN"),
        ("ROI-ABCD-EFGH-JKM", "ROI-ABCD-EFGH-JKM"),  # too short: kept as typed, matches nothing
        ("ROI-ABCD-EFGH-JKM0", "ROI-ABCD-EFGH-JKM0"),  # 0 is not in the alphabet
    ],
)
def test_tracking_numbers_are_read_however_they_are_typed(typed, expected):
    assert tracking_number_normalise(typed) == expected


def test_portal_pages_are_never_cached_and_carry_the_portal_headers(client, record_request):
    _post(client, record_request.tracking_number, "paralegal@hartley.example.com")
    for url in (LOOKUP, reverse("portal:status", args=[record_request.tracking_number])):
        response = client.get(url)
        assert "no-store" in response["Cache-Control"]
        assert response["Referrer-Policy"] == "same-origin"
        assert "script-src" not in response["Content-Security-Policy"]
        assert "default-src 'none'" in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"


def test_the_lookup_form_needs_its_csrf_token():
    client = Client(enforce_csrf_checks=True)
    assert client.post(LOOKUP, {"tracking_number": "x", "verifier": "y"}).status_code == 403


def test_the_page_speaks_the_browsers_language_and_the_switch_remembers_a_choice(client):
    spanish = client.get(LOOKUP, HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9")
    assert '<html lang="es">' in spanish.content.decode()
    assert spanish["Content-Language"] == "es"
    client.post(reverse("portal:language"), {"language": "en", "next": LOOKUP})
    english = client.get(LOOKUP, HTTP_ACCEPT_LANGUAGE="es")
    assert '<html lang="en">' in english.content.decode()
    # The staff site in the same process stays English after a Spanish portal page.
    assert client.get(reverse("login")).content.decode().count('lang="en"') == 1


def test_the_language_switch_never_redirects_off_the_site(client):
    response = client.post(reverse("portal:language"), {"language": "es", "next": "https://evil.example/"})
    assert response["Location"] == LOOKUP


def test_behind_a_proxy_the_limit_is_per_client_not_per_proxy(settings, record_request):
    """With TRUSTED_PROXY_COUNT=1 the client is the address the proxy appended; one client's failures do not lock
    another client out, and a client cannot pick its address by sending the header itself."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.PORTAL_LOOKUP_FREE_FAILURES_PER_ADDRESS = 2
    proxy = "10.9.9.9"
    for _ in range(2):
        Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7").post(
            LOOKUP, {"tracking_number": "ROI-2222-3333-4444", "verifier": "x@y.example"}
        )
    blocked = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert _post(blocked, record_request.tracking_number, "paralegal@hartley.example.com").status_code == 429
    other = Client(REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR="198.51.100.20")
    assert _post(other, record_request.tracking_number, "paralegal@hartley.example.com").status_code == 302
    assert AccessEvent.objects.get(action=AccessAction.PORTAL_LOOKUP).ip_address == "198.51.100.20"


def test_a_forwarded_value_that_is_not_an_address_falls_back_to_the_peer(settings, record_request):
    settings.TRUSTED_PROXY_COUNT = 2  # one more than the request really passed through
    client = Client(REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="<script>, 203.0.113.7")
    assert _post(client, record_request.tracking_number, "paralegal@hartley.example.com").status_code == 302
    assert AccessEvent.objects.get(action=AccessAction.PORTAL_LOOKUP).ip_address == "10.9.9.9"
