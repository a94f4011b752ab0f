"""The deadline engine: a request's legal due date from its type, requestor and the tenant's jurisdiction.

Every clock that applies (the federal rule, the state's rules) is computed and the shortest wins. The rules are
data (JurisdictionRule), visible to tenant admins; seeded state rules are examples marked unverified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from intake.choices import DayKind
from intake.models import JurisdictionRule
from roi.models import Tenant
from workflow import deadlines as base

FEDERAL = "US"


@dataclass(frozen=True)
class DueDate:
    due: date
    rule: JurisdictionRule | None  # None: no rule applies, organisation policy (workflow.deadlines)

    @property
    def explanation(self) -> str:
        if self.rule is None:
            return f"Organisation policy: {base.POLICY_CALENDAR_DAYS} calendar days (no legal clock for this type)."
        rule = self.rule
        return f"{rule.description} ({rule.citation}): {rule.days} {rule.get_day_kind_display().lower()}."


def applicable_rules(*, tenant: Tenant, request_type: str, requestor_kind: str) -> list[JurisdictionRule]:
    rules = JurisdictionRule.objects.filter(
        is_active=True, request_type=request_type, jurisdiction__in=[FEDERAL, tenant.jurisdiction]
    ).order_by("jurisdiction", "days", "id")
    return [rule for rule in rules if not rule.requestor_kinds or requestor_kind in rule.requestor_kinds]


def add_days(start: date, days: int, kind: str) -> date:
    if kind == DayKind.BUSINESS:
        return base.add_business_days(start, days)
    return start + timedelta(days=days)


def due_date_for(
    *,
    tenant: Tenant,
    request_type: str,
    requestor_kind: str,
    received_at: datetime,
    rules: list[JurisdictionRule] | None = None,
) -> DueDate:
    """The shortest applicable clock, counted from the receipt date in the tenant's time zone."""
    received = base.local_date(received_at, tenant)
    if rules is None:
        rules = applicable_rules(tenant=tenant, request_type=request_type, requestor_kind=requestor_kind)
    if not rules:
        return DueDate(received + timedelta(days=base.POLICY_CALENDAR_DAYS), None)
    candidates = [(add_days(received, rule.days, rule.day_kind), rule) for rule in rules]
    due, rule = min(candidates, key=lambda c: (c[0], c[1].jurisdiction == FEDERAL))
    return DueDate(due, rule)
