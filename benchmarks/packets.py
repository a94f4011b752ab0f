"""Release packets of 100, 1,000 and 5,000 record pages: pages per second and peak memory of the layout
(fulfillment/packet_pdf.py: every page placed, stamped and written to disk a chunk at a time, then joined by qpdf),
beside qpdf copying the same pages into one file (`qpdf --empty --pages ... --`, Debian's qpdf), the floor of any
packet built from these files, measured in the same run.

    make bench ARGS="packets"                    # 100, 1,000 and 5,000 pages
    make bench ARGS="packets --pages 100 1000"   # chosen sizes

The chart is made of 100-page documents like those a hospital's imaging system exports: every other page a
200 dpi black-and-white scan (a 1-bit image, as faxes and scanners produce), the others text pages. Each size runs in
a fresh process, so its peak memory (maximum resident set size) is its own. The upload check (roi.pages: every page
prepared and drawn once by PDFium) is timed on one 100-page document. The cover sheet and the database steps of a
build (a few statements) are left out: they do not grow with the chart.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import shutil
import subprocess
import tempfile
import time
import zlib
from pathlib import Path
from types import SimpleNamespace

DOCUMENT_PAGES = 100


def _chart_document(path: Path, seed: int) -> None:
    """A 100-page PDF: odd pages a 1-bit 200 dpi scan (1700 x 2200 pixels of noise-free 'text' lines), even pages
    text."""
    import pikepdf

    rng = random.Random(seed)
    pdf = pikepdf.new()
    width, height = 1700, 2200
    for number in range(1, DOCUMENT_PAGES + 1):
        page = pdf.add_blank_page(page_size=(612, 792))
        if number % 2:
            rows = bytearray(b"\xff" * (width // 8) * height)
            for line in range(150, height - 150, 40):  # dark strokes where text lines would be
                for y in range(line, line + 14):
                    start = rng.randint(20, 40)
                    end = rng.randint(120, width // 8 - 20)
                    rows[y * (width // 8) + start : y * (width // 8) + end] = bytes(
                        rng.choice((0x00, 0x0F, 0xF0, 0x3C)) for _ in range(end - start)
                    )
            image = pikepdf.Stream(pdf, zlib.compress(bytes(rows), 6))
            image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
            image.Width, image.Height, image.BitsPerComponent = width, height, 1
            image.ColorSpace, image.Filter = pikepdf.Name.DeviceGray, pikepdf.Name.FlateDecode
            name = page.add_resource(image, pikepdf.Name.XObject)
            page.contents_add(f"q 612 0 0 792 0 0 cm {name} Do Q".encode(), prepend=False)
        else:
            font = pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont="/Helvetica")
            name = page.add_resource(font, pikepdf.Name.Font)
            lines = "".join(
                f"BT {name} 10 Tf 72 {720 - 14 * i} Td (Progress note line {i} of page {number}) Tj ET "
                for i in range(45)
            )
            page.contents_add(lines.encode(), prepend=False)
    pdf.save(path)


def _documents(folder: Path, count: int) -> list[Path]:
    paths = []
    for index in range(count):
        path = folder / f"chart-{index:03d}.pdf"
        if not path.exists():
            if index and (folder / "chart-000.pdf").exists():
                shutil.copyfile(folder / "chart-000.pdf", path)  # the same pages: layout cost does not depend on ink
            else:
                _chart_document(path, seed=index)
        paths.append(path)
    return paths


def _stand_in(path: Path, position: int) -> SimpleNamespace:
    """What packet_pdf reads of a ReleaseDocument: its file (checked against its digest), type, name and pages."""
    import hashlib

    from django.core.files import File

    data = path.read_bytes()
    return SimpleNamespace(
        file=File(open(path, "rb"), name=str(path)),
        sha256=hashlib.sha256(data).hexdigest(),
        original_name=path.name,
        content_type="application/pdf",
        page_count=DOCUMENT_PAGES,
        pk=position,
    )


def _layout(args: tuple[list[str], int]) -> tuple[float, float, int, int]:
    """In a fresh process: lay out `pages` record pages from the documents; wall s, CPU s, bytes, peak RSS KiB."""
    paths, pages = args
    from benchmarks.dataset import setup_django

    setup_django(suffix="_bench", migrate=False)  # templates and settings only: no statement is sent
    from weasyprint import HTML

    from fulfillment import packet_pdf

    cover = HTML(string="<h1>Release of information: cover sheet</h1>").write_pdf()
    items = [
        packet_pdf.Item(n, _stand_in(Path(path), n), list(range(1, DOCUMENT_PAGES + 1)))
        for n, path in enumerate(paths, start=1)
    ]
    started, cpu = time.perf_counter(), time.process_time()
    with packet_pdf.packet_file(
        cover=cover,
        items=items,
        total=pages,
        title="Benchmark packet",
        stamp_text={
            "tracking_number": "ROI-BNCH-0000-0001",
            "recipient": "Lakeside Law, fax (312) 555-0199",
            "when": "Dec 6, 2026",
        },
    ) as path:
        size = path.stat().st_size
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return wall, cpu, size, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # fmt: skip


def _qpdf(paths: list[Path], out: Path) -> tuple[float, int]:
    """qpdf copying every page of `paths` into one file: wall s and its peak RSS (KiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(["qpdf", "--empty", "--pages", *map(str, paths), "--", str(out)])
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 3):  # 3: succeeded with warnings
        raise RuntimeError(f"qpdf failed ({process.returncode})")
    return time.perf_counter() - started, usage.ru_maxrss


