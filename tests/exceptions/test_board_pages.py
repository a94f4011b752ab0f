"""The supervisor pages of the exceptions app (exception board, escalations inbox, escalation rules admin) and the
notifications page, with the personas of tests/conftest.py: Alice (specialist, A), Sam (supervisor, A), Adele (admin,
A), Charlie (specialist, B)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from exceptions.models import EscalationEvent, EscalationRule, ExceptionEpisode
from roi.choices import Role
from roi.models import Notification
from tests import factories
from workflow.choices import RequestState
from workflow.models import WorkQueue

CONTEXT_PROCESSOR = "roi.context_processors.unread_notifications"


@pytest.fixture
def adele(tenant_a):
    """Tenant admin in tenant A."""
    return factories.MembershipFactory(tenant=tenant_a, user__username="adele", role=Role.ADMIN).user


@pytest.fixture
def unread_count_in_header(settings):
    """The header's unread count, whether or not settings.py registers the context processor yet."""
    templates = [dict(engine) for engine in settings.TEMPLATES]
    processors = templates[0]["OPTIONS"]["context_processors"]
    if CONTEXT_PROCESSOR not in processors:
        templates[0]["OPTIONS"] = {**templates[0]["OPTIONS"], "context_processors": [*processors, CONTEXT_PROCESSOR]}
    settings.TEMPLATES = templates


def _in_exception(request_in_state, *, reason="awaiting_department", owner=None, opened_days_ago=0, due_in_days=7):
    rr = request_in_state(RequestState.EXCEPTION)
    episode = ExceptionEpisode.objects.get(request=rr, resolved_at__isnull=True)
    opened_at = timezone.now() - timedelta(days=opened_days_ago)
    ExceptionEpisode.objects.filter(pk=episode.pk).update(
        reason=reason,
        owner=owner,
        opened_at=opened_at,
        # Due dates are the organisation's calendar days (the board compares them with its today, not the server's).
        next_action_due=timezone.localdate(timezone=rr.tenant.tzinfo) + timedelta(days=due_in_days),
    )
    type(rr).objects.filter(pk=rr.pk).update(exception_since=opened_at)
    episode.refresh_from_db()
    return episode


def _rule(tenant, **fields):
    defaults = {"name": "Stalled exception", "level": 1, "min_days_in_exception": 3}
    return EscalationRule.objects.create(tenant=tenant, **{**defaults, **fields})


def _event(rule, rr, *, episode=None, level=None, summary="In exception for 4 days"):
    return EscalationEvent.objects.create(
        tenant=rule.tenant,
        rule=rule,
        request=rr,
        level=level or rule.level,
        episode=episode,
        fired_at=timezone.now(),
        summary=summary,
    )


# --- Exception board ----------------------------------------------------------------------------------------


def test_board_groups_open_exceptions_by_reason_with_counts_oldest_first(client_for, sam, alice, request_in_state):
    newer = _in_exception(request_in_state, reason="legal_review", owner=alice, opened_days_ago=2)
    older = _in_exception(request_in_state, reason="legal_review", owner=sam, opened_days_ago=9)
    other = _in_exception(request_in_state, reason="payment_pending", owner=None, opened_days_ago=5)
    resolved_request = request_in_state(RequestState.IN_FULFILLMENT)

    response = client_for(sam).get(reverse("exceptions:board"))

    assert response.status_code == 200
    rows = response.context["rows"]
    assert [e.pk for e in rows] == [older.pk, newer.pk, other.pk]  # legal review group first: it is the oldest
    assert rows[0].age_days == 9
    assert rows[0].time_in_exception.startswith("9d")
    page = response.content.decode()
    assert resolved_request.tracking_number not in page
    assert ("Legal review", "legal_review", 2) in response.context["reason_counts"]
    assert ("Payment pending", "payment_pending", 1) in response.context["reason_counts"]
    assert dict(response.context["owner_counts"]) == {str(alice): 1, str(sam): 1, "Nobody": 1}
    assert older.request.patient.last_name in page


def test_board_groups_by_owner_when_asked(client_for, sam, alice, request_in_state):
    _in_exception(request_in_state, owner=alice, opened_days_ago=1)
    _in_exception(request_in_state, owner=sam, opened_days_ago=6)
    _in_exception(request_in_state, owner=alice, opened_days_ago=8)

    response = client_for(sam).get(reverse("exceptions:board"), {"group": "owner"})

    assert [e.group_label for e in response.context["rows"]] == [str(alice), str(alice), str(sam)]
    assert [e.age_days for e in response.context["rows"]] == [8, 1, 6]


