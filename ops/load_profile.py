"""Where the time of each load-test action goes: SQL statements and server time per action, in-process.

    python -m ops.load --profile          # after the run, with the same data and accounts

Each action of the workload (ops/load/locustfile.py) is run `iterations` times through Django's test client in this
process, as a signed-in account of its own (password and two-factor, like the simulated users): the median and p95
server time (no network, no gunicorn), the number of SQL statements (CaptureQueriesContext) and the time spent in
them, and the CPU time per request of this process and of its PostgreSQL backend. On the shared 2-core machine the
absolute times move with the others' load; the statement counts do not, and the CPU times much less.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any


def profile(fixture: dict[str, Any], *, iterations: int = 20) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from roi.models import Tenant

    specialist = fixture["specialists"][0]
    supervisor = next(s for s in fixture["supervisors"] if s["tenant"] == specialist["tenant"])
    tenant = Tenant.objects.get(slug=specialist["tenant"])
    staff = _signed_in(specialist, tenant)
    boss = _signed_in(supervisor, tenant)
    detail_number = fixture["openable"][specialist["tenant"]][0]
    own_number = specialist["own"][0][0] if specialist["own"] else ""
    portal_number, portal_verifier = fixture["portal"][0]
    api = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {fixture['api_tokens'][0]['key']}")
    requestor = Client(HTTP_HOST="127.0.0.1")
    from roi import rls
    from workflow.models import RecordRequest

    with rls.tenant_scope(tenant.pk):
        own = RecordRequest.objects.for_tenant(tenant).filter(tracking_number=own_number).first()
    state = {"own": own.state if own is not None else ""}

    def exception_cycle() -> Any:
        if state["own"] == "in_fulfillment":
            data = {
                "reason": "scope_unclear",
                "detail": "Profile run.",
                "next_step": "Call the requestor",
                "next_action_due": "2030-01-01",
                "owner": "",
                "expected_state": "in_fulfillment",
            }
            response = staff.post(f"/requests/{own_number}/exception/open/", data)
            state["own"] = "exception"
        else:
            data = {"resolution": "Profile run.", "expected_state": "exception"}
            response = staff.post(f"/requests/{own_number}/exception/resolve/", data)
            state["own"] = "in_fulfillment"
        return response

    def api_intake() -> Any:
        body = {
            "patient": {"mrn": f"PROF{uuid.uuid4().hex[:10]}", "first_name": "Rosa", "last_name": "Diaz",
                        "date_of_birth": "1980-04-02"},
            "requestor": {"kind": "patient", "name": "Rosa Diaz", "email": "rosa@example.com"},
            "request_type": "right_of_access",
            "record_types": ["lab"],
            "delivery_method": "portal_download",
        }  # fmt: skip
        return api.post(
            "/api/v1/requests/",
            json.dumps(body),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )

    actions: list[tuple[str, Callable[[], Any]]] = [
        ("staff: queue (open work)", lambda: staff.get("/requests/")),
        ("staff: queue (assigned to me)", lambda: staff.get("/requests/?assignee=me")),
        ("staff: queue (overdue)", lambda: staff.get("/requests/?overdue=on")),
        ("staff: request detail", lambda: staff.get(f"/requests/{detail_number}/")),
        ("staff: transition (exception raise/resolve)", exception_cycle),
        ("supervisor: dashboard", lambda: boss.get("/reports/")),
        ("portal: lookup form", lambda: requestor.get("/status/")),
        (
            "portal: lookup",
            lambda: requestor.post("/status/", {"tracking_number": portal_number, "verifier": portal_verifier}),
        ),
        ("portal: status page", lambda: requestor.get(f"/status/{portal_number}/")),
        ("api: intake (create request)", api_intake),
    ]
    if not own_number:
        actions = [a for a in actions if "transition" not in a[0]]
    print(f"\nProfile, in-process (Django's test client, no network), {iterations} times each:")
    print(
        f"{'action':<44} {'status':>6} {'median ms':>10} {'p95 ms':>8} {'queries':>8} {'SQL ms':>8} "
        f"{'CPU ms':>7} {'PG CPU ms':>10}"
    )
    for name, action in actions:
        times: list[float] = []
        counts: list[int] = []
        sql_ms: list[float] = []
        status = 0
        cpu = pg_cpu = 0.0
        for index in range(iterations + 2):
            if index == 2:
                cpu, pg_cpu = time.process_time(), _backend_cpu_seconds(connection)
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = action()
                elapsed = (time.perf_counter() - started) * 1000
            status = response.status_code
            if index < 2:  # warm: templates, connection
                continue
            times.append(elapsed)
            counts.append(len(captured))
            sql_ms.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
        cpu = (time.process_time() - cpu) * 1000 / iterations
        pg_cpu = (_backend_cpu_seconds(connection) - pg_cpu) * 1000 / iterations
        times.sort()
        p95 = times[max(0, round(len(times) * 0.95) - 1)]
        print(
            f"{name:<44} {status:>6} {statistics.median(times):>10.1f} {p95:>8.1f} {statistics.median(counts):>8.0f} "
            f"{statistics.median(sql_ms):>8.1f} {cpu:>7.1f} {pg_cpu if pg_cpu >= 0 else float('nan'):>10.1f}"
        )
    print(
        "CPU ms: this process's CPU time per request (the app's Python); PG CPU ms: its PostgreSQL backend's, when the "
        "server runs on this machine. Both move much less with the machine's other load than the times do."
    )


def _backend_cpu_seconds(connection: Any) -> float:
    """CPU time used so far by this connection's PostgreSQL backend (from /proc), or -inf when it is not local."""
    import os

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("-inf")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _signed_in(account: dict[str, Any], tenant: Any) -> Any:
    """A client signed in through the real pages; the code of the account's authenticator is used once per 30 s
    step, so a simulated user that signed in moments ago may have spent it: wait for the next step then."""
    from django.test import Client

    from portal.demo_two_factor import demo_totp_code  # the load accounts' authenticator has the demo key

    client = Client(HTTP_HOST="127.0.0.1")
    client.post("/login/", {"username": account["username"], "password": account["password"]})
    for _ in range(3):
        if client.post("/2fa/verify/", {"token": demo_totp_code()}).status_code == 302:
            return client
        time.sleep(31 - time.time() % 30)
    raise RuntimeError(f"{account['username']} could not pass two-factor")
