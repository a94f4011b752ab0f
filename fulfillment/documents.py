"""Retrieved records: the documents staff upload to a request, the pages they leave out, and the audited way back
out. The release packet (fulfillment/packets.py) is built from what these leave included.

Uploads are checked by content exactly as intake's documents are (intake.documents.inspect_upload: PDF, TIFF,
PNG or JPEG that really opens, within the size limit, pages counted with pypdf or Pillow). An image is one page of
the packet (a multi-page TIFF, one page per frame). Nothing is deleted: a wrong upload is excluded as a whole, with
its reason, and stays in the request's history.

Work on records happens while the request is in fulfillment, or in an exception raised during fulfillment (waiting
on imaging, on legal review...). A validated request moves to fulfillment when its first records are uploaded: that
is the moment fulfillment starts in fact, and staff should not have to click "Start fulfillment" first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import IO, Any

from django.db import transaction
from django.db.models import Prefetch, QuerySet

from fulfillment.choices import ExclusionReason, RetrievalSource
from fulfillment.models import Denial, PageExclusion, ReleaseDocument, RetrievalTask
from intake.documents import inspect_upload, original_name_clean, stored_file_open
from roi import clock
from roi.audit import history_stamp
from roi.errors import ServiceError
from roi.models import Tenant
from roi.page_images import PageMark
from workflow.choices import DenialBasis, RecordType, RequestState, SensitiveCategory, with_implied_categories
from workflow.models import RecordRequest

NOTE_MAX = 300


# --- When records may be worked on ----------------------------------------------------------------------------


def records_open_for_work(record_request: RecordRequest) -> bool:
    """In fulfillment, or in an exception raised from fulfillment or from validated (records may arrive while the
    request waits on a department)."""
    if record_request.state == RequestState.IN_FULFILLMENT:
        return True
    return record_request.state == RequestState.EXCEPTION and record_request.state_before_exception in (
        RequestState.VALIDATED,
        RequestState.IN_FULFILLMENT,
    )


def before_validation(record_request: RecordRequest) -> bool:
    """Received, or in an exception raised from received: no record can have been uploaded yet."""
    return record_request.state == RequestState.RECEIVED or (
        record_request.state == RequestState.EXCEPTION
        and record_request.state_before_exception == RequestState.RECEIVED
    )


def records_closed_message(record_request: RecordRequest) -> str:
    state = RequestState(record_request.state)
    if before_validation(record_request):
        return "Records are added once the request is validated: work the intake checklist first."
    if state == RequestState.VALIDATED:
        return "Start fulfillment on this request first (uploading its first records does that)."
    return f"This request is {state.label.lower()}: its records and release packet can no longer change."


def lock_request_for_work(*, tenant: Tenant, record_request: RecordRequest) -> RecordRequest:
    """The request row, locked for the rest of the transaction, if its records may change now. Serialises every
    change to a request's documents, exclusions and packets, so a packet is built from one consistent set."""
    current = (
        RecordRequest.objects.for_tenant(tenant)
        .select_for_update(of=("self",))
        .select_related("patient", "requestor")
        .filter(pk=record_request.pk)
        .first()
    )
    if current is None:
        raise ServiceError("Request not found.")
    if not records_open_for_work(current):
        raise ServiceError(records_closed_message(current))
    return current


def record_activity(current: RecordRequest, actor: Any, now: Any, *, extra_fields: Iterable[str] = ()) -> None:
    """Count the change as activity on the request, so it no longer reads as stalled."""
    current.last_activity_at = now
    history_stamp(current, actor)
    current.save(update_fields=["last_activity_at", "updated_at", *extra_fields])


# --- Uploading ------------------------------------------------------------------------------------------------


def _clean_note(note: str | None, reason: str) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise ServiceError(f"Keep the note to {NOTE_MAX} characters.", field="note")
    if reason == ExclusionReason.OTHER and not note:
        raise ServiceError("Say why in the note: the reason is 'Other'.", field="note")
    return note


