"""Documents received with a request: checking an upload, keeping it, and handing it out again.

Every channel (the staff intake form, the upload on a request's page, email and fax ingestion, the API, the portal)
stores documents through `document_attach`, which runs `inspect_upload` first: a file is accepted only if its
content is a PDF, TIFF, PNG or JPEG whose every page is drawn once (roi.pages). The name and the browser's content type are never trusted: a
renamed program or web page saved as "scan.pdf" is refused, and the stored file gets a server-generated name
(intake.models.document_path) so nothing a sender chose ends up in a path.

Files live under MEDIA_ROOT, outside the web root; `document_open` is the only way back out, used by the staff
download view (a roi.downloads.PhiDownloadView), which scopes the lookup to the tenant and writes an access event for
every download.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import IO, Any

from django.conf import settings
from django.core.files import File
from django.db import transaction

from intake.choices import DocumentKind, DocumentSource
from intake.models import IntakeDocument
from roi import clock, pages
from roi.audit import history_stamp
from roi.errors import ServiceError
from roi.models import Tenant
from workflow.models import RecordRequest

logger = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MB = 1024 * 1024
ACCEPTED_KINDS_PHRASE = "a PDF, TIFF, PNG or JPEG file"


@dataclass(frozen=True)
class FileType:
    label: str  # "PDF", "TIFF image"...: what staff read in messages
    content_type: str
    extension: str  # what the stored file and the downloaded name end with
    aliases: tuple[str, ...]  # extensions a sender may have used for the same type


PDF = FileType("PDF", "application/pdf", ".pdf", (".pdf",))
TIFF = FileType("TIFF image", "image/tiff", ".tif", (".tif", ".tiff"))
PNG = FileType("PNG image", "image/png", ".png", (".png",))
JPEG = FileType("JPEG image", "image/jpeg", ".jpg", (".jpg", ".jpeg", ".jpe"))
# The only types a request's documents may be: what fax servers, scanners and phones produce, and what every
# viewer on a staff workstation opens safely.
ACCEPTED: tuple[tuple[bytes, FileType], ...] = (
    (b"%PDF-", PDF),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
)
PILLOW_FORMATS = {TIFF: "TIFF", PNG: "PNG", JPEG: "JPEG"}

# Content we recognise only to tell the sender what they attached instead ("its content looks like ...").
RECOGNISED_OTHER: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a Linux program"),
    (b"\xca\xfe\xba\xbe", "a macOS program"),
    (b"\xcf\xfa\xed\xfe", "a macOS program"),
    (b"#!", "a script"),
    (b"PK\x03\x04", "a ZIP archive or a Word, Excel or PowerPoint document"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an older Word, Excel or Outlook document"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x1f\x8b", "a compressed (gzip) file"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"BM", "a BMP image"),
    (b"{\\rtf", "an RTF document"),
)
HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<iframe", b"<svg", b"<meta")
SNIFF_BYTES = 1024


class DocumentNotStored(ServiceError):
    """The document storage refused the file (full, read-only, gone): the server's problem, not the sender's."""

    status_code = 503


@dataclass(frozen=True)
class DetectedFile:
    """What inspect_upload found in a file's content."""

    content_type: str
    extension: str
    size_bytes: int
    sha256: str
    page_count: int | None


