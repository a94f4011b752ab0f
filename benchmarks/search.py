"""Benchmark of search (workflow/search.py) over the benchmark data set (benchmarks/dataset.py): the search page
and its SQL alone, for a tracking number, an MRN, a typo'd patient name, a common surname, a date of birth, a
requestor's organisation and a miss, in the largest tenant.

    make bench ARGS="search"
    make bench ARGS="search --iterations 50"

Pages are rendered in-process through Django's test client, logged in as the largest tenant's supervisor (server time
without network or browser); "SQL" is the page's SELECT statements run alone on the same connection, in the tenant's
scope. Figures are measurements of this machine on this run, never asserted. Target: p95 at most 50 ms.
"""

from __future__ import annotations

import argparse
from urllib.parse import urlencode


def _typo(name: str) -> str:
    """Two neighbouring letters swapped in the middle, as fast typing does ("Jonh")."""
    if len(name) < 4:
        return name + name[-1]
    middle = len(name) // 2
    return name[: middle - 1] + name[middle] + name[middle - 1] + name[middle + 1 :]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks search", description=__doc__)
    parser.add_argument("--requests", type=int, default=1_000_000, help="size of the data set (built once)")
    parser.add_argument("--iterations", type=int, default=30, help="timed renders of each page")
    args = parser.parse_args(argv)

    from benchmarks import timing
    from benchmarks.dataset import ensure_dataset, ensure_realistic_names, role_summary, setup_django

    setup_django()
    stats = ensure_dataset(requests=args.requests)
    ensure_realistic_names(stats)

    from django.db import connection

    from roi import rls
    from roi.models import Membership, Tenant
    from workflow.models import Patient, RecordRequest

    tenant = Tenant.objects.get(pk=stats["largest_tenant_id"])
    with rls.tenant_scope(tenant.pk):
        members = list(Membership.objects.for_tenant(tenant).select_related("user"))
        total = RecordRequest.objects.for_tenant(tenant).count()
        patients = Patient.objects.for_tenant(tenant).count()
        # A request from the middle of the tenant's history, and its patient: what a caller would ask about.
        sample = RecordRequest.objects.for_tenant(tenant).select_related("patient").order_by("id")[total // 2]
        patient = sample.patient
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT last_name, count(*) FROM workflow_patient WHERE tenant_id = %s GROUP BY 1 ORDER BY 2 DESC "
                "LIMIT 1",
                [tenant.pk],
            )
            common_surname, common_count = cursor.fetchone()
            cursor.execute(
                "SELECT organization FROM workflow_requestor WHERE tenant_id = %s AND organization <> '' "
                "ORDER BY id LIMIT 1",
                [tenant.pk],
            )
            organization = cursor.fetchone()[0]
    supervisor = next(m.user for m in members if m.role == "supervisor")
    client = timing.staff_client(supervisor)
    client.get("/requests/")  # first page of the session: stores the chosen tenant

    dob = patient.date_of_birth
    cases = [
        ("tracking number, lower case, no hyphens", sample.tracking_number.lower().replace("-", "")),
        ("MRN, lower case", patient.mrn.lower()),
        ("patient name with a typo, last, first", f"{patient.last_name}, {_typo(patient.first_name)}"),
        ("patient name with a typo, first last", f"{_typo(patient.first_name)} {patient.last_name}"),
        (f"common surname alone ({common_count:,} patients)", common_surname),
        ("date of birth, m/d/yy", f"{dob.month}/{dob.day}/{dob.year % 100:02d}"),
        ("surname and date of birth", f"{patient.last_name} {dob.month:02d}/{dob.day:02d}/{dob.year}"),
        ("requestor organisation", organization),
        ("a miss", "Quackenbush Zebulon"),
    ]
    print(
        f"\nSearch: tenant {tenant.slug}, {total:,} requests, {patients:,} patients, {args.iterations} renders each, "
        f"as {supervisor.username}; {role_summary()}"
    )
    print(
        f"{'term':<46} {'status':>6} {'rows':>5} {'queries':>8} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'SQL p50':>8} {'SQL p95':>8}"
    )
    worst = 0.0
    for label, term in cases:
        path = "/requests/search/?" + urlencode({"q": term})
        response = client.get(path)
        assert response.status_code in (200, 302), (label, response.status_code)
        rows = response.content.decode().count('class="mono">ROI-') if response.status_code == 200 else 1
        statements = timing.captured_sql(client, path)
        selects = [(sql, params) for sql, params in statements if sql.lstrip().upper().startswith("SELECT")]
        median, p95 = timing.measure(lambda p=path: client.get(p), args.iterations)
        with rls.tenant_scope(tenant.pk):
            sql_median, sql_p95 = timing.sql_floor(selects, args.iterations)
        worst = max(worst, p95)
        print(
            f"{label:<46} {response.status_code:>6} {rows:>5} {len(statements):>8} {median:>7.2f} {p95:>7.2f} "
            f"{sql_median:>8.2f} {sql_p95:>8.2f}"
        )
    print("status 302: the exact tracking number goes straight to the request page (the redirect is what is timed).")
    print("SQL: the page's SELECT statements run alone (session, membership, search, rows, grants, badge); every")
    print("search also writes its access event (one INSERT), by design.")
    print(f"worst page p95: {worst:.1f} ms (target 50 ms)")
    frame_median, frame_p95 = timing.staff_frame_floor(client, args.iterations)
    print(
        f"floor: the staff frame (signed in, header, access event): median {frame_median:.2f} ms, "
        f"p95 {frame_p95:.2f} ms"
    )
    return 0
