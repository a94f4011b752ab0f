"""A document's pages as a reader sees them: the one decoder behind the upload check (intake.documents.inspect_upload)
and the release packet (fulfillment.packets), so that what an upload accepted is exactly what a packet can build.

- **PDF**: opened by qpdf (pikepdf). A file protected only by an owner password (an empty user password) opens; one
  that needs a password to open is told apart from a damaged one. Form fields and annotations are flattened into the
  page (what the sender saw stays, nothing stays active) before the page is placed in a packet.
- **Images** (scans, faxes, phone photos): one page per frame (a fax TIFF keeps every page), upright (EXIF orientation
  applied), at the size the file's resolution says: a standard-resolution fax at 204 x 98 dpi has pixels twice as
  tall as wide and becomes a letter page, not a squashed half page. A photo whose resolution gives no plausible sheet
  (a phone's "72 dpi" on 4,000 pixels is 56 inches) keeps its shape and is fitted on a letter page. Every pixel mode
  is drawn as a viewer would: 16-bit grey scaled (not clipped to white), transparency over white paper, palettes
  expanded, CMYK converted.
- **Every page is rendered once by PDFium** (pypdfium2, the engine Chromium uses) at upload: a page that cannot be
  drawn is refused then, naming the page, instead of being found when the records are about to leave.
"""

from __future__ import annotations

import io
import logging
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, cast

import pikepdf
import pypdfium2
from PIL import Image, ImageFile, ImageOps, ImageSequence, UnidentifiedImageError

# An image page keeps the size its resolution gives when that size is a plausible sheet (1 to 17 inches a side:
# a business card to a ledger); otherwise it is fitted on a letter page.
MIN_SHEET_PT = 72.0
MAX_SHEET_PT = 17 * 72.0
# TIFF compressions Pillow's libtiff reads here, by tag value, for the message when a frame cannot be decoded.
TIFF_COMPRESSIONS = {34712: "JPEG 2000", 34887: "JPEG 2000", 50000: "Zstandard", 50001: "WebP", 34925: "LZMA"}
logger = logging.getLogger(__name__)
RENDER_LONG_SIDE_PX = 160  # the upload check draws every page this big: enough to decode everything on it


