"""Platform models shared by every app: users, tenants and memberships, API tokens, access events.

Tenant-owned models in the apps inherit `TenantOwned`, which gives them the non-null tenant foreign key and the
`for_tenant()` queryset that the base view and API classes apply.
"""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from roi.choices import US_STATES, AccessAction, Role


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not a known time zone (for example America/Chicago).") from None


class User(AbstractUser):
    """A staff member or platform operator. What they may do in a tenant comes from their Membership."""

    class Meta:
        ordering = ["last_name", "first_name", "username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class Tenant(models.Model):
    """A hospital or health system: one covered entity whose data no other tenant ever sees."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(max_length=64, default="America/New_York", validators=[validate_timezone])
    jurisdiction = models.CharField(
        max_length=2, choices=US_STATES, help_text="US state whose release-of-information rules apply."
    )
    internal_target_business_days = models.PositiveSmallIntegerField(
        default=5, help_text="Internal turnaround target, in business days from receipt."
    )
    # Printed on letters: how requestors reach the release-of-information office.
    him_department_name = models.CharField(max_length=200, default="Health Information Management")
    him_address = models.CharField(max_length=300, blank=True)
    him_phone = models.CharField(max_length=40, blank=True)
    him_fax = models.CharField(max_length=40, blank=True)
    him_email = models.EmailField(blank=True)
    privacy_officer = models.CharField(max_length=200, blank=True, help_text="Name or title for complaints.")
    duplicate_window_days = models.PositiveSmallIntegerField(
        default=90, help_text="Requests for the same patient by the same requestor within this many days are flagged."
    )
    deficiency_follow_up_days = models.PositiveSmallIntegerField(
        default=7, help_text="When the next action on a deficiency exception falls due."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant: Tenant | int) -> TenantQuerySet:
        tenant_id = tenant if isinstance(tenant, int) else tenant.pk
        return self.filter(tenant_id=tenant_id)


class TenantOwned(models.Model):
    """Base for every tenant-owned table: a non-null tenant and a queryset that starts from it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class Membership(TenantOwned):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_one_per_tenant")]
        ordering = ["tenant__name"]

    def __str__(self) -> str:
        return f"{self.user} - {self.get_role_display()} at {self.tenant}"


class ApiToken(TenantOwned):
    """A credential for one integration client, scoped to one tenant and acting as one service user.

    Only a SHA-256 digest of the key is stored; the key itself is shown once when the token is created.
    """

    name = models.CharField(max_length=100)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_tokens")
    prefix = models.CharField(max_length=12, help_text="First characters of the key, to recognise it in lists.")
    key_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}...)"

    @staticmethod
    def digest(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def generate_key() -> str:
        return "roi_" + secrets.token_urlsafe(32)


class AccessEvent(TenantOwned):
    """Who looked at which PHI, when and from where. Append-only: the database refuses UPDATE and DELETE."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=200, help_text="User name or portal requestor at the time.")
    action = models.CharField(max_length=40, choices=AccessAction.choices)
    # Plain ids rather than foreign keys: roi sits below the apps that own requests and patients,
    # and an access record must outlive any change to what it points at.
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    request_id = models.BigIntegerField(null=True, blank=True)
    patient_id = models.BigIntegerField(null=True, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "patient_id", "at"], name="access_patient_idx"),
            models.Index(fields=["tenant", "request_id", "at"], name="access_request_idx"),
            models.Index(fields=["tenant", "actor", "at"], name="access_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.get_action_display()}"
