"""Exceptions' activities for the queue's activity filter and the dashboard (workflow/extensions.py)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from exceptions.models import EscalationEvent, ExceptionEpisode
from workflow.extensions import Activity, Window, in_window, register_activity
from workflow.models import RecordRequest


def exception_opened(queryset: QuerySet[RecordRequest], window: Window) -> QuerySet[RecordRequest]:
    episodes = ExceptionEpisode.objects.filter(request=OuterRef("pk"), **in_window("opened_at", window))
    return queryset.filter(Exists(episodes))


def escalated(queryset: QuerySet[RecordRequest], window: Window) -> QuerySet[RecordRequest]:
    events = EscalationEvent.objects.filter(request=OuterRef("pk"), **in_window("fired_at", window))
    return queryset.filter(Exists(events))


def register() -> None:
    register_activity(Activity("exception_opened", "Exception opened", 40, exception_opened))
    register_activity(Activity("escalated", "Escalation fired", 41, escalated))
