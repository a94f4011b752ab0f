"""intake's events on the request timeline (workflow/timeline.py): the letters generated for the requestor and every
email the requestor was sent (the outbox rows of intake/notices.py, whichever app's event wrote them). Two SQL
statements whatever their number."""

from __future__ import annotations

from django.urls import reverse

from intake.choices import NoticeEvent
from intake.models import Letter
from intake.notices import dedupe_key
from roi.models import Notification, Tenant
from workflow.choices import TimelineCategory
from workflow.extensions import BY_SYSTEM, TimelineEvent, actor_name
from workflow.models import RecordRequest

NOTICE_KIND_PREFIX = "requestor_"


def _notice_state(notice: Notification) -> str:
    if notice.emailed_at is not None:
        return f"sent {notice.emailed_at:%b %-d, %Y %H:%M}"
    if notice.last_error:
        return f"not sent yet ({notice.attempts} attempt{'s' if notice.attempts != 1 else ''}: {notice.last_error})"
    return "waiting to be sent"


def intake_timeline(*, tenant: Tenant, record_request: RecordRequest) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    letters = Letter.objects.for_tenant(tenant).filter(request_id=record_request.pk).select_related("generated_by")
    for letter in letters:
        events.append(
            TimelineEvent(
                at=letter.generated_at,
                title=f"{letter.get_kind_display()} generated",
                detail=f"Emailed to {letter.emailed_to}" if letter.emailed_to else "",
                link=reverse("intake:letter-download", args=[record_request.tracking_number, letter.pk]),
                link_label="the letter",
                who=actor_name(letter.generated_by),
                category=TimelineCategory.COMMUNICATION,
            )
        )
    # The outbox has no request column: a requestor notice's dedupe key names the request (intake.notices.dedupe_key),
    # and the key's unique index on (tenant, dedupe_key) finds them by prefix.
    prefix = dedupe_key(record_request=record_request, event="")
    notices = Notification.objects.for_tenant(tenant).filter(
        dedupe_key__startswith=prefix, kind__startswith=NOTICE_KIND_PREFIX, recipient__isnull=True
    )
    for notice in notices:
        event = notice.kind.removeprefix(NOTICE_KIND_PREFIX)
        label = NoticeEvent(event).label if event in NoticeEvent.values else event
        events.append(
            TimelineEvent(
                at=notice.created_at,
                title=f"Email to the requestor: {label}",
                detail=f"“{notice.subject}” to {notice.email_to}, {_notice_state(notice)}",
                who=BY_SYSTEM,
                category=TimelineCategory.COMMUNICATION,
            )
        )
    return events
