"""Platform writes: integration clients and their API tokens, the idle limit of staff sessions, and which members
are designated as licensed health care professionals."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.text import slugify

from roi import clock
from roi.audit import access_record, history_stamp
from roi.choices import INTEGRATION_ROLES, AccessAction, ApiScope, Role
from roi.errors import NotPermitted, ServiceError
from roi.models import ApiToken, IntegrationClient, Membership, Tenant, User
from roi.tenancy import role_in


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


# --- Licensed health care professionals (45 CFR 164.524(a)(3), (a)(4)) ---------------------------------------------
# Reviewable denials rest on a licensed health care professional's determination, and their review on another one's.
# Who is one is the organisation's statement, made by a tenant admin about someone else: fulfillment.denials checks
# the designation when a denial is determined, when a reviewer is chosen and when the review is decided.


def _member_for_update(tenant: Tenant, member_user: Any) -> Membership:
    membership = (
        Membership.objects.for_tenant(tenant)
        .select_for_update(of=("self",))
        .filter(user=member_user)
        .select_related("user")
        .first()
    )
    if membership is None:
        raise ServiceError("Staff member not found.")
    return membership


def licensed_professional_designate(*, tenant: Tenant, actor: Any, member_user: Any, credential: str) -> Membership:
    """A tenant admin designates a member as a licensed health care professional, naming the licence
    (`credential`); designating again records a changed licence. Refused for the admin's own membership: a
    designation is someone else's word, not a self-attestation."""
    if role_in(actor, tenant) != Role.ADMIN:
        raise NotPermitted("Only a tenant admin designates licensed health care professionals.")
    credential = " ".join((credential or "").split())
    if not credential:
        raise ServiceError(
            "Say which licence this person holds (profession, state and number), so the designation can be checked.",
            field="credential",
        )
    if len(credential) > 200:
        raise ServiceError("Describe the licence in 200 characters or fewer.", field="credential")
    with transaction.atomic():
        membership = _member_for_update(tenant, member_user)
        if membership.user_id == getattr(actor, "pk", None):
            raise NotPermitted(
                "You cannot designate yourself: another tenant admin of this organisation designates you, so that the "
                "designation is not a self-attestation."
            )
        if not (membership.is_active and membership.user.is_active):
            raise ServiceError(f"{membership.user} is no longer an active member of this organisation.")
        membership.is_licensed_professional = True
        membership.licensed_credential = credential
        membership.licensed_designated_by = actor
        membership.licensed_designated_at = clock.now()
        history_stamp(membership, actor)
        membership.save(
            update_fields=[
                "is_licensed_professional",
                "licensed_credential",
                "licensed_designated_by",
                "licensed_designated_at",
            ]
        )
    return membership


def licensed_professional_remove(*, tenant: Tenant, actor: Any, member_user: Any) -> Membership:
    """A tenant admin removes a designation (a licence lapsed, someone left). Denials already determined or reviewed
    keep their record; a review this person has not yet decided can no longer be decided by them. The history keeps
    who designated, who removed and when."""
    if role_in(actor, tenant) != Role.ADMIN:
        raise NotPermitted("Only a tenant admin removes a licensed health care professional's designation.")
    with transaction.atomic():
        membership = _member_for_update(tenant, member_user)
        if not membership.is_licensed_professional:
            raise ServiceError(f"{membership.user} is not designated as a licensed health care professional.")
        membership.is_licensed_professional = False
        membership.licensed_credential = ""
        membership.licensed_designated_by = None
        membership.licensed_designated_at = None
        history_stamp(membership, actor)
        membership.save(
            update_fields=[
                "is_licensed_professional",
                "licensed_credential",
                "licensed_designated_by",
                "licensed_designated_at",
            ]
        )
    return membership


# --- Integration clients and their API tokens ---------------------------------------------------------------------
# An integration is its own kind of account (roi.models.IntegrationClient), never a person's: a tenant admin creates
# it and issues, rotates and revokes its tokens on the Integrations page (roi/views/integrations.py); an operator
# may issue one from the shell (`manage.py create_api_token`, actor None). Every change writes an
# `integration_change` access event in its transaction, so the audit pages show who gave which system what access.

API_TOKEN_DEFAULT_DAYS = 90
API_TOKEN_MAX_DAYS = 365
# After a rotation the old key keeps working this long, so that the integration can switch to the new key without
# an outage; revoking the old token ends it at once.
API_TOKEN_ROTATION_GRACE_HOURS = 24
OPERATOR_LABEL = "operator (manage.py)"


def _require_integration_admin(actor: Any, tenant: Tenant) -> None:
    """Tenant admins manage their organisation's integrations. `None` is an operator at the shell (manage.py), and a
    platform operator (superuser) may act too: both already hold more than this grants."""
    if actor is None or getattr(actor, "is_superuser", False):
        return
    if role_in(actor, tenant) != Role.ADMIN:
        raise NotPermitted("Only a tenant admin manages integration clients and their tokens.")


