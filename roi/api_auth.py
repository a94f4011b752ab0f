"""API authentication and the tenant permission. Kept apart from roi/api.py because DRF imports these classes
while its own views module is loading (settings DEFAULT_AUTHENTICATION_CLASSES), so they must not import it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from roi import rls
from roi.choices import STAFF_ROLES
from roi.models import ApiToken, Tenant
from roi.tenancy import role_in


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>`. The key maps to one tenant and one service user; revoked keys fail."""

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: use 'Token <key>'.")
        key = header[1].decode(errors="replace")
        digest = ApiToken.digest(key)
        with rls.lookup_scope(digest):  # the one token whose key the caller holds, whichever tenant it is in
            token = (
                ApiToken.objects.select_related("user", "tenant")
                .filter(key_digest=digest, revoked_at__isnull=True)
                .first()
            )
        if token is None or not token.user.is_active or not token.tenant.is_active:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        # The rest of the call acts for the token's tenant (until roi.tenancy.TenantMiddleware ends the request).
        rls.activate(rls.Scope(tenant_id=token.tenant_id))
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


def api_tenant(request: Request) -> Tenant | None:
    if isinstance(request.auth, ApiToken):
        return request.auth.tenant
    return getattr(request._request, "tenant", None)


class IsTenantMember(permissions.BasePermission):
    """The caller acts in a tenant where they hold one of the view's `required_roles`."""

    message = "You have no access to this organisation's requests."

    def has_permission(self, request: Request, view: Any) -> bool:
        tenant = api_tenant(request)
        if tenant is None or not request.user or not request.user.is_authenticated:
            return False
        return role_in(request.user, tenant) in getattr(view, "required_roles", STAFF_ROLES)


class CanReadApiSchema(IsTenantMember):
    """The API's description (/api/schema/) and its docs page (/api/docs/): for whoever may call the API, staff
    signed in or an API token, unless the deployment publishes them (API_SCHEMA_PUBLIC, docs/running.md). The
    schema holds no rows, but it maps every endpoint, parameter and error of a system with PHI for whoever asks;
    integrators read it with the token they are given."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return settings.API_SCHEMA_PUBLIC or super().has_permission(request, view)
