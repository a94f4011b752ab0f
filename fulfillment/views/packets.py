"""Pages and actions for retrieved documents, page exclusions and the release packet, on the request detail page.

Every action posts from the fulfillment panel and comes back to the request. A form with errors re-renders the
detail page with the bound form in the panel (status 400), so what was entered stays. The lookup of the request
and of the document, exclusion or packet is scoped to the tenant and to that request: anything else answers 404.
Downloads hand out PHI: they build on workflow.views.downloads.RequestDownloadView, which writes the access event.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path

from fulfillment import documents as docs
from fulfillment import gate, packet_builds, packets
from fulfillment.choices import ReleaseAction
from fulfillment.forms.packets import (
    DocumentExcludeForm,
    PageCategoryForm,
    PageExclusionForm,
    ReleaseDocumentUploadForm,
    retrieval_task_choices,
)
from fulfillment.models import Delivery, PacketBuild, PageExclusion, ReleaseDocument, ReleasePacket, RetrievalTask
from intake.documents import download_name, human_size
from roi.downloads import ServedFile
from roi.errors import ServiceError
from workflow.choices import RequestState, SensitiveCategory
from workflow.models import RecordRequest
from workflow.views.base import RequestActionView, RequestView
from workflow.views.downloads import RequestDownloadView

PANEL_ANCHOR = "#release-documents"


def _back(tracking_number: str) -> HttpResponse:
    response = redirect("workflow:detail", tracking_number=tracking_number)
    response["Location"] += PANEL_ANCHOR
    return response


def _document(tenant: Any, record_request: RecordRequest, pk: int) -> ReleaseDocument:
    """One retrieved document of this request, tenant-scoped; Http404 for anything else."""
    document = (
        ReleaseDocument.objects.for_tenant(tenant)
        .select_related("request__patient")
        .filter(pk=pk, request_id=record_request.pk)
        .first()
    )
    if document is None:
        raise Http404("No such document")
    return document


class _PacketActionView(RequestActionView):
    """A post from the documents-and-packet section: the request, then its object, both tenant-scoped."""

    def document(self, record_request: RecordRequest, pk: int) -> ReleaseDocument:
        return _document(self.tenant, record_request, pk)

    def failed(
        self, request: HttpRequest, tracking_number: str, error: ServiceError, form: Any = None, key: str = ""
    ) -> HttpResponse:
        if form is None or not error.on_form(form):
            messages.error(request, error.message)
        panel_forms = {key: form} if form is not None else None
        return self.render_detail(
            request, self.get_object(tracking_number), panel_forms=panel_forms, status=error.status_code
        )

    def invalid(self, request: HttpRequest, record_request: RecordRequest, form: Any, key: str, what: str) -> Any:
        file_errors = form.errors.get("file") if "file" in form.fields else None
        # A refused file's reason (damaged, password-protected, which page) is the whole story: say it at the top,
        # where the eye lands after the page reloads, not only beside the file field further down.
        detail = file_errors[0] if file_errors else "Check the highlighted fields."
        messages.error(request, f"{what} {detail}")
        return self.render_detail(request, record_request, panel_forms={key: form}, status=400)


class ReleaseDocumentUploadView(_PacketActionView):
    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        form = ReleaseDocumentUploadForm(
            request.POST,
            request.FILES,
            task_choices=retrieval_task_choices(tenant=self.tenant, record_request=record_request),
        )
        key = "release_document_form"
        if not form.is_valid():
            return self.invalid(request, record_request, form, key, "Document not uploaded.")
        data = form.cleaned_data
        task = None
        if data["retrieval_task"]:
            task = (
                RetrievalTask.objects.for_tenant(self.tenant)
                .filter(pk=data["retrieval_task"], request_id=record_request.pk)
                .first()
            )
        was_validated = record_request.state == RequestState.VALIDATED
        try:
            document = docs.release_document_upload(
                tenant=self.tenant,
                actor=request.user,
                record_request=record_request,
                uploaded_file=data["file"],
                source=data["source"],
                record_type=data["record_type"],
                retrieval_task=task,
                service_date_from=data["service_date_from"],
                service_date_to=data["service_date_to"],
                sensitive_categories=data["sensitive_categories"],
                patient_confirmed=data["patient_confirmed"],
            )
        except ServiceError as error:
            return self.failed(request, tracking_number, error, form, key)
        pages = f"{document.page_count} page{'s' if document.page_count != 1 else ''}"
        started = " The request moved to fulfillment." if was_validated else ""
        messages.success(
            request,
            f"Uploaded {document.get_record_type_display().lower()} '{document.original_name}' "
            f"({human_size(document.size_bytes)}, {pages}).{started}",
        )
        return _back(tracking_number)


class ReleaseDocumentDownloadView(RequestDownloadView):
    """A retrieved document as uploaded, shown in the browser (staff check its pages); an access event each time."""

    def find(self, *, tracking_number: str, pk: int) -> ReleaseDocument:
        return _document(self.tenant, self.request_in_tenant(tracking_number), pk)

    def open_file(self, document: ReleaseDocument) -> ServedFile:
        return ServedFile(
            content=docs.release_document_open(tenant=self.tenant, document=document),
            filename=download_name(document),
            content_type=document.content_type,
            inline=True,
            obj=document,
            request_id=document.request_id,
            patient_id=document.request.patient_id,
            detail=f"Retrieved record, {document.get_record_type_display()}: {document.original_name}",
        )

    def back(self, *, tracking_number: str, **kwargs: Any) -> HttpResponse:
        return _back(tracking_number)


class ReleaseDocumentConfirmView(_PacketActionView):
    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        document = self.document(record_request, pk)
        confirmed = request.POST.get("confirmed", "1") != "0"
        try:
            docs.release_document_confirm_patient(
                tenant=self.tenant, actor=request.user, document=document, confirmed=confirmed
            )
        except ServiceError as error:
            return self.failed(request, tracking_number, error)
        if confirmed:
            messages.success(request, f"Every page of '{document.original_name}' confirmed as this patient's.")
        else:
            messages.success(request, f"Patient check of '{document.original_name}' withdrawn.")
        return _back(tracking_number)


class ReleaseDocumentExcludeView(_PacketActionView):
    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        document = self.document(record_request, pk)
        form = DocumentExcludeForm(request.POST, document=document)
        key = "document_exclude_form"
        if not form.is_valid():
            return self.invalid(request, record_request, form, key, f"'{document.original_name}' not excluded.")
        try:
            docs.release_document_exclude(
                tenant=self.tenant,
                actor=request.user,
                document=document,
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
            )
        except ServiceError as error:
            return self.failed(request, tracking_number, error, form, key)
        messages.success(request, f"'{document.original_name}' is left out of the release.")
        return _back(tracking_number)


class ReleaseDocumentIncludeView(_PacketActionView):
    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        document = self.document(record_request, pk)
        try:
            docs.release_document_include(tenant=self.tenant, actor=request.user, document=document)
        except ServiceError as error:
            return self.failed(request, tracking_number, error)
        messages.success(request, f"'{document.original_name}' is back in the release.")
        return _back(tracking_number)


class PageExclusionAddView(_PacketActionView):
    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        document = self.document(record_request, pk)
        form = PageExclusionForm(request.POST, document=document)
        key = "page_exclusion_form"
        if not form.is_valid():
            return self.invalid(request, record_request, form, key, "Pages not excluded.")
        data = form.cleaned_data
        try:
            exclusion = docs.page_exclusion_add(
                tenant=self.tenant,
                actor=request.user,
                document=document,
                first_page=data["first_page"],
                last_page=data["last_page"],
                reason=data["reason"],
                note=data["note"],
            )
        except ServiceError as error:
            return self.failed(request, tracking_number, error, form, key)
        messages.success(
            request,
            f"Left out {docs.range_label(exclusion.first_page, exclusion.last_page)} of '{document.original_name}'.",
        )
        return _back(tracking_number)


class PageCategoryAddView(_PacketActionView):
    """Mark pages of a document as carrying a sensitive category."""

    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        document = self.document(record_request, pk)
        form = PageCategoryForm(request.POST, document=document)
        key = "page_category_form"
        if not form.is_valid():
            return self.invalid(request, record_request, form, key, "Pages not marked.")
        data = form.cleaned_data
        try:
            docs.release_document_pages_tag(
                tenant=self.tenant,
                actor=request.user,
                document=document,
                first_page=data["first_page"],
                last_page=data["last_page"],
                category=data["category"],
            )
        except ServiceError as error:
            return self.failed(request, tracking_number, error, form, key)
        last = data["last_page"] or data["first_page"]
        label = SensitiveCategory(data["category"]).label.lower()
        messages.success(
            request,
            f"{docs.range_label(data['first_page'], last).capitalize()} of '{document.original_name}': {label}.",
        )
        return _back(tracking_number)


class PageCategoryRemoveView(_PacketActionView):
    """Remove a page category marked by mistake."""

    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        document = self.document(record_request, pk)
        try:
            first, last = int(request.POST.get("first", "")), int(request.POST.get("last", ""))
        except ValueError:
            messages.error(request, "Say which pages to unmark.")
            return _back(tracking_number)
        try:
            docs.release_document_pages_untag(
                tenant=self.tenant,
                actor=request.user,
                document=document,
                first_page=first,
                last_page=last,
                category=request.POST.get("category", ""),
            )
        except ServiceError as error:
            return self.failed(request, tracking_number, error)
        messages.success(
            request, f"Category removed from {docs.range_label(first, last)} of '{document.original_name}'."
        )
        return _back(tracking_number)


class PageExclusionRemoveView(_PacketActionView):
    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        exclusion = (
            PageExclusion.objects.for_tenant(self.tenant)
            .select_related("document__request")
            .filter(pk=pk, document__request_id=record_request.pk)
            .first()
        )
        if exclusion is None:
            raise Http404("No such exclusion")
        try:
            docs.page_exclusion_remove(tenant=self.tenant, actor=request.user, exclusion=exclusion)
        except ServiceError as error:
            return self.failed(request, tracking_number, error)
        pages = docs.range_label(exclusion.first_page, exclusion.last_page)
        verb = "is" if exclusion.first_page == exclusion.last_page else "are"
        messages.success(
            request, f"{pages.capitalize()} of '{exclusion.document.original_name}' {verb} back in the release."
        )
        return _back(tracking_number)


class PacketBuildView(_PacketActionView):
    """A packet of up to PACKET_INLINE_PAGES record pages is built within the page load; a bigger one goes to a
    worker (fulfillment/packet_builds.py) and the panel shows its progress."""

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        try:
            result = packet_builds.packet_build_or_start(
                tenant=self.tenant, actor=request.user, record_request=record_request
            )
        except ServiceError as error:
            return self.failed(request, tracking_number, error)
        if isinstance(result, PacketBuild):
            messages.info(
                request,
                f"The packet ({result.record_pages} record pages) is being built in the background. Its progress shows "
                "under Release packet; you can keep working, and you will be told when it is ready.",
            )
            return _back(tracking_number)
        packet = result
        messages.success(
            request,
            f"Release packet version {packet.version} built: {packet.record_pages} record "
            f"page{'s' if packet.record_pages != 1 else ''} after a {packet.page_count - packet.record_pages}-page "
            "cover sheet. It needs quality control before delivery.",
        )
        return _back(tracking_number)


class PacketBuildStatusView(RequestView):
    """The progress of a background build, polled by the panel (htmx) until it ends. Counts only: no record content,
    and the request page that shows it was the audited view."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        build = PacketBuild.objects.for_tenant(self.tenant).filter(pk=pk, request_id=record_request.pk).first()
        if build is None:
            raise Http404("No such build")
        return render(request, "fulfillment/_packet_build.html", {"build": build, "rr": record_request})


