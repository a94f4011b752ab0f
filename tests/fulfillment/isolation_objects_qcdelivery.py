"""Tenant B's objects for the QC and delivery routes that name one by pk (tests/test_tenant_isolation.py)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from fulfillment.models import DownloadLink
from tests.fulfillment.factories import DeliveryFactory, ReleasePacketFactory
from workflow.choices import DeliveryMethod


def b_objects(tenant_b, b_request) -> dict[str, int]:
    packet = ReleasePacketFactory(request=b_request, tenant=tenant_b)
    delivery = DeliveryFactory(
        packet=packet, method=DeliveryMethod.EMAIL_LINK, destination="b@example.org", mail_tracking_number=""
    )
    link = DownloadLink.objects.create(
        tenant=tenant_b,
        delivery=delivery,
        token_digest="b" * 64,
        expires_at=timezone.now() + timedelta(days=5),
        max_uses=3,
        sent_to="b@example.org",
        created_at=timezone.now(),
    )
    return {"fulfillment:link-revoke": link.pk, "fulfillment:link-reissue": delivery.pk}
