"""Template context for every staff page. Registered in settings.TEMPLATES after roi.tenancy.tenant_context."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from roi.models import Notification

# The badge counts up to this and then says "99+": a supervisor with thousands unread (after an escalation run
# over a large backlog) would otherwise pay for counting them all on every page.
UNREAD_BADGE_CAP = 100


def unread_badge(count: int) -> str:
    return "" if count <= 0 else (f"{UNREAD_BADGE_CAP - 1}+" if count >= UNREAD_BADGE_CAP else str(count))


def unread_notifications(request: HttpRequest) -> dict[str, Any]:
    """The unread count shown next to "Notifications" in the header (templates/base.html), as its badge text ("",
    "7", "99+"). Lazy: one bounded COUNT query, and only on pages that render the header for a user with a tenant."""
    tenant = getattr(request, "tenant", None)
    user = getattr(request, "user", None)
    if tenant is None or user is None or not user.is_authenticated:
        return {"unread_notification_count": ""}
    unread = Notification.objects.for_tenant(tenant).filter(recipient=user, read_at__isnull=True)
    return {
        "unread_notification_count": SimpleLazyObject(
            lambda: unread_badge(unread.order_by()[:UNREAD_BADGE_CAP].count())
        )
    }
