"""Workflow's activities for the queue's activity filter and the dashboard (workflow/extensions.py)."""

from __future__ import annotations

from django.db.models import Exists, F, OuterRef, QuerySet
from django.db.models.functions import TruncDate

from roi.choices import AccessAction
from roi.models import AccessEvent
from workflow.extensions import Activity, Window, in_window, register_activity
from workflow.models import RecordRequest, StatusCall


def received(queryset: QuerySet[RecordRequest], window: Window) -> QuerySet[RecordRequest]:
    return queryset.filter(**in_window("received_at", window))


def delivered(queryset: QuerySet[RecordRequest], window: Window) -> QuerySet[RecordRequest]:
    """Delivered (first delivery; a resend does not move it), whether or not closed since."""
    return queryset.filter(**in_window("delivered_at", window))


def delivered_late(queryset: QuerySet[RecordRequest], window: Window) -> QuerySet[RecordRequest]:
    """Delivered after the legal due date (the extended one, where an extension was granted), in the calendar of
    the organisation, the one the due date is in."""
    return (
        delivered(queryset, window)
        .alias(delivered_on=TruncDate("delivered_at", tzinfo=window.tzinfo))
        .filter(delivered_on__gt=F("legal_due_date"))
    )


def delivered_after_target(queryset: QuerySet[RecordRequest], window: Window) -> QuerySet[RecordRequest]:
    return (
        delivered(queryset, window)
        .alias(delivered_on=TruncDate("delivered_at", tzinfo=window.tzinfo))
        .filter(delivered_on__gt=F("internal_target_date"))
    )


def status_called(queryset: QuerySet[RecordRequest], window: Window) -> QuerySet[RecordRequest]:
    calls = StatusCall.objects.filter(request=OuterRef("pk"), **in_window("at", window))
    return queryset.filter(Exists(calls))


def portal_viewed(queryset: QuerySet[RecordRequest], window: Window) -> QuerySet[RecordRequest]:
    views = AccessEvent.objects.filter(
        tenant=OuterRef("tenant"),
        request_id=OuterRef("pk"),
        action=AccessAction.PORTAL_STATUS_VIEW,
        **in_window("at", window),
    )
    return queryset.filter(Exists(views))


def register() -> None:
    register_activity(Activity("received", "Received", 10, received))
    register_activity(Activity("delivered", "Delivered", 20, delivered))
    register_activity(Activity("delivered_late", "Delivered after the legal due date", 21, delivered_late))
    register_activity(
        Activity("delivered_after_target", "Delivered after the internal target", 22, delivered_after_target)
    )
    register_activity(Activity("status_call", "Status call logged", 30, status_called))
    register_activity(Activity("portal_view", "Status viewed on the portal", 31, portal_viewed))
