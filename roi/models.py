"""Platform models shared by every app: users, tenants and memberships, integration clients and their API tokens,
access events.

Tenant-owned models in the apps inherit `TenantOwned`, which gives them the non-null tenant foreign key and the
`for_tenant()` queryset that the base view and API classes apply.
"""

from __future__ import annotations

import hashlib
import secrets
import zoneinfo
from datetime import datetime
from typing import Self, TypeVar

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from simple_history.models import HistoricalRecords

from roi.choices import INTEGRATION_ROLES, US_STATES, AccessAction, ApiScope, Role


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not a known time zone (for example America/Chicago).") from None


def default_aging_band_limits() -> list[int]:
    """The default bands: 0-5, 6-10, 11-20, 21-30, over 30 days since receipt
    (docs/decisions/0004-deadlines-and-urgency.md)."""
    return [5, 10, 20, 30]


class User(AbstractUser):
    """A staff member or platform operator. What they may do in a tenant comes from their Membership.

    Or an integration client's service account (`is_service_account`): the actor its API calls are recorded as, in
    the transition log, the history and the access events, like any other actor. It is no person: it has no
    usable password and is neither staff nor superuser (a constraint), never gets a membership (a trigger,
    roi/migrations/0017), so it can neither sign in nor open a staff page; what it may do comes from its
    IntegrationClient and its token's scopes."""

    is_service_account = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["last_name", "first_name", "username"]
        constraints = [
            models.CheckConstraint(
                # make_password(None) starts with "!": a hash no password matches.
                condition=models.Q(is_service_account=False)
                | (
                    models.Q(password__startswith=UNUSABLE_PASSWORD_PREFIX)
                    & models.Q(is_staff=False)
                    & models.Q(is_superuser=False)
                ),
                name="service_account_never_signs_in",
            )
        ]

    def __str__(self) -> str:
        if self.is_service_account:
            return f"{self.first_name} (integration)"
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
    # Queues: aging bands by days since receipt (upper bounds of each band but the last), stalled work.
    aging_band_limits = ArrayField(
        models.PositiveSmallIntegerField(),
        default=default_aging_band_limits,
        help_text="Upper day of each aging band, ascending; the last band is everything older.",
    )
    stalled_after_days = models.PositiveSmallIntegerField(
        default=5, help_text="An open request with no activity for this many days is stalled."
    )
    priority_type_weights = models.JSONField(
        default=dict, blank=True, help_text="Extra priority points per request type, e.g. {'legal': 10}."
    )
    # Staff sessions (roi/sessions.py): signed out after this long without a request; never longer than
    # STAFF_SESSION_MAX_HOURS whatever the activity.
    session_idle_minutes = models.PositiveSmallIntegerField(
        default=15,
        validators=[MinValueValidator(5), MaxValueValidator(240)],
        help_text="Staff are signed out after this many minutes without activity (5 to 240).",
    )
    two_factor_for_staff = models.BooleanField(
        default=True,
        help_text="Specialists and supervisors sign in with a second factor. Tenant admins always must (roi/two_factor.py).",
    )
    # Requests with a sensitive category (42 CFR Part 2, mental health, HIV, ...) open only for their assignee;
    # anyone else needs break-glass (workflow/break_glass.py). Off: every staff member opens every request.
    restricted_requests_need_break_glass = models.BooleanField(
        default=True,
        help_text="Requests with a sensitive category open only for their assignee; supervisors and admins may "
        "break the glass with a reason, which is recorded and reported.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def aging_band_labels(self) -> list[str]:
        """'0-5', '6-10', ..., 'over 30' for the tenant's limits."""
        labels, start = [], 0
        for limit in self.aging_band_limits:
            labels.append(f"{start}-{limit}")
            start = limit + 1
        labels.append(f"over {start - 1}")
        return labels

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


_M = TypeVar("_M", bound=models.Model)


class TenantQuerySet(models.QuerySet[_M]):
    def for_tenant(self, tenant: Tenant | int) -> Self:
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
    # A licensed health care professional, as a tenant admin designated (roi.services.membership_licensed_designate):
    # who may determine a reviewable denial (45 CFR 164.524(a)(3)) and review one (164.524(a)(4)). A designation is
    # someone else's word, never the member's own; the history keeps every designation and removal.
    is_licensed_professional = models.BooleanField(default=False)
    licensed_credential = models.CharField(
        max_length=200, blank=True, help_text="Profession and licence, e.g. 'Psychiatrist, MD, California A-123456'."
    )
    licensed_designated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    licensed_designated_at = models.DateTimeField(null=True, blank=True)
    # The member's own choice (the notifications page): one email a day listing what is unread in this organisation
    # (roi.notifications.notification_digests_write, from beat).
    daily_digest = models.BooleanField(default=False)
    history = HistoricalRecords()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_one_per_tenant")]
        ordering = ["tenant__name"]

    def __str__(self) -> str:
        return f"{self.user} - {self.get_role_display()} at {self.tenant}"


class IntegrationClient(TenantOwned):
    """A system that calls the API for the organisation (an EHR interface, a vendor's portal): not a person. A tenant
    admin creates it on the Integrations page and issues it tokens; its calls act as its service account with
    `role` in the services, and only where a token's scopes allow (roi/api_auth.py). Deactivating it stops every
    token it holds at once. Clients are never deleted: access events and history point at their service account."""

    name = models.CharField(max_length=100, help_text="What it is, e.g. 'Epic interface' or 'Vendor portal'.")
    description = models.CharField(max_length=300, blank=True, help_text="Who runs it and whom to call about it.")
    role = models.CharField(
        max_length=20,
        choices=INTEGRATION_ROLES,
        default=Role.SPECIALIST,
        help_text="Whose permissions its calls have in the services: a specialist's, or a supervisor's (deny, "
        "assign to others).",
    )
    service_user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="integration_client", editable=False
    )
    # Empty for clients an operator created with `manage.py create_api_token`, or the migration from user tokens.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    is_active = models.BooleanField(default=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint("tenant", Lower("name"), name="integration_client_name_once"),
            models.CheckConstraint(
                condition=models.Q(role__in=[value for value, _ in INTEGRATION_ROLES]),
                name="integration_client_role_not_admin",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ApiToken(TenantOwned):
    """A credential of one integration client in one tenant: what it may do (`scopes`), until when (`expires_at`,
    always set), and whether it was revoked or rotated. Only a SHA-256 digest of the key is stored; the key is shown
    once when the token is issued.

    `user` repeats the client's service account: the token is read before its tenant is known (a lookup scope,
    roi/rls.py), where the client's own row is not visible yet."""

    client = models.ForeignKey(IntegrationClient, on_delete=models.PROTECT, related_name="tokens")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_tokens")
    prefix = models.CharField(max_length=12, help_text="First characters of the key, to recognise it in lists.")
    key_digest = models.CharField(max_length=64, unique=True)
    scopes = ArrayField(models.CharField(max_length=20, choices=ApiScope.choices))
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Rotation: the token issued in this one's place; this one then works only until its shortened expires_at.
    replaced_by = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaces")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(scopes__len__gt=0), name="api_token_has_a_scope"),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}... ({self.client_id})"

    @staticmethod
    def digest(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def generate_key() -> str:
        return "roi_" + secrets.token_urlsafe(32)

    def allows(self, scope: str) -> bool:
        return scope in self.scopes

    def status(self, now: datetime) -> str:
        """active, rotated (still working until expires_at), expired or revoked: for the Integrations page."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "rotated" if self.replaced_by_id is not None else "active"

    def scope_labels(self) -> list[str]:
        return [ApiScope(scope).label for scope in self.scopes]


class AccessEvent(TenantOwned):
    """Who looked at which PHI, when and from where. Append-only: the database refuses UPDATE and DELETE.

    Each tenant's events form a hash chain (roi/migrations/0008): a BEFORE INSERT trigger numbers the row, links it
    to the tenant's previous row (`prev_hash`) and seals its content (`row_hash`); `manage.py verify_audit_chain`
    recomputes the chain to detect a row edited, removed or inserted by someone who got past the append-only
    trigger. The application never sets these columns.
    """

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
    prev_hash = models.CharField(max_length=64, blank=True, editable=False)
    row_hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # The chain trigger reads a tenant's latest row; verification walks a tenant's rows in id order.
            models.Index(fields=["tenant", "id"], name="access_chain_idx"),
            models.Index(fields=["tenant", "patient_id", "at"], name="access_patient_idx"),
            models.Index(fields=["tenant", "request_id", "at"], name="access_request_idx"),
            models.Index(fields=["tenant", "actor", "at"], name="access_actor_idx"),
            # The dashboard's portal status views in a period.
            models.Index(fields=["tenant", "action", "at"], include=["request_id"], name="access_action_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.get_action_display()}"


class Notification(TenantOwned):
    """The outbox: an in-app notice for a staff member, an email, or both. Written in the same transaction as the
    event behind it, sent afterwards by a task that claims each row, so a crash neither loses nor doubles one."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    email_to = models.EmailField(blank=True, help_text="Send by email too (or only, without a recipient user).")
    kind = models.CharField(max_length=40)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    link = models.CharField(max_length=300, blank=True)
    # Makes writing the same notification twice (a retried job) a no-op.
    dedupe_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    email_claimed_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "dedupe_key"], name="notification_once")]
        indexes = [
            models.Index(fields=["tenant", "recipient", "read_at"], name="notification_inbox_idx"),
            models.Index(
                fields=["emailed_at"], name="notification_unsent_idx", condition=models.Q(emailed_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return self.subject


class StaffSession(models.Model):
    """A staff member's signed-in browser session, recorded at sign-in so that it can be listed and ended from the
    outside (an admin ending a user's sessions, a lost laptop). Platform table: one session may act in several of
    the user's organisations. The session itself lives in Django's session store under `session_key`."""

    class Ended(models.TextChoices):
        SIGNED_OUT = "signed_out", "Signed out"
        IDLE = "idle", "Idle timeout"
        MAX_AGE = "max_age", "Maximum session length"
        ENDED_BY_ADMIN = "ended_by_admin", "Ended by an admin"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_reason = models.CharField(max_length=20, choices=Ended.choices, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user"], name="staff_session_open_idx", condition=models.Q(ended_at__isnull=True))
        ]

    def __str__(self) -> str:
        return f"{self.user} since {self.created_at:%Y-%m-%d %H:%M}"


class PlatformAccess(models.Model):
    """One bypass of the tenant wall in the database (roi/rls.py `bypass()`): who, why and where, written before the
    bypass takes effect. Platform table, append-only for the app role."""

    at = models.DateTimeField(db_default=models.functions.Now())
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=300)
    where = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = "platform access (tenant wall bypass)"
        verbose_name_plural = "platform accesses (tenant wall bypasses)"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor or 'system'}: {self.reason}"