def _upload_check(path: Path) -> tuple[float, float]:
    from roi import pages

    data = path.read_bytes()
    started, cpu = time.perf_counter(), time.process_time()
    count = pages.document_check(data, is_pdf=True)
    assert count == DOCUMENT_PAGES
    return time.perf_counter() - started, time.process_time() - cpu


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make bench ARGS='packets ...'")
    parser.add_argument("--pages", type=int, nargs="+", default=[100, 1000, 5000])
    options = parser.parse_args(argv)
    sizes = sorted({max(DOCUMENT_PAGES, size - size % DOCUMENT_PAGES) for size in options.pages})
    has_qpdf = shutil.which("qpdf") is not None
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="bench-packets-") as workdir:
        folder = Path(workdir)
        documents = _documents(folder, max(sizes) // DOCUMENT_PAGES)
        source_mb = documents[0].stat().st_size / 1e6
        print(f"source: {len(documents)} documents of {DOCUMENT_PAGES} pages ({source_mb:.1f} MB each: half 1-bit "
              "200 dpi scans, half text)", flush=True)  # fmt: skip
        with context.Pool(1) as pool:
            wall, cpu = pool.apply(_upload_check_in_process, (str(documents[0]),))
        print(f"upload check (prepare + PDFium draws every page), {DOCUMENT_PAGES} pages: {wall:.2f} s wall, "
              f"{cpu:.2f} s CPU, {DOCUMENT_PAGES / wall:.0f} pages/s", flush=True)  # fmt: skip
        print(f"\n{'pages':>6} {'layout s':>9} {'CPU s':>7} {'pages/s':>8} {'peak MB':>8} {'packet MB':>9} "
              f"{'qpdf s':>7} {'qpdf MB':>8} {'x qpdf':>7}")  # fmt: skip
        for size in sizes:
            chosen = documents[: size // DOCUMENT_PAGES]
            with context.Pool(1) as pool:  # a fresh process per size: its peak memory is its own
                wall, cpu, packet_bytes, peak_kib = pool.apply(_layout, (([str(p) for p in chosen], size),))
            qpdf_s, qpdf_kib = _qpdf(chosen, folder / "qpdf.pdf") if has_qpdf else (float("nan"), 0)
            ratio = wall / qpdf_s if has_qpdf and qpdf_s else float("nan")
            print(f"{size:>6} {wall:>9.2f} {cpu:>7.2f} {size / wall:>8.0f} {peak_kib / 1024:>8.0f} "
                  f"{packet_bytes / 1e6:>9.1f} {qpdf_s:>7.2f} {qpdf_kib / 1024:>8.0f} {ratio:>7.1f}", flush=True)  # fmt: skip
    if not has_qpdf:
        print("qpdf is not installed (apt-get install qpdf): its column is empty.")
    print("\nlayout: placing and stamping every page, written to disk 100 pages at a time, then the parts joined by "
          "qpdf; qpdf: copying the same pages, nothing placed or stamped. Peak MB: maximum resident set size of the "
          "process (Python, Django and WeasyPrint loaded: about 130 MB before any page; qpdf's own ~30 MB).")  # fmt: skip
    return 0


def _upload_check_in_process(path: str) -> tuple[float, float]:
    from benchmarks.dataset import setup_django

    setup_django(suffix="_bench", migrate=False)
    return _upload_check(Path(path))
