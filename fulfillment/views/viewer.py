"""The document viewer on a request's retrieved records, for quality control: every page with its exclusion from the
release and its sensitive categories marked (workflow/views/viewer.py has the viewer itself)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import Prefetch
from django.urls import URLPattern, path, reverse

from fulfillment import documents as docs
from fulfillment import qc
from fulfillment.models import PageExclusion, ReleaseDocument
from roi.page_images import PageMark
from workflow.models import RecordRequest
from workflow.views.viewer import DocumentPageView, DocumentViewerView


class ReleaseDocumentsMixin:
    tenant: Any
    kind = qc.DOCUMENT_KIND
    viewer_route = "fulfillment:release-document-viewer"
    page_route = "fulfillment:release-document-page"
    document_kwarg = "pk"
    document_model = ReleaseDocument

    def document_queryset(self) -> Any:
        # The viewer page marks the excluded pages.
        exclusions = Prefetch("exclusions", queryset=PageExclusion.objects.for_tenant(self.tenant))
        return super().document_queryset().prefetch_related(exclusions)  # type: ignore[misc]  # a mixin: the viewer base comes after it

    def read_document(self, document: ReleaseDocument) -> bytes:
        with docs.release_document_open(tenant=self.tenant, document=document) as handle:
            return handle.read()


class ReleaseDocumentViewerView(ReleaseDocumentsMixin, DocumentViewerView):
    """A retrieved record's pages with what leaves and what does not, beside QC (its pane loads this with htmx) or as
    a page of its own."""

    def page_marks(self, document: ReleaseDocument) -> dict[int, PageMark]:
        return docs.page_marks(document)

    def documents(self, record_request: RecordRequest) -> Sequence[ReleaseDocument]:
        return list(ReleaseDocument.objects.for_tenant(self.tenant).filter(request_id=record_request.pk))

    def document_label(self, document: ReleaseDocument) -> str:
        return document.get_record_type_display()

    def back_url(self, record_request: RecordRequest) -> str:
        return reverse("workflow:detail", args=[record_request.tracking_number]) + "#qc"


class ReleaseDocumentPageView(ReleaseDocumentsMixin, DocumentPageView):
    """One page image of a retrieved record, under the grant the viewer issued."""

    def document_queryset(self) -> Any:
        # The image needs no exclusions: only the document's file, digest and page count.
        return ReleaseDocument.objects.for_tenant(self.tenant).select_related("request")


urlpatterns: list[URLPattern] = [
    path(
        "<tracking:tracking_number>/release-documents/<int:pk>/viewer/",
        ReleaseDocumentViewerView.as_view(),
        name="release-document-viewer",
    ),
    path(
        "<tracking:tracking_number>/release-documents/<int:pk>/viewer/page/",
        ReleaseDocumentPageView.as_view(),
        name="release-document-page",
    ),
]
