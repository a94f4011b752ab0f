"""The document viewer on retrieved records, for QC (fulfillment/views/viewer.py): excluded pages and page
categories marked on the thumbnail and on the page, the viewer in the QC part of the request page, and another
tenant's record answering 404."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from fulfillment import qc
from fulfillment.models import PageExclusion, QcReview
from roi.choices import AccessAction
from roi.errors import ServiceError
from roi.models import AccessEvent
from tests.fulfillment.helpers import authorization_on_file, document, packet
from workflow.choices import RequestState

pytestmark = pytest.mark.usefixtures("media")


@pytest.fixture
def rr(request_in_state):
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    authorization_on_file(rr)
    return rr


@pytest.fixture
def record(rr):
    record = document(rr, page_count=5, page_categories=[{"first": 4, "last": 4, "category": "sud_part2"}])
    PageExclusion.objects.create(
        tenant=rr.tenant, document=record, first_page=2, last_page=3, reason="other_patient", created_at=timezone.now()
    )
    return record


def _viewer(client, record, **query):
    url = reverse("fulfillment:release-document-viewer", args=[record.request.tracking_number, record.pk])
    return client.get(url, query)


def _thumbs(html: str) -> dict[int, str]:
    return {
        int(m.group(2)): m.group(0)
        for m in re.finditer(r'<a class="viewer-thumb([^"]*)"[^>]*data-page="(\d+)"[^>]*>', html)
    }


def test_excluded_pages_and_page_categories_are_marked(client_for, alice, record):
    response = _viewer(client_for(alice), record)
    assert response.status_code == 200
    html = response.content.decode()
    thumbs = _thumbs(html)
    assert sorted(thumbs) == [1, 2, 3, 4, 5]
    assert [n for n, tag in thumbs.items() if "is-excluded" in tag] == [2, 3]
    assert 'data-excluded="Another patient&#x27;s page"' in thumbs[2]
    assert [n for n, tag in thumbs.items() if "has-categories" in tag] == [4]
    assert "Substance use disorder" in thumbs[4]
    # The large page shows its marks too: page 2 opened directly.
    page_two = _viewer(client_for(alice), record, page=2).content.decode()
    assert "Excluded from the release: Another patient&#x27;s page" in page_two
    assert "Page <span data-viewer-current>2</span> of 5" in page_two


def test_a_document_left_out_as_a_whole_marks_every_page(client_for, alice, rr):
    record = document(rr, page_count=2, excluded_reason="duplicate")
    thumbs = _thumbs(_viewer(client_for(alice), record).content.decode())
    assert all("is-excluded" in tag for tag in thumbs.values())


def test_opening_a_record_is_one_access_event(client_for, alice, record):
    client = client_for(alice)
    html = _viewer(client, record).content.decode()
    for url in re.findall(r' src="([^"]+/viewer/page/\?[^"]+)"', html):
        assert client.get(url.replace("&amp;", "&")).status_code == 200
    (event,) = AccessEvent.objects.filter(object_type="fulfillment.ReleaseDocument", object_id=str(record.pk))
    assert event.action == AccessAction.VIEW_DOCUMENT
    assert event.request_id == record.request_id


def test_the_qc_part_offers_the_viewer_beside_its_checklist(client_for, alice, sam, rr, record):
    packet(rr, builder=alice, documents=[record])
    page = reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all"  # every panel in place
    html = client_for(sam).get(page).content.decode()
    qc_part = html[html.index('id="qc"') :]
    viewer_url = reverse("fulfillment:release-document-viewer", args=[rr.tracking_number, record.pk])
    assert f'hx-get="{viewer_url}" hx-target="#qc-document-viewer"' in qc_part
    assert "2 excluded" in qc_part
    assert qc_part.index("qc-document-viewer") < qc_part.index("qc-form")
    # Showing the list opens nothing: no document was viewed.
    assert not AccessEvent.objects.filter(action=AccessAction.VIEW_DOCUMENT).exists()


def test_another_tenants_record_answers_404(client_for, charlie, record):
    client = client_for(charlie)
    assert _viewer(client, record).status_code == 404
    url = reverse("fulfillment:release-document-page", args=[record.request.tracking_number, record.pk])
    assert client.get(url, {"n": 1, "size": "thumb", "grant": "x"}).status_code == 404
    assert not AccessEvent.objects.filter(action=AccessAction.VIEW_DOCUMENT).exists()


def test_the_viewer_of_a_long_record_costs_the_same_queries(client_for, alice, rr, django_assert_max_num_queries):
    record = document(rr, page_count=40)
    PageExclusion.objects.create(
        tenant=rr.tenant, document=record, first_page=3, last_page=30, reason="out_of_scope", created_at=timezone.now()
    )
    client = client_for(alice)
    with django_assert_max_num_queries(13):
        assert _viewer(client, record).status_code == 200


def _reading_size_url(html: str) -> str:
    (url,) = [
        u.replace("&amp;", "&") for u in re.findall(r' src="([^"]+/viewer/page/\?[^"]+)"', html) if "size=page" in u
    ]
    return url


def test_qc_passes_only_once_the_reviewer_was_shown_every_released_page(client_for, alice, sam, rr):
    """QC's "I looked at every page" is checked against the pages the viewer drew at reading size for the reviewer:
    thumbnails do not count, pages left out of the release need not be looked at, another user's looking does not
    count, and until every released page was shown nothing is recorded."""
    record = document(rr, page_count=5)
    PageExclusion.objects.create(
        tenant=rr.tenant, document=record, first_page=2, last_page=3, reason="other_patient", created_at=timezone.now()
    )
    packet(rr, builder=alice, documents=[record], contents=[{"document": record.pk, "pages": [1, 4, 5]}])
    reviewer = client_for(sam)
    html = _viewer(reviewer, record).content.decode()
    for url in re.findall(r' src="([^"]+/viewer/page/\?[^"]+size=thumb[^"]*)"', html):
        assert reviewer.get(url.replace("&amp;", "&")).status_code == 200  # the whole strip, small
    someone_else = client_for(alice)
    for page in (1, 4, 5):
        assert (
            someone_else.get(_reading_size_url(_viewer(someone_else, record, page=page).content.decode())).status_code
            == 200
        )

    def review():
        return qc.qc_review_record(tenant=rr.tenant, actor=sam, record_request=rr, confirmed=qc.CHECK_ORDER)

    with pytest.raises(ServiceError, match=rf"{re.escape(record.original_name)}: pages 1, 4-5\."):
        review()
    for page in (1, 4):
        assert reviewer.get(_reading_size_url(_viewer(reviewer, record, page=page).content.decode())).status_code == 200
    with pytest.raises(ServiceError, match=rf"{re.escape(record.original_name)}: page 5\.") as refused:
        review()
    assert refused.value.field == "confirm_patient"
    assert not QcReview.objects.filter(request=rr).exists()
    # The panel says which pages are left.
    panel = reviewer.get(reverse("workflow:panel", args=[rr.tracking_number, "release"])).content.decode()
    assert "Pages not shown to you yet" in panel
    assert f"{record.original_name}: page 5" in panel

    assert reviewer.get(_reading_size_url(_viewer(reviewer, record, page=5).content.decode())).status_code == 200
    assert review().outcome == "passed"


def test_a_reviewer_may_fail_a_packet_without_paging_through_it(alice, sam, rr, record):
    packet(rr, builder=alice, documents=[record], contents=[{"document": record.pk, "pages": [1, 4, 5]}])
    unticked = [code for code in qc.CHECK_ORDER if code != qc.PATIENT]
    review = qc.qc_review_record(
        tenant=rr.tenant, actor=sam, record_request=rr, confirmed=unticked, note="Page 1 is another patient's."
    )
    assert review.outcome == "failed"
