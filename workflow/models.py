"""The case and its parties: Patient, Requestor, RecordRequest and its transition log.

RecordRequest's state is protected: only the transition methods below change it, and only the services in
workflow/transitions.py call them (one transaction, a log row, side effects on commit).
"""

from __future__ import annotations

import functools
import re
import secrets
from datetime import date, datetime
from typing import Any, cast

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import models
from django.db.models import F
from django.db.models.functions import Length, Upper
from django.db.models.lookups import LessThanOrEqual
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, FSMFieldMixin, transition
from simple_history.models import HistoricalRecords

from roi.choices import STAFF_ROLES, SUPERVISING_ROLES
from roi.expressions import Negated
from roi.models import TenantOwned
from roi.tenancy import has_role
from workflow.choices import (
    EXCEPTION_SOURCES,
    OPEN_STATES,
    Channel,
    DeliveryMethod,
    DenialBasis,
    RecordType,
    RequestorKind,
    RequestState,
    RequestType,
    SensitiveCategory,
)

# Crockford-style alphabet without look-alikes (0/O, 1/I/L) so a tracking number can be read over the phone.
TRACKING_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
TRACKING_GROUPS = 3
TRACKING_GROUP_LENGTH = 4


# The expressions search indexes (workflow/search.py writes the same ones in its SQL, so PostgreSQL uses the indexes).
class FullName(models.Func):
    """first_name || ' ' || last_name: one text for pg_trgm, whose trigrams ignore the words' order and commas, so
    "Jonh Smith" and "Smith, John" both come close to it."""

    template = "(%(expressions)s)"
    arg_joiner = " || ' ' || "
    arity = 2
    output_field = models.TextField()


class Digits(models.Func):
    """The digits of a phone number, however it was typed: "(555) 010-2233" and "555.010.2233" compare equal."""

    template = "regexp_replace(%(expressions)s, '[^0-9]', '', 'g')"
    arity = 1
    output_field = models.TextField()


class WithoutHyphens(models.Func):
    """A tracking number as people type it without its hyphens: "roi 7k3m..." becomes ROI7K3M..."""

    template = "replace(%(expressions)s, '-', '')"
    arity = 1
    output_field = models.TextField()


def new_tracking_number() -> str:
    """A random public tracking number, about 59 bits: not guessable from another request's number."""
    groups = (
        "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_GROUP_LENGTH)) for _ in range(TRACKING_GROUPS)
    )
    return "ROI-" + "-".join(groups)


