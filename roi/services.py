"""Platform writes: API tokens for integration clients."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from roi import clock
from roi.errors import ServiceError
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
