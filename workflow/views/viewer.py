"""The document viewer of a request's documents (docs/decisions/0007-server-drawn-document-pages.md): the bases of
the viewer page and of its page images, which intake (documents received) and fulfillment (retrieved records, with
their excluded pages and page categories) build on with the lookup of their own documents.

Opening the viewer on a document writes one access event and hands out page-image URLs that carry a short-lived
grant for that user, document and session (roi.page_images); the page images themselves write no event, so paging
through a 300-page chart does not flood the audit trail, and no image can be fetched without the audited open. Both
views are request views: another tenant's document answers 404, and a restricted request stops at its check first.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from roi import page_images, pages
from roi.audit import access_record
from roi.choices import AccessAction
from roi.errors import ServiceError
from workflow.models import RecordRequest
from workflow.views.base import RequestView


def _user_id(request: HttpRequest) -> int:
    """The signed-in user's id (TenantViewMixin lets no anonymous visitor this far)."""
    if request.user.pk is None:
        raise Http404("No such document")
    return int(request.user.pk)


class ViewerDocumentsMixin:
    """How an app finds and reads its documents for the viewer. `tenant` is the request view's."""

    tenant: Any
    # Names the document in grants ("intake", "release") and the two routes of the app's viewer.
    kind: str = ""
    viewer_route: str = ""
    page_route: str = ""
    # The URL kwarg naming the document.
    document_kwarg: str = "document_id"

    # The app's document model (tenant-owned, with a `request`).
    document_model: Any = None

    def document_queryset(self) -> Any:
        """The tenant's documents with their request; an app adds what its viewer page shows (exclusions)."""
        return self.document_model.objects.for_tenant(self.tenant).select_related("request")

    def find_document(self, *, tracking_number: str, document_id: int) -> Any:
        """The document of that request, inside the tenant; Http404 for anything else."""
        document = self.document_queryset().filter(pk=document_id, request__tracking_number=tracking_number).first()
        if document is None:
            raise Http404("No such document")
        return document

    @abstractmethod
    def read_document(self, document: Any) -> bytes:
        """The stored file after the owning app's digest check; ServiceError when it cannot be read."""

    def page_marks(self, document: Any) -> dict[int, page_images.PageMark]:
        """Pages to mark (a release document's exclusions and categories); none by default."""
        return {}

    def known_page_count(self, document: Any) -> int | None:
        count = document.page_count
        return int(count) if count else None

    def viewer_document(self, document: Any, *, page_count: int | None = None) -> page_images.ViewerDocument:
        return page_images.viewer_document(
            self.kind,
            document,
            tenant_id=self.tenant.pk,
            page_count=page_count or self.known_page_count(document) or 0,
            marks=self.page_marks(document),
        )

    def route_kwargs(self, document: Any) -> dict[str, Any]:
        return {"tracking_number": document.request.tracking_number, self.document_kwarg: document.pk}

    def document_id_from(self, kwargs: dict[str, Any]) -> int:
        return int(kwargs[self.document_kwarg])


