"""Pages and actions for fulfillment: denials (deny in full or in part, the review). Each action posts from the
fulfillment panel of the request detail page and, on an error, shows that page again with the form and its input."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path

from fulfillment import denials
from fulfillment.forms.denials import DenialForm, ReviewDecideForm, ReviewerForm
from fulfillment.models import Denial, ReleaseDocument
from roi.errors import ServiceError
from roi.models import User
from roi.selectors import licensed_professionals
from workflow.models import RecordRequest
from workflow.views.base import RequestActionView


class DenialActionMixin(RequestActionView):
    """The denial actions of the request page: deny, and the licensed reviewer's review of a reviewable denial."""

    def get_denial(self, record_request: RecordRequest, pk: int) -> Denial:
        denial = Denial.objects.for_tenant(self.tenant).filter(request=record_request, pk=pk).first()
        if denial is None:
            raise Http404("No such denial")
        return denial

    def failed(
        self, request: HttpRequest, tracking_number: str, error: ServiceError, **panel_forms: Any
    ) -> HttpResponse:
        messages.error(request, error.message)
        record_request = self.get_object(tracking_number)
        return self.render_detail(request, record_request, panel_forms=panel_forms, status=error.status_code)


class DenyView(DenialActionMixin):
    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        try:
            denials.deny_permission_check(actor=request.user, tenant=self.tenant)
        except ServiceError as error:
            return self.failed(request, tracking_number, error)
        documents = list(
            ReleaseDocument.objects.for_tenant(self.tenant).filter(request=record_request, excluded_reason="")
        )
        form = DenialForm(
            request.POST, documents=documents, professionals=list(licensed_professionals(tenant=self.tenant))
        )
        if not form.is_valid():
            messages.error(request, "Check the highlighted fields.")
            return self.render_detail(request, record_request, panel_forms={"denial_form": form}, status=400)
        data = form.cleaned_data
        try:
            denial = denials.denial_create(
                tenant=self.tenant,
                actor=request.user,
                record_request=record_request,
                basis=data["basis"],
                scope_denied=data["scope_denied"],
                explanation=data["explanation"],
                partial=data["partial"],
                records_location=data["records_location"],
                withheld=data["withheld"],
                determined_by=form.professionals.get(data["determined_by"]),
                expected_state=data["expected_state"] or None,
            )
        except ServiceError as error:
            error.on_form(form)
            return self.failed(request, tracking_number, error, denial_form=form)
        if denial.partial:
            messages.success(request, "Denied in part: the denial letter was generated; the rest is still released.")
        else:
            messages.success(request, f"Request {tracking_number} denied; the denial letter was generated.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class ReviewRequestView(DenialActionMixin):
    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        denial = self.get_denial(record_request, pk)
        try:
            denials.denial_review_request(tenant=self.tenant, actor=request.user, denial=denial)
        except ServiceError as error:
            return self.failed(request, tracking_number, error)
        messages.success(request, "Review requested: a supervisor designates the reviewer.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class ReviewerAssignView(DenialActionMixin):
    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        denial = self.get_denial(record_request, pk)
        form = ReviewerForm(request.POST, staff=list(licensed_professionals(tenant=self.tenant)), denial=denial)
        if not form.is_valid():
            messages.error(
                request, "Choose a designated licensed health care professional who took no part in the denial."
            )
            return self.render_detail(
                request, record_request, panel_forms={"reviewer_form": form, "denial_pk": denial.pk}, status=400
            )
        reviewer = User.objects.filter(pk=form.cleaned_data["reviewer"]).first()
        try:
            denials.denial_reviewer_assign(tenant=self.tenant, actor=request.user, denial=denial, reviewer=reviewer)
        except ServiceError as error:
            return self.failed(request, tracking_number, error, reviewer_form=form, denial_pk=denial.pk)
        messages.success(request, f"{reviewer} will review the denial.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class ReviewDecideView(DenialActionMixin):
    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        denial = self.get_denial(record_request, pk)
        form = ReviewDecideForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Check the highlighted fields.")
            return self.render_detail(
                request, record_request, panel_forms={"decide_form": form, "denial_pk": denial.pk}, status=400
            )
        try:
            _, next_step = denials.denial_review_decide(
                tenant=self.tenant,
                actor=request.user,
                denial=denial,
                outcome=form.cleaned_data["outcome"],
                note=form.cleaned_data["note"],
            )
        except ServiceError as error:
            error.on_form(form)
            return self.failed(request, tracking_number, error, decide_form=form, denial_pk=denial.pk)
        messages.success(request, next_step)
        return redirect("workflow:detail", tracking_number=tracking_number)


class PsychotherapyDenyView(DenialActionMixin):
    """The routine, unreviewable denial of psychotherapy notes asked for under the right of access
    (fulfillment.denials.psychotherapy_notes_deny). A supervisor makes it from the request page or from the
    "Restricted request" page, without opening the request: it needs nothing of the records."""

    def open_without_access(self, request: HttpRequest, record_request: RecordRequest) -> bool:
        return True  # the service allows supervisors only; the answer is a message and a redirect, no PHI

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        try:
            denials.psychotherapy_notes_deny(tenant=self.tenant, actor=request.user, record_request=record_request)
        except ServiceError as error:
            messages.error(request, error.message)
            return redirect("workflow:detail", tracking_number=tracking_number)
        messages.success(
            request,
            f"Psychotherapy notes denied on {tracking_number} (unreviewable, 45 CFR 164.524(a)(1)(i)); the denial "
            "letter was generated and the rest of the records can be released.",
        )
        return redirect("workflow:detail", tracking_number=tracking_number)


urlpatterns: list[URLPattern] = [
    path("<tracking:tracking_number>/deny/", DenyView.as_view(), name="deny"),
    path(
        "<tracking:tracking_number>/deny/psychotherapy-notes/",
        PsychotherapyDenyView.as_view(),
        name="deny-psychotherapy",
    ),
    path(
        "<tracking:tracking_number>/denials/<int:pk>/review/request/",
        ReviewRequestView.as_view(),
        name="denial-review-request",
    ),
    path(
        "<tracking:tracking_number>/denials/<int:pk>/review/reviewer/",
        ReviewerAssignView.as_view(),
        name="denial-reviewer",
    ),
    path(
        "<tracking:tracking_number>/denials/<int:pk>/review/outcome/",
        ReviewDecideView.as_view(),
        name="denial-review-outcome",
    ),
]
