"""Writes for the case and its parties, other than state transitions (see workflow/transitions.py)."""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse

from roi import clock
from roi.audit import history_stamp
from roi.choices import SUPERVISING_ROLES, Role
from roi.errors import NotPermitted, ServiceError
from roi.models import Tenant
from roi.notifications import notify
from roi.tenancy import has_role, require_staff, role_in
from workflow import deadlines, selectors
from workflow.choices import OPEN_STATES, RequestState, RequestType, with_implied_categories
from workflow.models import Patient, RecordRequest, Requestor, StatusCall, WorkQueue

TRACKING_NUMBER_ATTEMPTS = 5


def patient_create(
    *,
    tenant: Tenant,
    actor: Any,
    mrn: str,
    first_name: str,
    last_name: str,
    date_of_birth: date,
    placeholder: bool = False,
) -> Patient:
    """A new patient. `placeholder`: the stand-in of a request whose patient nobody identified yet
    (intake.patients.placeholder_patient_create)."""
    mrn = mrn.strip()
    if Patient.objects.for_tenant(tenant).filter(mrn=mrn).exists():
        raise ServiceError(f"A patient with MRN {mrn} already exists; search for them instead.", field="mrn")
    patient = Patient(
        tenant=tenant,
        mrn=mrn,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        date_of_birth=date_of_birth,
        is_placeholder=placeholder,
    )
    history_stamp(patient, actor)
    patient.save()
    return patient


def requestor_create(*, tenant: Tenant, actor: Any, **fields: Any) -> Requestor:
    requestor = Requestor(tenant=tenant, **fields)
    history_stamp(requestor, actor)
    requestor.save()
    return requestor


def request_create(
    *,
    tenant: Tenant,
    actor: Any,
    patient: Patient,
    requestor: Requestor,
    request_type: str,
    channel: str,
    received_at: datetime | None = None,
    scope_date_from: date | None = None,
    scope_date_to: date | None = None,
    record_types: list[str] | None = None,
    scope_notes: str = "",
    delivery_method: str = "",
    delivery_destination: str = "",
    sensitive_categories: list[str] | None = None,
    urgency_date: date | None = None,
    urgency_reason: str = "",
    legal_due_date: date | None = None,
    needs_intake_completion: bool = False,
) -> RecordRequest:
    """Record a new request in `received`, with its legal due date and internal target computed at receipt.

    Intake passes the due date from its deadline engine (state rules included); without one, the federal
    foundation rule of workflow.deadlines applies.
    """
    if patient.tenant_id != tenant.pk or requestor.tenant_id != tenant.pk:
        raise ServiceError("The patient and the requestor must belong to this organisation.")
    now = clock.now()
    received_at = received_at or now
    problem = deadlines.received_at_problem(received_at, now=now)
    if problem is not None:
        raise ServiceError(problem, field="received_at")
    if scope_date_from and scope_date_to and scope_date_from > scope_date_to:
        raise ServiceError("The scope's start date is after its end date.", field="scope_date_from")
    for _ in range(TRACKING_NUMBER_ATTEMPTS):
        record_request = RecordRequest(
            tenant=tenant,
            patient=patient,
            requestor=requestor,
            request_type=request_type,
            channel=channel,
            received_at=received_at,
            legal_due_date=legal_due_date
            or deadlines.legal_due_date(tenant=tenant, request_type=request_type, received_at=received_at),
            internal_target_date=deadlines.internal_target_date(tenant=tenant, received_at=received_at),
            scope_date_from=scope_date_from,
            scope_date_to=scope_date_to,
            record_types=list(record_types or []),
            scope_notes=scope_notes.strip(),
            delivery_method=delivery_method,
            delivery_destination=delivery_destination.strip(),
            sensitive_categories=with_implied_categories(list(record_types or []), list(sensitive_categories or [])),
            urgency_date=urgency_date,
            urgency_reason=urgency_reason.strip(),
            needs_intake_completion=needs_intake_completion,
            queue=selectors.queue_for(tenant=tenant, request_type=request_type),
            last_activity_at=now,
        )
        history_stamp(record_request, actor)
        try:
            # A savepoint, so a tracking-number collision (about 1 in 10^17) retries without losing the outer work.
            with transaction.atomic():
                record_request.save()
        except IntegrityError as error:
            if "tracking_number" not in str(error):
                raise
            continue
        return record_request
    raise ServiceError("Could not allocate a tracking number; try again.")


def request_locked(*, tenant: Tenant, pk: int | None) -> RecordRequest:
    """The request, its row locked until the caller's transaction ends (its patient and requestor read with it, not
    locked): what a service reads before it changes a request. Another tenant's, or none, is "does not exist"."""
    current = (
        RecordRequest.objects.for_tenant(tenant)
        .select_for_update(of=("self",))
        .select_related("patient", "requestor")
        .filter(pk=pk)
        .first()
    )
    if current is None:
        raise ServiceError("That request does not exist.")
    return current


