"""Laying out a release packet's PDF: every included record page placed on a packet page with its stamp, written to
disk a chunk at a time, then joined to the cover sheet by qpdf. fulfillment.packets decides what goes in and keeps
the result; this module only draws it.

- **Pages come from roi.pages**, the reader the upload check used: PDF pages flattened (form fields drawn as they
  appear, no annotation, link, script or attachment survives: a page is placed as its content only, never with the
  sender's catalog), images upright at the size their resolution gives.
- **Placement**: a page keeps its size and its content shrinks a few percent to leave a clear band for the stamp at
  its foot, so the stamp never covers the record. A page too small to hold the stamp (a label, a receipt) keeps its
  content at true size and the packet page grows to hold the band below it; a huge page (an engineering sheet) gets
  a proportionally larger stamp. An image without a trustworthy size is fitted on a letter page.
- **Memory stays flat**: record pages are placed, stamped and written to a part file CHUNK_PAGES at a time, with only
  the documents of the current chunk open; qpdf joins the parts at the end reading page data from the part files as
  it writes, so a 5,000-page chart costs about what a 100-page one does (benchmarks/packets.py measures it).
"""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pikepdf
from django.template.loader import render_to_string
from weasyprint import HTML

from intake.documents import stored_file_open
from roi import pages
from roi.errors import ServiceError
from roi.pdf import LocalOnlyURLFetcher, static_source_dir

logger = logging.getLogger(__name__)

PDF_CONTENT_TYPE = "application/pdf"
# US Letter, in points: images without a trustworthy size are fitted on letter pages, portrait or landscape.
LETTER = (612.0, 792.0)
IMAGE_MARGIN = 36.0
# The clear band at the foot of every record page that holds the stamp (0.45 in), on a letter-sized page.
STAMP_BAND = 32.4
# Below this width or height a page is not shrunk to make room: the packet page grows to hold the stamp instead.
# 4 inches holds the stamp's first line (tracking number, page n of N, date) at its normal size.
STAMP_MIN_WIDTH = 288.0
STAMP_MIN_HEIGHT = 216.0
STAMP_MAX_SCALE = 4.0
STAMP_MARGIN = 18.0  # left and right of the stamp, at scale 1
KEY_LINE_LEADING = 9.5  # the key line's height at the top of the band, at scale 1
CHUNK_PAGES = 100

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Placement:
    """A packet page: its size, where the record page's content goes (x0, y0, x1, y1; the content keeps its shape and
    is centred in it) and the stamp's scale."""

    width: float
    height: float
    rect: tuple[float, float, float, float]
    stamp_scale: float


def _inherited(page: pikepdf.Page, key: str) -> Any:
    node: Any = page.obj
    for _ in range(64):  # a page tree deeper than this is not a real document
        if key in node:
            return node[key]
        if "/Parent" not in node:
            return None
        node = node.Parent
    return None


def shown_size(page: pikepdf.Page) -> tuple[float, float]:
    """The page's size as a reader shows it: its trim box, turned by its /Rotate."""
    box = pikepdf.Rectangle(page.trimbox)
    width, height = float(box.width), float(box.height)
    rotate = _inherited(page, "/Rotate")
    if rotate is not None and int(rotate) % 180 == 90:
        width, height = height, width
    return width, height


def placement(width: float, height: float, *, fit_on_letter: bool) -> Placement:
    if fit_on_letter:
        out_w, out_h = LETTER if height >= width else (LETTER[1], LETTER[0])
        rect = (IMAGE_MARGIN, STAMP_BAND, out_w - IMAGE_MARGIN, out_h - IMAGE_MARGIN)
        return Placement(out_w, out_h, rect, 1.0)
    scale = min(max(max(width, height) / LETTER[1], 1.0), STAMP_MAX_SCALE)
    band = STAMP_BAND * scale
    if width >= STAMP_MIN_WIDTH and height >= STAMP_MIN_HEIGHT:
        return Placement(width, height, (0.0, band, width, height), scale)
    out_w = max(width, STAMP_MIN_WIDTH)
    left = (out_w - width) / 2
    return Placement(out_w, height + band, (left, band, left + width, band + height), scale)


# --- Stamps -----------------------------------------------------------------------------------------------------

# Helvetica-Bold's advance widths (Adobe's AFM, per 1000 em) for what the key line can hold: tracking numbers,
# digits, month abbreviations and separators. Any other character counts as the widest.
_HELVETICA_BOLD = dict(
    zip(
        " ,-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz\u00b7",
        [278, 278, 333, 278, *[556] * 10, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
         667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278,
         556, 278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 278],
        strict=True,
    )
)  # fmt: skip


def _key_line_font() -> pikepdf.Dictionary:
    """A standard font every PDF reader has: nothing embedded. A new object per part (an object belongs to one
    PDF)."""
    return pikepdf.Dictionary(
        Type=pikepdf.Name.Font,
        Subtype=pikepdf.Name.Type1,
        BaseFont=pikepdf.Name("/Helvetica-Bold"),
        Encoding=pikepdf.Name.WinAnsiEncoding,
    )


def key_line(*, tracking_number: str, number: int, total: int, when: str) -> str:
    """The stamp's first line, the part that must survive on any page: which release, which page, when."""
    return f"{tracking_number} \u00b7 page {number} of {total} \u00b7 {when}"


def _text_width(text: str, size: float) -> float:
    return sum(_HELVETICA_BOLD.get(char, 1000) for char in text) * size / 1000


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


class StampSheets:
    """The stamp of a packet. What is the same on every page (the rule, "Released to <recipient> on <date>", the
    confidentiality line) is drawn once per page size by WeasyPrint (fonts with every script a recipient's name may
    use) and reused on every page of that size; the key line that changes per page (tracking number, page n of N,
    date: ASCII by construction) is written straight into each page in Helvetica-Bold, sized to fit its width.
    WeasyPrint laying out one stamp per page was nine tenths of a packet's build time."""

    def __init__(self, *, tracking_number: str, recipient: str, when: str, total: int) -> None:
        self.tracking_number, self.recipient, self.when, self.total = tracking_number, recipient, when, total
        self._forms: dict[tuple[float, float, float], pikepdf.Object] = {}
        self._pdfs: list[pikepdf.Pdf] = []

    def close(self) -> None:
        for pdf in self._pdfs:
            pdf.close()

    def prepare(self, placements: list[Placement]) -> None:
        """Draw the constant part for the sizes not drawn yet, in one WeasyPrint pass."""
        missing: list[tuple[float, float, float]] = []
        for where in placements:
            key = (where.width, where.height, where.stamp_scale)
            if key not in self._forms and key not in missing:
                missing.append(key)
        if not missing:
            return
        html = render_to_string(
            "fulfillment/pdf/stamp.html",
            {
                "sheets": [
                    {
                        "name": f"size{n}",
                        "width": width,
                        "height": height,
                        "sheet_height": height - 1,
                        "band": STAMP_BAND * scale,
                        "key_space": KEY_LINE_LEADING * scale,
                        "font": 7 * scale,
                        "small": 6 * scale,
                        "margin": STAMP_MARGIN * scale,
                    }
                    for n, (width, height, scale) in enumerate(missing)
                ],
                "recipient": self.recipient,
                "when": self.when,
            },
        )
        base_url = static_source_dir().as_uri() + "/"
        pdf = pikepdf.open(
            io.BytesIO(HTML(string=html, base_url=base_url, url_fetcher=LocalOnlyURLFetcher()).write_pdf())
        )
        self._pdfs.append(pdf)
        if len(pdf.pages) != len(missing):
            raise ServiceError("The page stamps could not be laid out; contact your administrator.")
        for key, page in zip(missing, pdf.pages, strict=True):
            self._forms[key] = page.as_form_xobject()

    def stamp(self, part: pikepdf.Pdf, out: pikepdf.Page, where: Placement, number: int, copied: dict) -> None:
        """Lay the stamp over packet page `out` (of `part`); `copied` keeps this part's copy of each sheet."""
        key = (where.width, where.height, where.stamp_scale)
        if key not in copied:
            copied[key] = part.copy_foreign(self._forms[key])
            copied.setdefault("font", part.make_indirect(_key_line_font()))
        out.add_overlay(copied[key], pikepdf.Rectangle(0, 0, where.width, where.height))
        scale = where.stamp_scale
        text = key_line(tracking_number=self.tracking_number, number=number, total=self.total, when=self.when)
        room = where.width - 2 * STAMP_MARGIN * scale
        size = min(7 * scale, 7 * scale * room / max(_text_width(text, 7 * scale), 1))
        font = out.add_resource(copied["font"], pikepdf.Name.Font, prefix="Key")
        baseline = (STAMP_BAND - 8.0) * scale  # just under the rule at the top of the band
        out.contents_add(
            b"q 0.067 g BT %s %.2f Tf %.2f %.2f Td %s Tj ET Q"
            % (str(font).encode(), size, STAMP_MARGIN * scale, baseline, _pdf_string(text)),
            prepend=False,
        )


# --- Record pages, a chunk at a time ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One document's included pages, in packet order; `position` is its row on the cover sheet."""

    position: int
    document: Any
    included: list[int]


def _unreadable(item: Item, page: int | None, reason: str) -> ServiceError:
    where = f"page {page} of " if page else ""
    return ServiceError(
        f"The packet was not built: {where}document {item.position}, '{item.document.original_name}', {reason} "
        "Leave that page or document out, or upload a readable copy, then build the packet again."
    )


def _open(item: Item) -> pages.Pages:
    document = item.document
    with stored_file_open(document, what="document", received="uploaded") as handle:
        data = handle.read()
    try:
        source = pages.document_pages(
            data, is_pdf=document.content_type == PDF_CONTENT_TYPE, label="document", pillow_format=None
        )
    except pages.PagesUnreadable as error:
        raise _unreadable(item, error.page, error.reason) from None
    if len(source) != document.page_count:
        source.pdf.close()
        raise ServiceError(
            f"'{document.original_name}' now reads as {len(source)} pages, not the {document.page_count} counted when "
            "it was uploaded; contact your administrator."
        )
    return source


@dataclass
class _Slot:
    item: Item
    page: int  # 1-based, in its document
    source: pages.Pages


def _chunks(items: list[Item]) -> Iterator[tuple[list[_Slot], list[pages.Pages]]]:
    """The record pages CHUNK_PAGES at a time, each with the sources it reads; a source is handed over for closing
    with the last chunk that needs it."""
    chunk: list[_Slot] = []
    finished: list[pages.Pages] = []
    for item in items:
        source = _open(item)
        for number in item.included:
            chunk.append(_Slot(item, number, source))
            if len(chunk) == CHUNK_PAGES:
                yield chunk, finished
                chunk, finished = [], []
        finished.append(source)
    if chunk or finished:
        yield chunk, finished


def _write_chunk(slots: list[_Slot], first_number: int, path: Path, stamps: StampSheets) -> None:
    placed: list[tuple[_Slot, Placement]] = []
    for slot in slots:
        try:
            page = slot.source.pdf.pages[slot.page - 1]
            width, height = shown_size(page)
            placed.append((slot, placement(width, height, fit_on_letter=slot.source.fit_on_letter[slot.page - 1])))
        # A page's objects may be broken in ways qpdf only finds when they are read.
        except Exception:
            logger.warning("packet page unreadable", exc_info=True)
            raise _unreadable(slot.item, slot.page, "cannot be read.") from None
    stamps.prepare([where for _, where in placed])
    copied: dict = {}
    with pikepdf.new() as part:
        for number, (slot, where) in enumerate(placed, start=first_number):
            out = part.add_blank_page(page_size=(where.width, where.height))
            try:
                out.add_overlay(slot.source.pdf.pages[slot.page - 1], pikepdf.Rectangle(*where.rect))
            except Exception:
                logger.warning("packet page unreadable", exc_info=True)
                raise _unreadable(slot.item, slot.page, "cannot be read.") from None
            stamps.stamp(part, out, where, number, copied)
        try:
            part.save(path)
        # qpdf reads the sources' page data only now, as it writes.
        except Exception:
            logger.warning("packet chunk unreadable", exc_info=True)
            raise ServiceError(
                "The packet was not built: a page among record pages "
                f"{first_number}-{first_number + len(slots) - 1} cannot be read ("
                + ", ".join(sorted({f"'{s.item.document.original_name}'" for s in slots}))
                + "). Leave the damaged document out, or upload a readable copy, then build the packet again."
            ) from None


@contextmanager
def packet_file(
    *,
    cover: bytes,
    items: list[Item],
    total: int,
    title: str,
    stamp_text: dict[str, Any],
    progress: Progress | None = None,
) -> Iterator[Path]:
    """The packet written to a temporary file (removed when the block ends): the cover, then every included page
    stamped. Raises ServiceError naming the document and page that cannot be read."""
    with tempfile.TemporaryDirectory(prefix="packet-") as workdir:
        folder = Path(workdir)
        (folder / "part-0000.pdf").write_bytes(cover)
        parts = [folder / "part-0000.pdf"]
        done = 0
        if progress:
            progress(0, total)
        stamps = StampSheets(total=total, **stamp_text)
        try:
            for slots, finished in _chunks(items):
                if slots:
                    parts.append(folder / f"part-{len(parts):04d}.pdf")
                    _write_chunk(slots, done + 1, parts[-1], stamps)
                    done += len(slots)
                for source in finished:
                    source.pdf.close()
                if progress and slots:
                    progress(done, total)
        finally:
            stamps.close()
        out = folder / "packet.pdf"
        opened = [pikepdf.open(part) for part in parts]
        try:
            with pikepdf.new() as packet:
                for part in opened:
                    packet.pages.extend(part.pages)
                packet.docinfo["/Title"] = title
                packet.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate)
        finally:
            for part in opened:
                part.close()
        yield out
