"""One service per transition of RecordRequest. Pages, the API and tasks all call these, never the model methods.

Each service runs in one transaction: it reloads the request inside the tenant, checks what the actor saw is still
true, checks role and guards with messages that say what to fix, applies the transition (the model's
ConcurrentTransitionMixin makes a concurrent change lose cleanly), writes the transition log row, and schedules side
effects with transaction.on_commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django_fsm import ConcurrentTransition

from roi import clock
from roi.audit import history_stamp
from roi.errors import Conflict, NotPermitted, ServiceError
from roi.models import Tenant
from roi.tenancy import role_in
from workflow import extensions
from workflow.choices import OPEN_STATES, DenialBasis, RequestState
from workflow.models import (
    GUARD_MESSAGES,
    RecordRequest,
    RequestTransition,
    has_delivery_evidence,
    has_denial_basis,
    intake_is_complete,
)


@dataclass(frozen=True)
class TransitionSpec:
    name: str
    label: str  # button text
    past: str  # for messages: "Request validated."
    needs_reason: bool = False
    reason_label: str = "Reason"
    supervisor_only: bool = False
    style: str = "primary"


TRANSITIONS: dict[str, TransitionSpec] = {
    spec.name: spec
    for spec in [
        TransitionSpec("validate", "Validate", "validated"),
        TransitionSpec("start_fulfillment", "Start fulfillment", "moved to fulfillment"),
        TransitionSpec(
            "raise_exception", "Raise exception", "put in exception", True, "What is blocking it", style="warning"
        ),
        TransitionSpec("resolve", "Resolve exception", "returned to work", True, "Resolution note"),
        TransitionSpec("deliver", "Record delivery", "delivered"),
        TransitionSpec("close", "Close", "closed"),
        TransitionSpec("deny", "Deny", "denied", True, "Explanation for the requestor", True, style="danger"),
        TransitionSpec("cancel", "Cancel request", "cancelled", True, "Why it is cancelled", style="danger"),
    ]
}


@dataclass(frozen=True)
class TransitionOption:
    """A transition the user's role allows from the current state; `blocked` says which guards still fail."""

    spec: TransitionSpec
    blocked: list[str]


def _unmet_guards(record_request: RecordRequest, name: str, *, skip: frozenset[Any] = frozenset()) -> list[str]:
    meta = getattr(record_request, name)._django_fsm
    fsm_transition = meta.get_transition(record_request.state)
    messages: list[str] = []
    for condition in (fsm_transition.conditions or []) if fsm_transition else []:
        if condition in skip:
            continue
        if not condition(record_request):
            if condition is intake_is_complete and record_request.intake_completed_at is not None:
                messages.extend(record_request.intake_gaps())
            else:
                messages.append(GUARD_MESSAGES.get(condition, f"Condition {condition.__name__} is not met."))
    return messages


def _perform(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    name: str,
    reason: str = "",
    expected_state: str | None = None,
    prepare: Callable[[RecordRequest], None] | None = None,
) -> RecordRequest:
    spec = TRANSITIONS[name]
    reason = (reason or "").strip()
    if spec.needs_reason and not reason:
        raise ServiceError(f"{spec.reason_label} is required.", field="reason")
    with transaction.atomic():
        try:
            current = RecordRequest.objects.for_tenant(tenant).get(pk=record_request.pk)
        except RecordRequest.DoesNotExist:
            raise ServiceError("That request does not exist.") from None
        state_label = RequestState(current.state).label.lower()
        if expected_state and current.state != expected_state:
            raise Conflict(
                f"This request changed since you opened it: it is now {state_label}. Reload to see the latest."
            )
        method = getattr(current, name)
        meta = method._django_fsm
        if not meta.has_transition(current.state):
            raise ServiceError(f"A request that is {state_label} cannot be {spec.past}.")
        if not meta.has_transition_perm(current, current.state, actor):
            role = role_in(actor, tenant) or "no role"
            raise NotPermitted(f"Your role ({role}) cannot do this: '{spec.label}' needs a supervisor or admin.")
        if prepare is not None:
            prepare(current)
        unmet = _unmet_guards(current, name)
        if unmet:
            raise ServiceError(" ".join(unmet))
        from_state = current.state
        method()
        now = clock.now()
        current.last_activity_at = now
        if current.state not in OPEN_STATES:
            # The urgency job refreshes open requests only; finished work is never stalled.
            current.is_stalled = False
        history_stamp(current, actor)
        try:
            current.save()
        except ConcurrentTransition:
            raise Conflict("Someone else changed this request at the same moment. Reload to see the latest.") from None
        RequestTransition.objects.create(
            tenant=tenant,
            request=current,
            transition=name,
            from_state=from_state,
            to_state=current.state,
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            reason=reason,
            at=now,
        )
        for hook in extensions.transition_hooks():
            hook(
                tenant=tenant,
                actor=actor,
                record_request=current,
                from_state=from_state,
                to_state=current.state,
                reason=reason,
            )
    return current


