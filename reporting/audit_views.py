"""Audit pages for tenant admins: access events with filters, who accessed a patient's records, everything a user
did, and one request's whole trail. Each page exports as CSV (`?export=csv`). The pages show patients' names and
the export hands them out, so reading them writes an access event too (view_audit, export)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.text import slugify
from django.views import View

from reporting import audit, break_glass
from reporting.audit_forms import AuditFilterForm, BreakGlassReportForm, PatientAuditForm, UserAuditForm
from roi.audit import access_record
from roi.choices import SUPERVISING_ROLES, AccessAction, Role
from roi.models import AccessEvent
from roi.tenancy import TenantViewMixin
from workflow.models import RecordRequest

ADMIN_ROLES = frozenset({Role.ADMIN})


class _Echo:
    """csv.writer's file: hands each row back instead of storing it, so the response streams."""

    def write(self, value: str) -> str:
        return value


def csv_response(rows: Iterator[list[str]], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse((writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


class AuditView(TenantViewMixin, View):
    required_roles = ADMIN_ROLES
    http_method_names = ["get"]

    def wants_csv(self) -> bool:
        return self.request.GET.get("export") == "csv"

    def record(
        self, *, action: str, detail: str, request_id: int | None = None, patient_id: int | None = None
    ) -> AccessEvent:
        """The access event of this look at the audit trail. Pages and exports then show the events before it
        (`id__lt`): a CSV streams after this row exists and would otherwise list its own export."""
        return access_record(
            tenant=self.tenant,
            actor=self.request.user,
            action=action,
            request=self.request,
            request_id=request_id,
            patient_id=patient_id,
            detail=detail,
        )

    def export_query(self, export: str = "csv") -> str:
        query = self.request.GET.copy()
        query.pop("before", None)
        query["export"] = export
        return query.urlencode()


class AccessEventListView(AuditView):
    """Every access event of the tenant, newest first, filtered by user, patient, request, action and dates."""

    def get(self, request: HttpRequest) -> HttpResponse:
        staff = list(audit.audit_users(tenant=self.tenant))
        form = AuditFilterForm(request.GET or None, tenant=self.tenant, staff=staff)
        if form.is_bound and not form.is_valid():
            return render(request, "reporting/audit/events.html", {"form": form, "page": None}, status=400)
        filters = form.filters() if form.is_bound else audit.AccessFilters()
        queryset = audit.access_events(tenant=self.tenant, filters=filters)
        # Events of one request name its patient: reading them is an access to that patient's records.
        request_id = filters.record_request.pk if filters.record_request else None
        patient_id = (
            filters.patient.pk
            if filters.patient
            else filters.record_request.patient_id
            if filters.record_request
            else None
        )
        if self.wants_csv():
            own = self.record(
                action=AccessAction.EXPORT,
                detail=f"audit events CSV: {filters.describe()}",
                request_id=request_id,
                patient_id=patient_id,
            )
            rows = audit.event_csv_rows(self.tenant, queryset.filter(id__lt=own.pk))
            return csv_response(rows, "access-events.csv")
        own = self.record(
            action=AccessAction.VIEW_AUDIT,
            detail=f"audit events: {filters.describe()}",
            request_id=request_id,
            patient_id=patient_id,
        )
        before = request.GET.get("before", "")
        page = audit.access_event_page(
            queryset=queryset.filter(id__lt=own.pk),
            before=int(before) if before.isdigit() else None,
            size=audit.PAGE_SIZE,
        )
        next_query = request.GET.copy()
        next_query["before"] = str(page.next_before)
        context = {
            "form": form,
            "page": page,
            "next_url": f"?{next_query.urlencode()}" if page.next_before else "",
            "export_query": self.export_query(),
        }
        return render(request, "reporting/audit/events.html", context)


class PatientAuditView(AuditView):
    """Who accessed this patient's records: each user or portal requestor, how often, when, and the rows."""

    def get(self, request: HttpRequest) -> HttpResponse:
        form = PatientAuditForm(request.GET or None, tenant=self.tenant, staff=[])
        if not form.is_bound:
            return render(request, "reporting/audit/patient.html", {"form": form})
        if not form.is_valid():
            return render(request, "reporting/audit/patient.html", {"form": form}, status=400)
        filters = form.filters()
        patient = filters.patient
        assert patient is not None
        events = audit.access_events(tenant=self.tenant, filters=filters)
        if self.wants_csv():
            own = self.record(
                action=AccessAction.EXPORT, detail=f"patient audit CSV: {filters.describe()}", patient_id=patient.pk
            )
            rows = audit.event_csv_rows(self.tenant, events.filter(id__lt=own.pk))
            return csv_response(rows, f"patient-{slugify(patient.mrn)}-access.csv")
        own = self.record(
            action=AccessAction.VIEW_AUDIT, detail=f"patient audit: {filters.describe()}", patient_id=patient.pk
        )
        events = events.filter(id__lt=own.pk)
        accessors = list(audit.patient_accessors(queryset=events))
        for accessor in accessors:
            accessor["action_labels"] = audit.action_labels(accessor["actions"])
        context = {
            "form": form,
            "patient": patient,
            "accessors": accessors,
            "rows": list(events[: audit.REPORT_ROWS]),
            "row_limit": audit.REPORT_ROWS,
            "export_query": self.export_query(),
        }
        return render(request, "reporting/audit/patient.html", context)


class UserAuditView(AuditView):
    """Everything this user did: their access events and the transitions they performed."""

    def get(self, request: HttpRequest) -> HttpResponse:
        staff = list(audit.audit_users(tenant=self.tenant))
        form = UserAuditForm(request.GET or None, tenant=self.tenant, staff=staff)
        if not form.is_bound:
            return render(request, "reporting/audit/user.html", {"form": form})
        if not form.is_valid():
            return render(request, "reporting/audit/user.html", {"form": form}, status=400)
        filters = form.filters()
        assert filters.actor_id is not None
        member = next(m for m in staff if m.user_id == filters.actor_id)
        events = audit.access_events(tenant=self.tenant, filters=filters)
        transitions = audit.user_transitions(tenant=self.tenant, actor_id=filters.actor_id, filters=filters)
        export = request.GET.get("export")
        if export in ("csv", "transitions"):
            what = "access events" if export == "csv" else "transitions"
            own = self.record(action=AccessAction.EXPORT, detail=f"user audit CSV, {what}: {filters.describe()}")
            name = slugify(member.user.get_username())
            if export == "csv":
                rows = audit.event_csv_rows(self.tenant, events.filter(id__lt=own.pk))
                return csv_response(rows, f"user-{name}-access.csv")
            return csv_response(audit.transition_csv_rows(self.tenant, transitions), f"user-{name}-transitions.csv")
        own = self.record(action=AccessAction.VIEW_AUDIT, detail=f"user audit: {filters.describe()}")
        context = {
            "form": form,
            "member": member,
            "rows": list(events.filter(id__lt=own.pk)[: audit.REPORT_ROWS]),
            "transitions": list(transitions[: audit.REPORT_ROWS]),
            "row_limit": audit.REPORT_ROWS,
            "export_query": self.export_query(),
            "transitions_export_query": self.export_query("transitions"),
        }
        return render(request, "reporting/audit/user.html", context)


class RequestAuditView(AuditView):
    """One request's whole trail: who looked at it, every state change, every field change, in time order."""

    def get(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = get_object_or_404(
            RecordRequest.objects.for_tenant(self.tenant).select_related("patient"), tracking_number=tracking_number
        )
        entries = audit.request_trail(tenant=self.tenant, record_request=record_request)
        ids: dict[str, Any] = {"request_id": record_request.pk, "patient_id": record_request.patient_id}
        if self.wants_csv():
            self.record(action=AccessAction.EXPORT, detail="request audit trail CSV", **ids)
            return csv_response(audit.trail_csv_rows(self.tenant, entries), f"{tracking_number}-audit-trail.csv")
        self.record(action=AccessAction.VIEW_AUDIT, detail="request audit trail", **ids)
        context = {"record_request": record_request, "entries": entries, "export_query": "export=csv"}
        return render(request, "reporting/audit/request.html", context)


class BreakGlassReportView(AuditView):
    """Every break-glass access to a restricted request in a period (workflow/break_glass.py): when, who, which
    request, the reason, until when, and whether the user looked at anything under it. Supervisors review it as
    well as admins: they are the ones who break the glass, and who answer for their team's."""

    required_roles = SUPERVISING_ROLES

    def get(self, request: HttpRequest) -> HttpResponse:
        form = BreakGlassReportForm(request.GET or None, tenant=self.tenant, staff=[])
        template = "reporting/audit/break_glass.html"
        if form.is_bound and not form.is_valid():
            return render(request, template, {"form": form, "grants": None}, status=400)
        filters = form.filters() if form.is_bound else audit.AccessFilters()
        grants = break_glass.break_glass_grants(
            tenant=self.tenant, date_from=filters.date_from, date_to=filters.date_to
        )
        if self.wants_csv():
            self.record(action=AccessAction.EXPORT, detail=f"break-glass report CSV: {filters.describe()}")
            return csv_response(break_glass.grant_csv_rows(self.tenant, grants), "break-glass-access.csv")
        self.record(action=AccessAction.VIEW_AUDIT, detail=f"break-glass report: {filters.describe()}")
        context = {
            "form": form,
            "grants": list(grants[: audit.REPORT_ROWS]),
            "row_limit": audit.REPORT_ROWS,
            "export_query": self.export_query(),
        }
        return render(request, template, context)
