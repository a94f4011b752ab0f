"""`manage.py rls_status`: can the role this deployment connects as see across tenants? (roi/rls.py)"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from roi import rls


class Command(BaseCommand):
    help = (
        "Check the tenant wall for the role the app connects as (DATABASE_URL): every tenant table has its "
        "row-level security policy enabled and forced, and the role is no superuser, has no BYPASSRLS and owns "
        "none of them. Exits non-zero if not."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = rls.role_report()
        self.stdout.write(
            f"role {report['role']}: superuser={report['superuser']}, bypassrls={report['bypassrls']}, "
            f"owns {len(report['owned_by_role'])} tenant table(s)"
        )
        self.stdout.write(
            f"{report['tenant_tables']} tenant tables, {len(report['unprotected'])} without an enabled and forced "
            "policy"
        )
        problems = []
        if report["superuser"] or report["bypassrls"]:
            problems.append("the role bypasses row-level security (superuser or BYPASSRLS)")
        if report["owned_by_role"]:
            problems.append("the role owns " + ", ".join(report["owned_by_role"]) + " (run migrate as the owner)")
        if report["unprotected"]:
            problems.append("no policy in force on " + ", ".join(report["unprotected"]) + " (run manage.py migrate)")
        if problems:
            raise CommandError("Tenant wall NOT enforced: " + "; ".join(problems) + ".")
        self.stdout.write("Tenant wall enforced.")
