"""Reporting's own tables: the organisation's reporting settings and the daily snapshots behind trend charts."""

from __future__ import annotations

from django.db import models
from simple_history.models import HistoricalRecords

from roi.models import Tenant, TenantOwned


class ReportingSettings(models.Model):
    """How the leakage report prices hidden work: minutes of staff time per event. Defaults are estimates a tenant
    admin replaces with their own time studies (the report says which values it used)."""

    tenant = models.OneToOneField(Tenant, on_delete=models.PROTECT, related_name="reporting_settings")
    minutes_per_status_call = models.PositiveSmallIntegerField(
        default=6, help_text="Answering one status call: finding the request, explaining, noting the call."
    )
    minutes_per_exception = models.PositiveSmallIntegerField(
        default=30, help_text="Handling one exception episode: chasing, letters, follow-up, resolution."
    )
    minutes_per_resend = models.PositiveSmallIntegerField(
        default=15, help_text="One resend: finding out what went wrong, rebuilding or re-sending, logging it."
    )
    minutes_per_duplicate = models.PositiveSmallIntegerField(
        default=10, help_text="One duplicate request: intake, checking it against the original, closing it."
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "reporting settings"

    def __str__(self) -> str:
        return f"Reporting settings of {self.tenant}"


class DailySnapshot(TenantOwned):
    """One organisation's figures for one day of its calendar, stored by the daily job (reporting/snapshots.py).

    Flow figures (what happened during the day) can be computed for any past day; stock figures (what was open at
    the end of the day) only when the job runs just after the day ends, so they are empty for days filled in
    afterwards. Stored figures do not change when requests are edited later: they are the record of that day."""

    day = models.DateField()
    taken_at = models.DateTimeField()
    # Stock at the end of the day (empty: not observed then).
    open_total = models.PositiveIntegerField(null=True)
    open_by_state = models.JSONField(null=True, help_text="{state: count}")
    open_by_band = models.JSONField(null=True, help_text="[count per aging band, by days since receipt]")
    in_exception = models.PositiveIntegerField(null=True)
    overdue = models.PositiveIntegerField(null=True)
    # Flows during the day.
    received = models.PositiveIntegerField()
    delivered = models.PositiveIntegerField()
    delivered_late = models.PositiveIntegerField(help_text="Delivered after the legal due date.")
    delivered_after_target = models.PositiveIntegerField()
    turnaround_days_total = models.PositiveIntegerField(
        help_text="Sum of receipt-to-delivery days of the day's deliveries."
    )
    status_calls = models.PositiveIntegerField()
    portal_views = models.PositiveIntegerField()
    exceptions_opened = models.PositiveIntegerField()
    resends = models.PositiveIntegerField()
    duplicates = models.PositiveIntegerField()
    extensions = models.PositiveIntegerField()
    qc_reviews = models.PositiveIntegerField()
    qc_failed = models.PositiveIntegerField()
    escalations = models.PositiveIntegerField()

    class Meta:
        ordering = ["day"]
        constraints = [models.UniqueConstraint(fields=["tenant", "day"], name="snapshot_one_per_day")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day}"


class RequestRollup(TenantOwned):
    """One finished day's request figures of an organisation, pre-aggregated so a period's dashboard reads a few
    hundred rows instead of every request received or delivered in it (reporting/rollups.py).

    Unlike DailySnapshot, a rollup always equals what the requests say now: a database trigger deletes a day's rows
    whenever a request that counts on that day changes (a request entered with an earlier received date, a changed
    channel, type, assignee or due date of a delivered request, ...), and the dashboard computes days without rows
    from the requests themselves until the hourly job rolls them up again. So the dashboard and the queues it links
    to agree whether a day comes from here or not."""

    class Kind(models.TextChoices):
        DAY = "day", "Day rolled up"  # one marker row per rolled-up day, also for a day with nothing in it
        RECEIVED = "received", "Received"
        DELIVERED = "delivered", "Delivered"
        TURNAROUND = "turnaround", "Turnaround days"

    day = models.DateField()
    kind = models.CharField(max_length=12, choices=Kind.choices)
    channel = models.CharField(max_length=20, blank=True)
    request_type = models.CharField(max_length=30, blank=True)
    # A plain id: derived data that must not hold a user row in place.
    assignee_id = models.BigIntegerField(null=True)
    value = models.IntegerField(default=0, help_text="Turnaround rows: the number of days.")
    n = models.IntegerField(default=0)
    late = models.IntegerField(default=0, help_text="Delivered rows: delivered after the legal due date.")
    after_target = models.IntegerField(default=0, help_text="Delivered rows: delivered after the internal target.")

    class Meta:
        indexes = [models.Index(fields=["tenant", "day", "kind"], name="rollup_day_idx")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day} {self.kind}"