class Patient(TenantOwned):
    mrn = models.CharField("MRN", max_length=40, help_text="Medical record number at this organisation.")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    # Recorded from a death certificate or an estate's letters (intake.patients.patient_death_record): an executor or
    # administrator acts for the patient only after it (45 CFR 164.502(g)(4)), and fifty years after it the records
    # are no longer PHI (160.103).
    date_of_death = models.DateField(null=True, blank=True)
    # A stand-in for a patient nobody has identified yet: each request that arrives by email, fax or the portal gets
    # its own (intake.patients.placeholder_patient_create) until staff point it at the real patient. It is nobody in
    # particular, so it never matches a patient nor makes a request a possible duplicate (intake.services).
    is_placeholder = models.BooleanField(default=False, db_default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "mrn"], name="patient_mrn_unique_per_tenant")]
        indexes = [
            models.Index(fields=["tenant", "last_name", "date_of_birth"], name="patient_name_dob_idx"),
            # Search (workflow/search.py): names by trigram similarity (GIN, the tenant first through btree_gin),
            # an MRN in any case, a date of birth.
            GinIndex(
                F("tenant"), OpClass(FullName("first_name", "last_name"), "gin_trgm_ops"), name="patient_name_trgm_idx"
            ),
            models.Index(F("tenant"), Upper("mrn"), name="patient_mrn_upper_idx"),
            models.Index(fields=["tenant", "date_of_birth"], name="patient_dob_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.last_name}, {self.first_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def phi_until(self) -> date | None:
        """The day the records stop being PHI: fifty years after death (45 CFR 160.103, "protected health
        information"), or None while the patient is not recorded as deceased."""
        if self.date_of_death is None:
            return None
        try:
            return self.date_of_death.replace(year=self.date_of_death.year + 50)
        except ValueError:  # February 29
            return self.date_of_death.replace(year=self.date_of_death.year + 50, day=28)


class Requestor(TenantOwned):
    kind = models.CharField(max_length=30, choices=RequestorKind.choices)
    name = models.CharField(max_length=200, help_text="Person who asks, or the contact at the organisation.")
    organization = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    fax = models.CharField(max_length=40, blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, blank=True)
    postal_code = models.CharField(max_length=10, blank=True)
    # Emails to the requestor and the portal's first page speak this language (settings.LANGUAGES).
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default="en")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["tenant", "name"], name="requestor_name_idx"),
            # Search (workflow/search.py): name, organisation and email by trigram similarity, phone by its digits.
            GinIndex(F("tenant"), OpClass("name", "gin_trgm_ops"), name="requestor_name_trgm_idx"),
            GinIndex(F("tenant"), OpClass("organization", "gin_trgm_ops"), name="requestor_org_trgm_idx"),
            GinIndex(F("tenant"), OpClass("email", "gin_trgm_ops"), name="requestor_email_trgm_idx"),
            models.Index(F("tenant"), Digits("phone"), name="requestor_phone_digits_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.organization})" if self.organization else self.name

    @property
    def postal_address(self) -> str:
        parts = [self.address_line1, self.address_line2, f"{self.city} {self.state} {self.postal_code}".strip()]
        return ", ".join(p for p in parts if p)


# --- Transition guards and permissions -------------------------------------------------------------------
# Guards read only the request's own fields. Apps above workflow (intake, fulfillment) record their facts on
# the request, e.g. qc_passed_at, and these guards read them. django-fsm types a guard as taking any Model: each
# narrows to the request it is only ever given.


def _staff(model: models.Model, user: Any) -> bool:
    instance = cast(RecordRequest, model)
    return has_role(user, instance.tenant_id, STAFF_ROLES)


def _supervisor(model: models.Model, user: Any) -> bool:
    instance = cast(RecordRequest, model)
    return has_role(user, instance.tenant_id, SUPERVISING_ROLES)


def intake_is_complete(model: models.Model) -> bool:
    instance = cast(RecordRequest, model)
    return instance.intake_completed_at is not None and not instance.intake_gaps()


def qc_passed(model: models.Model) -> bool:
    instance = cast(RecordRequest, model)
    return instance.qc_passed_at is not None


def has_delivery_evidence(model: models.Model) -> bool:
    instance = cast(RecordRequest, model)
    return bool(instance.delivery_evidence.strip())


def has_denial_basis(model: models.Model) -> bool:
    instance = cast(RecordRequest, model)
    return bool(instance.denial_basis)


GUARD_MESSAGES = {
    intake_is_complete: "Work the intake checklist first: it validates the request when every check passes.",
    qc_passed: "Quality control has not passed for this release.",
    has_delivery_evidence: "Delivery needs evidence (confirmation number, tracking number or who collected it).",
    has_denial_basis: "A denial needs its basis under 45 CFR 164.524.",
}

FAX_DIGITS = re.compile(r"\d")


class WorkQueue(TenantOwned):
    """A team queue defined by the tenant (e.g. legal requests, continuity of care, one facility's requests).

    A new request joins the first active queue (by position) whose request types include its type; escalation
    rules and supervisors may move it to another."""

    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)
    request_types = ArrayField(models.CharField(max_length=30, choices=RequestType.choices), default=list, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="work_queue_name_unique")]

    def __str__(self) -> str:
        return self.name


