"""The release packet: one PDF of what is released, built from the request's documents and page exclusions.

A packet is a cover sheet (who releases what to whom, on which basis, and the 42 CFR Part 2 redisclosure notice when
a Part 2 record is included) followed by every included page in document order. Every record page is stamped at its
foot: "Released to <recipient> on <date> - page n of N" and the tracking number, so a page that travels alone still
says where it went. Record pages are shrunk a few percent to leave a clear band for the stamp: the stamp never
covers what is on the page.

Built packets never change: a rebuild is a new version, the previous one is marked superseded, and QC passed on the
old version no longer counts (the QC part reviews the latest packet; the delivery part sends it).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import IO, Any

from django.core.files import File
from django.db import connection, transaction
from django.db.models import QuerySet
from pypdf import PdfReader

from fulfillment import documents as docs
from fulfillment import packet_pdf
from fulfillment.models import ReleasePacket
from intake import bases
from intake.authorizations import review_with_records
from intake.choices import LegalDocumentType
from intake.documents import stored_file_open
from intake.models import IntakeReview
from roi import clock
from roi.audit import history_stamp
from roi.errors import ServiceError
from roi.models import Tenant
from roi.pdf import render_pdf
from workflow.choices import DeliveryMethod, RequestorKind, RequestType, SensitiveCategory
from workflow.deadlines import local_date
from workflow.models import RecordRequest

# 42 CFR 2.32(a)(1) as amended by the final rule of February 16, 2024 (89 FR 12472; compliance February 16, 2026):
# the statement that must accompany each disclosure of Part 2 records made with the patient's consent.
PART2_NOTICE = (
    "This record which has been disclosed to you is protected by Federal confidentiality rules (42 CFR part 2). "
    "These rules prohibit you from using or disclosing this record, or testimony that describes the information "
    "contained in this record, in any civil, criminal, administrative, or legislative proceedings by any Federal, "
    "State, or local authority, against the patient, unless authorized by the consent of the patient, except as "
    "provided at 42 CFR 2.12(c)(5) or as authorized by a court in accordance with 42 CFR 2.64 or 2.65. In addition, "
    "the Federal rules prohibit you from making any other use or disclosure of this record unless at least one of "
    "the following applies:",
    (
        "Further use or disclosure is expressly permitted by the written consent of the individual whose "
        "information is being disclosed in this record or as otherwise permitted by 42 CFR part 2.",
        "You are a covered entity or business associate and have received the record for treatment, payment, or "
        "health care operations, or",
        "You have received the record from a covered entity or business associate as permitted by 45 CFR part 164, "
        "subparts A and E.",
    ),
    "A general authorization for the release of medical or other information is NOT sufficient to meet the required "
    "elements of written consent to further use or redisclose the record (see 42 CFR 2.31).",
)


def _words(text: str) -> str:
    return " ".join("".join(c if c.isalnum() else " " for c in text.casefold()).split())


def part2_notice_check(cover: PdfReader) -> None:
    """The cover sheet of a packet with Part 2 records must carry the whole 42 CFR 2.32 notice: read back from the
    rendered PDF (not assumed from the template), every sentence of it, or the packet is not built. A layout that
    clipped or dropped a line of the notice would otherwise leave with the records."""
    printed = _words(" ".join(page.extract_text() or "" for page in cover.pages))
    intro, items, outro = PART2_NOTICE
    missing = [part for part in (intro, *items, outro) if _words(part) not in printed]
    if missing:
        raise ServiceError(
            "The cover sheet did not print the whole 42 CFR 2.32 redisclosure notice, so the packet was not built; "
            "contact your administrator. Missing: " + missing[0][:80] + "..."
        )


# --- What the packet says -------------------------------------------------------------------------------------


def _long_date(day: date) -> str:
    """'March 5, 2030', as letters write dates."""
    return f"{day:%B} {day.day}, {day.year}"


def _short_date(day: date) -> str:
    """'Mar 5, 2030', as the stamp writes the release date."""
    return f"{day:%b} {day.day}, {day.year}"


def packet_recipient(record_request: RecordRequest) -> str:
    """Who and where, as stamped on every page: the requestor's organisation (or name) and the destination."""
    requestor = record_request.requestor
    who = (requestor.organization or requestor.name).strip()
    destination = record_request.delivery_destination.strip()
    method = record_request.delivery_method
    if method == DeliveryMethod.PICKUP:
        where = "pickup in person"
    elif method == DeliveryMethod.FAX and destination:
        where = f"fax {destination}"
    else:
        where = destination
    return f"{who}, {where}"[:300] if where else who[:300]


