"""Page images for the document viewer (roi/page_images.py over roi/pages.py): a real PDF's pages match what
pdftoppm draws, a fax TIFF's frames come out as pages, a page is drawn once and then read from the cache, and a
grant opens only its own user's, document's and session's images until it runs out."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import time

import pytest
from PIL import Image, ImageChops, ImageStat

from roi import page_images, pages
from tests.fulfillment.pdfs import make_pdf


def _document(data: bytes, *, is_pdf: bool, page_count: int) -> page_images.ViewerDocument:
    return page_images.ViewerDocument(
        key="intake:1", tenant_id=7, digest=hashlib.sha256(data).hexdigest(), is_pdf=is_pdf, page_count=page_count
    )


def _decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP"
    return image.convert("L")


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs poppler-utils' pdftoppm")
def test_a_pdf_page_is_drawn_like_pdftoppm_draws_it(media, tmp_path):
    data = make_pdf(3, "Progress note page")
    document = _document(data, is_pdf=True, page_count=3)
    drawn = _decoded(page_images.page_image(document=document, page=2, size="page", read=lambda: data).data)
    assert max(drawn.size) == page_images.PAGE_SIZES["page"]

    source = tmp_path / "in.pdf"
    source.write_bytes(data)
    subprocess.run(
        [
            "pdftoppm",
            "-f",
            "2",
            "-l",
            "2",
            "-gray",
            "-png",
            "-scale-to",
            str(max(drawn.size)),
            source,
            tmp_path / "ref",
        ],
        check=True,
    )
    reference = Image.open(next(tmp_path.glob("ref*.png"))).convert("L").resize(drawn.size)
    difference = ImageStat.Stat(ImageChops.difference(drawn, reference)).mean[0]
    ink = ImageStat.Stat(ImageChops.invert(drawn)).mean[0]
    assert ink > 0.05, "the page has its line of text"
    assert difference < 3, f"mean difference {difference:.2f} of 255 from pdftoppm's drawing"
    # Another page is another picture ("... page 3" instead of "... page 2").
    other = _decoded(page_images.page_image(document=document, page=3, size="page", read=lambda: data).data)
    assert ImageChops.difference(drawn, other).point(lambda v: 255 if v > 96 else 0).getbbox() is not None


def test_a_fax_tiff_gives_one_page_per_frame_at_its_shape(media):
    # A standard-resolution fax: 204 x 98 dpi, so its pixels are twice as tall as wide: a letter page, not a squat one.
    frames = [Image.new("L", (1728, 1078), 255), Image.new("L", (1728, 1078), 255)]
    frames[1].paste(0, (200, 200, 1500, 400))
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:], dpi=(204, 98))
    data = out.getvalue()
    assert pages.page_total(data, is_pdf=False) == 2
    document = _document(data, is_pdf=False, page_count=2)
    blank = _decoded(page_images.page_image(document=document, page=1, size="page", read=lambda: data).data)
    marked = _decoded(page_images.page_image(document=document, page=2, size="page", read=lambda: data).data)
    width, height = marked.size
    assert height == page_images.PAGE_SIZES["page"]
    assert 1.2 < height / width < 1.4, "upright letter shape"
    assert ImageStat.Stat(blank).extrema[0][0] > 240, "page 1 is blank paper"
    assert ImageStat.Stat(marked).extrema[0][0] < 30, "page 2 carries the black bar"


def test_a_page_is_drawn_once_then_read_from_the_cache(media):
    data = make_pdf(2)
    document = _document(data, is_pdf=True, page_count=2)
    reads = []

    def read() -> bytes:
        reads.append(1)
        return data

    first = page_images.page_image(document=document, page=1, size="page", read=read)
    again = page_images.page_image(document=document, page=1, size="page", read=read)
    assert (first.cached, again.cached) == (False, True)
    assert again.data == first.data
    assert len(reads) == 1
    name = page_images.cache_name(tenant_id=7, digest=document.digest, page=1, size="page")
    assert (media / name).read_bytes() == first.data


def test_a_missing_thumbnail_draws_its_neighbours_with_one_read(media):
    data = make_pdf(5)
    document = _document(data, is_pdf=True, page_count=5)
    reads = []
    page_images.page_image(document=document, page=1, size="thumb", read=lambda: reads.append(1) or data)
    for number in range(1, 6):
        image = page_images.page_image(
            document=document, page=number, size="thumb", read=lambda: reads.append(1) or data
        )
        assert image.cached
        assert max(_decoded(image.data).size) == page_images.PAGE_SIZES["thumb"]
    assert len(reads) == 1


def test_a_page_past_the_end_is_refused(media):
    data = make_pdf(2)
    with pytest.raises(pages.PagesUnreadable):
        page_images.page_image(
            document=_document(data, is_pdf=True, page_count=2), page=3, size="page", read=lambda: data
        )
    with pytest.raises(pages.PagesUnreadable):
        page_images.page_image(
            document=_document(data, is_pdf=True, page_count=2), page=0, size="page", read=lambda: data
        )


GRANT = {"user_id": 5, "tenant_id": 7, "document_key": "intake:12", "session_key": "abc"}


def test_a_grant_opens_its_own_document_until_it_runs_out():
    token = page_images.grant_issue(**GRANT)
    assert 0 < page_images.grant_check(token, **GRANT) <= page_images.GRANT_SECONDS
    assert "abc" not in token, "the session key never goes into a URL"


@pytest.mark.parametrize(
    "change",
    [
        {"user_id": 6},
        {"tenant_id": 8},
        {"document_key": "intake:13"},
        {"document_key": "release:12"},
        {"session_key": "x"},
    ],
)
def test_a_grant_for_another_user_document_or_session_is_refused(change):
    token = page_images.grant_issue(**GRANT)
    with pytest.raises(page_images.GrantRefused):
        page_images.grant_check(token, **{**GRANT, **change})


def test_an_expired_or_forged_grant_is_refused():
    old = page_images.grant_issue(**GRANT, now=time.time() - page_images.GRANT_SECONDS - 1)
    with pytest.raises(page_images.GrantRefused, match="expired"):
        page_images.grant_check(old, **GRANT)
    token = page_images.grant_issue(**GRANT)
    with pytest.raises(page_images.GrantRefused):
        page_images.grant_check(token[:-2] + ("AA" if not token.endswith("AA") else "BB"), **GRANT)
    with pytest.raises(page_images.GrantRefused):
        page_images.grant_check("", **GRANT)