class SavedQueueView(TenantOwned):
    """A queue view a staff member saved under a name ("Legal, overdue"): the queue's filters and sort as they were
    in the address bar, listed beside the team queues for that user only. A preference, not a record of the case:
    no history, and deleting one removes it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_queue_views")
    name = models.CharField(max_length=60)
    # The query string of the queue page without its cursor, e.g. "state=open&queue=3&sort=due".
    query = models.CharField(max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "user", "name"], name="saved_queue_view_name_unique")]

    def __str__(self) -> str:
        return self.name


@functools.cache
def _fsm_fields(model: type[models.Model]) -> tuple[FSMFieldMixin, ...]:
    return tuple(field for field in model._meta.fields if isinstance(field, FSMFieldMixin))


# Open work, for partial indexes (plain strings, as migrations record them).
_OPEN = models.Q(state__in=[state.value for state in OPEN_STATES])


class RecordRequest(ConcurrentTransitionMixin, TenantOwned):
    """One request for records, from receipt to final disposition."""

    tracking_number = models.CharField(max_length=20, unique=True, default=new_tracking_number, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="requests")
    requestor = models.ForeignKey(Requestor, on_delete=models.PROTECT, related_name="requests")
    request_type = models.CharField(max_length=30, choices=RequestType.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    received_at = models.DateTimeField(
        help_text="When the request reached the organisation; the legal clock starts here."
    )

    state = FSMField(default=RequestState.RECEIVED, choices=RequestState.choices, protected=True)
    state_before_exception = models.CharField(max_length=20, choices=RequestState.choices, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="assigned_requests"
    )
    queue = models.ForeignKey(WorkQueue, null=True, blank=True, on_delete=models.PROTECT, related_name="requests")

    # Urgency: derived, refreshed set-based every 15 minutes by the urgency job (workflow/urgency.py).
    aging_band = models.PositiveSmallIntegerField(default=0, help_text="Index into the tenant's aging bands.")
    is_stalled = models.BooleanField(default=False)
    priority_score = models.IntegerField(default=0)
    # -priority_score, kept by PostgreSQL: the queue's default order (highest priority first, oldest first among
    # equals) as one ascending key with an index, so a page after a cursor is one row comparison. Stored, because a
    # negation written in a query is not leakproof (it can overflow), and under row-level security PostgreSQL would
    # then test it on every open request of the tenant instead of starting the index scan at the cursor.
    priority_key = models.GeneratedField(
        expression=Negated("priority_score"), output_field=models.IntegerField(), db_persist=True
    )
    priority_reasons = models.CharField(max_length=300, blank=True, help_text="Why the score is what it is.")
    priority_boost = models.IntegerField(default=0, help_text="Points added by escalation rules.")
    # Recorded by the exceptions app when an episode opens and resolves (workflow does not import it).
    exception_reason = models.CharField(max_length=40, blank=True, help_text="Reason of the open exception episode.")
    exception_since = models.DateTimeField(null=True, blank=True)
    exception_seconds_before = models.PositiveIntegerField(
        default=0, help_text="Time spent in exception in earlier, resolved episodes."
    )
    # Recorded by fulfillment's retrieval services (fulfillment/retrieval.py) after every change to a retrieval task;
    # read by escalation rules ("a retrieval task open more than N days"), which may not import fulfillment.
    retrieval_waiting_since = models.DateTimeField(
        null=True, blank=True, help_text="When the oldest retrieval task still open was requested; empty: none open."
    )

    legal_due_date = models.DateField()
    internal_target_date = models.DateField()

    scope_date_from = models.DateField(null=True, blank=True)
    scope_date_to = models.DateField(null=True, blank=True)
    record_types = ArrayField(models.CharField(max_length=30, choices=RecordType.choices), default=list, blank=True)
    scope_notes = models.TextField(blank=True)

    sensitive_categories = ArrayField(
        models.CharField(max_length=30, choices=SensitiveCategory.choices),
        default=list,
        blank=True,
        help_text="Sensitive categories the request asks for; each needs its own consent before release.",
    )
    urgency_date = models.DateField(
        null=True, blank=True, help_text="An appointment, hearing or other date the records are needed by."
    )
    urgency_reason = models.CharField(max_length=200, blank=True)

    delivery_method = models.CharField(max_length=20, choices=DeliveryMethod.choices, blank=True)
    delivery_destination = models.CharField(
        max_length=300, blank=True, help_text="Email address, fax number or postal address, as the method needs."
    )
    # The individual's choice of unencrypted email, after staff explained the risk (fulfillment.delivery
    # .unencrypted_email_choice_record): when, how they said so, and who explained it.
    unencrypted_email_accepted_at = models.DateTimeField(null=True, blank=True)
    unencrypted_email_accepted_how = models.CharField(max_length=20, blank=True)
    unencrypted_email_explained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    # Facts recorded by the services of later phases and read by the guards.
    intake_completed_at = models.DateTimeField(
        null=True, blank=True, help_text="Set by the intake checklist when every check passed."
    )
    needs_intake_completion = models.BooleanField(
        default=False, help_text="Arrived by email or fax ingestion: a specialist must finish the intake."
    )
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="duplicates")
    duplicate_reviewed_at = models.DateTimeField(
        null=True, blank=True, help_text="When staff confirmed the request is distinct from its possible duplicates."
    )
    qc_passed_at = models.DateTimeField(null=True, blank=True)
    qc_passed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivery_evidence = models.CharField(max_length=300, blank=True)
    denial_basis = models.CharField(max_length=40, choices=DenialBasis.choices, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_activity_at = models.DateTimeField(help_text="Last time anyone acted on the request (for stalled work).")

    # Urgency fields change every refresh, and retrieval_waiting_since follows the retrieval tasks (which keep their
    # own history); they are derived, not decisions, so history leaves them out.
    history = HistoricalRecords(
        excluded_fields=[
            "updated_at",
            "aging_band",
            "is_stalled",
            "priority_score",
            "priority_key",
            "priority_reasons",
            "retrieval_waiting_since",
        ]
    )

    class Meta:
        ordering = ["legal_due_date", "received_at"]
        indexes = [
            models.Index(fields=["tenant", "state", "legal_due_date"], name="request_state_due_idx"),
            models.Index(fields=["tenant", "assignee", "state"], name="request_assignee_idx"),
            models.Index(fields=["tenant", "patient"], name="request_patient_idx"),
            # Search: a requestor's most recent requests (an insurer may have thousands).
            models.Index(
                fields=["tenant", "requestor", "-received_at"], include=["id"], name="request_requestor_recent_idx"
            ),
            # Search (workflow/search.py): a tracking number typed without its hyphens.
            models.Index(F("tenant"), WithoutHyphens("tracking_number"), name="request_tracking_compact_idx"),
            # The dashboard's deliveries in a period (turnaround, on time, throughput).
            models.Index(
                fields=["tenant", "delivered_at"],
                name="request_delivered_idx",
                condition=models.Q(delivered_at__isnull=False),
            ),
            # The dashboard's open exceptions by reason, with how long each has lasted: a few rows of many.
            models.Index(
                fields=["tenant", "exception_reason"],
                include=["state", "exception_since"],
                name="request_exception_reason_idx",
                condition=~models.Q(exception_reason=""),
            ),
            models.Index(
                fields=["tenant", "duplicate_reviewed_at"],
                include=["id"],
                name="request_duplicate_idx",
                condition=models.Q(duplicate_of__isnull=False),
            ),
            # Every queue sort is keyset-paginated on (sort value, id); each sort has an index giving that order,
            # for open work (the default view, small partial indexes) and for every state (the supervisor looking
            # back), so a page 1,000 pages deep reads 51 index entries, not a sort of the tenant's requests.
            # Priority, highest first, is indexed as the ascending key priority_key (-priority_score).
            models.Index(
                fields=["tenant", "priority_key", "id"], name="request_open_priority_key_idx", condition=_OPEN
            ),
            models.Index(fields=["tenant", "legal_due_date", "id"], name="request_open_due_idx", condition=_OPEN),
            models.Index(fields=["tenant", "received_at", "id"], name="request_open_age_idx", condition=_OPEN),
            models.Index(fields=["tenant", "priority_key", "id"], name="request_priority_key_idx"),
            models.Index(fields=["tenant", "legal_due_date", "id"], name="request_due_idx"),
            models.Index(fields=["tenant", "received_at", "id"], name="request_age_idx"),
            # The queue's column sorts by type and by state (workflow/selectors.py QUEUE_SORTS).
            models.Index(fields=["tenant", "request_type", "id"], name="request_open_type_idx", condition=_OPEN),
            models.Index(fields=["tenant", "state", "id"], name="request_open_state_idx", condition=_OPEN),
            models.Index(fields=["tenant", "request_type", "id"], name="request_type_idx"),
            models.Index(fields=["tenant", "state", "id"], name="request_state_idx"),
            # "Claim next": unassigned open work only, so claimed rows leave the index instead of being skipped.
            models.Index(
                fields=["tenant", "-priority_score", "id"],
                name="request_claimable_idx",
                condition=_OPEN & models.Q(assignee__isnull=True),
            ),
            models.Index(
                fields=["tenant", "queue", "-priority_score", "id"],
                name="request_claimable_queue_idx",
                condition=_OPEN & models.Q(assignee__isnull=True),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope_date_from__isnull=True)
                | models.Q(scope_date_to__isnull=True)
                | models.Q(scope_date_from__lte=models.F("scope_date_to")),
                name="request_scope_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.tracking_number

    @property
    def state_fields(self) -> tuple[FSMFieldMixin, ...]:
        """ConcurrentTransitionMixin's state fields, looked up once per class: its own property walks all the
        model's fields on every instance, a millisecond per queue page of fifty requests."""
        return _fsm_fields(type(self))

    # --- Facts computed from the request's own fields ---------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def time_in_exception_seconds(self, now: datetime) -> int:
        """Across every episode, the open one included."""
        current = int((now - self.exception_since).total_seconds()) if self.exception_since else 0
        return self.exception_seconds_before + max(current, 0)

    @property
    def record_type_labels(self) -> list[str]:
        return [RecordType(value).label for value in self.record_types]

    @property
    def sensitive_category_labels(self) -> list[str]:
        return [SensitiveCategory(value).label for value in self.sensitive_categories]

    def days_to_legal_due(self, today: date) -> int:
        return (self.legal_due_date - today).days

    def age_days(self, today: date, tz: object) -> int:
        return (today - self.received_at.astimezone(tz).date()).days  # type: ignore[arg-type]  # received_at is set before any age is asked

    def intake_gaps(self) -> list[str]:
        """What the foundation checklist still misses; each message says what to fix."""
        gaps: list[str] = []
        # An accounting of disclosures (164.528) lists disclosures of the six years before the request: no scope.
        if (
            self.request_type != RequestType.ACCOUNTING
            and not self.record_types
            and not (self.scope_date_from or self.scope_date_to)
        ):
            gaps.append("Scope: give the record types or the dates of service requested.")
        if not self.delivery_method:
            gaps.append("Delivery: choose how the records will be delivered.")
        elif self.delivery_method != DeliveryMethod.PICKUP:
            gaps.extend(self._destination_gaps())
        return gaps

    def _destination_gaps(self) -> list[str]:
        destination = self.delivery_destination.strip()
        method = self.delivery_method
        if not destination:
            return [f"Delivery: give the destination for {DeliveryMethod(method).label.lower()}."]
        if method in (DeliveryMethod.EMAIL_LINK, DeliveryMethod.PORTAL_DOWNLOAD, DeliveryMethod.UNENCRYPTED_EMAIL):
            try:
                validate_email(destination)
            except ValidationError:
                return [f"Delivery: {destination!r} is not a valid email address."]
        if method == DeliveryMethod.FAX and len(FAX_DIGITS.findall(destination)) < 10:
            return [f"Delivery: {destination!r} is not a complete fax number (10 digits or more)."]
        if method == DeliveryMethod.MAIL and len(destination) < 15:
            return ["Delivery: the postal address looks incomplete (street, city, state and ZIP code)."]
        return []

    # --- The state machine (docs/decisions/0001-request-state-machine.md). Services in workflow/transitions.py are
    # its only callers. -----------------------------------------------------------------------------------------------

    @transition(
        field=state,
        source=RequestState.RECEIVED,
        target=RequestState.VALIDATED,
        conditions=[intake_is_complete],
        permission=_staff,
    )
    def validate(self) -> None:
        pass

    @transition(field=state, source=RequestState.VALIDATED, target=RequestState.IN_FULFILLMENT, permission=_staff)
    def start_fulfillment(self) -> None:
        pass

    @transition(field=state, source=list(EXCEPTION_SOURCES), target=RequestState.EXCEPTION, permission=_staff)
    def raise_exception(self) -> None:
        self.state_before_exception = self.state

    @transition(field=state, source=RequestState.EXCEPTION, target=RETURN_VALUE(*EXCEPTION_SOURCES), permission=_staff)
    def resolve(self) -> str:
        previous = self.state_before_exception or RequestState.RECEIVED
        self.state_before_exception = ""
        return previous

    @transition(
        field=state,
        source=RequestState.IN_FULFILLMENT,
        target=RequestState.DELIVERED,
        conditions=[qc_passed, has_delivery_evidence],
        permission=_staff,
    )
    def deliver(self) -> None:
        pass

    @transition(field=state, source=RequestState.DELIVERED, target=RequestState.CLOSED, permission=_staff)
    def close(self) -> None:
        pass

    @transition(
        field=state,
        source=[RequestState.RECEIVED, RequestState.VALIDATED, RequestState.EXCEPTION],
        target=RequestState.DENIED,
        conditions=[has_denial_basis],
        permission=_supervisor,
    )
    def deny(self) -> None:
        pass

    @transition(field=state, source=list(OPEN_STATES), target=RequestState.CANCELLED, permission=_staff)
    def cancel(self) -> None:
        pass


