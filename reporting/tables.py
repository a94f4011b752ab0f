"""The dashboard's tables, defined once: the page shows them and each exports as CSV with the same rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from html import escape
from typing import Any

from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from reporting.metrics import NowMetrics, Period, PeriodMetrics, queue_url


@dataclass
class Cell:
    value: Any
    url: str | None = None

    def __str__(self) -> str:
        return "" if self.value is None else str(self.value)


@dataclass
class Table:
    name: str
    title: str
    columns: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    numeric_from: int = 1  # columns from this index on are numbers (right-aligned)
    # What the CSV file is called before its date(s); open work as it stands is dated today, a period's flow by the
    # period's days (reporting.views.DashboardExportView). The title lives in the name: the file is all data.
    file_stem: str = ""
    is_now: bool = False

    def add(self, *values: Any) -> None:
        self.rows.append([value if isinstance(value, Cell) else Cell(value) for value in values])


def _open_by_state(now: NowMetrics, period: PeriodMetrics) -> Table:
    table = Table(
        "open_by_state",
        "Open requests by state and aging band",
        ["State", *now.band_labels, "Total"],
        file_stem="aging",
        is_now=True,
    )
    for (label, counts), state, links in zip(now.state_band_grid, now.by_state, now.state_band_urls, strict=True):
        table.add(label, *[Cell(n, url) for n, url in zip(counts, links, strict=True)], Cell(state.count, state.url))
    table.add("All open", *[Cell(b.count, b.url) for b in now.by_band], Cell(now.open_total, now.open_url))
    return table


def _exceptions(now: NowMetrics, period: PeriodMetrics) -> Table:
    table = Table(
        "open_exceptions",
        "Open exceptions by reason",
        ["Reason", "Open", "Median days in exception", "Longest (days)"],
        file_stem="open-exceptions",
        is_now=True,
    )
    for row in now.exceptions_by_reason:
        table.add(row.label, Cell(row.count, row.url), row.median_days, row.oldest_days)
    return table


def _staff_load(now: NowMetrics, period: PeriodMetrics) -> Table:
    table = Table(
        "staff_load",
        "Open load per staff member",
        ["Staff member", "Open", "Overdue", "In exception", "Stalled"],
        file_stem="staff-load",
        is_now=True,
    )
    for load in now.staff_load:
        table.add(load.name, Cell(load.open, load.url), load.overdue, load.in_exception, load.stalled)
    return table


def _volume(now: NowMetrics, period: PeriodMetrics) -> Table:
    grain = "Week" if period.grain == "week" else "Day"
    table = Table(
        "volume", f"Received and delivered per {grain.lower()}", [grain, "Received", "Delivered", "Leakage hours"]
    )
    for point in period.series:
        days = Period(first_day=point.first_day, last_day=point.last_day)
        table.add(
            point.label,
            Cell(point.received, queue_url(**days.activity_params("received"))),
            Cell(point.delivered, queue_url(**days.activity_params("delivered"))),
            point.leakage_hours,
        )
    return table


def _by_channel(now: NowMetrics, period: PeriodMetrics) -> Table:
    table = Table("by_channel", "Volume by channel", ["Channel", "Received", "Delivered"])
    _merge(table, period.received_by_channel, period.delivered_by_channel)
    return table


def _by_type(now: NowMetrics, period: PeriodMetrics) -> Table:
    table = Table("by_type", "Volume by request type", ["Request type", "Received", "Delivered"])
    _merge(table, period.received_by_type, period.delivered_by_type)
    return table


def _merge(table: Table, received: list[Any], delivered: list[Any]) -> None:
    keys = {b.key: b.label for b in [*received, *delivered]}
    got = {b.key: b for b in received}
    sent = {b.key: b for b in delivered}
    for key, label in keys.items():
        r, d = got.get(key), sent.get(key)
        table.add(label, Cell(r.count, r.url) if r else 0, Cell(d.count, d.url) if d else 0)


def _turnaround(now: NowMetrics, period: PeriodMetrics) -> Table:
    table = Table(
        "turnaround",
        "Turnaround from receipt to delivery (calendar days)",
        ["Request type", "Delivered", "Mean", "Median", "90th percentile"],
    )
    for row in [*period.turnaround, period.turnaround_all]:
        table.add(row.label, Cell(row.delivered, row.url), row.mean, row.median, row.p90)
    return table


def _reasons(name: str, title: str, attribute: str) -> Callable[[NowMetrics, PeriodMetrics], Table]:
    def build(now: NowMetrics, period: PeriodMetrics) -> Table:
        figure = getattr(period, attribute)
        table = Table(name, title, ["Reason", "Events", "Requests"])
        for label, events, requests in figure.by_reason:
            table.add(label, events, requests)
        table.add("All", figure.events, Cell(figure.requests, figure.url))
        return table

    return build


def _throughput(now: NowMetrics, period: PeriodMetrics) -> Table:
    table = Table("throughput", "Delivered per staff member (assignee)", ["Staff member", "Delivered"])
    for row in period.throughput:
        table.add(row.name, Cell(row.delivered, row.url))
    return table


def _leakage(now: NowMetrics, period: PeriodMetrics) -> Table:
    table = Table(
        "leakage", "Staff hours lost to hidden work", ["Source", "Events", "Requests", "Minutes each", "Hours"]
    )
    labels = {
        "status_calls": ("Status calls", period.status_calls),
        "exceptions": ("Exception handling", period.exceptions_opened),
        "resends": ("Resends", period.resends),
        "duplicates": ("Duplicate requests", period.duplicates),
    }
    for source, (label, figure) in labels.items():
        table.add(
            label,
            figure.events,
            Cell(figure.requests, figure.url),
            period.leakage.minutes[source],
            period.leakage.hours[source],
        )
    table.add("All", "", "", "", period.leakage.total_hours)
    return table


def _quality(now: NowMetrics, period: PeriodMetrics) -> Table:
    """The period's rates, one row each: what leadership and compliance read first."""
    table = Table("period_summary", "Period summary", ["Measure", "Value", "Requests"])
    table.add("Received", Cell(period.received, period.received_url), "")
    table.add("Delivered", Cell(period.delivered, period.delivered_url), "")
    table.add("Delivered within the legal deadline (%)", period.on_time_legal_percent, "")
    table.add(
        "Delivered after the legal due date",
        period.late_legal.events,
        Cell(period.late_legal.requests, period.late_legal.url),
    )
    table.add("Delivered within the internal target (%)", period.on_time_target_percent, "")
    table.add(
        "Delivered after the internal target",
        period.after_target.events,
        Cell(period.after_target.requests, period.after_target.url),
    )
    table.add("Extensions granted", period.extensions.events, Cell(period.extensions.requests, period.extensions.url))
    table.add("Status calls", period.status_calls.events, Cell(period.status_calls.requests, period.status_calls.url))
    table.add("Status calls per 100 requests received", period.status_calls_per_100, "")
    table.add(
        "Portal status views", period.portal_views.events, Cell(period.portal_views.requests, period.portal_views.url)
    )
    table.add("Resends", period.resends.events, Cell(period.resends.requests, period.resends.url))
    table.add("Resends per 100 requests delivered", period.resend_rate_percent, "")
    table.add("QC reviews", period.qc_reviews, "")
    table.add("QC reviews failed", period.qc_failed.events, Cell(period.qc_failed.requests, period.qc_failed.url))
    table.add("QC error rate (%)", period.qc_error_rate_percent, "")
    table.add("Escalations fired", period.escalations.events, Cell(period.escalations.requests, period.escalations.url))
    table.add("Escalations acknowledged", period.escalations_acknowledged, "")
    table.add("Median hours to acknowledge an escalation", period.escalation_median_ack_hours, "")
    table.add(
        "Exceptions opened",
        period.exceptions_opened.events,
        Cell(period.exceptions_opened.requests, period.exceptions_opened.url),
    )
    table.add("Duplicate requests", period.duplicates.events, Cell(period.duplicates.requests, period.duplicates.url))
    return table