class DocumentViewerView(ViewerDocumentsMixin, RequestView):
    """The viewer opened on one document: one access event, a grant, the pages. An htmx request (the checklist's
    and QC's viewer pane) gets the viewer alone; a plain one the page with the request's other documents."""

    @abstractmethod
    def documents(self, record_request: RecordRequest) -> Sequence[Any]:
        """The request's documents of this kind, for the list beside the viewer."""

    def back_url(self, record_request: RecordRequest) -> str:
        return reverse("workflow:detail", args=[record_request.tracking_number])

    def document_label(self, document: Any) -> str:
        return str(document)

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        tracking_number = str(kwargs["tracking_number"])
        record_request = self.get_object(tracking_number)
        document = self.find_document(tracking_number=tracking_number, document_id=self.document_id_from(kwargs))
        count = self.known_page_count(document)
        if count is None:
            try:
                count = pages.page_total(
                    self.read_document(document), is_pdf=document.content_type == "application/pdf"
                )
            except (ServiceError, pages.PagesUnreadable) as error:
                text = error.message if isinstance(error, ServiceError) else f"This document {error.reason}"
                messages.error(request, text)
                return redirect(self.back_url(record_request))
        viewer = self.viewer_document(document, page_count=count)
        label = self.document_label(document)
        access_record(
            tenant=self.tenant,
            actor=request.user,
            action=AccessAction.VIEW_DOCUMENT,
            request=request,
            obj=document,
            request_id=record_request.pk,
            patient_id=record_request.patient_id,
            detail=f"Viewed document '{document.original_name}' ({label}, {count} page{'s' if count != 1 else ''})",
        )
        grant = page_images.grant_issue(
            user_id=_user_id(request),
            tenant_id=self.tenant.pk,
            document_key=viewer.key,
            session_key=request.session.session_key,
        )
        context = self.viewer_context(request, record_request, document, viewer, grant, label)
        partial = request.headers.get("HX-Request") == "true"
        context["in_pane"] = partial
        return render(request, "workflow/_viewer.html" if partial else "workflow/viewer.html", context)

    def viewer_context(
        self,
        request: HttpRequest,
        record_request: RecordRequest,
        document: Any,
        viewer: page_images.ViewerDocument,
        grant: str,
        label: str,
    ) -> dict[str, Any]:
        viewer_url = reverse(self.viewer_route, kwargs=self.route_kwargs(document))
        page_url = reverse(self.page_route, kwargs=self.route_kwargs(document))
        try:
            current = min(max(int(request.GET.get("page", "1")), 1), viewer.page_count)
        except ValueError:
            current = 1

        def image(number: int, size: str) -> str:
            return f"{page_url}?{urlencode({'n': number, 'size': size, 'grant': grant})}"

        rows = []
        for number in range(1, viewer.page_count + 1):
            mark = viewer.marks.get(number, page_images.PageMark())
            rows.append(
                {
                    "number": number,
                    "thumb": image(number, "thumb"),
                    "page": image(number, "page"),
                    "link": f"{viewer_url}?page={number}",
                    "excluded": mark.excluded,
                    "categories": "; ".join(mark.categories),
                }
            )
        return {
            "rr": record_request,
            "document": document,
            "document_label": label,
            "viewer_url": viewer_url,
            "pages": rows,
            "page_count": viewer.page_count,
            "current": rows[current - 1] if rows else None,
            "previous_link": f"{viewer_url}?page={current - 1}" if current > 1 else "",
            "next_link": f"{viewer_url}?page={current + 1}" if current < viewer.page_count else "",
            "marked": bool(viewer.marks),
            "documents": [
                {
                    "label": self.document_label(other),
                    "name": other.original_name,
                    "url": reverse(self.viewer_route, kwargs=self.route_kwargs(other)),
                    "current": other.pk == document.pk,
                }
                for other in self.documents(record_request)
            ],
            "back_url": self.back_url(record_request),
            "grant_minutes": page_images.GRANT_SECONDS // 60,
        }


class DocumentPageView(ViewerDocumentsMixin, RequestView):
    """One page image (`?n=<page>&size=thumb|page&grant=...`). The document is found first (another tenant's or a
    missing one answers 404 like any request page), then the grant is checked (403 without a valid one); no access
    event: the viewer's open recorded it."""

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        document = self.find_document(
            tracking_number=str(kwargs["tracking_number"]), document_id=self.document_id_from(kwargs)
        )
        viewer = self.viewer_document(document)
        try:
            seconds_left = page_images.grant_check(
                request.GET.get("grant", ""),
                user_id=_user_id(request),
                tenant_id=self.tenant.pk,
                document_key=viewer.key,
                session_key=request.session.session_key,
            )
        except page_images.GrantRefused:
            return HttpResponse(
                "This page image needs the document to be opened in the viewer: open it again.",
                status=403,
                content_type="text/plain; charset=utf-8",
            )
        size = request.GET.get("size", "")
        try:
            number = int(request.GET.get("n", ""))
        except ValueError:
            raise Http404("No such page") from None
        if size not in page_images.PAGE_SIZES:
            raise Http404("No such size")
        try:
            image = page_images.page_image(
                document=viewer, page=number, size=size, read=lambda: self.read_document(document)
            )
        except pages.PagesUnreadable:
            raise Http404("No such page") from None
        except ServiceError as error:
            return HttpResponse(error.message, status=409, content_type="text/plain; charset=utf-8")
        if size == page_images.READING_SIZE:
            page_images.page_shown(user_id=_user_id(request), document=viewer, page=number)
        return page_images.page_image_response(image, seconds_left=seconds_left)