def _check_page_range(document: ReleaseDocument, first_page: int, last_page: int) -> None:
    """Pages first..last (1-based, inclusive) must be pages of the document, in order."""
    pages = document.page_count
    if first_page < 1 or first_page > pages:
        raise ServiceError(
            f"Page {first_page} is not in this document: it has {pages_phrase(pages)} (1 to {pages}).",
            field="first_page",
        )
    if last_page < first_page:
        raise ServiceError("The last page must be the first page or after it.", field="last_page")
    if last_page > pages:
        raise ServiceError(
            f"This document has {pages_phrase(pages)}: the last page can be {pages} at most.", field="last_page"
        )


def _check_reason(reason: str) -> None:
    if reason not in ExclusionReason.values:
        raise ServiceError("Choose why these pages are left out.", field="reason")


def release_document_upload(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    uploaded_file: Any,
    source: str,
    record_type: str,
    retrieval_task: RetrievalTask | None = None,
    service_date_from: date | None = None,
    service_date_to: date | None = None,
    sensitive_categories: Iterable[str] = (),
    patient_confirmed: bool = False,
) -> ReleaseDocument:
    """Keep a retrieved document with the request. A validated request moves to fulfillment first (through the
    workflow transition service, with its log row); any other state outside fulfillment is refused.

    Files and rows: as intake.documents.document_attach, the file is written before the row and removed if the row
    cannot be saved; a later rollback of the caller's transaction leaves an unreferenced file behind."""
    if record_request.tenant_id != tenant.pk:
        raise ServiceError("Request not found.")
    if source not in RetrievalSource.values:
        raise ServiceError("Choose where the records came from.", field="source")
    if record_type not in RecordType.values:
        raise ServiceError("Choose what kind of record this is.", field="record_type")
    categories = with_implied_categories([record_type], list(sensitive_categories))
    unknown = [c for c in categories if c not in SensitiveCategory.values]
    if unknown:
        raise ServiceError(f"Unknown sensitive category {unknown[0]!r}.", field="sensitive_categories")
    if service_date_from and service_date_to and service_date_from > service_date_to:
        raise ServiceError("The first date of service must be on or before the last.", field="service_date_to")
    if retrieval_task is not None and (
        retrieval_task.tenant_id != tenant.pk or retrieval_task.request_id != record_request.pk
    ):
        raise ServiceError("Choose a retrieval task of this request.", field="retrieval_task")
    detected = inspect_upload(uploaded_file)

    with transaction.atomic():
        locked = RecordRequest.objects.for_tenant(tenant).select_for_update(of=("self",)).filter(pk=record_request.pk)
        current = locked.first()
        if current is None:
            raise ServiceError("Request not found.")
        if current.state == RequestState.VALIDATED:
            from workflow.transitions import request_start_fulfillment

            request_start_fulfillment(tenant=tenant, actor=actor, record_request=current)
        current = lock_request_for_work(tenant=tenant, record_request=current)
        now = clock.now()
        document = ReleaseDocument(
            tenant=tenant,
            request=current,
            retrieval_task=retrieval_task,
            source=source,
            record_type=record_type,
            service_date_from=service_date_from,
            service_date_to=service_date_to,
            sensitive_categories=categories,
            original_name=original_name_clean(getattr(uploaded_file, "name", None)),
            content_type=detected.content_type,
            size_bytes=detected.size_bytes,
            sha256=detected.sha256,
            page_count=detected.page_count or 1,
            patient_confirmed=bool(patient_confirmed),
            uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
            uploaded_at=now,
        )
        if SensitiveCategory.PSYCHOTHERAPY_NOTES in categories:
            denial = (
                Denial.objects.for_tenant(tenant)
                .filter(request=current, basis=DenialBasis.PSYCHOTHERAPY_NOTES)
                .only("pk")
                .first()
            )
            if denial is not None:
                # Psychotherapy notes retrieved after their denial under the right of access are withheld as they
                # arrive (164.524(a)(1)(i)); the release gate refuses them in a packet anyway.
                document.excluded_reason = ExclusionReason.DENIED
                document.excluded_note = f"Denial {denial.pk}: psychotherapy notes (unreviewable)"
        history_stamp(document, actor)
        uploaded_file.seek(0)
        # upload_to (release_document_path) keeps only the suffix given here: the detected type's.
        document.file.save(f"record{detected.extension}", uploaded_file, save=False)
        try:
            with transaction.atomic():
                document.save()
        except BaseException:
            document.file.delete(save=False)
            raise
        record_activity(current, actor, now)
    return document


