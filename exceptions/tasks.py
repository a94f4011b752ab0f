"""Background work of the exceptions app."""

from __future__ import annotations

from celery import shared_task

from exceptions.escalations import escalations_evaluate
from roi import rls
from roi.models import Tenant
from roi.notifications import notifications_send_pending


@shared_task
def evaluate_escalations(tenant_id: int | None = None) -> int:
    """Every five minutes from beat: fire the escalation rules of every tenant (or one), each in its own row-level
    security scope (roi/rls.py), then email what they wrote. Idempotent: a retried or overlapping run fires nothing
    twice (exceptions/escalations.py)."""
    tenants = Tenant.objects.filter(pk=tenant_id) if tenant_id is not None else None
    fired = 0
    for tenant in rls.each_tenant(tenants):
        fired += len(escalations_evaluate(tenant_id=tenant.pk))
        notifications_send_pending()
    return fired
