"""Due dates for a request, computed in the tenant's own time zone.

Foundation rules: right of access is due 30 calendar days after receipt (45 CFR 164.524(b)(2)), an accounting of
disclosures 60 days (164.528(c)(1)); other request types use the same 30 days as organisation policy, since HIPAA
sets no clock for them. The intake deadline engine adds state rules (the shortest clock wins) on top of this.

Every clock starts at the receipt time, so the receipt time a person or an integration enters is bounded
(`received_at_problem`): never in the future, and at most RECEIPT_LOOKBACK_DAYS in the past.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError

from roi import clock
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


# How far back a receipt time may be entered. A request is received when any part of the organisation has it, and its
# clock runs from then: mail found weeks late in a clinic's tray is entered with the day it arrived, and is overdue on
# the day it is logged. The longest federal clock is an accounting's 60 days plus its one 30-day extension
# (164.528(c)(1)(ii); right of access: 30 plus 30, 164.524(b)(2)(ii)), and state clocks are shorter or equal, so a
# request received 180 days ago is past every deadline twice over; a date further back is a typo (the year, most
# often: a year-old date is 365 days back) or a request from before the organisation used OpenROI, which is not
# received now.
RECEIPT_LOOKBACK_DAYS = 180
# The staff form shows minutes, and "now" typed there is already a few seconds old; clocks of integrations drift.
RECEIPT_FUTURE_GRACE = timedelta(minutes=1)


def received_at_problem(received_at: datetime, *, now: datetime) -> str | None:
    """What is wrong with a receipt time, in words that say the allowed range, or None. The one check behind the
    staff form and the API (`validate_received_at`) and `workflow.services.request_create`."""
    earliest = now - timedelta(days=RECEIPT_LOOKBACK_DAYS)
    if earliest <= received_at <= now + RECEIPT_FUTURE_GRACE:
        return None
    shown = f"{earliest.astimezone(received_at.tzinfo):%b %-d, %Y}"
    if received_at > now:
        return (
            f"The receipt time cannot be in the future. Enter when the request reached the organisation, between "
            f"{shown} and now."
        )
    return (
        f"The receipt time is more than {RECEIPT_LOOKBACK_DAYS} days ago. Enter when the request reached the "
        f"organisation, between {shown} and now (check the year)."
    )


def validate_received_at(value: datetime) -> None:
    """Django validator of a received_at field (the staff intake form, the API's create serializer)."""
    problem = received_at_problem(value, now=clock.now())
    if problem is not None:
        raise ValidationError(problem, code="received_at_range")
