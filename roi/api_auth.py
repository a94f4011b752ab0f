"""API authentication, the tenant permission and the token scopes. Kept apart from roi/api.py because DRF imports
these classes while its own views module is loading (settings DEFAULT_AUTHENTICATION_CLASSES), so they must not
import it.

A token belongs to an integration client (roi.models.IntegrationClient), never to a person. Its calls act as the
client's service account with the client's role, only where the token's scopes allow; each call is an access event
naming the client and the token's prefix."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from roi import rls
from roi.audit import access_record
from roi.choices import STAFF_ROLES, AccessAction
from roi.models import ApiToken, IntegrationClient, Tenant
from roi.tenancy import role_in

# last_used_at is for the Integrations page ("is this token still in use?"), not an audit: the access events are.
# Written at most once a minute per token, so a busy interface costs no UPDATE per call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def client_label(client: IntegrationClient) -> str:
    """How access events name an integration client's calls (their actor is its service account)."""
    return f"{client.name} (integration client)"[:200]


def _refused(
    token: ApiToken, client: IntegrationClient, request: Request, message: str, why: str
) -> exceptions.AuthenticationFailed:
    """A known token that may no longer be used: recorded (a revoked key still being tried is worth knowing), then
    answered 401 with what to do."""
    with rls.tenant_scope(token.tenant_id):
        access_record(
            tenant=token.tenant,
            actor=token.user,
            action=AccessAction.API_CALL,
            request=request._request,
            obj=token,
            actor_label=client_label(client),
            detail=f"refused, {why}: {request.method} {request.path} with token {token.prefix}",
        )
    return exceptions.AuthenticationFailed(message)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Token <key>`. The key maps to one tenant and one integration client; unknown, expired and
    revoked keys, and those of a deactivated client or organisation, answer 401."""

    keyword = "Token"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header: use 'Token <key>'.")
        key = header[1].decode(errors="replace")
        digest = ApiToken.digest(key)
        tenant_id = rls.resolve_tenant(ApiToken, digest)  # the tenant of the token whose key the caller holds
        if tenant_id is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        with rls.tenant_scope(tenant_id):
            token = ApiToken.objects.select_related("user", "tenant").filter(key_digest=digest).first()
            if token is None or not token.tenant.is_active:
                raise exceptions.AuthenticationFailed("Invalid token.")
            client = IntegrationClient.objects.for_tenant(token.tenant_id).get(pk=token.client_id)
        if token.user_id != client.service_user_id or not token.user.is_service_account:
            # Only roi.services issues tokens, always to the client's own account; a row naming a person's account
            # (written past the services) acts for no one.
            raise exceptions.AuthenticationFailed("Invalid token.")
        now = timezone.now()
        if token.revoked_at is not None:
            raise _refused(
                token,
                client,
                request,
                f"This token was revoked on {token.revoked_at:%Y-%m-%d}. Ask your organisation's admin for a new one.",
                "revoked",
            )
        if token.expires_at <= now:
            raise _refused(
                token,
                client,
                request,
                f"This token expired on {token.expires_at:%Y-%m-%d}. Ask your organisation's admin for a new one "
                "(and rotate tokens before they expire).",
                "expired",
            )
        if not client.is_active:
            raise _refused(
                token,
                client,
                request,
                f"The integration client '{client.name}' is deactivated. Ask your organisation's admin.",
                "client deactivated",
            )
        # The rest of the call acts for the token's tenant (until roi.tenancy.TenantMiddleware ends the request).
        rls.activate(rls.Scope(tenant_id=token.tenant_id))
        token.client = client
        user = token.user
        user.__dict__["_roi_roles"] = {token.tenant_id: client.role}  # roi.tenancy.role_in, without a query
        access_record(
            tenant=token.tenant,
            actor=user,
            action=AccessAction.API_CALL,
            request=request._request,
            obj=token,
            actor_label=client_label(client),
            detail=f"{request.method} {request.path} with token {token.prefix}",
        )
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


def api_tenant(request: Request) -> Tenant | None:
    if isinstance(request.auth, ApiToken):
        return request.auth.tenant
    return getattr(request._request, "tenant", None)


class IsTenantMember(permissions.BasePermission):
    """The caller acts in a tenant where they hold one of the view's `required_roles` (an integration client: its
    role, roi.tenancy.role_in)."""

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


def required_scope(view: Any) -> str | None:
    """The scope the view declares for the operation being called (`token_scopes`: action name -> ApiScope), or
    None when it declares none: then no token may call it."""
    return getattr(view, "token_scopes", {}).get(getattr(view, "action", None))


class HasTokenScope(permissions.BasePermission):
    """A token may call an operation only if it holds the scope the operation declares; an operation that declares
    none is closed to tokens. Staff signed in through the browser have no token: their role decides, as on the
    pages."""

    message = "This operation is not open to integration clients."

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        if getattr(view, "action", "") is None:
            return True  # a method the route does not take: DRF answers 405 next, whatever the token
        needed = required_scope(view)
        if needed is None:
            self.message = "This operation is not open to integration clients."
            return False
        if token.allows(needed):
            return True
        self.message = (
            f"This token lacks the '{needed}' scope, which {request.method} {request.path} needs. Ask your "
            f"organisation's admin for a token with the '{needed}' scope (Integrations page)."
        )
        return False
