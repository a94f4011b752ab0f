"""Secure download (portal/views/downloads.py): a link's page takes no use on GET, the records come on POST after the
visitor verified (or with this browser's grant), a wrong verifier gets one answer and counts as a failed lookup, a
link that no longer works gets one page, uses are counted atomically, every download is an access event, and the
status page's button serves only this request's link."""

from __future__ import annotations

import hashlib
import random
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from fulfillment import links as service
from intake.status_links import status_link_path
from roi import clock
from roi.models import AccessEvent
from tests.concurrency import run_at_once
from tests.fulfillment.pdfs import pdf_texts
from tests.portal.helpers import EMAIL, download_link

pytestmark = pytest.mark.usefixtures("media")

WRONG = "someone@else.example.org"


@pytest.fixture(autouse=True)
def _fast_failures(settings):
    settings.PORTAL_LOOKUP_FAILURE_MS = 0


@pytest.fixture
def address():
    """A client address of its own per test: failure counts live in the shared cache."""
    return f"198.51.{random.randint(0, 255)}.{random.randint(1, 254)}"


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


# --- The link's page -------------------------------------------------------------------------------------------


def test_opening_the_link_shows_a_page_and_takes_no_use(tenant_a, address):
    link, token = download_link(tenant_a)
    response = Client().get(service.download_path(token), REMOTE_ADDR=address)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Download your records" in page
    assert 'name="verifier"' in page
    assert link.delivery.request.tracking_number not in page
    assert "no-store" in response["Cache-Control"]
    # Not "no-referrer": browsers would send Origin: null with the form post, and the CSRF check would refuse it.
    assert response["Referrer-Policy"] == "same-origin"
    link.refresh_from_db()
    assert link.uses == 0
    assert not AccessEvent.objects.exists()


@pytest.mark.parametrize("verifier", [EMAIL, "04/12/1968"], ids=["email", "date-of-birth"])
def test_the_right_verifier_downloads_the_delivered_packet_and_writes_the_access_event(tenant_a, address, verifier):
    link, token = download_link(tenant_a)
    response = Client().post(service.download_path(token), {"verifier": verifier}, REMOTE_ADDR=address)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    rr = link.delivery.request
    packet = link.delivery.packet
    assert (
        response["Content-Disposition"] == f'attachment; filename="{rr.tracking_number}-records-v{packet.version}.pdf"'
    )
    body = _body(response)
    assert hashlib.sha256(body).hexdigest() == packet.sha256
    assert len(pdf_texts(body)) == packet.page_count
    link.refresh_from_db()
    assert link.uses == 1
    event = AccessEvent.objects.get()
    assert (event.tenant, event.actor, event.action) == (tenant_a, None, "download_document")
    assert (event.request_id, event.patient_id, event.ip_address) == (rr.pk, rr.patient_id, address)
    assert event.actor_label.startswith("portal requestor (verified by verifier)")
    assert "use 1 of 3" in event.detail


def test_a_wrong_verifier_gets_one_answer_takes_no_use_and_counts_as_a_failed_lookup(tenant_a, address, settings):
    settings.PORTAL_LOOKUP_FREE_FAILURES_PER_ADDRESS = 2
    link, token = download_link(tenant_a)
    other, other_token = download_link(tenant_a)
    first = Client().post(service.download_path(token), {"verifier": WRONG}, REMOTE_ADDR=address)
    second = Client().post(service.download_path(other_token), {"verifier": "(999) 555-0000"}, REMOTE_ADDR=address)
    assert first.status_code == second.status_code == 200
    assert first["Content-Type"].startswith("text/html")
    assert "do not match what we have" in first.content.decode()
    # The same page whatever was wrong (only the CSRF token and the link's own limits differ).
    assert first.content.decode().split("<form")[0] == second.content.decode().split("<form")[0]
    for each in (link, other):
        each.refresh_from_db()
        assert each.uses == 0
    assert not AccessEvent.objects.filter(action="download_document").exists()
    # The two failures count towards the address's lookups too: the status lookup from there now waits.
    lookup = Client().post(
        reverse("portal:lookup"),
        {"tracking_number": link.delivery.request.tracking_number, "verifier": EMAIL},
        REMOTE_ADDR=address,
    )
    assert lookup.status_code == 429


def test_too_many_wrong_verifiers_slow_the_download_like_a_lookup(tenant_a, address, settings):
    settings.PORTAL_LOOKUP_FREE_FAILURES_PER_ADDRESS = 2
    link, token = download_link(tenant_a)
    client = Client()
    for _ in range(2):
        client.post(service.download_path(token), {"verifier": WRONG}, REMOTE_ADDR=address)
    response = client.post(service.download_path(token), {"verifier": EMAIL}, REMOTE_ADDR=address)
    assert response.status_code == 429
    assert response["Retry-After"] == "10"
    assert "please try again in 10 seconds" in response.content.decode()
    link.refresh_from_db()
    assert link.uses == 0
    # Its turn comes: the right verifier downloads.
    with clock.frozen(clock.now() + timedelta(seconds=10)):
        response = client.post(service.download_path(token), {"verifier": EMAIL}, REMOTE_ADDR=address)
    assert response["Content-Type"] == "application/pdf"


def test_a_browser_verified_for_the_request_only_presses_download(tenant_a, address):
    link, token = download_link(tenant_a)
    client = Client()
    client.get(status_link_path(link.delivery.request.tracking_number), REMOTE_ADDR=address)  # grants this browser
    page = client.get(service.download_path(token), REMOTE_ADDR=address).content.decode()
    assert 'name="verifier"' not in page
    response = client.post(service.download_path(token), REMOTE_ADDR=address)
    assert response["Content-Type"] == "application/pdf"
    event = AccessEvent.objects.filter(action="download_document").get()
    assert event.actor_label.startswith("portal requestor (verified earlier in this browser)")


