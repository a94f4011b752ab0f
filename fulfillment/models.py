"""Fulfillment: the records retrieved for a request, the release packet built from them, its quality control, its
delivery (and resends), the fee, the accounting-of-disclosures entry, and denials.

Each section below belongs to one module of the app (retrieval.py, packets.py, qc.py, delivery.py, fees.py,
disclosures.py, denials.py) and is changed with it. Facts that lower apps need (QC passed, delivery evidence,
denial basis, how long the request has waited on a department) are recorded on the RecordRequest by these
services; workflow's guards and exceptions' rules read them there (docs/decisions/0003-dependencies-point-one-way.md)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from simple_history.models import HistoricalRecords

from fulfillment.choices import (
    DenialReviewOutcome,
    DisclosurePurpose,
    ExclusionReason,
    FeeMethod,
    InvoiceKind,
    InvoiceStatus,
    PacketBuildState,
    PaymentMethod,
    QcOutcome,
    ReleaseAction,
    ResendReason,
    RetrievalSource,
    RetrievalStatus,
)
from intake.models import _private_path
from roi.models import Tenant, TenantOwned
from workflow.choices import DeliveryMethod, DenialBasis, RecordType, RequestorKind, RequestType, SensitiveCategory
from workflow.models import Patient, RecordRequest, Requestor

USER = settings.AUTH_USER_MODEL


def release_document_path(instance: ReleaseDocument, filename: str) -> str:
    return _private_path("release-documents", instance, filename)


def packet_path(instance: ReleasePacket, filename: str) -> str:
    return _private_path("packets", instance, filename)


def invoice_path(instance: Invoice, filename: str) -> str:
    return _private_path("invoices", instance, filename)


# --- Tenant policy (settings an admin changes) ----------------------------------------------------------------


class FulfillmentPolicy(models.Model):
    """A tenant's fulfillment settings. One row per tenant, created with these defaults on first use
    (fulfillment.policy.policy_for)."""

    tenant = models.OneToOneField(Tenant, on_delete=models.PROTECT, related_name="fulfillment_policy")
    qc_two_person_rule = models.BooleanField(
        default=True, help_text="The QC reviewer cannot be the person who built the packet."
    )
    retrieval_overdue_days = models.PositiveSmallIntegerField(
        default=5, help_text="A retrieval task open longer than this counts as overdue (and can drive escalations)."
    )
    download_link_days = models.PositiveSmallIntegerField(default=14, help_text="How long a download link works.")
    download_link_max_uses = models.PositiveSmallIntegerField(default=3, help_text="Downloads allowed per link.")
    # Fees (fees.py).
    # The right-of-access method (the patient rate, 45 CFR 164.524(c)(4)): the default staff see when they issue an
    # estimate or invoice for an individual's own copy; they may offer another method per request.
    access_fee_method = models.CharField(max_length=10, choices=FeeMethod.choices, default=FeeMethod.FLAT)
    access_flat_fee_cents = models.PositiveIntegerField(default=650, help_text="At most 650 ($6.50).")
    access_per_page_cents = models.PositiveIntegerField(
        default=0, help_text="Average-cost method: per page of a paper copy."
    )
    access_supplies_cents = models.PositiveIntegerField(default=0, help_text="Actual cost: media, paper.")
    access_labour_cents_per_page = models.PositiveIntegerField(
        default=0, help_text="Actual cost: copying labour per page of a paper copy."
    )
    # HHS access guidance: an electronic copy is never priced per page, whatever the method.
    access_labour_cents_electronic = models.PositiveIntegerField(
        default=0, help_text="Actual cost: labour to prepare an electronic copy, per request."
    )
    access_average_cents_electronic = models.PositiveIntegerField(
        default=0, help_text="Average-cost method: the standard amount per electronic copy."
    )
    postage_cents = models.PositiveIntegerField(default=0, help_text="Added when records go by mail.")
    accounting_fee_cents = models.PositiveIntegerField(
        default=0,
        help_text="A reasonable, cost-based fee for a second or later accounting of disclosures within 12 months, "
        "charged only after the individual is told of it in advance (a fee estimate) and may withdraw or modify the "
        "request (45 CFR 164.528(c)(2)). 0: never charged. The first accounting in 12 months is always free.",
    )
    require_prepayment_third_party = models.BooleanField(
        default=False, help_text="Third-party releases wait in 'payment pending' until the invoice is paid."
    )
    payment_instructions = models.TextField(
        blank=True,
        help_text="How to pay, printed on estimates and invoices (payee, address, card line). Empty: call the office.",
    )
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"Fulfillment policy of {self.tenant}"


# --- Retrieval (retrieval.py) ---------------------------------------------------------------------------------


class RetrievalTask(TenantOwned):
    """A request for records sent to one department or place: who owns it, since when we wait, what came back."""

    request = models.ForeignKey(RecordRequest, on_delete=models.PROTECT, related_name="retrieval_tasks")
    source = models.CharField(max_length=20, choices=RetrievalSource.choices)
    source_detail = models.CharField(max_length=200, blank=True, help_text="Department, facility or box number.")
    status = models.CharField(max_length=20, choices=RetrievalStatus.choices, default=RetrievalStatus.REQUESTED)
    owner = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    requested_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)
    # How an open task ended: when, and why nothing came back (nothing held) or why it was cancelled.
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome_note = models.TextField(blank=True, help_text="Why nothing is held, or why the task was cancelled.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["requested_at", "id"]
        indexes = [
            models.Index(fields=["tenant", "request"], name="retrieval_request_idx"),
            # "What are we waiting on": the tenant's open tasks, oldest first.
            models.Index(
                fields=["tenant", "requested_at", "id"],
                name="retrieval_open_idx",
                condition=models.Q(status="requested"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} for {self.request_id}"


# --- Documents and page exclusions (packets.py) ---------------------------------------------------------------


class ReleaseDocument(TenantOwned):
    """A retrieved document that may go into the release: its pages, what it is, and whether it is left out."""

    request = models.ForeignKey(RecordRequest, on_delete=models.PROTECT, related_name="release_documents")
    retrieval_task = models.ForeignKey(
        RetrievalTask, null=True, blank=True, on_delete=models.PROTECT, related_name="documents"
    )
    source = models.CharField(max_length=20, choices=RetrievalSource.choices)
    record_type = models.CharField(max_length=30, choices=RecordType.choices)
    service_date_from = models.DateField(null=True, blank=True)
    service_date_to = models.DateField(null=True, blank=True)
    sensitive_categories = ArrayField(
        models.CharField(max_length=30, choices=SensitiveCategory.choices), default=list, blank=True
    )
    # Pages that carry a sensitive category the rest of the document does not ({"first", "last", "category"}, 1-based
    # and inclusive; fulfillment.documents.release_document_pages_tag): leaving those pages out releases the rest.
    page_categories = models.JSONField(default=list, blank=True)
    file = models.FileField(upload_to=release_document_path, max_length=300)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, help_text="Detected from the content, not the name.")
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    page_count = models.PositiveIntegerField()
    patient_confirmed = models.BooleanField(
        default=False, help_text="Someone checked that every page is this patient's (QC asks)."
    )
    # Left out as a whole; page ranges are PageExclusion rows.
    excluded_reason = models.CharField(max_length=30, choices=ExclusionReason.choices, blank=True)
    excluded_note = models.CharField(max_length=300, blank=True)
    uploaded_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["uploaded_at", "id"]
        indexes = [models.Index(fields=["tenant", "request"], name="release_document_request_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(service_date_from__isnull=True)
                | models.Q(service_date_to__isnull=True)
                | models.Q(service_date_from__lte=models.F("service_date_to")),
                name="release_document_dates_ordered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_record_type_display()}: {self.original_name}"


class PageExclusion(TenantOwned):
    """Pages first..last (1-based, inclusive) of a document left out of the release, with the reason."""

    document = models.ForeignKey(ReleaseDocument, on_delete=models.PROTECT, related_name="exclusions")
    first_page = models.PositiveIntegerField()
    last_page = models.PositiveIntegerField()
    reason = models.CharField(max_length=30, choices=ExclusionReason.choices)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["first_page", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(first_page__gte=1) & models.Q(last_page__gte=models.F("first_page")),
                name="page_exclusion_range_valid",
            )
        ]

    def __str__(self) -> str:
        return f"pages {self.first_page}-{self.last_page} of {self.document_id}"


# --- Release packet (packets.py) ------------------------------------------------------------------------------


class ReleasePacket(TenantOwned):
    """One built version of the release: a PDF (cover sheet, then every included page stamped). Never changed once
    built; a rebuild is a new version. The version delivered is the one a Delivery points to."""

    request = models.ForeignKey(RecordRequest, on_delete=models.PROTECT, related_name="packets")
    version = models.PositiveIntegerField()
    file = models.FileField(upload_to=packet_path, max_length=300)
    sha256 = models.CharField(max_length=64)
    page_count = models.PositiveIntegerField(help_text="Every page of the PDF, the cover sheet included.")
    record_pages = models.PositiveIntegerField(help_text="Pages of records released (the cover sheet excluded).")
    recipient = models.CharField(max_length=300, help_text="As stamped on every page.")
    contents = models.JSONField(default=list, help_text="[{document, pages: [1, 2, ...]}] in packet order.")
    includes_part2 = models.BooleanField(default=False, help_text="Carries the 42 CFR Part 2 redisclosure notice.")
    built_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    built_at = models.DateTimeField()
    superseded_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["tenant", "request", "version"], name="packet_version_unique")]

    def __str__(self) -> str:
        return f"Packet v{self.version} of {self.request_id}"

    @property
    def document_ids(self) -> list[int]:
        """The ids of the documents in the packet, in packet order, each once."""
        ids: list[int] = []
        for item in self.contents or []:
            document = item.get("document") if isinstance(item, dict) else None
            if document is not None and int(document) not in ids:
                ids.append(int(document))
        return ids


class PacketBuild(TenantOwned):
    """A packet built in the background (fulfillment/packet_builds.py): a chart too big to lay out within a page
    load goes to a worker, and the request page shows its progress. At most one waits or runs per request."""

    request = models.ForeignKey(RecordRequest, on_delete=models.PROTECT, related_name="packet_builds")
    state = models.CharField(max_length=10, choices=PacketBuildState.choices, default=PacketBuildState.QUEUED)
    record_pages = models.PositiveIntegerField(help_text="Record pages to lay out, counted when it was asked for.")
    pages_done = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last progress from the worker.")
    finished_at = models.DateTimeField(null=True, blank=True)
    packet = models.ForeignKey(ReleasePacket, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    error = models.TextField(blank=True, help_text="Why it failed, as the requester is told.")

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["request"],
                condition=models.Q(state__in=["queued", "running"]),
                name="packet_build_one_at_a_time",
            )
        ]

    def __str__(self) -> str:
        return f"Packet build {self.pk} of {self.request_id} ({self.state})"

    @property
    def active(self) -> bool:
        return self.state in (PacketBuildState.QUEUED, PacketBuildState.RUNNING)

    @property
    def percent(self) -> int:
        return min(100, int(100 * self.pages_done / self.record_pages)) if self.record_pages else 0


# --- Quality control (qc.py) ----------------------------------------------------------------------------------


class QcReview(TenantOwned):
    """One QC review of one packet version: each check's answer, the outcome, and why it failed."""

    request = models.ForeignKey(RecordRequest, on_delete=models.PROTECT, related_name="qc_reviews")
    packet = models.ForeignKey(ReleasePacket, on_delete=models.PROTECT, related_name="qc_reviews")
    reviewer = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    reviewed_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=QcOutcome.choices)
    checks = models.JSONField(default=dict, help_text="{check code: true/false} as the reviewer answered.")
    failures = models.JSONField(default=list, help_text="[{code, message}] of every check that failed.")
    note = models.TextField(blank=True)
    # What a pass attested to (fulfillment.gate.release_facts): the release gate compares it with the facts at the
    # moment of release, and a difference voids the pass. Empty on reviews recorded before it was kept.
    release_facts = models.JSONField(default=dict, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-reviewed_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "reviewed_at"], include=["request", "outcome"], name="qc_review_at_idx")
        ]

    def __str__(self) -> str:
        return f"QC {self.outcome} of {self.packet_id}"


