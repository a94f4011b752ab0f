"""A period's flow: volume received and delivered (by day or week, channel and type), turnaround, on-time rates,
extensions, status calls beside portal views, resends, QC errors, escalations, per-staff throughput, and the staff
hours lost to hidden work (leakage). Finished days are read from the request rollups; see reporting/metrics/requests.py."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.urls import reverse

from exceptions.choices import ExceptionReason
from fulfillment.choices import QcOutcome, ResendReason
from reporting.metrics.common import Period, per_hundred, percent, queue_url
from reporting.metrics.events import EventCounts, period_events
from reporting.metrics.requests import RequestFigures, request_figures, turnaround_stats
from reporting.models import ReportingSettings
from reporting.services import reporting_settings_for
from roi.models import Tenant
from workflow.choices import Channel, RequestType
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
    resend_rate_percent: float | None  # resends in the period per 100 requests delivered in the period
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
    # Break-glass accesses granted in the period, and the break-glass report of the period.
    break_glass: int = 0
    break_glass_url: str = ""


def dashboard_period(*, tenant: Tenant, period: Period, grain: str = "day") -> PeriodMetrics:
    window = period.window(tenant)
    # 1. Requests received and delivered: finished days from the rollups, the others from the requests.
    figures = request_figures(tenant=tenant, period=period)
    # 2. Every other event of the period, in one statement.
    events = period_events(tenant=tenant, start=window.start, end=window.end)
    names = {m.user_id: str(m.user) for m in tenant_staff(tenant=tenant)}
    settings = reporting_settings_for(tenant)

    def breakdown(totals: Counter[str], key: str, choices: Any, activity: str) -> list[Breakdown]:
        labels = dict(choices)
        return [
            Breakdown(value, labels.get(value, value), n, queue_url(**period.activity_params(activity), **{key: value}))
            for value, n in sorted(totals.items(), key=lambda item: (-item[1], item[0]))
            if n
        ]

    def figure(label: str, kind: str, activity: str, reasons: Any = None) -> EventFigure:
        entry: EventCounts = events[kind]
        labels = dict(reasons) if reasons else {}
        by_reason = [
            (labels.get(reason, reason.replace("_", " ").capitalize()), n, r)
            for reason, (n, r) in sorted(entry.by_reason.items(), key=lambda item: (-item[1][0], item[0]))
        ]
        return EventFigure(label, entry.total, entry.requests, queue_url(**period.activity_params(activity)), by_reason)

    received_total = figures.received
    delivered_total = figures.delivered
    late = figures.late
    after_target = figures.after_target
    type_labels = dict(RequestType.choices)

    def turnaround(key: str, label: str, counts: Counter[int], **filters: str) -> Turnaround:
        stats = turnaround_stats(counts)
        return Turnaround(
            key=key,
            label=label,
            delivered=stats.n,
            mean=_round(stats.mean),
            median=_round(stats.median),
            p90=_round(stats.p90),
            url=queue_url(**period.activity_params("delivered"), **filters),
            total_days=stats.total,
        )

    all_turnaround: Counter[int] = Counter()
    for counts in figures.turnaround.values():
        all_turnaround.update(counts)
    qc_outcomes = events["qc_review"].by_reason
    qc_failed_events, qc_failed_requests = qc_outcomes.get(QcOutcome.FAILED, (0, 0))
    qc = events["qc_review"]
    escalation = events["escalation"]
    series = _series(period, grain, figures, events, settings)
    leakage = _leakage(events, settings)
    return PeriodMetrics(
        period=period,
        grain=grain,
        received=received_total,
        received_url=queue_url(**period.activity_params("received")),
        received_by_channel=breakdown(figures.received_by_channel, "channel", Channel.choices, "received"),
        received_by_type=breakdown(figures.received_by_type, "request_type", RequestType.choices, "received"),
        delivered=delivered_total,
        delivered_url=queue_url(**period.activity_params("delivered")),
        delivered_by_channel=breakdown(figures.delivered_by_channel, "channel", Channel.choices, "delivered"),
        delivered_by_type=breakdown(figures.delivered_by_type, "request_type", RequestType.choices, "delivered"),
        turnaround=[
            turnaround(value, type_labels.get(value, value), counts, request_type=value)
            for value, counts in sorted(figures.turnaround.items(), key=lambda item: (-sum(item[1].values()), item[0]))
        ],
        turnaround_all=turnaround("", "All request types", all_turnaround),
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
        # Per request delivered in the period: the population of the Delivered figure beside it. The first delivery
        # of a request sets its delivered_at (fulfillment.delivery), so this also counts deliveries recorded with a
        # one-line evidence and no Delivery row (requests delivered before fulfillment recorded them, the demo's
        # older history), which counting Delivery rows left out.
        resend_rate_percent=percent(events["resend"].total, delivered_total),
        qc_reviews=qc.total,
        qc_failed=EventFigure(
            "Failed QC reviews", qc_failed_events, qc_failed_requests, queue_url(**period.activity_params("qc_failed"))
        ),
        qc_error_rate_percent=percent(qc_failed_events, qc.total),
        escalations=figure("Escalations fired", "escalation", "escalated"),
        break_glass=events["break_glass"].total,
        break_glass_url=reverse("reporting:break-glass")
        + f"?date_from={period.first_day.isoformat()}&date_to={period.last_day.isoformat()}",
        escalations_acknowledged=escalation.acknowledged,
        escalation_median_ack_hours=_round(escalation.median_ack_seconds / 3600)
        if escalation.median_ack_seconds is not None
        else None,
        duplicates=figure("Duplicate requests", "duplicate", "duplicate"),
        throughput=[
            StaffThroughput(
                user_id=assignee,
                name=names.get(assignee, "Unassigned" if assignee is None else "Former member"),
                delivered=n,
                url=queue_url(**period.activity_params("delivered"), assignee=assignee or "none"),
            )
            for assignee, n in sorted(
                figures.delivered_by_assignee.items(), key=lambda item: (-item[1], item[0] is None, item[0] or 0)
            )
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
    figures: RequestFigures,
    events: dict[str, EventCounts],
    settings: ReportingSettings,
) -> list[SeriesPoint]:
    """Received, delivered and leakage hours per day, or per week (Monday to Sunday, cut at the period's ends)."""
    points: dict[date, SeriesPoint] = {}
    for day in period.each_day():
        start = day - timedelta(days=day.weekday()) if grain == "week" else day
        point = points.get(start)
        if point is None:
            label = f"Week of {max(start, period.first_day):%b %-d}" if grain == "week" else f"{day:%b %-d}"
            point = points[start] = SeriesPoint(label=label, first_day=max(start, period.first_day), last_day=day)
        point.last_day = day
        point.received += figures.received_by_day.get(day, 0)
        point.delivered += figures.delivered_by_day.get(day, 0)
        point.leakage_hours += leakage_minutes_on(day, events, settings) / 60
    for point in points.values():
        point.leakage_hours = round(point.leakage_hours, 1)
    return list(points.values())