def request_assign(*, tenant: Tenant, actor: Any, record_request: RecordRequest, assignee: Any | None) -> RecordRequest:
    """Assign (or unassign) a request. Staff may claim for themselves; assigning others needs a supervisor."""
    require_staff(actor, tenant)
    if assignee is not None and assignee.pk != actor.pk and not has_role(actor, tenant, SUPERVISING_ROLES):
        raise NotPermitted("Only a supervisor or admin can assign a request to someone else.")
    if assignee is not None and role_in(assignee, tenant) is None:
        raise ServiceError(f"{assignee} is not a staff member of this organisation.", field="assignee")
    with transaction.atomic():
        current = RecordRequest.objects.for_tenant(tenant).select_for_update().get(pk=record_request.pk)
        if current.state not in OPEN_STATES:
            raise ServiceError(f"A request that is {RequestState(current.state).label.lower()} cannot be reassigned.")
        previous_id = current.assignee_id
        current.assignee = assignee
        current.last_activity_at = clock.now()
        history_stamp(current, actor)
        current.save(update_fields=["assignee", "last_activity_at", "updated_at"])
        if assignee is not None and assignee.pk != actor.pk and assignee.pk != previous_id:
            _notify_assignee(tenant=tenant, actor=actor, record_request=current, assignee=assignee)
    return current


def _notify_assignee(*, tenant: Tenant, actor: Any, record_request: RecordRequest, assignee: Any) -> None:
    """Tell a staff member in the app that someone else gave them a request (claiming one yourself, or claim next,
    tells nobody). In-app only: the assignee's queue shows it too, an email would add noise. One notice per
    assignment: the key carries its time, and assigning to the person who already has it writes none."""
    number = record_request.tracking_number
    notify(
        tenant=tenant,
        recipient=assignee,
        kind="assignment",
        subject=f"Assigned to you: {number}",
        body=f"{actor} assigned request {number} to you.",
        link=reverse("workflow:detail", args=[number]),
        dedupe_key=f"assignment:{record_request.pk}:{assignee.pk}:{record_request.last_activity_at.isoformat()}",
    )


# --- Queues ---------------------------------------------------------------------------------------------------


class RequestsNotFound(ServiceError):
    """Some of the requests named do not exist in this tenant (another tenant's answer the same: not found)."""

    status_code = 404


@functools.cache
def _claim_sql(*, in_queue: bool) -> str:
    """One statement: pick the top unassigned open request (skipping rows another claimer holds), assign it, and
    write its history row, the same row django-simple-history writes on save (columns shared with the request,
    plus who and when). Built from the models' metadata once, so a new request field is carried automatically."""
    table = RecordRequest._meta.db_table
    history = RecordRequest.history.model
    shared = [f.column for f in history._meta.concrete_fields if not f.name.startswith("history_")]
    columns = ", ".join(f'"{column}"' for column in shared)
    open_states = ", ".join(f"'{state.value}'" for state in OPEN_STATES)  # our constants, as the partial index has
    return f"""
WITH picked AS (
    SELECT id FROM "{table}"
    WHERE tenant_id = %(tenant)s AND state IN ({open_states}) AND assignee_id IS NULL
          {"AND queue_id = %(queue)s" if in_queue else ""}
    ORDER BY priority_score DESC, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE "{table}" AS r SET assignee_id = %(actor)s, last_activity_at = %(now)s, updated_at = %(now)s
    FROM picked WHERE r.id = picked.id
    RETURNING r.*
), history AS (
    INSERT INTO "{history._meta.db_table}" ({columns}, history_date, history_change_reason, history_type,
                                            history_user_id)
    SELECT {columns}, %(now)s, NULL, '~', %(actor)s FROM claimed
)
SELECT * FROM claimed
"""  # noqa: S608 - names come from model metadata and our own constants; every value is a query parameter


def request_claim_next(*, tenant: Tenant, actor: Any, queue: WorkQueue | None = None) -> RecordRequest | None:
    """Give the actor the highest-priority unassigned open request (in `queue`, or in any), or None if there is none.

    FOR UPDATE SKIP LOCKED: a request another claimer has locked but not yet committed is passed over rather than
    waited for, and one already committed to someone fails the `assignee IS NULL` recheck, so two staff claiming at
    the same moment get different requests and neither blocks. The partial index request_claimable_idx (or its
    per-queue twin) serves the order, and claimed rows leave it. Pick, assignment and history row are one
    statement, one round trip: claiming is what a whole team does first thing in the morning."""
    require_staff(actor, tenant)
    if queue is not None and queue.tenant_id != tenant.pk:
        raise RequestsNotFound("No such queue.")
    params = {"tenant": tenant.pk, "actor": actor.pk, "now": clock.now(), "queue": queue.pk if queue else None}
    with transaction.atomic():
        claimed = list(RecordRequest.objects.raw(_claim_sql(in_queue=queue is not None), params))
    return claimed[0] if claimed else None


