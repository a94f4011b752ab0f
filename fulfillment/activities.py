"""Fulfillment's activities for the queue's activity filter and the dashboard (workflow/extensions.py)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from fulfillment.choices import QcOutcome
from fulfillment.models import Delivery, QcReview
from workflow.extensions import Activity, Window, in_window, register_activity
from workflow.models import RecordRequest


def resent(queryset: QuerySet[RecordRequest], window: Window) -> QuerySet[RecordRequest]:
    resends = Delivery.objects.filter(
        request=OuterRef("pk"), resend_of__isnull=False, **in_window("delivered_at", window)
    )
    return queryset.filter(Exists(resends))


def qc_failed(queryset: QuerySet[RecordRequest], window: Window) -> QuerySet[RecordRequest]:
    reviews = QcReview.objects.filter(
        request=OuterRef("pk"), outcome=QcOutcome.FAILED, **in_window("reviewed_at", window)
    )
    return queryset.filter(Exists(reviews))


def register() -> None:
    register_activity(Activity("resent", "Resent", 60, resent))
    register_activity(Activity("qc_failed", "Failed quality control", 61, qc_failed))
