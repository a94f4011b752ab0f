"""Template context for every staff page. Registered in settings.TEMPLATES after roi.tenancy.tenant_context."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from roi.notifications import unread_count


def unread_badge(count: int) -> str:
    """The badge's text: the exact number ("7", "1,204"), or nothing when all is read."""
    return "" if count <= 0 else f"{count:,}"


def unread_notifications(request: HttpRequest) -> dict[str, Any]:
    """The unread count shown next to "Notifications" in the header (templates/base.html), as its badge text. Exact:
    a capped "99+" that never goes away tells a supervisor nothing, and stale escalation notices are read when their
    escalation closes itself, so the number is work to do. Lazy: one COUNT over the notification_inbox_idx index,
    and only on pages that render the header for a user with a tenant."""
    tenant = getattr(request, "tenant", None)
    user = getattr(request, "user", None)
    if tenant is None or user is None or not user.is_authenticated:
        return {"unread_notification_count": ""}
    return {"unread_notification_count": SimpleLazyObject(lambda: unread_badge(unread_count(tenant=tenant, user=user)))}
