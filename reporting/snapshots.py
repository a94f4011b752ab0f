"""Daily snapshots: each organisation's figures for a day of its calendar, stored once, so trend charts read a
few hundred rows instead of re-aggregating years of requests, and so a day's figures survive later edits.

The job (reporting/tasks.py) runs every hour and takes the snapshot of "yesterday" for every organisation whose
day has ended in its own time zone and has none yet. Stock figures (what was open) are taken only when the job
runs within STOCK_GRACE of the day's end.

A day filled in later (a fresh install, a missed run: `snapshots_backfill`, `manage.py snapshot_metrics --days N`,
run by seed_demo) gets its flow figures, and its stock figures rebuilt from the history the database keeps: the
transition log says what state each request was in at the end of the day (the state it left with its first
transition after that moment, else the state it has now), the exception episodes whether it was in exception,
an extension granted later which due date was in force. So the trend chart has its twelve weeks on the first day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from exceptions.models import ExceptionEpisode
from intake.models import Extension
from reporting.metrics import Period, dashboard_now, dashboard_period
from reporting.models import DailySnapshot
from roi import clock, rls
from roi.models import Tenant
from workflow.choices import OPEN_STATES, RequestState
from workflow.models import RecordRequest, RequestTransition

STOCK_GRACE = timedelta(hours=3)


def _day_end(tenant: Tenant, day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=tenant.tzinfo)


def snapshot_take(*, tenant: Tenant, day: date, now: datetime | None = None) -> DailySnapshot | None:
    """Store the day's snapshot unless one exists (idempotent: a retried or doubled job changes nothing).
    Returns the new snapshot, or None when it existed already or the day has not ended."""
    now = now or clock.now()
    day_end = _day_end(tenant, day)
    if now < day_end:
        return None
    if DailySnapshot.objects.for_tenant(tenant).filter(day=day).exists():
        return None
    snapshot = _flow_snapshot(tenant=tenant, day=day, now=now)
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


def _flow_snapshot(*, tenant: Tenant, day: date, now: datetime) -> DailySnapshot:
    """The day's flow figures (what happened during it), unsaved and without stock figures."""
    flows = dashboard_period(tenant=tenant, period=Period(first_day=day, last_day=day))
    return DailySnapshot(
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


# Open work at the end of each day of [first, last], rebuilt from history, in one statement: per day, state and
# aging band, how many requests were open, and how many of them overdue or in an open exception episode. The
# moment is the day's end; "today" for the band and overdue is the next day, as for a snapshot the job takes just
# after midnight (dashboard_now then). Candidates are the requests open now or with a transition after the first
# day's end; every other request was in the state it has now, closed, throughout.
STOCK_SQL = f"""
WITH days AS (
    SELECT d::date AS day, ((d::date + 1)::timestamp AT TIME ZONE %(tz)s) AS day_end
    FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') d
), candidates AS (
    SELECT r.id, r.received_at, r.state, r.legal_due_date
    FROM {RecordRequest._meta.db_table} r
    WHERE r.tenant_id = %(tenant)s AND r.received_at < %(last_end)s
      AND (r.state = ANY(%(open)s) OR EXISTS (
          SELECT 1 FROM {RequestTransition._meta.db_table} t
          WHERE t.tenant_id = %(tenant)s AND t.request_id = r.id AND t.at >= %(first_end)s))
), at_day_end AS (
    SELECT d.day, c.id,
           COALESCE((SELECT t.from_state FROM {RequestTransition._meta.db_table} t
                     WHERE t.tenant_id = %(tenant)s AND t.request_id = c.id AND t.at >= d.day_end
                     ORDER BY t.at, t.id LIMIT 1), c.state) AS state,
           (SELECT count(*) FROM unnest(%(limits)s::int[]) AS limit_day
            WHERE limit_day < (d.day + 1) - (c.received_at AT TIME ZONE %(tz)s)::date) AS band,
           CASE WHEN x.granted_at >= d.day_end THEN x.original_due_date ELSE c.legal_due_date END AS due,
           EXISTS (SELECT 1 FROM {ExceptionEpisode._meta.db_table} e
                   WHERE e.tenant_id = %(tenant)s AND e.request_id = c.id AND e.opened_at < d.day_end
                     AND (e.resolved_at IS NULL OR e.resolved_at >= d.day_end)) AS in_exception
    FROM days d
    JOIN candidates c ON c.received_at < d.day_end
    LEFT JOIN {Extension._meta.db_table} x ON x.request_id = c.id
)
SELECT day, state, band, count(*), count(*) FILTER (WHERE due < day + 1), count(*) FILTER (WHERE in_exception)
FROM at_day_end
WHERE state = ANY(%(open)s)
GROUP BY day, state, band
"""  # noqa: S608 - table names are model constants; every value is a parameter


@dataclass
class _Stock:
    open_total: int = 0
    by_state: dict[str, int] = field(default_factory=dict)
    by_band: list[int] = field(default_factory=list)
    in_exception: int = 0
    overdue: int = 0


def _stock_by_day(*, tenant: Tenant, first: date, last: date) -> dict[date, _Stock]:
    labels = dict(RequestState.choices)
    bands = len(tenant.aging_band_limits) + 1
    stock = {first + timedelta(days=i): _Stock(by_band=[0] * bands) for i in range((last - first).days + 1)}
    for day in stock.values():
        day.by_state = {labels[state]: 0 for state in OPEN_STATES}
    params = {
        "tenant": tenant.pk,
        "tz": tenant.timezone,
        "first": first,
        "last": last,
        "first_end": _day_end(tenant, first),
        "last_end": _day_end(tenant, last),
        "open": list(OPEN_STATES),
        "limits": list(tenant.aging_band_limits),
    }
    with connection.cursor() as cursor:
        cursor.execute(STOCK_SQL, params)
        rows = cursor.fetchall()
    for day, state, band, n, overdue, in_exception in rows:
        entry = stock[day]
        entry.open_total += n
        entry.by_state[labels[state]] += n
        entry.by_band[min(band, bands - 1)] += n
        entry.overdue += overdue
        entry.in_exception += in_exception
    return stock


def snapshots_backfill(*, tenant: Tenant, days: int, now: datetime | None = None) -> int:
    """Fill the last `days` finished days of the organisation's calendar: a snapshot for each day without one, and
    the stock figures of stored days that have none, both rebuilt from history (see the module's docstring).
    Idempotent: a second run stores nothing and changes nothing; a snapshot with stock figures is never touched.
    Returns how many snapshots it stored or completed."""
    now = now or clock.now()
    last = timezone.localdate(now, timezone=tenant.tzinfo) - timedelta(days=1)
    first = last - timedelta(days=days - 1)
    existing = {
        s.day: s
        for s in DailySnapshot.objects.for_tenant(tenant)
        .filter(day__gte=first, day__lte=last)
        .only("id", "day", "open_total")
    }
    wanted = [
        first + timedelta(days=i)
        for i in range(days)
        if first + timedelta(days=i) not in existing or existing[first + timedelta(days=i)].open_total is None
    ]
    if not wanted:
        return 0
    stock = _stock_by_day(tenant=tenant, first=wanted[0], last=wanted[-1])
    new, completed = [], []
    for day in wanted:
        snapshot = existing.get(day) or _flow_snapshot(tenant=tenant, day=day, now=now)
        figures = stock[day]
        snapshot.open_total = figures.open_total
        snapshot.open_by_state = figures.by_state
        snapshot.open_by_band = figures.by_band
        snapshot.in_exception = figures.in_exception
        snapshot.overdue = figures.overdue
        (completed if snapshot.pk else new).append(snapshot)
    with transaction.atomic():
        # A day the hourly job stored meanwhile keeps the job's snapshot (ignore_conflicts); a day completed here
        # is one whose stock was still empty when this statement ran.
        DailySnapshot.objects.bulk_create(new, ignore_conflicts=True)
        for snapshot in completed:
            DailySnapshot.objects.for_tenant(tenant).filter(pk=snapshot.pk, open_total__isnull=True).update(
                open_total=snapshot.open_total,
                open_by_state=snapshot.open_by_state,
                open_by_band=snapshot.open_by_band,
                in_exception=snapshot.in_exception,
                overdue=snapshot.overdue,
            )
    return len(new) + len(completed)


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
