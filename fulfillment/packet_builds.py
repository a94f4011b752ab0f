"""Packets built in the background: a chart too big to lay out within a page load is built by a worker, and the
request page shows its progress while staff keep working.

`packet_build_start` records the wish (a PacketBuild row, at most one waiting or running per request) and queues the
task once the transaction commits; `packet_build_run` is what the worker does: it claims the row with a conditional
UPDATE (a message delivered twice builds once), calls fulfillment.packets.packet_build with a progress callback, and
records the outcome: the packet, or the reason it was not built, naming the document and page at fault. Whoever
asked gets an in-app notice either way. `packet_build_or_start` is what the build button asks: a small packet is built
within the page load as before, a big one (or any while another build is on its way) goes to the worker.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from fulfillment import documents as docs
from fulfillment import packets
from fulfillment.choices import PacketBuildState
from fulfillment.models import PacketBuild, ReleasePacket
from roi import clock
from roi.errors import ServiceError
from roi.models import Tenant, User
from roi.notifications import notify
from roi.tenancy import role_in
from workflow.models import RecordRequest

logger = logging.getLogger(__name__)

# Packets of more record pages than this go to a worker (PACKET_INLINE_PAGES). Laying out 50 pages takes well under a
# second (benchmarks/packets.py); scans heavier than the benchmark's, the cover sheet and the request's other work
# come on top, and a page load should stay short whatever the chart.
DEFAULT_INLINE_PAGES = 50
# A running build whose worker has said nothing for this long is taken as dead (the worker was killed or the
# machine restarted): the request can be built again.
STALE_AFTER = timedelta(minutes=10)
PROGRESS_EVERY = timedelta(seconds=1)


def inline_pages() -> int:
    return int(getattr(settings, "PACKET_INLINE_PAGES", DEFAULT_INLINE_PAGES))


def builds_in_background(record_pages: int) -> bool:
    return record_pages > inline_pages()


def active_build(*, tenant: Tenant, record_request: RecordRequest) -> PacketBuild | None:
    """The build waiting or running for this request, if any (the panel shows its progress)."""
    return (
        PacketBuild.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk, state__in=[PacketBuildState.QUEUED, PacketBuildState.RUNNING])
        .first()
    )


def _stale(build: PacketBuild, now: Any) -> bool:
    seen = build.heartbeat_at or build.requested_at
    return now - seen > STALE_AFTER


def packet_build_start(*, tenant: Tenant, actor: Any, record_request: RecordRequest) -> PacketBuild:
    """Ask a worker to build the next packet version; the task is queued when the transaction commits."""
    with transaction.atomic():
        current = docs.lock_request_for_work(tenant=tenant, record_request=record_request)
        _, record_pages = packets.contents_to_release(tenant=tenant, record_request=current)
        now = clock.now()
        running = active_build(tenant=tenant, record_request=current)
        if running is not None:
            if not _stale(running, now):
                raise ServiceError(
                    "A packet is already being built for this request "
                    f"({running.pages_done} of {running.record_pages} pages so far): wait for it to finish."
                )
            _finish(running, state=PacketBuildState.FAILED, error=STOPPED, now=now)
        build = PacketBuild.objects.create(
            tenant=tenant,
            request=current,
            record_pages=record_pages,
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
            requested_at=now,
        )
        transaction.on_commit(lambda: _enqueue(build))
    return build


def packet_build_or_start(*, tenant: Tenant, actor: Any, record_request: RecordRequest) -> ReleasePacket | PacketBuild:
    """Build the packet now (a ReleasePacket) or hand it to a worker (a PacketBuild), by its size."""
    _, pages = packets.contents_to_release(tenant=tenant, record_request=record_request)
    if builds_in_background(pages) or active_build(tenant=tenant, record_request=record_request):
        return packet_build_start(tenant=tenant, actor=actor, record_request=record_request)
    return packets.packet_build(tenant=tenant, actor=actor, record_request=record_request)


STOPPED = "The build stopped before it finished (the background worker was restarted). Build the packet again."
UNREACHABLE = (
    "The packet could not be handed to the background worker. Try again in a minute; if it happens again, ask "
    "your administrator to check that the worker is running."
)


def _enqueue(build: PacketBuild) -> None:
    from fulfillment.tasks import build_packet  # tasks import this module

    try:
        # PACKET_BUILD_QUEUE sends builds to a queue of their own (a worker started with -Q), so that a long build
        # never holds up notifications and escalations on the default queue.
        build_packet.apply_async(
            args=[build.tenant_id, build.pk], queue=getattr(settings, "PACKET_BUILD_QUEUE", None) or None
        )
    except Exception:
        logger.exception("Could not queue packet build %s", build.pk)
        PacketBuild.objects.for_tenant(build.tenant_id).filter(pk=build.pk, state=PacketBuildState.QUEUED).update(
            state=PacketBuildState.FAILED, error=UNREACHABLE, finished_at=clock.now()
        )


def _finish(build: PacketBuild, *, state: str, now: Any, error: str = "", packet: Any = None) -> None:
    build.state = state
    build.error = error
    build.packet = packet
    build.finished_at = now
    build.save(update_fields=["state", "error", "packet", "finished_at"])


def packet_build_run(*, tenant_id: int, build_id: int) -> str:
    """The worker's part. Returns the state the build ended in ("skipped" when another delivery of the message
    already took it)."""
    tenant = Tenant.objects.get(pk=tenant_id)
    now = clock.now()
    claimed = (
        PacketBuild.objects.for_tenant(tenant)
        .filter(pk=build_id, state=PacketBuildState.QUEUED)
        .update(state=PacketBuildState.RUNNING, started_at=now, heartbeat_at=now)
    )
    if not claimed:
        return "skipped"
    build = PacketBuild.objects.for_tenant(tenant).select_related("request", "requested_by").get(pk=build_id)
    last_report = [now]

    def progress(done: int, total: int) -> None:
        moment = clock.now()
        if done < total and moment - last_report[0] < PROGRESS_EVERY:
            return
        last_report[0] = moment
        PacketBuild.objects.for_tenant(tenant).filter(pk=build.pk).update(
            pages_done=done, record_pages=total, heartbeat_at=moment
        )

    actor = build.requested_by
    try:
        packet = packets.packet_build(tenant=tenant, actor=actor, record_request=build.request, progress=progress)
    except ServiceError as error:
        _finish(build, state=PacketBuildState.FAILED, error=error.message, now=clock.now())
    except Exception:
        logger.exception("Packet build %s failed", build.pk)
        _finish(
            build,
            state=PacketBuildState.FAILED,
            error="The packet could not be built because of an error on our side; it has been logged. Try again, "
            "and if it fails again, tell your administrator.",
            now=clock.now(),
        )
    else:
        build.pages_done = packet.record_pages
        build.save(update_fields=["pages_done"])
        _finish(build, state=PacketBuildState.BUILT, packet=packet, now=clock.now())
    _tell_requester(tenant, build, actor)
    return build.state


def _tell_requester(tenant: Tenant, build: PacketBuild, actor: User | None) -> None:
    """An in-app notice (no email: a failure names documents), for whoever has moved on to other work."""
    if actor is None or role_in(actor, tenant) is None:
        return
    number = build.request.tracking_number
    if build.state == PacketBuildState.BUILT:
        subject = f"Packet v{build.packet.version} of {number} is ready ({build.packet.record_pages} record pages)"
        body = "It needs quality control before delivery."
    else:
        subject = f"The packet of {number} was not built"
        body = build.error
    notify(
        tenant=tenant,
        recipient=actor,
        kind="packet_built" if build.state == PacketBuildState.BUILT else "packet_failed",
        subject=subject,
        body=body,
        link=reverse("workflow:detail", args=[number]) + "#release-documents",
        dedupe_key=f"packet-build:{build.pk}",
    )
