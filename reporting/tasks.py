"""Reporting's background jobs (beat, hourly; each organisation's day ends at its own midnight): the daily snapshots
and the request rollups of finished days."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from reporting.rollups import rollups_fill
from reporting.snapshots import snapshot_take, snapshots_due
from roi import clock
from roi.models import Tenant


@shared_task(name="reporting.tasks.take_daily_snapshots")
def take_daily_snapshots() -> int:
    """Snapshots of yesterday for every organisation that has none; returns how many were stored."""
    return sum(1 for tenant, day in snapshots_due() if snapshot_take(tenant=tenant, day=day) is not None)


@shared_task(name="reporting.tasks.refresh_request_rollups")
def refresh_request_rollups() -> int:
    """Roll up the finished days that have no rollup (new days, and days a change removed); returns how many."""
    now = clock.now()
    return sum(
        rollups_fill(tenant=tenant, today=timezone.localdate(now, timezone=tenant.tzinfo))
        for tenant in Tenant.objects.filter(is_active=True)
    )
