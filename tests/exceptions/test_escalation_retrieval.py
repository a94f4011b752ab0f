"""The escalation condition "a retrieval task open more than N days": it reads RecordRequest.retrieval_waiting_since
(kept by fulfillment's retrieval services), counts the tenant's calendar days, and fires once per request and rule.

Tenant A (Alpha) is in America/Los_Angeles. NOW is 03:00 UTC on 11 June, still 10 June in Los Angeles."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from exceptions.escalations import escalations_evaluate
from exceptions.models import EscalationEvent, EscalationRule
from fulfillment import retrieval
from fulfillment.choices import RetrievalSource
from roi import clock
from roi.choices import Role
from roi.models import Notification
from tests import factories
from workflow.choices import RequestState

UTC = ZoneInfo("UTC")
LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2026, 6, 11, 3, 0, tzinfo=UTC)


def _rule(tenant, days: int = 5) -> EscalationRule:
    return EscalationRule.objects.create(
        tenant=tenant,
        name="Retrieval waiting over 5 days",
        min_days_waiting_on_retrieval=days,
        notify=EscalationRule.Notify.SUPERVISORS,
        email=False,
    )


def _task_requested_on(rr, actor, moment: datetime):
    with clock.frozen(moment):
        return retrieval.retrieval_task_create(
            tenant=rr.tenant, actor=actor, record_request=rr, source=RetrievalSource.IMAGING
        )


def _fired(now: datetime = NOW) -> set[int]:
    ids = escalations_evaluate(now=now)
    return set(EscalationEvent.objects.filter(pk__in=ids).values_list("request_id", flat=True))


def test_a_task_waiting_longer_fires_once_however_often_the_job_runs(request_in_state, alice, sam, tenant_a):
    rule = _rule(tenant_a)
    waiting = request_in_state(RequestState.IN_FULFILLMENT)
    _task_requested_on(waiting, alice, datetime(2026, 6, 4, 9, tzinfo=LA))  # 6 days before 10 June
    on_the_day = request_in_state(RequestState.IN_FULFILLMENT)
    _task_requested_on(on_the_day, alice, datetime(2026, 6, 5, 9, tzinfo=LA))  # 5 days: not more than 5

    assert _fired() == {waiting.pk}
    assert _fired() == set()
    assert _fired(NOW + timedelta(hours=1)) == set()
    event = EscalationEvent.objects.get(rule=rule)
    assert (event.request_id, event.episode_id, event.summary) == (waiting.pk, None, "waiting on retrieval for 6 days")
    assert Notification.objects.filter(recipient=sam, dedupe_key=f"escalation:{event.pk}:{sam.pk}").count() == 1


def test_days_are_the_tenants_calendar_days(request_in_state, alice, tenant_a):
    _rule(tenant_a)
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    # 16:00 UTC on 5 June: 6 UTC dates and more than 5 x 24 hours before NOW, but 5 June to 10 June in Los Angeles.
    _task_requested_on(rr, alice, datetime(2026, 6, 5, 16, 0, tzinfo=UTC))
    assert _fired() == set()
    assert _fired(datetime(2026, 6, 11, 7, 0, tzinfo=UTC)) == {rr.pk}  # midnight has passed in Los Angeles


def test_a_received_task_does_not_fire(request_in_state, alice, tenant_a):
    _rule(tenant_a)
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    task = _task_requested_on(rr, alice, NOW - timedelta(days=10))
    retrieval.retrieval_task_mark_received(tenant=tenant_a, actor=alice, task=task)
    assert _fired() == set()


def test_the_oldest_open_task_counts_when_an_older_one_closes(request_in_state, alice, tenant_a):
    _rule(tenant_a)
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    old = _task_requested_on(rr, alice, NOW - timedelta(days=10))
    _task_requested_on(rr, alice, NOW - timedelta(days=2))
    retrieval.retrieval_task_cancel(tenant=tenant_a, actor=alice, task=old, reason="Asked the wrong department")
    assert _fired() == set()
    assert _fired(NOW + timedelta(days=4)) == {rr.pk}


def test_requests_of_another_tenant_or_no_longer_open_do_not_fire(request_in_state, alice, sam, tenant_a, tenant_b):
    _rule(tenant_a)
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    _task_requested_on(rr, alice, NOW - timedelta(days=10))
    from workflow.transitions import request_cancel

    request_cancel(tenant=tenant_a, actor=sam, record_request=rr, reason="Withdrawn")
    other = factories.RecordRequestFactory(tenant=tenant_b, retrieval_waiting_since=NOW - timedelta(days=30))
    assert other.retrieval_waiting_since is not None
    assert _fired() == set()


# --- The rules admin ------------------------------------------------------------------------------------------


@pytest.fixture
def adele(tenant_a):
    return factories.MembershipFactory(tenant=tenant_a, user__username="adele", role=Role.ADMIN).user


def test_admin_sets_the_condition_alone_and_the_rules_page_describes_it(client_for, adele, tenant_a):
    client = client_for(adele)
    assert 'name="min_days_waiting_on_retrieval"' in client.get(reverse("exceptions:rule-create")).content.decode()
    response = client.post(
        reverse("exceptions:rule-create"),
        {"name": "Retrieval waiting", "is_active": "on", "level": "1", "min_days_waiting_on_retrieval": "5",
         "notify": "supervisors", "raise_priority": "0"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = EscalationRule.objects.get(tenant=tenant_a)
    assert rule.min_days_waiting_on_retrieval == 5
    assert "a retrieval task open more than 5 days" in client.get(reverse("exceptions:rules")).content.decode()

    response = client.post(
        reverse("exceptions:rule-edit", args=[rule.pk]),
        {"name": "Retrieval waiting", "level": "1", "min_days_waiting_on_retrieval": "-1", "notify": "supervisors",
         "raise_priority": "0"},
    )  # fmt: skip
    assert response.status_code == 400
    rule.refresh_from_db()
    assert rule.min_days_waiting_on_retrieval == 5


def test_the_default_rules_include_retrieval_waiting_over_5_days(request_in_state, alice, tenant_a):
    from exceptions.escalations import escalation_rules_seed_defaults

    escalation_rules_seed_defaults(tenant_a)
    waiting = request_in_state(RequestState.IN_FULFILLMENT)
    _task_requested_on(waiting, alice, datetime(2026, 6, 4, 9, tzinfo=LA))  # 6 days before 10 June
    ids = escalations_evaluate(now=NOW)
    rules = set(EscalationEvent.objects.filter(pk__in=ids, request=waiting).values_list("rule__name", flat=True))
    assert "Retrieval waiting over 5 days" in rules
