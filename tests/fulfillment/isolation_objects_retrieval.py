"""Tenant B's retrieval task, for the routes of fulfillment/views/retrieval.py that name one by pk
(tests/test_tenant_isolation.py loads this module)."""

from __future__ import annotations

from tests.fulfillment.factories import RetrievalTaskFactory

ROUTES = (
    "fulfillment:retrieval-update",
    "fulfillment:retrieval-received",
    "fulfillment:retrieval-nothing-held",
    "fulfillment:retrieval-cancel",
)


def b_objects(tenant_b, b_request) -> dict[str, int]:
    task = RetrievalTaskFactory(request=b_request, requested_by=None)
    return dict.fromkeys(ROUTES, task.pk)
