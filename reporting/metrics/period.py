"""A period's flow: volume received and delivered (by day or week, channel and type), turnaround, on-time rates,
extensions, status calls beside portal views, resends, QC errors, escalations, per-staff throughput, and the staff
hours lost to hidden work (leakage). Six queries whatever the period's length."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.db.models import Avg, Count, F, Q, Sum
from django.db.models.functions import TruncDate

from exceptions.choices import ExceptionReason
from fulfillment.choices import QcOutcome, ResendReason
from reporting.metrics.common import DaysBetween, Percentile, Period, per_hundred, percent, queue_url
from reporting.metrics.events import EventCounts, period_events
from reporting.models import ReportingSettings
from roi.models import Tenant
from workflow import activities
from workflow.choices import Channel, RequestType
from workflow.models import RecordRequest
from workflow.selectors import tenant_staff


@dataclass
class Breakdown:
    key: str
    label: str
    count: int
    url: str


@dataclass
class Turnaround:
    """Receipt to delivery in calendar days of the organisation."""

    key: str
    label: str
    delivered: int
    mean: float | None
    median: float | None
    p90: float | None
    url: str
    total_days: int = 0


@dataclass
class SeriesPoint:
    label: str
    first_day: date
    last_day: date
    received: int = 0
    delivered: int = 0
    leakage_hours: float = 0.0


@dataclass
class StaffThroughput:
    user_id: int | None
    name: str
    delivered: int
    url: str


@dataclass
class EventFigure:
    """An event count with the requests behind it (the queue link lists those requests)."""

    label: str
    events: int
    requests: int
    url: str
    by_reason: list[tuple[str, int, int]] = field(default_factory=list)  # (label, events, requests)


@dataclass
class Leakage:
    minutes: dict[str, int]
    hours: dict[str, float]
    total_hours: float


@dataclass
class PeriodMetrics:
    period: Period
    grain: str  # "day" or "week"
    received: int
    received_url: str
    received_by_channel: list[Breakdown]
    received_by_type: list[Breakdown]
    delivered: int
    delivered_url: str
    delivered_by_channel: list[Breakdown]
    delivered_by_type: list[Breakdown]
    turnaround: list[Turnaround]
    turnaround_all: Turnaround
    on_time_legal_percent: float | None
    late_legal: EventFigure
    on_time_target_percent: float | None
    after_target: EventFigure
    extensions: EventFigure
    status_calls: EventFigure
    status_calls_per_100: float | None
    portal_views: EventFigure
    exceptions_opened: EventFigure
    resends: EventFigure
    resend_rate_percent: float | None
    first_deliveries: int
    qc_reviews: int
    qc_failed: EventFigure
    qc_error_rate_percent: float | None
    escalations: EventFigure
    escalations_acknowledged: int
    escalation_median_ack_hours: float | None
    duplicates: EventFigure
    throughput: list[StaffThroughput]
    series: list[SeriesPoint]
    leakage: Leakage


def dashboard_period(*, tenant: Tenant, period: Period, grain: str = "day") -> PeriodMetrics:
    window = period.window(tenant)
    tz = tenant.tzinfo
    requests = RecordRequest.objects.for_tenant(tenant).order_by()
    received_on = TruncDate("received_at", tzinfo=tz)
    delivered_on = TruncDate("delivered_at", tzinfo=tz)

    # 1. Received in the period, per day, channel and type (the same rows as the queue's "received" activity).
    received_rows = list(
        activities.received(requests, window).values("channel", "request_type", day=received_on).annotate(n=Count("id"))
    )
    # 2. Delivered in the period, per day, channel and type, with lateness and turnaround.
    delivered = activities.delivered(requests, window).alias(delivered_on=delivered_on)
    turnaround_days = DaysBetween(delivered_on, received_on)
    delivered_rows = list(
        delivered.values("channel", "request_type", day=delivered_on).annotate(
            n=Count("id"),
            late=Count("id", filter=Q(delivered_on__gt=F("legal_due_date"))),
            after_target=Count("id", filter=Q(delivered_on__gt=F("internal_target_date"))),
        )
    )
    # 3. Turnaround by type and 4. for all deliveries (mean, median, p90 of whole days).
    stats = {
        "n": Count("id"),
        "mean": Avg(turnaround_days),
        "median": Percentile(turnaround_days, 0.5),
        "p90": Percentile(turnaround_days, 0.9),
        "total": Sum(turnaround_days),
    }
    by_type = {row["request_type"]: row for row in delivered.values("request_type").annotate(**stats)}
    overall = delivered.aggregate(**stats)
    # 5. Delivered per staff member (the request's assignee: who worked it).
    per_staff = list(delivered.values("assignee_id").annotate(n=Count("id")).order_by("-n", "assignee_id"))
    # 6. Every other event of the period, in one statement.
    events = period_events(tenant=tenant, start=window.start, end=window.end)
    names = {m.user_id: str(m.user) for m in tenant_staff(tenant=tenant)}
    settings = ReportingSettings.objects.filter(tenant=tenant).first() or ReportingSettings(tenant=tenant)

    def count_by(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
        totals: dict[str, int] = defaultdict(int)
        for row in rows:
            totals[row[key]] += row["n"]
        return totals

    def breakdown(rows: list[dict[str, Any]], key: str, choices: Any, activity: str) -> list[Breakdown]:
        totals = count_by(rows, key)
        labels = dict(choices)
        return [
            Breakdown(value, labels.get(value, value), n, queue_url(**period.activity_params(activity), **{key: value}))
            for value, n in sorted(totals.items(), key=lambda item: (-item[1], item[0]))
        ]

    def figure(label: str, kind: str, activity: str, reasons: Any = None) -> EventFigure:
        entry: EventCounts = events[kind]
        labels = dict(reasons) if reasons else {}
        by_reason = [
            (labels.get(reason, reason.replace("_", " ").capitalize()), n, r)
            for reason, (n, r) in sorted(entry.by_reason.items(), key=lambda item: (-item[1][0], item[0]))
        ]
        return EventFigure(label, entry.total, entry.requests, queue_url(**period.activity_params(activity)), by_reason)

    received_total = sum(row["n"] for row in received_rows)
    delivered_total = sum(row["n"] for row in delivered_rows)
    late = sum(row["late"] for row in delivered_rows)
    after_target = sum(row["after_target"] for row in delivered_rows)
    type_labels = dict(RequestType.choices)

    def turnaround(key: str, label: str, row: dict[str, Any] | None, **filters: str) -> Turnaround:
        row = row or {}
        return Turnaround(
            key=key,
            label=label,
            delivered=row.get("n") or 0,
            mean=_round(row.get("mean")),
            median=_round(row.get("median")),
            p90=_round(row.get("p90")),
            url=queue_url(**period.activity_params("delivered"), **filters),
            total_days=row.get("total") or 0,
        )

    qc_outcomes = events["qc_review"].by_reason
    qc_failed_events, qc_failed_requests = qc_outcomes.get(QcOutcome.FAILED, (0, 0))
    qc = events["qc_review"]
    escalation = events["escalation"]
    series = _series(period, grain, received_rows, delivered_rows, events, settings)
    leakage = _leakage(events, settings)
    return PeriodMetrics(
        period=period,
        grain=grain,
        received=received_total,
        received_url=queue_url(**period.activity_params("received")),
        received_by_channel=breakdown(received_rows, "channel", Channel.choices, "received"),
        received_by_type=breakdown(received_rows, "request_type", RequestType.choices, "received"),
        delivered=delivered_total,
        delivered_url=queue_url(**period.activity_params("delivered")),
        delivered_by_channel=breakdown(delivered_rows, "channel", Channel.choices, "delivered"),
        delivered_by_type=breakdown(delivered_rows, "request_type", RequestType.choices, "delivered"),
        turnaround=[
            turnaround(value, type_labels.get(value, value), row, request_type=value)
            for value, row in sorted(by_type.items(), key=lambda item: -item[1]["n"])
        ],
        turnaround_all=turnaround("", "All request types", overall),
        on_time_legal_percent=percent(delivered_total - late, delivered_total),
        late_legal=EventFigure(
            "Delivered after the legal due date", late, late, queue_url(**period.activity_params("delivered_late"))
        ),
        on_time_target_percent=percent(delivered_total - after_target, delivered_total),
        after_target=EventFigure(
            "Delivered after the internal target",
            after_target,
            after_target,
            queue_url(**period.activity_params("delivered_after_target")),
        ),
        extensions=figure("Extensions granted", "extension", "extended"),
        status_calls=figure("Status calls", "status_call", "status_call"),
        status_calls_per_100=per_hundred(events["status_call"].total, received_total),
        portal_views=figure("Portal status views", "portal_view", "portal_view"),
        exceptions_opened=figure("Exceptions opened", "exception_opened", "exception_opened", ExceptionReason.choices),
        resends=figure("Resends", "resend", "resent", ResendReason.choices),
        resend_rate_percent=percent(events["resend"].total, events["first_delivery"].total),
        first_deliveries=events["first_delivery"].total,
        qc_reviews=qc.total,
        qc_failed=EventFigure(
            "Failed QC reviews", qc_failed_events, qc_failed_requests, queue_url(**period.activity_params("qc_failed"))
        ),
        qc_error_rate_percent=percent(qc_failed_events, qc.total),
        escalations=figure("Escalations fired", "escalation", "escalated"),
        escalations_acknowledged=escalation.acknowledged,
        escalation_median_ack_hours=_round(escalation.median_ack_seconds / 3600)
        if escalation.median_ack_seconds is not None
        else None,
        duplicates=figure("Duplicate requests", "duplicate", "duplicate"),
        throughput=[
            StaffThroughput(
                user_id=row["assignee_id"],
                name=names.get(row["assignee_id"], "Unassigned" if row["assignee_id"] is None else "Former member"),
                delivered=row["n"],
                url=queue_url(**period.activity_params("delivered"), assignee=row["assignee_id"] or "none"),
            )
            for row in per_staff
        ],
        series=series,
        leakage=leakage,
    )


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


LEAKAGE_SOURCES = {
    # source: (event kind, settings field)
    "status_calls": ("status_call", "minutes_per_status_call"),
    "exceptions": ("exception_opened", "minutes_per_exception"),
    "resends": ("resend", "minutes_per_resend"),
    "duplicates": ("duplicate", "minutes_per_duplicate"),
}


def _leakage(events: dict[str, EventCounts], settings: ReportingSettings) -> Leakage:
    minutes = {source: getattr(settings, setting) for source, (_, setting) in LEAKAGE_SOURCES.items()}
    hours = {
        source: round(events[kind].total * minutes[source] / 60, 1) for source, (kind, _) in LEAKAGE_SOURCES.items()
    }
    total_minutes = sum(events[kind].total * minutes[source] for source, (kind, _) in LEAKAGE_SOURCES.items())
    return Leakage(minutes=minutes, hours=hours, total_hours=round(total_minutes / 60, 1))


def leakage_minutes_on(day: date, events: dict[str, EventCounts], settings: ReportingSettings) -> int:
    return sum(
        events[kind].by_day.get(day, 0) * getattr(settings, setting) for kind, setting in LEAKAGE_SOURCES.values()
    )


def _series(
    period: Period,
    grain: str,
    received_rows: list[dict[str, Any]],
    delivered_rows: list[dict[str, Any]],
    events: dict[str, EventCounts],
    settings: ReportingSettings,
) -> list[SeriesPoint]:
    """Received, delivered and leakage hours per day, or per week (Monday to Sunday, cut at the period's ends)."""
    received: dict[date, int] = defaultdict(int)
    delivered: dict[date, int] = defaultdict(int)
    for row in received_rows:
        received[row["day"]] += row["n"]
    for row in delivered_rows:
        delivered[row["day"]] += row["n"]
    points: dict[date, SeriesPoint] = {}
    for day in period.each_day():
        start = day - timedelta(days=day.weekday()) if grain == "week" else day
        point = points.get(start)
        if point is None:
            label = f"Week of {max(start, period.first_day):%b %-d}" if grain == "week" else f"{day:%b %-d}"
            point = points[start] = SeriesPoint(label=label, first_day=max(start, period.first_day), last_day=day)
        point.last_day = day
        point.received += received.get(day, 0)
        point.delivered += delivered.get(day, 0)
        point.leakage_hours += leakage_minutes_on(day, events, settings) / 60
    for point in points.values():
        point.leakage_hours = round(point.leakage_hours, 1)
    return list(points.values())
