"""The deadline engine: the shortest applicable clock wins, counted in the tenant's calendar."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake import deadlines
from intake.models import JurisdictionRule
from roi.models import Tenant
from workflow.choices import RequestorKind, RequestType

UTC = ZoneInfo("UTC")
RECEIVED = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # Monday, morning in every US time zone


def _tenant(state: str, tz: str = "America/Chicago") -> Tenant:
    return Tenant(name="T", slug=f"t-{state}", jurisdiction=state, timezone=tz)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("state", "expected_days", "citation"),
    [
        ("IL", 30, "45 CFR 164.524(b)(2)"),  # no state rule seeded: the federal clock
        ("CA", 15, "Cal. Health & Safety Code 123110(b)"),
        ("NY", 10, "N.Y. Public Health Law 18(2)"),
        ("MT", 10, "Mont. Code Ann. 50-16-541"),
    ],
)
def test_the_shortest_clock_wins_for_right_of_access(state, expected_days, citation):
    due = deadlines.due_date_for(
        tenant=_tenant(state),
        request_type=RequestType.RIGHT_OF_ACCESS,
        requestor_kind=RequestorKind.PATIENT,
        received_at=RECEIVED,
    )
    assert due.due == date(2026, 3, 2) + timedelta(days=expected_days)
    assert due.rule.citation == citation


@pytest.mark.django_db
def test_texas_counts_business_days():
    due = deadlines.due_date_for(
        tenant=_tenant("TX"),
        request_type=RequestType.RIGHT_OF_ACCESS,
        requestor_kind=RequestorKind.PATIENT,
        received_at=RECEIVED,
    )
    assert due.due == date(2026, 3, 23)  # 15 business days after Monday March 2
    assert due.rule.day_kind == "business"


@pytest.mark.django_db
def test_an_accounting_of_disclosures_has_60_days():
    due = deadlines.due_date_for(
        tenant=_tenant("CA"),
        request_type=RequestType.ACCOUNTING,
        requestor_kind=RequestorKind.PATIENT,
        received_at=RECEIVED,
    )
    assert due.due == date(2026, 5, 1)


@pytest.mark.django_db
def test_types_without_a_legal_clock_use_organisation_policy():
    due = deadlines.due_date_for(
        tenant=_tenant("CA"),
        request_type=RequestType.LEGAL,
        requestor_kind=RequestorKind.ATTORNEY,
        received_at=RECEIVED,
    )
    assert due.rule is None
    assert due.due == date(2026, 4, 1)
    assert "Organisation policy" in due.explanation


@pytest.mark.django_db
def test_a_rule_limited_to_some_requestor_kinds_applies_only_to_them():
    JurisdictionRule.objects.create(
        jurisdiction="IL", request_type=RequestType.AUTHORIZATION, requestor_kinds=[RequestorKind.INSURER], days=7,
        description="example", citation="example",
    )  # fmt: skip
    insurer = deadlines.due_date_for(
        tenant=_tenant("IL"),
        request_type=RequestType.AUTHORIZATION,
        requestor_kind=RequestorKind.INSURER,
        received_at=RECEIVED,
    )
    attorney = deadlines.due_date_for(
        tenant=_tenant("IL"),
        request_type=RequestType.AUTHORIZATION,
        requestor_kind=RequestorKind.ATTORNEY,
        received_at=RECEIVED,
    )
    assert insurer.due == date(2026, 3, 9)
    assert attorney.rule is None


@pytest.mark.django_db
def test_inactive_rules_do_not_count():
    JurisdictionRule.objects.filter(jurisdiction="CA").update(is_active=False)
    due = deadlines.due_date_for(
        tenant=_tenant("CA"),
        request_type=RequestType.RIGHT_OF_ACCESS,
        requestor_kind=RequestorKind.PATIENT,
        received_at=RECEIVED,
    )
    assert due.rule.jurisdiction == "US"


rule_strategy = st.builds(
    lambda days, kind, jurisdiction: JurisdictionRule(
        jurisdiction=jurisdiction, request_type=RequestType.RIGHT_OF_ACCESS, days=days, day_kind=kind,
        description="r", citation="c",
    ),
    days=st.integers(min_value=1, max_value=90),
    kind=st.sampled_from(["calendar", "business"]),
    jurisdiction=st.sampled_from(["US", "CA"]),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    rules=st.lists(rule_strategy, min_size=1, max_size=5),
    received=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)),
    tz=st.sampled_from(["America/Los_Angeles", "America/New_York", "Pacific/Honolulu"]),
)
def test_the_due_date_is_the_minimum_of_every_applicable_clock_and_never_before_receipt(rules, received, tz):
    tenant = _tenant("CA", tz)
    result = deadlines.due_date_for(
        tenant=tenant, request_type=RequestType.RIGHT_OF_ACCESS, requestor_kind=RequestorKind.PATIENT,
        received_at=received, rules=rules,
    )  # fmt: skip
    local = received.astimezone(ZoneInfo(tz)).date()
    each = [deadlines.add_days(local, rule.days, rule.day_kind) for rule in rules]
    assert result.due == min(each)
    assert result.due > local
    assert result.rule in rules
    # Adding a rule can only keep or shorten the clock, never lengthen it.
    longer = JurisdictionRule(jurisdiction="US", request_type="right_of_access", days=365, description="", citation="")
    assert (
        deadlines.due_date_for(
            tenant=tenant,
            request_type="right_of_access",
            requestor_kind="patient",
            received_at=received,
            rules=[*rules, longer],
        ).due
        == result.due
    )
