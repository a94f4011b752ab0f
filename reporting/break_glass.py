"""The break-glass report (reporting/audit_views.py, /reports/break-glass/): every emergency access to a restricted
request (workflow/break_glass.py) for the privacy review: when, who, which request, the reason, until when, and
whether the user then looked at anything of the request while the grant ran. Read-only; one tenant."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from django.db.models import Exists, OuterRef, QuerySet

from reporting.audit import _day_start, _local
from roi.choices import AccessAction
from roi.downloads import spreadsheet_safe
from roi.models import AccessEvent, Tenant
from workflow.models import BreakGlassGrant

GRANT_COLUMNS = [
    "grant id", "granted at", "user", "user id", "tracking number", "patient MRN", "reason", "expires at",
    "viewed during grant", "address",
]  # fmt: skip


def break_glass_grants(
    *, tenant: Tenant, date_from: date | None = None, date_to: date | None = None
) -> QuerySet[BreakGlassGrant]:
    """The tenant's grants, newest first, granted between the two days of the tenant's calendar (both included,
    either open), each with `viewed`: whether its user wrote any other access event on the request (a page, a
    download) while the grant ran. One query for any number of rows."""
    used = AccessEvent.objects.filter(
        tenant_id=OuterRef("tenant_id"),
        actor_id=OuterRef("user_id"),
        request_id=OuterRef("request_id"),
        at__gte=OuterRef("granted_at"),
        at__lt=OuterRef("expires_at"),
    ).exclude(action=AccessAction.BREAK_GLASS)
    queryset = (
        BreakGlassGrant.objects.for_tenant(tenant)
        .select_related("user", "request__patient")
        .annotate(viewed=Exists(used))
        .order_by("-granted_at", "-id")
    )
    if date_from:
        queryset = queryset.filter(granted_at__gte=_day_start(tenant, date_from))
    if date_to:
        queryset = queryset.filter(granted_at__lt=_day_start(tenant, date_to + timedelta(days=1)))
    return queryset


def grant_csv_rows(tenant: Tenant, grants: QuerySet[BreakGlassGrant]) -> Iterator[list[str]]:
    yield GRANT_COLUMNS
    for grant in grants.iterator(chunk_size=2000):
        yield [
            spreadsheet_safe(value)
            for value in (
                grant.pk,
                _local(tenant, grant.granted_at),
                grant.user.get_username(),
                grant.user_id,
                grant.request.tracking_number,
                grant.request.patient.mrn,
                grant.reason,
                _local(tenant, grant.expires_at),
                "yes" if grant.viewed else "no",
                grant.ip_address,
            )
        ]
