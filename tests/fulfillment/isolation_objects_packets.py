"""Tenant B's retrieved document, page exclusion, release packet and packet build, for the generated isolation test
(tests/test_tenant_isolation.py): every route of fulfillment/views/packets.py that names an object by `pk`."""

from __future__ import annotations

from fulfillment.models import PacketBuild, PageExclusion
from tests.fulfillment.factories import ReleaseDocumentFactory, ReleasePacketFactory


def b_objects(tenant_b, b_request) -> dict[str, int]:
    from django.utils import timezone

    document = ReleaseDocumentFactory(request=b_request, page_count=2)
    exclusion = PageExclusion.objects.create(
        tenant=tenant_b, document=document, first_page=1, last_page=1, reason="duplicate", created_at=timezone.now()
    )
    packet = ReleasePacketFactory(request=b_request, version=1)
    build = PacketBuild.objects.create(
        tenant=tenant_b, request=b_request, record_pages=2, requested_at=timezone.now(), state="built", packet=packet
    )
    return {
        "fulfillment:release-document-download": document.pk,
        "fulfillment:release-document-confirm": document.pk,
        "fulfillment:release-document-exclude": document.pk,
        "fulfillment:release-document-include": document.pk,
        "fulfillment:page-exclusion-add": document.pk,
        "fulfillment:page-category-add": document.pk,
        "fulfillment:page-category-remove": document.pk,
        "fulfillment:page-exclusion-remove": exclusion.pk,
        "fulfillment:packet-download": packet.pk,
        "fulfillment:packet-build-status": build.pk,
    }
