"""Platform writes: API tokens for integration clients, the idle limit of staff sessions, and which members are
designated as licensed health care professionals."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from roi import clock
from roi.audit import history_stamp
from roi.choices import Role
from roi.errors import NotPermitted, ServiceError
from roi.models import ApiToken, Membership, Tenant
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


# --- Licensed health care professionals (45 CFR 164.524(a)(3), (a)(4)) ---------------------------------------------
# Reviewable denials rest on a licensed health care professional's determination, and their review on another one's.
# Who is one is the organisation's statement, made by a tenant admin about someone else: fulfillment.denials checks
# the designation when a denial is determined, when a reviewer is chosen and when the review is decided.


def _member_for_update(tenant: Tenant, member_user: Any) -> Membership:
    membership = (
        Membership.objects.for_tenant(tenant)
        .select_for_update(of=("self",))
        .filter(user_id=getattr(member_user, "pk", None))
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
