"""Pages and actions for fulfillment: retrieval. Forms in the fulfillment panel of the request detail page post
here; without JavaScript each action redirects back to the detail page (or shows it again with the errors and what
was typed), with htmx it answers the retrieval section alone, which replaces the old one.

Every view finds the request (and the task) through the tenant: another tenant's answers 404 like a missing one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.views import View

from fulfillment import retrieval
from fulfillment.forms import retrieval as retrieval_forms
from fulfillment.models import RetrievalTask
from fulfillment.panels import retrieval as retrieval_panel
from fulfillment.policy import policy_for
from roi.audit import access_record
from roi.choices import AccessAction
from roi.errors import ServiceError
from roi.tenancy import TenantViewMixin
from workflow.models import RecordRequest
from workflow.selectors import tenant_staff
from workflow.views.base import RequestActionView


class RetrievalActionView(RequestActionView):
    """Base of the retrieval actions: POST only; answers like the detail page's other actions."""

    def staff_user(self, chosen: str) -> Any | None:
        """The owner chosen in a form: a staff member of this tenant (the form's choices were these already)."""
        if not chosen:
            return None
        membership = next((m for m in tenant_staff(tenant=self.tenant) if str(m.user_id) == chosen), None)
        return membership.user if membership else None

    def get_task(self, tracking_number: str, pk: int) -> RetrievalTask:
        try:
            return retrieval.retrieval_task_for(tenant=self.tenant, tracking_number=tracking_number, pk=pk)
        except RetrievalTask.DoesNotExist:
            raise Http404("No such retrieval task") from None

    def answer(
        self,
        request: HttpRequest,
        record_request: RecordRequest,
        *,
        panel_forms: dict[str, Any] | None = None,
        status: int = 200,
    ) -> HttpResponse:
        """After an action: htmx gets the retrieval section; a plain form post the detail page (errors) or a
        redirect to it (success, so a reload does not post again). Either page shows PHI: an access event."""
        if request.htmx or status != 200:  # type: ignore[attr-defined]  # django-htmx's middleware sets it
            fresh = self.get_object(record_request.tracking_number)
            access_record(
                tenant=self.tenant,
                actor=request.user,
                action=AccessAction.VIEW_REQUEST,
                request=request,
                obj=fresh,
                request_id=fresh.pk,
                patient_id=fresh.patient_id,
                detail="retrieval",
            )
            if request.htmx:  # type: ignore[attr-defined]  # django-htmx's middleware sets it
                ctx = {
                    "rr": fresh,
                    "retrieval_flash": True,  # the section shows the messages itself: no page around it does
                    **retrieval_panel.panel_context(tenant=self.tenant, record_request=fresh, forms=panel_forms or {}),
                }
                # htmx swaps 2xx answers only: errors come back as 200, the real status in a header.
                response = render(request, "fulfillment/_retrieval.html", {"ctx": ctx})
                if status != 200:
                    response["X-Retrieval-Status"] = str(status)
                return response
            return self.render_detail(request, fresh, panel_forms=panel_forms, status=status)
        return redirect("workflow:detail", tracking_number=record_request.tracking_number)


class RetrievalCreateView(RetrievalActionView):
    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        staff = retrieval_forms.staff_choices(self.tenant)
        form = retrieval_forms.RetrievalTaskForm(request.POST, staff=staff)
        if not form.is_valid():
            messages.error(request, "The retrieval task was not added: check the highlighted fields.")
            return self.answer(request, record_request, panel_forms={"retrieval_form": form}, status=400)
        data = form.cleaned_data
        was = record_request.state
        try:
            task = retrieval.retrieval_task_create(
                tenant=self.tenant,
                actor=request.user,
                record_request=record_request,
                source=data["source"],
                source_detail=data["source_detail"],
                owner=self.staff_user(data["owner"]),
                notes=data["notes"],
            )
        except ServiceError as error:
            if not error.on_form(form):
                messages.error(request, error.message)
            return self.answer(request, record_request, panel_forms={"retrieval_form": form}, status=error.status_code)
        started = " Fulfillment started." if was != task.request.state else ""
        messages.success(request, f"{task.get_source_display()} asked for the records.{started}")
        if started and request.htmx:  # type: ignore[attr-defined]  # django-htmx's middleware sets it
            # The state, its badge and the actions offered changed outside this section: htmx loads the whole page.
            response = HttpResponse(status=204)
            response["HX-Redirect"] = reverse("workflow:detail", args=[tracking_number])
            return response
        return self.answer(request, record_request)


