"""Retrieval services and the "what are we waiting on" selector: who may ask for records and when, what starts
fulfillment, what each outcome needs, and the request's retrieval_waiting_since kept right by every service.

Tenant A (Alpha) is in America/Los_Angeles. NOW is 03:00 UTC on 11 June, still 10 June in Los Angeles: a day count
done in UTC instead of the tenant's local date is off by one and the wording tests catch it."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fulfillment import retrieval
from fulfillment.choices import RetrievalSource, RetrievalStatus
from fulfillment.models import RetrievalTask
from fulfillment.panels import retrieval as retrieval_panel
from fulfillment.policy import policy_for
from roi import clock
from roi.errors import NotPermitted, ServiceError
from tests.fulfillment.factories import RetrievalTaskFactory
from workflow.choices import RequestState
from workflow.models import RecordRequest, RequestTransition

UTC = ZoneInfo("UTC")
NOW = datetime(2026, 6, 11, 3, 0, tzinfo=UTC)


def _create(rr, actor, **fields) -> RetrievalTask:
    fields.setdefault("source", RetrievalSource.IMAGING)
    return retrieval.retrieval_task_create(tenant=rr.tenant, actor=actor, record_request=rr, **fields)


def _waiting_since(rr):
    return RecordRequest.objects.get(pk=rr.pk).retrieval_waiting_since


# --- Creating a task ----------------------------------------------------------------------------------------------


def test_the_first_task_on_a_validated_request_starts_fulfillment_with_its_log_row(request_in_state, alice):
    rr = request_in_state(RequestState.VALIDATED)
    with clock.frozen(NOW):
        task = _create(rr, alice, source_detail="Radiology, main campus", owner=alice, notes="Films 2019-2021")

    rr.refresh_from_db()
    assert rr.state == RequestState.IN_FULFILLMENT
    log = RequestTransition.objects.filter(request=rr).latest("id")
    assert (log.transition, log.from_state, log.to_state, log.actor) == (
        "start_fulfillment",
        RequestState.VALIDATED,
        RequestState.IN_FULFILLMENT,
        alice,
    )
    assert (task.status, task.requested_at, task.requested_by, task.owner) == (
        RetrievalStatus.REQUESTED,
        NOW,
        alice,
        alice,
    )
    assert (task.source_detail, task.notes) == ("Radiology, main campus", "Films 2019-2021")
    assert rr.retrieval_waiting_since == NOW
    assert rr.last_activity_at == NOW
    assert task.history.get().history_user == alice


def test_more_tasks_in_fulfillment_or_exception_do_not_move_the_request(request_in_state, alice):
    for state in (RequestState.IN_FULFILLMENT, RequestState.EXCEPTION):
        rr = request_in_state(state)
        transitions = RequestTransition.objects.filter(request=rr).count()
        _create(rr, alice)
        rr.refresh_from_db()
        assert rr.state == state
        assert RequestTransition.objects.filter(request=rr).count() == transitions


@pytest.mark.parametrize(
    "state", [RequestState.RECEIVED, RequestState.DELIVERED, RequestState.CLOSED, RequestState.CANCELLED]
)
def test_records_are_not_asked_for_before_validation_or_after_delivery(request_in_state, alice, state):
    rr = request_in_state(state)
    with pytest.raises(ServiceError) as raised:
        _create(rr, alice)
    assert "validated, in fulfillment or in exception" in raised.value.message
    assert not RetrievalTask.objects.filter(request=rr).exists()


def test_it_asks_which_facility_or_place_for_other_sources(request_in_state, alice):
    rr = request_in_state(RequestState.VALIDATED)
    for source in (RetrievalSource.OTHER_FACILITY, RetrievalSource.OTHER):
        with pytest.raises(ServiceError) as raised:
            _create(rr, alice, source=source, source_detail="  ")
        assert raised.value.field == "source_detail"
    with pytest.raises(ServiceError) as raised:
        _create(rr, alice, source="basement")
    assert raised.value.field == "source"
    rr.refresh_from_db()
    assert rr.state == RequestState.VALIDATED  # nothing half-done: fulfillment did not start either


def test_it_refuses_an_owner_from_another_tenant_and_changes_nothing(request_in_state, alice, charlie):
    rr = request_in_state(RequestState.VALIDATED)
    with pytest.raises(ServiceError) as raised:
        _create(rr, alice, owner=charlie)
    assert raised.value.field == "owner"
    rr.refresh_from_db()
    assert rr.state == RequestState.VALIDATED
    assert not RetrievalTask.objects.exists()


def test_someone_without_a_role_in_the_tenant_cannot_ask(request_in_state, charlie):
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    with pytest.raises(NotPermitted):
        _create(rr, charlie)
    assert not RetrievalTask.objects.exists()


# --- Outcomes -----------------------------------------------------------------------------------------------------


@pytest.fixture
def open_task(request_in_state, alice):
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    return _create(rr, alice, source=RetrievalSource.BILLING)


def test_received_records_when_and_closes_the_task(open_task, alice):
    with clock.frozen(NOW):
        task = retrieval.retrieval_task_mark_received(
            tenant=open_task.tenant, actor=alice, task=open_task, note="Itemised bill"
        )
    assert (task.status, task.received_at, task.closed_at, task.outcome_note) == (
        RetrievalStatus.RECEIVED,
        NOW,
        NOW,
        "Itemised bill",
    )
    assert task.history.latest().history_user == alice


def test_nothing_held_needs_what_the_department_answered(open_task, alice):
    with pytest.raises(ServiceError) as raised:
        retrieval.retrieval_task_mark_not_available(tenant=open_task.tenant, actor=alice, task=open_task, note=" ")
    assert raised.value.field == "note"
    open_task.refresh_from_db()
    assert open_task.status == RetrievalStatus.REQUESTED

    task = retrieval.retrieval_task_mark_not_available(
        tenant=open_task.tenant, actor=alice, task=open_task, note="No account for this patient"
    )
    assert (task.status, task.outcome_note, task.received_at) == (
        RetrievalStatus.NOT_AVAILABLE,
        "No account for this patient",
        None,
    )
    assert task.closed_at is not None


def test_cancel_needs_a_reason_and_keeps_the_task(open_task, alice):
    with pytest.raises(ServiceError) as raised:
        retrieval.retrieval_task_cancel(tenant=open_task.tenant, actor=alice, task=open_task, reason="")
    assert raised.value.field == "reason"
    retrieval.retrieval_task_cancel(tenant=open_task.tenant, actor=alice, task=open_task, reason="Wrong department")
    task = RetrievalTask.objects.get(pk=open_task.pk)
    assert (task.status, task.outcome_note) == (RetrievalStatus.CANCELLED, "Wrong department")


def test_a_closed_task_cannot_be_closed_again_or_changed(open_task, alice):
    tenant = open_task.tenant
    retrieval.retrieval_task_mark_received(tenant=tenant, actor=alice, task=open_task)
    for call in (
        lambda: retrieval.retrieval_task_cancel(tenant=tenant, actor=alice, task=open_task, reason="x"),
        lambda: retrieval.retrieval_task_mark_not_available(tenant=tenant, actor=alice, task=open_task, note="x"),
        lambda: retrieval.retrieval_task_update(tenant=tenant, actor=alice, task=open_task, owner=None, notes="x"),
    ):
        with pytest.raises(ServiceError) as raised:
            call()
        assert "already received" in raised.value.message
    assert RetrievalTask.objects.get(pk=open_task.pk).status == RetrievalStatus.RECEIVED


def test_owner_and_notes_change_on_an_open_task_to_staff_of_the_tenant_only(open_task, alice, sam, charlie):
    task = retrieval.retrieval_task_update(
        tenant=open_task.tenant, actor=alice, task=open_task, owner=sam, notes="Called twice"
    )
    assert (task.owner, task.notes) == (sam, "Called twice")
    with pytest.raises(ServiceError) as raised:
        retrieval.retrieval_task_update(tenant=open_task.tenant, actor=alice, task=open_task, owner=charlie, notes="")
    assert raised.value.field == "owner"
    assert RetrievalTask.objects.get(pk=open_task.pk).owner == sam


def test_another_tenants_task_is_not_found(open_task, tenant_b, charlie):
    with pytest.raises(retrieval.RetrievalTaskNotFound) as raised:
        retrieval.retrieval_task_mark_received(tenant=tenant_b, actor=charlie, task=open_task)
    assert raised.value.status_code == 404
    assert RetrievalTask.objects.get(pk=open_task.pk).status == RetrievalStatus.REQUESTED


def test_tasks_of_a_cancelled_request_are_left_as_they_were(open_task, sam):
    from workflow.transitions import request_cancel

    request_cancel(tenant=open_task.tenant, actor=sam, record_request=open_task.request, reason="Requestor withdrew")
    with pytest.raises(ServiceError) as raised:
        retrieval.retrieval_task_mark_received(tenant=open_task.tenant, actor=sam, task=open_task)
    assert "this one is cancelled" in raised.value.message


# --- retrieval_waiting_since on the request -----------------------------------------------------------------------


def test_waiting_since_follows_the_oldest_open_task_through_every_service(request_in_state, alice):
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    first, second, third = NOW - timedelta(days=6), NOW - timedelta(days=3), NOW - timedelta(days=1)
    assert _waiting_since(rr) is None
    history_rows = rr.history.count()
    with clock.frozen(first):
        imaging = _create(rr, alice, source=RetrievalSource.IMAGING)
    with clock.frozen(second):
        billing = _create(rr, alice, source=RetrievalSource.BILLING)
    with clock.frozen(third):
        lab = _create(rr, alice, source=RetrievalSource.LABORATORY)
    assert _waiting_since(rr) == first

    retrieval.retrieval_task_update(tenant=rr.tenant, actor=alice, task=billing, owner=alice, notes="")
    assert _waiting_since(rr) == first
    retrieval.retrieval_task_mark_received(tenant=rr.tenant, actor=alice, task=imaging)
    assert _waiting_since(rr) == second
    retrieval.retrieval_task_cancel(tenant=rr.tenant, actor=alice, task=billing, reason="Asked twice")
    assert _waiting_since(rr) == third
    retrieval.retrieval_task_mark_not_available(tenant=rr.tenant, actor=alice, task=lab, note="None held")
    assert _waiting_since(rr) is None
    # Derived, not a decision: the request's history has no row for it (each task has its own history).
    assert rr.history.count() == history_rows


def test_waiting_since_is_recorded_on_its_own_request_only(request_in_state, alice):
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    other = request_in_state(RequestState.IN_FULFILLMENT)
    _create(rr, alice)
    assert _waiting_since(rr) is not None
    assert _waiting_since(other) is None


# --- What are we waiting on ---------------------------------------------------------------------------------------


def test_open_tasks_read_in_plain_words_counted_in_the_tenant_days(request_in_state, tenant_a, sam):
    policy = policy_for(tenant_a)
    policy.retrieval_overdue_days = 5
    policy.save()
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    la = ZoneInfo("America/Los_Angeles")
    # 10 June in Los Angeles at NOW; each requested at 09:00 local on the day named.
    cases = {
        RetrievalSource.EHR_HIM: (10, "EHR / HIM requested today", False),
        RetrievalSource.BILLING: (9, "Billing requested yesterday", False),
        RetrievalSource.LABORATORY: (5, "Laboratory requested 5 days ago", False),
        RetrievalSource.IMAGING: (4, "Imaging requested 6 days ago", True),
    }
    for source, (day, _, _) in cases.items():
        RetrievalTaskFactory(request=rr, source=source, owner=sam, requested_at=datetime(2026, 6, day, 9, tzinfo=la))
    closed = RetrievalTaskFactory(
        request=rr, source=RetrievalSource.OFFSITE_STORAGE, status=RetrievalStatus.RECEIVED, received_at=NOW
    )

    rows = retrieval.retrieval_waiting(tenant=tenant_a, record_request=rr, now=NOW)

    assert closed.pk not in {row.task.pk for row in rows}
    by_source = {row.task.source: row for row in rows}
    for source, (_, words, overdue) in cases.items():
        assert by_source[source].summary == words
        assert by_source[source].overdue is overdue
        assert by_source[source].owner_label == str(sam)
    assert rows[0].task.source == RetrievalSource.IMAGING  # oldest first


def test_days_are_counted_by_the_tenant_date_not_utc(request_in_state, tenant_a):
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    # 16:00 UTC on 10 June is 09:00 the same day in Los Angeles, where NOW (11 June in UTC) is still 10 June.
    RetrievalTaskFactory(request=rr, requested_at=datetime(2026, 6, 10, 16, 0, tzinfo=UTC))
    (row,) = retrieval.retrieval_waiting(tenant=tenant_a, record_request=rr, now=NOW)
    assert row.summary == "EHR / HIM requested today"


def test_waiting_list_is_the_tenants_open_requests_only(request_in_state, tenant_a, tenant_b):
    mine = request_in_state(RequestState.IN_FULFILLMENT)
    finished = request_in_state(RequestState.DELIVERED)
    RetrievalTaskFactory(request=mine)
    RetrievalTaskFactory(request=finished)  # left open when the request was delivered: nothing to chase now
    from tests.factories import RecordRequestFactory

    RetrievalTaskFactory(request=RecordRequestFactory(tenant=tenant_b))
    rows = retrieval.retrieval_waiting(tenant=tenant_a)
    assert [row.task.request_id for row in rows] == [mine.pk]


def test_the_waiting_list_takes_two_queries_whatever_its_length(
    request_in_state, tenant_a, alice, django_assert_num_queries
):
    policy_for(tenant_a)
    for _ in range(3):
        rr = request_in_state(RequestState.IN_FULFILLMENT)
        RetrievalTaskFactory.create_batch(3, request=rr, owner=alice)
    with django_assert_num_queries(2):
        rows = retrieval.retrieval_waiting(tenant=tenant_a)
        assert len({(row.owner_label, row.task.request.patient.last_name, row.summary) for row in rows}) >= 1
    assert len(rows) == 9


def test_the_panel_context_takes_three_queries_whatever_the_number_of_tasks(
    request_in_state, tenant_a, alice, django_assert_num_queries
):
    policy_for(tenant_a)
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    RetrievalTaskFactory.create_batch(4, request=rr, owner=alice)
    RetrievalTaskFactory(request=rr, status=RetrievalStatus.RECEIVED, received_at=NOW, owner=alice)
    with django_assert_num_queries(3):  # staff for the owner lists, the tasks with their people, the policy
        ctx = retrieval_panel.panel_context(tenant=tenant_a, record_request=rr, forms={})
        assert [str(row.owner_label) for row in ctx["retrieval_rows"]] == [str(alice)] * 5
    assert ctx["retrieval_open_count"] == 4