class PacketDownloadView(RequestDownloadView):
    """A release packet version as built, as an attachment; an access event each time (it is the patient's
    record)."""

    def find(self, *, tracking_number: str, pk: int) -> ReleasePacket:
        record_request = self.request_in_tenant(tracking_number)
        packet = (
            ReleasePacket.objects.for_tenant(self.tenant)
            .select_related("request")
            .filter(pk=pk, request_id=record_request.pk)
            .first()
        )
        if packet is None:
            raise Http404("No such packet")
        return packet

    def before_serving(self, request: HttpRequest, target: ReleasePacket) -> None:
        """A packet that passed QC is the one staff fax, mail or hand over: its download is a way out, so the release
        gate decides first, as for a delivery (a first release) or a resend. A packet still under review downloads
        freely: looking at it is QC's work."""
        if gate.passing_review(tenant=self.tenant, packet=target) is None:
            return
        record_request = (
            RecordRequest.objects.for_tenant(self.tenant).select_related("requestor").get(pk=target.request_id)
        )
        first = not Delivery.objects.for_tenant(self.tenant).filter(packet=target).exists()
        verdict = gate.release_verdict(
            tenant=self.tenant,
            record_request=record_request,
            packet=target,
            action=ReleaseAction.DELIVER if first else ReleaseAction.RESEND,
            first_release=first,
        )
        if not verdict.allowed:
            raise gate.ReleaseRefused(verdict)

    def open_file(self, packet: ReleasePacket) -> ServedFile:
        return ServedFile(
            content=packets.packet_open(tenant=self.tenant, packet=packet),
            filename=f"{packet.request.tracking_number}-release-v{packet.version}.pdf",
            content_type="application/pdf",
            obj=packet,
            request_id=packet.request_id,
            patient_id=packet.request.patient_id,
            detail=f"Release packet v{packet.version} ({packet.page_count} pages)",
        )

    def back(self, *, tracking_number: str, **kwargs: Any) -> HttpResponse:
        return _back(tracking_number)


