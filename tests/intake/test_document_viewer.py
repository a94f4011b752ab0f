"""The document viewer on a request's received documents (intake/views/viewer.py over workflow/views/viewer.py):
opening it writes one access event and hands out page images under a grant; the images write none, answer only
with that grant, and another tenant's document answers 404 like a missing one."""

from __future__ import annotations

import hashlib
import io
import re
import time

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from PIL import Image

from intake.models import IntakeDocument
from roi import page_images
from roi.choices import AccessAction
from roi.models import AccessEvent
from tests import factories
from tests.fulfillment.pdfs import make_pdf


@pytest.fixture
def document(tenant_a, media):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    return factories.IntakeDocumentFactory(
        request=rr, tenant=tenant_a, pdf=make_pdf(4, "Authorization page"), page_count=4
    )


def _viewer_url(document) -> str:
    return reverse("intake:document-viewer", args=[document.request.tracking_number, document.pk])


def _image_urls(html: str) -> list[str]:
    return [url.replace("&amp;", "&") for url in re.findall(r' src="([^"]+/viewer/page/\?[^"]+)"', html)]


def _events(document) -> list[AccessEvent]:
    return list(AccessEvent.objects.filter(object_type="intake.IntakeDocument", object_id=str(document.pk)))


def test_opening_the_viewer_writes_one_event_and_paging_writes_none(client_for, alice, document):
    client = client_for(alice)
    response = client.get(_viewer_url(document))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Page <span data-viewer-current>1</span> of 4" in html
    urls = _image_urls(html)
    assert len(urls) == 5, "four thumbnails and the large first page"
    for url in urls:
        image = client.get(url)
        assert image.status_code == 200, url
        assert image["Content-Type"] == "image/webp"
        assert image["Cache-Control"].startswith("private, max-age=")
        assert Image.open(io.BytesIO(image.content)).format == "WEBP"
    (event,) = _events(document)
    assert event.action == AccessAction.VIEW_DOCUMENT
    assert event.actor == alice
    assert event.request_id == document.request_id
    assert event.patient_id == document.request.patient_id
    assert document.original_name in event.detail
    assert "4 pages" in event.detail


def test_the_htmx_pane_gets_the_viewer_alone(client_for, alice, document):
    response = client_for(alice).get(_viewer_url(document), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "data-viewer" in html
    assert "<html" not in html


def test_an_image_without_the_viewers_grant_is_refused(client_for, alice, sam, document):
    alice_client = client_for(alice)
    (url, *_) = _image_urls(alice_client.get(_viewer_url(document)).content.decode())
    # Sam, same tenant, never opened the viewer: Alice's grant is not his.
    assert client_for(sam).get(url).status_code == 403
    # Alice in another session (another browser) with the same URL.
    assert client_for(alice).get(url).status_code == 403
    # No grant at all, and a grant for another of the request's documents.
    bare = url.split("&grant=")[0]
    assert alice_client.get(bare).status_code == 403
    other = factories.IntakeDocumentFactory(request=document.request, tenant=document.tenant)
    other_url = reverse("intake:document-page", args=[document.request.tracking_number, other.pk])
    assert alice_client.get(other_url + "?" + url.split("?")[1]).status_code == 403
    assert len(_events(document)) == 1


def test_an_expired_grant_is_refused(client_for, alice, document):
    client = client_for(alice)
    client.get(_viewer_url(document))
    old = page_images.grant_issue(
        user_id=alice.pk,
        tenant_id=document.tenant_id,
        document_key=f"intake:{document.pk}",
        session_key=client.session.session_key,
        now=time.time() - page_images.GRANT_SECONDS - 5,
    )
    url = reverse("intake:document-page", args=[document.request.tracking_number, document.pk])
    assert client.get(url, {"n": 1, "size": "page", "grant": old}).status_code == 403
    fresh = page_images.grant_issue(
        user_id=alice.pk, tenant_id=document.tenant_id, document_key=f"intake:{document.pk}",
        session_key=client.session.session_key,
    )  # fmt: skip
    assert client.get(url, {"n": 1, "size": "page", "grant": fresh}).status_code == 200


def test_another_tenants_document_answers_404_and_records_nothing(client_for, charlie, alice, document):
    before = AccessEvent.objects.count()
    client = client_for(charlie)
    assert client.get(_viewer_url(document)).status_code == 404
    url = reverse("intake:document-page", args=[document.request.tracking_number, document.pk])
    assert client.get(url, {"n": 1, "size": "page", "grant": "x"}).status_code == 404
    # Alice's own request with a document of another request of hers: not found either.
    other_request = factories.RecordRequestFactory(tenant=document.tenant)
    wrong = reverse("intake:document-viewer", args=[other_request.tracking_number, document.pk])
    assert client_for(alice).get(wrong).status_code == 404
    assert AccessEvent.objects.count() == before


def test_a_page_that_does_not_exist_or_a_size_not_offered_is_not_found(client_for, alice, document):
    client = client_for(alice)
    (url, *_) = _image_urls(client.get(_viewer_url(document)).content.decode())
    assert client.get(re.sub(r"n=\d+", "n=9", url)).status_code == 404
    assert client.get(re.sub(r"size=\w+", "size=poster", url)).status_code == 404
    assert client.get(re.sub(r"n=\d+", "n=two", url)).status_code == 404


def test_a_scanned_image_is_shown_page_by_page(client_for, alice, tenant_a, media):
    frames = [Image.new("L", (850, 1100), 255), Image.new("L", (850, 1100), 90)]
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:], dpi=(100, 100))
    data = out.getvalue()
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    scan = IntakeDocument(
        tenant=tenant_a, request=rr, kind="id", source="staff_upload", original_name="id.tif", content_type="image/tiff",
        size_bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), page_count=None, uploaded_at=rr.received_at,
    )  # fmt: skip
    scan.file.save("id.tif", ContentFile(data), save=True)
    client = client_for(alice)
    html = client.get(_viewer_url(scan)).content.decode()
    assert "of 2" in html, "the count comes from the file when it was not recorded"
    urls = [u for u in _image_urls(html) if "size=page" in u]
    second = re.sub(r"n=\d+", "n=2", urls[0])
    image = Image.open(io.BytesIO(client.get(second).content)).convert("L")
    assert max(image.size) == page_images.PAGE_SIZES["page"]
    assert 80 < image.getpixel((image.width // 2, image.height // 2)) < 100


def test_a_file_changed_on_disk_is_not_drawn(client_for, alice, document):
    client = client_for(alice)
    (url, *_) = _image_urls(client.get(_viewer_url(document)).content.decode())
    with open(document.file.path, "wb") as handle:
        handle.write(make_pdf(4, "Someone else's page"))
    response = client.get(url)
    assert response.status_code == 409
    assert "does not match" in response.content.decode()


def test_the_viewer_and_a_cached_page_cost_a_fixed_number_of_queries(
    client_for, alice, document, django_assert_max_num_queries
):
    client = client_for(alice)
    with django_assert_max_num_queries(12):
        html = client.get(_viewer_url(document)).content.decode()
    url = _image_urls(html)[-1]
    client.get(url)
    with django_assert_max_num_queries(6):
        assert client.get(url).status_code == 200


def test_the_checklist_shows_the_viewer_pane_with_the_first_document(client_for, alice, document):
    html = client_for(alice).get(reverse("intake:checklist", args=[document.request.tracking_number])).content.decode()
    assert 'class="workbench-viewer card"' in html
    assert f'hx-get="{_viewer_url(document)}" hx-trigger="load"' in html
    assert "js/viewer." in html
