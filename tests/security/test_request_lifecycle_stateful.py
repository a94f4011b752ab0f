"""Random sequences of what staff do to a request, through the real services (not HTTP): the intake checklist,
transitions, exceptions with their episodes, the one extension, delivery with its evidence, denial, cancellation
and closing. Whatever the order, by whom (a specialist or a supervisor) and whether a step is allowed, the
request's invariants hold after every step:

- in exception, exactly one open exception episode; otherwise none;
- the legal due date never moves back, and moves at most once, by the one extension (164.524(b)(2));
- every delivery whose basis is accountable under 164.528 has its Disclosure;
- closed, denied and cancelled are final;
- every change of state has its transition log row, and the last row names the current state;
- a refused step (ServiceError, its NotPermitted and Conflict, or the state machine's TransitionNotAllowed) changes
  nothing.

Most rules apply in the states where staff would use them (so sequences reach delivery and closing), except the
extension and the generic transitions, which are tried in any state. Each example is a new request (of a type drawn for it) in the test's transaction. Size: MAX_EXAMPLES requests x up
to STEPS steps.
"""

from __future__ import annotations

import itertools
import os
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_fsm import TransitionNotAllowed
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from exceptions import services as exception_services
from exceptions.models import ExceptionEpisode
from fulfillment import delivery, disclosures, qc
from fulfillment.models import Delivery, Disclosure
from intake import services as intake_services
from intake.models import Extension
from roi import clock
from roi.choices import Role
from roi.errors import ServiceError
from tests import factories
from tests.fulfillment.helpers import packet, show_released_pages
from workflow import transitions
from workflow.choices import TERMINAL_STATES, DenialBasis, RequestorKind, RequestState, RequestType
from workflow.models import RecordRequest, RequestTransition

# The same examples on every run, so CI does not turn red on a draw it never made before; ROI_FUZZ_RANDOM=1 explores
# new ones (run it when touching the API or the lifecycle, and pin what it finds as a test).
DERANDOMIZE = os.environ.get("ROI_FUZZ_RANDOM") != "1"

MAX_EXAMPLES = 40
STEPS = 12
FAX = "(312) 555-0199"
REFUSED = (ServiceError, TransitionNotAllowed)

RAISABLE = (RequestState.RECEIVED, RequestState.VALIDATED, RequestState.IN_FULFILLMENT)
# A request type and the requestor it comes from: right of access (extendable, not accountable), an authorization
# (neither), a subpoena (accountable: its delivery must write a Disclosure).
KINDS = {
    RequestType.RIGHT_OF_ACCESS: RequestorKind.PATIENT,
    RequestType.AUTHORIZATION: RequestorKind.ATTORNEY,
    RequestType.LEGAL: RequestorKind.ATTORNEY,
}


def _snapshot(rr: RecordRequest) -> tuple[Any, ...]:
    """Everything a step may change: a refused step must leave all of it as it was."""
    fresh = RecordRequest.objects.get(pk=rr.pk)
    return (
        fresh.state,
        fresh.legal_due_date,
        fresh.updated_at,
        fresh.qc_passed_at,
        fresh.delivered_at,
        fresh.closed_at,
        fresh.denial_basis,
        RequestTransition.objects.filter(request=rr).count(),
        ExceptionEpisode.objects.filter(request=rr).count(),
        ExceptionEpisode.objects.filter(request=rr, resolved_at__isnull=True).count(),
        Extension.objects.filter(request=rr).count(),
        Delivery.objects.filter(request=rr).count(),
        Disclosure.objects.filter(request=rr).count(),
    )


