"""Staff pages for the request workflow: the queue, a request's detail, and the actions on it."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views import View

from roi.audit import access_record
from roi.choices import AccessAction
from roi.errors import ServiceError
from roi.tenancy import TenantViewMixin
from workflow import selectors, services
from workflow.choices import STATE_COLOURS, RequestState
from workflow.extensions import panel_contexts, transitions_owned_elsewhere
from workflow.forms import AssignForm, QueueFilterForm, transition_form
from workflow.models import RecordRequest
from workflow.transitions import TRANSITIONS, request_transition, transition_options

QUEUE_PAGE_SIZE = 50


def _annotate_dates(rows: list[RecordRequest], tenant: Any) -> None:
    """Age and days to the legal due date in the tenant's calendar, for display."""
    today = timezone.localdate(timezone=tenant.tzinfo)
    for row in rows:
        row.age = row.age_days(today, tenant.tzinfo)  # type: ignore[attr-defined]
        row.days_left = row.days_to_legal_due(today)  # type: ignore[attr-defined]
        row.days_overdue = -row.days_left  # type: ignore[attr-defined]
        row.target_days_left = (row.internal_target_date - today).days  # type: ignore[attr-defined]
        row.state_colour = STATE_COLOURS[row.state]  # type: ignore[attr-defined]


class QueueView(TenantViewMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        staff = list(selectors.tenant_staff(tenant=self.tenant))
        form = QueueFilterForm(request.GET or None, staff=staff, initial={"state": QueueFilterForm.OPEN})
        filters: dict[str, Any] = {"sort": "due", "open_only": True}
        if form.is_valid():
            data = form.cleaned_data
            filters["open_only"] = data["state"] == QueueFilterForm.OPEN
            filters["state"] = None if filters["open_only"] else (data["state"] or None)
            filters["sort"] = data["sort"]
            if data["assignee"] == QueueFilterForm.ASSIGNEE_ME:
                filters["assignee"] = request.user
            elif data["assignee"] == QueueFilterForm.ASSIGNEE_NONE:
                filters["unassigned"] = True
            elif data["assignee"]:
                filters["assignee"] = next((m.user for m in staff if str(m.user_id) == data["assignee"]), None)
        page = Paginator(selectors.request_queue(tenant=self.tenant, **filters), QUEUE_PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        rows = list(page.object_list)
        _annotate_dates(rows, self.tenant)
        access_record(
            tenant=self.tenant,
            actor=request.user,
            action=AccessAction.LIST_REQUESTS,
            request=request,
            detail=f"queue page {page.number}, {len(rows)} rows",
        )
        query = request.GET.copy()
        query.pop("page", None)
        context = {"form": form, "page": page, "rows": rows, "query": query.urlencode()}
        template = "workflow/_queue_table.html" if request.htmx else "workflow/queue.html"  # type: ignore[attr-defined]
        return render(request, template, context)


class RequestDetailView(TenantViewMixin, View):
    """A request's fields, timeline, history and the actions the user may take now. Every view is audited."""

    def get_object(self, tracking_number: str) -> RecordRequest:
        try:
            return selectors.request_for_staff(tenant=self.tenant, tracking_number=tracking_number)
        except RecordRequest.DoesNotExist:
            raise Http404("No such request") from None

    def render_detail(
        self,
        request: HttpRequest,
        record_request: RecordRequest,
        *,
        forms: dict[str, Any] | None = None,
        panel_forms: dict[str, Any] | None = None,
        status: int = 200,
    ) -> HttpResponse:
        _annotate_dates([record_request], self.tenant)
        staff = list(selectors.tenant_staff(tenant=self.tenant))
        owned_elsewhere = transitions_owned_elsewhere()
        options = [o for o in transition_options(record_request, request.user) if o.spec.name not in owned_elsewhere]
        forms = forms or {}
        for option in options:
            if option.spec.name not in forms:
                forms[option.spec.name] = transition_form(
                    option.spec.name, reason_label=option.spec.reason_label, state=record_request.state
                )
        context = {
            "rr": record_request,
            "options": [(option, forms[option.spec.name]) for option in options],
            "timeline": selectors.request_timeline(tenant=self.tenant, record_request=record_request),
            "history": selectors.request_history(record_request=record_request),
            "assign_form": AssignForm(initial={"assignee": record_request.assignee_id or ""}, staff=staff),
            "can_qc": record_request.state == RequestState.IN_FULFILLMENT and record_request.qc_passed_at is None,
            "panels": panel_contexts(request, record_request, self.tenant, panel_forms),
        }
        return render(request, "workflow/detail.html", context, status=status)

    def get(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        access_record(
            tenant=self.tenant,
            actor=request.user,
            action=AccessAction.VIEW_REQUEST,
            request=request,
            obj=record_request,
            request_id=record_request.pk,
            patient_id=record_request.patient_id,
        )
        return self.render_detail(request, record_request)


class RequestTransitionView(RequestDetailView):
    http_method_names = ["post"]  # the inherited get() does not take `name`: a GET here was a 500

    def post(self, request: HttpRequest, tracking_number: str, name: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        if name not in TRANSITIONS or name in transitions_owned_elsewhere():
            raise Http404("No such action")
        form = transition_form(name, reason_label=TRANSITIONS[name].reason_label, data=request.POST)
        if not form.is_valid():
            messages.error(request, "Check the highlighted fields.")
            return self.render_detail(request, record_request, forms={name: form}, status=400)
        data = form.cleaned_data
        try:
            request_transition(
                name=name,
                tenant=self.tenant,
                actor=request.user,
                record_request=record_request,
                expected_state=data["expected_state"],
                reason=data.get("reason", ""),
                evidence=data.get("evidence", ""),
                basis=data.get("basis", ""),
            )
        except ServiceError as error:
            messages.error(request, error.message)
            fresh = self.get_object(tracking_number)
            return self.render_detail(request, fresh, status=error.status_code)
        messages.success(request, f"Request {tracking_number} {TRANSITIONS[name].past}.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class RequestAssignView(RequestDetailView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        staff = list(selectors.tenant_staff(tenant=self.tenant))
        if "claim" in request.POST:
            assignee = request.user
        else:
            form = AssignForm(request.POST, staff=staff)
            if not form.is_valid():
                messages.error(request, "Choose a staff member from the list.")
                return self.render_detail(request, record_request, status=400)
            chosen = form.cleaned_data["assignee"]
            assignee = next((m.user for m in staff if str(m.user_id) == chosen), None) if chosen else None
        try:
            services.request_assign(
                tenant=self.tenant, actor=request.user, record_request=record_request, assignee=assignee
            )
        except ServiceError as error:
            messages.error(request, error.message)
            return self.render_detail(request, self.get_object(tracking_number), status=error.status_code)
        messages.success(request, f"Assigned to {assignee}." if assignee else "Request unassigned.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class RequestQcView(RequestDetailView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        try:
            services.request_record_qc(tenant=self.tenant, actor=request.user, record_request=record_request)
        except ServiceError as error:
            messages.error(request, error.message)
            return self.render_detail(request, self.get_object(tracking_number), status=error.status_code)
        messages.success(request, "Quality control recorded as passed.")
        return redirect("workflow:detail", tracking_number=tracking_number)
