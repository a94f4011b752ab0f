"""Packets built in the background (fulfillment/packet_builds.py): a big chart goes to a worker, the request page
shows its progress, a build is claimed once, a failure names the document, and whoever asked is told."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from fulfillment import packet_builds
from fulfillment.choices import PacketBuildState
from fulfillment.models import PacketBuild, ReleasePacket
from roi.errors import ServiceError
from roi.models import Notification
from tests import factories
from tests.concurrency import wait_until
from tests.fulfillment.corpus import pdf_pages
from tests.fulfillment.factories import ReleaseDocumentFactory
from tests.fulfillment.helpers import add
from workflow.choices import RequestState


@pytest.fixture
def rr(media, request_in_state):
    return request_in_state(RequestState.IN_FULFILLMENT)


@pytest.fixture
def small_inline_limit(settings):
    settings.PACKET_INLINE_PAGES = 2


def start(rr, actor) -> PacketBuild:
    return packet_builds.packet_build_start(tenant=rr.tenant, actor=actor, record_request=rr)


def run(build: PacketBuild) -> str:
    return packet_builds.packet_build_run(tenant_id=build.tenant_id, build_id=build.pk)


def test_a_packet_over_the_inline_limit_is_asked_of_a_worker_and_not_built_in_the_page(
    rr, alice, client_for, small_inline_limit
):
    ReleaseDocumentFactory(request=rr, page_count=3)
    client = client_for(alice)
    response = client.post(reverse("fulfillment:packet-build", args=[rr.tracking_number]), follow=True)
    build = PacketBuild.objects.get(request=rr)
    assert (build.state, build.record_pages, build.requested_by) == (PacketBuildState.QUEUED, 3, alice)
    assert not ReleasePacket.objects.filter(request=rr).exists()
    assert "is being built in the background" in response.content.decode()
    # The release panel (open while in fulfillment, loaded after the first paint) shows the progress.
    page = client.get(reverse("workflow:panel", args=[rr.tracking_number, "release"]), HTTP_HX_REQUEST="true")
    page = page.content.decode()
    assert "Waiting for the background worker" in page
    status_url = reverse("fulfillment:packet-build-status", args=[rr.tracking_number, build.pk])
    assert f'hx-get="{status_url}"' in page
    assert "disabled>Build the packet (3 record pages)" in page  # no second build while one is on its way


def test_a_small_packet_is_still_built_within_the_page_load(rr, alice, client_for, settings):
    settings.PACKET_INLINE_PAGES = 3
    ReleaseDocumentFactory(request=rr, page_count=3)
    client_for(alice).post(reverse("fulfillment:packet-build", args=[rr.tracking_number]))
    assert ReleasePacket.objects.get(request=rr).record_pages == 3
    assert not PacketBuild.objects.filter(request=rr).exists()


def test_the_worker_claims_a_build_once_builds_it_and_tells_who_asked(rr, alice):
    add(rr, alice, pdf_pages(7), name="chart.pdf")
    build = start(rr, alice)
    assert run(build) == PacketBuildState.BUILT
    assert run(build) == "skipped"  # the same message delivered twice builds once
    build.refresh_from_db()
    packet = ReleasePacket.objects.get(request=rr)
    assert (build.packet, build.pages_done, build.record_pages, packet.built_by) == (packet, 7, 7, alice)
    assert build.finished_at is not None
    notice = Notification.objects.get(recipient=alice, kind="packet_built")
    assert notice.subject == f"Packet v1 of {rr.tracking_number} is ready (7 record pages)"


def test_a_failed_build_names_the_document_stays_on_the_page_and_is_told(rr, alice, client_for):
    ReleaseDocumentFactory(request=rr, page_count=1, original_name="scan-0412.pdf", pdf=b"%PDF-1.7\n" + bytes(200))
    build = start(rr, alice)
    assert run(build) == PacketBuildState.FAILED
    build.refresh_from_db()
    assert "document 1, 'scan-0412.pdf'" in build.error
    assert not ReleasePacket.objects.filter(request=rr).exists()
    notice = Notification.objects.get(recipient=alice, kind="packet_failed")
    assert "scan-0412.pdf" in notice.body
    page = client_for(alice).get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()
    assert "The packet was not built." in page
    assert "scan-0412.pdf" in page


def test_one_build_at_a_time_unless_the_last_worker_went_silent(rr, alice, sam):
    ReleaseDocumentFactory(request=rr, page_count=2)
    first = start(rr, alice)
    with pytest.raises(ServiceError, match="already being built"):
        start(rr, sam)
    PacketBuild.objects.filter(pk=first.pk).update(
        state=PacketBuildState.RUNNING, heartbeat_at=first.requested_at - timedelta(minutes=11)
    )
    second = start(rr, sam)
    first.refresh_from_db()
    assert first.state == PacketBuildState.FAILED
    assert "stopped before it finished" in first.error
    assert second.state == PacketBuildState.QUEUED


def test_the_progress_fragment_polls_while_building_and_stops_when_done(rr, alice, client_for):
    add(rr, alice, pdf_pages(3), name="chart.pdf")
    build = start(rr, alice)
    client = client_for(alice)
    url = reverse("fulfillment:packet-build-status", args=[rr.tracking_number, build.pk])
    PacketBuild.objects.filter(pk=build.pk).update(state=PacketBuildState.RUNNING, pages_done=1)
    running = client.get(url).content.decode()
    assert "1 of 3 record pages laid out" in running
    assert 'hx-trigger="every 2s"' in running
    PacketBuild.objects.filter(pk=build.pk).update(state=PacketBuildState.QUEUED)
    run(build)
    done = client.get(url).content.decode()
    assert "Packet version 1 is ready" in done
    assert "hx-trigger" not in done


def test_another_organisations_build_answers_404(rr, alice, client_for, tenant_b):
    ReleaseDocumentFactory(request=rr, page_count=2)
    build = start(rr, alice)
    bob = factories.UserFactory(username="bob-b")
    factories.MembershipFactory(user=bob, tenant=tenant_b)
    url = reverse("fulfillment:packet-build-status", args=[rr.tracking_number, build.pk])
    assert client_for(bob).get(url).status_code == 404


@pytest.mark.worker
def test_a_real_worker_builds_the_packet_it_was_asked_for(media, request_in_state, alice, db_worker_queue, settings):
    settings.PACKET_BUILD_QUEUE = db_worker_queue
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    add(rr, alice, pdf_pages(120), name="chart.pdf")
    build = start(rr, alice)  # queued on commit: this test runs without a wrapping transaction

    def finished() -> bool:
        build.refresh_from_db()
        return not build.active

    wait_until(finished, what="the worker to finish the packet build", timeout=120, interval=0.2)
    assert (build.state, build.error) == (PacketBuildState.BUILT, "")
    assert build.packet.record_pages == 120