def test_board_filters_by_reason_owner_and_overdue_next_action(client_for, sam, alice, request_in_state):
    late = _in_exception(request_in_state, reason="legal_review", owner=alice, due_in_days=-2)
    on_time = _in_exception(request_in_state, reason="legal_review", owner=sam, due_in_days=3)
    unowned = _in_exception(request_in_state, reason="scope_unclear", owner=None, due_in_days=1)
    client = client_for(sam)

    def shown(**params):
        return {e.pk for e in client.get(reverse("exceptions:board"), params).context["rows"]}

    assert shown(reason="legal_review") == {late.pk, on_time.pk}
    assert shown(owner=str(alice.pk)) == {late.pk}
    assert shown(owner="none") == {unowned.pk}
    assert shown(overdue="on") == {late.pk}
    assert shown(overdue="on", owner=str(sam.pk)) == set()


def test_board_marks_an_overdue_next_action_in_the_tenant_calendar(client_for, sam, request_in_state):
    late = _in_exception(request_in_state, due_in_days=-1)
    on_time = _in_exception(request_in_state, due_in_days=0)

    response = client_for(sam).get(reverse("exceptions:board"))

    flags = {e.pk: e.is_overdue for e in response.context["rows"]}
    assert flags == {late.pk: True, on_time.pk: False}
    page = response.content.decode()
    assert page.count('<span class="due overdue">overdue</span>') == 1


def test_board_counts_the_escalations_of_the_episode(client_for, sam, tenant_a, request_in_state):
    episode = _in_exception(request_in_state, opened_days_ago=5)
    rule1, rule2 = _rule(tenant_a), _rule(tenant_a, name="Still stalled", level=2)
    _event(rule1, episode.request, episode=episode)
    _event(rule2, episode.request, episode=episode)
    _event(rule1, episode.request, episode=None)  # fired outside the episode

    rows = client_for(sam).get(reverse("exceptions:board")).context["rows"]

    assert [e.escalation_count for e in rows] == [2]


def test_board_is_for_supervisors_and_admins(client_for, alice, sam, adele, charlie, request_in_state):
    episode = _in_exception(request_in_state)
    assert client_for(alice).get(reverse("exceptions:board")).status_code == 403
    assert client_for(adele).get(reverse("exceptions:board")).status_code == 200
    # Charlie supervises nothing in A; a supervisor of B sees B's board, without A's exceptions.
    boss_b = factories.MembershipFactory(tenant=charlie.memberships.get().tenant, role=Role.SUPERVISOR).user
    page = client_for(boss_b).get(reverse("exceptions:board")).content.decode()
    assert episode.request.tracking_number not in page
    assert client_for(sam).get(reverse("exceptions:board")).status_code == 200


def test_board_query_count_does_not_grow_with_rows(
    client_for, sam, alice, tenant_a, request_in_state, django_assert_num_queries, unread_count_in_header
):
    rule = _rule(tenant_a)
    for days in (1, 2):
        episode = _in_exception(request_in_state, owner=alice, opened_days_ago=days)
        _event(rule, episode.request, episode=episode)
    client = client_for(sam)
    client.get(reverse("exceptions:board"))  # warm the session
    # session, user, memberships, staff for the filter, episodes (with escalation counts), access event, the
    # header's unread count.
    with django_assert_num_queries(7):
        assert len(client.get(reverse("exceptions:board")).context["rows"]) == 2
    for days in (3, 4, 5):
        _in_exception(request_in_state, owner=sam, opened_days_ago=days)
    with django_assert_num_queries(7):
        assert len(client.get(reverse("exceptions:board")).context["rows"]) == 5


# --- Escalations inbox --------------------------------------------------------------------------------------


@pytest.fixture
def events(tenant_a, alice, sam, request_in_state):
    """Three escalations in A: one on a request assigned to Alice, one on an exception Alice owns, one on neither."""
    rule = _rule(tenant_a, name="Legal due soon", level=2)
    assigned = request_in_state(RequestState.IN_FULFILLMENT, assignee=alice)
    owned = _in_exception(request_in_state, owner=alice)
    others = request_in_state(RequestState.VALIDATED, assignee=sam)
    return {
        "assigned": _event(rule, assigned, summary="Legal due in 2 days"),
        "owned": _event(rule, owned.request, episode=owned),
        "others": _event(rule, others, summary="Not Alice's"),
    }