# --- Delivery and resends (delivery.py) -----------------------------------------------------------------------


class Delivery(TenantOwned):
    """A release sent: which packet version, how, where, with what evidence. A resend is a new Delivery pointing at
    the one it repeats, with its reason."""

    request = models.ForeignKey(RecordRequest, on_delete=models.PROTECT, related_name="deliveries")
    packet = models.ForeignKey(ReleasePacket, on_delete=models.PROTECT, related_name="deliveries")
    method = models.CharField(max_length=20, choices=DeliveryMethod.choices)
    destination = models.CharField(max_length=300, help_text="Email, fax number, postal address or who collected.")
    delivered_at = models.DateTimeField()
    delivered_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    # Evidence per method: fax confirmation, mail tracking number, pickup ID check; portal and email links are
    # DownloadLink rows.
    fax_confirmation = models.CharField(max_length=100, blank=True)
    mail_tracking_number = models.CharField(max_length=100, blank=True)
    pickup_id_checked_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    pickup_id_description = models.CharField(max_length=200, blank=True, help_text="Which ID was shown.")
    evidence = models.CharField(max_length=300, help_text="One line of evidence, as the request records it.")
    resend_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="resends")
    resend_reason = models.CharField(max_length=30, choices=ResendReason.choices, blank=True)
    resend_note = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-delivered_at", "-id"]
        indexes = [
            models.Index(
                fields=["tenant", "delivered_at"],
                include=["request", "resend_of", "resend_reason"],
                name="delivery_at_idx",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(resend_of__isnull=True, resend_reason="")
                | (models.Q(resend_of__isnull=False) & ~models.Q(resend_reason="")),
                name="delivery_resend_has_reason",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()} of {self.request_id} on {self.delivered_at:%Y-%m-%d}"


class DownloadLink(TenantOwned):
    """A time-limited, limited-use link to one delivered packet (portal download, email link). Only the SHA-256 of
    the token is stored; the token itself goes out once, in the link."""

    delivery = models.ForeignKey(Delivery, on_delete=models.PROTECT, related_name="links")
    token_digest = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    max_uses = models.PositiveSmallIntegerField()
    uses = models.PositiveSmallIntegerField(default=0)
    sent_to = models.CharField(max_length=300, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    issued_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # The link email is sent after commit from memory (the token is never stored), so its outcome is recorded here:
    # staff see a link that was never emailed and issue a new one.
    emailed_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(uses__lte=models.F("max_uses")), name="link_uses")]

    def __str__(self) -> str:
        return f"Link for delivery {self.delivery_id}"


