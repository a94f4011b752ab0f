"""Retrieved documents and page exclusions: uploads checked by content, the states that allow them, exclusions of
pages and of whole documents, and the audited view of a document."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from fulfillment import documents as docs
from fulfillment.choices import ExclusionReason, RetrievalSource
from fulfillment.models import PageExclusion, ReleaseDocument
from roi.choices import AccessAction
from roi.errors import ServiceError
from roi.models import AccessEvent
from tests import factories
from tests.fulfillment.factories import ReleaseDocumentFactory, RetrievalTaskFactory
from tests.fulfillment.helpers import add, image_bytes, upload
from tests.fulfillment.pdfs import make_pdf
from workflow.choices import RecordType, RequestState, SensitiveCategory
from workflow.models import RequestTransition


@pytest.fixture
def rr(media, request_in_state):
    return request_in_state(RequestState.IN_FULFILLMENT)


# --- Uploads ----------------------------------------------------------------------------------------------------


def test_it_keeps_an_uploaded_pdf_with_its_page_count_and_details(rr, alice):
    task = RetrievalTaskFactory(request=rr)
    document = add(
        rr,
        alice,
        make_pdf(4),
        retrieval_task=task,
        service_date_from=date(2025, 1, 2),
        service_date_to=date(2025, 1, 9),
        sensitive_categories=[SensitiveCategory.HIV],
        patient_confirmed=True,
    )
    document.refresh_from_db()
    assert (document.page_count, document.content_type, document.original_name) == (
        4,
        "application/pdf",
        "discharge.pdf",
    )
    assert document.retrieval_task == task
    assert document.patient_confirmed
    assert document.sensitive_categories == ["hiv"]
    assert document.file.name.startswith(f"tenant-{rr.tenant_id}/release-documents/")
    assert "discharge" not in document.file.name  # the stored name is the server's
    assert document.history.first().history_user == alice


@pytest.mark.parametrize(("fmt", "content_type"), [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_an_image_is_one_page(rr, alice, fmt, content_type):
    document = add(rr, alice, image_bytes(fmt), name=f"scan.{fmt.lower()}")
    assert (document.page_count, document.content_type) == (1, content_type)


def test_it_refuses_a_renamed_file_that_is_not_a_pdf(rr, alice):
    with pytest.raises(
        ServiceError, match=r"'notes\.pdf' is not a PDF, TIFF, PNG or JPEG file \(its content looks like"
    ):
        add(rr, alice, b"Patient notes typed in a text editor\n", name="notes.pdf")
    assert not ReleaseDocument.objects.exists()


def test_it_refuses_an_empty_file(rr, alice):
    with pytest.raises(ServiceError, match=r"is empty \(0 bytes\)"):
        add(rr, alice, b"")


def test_it_refuses_a_file_over_the_size_limit(rr, alice, settings):
    settings.INTAKE_MAX_UPLOAD_BYTES = 1024
    with pytest.raises(ServiceError, match="the limit is 1 KB"):
        add(rr, alice, make_pdf(2))
    assert not ReleaseDocument.objects.exists()


def test_service_dates_must_be_in_order(rr, alice):
    with pytest.raises(ServiceError, match="on or before the last") as caught:
        add(rr, alice, service_date_from=date(2025, 2, 1), service_date_to=date(2025, 1, 1))
    assert caught.value.field == "service_date_to"


def test_the_retrieval_task_must_be_of_the_same_request(rr, alice):
    other = RetrievalTaskFactory(request=factories.RecordRequestFactory(tenant=rr.tenant))
    with pytest.raises(ServiceError, match="retrieval task of this request"):
        add(rr, alice, retrieval_task=other)


def test_uploading_to_a_validated_request_starts_fulfillment(media, request_in_state, alice):
    rr = request_in_state(RequestState.VALIDATED)
    add(rr, alice)
    rr.refresh_from_db()
    assert rr.state == RequestState.IN_FULFILLMENT
    step = RequestTransition.objects.filter(request=rr).order_by("-at", "-id").first()
    assert (step.transition, step.actor) == ("start_fulfillment", alice)


def test_records_may_arrive_while_the_request_is_in_an_exception_raised_in_fulfillment(rr, alice):
    from workflow.transitions import request_raise_exception

    request_raise_exception(tenant=rr.tenant, actor=alice, record_request=rr, reason="waiting on imaging")
    rr.refresh_from_db()
    assert add(rr, alice).pk


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (RequestState.RECEIVED, "work the intake checklist first"),
        (RequestState.DELIVERED, "is delivered: its records and release packet can no longer change"),
    ],
)
def test_uploading_outside_fulfillment_is_refused(media, request_in_state, alice, state, message):
    rr = request_in_state(state)
    with pytest.raises(ServiceError, match=message):
        add(rr, alice)
    assert not ReleaseDocument.objects.exists()


# --- Exclusions -------------------------------------------------------------------------------------------------


def exclude(document, actor, first, last=None, reason=ExclusionReason.OUT_OF_SCOPE, note=""):
    return docs.page_exclusion_add(
        tenant=document.tenant,
        actor=actor,
        document=document,
        first_page=first,
        last_page=last,
        reason=reason,
        note=note,
    )


def included(document) -> list[int]:
    fresh = docs.documents_for(tenant=document.tenant, record_request=document.request).get(pk=document.pk)
    return docs.included_pages(fresh)


def test_page_ranges_are_left_out_inclusive(rr, alice):
    document = ReleaseDocumentFactory(request=rr, page_count=6)
    exclude(document, alice, 2, 3)
    exclude(document, alice, 6)
    assert included(document) == [1, 4, 5]
    assert docs.pages_label([1, 4, 5], 6) == "pages 1, 4-5 of 6"


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        (0, 1, "Page 0 is not in this document: it has 4 pages"),
        (5, 5, "Page 5 is not in this document: it has 4 pages"),
        (2, 7, "the last page can be 4 at most"),
        (3, 2, "The last page must be the first page or after it"),
    ],
)
def test_a_range_outside_the_document_is_refused(rr, alice, first, last, message):
    document = ReleaseDocumentFactory(request=rr, page_count=4)
    with pytest.raises(ServiceError, match=message):
        exclude(document, alice, first, last)
    assert not PageExclusion.objects.exists()


def test_a_range_overlapping_another_exclusion_is_refused(rr, alice):
    document = ReleaseDocumentFactory(request=rr, page_count=8)
    exclude(document, alice, 3, 5)
    with pytest.raises(ServiceError, match="Pages 5-6 overlap pages 3-5 already excluded"):
        exclude(document, alice, 5, 6)
    exclude(document, alice, 6, 6)  # next to it is fine
    assert PageExclusion.objects.count() == 2


def test_other_needs_a_note(rr, alice):
    document = ReleaseDocumentFactory(request=rr)
    with pytest.raises(ServiceError, match="Say why in the note"):
        exclude(document, alice, 1, reason=ExclusionReason.OTHER)
    assert exclude(document, alice, 1, reason=ExclusionReason.OTHER, note="Illegible copy").note == "Illegible copy"


def test_removing_an_exclusion_puts_the_pages_back_and_history_keeps_it(rr, alice, sam):
    document = ReleaseDocumentFactory(request=rr, page_count=3)
    exclusion = exclude(document, alice, 2)
    docs.page_exclusion_remove(tenant=rr.tenant, actor=sam, exclusion=exclusion)
    assert included(document) == [1, 2, 3]
    rows = list(PageExclusion.history.filter(id=exclusion.pk).order_by("history_date"))
    assert [(r.history_type, r.history_user) for r in rows] == [("+", alice), ("-", sam)]


def test_a_wrong_upload_is_excluded_as_a_whole_and_can_be_put_back(rr, alice):
    document = ReleaseDocumentFactory(request=rr, page_count=3)
    exclude(document, alice, 1)
    docs.release_document_exclude(
        tenant=rr.tenant, actor=alice, document=document, reason=ExclusionReason.OTHER_PATIENT
    )
    assert included(document) == []
    docs.release_document_include(tenant=rr.tenant, actor=alice, document=document)
    assert included(document) == [2, 3]  # its page exclusions still apply
    assert ReleaseDocument.objects.filter(pk=document.pk).exists()


# --- Pages --------------------------------------------------------------------------------------------------------


def test_the_upload_page_stores_the_document_and_comes_back_to_the_request(rr, alice, client_for):
    response = client_for(alice).post(
        reverse("fulfillment:release-document-upload", args=[rr.tracking_number]),
        {
            "file": upload("labs.pdf", make_pdf(2)),
            "source": RetrievalSource.LABORATORY,
            "record_type": RecordType.LAB,
            "sensitive_categories": [SensitiveCategory.SUD_PART2],
            "patient_confirmed": "on",
        },
    )
    assert response.status_code == 302
    assert response["Location"].endswith("#release-documents")
    document = ReleaseDocument.objects.get()
    assert (document.record_type, document.sensitive_categories, document.patient_confirmed) == (
        "lab",
        ["sud_part2"],
        True,
    )


def test_a_refused_upload_keeps_what_was_entered_and_says_what_to_fix(rr, alice, client_for):
    response = client_for(alice).post(
        reverse("fulfillment:release-document-upload", args=[rr.tracking_number]),
        {
            "file": upload("notes.pdf", b"<html><body>not a scan</body></html>"),
            "source": RetrievalSource.IMAGING,
            "record_type": RecordType.IMAGING_REPORTS,
            "service_date_from": "2025-03-04",
        },
    )
    page = response.content.decode()
    assert response.status_code == 400
    # The reason heads the page, in the message after the reload, as well as beside the file field.
    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith("Document not uploaded. 'notes.pdf' is not a PDF")
    assert "its content looks like a web page (HTML)" in page
    assert 'value="imaging" selected' in page
    assert 'value="imaging_reports" selected' in page
    assert 'value="2025-03-04"' in page
    assert not ReleaseDocument.objects.exists()


def test_an_exclusion_form_error_is_shown_on_that_document(rr, alice, client_for):
    document = ReleaseDocumentFactory(request=rr, page_count=2)
    response = client_for(alice).post(
        reverse("fulfillment:page-exclusion-add", args=[rr.tracking_number, document.pk]),
        {"first_page": "1", "last_page": "3", "reason": ExclusionReason.DUPLICATE},
    )
    assert response.status_code == 400
    assert "This document has 2 pages: the last page can be 2 at most." in response.content.decode()


def test_viewing_a_document_is_an_access_event(rr, alice, client_for):
    document = ReleaseDocumentFactory(request=rr, page_count=2)
    response = client_for(alice).get(
        reverse("fulfillment:release-document-download", args=[rr.tracking_number, document.pk])
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert response["Cache-Control"] == "no-store"
    event = AccessEvent.objects.get(object_type="fulfillment.ReleaseDocument")
    assert (event.action, event.actor, event.request_id, event.patient_id) == (
        AccessAction.DOWNLOAD_DOCUMENT,
        alice,
        rr.pk,
        rr.patient_id,
    )


def test_another_tenants_document_answers_404(rr, charlie, client_for):
    document = ReleaseDocumentFactory(request=rr)
    client = client_for(charlie)
    assert (
        client.get(reverse("fulfillment:release-document-download", args=[rr.tracking_number, document.pk])).status_code
        == 404
    )
    response = client.post(
        reverse("fulfillment:release-document-exclude", args=[rr.tracking_number, document.pk]),
        {"reason": ExclusionReason.DUPLICATE},
    )
    assert response.status_code == 404
    document.refresh_from_db()
    assert document.excluded_reason == ""
    assert not AccessEvent.objects.filter(object_type="fulfillment.ReleaseDocument").exists()


def test_a_document_of_another_request_is_not_found_under_this_one(rr, alice, client_for, request_in_state):
    other = request_in_state(RequestState.IN_FULFILLMENT)
    document = ReleaseDocumentFactory(request=other)
    url = reverse("fulfillment:release-document-download", args=[rr.tracking_number, document.pk])
    assert client_for(alice).get(url).status_code == 404
