"""Background work of the workflow app."""

from __future__ import annotations

from celery import shared_task

from workflow.urgency import urgency_refresh


@shared_task
def refresh_urgency() -> int:
    """Beat job, every 15 minutes (DESIGN.md, "Background jobs"): recompute aging band, stalled flag and priority of
    every open request of every tenant. A platform job, so it takes no tenant id; one set-based UPDATE, idempotent,
    and safe to overlap with itself. Returns the number of requests whose urgency changed."""
    return urgency_refresh()
