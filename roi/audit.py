"""Access events: the record of who looked at which PHI. Called by every view that shows or hands out PHI."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from roi import clock
from roi.models import AccessEvent, Tenant


def client_address(request: HttpRequest | None) -> str | None:
    """The client's IP address, for access events and the portal's per-address limits. Behind TRUSTED_PROXY_COUNT
    reverse proxies (a load balancer, a TLS terminator), REMOTE_ADDR is the nearest proxy's: the client is then the
    address the outermost trusted proxy appended to X-Forwarded-For (counted from the right, so a client cannot
    choose its own address by sending the header)."""
    if request is None:
        return None
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            try:
                return str(ipaddress.ip_address(forwarded[-proxies]))
            except ValueError:
                pass  # not an address (a misconfigured proxy count): the nearest peer is all we know
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
