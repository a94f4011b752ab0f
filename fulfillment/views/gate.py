"""Pages and actions of the release gate: recording a written revocation (from the request page, or the patient's
authorizations page, which lists every authorization, directive and representative's authority recorded for the
patient). The revocation itself is fulfillment.revocations.revocation_record."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path

from fulfillment import revocations
from intake import authorizations
from intake.forms.records import PatientDeathForm, RevocationForm
from intake.models import Authorization, RepresentativeAuthority
from intake.patients import patient_death_record
from roi import clock
from roi.choices import SUPERVISING_ROLES
from roi.errors import ServiceError
from roi.tenancy import has_role
from workflow.deadlines import local_date
from workflow.models import Patient
from workflow.views.base import RequestActionView
from workflow.views.patients import PatientPageView


def _outcome_message(outcome: revocations.RevocationOutcome) -> str:
    parts = ["Revocation recorded."]
    if outcome.stopped:
        numbers = ", ".join(rr.tracking_number for rr in outcome.stopped)
        parts.append(f"In exception now (authorization revoked): {numbers}.")
    if outcome.links_revoked:
        parts.append(f"{outcome.links_revoked} download link{'s' if outcome.links_revoked != 1 else ''} stopped.")
    if outcome.delivered:
        count = len(outcome.delivered)
        parts.append(
            f"{count} earlier release{'s' if count != 1 else ''} under it "
            f"stand{'s' if count == 1 else ''} (45 CFR 164.508(b)(5))."
        )
    return " ".join(parts)


class RevokeView(RequestActionView):
    """From the request page's release gate: the written revocation of the authorization this request relies on."""

    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        auth = Authorization.objects.for_tenant(self.tenant).filter(pk=pk, reviews__request=record_request).first()
        if auth is None:
            raise Http404("No such authorization")
        form = RevocationForm(request.POST, request.FILES)
        if not form.is_valid():
            messages.error(request, "Check the revocation's highlighted fields.")
            return self.render_detail(request, record_request, panel_forms={"revoke_form": form}, status=400)
        try:
            outcome = revocations.revocation_record(
                tenant=self.tenant,
                actor=request.user,
                authorization=auth,
                received_on=form.cleaned_data["received_on"],
                uploaded_file=form.cleaned_data["file"],
                record_request=record_request,
                note=form.cleaned_data["note"],
            )
        except ServiceError as error:
            messages.error(request, error.message)
            error.on_form(form)
            fresh = self.get_object(tracking_number)
            return self.render_detail(request, fresh, panel_forms={"revoke_form": form}, status=error.status_code)
        messages.success(request, _outcome_message(outcome))
        return redirect("workflow:detail", tracking_number=tracking_number)


class PatientAuthorizationsView(PatientPageView):
    """Every authorization, directive and representative's authority recorded for one patient, which requests rely
    on each, and the form to record a written revocation. Viewing it is an access event (it shows PHI)."""

    template_name = "fulfillment/gate/patient_authorizations.html"
    view_detail = "authorizations and representatives"

    def render_page(
        self,
        request: HttpRequest,
        patient: Patient,
        *,
        forms: dict[int, Any] | None = None,
        death_form: PatientDeathForm | None = None,
        status: int = 200,
    ) -> HttpResponse:
        rows = []
        for auth in authorizations.patient_authorizations(tenant=self.tenant, patient=patient):
            requests = list(
                authorizations.requests_relying_on(tenant=self.tenant, authorization=auth).order_by("-received_at")
            )
            form = None
            if getattr(auth, "revocation", None) is None and requests:
                form = (forms or {}).get(auth.pk) or RevocationForm(auto_id=f"id_revoke{auth.pk}_%s")
            rows.append({"authorization": auth, "requests": requests, "form": form})
        context = {
            "patient": patient,
            "rows": rows,
            "representatives": list(authorizations.patient_representatives(tenant=self.tenant, patient=patient)),
            "death_form": death_form or PatientDeathForm(initial={"date_of_death": patient.date_of_death}),
            "can_decline": has_role(request.user, self.tenant, SUPERVISING_ROLES),
        }
        return render(request, self.template_name, context, status=status)


