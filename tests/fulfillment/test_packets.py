"""The release packet, read back with pypdf: cover sheet, then every included page in document order, each stamped
with its page number, the recipient and the tracking number; versions, QC, downloads and the panel."""

from __future__ import annotations

import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from fulfillment import documents as docs
from fulfillment import packets
from fulfillment.choices import ExclusionReason
from fulfillment.models import ReleasePacket
from roi.errors import ServiceError
from roi.models import AccessEvent
from tests.concurrency import run_at_once
from tests.fulfillment.factories import ReleaseDocumentFactory
from tests.fulfillment.pdfs import pdf_texts
from workflow.choices import DeliveryMethod, RequestState, SensitiveCategory
from workflow.models import RecordRequest


@pytest.fixture
def rr(media, request_in_state):
    rr = request_in_state(RequestState.IN_FULFILLMENT, delivery_method=DeliveryMethod.FAX)
    rr.requestor.organization = "Lakeside Law"
    rr.requestor.save()
    rr.delivery_destination = "(312) 555-0199"
    rr.save(update_fields=["delivery_destination"])
    return rr


def build(rr, actor) -> ReleasePacket:
    return packets.packet_build(tenant=rr.tenant, actor=actor, record_request=rr)


def texts(packet: ReleasePacket) -> list[str]:
    packet.file.open("rb")
    try:
        return pdf_texts(packet.file.read())
    finally:
        packet.file.close()


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_the_packet_is_the_cover_sheet_then_every_included_page_stamped_in_order(rr, alice):
    first = ReleaseDocumentFactory(request=rr, page_count=3, original_name="first.pdf")
    second = ReleaseDocumentFactory(request=rr, page_count=4, original_name="second.pdf")
    skipped = ReleaseDocumentFactory(request=rr, page_count=2, original_name="wrong.pdf")
    docs.page_exclusion_add(
        tenant=rr.tenant, actor=alice, document=second, first_page=2, last_page=3, reason=ExclusionReason.DUPLICATE
    )
    docs.release_document_exclude(tenant=rr.tenant, actor=alice, document=skipped, reason=ExclusionReason.OTHER_PATIENT)

    packet = build(rr, alice)

    pages = texts(packet)
    cover_pages = packet.page_count - packet.record_pages
    assert (packet.record_pages, packet.page_count, len(pages)) == (5, cover_pages + 5, cover_pages + 5)
    assert cover_pages >= 1
    record = [flat(t) for t in pages[cover_pages:]]
    expected = ["first.pdf page 1", "first.pdf page 2", "first.pdf page 3", "second.pdf page 1", "second.pdf page 4"]
    for n, (text, content) in enumerate(zip(record, expected, strict=True), start=1):
        assert content in text
        assert f"page {n} of 5" in text
        assert "Released to Lakeside Law, fax (312) 555-0199 on" in text
        assert rr.tracking_number in text
    assert not any("second.pdf page 2" in t or "second.pdf page 3" in t or "wrong.pdf" in t for t in pages)
    assert packet.contents == [{"document": first.pk, "pages": [1, 2, 3]}, {"document": second.pk, "pages": [1, 4]}]
    assert packet.recipient == "Lakeside Law, fax (312) 555-0199"
    assert packet.version == 1
    assert packet.superseded_at is None
    assert packet.built_by == alice


def test_the_cover_sheet_says_who_what_to_whom_and_on_which_basis(rr, alice):
    ReleaseDocumentFactory(request=rr, page_count=2)
    packet = build(rr, alice)
    cover = flat(" ".join(texts(packet)[: packet.page_count - packet.record_pages]))
    patient = rr.patient
    for expected in (
        rr.tenant.name,
        rr.tracking_number,
        patient.full_name,
        f"MRN {patient.mrn}",
        rr.requestor.name,
        "Lakeside Law",
        "Fax: (312) 555-0199",
        "The patient's written authorization (45 CFR 164.508)",
        "2 pages follow this cover sheet",
        "Discharge summaries",
    ):
        assert expected in cover, expected
    assert "42 CFR part 2" not in cover


def test_the_part_2_redisclosure_notice_is_there_only_when_a_part_2_record_is_included(rr, alice):
    part2 = ReleaseDocumentFactory(request=rr, page_count=1, sensitive_categories=[SensitiveCategory.SUD_PART2])
    ReleaseDocumentFactory(request=rr, page_count=1)
    with_notice = build(rr, alice)
    cover = flat(" ".join(texts(with_notice)[: with_notice.page_count - with_notice.record_pages]))
    assert with_notice.includes_part2
    assert "Notice to accompany disclosure (42 CFR 2.32)" in cover
    assert "This record which has been disclosed to you is protected by Federal confidentiality rules" in cover
    assert "NOT sufficient" in cover

    docs.release_document_exclude(
        tenant=rr.tenant, actor=alice, document=part2, reason=ExclusionReason.SENSITIVE_WITHOUT_CONSENT
    )
    without = build(rr, alice)
    assert not without.includes_part2
    assert "42 CFR 2.32" not in " ".join(texts(without))


