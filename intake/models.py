"""Intake: documents received with a request, the specialist's checklist review, the deadline rule table, extensions,
letters, and the bookkeeping that keeps every channel safe to retry (idempotency keys, ingested messages, failed
intakes)."""

from __future__ import annotations

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from simple_history.models import HistoricalRecords

from intake.choices import (
    AuthorityType,
    DayKind,
    DocumentKind,
    DocumentSource,
    IdentityMethod,
    LegalDocumentType,
    LetterKind,
    NoticeEvent,
)
from roi.models import TenantOwned
from workflow.choices import RequestorKind, RequestType, SensitiveCategory
from workflow.models import RecordRequest


def _private_path(prefix: str, instance: TenantOwned, filename: str) -> str:
    """Server-generated names under MEDIA_ROOT, per tenant; the uploaded name is kept only as data."""
    suffix = PurePosixPath(filename).suffix.lower()[:10]
    return f"tenant-{instance.tenant_id}/{prefix}/{uuid.uuid4().hex}{suffix}"


def document_path(instance: IntakeDocument, filename: str) -> str:
    return _private_path("documents", instance, filename)


def letter_path(instance: Letter, filename: str) -> str:
    return _private_path("letters", instance, filename)


class IntakeDocument(TenantOwned):
    """A document received with a request (the scanned request, an authorization, an ID...)."""

    request = models.ForeignKey(RecordRequest, on_delete=models.PROTECT, related_name="intake_documents")
    kind = models.CharField(max_length=30, choices=DocumentKind.choices)
    source = models.CharField(max_length=20, choices=DocumentSource.choices)
    file = models.FileField(upload_to=document_path, max_length=300)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, help_text="Detected from the content, not the name.")
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    page_count = models.PositiveIntegerField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField()
    note = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["uploaded_at", "id"]
        indexes = [models.Index(fields=["tenant", "request"], name="intake_document_request_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.original_name}"


class IntakeReview(TenantOwned):
    """What the specialist confirmed while looking at the request's documents: the standardized checklist.

    Each field is a fact the specialist attests to; intake/rules.py turns the set into deficiencies, each with its
    code, plain-language message and citation. Blank or False means "not confirmed", never "not needed".
    """

    request = models.OneToOneField(RecordRequest, on_delete=models.PROTECT, related_name="intake_review")

    # Identity and authority of the requestor, 45 CFR 164.514(h), 164.502(g).
    identity_verified = models.BooleanField(default=False)
    identity_method = models.CharField(max_length=30, choices=IdentityMethod.choices, blank=True)
    authority_type = models.CharField(max_length=30, choices=AuthorityType.choices, blank=True)
    authority_document_received = models.BooleanField(default=False)

    # A patient's written directive to send their records to a third party, 164.524(c)(3)(ii).
    directive_in_writing_signed = models.BooleanField(default=False)
    directive_names_recipient_and_destination = models.BooleanField(default=False)

    # Continuity of care: a treating provider, 164.506(c).
    provider_treating_relationship_confirmed = models.BooleanField(default=False)

    # Subpoenas and court orders, 164.512(e).
    legal_document_type = models.CharField(max_length=20, choices=LegalDocumentType.choices, blank=True)
    satisfactory_assurance = models.BooleanField(default=False, help_text="Notice to the patient, 164.512(e)(1)(ii)(A)")
    qualified_protective_order = models.BooleanField(default=False, help_text="164.512(e)(1)(ii)(B), (v)")
    court_order_signed_by_judge = models.BooleanField(default=False)

    # HIPAA authorization core elements, 164.508(c)(1).
    auth_describes_information = models.BooleanField(default=False)
    auth_names_discloser = models.BooleanField(default=False)
    auth_names_recipient = models.BooleanField(default=False)
    auth_states_purpose = models.BooleanField(default=False)
    auth_expiration_date = models.DateField(null=True, blank=True)
    auth_expiration_event = models.CharField(max_length=200, blank=True)
    auth_signed = models.BooleanField(default=False)
    auth_signature_date = models.DateField(null=True, blank=True)
    auth_signed_by_representative = models.BooleanField(default=False)
    auth_representative_authority_described = models.BooleanField(default=False)
    # Required statements, 164.508(c)(2), and plain language, (c)(3).
    auth_right_to_revoke_statement = models.BooleanField(default=False)
    auth_conditioning_statement = models.BooleanField(default=False)
    auth_redisclosure_statement = models.BooleanField(default=False)
    auth_plain_language = models.BooleanField(default=False)
    # Defects, 164.508(b)(2)-(3).
    auth_revoked = models.BooleanField(default=False)
    auth_improperly_combined = models.BooleanField(default=False)
    auth_known_false = models.BooleanField(default=False)
    auth_covers_psychotherapy_notes = models.BooleanField(default=False)
    auth_psychotherapy_combined_with_other = models.BooleanField(default=False)

    # Sensitive categories requested whose specific consent is on file.
    consents_received = ArrayField(
        models.CharField(max_length=30, choices=SensitiveCategory.choices), default=list, blank=True
    )

    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"Intake review of {self.request_id}"


class JurisdictionRule(models.Model):
    """A legal clock: how many days a request of a type has in a jurisdiction. The shortest applicable clock wins.

    Platform data (no tenant): the rules of a jurisdiction are the same for every hospital in it. Tenant admins
    see them on the deadline rules page; federal rules have jurisdiction "US".
    """

    jurisdiction = models.CharField(max_length=2, help_text="US for federal rules, else the state's code.")
    request_type = models.CharField(max_length=30, choices=RequestType.choices)
    requestor_kinds = ArrayField(
        models.CharField(max_length=30, choices=RequestorKind.choices),
        default=list,
        blank=True,
        help_text="Empty: every requestor kind.",
    )
    days = models.PositiveSmallIntegerField()
    day_kind = models.CharField(max_length=10, choices=DayKind.choices, default=DayKind.CALENDAR)
    extension_days = models.PositiveSmallIntegerField(default=0, help_text="0: no extension allowed.")
    description = models.CharField(max_length=300)
    citation = models.CharField(max_length=200)
    verified = models.BooleanField(
        default=False, help_text="False for seeded examples that must be checked against the primary text."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["jurisdiction", "request_type", "days"]

    def __str__(self) -> str:
        return (
            f"{self.jurisdiction} {self.get_request_type_display()}: {self.days} {self.get_day_kind_display().lower()}"
        )


class Extension(TenantOwned):
    """The one extension a request may have (164.524(b)(2)(ii), 164.528(c)(2)), with the notice that announced it."""

    request = models.OneToOneField(RecordRequest, on_delete=models.PROTECT, related_name="extension")
    original_due_date = models.DateField()
    new_due_date = models.DateField()
    reason = models.TextField()
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "granted_at"], include=["request"], name="extension_granted_idx")]

    def __str__(self) -> str:
        return f"Extension of {self.request_id} to {self.new_due_date}"


