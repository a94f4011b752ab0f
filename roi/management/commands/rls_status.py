"""`manage.py rls_status`: can the role this deployment connects as see across tenants? (roi/rls.py)"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from roi import rls


class Command(BaseCommand):
    help = (
        "Check the tenant wall for the app role (DATABASE_URL's): every tenant table has its row-level security "
        "policy enabled and forced; the role is no superuser, has no BYPASSRLS, owns no table, is a member of no "
        "role that could, cannot read the scope key; and no record of fact can be changed or removed by it. "
        "Exits non-zero if not."
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
        self.stdout.write(
            f"member of a role that could see every tenant: {', '.join(report['member_of']) or 'none'}; "
            f"scope key readable: {report['private_schema_readable']}; "
            f"records of fact it could rewrite: {', '.join(report['records_rewritable']) or 'none'}"
        )
        problems = []
        if not report.get("exists", True):
            problems.append("the role does not exist (run manage.py migrate)")
        if report.get("member_of"):
            problems.append("the role inherits " + ", ".join(report["member_of"]))
        if report.get("private_schema_readable"):
            problems.append("the role can read the scope key (roi_private)")
        if report.get("records_rewritable"):
            problems.append("records of fact it could change or remove: " + ", ".join(report["records_rewritable"]))
        if report["superuser"] or report["bypassrls"]:
            problems.append("the role bypasses row-level security (superuser or BYPASSRLS)")
        if report["owned_by_role"]:
            problems.append("the role owns " + ", ".join(report["owned_by_role"]) + " (run migrate as the owner)")
        if report["unprotected"]:
            problems.append("no policy in force on " + ", ".join(report["unprotected"]) + " (run manage.py migrate)")
        if problems:
            raise CommandError("Tenant wall NOT enforced: " + "; ".join(problems) + ".")
        self.stdout.write("Tenant wall enforced.")