def test_an_image_is_one_stamped_page(rr, alice):
    from tests.fulfillment.helpers import add, image_bytes

    add(rr, alice, image_bytes("PNG", (1700, 2200)), name="film.png")
    packet = build(rr, alice)
    assert packet.record_pages == 1
    last = PdfReader(io.BytesIO(packet.file.open("rb").read())).pages[-1]
    assert (float(last.mediabox.width), float(last.mediabox.height)) == (612.0, 792.0)
    assert "page 1 of 1" in flat(last.extract_text())


def test_a_rebuild_is_a_new_version_and_supersedes_the_last(rr, alice, sam):
    ReleaseDocumentFactory(request=rr, page_count=2)
    v1 = build(rr, alice)
    v2 = build(rr, sam)
    v1.refresh_from_db()
    assert (v1.version, v2.version) == (1, 2)
    assert v1.superseded_at == v2.built_at
    assert v2.superseded_at is None
    assert v1.sha256 != ""
    assert v1.file.name != v2.file.name
    assert packets.latest_packet(tenant=rr.tenant, record_request=rr) == v2


def test_building_a_new_version_clears_qc(rr, alice, sam):
    ReleaseDocumentFactory(request=rr, page_count=1)
    build(rr, alice)
    RecordRequest.objects.filter(pk=rr.pk).update(qc_passed_at=timezone.now(), qc_passed_by=sam)  # as QC records it
    rr.refresh_from_db()
    assert rr.qc_passed_at is not None
    build(rr, alice)
    rr.refresh_from_db()
    assert (rr.qc_passed_at, rr.qc_passed_by) == (None, None)


def test_a_packet_with_no_included_page_is_refused(rr, alice):
    with pytest.raises(ServiceError, match="Nothing to release"):
        build(rr, alice)
    document = ReleaseDocumentFactory(request=rr, page_count=2)
    docs.page_exclusion_add(
        tenant=rr.tenant, actor=alice, document=document, first_page=1, last_page=2, reason=ExclusionReason.DUPLICATE
    )
    with pytest.raises(ServiceError, match="Nothing to release"):
        build(rr, alice)
    assert not ReleasePacket.objects.exists()


def test_a_packet_is_built_only_while_the_request_is_in_fulfillment(media, request_in_state, alice):
    rr = request_in_state(RequestState.DELIVERED)
    ReleaseDocumentFactory(request=rr, page_count=1)
    with pytest.raises(ServiceError, match="is delivered"):
        build(rr, alice)


