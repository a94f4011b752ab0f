"""fulfillment's events on the request timeline (workflow/timeline.py): each delivery of the records and each
resend, with its evidence and the packet version it sent. One SQL statement whatever their number. (The release
gate's events, a revocation and refused releases, are fulfillment.panels.gate_timeline.)"""

from __future__ import annotations

from django.urls import reverse

from fulfillment.models import Delivery
from roi.models import Tenant
from workflow.choices import TimelineCategory
from workflow.extensions import TimelineEvent, actor_name
from workflow.models import RecordRequest


def deliveries_timeline(*, tenant: Tenant, record_request: RecordRequest) -> list[TimelineEvent]:
    deliveries = (
        Delivery.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk)
        .select_related("delivered_by", "packet")
        .order_by("-delivered_at", "-id")
    )
    events = []
    for delivery in deliveries:
        method = delivery.get_method_display()
        if delivery.resend_of_id is not None:
            title = f"Records resent: {delivery.get_resend_reason_display().lower()} ({method.lower()})"
            detail = " · ".join(
                part for part in [delivery.destination, delivery.evidence, delivery.resend_note] if part
            )
        else:
            title = f"Records delivered ({method.lower()})"
            detail = " · ".join(part for part in [delivery.destination, delivery.evidence] if part)
        events.append(
            TimelineEvent(
                at=delivery.delivered_at,
                title=title,
                detail=detail,
                link=reverse("fulfillment:packet-download", args=[record_request.tracking_number, delivery.packet_id]),
                link_label=f"packet version {delivery.packet.version}",
                who=actor_name(delivery.delivered_by),
                category=TimelineCategory.COMMUNICATION,
            )
        )
    return events
