"""The document viewer's page images (docs/decisions/0007-server-drawn-document-pages.md): a page of a stored
document drawn by PDFium through roi.pages (the reader every page passed at upload), cached on disk per document
digest, page and size so that a page is drawn once, and handed out only under a short-lived signed grant.

Who uses it: the viewer pages of intake's documents and fulfillment's retrieved records
(workflow.views.viewer.DocumentViewerView and DocumentPageView). Opening the viewer on a document is the audited act
(one access event); the grant it issues names the user, the tenant, the document and the session, so a page image
cannot be fetched by anyone who did not open that viewer, nor after the grant ran out (docs/security.md, "Document
viewer").
"""

from __future__ import annotations

import hashlib
import io
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core import signing
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.http import HttpResponse
from PIL import Image

from roi import pages

# The longer side in pixels of each size: a thumbnail for the strip (sharp at twice its CSS size), and the reading
# size (a letter page at about 180 dpi: small print stays legible at 100 %, zoomed in it is scaled).
PAGE_SIZES: dict[str, int] = {"thumb": 240, "page": 1980}
WEBP_QUALITY: dict[str, int] = {"thumb": 70, "page": 82}
# A missing thumbnail draws its neighbours too (one open of the document for a strip's worth of pages): the strip
# asks for the first thumbnails all at once when the viewer opens.
THUMB_BATCH = 12
CACHE_FOLDER = "page-images"
GRANT_SECONDS = 20 * 60
GRANT_SALT = "roi.page_images.grant"


class GrantRefused(Exception):
    """The grant is missing, forged, expired, or for another user, document or session."""


@dataclass(frozen=True)
class PageMark:
    """What a reviewer must see on a page of a release document: why it is left out of the release (empty when it
    goes out), and the sensitive categories tagged on it."""

    excluded: str = ""
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class ViewerDocument:
    """A stored document as the viewer knows it: `key` names it in grants ("intake:12", "release:7")."""

    key: str
    tenant_id: int
    digest: str
    is_pdf: bool
    page_count: int
    marks: dict[int, PageMark] = field(default_factory=dict)


@dataclass(frozen=True)
class PageImage:
    data: bytes
    cached: bool
    content_type: str = "image/webp"


# --- Drawing and the cache -----------------------------------------------------------------------------------------


def cache_name(*, tenant_id: int, digest: str, page: int, size: str) -> str:
    """Where a drawn page is kept under MEDIA_ROOT: by tenant (its files stay in its folder), then by the digest of
    the file's content, so one file uploaded twice is drawn once and a replaced file is never shown stale."""
    return f"tenant-{tenant_id}/{CACHE_FOLDER}/{digest[:2]}/{digest}/{size}-{page}.webp"


def _cache_path(*, tenant_id: int, digest: str, page: int, size: str) -> Path:
    return Path(default_storage.path(cache_name(tenant_id=tenant_id, digest=digest, page=page, size=size)))


def _encode(image: Image.Image, size: str) -> bytes:
    out = io.BytesIO()
    # method 2: half the encoding time of the default 4 for a few percent more bytes (docs/benchmarks.md).
    image.save(out, "WEBP", quality=WEBP_QUALITY[size], method=2)
    return out.getvalue()