def test_the_build_button_builds_and_the_download_is_audited(rr, alice, client_for):
    ReleaseDocumentFactory(request=rr, page_count=2)
    client = client_for(alice)
    response = client.post(reverse("fulfillment:packet-build", args=[rr.tracking_number]))
    assert response.status_code == 302
    packet = ReleasePacket.objects.get()
    response = client.get(reverse("fulfillment:packet-download", args=[rr.tracking_number, packet.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    event = AccessEvent.objects.get(object_type="fulfillment.ReleasePacket")
    assert (event.actor, event.request_id, event.patient_id, event.object_id) == (
        alice,
        rr.pk,
        rr.patient_id,
        str(packet.pk),
    )


def test_building_with_nothing_to_release_says_so_on_the_page(rr, alice, client_for):
    response = client_for(alice).post(reverse("fulfillment:packet-build", args=[rr.tracking_number]))
    assert response.status_code == 400
    assert "Nothing to release" in response.content.decode()


def test_another_tenants_packet_answers_404(rr, alice, charlie, client_for):
    ReleaseDocumentFactory(request=rr, page_count=1)
    packet = build(rr, alice)
    client = client_for(charlie)
    assert client.get(reverse("fulfillment:packet-download", args=[rr.tracking_number, packet.pk])).status_code == 404
    assert client.post(reverse("fulfillment:packet-build", args=[rr.tracking_number])).status_code == 404
    assert ReleasePacket.objects.count() == 1
    assert not AccessEvent.objects.filter(object_type="fulfillment.ReleasePacket").exists()


def test_the_panel_shows_the_packet_and_asks_for_a_rebuild_after_a_change(rr, alice, client_for):
    document = ReleaseDocumentFactory(request=rr, page_count=3, sensitive_categories=[SensitiveCategory.HIV])
    build(rr, alice)
    client = client_for(alice)
    page = client.get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()
    assert "HIV/AIDS test results and status" in page
    assert "Version 1" in page
    assert "3 record pages" in page
    assert f"built by {alice}" in page
    assert "Documents changed since version 1 was built: rebuild." not in page

    docs.page_exclusion_add(
        tenant=rr.tenant, actor=alice, document=document, first_page=3, reason=ExclusionReason.OUT_OF_SCOPE
    )
    page = client.get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()
    assert "Documents changed since version 1 was built: rebuild." in page


def _panel_queries(rr) -> int:
    from fulfillment.panels.packets import panel_context

    tenant = rr.tenant
    with CaptureQueriesContext(connection) as captured:
        panel_context(tenant=tenant, record_request=rr, forms={})
    return len(captured)


def test_the_panel_takes_the_same_number_of_queries_for_one_document_or_many(rr, alice):
    first = ReleaseDocumentFactory(request=rr, page_count=2)
    docs.page_exclusion_add(
        tenant=rr.tenant, actor=alice, document=first, first_page=1, reason=ExclusionReason.DUPLICATE
    )
    build(rr, alice)
    one = _panel_queries(rr)
    for _ in range(4):
        document = ReleaseDocumentFactory(request=rr, page_count=2)
        docs.page_exclusion_add(
            tenant=rr.tenant, actor=alice, document=document, first_page=2, reason=ExclusionReason.DUPLICATE
        )
    build(rr, alice)
    assert (
        _panel_queries(rr) == one == 5
    )  # documents, their exclusions, packets, the last background build, retrieval tasks


def test_a_multi_page_tiff_gives_one_packet_page_per_frame(rr, alice):
    from PIL import Image

    from tests.fulfillment.helpers import add

    frames = [Image.new("L", (850, 1100), shade) for shade in (230, 200)]
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:])
    document = add(rr, alice, out.getvalue(), name="fax.tif")
    assert document.page_count == 2
    packet = build(rr, alice)
    record = texts(packet)[packet.page_count - packet.record_pages :]
    assert ["page 1 of 2" in flat(record[0]), "page 2 of 2" in flat(record[1])] == [True, True]


def test_a_rotated_page_keeps_its_orientation_and_its_stamp_reads_along_the_foot(rr, alice):
    from pypdf import PdfWriter

    from tests.fulfillment.pdfs import make_pdf

    writer = PdfWriter(clone_from=io.BytesIO(make_pdf(1, "Landscape chart")))
    writer.pages[0].rotate(90)
    out = io.BytesIO()
    writer.write(out)
    ReleaseDocumentFactory(request=rr, page_count=1, pdf=out.getvalue())
    packet = build(rr, alice)
    page = PdfReader(io.BytesIO(packet.file.open("rb").read())).pages[-1]
    assert page.rotation == 0
    assert float(page.mediabox.width) > float(page.mediabox.height)
    assert "page 1 of 1" in flat(page.extract_text())


@pytest.mark.django_db(transaction=True)
def test_two_builds_at_once_get_consecutive_versions(media, request_in_state, alice, sam):
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    ReleaseDocumentFactory(request=rr, page_count=1)

    assert run_at_once(lambda actor: build(rr, actor), args=[(alice,), (sam,)], timeout=60).errors == []
    built = list(ReleasePacket.objects.filter(request=rr).order_by("version"))
    assert [p.version for p in built] == [1, 2]
    assert built[0].superseded_at == built[1].built_at
    assert built[1].superseded_at is None


def test_before_validation_the_panel_says_records_come_later_and_reads_nothing(
    media, request_in_state, alice, client_for
):
    rr = request_in_state(RequestState.RECEIVED)
    assert _panel_queries(rr) == 0
    page = client_for(alice).get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()
    assert 'id="panel-release"' not in page  # records are added once the request is validated
    assert reverse("fulfillment:release-document-upload", args=[rr.tracking_number]) not in page


def test_a_validated_request_offers_the_upload_that_starts_fulfillment(media, request_in_state, alice, client_for):
    rr = request_in_state(RequestState.VALIDATED)
    page = client_for(alice).get(reverse("workflow:detail", args=[rr.tracking_number]) + "?panels=all").content.decode()
    assert reverse("fulfillment:release-document-upload", args=[rr.tracking_number]) in page
    assert "Uploading the first records moves this request to fulfillment." in page
    assert reverse("fulfillment:packet-build", args=[rr.tracking_number]) not in page
