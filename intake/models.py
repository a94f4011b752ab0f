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
    AuthorizationKind,
    AuthorizationPurpose,
    DayKind,
    DocumentKind,
    DocumentSource,
    IdentityMethod,
    LegalDocumentType,
    LetterKind,
    NoticeEvent,
    Part2CourtOrder,
    Part2Finding,
    Part2Use,
)
from roi.models import TenantOwned
from workflow.choices import RequestorKind, RequestType, SensitiveCategory
from workflow.models import Patient, RecordRequest


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


class RepresentativeAuthority(TenantOwned):
    """Proof that a person may act for the patient (45 CFR 164.502(g)): a guardian, a health care agent under a power
    of attorney, a parent of a minor, an executor. The authority is a document received and a named staff member who
    checked it, never a tick: the request relying on it (IntakeReview.representative) and an authorization signed by
    the representative (Authorization.representative) point here, and the release gate checks it again at release."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="representatives")
    name = models.CharField(max_length=200, help_text="The representative, as the document names them.")
    authority_type = models.CharField(max_length=30, choices=AuthorityType.choices)
    document = models.ForeignKey(
        IntakeDocument,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The guardianship papers, power of attorney, letters testamentary or birth certificate.",
    )
    ends_on = models.DateField(
        null=True, blank=True, help_text="When the authority ends, if the document says (a minor's 18th birthday)."
    )
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    # A supervisor's decision not to treat this person as the representative (164.502(g)(5)): a reasonable belief of
    # abuse, neglect or endangerment by them. Every request relying on them is refused from then on.
    declined_at = models.DateTimeField(null=True, blank=True)
    declined_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    declined_reason = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-verified_at", "-id"]
        indexes = [models.Index(fields=["tenant", "patient"], name="representative_patient_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_authority_type_display().lower()})"

    @property
    def is_verified(self) -> bool:
        return self.document_id is not None and self.verified_by_id is not None


class Authorization(TenantOwned):
    """A signed permission to release the patient's records, as a record of its own: a HIPAA authorization
    (164.508) or a patient's written directive to a third party (164.524(c)(3)(ii)). Who signed it and when, until
    when, whom it names, the document it is on. Requests rely on it (IntakeReview.authorization); a written
    revocation is recorded against it once (Revocation) and stops every release under it from then on."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="authorizations")
    kind = models.CharField(max_length=20, choices=AuthorizationKind.choices)
    document = models.ForeignKey(
        IntakeDocument, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="The signed form."
    )
    signer_name = models.CharField(max_length=200)
    signed_on = models.DateField()
    representative = models.ForeignKey(
        RepresentativeAuthority,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="authorizations",
        help_text="Set when a personal representative signed it (164.508(c)(1)(vi)).",
    )
    expires_on = models.DateField(null=True, blank=True)
    expiration_event = models.CharField(max_length=200, blank=True)
    expiration_event_occurred_on = models.DateField(
        null=True, blank=True, help_text="Recorded when the expiration event is known to have occurred."
    )
    recipient = models.CharField(max_length=300, help_text="Who it names as the recipient.")
    covers_psychotherapy_notes = models.BooleanField(
        default=False, help_text="An authorization for psychotherapy notes (164.508(a)(2)); it covers nothing else."
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-signed_on", "-id"]
        indexes = [models.Index(fields=["tenant", "patient"], name="authorization_patient_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_on__isnull=True) | models.Q(expires_on__gte=models.F("signed_on")),
                name="authorization_expires_after_signed",
            )
        ]

    @property
    def word(self) -> str:
        """What staff and letters call it: "directive" or "authorization"."""
        return "directive" if self.kind == AuthorizationKind.DIRECTIVE else "authorization"

    def __str__(self) -> str:
        return f"{self.word.capitalize()} signed {self.signed_on:%b %-d, %Y} by {self.signer_name}, naming {self.recipient}"


class Revocation(TenantOwned):
    """The patient's written revocation of an authorization or directive (164.508(b)(5)): effective when received,
    except for disclosures already made in reliance on it. Recorded once, against the authorization, with the
    written revocation; every request relying on the authorization is stopped by it (fulfillment.revocations)."""

    authorization = models.OneToOneField(Authorization, on_delete=models.PROTECT, related_name="revocation")
    received_on = models.DateField(help_text="When the written revocation reached the organisation.")
    document = models.ForeignKey(
        IntakeDocument,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The written revocation (empty only for revocations recorded before they were records).",
    )
    note = models.CharField(max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-recorded_at", "-id"]

    def __str__(self) -> str:
        return f"Revocation of {self.authorization_id} received {self.received_on}"


class IntakeReview(TenantOwned):
    """What the specialist confirmed while looking at the request's documents: the standardized checklist.

    Each field is a fact the specialist attests to; intake/rules.py turns the set into deficiencies, each with its
    code, plain-language message and citation. Blank or False means "not confirmed", never "not needed". Facts that
    are records of their own (the authorization relied on, the personal representative's proven authority) are
    linked, not ticked.
    """

    request = models.OneToOneField(RecordRequest, on_delete=models.PROTECT, related_name="intake_review")

    # Identity of the requestor, 45 CFR 164.514(h); a personal representative's authority, 164.502(g).
    identity_verified = models.BooleanField(default=False)
    identity_method = models.CharField(max_length=30, choices=IdentityMethod.choices, blank=True)
    representative = models.ForeignKey(
        RepresentativeAuthority, null=True, blank=True, on_delete=models.PROTECT, related_name="reviews"
    )

    # The authorization (164.508) or directive (164.524(c)(3)(ii)) the request relies on.
    authorization = models.ForeignKey(
        Authorization, null=True, blank=True, on_delete=models.PROTECT, related_name="reviews"
    )

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

    # 42 CFR Part 2 records asked for by a third party: used against the patient? (2.12(d), 2.33), and the subpart E
    # court order with the findings it states.
    part2_use_against_patient = models.CharField(max_length=3, choices=Part2Use.choices, blank=True)
    part2_proceedings_consent = models.BooleanField(
        default=False, help_text="The patient's separate written consent to use the records in the proceeding."
    )
    part2_court_order = models.CharField(max_length=4, choices=Part2CourtOrder.choices, blank=True)
    part2_order_findings = ArrayField(
        models.CharField(max_length=30, choices=Part2Finding.choices), default=list, blank=True
    )
    part2_order_scope = models.CharField(
        max_length=300, blank=True, help_text="What the order covers, as it says (records, dates, recipients)."
    )

    # HIPAA authorization core elements, 164.508(c)(1); the signature, dates, expiry and recipient are on the
    # Authorization record.
    auth_describes_information = models.BooleanField(default=False)
    auth_names_discloser = models.BooleanField(default=False)
    auth_names_recipient = models.BooleanField(default=False)
    auth_states_purpose = models.BooleanField(default=False)
    auth_representative_authority_described = models.BooleanField(default=False)
    # Required statements, 164.508(c)(2), and plain language, (c)(3).
    auth_right_to_revoke_statement = models.BooleanField(default=False)
    auth_conditioning_statement = models.BooleanField(default=False)
    auth_redisclosure_statement = models.BooleanField(default=False)
    auth_plain_language = models.BooleanField(default=False)
    # Defects only a reader of the form can see, 164.508(b)(2)(iv)-(v).
    auth_improperly_combined = models.BooleanField(default=False)
    auth_known_false = models.BooleanField(default=False)
    # Conditioning treatment, payment, enrollment or eligibility on signing, where (b)(4) does not allow it.
    auth_conditions_benefits = models.BooleanField(default=False)
    # Marketing and sale of PHI, 164.508(a)(3)-(4): what the authorization is for and its remuneration statement.
    auth_purpose = models.CharField(max_length=20, choices=AuthorizationPurpose.choices, blank=True)
    auth_remuneration_involved = models.BooleanField(
        default=False, help_text="Marketing: the organisation is paid by a third party for it, 164.508(a)(3)(ii)."
    )
    auth_remuneration_statement = models.BooleanField(default=False)

    # A 164.512 basis (intake.bases): each element's answer by its key ("met"/"not_met" for a supervisor's decision,
    # the path chosen, True for a confirmation), and who last recorded a decision, when.
    basis_answers = models.JSONField(default=dict, blank=True)
    basis_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    basis_decided_at = models.DateTimeField(null=True, blank=True)

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


class ConsentRule(models.Model):
    """A state's rule for a sensitive category (HIV, mental health, genetic, reproductive): the bases on which its law
    lets records of that category go without the patient's specific consent. Every other basis needs the consent on
    file (intake.rules.sensitive_deficiencies), and the checklist, letters and the release gate cite this rule.

    Platform data (no tenant), like JurisdictionRule: the rule is the state's. Seeded rules are examples marked
    unverified until someone checks the statute."""

    jurisdiction = models.CharField(max_length=2)
    category = models.CharField(max_length=30, choices=SensitiveCategory.choices)
    not_needed_for = ArrayField(
        models.CharField(max_length=30),
        default=list,
        blank=True,
        help_text="Bases (intake.rules basis codes: treatment, legal, public_health...) that need no specific consent.",
    )
    description = models.CharField(max_length=300)
    citation = models.CharField(max_length=200)
    verified = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["jurisdiction", "category"]
        constraints = [
            models.UniqueConstraint(
                fields=["jurisdiction", "category"],
                condition=models.Q(is_active=True),
                name="consent_rule_one_active_per_category",
            )
        ]

    def __str__(self) -> str:
        return f"{self.jurisdiction} {self.get_category_display()}: {self.citation}"


class Extension(TenantOwned):
    """The one extension a request may have (164.524(b)(2)(ii), 164.528(c)(1)(ii)), with the notice that announced it."""

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


def inbound_message_path(instance: InboundMessage, filename: str) -> str:
    return _private_path("inbound", instance, filename)


class InboundMessage(TenantOwned):
    """An email or fax-to-email message already taken in, so a re-run of the ingestion never doubles a request."""

    message_key = models.CharField(
        max_length=64, help_text="SHA-256 of the Message-ID with the message's content, or of the raw bytes."
    )
    message_id_digest = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the Message-ID alone: another message reusing it is flagged."
    )
    channel = models.CharField(max_length=10)
    sender = models.CharField(max_length=300, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField()
    request = models.ForeignKey(RecordRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # The message as received, for a message that became a request (a failed one keeps it in FailedIntake.raw).
    raw = models.FileField(upload_to=inbound_message_path, max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "message_key"], name="inbound_message_once")]
        indexes = [models.Index(fields=["tenant", "message_id_digest"], name="inbound_message_id_idx")]


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