def requests_bulk_assign(
    *, tenant: Tenant, actor: Any, tracking_numbers: list[str], assignee: Any | None
) -> list[RecordRequest]:
    """Assign (or unassign) several requests at once: a supervisor's action. All or nothing: every request goes
    through request_assign's rules, and if one refuses, none changes."""
    if not has_role(actor, tenant, SUPERVISING_ROLES):
        raise NotPermitted("Only a supervisor or admin can reassign requests in bulk.")
    wanted = sorted(set(tracking_numbers))
    if not wanted:
        raise ServiceError("Tick at least one request to reassign.", field="requests")
    with transaction.atomic():
        # Locked in id order, the same order every bulk action takes, so two supervisors cannot deadlock.
        found = list(
            RecordRequest.objects.for_tenant(tenant)
            .filter(tracking_number__in=wanted)
            .select_for_update()
            .order_by("id")
        )
        if len(found) != len(wanted):
            missing = sorted(set(wanted) - {rr.tracking_number for rr in found})
            raise RequestsNotFound(f"No such request: {', '.join(missing)}.")
        return [request_assign(tenant=tenant, actor=actor, record_request=rr, assignee=assignee) for rr in found]


def status_call_log(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, caller: str, outcome: str
) -> StatusCall:
    """Log a phone call asking where a request stands. It counts as activity on the request (the stalled clock
    restarts): someone looked at it and spoke to the requestor."""
    require_staff(actor, tenant)
    if record_request.tenant_id != tenant.pk:
        raise RequestsNotFound("No such request.")
    if caller not in StatusCall.Caller.values:
        raise ServiceError("Choose who called from the list.", field="caller")
    if outcome not in StatusCall.Outcome.values:
        raise ServiceError("Choose the call's outcome from the list.", field="outcome")
    now = clock.now()
    with transaction.atomic():
        call = StatusCall.objects.create(
            tenant=tenant, request=record_request, caller=caller, outcome=outcome, logged_by=actor, at=now
        )
        # A queryset update, not save(): the call row is the record of what happened, and a history row per call
        # ("Updated") would bury the request's real changes.
        RecordRequest.objects.for_tenant(tenant).filter(pk=record_request.pk).update(last_activity_at=now)
    record_request.last_activity_at = now
    return call


def _work_queue_checks(
    *, tenant: Tenant, actor: Any, name: str, request_types: list[str], exclude_pk: int | None
) -> str:
    if not has_role(actor, tenant, {Role.ADMIN}):
        raise NotPermitted("Only a tenant admin can manage work queues.")
    name = name.strip()
    if not name:
        raise ServiceError("Give the queue a name.", field="name")
    unknown = set(request_types) - set(RequestType.values)
    if unknown:
        raise ServiceError(f"Unknown request type: {', '.join(sorted(unknown))}.", field="request_types")
    clash = WorkQueue.objects.for_tenant(tenant).filter(name__iexact=name)
    if exclude_pk is not None:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ServiceError(f"A queue named {name!r} already exists; choose another name.", field="name")
    return name


def work_queue_create(
    *, tenant: Tenant, actor: Any, name: str, position: int = 0, request_types: list[str], is_active: bool = True
) -> WorkQueue:
    name = _work_queue_checks(tenant=tenant, actor=actor, name=name, request_types=request_types, exclude_pk=None)
    with transaction.atomic():
        return WorkQueue.objects.create(
            tenant=tenant, name=name, position=position, request_types=list(request_types), is_active=is_active
        )


def work_queue_update(
    *,
    tenant: Tenant,
    actor: Any,
    work_queue: WorkQueue,
    name: str,
    position: int,
    request_types: list[str],
    is_active: bool,
) -> WorkQueue:
    """Change a queue. Requests already in it stay; routing applies to requests created from now on."""
    if work_queue.tenant_id != tenant.pk:
        raise RequestsNotFound("No such queue.")
    name = _work_queue_checks(
        tenant=tenant, actor=actor, name=name, request_types=request_types, exclude_pk=work_queue.pk
    )
    with transaction.atomic():
        work_queue.name, work_queue.position = name, position
        work_queue.request_types, work_queue.is_active = list(request_types), is_active
        work_queue.save(update_fields=["name", "position", "request_types", "is_active"])
    return work_queue