class PatientRevokeView(PatientAuthorizationsView):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        auth = Authorization.objects.for_tenant(self.tenant).select_related("patient").filter(pk=pk).first()
        if auth is None:
            raise Http404("No such authorization")
        patient = auth.patient
        form = RevocationForm(request.POST, request.FILES, auto_id=f"id_revoke{auth.pk}_%s")
        if not form.is_valid():
            messages.error(request, "Check the revocation's highlighted fields.")
            return self.render_page(request, patient, forms={auth.pk: form}, status=400)
        try:
            outcome = revocations.revocation_record(
                tenant=self.tenant,
                actor=request.user,
                authorization=auth,
                received_on=form.cleaned_data["received_on"],
                uploaded_file=form.cleaned_data["file"],
                note=form.cleaned_data["note"],
            )
        except ServiceError as error:
            messages.error(request, error.message)
            error.on_form(form)
            return self.render_page(request, patient, forms={auth.pk: form}, status=error.status_code)
        messages.success(request, _outcome_message(outcome))
        return redirect("fulfillment:patient-authorizations", pk=patient.pk)


class RepresentativeDeclineView(PatientAuthorizationsView):
    """A supervisor's decision not to treat someone as the patient's representative (164.502(g)(5))."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        rep = RepresentativeAuthority.objects.for_tenant(self.tenant).select_related("patient").filter(pk=pk).first()
        if rep is None:
            raise Http404("No such representative")
        if request.POST.get("confirmed") != "1":
            messages.error(request, "Confirm the decision: it stops every release to them as the representative.")
            return self.render_page(request, rep.patient, status=400)
        try:
            authorizations.representative_decline(
                tenant=self.tenant, actor=request.user, representative=rep, reason=request.POST.get("reason", "")
            )
        except ServiceError as error:
            messages.error(request, error.message)
            return self.render_page(request, rep.patient, status=error.status_code)
        messages.success(request, f"{rep.name} is no longer treated as the patient's representative.")
        return redirect("fulfillment:patient-authorizations", pk=rep.patient_id)


class PatientDeathView(PatientAuthorizationsView):
    """Record, correct or clear the patient's date of death (an executor acts only after it, 164.502(g)(4))."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        patient = self.get_patient(pk)
        form = PatientDeathForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Check the date of death.")
            return self.render_page(request, patient, death_form=form, status=400)
        try:
            patient = patient_death_record(
                tenant=self.tenant,
                actor=request.user,
                patient=patient,
                date_of_death=form.cleaned_data["date_of_death"],
                today=local_date(clock.now(), self.tenant),
            )
        except ServiceError as error:
            if not error.on_form(form):
                messages.error(request, error.message)
            return self.render_page(request, patient, death_form=form, status=error.status_code)
        if patient.date_of_death:
            messages.success(request, f"Date of death recorded: {patient.date_of_death:%b %-d, %Y}.")
        else:
            messages.success(request, "Date of death cleared.")
        return redirect("fulfillment:patient-authorizations", pk=patient.pk)


urlpatterns: list[URLPattern] = [
    path("patients/<int:pk>/death/", PatientDeathView.as_view(), name="patient-death"),
    path("representatives/<int:pk>/decline/", RepresentativeDeclineView.as_view(), name="representative-decline"),
    path("<tracking:tracking_number>/authorizations/<int:pk>/revoke/", RevokeView.as_view(), name="revoke"),
    path("patients/<int:pk>/authorizations/", PatientAuthorizationsView.as_view(), name="patient-authorizations"),
    path("authorizations/<int:pk>/revoke/", PatientRevokeView.as_view(), name="patient-revoke"),
]
