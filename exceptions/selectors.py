from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce

from exceptions.models import EscalationEvent, ExceptionEpisode
from roi.choices import SUPERVISING_ROLES
from roi.models import Tenant


def open_episode(*, tenant: Tenant, request_id: int) -> ExceptionEpisode | None:
    return (
        ExceptionEpisode.objects.for_tenant(tenant)
        .select_related("owner", "opened_by")
        .filter(request_id=request_id, resolved_at__isnull=True)
        .first()
    )


def episodes_for_request(*, tenant: Tenant, request_id: int) -> QuerySet[ExceptionEpisode]:
    return (
        ExceptionEpisode.objects.for_tenant(tenant)
        .select_related("owner", "opened_by", "resolved_by")
        .filter(request_id=request_id)
        .order_by("-opened_at")
    )


# --- The escalations inbox ---------------------------------------------------------------------------------------

# The inbox lists at most this many escalations to acknowledge (most urgent first) and says how many more match: a
# supervisor narrows with the filters rather than scrolling thousands.
INBOX_LIMIT = 200


def escalations_visible_to(*, tenant: Tenant, user: Any, role: str) -> QuerySet[EscalationEvent]:
    """Supervisors see every escalation of the tenant; a specialist sees those about requests assigned to them or
    whose exception they own (the people the rule's 'owner' notification goes to)."""
    queryset = EscalationEvent.objects.for_tenant(tenant).select_related(
        "rule", "request", "request__patient", "request__assignee", "acknowledged_by"
    )
    if role not in SUPERVISING_ROLES:
        queryset = queryset.filter(Q(request__assignee=user) | Q(episode__owner=user))
    return queryset


@dataclass(frozen=True)
class InboxFilters:
    """What the supervisor narrowed the inbox to; every field unset means "any"."""

    rule_id: int | None = None
    older_than_days: int | None = None  # fired more than this many days ago
    state: str = ""  # the request's state now
    assignee_id: int | None = None
    unassigned: bool = False


def escalations_pending(
    *, tenant: Tenant, user: Any, role: str, filters: InboxFilters, now: datetime
) -> QuerySet[EscalationEvent]:
    """The escalations still waiting for someone (neither acknowledged nor closed with their request), narrowed by
    the filters, the highest level first and the oldest first within a level."""
    queryset = escalations_visible_to(tenant=tenant, user=user, role=role).filter(
        acknowledged_at__isnull=True, closed_at__isnull=True
    )
    if filters.rule_id is not None:
        queryset = queryset.filter(rule_id=filters.rule_id)
    if filters.older_than_days is not None:
        queryset = queryset.filter(fired_at__lt=now - timedelta(days=filters.older_than_days))
    if filters.state:
        queryset = queryset.filter(request__state=filters.state)
    if filters.unassigned:
        queryset = queryset.filter(request__assignee__isnull=True)
    elif filters.assignee_id is not None:
        queryset = queryset.filter(request__assignee_id=filters.assignee_id)
    return queryset.order_by("-level", "fired_at", "id")


def escalations_done(*, tenant: Tenant, user: Any, role: str, limit: int = 100) -> QuerySet[EscalationEvent]:
    """The latest escalations dealt with: acknowledged by someone, or closed with their request."""
    return (
        escalations_visible_to(tenant=tenant, user=user, role=role)
        .filter(Q(acknowledged_at__isnull=False) | Q(closed_at__isnull=False))
        .order_by(Coalesce("acknowledged_at", "closed_at").desc(), "-id")[:limit]
    )
