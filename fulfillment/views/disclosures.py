"""Pages and actions for fulfillment: the accounting of disclosures.

- The patient's accounting page (patients/<pk>/disclosures/): what an accounting given today would list, every entry
  recorded (corrections and entries in error shown), the suspensions; forms to record a disclosure made outside a
  request and an agency's suspension. Viewing it is an access event (it shows PHI).
- Correcting one entry (disclosures/<pk>/correct/).
- An accounting request's report: generate (from the fulfillment panel) and download (an access event).

The patient routes are fixed words before a number, under /requests/ before workflow's "<tracking_number>/", and
never look like a tracking number (ROI-XXXX-XXXX-XXXX).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.views import View

from fulfillment import disclosures
from fulfillment.forms.disclosures import CorrectionForm, DisclosureForm, SuspensionForm
from fulfillment.models import Disclosure, ReleaseDocument
from roi import clock
from roi.audit import access_record
from roi.choices import AccessAction
from roi.downloads import ServedFile
from roi.errors import ServiceError
from roi.tenancy import TenantViewMixin
from workflow.deadlines import local_date
from workflow.models import Patient
from workflow.views.base import RequestActionView
from workflow.views.downloads import RequestDownloadView
from workflow.views.patients import PatientPageView


class PatientAccountingView(PatientPageView):
    """The accounting of disclosures of one patient, as staff see it."""

    template_name = "fulfillment/disclosures/patient.html"
    view_detail = "accounting of disclosures"

    def render_page(
        self,
        request: HttpRequest,
        patient: Patient,
        *,
        disclosure_form: DisclosureForm | None = None,
        suspension_form: SuspensionForm | None = None,
        status: int = 200,
    ) -> HttpResponse:
        today = local_date(clock.now(), self.tenant)
        rows = list(disclosures.patient_disclosures(tenant=self.tenant, patient=patient))
        suspensions = list(disclosures.patient_suspensions(tenant=self.tenant, patient=patient))
        context = {
            "patient": patient,
            "today": today,
            "period_start": disclosures.window_start(today),
            "entries": disclosures.accounting_entries(
                tenant=self.tenant, patient=patient, period_end=today, as_of=today
            ),
            "rows": rows,
            "suspensions": [(s, disclosures.suspended_count(s, rows)) for s in suspensions],
            "disclosure_form": disclosure_form or DisclosureForm(initial={"disclosed_on": today}),
            "suspension_form": suspension_form or self.suspension_form(patient, initial={"starts_on": today}),
        }
        return render(request, self.template_name, context, status=status)

    def suspension_form(self, patient: Patient, **kwargs: Any) -> SuspensionForm:
        recipients, government = disclosures.agency_candidates(tenant=self.tenant, patient=patient)
        return SuspensionForm(recipients=recipients, government=government, **kwargs)


class DisclosureRecordView(PatientAccountingView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        patient = self.get_patient(pk)
        form = DisclosureForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Check the highlighted fields.")
            return self.render_page(request, patient, disclosure_form=form, status=400)
        try:
            disclosures.disclosure_record(tenant=self.tenant, actor=request.user, patient=patient, **form.cleaned_data)
        except ServiceError as error:
            if not error.on_form(form):
                messages.error(request, error.message)
            return self.render_page(request, patient, disclosure_form=form, status=error.status_code)
        messages.success(request, "Disclosure recorded in the patient's accounting.")
        return redirect("fulfillment:patient-disclosures", pk=patient.pk)


class SuspensionRecordView(PatientAccountingView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        patient = self.get_patient(pk)
        form = self.suspension_form(patient, data=request.POST)
        if not form.is_valid():
            messages.error(request, "Check the highlighted fields.")
            return self.render_page(request, patient, suspension_form=form, status=400)
        try:
            suspension = disclosures.suspension_record(
                tenant=self.tenant, actor=request.user, patient=patient, **form.suspension_fields()
            )
        except ServiceError as error:
            if not error.on_form(form):
                messages.error(request, error.message)
            return self.render_page(request, patient, suspension_form=form, status=error.status_code)
        rows = list(disclosures.patient_disclosures(tenant=self.tenant, patient=patient))
        if disclosures.suspended_count(suspension, rows):
            messages.success(request, "Suspension recorded: disclosures to the agency are left out until it ends.")
        else:
            messages.warning(
                request,
                f"Suspension recorded, but no disclosure of this patient is to {suspension.agency} yet: it leaves "
                "out disclosures to the agency's requestor on file or to a recipient named exactly so. If you "
                "expected some, check the name.",
            )
        return redirect("fulfillment:patient-disclosures", pk=patient.pk)


class DisclosureCorrectView(TenantViewMixin, View):
    template_name = "fulfillment/disclosures/correct.html"

    def get_disclosure(self, pk: int) -> Disclosure:
        disclosure = Disclosure.objects.for_tenant(self.tenant).select_related("patient").filter(pk=pk).first()
        if disclosure is None:
            raise Http404("No such disclosure")
        return disclosure

    def render_page(
        self, request: HttpRequest, disclosure: Disclosure, form: CorrectionForm, status: int = 200
    ) -> HttpResponse:
        history = disclosure.history.select_related("history_user").order_by("-history_date")
        context = {"disclosure": disclosure, "form": form, "history": history}
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        disclosure = self.get_disclosure(pk)
        access_record(
            tenant=self.tenant,
            actor=request.user,
            action=AccessAction.VIEW_REQUEST,
            request=request,
            obj=disclosure,
            request_id=disclosure.request_id,
            patient_id=disclosure.patient_id,
            detail="disclosure correction",
        )
        initial = {name: getattr(disclosure, name) for name in DisclosureForm.base_fields}
        return self.render_page(request, disclosure, CorrectionForm(initial=initial))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        disclosure = self.get_disclosure(pk)
        form = CorrectionForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Check the highlighted fields.")
            return self.render_page(request, disclosure, form, status=400)
        data = dict(form.cleaned_data)
        reason, entered_in_error = data.pop("reason"), data.pop("entered_in_error")
        try:
            disclosures.disclosure_correct(
                tenant=self.tenant,
                actor=request.user,
                disclosure=disclosure,
                reason=reason,
                entered_in_error=entered_in_error,
                **data,
            )
        except ServiceError as error:
            if not error.on_form(form):
                messages.error(request, error.message)
            return self.render_page(request, disclosure, form, status=error.status_code)
        messages.success(request, "Entry marked entered in error." if entered_in_error else "Entry corrected.")
        return redirect("fulfillment:patient-disclosures", pk=disclosure.patient_id)


class AccountingReportGenerateView(RequestActionView):
    """Generate the patient's accounting of disclosures for an accounting request."""

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        try:
            disclosures.accounting_report_generate(
                tenant=self.tenant, actor=request.user, record_request=record_request
            )
        except ServiceError as error:
            messages.error(request, error.message)
            return self.render_detail(request, record_request, status=error.status_code)
        messages.success(request, "Accounting report generated and added to the release documents.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class AccountingReportDownloadView(RequestDownloadView):
    """The report's PDF; every download is an access event (it lists the patient's disclosures)."""

    def find(self, *, tracking_number: str, pk: int) -> ReleaseDocument:
        record_request = self.request_in_tenant(tracking_number)
        reports = disclosures.accounting_reports(tenant=self.tenant, record_request=record_request)
        document = reports.select_related("request").filter(pk=pk).first()
        if document is None:
            raise Http404("No such report")
        return document

    def open_file(self, document: ReleaseDocument) -> ServedFile:
        return ServedFile(
            content=disclosures.report_open(document),
            filename=f"{document.request.tracking_number}-accounting-{document.pk}.pdf",
            content_type="application/pdf",
            obj=document,
            request_id=document.request_id,
            patient_id=document.request.patient_id,
            detail="accounting of disclosures report",
        )


urlpatterns: list[URLPattern] = [
    path("patients/<int:pk>/disclosures/", PatientAccountingView.as_view(), name="patient-disclosures"),
    path("patients/<int:pk>/disclosures/record/", DisclosureRecordView.as_view(), name="disclosure-record"),
    path("patients/<int:pk>/disclosures/suspensions/", SuspensionRecordView.as_view(), name="suspension-record"),
    path("disclosures/<int:pk>/correct/", DisclosureCorrectView.as_view(), name="disclosure-correct"),
    path(
        "<tracking:tracking_number>/accounting-report/",
        AccountingReportGenerateView.as_view(),
        name="accounting-report-generate",
    ),
    path(
        "<tracking:tracking_number>/accounting-report/<int:pk>/",
        AccountingReportDownloadView.as_view(),
        name="accounting-report",
    ),
]
