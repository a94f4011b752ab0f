"""Alert hygiene: escalations and retrieval tasks close themselves when their request moves past what they were
about (with the reason, in the transition's transaction), the stale ones of before close in a migration, and
supervisors acknowledge many escalations at once from the filtered inbox. Personas of tests/conftest.py: Sam
(supervisor, A), Alice (specialist, A), Charlie (specialist, B)."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from exceptions.escalations import escalations_close_with_request
from exceptions.models import EscalationEvent, EscalationRule, ExceptionEpisode
from exceptions.services import exception_resolve
from fulfillment.choices import RetrievalSource, RetrievalStatus
from fulfillment.models import RetrievalTask
from fulfillment.retrieval import retrieval_task_create
from roi import clock
from roi.choices import Role
from roi.models import Notification
from tests import factories
from workflow import transitions
from workflow.choices import RequestState
from workflow.models import RecordRequest


def _rule(tenant, name="Legal due within 5 days", level=1, **fields):
    return EscalationRule.objects.create(tenant=tenant, name=name, level=level, **fields)


def _fire(rule, rr, *, episode=None, days_ago=0, notify=()):
    """An escalation as the evaluator writes it, with its notices to `notify` (dedupe key escalation:<event>:<user>)."""
    event = EscalationEvent.objects.create(
        tenant=rule.tenant, rule=rule, request=rr, level=rule.level, episode=episode,
        fired_at=timezone.now() - timedelta(days=days_ago), summary="legal due in 3 days",
    )  # fmt: skip
    for user in notify:
        Notification.objects.create(
            tenant=rule.tenant, recipient=user, kind="escalation", subject=f"Escalation: {rr.tracking_number}",
            body="b", link=f"/requests/{rr.tracking_number}/", dedupe_key=f"escalation:{event.pk}:{user.pk}",
        )  # fmt: skip
    return event


def _deliver(tenant, actor, rr):
    RecordRequest.objects.filter(pk=rr.pk).update(qc_passed_at=timezone.now(), qc_passed_by=actor)
    return transitions.request_deliver(tenant=tenant, actor=actor, record_request=rr, evidence="Fax confirmation 1")


def _today_words(tenant):
    day = timezone.now().astimezone(tenant.tzinfo).date()
    return f"{day:%b} {day.day}, {day.year}"


# --- Closing with the request ------------------------------------------------------------------------------------


def test_delivering_a_request_closes_its_escalations_and_retrieval_tasks_with_the_reason(
    tenant_a, sam, alice, request_in_state
):
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    still_open = request_in_state(RequestState.IN_FULFILLMENT)
    rule = _rule(tenant_a)
    pending = _fire(rule, rr, notify=[sam, alice])
    acknowledged = _fire(_rule(tenant_a, "Legal due date passed", 2), rr)
    EscalationEvent.objects.filter(pk=acknowledged.pk).update(acknowledged_at=timezone.now(), acknowledged_by=sam)
    task = retrieval_task_create(tenant=tenant_a, actor=alice, record_request=rr, source=RetrievalSource.IMAGING)
    other_event = _fire(rule, still_open, notify=[sam])
    other_task = retrieval_task_create(
        tenant=tenant_a, actor=alice, record_request=still_open, source=RetrievalSource.IMAGING
    )

    delivered = _deliver(tenant_a, sam, rr)

    pending.refresh_from_db()
    assert pending.closed_at is not None
    assert pending.closed_reason == f"request delivered on {_today_words(tenant_a)}"
    assert pending.acknowledged_at is None  # closed, not acknowledged: nobody looked at it
    acknowledged.refresh_from_db()
    assert (acknowledged.acknowledged_by, acknowledged.closed_at) == (sam, None)
    # Their notices need nobody any more; the open request's do.
    assert not Notification.objects.filter(dedupe_key__startswith=f"escalation:{pending.pk}:", read_at=None).exists()
    assert Notification.objects.get(dedupe_key=f"escalation:{other_event.pk}:{sam.pk}").read_at is None

    task.refresh_from_db()
    assert task.status == RetrievalStatus.CLOSED_WITH_REQUEST
    assert task.outcome_note == f"Closed: request delivered on {_today_words(tenant_a)}."
    assert task.closed_at is not None
    latest = task.history.order_by("-history_id").first()
    assert (latest.status, latest.history_user, latest.history_change_reason) == (
        RetrievalStatus.CLOSED_WITH_REQUEST, sam, "Closed with the request",
    )  # fmt: skip
    assert delivered.retrieval_waiting_since is None
    rr.refresh_from_db()
    assert rr.retrieval_waiting_since is None

    # The request still open keeps what it waits on.
    other_event.refresh_from_db()
    other_task.refresh_from_db()
    assert other_event.closed_at is None
    assert other_task.status == RetrievalStatus.REQUESTED
    still_open.refresh_from_db()
    assert still_open.retrieval_waiting_since is not None


@pytest.mark.parametrize(
    ("state", "transition", "words"),
    [
        (RequestState.IN_FULFILLMENT, "cancel", "request cancelled on"),
        (RequestState.VALIDATED, "deny", "request denied on"),
        (RequestState.DELIVERED, "close", "request closed on"),
    ],
)
def test_denying_cancelling_or_closing_closes_them_too(tenant_a, sam, request_in_state, state, transition, words):
    rr = request_in_state(state)
    event = _fire(_rule(tenant_a), rr)
    RetrievalTask.objects.create(
        tenant=tenant_a, request=rr, source=RetrievalSource.BILLING, requested_at=timezone.now(), requested_by=sam
    )
    transitions.request_transition(
        name=transition, tenant=tenant_a, actor=sam, record_request=rr, reason="Requestor withdrew", basis="not_held"
    )
    event.refresh_from_db()
    assert event.closed_reason.startswith(words)
    assert list(RetrievalTask.objects.filter(request=rr).values_list("status", flat=True)) == [
        RetrievalStatus.CLOSED_WITH_REQUEST
    ]


def test_resolving_an_exception_closes_the_escalations_of_the_episode_only(tenant_a, sam, request_in_state):
    rr = request_in_state(RequestState.EXCEPTION)
    episode = ExceptionEpisode.objects.get(request=rr, resolved_at=None)
    about_exception = _fire(_rule(tenant_a, "Exception open 7 days", min_days_in_exception=7), rr, episode=episode)
    about_deadline = _fire(_rule(tenant_a), rr)

    exception_resolve(tenant=tenant_a, actor=sam, record_request=rr, resolution="Imaging arrived")

    about_exception.refresh_from_db()
    about_deadline.refresh_from_db()
    assert about_exception.closed_reason == f"exception resolved on {_today_words(tenant_a)}"
    assert about_deadline.closed_at is None  # the legal deadline still runs


def test_a_request_moving_on_within_the_open_states_keeps_its_alerts(tenant_a, sam, alice, request_in_state):
    rr = request_in_state(RequestState.VALIDATED)
    event = _fire(_rule(tenant_a), rr)
    task = retrieval_task_create(tenant=tenant_a, actor=alice, record_request=rr, source=RetrievalSource.LABORATORY)
    rr.refresh_from_db()
    assert rr.state == RequestState.IN_FULFILLMENT  # the task started fulfillment
    event.refresh_from_db()
    task.refresh_from_db()
    assert (event.closed_at, task.status) == (None, RetrievalStatus.REQUESTED)


def test_closing_again_changes_nothing(tenant_a, sam, request_in_state):
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    event = _fire(_rule(tenant_a), rr)
    delivered = _deliver(tenant_a, sam, rr)
    event.refresh_from_db()
    first = (event.closed_at, event.closed_reason)
    with clock.frozen(timezone.now() + timedelta(days=3)):
        escalations_close_with_request(
            tenant=tenant_a, actor=sam, record_request=delivered, from_state="in_fulfillment", to_state="delivered",
            reason="again",
        )  # fmt: skip
    event.refresh_from_db()
    assert (event.closed_at, event.closed_reason) == first


def test_a_closed_escalation_is_not_acknowledged_afterwards(client_for, tenant_a, sam, request_in_state):
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    event = _fire(_rule(tenant_a), rr)
    _deliver(tenant_a, sam, rr)
    response = client_for(sam).post(reverse("exceptions:acknowledge", args=[event.pk]), follow=True)
    event.refresh_from_db()
    assert event.acknowledged_at is None
    assert "This escalation closed itself: request delivered on" in response.content.decode()


def test_the_migrations_close_what_was_already_stale(tenant_a, sam, alice, request_in_state):
    """Rows from before the hooks: a delivered request's pending escalation and open task, an escalation of a
    resolved episode; an open request's stay as they are."""
    delivered = request_in_state(RequestState.DELIVERED)
    resolved = request_in_state(RequestState.EXCEPTION)
    episode = ExceptionEpisode.objects.get(request=resolved, resolved_at=None)
    exception_resolve(tenant=tenant_a, actor=sam, record_request=resolved, resolution="done")
    open_request = request_in_state(RequestState.IN_FULFILLMENT)
    rule = _rule(tenant_a)
    stale = _fire(rule, delivered, notify=[sam])
    stale_episode = _fire(_rule(tenant_a, "Exception open 7 days"), resolved, episode=episode)
    fresh = _fire(rule, open_request)
    stale_task, fresh_task = (
        RetrievalTask.objects.create(
            tenant=tenant_a, request=rr, source=RetrievalSource.IMAGING, requested_at=timezone.now(), requested_by=alice
        )
        for rr in (delivered, open_request)
    )
    RecordRequest.objects.filter(pk=delivered.pk).update(retrieval_waiting_since=timezone.now())

    exceptions_0010 = importlib.import_module("exceptions.migrations.0010_escalation_closed_with_request")
    fulfillment_0017 = importlib.import_module("fulfillment.migrations.0017_retrieval_closed_with_request")
    with connection.cursor() as cursor:
        cursor.execute(exceptions_0010.BACKFILL)
    with connection.schema_editor() as editor:
        fulfillment_0017.close_stale_tasks(apps, editor)

    for row in (stale, stale_episode, fresh, stale_task, fresh_task):
        row.refresh_from_db()
    delivered_on = delivered.transitions.get(to_state="delivered").at.astimezone(tenant_a.tzinfo).date()
    assert stale.closed_reason == f"request delivered on {delivered_on:%b} {delivered_on.day}, {delivered_on.year}"
    assert stale_episode.closed_reason.startswith("exception resolved on ")
    assert fresh.closed_at is None
    assert Notification.objects.get(dedupe_key=f"escalation:{stale.pk}:{sam.pk}").read_at is not None
    assert stale_task.status == RetrievalStatus.CLOSED_WITH_REQUEST
    assert stale_task.outcome_note.startswith("Closed: request delivered on ")
    assert stale_task.history.filter(history_change_reason="Closed with the request").count() == 1
    assert fresh_task.status == RetrievalStatus.REQUESTED
    delivered.refresh_from_db()
    assert delivered.retrieval_waiting_since is None


