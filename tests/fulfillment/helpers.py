"""Building blocks of the fulfillment tests and of others that need a request with records (no tests here): an
uploaded release document, an authorization on file, documents, a packet, a passed QC."""

from __future__ import annotations

import io
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from fulfillment import documents as docs
from fulfillment import gate, qc
from fulfillment.choices import RetrievalSource
from fulfillment.models import ReleasePacket
from fulfillment.packets import packet_recipient
from intake.models import IntakeReview
from roi import page_images
from tests.factories import complete_review
from tests.fulfillment.factories import ReleaseDocumentFactory, ReleasePacketFactory
from tests.fulfillment.pdfs import make_pdf
from workflow.choices import RecordType
from workflow.models import RecordRequest


def image_bytes(fmt: str, size: tuple[int, int] = (200, 260)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 220, 240)).save(out, fmt)
    return out.getvalue()


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


def add(rr: RecordRequest, actor, content: bytes | None = None, name: str = "discharge.pdf", **fields):
    """A release document uploaded by `actor` (a three-page PDF from the EHR unless told otherwise)."""
    return docs.release_document_upload(
        tenant=rr.tenant,
        actor=actor,
        record_request=rr,
        uploaded_file=upload(name, content if content is not None else make_pdf(3)),
        source=fields.pop("source", RetrievalSource.EHR_HIM),
        record_type=fields.pop("record_type", RecordType.DISCHARGE_SUMMARY),
        **fields,
    )


def authorization_on_file(rr: RecordRequest, **auth) -> IntakeReview:
    """A complete intake review with a valid HIPAA authorization recorded from its document, signed ten days ago and
    expiring in a year unless `auth` says otherwise (its Authorization fields)."""
    return complete_review(rr, auth=auth)


def document(rr: RecordRequest, **fields):
    """A confirmed discharge summary inside the request's scope."""
    start = rr.scope_date_from or timezone.localdate() - timedelta(days=30)
    values = {
        "patient_confirmed": True,
        "record_type": RecordType.DISCHARGE_SUMMARY,
        "service_date_from": start + timedelta(days=1),
        "service_date_to": start + timedelta(days=2),
        **fields,
    }
    return ReleaseDocumentFactory(request=rr, tenant=rr.tenant, **values)


def packet(rr: RecordRequest, *, builder, documents=None, **fields) -> ReleasePacket:
    """A built packet of the request listing `documents` (one good document by default), addressed to the
    requestor. Earlier versions are superseded, as the packet builder does."""
    documents = [document(rr)] if documents is None else documents
    now = timezone.now()
    ReleasePacket.objects.filter(request=rr, superseded_at__isnull=True).update(superseded_at=now)
    values = {
        "recipient": packet_recipient(rr),  # as the builder stamps it on every page
        "contents": [{"document": d.pk, "pages": list(range(1, d.page_count + 1))} for d in documents],
        "record_pages": sum(d.page_count for d in documents) or 1,
        "built_at": now,
        **fields,
    }
    return ReleasePacketFactory(request=rr, tenant=rr.tenant, built_by=builder, **values)


def show_released_pages(rr: RecordRequest, *, reviewer, skip: tuple[int, ...] = ()) -> None:
    """What the viewer records when it draws each page the current packet releases for the reviewer (roi.page_images),
    except the pages numbered in `skip`."""
    packet = qc.current_packet(tenant=rr.tenant, record_request=rr)
    documents = gate.packet_documents(tenant=rr.tenant, record_request=rr, packet=packet)
    for _document, viewer, pages in qc.released_pages(tenant=rr.tenant, packet=packet, documents=documents):
        for page in pages:
            if page not in skip:
                page_images.page_shown(user_id=reviewer.pk, document=viewer, page=page)


def pass_qc(rr: RecordRequest, *, reviewer):
    show_released_pages(rr, reviewer=reviewer)
    review = qc.qc_review_record(tenant=rr.tenant, actor=reviewer, record_request=rr, confirmed=qc.CHECK_ORDER)
    assert review.outcome == "passed", review.failures
    rr.refresh_from_db()
    return review
