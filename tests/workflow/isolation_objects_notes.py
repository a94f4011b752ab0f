"""Tenant B's internal note, for the generated isolation tests (tests/test_tenant_isolation.py `_more_b_objects`)."""

from __future__ import annotations

from roi.models import Membership
from workflow.notes import request_note_add


def b_objects(tenant_b, b_request) -> dict[str, int]:
    author = Membership.objects.for_tenant(tenant_b).first().user
    note = request_note_add(tenant=tenant_b, actor=author, record_request=b_request, text="Beta's note")
    return {"workflow:note_edit": note.pk}