def _integration_event(*, tenant: Tenant, actor: Any, obj: Any, detail: str, request: HttpRequest | None) -> None:
    access_record(
        tenant=tenant,
        actor=actor,
        action=AccessAction.INTEGRATION_CHANGE,
        request=request,
        obj=obj,
        detail=detail,
        actor_label=None if actor is not None else OPERATOR_LABEL,
    )


def _service_username(tenant: Tenant, name: str) -> str:
    """A readable, unique user name for a client's service account ('api.riverside.epic-interface'): it is what
    the access events of the client's calls name."""
    base = f"api.{tenant.slug}.{slugify(name)[:60] or 'client'}"
    if User.objects.filter(username=base).exists():
        base = f"{base}.{secrets.token_hex(3)}"
    return base


def integration_client_create(
    *,
    tenant: Tenant,
    actor: Any,
    name: str,
    description: str = "",
    role: str = Role.SPECIALIST,
    request: HttpRequest | None = None,
) -> IntegrationClient:
    """A new integration client with its service account: no usable password, no membership, never staff. It can do
    nothing until a token is issued to it."""
    _require_integration_admin(actor, tenant)
    name = " ".join((name or "").split())
    description = " ".join((description or "").split())
    if not name:
        raise ServiceError("Name the integration (for example 'Epic interface').", field="name")
    if len(name) > 100:
        raise ServiceError("Give a name of 100 characters or fewer.", field="name")
    if len(description) > 300:
        raise ServiceError("Give a description of 300 characters or fewer.", field="description")
    if role not in dict(INTEGRATION_ROLES):
        raise ServiceError(
            "Choose whose permissions its calls have: a release specialist's or a supervisor's.", field="role"
        )
    taken = ServiceError(f"An integration client named '{name}' already exists: choose another name.", field="name")
    if IntegrationClient.objects.for_tenant(tenant).filter(name__iexact=name).exists():
        raise taken
    try:
        with transaction.atomic():
            service_user = User(
                username=_service_username(tenant, name), first_name=name[:150], is_service_account=True
            )
            service_user.set_unusable_password()
            service_user.save()
            client = IntegrationClient(
                tenant=tenant,
                name=name,
                description=description,
                role=role,
                service_user=service_user,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            history_stamp(client, actor)
            client.save()
            _integration_event(
                tenant=tenant,
                actor=actor,
                obj=client,
                detail=f"created integration client '{name}' ({dict(INTEGRATION_ROLES)[role].lower()} permissions)",
                request=request,
            )
    except IntegrityError:  # the same name created at the same moment
        raise taken from None
    return client


def integration_client_set_active(
    *, tenant: Tenant, actor: Any, client: IntegrationClient, active: bool, request: HttpRequest | None = None
) -> IntegrationClient:
    """Deactivate a client (every token it holds stops answering at once: 401) or activate it again (its tokens that
    have neither expired nor been revoked work again)."""
    _require_integration_admin(actor, tenant)
    with transaction.atomic():
        current = IntegrationClient.objects.for_tenant(tenant).select_for_update().filter(pk=client.pk).first()
        if current is None:
            raise ServiceError("That integration client does not exist.")
        if current.is_active == active:
            return current
        current.is_active = active
        history_stamp(current, actor)
        current.save(update_fields=["is_active"])
        verb = "activated" if active else "deactivated"
        _integration_event(
            tenant=tenant,
            actor=actor,
            obj=current,
            detail=f"{verb} integration client '{current.name}'",
            request=request,
        )
    return current


def _clean_scopes(scopes: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(scope.strip() for scope in scopes if scope and scope.strip()))
    unknown = [scope for scope in chosen if scope not in ApiScope.values]
    if unknown:
        raise ServiceError(f"Unknown scope '{unknown[0]}': choose from {', '.join(ApiScope.values)}.", field="scopes")
    if not chosen:
        raise ServiceError(
            f"Choose at least one scope ({', '.join(ApiScope.values)}): a token without one could do nothing.",
            field="scopes",
        )
    return [scope for scope in ApiScope.values if scope in chosen]  # one order, whatever the form's


def _clean_days(days: Any) -> int:
    try:
        number = int(days)
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= API_TOKEN_MAX_DAYS:
        raise ServiceError(
            f"A token expires after 1 to {API_TOKEN_MAX_DAYS} days: give a whole number of days in that range "
            f"({API_TOKEN_DEFAULT_DAYS} is usual).",
            field="days",
        )
    return number


def _token_create(
    *, tenant: Tenant, actor: Any, client: IntegrationClient, scopes: list[str], expires_at: datetime
) -> tuple[ApiToken, str]:
    key = ApiToken.generate_key()
    token = ApiToken.objects.create(
        tenant=tenant,
        client=client,
        user_id=client.service_user_id,
        prefix=key[:8],
        key_digest=ApiToken.digest(key),
        scopes=scopes,
        expires_at=expires_at,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    return token, key


def _client_for_token(tenant: Tenant, client: IntegrationClient) -> IntegrationClient:
    current = IntegrationClient.objects.for_tenant(tenant).select_for_update().filter(pk=client.pk).first()
    if current is None:
        raise ServiceError("That integration client does not exist.")
    if not current.is_active:
        raise ServiceError(f"'{current.name}' is deactivated: activate it before giving it a token.")
    return current


def api_token_issue(
    *,
    tenant: Tenant,
    actor: Any,
    client: IntegrationClient,
    scopes: Iterable[str],
    days: Any = API_TOKEN_DEFAULT_DAYS,
    request: HttpRequest | None = None,
) -> tuple[ApiToken, str]:
    """Issue a token to an integration client: the scopes it may use, expiring after `days` (1 to 365). Returns the
    token and its key, which is never stored and cannot be shown again."""
    _require_integration_admin(actor, tenant)
    chosen, lifetime = _clean_scopes(scopes), _clean_days(days)
    with transaction.atomic():
        current = _client_for_token(tenant, client)
        token, key = _token_create(
            tenant=tenant,
            actor=actor,
            client=current,
            scopes=chosen,
            expires_at=clock.now() + timedelta(days=lifetime),
        )
        _integration_event(
            tenant=tenant,
            actor=actor,
            obj=token,
            detail=f"issued token {token.prefix} to '{current.name}': {', '.join(chosen)}; "
            f"expires {token.expires_at.isoformat(timespec='minutes')}",
            request=request,
        )
    return token, key


def _token_for_update(tenant: Tenant, token: ApiToken) -> ApiToken:
    current = (
        ApiToken.objects.for_tenant(tenant)
        .select_for_update(of=("self",))
        .select_related("client", "replaced_by")
        .filter(pk=token.pk)
        .first()
    )
    if current is None:
        raise ServiceError("That token does not exist.")
    return current


def api_token_rotate(
    *, tenant: Tenant, actor: Any, token: ApiToken, request: HttpRequest | None = None
) -> tuple[ApiToken, str]:
    """Replace a token with a new key of the same client and scopes, valid as long as the old one was issued for.
    The old key keeps working for API_TOKEN_ROTATION_GRACE_HOURS (or until it expired anyway, if sooner), so the
    integration can switch without an outage; revoke it to end it at once."""
    _require_integration_admin(actor, tenant)
    with transaction.atomic():
        old = _token_for_update(tenant, token)
        now = clock.now()
        if old.revoked_at is not None:
            raise ServiceError("This token was revoked: issue a new token instead of rotating it.")
        if old.expires_at <= now:
            raise ServiceError("This token has expired: issue a new token instead of rotating it.")
        if old.replaced_by is not None:
            raise ServiceError(
                f"This token was already rotated: its replacement is {old.replaced_by.prefix}... Rotate that one."
            )
        client = _client_for_token(tenant, old.client)
        issued_for = round((old.expires_at - old.created_at) / timedelta(days=1))
        new, key = _token_create(
            tenant=tenant,
            actor=actor,
            client=client,
            scopes=list(old.scopes),
            expires_at=now + timedelta(days=min(max(issued_for, 1), API_TOKEN_MAX_DAYS)),
        )
        old.expires_at = min(old.expires_at, now + timedelta(hours=API_TOKEN_ROTATION_GRACE_HOURS))
        old.replaced_by = new
        old.save(update_fields=["expires_at", "replaced_by"])
        _integration_event(
            tenant=tenant,
            actor=actor,
            obj=old,
            detail=f"rotated token {old.prefix} of '{client.name}': replaced by {new.prefix} (expires "
            f"{new.expires_at.isoformat(timespec='minutes')}); the old key works until "
            f"{old.expires_at.isoformat(timespec='minutes')}",
            request=request,
        )
    return new, key


def api_token_revoke(*, tenant: Tenant, actor: Any, token: ApiToken, request: HttpRequest | None = None) -> ApiToken:
    """Stop a token now: its next call answers 401. Revoking is final; issue a new token to give access again."""
    _require_integration_admin(actor, tenant)
    with transaction.atomic():
        current = _token_for_update(tenant, token)
        if current.revoked_at is not None:
            raise ServiceError(f"Token {current.prefix}... was already revoked.")
        current.revoked_at = clock.now()
        current.revoked_by = actor if getattr(actor, "is_authenticated", False) else None
        current.save(update_fields=["revoked_at", "revoked_by"])
        _integration_event(
            tenant=tenant,
            actor=actor,
            obj=current,
            detail=f"revoked token {current.prefix} of '{current.client.name}'",
            request=request,
        )
    return current


# --- Notification preferences ----------------------------------------------------------------------------------------


def membership_daily_digest_set(*, tenant: Tenant, actor: Any, enabled: bool) -> Membership:
    """The member's own choice: a daily email listing their unread notifications in this organisation
    (roi.notifications.notification_digests_write). Only for oneself; the membership's history keeps each change."""
    with transaction.atomic():
        membership = (
            Membership.objects.for_tenant(tenant)
            .select_for_update()
            .filter(user_id=getattr(actor, "pk", 0), is_active=True)
            .first()
        )
        if membership is None:
            raise NotPermitted("You have no role in this organisation.")
        if membership.daily_digest != enabled:
            membership.daily_digest = enabled
            history_stamp(membership, actor)
            membership.save(update_fields=["daily_digest"])
    return membership
