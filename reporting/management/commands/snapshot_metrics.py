"""Fill in daily snapshots and request rollups for past days (after installing, or after the jobs were down)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from reporting.rollups import rollups_fill
from reporting.snapshots import snapshots_backfill
from roi import clock, rls
from roi.models import Tenant


class Command(BaseCommand):
    help = (
        "Store the daily metrics snapshots of the last N days that have none, their open work rebuilt from the "
        "requests' history, and roll up the requests of those days. Safe to run again: it fills only what is missing."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--days", type=int, default=30, help="How many past days (default 30).")
        parser.add_argument("--tenant", help="One organisation's slug (default: every active organisation).")

    def handle(self, *args: Any, days: int, tenant: str | None, **options: Any) -> None:
        if days < 1 or days > 3660:
            raise CommandError("--days must be between 1 and 3660.")
        tenants = Tenant.objects.filter(is_active=True)
        if tenant:
            tenants = tenants.filter(slug=tenant)
            if not tenants.exists():
                raise CommandError(f"No active organisation with the slug {tenant!r}.")
        now = clock.now()
        for organisation in rls.each_tenant(tenants):  # each in its own row-level security scope
            stored = snapshots_backfill(tenant=organisation, days=days, now=now)
            yesterday = timezone.localdate(now, timezone=organisation.tzinfo) - timedelta(days=1)
            rolled = rollups_fill(tenant=organisation, today=yesterday + timedelta(days=1), limit=days, horizon=days)
            self.stdout.write(
                f"{organisation.slug}: {stored} snapshot(s) stored or completed, {days - stored} already there; "
                f"{rolled} day(s) of requests rolled up"
            )
