"""Restricted requests and break-glass access (docs/security.md, "Restricted requests and break-glass").

A request is *restricted* when it carries a sensitive category (42 CFR Part 2, mental health, HIV, ...: docs/domain.md,
"Sensitive categories") and its tenant has `restricted_requests_need_break_glass` on (the default). Its pages
open only for its assignee. A supervisor or admin who is not the assignee may break the glass: they give a reason,
and a `BreakGlassGrant` lets them open the request for `BREAK_GLASS_MINUTES`. The grant and its access event are
written in one transaction, and the break-glass report (reporting/break_glass.py) lists every grant for review.

Who uses this: `RestrictedRequestMixin` (workflow/views/restricted.py) on every staff page under
/requests/<tracking_number>/..., the queue (to mask names of rows the user cannot open) and the request API for
staff sessions. An integration client has no assignment: its tokens see restricted requests only with the explicit
`restricted` scope, and without it those requests are missing from every answer (`without_restricted`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from roi import clock
from roi.audit import access_record, client_address
from roi.choices import SUPERVISING_ROLES, AccessAction
from roi.errors import NotPermitted, ServiceError
from roi.models import Tenant
from roi.tenancy import role_in
from workflow.models import BreakGlassGrant, RecordRequest

# How long a grant lets its user open the request: long enough to deal with the emergency, short enough that the
# access stays tied to it.
BREAK_GLASS_MINUTES = 60
# A reason shorter than this says nothing a reviewer can check ("urgent", "needed").
BREAK_GLASS_REASON_MIN_LENGTH = 20


def request_is_restricted(*, tenant: Tenant, record_request: RecordRequest) -> bool:
    return bool(tenant.restricted_requests_need_break_glass and record_request.sensitive_categories)


def without_restricted(queryset: QuerySet[RecordRequest], *, tenant: Tenant) -> QuerySet[RecordRequest]:
    """The same requests less the restricted ones (`request_is_restricted`, as a filter): what an integration
    client's token without the `restricted` scope may see (workflow/api/views.py)."""
    if not tenant.restricted_requests_need_break_glass:
        return queryset
    return queryset.filter(sensitive_categories=[])


@dataclass(frozen=True)
class RequestAccess:
    """Whether the user may open the request's pages, and why: `grant` is the break-glass grant they open it under
    (None for an unrestricted request or its assignee)."""

    allowed: bool
    restricted: bool
    grant: BreakGlassGrant | None = None
    can_break_glass: bool = False


def active_grant(*, tenant: Tenant, user: Any, record_request: RecordRequest) -> BreakGlassGrant | None:
    return (
        BreakGlassGrant.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk, user_id=user.pk, expires_at__gt=clock.now())
        .order_by("-expires_at")
        .first()
    )


def request_access(*, tenant: Tenant, user: Any, record_request: RecordRequest) -> RequestAccess:
    """The rule for staff pages: an unrestricted request opens for every staff member of the tenant; a restricted
    one for its assignee, and for anyone else only under a break-glass grant that has not run out. Only supervisors
    and admins may ask for a grant. An unassigned restricted request opens for nobody until someone claims it."""
    if not request_is_restricted(tenant=tenant, record_request=record_request):
        return RequestAccess(allowed=True, restricted=False)
    if record_request.assignee_id is not None and record_request.assignee_id == user.pk:
        return RequestAccess(allowed=True, restricted=True)
    can_break_glass = role_in(user, tenant) in SUPERVISING_ROLES
    grant = active_grant(tenant=tenant, user=user, record_request=record_request) if can_break_glass else None
    return RequestAccess(allowed=grant is not None, restricted=True, grant=grant, can_break_glass=can_break_glass)


def restricted_request_ids(*, tenant: Tenant, user: Any, record_requests: Sequence[Any]) -> set[int]:
    """Of these requests (a queue page's rows: anything with pk, assignee_id and sensitive_categories), the ids the
    user may not open: at most one query, for the grants, whatever the number of rows. The queue shows these rows
    without the patient's name."""
    if not tenant.restricted_requests_need_break_glass:
        return set()
    candidates = {rr.pk for rr in record_requests if rr.sensitive_categories and rr.assignee_id != user.pk}
    if not candidates or role_in(user, tenant) not in SUPERVISING_ROLES:
        return candidates
    granted = set(
        BreakGlassGrant.objects.for_tenant(tenant)
        .filter(request_id__in=candidates, user_id=user.pk, expires_at__gt=clock.now())
        .values_list("request_id", flat=True)
    )
    return candidates - granted


def break_glass_grant(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, reason: str, request: HttpRequest | None = None
) -> BreakGlassGrant:
    """Let a supervisor or admin open a restricted request outside their assignment for BREAK_GLASS_MINUTES. The
    grant and its access event (action break_glass, the reason in its detail) are written together or not at all.
    `request` is the HTTP request, for the address recorded with both."""
    reason = " ".join(reason.split())
    if role_in(actor, tenant) not in SUPERVISING_ROLES:
        raise NotPermitted("Only supervisors and admins may open a restricted request by break-glass.")
    if not request_is_restricted(tenant=tenant, record_request=record_request):
        raise ServiceError("This request is not restricted: open it without break-glass.")
    if len(reason) < BREAK_GLASS_REASON_MIN_LENGTH:
        raise ServiceError(
            f"Give a reason of at least {BREAK_GLASS_REASON_MIN_LENGTH} characters: why you need this request now.",
            field="reason",
        )
    now = clock.now()
    with transaction.atomic():
        grant = BreakGlassGrant.objects.create(
            tenant=tenant,
            request=record_request,
            user=actor,
            reason=reason,
            granted_at=now,
            expires_at=now + timedelta(minutes=BREAK_GLASS_MINUTES),
            ip_address=client_address(request),
        )
        access_record(
            tenant=tenant,
            actor=actor,
            action=AccessAction.BREAK_GLASS,
            request=request,
            obj=grant,
            request_id=record_request.pk,
            patient_id=record_request.patient_id,
            detail=f"until {grant.expires_at.isoformat(timespec='minutes')}: {reason}",
        )
    return grant


def grant_expiry_label(grant: BreakGlassGrant, tenant: Tenant) -> str:
    """HH:MM in the tenant's time zone, for the banner on the request page."""
    expires: datetime = grant.expires_at.astimezone(tenant.tzinfo)
    return f"{expires:%H:%M}"
