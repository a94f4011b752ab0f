"""Open work as it stands: counts by state and aging band, overdue and due soon, exceptions by reason with how long
they have lasted, escalations waiting, and each staff member's open load. Five queries whatever the size."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, Value
from django.urls import reverse
from django.utils import timezone

from exceptions.choices import ExceptionReason
from exceptions.models import EscalationEvent
from reporting.metrics.common import Epoch, Percentile, queue_url
from roi import clock
from roi.models import Tenant
from workflow.choices import OPEN_STATES, RequestState
from workflow.models import RecordRequest
from workflow.selectors import EXCEPTION_ANY, tenant_staff

DUE_SOON_DAYS = 7
UNASSIGNED = "none"


@dataclass
class OpenCount:
    label: str
    count: int
    url: str


@dataclass
class ExceptionReasonRow:
    reason: str
    label: str
    count: int
    median_days: float | None
    oldest_days: float | None
    url: str


@dataclass
class StaffLoad:
    user_id: int | None
    name: str
    open: int = 0
    overdue: int = 0
    in_exception: int = 0
    stalled: int = 0
    url: str = ""


@dataclass
class NowMetrics:
    today: date
    open_total: int
    open_url: str
    by_state: list[OpenCount]
    by_band: list[OpenCount]
    # [(state label, [count per band])]: the stacked bars.
    state_band_grid: list[tuple[str, list[int]]]
    band_labels: list[str]
    # [[queue link per band]] in the order of state_band_grid: each aging cell lists its requests.
    state_band_urls: list[list[str]]
    overdue: OpenCount
    due_soon: OpenCount
    stalled: OpenCount
    unassigned: OpenCount
    in_exception: OpenCount
    exceptions_by_reason: list[ExceptionReasonRow]
    escalations_pending: int
    escalations_oldest: datetime | None
    escalations_url: str
    oldest_open: dict[str, Any] | None
    staff_load: list[StaffLoad] = field(default_factory=list)


def dashboard_now(*, tenant: Tenant, now: datetime | None = None) -> NowMetrics:
    now = now or clock.now()
    today = timezone.localdate(now, timezone=tenant.tzinfo)
    band_labels = tenant.aging_band_labels()
    open_requests = RecordRequest.objects.for_tenant(tenant).filter(state__in=OPEN_STATES).order_by()

    # 1. Every open request once, grouped by state, aging band (the stored band the queue filters on) and assignee.
    grid = open_requests.values("state", "aging_band", "assignee_id").annotate(
        n=Count("id"),
        overdue=Count("id", filter=Q(legal_due_date__lt=today)),
        due_soon=Count(
            "id", filter=Q(legal_due_date__gte=today, legal_due_date__lte=today + timedelta(days=DUE_SOON_DAYS))
        ),
        stalled=Count("id", filter=Q(is_stalled=True)),
        in_exception=Count("id", filter=~Q(exception_reason="")),
    )
    by_state: dict[str, int] = {}
    by_band = [0] * len(band_labels)
    cells: dict[tuple[str, int], int] = {}
    staff: dict[int | None, StaffLoad] = {None: StaffLoad(user_id=None, name="Unassigned")}
    totals = {"n": 0, "overdue": 0, "due_soon": 0, "stalled": 0, "in_exception": 0}
    for row in grid:
        band = min(row["aging_band"], len(band_labels) - 1)
        by_state[row["state"]] = by_state.get(row["state"], 0) + row["n"]
        by_band[band] += row["n"]
        cells[(row["state"], band)] = cells.get((row["state"], band), 0) + row["n"]
        load = staff.setdefault(row["assignee_id"], StaffLoad(user_id=row["assignee_id"], name=""))
        load.open += row["n"]
        load.overdue += row["overdue"]
        load.in_exception += row["in_exception"]
        load.stalled += row["stalled"]
        for key in totals:
            totals[key] += row[key]

    # 2. Open exceptions by reason, with how long the current episode has lasted (median and longest).
    in_exception_for = ExpressionWrapper(Value(now) - F("exception_since"), output_field=DurationField())
    reasons = (
        open_requests.exclude(exception_reason="")
        .values("exception_reason")
        .annotate(n=Count("id"), median=Percentile(Epoch(in_exception_for), 0.5), oldest=Min("exception_since"))
        .order_by("-n", "exception_reason")
    )
    exceptions_by_reason = [
        ExceptionReasonRow(
            reason=row["exception_reason"],
            label=_reason_label(row["exception_reason"]),
            count=row["n"],
            median_days=round(row["median"] / 86400, 1) if row["median"] is not None else None,
            oldest_days=round((now - row["oldest"]).total_seconds() / 86400, 1) if row["oldest"] else None,
            url=queue_url(exception=row["exception_reason"], sort="age"),
        )
        for row in reasons
    ]

    # 3. The oldest open request (the open-age index gives it directly).
    oldest = open_requests.order_by("received_at", "id").values("tracking_number", "received_at", "state").first()
    if oldest:
        oldest["age_days"] = (today - oldest["received_at"].astimezone(tenant.tzinfo).date()).days
        oldest["url"] = reverse("workflow:detail", args=[oldest["tracking_number"]])

    # 4. Escalations nobody has acknowledged (the supervisors' inbox).
    pending = (
        EscalationEvent.objects.for_tenant(tenant)
        .filter(acknowledged_at__isnull=True)
        .aggregate(n=Count("id"), oldest=Min("fired_at"))
    )

    # 5. Names for the staff rows: every active member, so someone with nothing open shows 0.
    for membership in tenant_staff(tenant=tenant):
        load = staff.setdefault(membership.user_id, StaffLoad(user_id=membership.user_id, name=""))
        load.name = str(membership.user)
    for load in staff.values():
        if load.user_id is None:
            load.name = "Unassigned"
        elif not load.name:
            # No longer an active member: the queue's assignee filter offers active staff only, so no link.
            load.name = f"Former member (user {load.user_id})"
            continue
        load.url = queue_url(assignee=load.user_id or UNASSIGNED)
    staff_load = sorted(staff.values(), key=lambda s: (s.user_id is None, -s.open, s.name))

    state_labels = dict(RequestState.choices)
    return NowMetrics(
        today=today,
        open_total=totals["n"],
        open_url=queue_url(),
        by_state=[
            OpenCount(state_labels[state], by_state.get(state, 0), queue_url(state=state)) for state in OPEN_STATES
        ],
        by_band=[
            OpenCount(label, by_band[i], queue_url(aging_band=i, sort="age")) for i, label in enumerate(band_labels)
        ],
        state_band_grid=[
            (state_labels[state], [cells.get((state, i), 0) for i in range(len(band_labels))]) for state in OPEN_STATES
        ],
        band_labels=band_labels,
        state_band_urls=[
            [queue_url(state=state, aging_band=i, sort="age") for i in range(len(band_labels))] for state in OPEN_STATES
        ],
        overdue=OpenCount("Overdue", totals["overdue"], queue_url(overdue="on", sort="due")),
        due_soon=OpenCount(
            f"Due in the next {DUE_SOON_DAYS} days", totals["due_soon"], queue_url(due_within=DUE_SOON_DAYS, sort="due")
        ),
        stalled=OpenCount("Stalled", totals["stalled"], queue_url(stalled="on", sort="age")),
        unassigned=OpenCount("Unassigned", staff.get(None, StaffLoad(None, "")).open, queue_url(assignee=UNASSIGNED)),
        in_exception=OpenCount("In exception", totals["in_exception"], queue_url(exception=EXCEPTION_ANY, sort="age")),
        exceptions_by_reason=exceptions_by_reason,
        escalations_pending=pending["n"],
        escalations_oldest=pending["oldest"],
        escalations_url=reverse("exceptions:inbox"),
        oldest_open=oldest,
        staff_load=staff_load,
    )


def _reason_label(value: str) -> str:
    try:
        return ExceptionReason(value).label
    except ValueError:
        return value.replace("_", " ").capitalize()