def _keep(path: Path, data: bytes) -> None:
    """Written under a temporary name, then renamed: a reader never sees half a picture, and two workers drawing
    the same page at once both leave the same complete file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".partial-{uuid.uuid4().hex}")
    partial.write_bytes(data)
    os.replace(partial, path)


def page_image(*, document: ViewerDocument, page: int, size: str, read: Callable[[], bytes]) -> PageImage:
    """Page `page` of `document` at `size` ("thumb" or "page"), from the cache or drawn now. `read` returns the
    stored file after its digest check (the owning app's open service); it is called only on a miss. Raises
    pages.PagesUnreadable for a page that does not exist or cannot be drawn, KeyError for an unknown size."""
    long_side = PAGE_SIZES[size]
    if page < 1 or (document.page_count and page > document.page_count):
        raise pages.PagesUnreadable(f"has no page {page}: it has {document.page_count}.", page=page)
    path = _cache_path(tenant_id=document.tenant_id, digest=document.digest, page=page, size=size)
    try:
        return PageImage(data=path.read_bytes(), cached=True)
    except FileNotFoundError:
        pass
    wanted = [page]
    if size == "thumb" and document.page_count:
        first = (page - 1) // THUMB_BATCH * THUMB_BATCH + 1
        wanted = [
            number
            for number in range(first, min(first + THUMB_BATCH, document.page_count + 1))
            if number == page
            or not _cache_path(tenant_id=document.tenant_id, digest=document.digest, page=number, size=size).exists()
        ]
    found = b""
    for number, image in pages.pages_draw(read(), is_pdf=document.is_pdf, numbers=wanted, long_side_px=long_side):
        data = _encode(image, size)
        _keep(_cache_path(tenant_id=document.tenant_id, digest=document.digest, page=number, size=size), data)
        if number == page:
            found = data
    return PageImage(data=found, cached=False)


def page_image_response(image: PageImage, *, seconds_left: int) -> HttpResponse:
    """A page image for the viewer: the browser may keep it for the rest of its grant (the URL carries the grant,
    so a new grant is a new URL), shared caches never (private), nothing sniffed, no referrer sent from it."""
    response = HttpResponse(image.data, content_type=image.content_type)
    response["Cache-Control"] = f"private, max-age={max(0, seconds_left)}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    response["Vary"] = "Cookie"
    return response


# --- Grants ----------------------------------------------------------------------------------------------------------


def _session_tag(session_key: str | None) -> str:
    """The session, without putting its key in a URL: a grant copied into another browser is refused."""
    return hashlib.sha256((session_key or "").encode()).hexdigest()[:32]


def grant_issue(
    *, user_id: int, tenant_id: int, document_key: str, session_key: str | None, now: float | None = None
) -> str:
    """A signed grant to fetch the page images of one document, for this user, tenant and session, valid
    GRANT_SECONDS. Issued by the viewer page after it wrote the access event."""
    issued = int(time.time() if now is None else now)
    payload = {
        "u": user_id,
        "t": tenant_id,
        "d": document_key,
        "s": _session_tag(session_key),
        "e": issued + GRANT_SECONDS,
    }
    return signing.dumps(payload, salt=GRANT_SALT, compress=False)


def grant_check(
    token: str,
    *,
    user_id: int,
    tenant_id: int,
    document_key: str,
    session_key: str | None,
    now: float | None = None,
) -> int:
    """The seconds left on a grant that names this user, tenant, document and session; GrantRefused otherwise."""
    try:
        payload = signing.loads(token, salt=GRANT_SALT)
    except signing.BadSignature:
        raise GrantRefused("not a grant") from None
    if not isinstance(payload, dict):
        raise GrantRefused("not a grant")
    expected = {"u": user_id, "t": tenant_id, "d": document_key, "s": _session_tag(session_key)}
    if any(payload.get(name) != value for name, value in expected.items()):
        raise GrantRefused("another user's, document's or session's grant")
    expires = payload.get("e")
    left = (expires if isinstance(expires, int) else 0) - int(time.time() if now is None else now)
    if left <= 0:
        raise GrantRefused("expired")
    return left


# --- Pages shown ---------------------------------------------------------------------------------------------------
# A page drawn at reading size for a user is a page that user was shown. Quality control does not take "I looked at
# every page" on a tick alone: a pass needs every page the packet releases to have been shown to the reviewer
# (fulfillment/qc.py). Kept in the cache for a day, not as access events (paging through a chart would flood the audit
# trail, and opening the viewer is the audited act); a lost entry only makes the reviewer look at that page again.
SHOWN_SECONDS = 24 * 3600
READING_SIZE = "page"


def document_key(kind: str, pk: int) -> str:
    """How a document is named in grants and in the pages shown: "release:7", "intake:12"."""
    return f"{kind}:{pk}"


def viewer_document(
    kind: str,
    document: Any,
    *,
    tenant_id: int,
    page_count: int | None = None,
    marks: dict[int, PageMark] | None = None,
) -> ViewerDocument:
    """A stored document (an app's model with sha256, content_type and page_count) as the viewer and QC know it."""
    return ViewerDocument(
        key=document_key(kind, document.pk),
        tenant_id=tenant_id,
        digest=str(document.sha256),
        is_pdf=document.content_type == "application/pdf",
        page_count=page_count or int(document.page_count or 0),
        marks=marks or {},
    )


def _shown_key(*, tenant_id: int, user_id: int, key: str, digest: str, page: int) -> str:
    # The digest: a document whose file was replaced is a new document to look at.
    return f"page-shown:{tenant_id}:{user_id}:{key}:{digest}:{page}"


def page_shown(*, user_id: int, document: ViewerDocument, page: int) -> None:
    cache.set(
        _shown_key(tenant_id=document.tenant_id, user_id=user_id, key=document.key, digest=document.digest, page=page),
        1,
        SHOWN_SECONDS,
    )


def pages_not_shown(*, tenant_id: int, user_id: int, key: str, digest: str, pages: list[int]) -> list[int]:
    """Which of `pages` of the document were not drawn at reading size for the user in the last SHOWN_SECONDS."""
    keys = {page: _shown_key(tenant_id=tenant_id, user_id=user_id, key=key, digest=digest, page=page) for page in pages}
    found = cache.get_many(list(keys.values()))
    return [page for page, name in keys.items() if name not in found]
