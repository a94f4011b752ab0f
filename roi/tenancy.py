"""Tenancy: which tenant a staff request acts in, role checks, and the base class every staff page uses.

Every page goes through `TenantViewMixin`: it requires a login and an active membership, checks the role, and scopes
querysets with `for_tenant()` so that another tenant's object answers 404 exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone

from roi import rls
from roi.choices import STAFF_ROLES, Role
from roi.errors import NotPermitted
from roi.models import IntegrationClient, Membership, Tenant

SESSION_TENANT_KEY = "roi_tenant_id"
PLATFORM_ADMIN_PREFIX = "/platform-admin/"
# The organisation the platform admin acts for (its rows in the lists), chosen by the operator.
PLATFORM_TENANT_KEY = "platform_admin_tenant"


def role_in(user: Any, tenant: Tenant | int) -> str | None:
    """The user's active role in the tenant, or None. Cached on the user object for the life of the request.

    An integration client's service account has no membership: its role is its active client's, in the client's
    own tenant only (roi.models.IntegrationClient.role; its token's scopes are checked before, at the API)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    cache: dict[int, str | None] = user.__dict__.setdefault("_roi_roles", {})
    if tenant_id not in cache:
        if getattr(user, "is_service_account", False):
            rows: Any = IntegrationClient.objects.filter(
                service_user=user, tenant_id=tenant_id, is_active=True, tenant__is_active=True
            )
        else:
            rows = Membership.objects.filter(user=user, tenant_id=tenant_id, is_active=True, tenant__is_active=True)
        cache[tenant_id] = rows.values_list("role", flat=True).first()
    return cache[tenant_id]


def is_person(user: Any) -> bool:
    """A signed-in person, not an integration client's service account: who may be left responsible for work (an
    exception's owner), since they can sign in to do it."""
    return bool(getattr(user, "is_authenticated", False) and not getattr(user, "is_service_account", False))


def has_role(user: Any, tenant: Tenant | int, roles: Iterable[str]) -> bool:
    return role_in(user, tenant) in set(roles)


def require_staff(actor: Any, tenant: Tenant | int) -> None:
    """A service's first check: the actor works for the tenant, in any staff role."""
    if not has_role(actor, tenant, STAFF_ROLES):
        raise NotPermitted("You have no role in this organisation.")


class TenantMiddleware:
    """Sets request.tenant and request.membership for a logged-in staff user (None when they have no access), and
    the row-level security scope the rest of the request runs in (roi/rls.py): the session's tenant, or none.

    Every request starts with no scope and whatever it set ends with it, streamed response bodies included."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        boundary = rls.activate(rls.NOTHING)
        try:
            response = self._handle(request)
            if isinstance(response, StreamingHttpResponse) and not isinstance(response, FileResponse):  # no database
                response.streaming_content = rls.scoped_iterator(response.streaming_content, rls.current())  # type: ignore[arg-type]  # WSGI: never async
            return response
        finally:
            rls.deactivate(boundary)

    def _handle(self, request: HttpRequest) -> HttpResponseBase:
        request.tenant = None  # type: ignore[attr-defined]  # TenantMiddleware sets it
        request.membership = None  # type: ignore[attr-defined]  # TenantMiddleware sets it
        request.memberships = []  # type: ignore[attr-defined]  # TenantMiddleware sets it
        user = request.user
        if user.is_authenticated:
            chosen = request.session.get(SESSION_TENANT_KEY)
            # The user's own memberships, in every tenant (the own-user policy), read in the scope the page will most
            # likely act in, the organisation chosen last time: the scope then need not be sent twice. The filter on
            # the user keeps other members' rows of that organisation out.
            with rls.scope(rls.Scope(tenant_id=chosen if isinstance(chosen, int) else None, user_id=user.pk)):
                memberships = list(
                    Membership.objects.filter(user=user, is_active=True, tenant__is_active=True)
                    .select_related("tenant")
                    .order_by("tenant__name")
                )
            request.memberships = memberships  # type: ignore[attr-defined]  # TenantMiddleware sets it
            current = next((m for m in memberships if m.tenant_id == chosen), None)
            if current is None and memberships:
                current = memberships[0]
                request.session[SESSION_TENANT_KEY] = current.tenant_id
            if current is not None:
                request.tenant = current.tenant  # type: ignore[attr-defined]  # TenantMiddleware sets it
                request.membership = current  # type: ignore[attr-defined]  # TenantMiddleware sets it
                rls.activate(rls.Scope(tenant_id=current.tenant_id, user_id=user.pk))
            user.__dict__["_roi_roles"] = {m.tenant_id: m.role for m in memberships}
        if request.tenant is None:  # type: ignore[attr-defined]  # TenantMiddleware sets it
            return self.get_response(request)
        # Pages show times in the organisation's own time zone, the one its deadlines are computed in.
        timezone.activate(request.tenant.tzinfo)  # type: ignore[attr-defined]  # TenantMiddleware sets it
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

    def process_view(self, request: HttpRequest, view_func: Any, args: Any, kwargs: Any) -> None:
        """The platform admin (/platform-admin/, Django superusers past their second factor) acts for the one
        organisation the operator chose there (PLATFORM_TENANT_KEY, the Tenant list's action), recorded on every
        request. It never sees every tenant at once: the web processes hold no credential that could (roi/rls.py)."""
        if request.path.startswith(PLATFORM_ADMIN_PREFIX) and request.user.is_superuser:
            chosen = request.session.get(PLATFORM_TENANT_KEY)
            where = f"{request.method} {request.path}"[:300]
            reason = f"platform admin, acting for tenant {chosen}" if chosen else "platform admin"
            with rls.scope(rls.NOTHING):
                rls.record_bypass(reason=reason, actor=request.user, where=where)
            rls.activate(rls.Scope(tenant_id=chosen, user_id=request.user.pk))


def tenant_context(request: HttpRequest) -> dict[str, Any]:
    membership = getattr(request, "membership", None)
    return {
        "current_tenant": getattr(request, "tenant", None),
        "current_membership": membership,
        "memberships": getattr(request, "memberships", []),
        "is_supervisor": membership is not None and membership.role in (Role.SUPERVISOR, Role.ADMIN),
        # The two-factor pages show no navigation: nothing behind it opens before the second factor.
        "two_factor_pending": request.path.startswith("/2fa/"),
    }


class TenantViewMixin(LoginRequiredMixin):
    """Base for staff pages: login, an active membership, a role in `required_roles`, tenant-scoped querysets."""

    required_roles: frozenset[str] = STAFF_ROLES
    model: Any = None

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if request.membership is None:  # type: ignore[attr-defined]  # TenantMiddleware sets it
            return render(request, "no_membership.html", status=403)
        if request.membership.role not in self.required_roles:  # type: ignore[attr-defined]  # TenantMiddleware sets it
            raise PermissionDenied("Your role does not allow this page.")
        self.tenant: Tenant = request.tenant  # type: ignore[attr-defined]  # TenantMiddleware sets it
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        return self.model.objects.for_tenant(self.tenant)