# --- Bulk acknowledge ----------------------------------------------------------------------------------------------


@pytest.fixture
def inbox(tenant_a, sam, alice, request_in_state):
    """Escalations of tenant A under two rules, of different ages, states and assignees."""
    due = _rule(tenant_a, "Legal due within 5 days", 1)
    passed = _rule(tenant_a, "Legal due date passed", 2)
    mine = request_in_state(RequestState.IN_FULFILLMENT, assignee=alice)
    validated = request_in_state(RequestState.VALIDATED)
    return {
        "due": due,
        "passed": passed,
        "old": _fire(due, mine, days_ago=10, notify=[sam]),
        "new": _fire(due, validated, notify=[sam]),
        "overdue": _fire(passed, mine, days_ago=2, notify=[sam]),
    }


def _shown(client, **params):
    return [ev.pk for ev in client.get(reverse("exceptions:inbox"), params).context["pending"]]


def test_the_inbox_filters_by_rule_age_state_and_assignee(client_for, sam, alice, inbox):
    client = client_for(sam)
    assert _shown(client) == [inbox["overdue"].pk, inbox["old"].pk, inbox["new"].pk]  # highest level first
    assert _shown(client, rule=inbox["due"].pk) == [inbox["old"].pk, inbox["new"].pk]
    assert _shown(client, age="7") == [inbox["old"].pk]
    assert _shown(client, age="1") == [inbox["overdue"].pk, inbox["old"].pk]
    assert _shown(client, state="validated") == [inbox["new"].pk]
    assert _shown(client, assignee=alice.pk) == [inbox["overdue"].pk, inbox["old"].pk]
    assert _shown(client, assignee="none") == [inbox["new"].pk]


