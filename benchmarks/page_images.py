"""The document viewer's page images (roi/page_images.py): a page drawn cold at the reading size and as thumbnails,
and the same page from the cache, beside pdftoppm (Debian's poppler-utils) drawing that page at that size, measured
in the same run.

    make bench ARGS="page_images"                 # a 100-page chart, 20 pages of each kind
    make bench ARGS="page_images --samples 40"

The chart is the packets benchmark's 100-page document (odd pages a 200 dpi 1-bit scan, even pages text), 3 MB. A
cold page is what the view does on a miss: read the stored file and check its digest, open it with PDFium, draw the
page, encode WebP, keep it on disk. A cached page is reading that file back. No database: the view's queries are
pinned by tests/intake/test_document_viewer.py.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered) * 1000:7.1f} ms, p95 {p95 * 1000:7.1f} ms"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make bench ARGS='page_images ...'")
    parser.add_argument("--samples", type=int, default=20, help="pages of each kind drawn cold")
    args = parser.parse_args(argv)
    from benchmarks.dataset import setup_django

    setup_django(suffix="_bench", migrate=False)  # settings only: no statement is sent
    from django.conf import settings

    from benchmarks.packets import _chart_document

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        settings.MEDIA_ROOT = root / "media"
        from roi import page_images

        source = root / "chart.pdf"
        _chart_document(source, seed=1)
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        document = page_images.ViewerDocument(key="release:1", tenant_id=1, digest=digest, is_pdf=True, page_count=100)

        def read() -> bytes:
            data = source.read_bytes()
            assert hashlib.sha256(data).hexdigest() == digest  # the digest check the open services make
            return data

        print(f"source: 100 pages, {source.stat().st_size / 1e6:.1f} MB (odd pages 1-bit scans, even pages text)")
        samples = min(args.samples, 50)
        kinds = {"scan": [2 * i + 1 for i in range(samples)], "text": [2 * i + 2 for i in range(samples)]}
        sizes: dict[str, list[int]] = {"scan": [], "text": []}
        for kind, numbers in kinds.items():
            cold, warm = [], []
            for number in numbers:
                started = time.perf_counter()
                image = page_images.page_image(document=document, page=number, size="page", read=read)
                cold.append(time.perf_counter() - started)
                assert not image.cached
                sizes[kind].append(len(image.data))
                started = time.perf_counter()
                assert page_images.page_image(document=document, page=number, size="page", read=read).cached
                warm.append(time.perf_counter() - started)
            print(f"reading size ({page_images.PAGE_SIZES['page']} px), {kind} page, cold: {_ms(cold)}; "
                  f"{statistics.mean(sizes[kind]) / 1000:.0f} KB WebP")  # fmt: skip
            print(f"reading size, {kind} page, cached:       {_ms(warm)}")
        strips = []
        for first in range(1, 100, page_images.THUMB_BATCH):
            started = time.perf_counter()
            page_images.page_image(document=document, page=first, size="thumb", read=read)
            strips.append(time.perf_counter() - started)
        print(f"thumbnails ({page_images.PAGE_SIZES['thumb']} px), {page_images.THUMB_BATCH} drawn in one pass, cold: "
              f"{_ms(strips)} ({statistics.median(strips) / page_images.THUMB_BATCH * 1000:.1f} ms a thumbnail)")  # fmt: skip
        warm = []
        for number in range(1, 101):
            started = time.perf_counter()
            page_images.page_image(document=document, page=number, size="thumb", read=read)
            warm.append(time.perf_counter() - started)
        print(f"thumbnails, cached:                  {_ms(warm)}")
        if shutil.which("pdftoppm"):
            for kind, numbers in kinds.items():
                floor = []
                for number in numbers[:10]:
                    started = time.perf_counter()
                    subprocess.run(
                        ["pdftoppm", "-f", str(number), "-l", str(number), "-png", "-scale-to",
                         str(page_images.PAGE_SIZES["page"]), str(source), str(root / "floor")],
                        check=True,
                        stderr=subprocess.DEVNULL,  # poppler's notes on the Type 1 font it substitutes
                    )  # fmt: skip
                    floor.append(time.perf_counter() - started)
                print(
                    f"floor: pdftoppm, one {kind} page to PNG at the reading size (process start included): {_ms(floor)}"
                )
        else:
            print("pdftoppm is not installed (apt-get install poppler-utils): no floor.")
    return 0
