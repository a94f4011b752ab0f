"""Request rollups: a period read from the rollups of its finished days gives exactly the figures computed from the
requests, and stays exact after changes that touch a finished day (the trigger removes that day's rollup)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from reporting.metrics import Period, dashboard_period
from reporting.models import RequestRollup
from reporting.rollups import rollup_missing_days, rollups_fill
from reporting.tasks import refresh_request_rollups
from tests.reporting.datasets import busy_month, local, make_request, today_of
from workflow.choices import Channel, RequestState

pytestmark = pytest.mark.django_db


@pytest.fixture
def month(tenant_a, alice, sam):
    busy_month(tenant_a, [alice, sam])
    today = today_of(tenant_a)
    return Period(first_day=today - timedelta(days=40), last_day=today)


def _rolled_up_days(tenant) -> set:
    return set(RequestRollup.objects.filter(tenant=tenant, kind="day").values_list("day", flat=True))


def test_figures_from_rollups_equal_figures_from_the_requests(tenant_a, month):
    live = dashboard_period(tenant=tenant_a, period=month, grain="week")
    assert rollups_fill(tenant=tenant_a, today=today_of(tenant_a), limit=400) == 400
    assert len(_rolled_up_days(tenant_a)) == 400
    rolled = dashboard_period(tenant=tenant_a, period=month, grain="week")
    assert rolled == live
    assert live.delivered > 0
    assert live.turnaround_all.p90 is not None


def test_a_request_entered_with_an_earlier_received_date_removes_that_day_rollup(tenant_a, month):
    rollups_fill(tenant=tenant_a, today=today_of(tenant_a), limit=60)
    day = today_of(tenant_a) - timedelta(days=12)
    assert day in _rolled_up_days(tenant_a)
    make_request(tenant_a, received_at=local(tenant_a, day, 9), channel=Channel.MAIL)  # a letter from last week
    assert day not in _rolled_up_days(tenant_a)
    assert rollup_missing_days(tenant=tenant_a, today=today_of(tenant_a), horizon=60) == [day]
    figures = dashboard_period(tenant=tenant_a, period=month)
    rollups_fill(tenant=tenant_a, today=today_of(tenant_a), limit=60)
    assert dashboard_period(tenant=tenant_a, period=month) == figures


def test_changes_to_a_delivered_request_remove_its_days_and_others_do_not(tenant_a, month, alice, sam):
    rollups_fill(tenant=tenant_a, today=today_of(tenant_a), limit=60)
    delivered = make_request(
        tenant_a, state=RequestState.DELIVERED, received_at=local(tenant_a, today_of(tenant_a) - timedelta(days=20)),
        delivered_at=local(tenant_a, today_of(tenant_a) - timedelta(days=10)), assignee=alice,
    )  # fmt: skip
    rollups_fill(tenant=tenant_a, today=today_of(tenant_a), limit=60)
    received_day = today_of(tenant_a) - timedelta(days=20)
    delivered_day = today_of(tenant_a) - timedelta(days=10)
    before = dashboard_period(tenant=tenant_a, period=month)

    delivered.assignee = sam  # reassigned after delivery: throughput per staff member moves
    delivered.save()
    assert delivered_day not in _rolled_up_days(tenant_a)
    assert received_day in _rolled_up_days(tenant_a)
    after = dashboard_period(tenant=tenant_a, period=month)
    assert after != before
    assert {t.name: t.delivered for t in after.throughput}[str(sam)] == (
        {t.name: t.delivered for t in before.throughput}[str(sam)] + 1
    )
    rollups_fill(tenant=tenant_a, today=today_of(tenant_a), limit=60)
    assert dashboard_period(tenant=tenant_a, period=month) == after

    # Fields the rollups do not read leave them alone.
    delivered.urgency_reason = "Hearing on Monday"
    delivered.save()
    assert {received_day, delivered_day} <= _rolled_up_days(tenant_a)


def test_a_new_time_zone_removes_every_rollup_of_the_organisation(tenant_a, tenant_b, month):
    rollups_fill(tenant=tenant_a, today=today_of(tenant_a), limit=5)
    rollups_fill(tenant=tenant_b, today=today_of(tenant_b), limit=5)
    tenant_a.timezone = "America/Denver"
    tenant_a.save()
    assert not _rolled_up_days(tenant_a)
    assert len(_rolled_up_days(tenant_b)) == 5


def test_the_hourly_job_rolls_up_missing_days_a_bounded_number_at_a_time(tenant_a, tenant_b):
    assert refresh_request_rollups() >= 2 * 62
    assert len(_rolled_up_days(tenant_a)) == 62
    assert max(_rolled_up_days(tenant_a)) == today_of(tenant_a) - timedelta(days=1)
    refresh_request_rollups()
    assert len(_rolled_up_days(tenant_a)) == 124