class StatusCall(TenantOwned):
    """A phone call asking where a request stands: logged in two clicks, shown on the timeline, counted in metrics
    (the calls the portal is meant to save)."""

    class Caller(models.TextChoices):
        REQUESTOR = "requestor", "The requestor"
        PATIENT = "patient", "The patient"
        OTHER = "other", "Someone else"

    class Outcome(models.TextChoices):
        STATUS_GIVEN = "status_given", "Status given"
        VOICEMAIL = "voicemail", "Left a voicemail"
        CALLBACK = "callback", "Callback promised"
        REDIRECTED = "redirected", "Sent to the portal"

    request = models.ForeignKey(RecordRequest, on_delete=models.PROTECT, related_name="status_calls")
    caller = models.CharField(max_length=20, choices=Caller.choices)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    logged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        # Covers the dashboard's calls-in-a-period (reporting/metrics/events.py): read from the index alone.
        indexes = [models.Index(fields=["tenant", "at"], include=["request"], name="status_call_at_idx")]


class RequestTransition(TenantOwned):
    """The transition log: one row per state change, written in the same transaction as the change."""

    request = models.ForeignKey(RecordRequest, on_delete=models.PROTECT, related_name="transitions")
    transition = models.CharField(max_length=40)
    from_state = models.CharField(max_length=20, choices=RequestState.choices)
    to_state = models.CharField(max_length=20, choices=RequestState.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["tenant", "request", "at"], name="transition_request_idx")]

    def __str__(self) -> str:
        return f"{self.request_id}: {self.from_state} -> {self.to_state}"


