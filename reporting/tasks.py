"""Reporting's background jobs (beat, hourly; each organisation's day ends at its own midnight): the daily snapshots
and the request rollups of finished days."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from reporting.rollups import rollups_fill
from reporting.snapshots import snapshot_take, snapshots_due
from roi import clock, rls


@shared_task(name="reporting.tasks.take_daily_snapshots")
def take_daily_snapshots() -> int:
    """Snapshots of yesterday for every organisation that has none; returns how many were stored. Each
    organisation in its own row-level security scope (roi/rls.py)."""
    stored = 0
    for tenant, day in snapshots_due():
        with rls.tenant_scope(tenant.pk):
            stored += snapshot_take(tenant=tenant, day=day) is not None
    return stored


@shared_task(name="reporting.tasks.refresh_request_rollups")
def refresh_request_rollups() -> int:
    """Roll up the finished days that have no rollup (new days, and days a change removed); returns how many."""
    now = clock.now()
    return sum(
        rollups_fill(tenant=tenant, today=timezone.localdate(now, timezone=tenant.tzinfo))
        for tenant in rls.each_tenant()
    )