class ReleaseRefusal(TenantOwned):
    """A release the gate refused (fulfillment.gate): which way out, which rules with their citations, who must act
    and the exception it opened or updated. Written in its own transaction after the refused action rolled back, and
    never changed: the request page and the audit trail show it."""

    request = models.ForeignKey(RecordRequest, on_delete=models.PROTECT, related_name="release_refusals")
    action = models.CharField(max_length=10, choices=ReleaseAction.choices)
    packet = models.ForeignKey(ReleasePacket, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    delivery = models.ForeignKey(Delivery, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    actor = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(max_length=200, blank=True, help_text="Who tried, when not a staff member.")
    refusals = models.JSONField(default=list, help_text="[{code, message, citation, fix}] of every rule that refused.")
    owner = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    episode = models.ForeignKey(
        "exceptions.ExceptionEpisode", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["tenant", "request", "at"], name="release_refusal_request_idx")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} of {self.request_id} refused at {self.at:%Y-%m-%d %H:%M}"


# --- Fees and invoices (fees.py) ------------------------------------------------------------------------------


class FeeRule(models.Model):
    """A jurisdiction's fee rule for a kind of request: platform data, like the deadline rule table (seeded examples
    are marked unverified). The most specific active rule applies: the tenant's state before "US"."""

    jurisdiction = models.CharField(max_length=2, help_text="US for federal rules, else the state's code.")
    request_types = ArrayField(
        models.CharField(max_length=30, choices=RequestType.choices), default=list, blank=True, help_text="Empty: all."
    )
    requestor_kinds = ArrayField(
        models.CharField(max_length=30, choices=RequestorKind.choices),
        default=list,
        blank=True,
        help_text="Empty: all.",
    )
    base_fee_cents = models.PositiveIntegerField(default=0, help_text="Search or handling fee, where allowed.")
    page_tiers = models.JSONField(
        default=list,
        blank=True,
        help_text='Per-page prices by tier: [{"up_to": 25, "cents": 100}, {"up_to": null, ...}]',
    )
    max_total_cents = models.PositiveIntegerField(null=True, blank=True)
    cost_based = models.BooleanField(
        default=False,
        help_text="The patient rate: the fee follows the right-of-access method (fulfillment settings), cost-based, no "
        "search or retrieval fee (45 CFR 164.524(c)(4)). It applies to the individual's own copy only, never to a "
        "directive to a third party (Ciox Health v. Azar, D.D.C. 2020), whatever the rule's scope says.",
    )
    waived = models.BooleanField(default=False, help_text="No fee at all (e.g. disability claims in some states).")
    waiver_purpose = models.CharField(max_length=100, blank=True, help_text="The purpose the waiver applies to.")
    description = models.CharField(max_length=300)
    citation = models.CharField(max_length=200)
    verified = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["jurisdiction", "id"]

    def __str__(self) -> str:
        return f"{self.jurisdiction}: {self.description}"


class Invoice(TenantOwned):
    """A fee estimate or an invoice for a request, with its lines and the PDF sent; payment or waiver recorded."""

    request = models.ForeignKey(RecordRequest, on_delete=models.PROTECT, related_name="invoices")
    kind = models.CharField(max_length=10, choices=InvoiceKind.choices)
    number = models.CharField(max_length=30)
    status = models.CharField(max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.ISSUED)
    lines = models.JSONField(default=list, help_text="[{description, quantity, unit_cents, cents}]")
    total_cents = models.PositiveIntegerField()
    basis = models.CharField(max_length=300, help_text="The rule or method the fee follows, with its citation.")
    file = models.FileField(upload_to=invoice_path, max_length=300, blank=True)
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    sha256 = models.CharField(max_length=64, blank=True, help_text="Of the PDF, checked on every download.")
    pages = models.PositiveIntegerField(null=True, blank=True, help_text="Pages of records the fee counts.")
    delivery_method = models.CharField(max_length=20, choices=DeliveryMethod.choices, blank=True)
    purpose = models.CharField(max_length=30, blank=True, help_text="Purpose a fee waiver depends on (fees.py).")
    fee_rule = models.ForeignKey(FeeRule, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    fee_method = models.CharField(
        max_length=10,
        choices=FeeMethod.choices,
        blank=True,
        help_text="The right-of-access method the fee follows; empty where the patient rate does not apply.",
    )
    paid_at = models.DateTimeField(null=True, blank=True, help_text="When the payment was recorded.")
    paid_on = models.DateField(null=True, blank=True, help_text="When the payment was received, as staff entered it.")
    payment_method = models.CharField(max_length=10, choices=PaymentMethod.choices, blank=True)
    payment_reference = models.CharField(max_length=100, blank=True)
    waived_at = models.DateTimeField(null=True, blank=True)
    waived_reason = models.CharField(max_length=300, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-issued_at", "-id"]
        indexes = [models.Index(fields=["tenant", "request"], name="invoice_request_idx")]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="invoice_number_unique"),
            # One invoice in force per request: a corrected one is issued after voiding the old.
            models.UniqueConstraint(
                fields=["tenant", "request"],
                condition=models.Q(kind="invoice") & ~models.Q(status="void"),
                name="invoice_one_in_force_per_request",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"


class InvoiceSequence(TenantOwned):
    """The last number given to a tenant's estimates or invoices. invoices.next_invoice_number increments it in one
    INSERT ... ON CONFLICT DO UPDATE statement, so concurrent issuers get distinct numbers, and a rolled-back issue
    gives its number back (no gaps)."""

    kind = models.CharField(max_length=10, choices=InvoiceKind.choices)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "kind"], name="invoice_sequence_unique")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.last_number} of {self.tenant_id}"


