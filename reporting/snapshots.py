"""Daily snapshots: each organisation's figures for a day of its calendar, stored once, so trend charts read a
few hundred rows instead of re-aggregating years of requests, and so a day's figures survive later edits.

The job (reporting/tasks.py) runs every hour and takes the snapshot of "yesterday" for every organisation whose
day has ended in its own time zone and has none yet. Stock figures (what was open) are taken only when the job
runs within STOCK_GRACE of the day's end; a day filled in later (a missed run, `manage.py snapshot_metrics
--days N`) gets its flow figures and empty stock figures, never a guess."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from reporting.metrics import Period, dashboard_now, dashboard_period
from reporting.models import DailySnapshot
from roi import clock, rls
from roi.models import Tenant

STOCK_GRACE = timedelta(hours=3)


def snapshot_take(*, tenant: Tenant, day: date, now: datetime | None = None) -> DailySnapshot | None:
    """Store the day's snapshot unless one exists (idempotent: a retried or doubled job changes nothing).
    Returns the new snapshot, or None when it existed already or the day has not ended."""
    now = now or clock.now()
    day_end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tenant.tzinfo)
    if now < day_end:
        return None
    if DailySnapshot.objects.for_tenant(tenant).filter(day=day).exists():
        return None
    flows = dashboard_period(tenant=tenant, period=Period(first_day=day, last_day=day))
    snapshot = DailySnapshot(
        tenant=tenant,
        day=day,
        taken_at=now,
        received=flows.received,
        delivered=flows.delivered,
        delivered_late=flows.late_legal.events,
        delivered_after_target=flows.after_target.events,
        turnaround_days_total=flows.turnaround_all.total_days,
        status_calls=flows.status_calls.events,
        portal_views=flows.portal_views.events,
        exceptions_opened=flows.exceptions_opened.events,
        resends=flows.resends.events,
        duplicates=flows.duplicates.events,
        extensions=flows.extensions.events,
        qc_reviews=flows.qc_reviews,
        qc_failed=flows.qc_failed.events,
        escalations=flows.escalations.events,
    )
    if now - day_end <= STOCK_GRACE:
        stock = dashboard_now(tenant=tenant, now=now)
        snapshot.open_total = stock.open_total
        snapshot.open_by_state = {s.label: s.count for s in stock.by_state}
        snapshot.open_by_band = [b.count for b in stock.by_band]
        snapshot.in_exception = stock.in_exception.count
        snapshot.overdue = stock.overdue.count
    try:
        with transaction.atomic():
            snapshot.save(force_insert=True)
    except IntegrityError:  # another job stored the day between our check and now: theirs stands
        return None
    return snapshot


def snapshots_due(*, now: datetime | None = None) -> list[tuple[Tenant, date]]:
    """(tenant, yesterday in its calendar) for every active organisation without that snapshot yet; each
    organisation is asked in its own row-level security scope (roi/rls.py)."""
    now = now or clock.now()
    due = []
    for tenant in rls.each_tenant():
        yesterday = timezone.localdate(now, timezone=tenant.tzinfo) - timedelta(days=1)
        if not DailySnapshot.objects.for_tenant(tenant).filter(day=yesterday).exists():
            due.append((tenant, yesterday))
    return due


def snapshot_history(*, tenant: Tenant, last_day: date, days: int) -> list[DailySnapshot]:
    return list(
        DailySnapshot.objects.for_tenant(tenant).filter(day__gt=last_day - timedelta(days=days), day__lte=last_day)
    )


def weekly_leakage(history: list[DailySnapshot], minutes: dict[str, int]) -> list[tuple[date, float]]:
    """Staff hours lost per week (Monday first) from stored days, priced with today's minutes per event: the
    long trend that shows whether a change in how work is done gave time back."""
    weeks: dict[date, int] = {}
    for snapshot in history:
        start = snapshot.day - timedelta(days=snapshot.day.weekday())
        weeks[start] = weeks.get(start, 0) + (
            snapshot.status_calls * minutes["status_calls"]
            + snapshot.exceptions_opened * minutes["exceptions"]
            + snapshot.resends * minutes["resends"]
            + snapshot.duplicates * minutes["duplicates"]
        )
    return [(start, round(total / 60, 1)) for start, total in sorted(weeks.items())]
