"""Benchmark of the supervisor dashboard (reporting/) over the benchmark data set (benchmarks/dataset.py, with its
events), for the largest tenant, at the data set's moment (dataset.ANCHOR).

    make bench ARGS="dashboard"
    make bench ARGS="dashboard --iterations 50 --explain"

Measured, each after a few untimed calls:
  - the dashboard's figures: open work now (dashboard_now), the default period (the last 30 days, per day), both
    together (what the page computes) and the last 365 days (per week, as the page shows a long period);
  - the page, /reports/, through Django's test client as the tenant's supervisor (server time, no network), for the
    default period and for 365 days;
  - the daily snapshot job's unit of work (snapshot_take) for one tenant-day, and for all 20 tenants in turn, each
    just after its own midnight (so with the stock figures); the snapshot is deleted between runs, untimed.
Beside each, "raw SQL": the statements one call ran (captured with CaptureQueriesContext), replayed as-is, one after
the other, on a plain psycopg connection (no Django, no prepared statements: PostgreSQL plans each one as it does for
Django; a snapshot's INSERT too, the row deleted between runs). The ratio is what the framework and our Python add
on top of PostgreSQL. Then the slowest statements of each case, timed alone (with --explain, their plans).
Figures are measurements of this machine on this run, never asserted.

Row-level security (roi/rls.py): the figures and the snapshot job run inside the tenant's scope, as the dashboard
view (the middleware's scope) and the beat job (one scope per tenant) do; the pages get theirs from the middleware.
The raw connection acts for the tenant too (a session-wide `roi.tenant_id`, the setting the policies read; before each
tenant's statements in the all-tenants replay). Run as a role the policies bind (the app role, `make bench`) for the
figures production sees; as the owner or a superuser, PostgreSQL skips the policies, which gives the cost without them.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

TRUNCATE = 78


def _percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return statistics.median(samples), samples[min(len(samples) - 1, max(0, round(len(samples) * 0.95) - 1))]


def _timed(fn: Callable[[], Any], iterations: int, before: Callable[[], Any] | None = None) -> tuple[float, float]:
    """(median, p95) in ms of `iterations` calls after a few untimed ones; `before` runs untimed before each."""
    for _ in range(max(3, iterations // 10)):
        if before:
            before()
        fn()
    samples = []
    for _ in range(iterations):
        if before:
            before()
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return _percentiles(samples)


def _captured(fn: Callable[[], Any]) -> list[str]:
    """The SQL one call of `fn` runs, as PostgreSQL received it (parameters bound on the client, as Django does)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        fn()
    return [query["sql"] for query in captured.captured_queries]


def _acting_for(tenant_id: int) -> str:
    """For the raw connection: act for the tenant for the rest of the session (the app sets the same setting per
    transaction, roi/rls.py)."""
    return f"SELECT set_config('roi.tenant_id', '{int(tenant_id)}', false)"


def _raw_connection(tenant_id: int) -> Any:
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    for key in ("cursor_factory", "context", "server_side_binding"):
        params.pop(key, None)
    raw = psycopg.connect(**params, autocommit=True)
    raw.prepare_threshold = None  # plan every statement, as Django's client-side binding makes PostgreSQL do
    raw.execute(_acting_for(tenant_id))
    return raw


def _replay(raw: Any, statements: list[str]) -> Callable[[], None]:
    """The statements as-is, one after the other, rows fetched (a snapshot's BEGIN, INSERT and COMMIT included)."""

    def run() -> None:
        with raw.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
                if cursor.description is not None:
                    cursor.fetchall()

    return run


def _label(sql: str) -> str:
    """A short name for a statement: its table, the column its range is on, and what it selects."""
    flat = " ".join(sql.split())
    if "UNION ALL" in flat:
        return f"events: {flat.count('UNION ALL') + 1} tables, UNION ALL of GROUPING SETS"
    table = re.search(r'\bFROM "?(\w+)"?', flat)
    ranged = re.search(r'"(\w+)" >= ', flat)
    aliases = [a for a in re.findall(r'AS "(\w+)"', flat) if a not in ("n",)][:5]
    text = f"{table.group(1) if table else flat.split(' ', 1)[0]}"
    if ranged:
        text += f" [{ranged.group(1)} range]"
    if aliases:
        text += ": " + ", ".join(aliases)
    return text[:TRUNCATE]


def _row(label: str, framework: tuple[float, float], raw: tuple[float, float], queries: int) -> None:
    ratio = framework[0] / raw[0] if raw[0] else float("inf")
    print(
        f"{label:<46} {framework[0]:>9.1f} {framework[1]:>8.1f} {queries:>4}   "
        f"{raw[0]:>9.1f} {raw[1]:>8.1f}   {ratio:>5.2f}x",
        flush=True,
    )


