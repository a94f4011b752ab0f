"""The public download by link: the packet for a valid token, one plain page for every failure, uses counted
atomically (two downloads at once on the last use), and an access event per download."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client

from fulfillment import delivery as service
from fulfillment.models import DownloadLink
from roi import clock
from roi.models import AccessEvent
from tests.fulfillment.factories import DeliveryFactory, ReleasePacketFactory
from tests.fulfillment.pdfs import pdf_texts
from workflow.choices import DeliveryMethod

pytestmark = pytest.mark.usefixtures("media")


def _link(tenant, *, uses=0, max_uses=3, expires_in=timedelta(days=5), revoked=False):  # type: ignore[no-untyped-def]
    packet = ReleasePacketFactory(request__tenant=tenant)
    delivery = DeliveryFactory(
        packet=packet, method=DeliveryMethod.PORTAL_DOWNLOAD, destination="rosa@example.org", mail_tracking_number=""
    )
    token = f"token-{DownloadLink.objects.count()}-abcdefghijklmnopqrstuvwxyz"
    now = clock.now()
    link = DownloadLink.objects.create(
        tenant=tenant,
        delivery=delivery,
        token_digest=service.token_digest(token),
        expires_at=now + expires_in,
        max_uses=max_uses,
        uses=uses,
        sent_to="rosa@example.org",
        created_at=now,
        revoked_at=now if revoked else None,
    )
    return link, token


def test_a_valid_link_serves_the_packet_as_an_attachment_without_login(tenant_a):
    link, token = _link(tenant_a)
    response = Client().get(service.download_path(token), REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    rr = link.delivery.request
    version = link.delivery.packet.version
    assert response["Content-Disposition"] == f'attachment; filename="{rr.tracking_number}-records-v{version}.pdf"'
    assert response["Cache-Control"] == "no-store"
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == link.delivery.packet.sha256
    assert len(pdf_texts(body)) == link.delivery.packet.page_count
    link.refresh_from_db()
    assert link.uses == 1


def test_each_download_is_an_access_event_without_a_user(tenant_a):
    link, token = _link(tenant_a)
    Client().get(service.download_path(token), REMOTE_ADDR="203.0.113.9")
    event = AccessEvent.objects.get()
    rr = link.delivery.request
    assert event.tenant == tenant_a
    assert event.actor is None
    assert event.actor_label.startswith("download link")
    assert event.action == "download_document"
    assert event.ip_address == "203.0.113.9"
    assert event.request_id == rr.pk
    assert event.patient_id == rr.patient_id
    assert "Download by link" in event.detail
    assert "use 1 of 3" in event.detail


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"expires_in": timedelta(seconds=-1)}, 410),
        ({"uses": 3}, 410),
        ({"revoked": True}, 410),
    ],
    ids=["expired", "used-up", "revoked"],
)
def test_a_link_that_no_longer_works_says_so_and_whom_to_contact(tenant_a, kwargs, status):
    tenant_a.him_phone = "(555) 010-2000"
    tenant_a.him_email = "him@alpha.example.org"
    tenant_a.save()
    link, token = _link(tenant_a, **kwargs)
    before = link.uses
    response = Client().get(service.download_path(token))
    assert response.status_code == status
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


def test_an_unknown_token_gets_the_same_page_with_404(tenant_a):
    _link(tenant_a)
    response = Client().get(service.download_path("no-such-token"))
    assert response.status_code == 404
    assert "This link no longer works" in response.content.decode()
    assert "Alpha General Hospital" not in response.content.decode()


def test_the_last_use_is_the_last(tenant_a):
    link, token = _link(tenant_a, max_uses=2)
    client = Client()
    assert client.get(service.download_path(token)).status_code == 200
    assert client.get(service.download_path(token)).status_code == 200
    assert client.get(service.download_path(token)).status_code == 410
    link.refresh_from_db()
    assert link.uses == 2
    assert AccessEvent.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_downloads_at_once_on_the_last_use_give_the_packet_once(tenant_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    link, token = _link(tenant_a, uses=2, max_uses=3)
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def download() -> None:
        try:
            barrier.wait(timeout=10)
            statuses.append(Client().get(service.download_path(token)).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=download) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [200, 410]
    link.refresh_from_db()
    assert link.uses == 3
    assert AccessEvent.objects.filter(tenant=tenant_a).count() == 1