def test_acknowledge_all_shown_acknowledges_exactly_the_filtered_rows(client_for, sam, inbox):
    client = client_for(sam)
    page = client.get(reverse("exceptions:inbox"), {"rule": inbox["due"].pk})
    assert "Acknowledge all 2 shown" in page.content.decode()
    shown = [str(ev.pk) for ev in page.context["pending"]]

    response = client.post(
        reverse("exceptions:acknowledge-many"), {"scope": "shown", "shown": shown, "rule": inbox["due"].pk}
    )

    assert response.status_code == 302
    assert response.url == reverse("exceptions:inbox") + f"?rule={inbox['due'].pk}"
    for name in ("old", "new"):
        inbox[name].refresh_from_db()
        assert inbox[name].acknowledged_by == sam
        assert inbox[name].acknowledged_at is not None
        assert Notification.objects.get(dedupe_key=f"escalation:{inbox[name].pk}:{sam.pk}").read_at is not None
    inbox["overdue"].refresh_from_db()
    assert inbox["overdue"].acknowledged_at is None
    assert "2 escalations acknowledged." in client.get(response.url).content.decode()


def test_acknowledge_ticked_acknowledges_only_the_ticked_rows(client_for, sam, inbox):
    client = client_for(sam)
    every = [inbox[n].pk for n in ("old", "new", "overdue")]
    client.post(reverse("exceptions:acknowledge-many"), {"scope": "ticked", "event": [inbox["new"].pk], "shown": every})
    assert list(EscalationEvent.objects.filter(acknowledged_at__isnull=False).values_list("pk", flat=True)) == [
        inbox["new"].pk
    ]


