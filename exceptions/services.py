"""Opening and resolving exception episodes, together with the request's transition, in one transaction."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import F

from exceptions.choices import ExceptionReason
from exceptions.models import ExceptionEpisode
from exceptions.signals import exception_opened
from roi import clock
from roi.audit import history_stamp
from roi.errors import ServiceError
from roi.models import Tenant
from roi.tenancy import is_person, role_in
from workflow import transitions
from workflow.choices import TERMINAL_STATES, RequestState
from workflow.models import RecordRequest


def exception_open(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    reason: str,
    detail: str,
    next_step: str,
    next_action_due: date,
    owner: Any | None = None,
    deficiency_codes: list[str] | None = None,
    expected_state: str | None = None,
    lettered: bool = False,
) -> ExceptionEpisode:
    """Put the request in exception and open its episode. The owner defaults to the request's assignee, then the
    actor, so an exception is never without someone responsible for its next step; an integration client is never
    that someone (it cannot sign in): without an assignee its exception is unowned, which supervisors hear of. `lettered`: a deficiency letter
    follows in the same transaction and tells the requestor itself (the checklist)."""
    if reason not in ExceptionReason.values:
        raise ServiceError("Choose the reason for the exception from the list.", field="reason")
    if not (next_step or "").strip():
        raise ServiceError("Say what the next step is (for example: send deficiency letter).", field="next_step")
    if next_action_due < clock.now().date():
        raise ServiceError("The next action cannot be due in the past.", field="next_action_due")
    if owner is not None and role_in(owner, tenant) is None:
        raise ServiceError(f"{owner} is not a staff member of this organisation.", field="owner")
    with transaction.atomic():
        current = transitions.request_raise_exception(
            tenant=tenant,
            actor=actor,
            record_request=record_request,
            reason=f"{ExceptionReason(reason).label}: {detail.strip()}",
            expected_state=expected_state,
        )
        if owner is None:
            owner = current.assignee or (actor if is_person(actor) else None)
        episode = ExceptionEpisode(
            tenant=tenant,
            request=current,
            reason=reason,
            detail=detail.strip(),
            deficiency_codes=list(deficiency_codes or []),
            opened_at=clock.now(),
            opened_by=actor if getattr(actor, "is_authenticated", False) else None,
            owner=owner,
            next_step=next_step.strip()[:300],
            next_action_due=next_action_due,
        )
        history_stamp(episode, actor)
        episode.save()
        RecordRequest.objects.for_tenant(tenant).filter(pk=current.pk).update(
            exception_reason=reason, exception_since=episode.opened_at
        )
        # In this transaction: apps above (intake's requestor emails) act on it, or roll back with it.
        exception_opened.send(
            sender=ExceptionEpisode, tenant=tenant, episode=episode, record_request=current, lettered=lettered
        )
    return episode


def exception_raise_or_update(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    reason: str,
    detail: str,
    next_step: str,
    next_action_due: date,
    owner: Any | None = None,
    deficiency_codes: list[str] | None = None,
) -> ExceptionEpisode:
    """Open an exception, or, on a request already in exception, make its open episode say this: reason, detail,
    deficiency codes, next step and due date become these (the episode's history keeps what it said before); the
    owner stays unless there was none. For a finding that must stop the request whatever it was waiting on (a
    revocation, a refused release), with one owner for what happens next."""
    if reason not in ExceptionReason.values:
        raise ServiceError("Choose the reason for the exception from the list.", field="reason")
    with transaction.atomic():
        current = RecordRequest.objects.for_tenant(tenant).select_for_update().get(pk=record_request.pk)
        if current.state != RequestState.EXCEPTION:
            return exception_open(
                tenant=tenant,
                actor=actor,
                record_request=current,
                reason=reason,
                detail=detail,
                next_step=next_step,
                next_action_due=next_action_due,
                owner=owner,
                deficiency_codes=deficiency_codes,
                expected_state=current.state,
            )
        episode = (
            ExceptionEpisode.objects.for_tenant(tenant)
            .select_for_update()
            .filter(request_id=current.pk, resolved_at__isnull=True)
            .first()
        )
        if episode is None:
            raise ServiceError("This request is in exception without an open episode; resolve it and open one.")
        reason_changed = episode.reason != reason
        episode.reason = reason
        episode.detail = detail.strip()
        episode.deficiency_codes = list(deficiency_codes or [])
        episode.next_step = next_step.strip()[:300]
        episode.next_action_due = max(next_action_due, clock.now().date())
        if episode.owner_id is None:
            episode.owner = owner or current.assignee or (actor if is_person(actor) else None)
        history_stamp(episode, actor)
        episode.save()
        RecordRequest.objects.for_tenant(tenant).filter(pk=current.pk).update(
            exception_reason=reason, last_activity_at=clock.now()
        )
        if reason_changed:
            exception_opened.send(
                sender=ExceptionEpisode,
                tenant=tenant,
                episode=episode,
                record_request=current,
                occurrence=f"episode-{episode.pk}-{reason}",
            )
    return episode


def exception_update_findings(
    *, tenant: Tenant, actor: Any, episode: ExceptionEpisode, reason: str, detail: str, deficiency_codes: list[str]
) -> ExceptionEpisode:
    """The checklist ran again on a request in exception and still finds deficiencies: the open episode says what is
    still wrong now (reason, detail, codes), keeping its owner, next step and due date."""
    with transaction.atomic():
        current = ExceptionEpisode.objects.for_tenant(tenant).select_for_update().get(pk=episode.pk)
        if not current.is_open:
            raise ServiceError("This exception is already resolved.")
        current.reason = reason
        current.detail = detail.strip()
        current.deficiency_codes = list(deficiency_codes)
        history_stamp(current, actor)
        current.save()
        RecordRequest.objects.for_tenant(tenant).filter(pk=current.request_id).update(
            exception_reason=reason, last_activity_at=clock.now()
        )
    return current


def exception_resolve(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, resolution: str, expected_state: str | None = None
) -> ExceptionEpisode | None:
    """Close the open episode and return the request to the state it came from."""
    with transaction.atomic():
        episode = (
            ExceptionEpisode.objects.for_tenant(tenant)
            .select_for_update()
            .filter(request_id=record_request.pk, resolved_at__isnull=True)
            .first()
        )
        transitions.request_resolve(
            tenant=tenant,
            actor=actor,
            record_request=record_request,
            resolution=resolution,
            expected_state=expected_state,
        )
        if episode is not None:  # None only for an exception raised without the episode service (low-level callers)
            episode.resolved_at = clock.now()
            episode.resolved_by = actor if getattr(actor, "is_authenticated", False) else None
            episode.resolution = resolution.strip()
            history_stamp(episode, actor)
            episode.save()
            spent = max(int((episode.resolved_at - episode.opened_at).total_seconds()), 0)
            RecordRequest.objects.for_tenant(tenant).filter(pk=record_request.pk).update(
                exception_reason="",
                exception_since=None,
                exception_seconds_before=F("exception_seconds_before") + spent,
            )
    return episode


def exception_update_next_step(
    *, tenant: Tenant, actor: Any, episode: ExceptionEpisode, next_step: str, next_action_due: date, owner: Any | None
) -> ExceptionEpisode:
    if not episode.is_open:
        raise ServiceError("This exception is already resolved.")
    if not next_step.strip():
        raise ServiceError("Say what the next step is.", field="next_step")
    if owner is not None and role_in(owner, tenant) is None:
        raise ServiceError(f"{owner} is not a staff member of this organisation.", field="owner")
    with transaction.atomic():
        current = ExceptionEpisode.objects.for_tenant(tenant).select_for_update().get(pk=episode.pk)
        current.next_step = next_step.strip()[:300]
        current.next_action_due = next_action_due
        current.owner = owner
        history_stamp(current, actor)
        current.save()
        RecordRequest.objects.for_tenant(tenant).filter(pk=current.request_id).update(last_activity_at=clock.now())
    return current


def exception_close_with_request(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, from_state: str, to_state: str, reason: str
) -> None:
    """A request denied or cancelled while in exception takes its open episode with it (workflow's transition hook,
    registered in ExceptionsConfig.ready): otherwise the exception board, time in exception and the request's
    exception reason would keep counting finished work."""
    if from_state != RequestState.EXCEPTION or to_state not in TERMINAL_STATES:
        return
    episode = (
        ExceptionEpisode.objects.for_tenant(tenant)
        .select_for_update()
        .filter(request_id=record_request.pk, resolved_at__isnull=True)
        .first()
    )
    if episode is None:
        return
    episode.resolved_at = clock.now()
    episode.resolved_by = actor if getattr(actor, "is_authenticated", False) else None
    label = RequestState(to_state).label.lower()
    episode.resolution = (
        f"Closed with the request ({label}): {reason}" if reason else f"Closed with the request ({label})."
    )
    history_stamp(episode, actor)
    episode.save()
    spent = max(int((episode.resolved_at - episode.opened_at).total_seconds()), 0)
    RecordRequest.objects.for_tenant(tenant).filter(pk=record_request.pk).update(
        exception_reason="",
        exception_since=None,
        exception_seconds_before=F("exception_seconds_before") + spent,
    )
    record_request.exception_reason = ""
    record_request.exception_since = None
    record_request.exception_seconds_before += spent
