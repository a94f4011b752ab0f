"""Due dates for a request, computed in the tenant's own time zone.

Foundation rules: right of access is due 30 calendar days after receipt (45 CFR 164.524(b)(2)), an accounting of
disclosures 60 days (164.528(c)(1)); other request types use the same 30 days as organisation policy, since HIPAA
sets no clock for them. The intake deadline engine adds state rules (the shortest clock wins) on top of this.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from roi.models import Tenant
from workflow.choices import RequestType

FEDERAL_CALENDAR_DAYS = {
    RequestType.RIGHT_OF_ACCESS: 30,
    RequestType.ACCOUNTING: 60,
}
POLICY_CALENDAR_DAYS = 30


def local_date(moment: datetime, tenant: Tenant) -> date:
    return moment.astimezone(tenant.tzinfo).date()


def add_business_days(start: date, days: int) -> date:
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current


def legal_due_date(*, tenant: Tenant, request_type: str, received_at: datetime) -> date:
    days = FEDERAL_CALENDAR_DAYS.get(RequestType(request_type), POLICY_CALENDAR_DAYS)
    return local_date(received_at, tenant) + timedelta(days=days)


def internal_target_date(*, tenant: Tenant, received_at: datetime) -> date:
    return add_business_days(local_date(received_at, tenant), tenant.internal_target_business_days)