# --- Accounting of disclosures (disclosures.py) ---------------------------------------------------------------


class Disclosure(TenantOwned):
    """An accountable disclosure (164.528): made on a basis the rule does not exclude. Written when such a release
    is delivered; the patient's accounting lists these for the six years before the request."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="disclosures")
    request = models.ForeignKey(RecordRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    delivery = models.OneToOneField(
        Delivery, null=True, blank=True, on_delete=models.PROTECT, related_name="disclosure"
    )
    disclosed_on = models.DateField()
    recipient_name = models.CharField(max_length=300)
    recipient_address = models.CharField(max_length=300, blank=True)
    description = models.CharField(max_length=500, help_text="What was disclosed, briefly.")
    purpose = models.CharField(max_length=30, choices=DisclosurePurpose.choices)
    purpose_statement = models.CharField(max_length=500, blank=True)
    recorded_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    # A disclosure recorded by mistake (wrong patient, never sent) is marked, never deleted: the accounting leaves it
    # out and the history shows who marked it and why.
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_reason = models.CharField(max_length=300, blank=True)
    # A disclosure is a record of fact (roi/records.py): a correction is a new entry pointing at the one it corrects,
    # which the accounting then leaves out.
    corrects = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrected_by"
    )
    correction_reason = models.CharField(max_length=300, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-disclosed_on", "-id"]
        indexes = [models.Index(fields=["tenant", "patient", "disclosed_on"], name="disclosure_patient_idx")]

    def __str__(self) -> str:
        return f"{self.disclosed_on} to {self.recipient_name}"


class DisclosureSuspension(TenantOwned):
    """A health oversight or law-enforcement agency's request to suspend a patient's right to an accounting of
    disclosures made to it (164.528(a)(2)): an oral request lasts at most 30 days.

    The agency is identified as a record, never by part of a name: its requestor on file (a disclosure made under a
    request by that requestor is left out), and its name, which leaves out a disclosure whose recipient is named
    exactly so, case, spacing and punctuation aside (fulfillment.disclosures.suspends)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="disclosure_suspensions")
    agency = models.CharField(max_length=300)
    agency_requestor = models.ForeignKey(
        Requestor,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The agency's requestor on file: disclosures made under its requests are left out.",
    )
    statement = models.TextField(help_text="The agency's statement that an accounting would impede its activities.")
    oral = models.BooleanField(default=False)
    starts_on = models.DateField()
    ends_on = models.DateField()
    recorded_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_on__gte=models.F("starts_on")), name="suspension_dates")
        ]

    def __str__(self) -> str:
        return f"{self.agency} until {self.ends_on}"


