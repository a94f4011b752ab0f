"""Benchmark of the escalation job (exceptions/escalations.py) over the benchmark data set.

    .venv/bin/python -m benchmarks.escalations [--requests 20000] [--repeat 5]

Uses the benchmark database (the configured one with a `_bench` suffix). The data set comes from
benchmarks/dataset.py's ensure_dataset() when that module exists; otherwise, when the database has no requests, this
script generates its own (one tenant, --requests open requests with due dates spread around today, a tenth in
exception). Every tenant gets the default rules. Then it measures:
  first run   events, actions and notifications written from scratch (earlier escalations are deleted first)
  second run  nothing new fires: the cost of the job on a quiet five-minute tick
  floor       one hand-written statement finding what the default rules match that has not fired yet (a lower
              bound for the second run: the same work the job must do to learn there is nothing new)
Figures are measurements of this machine on this run, not targets asserted anywhere.

Row-level security (roi/rls.py): the job and the floor go tenant by tenant, each in the tenant's scope, as the beat
job does (exceptions/tasks.py: `rls.each_tenant()`); resets and counts outside the timing run under a recorded bypass.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from benchmarks.dataset import setup_django


def _generate(count: int) -> None:
    """A data set of our own when benchmarks/dataset.py is not there: bulk inserts, then states set in SQL (the
    state field is protected from assignment; the services would make this take minutes)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from roi.choices import Role
    from roi.models import Membership, Tenant, User
    from workflow.models import Patient, RecordRequest, Requestor

    rng = random.Random(42)
    now = timezone.now()
    with transaction.atomic():
        tenant = Tenant.objects.create(name="Escalation Bench Hospital", slug="esc-bench", jurisdiction="IL")
        for index, role in enumerate([Role.SUPERVISOR, Role.SUPERVISOR, Role.ADMIN, *[Role.SPECIALIST] * 12]):
            user = User.objects.create(username=f"esc-bench-{index}", email=f"esc-bench-{index}@example.org")
            Membership.objects.create(tenant=tenant, user=user, role=role)
        staff = list(Membership.objects.filter(tenant=tenant).values_list("user_id", flat=True))
        patients = Patient.objects.bulk_create(
            Patient(tenant=tenant, mrn=f"B{i:07d}", first_name="Pat", last_name=f"Bench{i}", date_of_birth="1970-01-01")
            for i in range(max(1, count // 3))
        )
        requestors = Requestor.objects.bulk_create(
            Requestor(tenant=tenant, kind="attorney", name=f"Firm {i}") for i in range(200)
        )
        batch = []
        for _i in range(count):
            received = now - timedelta(days=rng.randint(0, 40), minutes=rng.randint(0, 1440))
            batch.append(
                RecordRequest(
                    tenant=tenant,
                    patient=rng.choice(patients),
                    requestor=rng.choice(requestors),
                    request_type=rng.choice(["authorization", "legal", "right_of_access", "continuity_of_care"]),
                    channel="fax",
                    received_at=received,
                    legal_due_date=(received + timedelta(days=30)).date(),
                    internal_target_date=(received + timedelta(days=7)).date(),
                    last_activity_at=received,
                    assignee_id=rng.choice(staff),
                )
            )
        RecordRequest.objects.bulk_create(batch, batch_size=2000)
        with connection.cursor() as cursor:
            # A fifth closed, a tenth in exception with an open episode (owner: the assignee), the rest open.
            cursor.execute(
                """UPDATE workflow_recordrequest SET state = CASE WHEN id %% 5 = 0 THEN 'closed'
                       WHEN id %% 10 = 1 THEN 'exception' WHEN id %% 3 = 0 THEN 'validated' ELSE 'received' END
                   WHERE tenant_id = %s""",
                [tenant.pk],
            )
            cursor.execute(
                """UPDATE workflow_recordrequest SET exception_reason = 'awaiting_department',
                       exception_since = received_at + interval '1 day', state_before_exception = 'received'
                   WHERE tenant_id = %s AND state = 'exception'""",
                [tenant.pk],
            )
            cursor.execute(
                """INSERT INTO exceptions_exceptionepisode (tenant_id, request_id, reason, detail, deficiency_codes,
                       opened_at, owner_id, next_step, next_action_due, escalation_level, resolution)
                   SELECT tenant_id, id, 'awaiting_department', 'bench', '[]', exception_since, assignee_id,
                       'Call imaging', (exception_since + interval '5 days')::date, 0, ''
                   FROM workflow_recordrequest WHERE tenant_id = %s AND state = 'exception'""",
                [tenant.pk],
            )


def _reset() -> None:
    """Forget earlier escalations so the first run fires from scratch."""
    from django.db import connection, transaction

    from benchmarks.dataset import bypass

    with bypass("escalations.reset"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM roi_notification WHERE kind = 'escalation'")
        cursor.execute("DELETE FROM exceptions_escalationevent")
        cursor.execute("UPDATE workflow_recordrequest SET priority_boost = 0 WHERE priority_boost <> 0")
        cursor.execute("UPDATE exceptions_exceptionepisode SET escalation_level = 0 WHERE escalation_level <> 0")


# The floor: what the four default rules match that has no event yet, in one statement.
FLOOR_SQL = """
SELECT count(*)
FROM workflow_recordrequest r
JOIN roi_tenant t ON t.id = r.tenant_id
CROSS JOIN LATERAL (SELECT (now() AT TIME ZONE t.timezone)::date AS today) d
LEFT JOIN exceptions_exceptionepisode e ON e.request_id = r.id AND e.resolved_at IS NULL
JOIN exceptions_escalationrule x ON x.tenant_id = r.tenant_id AND x.is_active
WHERE r.state IN ('received', 'validated', 'in_fulfillment', 'exception') AND t.is_active AND r.tenant_id = %s
  AND (  (x.max_days_to_legal_due IS NOT NULL AND r.legal_due_date <= d.today + x.max_days_to_legal_due)
      OR (x.min_days_in_exception IS NOT NULL AND r.state = 'exception' AND r.exception_seconds_before
          + COALESCE(EXTRACT(EPOCH FROM now() - r.exception_since), 0) >= 86400 * x.min_days_in_exception)
      OR (x.next_action_overdue AND r.state = 'exception' AND e.next_action_due < d.today))
  AND NOT EXISTS (SELECT 1 FROM exceptions_escalationevent ev WHERE ev.request_id = r.id AND ev.rule_id = x.id
                  AND ev.level = x.level AND ev.episode_id IS NOT DISTINCT FROM
                      (CASE WHEN x.min_days_in_exception IS NOT NULL OR x.next_action_overdue THEN e.id END))
"""


def _measure(fn: Callable[[], Any]) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    tracemalloc.start()
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        result = fn()
        elapsed = (time.perf_counter() - started) * 1000
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"ms": elapsed, "statements": len(captured), "peak_kib": peak / 1024, "result": result}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20000, help="size of the generated set (own data only)")
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions of the second run and the floor")
    args = parser.parse_args(argv)

    setup_django()
    from django.db import connection

    from benchmarks.dataset import bypass, role_summary, vacuum_analyze
    from exceptions.escalations import escalation_rules_seed_defaults, escalations_evaluate
    from roi import rls
    from roi.models import Notification, Tenant
    from workflow.choices import OPEN_STATES
    from workflow.models import RecordRequest

    try:
        from benchmarks.dataset import ensure_dataset  # type: ignore[import-not-found]  # run as a module of the benchmarks package
    except ImportError:
        ensure_dataset = None
    if ensure_dataset is not None:
        ensure_dataset()
        source = "benchmarks/dataset.py"
    else:
        source = "generated by benchmarks/escalations.py"
        with bypass("escalations.count"):
            empty = not RecordRequest.objects.exists()
        if empty:
            print(f"generating {args.requests} requests (once per benchmark database)...", flush=True)
            started = time.perf_counter()
            with bypass("escalations.generate"):
                _generate(args.requests)
            print(f"  generated in {time.perf_counter() - started:.1f} s")
    tenants = list(Tenant.objects.filter(is_active=True).order_by("pk"))
    for tenant in rls.each_tenant(tenants):
        escalation_rules_seed_defaults(tenant)
    _reset()
    vacuum_analyze()

    with bypass("escalations.count"):
        total = RecordRequest.objects.count()
        open_count = RecordRequest.objects.filter(state__in=OPEN_STATES).count()

    def evaluate() -> list[int]:
        # As the beat job (exceptions/tasks.py), without its emails: tenant by tenant, each in its scope.
        return [fired for tenant in rls.each_tenant(tenants) for fired in escalations_evaluate(tenant_id=tenant.pk)]

    first = _measure(evaluate)
    with bypass("escalations.count"):
        notifications = Notification.objects.filter(kind="escalation").count()
    seconds = [_measure(evaluate) for _ in range(max(1, args.repeat))]

    def floor() -> int:
        counted = 0
        for tenant in rls.each_tenant(tenants):
            with connection.cursor() as cursor:
                cursor.execute(FLOOR_SQL, [tenant.pk])
                counted += cursor.fetchone()[0]
        return counted

    floors = [_measure(floor) for _ in range(max(1, args.repeat))]
    assert all(run["result"] == [] for run in seconds), "a second run fired something"
    assert all(run["result"] == 0 for run in floors), "the floor found an unfired match"

    def row(label: str, runs: list[dict[str, Any]], fired: str) -> str:
        ms = statistics.median(run["ms"] for run in runs)
        peak = max(run["peak_kib"] for run in runs)
        return f"{label:<44} {ms:>10.1f} {runs[0]['statements']:>11} {peak:>14.0f} {fired:>8}"

    with bypass("escalations.count"), connection.cursor() as rules:
        rules.execute("SELECT count(*) FROM exceptions_escalationrule WHERE is_active")
        rule_count = rules.fetchone()[0]
    print(f"\nEscalation job: {total} requests ({open_count} open), {rule_count} active rules, {len(tenants)} tenants"
          f" one by one, data {source}; {role_summary()}")  # fmt: skip
    print(f"{'case':<44} {'median ms':>10} {'statements':>11} {'peak py KiB':>14} {'fired':>8}")
    print(row("first run (events, actions, notifications)", [first], str(len(first["result"]))))
    print(row(f"second run, nothing new (x{len(seconds)})", seconds, "0"))
    print(row(f"floor: one hand-written statement (x{len(floors)})", floors, "-"))
    print(f"\nThe first run wrote {len(first['result'])} events and {notifications} notifications.")
    print("Statements include the savepoint or transaction statements Django issues per rule.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
