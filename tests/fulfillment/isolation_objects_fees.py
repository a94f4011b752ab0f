"""Tenant B's invoice, for the generated isolation test (tests/test_tenant_isolation.py): every fees route naming an
invoice by pk is called by tenant A's admin with tenant B's tracking number and invoice."""

from __future__ import annotations

from django.core.files.base import ContentFile
from django.utils import timezone

from fulfillment.models import Invoice


def b_objects(tenant_b, b_request) -> dict[str, int]:
    invoice = Invoice(
        tenant=tenant_b,
        request=b_request,
        kind="invoice",
        number="INV-B-000001",
        total_cents=1000,
        basis="test",
        issued_at=timezone.now(),
        sha256="0" * 64,
    )
    invoice.file.save("invoice.pdf", ContentFile(b"%PDF-1.4\n"), save=True)
    return {
        name: invoice.pk
        for name in (
            "fulfillment:invoice-pay",
            "fulfillment:invoice-waive",
            "fulfillment:invoice-void",
            "fulfillment:invoice-pdf",
        )
    }
