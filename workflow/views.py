"""Staff pages for the request workflow: the queue, a request's detail, and the actions on it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from roi.audit import access_record
from roi.choices import SUPERVISING_ROLES, AccessAction, Role
from roi.errors import ServiceError
from roi.tenancy import TenantViewMixin
from workflow import selectors, services
from workflow.break_glass import restricted_request_ids
from workflow.extensions import panel_contexts, timeline_events, transitions_owned_elsewhere
from workflow.forms import (
    DEFAULT_QUEUE_PAGE_SIZE,
    AssignForm,
    BulkAssignForm,
    QueueFilterForm,
    StatusCallForm,
    WorkQueueForm,
    exception_reason_label,
    transition_form,
)
from workflow.models import Patient, RecordRequest, WorkQueue
from workflow.restricted_views import RestrictedRequestMixin
from workflow.selectors import DEFAULT_QUEUE_SORT
from workflow.transitions import TRANSITIONS, request_transition, transition_options


def _annotate_dates(rows: Sequence[Any], tenant: Any) -> None:
    """Age and days to the legal due date in the tenant's calendar, for display."""
    today = timezone.localdate(timezone=tenant.tzinfo)
    for row in rows:
        row.age = row.age_days(today, tenant.tzinfo)
        row.days_left = row.days_to_legal_due(today)
        row.days_overdue = -row.days_left
        row.target_days_left = (row.internal_target_date - today).days


class QueueView(TenantViewMixin, View):
    """The queue: "my work", a team queue, or everything (the supervisor's view), filtered and sorted, one keyset
    page at a time. Its query count does not depend on the page size or how deep the page is (test_queues.py)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_queue(request)

    def render_queue(self, request: HttpRequest, *, status: int = 200) -> HttpResponse:
        staff = list(selectors.tenant_staff(tenant=self.tenant))
        queues = list(selectors.work_queues(tenant=self.tenant))
        band_labels = self.tenant.aging_band_labels()
        params = request.GET
        data = params.copy()
        if "state" not in data:  # a first visit (or a link without filters) shows open work; state= means any
            data["state"] = QueueFilterForm.OPEN
        if "size" not in data:  # so the Rows select shows the page size in use
            data["size"] = str(DEFAULT_QUEUE_PAGE_SIZE)
        form = QueueFilterForm(data, staff=staff, queues=queues, band_labels=band_labels)
        if not form.is_valid() and "queue" in form.errors:
            raise Http404("No such queue")  # another tenant's queue id answers like a missing one
        filters, sort, size = _queue_filters(form, request.user, staff, queues)
        queryset = selectors.request_queue(tenant=self.tenant, sort=sort, **filters)
        page = selectors.request_queue_page(queryset=queryset, sort=sort, cursor=params.get("cursor"), page_size=size)
        rows = page.rows
        _annotate_dates(rows, self.tenant)
        masked = restricted_request_ids(tenant=self.tenant, user=request.user, record_requests=rows)
        for row in rows:
            row.aging_label = band_labels[min(row.aging_band, len(band_labels) - 1)]
            row.exception_label = exception_reason_label(row.exception_reason) if row.exception_reason else ""
            row.patient_masked = row.pk in masked
        access_record(
            tenant=self.tenant,
            actor=request.user,
            action=AccessAction.LIST_REQUESTS,
            request=request,
            detail=f"queue page, {len(rows)} rows",
        )
        kept = params.copy()
        kept.pop("cursor", None)
        query = kept.urlencode()
        base = f"?{query}&" if query else "?"
        current_queue = filters.get("queue")
        context = {
            "form": form,
            "rows": rows,
            "query": query,
            "next_url": f"{base}cursor={page.next_cursor}" if page.next_cursor else None,
            "previous_url": f"{base}cursor={page.previous_cursor}" if page.previous_cursor else None,
            "queues": [q for q in queues if q.is_active],
            "current_queue": current_queue,
            "mine": filters.get("assignee") is not None and filters.get("assignee") == request.user,
            "bulk_form": BulkAssignForm(staff=staff) if _is_supervisor(request) else None,
        }
        template = "workflow/_queue_table.html" if request.htmx else "workflow/queue.html"  # type: ignore[attr-defined]  # django-htmx's middleware sets it
        return render(request, template, context, status=status)


def _is_supervisor(request: HttpRequest) -> bool:
    return request.membership.role in SUPERVISING_ROLES  # type: ignore[attr-defined]  # TenantMiddleware sets it


def _queue_filters(
    form: QueueFilterForm, user: Any, staff: list[Any], queues: list[Any]
) -> tuple[dict[str, Any], str, int]:
    """The selector's keyword arguments from the filter form; an invalid form shows the default view (open work)."""
    filters: dict[str, Any] = {"open_only": True}
    if not form.is_valid():
        return filters, DEFAULT_QUEUE_SORT, DEFAULT_QUEUE_PAGE_SIZE
    data = form.cleaned_data
    filters["open_only"] = data["state"] == QueueFilterForm.OPEN
    filters["state"] = None if filters["open_only"] else (data["state"] or None)
    if data["assignee"] == QueueFilterForm.ASSIGNEE_ME:
        filters["assignee"] = user
    elif data["assignee"] == QueueFilterForm.ASSIGNEE_NONE:
        filters["unassigned"] = True
    elif data["assignee"]:
        filters["assignee"] = next((m.user for m in staff if str(m.user_id) == data["assignee"]), None)
    if data["queue"] == QueueFilterForm.QUEUE_NONE:
        filters["no_queue"] = True
    elif data["queue"]:
        filters["queue"] = next((q for q in queues if str(q.pk) == data["queue"]), None)
    filters["request_type"] = data["request_type"] or None
    filters["requestor_kind"] = data["requestor_kind"] or None
    filters["aging_band"] = int(data["aging_band"]) if data["aging_band"] else None
    filters["due_within_days"] = data["due_within"]
    filters["overdue"] = data["overdue"]
    filters["exception_reason"] = data["exception"] or None
    filters["stalled"] = data["stalled"]
    filters["channel"] = data["channel"] or None
    filters["activity"] = data["activity"] or None
    filters["activity_from"] = data["activity_from"]
    filters["activity_to"] = data["activity_to"]
    return filters, data["sort"], data["size"]