def request_validate(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, expected_state: str | None = None
) -> RecordRequest:
    return _perform(
        tenant=tenant, actor=actor, record_request=record_request, name="validate", expected_state=expected_state
    )


def request_start_fulfillment(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, expected_state: str | None = None
) -> RecordRequest:
    return _perform(
        tenant=tenant,
        actor=actor,
        record_request=record_request,
        name="start_fulfillment",
        expected_state=expected_state,
    )


def request_raise_exception(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, reason: str, expected_state: str | None = None
) -> RecordRequest:
    return _perform(
        tenant=tenant,
        actor=actor,
        record_request=record_request,
        name="raise_exception",
        reason=reason,
        expected_state=expected_state,
    )


def request_resolve(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, resolution: str, expected_state: str | None = None
) -> RecordRequest:
    return _perform(
        tenant=tenant,
        actor=actor,
        record_request=record_request,
        name="resolve",
        reason=resolution,
        expected_state=expected_state,
    )


def request_deliver(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, evidence: str, expected_state: str | None = None
) -> RecordRequest:
    evidence = (evidence or "").strip()
    if not evidence:
        raise ServiceError(GUARD_MESSAGES[has_delivery_evidence], field="evidence")

    def prepare(current: RecordRequest) -> None:
        current.delivery_evidence = evidence[:300]
        current.delivered_at = clock.now()

    return _perform(
        tenant=tenant,
        actor=actor,
        record_request=record_request,
        name="deliver",
        reason=evidence,
        expected_state=expected_state,
        prepare=prepare,
    )


def request_close(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, expected_state: str | None = None
) -> RecordRequest:
    def prepare(current: RecordRequest) -> None:
        current.closed_at = clock.now()

    return _perform(
        tenant=tenant,
        actor=actor,
        record_request=record_request,
        name="close",
        expected_state=expected_state,
        prepare=prepare,
    )


def request_deny(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    basis: str,
    explanation: str,
    expected_state: str | None = None,
) -> RecordRequest:
    if basis not in DenialBasis.values:
        raise ServiceError("Choose the basis for the denial from the list.", field="basis")

    def prepare(current: RecordRequest) -> None:
        current.denial_basis = basis

    return _perform(
        tenant=tenant,
        actor=actor,
        record_request=record_request,
        name="deny",
        reason=explanation,
        expected_state=expected_state,
        prepare=prepare,
    )


def request_cancel(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, reason: str, expected_state: str | None = None
) -> RecordRequest:
    return _perform(
        tenant=tenant,
        actor=actor,
        record_request=record_request,
        name="cancel",
        reason=reason,
        expected_state=expected_state,
    )


# Guards whose input comes with the action itself (the delivery evidence, the denial basis): the page offers the
# action with a form and the service checks them when it is submitted.
FORM_SUPPLIED_GUARDS = frozenset({has_delivery_evidence, has_denial_basis})


def transition_options(record_request: RecordRequest, user: Any) -> list[TransitionOption]:
    """What this user's role allows from the request's current state, in display order, with blocking guards."""
    options = []
    for name, spec in TRANSITIONS.items():
        meta = getattr(record_request, name)._django_fsm
        if meta.has_transition(record_request.state) and meta.has_transition_perm(
            record_request, record_request.state, user
        ):
            options.append(TransitionOption(spec, _unmet_guards(record_request, name, skip=FORM_SUPPLIED_GUARDS)))
    return options


def request_transition(
    *,
    name: str,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    expected_state: str | None = None,
    reason: str = "",
    evidence: str = "",
    basis: str = "",
) -> RecordRequest:
    """Dispatch a transition by name, for the page and the API that offer every transition through one form."""
    common = {"tenant": tenant, "actor": actor, "record_request": record_request, "expected_state": expected_state}
    if name == "validate":
        return request_validate(**common)
    if name == "start_fulfillment":
        return request_start_fulfillment(**common)
    if name == "raise_exception":
        return request_raise_exception(**common, reason=reason)
    if name == "resolve":
        return request_resolve(**common, resolution=reason)
    if name == "deliver":
        return request_deliver(**common, evidence=evidence)
    if name == "close":
        return request_close(**common)
    if name == "deny":
        return request_deny(**common, basis=basis, explanation=reason)
    if name == "cancel":
        return request_cancel(**common, reason=reason)
    raise ServiceError(f"Unknown action {name!r}.")
