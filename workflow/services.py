"""Writes for the case and its parties, other than state transitions (see workflow/transitions.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.db import IntegrityError, transaction

from roi import clock
from roi.audit import history_stamp
from roi.choices import STAFF_ROLES, SUPERVISING_ROLES
from roi.errors import NotPermitted, ServiceError
from roi.models import Tenant
from roi.tenancy import has_role, role_in
from workflow import deadlines
from workflow.choices import OPEN_STATES, RequestState
from workflow.models import Patient, RecordRequest, Requestor

TRACKING_NUMBER_ATTEMPTS = 5


def patient_create(
    *, tenant: Tenant, actor: Any, mrn: str, first_name: str, last_name: str, date_of_birth: date
) -> Patient:
    mrn = mrn.strip()
    if Patient.objects.for_tenant(tenant).filter(mrn=mrn).exists():
        raise ServiceError(f"A patient with MRN {mrn} already exists; search for them instead.", field="mrn")
    patient = Patient(
        tenant=tenant, mrn=mrn, first_name=first_name.strip(), last_name=last_name.strip(), date_of_birth=date_of_birth
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
    if received_at > now:
        raise ServiceError("The receipt time cannot be in the future.", field="received_at")
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
            sensitive_categories=list(sensitive_categories or []),
            urgency_date=urgency_date,
            urgency_reason=urgency_reason.strip(),
            needs_intake_completion=needs_intake_completion,
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


def request_assign(*, tenant: Tenant, actor: Any, record_request: RecordRequest, assignee: Any | None) -> RecordRequest:
    """Assign (or unassign) a request. Staff may claim for themselves; assigning others needs a supervisor."""
    if not has_role(actor, tenant, STAFF_ROLES):
        raise NotPermitted("You have no role in this organisation.")
    if assignee is not None and assignee.pk != actor.pk and not has_role(actor, tenant, SUPERVISING_ROLES):
        raise NotPermitted("Only a supervisor or admin can assign a request to someone else.")
    if assignee is not None and role_in(assignee, tenant) is None:
        raise ServiceError(f"{assignee} is not a staff member of this organisation.", field="assignee")
    with transaction.atomic():
        current = RecordRequest.objects.for_tenant(tenant).select_for_update().get(pk=record_request.pk)
        if current.state not in OPEN_STATES:
            raise ServiceError(f"A request that is {RequestState(current.state).label.lower()} cannot be reassigned.")
        current.assignee = assignee
        current.last_activity_at = clock.now()
        history_stamp(current, actor)
        current.save(update_fields=["assignee", "last_activity_at", "updated_at"])
    return current


def request_record_qc(*, tenant: Tenant, actor: Any, record_request: RecordRequest) -> RecordRequest:
    """Record that quality control passed for the release being prepared (the gate `deliver` checks).

    Foundation step: one confirmation by a staff member. The fulfillment phase replaces it with the QC checklist.
    """
    if not has_role(actor, tenant, STAFF_ROLES):
        raise NotPermitted("You have no role in this organisation.")
    with transaction.atomic():
        current = RecordRequest.objects.for_tenant(tenant).select_for_update().get(pk=record_request.pk)
        if current.state != RequestState.IN_FULFILLMENT:
            raise ServiceError("Quality control is recorded while the request is in fulfillment.")
        current.qc_passed_at = clock.now()
        current.qc_passed_by = actor
        current.last_activity_at = current.qc_passed_at
        history_stamp(current, actor)
        current.save(update_fields=["qc_passed_at", "qc_passed_by", "last_activity_at", "updated_at"])
    return current
