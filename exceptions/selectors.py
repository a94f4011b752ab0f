from __future__ import annotations

from django.db.models import QuerySet

from exceptions.models import ExceptionEpisode
from roi.models import Tenant


def open_episode(*, tenant: Tenant, request_id: int) -> ExceptionEpisode | None:
    return (
        ExceptionEpisode.objects.for_tenant(tenant)
        .select_related("owner", "opened_by")
        .filter(request_id=request_id, resolved_at__isnull=True)
        .first()
    )


def episodes_for_request(*, tenant: Tenant, request_id: int) -> QuerySet[ExceptionEpisode]:
    return (
        ExceptionEpisode.objects.for_tenant(tenant)
        .select_related("owner", "opened_by", "resolved_by")
        .filter(request_id=request_id)
        .order_by("-opened_at")
    )
