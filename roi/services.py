"""Platform writes: API tokens for integration clients."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from roi import clock
from roi.audit import history_stamp
from roi.choices import Role
from roi.errors import NotPermitted, ServiceError
from roi.models import ApiToken, Tenant
from roi.tenancy import role_in


def api_token_create(*, tenant: Tenant, user: Any, name: str) -> tuple[ApiToken, str]:
    """Create a token for an integration client acting as `user` in `tenant`. Returns the token and the key,
    which is never stored and cannot be shown again."""
    if role_in(user, tenant) is None:
        raise ServiceError(f"{user} has no active membership in {tenant}; add one before issuing a token.")
    key = ApiToken.generate_key()
    with transaction.atomic():
        token = ApiToken.objects.create(
            tenant=tenant,
            user=user,
            name=name.strip() or "integration",
            prefix=key[:8],
            key_digest=ApiToken.digest(key),
        )
    return token, key


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        token.save(update_fields=["revoked_at"])
    return token


def tenant_session_idle_set(*, tenant: Tenant, actor: Any, minutes: int) -> Tenant:
    """The organisation's idle limit for staff sessions (5 to 240 minutes), set by a tenant admin."""
    if role_in(actor, tenant) != Role.ADMIN:
        raise NotPermitted("Only a tenant admin may change how long idle sessions last.")
    if not 5 <= minutes <= 240:
        raise ServiceError("Give a number of minutes between 5 and 240.", field="session_idle_minutes")
    with transaction.atomic():
        current = Tenant.objects.select_for_update().get(pk=tenant.pk)
        current.session_idle_minutes = minutes
        history_stamp(current, actor)
        current.save(update_fields=["session_idle_minutes"])
    return current
