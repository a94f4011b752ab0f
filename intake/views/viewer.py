"""The document viewer on the documents received with a request (the scanned request, the authorization, the ID),
beside the intake checklist: the viewer page and its page images (workflow/views/viewer.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.urls import URLPattern, path, reverse

from intake import selectors
from intake.documents import document_open
from intake.models import IntakeDocument
from workflow.models import RecordRequest
from workflow.views.viewer import DocumentPageView, DocumentViewerView


class IntakeDocumentsMixin:
    tenant: Any
    kind = "intake"
    viewer_route = "intake:document-viewer"
    page_route = "intake:document-page"
    document_kwarg = "document_id"
    document_model = IntakeDocument

    def read_document(self, document: IntakeDocument) -> bytes:
        with document_open(tenant=self.tenant, document=document) as handle:
            return handle.read()


class IntakeDocumentViewerView(IntakeDocumentsMixin, DocumentViewerView):
    """A received document's pages, beside the checklist (its pane loads this with htmx) or as a page of its own."""

    def documents(self, record_request: RecordRequest) -> Sequence[IntakeDocument]:
        return list(selectors.documents_for(tenant=self.tenant, record_request=record_request))

    def document_label(self, document: IntakeDocument) -> str:
        return document.get_kind_display()

    def back_url(self, record_request: RecordRequest) -> str:
        return reverse("intake:checklist", args=[record_request.tracking_number])


class IntakeDocumentPageView(IntakeDocumentsMixin, DocumentPageView):
    """One page image of a received document, under the grant the viewer issued."""


urlpatterns: list[URLPattern] = [
    path(
        "<tracking:tracking_number>/documents/<int:document_id>/viewer/",
        IntakeDocumentViewerView.as_view(),
        name="document-viewer",
    ),
    path(
        "<tracking:tracking_number>/documents/<int:document_id>/viewer/page/",
        IntakeDocumentPageView.as_view(),
        name="document-page",
    ),
]
