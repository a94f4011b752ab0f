"""The response for a file with PHI (documents, letters, packets, invoices, reports): one place that says how."""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import PurePosixPath
from typing import IO
from urllib.parse import quote

from django.http import FileResponse

_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9._()\- ]+")


def ascii_name(name: str) -> str:
    """A plain ASCII version of a name for the quoted filename= of Content-Disposition (old clients read only it)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    folded = _UNSAFE_ASCII.sub("_", folded).strip(" ._") or "document"
    suffix = PurePosixPath(name).suffix
    if suffix and not folded.lower().endswith(suffix.lower()) and suffix.isascii():
        folded += suffix
    return folded[:150]


def content_disposition(name: str, *, inline: bool = False) -> str:
    """attachment (or inline); filename="<ascii>", plus RFC 6266 / RFC 5987 filename*=UTF-8''... when the name is
    not plain safe ASCII: a sender's file name never reaches the header unescaped."""
    fallback = ascii_name(name)
    header = f'{"inline" if inline else "attachment"}; filename="{fallback}"'
    if fallback != name:
        header += f"; filename*=UTF-8''{quote(name, safe='')}"
    return header


def phi_file_response(
    content: bytes | IO[bytes], *, filename: str, content_type: str, inline: bool = False
) -> FileResponse:
    """`content` as a download (or shown inline) under `filename`: a safe Content-Disposition, never cached by the
    browser or a proxy, never content-sniffed, no referrer sent from it. The caller has checked the tenant and
    written the access event."""
    stream = io.BytesIO(content) if isinstance(content, bytes) else content
    response = FileResponse(stream, content_type=content_type)
    response["Content-Disposition"] = content_disposition(filename, inline=inline)
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    return response


def spreadsheet_safe(value: object) -> str:
    """A CSV cell a spreadsheet will not run as a formula (CSV injection): text starting with = + - @ or a control
    character gets a leading apostrophe. Numbers, negative ones included, stay numbers. Every CSV export uses it:
    names, details and user agents come from users and from the portal."""
    text = "" if value is None else str(value)
    if text[:1] not in ("=", "+", "-", "@", "\t", "\r"):
        return text
    try:
        float(text)
    except ValueError:
        return "'" + text
    return text
