"""Supervisor and admin pages: the dashboard, its CSV exports, the monthly PDF report, the leakage settings."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View

from reporting import charts
from reporting.forms import MonthForm, PeriodForm, ReportingSettingsForm
from reporting.metrics import NowMetrics, PeriodMetrics, dashboard_now, dashboard_period
from reporting.services import LEAKAGE_FIELDS, reporting_settings_for, reporting_settings_save
from reporting.snapshots import snapshot_history, weekly_leakage
from reporting.tables import TABLES, csv_filename, dashboard_tables
from roi import clock
from roi.audit import access_record
from roi.choices import SUPERVISING_ROLES, AccessAction, Role
from roi.downloads import PhiDownloadView, ServedFile, spreadsheet_safe
from roi.errors import ServiceError
from roi.pdf import render_pdf
from roi.tenancy import TenantViewMixin

TREND_DAYS = 84  # twelve weeks of daily snapshots


def _charts(now: NowMetrics, period: PeriodMetrics, history: list[Any]) -> dict[str, Any]:
    labels = [f"{point.first_day:%b %-d}" for point in period.series]  # a week by its first day
    stock = [s for s in history if s.open_total is not None]
    weekly = weekly_leakage(history, period.leakage.minutes)
    return {
        "aging": charts.stacked_bars(
            "Open requests by state and aging band (days since receipt)", now.state_band_grid, now.band_labels
        ),
        "staff": charts.bars("Open requests per staff member", [(s.name, s.open) for s in now.staff_load]),
        "volume": charts.line_chart(
            f"Received and delivered per {period.grain}",
            labels,
            [("Received", [p.received for p in period.series]), ("Delivered", [p.delivered for p in period.series])],
        ),
        "leakage": charts.line_chart(
            f"Staff hours lost to hidden work per {period.grain}",
            labels,
            [("Hours", [p.leakage_hours for p in period.series])],
        ),
        "throughput": charts.bars("Delivered per staff member", [(t.name, t.delivered) for t in period.throughput]),
        "open_trend": charts.line_chart(
            f"Open work at the end of each day (last {TREND_DAYS} daily snapshots)",
            [f"{s.day:%b %-d}" for s in stock],
            [
                ("Open", [s.open_total for s in stock]),
                ("Overdue", [s.overdue for s in stock]),
                ("In exception", [s.in_exception for s in stock]),
            ],
        )
        if stock
        else None,
        "leakage_trend": charts.line_chart(
            "Staff hours lost per week (daily snapshots, this organisation's current minutes per event)",
            [f"{start:%b %-d}" for start, _ in weekly],
            [("Hours", [hours for _, hours in weekly])],
        )
        if weekly
        else None,
    }


class DashboardView(TenantViewMixin, View):
    """Where work slows down and why: open work now, the chosen period's flow, and the hours lost to hidden work.
    Every number links to the queue listing the requests behind it."""

    required_roles = SUPERVISING_ROLES

    def get(self, request: HttpRequest) -> HttpResponse:
        today = timezone.localdate(clock.now(), timezone=self.tenant.tzinfo)
        form = PeriodForm(request.GET or None, today=today)
        period, grain = form.period_or_default()
        if not form.is_bound:
            form = PeriodForm(today=today, initial={"start": period.first_day, "end": period.last_day, "grain": grain})
        now = dashboard_now(tenant=self.tenant)
        flows = dashboard_period(tenant=self.tenant, period=period, grain=grain)
        history = snapshot_history(tenant=self.tenant, last_day=today, days=TREND_DAYS)
        context = {
            "form": form,
            "now": now,
            "flows": flows,
            "period": period,
            "tables": dashboard_tables(now, flows),
            "charts": _charts(now, flows, history),
            "history_days": len(history),
            "quick_ranges": _quick_ranges(today),
            "export_query": f"start={period.first_day}&end={period.last_day}&grain={grain}",
            "last_month": (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m"),
            "is_admin": request.membership.role == Role.ADMIN,  # type: ignore[attr-defined]  # TenantMiddleware sets it
        }
        return render(request, "reporting/dashboard.html", context)


def _quick_ranges(today: date) -> list[tuple[str, str]]:
    ranges = [("Last 7 days", 7), ("Last 30 days", 30), ("Last 90 days", 90), ("Last 12 months", 365)]
    links = [(label, f"?start={today - timedelta(days=days - 1)}&end={today}") for label, days in ranges]
    first = today.replace(day=1)
    previous_end = first - timedelta(days=1)
    links.append(("This month", f"?start={first}&end={today}"))
    links.append(("Last month", f"?start={previous_end.replace(day=1)}&end={previous_end}"))
    return links


class DashboardExportView(TenantViewMixin, View):
    """One dashboard table as CSV, the rows the page shows. Every export is an access event."""

    required_roles = SUPERVISING_ROLES

    def get(self, request: HttpRequest, table: str) -> HttpResponse:
        if table not in TABLES:
            raise Http404("No such table")
        today = timezone.localdate(clock.now(), timezone=self.tenant.tzinfo)
        form = PeriodForm(request.GET or None, today=today)
        if request.GET and not form.is_valid():
            return HttpResponse(
                " ".join(form.errors.get("__all__", ["Check the dates."])),
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        period, grain = form.period_or_default()
        now = dashboard_now(tenant=self.tenant)
        flows = dashboard_period(tenant=self.tenant, period=period, grain=grain)
        built = TABLES[table](now, flows)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        # The header row first, nothing above it: spreadsheets and import tools read the first line as the columns.
        writer.writerow(built.columns)
        for row in built.rows:
            writer.writerow([spreadsheet_safe(cell) for cell in row])
        access_record(
            tenant=self.tenant,
            actor=request.user,
            action=AccessAction.EXPORT,
            request=request,
            detail=f"dashboard table {table}, {period.first_day} to {period.last_day}",
        )
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        filename = csv_filename(built, today=today, period=period)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'

        response["Cache-Control"] = "no-store"
        return response


class MonthlyReportView(PhiDownloadView, View):
    """The month's report for leadership and compliance, as a PDF (WeasyPrint) with the dashboard's charts. It is
    made on the spot, so its access event is an export, sent like every other file with PHI (roi.downloads)."""

    required_roles = SUPERVISING_ROLES
    access_action = AccessAction.EXPORT

    def find(self) -> MonthForm:
        return MonthForm(self.request.GET)

    def open_file(self, form: MonthForm) -> ServedFile:
        if not form.is_valid():
            raise ServiceError(" ".join(form.errors.get("month", ["Give the month as YYYY-MM."])))
        period = form.period()
        today = timezone.localdate(clock.now(), timezone=self.tenant.tzinfo)
        if period.first_day > today:
            raise ServiceError("That month has not started yet.")
        now = dashboard_now(tenant=self.tenant)
        flows = dashboard_period(tenant=self.tenant, period=period, grain="week")
        history = snapshot_history(tenant=self.tenant, last_day=period.last_day, days=period.days)
        pdf = render_pdf(
            "reporting/monthly_report.html",
            {
                "tenant": self.tenant,
                "period": period,
                "now": now,
                "flows": flows,
                "tables": dashboard_tables(now, flows),
                "charts": _charts(now, flows, history),
                "generated_at": clock.now(),
                "generated_by": self.request.user,
                "complete": period.last_day < today,
            },
        )
        return ServedFile(
            content=pdf,
            filename=f"{self.tenant.slug}-report-{form.cleaned_data['month']}.pdf",
            content_type="application/pdf",
            obj=None,
            detail=f"monthly report {form.cleaned_data['month']}",
        )

    def back(self, **kwargs: Any) -> HttpResponse:
        return redirect("reporting:dashboard")


class ReportingSettingsView(TenantViewMixin, View):
    """Tenant admins set the minutes per event the leakage report counts."""

    required_roles = frozenset({Role.ADMIN})

    def get(self, request: HttpRequest) -> HttpResponse:
        form = ReportingSettingsForm(instance=reporting_settings_for(self.tenant))
        return render(request, "reporting/settings.html", {"form": form})

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ReportingSettingsForm(request.POST, instance=reporting_settings_for(self.tenant))
        if form.is_valid():
            try:
                reporting_settings_save(
                    tenant=self.tenant, actor=request.user, minutes={n: form.cleaned_data[n] for n in LEAKAGE_FIELDS}
                )
            except ServiceError as error:
                form.add_error(error.field, error.message)
        if not form.is_valid():
            return render(request, "reporting/settings.html", {"form": form}, status=400)
        messages.success(request, "Leakage minutes saved; the dashboard uses them from now on.")
        return redirect("reporting:dashboard")