urlpatterns = [
    # "release-documents", not "documents": intake's "<tracking_number>/documents/" are the documents received
    # with the request (authorizations, IDs), and its URLs are matched first.
    path(
        "<tracking:tracking_number>/release-documents/",
        ReleaseDocumentUploadView.as_view(),
        name="release-document-upload",
    ),
    path(
        "<tracking:tracking_number>/release-documents/<int:pk>/",
        ReleaseDocumentDownloadView.as_view(),
        name="release-document-download",
    ),
    path(
        "<tracking:tracking_number>/release-documents/<int:pk>/patient-confirmed/",
        ReleaseDocumentConfirmView.as_view(),
        name="release-document-confirm",
    ),
    path(
        "<tracking:tracking_number>/release-documents/<int:pk>/exclude/",
        ReleaseDocumentExcludeView.as_view(),
        name="release-document-exclude",
    ),
    path(
        "<tracking:tracking_number>/release-documents/<int:pk>/include/",
        ReleaseDocumentIncludeView.as_view(),
        name="release-document-include",
    ),
    path(
        "<tracking:tracking_number>/release-documents/<int:pk>/exclusions/",
        PageExclusionAddView.as_view(),
        name="page-exclusion-add",
    ),
    path(
        "<tracking:tracking_number>/release-documents/<int:pk>/page-categories/",
        PageCategoryAddView.as_view(),
        name="page-category-add",
    ),
    path(
        "<tracking:tracking_number>/release-documents/<int:pk>/page-categories/remove/",
        PageCategoryRemoveView.as_view(),
        name="page-category-remove",
    ),
    path(
        "<tracking:tracking_number>/page-exclusions/<int:pk>/remove/",
        PageExclusionRemoveView.as_view(),
        name="page-exclusion-remove",
    ),
    path("<tracking:tracking_number>/packets/", PacketBuildView.as_view(), name="packet-build"),
    path(
        "<tracking:tracking_number>/packets/builds/<int:pk>/",
        PacketBuildStatusView.as_view(),
        name="packet-build-status",
    ),
    path("<tracking:tracking_number>/packets/<int:pk>/download/", PacketDownloadView.as_view(), name="packet-download"),
]
