"""Real-world and hostile files (tests/fulfillment/corpus.py, generated here at test time) through the upload check
and into a release packet: what is accepted leaves readable, upright, at its true size, stamped whole and with
nothing active in it; what cannot be read is refused at upload with a reason that names the file."""

from __future__ import annotations

import io

import pikepdf
import pypdfium2
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from fulfillment import packet_pdf, packets
from fulfillment.models import ReleasePacket
from intake.documents import inspect_upload
from roi.errors import ServiceError
from tests.fulfillment import corpus
from tests.fulfillment.factories import ReleaseDocumentFactory
from tests.fulfillment.helpers import add
from workflow.choices import RequestState

CASES = corpus.all_cases()
ACCEPTED = [case for case in CASES if case.expect == corpus.ACCEPT]
PDF_ACCEPTED = [case for case in ACCEPTED if case.data.startswith(b"%PDF")]
# What no released page may carry: scripts, actions, form fields, annotations (links, attachments) or files.
ACTIVE_KEYS = {"/JS", "/JavaScript", "/OpenAction", "/AA", "/Annots", "/AcroForm", "/EmbeddedFiles", "/EF"}
ACTIVE_NAMES = {"/Launch", "/URI", "/JavaScript", "/FileAttachment", "/Widget", "/Link", "/SubmitForm", "/ImportData"}


@pytest.fixture
def rr(media, request_in_state):
    return request_in_state(RequestState.IN_FULFILLMENT)


def packet_bytes(packet: ReleasePacket) -> bytes:
    with packet.file.open("rb") as handle:
        return handle.read()


def visible_text(page: pypdfium2.PdfPage) -> str:
    """The text inside the page's box: a stamp pushed past the edge would not be read here."""
    text = page.get_textpage()
    try:
        return " ".join(text.get_text_bounded().split())
    finally:
        text.close()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_the_upload_check_reads_every_page_or_says_why_in_the_files_name(case):
    upload = SimpleUploadedFile(case.filename, case.data)
    if case.expect == corpus.ACCEPT:
        assert inspect_upload(upload).page_count == case.pages
        return
    with pytest.raises(ServiceError) as refused:
        inspect_upload(upload)
    message = str(refused.value)
    assert message.startswith(f"'{case.filename}' ")
    if case.expect == corpus.PASSWORD:
        assert "password-protected" in message
        assert "Ask the sender for an unprotected copy" in message
    else:
        assert "damaged" in message or "no pages" in message
        assert "Scan or save it again" in message


def _content_box(case: corpus.Case, index: int, where: packet_pdf.Placement) -> tuple[float, float, float, float]:
    """Where the image sits on its packet page: fitted in the placement's rectangle, keeping its shape."""
    reference = case.reference[index]
    width, height = case.size_pt or reference.size
    x0, y0, x1, y1 = where.rect
    scale = min((x1 - x0) / width, (y1 - y0) / height)
    left, bottom = x0 + ((x1 - x0) - width * scale) / 2, y0 + ((y1 - y0) - height * scale) / 2
    return left, bottom, left + width * scale, bottom + height * scale


def _true_size(case: corpus.Case) -> bool:
    """A resolution that gives a sheet between 1 and 17 inches a side is kept; others are fitted on letter."""
    return case.size_pt is not None and all(72 <= side <= 17 * 72 for side in case.size_pt)