# --- Denials (denials.py) -------------------------------------------------------------------------------------


class Denial(TenantOwned):
    """A denial of access, in full or in part (164.524(a)), with its basis, the letter, and any review."""

    request = models.ForeignKey(RecordRequest, on_delete=models.PROTECT, related_name="denials")
    basis = models.CharField(max_length=30, choices=DenialBasis.choices)
    partial = models.BooleanField(default=False, help_text="Part denied; the rest is still released.")
    scope_denied = models.CharField(max_length=500, help_text="What is withheld, in the requestor's words.")
    explanation = models.TextField(help_text="The basis in plain language, for the letter.")
    decided_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField()
    # 164.524(a)(3): for the reviewable bases, the licensed health care professional who determined that access is
    # likely to cause the harm; a member the tenant admin designated (roi.Membership.is_licensed_professional).
    # Empty for the other bases, and for denials recorded before the designation existed.
    determined_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    records_location = models.CharField(
        max_length=300, blank=True, help_text="Not held here: where the records are, if known (164.524(d)(3))."
    )
    # A partial denial's pages left out of the release: [{document, exclusion, first_page, last_page}], exclusion
    # being the PageExclusion id (None when the whole document is withheld), so an overturned review lifts exactly
    # these.
    withheld = models.JSONField(default=list, blank=True)
    letter = models.ForeignKey("intake.Letter", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    review_requested_at = models.DateTimeField(null=True, blank=True)
    reviewer = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    review_outcome = models.CharField(max_length=20, choices=DenialReviewOutcome.choices, blank=True)
    review_note = models.TextField(blank=True)
    # Reviews decided before designations existed: the reviewer's own confirmation of being licensed, kept as what
    # was recorded then. Since then the designation is the proof, checked when the reviewer is chosen and again at
    # the decision, and this stays false.
    reviewer_attested_licensed = models.BooleanField(
        default=False,
        help_text="Before designations: the reviewer confirmed being a licensed health care professional.",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # 164.524(d)(4): the written notice of the reviewing official's determination.
    review_letter = models.ForeignKey(
        "intake.Letter", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["-decided_at"]

    def __str__(self) -> str:
        return f"{'Partial' if self.partial else 'Full'} denial of {self.request_id}"
