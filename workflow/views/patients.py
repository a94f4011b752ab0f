"""The base of staff pages about one patient (fulfillment's accounting of disclosures and authorizations)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from django.http import Http404, HttpRequest, HttpResponse
from django.views import View

from roi.audit import access_record
from roi.choices import AccessAction
from roi.tenancy import TenantViewMixin
from workflow.models import Patient


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
