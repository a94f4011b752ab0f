"""Background work of the exceptions app."""

from __future__ import annotations

from celery import shared_task

from exceptions.escalations import escalations_evaluate
from roi.notifications import notifications_send_pending


@shared_task
def evaluate_escalations(tenant_id: int | None = None) -> int:
    """Every five minutes from beat: fire the escalation rules of every tenant (or one), then email what they
    wrote. Idempotent: a retried or overlapping run fires nothing twice (exceptions/escalations.py)."""
    fired = escalations_evaluate(tenant_id=tenant_id)
    notifications_send_pending()
    return len(fired)
