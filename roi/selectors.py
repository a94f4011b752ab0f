"""Platform reads: a tenant's supervisors, the members a tenant admin designated as licensed health care
professionals, and the organisation's integration clients with their tokens."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet

from roi.choices import SUPERVISING_ROLES
from roi.models import ApiToken, IntegrationClient, Membership, Tenant


def supervisors(*, tenant: Tenant | int) -> list[Any]:
    """The users who supervise the tenant's work now (supervisors and admins, active members and active accounts):
    who hears of what no one else owns."""
    memberships = Membership.objects.for_tenant(tenant).filter(
        role__in=SUPERVISING_ROLES, is_active=True, user__is_active=True
    )
    return [membership.user for membership in memberships.select_related("user").order_by("user_id")]


def licensed_professionals(*, tenant: Tenant) -> QuerySet[Membership]:
    """The tenant's active members designated as licensed health care professionals, by name: who may determine a
    reviewable denial and review one (fulfillment.denials offers only them)."""
    return (
        Membership.objects.for_tenant(tenant)
        .filter(is_active=True, is_licensed_professional=True, user__is_active=True)
        .select_related("user", "licensed_designated_by")
        .order_by("user__last_name", "user__first_name", "user__username")
    )


def licensed_professional(*, tenant: Tenant, user: Any, lock: bool = False) -> Membership | None:
    """`user`'s membership if they are a designated licensed professional of the tenant now, else None. With `lock`,
    the row stays locked to the caller's transaction, so a designation removed at the same moment waits for the
    caller's decision to commit, or wins before it and refuses it."""
    if user is None or getattr(user, "pk", None) is None:
        return None
    rows = Membership.objects.for_tenant(tenant).filter(user_id=user.pk)
    if lock:
        rows = rows.select_for_update()
    membership = rows.first()
    if membership is None or not (membership.is_active and membership.is_licensed_professional):
        return None
    if not user.is_active:
        return None
    return membership


def api_tokens(*, tenant: Tenant) -> QuerySet[ApiToken]:
    """The tenant's tokens, newest first, with what the Integrations page shows of each."""
    return (
        ApiToken.objects.for_tenant(tenant)
        .select_related("client", "created_by", "revoked_by", "replaced_by")
        .order_by("-created_at", "-id")
    )


def integration_clients(*, tenant: Tenant) -> QuerySet[IntegrationClient]:
    """The tenant's integration clients by name, each with its tokens (`tokens.all()`, newest first): two queries
    whatever their number (the Integrations page)."""
    return (
        IntegrationClient.objects.for_tenant(tenant)
        .select_related("created_by")
        .prefetch_related(Prefetch("tokens", queryset=api_tokens(tenant=tenant)))
        .order_by("name", "id")
    )
