from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from roi import rls
from roi.audit import access_chain_verify
from roi.models import Tenant


class Command(BaseCommand):
    help = (
        "Recompute every tenant's chain of access events and check it against its anchors outside the database "
        "(AUDIT_ANCHOR_DIR); report, per tenant, the rows and anchors checked and OK, or the first broken row and "
        "every anchor problem. Exits non-zero when any chain is broken (run it from monitoring)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", help="Tenant slug (default: every tenant)")

    def handle(self, *args: Any, **options: Any) -> None:
        tenants = Tenant.objects.order_by("slug")
        if options["tenant"]:
            tenants = tenants.filter(slug=options["tenant"])
            if not tenants.exists():
                raise CommandError(f"No tenant with slug {options['tenant']!r}.")
        broken = []
        for tenant in rls.each_tenant(tenants):  # each in its own row-level security scope
            report = access_chain_verify(tenant=tenant)
            checked = f"{report.rows_checked} rows checked"
            if report.ok:
                self.stdout.write(f"{tenant.slug}: {checked}, {report.anchors_checked} anchors checked, OK")
                continue
            broken.append(tenant.slug)
            first = report.first_break
            if first is not None:
                self.stdout.write(
                    f"{tenant.slug}: {checked}, BROKEN at access event {first.event_id}: "
                    f"{first.problem} ({report.breaks} broken rows in all)"
                )
            for problem in report.anchor_problems:
                self.stdout.write(f"{tenant.slug}: {checked}, BROKEN against its anchors: {problem}")
        if broken:
            raise CommandError(f"Access event chain broken for: {', '.join(broken)}")
