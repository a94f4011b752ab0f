"""Intake's activities for the queue's activity filter and the dashboard (workflow/extensions.py)."""

from __future__ import annotations

from django.db.models import QuerySet

from workflow.extensions import Activity, Window, in_window, register_activity
from workflow.models import RecordRequest


def extended(queryset: QuerySet[RecordRequest], window: Window) -> QuerySet[RecordRequest]:
    """Granted its one extension (164.524(b)(2)) inside the window."""
    return queryset.filter(**in_window("extension__granted_at", window))


def duplicate(queryset: QuerySet[RecordRequest], window: Window) -> QuerySet[RecordRequest]:
    """Closed as a duplicate of an earlier request (intake.services.duplicate_link) inside the window."""
    return queryset.filter(duplicate_of__isnull=False, **in_window("duplicate_reviewed_at", window))


def register() -> None:
    register_activity(Activity("extended", "Extension granted", 50, extended))
    register_activity(Activity("duplicate", "Closed as a duplicate", 51, duplicate))
