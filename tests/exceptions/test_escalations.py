"""Escalation rules fire once per (request, rule, level, episode), set-based, with their actions and notifications.

Tenant A (Alpha) is in America/Los_Angeles. NOW is 03:00 UTC on 11 June, still 10 June (20:00) in Los Angeles: a
day count done in UTC instead of the tenant's local date is off by one and the boundary tests catch it."""

from __future__ import annotations

import importlib
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps as django_apps
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exceptions.escalations import (
    DEFAULT_RULES,
    EscalationNotFound,
    escalation_acknowledge,
    escalation_rules_seed_defaults,
    escalations_evaluate,
)
from exceptions.models import EscalationEvent, EscalationRule, ExceptionEpisode
from exceptions.services import exception_open, exception_resolve
from exceptions.tasks import evaluate_escalations
from roi import clock
from roi.choices import Role
from roi.errors import NotPermitted
from roi.models import Notification
from tests import factories
from tests.concurrency import run_at_once
from workflow.models import RecordRequest, WorkQueue

UTC = ZoneInfo("UTC")
NOW = datetime(2026, 6, 11, 3, 0, tzinfo=UTC)
LOCAL_TODAY = date(2026, 6, 10)  # in Los Angeles at NOW


def _rule(tenant, **fields) -> EscalationRule:
    fields.setdefault("name", "Test rule")
    fields.setdefault("notify", EscalationRule.Notify.SUPERVISORS)
    fields.setdefault("email", False)
    return EscalationRule.objects.create(tenant=tenant, **fields)


def _request(tenant, **fields) -> RecordRequest:
    fields.setdefault("received_at", NOW - timedelta(days=3))
    fields.setdefault("legal_due_date", LOCAL_TODAY + timedelta(days=20))
    return factories.RecordRequestFactory(tenant=tenant, **fields)


def _open_exception(rr, actor, moment, *, reason="awaiting_department", due_in_days=3, owner=None):
    with clock.frozen(moment):
        return exception_open(
            tenant=rr.tenant, actor=actor, record_request=rr, reason=reason, detail="Films in storage",
            next_step="Call imaging", next_action_due=moment.date() + timedelta(days=due_in_days), owner=owner,
        )  # fmt: skip


def _fired_requests(now=NOW, tenant=None) -> set[int]:
    ids = escalations_evaluate(tenant_id=tenant.pk if tenant else None, now=now)
    return set(EscalationEvent.objects.filter(pk__in=ids).values_list("request_id", flat=True))


# --- Conditions, each on its boundary ------------------------------------------------------------------------------


def test_legal_due_within_n_days_counts_days_in_the_tenant_time_zone(tenant_a, sam):
    _rule(tenant_a, max_days_to_legal_due=5)
    due_in_5 = _request(tenant_a, legal_due_date=LOCAL_TODAY + timedelta(days=5))
    _request(tenant_a, legal_due_date=LOCAL_TODAY + timedelta(days=6))  # 5 days away in UTC, 6 in Los Angeles
    assert _fired_requests() == {due_in_5.pk}
    assert EscalationEvent.objects.get(request=due_in_5).summary == "legal due in 5 days"


def test_legal_due_date_passed_fires_from_the_day_after_the_due_date(tenant_a, sam):
    _rule(tenant_a, max_days_to_legal_due=-1, level=2)
    overdue = _request(tenant_a, legal_due_date=LOCAL_TODAY - timedelta(days=1))
    _request(tenant_a, legal_due_date=LOCAL_TODAY)
    assert _fired_requests() == {overdue.pk}
    assert EscalationEvent.objects.get(request=overdue).summary == "legal due date passed 1 day ago"


def test_min_age_days_counts_from_the_local_date_of_receipt(tenant_a, sam):
    _rule(tenant_a, min_age_days=10)
    la = ZoneInfo("America/Los_Angeles")
    ten_days = _request(tenant_a, received_at=datetime(2026, 5, 31, 23, 30, tzinfo=la))
    _request(tenant_a, received_at=datetime(2026, 6, 1, 0, 30, tzinfo=la))
    assert _fired_requests() == {ten_days.pk}