def test_supervisor_inbox_lists_every_unacknowledged_escalation_first(client_for, sam, events):
    EscalationEvent.objects.filter(pk=events["others"].pk).update(acknowledged_at=timezone.now(), acknowledged_by=sam)

    response = client_for(sam).get(reverse("exceptions:inbox"))

    assert response.status_code == 200
    assert {e.pk for e in response.context["pending"]} == {events["assigned"].pk, events["owned"].pk}
    assert [e.pk for e in response.context["acknowledged"]] == [events["others"].pk]
    page = response.content.decode()
    assert page.index(events["assigned"].request.tracking_number) < page.index("Dealt with</h2>")
    assert page.index("Dealt with</h2>") < page.index(events["others"].request.tracking_number)
    assert "Legal due soon" in page
    assert "Level 2" in page
    assert "Legal due in 2 days" in page


def test_specialist_inbox_shows_only_her_requests_and_exceptions(client_for, alice, charlie, events):
    response = client_for(alice).get(reverse("exceptions:inbox"))
    assert response.status_code == 200
    assert {e.pk for e in response.context["pending"]} == {events["assigned"].pk, events["owned"].pk}
    assert events["others"].request.tracking_number not in response.content.decode()
    assert client_for(charlie).get(reverse("exceptions:inbox")).context["pending"] == []