class ClaimNextView(TenantViewMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        queue = None
        if request.POST.get("queue"):
            try:
                queue = selectors.work_queues(tenant=self.tenant).get(pk=int(request.POST["queue"]))
            except (ValueError, WorkQueue.DoesNotExist):
                raise Http404("No such queue") from None
        claimed = services.request_claim_next(tenant=self.tenant, actor=request.user, queue=queue)
        if claimed is None:
            where = f" in {queue.name}" if queue else ""
            messages.info(request, f"No unassigned open request is waiting{where}.")
            return redirect(reverse("workflow:queue") + (f"?queue={queue.pk}" if queue else ""))
        messages.success(request, f"Request {claimed.tracking_number} is yours now.")
        return redirect("workflow:detail", tracking_number=claimed.tracking_number)


class BulkAssignView(QueueView):
    """Supervisors reassign the ticked rows. Anyone else gets 403 and a message; nothing changes."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        staff = list(selectors.tenant_staff(tenant=self.tenant))
        form = BulkAssignForm(request.POST, staff=staff)
        back = reverse("workflow:queue") + _safe_query(request.POST.get("return_query", ""))
        if not form.is_valid():
            messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
            return redirect(back)
        chosen = form.cleaned_data["assignee"]
        assignee = next((m.user for m in staff if str(m.user_id) == chosen), None) if chosen else None
        try:
            changed = services.requests_bulk_assign(
                tenant=self.tenant,
                actor=request.user,
                tracking_numbers=form.cleaned_data["requests"],
                assignee=assignee,
            )
        except ServiceError as error:
            if error.status_code == 404:
                raise Http404(error.message) from None
            messages.error(request, error.message)
            return self.render_queue(request, status=error.status_code)
        who = f"to {assignee}" if assignee else "to nobody (unassigned)"
        messages.success(request, f"{len(changed)} request{'s' if len(changed) != 1 else ''} assigned {who}.")
        return redirect(back)


def _safe_query(query: str) -> str:
    """The filters the supervisor was looking at, back as a query string (never a URL of another site)."""
    return "?" + QueryDict(query).urlencode() if query else ""


class StatusCallView(TenantViewMixin, RestrictedRequestMixin, View):
    http_method_names = ["post"]

    def open_without_access(self, request: HttpRequest, record_request: RecordRequest) -> bool:
        # Logging a status call (from the queue row as often as from the request) shows nothing of the request.
        return True

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        try:
            record_request = selectors.request_for_staff(tenant=self.tenant, tracking_number=tracking_number)
        except RecordRequest.DoesNotExist:
            raise Http404("No such request") from None
        form = StatusCallForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose who called and the outcome from the lists.")
            return redirect("workflow:detail", tracking_number=tracking_number)
        services.status_call_log(
            tenant=self.tenant,
            actor=request.user,
            record_request=record_request,
            caller=form.cleaned_data["caller"],
            outcome=form.cleaned_data["outcome"],
        )
        messages.success(request, f"Status call logged on {tracking_number}.")
        back = request.POST.get("return_to", "")
        if back == "queue":
            return redirect(reverse("workflow:queue") + _safe_query(request.POST.get("return_query", "")))
        return redirect("workflow:detail", tracking_number=tracking_number)


class WorkQueueAdminView(TenantViewMixin, View):
    """Tenant admins define the team queues and which request types each takes (routing of new requests)."""

    required_roles = frozenset({Role.ADMIN})

    def get_queue(self, pk: int | None) -> WorkQueue | None:
        if pk is None:
            return None
        try:
            return selectors.work_queues(tenant=self.tenant).get(pk=pk)
        except WorkQueue.DoesNotExist:
            raise Http404("No such queue") from None

    def render_admin(
        self, request: HttpRequest, editing: WorkQueue | None, form: WorkQueueForm, *, status: int = 200
    ) -> HttpResponse:
        context = {
            "work_queues": list(selectors.work_queues(tenant=self.tenant)),
            "editing": editing,
            "queue_form": form,
            "adding": editing is None and request.resolver_match.url_name == "queue_add",  # type: ignore[union-attr]  # a routed request always has its match
        }
        return render(request, "workflow/queues_admin.html", context, status=status)

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        editing = self.get_queue(pk)
        initial = (
            {
                "name": editing.name,
                "position": editing.position,
                "request_types": editing.request_types,
                "is_active": editing.is_active,
            }
            if editing
            else {"is_active": True, "position": 0}
        )
        return self.render_admin(request, editing, WorkQueueForm(initial=initial))

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        editing = self.get_queue(pk)
        form = WorkQueueForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Check the highlighted fields.")
            return self.render_admin(request, editing, form, status=400)
        data = form.cleaned_data
        try:
            if editing is None:
                saved = services.work_queue_create(tenant=self.tenant, actor=request.user, **data)
            else:
                saved = services.work_queue_update(tenant=self.tenant, actor=request.user, work_queue=editing, **data)
        except ServiceError as error:
            error.on_form(form)
            messages.error(request, error.message)
            return self.render_admin(request, editing, form, status=error.status_code)
        messages.success(request, f"Queue {saved.name} saved.")
        return redirect("workflow:queues_admin")


def _timeline(tenant: Any, record_request: RecordRequest) -> tuple[list[Any], selectors.RequestorContact]:
    """Transitions and status calls, newest first, in one list for the detail page's timeline; and the count of
    calls beside the portal's status views (the calls the portal saves)."""
    entries: list[Any] = list(selectors.request_timeline(tenant=tenant, record_request=record_request))
    for entry in entries:
        entry.timeline_kind = "transition"
    calls = list(selectors.request_status_calls(tenant=tenant, record_request=record_request))
    for call in calls:
        call.timeline_kind = "status_call"  # type: ignore[attr-defined]  # an attribute for the template
    entries.extend(calls)
    entries.extend(timeline_events(tenant=tenant, record_request=record_request))
    entries.sort(key=lambda e: e.at, reverse=True)  # stable: each list is already newest first
    return entries, selectors.requestor_contact(tenant=tenant, record_request=record_request, calls=len(calls))


class RequestDetailView(TenantViewMixin, RestrictedRequestMixin, View):
    """A request's fields, timeline, history and the actions the user may take now. Every view is audited.

    The base of most request pages and actions (intake, exceptions, fulfillment): RestrictedRequestMixin stops them
    all for a user who may not open a restricted request."""

    def get_object(self, tracking_number: str) -> RecordRequest:
        return self.request_in_tenant(tracking_number)

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
        staff = selectors.tenant_staff_once(request, self.tenant)
        owned_elsewhere = transitions_owned_elsewhere()
        options = [o for o in transition_options(record_request, request.user) if o.spec.name not in owned_elsewhere]
        forms = forms or {}
        for option in options:
            if option.spec.name not in forms:
                forms[option.spec.name] = transition_form(
                    option.spec.name, reason_label=option.spec.reason_label, state=record_request.state
                )
        timeline, contact = _timeline(self.tenant, record_request)
        context = {
            "rr": record_request,
            "options": [(option, forms[option.spec.name]) for option in options],
            "timeline": timeline,
            "requestor_contact": contact,
            "status_call_form": StatusCallForm(auto_id="id_call_%s"),
            "history": selectors.request_history(record_request=record_request),
            "assign_form": AssignForm(initial={"assignee": record_request.assignee_id or ""}, staff=staff),
            "panels": panel_contexts(request, record_request, self.tenant, panel_forms),
            "break_glass": self.break_glass_banner(),
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

    def open_without_access(self, request: HttpRequest, record_request: RecordRequest) -> bool:
        # Claiming an unassigned restricted request is how a specialist gets to open it (the restricted page offers
        # it); claim next from the queue does the same without a page.
        return "claim" in request.POST and record_request.assignee_id is None

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        staff = list(selectors.tenant_staff(tenant=self.tenant))
        assignee: Any
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
            if self.request_access is not None and not self.request_access.allowed:
                # A claim of a restricted request that failed: the user still may not see it.
                return redirect("workflow:queue")
            return self.render_detail(request, self.get_object(tracking_number), status=error.status_code)
        messages.success(request, f"Assigned to {assignee}." if assignee else "Request unassigned.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class PatientPageView(TenantViewMixin, View, ABC):
    """A staff page about one patient (their accounting of disclosures, their authorizations): the patient is found
    inside the tenant (another tenant's answers 404, like a missing one), and every view of the page is an access
    event saying what it showed (`view_detail`). Subclasses render the page (`render_page`, which their POST views
    also call to show a form's errors)."""

    view_detail = ""

    def get_patient(self, pk: int) -> Patient:
        patient = Patient.objects.for_tenant(self.tenant).filter(pk=pk).first()
        if patient is None:
            raise Http404("No such patient")
        return patient

    @abstractmethod
    def render_page(self, request: HttpRequest, patient: Patient) -> HttpResponse:
        """The page about `patient`, already found inside the tenant and its view recorded."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        patient = self.get_patient(pk)
        access_record(
            tenant=self.tenant,
            actor=request.user,
            action=AccessAction.VIEW_PATIENT,
            request=request,
            obj=patient,
            patient_id=patient.pk,
            detail=self.view_detail,
        )
        return self.render_page(request, patient)
