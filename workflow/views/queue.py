"""The queue: a specialist's own work, a team queue, a saved view or everything (the supervisor's view), and the
queue's actions (claim the next request, reassign ticked rows, save and delete views, export the view as CSV)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from roi.audit import access_record
from roi.choices import SUPERVISING_ROLES, AccessAction
from roi.errors import ServiceError
from roi.tenancy import TenantViewMixin
from workflow import saved_views, selectors, services
from workflow.break_glass import restricted_request_ids
from workflow.choices import RequestorKind, RequestState, RequestType
from workflow.forms.queue import (
    DEFAULT_QUEUE_PAGE_SIZE,
    SORT_COLUMNS,
    BulkAssignForm,
    QueueFilterForm,
    SavedViewForm,
    exception_reason_label,
)
from workflow.models import WorkQueue
from workflow.selectors import DEFAULT_QUEUE_SORT, REVERSED
from workflow.views.base import annotate_dates, safe_query


class QueueView(TenantViewMixin, View):
    """The queue: "my work", a team queue, a saved view or everything (the supervisor's view), filtered and sorted,
    one keyset page at a time, with the total of the view. Its query count does not depend on the page size or how
    deep the page is (test_queues.py)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_queue(request)

    def render_queue(self, request: HttpRequest, *, status: int = 200) -> HttpResponse:
        staff = list(selectors.tenant_staff(tenant=self.tenant))
        queues = list(selectors.work_queues(tenant=self.tenant))
        view = queue_view(request, tenant=self.tenant, staff=staff, queues=queues)
        form, filters, sort, size = view.form, view.filters, view.sort, view.size
        params = request.GET
        queryset = selectors.request_queue(tenant=self.tenant, sort=sort, **filters)
        page = selectors.request_queue_page(queryset=queryset, sort=sort, cursor=params.get("cursor"), page_size=size)
        total = selectors.request_queue_total(queryset=queryset)
        saved_views = list(selectors.saved_queue_views(tenant=self.tenant, user=request.user))
        rows = page.rows
        annotate_rows(rows, tenant=self.tenant, user=request.user)
        access_record(
            tenant=self.tenant,
            actor=request.user,
            action=AccessAction.LIST_REQUESTS,
            request=request,
            detail=f"queue page, {len(rows)} rows",
        )
        query = view.query
        base = f"?{query}&" if query else "?"
        current_queue = filters.get("queue")
        current_saved = next((v for v in saved_views if v.query == query), None)
        mine = filters.get("assignee") is not None and filters.get("assignee") == request.user
        context = {
            "form": form,
            "rows": rows,
            "query": query,
            "total": total,
            "total_capped": total > selectors.QUEUE_COUNT_CAP,
            "count_cap": selectors.QUEUE_COUNT_CAP,
            "columns": sort_columns(view.query_dict, sort),
            "next_url": f"{base}cursor={page.next_cursor}" if page.next_cursor else None,
            "previous_url": f"{base}cursor={page.previous_cursor}" if page.previous_cursor else None,
            "export_url": reverse("workflow:queue_export") + (f"?{query}" if query else ""),
            "export_cap": EXPORT_MAX_ROWS,
            "queues": [q for q in queues if q.is_active],
            "current_queue": current_queue,
            "saved_views": saved_views,
            "current_saved": current_saved,
            "save_form": SavedViewForm(initial={"query": query}),
            "mine": mine,
            "everything": not mine and current_queue is None and current_saved is None,
            "bulk_form": BulkAssignForm(staff=staff) if _is_supervisor(request) else None,
        }
        template = "workflow/_queue_table.html" if request.htmx else "workflow/queue.html"  # type: ignore[attr-defined]  # django-htmx's middleware sets it
        return render(request, template, context, status=status)


@dataclass
class QueueViewState:
    """What the queue's address asks for, read the same way by the page and its CSV export: the filter form, the
    selector's filters, the sort, the page size, and the query string that names the view (no cursor; a specialist's
    first visit names their own work)."""

    form: QueueFilterForm
    filters: dict[str, Any]
    sort: str
    size: int
    query_dict: QueryDict
    query: str


def queue_view(request: HttpRequest, *, tenant: Any, staff: list[Any], queues: list[Any]) -> QueueViewState:
    band_labels = tenant.aging_band_labels()
    params = request.GET
    data = params.copy()
    kept = params.copy()
    kept.pop("cursor", None)
    # A specialist's first visit (the queue's bare address, from the menu or after signing in) shows their own open
    # work; supervisors start with all open work. "Everything" is ?assignee= (anyone), so it stays one click away.
    if not kept and not _is_supervisor(request):
        data["assignee"] = kept["assignee"] = QueueFilterForm.ASSIGNEE_ME
    if "state" not in data:  # a first visit (or a link without filters) shows open work; state= means any
        data["state"] = QueueFilterForm.OPEN
    if "size" not in data:  # so the Rows select shows the page size in use
        data["size"] = str(DEFAULT_QUEUE_PAGE_SIZE)
    form = QueueFilterForm(data, staff=staff, queues=queues, band_labels=band_labels)
    if not form.is_valid() and "queue" in form.errors:
        raise Http404("No such queue")  # another tenant's queue id answers like a missing one
    filters, sort, size = _queue_filters(form, request.user, staff, queues)
    return QueueViewState(form=form, filters=filters, sort=sort, size=size, query_dict=kept, query=kept.urlencode())


def annotate_rows(rows: list[Any], *, tenant: Any, user: Any) -> None:
    """Day counts in the tenant's calendar, band and exception labels, and the restricted rows' masks."""
    band_labels = tenant.aging_band_labels()
    annotate_dates(rows, tenant)
    masked = restricted_request_ids(tenant=tenant, user=user, record_requests=rows)
    for row in rows:
        row.aging_label = band_labels[min(row.aging_band, len(band_labels) - 1)]
        row.exception_label = exception_reason_label(row.exception_reason) if row.exception_reason else ""
        row.patient_masked = row.pk in masked


@dataclass(frozen=True)
class SortColumn:
    """A sortable column header: the link that sorts by it (the other way round when it already does), and its
    aria-sort while it is the sort."""

    name: str
    url: str
    aria_sort: str | None


def sort_columns(kept: QueryDict, sort: str) -> dict[str, SortColumn]:
    current = sort.removeprefix(REVERSED)
    reversed_ = sort.startswith(REVERSED)
    columns = {}
    for column, (first_sort, natural) in SORT_COLUMNS.items():
        query = kept.copy()
        query.pop("cursor", None)
        query["sort"] = REVERSED + first_sort if column == current and not reversed_ else first_sort
        aria = None
        if column == current:
            aria = natural if not reversed_ else ("ascending" if natural == "descending" else "descending")
        columns[column] = SortColumn(name=column, url=f"?{query.urlencode()}", aria_sort=aria)
    return columns


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


class SavedViewCreateView(TenantViewMixin, View):
    """Save the queue's current filters under a name; the new view is then listed beside the team queues."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        form = SavedViewForm(request.POST)
        query = safe_query(request.POST.get("query", "")).removeprefix("?")
        back = reverse("workflow:queue") + (f"?{query}" if query else "")
        if not form.is_valid():
            messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
            return redirect(back)
        try:
            saved = saved_views.saved_view_create(
                tenant=self.tenant, actor=request.user, name=form.cleaned_data["name"], query=query
            )
        except ServiceError as error:
            messages.error(request, error.message)
            return redirect(back)
        messages.success(request, f"Saved the view {saved.name!r}.")
        return redirect(back)


class SavedViewDeleteView(TenantViewMixin, View):
    """Delete one of the user's saved views. Anyone else's answers 404, like a missing one."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            name = saved_views.saved_view_delete(tenant=self.tenant, actor=request.user, pk=pk)
        except ServiceError as error:
            if error.status_code == 404:
                raise Http404(error.message) from None
            messages.error(request, error.message)
            return redirect("workflow:queue")
        messages.success(request, f"Deleted the view {name!r}.")
        return redirect("workflow:queue")


# The export hands out at most this many rows, the first of the view in its order; the page says so beside the
# link when the view holds more. A spreadsheet of a day's work or a team's backlog fits; a whole tenant's history
# is the reporting exports' work.
EXPORT_MAX_ROWS = 10_000
EXPORT_CHUNK = 500  # rows read per query while the file streams
EXPORT_COLUMNS = [
    "Priority",
    "Priority reasons",
    "Tracking number",
    "Patient",
    "Requestor",
    "Requestor kind",
    "Type",
    "Queue",
    "State",
    "Stalled",
    "Age (days)",
    "Aging band (days)",
    "Legal due date",
    "Assignee",
    "Exception",
]


class _Echo:
    """csv.writer's file: hands each row back instead of storing it, so the response streams."""

    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    """A spreadsheet never runs a cell as a formula: text that starts like one gets a leading apostrophe (OWASP's
    CSV injection advice). Patient and requestor names come from outside."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class QueueExportView(TenantViewMixin, View):
    """The queue's current view (the same filters and sort as the page's address) as CSV, with the columns the page
    shows: a header line, then one line per request, streamed a chunk at a time. The access event is written before
    the first byte and says how many rows leave; the ids are picked first, so the file holds exactly those rows."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        staff = list(selectors.tenant_staff(tenant=self.tenant))
        queues = list(selectors.work_queues(tenant=self.tenant))
        view = queue_view(request, tenant=self.tenant, staff=staff, queues=queues)
        queryset = selectors.request_queue(tenant=self.tenant, sort=view.sort, **view.filters)
        ids = selectors.request_queue_ids(queryset=queryset, limit=EXPORT_MAX_ROWS)
        access_record(
            tenant=self.tenant,
            actor=request.user,
            action=AccessAction.EXPORT,
            request=request,
            detail=f"queue CSV export, {len(ids)} rows" + (f" ({view.query})" if view.query else ""),
        )
        tenant, user = self.tenant, request.user
        labels = {
            "type": dict(RequestType.choices),
            "state": dict(RequestState.choices),
            "kind": dict(RequestorKind.choices),
        }
        band_labels = tenant.aging_band_labels()

        def lines() -> Iterator[list[str]]:
            yield EXPORT_COLUMNS
            for start in range(0, len(ids), EXPORT_CHUNK):
                rows = selectors.queue_rows_by_id(tenant=tenant, ids=ids[start : start + EXPORT_CHUNK])
                annotate_rows(rows, tenant=tenant, user=user)
                for rr in rows:
                    yield [
                        _cell(v)
                        for v in (
                            rr.priority_score,
                            rr.priority_reasons,
                            rr.tracking_number,
                            "Restricted" if rr.patient_masked else f"{rr.patient_last_name}, {rr.patient_first_name}",
                            rr.requestor_organization or rr.requestor_name,
                            labels["kind"].get(rr.requestor_kind, rr.requestor_kind),
                            labels["type"].get(rr.request_type, rr.request_type),
                            rr.queue_name,
                            labels["state"].get(rr.state, rr.state),
                            "yes" if rr.is_stalled else "",
                            rr.age,
                            band_labels[min(rr.aging_band, len(band_labels) - 1)],
                            rr.legal_due_date.isoformat(),
                            rr.assignee_name,
                            rr.exception_label,
                        )
                    ]

        writer = csv.writer(_Echo())
        response = StreamingHttpResponse(
            (writer.writerow(line) for line in lines()), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.localdate(timezone=tenant.tzinfo).isoformat()
        response["Content-Disposition"] = f'attachment; filename="queue-{stamp}.csv"'
        response["Cache-Control"] = "no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response
