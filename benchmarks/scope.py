"""What the signed tenant scope costs (roi/rls.py): the policies' scope check per call, and a primary-key read of a
tenant table through the wall, beside their floors measured in the same run.

    make bench ARGS="scope"

One organisation and one request are built with the test factories (factory-boy), through a recorded bypass.

Figures, never asserts. Each loop runs inside PostgreSQL (a PL/pgSQL DO block timing itself with clock_timestamp),
so the client's round trip is not in them; the statement figures add one round trip each, measured from Python.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from benchmarks.dataset import setup_django

CALLS = 20_000
STATEMENTS = 3_000
ROUNDS = 5


def _loop(cursor: Any, expression: str) -> float:
    """Microseconds per evaluation of `expression`, inside the server."""
    cursor.execute(
        f"""
        DO $$ DECLARE started timestamptz := clock_timestamp(); x text; BEGIN
          FOR i IN 1..{CALLS} LOOP x := ({expression})::text; END LOOP;
          PERFORM set_config('bench.us', (extract(epoch FROM clock_timestamp() - started) * 1e6 / {CALLS})::text, false);
        END $$
        """
    )
    cursor.execute("SELECT current_setting('bench.us')::float")
    return cursor.fetchone()[0]


def _statements(cursor: Any, sql: str, params: list[Any]) -> float:
    """Microseconds per statement, from the client (one round trip each)."""
    cursor.execute(sql, params)
    started = time.perf_counter()
    for _ in range(STATEMENTS):
        cursor.execute(sql, params)
        cursor.fetchall()
    return (time.perf_counter() - started) * 1e6 / STATEMENTS


def main(argv: list[str]) -> int:
    setup_django("_bench_scope")
    from django.db import connection

    from roi import rls
    from tests import factories  # factory-boy builds the one row read below

    rls.use_platform_credential()
    with rls.bypass("benchmark data set", where="benchmarks/scope"):
        tenant = factories.TenantFactory(slug=f"bench-scope-{time.time_ns()}")
        request = factories.RecordRequestFactory(tenant=tenant)

    rows: dict[str, list[float]] = {}

    def measure(label: str, scope: Any, fn: Any) -> None:
        with rls.scope(scope), connection.cursor() as cursor:
            rows.setdefault(label, []).append(fn(cursor))

    read = "SELECT id, state FROM workflow_recordrequest WHERE id = %s"
    signed = rls.Scope(tenant_id=tenant.pk)
    platform = rls.Scope(bypass="benchmark floor")
    for _ in range(ROUNDS):
        measure("floor: an unsigned setting read (what the check was)", signed, lambda c: _loop(c, UNSIGNED))
        measure("scope check: roi_current_tenant() (HMAC of the signed scope)", signed,
                lambda c: _loop(c, "roi_current_tenant()"))  # fmt: skip
        measure("floor: primary-key read, platform role (no policy applies)", platform,
                lambda c: _statements(c, read, [request.pk]))  # fmt: skip
        measure("primary-key read as the app role through the wall", signed,
                lambda c: _statements(c, read, [request.pk]))  # fmt: skip
    print(f"{'case':62} {'median us':>10} {'min us':>8}")
    for label, values in rows.items():
        print(f"{label:62} {statistics.median(values):10.1f} {min(values):8.1f}")
    print(f"({ROUNDS} rounds; {CALLS} evaluations or {STATEMENTS} statements a round; connected as "
          f"{connection.settings_dict['USER']}, app scopes run as the app role)")  # fmt: skip
    return 0


UNSIGNED = "nullif(current_setting('roi.tenant_id', true), '')::bigint"
