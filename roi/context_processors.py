"""Template context for every staff page. Registered in settings.TEMPLATES after roi.tenancy.tenant_context."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from roi.models import Notification


def unread_notifications(request: HttpRequest) -> dict[str, Any]:
    """The unread count shown next to "Notifications" in the header (templates/base.html). Lazy: one COUNT query,
    and only on pages that render the header for a user with a tenant."""
    tenant = getattr(request, "tenant", None)
    user = getattr(request, "user", None)
    if tenant is None or user is None or not user.is_authenticated:
        return {"unread_notification_count": 0}
    return {
        "unread_notification_count": SimpleLazyObject(
            lambda: Notification.objects.for_tenant(tenant).filter(recipient=user, read_at__isnull=True).count()
        )
    }
