"""Exception episodes: a request that left the main flow, with a reason, an owner, a next step and a due date,
never an informal holding pattern. A request in the `exception` state has exactly one open episode."""

from __future__ import annotations

from django.conf import settings
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
        indexes = [models.Index(fields=["tenant", "resolved_at", "reason"], name="exception_open_reason_idx")]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} on {self.request_id}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
