"""The portal's events on the request timeline (workflow/timeline.py): each time the requestor opened the status
page, and each document they uploaded, read from the access events the portal writes for both (portal.verification
`requestor_access_record`). One SQL statement whatever their number."""

from __future__ import annotations

from django.urls import reverse

from roi.choices import AccessAction
from roi.models import AccessEvent, Tenant
from workflow.choices import TimelineCategory
from workflow.extensions import BY_PORTAL, TimelineEvent
from workflow.models import RecordRequest


def portal_timeline(*, tenant: Tenant, record_request: RecordRequest) -> list[TimelineEvent]:
    rows = (
        AccessEvent.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk, action__in=[AccessAction.PORTAL_STATUS_VIEW, AccessAction.PORTAL_UPLOAD])
        .order_by("-at", "-id")
        .values_list("at", "action", "object_id", "detail")
    )
    events = []
    for at, action, object_id, detail in rows:
        if action == AccessAction.PORTAL_UPLOAD:
            link = (
                reverse("intake:document-download", args=[record_request.tracking_number, int(object_id)])
                if object_id.isdigit()
                else ""
            )
            events.append(
                TimelineEvent(
                    at=at,
                    title="Uploaded a document",
                    detail=detail.removeprefix("Portal upload: "),
                    link=link,
                    link_label="the document",
                    who=BY_PORTAL,
                    category=TimelineCategory.COMMUNICATION,
                )
            )
        else:
            events.append(
                TimelineEvent(
                    at=at, title="Viewed the status page", who=BY_PORTAL, category=TimelineCategory.COMMUNICATION
                )
            )
    return events