def test_acknowledging_nothing_ticked_says_what_to_do(client_for, sam, inbox):
    response = client_for(sam).post(reverse("exceptions:acknowledge-many"), {"scope": "ticked"}, follow=True)
    assert "Tick at least one escalation to acknowledge." in response.content.decode()
    assert not EscalationEvent.objects.filter(acknowledged_at__isnull=False).exists()


def test_bulk_acknowledge_is_for_supervisors_only(client_for, alice, inbox):
    response = client_for(alice).post(
        reverse("exceptions:acknowledge-many"), {"scope": "shown", "shown": [inbox["old"].pk]}
    )
    assert response.status_code == 403
    assert not EscalationEvent.objects.filter(acknowledged_at__isnull=False).exists()
    assert "Acknowledge all" not in client_for(alice).get(reverse("exceptions:inbox")).content.decode()


def test_another_tenants_escalation_in_the_list_answers_404_and_changes_nothing(client_for, sam, tenant_b, inbox):
    theirs = _fire(_rule(tenant_b), factories.RecordRequestFactory(tenant=tenant_b))
    response = client_for(sam).post(
        reverse("exceptions:acknowledge-many"), {"scope": "shown", "shown": [inbox["old"].pk, theirs.pk]}
    )
    assert response.status_code == 404
    assert not EscalationEvent.objects.filter(acknowledged_at__isnull=False).exists()


def test_an_admin_of_another_tenant_cannot_acknowledge_ours(client_for, tenant_b, inbox):
    admin_b = factories.MembershipFactory(tenant=tenant_b, role=Role.ADMIN).user
    response = client_for(admin_b).post(
        reverse("exceptions:acknowledge-many"), {"scope": "shown", "shown": [inbox["old"].pk]}
    )
    assert response.status_code == 404
    inbox["old"].refresh_from_db()
    assert inbox["old"].acknowledged_at is None


def test_the_inbox_shows_why_an_escalation_closed(client_for, tenant_a, sam, request_in_state):
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    _fire(_rule(tenant_a), rr)
    _deliver(tenant_a, sam, rr)
    page = client_for(sam).get(reverse("exceptions:inbox")).content.decode()
    assert f"Closed: request delivered on {_today_words(tenant_a)}" in page
    assert "Nothing to acknowledge." in page


def test_the_inbox_query_count_does_not_grow_with_rows(
    client_for, tenant_a, sam, inbox, request_in_state, django_assert_num_queries
):
    client = client_for(sam)
    client.get(reverse("exceptions:inbox"))  # warm the session
    # session, user, memberships, rules and staff for the filters, pending, dealt with, access event, the header's
    # unread count.
    with django_assert_num_queries(9):
        assert len(client.get(reverse("exceptions:inbox")).context["pending"]) == 3
    for _ in range(4):
        rr = request_in_state(RequestState.IN_FULFILLMENT)
        _fire(inbox["due"], rr)
        EscalationEvent.objects.create(
            tenant=tenant_a, rule=inbox["passed"], request=rr, level=2, fired_at=timezone.now(), summary="s",
            acknowledged_at=timezone.now(), acknowledged_by=sam,
        )  # fmt: skip
    with django_assert_num_queries(9):
        assert len(client.get(reverse("exceptions:inbox")).context["pending"]) == 7
