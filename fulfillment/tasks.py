"""Background work of the fulfillment app."""

from __future__ import annotations

from celery import shared_task

from fulfillment.packet_builds import packet_build_run
from roi import rls


@shared_task(acks_late=True)
def build_packet(tenant_id: int, build_id: int) -> str:
    """Build a release packet asked for on the request page (fulfillment/packet_builds.py), in its organisation's
    row-level security scope; a message delivered twice builds once."""
    with rls.tenant_scope(tenant_id):
        return packet_build_run(tenant_id=tenant_id, build_id=build_id)