def test_acknowledge_records_time_and_actor_and_is_idempotent(client_for, sam, events):
    event = events["assigned"]
    client = client_for(sam)

    response = client.post(reverse("exceptions:acknowledge", args=[event.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("exceptions:inbox")
    event.refresh_from_db()
    assert event.acknowledged_by == sam
    first = event.acknowledged_at
    assert first is not None
    assert abs(timezone.now() - first) < timedelta(minutes=1)
    assert client.post(reverse("exceptions:acknowledge", args=[event.pk])).status_code == 302
    event.refresh_from_db()
    assert (event.acknowledged_at, event.acknowledged_by) == (first, sam)
    page = client.get(reverse("exceptions:inbox"))
    assert event.pk in [e.pk for e in page.context["acknowledged"]]
    assert f"acknowledged by {sam}" in page.content.decode()


def test_a_specialist_cannot_acknowledge_an_escalation_she_does_not_see(client_for, alice, events):
    response = client_for(alice).post(reverse("exceptions:acknowledge", args=[events["others"].pk]))
    assert response.status_code == 404
    events["others"].refresh_from_db()
    assert events["others"].acknowledged_at is None


def test_a_specialist_acknowledges_an_escalation_she_was_notified_of(client_for, alice, tenant_a, events):
    owned, assigned = events["owned"], events["assigned"]
    # The escalation service writes this notice when the rule notifies the owner; only the notified may acknowledge.
    _notification(tenant_a, alice, "Escalated", dedupe_key=f"escalation:{owned.pk}:{alice.pk}")
    client = client_for(alice)

    assert client.post(reverse("exceptions:acknowledge", args=[owned.pk])).status_code == 302
    owned.refresh_from_db()
    assert owned.acknowledged_by == alice

    response = client.post(reverse("exceptions:acknowledge", args=[assigned.pk]), follow=True)
    assert "Only a supervisor or the person notified" in response.content.decode()
    assigned.refresh_from_db()
    assert assigned.acknowledged_at is None


def test_another_tenants_escalation_answers_404(client_for, charlie, events):
    event = events["assigned"]
    boss_b = factories.MembershipFactory(tenant=charlie.memberships.get().tenant, role=Role.SUPERVISOR).user
    assert client_for(boss_b).post(reverse("exceptions:acknowledge", args=[event.pk])).status_code == 404
    assert client_for(boss_b).post(reverse("exceptions:acknowledge", args=[987654])).status_code == 404
    event.refresh_from_db()
    assert event.acknowledged_at is None


def test_acknowledge_takes_post_only(client_for, sam, events):
    assert client_for(sam).get(reverse("exceptions:acknowledge", args=[events["assigned"].pk])).status_code == 405


# --- Escalation rules admin ---------------------------------------------------------------------------------


def _rule_post(**overrides):
    data = {
        "name": "Exception stuck a week",
        "is_active": "on",
        "level": "2",
        "states": ["exception"],
        "exception_reasons": ["legal_review", "scope_unclear"],
        "min_days_in_exception": "7",
        "notify": "both",
        "email": "on",
        "raise_priority": "10",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_admin_creates_a_rule_with_every_field_and_a_history_row(client_for, adele, sam, tenant_a):
    queue = WorkQueue.objects.create(tenant=tenant_a, name="Legal")
    client = client_for(adele)
    assert client.get(reverse("exceptions:rule-create")).status_code == 200

    response = client.post(
        reverse("exceptions:rule-create"),
        _rule_post(
            request_types=["legal", "authorization"],
            min_age_days="10",
            max_days_to_legal_due="-1",
            min_days_without_activity="3",
            next_action_overdue="on",
            move_to_queue=str(queue.pk),
            reassign_to=str(sam.pk),
        ),
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    rule = EscalationRule.objects.get(tenant=tenant_a)
    assert (rule.name, rule.level, rule.is_active, rule.notify, rule.email) == (
        "Exception stuck a week", 2, True, "both", True
    )  # fmt: skip
    assert rule.states == ["exception"]
    assert rule.request_types == ["legal", "authorization"]
    assert rule.exception_reasons == ["legal_review", "scope_unclear"]
    assert (rule.min_age_days, rule.max_days_to_legal_due, rule.min_days_in_exception) == (10, -1, 7)
    assert (rule.min_days_without_activity, rule.next_action_overdue, rule.raise_priority) == (3, True, 10)
    assert (rule.move_to_queue, rule.reassign_to) == (queue, sam)
    assert rule.history.get().history_user == adele
    listing = client.get(reverse("exceptions:rules")).content.decode()
    assert "in exception for at least 7 days" in listing
    assert "legal due date passed" in listing
    assert "move to queue Legal" in listing


def test_admin_edits_and_deactivates_a_rule(client_for, adele, tenant_a):
    rule = _rule(tenant_a)
    client = client_for(adele)
    assert client.get(reverse("exceptions:rule-edit", args=[rule.pk])).status_code == 200

    response = client.post(reverse("exceptions:rule-edit", args=[rule.pk]), _rule_post(name="Renamed", level="3"))
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.level) == ("Renamed", 3)

    assert client.post(reverse("exceptions:rule-active", args=[rule.pk]), {"active": "0"}).status_code == 302
    rule.refresh_from_db()
    assert rule.is_active is False
    assert "Inactive" in client.get(reverse("exceptions:rules")).content.decode()
    client.post(reverse("exceptions:rule-active", args=[rule.pk]), {"active": "1"})
    rule.refresh_from_db()
    assert rule.is_active is True
    assert [h.history_user for h in rule.history.order_by("history_date")][1:] == [adele, adele, adele]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"states": None, "exception_reasons": None, "min_days_in_exception": None},
            "Set at least one condition",
        ),
        ({"level": "4"}, "less than or equal to 3"),
        ({"level": "0"}, "greater than or equal to 1"),
        ({"name": ""}, "Give the rule a name"),
        ({"states": ["nonsense"]}, "Select a valid choice"),
    ],
)
def test_invalid_rule_is_refused_with_a_message(client_for, adele, tenant_a, overrides, message):
    response = client_for(adele).post(reverse("exceptions:rule-create"), _rule_post(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not EscalationRule.objects.exists()


def test_a_queue_or_user_of_another_tenant_is_refused(client_for, adele, tenant_b, charlie):
    other_queue = WorkQueue.objects.create(tenant=tenant_b, name="Beta legal")
    client = client_for(adele)
    response = client.post(reverse("exceptions:rule-create"), _rule_post(move_to_queue=str(other_queue.pk)))
    assert response.status_code == 400
    assert "Choose one of this organisation&#x27;s work queues." in response.content.decode()
    response = client.post(reverse("exceptions:rule-create"), _rule_post(reassign_to=str(charlie.pk)))
    assert response.status_code == 400
    assert "Choose an active staff member of this organisation." in response.content.decode()
    assert not EscalationRule.objects.exists()


def test_rules_admin_is_for_tenant_admins_only(client_for, alice, sam, tenant_a):
    rule = _rule(tenant_a)
    for user in (alice, sam):
        client = client_for(user)
        assert client.get(reverse("exceptions:rules")).status_code == 403
        assert client.get(reverse("exceptions:rule-create")).status_code == 403
        assert client.post(reverse("exceptions:rule-create"), _rule_post()).status_code == 403
        assert client.get(reverse("exceptions:rule-edit", args=[rule.pk])).status_code == 403
        assert client.post(reverse("exceptions:rule-edit", args=[rule.pk]), _rule_post()).status_code == 403
        assert client.post(reverse("exceptions:rule-active", args=[rule.pk]), {"active": "0"}).status_code == 403
    rule.refresh_from_db()
    assert (rule.name, rule.is_active) == ("Stalled exception", True)
    assert EscalationRule.objects.count() == 1


def test_another_tenants_rule_answers_404_even_to_an_admin(client_for, adele, tenant_b):
    foreign = _rule(tenant_b)
    client = client_for(adele)
    assert client.get(reverse("exceptions:rule-edit", args=[foreign.pk])).status_code == 404
    assert client.post(reverse("exceptions:rule-edit", args=[foreign.pk]), _rule_post()).status_code == 404
    assert client.post(reverse("exceptions:rule-active", args=[foreign.pk]), {"active": "0"}).status_code == 404
    foreign.refresh_from_db()
    assert (foreign.name, foreign.is_active) == ("Stalled exception", True)
    assert foreign.pk not in [r.pk for r, _, _ in client.get(reverse("exceptions:rules")).context["rules"]]


# --- Notifications ------------------------------------------------------------------------------------------


def _notification(tenant, recipient, subject, **fields):
    fields.setdefault("dedupe_key", f"test:{subject}")
    return Notification.objects.create(
        tenant=tenant, recipient=recipient, kind="escalation", subject=subject, body="Body text", link="/requests/",
        **fields,
    )  # fmt: skip


def test_notifications_page_lists_own_notifications_of_the_current_tenant_unread_first(
    client_for, alice, sam, tenant_a, tenant_b, unread_count_in_header
):
    factories.MembershipFactory(tenant=tenant_b, user=alice, role=Role.SPECIALIST)
    old_read = _notification(tenant_a, alice, "Already read", read_at=timezone.now())
    unread = _notification(tenant_a, alice, "Escalated: ROI-1")
    _notification(tenant_a, sam, "For Sam")
    _notification(tenant_b, alice, "From the other tenant")

    response = client_for(alice).get(reverse("notifications"))

    assert response.status_code == 200
    assert [n.pk for n in response.context["notifications"]] == [unread.pk, old_read.pk]
    page = response.content.decode()
    assert "For Sam" not in page
    assert "From the other tenant" not in page
    assert '<span class="unread-count" aria-label="1 unread">1</span>' in page


def test_mark_read_records_the_time_once(client_for, alice, tenant_a, unread_count_in_header):
    notification = _notification(tenant_a, alice, "Escalated")
    client = client_for(alice)

    response = client.post(reverse("notification-read", args=[notification.pk]))

    assert response.status_code == 302
    assert response["Location"] == reverse("notifications")
    notification.refresh_from_db()
    first = notification.read_at
    assert first is not None
    client.post(reverse("notification-read", args=[notification.pk]))
    notification.refresh_from_db()
    assert notification.read_at == first
    assert "unread-count" not in client.get(reverse("notifications")).content.decode()


def test_another_users_or_tenants_notification_answers_404(client_for, alice, sam, tenant_a, tenant_b, charlie):
    sams = _notification(tenant_a, sam, "For Sam")
    foreign = _notification(tenant_b, charlie, "For Charlie")
    client = client_for(alice)
    assert client.post(reverse("notification-read", args=[sams.pk])).status_code == 404
    assert client.post(reverse("notification-read", args=[foreign.pk])).status_code == 404
    assert client.get(reverse("notification-read", args=[sams.pk])).status_code == 405
    sams.refresh_from_db()
    foreign.refresh_from_db()
    assert sams.read_at is None
    assert foreign.read_at is None


def test_notifications_need_a_login(client):
    response = client.get(reverse("notifications"))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_header_links_follow_the_role(client_for, alice, sam, adele, unread_count_in_header):
    board, inbox, rules = reverse("exceptions:board"), reverse("exceptions:inbox"), reverse("exceptions:rules")
    alice_page = client_for(alice).get(reverse("notifications")).content.decode()
    sam_page = client_for(sam).get(reverse("notifications")).content.decode()
    adele_page = client_for(adele).get(reverse("notifications")).content.decode()
    assert board not in alice_page
    assert rules not in alice_page
    assert board in sam_page
    assert inbox in sam_page
    assert rules not in sam_page
    assert board in adele_page
    assert rules in adele_page
    assert reverse("notifications") in alice_page


@pytest.mark.parametrize(("count", "badge"), [(0, ""), (1, "1"), (99, "99"), (100, "100"), (27_000, "27,000")])
def test_the_unread_badge_says_the_exact_number(count, badge):
    from roi.context_processors import unread_badge

    assert unread_badge(count) == badge


def test_the_header_counts_past_a_hundred_unread_exactly(client_for, alice, tenant_a, unread_count_in_header):
    for n in range(101):
        _notification(tenant_a, alice, f"Escalated: ROI-{n}")
    page = client_for(alice).get(reverse("notifications")).content.decode()
    assert '<span class="unread-count" aria-label="101 unread">101</span>' in page
