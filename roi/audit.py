"""Access events: the record of who looked at which PHI. Called by every view that shows or hands out PHI."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from roi import clock
from roi.models import AccessEvent, Tenant


def client_address(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def access_record(
    *,
    tenant: Tenant,
    actor: Any,
    action: str,
    request: HttpRequest | None = None,
    obj: Any = None,
    request_id: int | None = None,
    patient_id: int | None = None,
    detail: str = "",
    actor_label: str | None = None,
) -> AccessEvent:
    """Write one access event. `request` is the HTTP request (for address and agent), not a records request."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    return AccessEvent.objects.create(
        tenant=tenant,
        actor=user,
        actor_label=actor_label or (user.get_username() if user else "anonymous"),
        action=action,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        request_id=request_id,
        patient_id=patient_id,
        detail=detail[:300],
        ip_address=client_address(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""),
    )


def history_stamp(instance: Any, actor: Any) -> None:
    """Tell django-simple-history who made the change about to be saved and when (the services' clock), for
    callers without an HTTP request (API tokens, tasks, commands) as much as for pages."""
    instance._history_user = actor if getattr(actor, "is_authenticated", False) else None
    instance._history_date = clock.now()
