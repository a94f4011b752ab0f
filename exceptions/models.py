"""Exception episodes: a request that left the main flow, with a reason, an owner, a next step and a due date,
never an informal holding pattern. A request in the `exception` state has exactly one open episode."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from simple_history.models import HistoricalRecords

from exceptions.choices import ExceptionReason
from roi.models import TenantOwned
from workflow.models import RecordRequest


class ExceptionEpisode(TenantOwned):
    request = models.ForeignKey(RecordRequest, on_delete=models.PROTECT, related_name="exception_episodes")
    reason = models.CharField(max_length=40, choices=ExceptionReason.choices)
    detail = models.TextField(help_text="What exactly is wrong, in the words staff will read.")
    # Codes of the intake deficiencies behind the episode, when the checklist opened it.
    deficiency_codes = models.JSONField(default=list, blank=True)
    opened_at = models.DateTimeField()
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    next_step = models.CharField(max_length=300)
    next_action_due = models.DateField()
    escalation_level = models.PositiveSmallIntegerField(default=0)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolution = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            # At most one open episode per request, whatever the application does.
            models.UniqueConstraint(
                fields=["request"], condition=models.Q(resolved_at__isnull=True), name="exception_one_open_per_request"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "resolved_at", "reason"], name="exception_open_reason_idx"),
            models.Index(fields=["tenant", "opened_at"], include=["request", "reason"], name="exception_opened_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} on {self.request_id}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class EscalationRule(TenantOwned):
    """When supervisors are alerted, as tenant admins configure it. A rule matches open requests by its conditions
    (all that are set must hold) and fires once per request, rule, level and exception episode."""

    class Notify(models.TextChoices):
        SUPERVISORS = "supervisors", "Supervisors"
        OWNER = "owner", "Owner (assignee or exception owner)"
        BOTH = "both", "Supervisors and owner"
        NONE = "none", "Nobody"

    name = models.CharField(max_length=120)
    is_active = models.BooleanField(default=True)
    level = models.PositiveSmallIntegerField(default=1, help_text="1, 2, 3: repeated escalation of the same request.")
    # Conditions: blank or null means "any".
    states = ArrayField(models.CharField(max_length=20), default=list, blank=True)
    request_types = ArrayField(models.CharField(max_length=30), default=list, blank=True)
    exception_reasons = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    min_age_days = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Days since receipt, at least.")
    max_days_to_legal_due = models.SmallIntegerField(
        null=True, blank=True, help_text="Legal due in at most this many days (0: due today; -1: overdue)."
    )
    min_days_in_exception = models.PositiveSmallIntegerField(null=True, blank=True)
    min_days_without_activity = models.PositiveSmallIntegerField(null=True, blank=True)
    next_action_overdue = models.BooleanField(default=False, help_text="The open exception's next action is overdue.")
    # Reads RecordRequest.retrieval_waiting_since, which fulfillment's retrieval services keep current.
    min_days_waiting_on_retrieval = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Calendar days of the organisation since the oldest open retrieval task was requested.",
    )
    # Actions.
    notify = models.CharField(max_length=20, choices=Notify.choices, default=Notify.SUPERVISORS)
    email = models.BooleanField(default=True, help_text="Notify by email as well as in the app.")
    raise_priority = models.SmallIntegerField(default=0, help_text="Points added to the request's priority.")
    move_to_queue = models.ForeignKey(
        "workflow.WorkQueue", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reassign_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["level", "name"]

    def __str__(self) -> str:
        return f"{self.name} (level {self.level})"


class EscalationEvent(TenantOwned):
    """A rule fired for a request: exactly once per (request, rule, level, exception episode). It waits in the
    supervisors' inbox until someone acknowledges it, or until the request moves past what it was about (delivered,
    denied, cancelled, closed; for an exception escalation, the exception resolved): then it closes itself, in the
    transaction of that transition, with the reason (exceptions/escalations.py escalations_close_with_request)."""

    rule = models.ForeignKey(EscalationRule, on_delete=models.PROTECT, related_name="events")
    request = models.ForeignKey(RecordRequest, on_delete=models.PROTECT, related_name="escalations")
    level = models.PositiveSmallIntegerField()
    episode = models.ForeignKey(ExceptionEpisode, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    fired_at = models.DateTimeField()
    summary = models.CharField(max_length=300)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Closed without anyone acknowledging it, because the request moved on: "request delivered on Mar 3, 2026".
    closed_at = models.DateTimeField(null=True, blank=True)
    # A database default: the evaluator and the benchmark's data set write events with INSERT ... SELECT.
    closed_reason = models.CharField(max_length=200, blank=True, db_default="")

    class Meta:
        ordering = ["-fired_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "rule", "level", "episode"],
                name="escalation_fires_once",
                nulls_distinct=False,
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "acknowledged_at", "fired_at"], name="escalation_inbox_idx"),
            models.Index(
                fields=["tenant", "fired_at"], include=["request", "acknowledged_at"], name="escalation_fired_idx"
            ),
            # The inbox's "to acknowledge" and a request's transition closing its own: only what still waits.
            models.Index(
                fields=["tenant", "request"],
                name="escalation_pending_idx",
                condition=models.Q(acknowledged_at__isnull=True, closed_at__isnull=True),
            ),
        ]

    @property
    def is_pending(self) -> bool:
        return self.acknowledged_at is None and self.closed_at is None