def release_basis(record_request: RecordRequest, review: IntakeReview | None) -> list[str]:
    """The basis for the release, in a line or two with its citation, from the request type and what the intake
    checklist confirmed."""
    kind = record_request.request_type
    requestor = record_request.requestor
    lines: list[str] = []
    if kind == RequestType.RIGHT_OF_ACCESS:
        line = "The individual's right of access to their records (45 CFR 164.524)"
        if requestor.kind == RequestorKind.PERSONAL_REPRESENTATIVE:
            rep = review.representative if review and review.representative_id else None
            authority = rep.get_authority_type_display().lower() if rep else ""
            line += ", exercised by the patient's personal representative" + (f" ({authority})" if authority else "")
        lines.append(line + ".")
        if (
            review
            and review.directive_in_writing_signed
            and requestor.kind
            not in (
                RequestorKind.PATIENT,
                RequestorKind.PERSONAL_REPRESENTATIVE,
            )
        ):
            lines.append(
                "Sent to the recipient the patient named in a signed written directive (45 CFR 164.524(c)(3)(ii))."
            )
    elif kind == RequestType.AUTHORIZATION or (review and review.authorization_id and kind != RequestType.LEGAL):
        auth = review.authorization if review and review.authorization_id else None
        line = "The patient's written authorization (45 CFR 164.508)"
        if auth is not None:
            signer = f"their representative, {auth.signer_name}" if auth.representative_id else auth.signer_name
            line += f", signed by {signer} on {_long_date(auth.signed_on)}, naming {auth.recipient}"
        lines.append(line + ".")
        if auth is not None and (auth.expires_on or auth.expiration_event):
            expiry = _long_date(auth.expires_on) if auth.expires_on else auth.expiration_event
            lines.append(f"The authorization expires: {expiry}.")
    elif kind == RequestType.CONTINUITY_OF_CARE:
        lines.append("Treatment: continuity of care with a treating provider (45 CFR 164.506(c)).")
    elif kind == RequestType.LEGAL:
        legal = review.legal_document_type if review else ""
        if legal == LegalDocumentType.COURT_ORDER:
            lines.append(
                "A court order signed by a judge; only what the order expressly covers is released "
                "(45 CFR 164.512(e)(1)(i))."
            )
        elif legal == LegalDocumentType.SUBPOENA:
            assurance = (
                "a qualified protective order"
                if review and review.qualified_protective_order
                else "satisfactory assurance of notice to the patient"
            )
            lines.append(f"A subpoena, with {assurance} (45 CFR 164.512(e)(1)(ii)).")
        elif legal == LegalDocumentType.ADMINISTRATIVE:
            lines.append("An administrative request or agency demand required by law (45 CFR 164.512).")
        else:
            lines.append("A subpoena or court order (45 CFR 164.512(e)).")
    elif kind == RequestType.ACCOUNTING:
        lines.append("The individual's accounting of disclosures (45 CFR 164.528).")
    elif kind in bases.BASES:
        lines += bases.release_lines(bases.BASES[kind], review.basis_answers if review else {})
    else:
        lines.append("Other: as described in the request.")
    if review and review.consents_received:
        labels = ", ".join(SensitiveCategory(value).label for value in review.consents_received)
        lines.append(f"Specific consent on file for: {labels}.")
    return lines


def _scope_dates(record_request: RecordRequest) -> str:
    first, last = record_request.scope_date_from, record_request.scope_date_to
    if first and last:
        return f"{_long_date(first)} to {_long_date(last)}"
    if first:
        return f"from {_long_date(first)}"
    if last:
        return f"up to {_long_date(last)}"
    return ""


def _service_dates(document: Any) -> str:
    first, last = document.service_date_from, document.service_date_to
    if first and last and first != last:
        return f"{first:%m/%d/%Y} - {last:%m/%d/%Y}"
    if first or last:
        return f"{(first or last):%m/%d/%Y}"
    return ""


# --- Building ---------------------------------------------------------------------------------------------------

# The advisory-lock class of packet builds (pg_advisory_lock(class, request id)): "ROI" in ASCII.
BUILD_LOCK_CLASS = 0x524F49


