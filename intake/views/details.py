"""The request details page: identify the patient and confirm type, scope and delivery of a received request."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path

from intake import services
from intake.forms.details import RequestDetailsForm
from intake.patients import is_unidentified_patient
from roi.errors import ServiceError
from workflow.choices import RequestState
from workflow.models import RecordRequest
from workflow.views.base import RequestView


class RequestDetailsView(RequestView):
    """Identify the patient and confirm the type, scope and delivery of a received request."""

    def _render(
        self, request: HttpRequest, rr: RecordRequest, form: RequestDetailsForm, status: int = 200
    ) -> HttpResponse:
        context = {
            "rr": rr,
            "form": form,
            "editable": rr.state == RequestState.RECEIVED,
            "patient_unidentified": is_unidentified_patient(rr.patient),
        }
        return render(request, "intake/details.html", context, status=status)

    def get(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        rr = self.get_object(tracking_number)
        unidentified = is_unidentified_patient(rr.patient)
        return self._render(request, rr, RequestDetailsForm(record_request=rr, patient_unidentified=unidentified))

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        rr = self.get_object(tracking_number)
        form = RequestDetailsForm(
            data=request.POST, record_request=rr, patient_unidentified=is_unidentified_patient(rr.patient)
        )
        if not form.is_valid():
            messages.error(request, "Check the highlighted fields.")
            return self._render(request, rr, form, status=400)
        try:
            services.intake_details_update(
                tenant=self.tenant,
                actor=request.user,
                record_request=rr,
                patient_data=form.patient_data(),
                **form.details(),
            )
        except ServiceError as error:
            if not error.on_form(form):
                messages.error(request, error.message)
            return self._render(request, rr, form, status=error.status_code)
        messages.success(request, "Request details saved; the legal due date was recomputed for the request type.")
        return redirect("workflow:detail", tracking_number=tracking_number)


urlpatterns = [path("<tracking:tracking_number>/intake/details/", RequestDetailsView.as_view(), name="details")]