def max_upload_bytes() -> int:
    # Set from INTAKE_MAX_UPLOAD_MB in roi/settings.py; the default matches the usual fax-server and email limit.
    return int(getattr(settings, "INTAKE_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES))


def human_size(size: int) -> str:
    """'31.2 MB', '25 MB', '900 KB', '12 bytes'. Rounded up, so a file over a limit never reads as equal to it."""
    if size >= MB:
        value = math.ceil(size * 10 / MB) / 10
        unit = "MB"
    elif size >= 1024:
        value = math.ceil(size * 10 / 1024) / 10
        unit = "KB"
    else:
        return f"{size} byte{'s' if size != 1 else ''}"
    text = f"{value:.1f}".removesuffix(".0")
    return f"{text} {unit}"


def _limit_text(size: int) -> str:
    """The limit, rounded down (a file "is 25.1 MB; the limit is 25 MB")."""
    if size >= MB:
        value = math.floor(size * 10 / MB) / 10
        return f"{value:.1f}".removesuffix(".0") + " MB"
    if size >= 1024:
        value = math.floor(size * 10 / 1024) / 10
        return f"{value:.1f}".removesuffix(".0") + " KB"
    return human_size(size)


# --- Names ----------------------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def original_name_clean(name: str | None) -> str:
    """The sender's file name as data: no folders, no control characters, at most 255 characters."""
    raw = str(name or "")
    # Browsers send a bare name, but some old clients send "C:\\scans\\x.pdf" and email parts may carry "../".
    base = PureWindowsPath(PurePosixPath(raw.replace("\x00", "")).name).name
    base = unicodedata.normalize("NFC", _CONTROL.sub("", base)).strip().strip(".")
    if not base:
        return "document"
    if len(base) > 255:
        suffix = PurePosixPath(base).suffix[:16]
        base = base[: 255 - len(suffix)] + suffix
    return base


def download_name(document: IntakeDocument) -> str:
    """The name a download is saved under: the sender's name with the extension of what the content is."""
    name = original_name_clean(document.original_name)
    file_type = next((t for _, t in ACCEPTED if t.content_type == document.content_type), None)
    if file_type is None:
        return name
    path = PurePosixPath(name)
    if path.suffix.lower() in file_type.aliases:
        return name
    return f"{path.stem if path.suffix else name}{file_type.extension}"


def _display(name: str | None) -> str:
    """How a message names the file: 'scan.pdf' (quoted), or 'The file' when there is no name."""
    cleaned = original_name_clean(name) if name else ""
    if not cleaned or cleaned == "document":
        return "The file"
    if len(cleaned) > 80:
        cleaned = cleaned[:60] + "..." + cleaned[-15:]
    return f"'{cleaned}'"


# --- Inspecting an upload ---------------------------------------------------------------------------------------


def _as_file(uploaded: Any) -> File:
    if isinstance(uploaded, File):
        return uploaded
    return File(uploaded, name=getattr(uploaded, "name", None))


def _file_size(uploaded: File) -> int:
    size = getattr(uploaded, "size", None)
    if size is None:
        uploaded.seek(0, 2)
        size = uploaded.tell()
    return int(size)


def _describe_other(head: bytes) -> str:
    """What a refused file seems to be, in words for the message."""
    for magic, description in RECOGNISED_OTHER:
        if head.startswith(magic):
            return description
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if stripped.startswith(b"<"):
        if any(marker in stripped for marker in HTML_MARKERS):
            return "a web page (HTML)"
        if stripped.startswith(b"<?xml"):
            return "an XML document"
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError:
            pass  # not text either: fall through to "unknown"
        else:
            return "plain text"
    return ""


def _detect(head: bytes) -> FileType | None:
    return next((file_type for magic, file_type in ACCEPTED if head.startswith(magic)), None)


def _page_count(file: File, file_type: FileType, shown: str) -> int:
    """Every page prepared and drawn exactly as a release packet will (roi.pages), or a refusal that says why."""
    file.seek(0)
    data = file.read()
    try:
        return pages.document_check(
            data, is_pdf=file_type is PDF, label=file_type.label, pillow_format=PILLOW_FORMATS.get(file_type)
        )
    except pages.PagesUnreadable as error:
        raise ServiceError(f"{shown} {error.reason}") from None


def inspect_upload(uploaded: Any) -> DetectedFile:
    """Check an uploaded document and describe it, or refuse it with a ServiceError that says what to fix.

    The type comes from the content's first bytes and is then confirmed by preparing every page as a packet will and
    drawing it with PDFium (roi.pages): a file is accepted only if every page of it can be shown.
    """
    file = _as_file(uploaded)
    shown = _display(getattr(file, "name", None))
    size = _file_size(file)
    if size == 0:
        raise ServiceError(f"{shown} is empty (0 bytes). Scan or save it again and attach the new file.")
    limit = max_upload_bytes()
    if size > limit:
        raise ServiceError(
            f"{shown} is {human_size(size)}; the limit is {_limit_text(limit)}. Scan it at a lower resolution or in "
            "black and white, or split it into several files."
        )
    file.seek(0)
    head = file.read(SNIFF_BYTES)
    file_type = _detect(head)
    if file_type is None:
        seems = _describe_other(head)
        looks = f"its content looks like {seems}" if seems else "its content is not a document format we recognise"
        raise ServiceError(
            f"{shown} is not a PDF, TIFF, PNG or JPEG file ({looks}). Attach the scanned document itself, saved as "
            "PDF, TIFF, PNG or JPEG."
        )
    digest = hashlib.sha256()
    for chunk in file.chunks():
        digest.update(chunk)
    page_count = _page_count(file, file_type, shown)
    file.seek(0)
    return DetectedFile(
        content_type=file_type.content_type,
        extension=file_type.extension,
        size_bytes=size,
        sha256=digest.hexdigest(),
        page_count=page_count,
    )


# --- Keeping and handing out documents ------------------------------------------------------------------------


def document_attach(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    uploaded_file: Any,
    kind: str,
    source: str,
    note: str = "",
) -> IntakeDocument:
    """Check a document and keep it with the request. Runs in the caller's transaction (intake_receive, or
    document_add below); the caller writes any log row of its own.

    Files and rows: the file is written first, then the row. If saving the row fails, the file is removed here. If
    the caller's transaction rolls back later (a second document refused, a letter that cannot be rendered), the
    row goes but the file stays behind under tenant-<id>/documents/, referenced by nothing: Django has no rollback
    hook, and a file deleted before the outcome is known could be one a committed row needs. The staff form checks
    every upload before it calls intake_receive, so a refused upload never gets that far from the form; intake
    .letters.letter_generate makes the same choice for its PDFs. A sweep of unreferenced files can remove them.
    """
    if record_request.tenant_id != tenant.pk:
        raise ServiceError("Request not found.")
    if kind not in DocumentKind.values:
        raise ServiceError(f"Choose what kind of document this is (not {kind!r}).", field="kind")
    if source not in DocumentSource.values:
        raise ServiceError(f"Unknown document source {source!r}.", field="source")
    note = (note or "").strip()
    if len(note) > 300:
        raise ServiceError("Keep the note to 300 characters.", field="note")
    file = _as_file(uploaded_file)
    detected = inspect_upload(file)
    document = IntakeDocument(
        tenant=tenant,
        request=record_request,
        kind=kind,
        source=source,
        original_name=original_name_clean(getattr(file, "name", None)),
        content_type=detected.content_type,
        size_bytes=detected.size_bytes,
        sha256=detected.sha256,
        page_count=detected.page_count,
        uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
        uploaded_at=clock.now(),
        note=note,
    )
    history_stamp(document, actor)
    # upload_to (intake.models.document_path) builds tenant-<id>/documents/<random>.<ext> and keeps only the
    # suffix of the name given here: the detected type's, never the sender's.
    file.seek(0)
    # A write that fails half-way (disk full) leaves no partial file: the storage is all or nothing (roi/storage.py).
    try:
        document.file.save(f"document{detected.extension}", file, save=False)
    except OSError:
        logger.exception("Document storage refused a %s-byte file (MEDIA_ROOT full or read-only?)", detected.size_bytes)
        raise DocumentNotStored(
            "The document could not be stored: the server's document storage is full or unavailable. Nothing was "
            "saved; try again later, and tell your administrator if it keeps happening.",
            field="file",
        ) from None
    try:
        with transaction.atomic():
            document.save()
    except BaseException:
        document.file.delete(save=False)
        raise
    return document


def document_add(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    uploaded_file: Any,
    kind: str,
    note: str = "",
    source: str = DocumentSource.STAFF_UPLOAD,
) -> IntakeDocument:
    """Add a document to an existing request (a corrected authorization, proof of identity...) and count it as
    activity on the request, so it no longer reads as stalled."""
    with transaction.atomic():
        current = RecordRequest.objects.for_tenant(tenant).select_for_update().filter(pk=record_request.pk).first()
        if current is None:
            raise ServiceError("Request not found.")
        document = document_attach(
            tenant=tenant,
            actor=actor,
            record_request=current,
            uploaded_file=uploaded_file,
            kind=kind,
            source=source,
            note=note,
        )
        current.last_activity_at = document.uploaded_at
        history_stamp(current, actor)
        current.save(update_fields=["last_activity_at", "updated_at"])
    return document


def stored_file_open(stored: Any, *, what: str = "document", received: str = "received") -> IO[bytes]:
    """The stored file of a row with `file` and `sha256` (an intake document, a retrieved record, a release
    packet), open for reading, after checking it is the one recorded. The digest check reads the file once more:
    a file changed or swapped on disk is refused rather than sent. Writes no access event: callers do."""
    try:
        handle = stored.file.open("rb")
    except FileNotFoundError:
        raise ServiceError(
            f"The stored file of this {what} is missing; contact your administrator.", field="file"
        ) from None
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(1024 * 1024), b""):
        digest.update(chunk)
    if digest.hexdigest() != stored.sha256:
        handle.close()
        raise ServiceError(f"The stored file does not match the {what} {received}; contact your administrator.")
    handle.seek(0)
    return handle


def document_open(*, tenant: Tenant, document: IntakeDocument) -> IO[bytes]:
    """The stored file, open for reading, after checking it is the one received.

    The caller (the staff download view, a roi.downloads.PhiDownloadView) found the document with a tenant-scoped
    lookup and writes the access event; this checks the tenant again, so no other caller can hand out another
    tenant's file. The digest check (stored_file_open) reads the file once more (25 MB at most).
    """
    if document.tenant_id != tenant.pk:
        raise ServiceError("Document not found.")
    return stored_file_open(document)
