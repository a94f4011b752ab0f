"""Reads for the request workflow. Every selector takes the tenant and returns rows of that tenant only."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from roi.models import Membership, Tenant
from workflow.choices import OPEN_STATES
from workflow.models import RecordRequest, RequestTransition

QUEUE_SORTS = {
    "due": ("legal_due_date", "received_at", "id"),
    "-due": ("-legal_due_date", "-received_at", "-id"),
    "received": ("received_at", "id"),
    "-received": ("-received_at", "-id"),
}


def request_queue(
    *,
    tenant: Tenant,
    state: str | None = None,
    open_only: bool = False,
    assignee: Any = None,
    unassigned: bool = False,
    sort: str = "due",
) -> QuerySet[RecordRequest]:
    queryset = RecordRequest.objects.for_tenant(tenant).select_related("patient", "requestor", "assignee")
    if open_only:
        queryset = queryset.filter(state__in=OPEN_STATES)
    elif state:
        queryset = queryset.filter(state=state)
    if unassigned:
        queryset = queryset.filter(assignee__isnull=True)
    elif assignee is not None:
        queryset = queryset.filter(assignee=assignee)
    return queryset.order_by(*QUEUE_SORTS.get(sort, QUEUE_SORTS["due"]))


def request_for_staff(*, tenant: Tenant, tracking_number: str) -> RecordRequest:
    """One request of the tenant, with its parties; raises RecordRequest.DoesNotExist otherwise."""
    return (
        RecordRequest.objects.for_tenant(tenant)
        .select_related("patient", "requestor", "assignee", "qc_passed_by")
        .get(tracking_number=tracking_number)
    )


def request_timeline(*, tenant: Tenant, record_request: RecordRequest) -> QuerySet[RequestTransition]:
    return (
        RequestTransition.objects.for_tenant(tenant)
        .filter(request=record_request)
        .select_related("actor")
        .order_by("-at", "-id")
    )


def request_history(*, record_request: RecordRequest) -> Any:
    return record_request.history.select_related("history_user").order_by("-history_date")[:50]


def tenant_staff(*, tenant: Tenant) -> QuerySet[Membership]:
    return (
        Membership.objects.for_tenant(tenant)
        .filter(is_active=True)
        .select_related("user")
        .order_by("user__last_name", "user__first_name")
    )
