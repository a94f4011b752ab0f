"""Background work of the workflow app."""

from __future__ import annotations

from celery import shared_task

from roi import rls
from workflow.urgency import urgency_refresh


@shared_task
def refresh_urgency() -> int:
    """Beat job, every 15 minutes (docs/decisions/0005-background-jobs.md): recompute aging band, stalled flag and priority of
    every open request of every tenant, one tenant at a time in its own row-level security scope (roi/rls.py); per
    tenant one set-based UPDATE, idempotent, and safe to overlap with itself. Returns the number of requests whose
    urgency changed."""
    return sum(urgency_refresh(tenant_id=tenant.pk) for tenant in rls.each_tenant())
