from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from roi.models import Tenant
from workflow import deadlines
from workflow.choices import RequestType

UTC = ZoneInfo("UTC")


def _tenant(tz: str = "America/Los_Angeles", target_days: int = 5) -> Tenant:
    return Tenant(name="T", slug="t", timezone=tz, jurisdiction="CA", internal_target_business_days=target_days)


def test_right_of_access_is_due_30_calendar_days_after_receipt():
    received = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 9:00 in Los Angeles
    due = deadlines.legal_due_date(tenant=_tenant(), request_type=RequestType.RIGHT_OF_ACCESS, received_at=received)
    assert due == date(2026, 4, 1)


def test_the_clock_starts_on_the_receipt_date_in_the_tenants_time_zone():
    """A fax at 11 pm in Los Angeles is already the next day in UTC; the legal clock uses the hospital's calendar."""
    late_fax = datetime(2026, 3, 3, 7, 0, tzinfo=UTC)  # 23:00 on March 2 in Los Angeles
    due = deadlines.legal_due_date(tenant=_tenant(), request_type=RequestType.RIGHT_OF_ACCESS, received_at=late_fax)
    assert due == date(2026, 4, 1)
    in_new_york = deadlines.legal_due_date(
        tenant=_tenant("America/New_York"), request_type=RequestType.RIGHT_OF_ACCESS, received_at=late_fax
    )
    assert in_new_york == date(2026, 4, 2)


def test_an_accounting_of_disclosures_is_due_in_60_days():
    received = datetime(2026, 1, 10, 15, 0, tzinfo=UTC)
    assert deadlines.legal_due_date(
        tenant=_tenant(), request_type=RequestType.ACCOUNTING, received_at=received
    ) == date(2026, 3, 11)


@pytest.mark.parametrize(
    ("received_local", "expected"),
    [
        (date(2026, 3, 2), date(2026, 3, 9)),  # Monday -> next Monday
        (date(2026, 3, 6), date(2026, 3, 13)),  # Friday -> next Friday
        (date(2026, 3, 7), date(2026, 3, 13)),  # Saturday -> Friday (weekend receipt counts from Monday)
    ],
)
def test_the_internal_target_counts_business_days(received_local, expected):
    received = datetime.combine(received_local, datetime.min.time(), tzinfo=ZoneInfo("America/Los_Angeles")).replace(
        hour=10
    )
    assert deadlines.internal_target_date(tenant=_tenant(), received_at=received) == expected


@given(
    received=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)),
    request_type=st.sampled_from(list(RequestType)),
    days=st.integers(min_value=0, max_value=15),
)
def test_due_dates_never_precede_receipt_and_target_is_weekday(received, request_type, days):
    tenant = _tenant(target_days=days)
    local_day = deadlines.local_date(received, tenant)
    due = deadlines.legal_due_date(tenant=tenant, request_type=request_type, received_at=received)
    assert due - local_day >= timedelta(days=30)
    target = deadlines.internal_target_date(tenant=tenant, received_at=received)
    assert target >= local_day
    if days:
        assert target.weekday() < 5
