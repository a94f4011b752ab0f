"""The fulfillment factories make real, readable PDFs of the page counts they claim."""

from __future__ import annotations

from tests.fulfillment.factories import DeliveryFactory, ReleaseDocumentFactory
from tests.fulfillment.pdfs import pdf_texts


def test_documents_and_packets_are_real_pdfs(media, tenant_a):
    document = ReleaseDocumentFactory(request__tenant=tenant_a, page_count=4)
    texts = pdf_texts(document.file.read())
    assert len(texts) == 4
    assert texts[3].strip().endswith("page 4")
    delivery = DeliveryFactory(packet__request__tenant=tenant_a)
    assert delivery.request == delivery.packet.request
    assert len(pdf_texts(delivery.packet.file.read())) == delivery.packet.page_count