class Letter(TenantOwned):
    """A generated letter (PDF) kept with its request: what the requestor was told, and when."""

    request = models.ForeignKey(RecordRequest, on_delete=models.PROTECT, related_name="letters")
    kind = models.CharField(max_length=20, choices=LetterKind.choices)
    file = models.FileField(upload_to=letter_path, max_length=300)
    sha256 = models.CharField(max_length=64)
    generated_at = models.DateTimeField()
    generated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Letters from before the outbox recorded their at-most-once email here; newer letters leave these empty and
    # point at the outbox row that tells the requestor (its emailed_at, attempts and last error are the truth).
    emailed_to = models.EmailField(blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    notification = models.ForeignKey(
        "roi.Notification", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What the letter said, for the timeline and the portal (deficiency codes, new due date...).
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-generated_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.request_id}"


class IdempotencyKey(TenantOwned):
    """An API client's Idempotency-Key: a retried call returns the request the first call created."""

    key = models.CharField(max_length=200)
    body_sha256 = models.CharField(max_length=64)
    request = models.ForeignKey(RecordRequest, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="idempotency_key_unique_per_tenant")]


class InboundMessage(TenantOwned):
    """An email or fax-to-email message already taken in, so a re-run of the ingestion never doubles a request."""

    message_key = models.CharField(max_length=64, help_text="SHA-256 of the Message-ID, or of the raw bytes.")
    channel = models.CharField(max_length=10)
    sender = models.CharField(max_length=300, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField()
    request = models.ForeignKey(RecordRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "message_key"], name="inbound_message_once")]


def failed_intake_path(instance: FailedIntake, filename: str) -> str:
    return _private_path("failed-intake", instance, filename)


class FailedIntake(TenantOwned):
    """A message that could not become a request, kept whole with the reason: nothing received is dropped."""

    source = models.CharField(max_length=20, choices=DocumentSource.choices)
    raw = models.FileField(upload_to=failed_intake_path, max_length=300)
    sender = models.CharField(max_length=300, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    reason = models.TextField()
    received_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M} {self.sender}: {self.reason[:60]}"


class RequestorMessageTemplate(TenantOwned):
    """An organisation's own wording for one requestor email (intake.notices), in one language, replacing the
    default template while active. Subject and body are Django template syntax rendered from a fixed context that
    holds no PHI (intake.notices.CONTEXT_HELP); intake.notices.template_check refuses one that would not render or
    has no {{ status_link }}."""

    event = models.CharField(max_length=20, choices=NoticeEvent.choices)
    language = models.CharField(max_length=8, choices=settings.LANGUAGES)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["event", "language"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "event", "language"], name="requestor_message_template_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} ({self.language})"
