"""The queue: a specialist's own work, a team queue or everything (the supervisor's view), and the queue's actions
(claim the next request, reassign ticked rows)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from roi.audit import access_record
from roi.choices import SUPERVISING_ROLES, AccessAction
from roi.errors import ServiceError
from roi.tenancy import TenantViewMixin
from workflow import selectors, services
from workflow.break_glass import restricted_request_ids
from workflow.forms.queue import DEFAULT_QUEUE_PAGE_SIZE, BulkAssignForm, QueueFilterForm, exception_reason_label
from workflow.models import WorkQueue
from workflow.selectors import DEFAULT_QUEUE_SORT
from workflow.views.base import annotate_dates, safe_query


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
        annotate_dates(rows, self.tenant)
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
        back = reverse("workflow:queue") + safe_query(request.POST.get("return_query", ""))
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
