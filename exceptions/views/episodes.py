"""Opening, resolving and updating exception episodes from the request detail page."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from exceptions import selectors, services
from exceptions.forms.episodes import ExceptionOpenForm, ExceptionResolveForm, NextStepForm
from roi.errors import ServiceError
from workflow.selectors import tenant_staff
from workflow.views.base import RequestActionView


def _staff_user(staff: list, user_id: str):  # type: ignore[no-untyped-def]  # a small helper of the views
    return next((m.user for m in staff if str(m.user_id) == user_id), None) if user_id else None


class ExceptionOpenView(RequestActionView):
    """Open an exception on the request, with its reason, owner, next step and due date."""

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        staff = list(tenant_staff(tenant=self.tenant))
        form = ExceptionOpenForm(request.POST, staff=staff, tenant=self.tenant)
        if not form.is_valid():
            messages.error(request, "Check the highlighted fields of the exception.")
            return self.render_detail(request, record_request, panel_forms={"open_form": form}, status=400)
        data = form.cleaned_data
        try:
            services.exception_open(
                tenant=self.tenant,
                actor=request.user,
                record_request=record_request,
                reason=data["reason"],
                detail=data["detail"],
                next_step=data["next_step"],
                next_action_due=data["next_action_due"],
                owner=_staff_user(staff, data["owner"]),
                expected_state=data["expected_state"],
            )
        except ServiceError as error:
            messages.error(request, error.message)
            return self.render_detail(request, self.get_object(tracking_number), status=error.status_code)
        messages.success(request, f"Request {tracking_number} put in exception.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class ExceptionResolveView(RequestActionView):
    """Resolve the open exception and return the request to where it was."""

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        form = ExceptionResolveForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Write a resolution note.")
            return self.render_detail(request, record_request, panel_forms={"resolve_form": form}, status=400)
        try:
            services.exception_resolve(
                tenant=self.tenant,
                actor=request.user,
                record_request=record_request,
                resolution=form.cleaned_data["resolution"],
                expected_state=form.cleaned_data["expected_state"],
            )
        except ServiceError as error:
            messages.error(request, error.message)
            return self.render_detail(request, self.get_object(tracking_number), status=error.status_code)
        messages.success(request, f"Request {tracking_number} returned to work.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class ExceptionNextStepView(RequestActionView):
    """Change the open exception's next step, owner or due date."""

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        episode = selectors.open_episode(tenant=self.tenant, request_id=record_request.pk)
        staff = list(tenant_staff(tenant=self.tenant))
        form = NextStepForm(request.POST, staff=staff)
        if episode is None or not form.is_valid():
            messages.error(request, "Check the next step and its due date." if episode else "No open exception.")
            return self.render_detail(request, record_request, panel_forms={"next_step_form": form}, status=400)
        try:
            services.exception_update_next_step(
                tenant=self.tenant,
                actor=request.user,
                episode=episode,
                next_step=form.cleaned_data["next_step"],
                next_action_due=form.cleaned_data["next_action_due"],
                owner=_staff_user(staff, form.cleaned_data["owner"]),
            )
        except ServiceError as error:
            messages.error(request, error.message)
            return self.render_detail(request, record_request, status=error.status_code)
        messages.success(request, "Next step updated.")
        return redirect("workflow:detail", tracking_number=tracking_number)