def _cover_context(
    *,
    tenant: Tenant,
    record_request: RecordRequest,
    review: IntakeReview | None,
    contents: list[docs.DocumentPages],
    version: int,
    recipient: str,
    record_pages: int,
    includes_part2: bool,
    built_on: date,
) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "request": record_request,
        "patient": record_request.patient,
        "requestor": record_request.requestor,
        "version": version,
        "recipient": recipient,
        "record_pages": record_pages,
        "built_on": built_on,
        "scope_dates": _scope_dates(record_request),
        "basis": release_basis(record_request, review),
        "delivery_method": DeliveryMethod(record_request.delivery_method).label
        if record_request.delivery_method
        else "Not chosen",
        "rows": [
            {
                "n": n,
                "record_type": item.document.get_record_type_display(),
                "source": item.document.get_source_display(),
                "dates": _service_dates(item.document),
                "pages": item.label,
                "count": len(item.included),
            }
            for n, item in enumerate(contents, start=1)
        ],
        "includes_part2": includes_part2,
        "part2_intro": PART2_NOTICE[0],
        "part2_items": PART2_NOTICE[1],
        "part2_outro": PART2_NOTICE[2],
    }


def _snapshot(contents: list[docs.DocumentPages], record_request: RecordRequest) -> dict[str, Any]:
    """What a packet is built from: the documents and pages, whether the Part 2 notice is due, the recipient."""
    return {
        "contents": [{"document": item.document.pk, "pages": item.included} for item in contents],
        "part2": any(
            SensitiveCategory.SUD_PART2 in docs.released_categories(item.document, item.included) for item in contents
        ),
        "recipient": packet_recipient(record_request),
    }


_SNAPSHOT_PARTS = (
    ("contents", "documents or excluded pages"),
    ("part2", "the 42 CFR Part 2 notice"),
    ("recipient", "the recipient or delivery destination"),
)


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What differs between two snapshots, in words."""
    return [what for key, what in _SNAPSHOT_PARTS if before[key] != after[key]]


@contextmanager
def _one_build_at_a_time(record_request: RecordRequest) -> Iterator[None]:
    """Builds of one request run one after the other (consecutive versions, each from the state the previous one
    left) without holding the request's row lock while pages are laid out: staff keep working on the request, and a
    change made meanwhile is caught before the packet is kept. A PostgreSQL advisory lock on the request's id, for
    the session (released at the end) or, inside a caller's transaction, for that transaction."""
    in_transaction = connection.in_atomic_block
    lock = "pg_advisory_xact_lock" if in_transaction else "pg_advisory_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {lock}(%s, %s)", [BUILD_LOCK_CLASS, record_request.pk])
    try:
        yield
    finally:
        if not in_transaction:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [BUILD_LOCK_CLASS, record_request.pk])


def contents_to_release(*, tenant: Tenant, record_request: RecordRequest) -> tuple[list[docs.DocumentPages], int]:
    """What a packet built now would hold, and its number of record pages; refused when nothing would leave."""
    contents = docs.release_contents(docs.documents_for(tenant=tenant, record_request=record_request))
    record_pages = sum(len(item.included) for item in contents)
    if not record_pages:
        raise ServiceError(
            "Nothing to release: upload the retrieved records, or put back pages excluded by mistake, "
            "before building the packet."
        )
    return contents, record_pages