def _expected_placement(case: corpus.Case) -> packet_pdf.Placement:
    width, height = case.size_pt or case.reference[0].size
    return packet_pdf.placement(width, height, fit_on_letter=not _true_size(case))


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda case: case.name)
def test_every_accepted_file_leaves_whole_upright_at_its_size_and_stamped(case, rr, alice):
    document = add(rr, alice, case.data, name=case.filename)
    assert document.page_count == case.pages
    packet = packets.packet_build(tenant=rr.tenant, actor=alice, record_request=rr)
    assert packet.record_pages == case.pages
    pdf = pypdfium2.PdfDocument(packet_bytes(packet))
    cover = packet.page_count - packet.record_pages
    released = f"{packet.built_at:%b} {packet.built_at.day}, {packet.built_at.year}"
    for index in range(case.pages):
        page = pdf[cover + index]
        width, height = page.get_size()
        text = visible_text(page)
        # The stamp is whole on every page, whatever its size: tracking number, page n of N and the date.
        assert rr.tracking_number in text
        assert f"page {index + 1} of {case.pages}" in text
        assert released in text
        if not case.reference:
            continue
        where = _expected_placement(case)
        assert (round(width, 1), round(height, 1)) == (round(where.width, 1), round(where.height, 1))
        if _true_size(case):
            # At its true size: a page as big as its resolution says (shrunk only by the stamp band).
            assert width == pytest.approx(max(case.size_pt[0], packet_pdf.STAMP_MIN_WIDTH), abs=0.5)
        scale = 400 / max(width, height)
        image = page.render(scale=scale).to_pil()
        left, bottom, right, top = _content_box(case, index, where)
        crop = image.crop((left * scale, (height - top) * scale, right * scale, (height - bottom) * scale))
        corpus.assert_similar(crop, case.reference[index])


def test_a_standard_resolution_fax_is_a_letter_page_not_a_squashed_half_page(rr, alice):
    fax = next(case for case in CASES if case.name == "tiff-fax-standard")
    add(rr, alice, fax.data, name=fax.filename)
    packet = packets.packet_build(tenant=rr.tenant, actor=alice, record_request=rr)
    with pikepdf.open(io.BytesIO(packet_bytes(packet))) as pdf:
        box = pdf.pages[-1].mediabox
        width, height = float(box[2]), float(box[3])
    # 1728 x 1100 pixels at 204 x 98 dpi: 8.47 x 11.22 inches, portrait.
    assert (round(width / 72, 2), round(height / 72, 2)) == (8.47, 11.22)


@pytest.mark.parametrize("case", PDF_ACCEPTED, ids=lambda case: case.name)
def test_nothing_active_leaves_in_a_packet(case, rr, alice):
    add(rr, alice, case.data, name=case.filename)
    packet = packets.packet_build(tenant=rr.tenant, actor=alice, record_request=rr)
    with pikepdf.open(io.BytesIO(packet_bytes(packet))) as pdf:
        found: set[str] = set()
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary | pikepdf.Stream):
                found |= ACTIVE_KEYS & set(obj.keys())
                found |= {str(value) for value in obj.values() if isinstance(value, pikepdf.Name)} & ACTIVE_NAMES
        assert not found, f"{case.name}: {sorted(found)}"
        assert "/Names" not in pdf.Root


def test_a_form_field_is_flattened_to_what_it_showed(rr, alice):
    form = next(case for case in CASES if case.name == "pdf-form-fields")
    add(rr, alice, form.data, name=form.filename)
    packet = packets.packet_build(tenant=rr.tenant, actor=alice, record_request=rr)
    pdf = pypdfium2.PdfDocument(packet_bytes(packet))
    assert "FLATTEN-ME-42" in visible_text(pdf[len(pdf) - 1])


def test_a_document_that_no_longer_reads_is_named_and_nothing_is_kept(rr, alice):
    ReleaseDocumentFactory(request=rr, page_count=2, original_name="fine.pdf")
    ReleaseDocumentFactory(request=rr, page_count=2, original_name="broken.pdf", pdf=b"%PDF-1.7\n" + bytes(300))
    with pytest.raises(ServiceError) as failed:
        packets.packet_build(tenant=rr.tenant, actor=alice, record_request=rr)
    message = str(failed.value)
    assert "document 2, 'broken.pdf'" in message
    assert "Leave that page or document out, or upload a readable copy" in message
    assert not ReleasePacket.objects.filter(request=rr).exists()


def test_the_build_button_answers_a_broken_document_with_its_name_not_an_error_page(rr, alice, client_for):
    ReleaseDocumentFactory(request=rr, page_count=1, original_name="broken.pdf", pdf=b"%PDF-1.7\n" + bytes(300))
    client = client_for(alice)
    response = client.post(reverse("fulfillment:packet-build", args=[rr.tracking_number]))
    # The request's page again, with the message: the rest of the page keeps working.
    assert response.status_code == 400
    page = response.content.decode()
    assert "document 1, &#x27;broken.pdf&#x27;" in page
    assert "Build the packet" in page
    assert not ReleasePacket.objects.filter(request=rr).exists()
