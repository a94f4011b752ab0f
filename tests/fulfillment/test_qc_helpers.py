"""Building blocks of the QC and delivery tests (no tests here): an authorization on file, documents, a packet, a
passed QC."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from fulfillment import qc
from fulfillment.models import ReleasePacket
from fulfillment.packets import packet_recipient
from intake.models import IntakeReview
from tests.factories import complete_review
from tests.fulfillment.factories import ReleaseDocumentFactory, ReleasePacketFactory
from workflow.choices import RecordType
from workflow.models import RecordRequest


def authorization_on_file(rr: RecordRequest, **auth) -> IntakeReview:  # type: ignore[no-untyped-def]
    """A complete intake review with a valid HIPAA authorization recorded from its document, signed ten days ago and
    expiring in a year unless `auth` says otherwise (its Authorization fields)."""
    return complete_review(rr, auth=auth)


def document(rr: RecordRequest, **fields):  # type: ignore[no-untyped-def]
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


def packet(rr: RecordRequest, *, builder, documents=None, **fields) -> ReleasePacket:  # type: ignore[no-untyped-def]
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


def pass_qc(rr: RecordRequest, *, reviewer):  # type: ignore[no-untyped-def]
    review = qc.qc_review_record(tenant=rr.tenant, actor=reviewer, record_request=rr, confirmed=qc.CHECK_ORDER)
    assert review.outcome == "passed", review.failures
    rr.refresh_from_db()
    return review
