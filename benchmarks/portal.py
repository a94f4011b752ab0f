"""The requestor portal's status page, the public page with the most traffic, beside a bare Django view.

    make bench ARGS="portal"                        # 2 client processes, 10 s per case
    make bench ARGS="portal --processes 4 --seconds 20"

A verified requestor's browser (the signed grant cookie a successful lookup leaves) asks for its status page again
and again. Each client process runs Django in-process (the test client: server time, no network, no HTTP parsing),
with its own database connection, as a gunicorn worker would; throughput is the sum over processes, latency the
distribution of every request. The same processes then time a bare Django view (our middleware, no SQL), the floor.
The status page writes an access event per view (an INSERT) by design.

Row-level security (roi/rls.py): the client processes connect as the app role only (setup_django(migrate=False));
each status page finds its tenant from the tracking number, as in production (portal/http.py). The requests measured
are picked across the demo organisations under a recorded bypass, outside the timing.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time

from benchmarks.dataset import bypass, role_summary, setup_django

SUFFIX = "_bench_demo"


def _client_process(args: tuple[str, str, str, float, str]) -> tuple[int, list[float]]:
    """One client: its own Django, connection and browser cookie; GETs `path` for `seconds`."""
    path, cookie_name, cookie_value, seconds, urlconf = args
    setup_django(suffix=SUFFIX, migrate=False)
    from django.test import Client, override_settings

    client = Client()
    if cookie_name:
        client.cookies[cookie_name] = cookie_value
    samples: list[float] = []
    with override_settings(ROOT_URLCONF=urlconf):
        for _ in range(20):  # warm: connection, template cache
            assert client.get(path).status_code == 200
        deadline = time.perf_counter() + seconds
        while True:
            started = time.perf_counter()
            client.get(path)
            now = time.perf_counter()
            samples.append((now - started) * 1000)
            if now >= deadline:
                break
    return len(samples), samples


def _run(label: str, path: str, cookie: tuple[str, str], seconds: float, processes: int, urlconf: str) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        started = time.perf_counter()
        results = pool.map(_client_process, [(path, *cookie, seconds, urlconf)] * processes)
        elapsed = max(seconds, time.perf_counter() - started - 0)  # every process ran `seconds` after warming
    count = sum(n for n, _ in results)
    samples = sorted(s for _, batch in results for s in batch)
    p95 = samples[min(len(samples) - 1, round(len(samples) * 0.95) - 1)]
    rate = count / seconds
    print(f"{label:<52} {rate:>9.0f} {statistics.median(samples):>10.2f} {p95:>8.2f} {count:>8}", flush=True)
    del elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks portal", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processes", type=int, default=2, help="client processes (default: 2, the machine's cores)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--scale", type=float, default=4.0, help="demo data scale if the database is empty")
    args = parser.parse_args(argv)

    setup_django(suffix=SUFFIX)
    from django.core.management import call_command
    from django.db import connection
    from django.http import HttpRequest, HttpResponse
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from portal import verification
    from roi.models import Tenant
    from workflow.choices import RequestState
    from workflow.models import RecordRequest

    if not Tenant.objects.exists():
        print(f"seeding demo data at scale {args.scale} (once per benchmark database)...", flush=True)
        started = time.perf_counter()
        call_command("seed_demo", scale=args.scale, stdout=open(os.devnull, "w"))  # noqa: SIM115
        print(f"  seeded in {time.perf_counter() - started:.1f} s")

    cases = []
    for state in (RequestState.IN_FULFILLMENT, RequestState.EXCEPTION, RequestState.DELIVERED):
        with bypass("portal.pick_requests"):
            record_request = RecordRequest.objects.filter(state=state).order_by("-received_at").first()
        if record_request is None:
            continue
        grant = HttpRequest()
        verification.grant(grant, record_request.pk)
        cookie = verification.keep_grants(grant, HttpResponse()).cookies[verification.COOKIE_NAME].value
        path = f"/status/{record_request.tracking_number}/"
        client = Client()
        client.cookies[verification.COOKIE_NAME] = cookie
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        cases.append((f"status page, {state} request ({len(captured)} queries)", path, cookie))

    print(
        f"\nOpenROI portal benchmark: {args.processes} client processes, {args.seconds:.0f} s per case, "
        f"{os.cpu_count()} CPUs; {role_summary()}"
    )
    print(f"{'case':<52} {'req/s':>9} {'median ms':>10} {'p95 ms':>8} {'requests':>8}")
    _run("floor: bare Django view (our middleware, no SQL)", "/bench-bare/", ("", ""), args.seconds,
         args.processes, "benchmarks.timing")  # fmt: skip
    for label, path, cookie in cases:
        _run(label, path, (verification.COOKIE_NAME, cookie), args.seconds, args.processes, "roi.urls")
    print("\nTargets: at least 500 requests/s, p95 under 20 ms, on this machine.")
    return 0
