"""A period's request figures (received and delivered per day, channel, type and assignee; lateness; turnaround
days per type): finished days from the rollups (reporting/rollups.py), every other day from the requests by the same
statement the rollup job stores. The two sources give the same numbers for a day; the rollups only make a long or
busy period cheap to read."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import connection

from reporting.metrics.common import Period
from reporting.rollups import BY_ASSIGNEE, BY_CHANNEL_TYPE, BY_DAY, BY_TURNAROUND, READ_SQL, figures_rows
from roi.models import Tenant
from workflow.selectors import day_window


@dataclass
class RequestFigures:
    received_by_day: Counter[date] = field(default_factory=Counter)
    received_by_channel: Counter[str] = field(default_factory=Counter)
    received_by_type: Counter[str] = field(default_factory=Counter)
    delivered_by_day: Counter[date] = field(default_factory=Counter)
    delivered_by_channel: Counter[str] = field(default_factory=Counter)
    delivered_by_type: Counter[str] = field(default_factory=Counter)
    delivered_by_assignee: Counter[int | None] = field(default_factory=Counter)
    late: int = 0
    after_target: int = 0
    # request type: Counter(turnaround days: deliveries)
    turnaround: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    days_rolled_up: int = 0

    @property
    def received(self) -> int:
        return sum(self.received_by_day.values())

    @property
    def delivered(self) -> int:
        return sum(self.delivered_by_day.values())


def request_figures(*, tenant: Tenant, period: Period) -> RequestFigures:
    figures = RequestFigures()
    covered = _add_rollups(figures, tenant, period)
    figures.days_rolled_up = len(covered)
    for first, last in _uncovered_ranges(period, covered):
        _add_live(figures, tenant, first, last)
    return figures


def _add_rollups(figures: RequestFigures, tenant: Tenant, period: Period) -> set[date]:
    covered: set[date] = set()
    with connection.cursor() as cursor:
        cursor.execute(READ_SQL, [tenant.pk, period.first_day, period.last_day])
        rows = cursor.fetchall()
    for grouping, kind, day, channel, request_type, assignee, value, n, late, after_target in rows:
        if grouping == BY_DAY:
            if kind == "day":
                covered.add(day)
            elif kind == "received":
                figures.received_by_day[day] += n
            elif kind == "delivered":
                figures.delivered_by_day[day] += n
        elif grouping == BY_CHANNEL_TYPE and kind == "received":
            figures.received_by_channel[channel] += n
            figures.received_by_type[request_type] += n
        elif grouping == BY_CHANNEL_TYPE and kind == "delivered":
            figures.delivered_by_channel[channel] += n
            figures.delivered_by_type[request_type] += n
            figures.late += late
            figures.after_target += after_target
        elif grouping == BY_ASSIGNEE and kind == "delivered":
            figures.delivered_by_assignee[assignee] += n
        elif grouping == BY_TURNAROUND and kind == "turnaround":
            figures.turnaround[request_type][value] += n
    return covered


def _uncovered_ranges(period: Period, covered: set[date]) -> list[tuple[date, date]]:
    """The period's days without a rollup, as runs of consecutive days."""
    ranges: list[tuple[date, date]] = []
    for day in period.each_day():
        if day in covered:
            continue
        if ranges and ranges[-1][1] == day - timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def _add_live(figures: RequestFigures, tenant: Tenant, first: date, last: date) -> None:
    window = day_window(tenant=tenant, first_day=first, last_day=last)
    for kind, day, channel, request_type, assignee, value, n, late, after_target in figures_rows(
        tenant=tenant, start=window.start, end=window.end
    ):
        if kind == "received":
            figures.received_by_day[day] += n
            figures.received_by_channel[channel] += n
            figures.received_by_type[request_type] += n
        elif kind == "delivered":
            figures.delivered_by_day[day] += n
            figures.delivered_by_channel[channel] += n
            figures.delivered_by_type[request_type] += n
            figures.delivered_by_assignee[assignee] += n
            figures.late += late
            figures.after_target += after_target
        elif kind == "turnaround":
            figures.turnaround[request_type][value] += n


@dataclass(frozen=True)
class TurnaroundStats:
    n: int
    mean: float | None
    median: float | None
    p90: float | None
    total: int


def turnaround_stats(counts: Counter[int]) -> TurnaroundStats:
    """Mean, and PostgreSQL's percentile_cont (linear interpolation between the two nearest ranks) for the median
    and the 90th percentile, from a count of deliveries per number of days."""
    n = sum(counts.values())
    if not n:
        return TurnaroundStats(0, None, None, None, 0)
    values = sorted(counts.items())
    total = sum(days * count for days, count in values)

    def at_rank(rank: int) -> int:
        seen = 0
        for days, count in values:
            seen += count
            if rank < seen:
                return days
        return values[-1][0]

    def percentile(fraction: float) -> float:
        position = fraction * (n - 1)
        lower = math.floor(position)
        below, above = at_rank(lower), at_rank(min(lower + 1, n - 1))
        return below + (position - lower) * (above - below)

    return TurnaroundStats(n, total / n, percentile(0.5), percentile(0.9), total)