# --- Changing what a document is ------------------------------------------------------------------------------


def _locked_document(*, tenant: Tenant, document: ReleaseDocument) -> tuple[RecordRequest, ReleaseDocument]:
    current = lock_request_for_work(tenant=tenant, record_request=document.request)
    fresh = ReleaseDocument.objects.for_tenant(tenant).filter(pk=document.pk, request_id=current.pk).first()
    if fresh is None:
        raise ServiceError("Document not found.")
    return current, fresh


def release_document_confirm_patient(
    *, tenant: Tenant, actor: Any, document: ReleaseDocument, confirmed: bool = True
) -> ReleaseDocument:
    """Record that someone checked every page is this patient's (the first thing QC asks)."""
    with transaction.atomic():
        current, fresh = _locked_document(tenant=tenant, document=document)
        if fresh.patient_confirmed != confirmed:
            fresh.patient_confirmed = confirmed
            history_stamp(fresh, actor)
            fresh.save(update_fields=["patient_confirmed"])
            record_activity(current, actor, clock.now())
    return fresh


def release_document_exclude(
    *, tenant: Tenant, actor: Any, document: ReleaseDocument, reason: str, note: str = ""
) -> ReleaseDocument:
    """Leave a whole document out of the release (a wrong upload, another patient's file, out of scope)."""
    _check_reason(reason)
    note = _clean_note(note, reason)
    with transaction.atomic():
        current, fresh = _locked_document(tenant=tenant, document=document)
        fresh.excluded_reason = reason
        fresh.excluded_note = note
        history_stamp(fresh, actor)
        fresh.save(update_fields=["excluded_reason", "excluded_note"])
        record_activity(current, actor, clock.now())
    return fresh


def release_document_include(*, tenant: Tenant, actor: Any, document: ReleaseDocument) -> ReleaseDocument:
    """Take back a whole-document exclusion; its page exclusions still apply. History keeps the old reason."""
    with transaction.atomic():
        current, fresh = _locked_document(tenant=tenant, document=document)
        if not fresh.excluded_reason:
            raise ServiceError("This document is not excluded.")
        fresh.excluded_reason = ""
        fresh.excluded_note = ""
        history_stamp(fresh, actor)
        fresh.save(update_fields=["excluded_reason", "excluded_note"])
        record_activity(current, actor, clock.now())
    return fresh


def page_exclusion_add(
    *,
    tenant: Tenant,
    actor: Any,
    document: ReleaseDocument,
    first_page: int,
    last_page: int | None = None,
    reason: str,
    note: str = "",
) -> PageExclusion:
    """Leave pages first..last (1-based, inclusive) of a document out of the release."""
    _check_reason(reason)
    note = _clean_note(note, reason)
    last_page = first_page if last_page is None else last_page
    with transaction.atomic():
        current, fresh = _locked_document(tenant=tenant, document=document)
        _check_page_range(fresh, first_page, last_page)
        for existing in PageExclusion.objects.for_tenant(tenant).filter(document=fresh):
            if first_page <= existing.last_page and existing.first_page <= last_page:
                raise ServiceError(
                    f"Pages {_range(first_page, last_page)} overlap pages {_range(existing.first_page, existing.last_page)}"
                    " already excluded. Remove that exclusion first, or exclude only the pages not yet left out.",
                    field="first_page",
                )
        exclusion = PageExclusion(
            tenant=tenant,
            document=fresh,
            first_page=first_page,
            last_page=last_page,
            reason=reason,
            note=note,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            created_at=clock.now(),
        )
        history_stamp(exclusion, actor)
        exclusion.save()
        record_activity(current, actor, exclusion.created_at)
    return exclusion


