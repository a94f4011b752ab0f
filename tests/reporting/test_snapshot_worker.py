"""The daily snapshot job in a real Celery worker process on the test database: it stores each organisation's
yesterday once, and a second run (a retried job, a second beat) stores nothing more."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reporting.models import DailySnapshot
from reporting.tasks import take_daily_snapshots
from tests.reporting.datasets import busy_month, today_of


@pytest.mark.worker
def test_the_worker_takes_each_organisation_snapshot_once(db_worker_queue, tenant_a, tenant_b, alice, sam):
    busy_month(tenant_a, [alice, sam])
    first = take_daily_snapshots.apply_async(queue=db_worker_queue).get(timeout=90)
    second = take_daily_snapshots.apply_async(queue=db_worker_queue).get(timeout=90)
    assert first >= 2
    assert second == 0
    snapshot = DailySnapshot.objects.get(tenant=tenant_a)
    assert snapshot.day == today_of(tenant_a) - timedelta(days=1)
    assert DailySnapshot.objects.filter(tenant=tenant_b).count() == 1
