"""Reporting's background job: the daily snapshots (beat, hourly; each organisation's day ends at its own midnight)."""

from __future__ import annotations

from celery import shared_task

from reporting.snapshots import snapshot_take, snapshots_due


@shared_task(name="reporting.tasks.take_daily_snapshots")
def take_daily_snapshots() -> int:
    """Snapshots of yesterday for every organisation that has none; returns how many were stored."""
    return sum(1 for tenant, day in snapshots_due() if snapshot_take(tenant=tenant, day=day) is not None)
