"""The daily snapshot job: one row per organisation and day, taken after the day ends in the organisation's own
time zone, never twice, with stock figures only when taken right after the day's end."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.core.management import call_command

from reporting.models import DailySnapshot
from reporting.snapshots import snapshot_take, snapshots_due
from reporting.tasks import take_daily_snapshots
from roi import clock
from tests.reporting.datasets import busy_month, local, today_of

pytestmark = pytest.mark.django_db


def test_a_snapshot_stores_the_day_flows_and_the_open_work_when_taken_after_midnight(tenant_a, alice, sam):
    busy_month(tenant_a, [alice, sam])
    yesterday = today_of(tenant_a) - timedelta(days=1)
    just_after = datetime.combine(yesterday + timedelta(days=1), time(0, 20), tzinfo=tenant_a.tzinfo)
    snapshot = snapshot_take(tenant=tenant_a, day=yesterday, now=just_after)
    assert snapshot is not None
    from reporting.metrics import Period, dashboard_period

    day = dashboard_period(tenant=tenant_a, period=Period(yesterday, yesterday))
    assert (snapshot.received, snapshot.delivered, snapshot.status_calls) == (
        day.received, day.delivered, day.status_calls.events,
    )  # fmt: skip
    assert snapshot.open_total == 16
    assert sum(snapshot.open_by_band) == 16
    # Taken again: nothing changes, nothing doubles.
    assert snapshot_take(tenant=tenant_a, day=yesterday, now=just_after + timedelta(minutes=5)) is None
    assert DailySnapshot.objects.filter(tenant=tenant_a).count() == 1


def test_a_day_filled_in_later_has_no_stock_figures_and_a_day_not_over_gets_none(tenant_a):
    day = today_of(tenant_a) - timedelta(days=5)
    late = local(tenant_a, day + timedelta(days=2), 9)
    snapshot = snapshot_take(tenant=tenant_a, day=day, now=late)
    assert snapshot.open_total is None
    assert snapshot.open_by_band is None
    assert snapshot_take(tenant=tenant_a, day=today_of(tenant_a), now=clock.now()) is None


def test_the_job_snapshots_yesterday_of_every_organisation_once(tenant_a, tenant_b):
    assert {tenant.pk for tenant, _ in snapshots_due()} >= {tenant_a.pk, tenant_b.pk}
    stored = take_daily_snapshots()
    assert stored >= 2
    assert take_daily_snapshots() == 0
    assert DailySnapshot.objects.filter(tenant=tenant_a).get().day == today_of(tenant_a) - timedelta(days=1)


def test_the_backfill_command_fills_missing_days(tenant_a, capsys):
    call_command("snapshot_metrics", "--days", "7", "--tenant", tenant_a.slug)
    assert DailySnapshot.objects.filter(tenant=tenant_a).count() == 7
    call_command("snapshot_metrics", "--days", "7", "--tenant", tenant_a.slug)
    assert "0 snapshot(s) stored or completed, 7 already there" in capsys.readouterr().out


def _stored(tenant, day, **flows):
    values = {name: 0 for name in (
        "received", "delivered", "delivered_late", "delivered_after_target", "turnaround_days_total", "status_calls",
        "portal_views", "exceptions_opened", "resends", "duplicates", "extensions", "qc_reviews", "qc_failed",
        "escalations",
    )}  # fmt: skip
    values.update(flows)
    return DailySnapshot.objects.create(tenant=tenant, day=day, taken_at=clock.now(), **values)


def test_the_long_leakage_trend_sums_stored_days_per_week(tenant_a, sam, client_for):
    from datetime import date

    from reporting.snapshots import weekly_leakage

    minutes = {"status_calls": 6, "exceptions": 30, "resends": 15, "duplicates": 10}
    history = [
        _stored(tenant_a, date(2026, 3, 1), status_calls=10),  # a Sunday: the week of Feb 23
        _stored(tenant_a, date(2026, 3, 2), exceptions_opened=2, resends=4),  # Monday: a new week
        _stored(tenant_a, date(2026, 3, 8), duplicates=3),
    ]
    # 60 minutes; 60 + 60 + 30 = 150 minutes.
    assert weekly_leakage(history, minutes) == [(date(2026, 2, 23), 1.0), (date(2026, 3, 2), 2.5)]
    yesterday = today_of(tenant_a) - timedelta(days=1)
    _stored(tenant_a, yesterday, status_calls=5)
    html = client_for(sam).get("/reports/").content.decode()
    assert "Staff hours lost per week (daily snapshots" in html
    assert "1 daily snapshot in the last twelve weeks." in html
