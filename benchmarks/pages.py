"""Benchmarks for the staff pages and the API on the demo data, printed beside a floor measured in the same run.

    make bench ARGS="pages"              # embedded servers, like make test
    make bench ARGS="pages --scale 8"    # more demo requests (scale 1 = about 500 across two tenants)

The benchmark uses its own database (the configured one with a `_bench` suffix), so it never touches the data of
`make run`. It times requests in-process through Django's test client: server time, without network or browser.
Figures are measurements of this machine on this run, not targets asserted anywhere.

Row-level security (roi/rls.py): the pages get the tenant's scope from the middleware, as in production; the demo
data is seeded by seed_demo, which scopes each organisation it creates.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from benchmarks import timing
from benchmarks.dataset import role_summary, setup_django

# Panels load through htmx (the page's <details> asks for them when opened); other pages ignore the header.
HTMX = {"HTTP_HX_REQUEST": "true"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks pages", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=4.0, help="demo data scale (1 = about 500 requests)")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument(
        "--million",
        action="store_true",
        help="the request workspace on the 1,000,000-request data set (the `_bench` database) instead of the demo",
    )
    args = parser.parse_args(argv)
    if args.million:
        return million(args.iterations)

    # The demo organisations in a database of their own: the 1,000,000-request set lives in the `_bench` one.
    setup_django(suffix="_bench_demo")
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from roi import rls
    from roi.models import Tenant, User
    from workflow.extensions import request_panels
    from workflow.models import RecordRequest

    if not Tenant.objects.exists():
        print(f"seeding demo data at scale {args.scale} (once per benchmark database)...", flush=True)
        started = time.perf_counter()
        call_command("seed_demo", scale=args.scale, stdout=open(os.devnull, "w"))  # noqa: SIM115
        print(f"  seeded in {time.perf_counter() - started:.1f} s")

    tenant = Tenant.objects.get(slug="riverside")
    supervisor = User.objects.get(username="dana.supervisor")
    client = timing.staff_client(supervisor)
    client.post("/tenant/switch/", {"tenant": tenant.pk})
    with rls.tenant_scope(tenant.pk):
        rows = RecordRequest.objects.for_tenant(tenant).count()
        tracking = RecordRequest.objects.for_tenant(tenant).order_by("-received_at").first().tracking_number
        # A request the demo delivered through fulfillment for real: its page asks the release gate for a verdict
        # on a download of the delivered packet (the checklist's rules, QC's facts, the packet's documents).
        delivered = (
            RecordRequest.objects.for_tenant(tenant)
            .filter(deliveries__isnull=False)
            .order_by("-delivered_at")
            .values_list("tracking_number", flat=True)
            .first()
        )

    def panel_cases(number: str, prefix: str) -> list[tuple[str, str]]:
        """Each panel the request's page offers, as its htmx request loads it when opened."""
        with rls.tenant_scope(tenant.pk):
            record_request = RecordRequest.objects.for_tenant(tenant).get(tracking_number=number)
        return [
            (f"  {prefix} {panel.name}", f"/requests/{number}/panels/{panel.name}/")
            for panel in request_panels()
            if panel.shows(record_request)
        ]

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path, **HTMX)
        assert response.status_code == 200, (path, response.status_code)
        return len(captured)

    median, p95 = timing.bare_view_floor(args.iterations)
    print(f"\nfloor: bare Django view (anonymous, our middleware, no SQL): median {median:.2f} ms, p95 {p95:.2f} ms")
    cases = [
        ("floor: /healthz/ (a signed-scope check and a Redis GET)", "/healthz/"),
        ("queue page, first page (50 rows)", "/requests/"),
        ("queue page, filtered to exception", "/requests/?state=exception"),
        ("request workspace, first paint", f"/requests/{tracking}/"),
        *([("request workspace, delivered, first paint", f"/requests/{delivered}/")] if delivered else []),
        *panel_cases(tracking, "panel"),
        *(panel_cases(delivered, "delivered's panel") if delivered else []),
        ("API list (50 rows, cursor page)", "/api/v1/requests/"),
        ("API retrieve", f"/api/v1/requests/{tracking}/"),
    ]
    print(f"\nOpenROI page benchmarks: tenant {tenant.slug}, {rows} requests, {args.iterations} iterations each; "
          f"{role_summary()}")  # fmt: skip
    print(f"{'case':<48} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
    for label, path in cases:
        query_count = queries(path)  # also checks that the page answers 200 before it is timed
        median, p95 = timing.measure(lambda p=path: client.get(p, **HTMX), args.iterations)
        print(f"{label:<48} {median:>10.2f} {p95:>8.2f} {query_count:>8}")
    print("\nEach page writes an access event (an INSERT) by design, and so does each panel; the floor has no audit "
          "write.")  # fmt: skip
    return 0


def million(iterations: int) -> int:
    """The workspace's first paint and each panel on the largest tenant of the 1,000,000-request data set, as one of
    its supervisors, for a request in each working state."""
    setup_django(suffix="_bench")
    from django.db import connection
    from django.db.models import Count

    from benchmarks.dataset import bypass, ensure_dataset
    from roi import rls
    from roi.models import Membership, Tenant
    from workflow.extensions import request_panels
    from workflow.models import RecordRequest

    ensure_dataset()
    with bypass("pages: the largest tenant"):
        tenant_id = (
            RecordRequest.objects.values("tenant_id").annotate(n=Count("id")).order_by("-n").first()["tenant_id"]
        )
    tenant = Tenant.objects.get(pk=tenant_id)
    with rls.tenant_scope(tenant.pk):
        member = Membership.objects.filter(tenant=tenant, role="supervisor").select_related("user").first()
        rows = RecordRequest.objects.for_tenant(tenant).count()
        samples = {}
        for state in ("received", "validated", "in_fulfillment", "exception", "delivered"):
            found = RecordRequest.objects.for_tenant(tenant).filter(state=state).order_by("-id").first()
            if found is not None:
                samples[state] = found
    client = timing.staff_client(member.user)
    client.post("/tenant/switch/", {"tenant": tenant.pk})
    median, p95 = timing.bare_view_floor(iterations)
    print(f"\nfloor: bare Django view (anonymous, our middleware, no SQL): median {median:.2f} ms, p95 {p95:.2f} ms")
    median, p95 = timing.staff_frame_floor(client, iterations)
    print(f"floor: the staff frame (signed in, header, access event): median {median:.2f} ms, p95 {p95:.2f} ms")
    print(f"\nrequest workspace: tenant {tenant.slug}, {rows} requests, {iterations} iterations each; {role_summary()}")
    print(f"{'case':<48} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
    # Statements are counted with a wrapper: a request's start empties the log CaptureQueriesContext counts from.
    statements: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    for state, record_request in samples.items():
        paths = [(f"{state}: first paint", f"/requests/{record_request.tracking_number}/")] + [
            (f"  {state} panel {panel.name}", f"/requests/{record_request.tracking_number}/panels/{panel.name}/")
            for panel in request_panels()
            if panel.shows(record_request)
        ]
        for label, path in paths:
            statements.clear()
            with connection.execute_wrapper(count):
                response = client.get(path, **HTMX)
            assert response.status_code == 200, (path, response.status_code)
            median, p95 = timing.measure(lambda p=path: client.get(p, **HTMX), iterations)
            print(f"{label:<48} {median:>10.2f} {p95:>8.2f} {len(statements):>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
