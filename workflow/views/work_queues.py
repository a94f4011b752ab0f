"""Tenant admins' settings of the team queues: their names, order, and which request types each takes."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from roi.choices import Role
from roi.errors import ServiceError
from roi.tenancy import TenantViewMixin
from workflow import selectors, services
from workflow.forms.work_queues import WorkQueueForm
from workflow.models import WorkQueue


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
