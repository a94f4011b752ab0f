"""Every transition of the request state machine: the allowed path, a forbidden source state, the wrong role,
each guard, and what every transition leaves behind (the transition log row and a history row)."""

from __future__ import annotations

import psycopg
import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from roi import rls
from roi.errors import Conflict, NotPermitted, ServiceError
from tests import factories
from tests.scoping import owner_cursor
from workflow import transitions
from workflow.choices import OPEN_STATES, RequestState
from workflow.models import RecordRequest, RequestTransition

S = RequestState

# name -> (a state it is allowed from, the state it leads to, extra service arguments)
ALLOWED = {
    "validate": (S.RECEIVED, S.VALIDATED, {}),
    "start_fulfillment": (S.VALIDATED, S.IN_FULFILLMENT, {}),
    "raise_exception": (S.VALIDATED, S.EXCEPTION, {"reason": "Authorization expired"}),
    "resolve": (S.EXCEPTION, S.RECEIVED, {"reason": "Corrected authorization received"}),
    "deliver": (S.IN_FULFILLMENT, S.DELIVERED, {"evidence": "Fax confirmation 9981"}),
    "close": (S.DELIVERED, S.CLOSED, {}),
    "deny": (S.VALIDATED, S.DENIED, {"basis": "psychotherapy_notes", "reason": "Psychotherapy notes only"}),
    "cancel": (S.IN_FULFILLMENT, S.CANCELLED, {"reason": "Withdrawn by the requestor"}),
}

# name -> a state it is NOT allowed from
FORBIDDEN_FROM = {
    "validate": S.VALIDATED,
    "start_fulfillment": S.RECEIVED,
    "raise_exception": S.DELIVERED,
    "resolve": S.VALIDATED,
    "deliver": S.VALIDATED,
    "close": S.IN_FULFILLMENT,
    "deny": S.IN_FULFILLMENT,
    "cancel": S.CLOSED,
}


def _prepare(request_in_state, state, sam):
    rr = request_in_state(state)
    if state == S.IN_FULFILLMENT:
        RecordRequest.objects.filter(pk=rr.pk).update(qc_passed_at=timezone.now(), qc_passed_by=sam)
    return rr


@pytest.mark.parametrize("name", list(ALLOWED))
def test_each_transition_moves_the_request_and_logs_it(name, request_in_state, sam, alice):
    source, target, extra = ALLOWED[name]
    rr = _prepare(request_in_state, source, sam)
    actor = sam if name == "deny" else alice
    history_before = rr.history.count()

    updated = transitions.request_transition(
        name=name, tenant=rr.tenant, actor=actor, record_request=rr, expected_state=source, **extra
    )

    assert updated.state == target
    rr.refresh_from_db()
    assert rr.state == target
    log = RequestTransition.objects.filter(request=rr).latest("at")
    assert (log.transition, log.from_state, log.to_state, log.actor) == (name, source, target, actor)
    assert log.reason == extra.get("reason", extra.get("evidence", ""))
    assert rr.history.count() == history_before + 1
    assert rr.history.first().history_user == actor
    assert rr.history.first().state == target


@pytest.mark.parametrize("name", list(FORBIDDEN_FROM))
def test_each_transition_is_refused_from_a_state_it_does_not_leave(name, request_in_state, sam):
    rr = _prepare(request_in_state, FORBIDDEN_FROM[name], sam)
    extra = ALLOWED[name][2]
    log_rows = RequestTransition.objects.filter(request=rr).count()
    with pytest.raises(ServiceError) as error:
        transitions.request_transition(name=name, tenant=rr.tenant, actor=sam, record_request=rr, **extra)
    assert "cannot be" in error.value.message
    rr.refresh_from_db()
    assert rr.state == FORBIDDEN_FROM[name]
    assert RequestTransition.objects.filter(request=rr).count() == log_rows


def test_a_specialist_cannot_deny(request_in_state, alice):
    rr = request_in_state(S.VALIDATED)
    with pytest.raises(NotPermitted) as error:
        transitions.request_deny(tenant=rr.tenant, actor=alice, record_request=rr, basis="not_held", explanation="x")
    assert "supervisor" in error.value.message
    rr.refresh_from_db()
    assert rr.state == S.VALIDATED


def test_staff_of_another_tenant_cannot_act(request_in_state, charlie):
    rr = request_in_state(S.RECEIVED)
    with pytest.raises(NotPermitted):
        transitions.request_validate(tenant=rr.tenant, actor=charlie, record_request=rr)


