"""Factories for the fulfillment models. Documents and packets carry real PDFs (tests/fulfillment/pdfs.py); call
them inside a test whose settings.MEDIA_ROOT points at tmp_path (the `media` fixture in conftest)."""

from __future__ import annotations

import hashlib

import factory
from django.core.files.base import ContentFile
from django.utils import timezone

from fulfillment.choices import QcOutcome, RetrievalSource
from fulfillment.models import Delivery, QcReview, ReleaseDocument, ReleasePacket, RetrievalTask
from intake.models import IntakeReview
from tests.factories import RecordRequestFactory, UserFactory, complete_review
from tests.fulfillment.pdfs import make_pdf
from workflow.choices import DeliveryMethod, RecordType


class RetrievalTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RetrievalTask

    request = factory.SubFactory(RecordRequestFactory)
    tenant = factory.SelfAttribute("request.tenant")
    source = RetrievalSource.EHR_HIM
    requested_at = factory.LazyFunction(timezone.now)
    requested_by = factory.SubFactory(UserFactory)


class ReleaseDocumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReleaseDocument
        exclude = ("pdf",)

    request = factory.SubFactory(RecordRequestFactory)
    tenant = factory.SelfAttribute("request.tenant")
    source = RetrievalSource.EHR_HIM
    record_type = RecordType.DISCHARGE_SUMMARY
    page_count = 3
    pdf = factory.LazyAttribute(lambda d: make_pdf(d.page_count, f"{d.original_name} page"))
    file = factory.LazyAttribute(lambda d: ContentFile(d.pdf, name="document.pdf"))
    original_name = factory.Sequence(lambda n: f"document-{n}.pdf")
    content_type = "application/pdf"
    size_bytes = factory.LazyAttribute(lambda d: len(d.pdf))
    sha256 = factory.LazyAttribute(lambda d: hashlib.sha256(d.pdf).hexdigest())
    uploaded_by = factory.SubFactory(UserFactory)
    uploaded_at = factory.LazyFunction(timezone.now)


class ReleasePacketFactory(factory.django.DjangoModelFactory):
    """A packet row with a real PDF (plain pages, not a built packet: packets.py builds those)."""

    class Meta:
        model = ReleasePacket
        exclude = ("pdf",)

    request = factory.SubFactory(RecordRequestFactory)
    tenant = factory.SelfAttribute("request.tenant")
    version = factory.Sequence(lambda n: n + 1)
    record_pages = 2
    page_count = factory.LazyAttribute(lambda p: p.record_pages + 1)
    pdf = factory.LazyAttribute(lambda p: make_pdf(p.page_count, "Packet page"))
    file = factory.LazyAttribute(lambda p: ContentFile(p.pdf, name="packet.pdf"))
    sha256 = factory.LazyAttribute(lambda p: hashlib.sha256(p.pdf).hexdigest())
    recipient = "Records Department"
    contents = factory.LazyFunction(list)
    built_by = factory.SubFactory(UserFactory)
    built_at = factory.LazyFunction(timezone.now)


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    packet = factory.SubFactory(ReleasePacketFactory)
    request = factory.SelfAttribute("packet.request")
    tenant = factory.SelfAttribute("packet.tenant")
    method = DeliveryMethod.MAIL
    destination = "1 Main Street, Springfield"
    delivered_at = factory.LazyFunction(timezone.now)
    delivered_by = factory.SubFactory(UserFactory)
    mail_tracking_number = "9400 1000 0000 0000 0000 00"
    evidence = factory.LazyAttribute(lambda d: f"Mailed, tracking {d.mail_tracking_number}")


class QcReviewFactory(factory.django.DjangoModelFactory):
    """A passing QC review of a packet (the release gate lets a delivered packet out only if its QC passed)."""

    class Meta:
        model = QcReview

    packet = factory.SubFactory(ReleasePacketFactory)
    request = factory.SelfAttribute("packet.request")
    tenant = factory.SelfAttribute("packet.tenant")
    reviewer = factory.SubFactory(UserFactory)
    reviewed_at = factory.LazyFunction(timezone.now)
    outcome = QcOutcome.PASSED
    checks = factory.LazyFunction(dict)
    failures = factory.LazyFunction(list)


def released(packet: ReleasePacket) -> ReleasePacket:
    """What a packet that went out has behind it: the request's complete intake review (with the authorization its
    basis needs) and a passing QC of this version. A delivery built from factories gets these so that the release
    gate judges it on what a test changes, not on what the factory left out."""
    if not IntakeReview.objects.filter(request=packet.request).exists():
        complete_review(packet.request)
    QcReviewFactory(packet=packet, request=packet.request, tenant=packet.tenant)
    return packet
