"""PDF rendering: a Django template in, PDF bytes out (WeasyPrint).

Shared by everything OpenROI prints: letters to requestors (intake/letters.py), and later invoices, release packets
and reports. Templates are ordinary HTML with print CSS (@page for size, margins and page numbers).

Relative URLs in a template (`<link href="css/letter.css">`, `<img src="img/logo.png">`) resolve against our own
static source directory. Nothing is ever fetched over the network: a PDF holds PHI, and a template that pulled a
remote stylesheet or image would tell a third party which document was being printed, and when. The URL fetcher
below serves only files under the static directories (and inline data: URLs) and refuses everything else.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.template.loader import render_to_string
from weasyprint import HTML, URLFetcher

logger = logging.getLogger(__name__)


def static_source_dir() -> Path:
    """The directory relative URLs in print templates resolve against: our static sources (STATICFILES_DIRS)."""
    return Path(settings.BASE_DIR) / "static"


def _allowed_roots() -> list[Path]:
    roots = [Path(d if isinstance(d, str | Path) else d[1]) for d in settings.STATICFILES_DIRS]
    roots.append(Path(settings.STATIC_ROOT))
    return [root.resolve() for root in roots]


class LocalOnlyURLFetcher(URLFetcher):
    """Serves file: URLs inside the static directories and data: URLs; refuses every other URL.

    A refused URL raises ValueError, which WeasyPrint logs and skips (the resource is left out, the document still
    renders); we log it too, so a template that references a remote asset shows up in the logs and in tests.
    """

    def __init__(self) -> None:
        super().__init__(allowed_protocols={"file", "data"}, allow_redirects=False, timeout=5)
        self._roots = _allowed_roots()

    def fetch(self, url: str, headers: Any = None) -> Any:
        scheme = urlsplit(url).scheme.lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme != "file":
            logger.warning("PDF rendering refused a non-local URL: %s", url[:200])
            raise ValueError(f"PDF rendering fetches local files only, not {url[:200]!r}")
        path = Path(unquote(urlsplit(url).path)).resolve()
        if not any(path.is_relative_to(root) for root in self._roots):
            logger.warning("PDF rendering refused a file outside the static directories: %s", path)
            raise ValueError(f"PDF rendering reads static files only, not {path}")
        return super().fetch(url, headers)


def render_pdf(template_name: str, context: dict[str, Any]) -> bytes:
    """Render `template_name` with `context` and return the PDF. Fonts come from the system (fonts-dejavu)."""
    html = render_to_string(template_name, context)
    base_url = static_source_dir().as_uri() + "/"
    document = HTML(string=html, base_url=base_url, url_fetcher=LocalOnlyURLFetcher())
    return document.write_pdf()