class BreakGlassGrant(TenantOwned):
    """Emergency access for a supervisor or admin to a restricted request they are not assigned to (security issue
    #8): who, why, from where, and until when. Written with its access event in one transaction by
    workflow/break_glass.py; read by the request pages' access check and by the break-glass report. Never edited: a
    grant simply runs out at `expires_at`."""

    request = models.ForeignKey(RecordRequest, on_delete=models.PROTECT, related_name="break_glass_grants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-granted_at", "-id"]
        indexes = [
            # The access check on every request page: this user's grant on this request that has not run out.
            models.Index(fields=["tenant", "request", "user", "expires_at"], name="break_glass_active_idx"),
            # The report: a tenant's grants in a period.
            models.Index(fields=["tenant", "granted_at"], name="break_glass_report_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.request_id} until {self.expires_at:%Y-%m-%d %H:%M}"


# An internal note holds at most this many characters: a paragraph or two about the case, not a document (documents
# are uploaded). The form, the service and the table each hold the line.
NOTE_MAX_LENGTH = 4000


class RequestNote(TenantOwned):
    """An internal note on a request: staff only, never shown on the portal or to the requestor, never in an API
    answer. A record of fact (roi/records.py): a note is never changed or removed; an edit is a new row that
    `replaces` the version it corrects, which stays as it was, so the timeline can show what a note said before.
    A version is replaced at most once (one-to-one): of two edits racing on one version, one wins."""

    request = models.ForeignKey(RecordRequest, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField()
    replaces = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "request", "created_at"], name="note_request_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(LessThanOrEqual(Length("text"), NOTE_MAX_LENGTH), text__regex=r"\S"),
                name="note_text_not_blank_nor_too_long",
            ),
        ]

    def __str__(self) -> str:
        return f"Note {self.pk} on request {self.request_id}"
