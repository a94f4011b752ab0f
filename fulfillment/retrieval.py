"""Fulfillment: retrieval. Asking departments and places (EHR/HIM, imaging, billing, off-site storage, another
facility) for a request's records, and seeing what we are still waiting on.

Every service runs in one transaction, locks the request first (then the task), and ends by recording on the
request when the oldest open task was requested (`RecordRequest.retrieval_waiting_since`): escalation rules read it
there, since the exceptions app may not import fulfillment (docs/decisions/0003-dependencies-point-one-way.md).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import OuterRef, QuerySet, Subquery

from fulfillment.choices import RetrievalSource, RetrievalStatus
from fulfillment.models import RetrievalTask
from fulfillment.policy import policy_for
from roi import clock
from roi.audit import history_stamp
from roi.errors import ServiceError
from roi.models import Tenant
from roi.tenancy import require_staff, role_in
from workflow import transitions
from workflow.choices import FINISHED_STATES, RequestState
from workflow.deadlines import local_date
from workflow.extensions import closed_with_request_reason
from workflow.models import RecordRequest
from workflow.services import request_locked

# Records are retrieved once the request is validated and until it is delivered; a request in exception (often
# waiting on a department) keeps its tasks moving.
RETRIEVAL_STATES = (RequestState.VALIDATED, RequestState.IN_FULFILLMENT, RequestState.EXCEPTION)
# A source that names no place by itself: the task must say which one.
SOURCES_NEEDING_DETAIL = (RetrievalSource.OTHER_FACILITY, RetrievalSource.OTHER)


class RetrievalTaskNotFound(ServiceError):
    """No such task in this tenant (also what another tenant's task answers)."""

    status_code = 404


# --- Services -----------------------------------------------------------------------------------------------------


def _lock_request(tenant: Tenant, request_id: int | None) -> RecordRequest:
    current = request_locked(tenant=tenant, pk=request_id)
    if current.state not in RETRIEVAL_STATES:
        raise ServiceError(
            f"Records are retrieved while a request is validated, in fulfillment or in exception; this one is "
            f"{RequestState(current.state).label.lower()}."
        )
    return current


def _lock_open_task(tenant: Tenant, task: RetrievalTask, doing: str) -> RetrievalTask:
    """The task, locked after its request, if it is still open; `doing` names the action for the message."""
    request_id = (
        RetrievalTask.objects.for_tenant(tenant)
        .filter(pk=getattr(task, "pk", None))
        .values_list("request_id", flat=True)
    ).first()
    if request_id is None:
        raise RetrievalTaskNotFound("That retrieval task does not exist.")
    _lock_request(tenant, request_id)
    current = RetrievalTask.objects.for_tenant(tenant).select_for_update().filter(pk=task.pk).first()
    if current is None:
        raise RetrievalTaskNotFound("That retrieval task does not exist.")
    if current.status != RetrievalStatus.REQUESTED:
        raise ServiceError(
            f"This {current.get_source_display()} task is already "
            f"{RetrievalStatus(current.status).label.lower()}: it cannot be {doing}. Reload to see the latest."
        )
    return current


def _check_owner(tenant: Tenant, owner: Any | None) -> None:
    if owner is not None and role_in(owner, tenant) is None:
        raise ServiceError(f"{owner} is not a staff member of this organisation.", field="owner")


def _record_waiting_since(tenant: Tenant, request_id: int, now: datetime) -> None:
    """The request's retrieval_waiting_since: requested_at of its oldest open task (NULL when none is open), in one
    UPDATE. Activity on the request, so it is not counted as stalled. A derived field: no history row (the task has
    its own history)."""
    oldest = (
        RetrievalTask.objects.filter(tenant=tenant, request=OuterRef("pk"), status=RetrievalStatus.REQUESTED)
        .order_by("requested_at")
        .values("requested_at")[:1]
    )
    RecordRequest.objects.for_tenant(tenant).filter(pk=request_id).update(
        retrieval_waiting_since=Subquery(oldest), last_activity_at=now
    )


def _clean_text(value: str, *, field: str, label: str, max_length: int | None = None) -> str:
    value = (value or "").strip()
    if max_length is not None and len(value) > max_length:
        raise ServiceError(f"{label} is too long: {len(value)} characters, at most {max_length}.", field=field)
    return value


def retrieval_task_create(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    source: str,
    source_detail: str = "",
    owner: Any | None = None,
    notes: str = "",
) -> RetrievalTask:
    """Ask a department or place for the request's records. On a validated request this also starts fulfillment
    (retrieving the records is its first step), with its transition log row, in the same transaction."""
    require_staff(actor, tenant)
    if source not in RetrievalSource.values:
        raise ServiceError("Choose where the records come from from the list.", field="source")
    source_detail = _clean_text(source_detail, field="source_detail", label="The department or place", max_length=200)
    if source in SOURCES_NEEDING_DETAIL and not source_detail:
        raise ServiceError(
            f"Say which {'facility' if source == RetrievalSource.OTHER_FACILITY else 'place'} the records come from.",
            field="source_detail",
        )
    notes = _clean_text(notes, field="notes", label="Notes")
    _check_owner(tenant, owner)
    with transaction.atomic():
        current = _lock_request(tenant, getattr(record_request, "pk", None))
        if current.state == RequestState.VALIDATED:
            current = transitions.request_start_fulfillment(tenant=tenant, actor=actor, record_request=current)
        now = clock.now()
        user = actor if getattr(actor, "is_authenticated", False) else None
        task = RetrievalTask(
            tenant=tenant,
            request=current,
            source=source,
            source_detail=source_detail,
            owner=owner,
            requested_at=now,
            requested_by=user,
            notes=notes,
        )
        history_stamp(task, actor)
        task.save()
        _record_waiting_since(tenant, current.pk, now)
    return task


def retrieval_task_update(
    *, tenant: Tenant, actor: Any, task: RetrievalTask, owner: Any | None, notes: str
) -> RetrievalTask:
    """Change who follows up an open task, and its notes."""
    require_staff(actor, tenant)
    notes = _clean_text(notes, field="notes", label="Notes")
    _check_owner(tenant, owner)
    with transaction.atomic():
        current = _lock_open_task(tenant, task, "changed")
        current.owner = owner
        current.notes = notes
        history_stamp(current, actor)
        current.save(update_fields=["owner", "notes"])
        _record_waiting_since(tenant, current.request_id, clock.now())
    return current


def _close(*, tenant: Tenant, actor: Any, task: RetrievalTask, status: str, note: str, doing: str) -> RetrievalTask:
    with transaction.atomic():
        current = _lock_open_task(tenant, task, doing)
        now = clock.now()
        current.status = status
        current.closed_at = now
        current.outcome_note = note
        if status == RetrievalStatus.RECEIVED:
            current.received_at = now
        history_stamp(current, actor)
        current.save(update_fields=["status", "closed_at", "outcome_note", "received_at"])
        _record_waiting_since(tenant, current.request_id, now)
    return current


def retrieval_task_mark_received(*, tenant: Tenant, actor: Any, task: RetrievalTask, note: str = "") -> RetrievalTask:
    """The records came back (the documents themselves are added to the request separately)."""
    require_staff(actor, tenant)
    note = _clean_text(note, field="note", label="The note")
    return _close(
        tenant=tenant, actor=actor, task=task, status=RetrievalStatus.RECEIVED, note=note, doing="marked received"
    )


def retrieval_task_mark_not_available(*, tenant: Tenant, actor: Any, task: RetrievalTask, note: str) -> RetrievalTask:
    """The department holds nothing for this request. What it answered is kept: QC and the requestor may ask."""
    require_staff(actor, tenant)
    note = _clean_text(note, field="note", label="The note")
    if not note:
        raise ServiceError(
            "Say what the department answered (for example: no imaging on file for these dates).", field="note"
        )
    return _close(
        tenant=tenant,
        actor=actor,
        task=task,
        status=RetrievalStatus.NOT_AVAILABLE,
        note=note,
        doing="marked as nothing held",
    )


def retrieval_task_cancel(*, tenant: Tenant, actor: Any, task: RetrievalTask, reason: str) -> RetrievalTask:
    """Stop waiting on a task asked in error or no longer needed; it stays on the request (no hard deletes)."""
    require_staff(actor, tenant)
    reason = _clean_text(reason, field="reason", label="The reason")
    if not reason:
        raise ServiceError("Say why the task is cancelled (for example: asked the wrong department).", field="reason")
    return _close(
        tenant=tenant, actor=actor, task=task, status=RetrievalStatus.CANCELLED, note=reason, doing="cancelled"
    )


@functools.cache
def _close_with_request_sql() -> str:
    """One statement: the request's open tasks close with the reason, each with its history row (the row
    django-simple-history writes on save: the task's columns, who and when), and the request no longer waits on
    retrieval. Built from the models' metadata once, so a new task field is carried into its history."""
    table = RetrievalTask._meta.db_table
    history = RetrievalTask.history.model
    shared = [f.column for f in history._meta.concrete_fields if not f.name.startswith("history_")]
    columns = ", ".join(f'"{column}"' for column in shared)
    return f"""
WITH closed AS (
    UPDATE "{table}" SET status = %(closed)s, closed_at = %(now)s, outcome_note = %(note)s
    WHERE tenant_id = %(tenant_id)s AND request_id = %(request_id)s AND status = %(open)s
    RETURNING *
), history AS (
    INSERT INTO "{history._meta.db_table}" ({columns}, history_date, history_change_reason, history_type,
                                            history_user_id)
    SELECT {columns}, %(now)s, %(change_reason)s, '~', %(actor_id)s FROM closed
)
UPDATE "{RecordRequest._meta.db_table}" SET retrieval_waiting_since = NULL
WHERE id = %(request_id)s AND tenant_id = %(tenant_id)s AND retrieval_waiting_since IS NOT NULL
"""  # noqa: S608 - names come from model metadata; every value is a query parameter


def retrieval_tasks_close_with_request(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, from_state: str, to_state: str, reason: str
) -> None:
    """workflow's transition hook (registered in FulfillmentConfig.ready): a request delivered, denied, cancelled or
    closed waits on no department any more, so its open tasks close in the transition's transaction with the
    reason ("Closed: request delivered on Mar 3, 2026.") instead of ageing on the retrieval page and firing the
    retrieval escalation. Running it again closes nothing more; the task's history names the transition's actor."""
    if to_state not in FINISHED_STATES:
        return
    now = clock.now()
    why = closed_with_request_reason(tenant=tenant, to_state=to_state, at=now)
    with connection.cursor() as cursor:
        cursor.execute(
            _close_with_request_sql(),
            {
                "tenant_id": tenant.pk,
                "request_id": record_request.pk,
                "now": now,
                "closed": RetrievalStatus.CLOSED_WITH_REQUEST.value,
                "open": RetrievalStatus.REQUESTED.value,
                "note": f"Closed: {why}.",
                "change_reason": "Closed with the request",
                "actor_id": actor.pk if getattr(actor, "is_authenticated", False) else None,
            },
        )
    record_request.retrieval_waiting_since = None


# --- Selectors ----------------------------------------------------------------------------------------------------


def retrieval_tasks_for(*, tenant: Tenant, record_request: RecordRequest) -> QuerySet[RetrievalTask]:
    """Every task of the request, oldest first, with the people it names."""
    return (
        RetrievalTask.objects.for_tenant(tenant)
        .filter(request=record_request)
        .select_related("owner", "requested_by")
        .order_by("requested_at", "id")
    )


def retrieval_task_for(*, tenant: Tenant, tracking_number: str, pk: int) -> RetrievalTask:
    """One task of one request of the tenant; RetrievalTask.DoesNotExist otherwise (another tenant's included)."""
    return (
        RetrievalTask.objects.for_tenant(tenant)
        .select_related("request")
        .get(pk=pk, request__tracking_number=tracking_number)
    )


def _ago(days: int) -> str:
    if days <= 0:
        return "today"
    if days == 1:
        return "yesterday"
    return f"{days} days ago"


@dataclass(frozen=True)
class RetrievalRow:
    """A task as staff read it: "Imaging requested 4 days ago", who owns it, and whether it is overdue."""

    task: RetrievalTask
    days_waiting: int | None  # calendar days of the tenant since requested; None once the task is no longer open
    overdue: bool

    @property
    def is_open(self) -> bool:
        return self.task.status == RetrievalStatus.REQUESTED

    @property
    def source_label(self) -> str:
        detail = f" ({self.task.source_detail})" if self.task.source_detail else ""
        return f"{self.task.get_source_display()}{detail}"

    @property
    def requested_ago(self) -> str:
        """'requested 4 days ago', for an open task; empty once it is closed."""
        return f"requested {_ago(self.days_waiting)}" if self.days_waiting is not None else ""

    @property
    def summary(self) -> str:
        if self.days_waiting is None:
            return f"{self.source_label} {RetrievalStatus(self.task.status).label.lower()}"
        return f"{self.source_label} {self.requested_ago}"

    @property
    def owner_label(self) -> str:
        return str(self.task.owner) if self.task.owner else "Nobody"


def retrieval_rows(
    tasks: list[RetrievalTask], *, tenant: Tenant, now: datetime | None = None, overdue_days: int | None = None
) -> list[RetrievalRow]:
    """Days waiting in the tenant's calendar days (as deadlines are, workflow/deadlines.py); overdue when older
    than the tenant's retrieval_overdue_days, the same test as the escalation condition."""
    today = local_date(now or clock.now(), tenant)
    if overdue_days is None and any(task.status == RetrievalStatus.REQUESTED for task in tasks):
        overdue_days = policy_for(tenant).retrieval_overdue_days  # read only when a task can be overdue
    rows = []
    for task in tasks:
        if task.status == RetrievalStatus.REQUESTED:
            assert overdue_days is not None
            days = (today - local_date(task.requested_at, tenant)).days
            rows.append(RetrievalRow(task, days, days > overdue_days))
        else:
            rows.append(RetrievalRow(task, None, False))
    return rows


def retrieval_waiting(
    *,
    tenant: Tenant,
    record_request: RecordRequest | None = None,
    owner: Any | None = None,
    now: datetime | None = None,
) -> list[RetrievalRow]:
    """What we are waiting on: the open tasks of the tenant's open requests (or of one request, or one owner's),
    oldest first. Two queries (the tasks with their request, patient and owner; the tenant's policy) whatever the
    length."""
    tasks = (
        RetrievalTask.objects.for_tenant(tenant)
        .filter(status=RetrievalStatus.REQUESTED, request__state__in=[str(s) for s in RETRIEVAL_STATES])
        .select_related("request", "request__patient", "owner")
        .order_by("requested_at", "id")
    )
    if record_request is not None:
        tasks = tasks.filter(request=record_request)
    if owner is not None:
        tasks = tasks.filter(owner=owner)
    return retrieval_rows(list(tasks), tenant=tenant, now=now)
