"""Each dashboard figure on a small hand-made data set whose answers are worked out by hand, including the edges:
deliveries a minute either side of the period's ends (in the organisation's time zone, not UTC), several exception
episodes of one request, an extension that moved the due date, events on requests outside the period."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.utils import timezone

from exceptions.models import EscalationEvent, EscalationRule, ExceptionEpisode
from fulfillment.models import Delivery, QcReview, ReleasePacket
from intake.models import Extension
from reporting.metrics import Period, dashboard_now, dashboard_period
from reporting.models import ReportingSettings
from roi.choices import AccessAction, Role
from roi.models import AccessEvent
from tests import factories
from workflow.choices import Channel, RequestState, RequestType
from workflow.models import RecordRequest, StatusCall

pytestmark = pytest.mark.django_db


def local(tenant, day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tenant.tzinfo)


def today_of(tenant) -> date:
    return timezone.localdate(timezone=tenant.tzinfo)


def make_request(tenant, **fields):
    fields.setdefault("received_at", timezone.now() - timedelta(days=3))
    return factories.RecordRequestFactory(tenant=tenant, **fields)


def deliver(tenant, rr, at: datetime, *, resend_of=None, reason: str = "") -> Delivery:
    packet = ReleasePacket.objects.create(
        tenant=tenant, request=rr, version=ReleasePacket.objects.filter(request=rr).count() + 1,
        file="packets/x.pdf", sha256="0" * 64, page_count=2, record_pages=1, recipient="x", built_at=at,
    )  # fmt: skip
    return Delivery.objects.create(
        tenant=tenant, request=rr, packet=packet, method="fax", destination="(312) 555-0199", delivered_at=at,
        evidence="Fax confirmation 1", resend_of=resend_of, resend_reason=reason,
    )  # fmt: skip


# --- Now -----------------------------------------------------------------------------------------------------


def test_now_counts_open_work_by_state_band_due_date_and_owner(tenant_a, alice, sam):
    today = today_of(tenant_a)
    now = timezone.now()
    make_request(tenant_a, state=RequestState.RECEIVED, aging_band=0, legal_due_date=today - timedelta(days=1))
    make_request(tenant_a, state=RequestState.RECEIVED, aging_band=0, assignee=alice, legal_due_date=today)
    make_request(
        tenant_a, state=RequestState.VALIDATED, aging_band=2, assignee=alice, is_stalled=True,
        legal_due_date=today + timedelta(days=7),
    )  # fmt: skip
    make_request(
        tenant_a, state=RequestState.IN_FULFILLMENT, aging_band=4, legal_due_date=today + timedelta(days=8),
        received_at=local(tenant_a, today - timedelta(days=45)),  # noon, 45 days back in the organisation's calendar
    )  # fmt: skip
    make_request(
        tenant_a, state=RequestState.EXCEPTION, aging_band=1, assignee=sam, exception_reason="legal_review",
        exception_since=now - timedelta(days=2), legal_due_date=today + timedelta(days=20),
    )  # fmt: skip
    make_request(
        tenant_a, state=RequestState.EXCEPTION, aging_band=1, exception_reason="legal_review",
        exception_since=now - timedelta(days=6), legal_due_date=today + timedelta(days=20),
    )  # fmt: skip
    make_request(
        tenant_a, state=RequestState.EXCEPTION, aging_band=3, exception_reason="scope_unclear",
        exception_since=now - timedelta(days=1), legal_due_date=today - timedelta(days=3),
    )  # fmt: skip
    # Not open: none of these counts.
    for state in (RequestState.DELIVERED, RequestState.CLOSED, RequestState.DENIED, RequestState.CANCELLED):
        make_request(tenant_a, state=state, legal_due_date=today - timedelta(days=30), assignee=alice)
    # Another organisation's open work: never counted.
    make_request(factories.TenantFactory(), state=RequestState.RECEIVED)

    metrics = dashboard_now(tenant=tenant_a, now=now)

    assert metrics.open_total == 7
    assert [(s.label, s.count) for s in metrics.by_state] == [
        ("Received", 2), ("Validated", 1), ("In fulfillment", 1), ("Exception", 3),
    ]  # fmt: skip
    assert [b.count for b in metrics.by_band] == [2, 2, 1, 1, 1]
    assert metrics.state_band_grid[3] == ("Exception", [0, 2, 0, 1, 0])
    assert metrics.overdue.count == 2  # due yesterday, due three days ago; due today is not overdue
    assert metrics.due_soon.count == 2  # today and today + 7 (the window's ends included); + 8 is not
    assert metrics.stalled.count == 1
    assert metrics.in_exception.count == 3
    assert metrics.unassigned.count == 4
    reasons = {row.reason: row for row in metrics.exceptions_by_reason}
    assert reasons["legal_review"].count == 2
    assert reasons["legal_review"].median_days == pytest.approx(4.0)  # 2 and 6 days
    assert reasons["legal_review"].oldest_days == pytest.approx(6.0)
    assert reasons["scope_unclear"].median_days == pytest.approx(1.0)
    assert metrics.oldest_open["age_days"] == 45
    loads = {load.name: (load.open, load.overdue, load.in_exception, load.stalled) for load in metrics.staff_load}
    assert loads[str(alice)] == (2, 0, 0, 1)
    assert loads[str(sam)] == (1, 0, 1, 0)
    assert loads["Unassigned"] == (4, 2, 2, 0)


def test_now_lists_every_active_staff_member_even_with_nothing_open(tenant_a, alice, sam):
    metrics = dashboard_now(tenant=tenant_a)
    assert {load.name: load.open for load in metrics.staff_load} == {str(alice): 0, str(sam): 0, "Unassigned": 0}
    assert metrics.oldest_open is None


def test_now_counts_escalations_nobody_acknowledged(tenant_a, sam):
    rule = EscalationRule.objects.create(tenant=tenant_a, name="Due soon")
    now = timezone.now()
    for acknowledged in (None, None, now):
        rr = make_request(tenant_a, state=RequestState.RECEIVED)
        EscalationEvent.objects.create(
            tenant=tenant_a, rule=rule, request=rr, level=1, fired_at=now - timedelta(hours=5), summary="x",
            acknowledged_at=acknowledged, acknowledged_by=sam if acknowledged else None,
        )  # fmt: skip
    assert dashboard_now(tenant=tenant_a).escalations_pending == 2


# --- The period ------------------------------------------------------------------------------------------------


@pytest.fixture
def period(tenant_a) -> Period:
    today = today_of(tenant_a)
    return Period(first_day=today - timedelta(days=9), last_day=today)


def test_received_and_delivered_count_at_the_period_ends_in_the_organisation_time_zone(tenant_a, period):
    first, last = period.first_day, period.last_day
    make_request(tenant_a, received_at=local(tenant_a, first, 0, 0), channel=Channel.FAX)  # in: first minute
    make_request(tenant_a, received_at=local(tenant_a, first - timedelta(days=1), 23, 59))  # out: a minute before
    make_request(tenant_a, received_at=local(tenant_a, last, 8), channel=Channel.PORTAL)
    received_earlier = local(tenant_a, first - timedelta(days=20))
    delivered_in = make_request(
        tenant_a, state=RequestState.CLOSED, received_at=received_earlier,
        delivered_at=local(tenant_a, last, 23, 59), request_type=RequestType.LEGAL,
    )  # fmt: skip
    make_request(
        tenant_a, state=RequestState.DELIVERED, received_at=received_earlier,
        delivered_at=local(tenant_a, first - timedelta(days=1), 23, 59),
    )  # fmt: skip
    metrics = dashboard_period(tenant=tenant_a, period=period)
    assert metrics.received == 2
    assert {b.key: b.count for b in metrics.received_by_channel} == {"fax": 1, "portal": 1}
    assert metrics.delivered == 1
    assert [b.key for b in metrics.delivered_by_type] == [delivered_in.request_type]
    assert sum(point.received for point in metrics.series) == 2
    assert metrics.series[0].received == 1
    assert metrics.series[-1].received == 1
    assert metrics.series[-1].delivered == 1


def test_turnaround_mean_median_and_p90_per_request_type_in_calendar_days(tenant_a, period):
    day = period.last_day
    # Authorization: 2, 5 and 20 days; right of access: 13 days.
    for days, kind in ((2, RequestType.AUTHORIZATION), (5, RequestType.AUTHORIZATION),
                       (20, RequestType.AUTHORIZATION), (13, RequestType.RIGHT_OF_ACCESS)):  # fmt: skip
        make_request(
            tenant_a, state=RequestState.DELIVERED, request_type=kind,
            received_at=local(tenant_a, day - timedelta(days=days), 23, 30), delivered_at=local(tenant_a, day, 0, 30),
        )  # fmt: skip
    metrics = dashboard_period(tenant=tenant_a, period=period)
    by_type = {row.key: row for row in metrics.turnaround}
    authorization = by_type[RequestType.AUTHORIZATION]
    assert (authorization.delivered, authorization.mean, authorization.median, authorization.p90) == (3, 9.0, 5.0, 17.0)
    assert by_type[RequestType.RIGHT_OF_ACCESS].median == 13.0
    overall = metrics.turnaround_all
    # [2, 5, 13, 20]: mean 10, median 9, p90 = 13 + 0.7 * (20 - 13)
    assert (overall.delivered, overall.mean, overall.median, overall.p90, overall.total_days) == (
        4,
        10.0,
        9.0,
        17.9,
        40,
    )


def test_on_time_rates_compare_the_local_delivery_day_with_the_legal_due_date_and_the_target(tenant_a, period):
    day = period.last_day
    received = local(tenant_a, day - timedelta(days=10))
    # Due the day it was delivered at 23:59 local (07:59 UTC the next day): on time.
    make_request(
        tenant_a, state=RequestState.DELIVERED, received_at=received, delivered_at=local(tenant_a, day, 23, 59),
        legal_due_date=day, internal_target_date=day - timedelta(days=3),
    )  # fmt: skip
    # Delivered a day after its legal due date: late, and after the target.
    make_request(
        tenant_a, state=RequestState.DELIVERED, received_at=received, delivered_at=local(tenant_a, day, 9),
        legal_due_date=day - timedelta(days=1), internal_target_date=day - timedelta(days=2),
    )  # fmt: skip
    # Extended: the legal due date moved to the new date, and it was met.
    extended = make_request(
        tenant_a, state=RequestState.DELIVERED, received_at=received, delivered_at=local(tenant_a, day, 9),
        legal_due_date=day + timedelta(days=20), internal_target_date=day,
    )  # fmt: skip
    Extension.objects.create(
        tenant=tenant_a, request=extended, original_due_date=day - timedelta(days=5), new_due_date=day + timedelta(days=20),
        reason="Records in storage", granted_at=local(tenant_a, day - timedelta(days=6)),
    )  # fmt: skip
    # Granted before the period: not counted among the period's extensions.
    earlier = make_request(tenant_a, received_at=received - timedelta(days=60))
    Extension.objects.create(
        tenant=tenant_a, request=earlier, original_due_date=day, new_due_date=day + timedelta(days=30),
        reason="x", granted_at=local(tenant_a, period.first_day - timedelta(days=1), 23),
    )  # fmt: skip
    metrics = dashboard_period(tenant=tenant_a, period=period)
    assert metrics.delivered == 3
    assert metrics.late_legal.events == 1
    assert metrics.on_time_legal_percent == 66.7
    assert metrics.after_target.events == 2
    assert metrics.on_time_target_percent == 33.3
    assert (metrics.extensions.events, metrics.extensions.requests) == (1, 1)


def test_status_calls_portal_views_resends_qc_and_escalations(tenant_a, period, alice, sam):
    day = period.last_day
    received = [make_request(tenant_a, received_at=local(tenant_a, day - timedelta(days=1))) for _ in range(4)]
    one, two = received[0], received[1]
    # 3 calls on 2 requests in the period; 1 call before it.
    for rr, at in ((one, day), (one, day - timedelta(days=2)), (two, day), (two, period.first_day - timedelta(days=1))):
        StatusCall.objects.create(
            tenant=tenant_a,
            request=rr,
            caller="requestor",
            outcome="status_given",
            logged_by=alice,
            at=local(tenant_a, at),
        )
    # Portal views happen now (an access event's time is the database's): 2 on one request.
    for _ in range(2):
        AccessEvent.objects.create(
            tenant=tenant_a, actor_label="portal", action=AccessAction.PORTAL_STATUS_VIEW, request_id=two.pk
        )
    # Deliveries: 4 first deliveries in the period, 1 resend (wrong destination); 1 resend before the period.
    firsts = [deliver(tenant_a, rr, local(tenant_a, day, 9)) for rr in received]
    # A first delivery sets the request's delivered_at (fulfillment.delivery); a fifth request was delivered with a
    # one-line evidence and no Delivery row (older history): it is among the requests delivered all the same.
    RecordRequest.objects.filter(pk__in=[rr.pk for rr in received]).update(delivered_at=local(tenant_a, day, 9))
    make_request(
        tenant_a, received_at=local(tenant_a, period.first_day - timedelta(days=20)), state="delivered",
        delivered_at=local(tenant_a, day, 11), delivery_evidence="Fax confirmation #1",
    )  # fmt: skip
    deliver(tenant_a, one, local(tenant_a, day, 10), resend_of=firsts[0], reason="wrong_destination")
    old = deliver(tenant_a, two, local(tenant_a, period.first_day - timedelta(days=3)))
    deliver(tenant_a, two, local(tenant_a, period.first_day - timedelta(days=2)), resend_of=old, reason="unreadable")
    # QC: 4 reviews, 1 failed.
    for index, rr in enumerate(received):
        QcReview.objects.create(
            tenant=tenant_a, request=rr, packet=firsts[index].packet, reviewer=sam, reviewed_at=local(tenant_a, day, 8),
            outcome="failed" if index == 0 else "passed",
        )  # fmt: skip
    # Escalations: 2 fired, one acknowledged after 3 hours.
    rule = EscalationRule.objects.create(tenant=tenant_a, name="Due soon")
    fired = local(tenant_a, day - timedelta(days=1), 9)
    EscalationEvent.objects.create(
        tenant=tenant_a, rule=rule, request=one, level=1, fired_at=fired, summary="x",
        acknowledged_at=fired + timedelta(hours=3), acknowledged_by=sam,
    )  # fmt: skip
    EscalationEvent.objects.create(tenant=tenant_a, rule=rule, request=two, level=1, fired_at=fired, summary="x")

    metrics = dashboard_period(tenant=tenant_a, period=period)
    assert (metrics.status_calls.events, metrics.status_calls.requests) == (3, 2)
    assert metrics.status_calls_per_100 == 75.0  # 3 calls per 4 requests received
    assert (metrics.portal_views.events, metrics.portal_views.requests) == (2, 1)
    # The resend rate counts per request delivered in the period: the population of the Delivered figure.
    assert (metrics.resends.events, metrics.resends.requests, metrics.delivered) == (1, 1, 5)
    assert metrics.resend_rate_percent == 20.0
    assert metrics.resends.by_reason == [("Wrong destination", 1, 1)]
    assert (metrics.qc_reviews, metrics.qc_failed.events, metrics.qc_error_rate_percent) == (4, 1, 25.0)
    assert (metrics.escalations.events, metrics.escalations_acknowledged) == (2, 1)
    assert metrics.escalation_median_ack_hours == 3.0


def test_several_exception_episodes_of_one_request_each_count_and_the_leakage_prices_them(tenant_a, period, sam):
    day = period.last_day
    rr = make_request(tenant_a, received_at=local(tenant_a, day - timedelta(days=30)))
    for opened, resolved in ((day - timedelta(days=20), day - timedelta(days=15)),  # before the period
                             (day - timedelta(days=5), day - timedelta(days=4)),
                             (day - timedelta(days=2), None)):  # fmt: skip
        ExceptionEpisode.objects.create(
            tenant=tenant_a, request=rr, reason="scope_unclear" if resolved else "legal_review", detail="x",
            opened_at=local(tenant_a, opened), owner=sam, next_step="x", next_action_due=day,
            resolved_at=local(tenant_a, resolved) if resolved else None,
        )  # fmt: skip
    other = make_request(tenant_a, received_at=local(tenant_a, day - timedelta(days=3)))
    StatusCall.objects.create(
        tenant=tenant_a, request=other, caller="patient", outcome="voicemail", at=local(tenant_a, day)
    )
    duplicate = make_request(
        tenant_a, state=RequestState.CANCELLED, duplicate_of=other, duplicate_reviewed_at=local(tenant_a, day, 10)
    )
    assert duplicate.duplicate_of == other
    ReportingSettings.objects.create(
        tenant=tenant_a, minutes_per_status_call=12, minutes_per_exception=45, minutes_per_resend=15,
        minutes_per_duplicate=30,
    )  # fmt: skip

    metrics = dashboard_period(tenant=tenant_a, period=period)
    assert (metrics.exceptions_opened.events, metrics.exceptions_opened.requests) == (2, 1)
    assert metrics.exceptions_opened.by_reason == [("Legal review", 1, 1), ("Scope unclear", 1, 1)]
    assert metrics.duplicates.events == 1
    # 1 call x 12 + 2 episodes x 45 + 1 duplicate x 30 = 132 minutes
    assert metrics.leakage.hours == {"status_calls": 0.2, "exceptions": 1.5, "resends": 0.0, "duplicates": 0.5}
    assert metrics.leakage.total_hours == 2.2
    # Per day: 45 minutes (day - 5), 45 (day - 2), 12 + 30 (the last day), each rounded to a tenth of an hour.
    assert [point.leakage_hours for point in metrics.series] == [0.0] * 4 + [0.8, 0.0, 0.0, 0.8, 0.0, 0.7]


def test_weekly_series_cut_at_the_period_ends(tenant_a):
    first = date(2026, 3, 4)  # a Wednesday
    period = Period(first_day=first, last_day=date(2026, 3, 17))  # a Tuesday
    make_request(tenant_a, received_at=local(tenant_a, date(2026, 3, 8), 22))  # Sunday: first week
    make_request(tenant_a, received_at=local(tenant_a, date(2026, 3, 9), 1))  # Monday: second week
    metrics = dashboard_period(tenant=tenant_a, period=period, grain="week")
    assert [(p.first_day, p.last_day, p.received) for p in metrics.series] == [
        (date(2026, 3, 4), date(2026, 3, 8), 1),
        (date(2026, 3, 9), date(2026, 3, 15), 1),
        (date(2026, 3, 16), date(2026, 3, 17), 0),
    ]


def test_throughput_counts_deliveries_per_assignee(tenant_a, period, alice, sam):
    day = period.last_day
    for assignee in (alice, alice, sam, None):
        make_request(
            tenant_a, state=RequestState.DELIVERED, assignee=assignee, received_at=local(tenant_a, day - timedelta(days=4)),
            delivered_at=local(tenant_a, day, 9),
        )  # fmt: skip
    metrics = dashboard_period(tenant=tenant_a, period=period)
    # Most deliveries first; on a tie a named staff member before the unassigned requests.
    assert [(t.name, t.delivered) for t in metrics.throughput] == [
        (str(alice), 2),
        (str(sam), 1),
        ("Unassigned", 1),
    ]


def test_the_dashboard_queries_do_not_grow_with_the_data(tenant_a, period, django_assert_max_num_queries, alice):
    for _ in range(5):
        make_request(tenant_a, assignee=alice, received_at=local(tenant_a, period.last_day))
    factories.MembershipFactory(tenant=tenant_a, role=Role.SPECIALIST)
    with django_assert_max_num_queries(5):
        dashboard_now(tenant=tenant_a)
    with django_assert_max_num_queries(8):
        dashboard_period(tenant=tenant_a, period=period)