TABLES: dict[str, Callable[[NowMetrics, PeriodMetrics], Table]] = {
    "open_by_state": _open_by_state,
    "open_exceptions": _exceptions,
    "staff_load": _staff_load,
    "period_summary": _quality,
    "volume": _volume,
    "by_channel": _by_channel,
    "by_type": _by_type,
    "turnaround": _turnaround,
    "exceptions_opened": _reasons("exceptions_opened", "Exceptions opened by reason", "exceptions_opened"),
    "resends": _reasons("resends", "Resends by reason", "resends"),
    "throughput": _throughput,
    "leakage": _leakage,
}


def csv_filename(table: Table, *, today: date, period: Period) -> str:
    """`aging-2026-12-06.csv` for open work today, `volume-2026-11-07-to-2026-12-06.csv` for a period's table."""
    stem = table.file_stem or table.name.replace("_", "-")
    if table.is_now:
        return f"{stem}-{today.isoformat()}.csv"
    return f"{stem}-{period.first_day.isoformat()}-to-{period.last_day.isoformat()}.csv"


def dashboard_tables(now: NowMetrics, period: PeriodMetrics) -> dict[str, Table]:
    return {name: build(now, period) for name, build in TABLES.items()}


def table_html(table: Table, *, export_query: str | None) -> SafeString:
    """A dashboard table as HTML, built in Python: a page shows a dozen tables and a few hundred cells, which cost
    about 20 ms through the template language and a millisecond here. Numbers with a queue link carry
    data-requests (the drill-down test follows them). `export_query` None leaves out the CSV link (the PDF)."""
    numeric_from = table.numeric_from
    parts = [f'<div class="table-wrap"><table class="report-table" id="table-{escape(table.name)}"><caption>']
    parts.append(escape(table.title))
    if export_query is not None:
        url = reverse("reporting:export", args=[table.name]) + "?" + export_query
        parts.append(f' <a class="csv-link" href="{escape(url)}" download>CSV</a>')
    parts.append("</caption><thead><tr>")
    for index, column in enumerate(table.columns):
        numeric = ' class="num"' if index >= numeric_from else ""
        parts.append(f'<th scope="col"{numeric}>{escape(column)}</th>')
    parts.append("</tr></thead><tbody>")
    for row in table.rows:
        parts.append("<tr>")
        for index, cell in enumerate(row):
            text = escape(str(cell))
            if index == 0:
                parts.append(f'<th scope="row">{text}</th>')
            elif cell.url:
                parts.append(f'<td class="num"><a href="{escape(cell.url)}" data-requests="{text}">{text}</a></td>')
            elif cell.value is None:
                parts.append('<td class="num"><span class="muted">—</span></td>')
            else:
                parts.append(f'<td class="num">{text}</td>')
        parts.append("</tr>")
    if not table.rows:
        parts.append(f'<tr><td colspan="{len(table.columns)}" class="empty">Nothing in this period.</td></tr>')
    parts.append("</tbody></table></div>")
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped
