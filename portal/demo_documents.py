"""Synthetic documents for the demo organisation (portal.demo): the signed forms, faxes and retrieved charts staff see
in the document lists, the packets and the viewer when they try the product with `make run`.

Everything here is made up and says so on every page: the patients, requestors and clinicians come from the demo's
seeded Faker data, the clinical content from a few fixed scenarios, the signatures are drawn curves. What each
document says is what the demo records about it (the authorization's signer, dates and recipient are the ones
`portal.demo` records), so the checklist, the document and the request agree.

Rendering (templates/portal/pdf/demo/), with speed in mind: the demo seeds a few hundred requests, and WeasyPrint's time
goes by the box laid out.
- A chart, a court order, a clinic note: WeasyPrint, one pass per document, the stylesheet and font configuration
  parsed once per process; long tables are fixed-width text reports, as laboratory printouts are.
- A form (the authorization, the power of attorney, the fax cover sheet) is what it is on paper: a blank laid out
  once by WeasyPrint, and what the sender wrote on it. Where each blank is comes from WeasyPrint's layout
  (`data-slot` elements); what is written there (typed entries, handwritten dates, a drawn signature, a letter typed
  on a plain sheet) is PDF drawing stamped over the blank's page (`_stamp`): milliseconds, not a layout per copy.
- A fax: its pages drawn by PDFium straight at a standard-resolution fax's 204 x 98 dpi (pixels twice as tall as
  wide), each sheet a little crooked, the sending machine's identification line on top, thresholded to 1 bit and
  saved as one Group 4 multi-page TIFF, as fax servers deliver them.
Deterministic: every random choice comes from a Random seeded by the caller (`Case.seed`).
"""

from __future__ import annotations

import ctypes
import functools
import io
import math
import random
import re
import textwrap
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from faker import Faker
from pypdf import PdfReader, PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

from intake import authorizations, rules
from roi.models import Tenant
from roi.pdf import LocalOnlyURLFetcher, static_source_dir
from workflow.choices import RecordType, RequestorKind, RequestType, SensitiveCategory
from workflow.deadlines import local_date
from workflow.models import Patient, Requestor

# A standard-resolution fax: 1728 pixels across (8.5 in at about 204 dpi), 98 lines per inch down.
FAX_WIDTH_PX = 1728
FAX_DPI = (204, 98)
PX = 0.75  # points in a CSS pixel
LETTER_PT = (612.0, 792.0)

STATES = {
    "CA": ("California", "the California Confidentiality of Medical Information Act (Civil Code 56.11)", "Sacramento"),
    "NY": ("New York", "New York Public Health Law section 18", "Monroe"),
    "KS": ("Kansas", "Kansas law", "Saline"),
}
COURTS = {
    "CA": ("Superior Court of the State of California, County of Sacramento", "Superior Court"),
    "NY": ("Supreme Court of the State of New York, County of Monroe", "Supreme Court"),
    "KS": ("District Court of Saline County, Kansas", "District Court"),
}
OUTSIDE_CLINICS = [
    ("Cedar Family Medicine", "212 Cedar Lane, Suite 4"),
    ("Oak Street Urgent Care", "88 Oak Street"),
    ("Valley Orthopedic Associates", "1450 Medical Plaza Drive, Suite 210"),
    ("Bayview Cardiology", "600 Bayview Parkway, Suite 3B"),
]
TITLES = {"hon", "mr", "mrs", "ms", "miss", "dr", "jr", "sr", "ii", "iii", "iv", "md", "dds", "phd", "dvm", "esq", "do"}


# --- Rendering ----------------------------------------------------------------------------------------------------


@functools.cache
def _fonts() -> FontConfiguration:
    return FontConfiguration()


@functools.cache
def _stylesheet() -> CSS:
    return CSS(string=render_to_string("portal/pdf/demo/styles.html"), font_config=_fonts())


def _render(template: str, context: dict[str, Any]) -> Any:
    """The laid-out document (weasyprint.Document): its pages are counted, then written once."""
    html = render_to_string(template, context)
    document = HTML(string=html, base_url=static_source_dir().as_uri() + "/", url_fetcher=LocalOnlyURLFetcher())
    return document.render(stylesheets=[_stylesheet()], font_config=_fonts())


@dataclass(frozen=True)
class Slot:
    """Where something is written on a blank form: its box on the page, in PDF points from the bottom left."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Blank:
    """A one-page blank form, laid out once, and where each of its blanks (elements with data-slot) is."""

    pdf: bytes
    slots: dict[str, Slot]


def _boxes(box: Any) -> Iterator[Any]:
    yield box
    for child in getattr(box, "children", ()):
        yield from _boxes(child)


def _blank(template: str, context: dict[str, Any]) -> Blank:
    """Render a blank form and measure its slots (WeasyPrint lays out in CSS pixels: 0.75 pt, y downwards)."""
    document = _render(template, context)
    page = document.pages[0]
    slots: dict[str, Slot] = {}
    # The layout WeasyPrint computed (no public API gives a box's size): where each blank landed.
    for box in _boxes(page._page_box):
        element = getattr(box, "element", None)
        name = element.get("data-slot") if element is not None else None
        if name and name not in slots:  # the first box of an element is its outermost
            x, y = box.content_box_x(), box.content_box_y()
            slots[name] = Slot(x * PX, (page.height - y - box.height) * PX, box.width * PX, box.height * PX)
    return Blank(pdf=document.write_pdf(), slots=slots)


# Standard PDF fonts for what is written on a form (no embedding): typed entries, handwriting-like dates, print.
OVERLAY_FONTS = {
    "/DemoCourier": "/Courier",
    "/DemoTimes": "/Times-Roman",
    "/DemoTimesBold": "/Times-Bold",
    "/DemoTimesItalic": "/Times-Italic",
    "/DemoHelvetica": "/Helvetica",
    "/DemoHelveticaBold": "/Helvetica-Bold",
}
# Average advance of a character, in ems, to fit and wrap text (Courier's is exact).
FONT_EMS = {"/DemoCourier": 0.6, "/DemoTimes": 0.46, "/DemoTimesBold": 0.5}
FONT_EMS |= {"/DemoTimesItalic": 0.45, "/DemoHelvetica": 0.52, "/DemoHelveticaBold": 0.57}
TYPED = (0.08, 0.14, 0.42)  # a blue-black printer ribbon
INK = (0.1, 0.16, 0.37)  # a ballpoint pen
BLACK = (0.0, 0.0, 0.0)


def _pdf_text(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


class Overlay:
    """What is written on one copy of a blank form: PDF drawing operators, stamped over the blank's page."""

    def __init__(self, blank: Blank | None = None) -> None:
        self.blank = blank
        self.ops: list[bytes] = []

    def _slot(self, name: str) -> Slot:
        assert self.blank is not None
        return self.blank.slots[name]

    def text_at(
        self, x: float, y: float, text: str, *, font: str = "/DemoCourier", size: float = 9, color=TYPED
    ) -> None:
        if not text:
            return
        r, g, b = color
        self.ops.append(
            f"BT {r:.2f} {g:.2f} {b:.2f} rg {font} {size:.1f} Tf {x:.1f} {y:.1f} Td ".encode()
            + _pdf_text(text)
            + b" Tj ET"
        )

    def write(
        self,
        slot: str,
        text: str,
        *,
        font: str = "/DemoCourier",
        size: float = 9,
        color=TYPED,
        dx: float = 2,
        dy: float = 2.5,
    ) -> None:
        """Text on the line of a slot (its bottom), shrunk to fit the slot's width."""
        box = self._slot(slot)
        if text:
            size = min(size, (box.width - dx) / (FONT_EMS[font] * len(text)))
        self.text_at(box.x + dx, box.y + dy, text, font=font, size=size, color=color)

    def lines(
        self, slot: str, lines: list[str], *, font: str = "/DemoHelvetica", size: float = 10, leading: float = 1.3
    ) -> None:
        """Lines from the top of a slot down."""
        box = self._slot(slot)
        for index, line in enumerate(lines):
            self.text_at(box.x, box.y + box.height - size - index * size * leading, line, font=font, size=size)

    def wrapped(self, slot: str, paragraphs: list[str], *, font: str = "/DemoHelvetica", size: float = 10) -> None:
        box = self._slot(slot)
        width = max(int(box.width / (FONT_EMS[font] * size)), 10)
        out: list[str] = []
        for paragraph in paragraphs:
            out += [*textwrap.wrap(paragraph, width), ""]
        self.lines(slot, out[:-1], font=font, size=size)

    def paragraph(
        self, x: float, y: float, width: float, text: str, *, font: str, size: float, leading: float, color=BLACK
    ) -> float:
        """Text set ragged-right from baseline y down; returns the baseline below its last line."""
        for line in textwrap.wrap(text, max(int(width / (FONT_EMS[font] * size)), 10)):
            self.text_at(x, y, line, font=font, size=size, color=color)
            y -= leading
        return y

    def rule(self, x1: float, y1: float, x2: float, y2: float, width: float = 1.0) -> None:
        self.ops.append(f"q 0 G {width:.2f} w {x1:.1f} {y1:.1f} m {x2:.1f} {y2:.1f} l S Q".encode())

    def check(self, slot: str, *, color=TYPED) -> None:
        """An X typed over a check box glyph."""
        box = self._slot(slot)
        size = box.height * 0.8
        self.text_at(box.x + (box.width - 0.6 * size) / 2, box.y + box.height * 0.22, "X", size=size, color=color)

    def signature(self, slot: str, name: str, *, width: float, height: float, dx: float = 6, dy: float = -5) -> None:
        box = self._slot(slot)
        self.ops.append(signature_pdf(name, box.x + dx, box.y + dy, width, height))

    def content(self) -> bytes:
        return b"\n".join(self.ops)


def _skew(angle: float, width: float, height: float) -> bytes:
    """The PDF matrix turning a page by `angle` degrees about its centre (a sheet fed a little crooked)."""
    a = math.radians(angle)
    cos, sin = math.cos(a), math.sin(a)
    cx, cy = width / 2, height / 2
    tx, ty = cx - cos * cx + sin * cy, cy - sin * cx - cos * cy
    return f"{cos:.5f} {sin:.5f} {-sin:.5f} {cos:.5f} {tx:.3f} {ty:.3f} cm".encode()


class Stampable:
    """A one-page PDF prepared once to take many copies, each with something drawn on it. Preparing adds our fonts to
    the page's resources; a copy is the prepared file plus an incremental update (two small content streams around
    the page's own, the page pointing at all three, their cross-reference): bytes appended, nothing parsed or
    rewritten, so a copy costs next to nothing. Incremental updates are how PDF editors save: every reader opens
    them (PDFium, qpdf, pypdf)."""

    def __init__(self, pdf: bytes) -> None:
        writer = PdfWriter(clone_from=io.BytesIO(pdf))
        writer.pdf_header = pdf[: pdf.index(b"\n")].decode("latin-1")  # the version WeasyPrint wrote, not pypdf's 1.3
        resources = writer.pages[0][NameObject("/Resources")].get_object()
        fonts = resources.get("/Font")
        if fonts is None:
            fonts = DictionaryObject()
            resources[NameObject("/Font")] = fonts
        for name, base in OVERLAY_FONTS.items():
            fonts.get_object()[NameObject(name)] = DictionaryObject(
                {
                    NameObject("/Type"): NameObject("/Font"),
                    NameObject("/Subtype"): NameObject("/Type1"),
                    NameObject("/BaseFont"): NameObject(base),
                    NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
                }
            )
        out = io.BytesIO()
        writer.write(out)
        self.pdf = out.getvalue().rstrip() + b"\n"
        # What a copy rewrites, read back from the file as written (its object numbers).
        reader = PdfReader(io.BytesIO(self.pdf))
        page = reader.pages[0]
        self.width, self.height = float(page.mediabox.width), float(page.mediabox.height)
        self.page_number = page.indirect_reference.idnum
        contents = page.raw_get("/Contents")
        resolved = contents.get_object()
        references = list(resolved) if isinstance(resolved, ArrayObject) else [contents]
        self.contents = b" ".join(self._serialised(reference) for reference in references)
        entries = [
            self._serialised(NameObject(key)) + b" " + self._serialised(page.raw_get(key))
            for key in page
            if key != "/Contents"
        ]
        self.page_entries = b"\n".join(entries)
        self.size = int(reader.trailer["/Size"])
        self.root = reader.trailer.raw_get("/Root").idnum
        self.previous = int(re.findall(rb"startxref\s+(\d+)", self.pdf)[-1])

    @staticmethod
    def _serialised(value: Any) -> bytes:
        out = io.BytesIO()
        value.write_to_stream(out)
        return out.getvalue()

    def copy(self, *, over: bytes = b"", skew: float = 0.0, on_top: bytes = b"") -> bytes:
        """A copy with `over` drawn on the page, the whole turned by `skew` degrees, then `on_top` drawn straight
        (what a fax machine prints). The page's own content keeps its graphics state apart (q/Q)."""
        turn = _skew(skew, self.width, self.height) if skew else b""
        before, after = self.size, self.size + 1
        out = bytearray(self.pdf)
        offsets = {}
        for number, data in ((before, b"q " + turn + b" q\n"), (after, b"\nQ\n" + over + b"\nQ\n" + on_top)):
            packed = zlib.compress(data)
            offsets[number] = len(out)
            out += f"{number} 0 obj\n<< /Length {len(packed)} /Filter /FlateDecode >>\nstream\n".encode()
            out += packed + b"\nendstream\nendobj\n"
        offsets[self.page_number] = len(out)
        out += f"{self.page_number} 0 obj\n<<\n".encode() + self.page_entries
        out += f"\n/Contents [{before} 0 R ".encode() + self.contents + f" {after} 0 R]\n>>\nendobj\n".encode()
        xref_at = len(out)
        out += b"xref\n0 1\n0000000000 65535 f \n"
        for number in sorted(offsets):
            out += f"{number} 1\n{offsets[number]:010d} 00000 n \n".encode()
        out += (
            f"trailer\n<< /Size {after + 1} /Root {self.root} 0 R /Prev {self.previous} >>\n"
            f"startxref\n{xref_at}\n%%EOF\n"
        ).encode()
        return bytes(out)


@functools.lru_cache(maxsize=64)
def _stampable(pdf: bytes) -> Stampable:
    return Stampable(pdf)


@functools.cache
def _faker() -> Faker:
    return Faker("en_US")


def _fake(seed: str) -> Faker:
    """The one Faker instance, seeded for this use (the demo seeds in one thread)."""
    fake = _faker()
    fake.seed_instance(seed)
    return fake


def _area_code(phone: str) -> str:
    found = re.search(r"\((\d{3})\)", phone)
    return found.group(1) if found else ""


# The 555-0100..0199 block is reserved for fiction; the demo hospitals' own numbers (portal.demo.DEMO_TENANTS) are kept
# out of what senders are given.
FICTIONAL_LINES = [n for n in range(100, 200) if n not in (120, 121, 140, 141, 170, 171)]


def _fictional_number(rng: random.Random, area: str = "") -> str:
    return f"({area or rng.randint(201, 989)}) 555-0{rng.choice(FICTIONAL_LINES)}"


# --- Handwriting ----------------------------------------------------------------------------------------------------


def _glyph(ch: str, x: float, amp: float, rng: random.Random) -> tuple[list[tuple[float, float]], float]:
    """The key points of one cursive letter (baseline 0, x-height 1, y up) from pen position x, and its advance."""

    def j(spread: float = 0.07) -> float:
        return rng.uniform(-spread, spread)

    low = ch.lower()
    if ch.isupper():
        top = 2.5 + j(0.3)
        shape = rng.randrange(3)
        if shape == 0:  # a stem with a loop (J, L, T, F...)
            pts = [(x + 0.75, top), (x + 0.35, top * 0.55), (x + 0.0, -0.35), (x + 0.35, -0.05), (x + 1.0, 0.9)]
        elif shape == 1:  # a big oval (C, G, O, S...)
            pts = [(x + 1.05, top * 0.85), (x + 0.45, top), (x + 0.0, top * 0.45), (x + 0.35, 0.0), (x + 1.0, 0.55)]
        else:  # two peaks (M, N, H, K...)
            pts = [(x, 0.0), (x + 0.3, top), (x + 0.55, 0.1), (x + 0.85, top * 0.9), (x + 1.1, 0.0), (x + 1.3, 0.7)]
        return pts, 1.3
    if low in "mn":
        humps = 3 if low == "m" else 2
        pts = []
        for k in range(humps):
            pts += [(x + 0.1 + k * 0.32, amp * (0.95 + j())), (x + 0.28 + k * 0.32, 0.03)]
        return pts, 0.32 * humps + 0.12
    if low in "bdfhklt":
        top = amp * (2.1 + j(0.25))
        if low in "bd":
            pts = [(x + 0.4, amp * 0.9), (x + 0.1, amp * 0.45), (x + 0.3, 0.02), (x + 0.5, top), (x + 0.4, top * 0.8)]
            pts += [(x + 0.48, 0.05), (x + 0.7, amp * 0.5)]
            return pts, 0.75
        pts = [(x + 0.38, top), (x + 0.14, top - 0.35), (x + 0.22, 0.03)]
        if low in "hk":
            pts += [(x + 0.45, amp * 0.9), (x + 0.65, 0.04)]
            return pts, 0.78
        return pts, 0.48
    if low in "gjpqyz":
        pts = [(x + 0.38, amp * 0.95), (x + 0.1, amp * 0.45), (x + 0.4, amp * 0.55)]
        pts += [(x + 0.36, -amp * (1.2 + j(0.25))), (x + 0.05, -amp * 0.85), (x + 0.6, 0.25)]
        return pts, 0.62
    if low in "aoecq":
        pts = [(x + 0.45, amp * 0.9), (x + 0.12, amp * 0.5), (x + 0.28, 0.02), (x + 0.5, amp * 0.65), (x + 0.6, 0.05)]
        return pts, 0.66
    if low in "uwv":
        dips = 2 if low != "v" else 1
        pts = []
        for k in range(dips):
            pts += [(x + 0.08 + k * 0.3, amp * (0.9 + j())), (x + 0.22 + k * 0.3, 0.02)]
        return pts, 0.3 * dips + 0.12
    return [(x + 0.14, amp * (0.95 + j())), (x + 0.3, 0.03)], 0.38


def _catmull_rom(points: list[tuple[float, float]]) -> list[tuple[tuple[float, float], ...]]:
    """A Catmull-Rom spline through the points, as cubic Bezier segments (c1, c2, end)."""
    padded = [points[0], *points, points[-1]]
    segments = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1], padded[i], padded[i + 1], padded[i + 2]
        c1 = (p1[0] + (p2[0] - p0[0]) / 6, p1[1] + (p2[1] - p0[1]) / 6)
        c2 = (p2[0] - (p3[0] - p1[0]) / 6, p2[1] - (p3[1] - p1[1]) / 6)
        segments.append((c1, c2, p2))
    return segments


@functools.lru_cache(maxsize=4096)
def _signature_strokes(name: str, width: float, height: float) -> tuple[tuple[tuple[float, float], ...], ...]:
    """A handwriting-like signature of `name` in a width x height box (y down): cursive letters that run into a
    scrawl, as signatures do, and sometimes an underline flourish. The same name always signs the same way."""
    rng = random.Random("signature:" + name)
    words = [w for w in re.split(r"[\s.,'\-]+", name) if w and w[0].isalpha() and w.lower() not in TITLES]
    words = words or ["X"]
    if len(words) > 1 and rng.random() < 0.4:
        parts = [(words[0][0].upper(), True), (words[-1], False)]
    else:
        parts = [(w, False) for w in (words[0], words[-1])][: len(words)]
    strokes: list[list[tuple[float, float]]] = []
    x = 0.0
    for word, initial in parts:
        stroke: list[tuple[float, float]] = [(x - 0.15, 0.1)]
        amp = 1.0
        for index, ch in enumerate(word):
            letter = ch.upper() if index == 0 else ch.lower()
            pts, advance = _glyph(letter, x, amp, rng)
            stroke += [(px + rng.uniform(-0.04, 0.04), py + rng.uniform(-0.06, 0.06)) for px, py in pts]
            x += advance * (1.0 if index < 3 else max(amp, 0.55))
            if index >= 2:
                amp = max(amp * rng.uniform(0.8, 0.92), 0.4)  # the rest of the name trails off
        stroke.append((x + 0.35, 0.45 * amp))
        strokes.append(stroke)
        if initial:
            strokes.append([(x + 0.15, 0.05), (x + 0.22, 0.12), (x + 0.18, 0.0)])
        x += 0.75
    if rng.random() < 0.6:  # an underline flourish back under the name
        strokes.append([(x - 0.4, 0.2), (x * 0.6, -0.75), (0.2, -0.55)])
    slant = 0.32
    flat = [(px + slant * py, -py) for stroke in strokes for px, py in stroke]
    min_x, max_x = min(p[0] for p in flat), max(p[0] for p in flat)
    min_y, max_y = min(p[1] for p in flat), max(p[1] for p in flat)
    scale = min((width - 6) / max(max_x - min_x, 0.1), (height - 6) / max(max_y - min_y, 0.1))
    return tuple(
        tuple(((px + slant * py - min_x) * scale + 3, (-py - min_y) * scale + 3) for px, py in stroke)
        for stroke in strokes
    )


def signature_svg(name: str, width: int = 200, height: int = 46, ink: str = "#1b2a5e") -> SafeString:
    """The signature as inline SVG, for documents laid out by WeasyPrint."""
    paths = []
    for stroke in _signature_strokes(name, width, height):
        d = [f"M{stroke[0][0]:.1f},{stroke[0][1]:.1f}"]
        d += [
            f"C{a[0]:.1f},{a[1]:.1f} {b[0]:.1f},{b[1]:.1f} {c[0]:.1f},{c[1]:.1f}"
            for a, b, c in _catmull_rom(list(stroke))
        ]
        paths.append("".join(d))
    return mark_safe(  # noqa: S308 - numbers we computed, no input text
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f'<path d="{" ".join(paths)}" fill="none" stroke="{ink}" stroke-width="1.35" stroke-linecap="round" '
        'stroke-linejoin="round"/></svg>'
    )


def signature_pdf(name: str, x: float, y: float, width: float, height: float, ink=INK) -> bytes:
    """The signature as PDF path operators, its box's bottom left at (x, y) in points."""

    def at(p: tuple[float, float]) -> str:
        return f"{x + p[0]:.2f} {y + height - p[1]:.2f}"

    ops = [f"q {ink[0]:.2f} {ink[1]:.2f} {ink[2]:.2f} RG 1.1 w 1 J 1 j"]
    for stroke in _signature_strokes(name, width, height):
        ops.append(f"{at(stroke[0])} m")
        ops += [f"{at(a)} {at(b)} {at(c)} c" for a, b, c in _catmull_rom(list(stroke))]
        ops.append("S")
    ops.append("Q")
    return "\n".join(ops).encode()


def _initials(name: str) -> str:
    words = [w for w in re.split(r"[\s.,\-]+", name) if w and w.lower() not in TITLES]
    return "".join(w[0].upper() for w in (words[:1] + words[-1:])) if words else ""


# --- What one demo request's documents are about ----------------------------------------------------------------


@dataclass(frozen=True)
class Facility:
    name: str
    department: str
    address: str
    phone: str
    fax: str
    state_name: str
    state_law: str
    county: str

    @classmethod
    def of(cls, tenant: Tenant) -> Facility:
        state_name, state_law, county = STATES.get(tenant.jurisdiction, (tenant.jurisdiction, "state law", "Central"))
        return cls(
            name=tenant.name,
            department=tenant.him_department_name,
            address=tenant.him_address,
            phone=tenant.him_phone,
            fax=tenant.him_fax,
            state_name=state_name,
            state_law=state_law,
            county=county,
        )


@dataclass(frozen=True)
class Case:
    """One demo request as its documents tell it, known before the request exists (a fax arrives with it)."""

    tenant: Tenant
    patient: Patient
    requestor: Requestor
    request_type: str
    received_at: datetime
    record_types: tuple[str, ...] = ()
    scope_from: date | None = None
    scope_to: date | None = None
    sensitive_categories: tuple[str, ...] = ()
    seed: int = 0

    def rng(self, purpose: str) -> random.Random:
        return random.Random(f"{self.seed}:{purpose}")

    @property
    def facility(self) -> Facility:
        return Facility.of(self.tenant)

    @property
    def received_on(self) -> date:
        return local_date(self.received_at, self.tenant)

    @property
    def basis(self) -> str:
        return rules.basis_for(self.request_type, self.requestor.kind)

    @property
    def needs_signed_form(self) -> bool:
        """The request relies on an authorization (or a patient's directive) the requestor sends with it."""
        return self.basis in authorizations.KIND_FOR_BASIS

    @property
    def signed_on(self) -> date:
        """The day the patient signed the form: a few days before the request arrived."""
        return self.received_on - timedelta(days=1 + self.seed % 9)

    @property
    def expires_on(self) -> date:
        return self.signed_on + timedelta(days=365)

    @property
    def recipient(self) -> str:
        return self.requestor.organization or self.requestor.name

    @property
    def records_phrase(self) -> str:
        labels = [RecordType(t).label.lower() for t in self.record_types if t in RecordType.values]
        return ", ".join(labels) if labels else "the complete medical record"

    @property
    def period_phrase(self) -> str:
        if self.scope_from and self.scope_to:
            return f"{self.scope_from:%m/%d/%Y} through {self.scope_to:%m/%d/%Y}"
        if self.scope_to:
            return f"through {self.scope_to:%m/%d/%Y}"
        return "all dates of service"


def _address(person: Requestor) -> str:
    return ", ".join(
        p for p in (person.address_line1, person.city, f"{person.state} {person.postal_code}".strip()) if p
    )


def _patient_address(case: Case) -> str:
    """The patient's home address as the forms give it: the requestor's when the patient asks, made up otherwise."""
    if case.requestor.kind == RequestorKind.PATIENT:
        return _address(case.requestor)
    fake = _fake(f"patient-address:{case.tenant.slug}:{case.patient.mrn}")
    state = case.tenant.jurisdiction
    return f"{fake.street_address()}, {fake.city()}, {state} {fake.zipcode_in_state(state)}"


# --- The authorization, and a representative's power of attorney ---------------------------------------------------

FORM_RECORD_TYPES = [
    RecordType.COMPLETE,
    RecordType.DISCHARGE_SUMMARY,
    RecordType.HISTORY_PHYSICAL,
    RecordType.PROGRESS_NOTES,
    RecordType.OPERATIVE,
    RecordType.EMERGENCY,
    RecordType.LAB,
    RecordType.IMAGING_REPORTS,
    RecordType.IMAGING_FILMS,
    RecordType.MEDICATIONS,
    RecordType.BILLING,
]
FORM_SENSITIVE = [
    (SensitiveCategory.HIV, "HIV/AIDS test results, diagnosis or treatment"),
    (SensitiveCategory.MENTAL_HEALTH, "Mental health records (not psychotherapy notes)"),
    (SensitiveCategory.SUD_PART2, "Substance use disorder records (42 CFR Part 2)"),
    (SensitiveCategory.GENETIC, "Genetic testing information"),
]
FORM_PURPOSES = [
    "At the request of the individual",
    "Continuing medical care",
    "Insurance claim or benefits",
    "Legal matter / litigation",
    "Disability determination",
    "Other:",
]


@functools.lru_cache(maxsize=16)
def _authorization_blank(facility: Facility, directive: bool) -> Blank:
    return _blank(
        "portal/pdf/demo/authorization.html",
        {
            "facility": facility,
            "directive": directive,
            "record_types": [(t.value, t.label) for t in FORM_RECORD_TYPES],
            "sensitive": [(c.value, label) for c, label in FORM_SENSITIVE],
            "purposes": FORM_PURPOSES,
        },
    )


def _purpose(case: Case) -> str:
    return {
        RequestorKind.ATTORNEY: "Legal matter / litigation",
        RequestorKind.INSURER: "Insurance claim or benefits",
        RequestorKind.PROVIDER: "Continuing medical care",
    }.get(case.requestor.kind, "At the request of the individual")


def _authorization(case: Case, signer: str | None, authority: str, *, labelled: bool) -> tuple[Blank, Overlay]:
    """The hospital's blank form and what the requestor wrote on it for this request; `labelled`: with the patient
    label HIM sticks on a form it has received."""
    blank = _authorization_blank(case.facility, case.basis == rules.DIRECTIVE)
    patient, requestor = case.patient, case.requestor
    signer = signer or patient.full_name
    form = Overlay(blank)
    label = blank.slots["label"]
    if labelled:  # the label HIM sticks on a form it has received
        top = label.y + label.height
        for down, text, font, size in (
            (20, f"{patient.last_name.upper()}, {patient.first_name.upper()}", "/DemoHelveticaBold", 9),
            (31, f"DOB {patient.date_of_birth:%m/%d/%Y}   MRN {patient.mrn}", "/DemoHelvetica", 8),
            (41, "Synthetic demo patient", "/DemoHelvetica", 7),
        ):
            form.text_at(label.x + 2, top - down, text, font=font, size=size, color=BLACK)
    patient_phone = (
        requestor.phone
        if requestor.kind == RequestorKind.PATIENT
        else _fictional_number(case.rng("patient-phone"), _area_code(case.facility.phone))
    )
    for slot, value in (
        ("last_name", patient.last_name),
        ("first_name", patient.first_name),
        ("dob", f"{patient.date_of_birth:%m/%d/%Y}"),
        ("mrn", patient.mrn),
        ("patient_phone", patient_phone),
        ("patient_address", _patient_address(case)),
        ("recipient", case.recipient),
        ("attention", requestor.name if requestor.organization else ""),
        ("recipient_address", _address(requestor)),
        ("recipient_phone", requestor.phone),
        ("recipient_fax", requestor.fax),
        ("scope_from", f"{case.scope_from:%m/%d/%Y}" if case.scope_from else ""),
        ("scope_to", f"{case.scope_to:%m/%d/%Y}" if case.scope_to else ""),
        ("expires_on", f"{case.expires_on:%m/%d/%Y}"),
        ("signer", signer),
        ("authority", authority),
    ):
        form.write(slot, value)
    for record_type in case.record_types:
        if f"record-{record_type}" in blank.slots:
            form.check(f"record-{record_type}")
    for category in case.sensitive_categories:
        if f"initials-{category}" in blank.slots:
            form.write(f"initials-{category}", _initials(signer), font="/DemoTimesItalic", size=10, color=INK, dx=6)
    form.check(f"purpose-{FORM_PURPOSES.index(_purpose(case)) + 1}")
    form.signature("signature", signer, width=190, height=40)
    handwritten = {"font": "/DemoTimesItalic", "size": 12, "color": INK, "dx": 8, "dy": 4}
    form.write("signed_on", _handwritten_date(case.signed_on), **handwritten)
    return blank, form


def authorization_pdf(case: Case, *, signer: str | None = None, authority: str = "") -> bytes:
    """The hospital's authorization form (45 CFR 164.508(c)), filled in for the request and signed: one page."""
    blank, form = _authorization(case, signer, authority, labelled=True)
    return _stampable(blank.pdf).copy(over=form.content())


@functools.lru_cache(maxsize=16)
def _power_of_attorney_blank(state_name: str, county: str) -> Blank:
    return _blank("portal/pdf/demo/power_of_attorney.html", {"state_name": state_name, "county": county})


def power_of_attorney_pdf(case: Case, *, agent: Requestor) -> bytes:
    """A durable power of attorney for health care naming the requestor as the patient's agent, filled in, signed,
    witnessed and notarized: one page."""
    rng = case.rng("poa")
    facility = case.facility
    blank = _power_of_attorney_blank(facility.state_name, facility.county)
    fake = _fake(f"poa:{case.seed}")
    witnesses = [fake.name(), fake.name()]
    notary = fake.name()
    patient = case.patient
    signed_on = case.received_on - timedelta(days=rng.randint(200, 2400))
    handwritten = {"font": "/DemoTimesItalic", "size": 11, "color": INK, "dy": 3}
    form = Overlay(blank)
    form.write("principal", patient.full_name)
    form.write("principal_dob", f"{patient.date_of_birth:%m/%d/%Y}")
    form.write("principal_address", _patient_address(case))
    form.write("agent", agent.name)
    form.write("agent_address", _address(agent))
    form.write("agent_phone", agent.phone)
    form.check(f"effective-{rng.randint(1, 2)}")
    form.signature("principal_signature", patient.full_name, width=200, height=34, dy=-3)
    form.write("signed_on", _handwritten_date(signed_on), **handwritten)
    form.signature("agent_signature", agent.name, width=200, height=34, dy=-3)
    form.write("agent_signed_on", _handwritten_date(signed_on + timedelta(days=rng.randint(0, 6))), **handwritten)
    for index, witness in enumerate(witnesses, start=1):
        form.signature(f"witness_{index}", witness, width=120, height=30, dy=-2)
        slot = blank.slots[f"witness_{index}"]
        form.text_at(slot.x + 130, slot.y + 3, witness, size=8)
    form.write("notarized_on", f"{signed_on:%B} {signed_on.day}, {signed_on.year}")
    form.write("notary", notary)
    form.write("notary_principal", patient.full_name)
    form.signature("notary_signature", notary, width=150, height=26, dy=-3)
    form.write("commission", f"{rng.randint(1000000, 2999999)}")
    return _stampable(blank.pdf).copy(over=form.content())


def _handwritten_date(day: date) -> str:
    return f"{day.month}/{day.day}/{day.year}"


# --- Faxes --------------------------------------------------------------------------------------------------------

COVER_FLAGS = ["Urgent", "For review", "Please comment", "Please reply"]


@functools.cache
def _cover_blank() -> Blank:
    return _blank("portal/pdf/demo/fax_cover.html", {"flags": COVER_FLAGS})


@dataclass(frozen=True)
class Sender:
    org: str
    dept: str
    person: str
    address: str
    phone: str
    fax: str


@dataclass(frozen=True)
class Transmission:
    """One fax: who sent it to whom and when, and what its cover sheet says."""

    sender: Sender
    facility: Facility
    sent: datetime
    subject: str
    comments: list[str]
    flags: tuple[str, ...]


def _cover(fax: Transmission, pages: int) -> Overlay:
    """What the sender printed and typed on the blank cover sheet."""
    blank = _cover_blank()
    cover = Overlay(blank)
    head = blank.slots["letterhead"]
    sender = fax.sender
    top = head.y + head.height
    cover.text_at(head.x, top - 17, sender.org, font="/DemoHelveticaBold", size=15, color=BLACK)
    cover.text_at(head.x, top - 31, sender.dept, font="/DemoHelvetica", size=10, color=BLACK)
    right = head.x + head.width * 0.58
    for index, line in enumerate([sender.address, f"Tel {sender.phone}", f"Fax {sender.fax}"]):
        cover.text_at(right, top - 12 - index * 11, line, font="/DemoHelvetica", size=8.5, color=BLACK)
    typed = {"font": "/DemoHelvetica", "size": 11, "color": BLACK, "dy": 7}
    cover.write("to_name", "Release of Information", **typed)
    cover.write("to_org", f"{fax.facility.name} - Health Information Management", **typed)
    cover.write("to_fax", fax.facility.fax, **typed)
    cover.write("to_phone", fax.facility.phone, **typed)
    cover.write("from", sender.person, **typed)
    cover.write("date", f"{fax.sent:%m/%d/%Y}", **typed)
    cover.write("pages", f"{pages} (including cover)", **typed)
    cover.write("re", fax.subject, **typed)
    for index, label in enumerate(COVER_FLAGS, start=1):
        if label in fax.flags:
            cover.check(f"flag-{index}", color=BLACK)
    cover.wrapped("comments", fax.comments, size=10.5)
    return cover


def _tti(fax: Transmission, page: int, pages: int, width: float, height: float) -> bytes:
    """The line the sending machine prints across the top of every page: when, from whom, to what number, which page."""
    digits = re.sub(r"\D", "", fax.facility.fax)
    line = (
        f"{fax.sent:%b-%d-%Y %H:%M}  FROM: {fax.sender.fax}  {fax.sender.org.upper()[:28]:<28}  TO: 1{digits}"
        f"   P.{page:03d}/{pages:03d}"
    )
    overlay = Overlay()
    overlay.text_at(30, height - 18, line, size=min(8.0, (width - 60) / (0.6 * len(line))), color=BLACK)
    return overlay.content()


def _scan(pdf: bytes, dpi: tuple[int, int]) -> Any:
    """The first page of `pdf` as gray pixels, 1728 across and `dpi[1]` lines an inch down: PDFium draws it straight
    at the fax's two resolutions (FPDF_RenderPageBitmapWithMatrix takes a matrix that scales x and y apart)."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c
    from PIL import Image

    document = pdfium.PdfDocument(pdf)
    bitmap = None
    try:
        page = document[0]
        width_pt, height_pt = page.get_size()
        width, height = FAX_WIDTH_PX, round(height_pt / 72 * dpi[1])
        bitmap = pdfium_c.FPDFBitmap_CreateEx(width, height, pdfium_c.FPDFBitmap_Gray, None, 0)
        pdfium_c.FPDFBitmap_FillRect(bitmap, 0, 0, width, height, 0xFFFFFFFF)
        matrix = pdfium_c.FS_MATRIX(width / width_pt, 0, 0, height / height_pt, 0, 0)
        clip = pdfium_c.FS_RECTF(0, 0, width, height)
        pdfium_c.FPDF_RenderPageBitmapWithMatrix(bitmap, page.raw, matrix, clip, pdfium_c.FPDF_GRAYSCALE)
        stride = pdfium_c.FPDFBitmap_GetStride(bitmap)
        pixels = ctypes.string_at(pdfium_c.FPDFBitmap_GetBuffer(bitmap), stride * height)
        page.close()
        return Image.frombuffer("L", (width, height), pixels, "raw", "L", stride, 1)
    finally:
        if bitmap is not None:
            pdfium_c.FPDFBitmap_Destroy(bitmap)
        document.close()


def _rasterise(pages: list[bytes], rng: random.Random, *, dpi: tuple[int, int] = FAX_DPI) -> bytes:
    """One-page PDFs as a fax server delivers them: 1728 pixels across, `dpi[1]` lines per inch down (98 at standard
    resolution: pixels twice as tall as wide), 1 bit, with some specks, all in one Group 4 multi-page TIFF."""
    from PIL import ImageDraw

    frames = []
    for pdf in pages:
        gray = _scan(pdf, dpi)
        draw = ImageDraw.Draw(gray)
        for _ in range(rng.randint(8, 30)):  # dust on the sender's scanner glass
            x, y = rng.randrange(gray.width), rng.randrange(gray.height)
            r = rng.choice([1, 1, 1, 2, 3])
            draw.ellipse((x, y, x + r, y + max(r // 2, 1)), fill=0)
        threshold = rng.randint(150, 185)
        frames.append(gray.point([255 if v > threshold else 0 for v in range(256)], "1"))
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:], compression="group4", dpi=dpi)
    return out.getvalue()


def _transmit(fax: Transmission, sheets: list[tuple[bytes, bytes]], rng: random.Random) -> bytes:
    """Fax the cover sheet and `sheets` (each a one-page PDF and what is written on it): every sheet a little
    crooked in the sender's feeder, the machine's line on top, received at standard resolution."""
    pages = len(sheets) + 1
    cover_blank = _cover_blank()
    stamped = []
    for number, (pdf, over) in enumerate([(cover_blank.pdf, _cover(fax, pages).content()), *sheets], start=1):
        width, height = LETTER_PT
        stamped.append(
            _stampable(pdf).copy(over=over, skew=rng.uniform(-0.5, 0.5), on_top=_tti(fax, number, pages, width, height))
        )
    return _rasterise(stamped, rng)


def _sender(case: Case) -> Sender:
    requestor = case.requestor
    rng = case.rng("sender")
    fax = requestor.fax or _fictional_number(rng, _area_code(requestor.phone))
    if not requestor.organization:
        # A patient or a family member, on a cover sheet of their own.
        return Sender(
            org=requestor.name,
            dept="",
            person=requestor.name,
            address=_address(requestor),
            phone=requestor.phone or _fictional_number(rng),
            fax=fax,
        )
    dept = {
        RequestorKind.ATTORNEY: "Records Department",
        RequestorKind.INSURER: "Claims Services",
        RequestorKind.PROVIDER: "Medical Records",
        RequestorKind.GOVERNMENT: "Records Unit",
    }.get(requestor.kind, "Office")
    return Sender(
        org=requestor.organization,
        dept=dept,
        person=requestor.name,
        address=_address(requestor),
        phone=requestor.phone,
        fax=fax,
    )


def _letter_body(case: Case, sender: Sender) -> dict[str, Any]:
    """Page 2 of a request that needs no signed authorization: the requestor's letter (or the court's order)."""
    rng = case.rng("letter")
    facility = case.facility
    patient = case.patient
    requestor = case.requestor
    written_on = case.received_on - timedelta(days=rng.randint(0, 3))
    to = ["Health Information Management / Release of Information", facility.name, facility.address]
    base = {"written_on": written_on, "to": to, "signer": requestor.name}
    if case.request_type == RequestType.LEGAL:
        court, court_short = COURTS.get(case.tenant.jurisdiction, ("District Court", "District Court"))
        judge = _fake(f"judge:{case.seed}").name()
        plaintiff = patient.full_name if rng.random() < 0.6 else _fake(f"plaintiff:{case.seed}").name()
        return {
            "kind": "court_order",
            "court": court,
            "court_short": court_short,
            "plaintiff": plaintiff.upper(),
            "defendant": rng.choice(["NORTHSIDE LOGISTICS, INC.", "CITY TRANSIT AUTHORITY", "HOMEGOODS WAREHOUSE LLC"]),
            "case_number": f"{written_on:%y}-CV-{rng.randint(1000, 99999):05d}",
            "department": rng.randint(2, 54),
            "applicant": requestor.organization or requestor.name,
            # Counsel applies for an order; an agency's records come on the court's own motion.
            "moved_by": f"Upon the application of {requestor.organization or requestor.name}, counsel for the "
            "plaintiff,"
            if requestor.kind == RequestorKind.ATTORNEY
            else "On the court's own motion,",
            "facility": facility.name,
            "patient": patient.full_name,
            "dob": patient.date_of_birth,
            "records": case.records_phrase,
            "period": case.period_phrase,
            "signed_on": written_on - timedelta(days=rng.randint(2, 10)),
            "judge": f"Hon. {judge}",
            "signature": signature_svg(judge, 200, 40, "#111"),
        }
    re_line = f"{patient.full_name}, date of birth {patient.date_of_birth:%m/%d/%Y}"
    if requestor.kind in (RequestorKind.PATIENT, RequestorKind.PERSONAL_REPRESENTATIVE):
        own = requestor.kind == RequestorKind.PATIENT
        whose = "my" if own else f"my {rng.choice(['mother', 'father', 'husband', 'wife', 'son', 'daughter'])}'s"
        if case.request_type == RequestType.ACCOUNTING:
            ask = (
                f"I am asking for an accounting of the disclosures of {whose} health information that your hospital "
                "made in the last six years, as the HIPAA rules allow."
            )
        else:
            ask = (
                f"I am asking for a copy of {whose} medical records: {case.records_phrase}, {case.period_phrase}. "
                "I would like an electronic copy if possible."
            )
        paragraphs = ["To whom it may concern,", ask]
        if not own:
            paragraphs.append(
                f"I am the health care agent of {patient.full_name} under a durable power of attorney for health care. "
                "A copy of the power of attorney is being sent with this letter."
            )
        paragraphs.append(
            f"{'My' if own else 'The patient'} date of birth is {patient.date_of_birth:%m/%d/%Y}. You can reach me at "
            f"{requestor.phone} or {requestor.email}. Thank you for your help."
        )
        return base | {
            "kind": "letter",
            "handwritten": True,
            "letterhead": None,
            "re": "Request for "
            + ("an accounting of disclosures" if case.request_type == RequestType.ACCOUNTING else "medical records"),
            "paragraphs": paragraphs,
            "closing": "Sincerely,",
            "signed_by": [requestor.name, _address(requestor)],
        }
    letterhead = {"org": sender.org, "address": sender.address, "phone": sender.phone, "fax": sender.fax}
    records = f"{case.records_phrase}, for {case.period_phrase}"
    if case.request_type == RequestType.CONTINUITY_OF_CARE:
        visit = case.received_on + timedelta(days=rng.randint(5, 21))
        paragraphs = [
            f"The above patient is under the care of our practice and has an appointment on {visit:%B} {visit.day}, "
            f"{visit.year} following care at {facility.name}. To coordinate that care, please send: {records}.",
            "These records are requested for treatment purposes; under 45 CFR 164.506(c) no authorization is "
            "required for a disclosure to another provider for treatment.",
            f"Please fax the records to {sender.fax}, attention Medical Records. Thank you for your prompt help.",
        ]
        signed_by = [requestor.name, f"Medical Records, {sender.org}"]
        subject = f"Records for continuity of care - {re_line}"
    elif case.request_type == RequestType.WORKERS_COMP:
        claim = f"WC-{rng.randint(100000, 999999)}"
        injury = case.received_on - timedelta(days=rng.randint(30, 200))
        paragraphs = [
            f"We administer the workers' compensation claim of the above employee (claim {claim}, date of injury "
            f"{injury:%m/%d/%Y}). Under {facility.state_name} workers' compensation law and 45 CFR 164.512(l), "
            f"please provide the records of treatment related to this work injury: {records}.",
            "Records unrelated to the work injury are not requested. Please include your invoice with the records.",
        ]
        signed_by = [requestor.name, f"Claims Specialist, {sender.org}"]
        subject = f"Workers' compensation claim {claim} - {re_line}"
    else:
        citation = {
            RequestType.LAW_ENFORCEMENT: "45 CFR 164.512(f)(1)(ii)(C). The information sought is relevant and "
            "material to a legitimate law enforcement inquiry, the request is specific and limited in scope to the "
            "extent reasonably practicable, and de-identified information could not reasonably be used",
            RequestType.PUBLIC_HEALTH: "45 CFR 164.512(b)(1)(i), for disease surveillance and investigation by a "
            "public health authority authorized by law to collect this information",
            RequestType.HEALTH_OVERSIGHT: "45 CFR 164.512(d), for an oversight investigation authorized by law",
        }.get(case.request_type, "the applicable law")
        paragraphs = [
            f"Pursuant to {citation}, we request the following records of the above individual: {records}.",
            "Please direct any questions to the undersigned. Thank you for your cooperation.",
        ]
        signed_by = [requestor.name, sender.org]
        subject = f"Request for records - {re_line}"
    return base | {
        "kind": "letter",
        "handwritten": False,
        "letterhead": letterhead,
        "re": subject,
        "paragraphs": paragraphs,
        "closing": "Sincerely,",
        "signed_by": signed_by,
    }


def _page_pdf(body: dict[str, Any]) -> bytes:
    """A page a fax carries after its cover: an order, a clinic note (templates/portal/pdf/demo/fax_page.html)."""
    return _render("portal/pdf/demo/fax_page.html", {"body": body}).write_pdf()


@functools.cache
def _plain_blank() -> Blank:
    """A plain sheet (with the demo's marking), for letters."""
    return _blank("portal/pdf/demo/fax_page.html", {"body": {"kind": "blank"}})


def _sheet(body: dict[str, Any]) -> tuple[bytes, bytes]:
    """A page sent after the cover, as (one-page PDF, what is drawn on it). A letter is set straight onto a plain
    sheet, as its sender's word processor (or pen) put it there; an order or a clinic note is laid out by WeasyPrint."""
    if body["kind"] != "letter":
        return _page_pdf(body), b""
    page = Overlay()
    left, right, y = 72.0, 540.0, 736.0
    if body["handwritten"]:
        font, bold, size, leading, color = "/DemoTimesItalic", "/DemoTimesItalic", 12.5, 21.0, INK
    else:
        font, bold, size, leading, color = "/DemoTimes", "/DemoTimesBold", 11.0, 15.0, BLACK
    text = {"font": font, "size": size, "color": color}
    head = body["letterhead"]
    if head:
        page.text_at(left, y, head["org"], font="/DemoHelveticaBold", size=15, color=BLACK)
        contact = f"{head['address']}  -  Tel {head['phone']}" + (f"  -  Fax {head['fax']}" if head["fax"] else "")
        page.text_at(left, y - 13, contact, font="/DemoHelvetica", size=8.5, color=BLACK)
        page.rule(left, y - 20, right, y - 20, 1.2)
        y -= 50
    written_on = body["written_on"]
    page.text_at(left, y, f"{written_on:%B} {written_on.day}, {written_on.year}", **text)
    y -= leading * 1.8
    for line in body["to"]:
        page.text_at(left, y, line, **text)
        y -= leading
    y -= leading * 0.7
    y = page.paragraph(left, y, right - left, f"Re: {body['re']}", font=bold, size=size, leading=leading, color=color)
    y -= leading * 0.7
    for paragraph in body["paragraphs"]:
        y = page.paragraph(left, y, right - left, paragraph, leading=leading, **text) - leading * 0.5
    page.text_at(left, y - leading * 0.3, body["closing"], **text)
    page.ops.append(signature_pdf(body["signer"], left, y - 50, 180, 38))
    y -= 64
    for line in body["signed_by"]:
        page.text_at(left, y, line, **text)
        y -= leading
    return _plain_blank().pdf, page.content()


@dataclass(frozen=True)
class ReceivedFax:
    content: bytes  # a Group 4 multi-page TIFF
    carries_authorization: bool  # page 2 is the signed authorization (else the requestor's letter or order)
    sender: str
    sender_fax: str
    pages: int


def intake_fax(case: Case) -> ReceivedFax:
    """The fax a request arrived by: a cover sheet and the signed authorization (when the request relies on one) or
    the requestor's letter, as a fax server delivers it (standard resolution, Group 4 TIFF)."""
    rng = case.rng("fax")
    sender = _sender(case)
    patient = case.patient
    if case.needs_signed_form:
        blank, form = _authorization(case, None, "", labelled=False)
        sheet = (blank.pdf, form.content())
        comments = [
            f"Attached is the signed authorization of {patient.full_name} (DOB {patient.date_of_birth:%m/%d/%Y}). "
            f"Please send the records listed on the form, {case.period_phrase}.",
            "Please include your invoice with the records, or call us with the fee before sending. Thank you.",
        ]
    else:
        body = _letter_body(case, sender)
        sheet = _sheet(body)
        comments = [
            "Please see the attached " + ("order." if body["kind"] == "court_order" else "request."),
            "Call us with any questions.",
        ]
    fax = Transmission(
        sender=sender,
        facility=case.facility,
        sent=datetime.combine(case.received_on, time(8)) + timedelta(minutes=rng.randint(0, 540)),
        subject=f"Records request - {patient.full_name}",
        comments=comments,
        flags=("Please reply", "Urgent") if rng.random() < 0.25 else ("Please reply",),
    )
    return ReceivedFax(
        content=_transmit(fax, [sheet], rng),
        carries_authorization=case.needs_signed_form,
        sender=sender.org,
        sender_fax=sender.fax,
        pages=2,
    )


def outside_records_fax(case: Case, *, visit_on: date, rng: random.Random) -> bytes:
    """Records an outside clinic faxed to the HIM department at its request: a cover sheet and an office visit note
    about the admission the hospital's chart tells."""
    facility = case.facility
    clinic, clinic_street = rng.choice(OUTSIDE_CLINICS)
    city = facility.address.split(",")[-2].strip() if facility.address.count(",") >= 2 else ""
    clinic_address = f"{clinic_street}, {city}, {case.tenant.jurisdiction}".replace(", ,", ",")
    area_code = _area_code(facility.phone)
    fake = _fake(f"clinic:{case.seed}")
    provider = f"{fake.first_name()} {fake.last_name()}, {rng.choice(['MD', 'DO', 'NP', 'PA-C'])}"
    staff = fake.name()
    sender = Sender(
        org=clinic,
        dept="Medical Records",
        person=staff,
        address=clinic_address,
        phone=_fictional_number(rng, area_code),
        fax=_fictional_number(rng, area_code),
    )
    patient = case.patient
    age = _age(patient.date_of_birth, visit_on)
    scenario = _scenario(case)
    words = _words(case, age)
    dx = _fmt(scenario["dx"], words)
    note = {
        "kind": "clinic_note",
        "clinic": clinic,
        "clinic_address": f"{clinic_address} - Tel {sender.phone} - Fax {sender.fax}",
        "visit_on": visit_on,
        "patient": patient,
        "age": age,
        "provider": provider,
        "reason": f"Follow-up: {dx.lower()}",
        "hpi": f"{words['Age_sex']} seen in follow-up after hospitalization at {facility.name} for {dx.lower()}. "
        + _fmt(scenario["followup_hpi"], words),
        "vitals": _vitals_line(_normal_vitals(age), rng),
        "exam": [_fmt(line, words) for line in scenario["clinic_exam"]],
        "plan": [
            f"{dx}: {_fmt(scenario['clinic_plan'], words)}",
            "Return to clinic as needed; sooner for new or worsening symptoms.",
        ],
    }
    sent = datetime.combine(visit_on + timedelta(days=rng.randint(1, 6)), time(9)) + timedelta(
        minutes=rng.randint(0, 420)
    )
    fax = Transmission(
        sender=sender,
        facility=facility,
        sent=sent,
        subject=f"Records requested - {patient.full_name}, DOB {patient.date_of_birth:%m/%d/%Y}",
        comments=[f"Office visit note of {visit_on:%m/%d/%Y}, as you requested.", f"{staff}, Medical Records"],
        flags=("For review",),
    )
    return _transmit(fax, [(_page_pdf(note), b"")], rng)


# --- The chart: a printed inpatient record ------------------------------------------------------------------------

# Clinical scenarios for the synthetic charts: common admissions with nothing in a sensitive category. Text takes
# {age}, {sex}, {he}, {He}, {his}, {weight} and {side}.
SCENARIOS: list[dict[str, Any]] = [
    {
        "key": "pneumonia",
        "ages": (18, 99),
        "dx": "Community-acquired pneumonia, right lower lobe",
        "icd": "J18.9",
        "los": (2, 4),
        "cc": "Cough, fever and shortness of breath for 4 days",
        "hpi": "{Age_sex} presenting with four days of productive cough with yellow sputum, subjective fevers, chills "
        "and progressive dyspnea on exertion. {He} reports pleuritic right-sided chest pain. No recent travel or "
        "hospitalization. In the emergency department {he} was febrile to 38.9 C, tachycardic, and hypoxic to 89% on "
        "room air, improving to 94% on 2 L nasal cannula.",
        "exam": [
            "General: alert, mildly ill-appearing, speaking in full sentences.",
            "Lungs: crackles at the right base with egophony; no wheezes.",
            "Heart: tachycardic, regular rhythm, no murmur.",
            "Extremities: no edema.",
        ],
        "course": "Admitted to the medical floor and started on ceftriaxone and azithromycin. Blood cultures remained "
        "negative and sputum culture grew normal respiratory flora. Fever resolved by hospital day 2 and oxygen was "
        "weaned to room air with ambulatory saturations of 94%. Antibiotics were changed to oral therapy to complete a "
        "five-day course.",
        "vitals": {"t": 38.9, "hr": 108, "rr": 22, "sbp": 118, "dbp": 70, "spo2": 89, "o2": "2 L NC"},
        "labs": {"WBC": 15.8, "Procalcitonin": 1.9, "Lactate": 2.4, "C-reactive protein": 142, "BUN": 24},
        "imaging": [
            (
                "XR Chest PA and Lateral",
                "Cough, fever, hypoxia.",
                "PA and lateral views of the chest.",
                "There is a dense airspace opacity in the right lower lobe with air bronchograms. No pleural effusion "
                "or pneumothorax. The cardiomediastinal silhouette is within normal limits. No acute osseous "
                "abnormality.",
                "Right lower lobe pneumonia. Follow-up radiographs in 6 to 8 weeks are recommended to document "
                "resolution.",
            )
        ],
        "inpatient": [
            "Ceftriaxone 1 g IV every 24 hours",
            "Azithromycin 500 mg IV every 24 hours",
            "Acetaminophen 650 mg PO every 6 hours as needed for fever",
            "Enoxaparin 40 mg subcutaneous daily",
            "Guaifenesin ER 600 mg PO every 12 hours",
        ],
        "discharge": [
            ("Amoxicillin-clavulanate", "875-125 mg PO twice daily for 3 more days", "Pneumonia", "New"),
            ("Azithromycin", "250 mg PO daily for 2 more days", "Pneumonia", "New"),
            ("Guaifenesin ER", "600 mg PO every 12 hours as needed", "Cough", "New"),
        ],
        "subjective": [
            "Still coughing; felt feverish overnight. Breathing a little easier on oxygen.",
            "Cough improving, no fever in 24 hours. Walked in the hallway with physical therapy.",
            "Feels much better, eating well, asking to go home.",
        ],
        "plan": [
            "Continue ceftriaxone and azithromycin. Wean oxygen to keep SpO2 above 92%. Follow blood cultures.",
            "Afebrile; blood cultures no growth at 48 hours. Continue antibiotics; incentive spirometry.",
            "Room air saturation 94% with ambulation. Change to oral antibiotics; discharge home today.",
        ],
        "followup": "Primary care physician in 7 days. Repeat chest radiograph in 6 to 8 weeks.",
        "followup_hpi": "Cough much improved; finished the antibiotics. No fever. Mild fatigue.",
        "clinic_exam": ["Lungs: clear to auscultation bilaterally, no crackles.", "Heart: regular rate and rhythm."],
        "clinic_plan": "clinically resolved. Repeat chest radiograph in 4 weeks to document resolution.",
    },
    {
        "key": "cellulitis",
        "ages": (18, 95),
        "dx": "Cellulitis of the {side} lower leg",
        "icd": "L03.116",
        "los": (2, 4),
        "cc": "Redness, swelling and pain of the {side} lower leg for 3 days",
        "hpi": "{Age_sex} who scraped the {side} shin while gardening and over three days noticed spreading redness, "
        "warmth and swelling, with a temperature of 38.4 C at home. No purulent drainage. Cephalexin started by urgent "
        "care two days ago without improvement.",
        "exam": [
            "{Side} lower leg: well-demarcated erythema from the ankle to the mid-shin, about 14 x 9 cm, warm and "
            "tender; borders marked. No fluctuance, crepitus or bullae.",
            "Distal pulses 2+ bilaterally. Sensation intact.",
        ],
        "course": "Admitted for intravenous cefazolin. The erythema receded steadily from the marked borders. Venous "
        "duplex ultrasound showed no deep venous thrombosis. The leg was elevated and the patient walked without "
        "difficulty. Transitioned to oral cephalexin before discharge.",
        "vitals": {"t": 38.3, "hr": 98, "rr": 18, "sbp": 132, "dbp": 80, "spo2": 97, "o2": "RA"},
        "labs": {"WBC": 13.1, "C-reactive protein": 96, "Lactate": 1.6},
        "imaging": [
            (
                "US Venous Duplex {Side} Lower Extremity",
                "Leg swelling and erythema; evaluate for deep venous thrombosis.",
                "Grayscale, color and spectral Doppler imaging of the deep veins from the common femoral vein to the "
                "calf veins.",
                "The common femoral, femoral and popliteal veins are fully compressible with normal color flow and "
                "phasic waveforms. The posterior tibial and peroneal veins are patent. Subcutaneous edema in the calf "
                "without a drainable fluid collection.",
                "1. No deep venous thrombosis of the {side} lower extremity. 2. Subcutaneous edema of the calf, "
                "consistent with the clinical history of cellulitis; no abscess.",
            )
        ],
        "inpatient": [
            "Cefazolin 2 g IV every 8 hours",
            "Acetaminophen 650 mg PO every 6 hours as needed for pain",
            "Enoxaparin 40 mg subcutaneous daily",
        ],
        "discharge": [
            ("Cephalexin", "500 mg PO four times daily for 5 days", "Cellulitis", "New"),
            ("Acetaminophen", "650 mg PO every 6 hours as needed", "Pain", "New"),
        ],
        "subjective": [
            "Leg still painful and warm; slept poorly.",
            "Less pain, redness fading from the marked line.",
            "Minimal pain, walking comfortably. Wants to go home.",
        ],
        "plan": [
            "Continue cefazolin; elevate the leg; duplex ultrasound to exclude DVT.",
            "Duplex negative for DVT. Erythema receding. Continue IV antibiotics another 24 hours.",
            "Change to oral cephalexin to complete 5 days. Discharge home.",
        ],
        "followup": "Primary care in 3 to 5 days to recheck the leg. Return if redness spreads past the marked border.",
        "followup_hpi": "Redness resolved after the antibiotics. Mild residual swelling by the end of the day.",
        "clinic_exam": ["{Side} leg: faint residual hyperpigmentation, no warmth or tenderness.", "Pulses intact."],
        "clinic_plan": "resolved. Moisturize dry skin; compression stockings for the residual edema.",
    },
    {
        "key": "appendicitis",
        "ages": (18, 80),
        "dx": "Acute appendicitis without perforation",
        "icd": "K35.80",
        "los": (1, 2),
        "cc": "Abdominal pain, right lower quadrant, since yesterday",
        "hpi": "{Age_sex} with periumbilical pain that began the previous evening and moved to the right lower "
        "quadrant, with anorexia, nausea and one episode of emesis. Pain is worse with movement. No diarrhea or "
        "urinary symptoms.",
        "exam": [
            "Abdomen: soft, tender in the right lower quadrant with voluntary guarding and a positive Rovsing sign; no "
            "rebound. Bowel sounds present.",
            "Heart and lungs: unremarkable.",
        ],
        "course": "CT of the abdomen and pelvis confirmed acute appendicitis without perforation. The patient had an "
        "uncomplicated laparoscopic appendectomy on the day of admission. Diet was advanced after surgery, pain was "
        "controlled with oral medication and the patient was walking independently. Pathology: acute suppurative "
        "appendicitis.",
        "vitals": {"t": 38.0, "hr": 96, "rr": 18, "sbp": 128, "dbp": 78, "spo2": 98, "o2": "RA"},
        "labs": {"WBC": 14.6, "C-reactive protein": 58},
        "imaging": [
            (
                "CT Abdomen and Pelvis with IV contrast",
                "Right lower quadrant pain.",
                "Axial images from the diaphragm to the pubic symphysis after intravenous contrast, with coronal and "
                "sagittal reformats.",
                "The appendix is dilated to 11 mm with wall thickening, mucosal hyperenhancement and surrounding fat "
                "stranding. An appendicolith is present at the base. No free air, abscess or free fluid. The liver, "
                "gallbladder, pancreas, spleen, kidneys and adrenal glands are unremarkable.",
                "Acute uncomplicated appendicitis with an appendicolith. No perforation or abscess.",
            )
        ],
        "operation": {
            "name": "Laparoscopic appendectomy",
            "anesthesia": "General endotracheal",
            "findings": "Inflamed, non-perforated appendix without abscess. No other intra-abdominal pathology.",
            "description": "The patient was placed supine and general anesthesia induced. The abdomen was prepped and "
            "draped. A 12 mm umbilical port was placed by open technique and pneumoperitoneum established; 5 mm ports "
            "were placed in the suprapubic and left lower quadrant positions. The appendix was identified, its "
            "mesoappendix divided with an energy device and its base divided with an endoscopic stapler. The specimen "
            "was removed in a retrieval bag. The staple line was hemostatic. Ports were removed under vision, the "
            "fascia at the umbilicus closed and the skin closed with absorbable suture.",
            "ebl": "Less than 10 mL",
            "specimens": "Appendix, to pathology",
        },
        "inpatient": [
            "Cefoxitin 2 g IV before incision",
            "Ondansetron 4 mg IV every 6 hours as needed for nausea",
            "Acetaminophen 1,000 mg PO every 8 hours",
            "Oxycodone 5 mg PO every 6 hours as needed for severe pain",
        ],
        "discharge": [
            ("Acetaminophen", "1,000 mg PO every 8 hours as needed for pain", "Post-operative pain", "New"),
            ("Ibuprofen", "600 mg PO every 6 hours with food as needed", "Post-operative pain", "New"),
            ("Docusate", "100 mg PO twice daily while on pain medication", "Constipation prevention", "New"),
        ],
        "subjective": [
            "Incisional soreness, tolerating clear liquids. Passing flatus.",
            "Pain controlled on oral medication; tolerating a regular diet; walking.",
            "Ready for discharge.",
        ],
        "plan": [
            "Post-operative day 1 after laparoscopic appendectomy. Advance diet, ambulate, oral analgesia.",
            "Tolerating diet; incisions clean. Discharge home with wound care instructions.",
            "Discharge home.",
        ],
        "followup": "General surgery clinic in 2 weeks. No lifting over 10 pounds for 2 weeks.",
        "followup_hpi": "Recovering well from surgery; incisions healing, back to a normal diet.",
        "clinic_exam": ["Abdomen: port sites clean, dry and healed; no tenderness."],
        "clinic_plan": "post-operative course uncomplicated. Resume full activity as tolerated.",
    },
    {
        "key": "heart_failure",
        "ages": (55, 99),
        "dx": "Acute on chronic systolic heart failure",
        "icd": "I50.23",
        "los": (3, 5),
        "cc": "Shortness of breath and leg swelling, worse over one week",
        "hpi": "{Age_sex} with heart failure with reduced ejection fraction and hypertension, presenting with one week "
        "of progressive dyspnea on exertion, two-pillow orthopnea and a weight gain of 4 kg. {He} reports a salty diet "
        "over the holidays and several missed doses of furosemide.",
        "exam": [
            "Neck: jugular venous distension to 10 cm.",
            "Lungs: bibasilar crackles.",
            "Heart: regular rhythm, S3 present, no murmur.",
            "Extremities: 2+ pitting edema to the knees bilaterally.",
        ],
        "course": "Admitted to telemetry and diuresed with intravenous furosemide, net negative 4.2 L over the stay "
        "with weight down 3.8 kg. Renal function remained stable. Echocardiogram showed a left ventricular ejection "
        "fraction of 30 to 35%. Guideline-directed medical therapy was resumed and spironolactone added. The heart "
        "failure nurse reviewed sodium restriction and daily weights.",
        "vitals": {"t": 36.7, "hr": 102, "rr": 24, "sbp": 154, "dbp": 92, "spo2": 90, "o2": "3 L NC"},
        "labs": {"BNP": 1480, "Troponin I, high sensitivity": 28, "Sodium": 133, "Creatinine": 1.4, "BUN": 31},
        "imaging": [
            (
                "XR Chest Portable AP",
                "Dyspnea and edema.",
                "Single portable AP view of the chest.",
                "The heart is enlarged. There is pulmonary vascular congestion with interstitial edema and small "
                "bilateral pleural effusions. No focal consolidation. No pneumothorax.",
                "Cardiomegaly with interstitial pulmonary edema and small bilateral effusions, compatible with "
                "congestive heart failure.",
            ),
            (
                "Transthoracic Echocardiogram",
                "Heart failure exacerbation.",
                "Complete two-dimensional, color and spectral Doppler study.",
                "The left ventricle is mildly dilated with global hypokinesis. Visually estimated ejection fraction 30 "
                "to 35%. Grade II diastolic dysfunction. Mild functional mitral regurgitation. Normal right "
                "ventricular size with mildly reduced function. Estimated right ventricular systolic pressure 42 mmHg.",
                "Left ventricular ejection fraction 30 to 35% with global hypokinesis, unchanged from the prior study.",
            ),
        ],
        "inpatient": [
            "Furosemide 40 mg IV twice daily",
            "Metoprolol succinate 25 mg PO daily",
            "Lisinopril 5 mg PO daily",
            "Enoxaparin 40 mg subcutaneous daily",
            "Potassium chloride 20 mEq PO per replacement protocol",
        ],
        "discharge": [
            ("Furosemide", "40 mg PO twice daily", "Heart failure", "Changed (was 20 mg daily)"),
            ("Metoprolol succinate", "25 mg PO daily", "Heart failure", "Continue"),
            ("Lisinopril", "5 mg PO daily", "Heart failure", "Continue"),
            ("Spironolactone", "12.5 mg PO daily", "Heart failure", "New"),
        ],
        "subjective": [
            "Breathing better after diuresis; still short of breath walking to the bathroom.",
            "Slept flat last night. Leg swelling improving.",
            "Feels back to baseline. Walked the unit twice without oxygen.",
        ],
        "plan": [
            "Continue IV furosemide, strict intake and output, daily weights, BMP daily.",
            "Good diuresis; creatinine stable. Continue IV diuresis one more day; echocardiogram today.",
            "Euvolemic. Change to oral furosemide 40 mg twice daily; add spironolactone. Discharge tomorrow if stable.",
        ],
        "followup": "Heart failure clinic in 7 days with a basic metabolic panel. Weigh daily; call for a gain over "
        "1 kg in a day or 2 kg in a week. Sodium under 2 g a day.",
        "followup_hpi": "Weights stable at home, no orthopnea. Taking medications as prescribed.",
        "clinic_exam": ["Neck: no jugular venous distension.", "Lungs: clear.", "Extremities: trace ankle edema."],
        "clinic_plan": "compensated. Continue current regimen; BMP today.",
    },
    {
        "key": "copd",
        "ages": (50, 95),
        "dx": "Chronic obstructive pulmonary disease with acute exacerbation",
        "icd": "J44.1",
        "los": (2, 4),
        "cc": "Worsening shortness of breath and wheezing for 3 days",
        "hpi": "{Age_sex} with COPD (former smoker, 40 pack-years) presenting with three days of increased dyspnea, "
        "wheezing and sputum production after a viral upper respiratory infection. Using the rescue inhaler every two "
        "hours without relief.",
        "exam": [
            "General: tripoding, speaking in short phrases on arrival; improved after nebulizers.",
            "Lungs: diffuse expiratory wheezes, prolonged expiratory phase, no crackles.",
            "Heart: regular, tachycardic.",
        ],
        "course": "Treated with scheduled bronchodilators, oral prednisone and doxycycline. Wheezing and work of "
        "breathing improved over 48 hours and oxygen was weaned to room air. Inhaler technique was reviewed and a "
        "pulmonary rehabilitation referral placed.",
        "vitals": {"t": 37.4, "hr": 110, "rr": 26, "sbp": 142, "dbp": 84, "spo2": 88, "o2": "2 L NC"},
        "labs": {"WBC": 11.9, "CO2": 31, "Glucose": 168},
        "imaging": [
            (
                "XR Chest PA and Lateral",
                "Dyspnea, wheezing.",
                "PA and lateral views of the chest.",
                "The lungs are hyperinflated with flattening of the hemidiaphragms. No focal consolidation, "
                "effusion or pneumothorax. Heart size is normal.",
                "Hyperinflation consistent with COPD. No acute cardiopulmonary process.",
            )
        ],
        "inpatient": [
            "Ipratropium-albuterol 0.5-2.5 mg nebulized every 4 hours",
            "Prednisone 40 mg PO daily",
            "Doxycycline 100 mg PO twice daily",
            "Enoxaparin 40 mg subcutaneous daily",
        ],
        "discharge": [
            ("Prednisone", "40 mg PO daily for 2 more days", "COPD exacerbation", "New"),
            ("Doxycycline", "100 mg PO twice daily for 3 more days", "COPD exacerbation", "New"),
            ("Tiotropium", "18 mcg inhaled daily", "COPD", "Continue"),
            ("Albuterol HFA", "2 puffs every 4 hours as needed", "COPD", "Continue"),
        ],
        "subjective": [
            "Still wheezy, but breathing easier after the nebulizers.",
            "Slept well. Cough productive of less sputum.",
            "Back to baseline breathing; walking without oxygen.",
        ],
        "plan": [
            "Scheduled nebulizers, prednisone day 1 of 5, doxycycline. Titrate oxygen to SpO2 88 to 92%.",
            "Improving. Space nebulizers to every 6 hours. Ambulatory oximetry tomorrow.",
            "Room air at rest and with exertion. Discharge home; pulmonary rehabilitation referral.",
        ],
        "followup": "Primary care or pulmonology in 1 to 2 weeks. Pulmonary rehabilitation referral placed.",
        "followup_hpi": "Breathing back to baseline after finishing prednisone. Enrolled in pulmonary rehabilitation.",
        "clinic_exam": ["Lungs: scattered end-expiratory wheezes, good air movement."],
        "clinic_plan": "stable. Continue tiotropium; annual influenza vaccine given today.",
    },
    {
        "key": "hip_fracture",
        "ages": (65, 99),
        "dx": "Closed intertrochanteric fracture of the {side} femur",
        "icd": "S72.141A",
        "los": (3, 5),
        "cc": "Fall at home with {side} hip pain, unable to bear weight",
        "hpi": "{Age_sex} who tripped over a rug at home and fell onto the {side} hip, with immediate pain and "
        "inability to stand. No head strike or loss of consciousness. Lives alone and walks without an assistive "
        "device.",
        "exam": [
            "{Side} lower extremity: shortened and externally rotated; pain with any hip motion. Distal pulses intact.",
            "Skin: no lacerations. Neurologic: alert and oriented, moves all other extremities.",
        ],
        "course": "Radiographs showed an intertrochanteric fracture. After medical optimization the patient underwent "
        "intramedullary nailing on hospital day 2 without complication. Physical therapy began on post-operative day "
        "1 with weight bearing as tolerated. Discharged to a skilled nursing facility for rehabilitation.",
        "vitals": {"t": 36.9, "hr": 94, "rr": 18, "sbp": 146, "dbp": 82, "spo2": 96, "o2": "RA"},
        "labs": {"Hemoglobin": 11.2, "Hematocrit": 33.5, "WBC": 11.4},
        "imaging": [
            (
                "XR Hip {Side} 2 views and Pelvis AP",
                "Fall, hip pain.",
                "AP pelvis and AP and lateral views of the {side} hip.",
                "There is a comminuted intertrochanteric fracture of the {side} femur with varus angulation and "
                "displacement of the lesser trochanter. The femoral head is seated in the acetabulum. Degenerative "
                "changes of both hips. No other fracture.",
                "Comminuted intertrochanteric fracture of the {side} femur.",
            )
        ],
        "operation": {
            "name": "Intramedullary nailing, {side} intertrochanteric femur fracture",
            "anesthesia": "Spinal with sedation",
            "findings": "Unstable intertrochanteric fracture, reduced anatomically on the fracture table.",
            "description": "The patient was positioned on the fracture table and closed reduction obtained under "
            "fluoroscopy. The {side} hip was prepped and draped. A guide wire was placed through the tip of the "
            "greater trochanter, the canal reamed and a cephalomedullary nail inserted. A lag screw was placed in "
            "center-center position in the femoral head with a tip-apex distance under 25 mm, and a distal "
            "interlocking screw placed. Final images showed good reduction and hardware position. The wounds were "
            "irrigated and closed in layers.",
            "ebl": "150 mL",
            "specimens": "None",
        },
        "inpatient": [
            "Cefazolin 2 g IV every 8 hours for 24 hours",
            "Enoxaparin 40 mg subcutaneous daily",
            "Acetaminophen 1,000 mg PO every 8 hours",
            "Oxycodone 2.5 mg PO every 6 hours as needed for severe pain",
            "Senna 8.6 mg PO nightly",
        ],
        "discharge": [
            ("Enoxaparin", "40 mg subcutaneous daily for 4 weeks", "DVT prophylaxis", "New"),
            ("Acetaminophen", "1,000 mg PO every 8 hours", "Pain", "New"),
            ("Oxycodone", "2.5 mg PO every 6 hours as needed, 3-day supply", "Severe pain", "New"),
            ("Calcium with vitamin D", "600 mg-800 units PO twice daily", "Bone health", "New"),
        ],
        "subjective": [
            "Hip pain controlled at rest. Anxious about surgery.",
            "Post-operative day 1: pain 4/10; sat in a chair with physical therapy.",
            "Walked 40 feet with a walker. Bowels moving.",
        ],
        "plan": [
            "Orthopedics to fix today. Hold anticoagulation morning of surgery. Delirium precautions.",
            "Post-operative day 1. Weight bearing as tolerated. Hemoglobin stable. Start enoxaparin.",
            "Progressing with therapy. Accepted at a skilled nursing facility; discharge tomorrow.",
        ],
        "followup": "Orthopedic surgery in 2 weeks for wound check and radiographs. Bone density study and "
        "osteoporosis treatment with primary care.",
        "followup_hpi": "Walking with a walker at home after rehabilitation. Pain minimal.",
        "clinic_exam": ["{Side} hip: incisions healed; painless range of motion; walks with a walker."],
        "clinic_plan": "healing well. Continue home exercise program; bone density scan ordered.",
    },
    {
        "key": "kidney_stone",
        "ages": (20, 75),
        "dx": "Calculus of the {side} ureter with hydronephrosis",
        "icd": "N13.2",
        "los": (1, 2),
        "cc": "Severe {side} flank pain with vomiting",
        "hpi": "{Age_sex} with sudden, colicky {side} flank pain radiating to the groin since early morning, with "
        "nausea, two episodes of vomiting and blood in the urine. No fever. Similar episode five years ago.",
        "exam": [
            "General: uncomfortable, shifting position on the stretcher.",
            "Abdomen: soft; {side} costovertebral angle tenderness.",
        ],
        "course": "CT showed a 5 mm obstructing stone at the {side} ureterovesical junction with mild hydronephrosis. "
        "Pain was controlled with ketorolac and the patient was started on tamsulosin. Urinalysis showed no infection. "
        "Tolerating oral intake, the patient was discharged with a strainer and urology follow-up.",
        "vitals": {"t": 36.9, "hr": 104, "rr": 20, "sbp": 150, "dbp": 90, "spo2": 99, "o2": "RA"},
        "labs": {"Creatinine": 1.3, "WBC": 11.2},
        "imaging": [
            (
                "CT Abdomen and Pelvis without contrast (stone protocol)",
                "{Side} flank pain, hematuria.",
                "Low-dose axial images from the kidneys through the bladder without contrast.",
                "A 5 x 4 mm calculus at the {side} ureterovesical junction with mild upstream hydroureteronephrosis "
                "and perinephric stranding. Two punctate non-obstructing calculi in the contralateral kidney. Normal "
                "appendix. No free fluid.",
                "Obstructing 5 mm {side} ureterovesical junction calculus with mild hydronephrosis.",
            )
        ],
        "inpatient": [
            "Ketorolac 15 mg IV every 6 hours as needed for pain",
            "Ondansetron 4 mg IV every 6 hours as needed for nausea",
            "Lactated Ringer's 125 mL/hour IV",
            "Tamsulosin 0.4 mg PO daily",
        ],
        "discharge": [
            ("Tamsulosin", "0.4 mg PO daily until the stone passes", "Ureteral stone", "New"),
            ("Ibuprofen", "600 mg PO every 6 hours with food as needed", "Pain", "New"),
            ("Ondansetron ODT", "4 mg every 8 hours as needed", "Nausea", "New"),
        ],
        "subjective": [
            "Pain controlled overnight; tolerating liquids.",
            "Pain free this morning.",
            "Ready to go home.",
        ],
        "plan": [
            "Tamsulosin, analgesia, strain urine. Urology aware.",
            "Tolerating diet, pain controlled orally. Discharge with urology follow-up.",
            "Discharge.",
        ],
        "followup": "Urology in 1 to 2 weeks with a KUB radiograph. Strain urine and bring any stone.",
        "followup_hpi": "Passed the stone at home three days after discharge; no further pain.",
        "clinic_exam": ["Abdomen: soft, non-tender; no costovertebral angle tenderness."],
        "clinic_plan": "stone passed. Increase fluid intake; stone analysis sent.",
    },
    {
        "key": "asthma",
        "ages": (2, 17),
        "dx": "Moderate persistent asthma with acute exacerbation",
        "icd": "J45.41",
        "los": (1, 2),
        "cc": "Wheezing and trouble breathing since last night",
        "hpi": "{Age_sex} with asthma, brought in by a parent for wheezing, cough and increased work of breathing "
        "that began after a cold. Albuterol at home every 2 to 3 hours without lasting relief. No fever. "
        "Immunizations up to date.",
        "exam": [
            "General: tachypneic with subcostal retractions; improved after treatment.",
            "Lungs: diffuse expiratory wheezes with decreased air entry at the bases.",
            "Heart: tachycardic, no murmur.",
        ],
        "course": "Received albuterol nebulizers and a dose of dexamethasone in the emergency department and was "
        "admitted for continued bronchodilator therapy. Albuterol was spaced to every 4 hours by the morning after "
        "admission. Asthma action plan and spacer technique were reviewed with the family.",
        "vitals": {"t": 37.3, "hr": 138, "rr": 34, "sbp": 108, "dbp": 64, "spo2": 91, "o2": "1 L NC"},
        "labs": {},
        "imaging": [
            (
                "XR Chest PA and Lateral",
                "Wheezing, increased work of breathing.",
                "PA and lateral views of the chest.",
                "The lungs are hyperinflated with peribronchial thickening. No focal consolidation, effusion or "
                "pneumothorax. Normal cardiothymic silhouette.",
                "Hyperinflation and peribronchial thickening, consistent with reactive airway disease or viral "
                "infection. No pneumonia.",
            )
        ],
        "inpatient": [
            "Albuterol 2.5 mg nebulized every 2 hours, spaced to every 4 hours",
            "Dexamethasone 0.6 mg/kg PO once ({dexa} mg)",
            "Ipratropium 0.25 mg nebulized every 20 minutes x 3 in the emergency department",
        ],
        "discharge": [
            ("Albuterol HFA with spacer", "4 puffs every 4 hours as needed", "Asthma", "Continue"),
            ("Fluticasone HFA 44 mcg", "2 puffs twice daily with spacer", "Asthma control", "New"),
        ],
        "subjective": [
            "Per parent, breathing easier overnight; eating breakfast.",
            "Playing in the room; no retractions.",
            "Ready for home.",
        ],
        "plan": [
            "Albuterol every 4 hours, wean as tolerated. Asthma education.",
            "Tolerating albuterol every 4 hours. Start inhaled fluticasone. Discharge home.",
            "Discharge.",
        ],
        "followup": "Pediatrician in 2 to 3 days. Follow the asthma action plan; return for breathing difficulty.",
        "followup_hpi": "No wheezing since discharge; using the controller inhaler twice daily.",
        "clinic_exam": ["Lungs: clear, good air movement, no retractions."],
        "clinic_plan": "well controlled. Continue fluticasone; review the action plan with school.",
    },
    {
        "key": "pediatric_pneumonia",
        "ages": (1, 17),
        "dx": "Community-acquired pneumonia",
        "icd": "J18.9",
        "los": (1, 3),
        "cc": "Fever and cough for 3 days, fast breathing",
        "hpi": "{Age_sex} brought in by a parent with three days of fever to 39.4 C, cough and decreased oral intake, "
        "with fast breathing noted today. Fewer wet diapers or voids than usual. Immunizations up to date.",
        "exam": [
            "General: tired-appearing but consolable.",
            "Lungs: crackles over the right lower lung field, mild subcostal retractions.",
            "Mucous membranes slightly dry; capillary refill 2 seconds.",
        ],
        "course": "Admitted for intravenous ampicillin, fluids and supplemental oxygen. Fever curve improved within "
        "24 hours and oxygen was weaned to room air. Oral intake recovered and the patient was changed to high-dose "
        "amoxicillin to complete the course at home.",
        "vitals": {"t": 39.1, "hr": 142, "rr": 38, "sbp": 100, "dbp": 60, "spo2": 91, "o2": "1 L NC"},
        "labs": {"WBC": 17.2, "C-reactive protein": 88},
        "imaging": [
            (
                "XR Chest PA and Lateral",
                "Fever, cough, tachypnea.",
                "PA and lateral views of the chest.",
                "Focal airspace opacity in the right lower lobe. No pleural effusion. Normal cardiothymic silhouette.",
                "Right lower lobe pneumonia.",
            )
        ],
        "inpatient": [
            "Ampicillin 50 mg/kg IV every 6 hours ({ampi} mg)",
            "Acetaminophen 15 mg/kg PO every 6 hours as needed for fever",
            "Dextrose 5% in 0.9% saline at maintenance rate",
        ],
        "discharge": [
            ("Amoxicillin", "45 mg/kg PO twice daily ({amox} mg) for 5 more days", "Pneumonia", "New"),
            ("Acetaminophen", "15 mg/kg PO every 6 hours as needed", "Fever", "New"),
        ],
        "subjective": [
            "Per parent, fever overnight but drinking more.",
            "No fever since yesterday afternoon; eating and playing.",
            "Back to baseline.",
        ],
        "plan": [
            "Continue ampicillin and IV fluids; wean oxygen.",
            "Afebrile 24 hours on room air. Change to oral amoxicillin; discharge if tolerating.",
            "Discharge.",
        ],
        "followup": "Pediatrician in 2 to 3 days. Return for difficulty breathing or persistent fever.",
        "followup_hpi": "Finished the amoxicillin; no fever, cough nearly gone.",
        "clinic_exam": ["Lungs: clear bilaterally; no increased work of breathing."],
        "clinic_plan": "resolved. No further testing needed.",
    },
]

LAB_TESTS: dict[str, tuple[str, str, float, float, float, float, int]] = {
    # name: (panel, unit, low, high, typical, spread, decimals)
    "WBC": ("Complete blood count", "x10^3/uL", 4.0, 11.0, 7.2, 1.4, 1),
    "Hemoglobin": ("Complete blood count", "g/dL", 12.0, 17.5, 13.9, 0.9, 1),
    "Hematocrit": ("Complete blood count", "%", 36.0, 50.0, 41.5, 2.5, 1),
    "Platelets": ("Complete blood count", "x10^3/uL", 150, 400, 245, 45, 0),
    "Sodium": ("Basic metabolic panel", "mmol/L", 135, 145, 139, 1.8, 0),
    "Potassium": ("Basic metabolic panel", "mmol/L", 3.5, 5.1, 4.1, 0.25, 1),
    "Chloride": ("Basic metabolic panel", "mmol/L", 98, 107, 102, 1.8, 0),
    "CO2": ("Basic metabolic panel", "mmol/L", 22, 29, 25, 1.5, 0),
    "BUN": ("Basic metabolic panel", "mg/dL", 7, 20, 14, 3, 0),
    "Creatinine": ("Basic metabolic panel", "mg/dL", 0.6, 1.2, 0.88, 0.12, 2),
    "Glucose": ("Basic metabolic panel", "mg/dL", 70, 99, 94, 8, 0),
    "Calcium": ("Basic metabolic panel", "mg/dL", 8.6, 10.3, 9.3, 0.25, 1),
    "Magnesium": ("Other chemistry", "mg/dL", 1.7, 2.4, 2.0, 0.12, 1),
    "C-reactive protein": ("Inflammation", "mg/L", 0.0, 10.0, 4.0, 2.0, 0),
    "Procalcitonin": ("Inflammation", "ng/mL", 0.0, 0.1, 0.05, 0.02, 2),
    "Lactate": ("Other chemistry", "mmol/L", 0.5, 2.0, 1.1, 0.25, 1),
    "BNP": ("Cardiac", "pg/mL", 0.0, 100.0, 60, 20, 0),
    "Troponin I, high sensitivity": ("Cardiac", "ng/L", 0.0, 20.0, 6, 3, 0),
}
BASE_LABS = ["WBC", "Hemoglobin", "Hematocrit", "Platelets", "Sodium", "Potassium", "Chloride", "CO2", "BUN",
             "Creatinine", "Glucose", "Calcium", "Magnesium"]  # fmt: skip

HOME_MEDS = [
    ("Lisinopril", "10 mg PO daily", "Hypertension"),
    ("Atorvastatin", "40 mg PO at bedtime", "Hyperlipidemia"),
    ("Metformin", "500 mg PO twice daily with meals", "Type 2 diabetes mellitus"),
    ("Amlodipine", "5 mg PO daily", "Hypertension"),
    ("Levothyroxine", "75 mcg PO daily before breakfast", "Hypothyroidism"),
    ("Omeprazole", "20 mg PO daily", "Gastroesophageal reflux disease"),
    ("Aspirin", "81 mg PO daily", "Cardiovascular prevention"),
]
MIDSTAY_SUBJECTIVE = [
    "Feels better than yesterday; no new complaints overnight.",
    "Slept well. Appetite returning. No new symptoms.",
    "Some fatigue, otherwise improving. Asking about discharge timing.",
]
ALLERGIES = ["No known drug allergies"] * 4 + ["Sulfa antibiotics (hives)", "Codeine (nausea)", "Latex (rash)"]


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


@functools.cache
def _name_weights() -> tuple[dict[str, float], dict[str, float]]:
    from faker.providers.person.en_US import Provider

    return dict(Provider.first_names_female), dict(Provider.first_names_male)


def _sex(first_name: str) -> str:
    female, male = _name_weights()
    f, m = female.get(first_name, 0.0), male.get(first_name, 0.0)
    if f == m:
        return "female" if sum(map(ord, first_name)) % 2 else "male"
    return "female" if f > m else "male"


def _weight_kg(age: int) -> int:
    return age * 3 + 7 if age <= 12 else min(45 + (age - 12) * 4, 70)


def _words(case: Case, age: int) -> dict[str, Any]:
    """What scenario text is formatted with: the same side of the body in every document of the case."""
    sex = _sex(case.patient.first_name)
    side = case.rng("side").choice(["left", "right"])
    weight = _weight_kg(age)
    child = "girl" if sex == "female" else "boy"
    person = sex if age >= 18 else child
    he = "she" if sex == "female" else "he"
    return {
        "Age_sex": f"{age}-year-old {person}" if age >= 2 else f"{age}-year-old {child}",
        "he": he,
        "He": he.capitalize(),
        "his": "her" if sex == "female" else "his",
        "side": side,
        "Side": side.capitalize(),
        "weight": weight,
        "dexa": min(round(weight * 0.6), 16),
        "ampi": round(weight * 50 / 25) * 25,
        "amox": min(round(weight * 45 / 50) * 50, 2000),
    }


def _scenario(case: Case) -> dict[str, Any]:
    """The case's admission: the same in the hospital's chart and in an outside clinic's follow-up note."""
    age = _age(case.patient.date_of_birth, case.received_on)
    fitting = [s for s in SCENARIOS if s["ages"][0] <= age <= s["ages"][1]]
    return case.rng("scenario").choice(fitting or SCENARIOS)


def _normal_vitals(age: int) -> dict[str, Any]:
    if age < 6:
        return {"t": 36.9, "hr": 110, "rr": 26, "sbp": 98, "dbp": 58, "spo2": 98, "o2": "RA"}
    if age < 13:
        return {"t": 36.8, "hr": 92, "rr": 20, "sbp": 106, "dbp": 64, "spo2": 98, "o2": "RA"}
    return {"t": 36.8, "hr": 76, "rr": 16, "sbp": 124, "dbp": 76, "spo2": 97, "o2": "RA"}


def _vitals_between(start: dict[str, Any], end: dict[str, Any], f: float, rng: random.Random) -> dict[str, Any]:
    def mix(key: str, noise: float) -> float:
        return start[key] + (end[key] - start[key]) * f + rng.uniform(-noise, noise)

    return {
        "t": round(mix("t", 0.2), 1),
        "hr": round(mix("hr", 5)),
        "rr": round(mix("rr", 1.5)),
        "sbp": round(mix("sbp", 8)),
        "dbp": round(mix("dbp", 5)),
        "spo2": min(round(mix("spo2", 1)), 100),
        "o2": start["o2"] if f < 0.5 else end["o2"],
    }


def _vitals_line(v: dict[str, Any], rng: random.Random) -> str:
    return f"T {v['t']:.1f} C, HR {v['hr']}, BP {v['sbp']}/{v['dbp']}, RR {v['rr']}, SpO2 {v['spo2']}% on {v['o2']}" + (
        f", weight {rng.randint(50, 110)} kg" if rng.random() < 0.3 else ""
    )


def _lab_value(name: str, value: float) -> tuple[str, str]:
    _panel, _unit, low, high, _typical, _spread, decimals = LAB_TESTS[name]
    text = f"{value:.{decimals}f}"
    flag = "H" if value > high else "L" if value < low else ""
    return text, flag


def _lab_table(scenario: dict[str, Any], draws: list[datetime], rng: random.Random) -> dict[str, Any]:
    names = BASE_LABS + [n for n in scenario["labs"] if n not in BASE_LABS]
    head = ["Test", *[f"{d:%m/%d %H:%M}" for d in draws], "Units", "Reference"]
    rows: list[dict[str, Any]] = []
    panel = None
    for name in sorted(
        names, key=lambda n: list(dict.fromkeys(v[0] for v in LAB_TESTS.values())).index(LAB_TESTS[n][0])
    ):
        group, unit, low, high, typical, spread, _decimals = LAB_TESTS[name]
        if group != panel:
            rows.append({"panel": group})
            panel = group
        start = scenario["labs"].get(name)
        normal = typical + rng.uniform(-spread, spread)
        if start is not None:
            start = start * rng.uniform(0.92, 1.08)
        repeated = name in BASE_LABS[:12] or (start is not None and name not in ("Procalcitonin",))
        cells = [{"text": name}]
        for index in range(len(draws)):
            if index and not repeated:
                cells.append({"text": "--", "num": True})
                continue
            f = index / max(len(draws) - 1, 1)
            value = (start + (normal - start) * f * rng.uniform(0.55, 0.95)) if start is not None else normal
            value = max(value + rng.uniform(-spread, spread) * 0.3 * (index > 0), 0.0)
            text, flag = _lab_value(name, value)
            cells.append({"text": f"{text} {flag}".strip(), "num": True, "flag": bool(flag)})
        reference = f"<{high:g}" if low == 0 else f"{low:g}-{high:g}"
        cells += [{"text": unit}, {"text": reference}]
        rows.append({"cells": cells})
    return _as_report({"kind": "table", "head": head, "rows": rows})


def _as_report(table: dict[str, Any]) -> dict[str, Any]:
    """A table as the fixed-width text report a laboratory or flowsheet printout is: one text block, which WeasyPrint
    lays out far faster than a grid of cells."""
    head = table["head"]
    rows = [row for row in table["rows"] if "cells" in row]
    widths = [max(len(head[i]), *(len(row["cells"][i]["text"]) for row in rows)) for i in range(len(head))]

    def line(texts: list[str], numeric: list[bool]) -> str:
        return "  ".join(
            t.rjust(w) if num else t.ljust(w) for t, w, num in zip(texts, widths, numeric, strict=True)
        ).rstrip()

    numeric = [bool(cell.get("num")) for cell in rows[0]["cells"]] if rows else [False] * len(head)
    body = []
    for row in table["rows"]:
        if "panel" in row:
            body.append(
                f"-- {row['panel'].upper()} " + "-" * max(sum(widths) + 2 * len(widths) - len(row["panel"]) - 5, 3)
            )
        else:
            body.append(line([cell["text"] for cell in row["cells"]], numeric))
    return {"kind": "report", "head": line(head, numeric), "body": "\n".join(body)}


@functools.cache
def _clinicians(slug: str) -> dict[str, list[str]]:
    """The demo hospital's clinicians, the same on every chart of that hospital."""
    fake = _fake(f"clinicians:{slug}")

    def names(n: int, suffix: str) -> list[str]:
        return [f"{fake.first_name()} {fake.last_name()}, {suffix}" for _ in range(n)]

    return {
        "hospitalist": names(5, "MD"),
        "pediatrician": names(2, "MD"),
        "surgeon": names(3, "MD"),
        "radiologist": names(3, "MD"),
        "emergency": names(3, "MD"),
        "nurse": names(6, "RN"),
        "pharmacist": names(2, "PharmD"),
        "therapist": names(2, "PT, DPT"),
    }


def _fmt(text: str, words: dict[str, Any]) -> str:
    return text.format(**words)


def _therapy_evaluation(
    scenario: dict[str, Any],
    words: dict[str, Any],
    age: int,
    admitted_on: date,
    los: int,
    staff: dict[str, list[str]],
    rng: random.Random,
) -> dict[str, Any]:
    """A physical therapy evaluation during the stay."""
    therapist = rng.choice(staff["therapist"])
    moment = datetime.combine(admitted_on + timedelta(days=min(1, los)), time(rng.randint(9, 15), rng.randint(0, 59)))
    surgical_hip = scenario["key"] == "hip_fracture"
    distance = rng.choice([40, 60, 80]) if surgical_hip else rng.choice([150, 200, 300])
    device = "front-wheeled walker" if surgical_hip or age >= 80 else "no assistive device"
    return {
        "title": "Physical Therapy Evaluation",
        "meta": [
            ("Date", f"{moment:%m/%d/%Y %H:%M}"),
            ("Therapist", therapist),
            ("Diagnosis", _fmt(scenario["dx"], words)),
        ],
        "blocks": [
            {"kind": "h", "text": "Prior level of function"},
            {
                "kind": "p",
                "text": "Independent with mobility and activities of daily living"
                + (" at home and school." if age < 18 else "; drives; no falls in the past year except as noted."),
            },
            {"kind": "h", "text": "Subjective"},
            {"kind": "p", "text": "Agreeable to therapy. Pain " + str(rng.randint(1, 5)) + "/10 at rest."},
            {"kind": "h", "text": "Objective"},
            {
                "kind": "kv",
                "items": [
                    ("Bed mobility:", "Supervision" if surgical_hip else "Independent"),
                    ("Transfers:", "Contact guard assist" if surgical_hip else "Independent"),
                    ("Gait:", f"{distance} feet with {device}"),
                    ("Balance:", "Fair, standing" if surgical_hip else "Good, standing and sitting"),
                    ("Stairs:", "Not attempted" if surgical_hip else "12 steps with one rail"),
                    ("Vital signs:", "Stable throughout; no desaturation with activity"),
                ],
            },
            {"kind": "h", "text": "Assessment"},
            {
                "kind": "p",
                "text": "Below baseline mobility; rehabilitation needed before home."
                if surgical_hip
                else "Mobility near baseline; safe to return home from a mobility standpoint.",
            },
            {"kind": "h", "text": "Plan"},
            {
                "kind": "ul",
                "items": [
                    "Gait and transfer training daily",
                    "Home exercise program reviewed",
                    "Recommend skilled nursing facility" if surgical_hip else "No therapy needs after discharge",
                ],
            },
            {
                "kind": "esign",
                "text": f"Electronically signed by {therapist} on {moment + timedelta(minutes=50):%m/%d/%Y at %H:%M}",
            },
        ],
    }


NURSING_ENTRIES = [
    "Alert and oriented x4. Vital signs stable. Pain {pain}/10, medicated per order with relief. Call light in reach.",
    "Ambulated in the hallway with steady gait. Tolerating diet. Voiding without difficulty. No acute distress.",
    "Resting comfortably overnight. IV site clean, dry and intact. Bed in low position, fall precautions in place.",
    "Medications given as ordered; patient verbalized understanding of each. Family at bedside, questions answered.",
    "Incentive spirometry encouraged and performed. Lungs reviewed with provider on rounds. Plan of care updated.",
    "Intake and output recorded. Skin intact, repositioning independently. Safety checks completed.",
]


def _nursing_notes(
    scenario: dict[str, Any],
    words: dict[str, Any],
    age: int,
    admit_time: datetime,
    los: int,
    staff: dict[str, list[str]],
    rng: random.Random,
) -> dict[str, Any]:
    """Nursing shift notes, two a day."""
    notes = []
    first = admit_time.date()
    for shift in range(min(2 * los + 1, 8)):
        day, night = divmod(shift, 2)
        moment = datetime.combine(first + timedelta(days=day), time(18 if night == 0 else 5, rng.randint(0, 59)))
        if moment < admit_time:
            continue
        nurse = staff["nurse"][(shift + rng.randint(0, 5)) % len(staff["nurse"])]
        entry = rng.choice(NURSING_ENTRIES).format(pain=rng.randint(0, 4))
        notes.append(
            {
                "kind": "note",
                "title": f"Nursing Note - {moment:%m/%d/%Y %H:%M}",
                "author": nurse,
                "parts": [("", entry + (" Parent at bedside." if age < 18 else ""))],
            }
        )
    return {
        "title": "Nursing Notes",
        "meta": [("Unit", "Pediatrics" if age < 18 else "Medical-Surgical, 4 West")],
        "blocks": notes,
    }


def _discharge_instructions(
    scenario: dict[str, Any],
    words: dict[str, Any],
    age: int,
    discharged_on: date,
    discharge_meds: list[tuple[str, str, str, str]],
    attending: str,
    rng: random.Random,
) -> dict[str, Any]:
    """What the patient went home with."""
    you = "your child" if age < 18 else "you"
    return {
        "title": "Discharge Instructions",
        "meta": [("Date", f"{discharged_on:%m/%d/%Y}"), ("Physician", attending)],
        "blocks": [
            {
                "kind": "p",
                "text": f"{'Your child was' if age < 18 else 'You were'} in the hospital for: "
                f"{_fmt(scenario['dx'], words).lower()}.",
            },
            {"kind": "h", "text": "Medications"},
            {"kind": "ul", "items": [f"{name}: {sig}" for name, sig, _why, _status in discharge_meds]},
            {"kind": "h", "text": "Activity and diet"},
            {
                "kind": "p",
                "text": "Increase activity as tolerated; rest when tired. Regular diet; drink plenty of fluids."
                + (" No lifting over 10 pounds for 2 weeks." if "operation" in scenario else ""),
            },
            {"kind": "h", "text": "Follow-up"},
            {"kind": "p", "text": scenario["followup"]},
            {"kind": "h", "text": "Call the doctor or return to the emergency department if " + you + " have"},
            {
                "kind": "ul",
                "items": [
                    "Fever over 38.5 C (101.3 F)",
                    "Trouble breathing or chest pain",
                    "Pain not controlled by the medicines above",
                    "Vomiting that does not stop",
                ],
            },
            {
                "kind": "p",
                "text": "I received these instructions and a copy of my medication list, and my questions were "
                "answered.",
            },
            {
                "kind": "kv",
                "items": [
                    ("Patient or guardian:", "Signed on paper at discharge"),
                    ("Nurse:", rng.choice(["Copy given", "Reviewed with patient"])),
                ],
            },
        ],
    }


def chart_pdf(case: Case, *, discharged_on: date, printed_at: datetime) -> tuple[bytes, date, int]:
    """A printed inpatient record of the request's patient, 4 to 12 pages: discharge summary, history and physical,
    progress notes, reports, results, medications. One WeasyPrint pass. Returns the PDF, the admission date and the
    page count."""
    rng = case.rng("chart")
    patient = case.patient
    staff = _clinicians(case.tenant.slug)
    age = _age(patient.date_of_birth, discharged_on)
    sex = _sex(patient.first_name)
    words = _words(case, age)
    scenario = _scenario(case)
    los = rng.randint(*scenario["los"])
    admitted_on = discharged_on - timedelta(days=los)
    attending = rng.choice(staff["pediatrician" if age < 18 else "hospitalist"])
    surgeon = rng.choice(staff["surgeon"])
    radiologist = rng.choice(staff["radiologist"])
    ed_doc = rng.choice(staff["emergency"])
    dx = _fmt(scenario["dx"], words)
    arrived = datetime.combine(admitted_on, time(rng.randint(0, 16), rng.randint(0, 59)))
    admit_time = arrived + timedelta(minutes=rng.randint(150, 330))
    target = rng.randint(4, 12)
    allergies = rng.choice(ALLERGIES)
    home = rng.sample(HOME_MEDS, k=rng.randint(1, 4)) if age >= 45 and scenario["key"] != "heart_failure" else []
    pmh = sorted({m[2] for m in home}) or (["Asthma"] if scenario["key"] == "asthma" else ["None"])
    if scenario["key"] == "heart_failure":
        pmh = ["Heart failure with reduced ejection fraction", "Hypertension", "Hyperlipidemia"]
    elif scenario["key"] == "copd":
        pmh = ["Chronic obstructive pulmonary disease", *[p for p in pmh if p != "None"]]
    start_vitals = dict(scenario["vitals"])
    normal = _normal_vitals(age)
    exam = [_fmt(line, words) for line in scenario["exam"]]
    encounter = {
        "kind": "Inpatient admission",
        "account": f"{case.tenant.slug[:1].upper()}{admitted_on:%y%m}{rng.randint(10000, 99999)}",
        "admitted_on": admitted_on,
        "discharged_on": discharged_on,
        "attending": attending,
    }
    docs: list[dict[str, Any]] = []
    # Which documents the chart has: the four of every admission, then others in order until it is about `target`
    # pages long (one page each; progress notes take a page per three days).
    planned = 3 + max(1, round(los / 3))
    options = ["ed"] if RecordType.EMERGENCY in case.record_types else []
    options += ["op"] if "operation" in scenario else []
    options += ["radiology", "hp", "ed", "flowsheet", "radiology2", "therapy", "nursing", "instructions"]
    wanted = set()
    for name in options:
        if name in wanted or (name == "radiology2" and len(scenario["imaging"]) < 2):
            continue
        if planned < target:
            wanted.add(name)
            planned += 1

    def esign(author: str, moment: datetime) -> dict[str, str]:
        return {"kind": "esign", "text": f"Electronically signed by {author} on {moment:%m/%d/%Y at %H:%M}"}

    # Discharge summary (always first, as a release copy prints it).
    course = _fmt(scenario["course"], words)
    discharge_meds = [(name, _fmt(sig, words), why, status) for name, sig, why, status in scenario["discharge"]]
    docs.append(
        {
            "title": "Discharge Summary",
            "meta": [
                ("Admitted", f"{admit_time:%m/%d/%Y %H:%M}"),
                ("Discharged", f"{discharged_on:%m/%d/%Y}"),
                ("Length of stay", f"{los} day{'s' if los != 1 else ''}"),
                ("Attending", attending),
            ],
            "blocks": [
                {"kind": "h", "text": "Principal diagnosis"},
                {"kind": "p", "text": f"{dx} ({scenario['icd']})"},
                {"kind": "h", "text": "Secondary diagnoses"},
                {"kind": "ul", "items": [p for p in pmh if p != "None" and p.lower() not in dx.lower()] or ["None"]},
                *(
                    [
                        {"kind": "h", "text": "Procedures"},
                        {"kind": "p", "text": _fmt(scenario["operation"]["name"], words) + f" ({surgeon})"},
                    ]
                    if "operation" in scenario
                    else []
                ),
                {"kind": "h", "text": "History of present illness"},
                {"kind": "p", "text": _fmt(scenario["hpi"], words)},
                {"kind": "h", "text": "Hospital course"},
                {"kind": "p", "text": course},
                {"kind": "h", "text": "Condition at discharge"},
                {
                    "kind": "p",
                    "text": "Stable. Vital signs within normal limits, tolerating diet, ambulating at baseline.",
                },
                {"kind": "h", "text": "Disposition"},
                {
                    "kind": "p",
                    "text": "Skilled nursing facility for rehabilitation."
                    if scenario["key"] == "hip_fracture"
                    else "Home" + (" with parent." if age < 18 else " with self-care."),
                },
                {"kind": "h", "text": "Discharge medications"},
                {
                    "kind": "ul",
                    "items": [f"{n} {s} ({st})" for n, s, _w, st in discharge_meds]
                    + [f"{n} {s} (continue)" for n, s, _w in home],
                },
                {"kind": "h", "text": "Follow-up"},
                {"kind": "p", "text": scenario["followup"]},
                {"kind": "h", "text": "Allergies"},
                {"kind": "p", "text": allergies},
                esign(attending, datetime.combine(discharged_on, time(rng.randint(13, 18), rng.randint(0, 59)))),
            ],
        }
    )

    # History and physical.
    if "hp" in wanted:
        v = _vitals_between(start_vitals, normal, 0.1, rng)
        docs.append(
            {
                "title": "History and Physical",
                "meta": [
                    ("Date", f"{admit_time:%m/%d/%Y %H:%M}"),
                    ("Author", attending),
                    ("Service", "Pediatrics" if age < 18 else "Hospital Medicine"),
                ],
                "blocks": [
                    {"kind": "h", "text": "Chief complaint"},
                    {"kind": "p", "text": _fmt(scenario["cc"], words)},
                    {"kind": "h", "text": "History of present illness"},
                    {"kind": "p", "text": _fmt(scenario["hpi"], words)},
                    {"kind": "h", "text": "Past medical history"},
                    {"kind": "ul", "items": pmh},
                    {"kind": "h", "text": "Home medications"},
                    {"kind": "ul", "items": [f"{n} {s}" for n, s, _w in home] or ["None"]},
                    {"kind": "h", "text": "Allergies"},
                    {"kind": "p", "text": allergies},
                    {"kind": "h", "text": "Social history"},
                    {
                        "kind": "p",
                        "text": "Lives with parents and siblings; attends school."
                        if age < 18
                        else rng.choice(["Lives with spouse.", "Lives alone.", "Lives with family."])
                        + " "
                        + rng.choice(["Never smoker.", "Former smoker, quit 10 years ago.", "Never smoker."])
                        + " Alcohol: "
                        + rng.choice(["none.", "occasional, socially."]),
                    },
                    {"kind": "h", "text": "Family history"},
                    {
                        "kind": "p",
                        "text": rng.choice(
                            ["Noncontributory.", "Father with hypertension; mother with type 2 diabetes."]
                        ),
                    },
                    {"kind": "h", "text": "Review of systems"},
                    {
                        "kind": "p",
                        "text": "Ten-point review of systems negative except as noted in the history of present "
                        "illness.",
                    },
                    {"kind": "h", "text": "Physical examination"},
                    {"kind": "p", "text": "Vital signs: " + _vitals_line(v, rng)},
                    {"kind": "ul", "items": exam},
                    {"kind": "h", "text": "Assessment and plan"},
                    {"kind": "p", "text": f"{words['Age_sex']} admitted with {dx.lower()}."},
                    {
                        "kind": "ul",
                        "items": [
                            _fmt(scenario["plan"][0], words),
                            "VTE prophylaxis per protocol." if age >= 18 else "Encourage oral fluids.",
                            "Code status: full code.",
                        ],
                    },
                    esign(attending, admit_time + timedelta(hours=rng.randint(1, 4))),
                ],
            }
        )

    # Emergency department note.
    if "ed" in wanted:
        v = dict(start_vitals)
        docs.append(
            {
                "title": "Emergency Department Provider Note",
                "meta": [
                    ("Arrival", f"{arrived:%m/%d/%Y %H:%M}"),
                    ("Provider", ed_doc),
                    ("Triage acuity", f"ESI {rng.choice([2, 3, 3])}"),
                ],
                "blocks": [
                    {"kind": "h", "text": "Chief complaint"},
                    {"kind": "p", "text": _fmt(scenario["cc"], words)},
                    {"kind": "h", "text": "History"},
                    {"kind": "p", "text": _fmt(scenario["hpi"], words)},
                    {"kind": "h", "text": "Triage vital signs"},
                    {"kind": "p", "text": _vitals_line(v, rng)},
                    {"kind": "h", "text": "Examination"},
                    {"kind": "ul", "items": exam},
                    {"kind": "h", "text": "Emergency department course"},
                    {
                        "kind": "p",
                        "text": "Initial labs and imaging obtained (see results). Treatment started as documented in "
                        "the medication administration record. Case discussed with the admitting physician, "
                        + attending
                        + ", who accepts the patient for admission.",
                    },
                    {"kind": "h", "text": "Impression"},
                    {"kind": "p", "text": dx + "."},
                    {"kind": "h", "text": "Disposition"},
                    {
                        "kind": "p",
                        "text": f"Admitted, {'pediatric' if age < 18 else 'medical'} floor, in stable condition.",
                    },
                    esign(ed_doc, admit_time),
                ],
            }
        )

    # Operative report.
    if "op" in wanted:
        op = {k: _fmt(v, words) for k, v in scenario["operation"].items()}
        op_day = admitted_on + timedelta(days=min(1, los - 1) if scenario["key"] == "hip_fracture" else 0)
        start = datetime.combine(op_day, time(rng.randint(8, 16), rng.choice([0, 15, 30, 45])))
        docs.append(
            {
                "title": "Operative Report",
                "meta": [
                    ("Date of surgery", f"{op_day:%m/%d/%Y}"),
                    ("Surgeon", surgeon),
                    ("Anesthesia", op["anesthesia"]),
                ],
                "blocks": [
                    {
                        "kind": "kv",
                        "items": [
                            ("Preoperative diagnosis:", dx),
                            ("Postoperative diagnosis:", dx),
                            ("Procedure:", op["name"]),
                            ("Estimated blood loss:", op["ebl"]),
                            ("Specimens:", op["specimens"]),
                            ("Complications:", "None"),
                        ],
                    },
                    {"kind": "h", "text": "Indications"},
                    {
                        "kind": "p",
                        "text": f"{words['Age_sex']} with {dx.lower()}. Risks, benefits and alternatives were "
                        "discussed and informed consent obtained.",
                    },
                    {"kind": "h", "text": "Findings"},
                    {"kind": "p", "text": op["findings"]},
                    {"kind": "h", "text": "Description of the procedure"},
                    {"kind": "p", "text": op["description"]},
                    {
                        "kind": "p",
                        "text": "Sponge, needle and instrument counts were correct. The patient tolerated the "
                        "procedure well and went to the recovery room in stable condition.",
                    },
                    esign(surgeon, start + timedelta(minutes=rng.randint(70, 160))),
                ],
            }
        )

    # Progress notes: one a hospital day after admission.
    notes = []
    for day in range(1, los + 1):
        moment = datetime.combine(admitted_on + timedelta(days=day), time(rng.randint(7, 11), rng.randint(0, 59)))
        f = day / los
        stage = 0 if f < 0.45 else 1 if f < 0.99 else 2
        v = _vitals_between(start_vitals, normal, f, rng)
        notes.append(
            {
                "kind": "note",
                "title": f"Progress Note - Hospital day {day + 1} - {moment:%m/%d/%Y %H:%M}",
                "author": f"{attending}, {'Pediatrics' if age < 18 else 'Hospital Medicine'}",
                "parts": [
                    (
                        "S:",
                        _fmt(scenario["subjective"][stage], words)
                        if stage != 1 or day % 2
                        else rng.choice(MIDSTAY_SUBJECTIVE),
                    ),
                    (
                        "O:",
                        _vitals_line(v, rng) + ". " + " ".join(exam[:2])
                        if stage == 0
                        else _vitals_line(v, rng) + ". Exam improved from admission; see flowsheets.",
                    ),
                    ("A:", f"{dx}, {['improving', 'improving', 'clinically stable for discharge'][stage]}."),
                    ("P:", _fmt(scenario["plan"][stage], words)),
                ],
            }
        )
    docs.append(
        {
            "title": "Progress Notes",
            "meta": [("Service", "Pediatrics" if age < 18 else "Hospital Medicine")],
            "blocks": notes,
        }
    )

    # Radiology.
    for index, (study, indication, technique, findings, impression) in enumerate(scenario["imaging"]):
        if ("radiology", "radiology2")[min(index, 1)] in wanted:
            read = (
                admit_time - timedelta(minutes=rng.randint(20, 120))
                if index == 0
                else admit_time + timedelta(hours=rng.randint(18, 40))
            )
            docs.append(
                {
                    "title": "Radiology Report",
                    "meta": [
                        ("Exam", _fmt(study, words)),
                        ("Date", f"{read:%m/%d/%Y %H:%M}"),
                        ("Accession", f"RAD{rng.randint(1000000, 9999999)}"),
                        ("Ordering", ed_doc if index == 0 else attending),
                    ],
                    "blocks": [
                        {"kind": "h", "text": "Clinical indication"},
                        {"kind": "p", "text": _fmt(indication, words)},
                        {"kind": "h", "text": "Comparison"},
                        {
                            "kind": "p",
                            "text": rng.choice(
                                [
                                    "None available.",
                                    f"Prior study of {admitted_on - timedelta(days=rng.randint(200, 900)):%m/%d/%Y}.",
                                ]
                            ),
                        },
                        {"kind": "h", "text": "Technique"},
                        {"kind": "p", "text": _fmt(technique, words)},
                        {"kind": "h", "text": "Findings"},
                        {"kind": "p", "text": _fmt(findings, words)},
                        {"kind": "h", "text": "Impression"},
                        {"kind": "p", "text": _fmt(impression, words)},
                        esign(radiologist, read + timedelta(minutes=rng.randint(15, 70))),
                    ],
                }
            )

    # Laboratory results.
    draws = [arrived + timedelta(minutes=rng.randint(10, 40))]
    for day in range(1, min(los, 3) + 1):
        draws.append(datetime.combine(admitted_on + timedelta(days=day), time(rng.randint(4, 6), rng.randint(0, 59))))
    docs.append(
        {
            "title": "Laboratory Results",
            "meta": [("Ordering", attending), ("Performing lab", f"{case.tenant.name} Clinical Laboratory")],
            "blocks": [
                _lab_table(scenario, draws, rng),
                {
                    "kind": "p",
                    "text": "H = above reference range; L = below reference range. Reference ranges are for adults "
                    "unless stated.",
                },
            ],
        }
    )

    # Medications: reconciliation at discharge and what was given.
    med_rows = [{"cells": [{"text": n}, {"text": s}, {"text": w}, {"text": st}]} for n, s, w, st in discharge_meds]
    med_rows += [{"cells": [{"text": n}, {"text": s}, {"text": w}, {"text": "Continue"}]} for n, s, w in home]
    pharmacist = rng.choice(staff["pharmacist"])
    docs.append(
        {
            "title": "Medication Reconciliation - Discharge",
            "meta": [("Allergies", allergies), ("Reconciled by", pharmacist), ("Date", f"{discharged_on:%m/%d/%Y}")],
            "blocks": [
                {
                    "kind": "table",
                    "head": ["Medication", "Dose, route and frequency", "Indication", "Status"],
                    "rows": med_rows,
                },
                {"kind": "h", "text": "Medications given during the stay"},
                {"kind": "ul", "items": [_fmt(m, words) for m in scenario["inpatient"]]},
                {
                    "kind": "p",
                    "text": "The patient"
                    + (" and parent" if age < 18 else "")
                    + " received a written medication list and education on each new medication, and verbalized "
                    "understanding.",
                },
                esign(pharmacist, datetime.combine(discharged_on, time(rng.randint(9, 12), rng.randint(0, 59)))),
            ],
        }
    )

    # Vital signs flowsheet.
    if "flowsheet" in wanted:
        rows = []
        nurses = staff["nurse"]
        for day in range(los + 1):
            for hour in (0, 4, 8, 12, 16, 20):
                moment = datetime.combine(admitted_on + timedelta(days=day), time(hour))
                if moment < admit_time or (day == los and hour > 8):
                    continue
                f = min((moment - admit_time).total_seconds() / max(los * 86400, 1), 1.0)
                v = _vitals_between(start_vitals, normal, f, rng)
                rows.append(
                    {
                        "cells": [
                            {"text": f"{moment:%m/%d %H:%M}"},
                            {"text": f"{v['t']:.1f}", "num": True},
                            {"text": str(v["hr"]), "num": True},
                            {"text": f"{v['sbp']}/{v['dbp']}", "num": True},
                            {"text": str(v["rr"]), "num": True},
                            {"text": f"{v['spo2']}%", "num": True},
                            {"text": v["o2"]},
                            {"text": str(rng.choice([0, 0, 1, 2, 3, 4])), "num": True},
                            {"text": nurses[(day * 2 + hour // 12) % len(nurses)]},
                        ]
                    }
                )
        docs.append(
            {
                "title": "Vital Signs Flowsheet",
                "meta": [("Unit", "Pediatrics" if age < 18 else "Medical-Surgical, 4 West")],
                "blocks": [
                    _as_report(
                        {
                            "kind": "table",
                            "head": ["Date/time", "Temp C", "HR", "BP", "RR", "SpO2", "O2", "Pain", "Recorded by"],
                            "rows": rows[:46],
                        }
                    )
                ],
            }
        )
    if "therapy" in wanted:
        docs.append(_therapy_evaluation(scenario, words, age, admitted_on, los, staff, rng))
    if "nursing" in wanted:
        docs.append(_nursing_notes(scenario, words, age, admit_time, los, staff, rng))
    if "instructions" in wanted:
        docs.append(_discharge_instructions(scenario, words, age, discharged_on, discharge_meds, attending, rng))
    document = _render(
        "portal/pdf/demo/chart.html",
        {
            "facility": case.facility,
            "patient": patient,
            "age": age,
            "sex_short": "F" if sex == "female" else "M",
            "encounter": encounter,
            "printed_at": printed_at,
            "docs": docs,
        },
    )
    return document.write_pdf(), admitted_on, len(document.pages)