@pytest.mark.parametrize(
    "kwargs",
    [{"expires_in": timedelta(seconds=-1)}, {"uses": 3}, {"revoked": True}],
    ids=["expired", "used-up", "revoked"],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_link_that_no_longer_works_says_so_and_whom_to_contact(tenant_a, address, kwargs, method):
    tenant_a.him_phone = "(555) 010-2000"
    tenant_a.him_email = "him@alpha.example.org"
    tenant_a.save()
    link, token = download_link(tenant_a, **kwargs)
    before = link.uses
    response = getattr(Client(), method)(service.download_path(token), {"verifier": EMAIL}, REMOTE_ADDR=address)
    assert response.status_code == 410
    page = response.content.decode()
    assert "This link no longer works" in page
    assert "(555) 010-2000" in page
    assert "him@alpha.example.org" in page
    for detail in ("expired", "revoked", "used up"):
        assert detail not in page.lower()
    assert link.delivery.request.tracking_number not in page
    link.refresh_from_db()
    assert link.uses == before
    assert not AccessEvent.objects.exists()


def test_an_unknown_token_gets_the_same_page_with_404(tenant_a, address):
    download_link(tenant_a)
    response = Client().post(service.download_path("no-such-token"), {"verifier": EMAIL}, REMOTE_ADDR=address)
    assert response.status_code == 404
    assert "This link no longer works" in response.content.decode()
    assert tenant_a.name not in response.content.decode()


def test_the_last_use_is_the_last(tenant_a, address):
    link, token = download_link(tenant_a, max_uses=2)
    client = Client()
    for _ in range(2):
        assert client.post(service.download_path(token), {"verifier": EMAIL}, REMOTE_ADDR=address).status_code == 200
    assert client.post(service.download_path(token), {"verifier": EMAIL}, REMOTE_ADDR=address).status_code == 410
    link.refresh_from_db()
    assert link.uses == 2
    assert AccessEvent.objects.filter(action="download_document").count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_downloads_at_once_on_the_last_use_give_the_packet_once(tenant_a, settings, tmp_path, address):
    settings.MEDIA_ROOT = tmp_path / "media"
    link, token = download_link(tenant_a, uses=2, max_uses=3)

    def download() -> int:
        return Client().post(service.download_path(token), {"verifier": EMAIL}, REMOTE_ADDR=address).status_code

    race = run_at_once(download, n=2, timeout=30)
    assert race.errors == []
    assert sorted(race.results) == [200, 410]
    link.refresh_from_db()
    assert link.uses == 3
    assert AccessEvent.objects.filter(tenant=tenant_a, action="download_document").count() == 1


# --- The status page ---------------------------------------------------------------------------------------------


def _status_download(client, link, address, tracking_number=None):
    number = tracking_number or link.delivery.request.tracking_number
    return client.post(reverse("portal:status-download", args=[number, link.pk]), REMOTE_ADDR=address)


def _granted_client(record_request, address) -> Client:
    client = Client()
    client.get(status_link_path(record_request.tracking_number), REMOTE_ADDR=address)
    return client


def test_the_status_page_offers_the_download_with_its_limits_to_a_verified_visitor(tenant_a, address):
    link, _ = download_link(tenant_a, uses=1)
    rr = link.delivery.request
    client = _granted_client(rr, address)
    page = client.get(reverse("portal:status", args=[rr.tracking_number]), REMOTE_ADDR=address).content.decode()
    assert reverse("portal:status-download", args=[rr.tracking_number, link.pk]) in page
    assert "2 more times" in page
    response = _status_download(client, link, address)
    assert response["Content-Type"] == "application/pdf"
    assert hashlib.sha256(_body(response)).hexdigest() == link.delivery.packet.sha256
    link.refresh_from_db()
    assert link.uses == 2
    event = AccessEvent.objects.get(action="download_document")
    assert event.request_id == rr.pk
    assert event.actor_label.startswith("portal requestor (verified earlier in this browser)")


def test_the_status_page_says_when_the_download_no_longer_works(tenant_a, address):
    link, _ = download_link(tenant_a, uses=3)
    rr = link.delivery.request
    client = _granted_client(rr, address)
    page = client.get(reverse("portal:status", args=[rr.tracking_number]), REMOTE_ADDR=address).content.decode()
    assert "no longer available" in page
    assert reverse("portal:status-download", args=[rr.tracking_number, link.pk]) not in page
    assert _status_download(client, link, address).status_code == 410


def test_the_status_page_download_needs_a_grant(tenant_a, address):
    link, _ = download_link(tenant_a)
    response = _status_download(Client(), link, address)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:lookup"))
    link.refresh_from_db()
    assert link.uses == 0
    assert not AccessEvent.objects.filter(action="download_document").exists()


def test_the_status_page_download_refuses_another_requests_link(tenant_a, tenant_b, address):
    mine, _ = download_link(tenant_a)
    other, _ = download_link(tenant_a)
    elsewhere, _ = download_link(tenant_b)
    client = _granted_client(mine.delivery.request, address)
    number = mine.delivery.request.tracking_number
    for link in (other, elsewhere):
        assert _status_download(client, link, address, tracking_number=number).status_code == 404
        link.refresh_from_db()
        assert link.uses == 0
    assert not AccessEvent.objects.filter(action="download_document").exists()
