"""The urgency refresh (workflow/urgency.py): aging bands in the tenant's own dates, stalled work, the priority score
and its explanation, computed set-based in SQL and cross-checked against the Python version on random data."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from roi.models import Tenant
from tests import factories
from tests.concurrency import run_at_once
from workflow.choices import RequestState, RequestType
from workflow.models import RecordRequest
from workflow.tasks import refresh_urgency
from workflow.urgency import age_band_label, priority_explain, urgency_refresh, urgency_values

# A Tuesday evening in UTC: still Tuesday in Chicago, New York and Los Angeles, away from DST changes.
NOW = datetime(2026, 3, 17, 18, 0, tzinfo=UTC)
FAR = date(2026, 6, 1)  # a legal due date or target far enough away to add nothing


def _local(tenant: Tenant, day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=tenant.tzinfo)


def _today(tenant: Tenant, now: datetime = NOW) -> date:
    return now.astimezone(tenant.tzinfo).date()


def _request(tenant: Tenant, *, state: str = RequestState.RECEIVED, **fields) -> RecordRequest:
    """A request with quiet defaults (received today, nothing due soon, active now), in any state."""
    today = _today(tenant, fields.pop("now", NOW))
    fields.setdefault("received_at", _local(tenant, today))
    fields.setdefault("legal_due_date", FAR)
    fields.setdefault("internal_target_date", FAR)
    fields.setdefault("last_activity_at", NOW)
    rr = factories.RecordRequestFactory(tenant=tenant, **fields)
    if state != RequestState.RECEIVED:
        # State is protected on the model; the transitions are tested elsewhere, here only the refresh matters.
        RecordRequest.objects.filter(pk=rr.pk).update(state=state)
    return rr


def _bulk_requests(tenant: Tenant, count: int) -> None:
    patient = factories.PatientFactory(tenant=tenant)
    requestor = factories.RequestorFactory(tenant=tenant)
    today = _today(tenant)
    RecordRequest.objects.bulk_create(
        RecordRequest(
            tenant=tenant,
            patient=patient,
            requestor=requestor,
            request_type=RequestType.AUTHORIZATION,
            channel="fax",
            received_at=_local(tenant, today - timedelta(days=i % 40)),
            legal_due_date=today + timedelta(days=30 - i % 40),
            internal_target_date=today + timedelta(days=7 - i % 40),
            last_activity_at=NOW - timedelta(days=i % 9),
            priority_score=-1,  # never a computed score, so the first refresh writes every row
        )
        for i in range(count)
    )


def _stored(rr: RecordRequest) -> tuple:
    rr.refresh_from_db()
    return rr.aging_band, rr.is_stalled, rr.priority_score, rr.priority_reasons


@pytest.fixture
def tenant(db) -> Tenant:
    return factories.TenantFactory(slug="chicago", timezone="America/Chicago")


# --- Aging bands --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "band"),
    [(0, 0), (5, 0), (6, 1), (10, 1), (11, 2), (20, 2), (21, 3), (30, 3), (31, 4), (400, 4)],
)
def test_it_puts_requests_in_the_default_bands_at_each_boundary(tenant, age, band):
    rr = _request(tenant, received_at=_local(tenant, _today(tenant) - timedelta(days=age)))
    urgency_refresh(now=NOW)
    rr.refresh_from_db()
    assert rr.aging_band == band
    assert age_band_label(tenant, rr.aging_band) == ["0-5", "6-10", "11-20", "21-30", "over 30"][band]


@pytest.mark.parametrize(("age", "band"), [(0, 0), (2, 0), (3, 1), (7, 1), (8, 2), (90, 2)])
def test_it_uses_the_tenants_own_band_limits(db, age, band):
    tenant = factories.TenantFactory(slug="custom-bands", aging_band_limits=[2, 7])
    rr = _request(tenant, received_at=_local(tenant, _today(tenant) - timedelta(days=age)))
    urgency_refresh(now=NOW)
    rr.refresh_from_db()
    assert rr.aging_band == band
    assert age_band_label(tenant, band) == ["0-2", "3-7", "over 7"][band]


def test_it_counts_age_in_each_tenants_local_dates(db):
    los_angeles = factories.TenantFactory(slug="la", timezone="America/Los_Angeles")
    new_york = factories.TenantFactory(slug="ny", timezone="America/New_York")
    # 05:30 UTC on March 17: already the 17th in New York (01:30), still the 16th in Los Angeles (22:30).
    now = datetime(2026, 3, 17, 5, 30, tzinfo=UTC)
    received = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)  # the 11th in both cities
    in_la = _request(los_angeles, now=now, received_at=received, last_activity_at=now)
    in_ny = _request(new_york, now=now, received_at=received, last_activity_at=now)

    urgency_refresh(now=now)

    in_la.refresh_from_db()
    in_ny.refresh_from_db()
    assert in_la.aging_band == 0  # 5 days old on the 16th: 0-5
    assert in_ny.aging_band == 1  # 6 days old on the 17th: 6-10


def test_a_receipt_late_in_the_evening_counts_on_that_local_day(db):
    los_angeles = factories.TenantFactory(slug="la", timezone="America/Los_Angeles")
    # 11 pm in Los Angeles on March 11 is already March 12 in UTC; locally the request is 6 days old.
    rr = _request(los_angeles, received_at=_local(los_angeles, date(2026, 3, 11), hour=23))
    urgency_refresh(now=NOW)
    rr.refresh_from_db()
    assert rr.aging_band == 1


# --- Stalled ------------------------------------------------------------------------------------------------


def test_an_open_request_left_alone_longer_than_the_tenant_setting_is_stalled(tenant):
    tenant.stalled_after_days = 5
    tenant.save()
    left_alone = _request(tenant, last_activity_at=NOW - timedelta(days=5, seconds=1))
    in_exception = _request(tenant, state=RequestState.EXCEPTION, last_activity_at=NOW - timedelta(days=12))
    exactly_five_days = _request(tenant, last_activity_at=NOW - timedelta(days=5))
    active_yesterday = _request(tenant, last_activity_at=NOW - timedelta(days=1))

    urgency_refresh(now=NOW)

    assert _stored(left_alone)[1] is True
    assert _stored(in_exception)[1] is True  # whatever its state
    assert _stored(exactly_five_days)[1] is False
    assert _stored(active_yesterday)[1] is False


def test_a_closed_request_is_never_stalled_nor_touched(tenant):
    closed = _request(tenant, state=RequestState.CLOSED, last_activity_at=NOW - timedelta(days=90))
    cancelled = _request(tenant, state=RequestState.CANCELLED, legal_due_date=_today(tenant) - timedelta(days=9))

    assert urgency_refresh(now=NOW) == 0

    assert _stored(closed) == (0, False, 0, "")
    assert _stored(cancelled) == (0, False, 0, "")


# --- Priority -----------------------------------------------------------------------------------------------


def _score(rr: RecordRequest) -> int:
    rr.refresh_from_db()
    return rr.priority_score


def test_overdue_outranks_due_in_two_days_which_outranks_due_in_twenty(tenant):
    today = _today(tenant)
    overdue = _request(tenant, legal_due_date=today - timedelta(days=3))
    due_in_2 = _request(tenant, legal_due_date=today + timedelta(days=2))
    due_in_20 = _request(tenant, legal_due_date=today + timedelta(days=20))

    urgency_refresh(now=NOW)

    assert _score(overdue) > _score(due_in_2) > _score(due_in_20)
    assert overdue.priority_reasons == "legal due date passed 3 days ago"
    assert due_in_2.priority_reasons == "legal due in 2 days"
    assert due_in_20.priority_reasons == ""


def test_more_days_overdue_rank_higher(tenant):
    today = _today(tenant)
    one_day = _request(tenant, legal_due_date=today - timedelta(days=1))
    ten_days = _request(tenant, legal_due_date=today - timedelta(days=10))
    urgency_refresh(now=NOW)
    assert _score(ten_days) > _score(one_day)
    assert one_day.priority_reasons == "legal due date passed 1 day ago"


def test_each_factor_adds_to_the_score_and_says_so(tenant):
    tenant.priority_type_weights = {"legal": 10}
    tenant.save()
    today = _today(tenant)
    plain = _request(tenant)
    target_passed = _request(tenant, internal_target_date=today - timedelta(days=1))
    exception_9_days = _request(tenant, state=RequestState.EXCEPTION, exception_since=NOW - timedelta(days=9, hours=2))
    exception_3_days = _request(tenant, state=RequestState.EXCEPTION, exception_since=NOW - timedelta(days=3))
    earlier_episodes = _request(tenant, exception_seconds_before=10 * 86400)
    needed_soon = _request(tenant, urgency_date=today + timedelta(days=4))
    needed_later = _request(tenant, urgency_date=today + timedelta(days=30))
    legal = _request(tenant, request_type=RequestType.LEGAL)
    escalated = _request(tenant, priority_boost=25)

    urgency_refresh(now=NOW)

    base = _score(plain)
    assert base == 0
    assert _score(target_passed) == base + 15
    assert _score(exception_9_days) == base + 18
    assert _score(exception_3_days) == base
    assert _score(earlier_episodes) == base + 20
    assert _score(needed_soon) == base + 40
    assert _score(needed_later) == base
    assert _score(legal) == base + 10
    assert _score(escalated) == base + 25
    assert target_passed.priority_reasons == "internal target passed"
    assert exception_9_days.priority_reasons == "in exception 9 days"
    assert needed_soon.priority_reasons == "needed by Mar 21"
    assert legal.priority_reasons == "legal +10"
    assert escalated.priority_reasons == "escalation +25"


def test_time_in_exception_adds_at_most_thirty(tenant):
    rr = _request(tenant, state=RequestState.EXCEPTION, exception_since=NOW - timedelta(days=40))
    urgency_refresh(now=NOW)
    assert _score(rr) == 30
    assert rr.priority_reasons == "in exception 40 days"


def test_the_explanation_lists_the_reasons_in_order(db):
    tenant = factories.TenantFactory(slug="ny", timezone="America/New_York")
    now = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    rr = _request(
        tenant,
        now=now,
        state=RequestState.EXCEPTION,
        legal_due_date=date(2026, 12, 2),
        internal_target_date=date(2026, 12, 10),
        exception_since=now - timedelta(days=9, hours=1),
        urgency_date=date(2026, 12, 3),
        last_activity_at=now,
    )
    urgency_refresh(now=now)
    assert _stored(rr)[2:] == (72 + 18 + 40, "legal due in 2 days; in exception 9 days; needed by Dec 3")
    rr.refresh_from_db()
    assert priority_explain(rr, tenant, now) == (130, "legal due in 2 days; in exception 9 days; needed by Dec 3")


def test_the_sql_agrees_with_priority_explain_on_random_requests(db):
    rng = random.Random(20261127)
    tenants = [
        factories.TenantFactory(
            slug="west", timezone="America/Los_Angeles", priority_type_weights={"legal": 12, "other": -3}
        ),
        factories.TenantFactory(
            slug="east", timezone="America/New_York", aging_band_limits=[3, 9, 60], stalled_after_days=2
        ),
        factories.TenantFactory(slug="hawaii", timezone="Pacific/Honolulu", priority_type_weights={"accounting": 7.9}),
    ]
    requests = []
    for _ in range(50):
        tenant = rng.choice(tenants)
        today = _today(tenant)
        in_exception = rng.random() < 0.4
        received_at = NOW - timedelta(days=rng.randint(0, 90), seconds=rng.randint(0, 86399))
        requests.append(
            _request(
                tenant,
                state=RequestState.EXCEPTION
                if in_exception
                else rng.choice(["received", "validated", "in_fulfillment"]),
                request_type=rng.choice(list(RequestType.values)),
                received_at=received_at,
                legal_due_date=today + timedelta(days=rng.randint(-15, 40)),
                internal_target_date=today + timedelta(days=rng.randint(-10, 10)),
                last_activity_at=NOW - timedelta(seconds=rng.randint(0, 10 * 86400)),
                exception_since=NOW - timedelta(seconds=rng.randint(0, 20 * 86400)) if in_exception else None,
                exception_seconds_before=rng.choice([0, 0, rng.randint(0, 15 * 86400)]),
                urgency_date=rng.choice([None, today + timedelta(days=rng.randint(-5, 20))]),
                priority_boost=rng.choice([0, 0, 10, 25, -5]),
            )
        )

    assert urgency_refresh(now=NOW) > 0

    tenants_by_id = {t.pk: t for t in tenants}
    for rr in requests:
        rr.refresh_from_db()
        expected = urgency_values(rr, tenants_by_id[rr.tenant_id], NOW)
        assert _stored(rr) == (expected.aging_band, expected.is_stalled, expected.priority_score,
                               expected.priority_reasons), rr.pk  # fmt: skip


# --- Set-based, idempotent, concurrent ----------------------------------------------------------------------


def _refresh_statements(**kwargs) -> tuple[int, int, int]:
    with CaptureQueriesContext(connection) as captured:
        updated = urgency_refresh(now=NOW, **kwargs)
    updates = sum(1 for q in captured.captured_queries if "UPDATE workflow_recordrequest" in q["sql"])
    return len(captured), updates, updated


def test_it_runs_the_same_statements_for_5_and_for_200_requests(db):
    small = factories.TenantFactory(slug="small")
    large = factories.TenantFactory(slug="large")
    _bulk_requests(small, 5)
    _bulk_requests(large, 200)

    queries_small, updates_small, updated_small = _refresh_statements(tenant_id=small.pk)
    queries_large, updates_large, updated_large = _refresh_statements(tenant_id=large.pk)

    assert (updated_small, updated_large) == (5, 200)
    assert queries_small == queries_large
    assert updates_small == updates_large == 1


def test_a_second_run_writes_nothing(db):
    _bulk_requests(factories.TenantFactory(slug="again"), 60)
    assert urgency_refresh(now=NOW) == 60
    assert urgency_refresh(now=NOW) == 0


def test_it_refreshes_only_the_tenant_it_is_given(db):
    one = factories.TenantFactory(slug="one")
    other = factories.TenantFactory(slug="other")
    mine = _request(one, legal_due_date=_today(one))
    theirs = _request(other, legal_due_date=_today(other))
    assert urgency_refresh(tenant_id=one.pk, now=NOW) == 1
    assert _score(mine) == 80
    assert _score(theirs) == 0


def test_the_beat_task_refreshes_every_tenant(db):
    for slug in ("first", "second"):
        tenant = factories.TenantFactory(slug=slug)
        _request(tenant, legal_due_date=date(2000, 1, 1))
    assert refresh_urgency.name == "workflow.tasks.refresh_urgency"
    assert refresh_urgency.apply().get() == 2


@pytest.mark.django_db(transaction=True)
def test_two_refreshes_at_once_finish_and_agree():
    tenants = [
        factories.TenantFactory(slug="race-west", timezone="America/Los_Angeles"),
        factories.TenantFactory(slug="race-east", timezone="America/New_York"),
    ]
    for tenant in tenants:
        _bulk_requests(tenant, 80)

    race = run_at_once(lambda: urgency_refresh(now=NOW), n=2, timeout=60)

    assert race.errors == []
    assert sorted(race.results) == [0, 160]  # one wrote every row, the other found nothing left to change
    tenants_by_id = {t.pk: t for t in tenants}
    for rr in RecordRequest.objects.all():
        expected = urgency_values(rr, tenants_by_id[rr.tenant_id], NOW)
        assert (rr.aging_band, rr.is_stalled, rr.priority_score, rr.priority_reasons) == (
            expected.aging_band,
            expected.is_stalled,
            expected.priority_score,
            expected.priority_reasons,
        )
