"""Every file with PHI that leaves (documents, letters, packets, invoices, reports) goes out here: the staff
download view every such page builds on (`PhiDownloadView`), the one writer of their access events
(`download_record`, which the portal's link download calls too), and the response that says how a file is sent
(`phi_file_response`). tests/roi/test_download_path.py fails when a view builds a file response of its own or writes
a download event another way."""

from __future__ import annotations

import io
import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO, Any
from urllib.parse import quote

from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from roi.audit import access_record
from roi.choices import AccessAction
from roi.errors import ServiceError
from roi.models import AccessEvent, Tenant
from roi.tenancy import TenantViewMixin

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
    browser or a proxy, never content-sniffed, no referrer sent from it. Called by PhiDownloadView, after it found
    the file inside the tenant and wrote the access event, and by the portal's link download (portal/views/downloads.py),
    whose event is written with the link's use."""
    stream = io.BytesIO(content) if isinstance(content, bytes) else content
    response = FileResponse(stream, content_type=content_type)
    response["Content-Disposition"] = content_disposition(filename, inline=inline)
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    return response


@dataclass(frozen=True)
class ServedFile:
    """A file about to be handed out, and what its access event says about it: `obj` is the row the file belongs to
    (its type and id name it in the event; None for a report made on the spot), `request_id` and `patient_id` let
    the audit pages of the request and of the patient find the download, `detail` says what it was in words."""

    content: bytes | IO[bytes]
    filename: str
    content_type: str
    obj: Any
    detail: str
    request_id: int | None = None
    patient_id: int | None = None
    inline: bool = False


def download_record(
    *,
    tenant: Tenant,
    actor: Any,
    http_request: HttpRequest | None,
    served: ServedFile,
    action: str = AccessAction.DOWNLOAD_DOCUMENT,
    actor_label: str | None = None,
) -> AccessEvent:
    """The access event of one file handed out, and the only writer of download events: PhiDownloadView writes it
    for staff; the portal's link download (fulfillment.delivery) writes it in the transaction that takes the link's
    use, with no staff user and `actor_label` saying how the visitor was verified."""
    return access_record(
        tenant=tenant,
        actor=actor,
        action=action,
        request=http_request,
        obj=served.obj,
        request_id=served.request_id,
        patient_id=served.patient_id,
        detail=served.detail,
        actor_label=actor_label,
    )


def _close(content: bytes | IO[bytes]) -> None:
    if not isinstance(content, bytes):
        content.close()


class PhiDownloadView(TenantViewMixin, ABC):
    """The base of every staff page that hands out a file with PHI: find the object inside the tenant, ask
    `before_serving`, open and check the file, write one access event, send it with `phi_file_response`.

    A subclass says how to find its object (`find`: another tenant's or a missing one raises Http404, before
    anything is read), what to serve (`open_file`: the owning app's service opens it and checks its digest) and
    where a refused download goes back to (`back`). A ServiceError from `before_serving` or `open_file`, or a stored
    file gone from disk, shows its message on that page and writes no access event: nothing leaves.

    The concrete view lists `View` last (`class X(PhiDownloadView, View)`) so that a request's downloads can put
    the request base view between them (workflow.views.downloads.RequestDownloadView)."""

    http_method_names: Sequence[str] = ["get"]
    # What the event records: a stored file handed out, or (the monthly report) an export made on the spot.
    access_action: str = AccessAction.DOWNLOAD_DOCUMENT

    @abstractmethod
    def find(self, **kwargs: Any) -> Any:
        """The object whose file the URL names, looked up inside `self.tenant`; Http404 for anything else."""

    @abstractmethod
    def open_file(self, target: Any) -> ServedFile:
        """The file of `target`, opened and checked; a ServiceError says why it cannot be served."""

    @abstractmethod
    def back(self, **kwargs: Any) -> HttpResponse:
        """The page a refused download returns to, where its message is shown."""

    def before_serving(self, request: HttpRequest, target: Any) -> None:
        """Released records ask the release gate first: a check that must pass before a file is opened, given the
        object `find` returned. Raising ServiceError refuses the download (its message on the `back` page, no file,
        no access event). Nothing is checked here yet; the release gate fills it in for released records."""

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
        target = self.find(**kwargs)
        try:
            self.before_serving(request, target)
            served = self.open_file(target)
        except ServiceError as error:
            messages.error(request, error.message)
            return self.back(**kwargs)
        except FileNotFoundError:
            messages.error(request, "The stored file is missing; contact your administrator.")
            return self.back(**kwargs)
        try:
            download_record(
                tenant=self.tenant, actor=request.user, http_request=request, served=served, action=self.access_action
            )
        except BaseException:
            _close(served.content)
            raise
        return phi_file_response(
            served.content, filename=served.filename, content_type=served.content_type, inline=served.inline
        )


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
