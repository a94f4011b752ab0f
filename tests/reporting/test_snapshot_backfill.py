"""The snapshot backfill: on a fresh install the trend is not empty. Past days get their open work rebuilt from
the transition log, the exception episodes and the extensions; a second run changes nothing."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.core.management import call_command

from exceptions.models import ExceptionEpisode
from intake.models import Extension
from reporting.models import DailySnapshot
from reporting.snapshots import snapshot_take, snapshots_backfill
from roi import clock
from tests.reporting.datasets import local, make_request, today_of
from workflow.models import RecordRequest, RequestTransition

pytestmark = pytest.mark.django_db


def _moved(rr: RecordRequest, from_state: str, to_state: str, at: datetime) -> None:
    RequestTransition.objects.create(
        tenant=rr.tenant, request=rr, transition=to_state, from_state=from_state, to_state=to_state, at=at
    )
    RecordRequest.objects.filter(pk=rr.pk).update(state=to_state)


def _history(tenant, day: date) -> dict[str, RecordRequest]:
    """Five days of one organisation, `day` the last: received d-4, validated d-3, in exception d-2 to d-1,
    delivered on `day`; a second received d-2 and still open, with an extension granted on `day`."""
    first = make_request(tenant, received_at=local(tenant, day - timedelta(days=4), 9))
    _moved(first, "received", "validated", local(tenant, day - timedelta(days=3), 10))
    _moved(first, "validated", "exception", local(tenant, day - timedelta(days=2), 10))
    ExceptionEpisode.objects.create(
        tenant=tenant, request=first, reason="authorization_defective", detail="x", next_step="x",
        next_action_due=day, opened_at=local(tenant, day - timedelta(days=2), 10),
        resolved_at=local(tenant, day - timedelta(days=1), 15), resolution="Corrected form received.",
    )  # fmt: skip
    _moved(first, "exception", "validated", local(tenant, day - timedelta(days=1), 15))
    _moved(first, "validated", "in_fulfillment", local(tenant, day - timedelta(days=1), 16))
    _moved(first, "in_fulfillment", "delivered", local(tenant, day, 11))
    # Due the day after it arrived (a short state clock), then extended on `day`: overdue at the end of d-1 only.
    second = make_request(
        tenant, received_at=local(tenant, day - timedelta(days=2), 23, 30), legal_due_date=day + timedelta(days=30)
    )
    Extension.objects.create(
        tenant=tenant, request=second, original_due_date=day - timedelta(days=1), new_due_date=day + timedelta(days=30),
        reason="Records off site.", granted_at=local(tenant, day, 8),
    )  # fmt: skip
    return {"first": first, "second": second}


def test_the_backfill_rebuilds_each_day_open_work_from_history(tenant_a):
    tenant_a.timezone = "America/Los_Angeles"
    tenant_a.save(update_fields=["timezone"])
    yesterday = today_of(tenant_a) - timedelta(days=1)
    _history(tenant_a, yesterday)

    assert snapshots_backfill(tenant=tenant_a, days=6) == 6
    days = {s.day: s for s in DailySnapshot.objects.filter(tenant=tenant_a)}
    d = {n: days[yesterday - timedelta(days=n)] for n in range(6)}
    assert [d[n].open_total for n in (5, 4, 3, 2, 1, 0)] == [0, 1, 1, 2, 2, 1]
    assert d[4].open_by_state == {"Received": 1, "Validated": 0, "In fulfillment": 0, "Exception": 0}
    assert d[3].open_by_state["Validated"] == 1
    assert (d[2].open_by_state["Exception"], d[2].in_exception) == (1, 1)
    assert (d[1].open_by_state["In fulfillment"], d[1].in_exception) == (1, 0)
    # The second request's due date was d-1 until the extension on d: overdue at the end of d-1, not after.
    assert [d[n].overdue for n in (2, 1, 0)] == [0, 1, 0]
    # Days since receipt, counted from the next morning as a snapshot just after midnight does: all in 0-5.
    assert d[0].open_by_band == [1, 0, 0, 0, 0]
    # The flow figures are the day's as the live job stores them.
    assert d[2].received == 1


def test_a_second_backfill_stores_and_changes_nothing(tenant_a):
    yesterday = today_of(tenant_a) - timedelta(days=1)
    _history(tenant_a, yesterday)
    assert snapshots_backfill(tenant=tenant_a, days=10) == 10
    before = list(DailySnapshot.objects.filter(tenant=tenant_a).order_by("day").values())
    assert snapshots_backfill(tenant=tenant_a, days=10) == 0
    assert list(DailySnapshot.objects.filter(tenant=tenant_a).order_by("day").values()) == before


def test_the_backfill_agrees_with_the_snapshot_taken_just_after_midnight(tenant_a, tenant_b):
    yesterday = today_of(tenant_a) - timedelta(days=1)
    _history(tenant_a, yesterday)
    make_request(tenant_a, received_at=local(tenant_a, yesterday - timedelta(days=40)))  # over 30 days old, open
    make_request(tenant_b, received_at=local(tenant_b, yesterday - timedelta(days=2)))  # another organisation's
    just_after = datetime.combine(yesterday + timedelta(days=1), time(0, 20), tzinfo=tenant_a.tzinfo)
    from workflow.urgency import urgency_refresh

    with clock.frozen(just_after):
        urgency_refresh(tenant_id=tenant_a.pk)  # the stored aging bands the live snapshot reads
    live = snapshot_take(tenant=tenant_a, day=yesterday, now=just_after)
    live_stock = (live.open_total, live.open_by_state, live.open_by_band, live.in_exception, live.overdue)
    live.delete()
    snapshots_backfill(tenant=tenant_a, days=1, now=just_after)
    rebuilt = DailySnapshot.objects.get(tenant=tenant_a, day=yesterday)
    assert (rebuilt.open_total, rebuilt.open_by_state, rebuilt.open_by_band, rebuilt.in_exception, rebuilt.overdue) == (
        live_stock
    )
    assert rebuilt.open_by_band == [1, 0, 0, 0, 1]


def test_a_snapshot_observed_live_keeps_its_figures_and_an_empty_one_is_completed(tenant_a):
    yesterday = today_of(tenant_a) - timedelta(days=1)
    _history(tenant_a, yesterday)
    observed = snapshot_take(
        tenant=tenant_a,
        day=yesterday,
        now=datetime.combine(yesterday + timedelta(days=1), time(0, 5), tzinfo=tenant_a.tzinfo),
    )
    DailySnapshot.objects.filter(pk=observed.pk).update(open_total=99)
    late = snapshot_take(tenant=tenant_a, day=yesterday - timedelta(days=1), now=clock.now())  # no stock: filled late
    assert late.open_total is None
    assert snapshots_backfill(tenant=tenant_a, days=2) == 1
    assert DailySnapshot.objects.get(pk=observed.pk).open_total == 99
    assert DailySnapshot.objects.get(pk=late.pk).open_total == 2


def test_the_command_fills_the_trend_the_dashboard_draws(tenant_a, sam, client_for, capsys):
    _history(tenant_a, today_of(tenant_a) - timedelta(days=1))
    page = client_for(sam).get("/reports/").content.decode()
    assert "No daily snapshot with open work yet" in page
    call_command("snapshot_metrics", "--days", "84", "--tenant", tenant_a.slug)
    assert "84 snapshot(s) stored or completed" in capsys.readouterr().out
    page = client_for(sam).get("/reports/").content.decode()
    assert "No daily snapshot with open work yet" not in page
    # Twelve weeks up to today: every day but today's, which ends tonight.
    assert "83 daily snapshots in the last twelve weeks" in page
    call_command("snapshot_metrics", "--days", "84", "--tenant", tenant_a.slug)
    assert "0 snapshot(s) stored or completed, 84 already there" in capsys.readouterr().out