def packet_build(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, progress: packet_pdf.Progress | None = None
) -> ReleasePacket:
    """Build the next version of the request's release packet from its documents and exclusions as they are now.

    The pages are laid out outside any transaction (packet_pdf writes them to disk a chunk at a time and calls
    `progress(done, total)` as it goes); then, with the request's row locked, the packet is kept only if nothing it
    was built from changed meanwhile. The previous version is marked superseded, and QC recorded on the request is
    cleared (it was for the previous version)."""
    with _one_build_at_a_time(record_request):
        with transaction.atomic():
            current = docs.lock_request_for_work(tenant=tenant, record_request=record_request)
            contents, record_pages = contents_to_release(tenant=tenant, record_request=current)
            previous = ReleasePacket.objects.for_tenant(tenant).filter(request=current).order_by("-version").first()
            version = (previous.version if previous else 0) + 1
            built_on = local_date(clock.now(), tenant)
            snapshot = _snapshot(contents, current)
            review = review_with_records(tenant=tenant, record_request=current)
        cover_pdf = render_pdf(
            "fulfillment/pdf/cover.html",
            _cover_context(
                tenant=tenant,
                record_request=current,
                review=review,
                contents=contents,
                version=version,
                recipient=snapshot["recipient"],
                record_pages=record_pages,
                includes_part2=snapshot["part2"],
                built_on=built_on,
            ),
        )
        cover = PdfReader(io.BytesIO(cover_pdf))
        if snapshot["part2"]:
            part2_notice_check(cover)
        with packet_pdf.packet_file(
            cover=cover_pdf,
            items=[packet_pdf.Item(n, item.document, item.included) for n, item in enumerate(contents, start=1)],
            total=record_pages,
            title=f"Release of information {current.tracking_number} v{version}",
            stamp_text={
                "tracking_number": current.tracking_number,
                "recipient": snapshot["recipient"],
                "when": _short_date(built_on),
            },
            progress=progress,
        ) as path:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            return _packet_keep(
                tenant=tenant,
                actor=actor,
                record_request=current,
                snapshot=snapshot,
                version=version,
                path=path,
                sha256=digest.hexdigest(),
                cover_pages=len(cover.pages),
                record_pages=record_pages,
            )


def _packet_keep(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    snapshot: dict[str, Any],
    version: int,
    path: Path,
    sha256: str,
    cover_pages: int,
    record_pages: int,
) -> ReleasePacket:
    with transaction.atomic():
        current = docs.lock_request_for_work(tenant=tenant, record_request=record_request)
        now_contents = docs.release_contents(docs.documents_for(tenant=tenant, record_request=current))
        changed = _changes(snapshot, _snapshot(now_contents, current))
        if changed:
            raise ServiceError(
                f"The {' and '.join(changed)} changed while the packet was being built, so it was not kept: build it "
                "again."
            )
        now = clock.now()
        packet = ReleasePacket(
            tenant=tenant,
            request=current,
            version=version,
            sha256=sha256,
            page_count=cover_pages + record_pages,
            record_pages=record_pages,
            recipient=snapshot["recipient"],
            contents=snapshot["contents"],
            includes_part2=snapshot["part2"],
            built_by=actor if getattr(actor, "is_authenticated", False) else None,
            built_at=now,
        )
        history_stamp(packet, actor)
        with path.open("rb") as handle:
            packet.file.save(f"packet-v{version}.pdf", File(handle), save=False)
        try:
            with transaction.atomic():
                packet.save()
        except BaseException:
            packet.file.delete(save=False)
            raise
        for old in (
            ReleasePacket.objects.for_tenant(tenant)
            .filter(request=current, superseded_at__isnull=True)
            .exclude(pk=packet.pk)
        ):
            old.superseded_at = now
            history_stamp(old, actor)
            old.save(update_fields=["superseded_at"])
        # QC applies to one packet version (the QC part reviews the latest): a new version needs its own QC.
        current.qc_passed_at = None
        current.qc_passed_by = None
        docs.record_activity(current, actor, now, extra_fields=("qc_passed_at", "qc_passed_by"))
    return packet


def packet_open(*, tenant: Tenant, packet: ReleasePacket) -> IO[bytes]:
    """The stored packet, checked against its digest. The caller (the staff download view, a
    roi.downloads.PhiDownloadView) writes the access event: the packet is the patient's record."""
    if packet.tenant_id != tenant.pk:
        raise ServiceError("Packet not found.")
    return stored_file_open(packet, what="packet", received="built")


# --- Reading ------------------------------------------------------------------------------------------------------


def packets_for(*, tenant: Tenant, record_request: RecordRequest) -> QuerySet[ReleasePacket]:
    """A request's packets, newest version first."""
    return (
        ReleasePacket.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk)
        .select_related("built_by")
        .order_by("-version")
    )


def latest_packet(*, tenant: Tenant, record_request: RecordRequest) -> ReleasePacket | None:
    """The version QC reviews and delivery sends (consumers: the QC and delivery parts)."""
    return packets_for(tenant=tenant, record_request=record_request).first()


def packet_changes(
    packet: ReleasePacket, contents: list[docs.DocumentPages], record_request: RecordRequest
) -> list[str]:
    """What a rebuild would change about `packet`: empty when it still matches the documents and the request."""
    built = {"contents": packet.contents, "part2": packet.includes_part2, "recipient": packet.recipient}
    return _changes(built, _snapshot(contents, record_request))
