"""Benchmark of the staff queue over the benchmark data set (benchmarks/dataset.py): the supervisor's queue page,
first page and a page 1,000 pages deep (keyset cursor), by each kind of sort (column sorts both ways), a specialist's
landing on their own work, the CSV export of the default view, and "claim next" with 8 concurrent claimers.

    make bench ARGS="queue"
    make bench ARGS="queue --requests 200000 --iterations 20 --claims 50"

Pages are rendered in-process through Django's test client, logged in as the largest tenant's supervisor: server
time without network or browser, and the number of SQL queries each page runs. Claimers are threads, each with its own
database connection, released together by a barrier; every claim is checked afterwards (no request twice, each
request's assignee is the thread that got it). Claimed requests are unassigned again at the end so that a second run
measures the same data. Figures are measurements of this machine on this run, never asserted.

Row-level security (roi/rls.py): the pages get the tenant's scope from the middleware, as in production; each claimer
thread acts in the tenant's scope (a view's scope, which a new thread does not inherit); the urgency job goes tenant
by tenant (workflow/tasks.py), and the set-up reads run in the tenant's scope.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

PAGE_SIZE = 50
THREADS = 8


def _claim_race(tenant: Any, staff: list[Any], per_thread: int) -> dict[str, Any]:
    from django.db import connections

    from roi import rls
    from workflow.models import RecordRequest
    from workflow.services import request_claim_next

    barrier = threading.Barrier(THREADS)
    claims: list[list[tuple[int, int]]] = [[] for _ in range(THREADS)]
    errors: list[BaseException] = []

    def claimer(index: int) -> None:
        actor = staff[index % len(staff)]
        try:
            barrier.wait()
            with rls.tenant_scope(tenant.pk):
                for _ in range(per_thread):
                    claimed = request_claim_next(tenant=tenant, actor=actor)
                    if claimed is None:
                        break
                    claims[index].append((claimed.pk, actor.pk))
        except BaseException as error:  # noqa: BLE001 - reported below, the run fails loudly
            errors.append(error)
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=claimer, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()  # the barrier releases them once all have started; close enough for a rate
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    every = [pk for mine in claims for pk, _ in mine]
    with rls.tenant_scope(tenant.pk):
        owners = dict(RecordRequest.objects.filter(pk__in=every).values_list("pk", "assignee_id"))
        wrong_owner = sum(1 for mine in claims for pk, actor_pk in mine if owners.get(pk) != actor_pk)
        # Put the data set back as it was for the next run (assignee only; last_activity_at and history keep the
        # claim).
        RecordRequest.objects.filter(pk__in=every).update(assignee=None)
    return {
        "claims": len(every),
        "distinct": len(set(every)),
        "wrong_owner": wrong_owner,
        "per_thread": [len(mine) for mine in claims],
        "seconds": elapsed,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks queue", description=__doc__)
    parser.add_argument("--requests", type=int, default=1_000_000, help="size of the data set (built once)")
    parser.add_argument("--iterations", type=int, default=30, help="timed renders of each page")
    parser.add_argument("--depth", type=int, default=1000, help="how many pages deep the deep page is")
    parser.add_argument("--claims", type=int, default=100, help="claims per thread (8 threads)")
    args = parser.parse_args(argv)

    from benchmarks import timing
    from benchmarks.dataset import ensure_dataset, role_summary, setup_django

    setup_django()
    stats = ensure_dataset(requests=args.requests)

    from django.db.models import Count

    from roi import rls
    from roi.models import Membership, Tenant
    from workflow import selectors
    from workflow.choices import OPEN_STATES
    from workflow.models import RecordRequest

    try:  # the urgency job fills priority_score; without it every score is 0 (all ties, still a valid benchmark)
        from benchmarks.dataset import ANCHOR
        from workflow.urgency import urgency_refresh

        bench_tenants = Tenant.objects.filter(pk__in=stats["tenant_ids"]).order_by("pk")
        changed = sum(urgency_refresh(tenant_id=t.pk, now=ANCHOR) for t in rls.each_tenant(bench_tenants))
        print(f"urgency refreshed: {changed:,} requests changed", flush=True)
    except ImportError as error:
        print(f"urgency refresh not available ({error}); priorities left as built", flush=True)

    tenant = Tenant.objects.get(pk=stats["largest_tenant_id"])
    with rls.tenant_scope(tenant.pk):
        members = list(Membership.objects.for_tenant(tenant).select_related("user"))
    supervisor = next(m.user for m in members if m.role == "supervisor")
    staff = [m.user for m in members]
    client = timing.staff_client(supervisor)
    client.get("/requests/")  # first page of the session: stores the chosen tenant

    with rls.tenant_scope(tenant.pk):
        total = RecordRequest.objects.for_tenant(tenant).count()
        open_total = RecordRequest.objects.for_tenant(tenant).filter(state__in=OPEN_STATES).count()

    def cursor_at(*, sort: str, any_state: bool, pages_deep: int) -> tuple[str, int]:
        """The cursor the Next link of page `pages_deep` carries (found once with OFFSET, outside the timing)."""
        with rls.tenant_scope(tenant.pk):
            queryset = selectors.request_queue(tenant=tenant, open_only=not any_state, sort=sort)
            rows = queryset.count()
            pages_deep = min(pages_deep, max(1, (rows - 1) // PAGE_SIZE))
            row = queryset[pages_deep * PAGE_SIZE - 1]
            return selectors.encode_cursor(sort=sort, direction="next", row=row), pages_deep

    cases: list[tuple[str, str]] = [("open work, by priority: first page", "/requests/")]
    cursor, depth = cursor_at(sort="priority", any_state=False, pages_deep=args.depth)
    cases.append((f"open work, by priority: page {depth + 1} (the last)", f"/requests/?cursor={cursor}"))
    cases.append(("every state, by priority: first page", "/requests/?state="))
    cursor, depth = cursor_at(sort="priority", any_state=True, pages_deep=args.depth)
    cases.append((f"every state, by priority: page {depth + 1}", f"/requests/?state=&cursor={cursor}"))
    cursor, depth = cursor_at(sort="due", any_state=True, pages_deep=args.depth)
    cases.append((f"every state, by due date: page {depth + 1}", f"/requests/?state=&sort=due&cursor={cursor}"))
    cases.append(("open work, overdue, by due date: first page", "/requests/?overdue=on&sort=due"))
    # The column sorts, each way (workflow/selectors.py QUEUE_SORTS): a reversed sort reads its index backwards.
    cases.append(("open work, by type (column): first page", "/requests/?sort=type"))
    cursor, depth = cursor_at(sort="-age", any_state=True, pages_deep=args.depth)
    cases.append(
        (f"every state, newest first (column): page {depth + 1}", f"/requests/?state=&sort=-age&cursor={cursor}")
    )
    cursor, depth = cursor_at(sort="-state", any_state=False, pages_deep=args.depth)
    cases.append((f"open work, by state Z-A (column): page {depth + 1}", f"/requests/?sort=-state&cursor={cursor}"))

    print(
        f"\nQueue pages: tenant {tenant.slug}, {total:,} requests ({open_total:,} open), {PAGE_SIZE} rows a page, "
        f"{args.iterations} renders each, as {supervisor.username}; {role_summary()}"
    )
    print(f"{'case':<52} {'median ms':>10} {'p95 ms':>8} {'queries':>8} {'rows':>5} {'SQL ms':>7}")
    for label, path in cases:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        rows = response.content.decode().count('class="mono">ROI-')
        statements = timing.captured_sql(client, path)
        selects = [(sql, params) for sql, params in statements if sql.lstrip().upper().startswith("SELECT")]
        median, p95 = timing.measure(lambda p=path: client.get(p), args.iterations)
        with rls.tenant_scope(tenant.pk):  # the page's statements alone, in the scope the page ran them in
            sql_median, _ = timing.sql_floor(selects, args.iterations)
        print(f"{label:<52} {median:>10.2f} {p95:>8.2f} {len(statements):>8} {rows:>5} {sql_median:>7.2f}")
    print("SQL ms: the page's SELECT statements run alone on the same connection (median); every page also writes")
    print("its access event (one INSERT), by design. Each page also counts its view, up to 1,001 rows")
    print("(selectors.QUEUE_COUNT_CAP), and lists the user's saved views.")

    # A specialist's first visit: their own open work (assignee = me). The busiest specialist of the tenant.
    with rls.tenant_scope(tenant.pk):
        busiest = (
            RecordRequest.objects.for_tenant(tenant)
            .filter(state__in=OPEN_STATES, assignee__in=[m.user_id for m in members if m.role == "specialist"])
            .values("assignee")
            .annotate(n=Count("id"))
            .order_by("-n")
            .first()
        )
    specialist = next((m.user for m in members if busiest and m.user_id == busiest["assignee"]), None)
    if specialist is not None:
        mine = timing.staff_client(specialist)
        mine.get("/requests/")
        response = mine.get("/requests/")
        rows = response.content.decode().count('class="mono">ROI-')
        statements = timing.captured_sql(mine, "/requests/")
        median, p95 = timing.measure(lambda: mine.get("/requests/"), args.iterations)
        print(
            f"{'my work (specialist landing): first page':<52} {median:>10.2f} {p95:>8.2f} {len(statements):>8} {rows:>5}"
        )

    # The CSV export of the supervisor's default view (open work, at most 10,000 rows), streamed to the end.
    def export() -> None:
        b"".join(client.get("/requests/export.csv").streaming_content)

    export()
    export_median, export_p95 = timing.measure(export, max(3, args.iterations // 10))
    print(f"{'CSV export, open work (up to 10,000 rows)':<52} {export_median:>10.2f} {export_p95:>8.2f}")

    print(f"\nFloors, measured in this run ({args.iterations} each)")
    print(f"{'floor':<52} {'median ms':>10} {'p95 ms':>8}")
    floors = [
        ("bare Django view (anonymous, our middleware, no SQL)", timing.bare_view_floor(args.iterations)),
        ("/healthz/ (a signed-scope check and a Redis GET)", timing.healthz_floor(client, args.iterations)),
        ("staff frame (signed in, header, access event)", timing.staff_frame_floor(client, args.iterations)),
        ("a new database connection", timing.new_connection_floor(args.iterations)),
    ]
    for label, (median, p95) in floors:
        print(f"{label:<52} {median:>10.2f} {p95:>8.2f}")

    with rls.tenant_scope(tenant.pk):
        unassigned = (
            RecordRequest.objects.for_tenant(tenant).filter(state__in=OPEN_STATES, assignee__isnull=True).count()
        )
    race = _claim_race(tenant, staff, args.claims)
    print(f"\nClaim next: {THREADS} concurrent claimers (threads, one connection each), {unassigned:,} unassigned open")
    print(f"{'claims':>8} {'seconds':>8} {'claims/s':>9} {'distinct':>9} {'claimed twice':>14} {'wrong owner':>12}")
    print(
        f"{race['claims']:>8} {race['seconds']:>8.2f} {race['claims'] / race['seconds']:>9.0f} "
        f"{race['distinct']:>9} {race['claims'] - race['distinct']:>14} {race['wrong_owner']:>12}"
    )
    print(f"claims per thread: {race['per_thread']}")
    ok = race["claims"] == race["distinct"] and race["wrong_owner"] == 0
    print("no request was claimed twice" if ok else "A REQUEST WAS CLAIMED TWICE")
    return 0 if ok else 1
