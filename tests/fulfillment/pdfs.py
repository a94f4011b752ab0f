"""Real PDFs for fulfillment tests: made by WeasyPrint, one line of text per page, read back with pypdf."""

from __future__ import annotations

import io

from pypdf import PdfReader
from weasyprint import HTML


def make_pdf(pages: int, label: str = "Record page") -> bytes:
    """A PDF of `pages` pages; page n carries the text "<label> n"."""
    body = "".join(
        f'<p style="page-break-after: {"always" if n < pages else "auto"}">{label} {n}</p>' for n in range(1, pages + 1)
    )
    return HTML(string=f"<html><body>{body}</body></html>").write_pdf()


def pdf_texts(data: bytes) -> list[str]:
    """The text of every page, in order."""
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]
