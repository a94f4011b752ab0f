"""A small organisation's month, built by hand for the dashboard tests: a bit of everything the dashboard counts,
with events inside and outside the last 30 days."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from exceptions.models import EscalationEvent, EscalationRule, ExceptionEpisode
from fulfillment.models import Delivery, QcReview, ReleasePacket
from intake.models import Extension
from roi.choices import AccessAction
from roi.models import AccessEvent, Tenant
from tests import factories
from workflow.choices import Channel, RequestState, RequestType
from workflow.models import RecordRequest, StatusCall


def local(tenant: Tenant, day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tenant.tzinfo)


def today_of(tenant: Tenant) -> date:
    return timezone.localdate(timezone=tenant.tzinfo)


def make_request(tenant: Tenant, **fields: Any) -> RecordRequest:
    fields.setdefault("received_at", timezone.now() - timedelta(days=3))
    return factories.RecordRequestFactory(tenant=tenant, **fields)


def deliver(tenant: Tenant, rr: RecordRequest, at: datetime, *, resend_of: Any = None, reason: str = "") -> Delivery:
    packet = ReleasePacket.objects.create(
        tenant=tenant, request=rr, version=ReleasePacket.objects.filter(request=rr).count() + 1,
        file="packets/x.pdf", sha256="0" * 64, page_count=2, record_pages=1, recipient="x", built_at=at,
    )  # fmt: skip
    return Delivery.objects.create(
        tenant=tenant, request=rr, packet=packet, method="fax", destination="(312) 555-0199", delivered_at=at,
        evidence="Fax confirmation 1", resend_of=resend_of, resend_reason=reason,
    )  # fmt: skip


def busy_month(tenant: Tenant, staff: list[Any]) -> None:
    """Open work in every state and band, deliveries on time and late over several channels and types, calls,
    portal views, resends, failed QC, escalations, an extension, a duplicate and several exception episodes; some
    of each just outside the last 30 days."""
    today = today_of(tenant)
    now = timezone.now()
    first = today - timedelta(days=29)
    a, b = staff[0], staff[1]
    states = [RequestState.RECEIVED, RequestState.VALIDATED, RequestState.IN_FULFILLMENT, RequestState.EXCEPTION]
    channels = [Channel.FAX, Channel.PORTAL, Channel.MAIL, Channel.EMAIL]
    types = [RequestType.AUTHORIZATION, RequestType.RIGHT_OF_ACCESS, RequestType.LEGAL]
    opened = []
    for i in range(16):
        state = states[i % 4]
        rr = make_request(
            tenant, state=state, aging_band=i % 5, assignee=[a, b, None][i % 3], channel=channels[i % 4],
            request_type=types[i % 3], received_at=local(tenant, today - timedelta(days=i * 3)),
            legal_due_date=today + timedelta(days=i - 5), is_stalled=i % 4 == 1,
            exception_reason=["legal_review", "scope_unclear"][i % 2] if state == RequestState.EXCEPTION else "",
            exception_since=now - timedelta(days=i) if state == RequestState.EXCEPTION else None,
        )  # fmt: skip
        opened.append(rr)
    delivered = []
    for i in range(12):
        delivered_on = today - timedelta(days=i * 3)  # the last is 33 days back: outside the period
        rr = make_request(
            tenant, state=[RequestState.DELIVERED, RequestState.CLOSED][i % 2], assignee=[a, b, None][i % 3],
            channel=channels[i % 4], request_type=types[i % 3],
            received_at=local(tenant, delivered_on - timedelta(days=5 + i)),
            delivered_at=local(tenant, delivered_on, [0, 12, 23][i % 3], 30),
            legal_due_date=delivered_on + timedelta(days=[-1, 0, 3][i % 3]),
            internal_target_date=delivered_on - timedelta(days=i % 2),
        )  # fmt: skip
        delivered.append(rr)
    firsts = [deliver(tenant, rr, rr.delivered_at) for rr in delivered]
    deliver(
        tenant, delivered[0], delivered[0].delivered_at + timedelta(hours=2), resend_of=firsts[0], reason="unreadable"
    )
    deliver(
        tenant,
        delivered[11],
        delivered[11].delivered_at + timedelta(hours=2),
        resend_of=firsts[11],
        reason="unreadable",
    )
    for index, rr in enumerate(delivered[:4]):
        QcReview.objects.create(
            tenant=tenant, request=rr, packet=firsts[index].packet, reviewer=b, reviewed_at=rr.delivered_at,
            outcome="failed" if index % 2 else "passed",
        )  # fmt: skip
    for rr, day in ((opened[0], today), (opened[0], today - timedelta(days=1)), (opened[2], first),
                    (opened[3], first - timedelta(days=1))):  # fmt: skip
        StatusCall.objects.create(tenant=tenant, request=rr, caller="requestor", outcome="status_given",
                                  at=local(tenant, day, 0, 5))  # fmt: skip
    for rr in (opened[1], opened[1], opened[4]):
        AccessEvent.objects.create(tenant=tenant, actor_label="portal", action=AccessAction.PORTAL_STATUS_VIEW,
                                   request_id=rr.pk, patient_id=rr.patient_id)  # fmt: skip
    rule = EscalationRule.objects.create(tenant=tenant, name="Due soon")
    for rr, fired in ((opened[3], today), (opened[7], first - timedelta(days=2))):
        EscalationEvent.objects.create(tenant=tenant, rule=rule, request=rr, level=1, fired_at=local(tenant, fired),
                                       summary="x")  # fmt: skip
    for rr, day in ((opened[3], today - timedelta(days=2)), (opened[3], today - timedelta(days=40)),
                    (opened[5], first)):  # fmt: skip
        ExceptionEpisode.objects.create(
            tenant=tenant, request=rr, reason="legal_review", detail="x", opened_at=local(tenant, day, 0, 1),
            next_step="x", next_action_due=today, resolved_at=local(tenant, day, 5) if rr is opened[3] else None,
        )  # fmt: skip
    Extension.objects.create(tenant=tenant, request=opened[1], original_due_date=today, new_due_date=today,
                             reason="x", granted_at=local(tenant, today - timedelta(days=3)))  # fmt: skip
    make_request(tenant, state=RequestState.CANCELLED, duplicate_of=opened[0],
                 duplicate_reviewed_at=local(tenant, today - timedelta(days=4)))  # fmt: skip