def _breakdown(raw: Any, title: str, statements: list[str], iterations: int, explain: bool, top: int = 5) -> None:
    timed = []
    for sql in statements:
        if sql.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "INSERT", "BEGIN", "COMMIT")):
            continue
        median, _ = _timed(_replay(raw, [sql]), max(5, iterations // 2))
        timed.append((median, sql))
    timed.sort(reverse=True)
    total = sum(m for m, _ in timed)
    print(f"\n{title}: statements alone (median ms, slowest {min(top, len(timed))} of {len(timed)}; sum {total:.1f})")
    for median, sql in timed[:top]:
        print(f"  {median:>7.2f}  {_label(sql)}")
    if explain:
        for median, sql in timed[:2]:
            with raw.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + sql)
                plan = [row[0] for row in cursor.fetchall()]
            print(f"\n  plan of {_label(sql)} ({median:.1f} ms):")
            for line in plan[:40]:
                print("    " + line[:150])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks dashboard", description=__doc__)
    parser.add_argument("--requests", type=int, default=1_000_000, help="size of the data set (built once)")
    parser.add_argument("--iterations", type=int, default=30, help="timed calls of each case")
    parser.add_argument("--snapshot-runs", type=int, default=3, help="timed runs of the job over all 20 tenants")
    parser.add_argument("--explain", action="store_true", help="print the plans of the slowest statements")
    args = parser.parse_args(argv)

    from benchmarks.dataset import ANCHOR, ensure_dataset, role_summary, setup_django, vacuum_analyze
    from benchmarks.timing import staff_client

    setup_django()
    stats = ensure_dataset(requests=args.requests)

    from django.db import connection
    from django.utils import timezone

    from reporting.metrics import Period, dashboard_now, dashboard_period
    from reporting.models import DailySnapshot
    from reporting.rollups import HORIZON_DAYS, rollup_take, rollups_fill
    from reporting.snapshots import snapshot_take
    from roi import clock, rls
    from roi.models import Membership, Tenant
    from workflow.urgency import urgency_refresh

    tenant = Tenant.objects.get(pk=stats["largest_tenant_id"])
    tenants = list(Tenant.objects.filter(pk__in=stats["tenant_ids"]).order_by("pk"))

    # Aging bands and stalled flags are stored by the 15-minute job; the dashboard reads them as stored. The job
    # goes tenant by tenant, each in its scope (workflow/tasks.py).
    started = time.perf_counter()
    changed = sum(urgency_refresh(tenant_id=t.pk, now=ANCHOR) for t in rls.each_tenant(tenants))
    print(f"urgency refreshed at the data set's moment: {changed:,} requests changed "
          f"({time.perf_counter() - started:.1f} s)", flush=True)  # fmt: skip

    # Finished days are read from the request rollups, which the hourly job keeps (reporting/rollups.py); the
    # first run over a data set rolls up its last 400 days per tenant.
    started = time.perf_counter()
    rolled = sum(
        rollups_fill(tenant=t, today=timezone.localdate(ANCHOR, timezone=t.tzinfo), limit=HORIZON_DAYS)
        for t in rls.each_tenant(tenants)
    )
    print(f"request rollups: {rolled:,} tenant-days rolled up ({time.perf_counter() - started:.1f} s; "
          f"already there: {len(tenants) * HORIZON_DAYS - rolled:,})", flush=True)  # fmt: skip
    if changed or rolled:
        # The rows just written are not yet all-visible: until a vacuum, index-only scans fetch heap pages, and the
        # first run after a build measured the open-work grid 4-5 times slower than later runs (autovacuum catches
        # up within minutes in production).
        started = time.perf_counter()
        vacuum_analyze(("workflow_recordrequest", "reporting_requestrollup"))
        print(f"vacuumed what the set-up wrote ({time.perf_counter() - started:.1f} s)", flush=True)
    with rls.tenant_scope(tenant.pk):
        supervisor = next(
            m.user for m in Membership.objects.for_tenant(tenant).select_related("user") if m.role == "supervisor"
        )
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM workflow_recordrequest WHERE tenant_id = %s", [tenant.pk])
            total = cursor.fetchone()[0]
    today = timezone.localdate(ANCHOR, timezone=tenant.tzinfo)
    last_30 = Period.last_days(today, 30)
    last_365 = Period.last_days(today, 365)
    raw = _raw_connection(tenant.pk)
    n = args.iterations

    print(f"\nDashboard: tenant {tenant.slug} ({total:,} requests), at {ANCHOR:%Y-%m-%d %H:%M} UTC, "
          f"today {today} in {tenant.timezone}; {n} timed calls each; {role_summary()}")  # fmt: skip
    header = f"{'case':<46} {'median ms':>9} {'p95 ms':>8} {'SQL':>4}   {'raw median':>9} {'raw p95':>8}   {'ratio':>6}"
    print(header)

    def both() -> None:
        dashboard_now(tenant=tenant, now=ANCHOR)
        dashboard_period(tenant=tenant, period=last_30, grain="day")

    cases: list[tuple[str, Callable[[], Any]]] = [
        ("now: open work as it stands", lambda: dashboard_now(tenant=tenant, now=ANCHOR)),
        ("period: last 30 days, per day", lambda: dashboard_period(tenant=tenant, period=last_30, grain="day")),
        ("now + last 30 days (the page's figures)", both),
        ("period: last 365 days, per week", lambda: dashboard_period(tenant=tenant, period=last_365, grain="week")),
    ]
    breakdowns: list[tuple[str, list[str]]] = []
    with rls.tenant_scope(tenant.pk):  # as the dashboard view runs: in the scope the middleware gave its request
        for label, fn in cases:
            statements = _captured(fn)
            framework = _timed(fn, n)
            raw_figures = _timed(_replay(raw, statements), n)
            _row(label, framework, raw_figures, len(statements))
            if label.startswith(("now:", "period:")):
                breakdowns.append((label, statements))

    client = staff_client(supervisor)
    pages = [
        ("page /reports/ (now + last 30 days)", "/reports/"),
        ("page /reports/ (now + last 365 days)", f"/reports/?start={last_365.first_day}&end={last_365.last_day}"),
    ]
    with clock.frozen(ANCHOR):
        client.get("/requests/")  # the session's first page stores the chosen tenant
        for label, path in pages:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            statements = _captured(lambda p=path: client.get(p))
            framework = _timed(lambda p=path: client.get(p), n)
            raw_figures = _timed(_replay(raw, statements), n)
            _row(label, framework, raw_figures, len(statements))
    print("raw: the same statements replayed as-is on a plain psycopg connection (for a page: its session, user and")
    print("membership reads, the header's notification count and the snapshot history too).")

    # The daily job: each tenant's yesterday, an hour after its midnight (stock figures included).
    def yesterday_of(t: Tenant) -> tuple[Any, datetime]:
        day = timezone.localdate(ANCHOR, timezone=t.tzinfo) - timedelta(days=1)
        return day, datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=t.tzinfo) + timedelta(hours=1)

    days = {t.pk: yesterday_of(t) for t in tenants}

    def forget(only: Tenant | None = None) -> None:
        for t in rls.each_tenant([only] if only else tenants):
            DailySnapshot.objects.for_tenant(t).filter(day=days[t.pk][0]).delete()

    def take(t: Tenant) -> None:
        # As the beat job (reporting/tasks.py): each tenant's snapshot in that tenant's scope.
        day, at = days[t.pk]
        with rls.tenant_scope(t.pk):
            assert snapshot_take(tenant=t, day=day, now=at) is not None, "the snapshot was not taken"

    def take_all() -> None:
        for t in tenants:
            take(t)

    print(f"\nDaily snapshot job (snapshot_take, flows and stock): {n} runs for one tenant-day, "
          f"{args.snapshot_runs} over all {len(tenants)} tenants")  # fmt: skip
    print(header)
    forget(tenant)
    one = _captured(lambda: take(tenant))
    forget(tenant)
    framework = _timed(lambda: take(tenant), n, before=lambda: forget(tenant))
    raw_figures = _timed(_replay(raw, one), n, before=lambda: forget(tenant))
    _row(f"one tenant-day ({tenant.slug})", framework, raw_figures, len(one))
    forget()
    every = [sql for t in tenants for sql in [_acting_for(t.pk), *_captured(lambda t=t: take(t))]]
    forget()
    framework = _timed(take_all, args.snapshot_runs, before=forget)
    raw_figures = _timed(_replay(raw, every), args.snapshot_runs, before=forget)
    _row(f"all {len(tenants)} tenants, one day each", framework, raw_figures, len(every) - len(tenants))
    forget()
    raw.execute(_acting_for(tenant.pk))  # the all-tenants replay left the raw connection acting for the last one
    rollup_day = days[tenant.pk][0]
    with rls.tenant_scope(tenant.pk):
        framework = _timed(lambda: rollup_take(tenant=tenant, day=rollup_day), n)
    _row(f"request rollup of one tenant-day ({tenant.slug})", framework, framework, 3)
    breakdowns.append(("snapshot, one tenant-day", one))

    for label, statements in breakdowns:
        _breakdown(raw, label, statements, n, args.explain)
    raw.close()
    return 0
