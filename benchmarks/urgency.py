"""Benchmark of the urgency refresh (workflow/urgency.py) over every open request of the benchmark data set.

    python -m benchmarks urgency [--requests 1000000] [--iterations 3]

Two cases: every open row changes (priority_score reset to -1 first, untimed) and no row changes (a second run).
Beside each, floors measured in the same run on the same rows:
  - "same SQL, raw cursor": the service's UPDATE statement run directly, without the service's transaction and
    advisory lock: what the service adds on top of its SQL;
  - "plain UPDATE" (all change): SET priority_score = 0 on the same open rows, the cost of writing the rows at all;
  - "plain scan" (none change): counting the open rows, the cost of finding them.
Figures are measurements of this machine on this run, not targets asserted anywhere.

Row-level security (roi/rls.py): the refresh and every floor go tenant by tenant, each in the tenant's scope, as the
beat job does (workflow/tasks.py: `rls.each_tenant()`); the untimed reset runs under a recorded bypass.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# A fixed moment, so that a second refresh finds nothing to change.
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
OPEN_STATES_SQL = "('received', 'validated', 'in_fulfillment', 'exception')"


def _measure(fn: Callable[[], Any], before: Callable[[], None] | None, iterations: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    samples, statements, rows, peaks = [], 0, 0, []
    for _ in range(iterations):
        if before:
            before()
        tracemalloc.start()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            rows = fn()
            samples.append((time.perf_counter() - started) * 1000)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        statements = len(captured)
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "statements": statements,
        "rows": rows,
        "py_peak_kib": max(peaks) / 1024,
    }


def run(iterations: int = 3, *, tenant_ids: list[int] | None = None) -> list[tuple[str, dict[str, Any]]]:
    """Measure and print; returns the rows of the table. Expects Django set up on the benchmark database."""
    from django.db import connection

    from benchmarks.dataset import bypass, dataset_stats, role_summary
    from roi import rls
    from roi.models import Tenant
    from workflow.urgency import REFRESH_SQL, urgency_refresh

    stats = dataset_stats()
    tenant_ids = tenant_ids or stats["tenant_ids"]
    tenants = list(Tenant.objects.filter(pk__in=tenant_ids).order_by("pk"))

    def execute(sql: str, params: Any = None) -> int:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount if cursor.rowcount >= 0 else 0

    def reset() -> None:
        with bypass("urgency.reset"):
            execute(
                f"UPDATE workflow_recordrequest SET priority_score = -1 WHERE state IN {OPEN_STATES_SQL}"
                " AND tenant_id = ANY(%s)",
                [tenant_ids],
            )

    def refresh() -> int:
        return sum(urgency_refresh(tenant_id=tenant.pk, now=NOW) for tenant in rls.each_tenant(tenants))

    def raw_refresh() -> int:
        params = {"now": NOW, "open_states": ["received", "validated", "in_fulfillment", "exception"]}
        sql = REFRESH_SQL.format(tenant_filter="AND r.tenant_id = %(tenant_id)s")
        return sum(execute(sql, {**params, "tenant_id": tenant.pk}) for tenant in rls.each_tenant(tenants))

    def plain_update() -> int:
        sql = (
            f"UPDATE workflow_recordrequest SET priority_score = 0 WHERE state IN {OPEN_STATES_SQL} AND tenant_id = %s"
        )
        return sum(execute(sql, [tenant.pk]) for tenant in rls.each_tenant(tenants))

    def plain_scan() -> int:
        sql = f"SELECT count(*) FROM workflow_recordrequest WHERE state IN {OPEN_STATES_SQL} AND tenant_id = %s"
        counted = 0
        for tenant in rls.each_tenant(tenants):
            with connection.cursor() as cursor:
                cursor.execute(sql, [tenant.pk])
                counted += cursor.fetchone()[0]
        return counted

    refresh()  # settle: the data set is built with zeros, and warm the caches
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results = [
        ("all change: urgency_refresh()", _measure(refresh, reset, iterations)),
        ("all change: same SQL, raw cursor (floor)", _measure(raw_refresh, reset, iterations)),
        ("all change: plain UPDATE of the rows (floor)", _measure(plain_update, reset, iterations)),
    ]
    refresh()  # the plain UPDATE floor above changed every score: settle before the runs that should write nothing
    results += [
        ("none change: urgency_refresh()", _measure(refresh, None, iterations)),
        ("none change: same SQL, raw cursor (floor)", _measure(raw_refresh, None, iterations)),
        ("none change: plain scan of open rows (floor)", _measure(plain_scan, None, iterations)),
    ]
    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    reset()
    refresh()  # leave the data set refreshed

    print(f"\nurgency refresh: {stats['requests']:,} requests, {stats['open_requests']:,} open, "
          f"{len(tenant_ids)} tenants one by one, {iterations} iterations (median ms); {role_summary()}")  # fmt: skip
    print(f"{'case':<46} {'median ms':>10} {'min ms':>9} {'rows':>9} {'stmts':>6} {'py peak KiB':>12} {'ratio':>7}")
    floors = {"all": results[1][1]["median"], "none": results[4][1]["median"]}
    for label, r in results:
        floor = floors["all" if label.startswith("all") else "none"]
        print(f"{label:<46} {r['median']:>10.1f} {r['min']:>9.1f} {r['rows']:>9,} {r['statements']:>6} "
              f"{r['py_peak_kib']:>12.1f} {r['median'] / floor:>6.2f}x")  # fmt: skip
    print(f"\nratio: against the same SQL on a raw cursor. Process peak RSS grew {rss_growth:.1f} MiB while measuring "
          "(Python holds no rows: the work happens in PostgreSQL).")  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks urgency", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1_000_000, help="data set size (built once per database)")
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--iterations", type=int, default=3)
    args = parser.parse_args(argv)

    from benchmarks.dataset import ensure_dataset, setup_django

    setup_django()
    ensure_dataset(requests=args.requests, tenants=args.tenants)
    run(iterations=args.iterations)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
