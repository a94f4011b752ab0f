"""Tenant B's objects for the queue's saved views (tests/test_tenant_isolation.py): a view of tenant B's staff."""

from __future__ import annotations

from roi.models import Membership
from workflow.models import SavedQueueView


def b_objects(tenant_b, b_request) -> dict[str, int]:
    owner = Membership.objects.for_tenant(tenant_b).first().user
    view = SavedQueueView.objects.create(tenant=tenant_b, user=owner, name="B's overdue", query="overdue=on")
    return {"workflow:saved_view_delete": view.pk}