def test_min_days_without_activity_fires_once_the_days_have_passed(tenant_a, sam):
    _rule(tenant_a, min_days_without_activity=5)
    idle = _request(tenant_a, last_activity_at=NOW - timedelta(days=5))
    _request(tenant_a, last_activity_at=NOW - timedelta(days=5) + timedelta(minutes=1))
    assert _fired_requests() == {idle.pk}


def test_request_type_and_state_conditions_filter_and_closed_requests_never_fire(tenant_a, sam, request_in_state):
    _rule(tenant_a, request_types=["legal"], states=["received"], max_days_to_legal_due=30)
    legal = _request(tenant_a, request_type="legal")
    _request(tenant_a, request_type="authorization")
    validated_legal = request_in_state("validated", request_type="legal")
    cancelled_legal = request_in_state("cancelled", request_type="legal")
    RecordRequest.objects.filter(pk__in=[validated_legal.pk, cancelled_legal.pk]).update(
        legal_due_date=LOCAL_TODAY + timedelta(days=3)
    )
    assert _fired_requests() == {legal.pk}
    _rule(tenant_a, name="Any open request due soon", max_days_to_legal_due=30)
    fired = _fired_requests()
    assert validated_legal.pk in fired
    assert cancelled_legal.pk not in fired


def test_min_days_in_exception_adds_earlier_episodes_and_stops_a_second_short(tenant_a, sam):
    _rule(tenant_a, states=["exception"], min_days_in_exception=7)
    t0 = NOW - timedelta(days=10)
    fresh = _request(tenant_a, received_at=t0 - timedelta(days=1))
    episode = _open_exception(fresh, sam, t0)
    assert _fired_requests(now=t0 + timedelta(days=7) - timedelta(seconds=1)) == set()
    assert _fired_requests(now=t0 + timedelta(days=7)) == {fresh.pk}
    assert EscalationEvent.objects.get(request=fresh).episode_id == episode.pk
    earlier = _request(tenant_a, received_at=t0 - timedelta(days=1))
    _open_exception(earlier, sam, t0 + timedelta(days=3))
    RecordRequest.objects.filter(pk=earlier.pk).update(exception_seconds_before=3 * 86400)
    assert _fired_requests(now=t0 + timedelta(days=7)) == {earlier.pk}  # 3 days before plus 4 in this episode
    assert EscalationEvent.objects.get(request=earlier).summary == "in exception 7 days"


def test_exception_reason_condition_matches_the_open_episode_reason_only(tenant_a, sam):
    _rule(tenant_a, exception_reasons=["legal_review"])
    t0 = NOW - timedelta(days=1)
    review = _request(tenant_a)
    _open_exception(review, sam, t0, reason="legal_review")
    _open_exception(_request(tenant_a), sam, t0, reason="payment_pending")
    assert _fired_requests() == {review.pk}