def test_a_request_from_another_tenant_is_not_found(request_in_state, tenant_b, charlie):
    rr = request_in_state(S.RECEIVED)
    with pytest.raises(ServiceError, match="does not exist"):
        transitions.request_validate(tenant=tenant_b, actor=charlie, record_request=rr)


def test_validate_is_refused_until_the_intake_checklist_has_passed(tenant_a, alice):
    rr = factories.RecordRequestFactory(tenant=tenant_a, intake_completed_at=None)
    with pytest.raises(ServiceError, match="Work the intake checklist first"):
        transitions.request_validate(tenant=tenant_a, actor=alice, record_request=rr)
    rr.refresh_from_db()
    assert rr.state == S.RECEIVED


def test_validate_is_refused_with_what_the_request_misses_when_edited_after_intake(tenant_a, alice):
    rr = factories.RecordRequestFactory(
        tenant=tenant_a, record_types=[], scope_date_from=None, scope_date_to=None, delivery_method=""
    )
    with pytest.raises(ServiceError) as error:
        transitions.request_validate(tenant=tenant_a, actor=alice, record_request=rr)
    assert "Scope: give the record types or the dates of service" in error.value.message
    assert "Delivery: choose how the records will be delivered" in error.value.message
    rr.refresh_from_db()
    assert rr.state == S.RECEIVED


@pytest.mark.parametrize(
    ("method", "destination", "message"),
    [
        ("fax", "555-12", "not a complete fax number"),
        ("email_link", "not-an-email", "not a valid email address"),
        ("mail", "", "give the destination"),
        ("mail", "Springfield", "postal address looks incomplete"),
    ],
)
def test_validate_checks_the_delivery_destination(tenant_a, alice, method, destination, message):
    rr = factories.RecordRequestFactory(tenant=tenant_a, delivery_method=method, delivery_destination=destination)
    with pytest.raises(ServiceError, match=message):
        transitions.request_validate(tenant=tenant_a, actor=alice, record_request=rr)


def test_pickup_needs_no_destination(tenant_a, alice):
    rr = factories.RecordRequestFactory(tenant=tenant_a, delivery_method="pickup", delivery_destination="")
    assert transitions.request_validate(tenant=tenant_a, actor=alice, record_request=rr).state == S.VALIDATED


def test_deliver_needs_quality_control_first(request_in_state, alice):
    rr = request_in_state(S.IN_FULFILLMENT)
    with pytest.raises(ServiceError, match="Quality control has not passed"):
        transitions.request_deliver(tenant=rr.tenant, actor=alice, record_request=rr, evidence="Fax conf 1")
    rr.refresh_from_db()
    assert rr.state == S.IN_FULFILLMENT
    assert rr.delivered_at is None


def test_deliver_needs_evidence(request_in_state, alice, sam):
    rr = _prepare(request_in_state, S.IN_FULFILLMENT, sam)
    with pytest.raises(ServiceError, match="Delivery needs evidence"):
        transitions.request_deliver(tenant=rr.tenant, actor=alice, record_request=rr, evidence="   ")


def test_deliver_records_evidence_and_time(request_in_state, alice, sam):
    rr = _prepare(request_in_state, S.IN_FULFILLMENT, sam)
    rr = transitions.request_deliver(tenant=rr.tenant, actor=alice, record_request=rr, evidence="USPS 9400 1111")
    assert rr.delivery_evidence == "USPS 9400 1111"
    assert rr.delivered_at is not None


def test_deny_needs_a_basis_from_the_rule(request_in_state, sam):
    rr = request_in_state(S.RECEIVED)
    with pytest.raises(ServiceError, match="basis"):
        transitions.request_deny(tenant=rr.tenant, actor=sam, record_request=rr, basis="", explanation="no")
    with pytest.raises(ServiceError, match="basis"):
        transitions.request_deny(tenant=rr.tenant, actor=sam, record_request=rr, basis="made_up", explanation="no")


@pytest.mark.parametrize("name", ["raise_exception", "resolve", "cancel", "deny"])
def test_transitions_that_need_a_reason_refuse_an_empty_one(name, request_in_state, sam):
    rr = request_in_state(S.EXCEPTION if name == "resolve" else S.RECEIVED)
    with pytest.raises(ServiceError, match="required"):
        transitions.request_transition(
            name=name, tenant=rr.tenant, actor=sam, record_request=rr, reason="  ", basis="not_held"
        )


