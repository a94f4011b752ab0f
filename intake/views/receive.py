"""Receiving a request at the staff desk, and a request's documents.

- /requests/new/: the intake form for fax, mail, phone, walk-in and email requests. One POST calls
  intake_receive once; if anything is refused nothing is saved and the form comes back with the values kept.
- /requests/patients/lookup/, /requests/requestors/lookup/: htmx fragments listing matches to pick from.
- /requests/<tracking>/documents/: add a document to a request (POST); GET gives the form (the detail page's
  documents list loads it with htmx when its panel does not provide one).
- /requests/<tracking>/documents/<id>/: download, tenant-scoped, with an access event for every download.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template import RequestContext, Template
from django.urls import URLPattern, path
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.views import View

from intake.choices import DocumentSource
from intake.documents import (
    document_add,
    document_open,
    download_name,
    human_size,
    max_upload_bytes,
)
from intake.forms.receive import DocumentUploadForm, IntakeForm, patient_choice_field, requestor_choice_field
from intake.models import IntakeDocument
from intake.services import IncomingDocument, intake_receive, possible_duplicates
from roi.audit import access_record
from roi.choices import AccessAction
from roi.downloads import ServedFile
from roi.errors import ServiceError
from roi.tenancy import TenantViewMixin
from workflow.models import Patient, Requestor
from workflow.views.base import RequestView
from workflow.views.downloads import RequestDownloadView

# A lookup lists at most this many matches: enough to pick from, and no more PHI on screen than needed.
LOOKUP_LIMIT = 10


class IntakeCreateView(TenantViewMixin, View):
    template_name = "intake/receive.html"

    def render_form(self, request: HttpRequest, form: IntakeForm, status: int = 200) -> HttpResponse:
        context = {"form": form, "max_upload": human_size(max_upload_bytes())}
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_form(request, IntakeForm(tenant=self.tenant))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = IntakeForm(request.POST, request.FILES, tenant=self.tenant)
        if not form.is_valid():
            return self.render_form(request, form, status=400)
        data = form.cleaned_data
        documents = [
            IncomingDocument(uploaded_file=uploaded, kind=kind, source=DocumentSource.STAFF_UPLOAD)
            for uploaded, kind in form.documents()
        ]
        try:
            record_request = intake_receive(
                tenant=self.tenant,
                actor=request.user,
                channel=data["channel"],
                patient=data.get("patient_id"),
                patient_data=form.patient_data(),
                requestor=data.get("requestor_id"),
                requestor_data=form.requestor_data(),
                request_type=data["request_type"],
                received_at=data["received_at"],
                documents=documents,
                **form.request_fields(),
            )
        except ServiceError as error:
            form.add_service_error(error)
            return self.render_form(request, form, status=error.status_code)
        due = date_format(record_request.legal_due_date, "D M j, Y")
        messages.success(request, f"Request {record_request.tracking_number} received. Legal due date {due}.")
        duplicates = list(possible_duplicates(tenant=self.tenant, record_request=record_request)[:3])
        if duplicates:
            numbers = ", ".join(d.tracking_number for d in duplicates)
            messages.warning(
                request,
                f"Possible duplicate of {numbers}: same patient and requestor recently. Settle it on the intake "
                "checklist before validating.",
            )
        return redirect("workflow:detail", tracking_number=record_request.tracking_number)


# --- Lookups (htmx fragments) ------------------------------------------------------------------------------------


def _choice_list(field: forms.Field, name: str, legend: str) -> str:
    form = forms.Form()
    form.fields[name] = field
    return format_html(
        '<fieldset class="lookup-results"><legend>{}</legend>{}</fieldset>', legend, form[name].as_widget()
    )


def _note(text: str) -> str:
    return format_html('<p class="lookup-note">{}</p>', text)


def _limited(queryset: QuerySet, what: str) -> tuple[list[Any], str]:
    rows = list(queryset[: LOOKUP_LIMIT + 1])
    note = ""
    if len(rows) > LOOKUP_LIMIT:
        note = f"More than {LOOKUP_LIMIT} {what} match; showing the first {LOOKUP_LIMIT}. Narrow the search."
    return rows[:LOOKUP_LIMIT], note


class PatientLookupView(TenantViewMixin, View):
    """Patients of this tenant by exact MRN, or by last name and date of birth (never by name alone: a name search
    would list many patients' details)."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        query = request.GET.get("patient_q", "").strip()
        dob_text = request.GET.get("patient_q_dob", "").strip()
        if not query:
            return HttpResponse(_note("Enter an MRN, or a last name and a date of birth, then search."))
        # Placeholder patients (intake/patients.py) are nobody to pick: never listed.
        patients = (
            Patient.objects.for_tenant(self.tenant)
            .filter(is_placeholder=False)
            .order_by("last_name", "first_name", "date_of_birth")
        )
        # A search shows patients' names, MRNs and dates of birth: it is an access to PHI, audited like a view.
        access_record(
            tenant=self.tenant,
            actor=request.user,
            action=AccessAction.SEARCH_PATIENTS,
            request=request,
            detail=f"intake patient search ({'MRN' if not dob_text else 'last name and date of birth'})",
        )
        by_mrn = patients.filter(mrn__iexact=query)
        if by_mrn.exists():
            return HttpResponse(_choice_list(patient_choice_field(by_mrn), "patient_id", "Patient with this MRN"))
        if not dob_text:
            return HttpResponse(_note(f"No patient has MRN {query}. To search by last name, add the date of birth."))
        try:
            dob = date.fromisoformat(dob_text)
        except ValueError:
            return HttpResponse(_note("Enter the date of birth as a date, for example 1980-05-31."))
        rows, note = _limited(patients.filter(last_name__istartswith=query, date_of_birth=dob), "patients")
        if not rows:
            return HttpResponse(
                _note(f"No patient on file matches {query}, born {dob:%Y-%m-%d}. Enter a new patient below.")
            )
        field = patient_choice_field(patients.filter(pk__in=[p.pk for p in rows]))
        listing = _choice_list(field, "patient_id", "Patients found")
        return HttpResponse(_note(note) + listing if note else listing)


class RequestorLookupView(TenantViewMixin, View):
    """Requestors of this tenant by name, organization or email (attorneys and insurers ask again and again)."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest) -> HttpResponse:
        query = request.GET.get("requestor_q", "").strip()
        if len(query) < 2:
            return HttpResponse(_note("Enter at least two letters of a name, organization or email, then search."))
        requestors = Requestor.objects.for_tenant(self.tenant).order_by("name", "organization", "id")
        matches = requestors.filter(
            Q(name__icontains=query) | Q(organization__icontains=query) | Q(email__icontains=query)
        )
        rows, note = _limited(matches, "requestors")
        if not rows:
            return HttpResponse(_note(f"No requestor on file matches {query}. Enter a new requestor below."))
        field = requestor_choice_field(requestors.filter(pk__in=[r.pk for r in rows]))
        listing = _choice_list(field, "requestor_id", "Requestors found")
        return HttpResponse(_note(note) + listing if note else listing)


# --- A request's documents ------------------------------------------------------------------------------------

# The add-a-document form as a page of its own, for a browser that follows the fallback link without htmx.
UPLOAD_PAGE = Template(
    '{% extends "base.html" %}{% block title %}Add a document{% endblock %}{% block content %}'
    '<div class="page-head"><p><a href="{% url "workflow:detail" rr.tracking_number %}">← {{ rr.tracking_number }}'
    '</a></p><h1>Add a document</h1></div><section class="card">{% include "intake/_documents.html" %}</section>'
    "{% endblock %}"
)


class DocumentUploadView(RequestView):
    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        context = {"rr": record_request, "document_form": DocumentUploadForm(auto_id="id_doc_%s"), "form_only": True}
        if request.htmx:  # type: ignore[attr-defined]  # django-htmx's middleware sets it
            return render(request, "intake/_documents.html", context)
        return HttpResponse(UPLOAD_PAGE.render(RequestContext(request, context)))

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        form = DocumentUploadForm(request.POST, request.FILES, auto_id="id_doc_%s")
        if not form.is_valid():
            for field, errors in form.errors.items():
                label = form.fields[field].label if field in form.fields else ""
                for error in errors:
                    messages.error(request, f"Document not added. {label + ': ' if label else ''}{error}")
            return redirect("workflow:detail", tracking_number=tracking_number)
        try:
            document = document_add(
                tenant=self.tenant,
                actor=request.user,
                record_request=record_request,
                uploaded_file=form.cleaned_data["file"],
                kind=form.cleaned_data["kind"],
                note=form.cleaned_data["note"],
            )
        except ServiceError as error:
            messages.error(request, f"Document not added. {error.message}")
            return redirect("workflow:detail", tracking_number=tracking_number)
        pages = f", {document.page_count} page{'s' if document.page_count != 1 else ''}" if document.page_count else ""
        messages.success(
            request,
            f"Added {document.get_kind_display().lower()} '{document.original_name}' "
            f"({human_size(document.size_bytes)}{pages}).",
        )
        return redirect("workflow:detail", tracking_number=tracking_number)


class DocumentDownloadView(RequestDownloadView):
    """Hands out a stored document: only this tenant's, only to staff, always with an access event."""

    def find(self, *, tracking_number: str, document_id: int) -> IntakeDocument:
        document = (
            IntakeDocument.objects.for_tenant(self.tenant)
            .select_related("request")
            .filter(pk=document_id, request__tracking_number=tracking_number)
            .first()
        )
        if document is None:
            raise Http404("No such document")
        return document

    def open_file(self, document: IntakeDocument) -> ServedFile:
        return ServedFile(
            content=document_open(tenant=self.tenant, document=document),
            filename=download_name(document),
            content_type=document.content_type,
            obj=document,
            request_id=document.request_id,
            patient_id=document.request.patient_id,
            detail=f"{document.get_kind_display()}: {document.original_name}",
        )


urlpatterns: list[URLPattern] = [
    path("new/", IntakeCreateView.as_view(), name="new"),
    path("patients/lookup/", PatientLookupView.as_view(), name="patient-lookup"),
    path("requestors/lookup/", RequestorLookupView.as_view(), name="requestor-lookup"),
    path("<tracking:tracking_number>/documents/", DocumentUploadView.as_view(), name="document-upload"),
    path(
        "<tracking:tracking_number>/documents/<int:document_id>/",
        DocumentDownloadView.as_view(),
        name="document-download",
    ),
]