def page_exclusion_remove(*, tenant: Tenant, actor: Any, exclusion: PageExclusion) -> None:
    """Put excluded pages back in the release. The row goes; its history (who excluded what, why, and who put it
    back) stays in the exclusion's history table."""
    with transaction.atomic():
        current, _ = _locked_document(tenant=tenant, document=exclusion.document)
        fresh = PageExclusion.objects.for_tenant(tenant).filter(pk=exclusion.pk).first()
        if fresh is None:
            raise ServiceError("That exclusion was already removed.")
        history_stamp(fresh, actor)
        fresh.delete()
        record_activity(current, actor, clock.now())


def pages_phrase(count: int) -> str:
    """'1 page', '3 pages'."""
    return f"{count} page{'s' if count != 1 else ''}"


def _range(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def range_label(first: int, last: int) -> str:
    """'page 4', 'pages 2-5'."""
    return f"page {first}" if first == last else f"pages {first}-{last}"


# --- Reading ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentPages:
    """What of a document goes into the release."""

    document: ReleaseDocument
    included: list[int]  # 1-based page numbers, in order

    @property
    def label(self) -> str:
        return pages_label(self.included, self.document.page_count)


def included_pages(document: ReleaseDocument) -> list[int]:
    """The pages of a document that go into the release (reads the prefetched exclusions)."""
    if document.excluded_reason:
        return []
    out: set[int] = set()
    for exclusion in document.exclusions.all():
        out.update(range(exclusion.first_page, exclusion.last_page + 1))
    return [page for page in range(1, document.page_count + 1) if page not in out]


def page_marks(document: ReleaseDocument) -> dict[int, PageMark]:
    """What the document viewer marks on each page a reviewer must notice (reads the prefetched exclusions): why it
    stays out of the release (the whole document's reason, or its page range's), and the sensitive categories tagged
    on it. Pages with nothing to mark are left out."""
    reasons: dict[int, str] = {}
    if document.excluded_reason:
        whole = str(dict(ExclusionReason.choices).get(document.excluded_reason, document.excluded_reason))
        reasons = dict.fromkeys(range(1, document.page_count + 1), whole)
    else:
        for exclusion in document.exclusions.all():
            label = str(dict(ExclusionReason.choices).get(exclusion.reason, exclusion.reason))
            for page in range(exclusion.first_page, min(exclusion.last_page, document.page_count) + 1):
                reasons.setdefault(page, label)
    categories: dict[int, list[str]] = {}
    for tag in document.page_categories or []:
        label = str(dict(SensitiveCategory.choices).get(str(tag["category"]), tag["category"]))
        for page in range(int(tag["first"]), min(int(tag["last"]), document.page_count) + 1):
            if label not in categories.setdefault(page, []):
                categories[page].append(label)
    return {
        page: PageMark(excluded=reasons.get(page, ""), categories=tuple(categories.get(page, ())))
        for page in sorted(set(reasons) | set(categories))
    }


def released_categories(document: ReleaseDocument, pages: Iterable[int] | None = None) -> list[str]:
    """The sensitive categories of what leaves of `document` when `pages` of it go (its included pages by default):
    the whole document's categories, and those of its tagged pages among them. No page leaves: none."""
    pages = set(included_pages(document) if pages is None else pages)
    if not pages:
        return []
    out = set(document.sensitive_categories)
    for tag in document.page_categories or []:
        if pages & set(range(int(tag["first"]), int(tag["last"]) + 1)):
            out.add(str(tag["category"]))
    return sorted(out)


def release_document_pages_tag(
    *, tenant: Tenant, actor: Any, document: ReleaseDocument, first_page: int, last_page: int | None, category: str
) -> ReleaseDocument:
    """Mark pages first..last of a document as carrying a sensitive category (an HIV result inside a discharge
    summary): the release gate then asks for that category's consent only while those pages go out."""
    if category not in SensitiveCategory.values:
        raise ServiceError("Choose the sensitive category from the list.", field="category")
    last_page = first_page if last_page is None else last_page
    with transaction.atomic():
        current, fresh = _locked_document(tenant=tenant, document=document)
        _check_page_range(fresh, first_page, last_page)
        if category in fresh.sensitive_categories:
            raise ServiceError(
                f"The whole document is already marked {SensitiveCategory(category).label.lower()}.", field="category"
            )
        tag = {"first": first_page, "last": last_page, "category": category}
        if tag in (fresh.page_categories or []):
            raise ServiceError("Those pages are already marked with that category.", field="first_page")
        fresh.page_categories = [*(fresh.page_categories or []), tag]
        history_stamp(fresh, actor)
        fresh.save(update_fields=["page_categories"])
        record_activity(current, actor, clock.now())
    return fresh


def release_document_pages_untag(
    *, tenant: Tenant, actor: Any, document: ReleaseDocument, first_page: int, last_page: int, category: str
) -> ReleaseDocument:
    """Remove a page category marked by mistake (the document's history keeps that it was there, and who removed
    it)."""
    with transaction.atomic():
        current, fresh = _locked_document(tenant=tenant, document=document)
        tag = {"first": first_page, "last": last_page, "category": category}
        if tag not in (fresh.page_categories or []):
            raise ServiceError("Those pages are not marked with that category (it may have been removed already).")
        fresh.page_categories = [t for t in fresh.page_categories if t != tag]
        history_stamp(fresh, actor)
        fresh.save(update_fields=["page_categories"])
        record_activity(current, actor, clock.now())
    return fresh


def pages_label(pages: list[int], total: int) -> str:
    """'all 4 pages', 'pages 1-2, 5 of 6', 'no pages'."""
    if not pages:
        return "no pages"
    if len(pages) == total:
        return f"all {pages_phrase(total)}" if total > 1 else "1 page"
    return f"{pages_runs(pages)} of {total}"


def pages_runs(pages: list[int]) -> str:
    """Sorted page numbers as runs: 'page 3', 'pages 1-2, 5'."""
    runs: list[str] = []
    start = prev = pages[0]
    for page in [*pages[1:], None]:
        if page is not None and page == prev + 1:
            prev = page
            continue
        runs.append(_range(start, prev))
        if page is not None:
            start = prev = page
    return f"page{'s' if len(pages) > 1 else ''} {', '.join(runs)}"


def documents_for(*, tenant: Tenant, record_request: RecordRequest) -> QuerySet[ReleaseDocument]:
    """A request's documents in packet order (as uploaded), with their exclusions and who did what."""
    return (
        ReleaseDocument.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk)
        .select_related("uploaded_by", "retrieval_task")
        .prefetch_related(
            Prefetch(
                "exclusions",
                queryset=PageExclusion.objects.for_tenant(tenant).select_related("created_by"),
            )
        )
        .order_by("uploaded_at", "id")
    )


def release_contents(documents: Iterable[ReleaseDocument]) -> list[DocumentPages]:
    """What a packet built now would hold: every document with at least one included page, in order."""
    out = []
    for document in documents:
        pages = included_pages(document)
        if pages:
            out.append(DocumentPages(document=document, included=pages))
    return out


def release_document_open(*, tenant: Tenant, document: ReleaseDocument) -> IO[bytes]:
    """The stored file, checked against its digest. The caller (the staff download view, a
    roi.downloads.PhiDownloadView) writes the access event: the file is the patient's record."""
    if document.tenant_id != tenant.pk:
        raise ServiceError("Document not found.")
    return stored_file_open(document, what="document", received="uploaded")
