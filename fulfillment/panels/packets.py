"""The documents-and-packet part of the fulfillment panel."""

from __future__ import annotations

from typing import Any

from fulfillment import documents as docs
from fulfillment.choices import PacketBuildState
from fulfillment.forms.packets import (
    DocumentExcludeForm,
    PageCategoryForm,
    PageExclusionForm,
    ReleaseDocumentUploadForm,
    retrieval_task_choices,
)
from fulfillment.models import PacketBuild
from fulfillment.packets import packet_changes, packets_for
from workflow.choices import RequestState, SensitiveCategory


def panel_context(*, tenant: Any, record_request: Any, forms: dict[str, Any]) -> dict[str, Any]:
    """The documents-and-packet section of the fulfillment panel, under one key (`packets`) so that no other part's
    context can shadow it. A fixed number of queries whatever the number of documents."""
    if docs.before_validation(record_request):
        # Nothing is retrieved before validation (uploads are refused, and a request never returns to received):
        # no queries for the intake-stage detail page, which workflow's page tests pin.
        return {"packets": {"rr": record_request, "closed_message": docs.records_closed_message(record_request)}}
    documents = list(docs.documents_for(tenant=tenant, record_request=record_request))
    contents = docs.release_contents(documents)
    packets = list(packets_for(tenant=tenant, record_request=record_request))
    latest = packets[0] if packets else None
    build = PacketBuild.objects.for_tenant(tenant).filter(request_id=record_request.pk).order_by("-pk").first()
    if (
        build is not None
        and not build.active
        and (build.state == PacketBuildState.BUILT or (latest and latest.built_at > build.requested_at))
    ):
        build = None  # a finished build's packet is the latest version shown; a failure stays until a later packet
    open_for_work = docs.records_open_for_work(record_request)
    can_upload = open_for_work or record_request.state == RequestState.VALIDATED
    bound_exclusion = forms.get("page_exclusion_form")
    bound_exclude = forms.get("document_exclude_form")
    bound_category = forms.get("page_category_form")
    rows = []
    for document in documents:
        pages = docs.included_pages(document)
        rows.append(
            {
                "document": document,
                "categories": [SensitiveCategory(value).label for value in document.sensitive_categories],
                "included": docs.pages_label(pages, document.page_count),
                "excluded_count": document.page_count - len(pages),
                "exclusions": list(document.exclusions.all()),
                "exclusion_form": bound_exclusion
                if getattr(bound_exclusion, "document_pk", None) == document.pk
                else PageExclusionForm(document=document),
                "exclude_form": bound_exclude
                if getattr(bound_exclude, "document_pk", None) == document.pk
                else DocumentExcludeForm(document=document),
                "page_categories": [
                    {**tag, "label": SensitiveCategory(tag["category"]).label} for tag in document.page_categories or []
                ],
                "page_category_form": bound_category
                if getattr(bound_category, "document_pk", None) == document.pk
                else PageCategoryForm(document=document),
            }
        )
    upload_form = forms.get("release_document_form")
    if upload_form is None and can_upload:
        upload_form = ReleaseDocumentUploadForm(
            task_choices=retrieval_task_choices(tenant=tenant, record_request=record_request)
        )
    return {
        "packets": {
            "rr": record_request,
            "documents": rows,
            "open_for_work": open_for_work,
            "can_upload": can_upload,
            "starts_fulfillment": record_request.state == RequestState.VALIDATED,
            "closed_message": "" if open_for_work else docs.records_closed_message(record_request),
            "upload_form": upload_form,
            "record_pages_now": sum(len(item.included) for item in contents),
            "latest": latest,
            "build": build,
            "older": packets[1:],
            "changes": packet_changes(latest, contents, record_request) if latest else [],
        }
    }