@pytest.mark.parametrize("source", [S.RECEIVED, S.VALIDATED, S.IN_FULFILLMENT])
def test_resolving_an_exception_returns_to_the_state_it_came_from(source, request_in_state, alice):
    rr = request_in_state(source)
    rr = transitions.request_raise_exception(
        tenant=rr.tenant, actor=alice, record_request=rr, reason="Waiting on imaging"
    )
    assert rr.state == S.EXCEPTION
    assert rr.state_before_exception == source
    rr = transitions.request_resolve(tenant=rr.tenant, actor=alice, record_request=rr, resolution="Films received")
    assert rr.state == source
    assert rr.state_before_exception == ""


def test_an_exception_request_can_be_denied_or_cancelled(request_in_state, sam):
    denied = request_in_state(S.EXCEPTION)
    transitions.request_deny(tenant=denied.tenant, actor=sam, record_request=denied, basis="not_held", explanation="x")
    cancelled = request_in_state(S.EXCEPTION)
    transitions.request_cancel(tenant=cancelled.tenant, actor=sam, record_request=cancelled, reason="withdrawn")
    assert RecordRequest.objects.get(pk=denied.pk).state == S.DENIED
    assert RecordRequest.objects.get(pk=cancelled.pk).state == S.CANCELLED


@pytest.mark.parametrize("terminal", [S.CLOSED, S.DENIED, S.CANCELLED])
def test_terminal_states_stay_terminal(terminal, request_in_state, sam):
    rr = request_in_state(terminal)
    for name in transitions.TRANSITIONS:
        with pytest.raises(ServiceError):
            transitions.request_transition(
                name=name, tenant=rr.tenant, actor=sam, record_request=rr, reason="x", evidence="x", basis="not_held"
            )
    rr.refresh_from_db()
    assert rr.state == terminal


def test_a_stale_expected_state_is_a_conflict_not_an_action(request_in_state, alice):
    rr = request_in_state(S.VALIDATED)
    with pytest.raises(Conflict, match="changed since you opened it"):
        transitions.request_cancel(
            tenant=rr.tenant, actor=alice, record_request=rr, reason="dup", expected_state=S.RECEIVED
        )
    rr.refresh_from_db()
    assert rr.state == S.VALIDATED


def test_the_state_field_cannot_be_assigned_directly(request_in_state):
    rr = request_in_state(S.RECEIVED)
    with pytest.raises(AttributeError):
        rr.state = S.DELIVERED


@pytest.mark.django_db(transaction=True)  # the owner's connection sees committed rows
def test_the_transition_log_is_append_only_in_the_database(request_in_state):
    """Twice: the app role has no UPDATE or DELETE privilege on the log, and even its owner meets the trigger."""
    rr = request_in_state(S.VALIDATED)
    log = RequestTransition.objects.get(request=rr)
    with rls.tenant_scope(rr.tenant_id), pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        RequestTransition.objects.filter(pk=log.pk).update(reason="rewritten")
    with rls.tenant_scope(rr.tenant_id), pytest.raises(DatabaseError, match="permission denied"), transaction.atomic():
        RequestTransition.objects.filter(pk=log.pk).delete()
    for statement in ("UPDATE workflow_requesttransition SET reason = 'x'", "DELETE FROM workflow_requesttransition"):
        with owner_cursor() as cursor, pytest.raises(psycopg.Error, match=r"append-only|record of fact"):
            cursor.execute(statement)


def test_options_offer_exactly_what_the_role_may_do_now(request_in_state, alice, sam):
    rr = request_in_state(S.RECEIVED)
    specialist = {o.spec.name for o in transitions.transition_options(rr, alice)}
    supervisor = {o.spec.name for o in transitions.transition_options(rr, sam)}
    assert specialist == {"validate", "raise_exception", "cancel"}
    assert supervisor == {"validate", "raise_exception", "cancel", "deny"}


def test_options_explain_a_blocked_guard(tenant_a, alice):
    rr = factories.RecordRequestFactory(tenant=tenant_a, intake_completed_at=None)
    validate = next(o for o in transitions.transition_options(rr, alice) if o.spec.name == "validate")
    assert validate.blocked == ["Work the intake checklist first: it validates the request when every check passes."]


def test_open_states_can_all_be_cancelled(request_in_state, alice):
    for state in OPEN_STATES:
        rr = request_in_state(state)
        assert (
            transitions.request_cancel(tenant=rr.tenant, actor=alice, record_request=rr, reason="dup").state
            == S.CANCELLED
        )


def test_finished_work_is_never_left_stalled(request_in_state, alice):
    rr = request_in_state(S.VALIDATED)
    RecordRequest.objects.filter(pk=rr.pk).update(is_stalled=True)
    rr = transitions.request_cancel(tenant=rr.tenant, actor=alice, record_request=rr, reason="withdrawn")
    rr.refresh_from_db()
    assert rr.is_stalled is False