class PagesUnreadable(Exception):
    """A document (or one page of it) no reader can show. `reason` says what is wrong and what to do, without the
    file's name (the caller adds it); `page` is the 1-based page when one page is at fault."""

    def __init__(self, reason: str, *, page: int | None = None, password: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.page = page
        self.password = password


@dataclass
class Pages:
    """A document as PDF pages ready to be placed: `pdf` is open (close it, or use `with`), one page per page of the
    document; `fit_on_letter[i]` is True for an image page without a trustworthy physical size."""

    pdf: pikepdf.Pdf
    fit_on_letter: list[bool]

    def __len__(self) -> int:
        return len(self.pdf.pages)

    def __enter__(self) -> Pages:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pdf.close()


# --- PDF ----------------------------------------------------------------------------------------------------------

AGAIN = "Scan or save it again and attach the new file."
DAMAGED_PDF = f"looks like a PDF but cannot be opened: it is damaged or incomplete. {AGAIN}"
LOCKED_PDF = (
    "is a password-protected (encrypted) PDF. Ask the sender for an unprotected copy, or open it and print it to a "
    "new PDF, and attach that."
)
TOO_MANY_PIXELS = "is an image too large in pixels to open safely. Scan it at 300 dpi or less and attach it again."


def _open_pdf(source: str | IO[bytes]) -> pikepdf.Pdf:
    try:
        pdf = pikepdf.open(source, password="")  # type: ignore[arg-type]  # any readable binary stream does
    except pikepdf.PasswordError:
        raise PagesUnreadable(LOCKED_PDF, password=True) from None
    # qpdf raises PdfError for what it cannot repair; a broken file can raise other things from deep inside.
    except Exception:  # noqa: BLE001
        raise PagesUnreadable(DAMAGED_PDF) from None
    try:
        count = len(pdf.pages)
    except Exception:  # noqa: BLE001
        pdf.close()
        raise PagesUnreadable(DAMAGED_PDF) from None
    if count < 1:
        pdf.close()
        raise PagesUnreadable(f"is a PDF with no pages. {AGAIN}")
    return pdf


def _flatten(pdf: pikepdf.Pdf) -> None:
    """Draw form fields and annotations into their pages as they appear, then drop every annotation: a released page
    carries no field, link, launch action, attachment or script. The catalog (document JavaScript, open actions,
    embedded files) never reaches a packet: packets place page content only."""
    if "/AcroForm" in pdf.Root:
        try:
            pdf.generate_appearance_streams()
        except Exception:
            logger.info("form field appearances not regenerated", exc_info=True)
    pdf.flatten_annotations(mode="all")
    for page in pdf.pages:
        for key in ("/Annots", "/AA"):
            if key in page.obj:
                del page.obj[key]


# --- Images -------------------------------------------------------------------------------------------------------


def _dpi(frame: Image.Image) -> tuple[float, float] | None:
    dpi = frame.info.get("dpi")
    try:
        x, y = float(dpi[0]), float(dpi[1])  # type: ignore[index]  # Pillow types dpi loosely; a pair here
    except (TypeError, ValueError, IndexError):
        return None
    # Writers that leave the resolution out often store 1 or 72 "dpi"; under 20 dpi no scanner or fax produced it.
    return (x, y) if x >= 20 and y >= 20 else None


def _paper(frame: Image.Image) -> Image.Image:
    """The frame in a mode a PDF page shows as a viewer would: 1-bit, grey or RGB."""
    mode = frame.mode
    if mode in ("1", "L", "RGB"):
        return frame
    if mode.startswith("I;16") or mode == "I":
        wide = frame if mode == "I" else frame.convert("I")
        high = wide.getextrema()[1]
        if mode == "I" and isinstance(high, int) and high <= 255:
            return wide.convert("L")
        # 16-bit grey: 65535 is white. convert("L") would clip everything above 255 to white (a blank page).
        return wide.point(lambda value: value * (1 / 257)).convert("L")
    if mode == "F":
        low, high = cast(tuple[float, float], frame.getextrema())  # one band ("F"): a pair of numbers
        span = (high - low) or 1
        return frame.point(lambda value: (value - low) * (255 / span)).convert("L")
    if mode in ("LA", "La", "PA", "RGBA", "RGBa") or (mode == "P" and "transparency" in frame.info):
        paper = Image.new("RGBA", frame.size, "white")
        paper.alpha_composite(frame.convert("RGBA"))
        return paper.convert("L" if mode in ("LA", "La") else "RGB")
    return frame.convert("RGB")  # palette, CMYK, YCbCr, LAB, HSV, RGBX


_STRICT = threading.Lock()


@contextmanager
def _strict_decoding() -> Iterator[None]:
    """Decode with Pillow's check for truncated data on. WeasyPrint turns the check off for the whole process when
    it is imported (ImageFile.LOAD_TRUNCATED_IMAGES = True), and a cut-off scan would then come out with its missing
    rows filled in grey and be accepted as a whole page."""
    with _STRICT:
        before = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = before


def _frames(image: Image.Image) -> Iterator[tuple[Image.Image, tuple[float, float] | None, bool]]:
    """Every frame, decoded, upright, with its resolution (x, y) after orientation and whether it had to be turned."""
    for frame in ImageSequence.Iterator(image):
        with _strict_decoding():
            frame.load()
        dpi = _dpi(frame)
        orientation = frame.getexif().get(0x0112, 1)
        upright = ImageOps.exif_transpose(frame) if orientation != 1 else frame.copy()
        if dpi and orientation in (5, 6, 7, 8):
            dpi = (dpi[1], dpi[0])
        yield upright, dpi, orientation != 1


def _sheet(size: tuple[int, int], dpi: tuple[float, float] | None) -> tuple[float, float, bool]:
    """The page's size in points, and whether it is to be fitted on a letter page instead: then only its shape
    counts, and it is given at letter's height (PDF pages stop at 200 inches; a 30,000-pixel image would not fit)."""
    width, height = float(size[0]), float(size[1])
    if dpi is not None:
        width, height = width / dpi[0] * 72, height / dpi[1] * 72
        if all(MIN_SHEET_PT <= side <= MAX_SHEET_PT for side in (width, height)):
            return width, height, False
    scale = 792.0 / max(width, height)
    return width * scale, height * scale, True


def _image_stream(pdf: pikepdf.Pdf, frame: Image.Image, original_jpeg: bytes | None) -> pikepdf.Stream:
    """The frame as a PDF image: the sender's own JPEG bytes when they can go as they are (no re-encoding loss),
    otherwise the decoded pixels, compressed without loss."""
    width, height = frame.size
    if frame.mode == "1":
        colour, bits = pikepdf.Name.DeviceGray, 1
    elif frame.mode == "L":
        colour, bits = pikepdf.Name.DeviceGray, 8
    else:
        colour, bits = pikepdf.Name.DeviceRGB, 8
    if original_jpeg is not None:
        data, encoding = original_jpeg, pikepdf.Name.DCTDecode
    else:
        data, encoding = zlib.compress(frame.tobytes(), 6), pikepdf.Name.FlateDecode
    stream = pikepdf.Stream(pdf, data)
    stream.Type = pikepdf.Name.XObject
    stream.Subtype = pikepdf.Name.Image
    stream.Width, stream.Height = width, height
    stream.ColorSpace = colour
    stream.BitsPerComponent = bits
    stream.Filter = encoding
    return stream


def _image_pages(data: bytes, label: str, pillow_format: str | None) -> Pages:
    unreadable = f"looks like a {label} but cannot be opened: it is damaged or incomplete. {AGAIN}"
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise PagesUnreadable(TOO_MANY_PIXELS) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise PagesUnreadable(unreadable) from None
    if pillow_format and image.format != pillow_format:
        image.close()
        raise PagesUnreadable(unreadable)
    pdf = pikepdf.new()
    fit: list[bool] = []
    page_number = 0
    try:
        with image:
            keep_jpeg = image.format == "JPEG" and image.mode in ("L", "RGB")
            for frame, dpi, turned in _frames(image):
                page_number += 1
                paper = _paper(frame)
                unchanged = keep_jpeg and not turned and paper is frame
                width, height, fitted = _sheet(paper.size, dpi)
                page = pdf.add_blank_page(page_size=(width, height))
                name = page.add_resource(_image_stream(pdf, paper, data if unchanged else None), pikepdf.Name.XObject)
                page.contents_add(f"q {width:.4f} 0 0 {height:.4f} 0 0 cm {name} Do Q".encode(), prepend=False)
                fit.append(fitted)
    except PagesUnreadable:
        pdf.close()
        raise
    except Image.DecompressionBombError:
        pdf.close()
        raise PagesUnreadable(TOO_MANY_PIXELS, page=page_number or 1) from None
    # A decoder can raise almost anything on a broken frame (OSError "truncated", ValueError, SyntaxError...).
    except Exception:  # noqa: BLE001
        pdf.close()
        raise PagesUnreadable(_image_failure(image, page_number or 1), page=page_number or 1) from None
    return Pages(pdf=pdf, fit_on_letter=fit)


def _image_failure(image: Image.Image, page: int) -> str:
    tags = getattr(image, "tag_v2", None)
    compression = TIFF_COMPRESSIONS.get(int(tags.get(259, 0))) if tags is not None else None
    if compression:
        return (
            f"uses {compression} compression inside the TIFF, which cannot be read here (page {page}). Save or scan "
            "it again as PDF, or as TIFF with the usual fax (Group 4), LZW or JPEG compression."
        )
    return f"is damaged or incomplete: page {page} cannot be decoded. {AGAIN}"


# --- The one way in ---------------------------------------------------------------------------------------------


def document_pages(source: bytes, *, is_pdf: bool, label: str = "image", pillow_format: str | None = None) -> Pages:
    """The document's pages, ready to place: a PDF flattened (nothing active), an image as upright pages at their
    size. Raises PagesUnreadable with what to do."""
    if is_pdf:
        pdf = _open_pdf(io.BytesIO(source))
        try:
            _flatten(pdf)
        except Exception:  # noqa: BLE001 - qpdf could open the file but not read its pages' objects
            pdf.close()
            raise PagesUnreadable(DAMAGED_PDF) from None
        return Pages(pdf=pdf, fit_on_letter=[False] * len(pdf.pages))
    return _image_pages(source, label, pillow_format)


def document_check(source: bytes, *, is_pdf: bool, label: str = "image", pillow_format: str | None = None) -> int:
    """What the upload check runs: prepare the pages exactly as a packet build will and write them out, then draw
    every page with PDFium: a PDF as it was received (what any reader would show; qpdf rebuilds some files PDFium
    will not open, such as one cut off half-way, and the rebuilt pages would be blank), an image as the pages made of
    it. Returns the page count; raises PagesUnreadable naming the page that fails."""
    with document_pages(source, is_pdf=is_pdf, label=label, pillow_format=pillow_format) as pages:
        out = io.BytesIO()
        try:
            pages.pdf.save(out)
        except Exception:  # noqa: BLE001 - a stream qpdf cannot write out cannot be released either
            raise PagesUnreadable(DAMAGED_PDF) from None
        count = len(pages)
    render_every_page(source if is_pdf else out.getvalue(), expected=count)
    return count


def render_every_page(pdf_bytes: bytes, *, expected: int | None = None) -> None:
    """Draw each page small with PDFium. PDFium draws what it can of a damaged page; a page it cannot load at all,
    or a count that differs from qpdf's, is unreadable."""
    try:
        document = pypdfium2.PdfDocument(pdf_bytes)
    except pypdfium2.PdfiumError:
        raise PagesUnreadable(DAMAGED_PDF) from None
    try:
        if expected is not None and len(document) != expected:
            raise PagesUnreadable(DAMAGED_PDF)
        for index in range(len(document)):
            try:
                page = document[index]
                width, height = page.get_size()
                scale = RENDER_LONG_SIDE_PX / max(width, height, 1)
                page.render(scale=scale).close()
                page.close()
            except pypdfium2.PdfiumError:
                raise PagesUnreadable(
                    f"is damaged: page {index + 1} cannot be drawn. {AGAIN}",
                    page=index + 1,
                ) from None
    finally:
        document.close()


# --- Drawing pages for the document viewer (roi/page_images.py) --------------------------------------------------


def _drawable_pdf(source: bytes, *, is_pdf: bool, label: str) -> bytes:
    """What PDFium draws: a PDF as it was received (what the upload check drew), an image as the pages
    document_pages makes of it (upright, each frame a page, at the shape its resolution gives)."""
    if is_pdf:
        return source
    with document_pages(source, is_pdf=False, label=label) as prepared:
        out = io.BytesIO()
        prepared.pdf.save(out)
        return out.getvalue()


def page_total(source: bytes, *, is_pdf: bool, label: str = "document") -> int:
    """The number of pages the viewer shows, for a document stored before its count was recorded."""
    try:
        document = pypdfium2.PdfDocument(_drawable_pdf(source, is_pdf=is_pdf, label=label))
    except pypdfium2.PdfiumError:
        raise PagesUnreadable(DAMAGED_PDF) from None
    try:
        return len(document)
    finally:
        document.close()


def pages_draw(
    source: bytes, *, is_pdf: bool, numbers: list[int], long_side_px: int, label: str = "document"
) -> Iterator[tuple[int, Image.Image]]:
    """Pages `numbers` (1-based) drawn by PDFium with their annotations, `long_side_px` on the longer side, as RGB
    images, opening the document once. A page out of range or one PDFium cannot draw raises PagesUnreadable."""
    try:
        document = pypdfium2.PdfDocument(_drawable_pdf(source, is_pdf=is_pdf, label=label))
    except pypdfium2.PdfiumError:
        raise PagesUnreadable(DAMAGED_PDF) from None
    try:
        for number in numbers:
            if not 1 <= number <= len(document):
                raise PagesUnreadable(f"has no page {number}: it has {len(document)}.", page=number)
            try:
                page = document[number - 1]
                try:
                    width, height = page.get_size()
                    bitmap = page.render(scale=long_side_px / max(width, height, 1), draw_annots=True)
                    image = bitmap.to_pil().convert("RGB")  # a copy: the bitmap's buffer is freed below
                    bitmap.close()
                finally:
                    page.close()
            except pypdfium2.PdfiumError:
                raise PagesUnreadable(f"is damaged: page {number} cannot be drawn. {AGAIN}", page=number) from None
            yield number, image
    finally:
        document.close()