class RetrievalUpdateView(RetrievalActionView):
    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        task = self.get_task(tracking_number, pk)
        record_request = self.get_object(tracking_number)
        form = retrieval_forms.RetrievalUpdateForm(
            request.POST, staff=retrieval_forms.staff_choices(self.tenant), auto_id=f"id_retrieval_{pk}_edit_%s"
        )
        bound = {"retrieval_task_form": (task.pk, "edit", form)}
        if not form.is_valid():
            messages.error(request, "The task was not changed: check the highlighted fields.")
            return self.answer(request, record_request, panel_forms=bound, status=400)
        try:
            retrieval.retrieval_task_update(
                tenant=self.tenant,
                actor=request.user,
                task=task,
                owner=self.staff_user(form.cleaned_data["owner"]),
                notes=form.cleaned_data["notes"],
            )
        except ServiceError as error:
            if not error.on_form(form):
                messages.error(request, error.message)
            return self.answer(request, record_request, panel_forms=bound, status=error.status_code)
        messages.success(request, f"{task.get_source_display()} task saved.")
        return self.answer(request, record_request)


# How a task can end, per route: what the message says it became, and the service that ends it so.
OUTCOMES: dict[str, tuple[str, Callable[..., RetrievalTask]]] = {
    "received": ("marked received", retrieval.retrieval_task_mark_received),
    "nothing-held": ("marked as nothing held", retrieval.retrieval_task_mark_not_available),
    "cancel": ("cancelled", lambda note, **fields: retrieval.retrieval_task_cancel(reason=note, **fields)),
}


class RetrievalOutcomeView(RetrievalActionView):
    """Received, nothing held or cancelled: `action` (a key of OUTCOMES) is fixed per route by as_view()."""

    action = ""

    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        task = self.get_task(tracking_number, pk)
        record_request = self.get_object(tracking_number)
        form = retrieval_forms.note_form(self.action, task_pk=task.pk, data=request.POST)
        bound = {"retrieval_task_form": (task.pk, self.action, form)}
        if not form.is_valid():
            messages.error(request, f"The {task.get_source_display()} task was not changed: check the note.")
            return self.answer(request, record_request, panel_forms=bound, status=400)
        try:
            OUTCOMES[self.action][1](tenant=self.tenant, actor=request.user, task=task, note=form.cleaned_data["note"])
        except ServiceError as error:
            if error.field in ("note", "reason"):
                form.add_error("note", error.message)
            else:
                messages.error(request, error.message)
            return self.answer(request, record_request, panel_forms=bound, status=error.status_code)
        messages.success(request, f"{task.get_source_display()} task {OUTCOMES[self.action][0]}.")
        return self.answer(request, record_request)


class RetrievalWaitingView(TenantViewMixin, View):
    """What we are waiting on, across the organisation: every open retrieval task of an open request, oldest first,
    with its owner and age; "mine" and "overdue" narrow it. Lists patients: an access event, like the queue."""

    def get(self, request: HttpRequest) -> HttpResponse:
        mine = request.GET.get("mine") == "1"
        overdue_only = request.GET.get("overdue") == "1"
        rows = retrieval.retrieval_waiting(tenant=self.tenant, owner=request.user if mine else None)
        overdue_count = sum(1 for row in rows if row.overdue)
        if overdue_only:
            rows = [row for row in rows if row.overdue]
        access_record(
            tenant=self.tenant,
            actor=request.user,
            action=AccessAction.LIST_REQUESTS,
            request=request,
            detail=f"retrieval waiting list, {len(rows)} rows",
        )
        context = {
            "rows": rows,
            "mine": mine,
            "overdue_only": overdue_only,
            "overdue_count": overdue_count,
            "overdue_days": policy_for(self.tenant).retrieval_overdue_days,
        }
        return render(request, "fulfillment/retrieval/waiting.html", context)


urlpatterns: list[URLPattern] = [
    # Before the request routes, so "retrieval" is never read as a tracking number.
    path("retrieval/waiting/", RetrievalWaitingView.as_view(), name="retrieval-waiting"),
    path("<tracking:tracking_number>/retrieval/", RetrievalCreateView.as_view(), name="retrieval-create"),
    path("<tracking:tracking_number>/retrieval/<int:pk>/edit/", RetrievalUpdateView.as_view(), name="retrieval-update"),
    path(
        "<tracking:tracking_number>/retrieval/<int:pk>/received/",
        RetrievalOutcomeView.as_view(action="received"),
        name="retrieval-received",
    ),
    path(
        "<tracking:tracking_number>/retrieval/<int:pk>/nothing-held/",
        RetrievalOutcomeView.as_view(action="nothing-held"),
        name="retrieval-nothing-held",
    ),
    path(
        "<tracking:tracking_number>/retrieval/<int:pk>/cancel/",
        RetrievalOutcomeView.as_view(action="cancel"),
        name="retrieval-cancel",
    ),
]
