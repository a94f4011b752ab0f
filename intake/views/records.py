"""Recording what a request relies on, from the checklist page: the authorization or directive, and a personal
representative's authority (intake.authorizations). On a request waiting in an exception the rules opened, the same
action checks it again (intake.services.basis_record_and_resume): fixed, the exception is resolved and the request
returns to where it was."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path

from intake import authorizations, services
from intake.forms.records import (
    AuthorizationLinkForm,
    AuthorizationRecordForm,
    ConsentRecordForm,
    EventOccurredForm,
    RepresentativeLinkForm,
    RepresentativeRecordForm,
)
from intake.models import Authorization
from intake.panels import consent_categories
from intake.selectors import documents_for
from intake.views.checklist import ChecklistPageMixin
from roi.errors import ServiceError
from workflow.choices import SensitiveCategory
from workflow.models import RecordRequest
from workflow.views.base import RequestActionView


class _RecordView(ChecklistPageMixin, RequestActionView):
    """A form on the checklist page that records one thing; errors come back on the page, on the form."""

    form_key = ""

    def failed(
        self, request: HttpRequest, record_request: RecordRequest, form: Any, error: ServiceError | None
    ) -> HttpResponse:
        if error is not None:
            messages.error(request, error.message)
            error.on_form(form)
        else:
            messages.error(request, "Check the highlighted fields.")
        status = error.status_code if error is not None else 400
        return self.render_page(
            request, self.get_object(record_request.tracking_number), record_forms={self.form_key: form}, status=status
        )

    def done(self, request: HttpRequest, record_request: RecordRequest, what: str, outcome: Any) -> HttpResponse:
        if outcome is not None and outcome.resolved:
            where = (
                "validated" if outcome.validated else f"back to {outcome.record_request.get_state_display().lower()}"
            )
            messages.success(
                request, f"{what} Every check passes again: the exception is resolved and the request is {where}."
            )
            return redirect("workflow:detail", tracking_number=record_request.tracking_number)
        if outcome is not None:
            messages.warning(
                request, f"{what} The request stays in exception: the checklist still finds what is listed below."
            )
        else:
            messages.success(request, what)
        return redirect("intake:checklist", tracking_number=record_request.tracking_number)

    def record(self, request: HttpRequest, record_request: RecordRequest, action: Any) -> tuple[Any, Any]:
        return services.basis_record_and_resume(
            tenant=self.tenant, actor=request.user, record_request=record_request, record=action
        )

    def patient_records(self, record_request: RecordRequest) -> tuple[list[Any], list[Any]]:
        patient = record_request.patient
        return (
            list(authorizations.patient_authorizations(tenant=self.tenant, patient=patient)),
            list(authorizations.patient_representatives(tenant=self.tenant, patient=patient)),
        )


class AuthorizationRecordView(_RecordView):
    form_key = "auth_form"

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        rr = self.get_object(tracking_number)
        _, reps = self.patient_records(rr)
        form = AuthorizationRecordForm(
            request.POST, documents=list(documents_for(tenant=self.tenant, record_request=rr)), representatives=reps
        )
        if not form.is_valid():
            return self.failed(request, rr, form, None)
        data = form.cleaned_data
        try:
            auth, outcome = self.record(
                request,
                rr,
                lambda: authorizations.authorization_record(
                    tenant=self.tenant,
                    actor=request.user,
                    record_request=rr,
                    document=form.chosen_document(),
                    signer_name=data["signer_name"],
                    signed_on=data["signed_on"],
                    recipient=data["recipient"],
                    expires_on=data["expires_on"],
                    expiration_event=data["expiration_event"],
                    representative=form.chosen_representative(),
                    covers_psychotherapy_notes=data["covers_psychotherapy_notes"],
                ),
            )
        except ServiceError as error:
            return self.failed(request, rr, form, error)
        return self.done(request, rr, f"Recorded: {auth}.", outcome)


class AuthorizationLinkView(_RecordView):
    form_key = "auth_link_form"

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        rr = self.get_object(tracking_number)
        auths, _ = self.patient_records(rr)
        form = AuthorizationLinkForm(request.POST, authorizations=auths)
        if not form.is_valid() or form.chosen() is None:
            return self.failed(request, rr, form, None)
        chosen = form.chosen()
        try:
            auth, outcome = self.record(
                request,
                rr,
                lambda: authorizations.authorization_link(
                    tenant=self.tenant, actor=request.user, record_request=rr, authorization=chosen
                ),
            )
        except ServiceError as error:
            return self.failed(request, rr, form, error)
        return self.done(request, rr, f"This request now relies on: {auth}.", outcome)


class RepresentativeRecordView(_RecordView):
    form_key = "rep_form"

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        rr = self.get_object(tracking_number)
        form = RepresentativeRecordForm(
            request.POST, documents=list(documents_for(tenant=self.tenant, record_request=rr))
        )
        if not form.is_valid():
            return self.failed(request, rr, form, None)
        data = form.cleaned_data
        try:
            rep, outcome = self.record(
                request,
                rr,
                lambda: authorizations.representative_record(
                    tenant=self.tenant,
                    actor=request.user,
                    record_request=rr,
                    name=data["name"],
                    authority_type=data["authority_type"],
                    document=form.chosen_document(),
                    ends_on=data["ends_on"],
                ),
            )
        except ServiceError as error:
            return self.failed(request, rr, form, error)
        return self.done(request, rr, f"Recorded and checked by you: {rep}.", outcome)


class ConsentRecordView(_RecordView):
    """A sensitive category's consent, from its signed form among the request's documents: also after validation (a
    category found in the retrieved records), when the release gate asks for it."""

    form_key = "consent_form"

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        rr = self.get_object(tracking_number)
        form = ConsentRecordForm(
            request.POST,
            documents=list(documents_for(tenant=self.tenant, record_request=rr)),
            categories=consent_categories(),
        )
        if not form.is_valid():
            return self.failed(request, rr, form, None)
        category = form.cleaned_data["category"]
        try:
            _review, outcome = self.record(
                request,
                rr,
                lambda: authorizations.consent_record(
                    tenant=self.tenant,
                    actor=request.user,
                    record_request=rr,
                    category=category,
                    document=form.chosen_document(),
                ),
            )
        except ServiceError as error:
            return self.failed(request, rr, form, error)
        label = SensitiveCategory(category).label
        return self.done(request, rr, f"Consent on file for {label[:1].lower() + label[1:]}.", outcome)


class RepresentativeLinkView(_RecordView):
    form_key = "rep_link_form"

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        rr = self.get_object(tracking_number)
        _, reps = self.patient_records(rr)
        form = RepresentativeLinkForm(request.POST, representatives=reps)
        if not form.is_valid() or form.chosen() is None:
            return self.failed(request, rr, form, None)
        chosen = form.chosen()
        try:
            rep, outcome = self.record(
                request,
                rr,
                lambda: authorizations.representative_link(
                    tenant=self.tenant, actor=request.user, record_request=rr, representative=chosen
                ),
            )
        except ServiceError as error:
            return self.failed(request, rr, form, error)
        return self.done(request, rr, f"This request now relies on: {rep}.", outcome)


class EventOccurredView(_RecordView):
    form_key = "event_form"

    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        rr = self.get_object(tracking_number)
        auth = Authorization.objects.for_tenant(self.tenant).filter(pk=pk, reviews__request=rr).first()
        if auth is None:
            raise Http404("No such authorization")
        form = EventOccurredForm(request.POST)
        if not form.is_valid():
            return self.failed(request, rr, form, None)
        try:
            authorizations.authorization_event_occurred(
                tenant=self.tenant, actor=request.user, authorization=auth, occurred_on=form.cleaned_data["occurred_on"]
            )
        except ServiceError as error:
            return self.failed(request, rr, form, error)
        messages.success(
            request, "Recorded: the expiration event occurred. Releases under this authorization stop from that day."
        )
        return redirect("intake:checklist", tracking_number=tracking_number)


urlpatterns: list[URLPattern] = [
    path(
        "<tracking:tracking_number>/intake/authorization/",
        AuthorizationRecordView.as_view(),
        name="authorization-record",
    ),
    path("<tracking:tracking_number>/intake/consent/", ConsentRecordView.as_view(), name="consent-record"),
    path(
        "<tracking:tracking_number>/intake/authorization/link/",
        AuthorizationLinkView.as_view(),
        name="authorization-link",
    ),
    path(
        "<tracking:tracking_number>/intake/authorization/<int:pk>/event/",
        EventOccurredView.as_view(),
        name="authorization-event",
    ),
    path(
        "<tracking:tracking_number>/intake/representative/",
        RepresentativeRecordView.as_view(),
        name="representative-record",
    ),
    path(
        "<tracking:tracking_number>/intake/representative/link/",
        RepresentativeLinkView.as_view(),
        name="representative-link",
    ),
]