class RequestLifecycle(RuleBasedStateMachine):
    tenant: Any
    staff: dict[str, Any]

    @initialize(
        request_type=st.sampled_from(list(KINDS)),
        days_ago=st.integers(min_value=0, max_value=40),
        moved_on=st.integers(min_value=0, max_value=2),
    )
    def receive(self, request_type: str, days_ago: int, moved_on: int) -> None:
        """A new request, left in received or already validated or in fulfillment (so that sequences reach
        delivery and closing within their steps)."""
        received_at = timezone.now() - timedelta(days=days_ago)
        self.rr = factories.RecordRequestFactory(
            tenant=self.tenant,
            request_type=request_type,
            requestor__kind=KINDS[request_type],
            received_at=received_at,
            delivery_destination=FAX,
        )
        # A checklist every check of which passes, and an authorization recorded where the basis needs one: the
        # release gate lets sequences reach delivery (a refused release is the gate tests' subject).
        review: dict[str, Any] = {"legal_document_type": "subpoena"} if request_type == RequestType.LEGAL else {}
        factories.complete_review(self.rr, **review)
        self.original_due = self.rr.legal_due_date
        self.last_due = self.rr.legal_due_date
        supervisor = self.staff[Role.SUPERVISOR]
        for move in (transitions.request_validate, transitions.request_start_fulfillment)[:moved_on]:
            move(tenant=self.tenant, actor=supervisor, record_request=self.rr)
        self.rr.refresh_from_db()
        self.state = self.rr.state
        self.state_changes = moved_on
        self.finished: str | None = None

    # --- Steps ---------------------------------------------------------------------------------------------

    def _step(self, name: str, action: Any) -> None:
        before = _snapshot(self.rr)
        try:
            action()
        except REFUSED:
            assert _snapshot(self.rr) == before, f"a refused {name} changed the request"
            return
        state = RecordRequest.objects.get(pk=self.rr.pk).state
        if state != self.state:
            self.state_changes += 1
            self.state = state

    def _who(self, role: str) -> Any:
        return self.staff[role]

    @precondition(lambda self: self.state == RequestState.RECEIVED)
    @rule(role=st.sampled_from([Role.SPECIALIST, Role.SUPERVISOR]))
    def intake_complete(self, role: str) -> None:
        self._step(
            "intake check",
            lambda: intake_services.intake_complete(tenant=self.tenant, actor=self._who(role), record_request=self.rr),
        )

    @precondition(lambda self: self.state == RequestState.RECEIVED)
    @rule(role=st.sampled_from([Role.SPECIALIST, Role.SUPERVISOR]))
    def validate(self, role: str) -> None:
        self._step(
            "validate",
            lambda: transitions.request_validate(tenant=self.tenant, actor=self._who(role), record_request=self.rr),
        )

    @precondition(lambda self: self.state == RequestState.VALIDATED)
    @rule(role=st.sampled_from([Role.SPECIALIST, Role.SUPERVISOR]))
    def start_fulfillment(self, role: str) -> None:
        self._step(
            "start fulfillment",
            lambda: transitions.request_start_fulfillment(
                tenant=self.tenant, actor=self._who(role), record_request=self.rr
            ),
        )

    @precondition(lambda self: self.state in RAISABLE)
    @rule(role=st.sampled_from([Role.SPECIALIST, Role.SUPERVISOR]), due_in=st.integers(min_value=-1, max_value=10))
    def raise_exception(self, role: str, due_in: int) -> None:
        self._step(
            "raise exception",
            lambda: exception_services.exception_open(
                tenant=self.tenant,
                actor=self._who(role),
                record_request=self.rr,
                reason="awaiting_department",
                detail="Imaging not yet received",
                next_step="Call radiology",
                next_action_due=clock.now().date() + timedelta(days=due_in),
            ),
        )

    @precondition(lambda self: self.state == RequestState.EXCEPTION)
    @rule(role=st.sampled_from([Role.SPECIALIST, Role.SUPERVISOR]), note=st.sampled_from(["", "Imaging arrived"]))
    def resolve(self, role: str, note: str) -> None:
        self._step(
            "resolve",
            lambda: exception_services.exception_resolve(
                tenant=self.tenant, actor=self._who(role), record_request=self.rr, resolution=note
            ),
        )

    @rule(days=st.one_of(st.none(), st.integers(min_value=-1, max_value=45)))
    def extend(self, days: int | None) -> None:
        self._step(
            "extension",
            lambda: intake_services.extension_grant(
                tenant=self.tenant,
                actor=self._who(Role.SPECIALIST),
                record_request=self.rr,
                reason="Records are held off site",
                days=days,
            ),
        )

    @precondition(lambda self: self.state == RequestState.IN_FULFILLMENT)
    @rule(role=st.sampled_from([Role.SPECIALIST, Role.SUPERVISOR]), pass_qc=st.booleans())
    def deliver(self, role: str, pass_qc: bool) -> None:
        """Build a packet and have a second person pass QC (when the request is in fulfillment and the draw says
        so), then deliver by fax through fulfillment's service, which writes the Delivery, the transition and,
        when accountable, the Disclosure."""
        current = RecordRequest.objects.get(pk=self.rr.pk)
        if pass_qc and current.state == RequestState.IN_FULFILLMENT and current.qc_passed_at is None:
            packet(current, builder=self._who(Role.SPECIALIST))
            show_released_pages(current, reviewer=self._who(Role.SUPERVISOR))
            qc.qc_review_record(
                tenant=self.tenant, actor=self._who(Role.SUPERVISOR), record_request=current, confirmed=qc.CHECK_ORDER
            )
        evidence = delivery.Evidence(method="fax", destination=FAX, fax_confirmation="JOB 4471 OK")
        self._step(
            "delivery",
            lambda: delivery.delivery_record(
                tenant=self.tenant, actor=self._who(role), record_request=self.rr, evidence=evidence
            ),
        )

    @precondition(lambda self: self.state in (*RAISABLE, RequestState.EXCEPTION))
    @rule(role=st.sampled_from([Role.SPECIALIST, Role.SUPERVISOR]))
    def deny(self, role: str) -> None:
        self._step(
            "denial",
            lambda: transitions.request_deny(
                tenant=self.tenant,
                actor=self._who(role),
                record_request=self.rr,
                basis=DenialBasis.NOT_HELD,
                explanation="We do not hold these records.",
            ),
        )

    @precondition(lambda self: self.state in (*RAISABLE, RequestState.EXCEPTION))
    @rule(role=st.sampled_from([Role.SPECIALIST, Role.SUPERVISOR]), reason=st.sampled_from(["", "Withdrawn"]))
    def cancel(self, role: str, reason: str) -> None:
        self._step(
            "cancellation",
            lambda: transitions.request_cancel(
                tenant=self.tenant, actor=self._who(role), record_request=self.rr, reason=reason
            ),
        )

    @precondition(lambda self: self.state == RequestState.DELIVERED)
    @rule(role=st.sampled_from([Role.SPECIALIST, Role.SUPERVISOR]))
    def close(self, role: str) -> None:
        self._step(
            "close",
            lambda: transitions.request_close(tenant=self.tenant, actor=self._who(role), record_request=self.rr),
        )

    @precondition(lambda self: self.state != RequestState.EXCEPTION)  # see test_denying_*_closes_its_episode
    @rule(
        name=st.sampled_from(["validate", "start_fulfillment", "deliver", "close", "deny", "cancel"]),
        role=st.sampled_from([Role.SPECIALIST, Role.SUPERVISOR]),
    )
    def any_transition_in_any_state(self, name: str, role: str) -> None:
        """What the API's generic transition endpoints do, in whatever state the request is: mostly refused. (Its
        raise_exception and resolve are replaced by the episode services, which the rules above call.)"""
        self._step(
            name,
            lambda: transitions.request_transition(
                name=name,
                tenant=self.tenant,
                actor=self._who(role),
                record_request=self.rr,
                reason="By the generic endpoint",
                evidence="Faxed, confirmation 4471",
                basis=DenialBasis.NOT_HELD,
            ),
        )

    # --- Invariants ----------------------------------------------------------------------------------------

    @invariant()
    def one_open_episode_exactly_while_in_exception(self) -> None:
        open_episodes = ExceptionEpisode.objects.filter(request=self.rr, resolved_at__isnull=True).count()
        assert open_episodes == (1 if self.state == RequestState.EXCEPTION else 0)

    @invariant()
    def the_due_date_moves_forward_once_by_the_extension(self) -> None:
        due = RecordRequest.objects.get(pk=self.rr.pk).legal_due_date
        assert due >= self.last_due
        self.last_due = due
        extensions = list(Extension.objects.filter(request=self.rr))
        assert len(extensions) <= 1
        if extensions:
            assert (extensions[0].original_due_date, extensions[0].new_due_date) == (self.original_due, due)
            assert due > self.original_due
        else:
            assert due == self.original_due

    @invariant()
    def every_accountable_delivery_has_its_disclosure(self) -> None:
        deliveries = list(Delivery.objects.filter(request=self.rr))
        if not deliveries:
            return
        rr = RecordRequest.objects.select_related("requestor").get(pk=self.rr.pk)
        accountable = disclosures.accountability_for(tenant=self.tenant, record_request=rr).accountable
        for item in deliveries:
            assert Disclosure.objects.filter(delivery=item).exists() == accountable

    @invariant()
    def terminal_states_stay_terminal(self) -> None:
        if self.finished is not None:
            assert self.state == self.finished
        elif self.state in TERMINAL_STATES:
            self.finished = self.state

    @invariant()
    def every_state_change_is_logged(self) -> None:
        log = list(RequestTransition.objects.filter(request=self.rr).order_by("at", "pk"))
        assert len(log) == self.state_changes
        if log:
            assert log[-1].to_state == self.state
            assert all(a.to_state == b.from_state for a, b in itertools.pairwise(log))