def test_next_action_overdue_fires_the_day_after_it_was_due_and_tells_the_owner(tenant_a, sam, alice):
    _rule(tenant_a, next_action_overdue=True, notify=EscalationRule.Notify.OWNER, email=True)
    rr = _request(tenant_a, assignee=sam)
    opened = NOW - timedelta(days=5)
    episode = _open_exception(rr, sam, opened, due_in_days=2, owner=alice)
    due = episode.next_action_due
    local_noon = datetime(due.year, due.month, due.day, 12, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert _fired_requests(now=local_noon) == set()
    assert _fired_requests(now=local_noon + timedelta(days=1)) == {rr.pk}
    notification = Notification.objects.get()
    assert (notification.recipient, notification.email_to) == (alice, alice.email)  # the owner, not the assignee


# --- Exactly once --------------------------------------------------------------------------------------------------


def test_running_twice_fires_nothing_new_and_notifies_nobody_twice(tenant_a, sam):
    factories.MembershipFactory(tenant=tenant_a, user__username="ada", role=Role.ADMIN)
    _rule(tenant_a, max_days_to_legal_due=5, raise_priority=10)
    rr = _request(tenant_a, legal_due_date=LOCAL_TODAY + timedelta(days=2))
    first = escalations_evaluate(now=NOW)
    assert len(first) == 1
    assert escalations_evaluate(now=NOW) == []
    assert escalations_evaluate(now=NOW + timedelta(days=1)) == []
    assert EscalationEvent.objects.count() == 1
    assert sorted(Notification.objects.values_list("recipient__username", flat=True)) == ["ada", "sam"]
    rr.refresh_from_db()
    assert rr.priority_boost == 10


def test_a_new_exception_episode_fires_the_exception_rule_again_but_not_other_rules(tenant_a, sam):
    _rule(tenant_a, name="In exception", states=["exception"], min_days_in_exception=1)
    _rule(tenant_a, name="Due soon", max_days_to_legal_due=30)
    t0 = NOW - timedelta(days=6)
    rr = _request(tenant_a, received_at=t0 - timedelta(days=1), legal_due_date=LOCAL_TODAY + timedelta(days=10))
    first = _open_exception(rr, sam, t0)
    assert len(escalations_evaluate(now=t0 + timedelta(days=2))) == 2
    with clock.frozen(t0 + timedelta(days=3)):
        exception_resolve(tenant=tenant_a, actor=sam, record_request=rr, resolution="Films arrived")
    second = _open_exception(rr, sam, t0 + timedelta(days=4))
    again = escalations_evaluate(now=t0 + timedelta(days=5))
    assert [EscalationEvent.objects.get(pk=pk).episode_id for pk in again] == [second.pk]
    assert EscalationEvent.objects.filter(request=rr, rule__name="In exception").count() == 2
    assert EscalationEvent.objects.filter(request=rr, rule__name="Due soon").count() == 1
    assert ExceptionEpisode.objects.get(pk=first.pk).escalation_level == 1


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_the_same_moment_fire_each_event_once():
    tenant = factories.TenantFactory(slug="race", timezone="America/Los_Angeles")
    supervisor = factories.MembershipFactory(tenant=tenant, role=Role.SUPERVISOR).user
    _rule(tenant, max_days_to_legal_due=5, raise_priority=10)
    requests = [_request(tenant, legal_due_date=LOCAL_TODAY + timedelta(days=1)) for _ in range(30)]

    race = run_at_once(lambda: escalations_evaluate(tenant_id=tenant.pk, now=NOW), n=2, timeout=30)

    assert race.errors == []
    fired = [pk for result in race.results for pk in result]
    assert len(fired) == len(set(fired)) == 30  # each event returned by exactly one of the runs
    assert EscalationEvent.objects.count() == 30
    assert Notification.objects.filter(recipient=supervisor).count() == 30
    assert set(
        RecordRequest.objects.filter(pk__in=[r.pk for r in requests]).values_list("priority_boost", flat=True)
    ) == {10}


# --- Actions and notifications -------------------------------------------------------------------------------------


def test_actions_raise_priority_move_queue_and_reassign_once(tenant_a, sam, alice):
    legal_team = WorkQueue.objects.create(tenant=tenant_a, name="Legal team")
    _rule(tenant_a, max_days_to_legal_due=5, raise_priority=7, move_to_queue=legal_team, reassign_to=alice)
    rr = _request(tenant_a, legal_due_date=LOCAL_TODAY, assignee=sam)
    untouched = _request(tenant_a, assignee=sam)
    escalations_evaluate(now=NOW)
    escalations_evaluate(now=NOW)
    rr.refresh_from_db()
    assert (rr.priority_boost, rr.queue, rr.assignee) == (7, legal_team, alice)
    untouched.refresh_from_db()
    assert (untouched.priority_boost, untouched.queue, untouched.assignee) == (0, None, sam)


def test_a_rule_never_moves_a_request_to_another_tenants_queue_or_user(tenant_a, tenant_b, sam, charlie):
    their_queue = WorkQueue.objects.create(tenant=tenant_b, name="Beta queue")
    _rule(tenant_a, max_days_to_legal_due=5, move_to_queue=their_queue, reassign_to=charlie)
    rr = _request(tenant_a, legal_due_date=LOCAL_TODAY, assignee=sam)
    escalations_evaluate(now=NOW)
    rr.refresh_from_db()
    assert (rr.queue, rr.assignee) == (None, sam)


def test_notifications_go_to_supervisors_of_the_requests_tenant_only(tenant_a, tenant_b, sam, alice, charlie):
    beth = factories.MembershipFactory(tenant=tenant_b, user__username="beth", role=Role.SUPERVISOR).user
    factories.MembershipFactory(tenant=tenant_a, user__username="gone", role=Role.SUPERVISOR, is_active=False)
    _rule(tenant_a, max_days_to_legal_due=5, email=True)
    rr = _request(tenant_a, legal_due_date=LOCAL_TODAY + timedelta(days=2), assignee=alice)
    _request(tenant_b, legal_due_date=LOCAL_TODAY + timedelta(days=2))
    (event_id,) = escalations_evaluate(now=NOW)
    (notification,) = Notification.objects.all()
    assert notification.recipient == sam
    assert notification.tenant == tenant_a
    assert notification.email_to == sam.email
    assert notification.subject == f"Escalation: {rr.tracking_number} legal due in 2 days"
    assert notification.link == f"/requests/{rr.tracking_number}/"
    assert notification.dedupe_key == f"escalation:{event_id}:{sam.pk}"
    assert "Test rule" in notification.body
    assert rr.patient.last_name not in notification.body
    assert not Notification.objects.filter(recipient__in=[beth, charlie, alice]).exists()


def test_notify_both_reaches_supervisors_and_the_assignee_once_each(tenant_a, sam, alice):
    _rule(tenant_a, max_days_to_legal_due=5, notify=EscalationRule.Notify.BOTH)
    _request(tenant_a, legal_due_date=LOCAL_TODAY, assignee=alice)
    _request(tenant_a, legal_due_date=LOCAL_TODAY, assignee=sam)  # supervisor and owner: one notice, not two
    escalations_evaluate(now=NOW)
    assert sorted(Notification.objects.values_list("recipient__username", flat=True)) == ["alice", "sam", "sam"]
    assert Notification.objects.filter(email_to="").count() == 3  # the rule does not email


def test_the_query_count_does_not_grow_with_the_number_of_matching_requests(tenant_a, sam):
    _rule(tenant_a, max_days_to_legal_due=5, raise_priority=5, notify=EscalationRule.Notify.BOTH)
    _rule(tenant_a, name="Exception", states=["exception"], min_days_in_exception=0)

    def queries_for(count: int, due: date) -> int:
        for _ in range(count):
            _request(tenant_a, legal_due_date=due, assignee=sam)
        with CaptureQueriesContext(connection) as captured:
            fired = escalations_evaluate(tenant_id=tenant_a.pk, now=NOW)
        assert len(fired) == count
        return len(captured)

    assert queries_for(5, LOCAL_TODAY + timedelta(days=1)) == queries_for(100, LOCAL_TODAY + timedelta(days=2))


# --- Acknowledging -------------------------------------------------------------------------------------------------


def test_acknowledge_records_time_and_actor_once(tenant_a, sam):
    ada = factories.MembershipFactory(tenant=tenant_a, user__username="ada", role=Role.ADMIN).user
    _rule(tenant_a, max_days_to_legal_due=5)
    _request(tenant_a, legal_due_date=LOCAL_TODAY)
    event = EscalationEvent.objects.get(pk=escalations_evaluate(now=NOW)[0])
    with clock.frozen(NOW + timedelta(hours=1)):
        acknowledged = escalation_acknowledge(tenant=tenant_a, actor=sam, event=event)
    assert (acknowledged.acknowledged_at, acknowledged.acknowledged_by) == (NOW + timedelta(hours=1), sam)
    assert Notification.objects.get(recipient=sam).read_at == NOW + timedelta(hours=1)
    with clock.frozen(NOW + timedelta(hours=2)):
        again = escalation_acknowledge(tenant=tenant_a, actor=ada, event=event)
    assert (again.acknowledged_at, again.acknowledged_by) == (NOW + timedelta(hours=1), sam)


def test_acknowledge_is_for_supervisors_or_the_notified_owner(tenant_a, sam, alice):
    bob = factories.MembershipFactory(tenant=tenant_a, user__username="bob", role=Role.SPECIALIST).user
    _rule(tenant_a, max_days_to_legal_due=5, notify=EscalationRule.Notify.OWNER)
    _request(tenant_a, legal_due_date=LOCAL_TODAY, assignee=alice)
    event = EscalationEvent.objects.get(pk=escalations_evaluate(now=NOW)[0])
    with pytest.raises(NotPermitted):
        escalation_acknowledge(tenant=tenant_a, actor=bob, event=event)
    assert escalation_acknowledge(tenant=tenant_a, actor=alice, event=event).acknowledged_by == alice


def test_another_tenants_escalation_answers_like_a_missing_one(tenant_a, tenant_b, sam, charlie):
    beth = factories.MembershipFactory(tenant=tenant_b, user__username="beth", role=Role.SUPERVISOR).user
    _rule(tenant_a, max_days_to_legal_due=5)
    _request(tenant_a, legal_due_date=LOCAL_TODAY)
    event = EscalationEvent.objects.get(pk=escalations_evaluate(now=NOW)[0])
    for tenant, actor in [(tenant_b, beth), (tenant_a, charlie), (tenant_a, beth)]:
        with pytest.raises(EscalationNotFound) as raised:
            escalation_acknowledge(tenant=tenant, actor=actor, event=event)
        assert raised.value.status_code == 404
    event.refresh_from_db()
    assert event.acknowledged_at is None


# --- Default rules and the job -------------------------------------------------------------------------------------


def test_default_rules_are_seeded_for_a_new_tenant_once(tenant_a):
    created = escalation_rules_seed_defaults(tenant_a)
    assert sorted(r.name for r in created) == sorted(d["name"] for d in DEFAULT_RULES)
    assert escalation_rules_seed_defaults(tenant_a) == []
    passed = EscalationRule.objects.get(tenant=tenant_a, name="Legal due date passed")
    assert (passed.level, passed.max_days_to_legal_due, passed.raise_priority) == (2, -1, 30)


def test_the_migrations_seed_existing_tenants_by_name_and_match_the_service(tenant_a, tenant_b):
    migrations = [
        importlib.import_module(f"exceptions.migrations.{name}")
        for name in ("0003_default_escalation_rules", "0006_default_retrieval_rule")
    ]
    _rule(tenant_b, name="Legal due date passed", level=3, max_days_to_legal_due=-3)  # an admin's own version
    for migration in migrations * 2:
        migration.seed_default_rules(django_apps)
    names = sorted(d["name"] for d in DEFAULT_RULES)
    for tenant in (tenant_a, tenant_b):
        assert sorted(EscalationRule.objects.filter(tenant=tenant).values_list("name", flat=True)) == names
    assert EscalationRule.objects.get(tenant=tenant_b, name="Legal due date passed").level == 3
    frozen = [{k: str(v) if k == "notify" else v for k, v in d.items()} for m in migrations for d in m.DEFAULT_RULES]
    assert frozen == [{k: str(v) if k == "notify" else v for k, v in d.items()} for d in DEFAULT_RULES]


def test_the_default_rules_escalate_a_request_due_soon_and_the_job_emails_supervisors(tenant_a, sam):
    escalation_rules_seed_defaults(tenant_a)
    rr = _request(tenant_a, legal_due_date=date.today() + timedelta(days=3))
    assert evaluate_escalations(tenant_a.pk) == 1
    (message,) = mail.outbox
    assert message.to == [sam.email]
    assert message.subject.startswith(f"Escalation: {rr.tracking_number} legal due in ")
    assert f"/requests/{rr.tracking_number}/" in message.body
    assert rr.patient.last_name not in message.body
    assert rr.patient.mrn not in message.body
    rr.refresh_from_db()
    assert rr.priority_boost == 10
    assert evaluate_escalations(tenant_a.pk) == 0
    assert len(mail.outbox) == 1
