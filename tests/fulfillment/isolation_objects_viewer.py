"""Tenant B's retrieved record for the document viewer's routes (tests/test_tenant_isolation.py)."""

from __future__ import annotations

from tests.fulfillment.factories import ReleaseDocumentFactory


def b_objects(tenant_b, b_request) -> dict[str, int]:
    document = ReleaseDocumentFactory(request=b_request, page_count=2)
    return {
        "fulfillment:release-document-viewer": document.pk,
        "fulfillment:release-document-page": document.pk,
    }