@pytest.mark.usefixtures("media")
def test_no_sequence_of_steps_breaks_the_request_invariants(tenant_a, alice, sam):
    tenant = factories.TenantFactory(slug="lifecycle", jurisdiction="IL", timezone="America/Chicago")
    RequestLifecycle.tenant = tenant
    RequestLifecycle.staff = {
        Role.SPECIALIST: factories.MembershipFactory(tenant=tenant, role=Role.SPECIALIST).user,
        Role.SUPERVISOR: factories.MembershipFactory(tenant=tenant, role=Role.SUPERVISOR).user,
    }
    run_state_machine_as_test(
        RequestLifecycle,
        settings=settings(
            max_examples=MAX_EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            database=None,
            derandomize=DERANDOMIZE,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


@pytest.mark.parametrize("step", ["deny", "cancel"])
def test_denying_or_cancelling_a_request_in_exception_closes_its_episode(step, request_in_state, sam):
    rr = request_in_state(RequestState.EXCEPTION)
    if step == "deny":
        transitions.request_deny(
            tenant=rr.tenant, actor=sam, record_request=rr, basis=DenialBasis.NOT_HELD, explanation="Not held here."
        )
    else:
        transitions.request_cancel(tenant=rr.tenant, actor=sam, record_request=rr, reason="Withdrawn")
    assert not ExceptionEpisode.objects.filter(request=rr, resolved_at__isnull=True).exists()
    episode = ExceptionEpisode.objects.get(request=rr)
    assert episode.resolution.startswith("Closed with the request")
    rr.refresh_from_db()
    assert (rr.exception_reason, rr.exception_since) == ("", None)
    assert rr.exception_seconds_before >= 0
