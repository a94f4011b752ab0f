"""Fault scenarios against the production topology (ops/topology.py): each injects one fault and checks its outcome.

    python -m ops.faults                      # every scenario, in order
    python -m ops.faults worker-kill-escalations worker-kill-notifications concurrent-edits
    python -m ops.faults --list

Each scenario sets up its own data in the demo organisations (seed_demo), injects the fault, then checks what must
hold afterwards and prints PASS or FAIL with its figures; the exit code is 1 if any failed. One topology serves
every scenario: embedded PostgreSQL and Valkey (restarts need them), 2 web workers, 2 Celery workers, one beat;
emails go to files under var/ops/mail through ops.mail.SlowFileBackend (20 ms a message, so a sweep can be killed
half-way), and a dead sender's claim on a notification expires after 15 s instead of 10 minutes.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.topology import LOG_DIR, ROOT, Topology

MAIL_DIR = LOG_DIR / "mail"
MEDIA_DIR = LOG_DIR / "media"
CLAIM_TIMEOUT_SECONDS = 15
TENANT = "riverside"
SUPERVISOR = "dana.supervisor"


@dataclass
class Outcome:
    name: str
    passed: bool = True
    figures: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def check(self, condition: bool, message: str) -> None:
        if not condition:
            self.passed = False
            self.failures.append(message)


def log(message: str) -> None:
    print(f"faults   | {message}", flush=True)


# --- Django, in this process, against the topology's database ------------------------------------------------------


def django_setup(topology: Topology) -> None:
    for key, value in topology.env.items():
        os.environ[key] = value
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "roi.settings")
    import django

    django.setup()


@contextlib.contextmanager
def everywhere(what: str) -> Iterator[None]:
    """Set-up and checks read across the wall: recorded like every bypass, with the platform credential the drill
    holds (DATABASE_OWNER_URL; roi/rls.py)."""
    from django.db import connection

    from roi import rls

    if not rls.is_platform_login(connection):
        rls.use_platform_credential()
    with rls.bypass(f"fault drill: {what}", where="ops/faults.py"):
        yield


def owner_sql(sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    """A statement as the database owner (DATABASE_OWNER_URL), in its own transaction."""
    import psycopg

    with psycopg.connect(os.environ["DATABASE_OWNER_URL"], autocommit=True) as conn, conn.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def mail_message_ids() -> collections.Counter[int]:
    """How many times each notification row was emailed, from the Message-IDs in the mail files."""
    counts: collections.Counter[int] = collections.Counter()
    pattern = re.compile(rb"^Message-ID: <notification-(\d+)@", re.MULTILINE)
    if MAIL_DIR.exists():
        for path in MAIL_DIR.iterdir():
            counts.update(int(match) for match in pattern.findall(path.read_bytes()))
    return counts


def task_holder(topology: Topology, task: str) -> int | None:
    """The index of the worker running `task` now: the one that logged it received and not yet finished."""
    for process in topology.processes["worker"]:
        output = process.new_output()
        received = re.findall(rf"Task {re.escape(task)}\[([0-9a-f-]+)\] received", output)
        for task_id in received:
            if not re.search(rf"\[{task_id}\] (succeeded|raised|retry)", output):
                return process.index
    return None


def http(
    method: str, url: str, *, token: str = "", body: dict[str, Any] | None = None, timeout: float = 15
) -> tuple[int, Any, float]:
    """(status, JSON or text, seconds); status 0 when nothing answered."""
    headers = {"Host": "127.0.0.1", "Accept": "application/json"}
    data = None
    if token:
        headers["Authorization"] = f"Token {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    began = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        raw = error.read()
        status = error.code
    except (OSError, ValueError):
        return 0, None, time.monotonic() - began
    try:
        payload: Any = json.loads(raw or b"null")
    except ValueError:
        payload = raw[:200].decode(errors="replace")
    return status, payload, time.monotonic() - began


def api_token(topology: Topology) -> str:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "create_api_token",
            "--tenant",
            TENANT,
            "--client",
            f"fault drill {uuid.uuid4().hex[:6]}",
            "--role",
            "supervisor",
            "--scopes",
            "read,intake,transitions",
        ],
        env=topology.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()[1].strip()


# --- Scenarios -----------------------------------------------------------------------------------------------------


def drill_rule(tenant: Any, run: str) -> Any:
    """An escalation rule that matches every open request: the sweep has work in every tenant."""
    from exceptions.models import EscalationRule

    return EscalationRule.objects.create(
        tenant=tenant,
        name=f"Fault drill {run}",
        level=3,
        max_days_to_legal_due=10000,
        notify=EscalationRule.Notify.SUPERVISORS,
        email=True,
        raise_priority=1,
    )


def escalation_figures(rule_ids: list[int], since: Any, boosts_before: dict[int, int]) -> dict[str, Any]:
    """What the drill rules produced: events per request, notifications per event, emails per notification, and
    whether each request's priority boost rose by exactly what the events fired since `since` add up to."""
    from django.db.models import Count, Sum

    from exceptions.models import EscalationEvent, EscalationRule
    from roi.choices import SUPERVISING_ROLES
    from roi.models import Membership, Notification
    from workflow.choices import OPEN_STATES
    from workflow.models import RecordRequest

    events = EscalationEvent.objects.filter(rule_id__in=rule_ids)
    doubled_events = events.values("request_id", "rule_id").annotate(n=Count("id")).filter(n__gt=1).count()
    tenant_ids = list(EscalationRule.objects.filter(pk__in=rule_ids).values_list("tenant_id", flat=True))
    open_requests = RecordRequest.objects.filter(state__in=OPEN_STATES, tenant_id__in=tenant_ids)
    event_ids = list(events.values_list("id", flat=True))
    notes = Notification.objects.filter(kind="escalation", dedupe_key__regex=r"^escalation:\d+:\d+$")
    notes = [
        n
        for n in notes.values("id", "dedupe_key", "emailed_at", "tenant_id")
        if int(n["dedupe_key"].split(":")[1]) in set(event_ids)
    ]
    supervisors = collections.Counter(
        Membership.objects.filter(role__in=SUPERVISING_ROLES, is_active=True, user__is_active=True).values_list(
            "tenant_id", flat=True
        )
    )
    expected_notes = sum(supervisors[t] for t in events.values_list("tenant_id", flat=True))
    sent = mail_message_ids()
    note_ids = [n["id"] for n in notes]
    boost_due = dict(
        EscalationEvent.objects.filter(fired_at__gte=since)
        .values("request_id")
        .annotate(total=Sum("rule__raise_priority"))
        .values_list("request_id", "total")
    )
    wrong_boost = [
        pk
        for pk, boost in RecordRequest.objects.filter(pk__in=boosts_before).values_list("pk", "priority_boost")
        if boost - boosts_before[pk] != boost_due.get(pk, 0)
    ]
    return {
        "open_requests": open_requests.count(),
        "events": len(event_ids),
        "doubled_events": doubled_events,
        "notifications": len(notes),
        "notifications_expected": expected_notes,
        "emailed_rows": sum(1 for n in notes if n["emailed_at"]),
        "emails_sent": sum(sent[i] for i in note_ids),
        "emails_missing": sum(1 for i in note_ids if sent[i] == 0),
        "emails_repeated": sum(1 for i in note_ids if sent[i] > 1),
        "wrong_priority_boost": len(wrong_boost),
    }


def scenario_worker_kill_escalations(topology: Topology) -> Outcome:
    """SIGKILL the worker in the middle of an escalation sweep (held inside the second tenant's transaction by a
    conflicting uncommitted row), then let the next sweep run: every escalation fires once, every notification is
    written once and emailed once, every priority boost is applied once."""
    import psycopg

    from exceptions.tasks import evaluate_escalations
    from roi import clock
    from roi.models import Tenant
    from roi.tasks import send_notifications
    from workflow.choices import OPEN_STATES
    from workflow.models import RecordRequest

    outcome = Outcome("worker-kill-escalations")
    run = uuid.uuid4().hex[:8]
    since = clock.now()
    with everywhere("worker-kill-escalations set-up"):
        tenants = list(Tenant.objects.filter(is_active=True).order_by("pk"))
        if len(tenants) < 2:
            outcome.check(False, "needs two active organisations (seed_demo)")
            return outcome
        rules = [drill_rule(tenant, run) for tenant in tenants]
        boosts_before = dict(RecordRequest.objects.filter(state__in=OPEN_STATES).values_list("pk", "priority_boost"))
        victim = RecordRequest.objects.filter(tenant=tenants[1], state__in=OPEN_STATES).order_by("pk").first()
    # The blocker: the event the sweep will want to insert for the second tenant, uncommitted, so the sweep's INSERT
    # waits on it inside that tenant's transaction, after the first tenant's has committed.
    blocker = psycopg.connect(os.environ["DATABASE_OWNER_URL"])
    blocker.execute(
        "INSERT INTO exceptions_escalationevent (tenant_id, rule_id, request_id, level, episode_id, fired_at, summary)"
        " VALUES (%s, %s, %s, 3, NULL, now(), 'blocker')",
        [tenants[1].pk, rules[1].pk, victim.pk],
    )
    evaluate_escalations.delay()
    waiting = wait_until(
        lambda: owner_sql(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND query LIKE '%%INSERT INTO exceptions_escalationevent%%'"
        ),
        timeout=60,
    )
    holder = wait_until(lambda: task_holder(topology, "exceptions.tasks.evaluate_escalations"), timeout=10)
    with everywhere("worker-kill-escalations: before the kill"):
        fired_before = escalation_figures([r.pk for r in rules], since, boosts_before)["events"]
    outcome.check(bool(waiting) and holder is not None, "the sweep never reached the second organisation")
    if holder is None:
        blocker.rollback()
        blocker.close()
        return outcome
    topology.kill("worker", holder, signal.SIGKILL)
    killed_at = time.monotonic()
    blocker.rollback()
    blocker.close()
    # The killed worker's backend gets its lock, then finds its client gone and rolls back.
    wait_until(
        lambda: not owner_sql("SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", [[w[0] for w in waiting]]), 30
    )
    with everywhere("worker-kill-escalations: after the kill"):
        fired_after_kill = escalation_figures([r.pk for r in rules], since, boosts_before)["events"]
    topology.restart("worker", holder)
    topology.wait_healthy(60)
    # Beat's next tick (every 5 minutes), sent now: the sweep is idempotent, so what the dead one did stays once.
    result = evaluate_escalations.delay()
    result.get(timeout=120)
    for _ in range(6):
        send_notifications.delay().get(timeout=120)
        with everywhere("worker-kill-escalations: emails"):
            figures = escalation_figures([r.pk for r in rules], since, boosts_before)
        if figures["emails_missing"] == 0:
            break
        time.sleep(CLAIM_TIMEOUT_SECONDS / 3)
    figures.update(
        events_fired_before_kill=fired_before,
        events_after_kill=fired_after_kill,
        recovered_in_seconds=round(time.monotonic() - killed_at, 1),
    )
    outcome.figures = figures
    outcome.check(fired_before > 0, "nothing committed before the kill: the kill was not mid-sweep")
    outcome.check(fired_after_kill == fired_before, "the killed worker's transaction committed after the kill")
    outcome.check(figures["events"] == figures["open_requests"], "an escalation is missing")
    outcome.check(figures["doubled_events"] == 0, "an escalation fired twice")
    outcome.check(figures["notifications"] == figures["notifications_expected"], "notifications missing or doubled")
    outcome.check(figures["emails_missing"] == 0, "a notification was never emailed")
    outcome.check(figures["emails_repeated"] == 0, "a notification was emailed twice")
    outcome.check(figures["wrong_priority_boost"] == 0, "a priority boost was applied twice or not at all")
    return outcome


def scenario_worker_kill_notifications(topology: Topology) -> Outcome:
    """SIGKILL the worker half-way through emailing 600 notifications: after its claims expire every one is emailed,
    none lost; delivery is at least once, so at most the one email in flight at the kill goes out twice, with the
    same Message-ID."""
    from roi.models import Notification, Tenant
    from roi.tasks import send_notifications

    outcome = Outcome("worker-kill-notifications")
    count = 600
    run = uuid.uuid4().hex[:8]
    with everywhere("worker-kill-notifications set-up"):
        tenant = Tenant.objects.get(slug=TENANT)
        Notification.objects.bulk_create(
            Notification(
                tenant=tenant,
                email_to=f"requestor{i}@example.org",
                kind="fault-drill",
                subject=f"Fault drill {run} #{i}",
                body="A notice from the fault drill.",
                dedupe_key=f"drill:{run}:{i}",
            )
            for i in range(count)
        )
        ids = list(Notification.objects.filter(dedupe_key__startswith=f"drill:{run}:").values_list("pk", flat=True))

    def emailed() -> int:
        with everywhere("worker-kill-notifications: progress"):
            return Notification.objects.filter(pk__in=ids, emailed_at__isnull=False).count()

    began = time.monotonic()
    send_notifications.delay()
    wait_until(lambda: emailed() >= 40, timeout=60, interval=0.1)
    holder = task_holder(topology, "roi.tasks.send_notifications")
    at_kill = emailed()
    if holder is None:
        outcome.check(False, "no worker was sending when the kill was due")
        return outcome
    topology.kill("worker", holder, signal.SIGKILL)
    killed_at = time.monotonic()
    topology.restart("worker", holder)
    # Beat sweeps every minute; the claims of the dead sender expire after CLAIM_TIMEOUT_SECONDS.
    while emailed() < count and time.monotonic() - killed_at < 180:
        send_notifications.delay().get(timeout=120)
        time.sleep(2)
    sent = mail_message_ids()
    with everywhere("worker-kill-notifications: check"):
        stamped = emailed()
    outcome.figures = {
        "notifications": count,
        "emailed_before_kill": at_kill,
        "emailed_rows": stamped,
        "emails_sent": sum(sent[i] for i in ids),
        "emails_missing": sum(1 for i in ids if sent[i] == 0),
        "emails_repeated": sum(1 for i in ids if sent[i] > 1),
        "all_sent_seconds_after_kill": round(time.monotonic() - killed_at, 1),
        "total_seconds": round(time.monotonic() - began, 1),
    }
    outcome.check(0 < at_kill < count, "the kill did not land half-way")
    outcome.check(stamped == count and outcome.figures["emails_missing"] == 0, "a notification was lost")
    outcome.check(outcome.figures["emails_repeated"] <= 1, "more than the one in-flight email was sent twice")
    return outcome


def scenario_concurrent_edits(topology: Topology) -> Outcome:
    """20 API clients raise and resolve exceptions on the same 5 requests for 20 s, each sending the state it saw:
    no 500, every request ends in a valid state, its transition log is an unbroken chain that ends in its state and
    matches its history, and it has an open exception episode exactly when it is in exception."""
    from exceptions.models import ExceptionEpisode
    from workflow.choices import RequestState
    from workflow.models import RecordRequest, RequestTransition

    outcome = Outcome("concurrent-edits")
    token = api_token(topology)
    with everywhere("concurrent-edits set-up"):
        targets = list(
            RecordRequest.objects.filter(
                tenant__slug=TENANT,
                state__in=[RequestState.RECEIVED, RequestState.VALIDATED, RequestState.IN_FULFILLMENT],
            )
            .order_by("pk")
            .values_list("tracking_number", flat=True)[:5]
        )
    statuses: collections.Counter[int] = collections.Counter()
    slowest = [0.0]
    lock = threading.Lock()
    stop_at = time.monotonic() + 20
    api = f"{topology.base_url}/api/v1/requests"

    def client(seed: int) -> None:
        n = seed
        while time.monotonic() < stop_at:
            number = targets[n % len(targets)]
            n += 1
            status, body, _ = http("GET", f"{api}/{number}/", token=token)
            if status != 200:
                with lock:
                    statuses[status] += 1
                continue
            state = body["state"]
            if state == RequestState.EXCEPTION:
                status, _, took = http(
                    "POST",
                    f"{api}/{number}/resolve/",
                    token=token,
                    body={"resolution": "Fault drill: resolved.", "expected_state": state},
                )
            else:
                status, _, took = http(
                    "POST",
                    f"{api}/{number}/raise-exception/",
                    token=token,
                    body={
                        "reason": "incomplete_authorization",
                        "detail": "Fault drill.",
                        "next_step": "Call the requestor",
                        "next_action_due": "2030-01-01",
                        "expected_state": state,
                    },
                )
            with lock:
                statuses[status] += 1
                slowest[0] = max(slowest[0], took)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    broken: list[str] = []
    transitions = 0
    with everywhere("concurrent-edits check"):
        for rr in RecordRequest.objects.filter(tracking_number__in=targets):
            log_rows = list(RequestTransition.objects.filter(request=rr).order_by("at", "pk"))
            transitions += len(log_rows)
            chain_ok = all(a.to_state == b.from_state for a, b in itertools.pairwise(log_rows))
            ends_ok = not log_rows or log_rows[-1].to_state == rr.state
            history = [h.state for h in rr.history.order_by("history_date", "history_id")]
            changes = [s for i, s in enumerate(history) if i == 0 or s != history[i - 1]]
            logged = [log_rows[0].from_state, *(t.to_state for t in log_rows)] if log_rows else changes[-1:]
            history_ok = changes[-len(logged) :] == logged
            open_episodes = ExceptionEpisode.objects.filter(request=rr, resolved_at__isnull=True).count()
            episode_ok = open_episodes == (1 if rr.state == RequestState.EXCEPTION else 0)
            if not (chain_ok and ends_ok and history_ok and episode_ok and rr.state in RequestState.values):
                broken.append(
                    f"{rr.tracking_number}: chain {chain_ok}, ends {ends_ok}, history {history_ok}, episodes {open_episodes}"
                )
    outcome.figures = {
        "requests": len(targets),
        "clients": 20,
        "responses": dict(sorted(statuses.items())),
        "transitions_logged": transitions,
        "slowest_write_seconds": round(slowest[0], 2),
        "inconsistent": broken,
    }
    outcome.check(statuses.get(500, 0) == 0 and statuses.get(0, 0) == 0, "a 500 or no answer")
    outcome.check(statuses.get(200, 0) > 0, "no transition succeeded")
    outcome.check(not broken, "a request's log, history or episodes disagree")
    return outcome


class Prober:
    """Clients hitting a few URLs in a loop; every answer recorded with its time, status and duration."""

    def __init__(self, urls: dict[str, tuple[str, str]], clients: int = 4) -> None:
        self.urls = urls  # name -> (url, token)
        self.clients = clients
        self.samples: list[tuple[float, str, int, float]] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, (url, token) in self.urls.items():
                status, _, took = http("GET", url, token=token, timeout=30)
                with self._lock:
                    self.samples.append((time.monotonic(), name, status, took))
            time.sleep(0.05)

    def __enter__(self) -> Prober:
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def summary(self, since: float, until: float) -> dict[str, Any]:
        picked = [s for s in self.samples if since <= s[0] <= until]
        result: dict[str, Any] = {}
        for name in self.urls:
            mine = [s for s in picked if s[1] == name]
            result[name] = {
                "statuses": dict(sorted(collections.Counter(s[2] for s in mine).items())),
                "slowest_seconds": round(max((s[3] for s in mine), default=0), 2),
            }
        return result

    def last_failure(self, since: float) -> float | None:
        failures = [s[0] for s in self.samples if s[0] >= since and s[2] != 200]
        return max(failures) if failures else None


def probe_urls(topology: Topology, token: str) -> dict[str, tuple[str, str]]:
    return {
        "healthz": (f"{topology.base_url}/healthz/", ""),
        "portal_lookup": (f"{topology.base_url}/status/", ""),
        "api_list": (f"{topology.base_url}/api/v1/requests/?page_size=5", token),
    }


def scenario_redis_restart(topology: Topology) -> Outcome:
    """Restart Redis (down 5 s) under a steady client load: what answers during the outage, how long until every
    URL answers 200 again, and whether a notification written during the outage (its on-commit trigger lost) is
    still emailed afterwards."""
    from roi import notifications
    from roi.models import Notification, Tenant

    outcome = Outcome("redis-restart")
    token = api_token(topology)
    pids_before = topology.pids(children=True)["web"]
    run = uuid.uuid4().hex[:8]
    with Prober(probe_urls(topology, token)) as prober:
        time.sleep(3)
        down_at = time.monotonic()
        writer_seconds: list[float] = []

        def write_during_outage() -> None:
            time.sleep(1)
            began = time.monotonic()
            with everywhere("redis-restart: a notice written during the outage"):
                from django.db import transaction

                with transaction.atomic():
                    notifications.notify(
                        tenant=Tenant.objects.get(slug=TENANT),
                        email_to="outage@example.org",
                        kind="fault-drill",
                        subject=f"Written while Redis was down {run}",
                        body="Fault drill.",
                        dedupe_key=f"drill-redis:{run}",
                    )
            writer_seconds.append(time.monotonic() - began)

        writer = threading.Thread(target=write_during_outage)
        writer.start()
        downtime = topology.restart_redis(down_seconds=5)
        up_at = time.monotonic()
        writer.join()
        time.sleep(20)
        end = time.monotonic()
    last_failure = prober.last_failure(down_at)
    with everywhere("redis-restart check"):
        note = Notification.objects.get(dedupe_key=f"drill-redis:{run}")
    waited = wait_until(lambda: mail_message_ids()[note.pk] > 0, timeout=90, interval=2)
    outcome.figures = {
        "redis_down_seconds": round(downtime, 1),
        "during_outage": prober.summary(down_at, up_at),
        "after_restart": prober.summary(up_at, end),
        "failing_for_seconds_after_restart": round(last_failure - up_at, 1) if last_failure else 0.0,
        "notify_during_outage_seconds": round(writer_seconds[0], 2) if writer_seconds else None,
        "notice_written_during_outage_emailed": bool(waited),
        "web_processes_unchanged": topology.pids(children=True)["web"] == pids_before,
    }
    after = prober.summary(up_at + 10, end)
    # The web tier keeps answering while Redis is away: pages 200, /healthz/ a prompt 503, nothing held waiting for
    # Redis to come back (a health check through kombu once held every worker for the whole outage). Samples are
    # filed by when they finished, so a request held through the outage counts from the outage's start to the end.
    held = max(v["slowest_seconds"] for v in prober.summary(down_at, end).values())
    outcome.check(held < 2, f"a request waited {held} s, for Redis to come back")
    outcome.check(
        all(set(v["statuses"]) <= {200} for v in after.values()), "errors 10 s and more after Redis came back"
    )
    outcome.check(all(500 not in v["statuses"] for v in prober.summary(up_at, end).values()), "a 500 after restart")
    outcome.check(bool(waited), "the notice written during the outage was never emailed")
    return outcome


def scenario_postgres_restart(topology: Topology) -> Outcome:
    """Restart PostgreSQL (down 5 s) under a steady client load: requests fail fast and cleanly (503, never 500)
    while it is down, nothing hangs, and the same gunicorn processes answer 200 again once it is back (CONN_MAX_AGE
    with health checks)."""
    outcome = Outcome("postgres-restart")
    token = api_token(topology)
    pids_before = topology.pids(children=True)["web"]
    with Prober(probe_urls(topology, token)) as prober:
        time.sleep(3)
        down_at = time.monotonic()
        downtime = topology.restart_postgres(down_seconds=5)
        up_at = time.monotonic()
        time.sleep(20)
        end = time.monotonic()
    last_failure = prober.last_failure(down_at)
    during = prober.summary(down_at, up_at)
    outcome.figures = {
        "postgres_down_seconds": round(downtime, 1),
        "during_outage": during,
        "after_restart": prober.summary(up_at, end),
        "failing_for_seconds_after_restart": round(last_failure - up_at, 1) if last_failure else 0.0,
        "web_processes_unchanged": topology.pids(children=True)["web"] == pids_before,
    }
    outcome.check(max(v["slowest_seconds"] for v in during.values()) < 15, "a request hung while PostgreSQL was down")
    # Failing cleanly: a 503 that says to try again (roi.views.health.server_error), never the 500 page of a bug.
    outcome.check(
        all(set(v["statuses"]) <= {200, 503} for v in prober.summary(down_at, end).values()),
        "an answer other than 200 or 503 while PostgreSQL was down or coming back",
    )
    outcome.check(
        all(set(v["statuses"]) <= {200} for v in prober.summary(up_at + 10, end).values()),
        "errors 10 s and more after PostgreSQL came back",
    )
    outcome.check(outcome.figures["web_processes_unchanged"], "gunicorn workers were replaced")
    return outcome


def scenario_two_beats(topology: Topology) -> Outcome:
    """A second beat started by mistake, for 75 s (both send their minute jobs, each at start an evaluation of the
    escalation rules and snapshots when due): nothing done twice: no escalation twice, no notification written or
    emailed twice, no snapshot twice."""
    from django.db.models import Count

    from exceptions.models import EscalationEvent
    from reporting.models import DailySnapshot
    from roi.models import Notification

    outcome = Outcome("two-beats")
    index = topology.add("beat")
    offsets = {p.index: len(p.new_output()) for p in topology.processes["worker"]}
    time.sleep(75)
    task_errors = sum(
        len(re.findall(r"\] raised ", p.new_output()[offsets.get(p.index, 0) :])) for p in topology.processes["worker"]
    )
    second_log = topology.process("beat", index).new_output()
    topology.remove("beat", index)
    sent = mail_message_ids()
    with everywhere("two-beats check"):
        doubled_events = (
            EscalationEvent.objects.values("request_id", "rule_id", "level", "episode_id")
            .annotate(n=Count("id"))
            .filter(n__gt=1)
            .count()
        )
        doubled_snapshots = (
            DailySnapshot.objects.values("tenant_id", "day").annotate(n=Count("id")).filter(n__gt=1).count()
        )
        note_ids = set(Notification.objects.values_list("pk", flat=True))
    repeated = sum(1 for pk, n in sent.items() if pk in note_ids and n > 1)
    outcome.figures = {
        "second_beat_sent": len(re.findall(r"Sending due task", second_log)),
        "doubled_escalations": doubled_events,
        "doubled_snapshots": doubled_snapshots,
        "emails_repeated_ever": repeated,
        "tasks_failed": task_errors,
    }
    outcome.check(outcome.figures["second_beat_sent"] > 0, "the second beat sent nothing")
    outcome.check(doubled_events == 0 and doubled_snapshots == 0, "something ran twice")
    outcome.check(task_errors == 0, "a job failed while two beats ran (see var/ops/worker-*.log)")
    return outcome


def drill_pdf(pages: int = 200) -> bytes:
    """A real PDF (the upload check opens it), large enough not to fit in what is left of the media folder."""
    import io

    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)
    writer.add_metadata({"/Subject": "fault drill " + "x" * 200_000})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def scenario_media_full(topology: Topology) -> Outcome:
    """A document upload (the service every upload path calls: staff form, request page, API, portal) when the media
    folder is full (a 1 MB tmpfs, filled) and when it is read-only: a clear error, the request unchanged, no
    document row, no file left behind. Then the same over HTTP for a generated letter (_media_full_over_http)."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import override_settings

    from intake.choices import DocumentKind
    from intake.documents import document_add
    from intake.models import IntakeDocument
    from roi.errors import ServiceError
    from roi.models import Tenant, User
    from workflow.choices import OPEN_STATES
    from workflow.models import RecordRequest

    outcome = Outcome("media-full")
    if os.geteuid() != 0:
        outcome.check(False, "needs root to mount a tmpfs")
        return outcome
    mount = LOG_DIR / "media-tiny"
    results = {}
    with contextlib.closing(media_cases(mount)) as cases:
        for case in cases:
            content = drill_pdf()
            with everywhere(f"media-full {case}"), override_settings(MEDIA_ROOT=str(mount)):
                tenant = Tenant.objects.get(slug=TENANT)
                actor = User.objects.get(username=SUPERVISOR)
                rr = RecordRequest.objects.filter(tenant=tenant, state__in=OPEN_STATES).order_by("pk").first()
                before = (rr.last_activity_at, IntakeDocument.objects.filter(request=rr).count())
                files_before = sorted(p for p in mount.rglob("*") if p.is_file() and p.name != "filler")
                error = ""
                try:
                    document_add(
                        tenant=tenant,
                        actor=actor,
                        record_request=rr,
                        uploaded_file=SimpleUploadedFile("scan.pdf", content, "application/pdf"),
                        kind=DocumentKind.AUTHORIZATION,
                    )
                except ServiceError as service_error:
                    error = f"ServiceError: {service_error}"
                except Exception as other:  # noqa: BLE001 - what a view would turn into a 500
                    error = f"unhandled {type(other).__name__}: {other}"
                rr.refresh_from_db()
                after = (rr.last_activity_at, IntakeDocument.objects.filter(request=rr).count())
                files_after = sorted(p for p in mount.rglob("*") if p.is_file() and p.name != "filler")
            results[case] = {
                "error": error,
                "request_unchanged": before == after,
                "files_left_behind": len(files_after) - len(files_before),
            }
            outcome.check(error.startswith("ServiceError"), f"{case}: not a clear error ({error or 'accepted'})")
            outcome.check(before == after, f"{case}: the request changed")
            outcome.check(len(files_after) == len(files_before), f"{case}: a file was left behind")
    outcome.figures = results
    _media_full_over_http(topology, outcome)
    return outcome


def _media_full_over_http(topology: Topology, outcome: Outcome) -> None:
    """The same through the running gunicorn: API intake, whose acknowledgment letter (a PDF) must be stored, with
    the topology's own media folder full and then read-only (a tmpfs mounted over it for the drill). The answer is a
    503 that says why, no request is created, and no file is left."""
    from roi.models import Tenant
    from workflow.models import RecordRequest

    token = api_token(topology)
    with contextlib.closing(media_cases(MEDIA_DIR)) as cases:
        for case in cases:
            mrn = f"MEDIA-{case.upper()}-{int(time.time())}"
            body = {
                "patient": {"mrn": mrn, "first_name": "Rosa", "last_name": "Diaz", "date_of_birth": "1980-04-02"},
                "requestor": {"kind": "patient", "name": "Rosa Diaz", "email": "rosa.diaz@example.com"},
                "request_type": "right_of_access",
                "record_types": ["lab"],
                "delivery_method": "portal_download",
            }
            status, answer, _ = http("POST", f"{topology.base_url}/api/v1/requests/", token=token, body=body)
            with everywhere(f"media-full over http {case}"):
                tenant = Tenant.objects.get(slug=TENANT)
                created = RecordRequest.objects.filter(tenant=tenant, patient__mrn=mrn).count()
            left = [p.name for p in MEDIA_DIR.rglob("*") if p.is_file() and p.name != "filler"]
            detail = answer.get("detail", "") if isinstance(answer, dict) else str(answer)
            outcome.check(status == 503 and "storage" in detail, f"http {case}: answered {status} {detail!r}")
            outcome.check(created == 0, f"http {case}: the request was created without its letter")
            outcome.check(not left, f"http {case}: files left behind: {left}")
            outcome.figures[f"http {case}"] = {
                "status": status,
                "detail": detail,
                "created": created,
                "files_left": left,
            }


def media_cases(mount: Path) -> Iterator[str]:
    """A 1 MB tmpfs mounted on `mount` (over whatever is there), made full ("full": a filler file that does not
    fit), then read-only ("read-only": remounted); unmounted when the generator is closed."""
    mount.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        with contextlib.suppress(OSError), open(mount / "filler", "wb") as filler:
            filler.write(b"\0" * 2 * 1024 * 1024)
        yield "full"
        (mount / "filler").unlink(missing_ok=True)
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        yield "read-only"
    finally:
        subprocess.run(["umount", str(mount)], check=False)


SCENARIOS: dict[str, Callable[[Topology], Outcome]] = {
    "worker-kill-escalations": scenario_worker_kill_escalations,
    "worker-kill-notifications": scenario_worker_kill_notifications,
    "concurrent-edits": scenario_concurrent_edits,
    "redis-restart": scenario_redis_restart,
    "postgres-restart": scenario_postgres_restart,
    "two-beats": scenario_two_beats,
    "media-full": scenario_media_full,
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", help=f"any of: {', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--port", type=int, default=8110)
    args = parser.parse_args(argv)
    if args.list:
        for name, function in SCENARIOS.items():
            print(f"{name}\n    {' '.join((function.__doc__ or '').split())}")
        return 0
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}")
    for key in ("DATABASE_URL", "REDIS_URL"):
        if os.environ.get(key):
            log(f"{key} is set: the restart scenarios need the embedded servers and will report FAIL")
    shutil.rmtree(MAIL_DIR, ignore_errors=True)
    MAIL_DIR.mkdir(parents=True, exist_ok=True)
    MEDIA_DIR.mkdir(parents=True, exist_ok=True)
    topology = Topology(
        web_workers=2,
        celery_workers=2,
        port=args.port,
        extra_env={
            "EMAIL_BACKEND": "ops.mail.SlowFileBackend",
            "EMAIL_FILE_PATH": str(MAIL_DIR),
            "NOTIFICATION_CLAIM_TIMEOUT_SECONDS": str(CLAIM_TIMEOUT_SECONDS),
            "MEDIA_ROOT": str(MEDIA_DIR),
        },
    )
    outcomes: list[Outcome] = []
    with topology:
        topology.wait_healthy(timeout=180)
        django_setup(topology)
        for name in args.scenarios or list(SCENARIOS):
            log(f"--- {name}")
            from django.db import connections

            connections.close_all()  # this runner's own connection may not have outlived the last scenario's faults
            began = time.monotonic()
            try:
                outcome = SCENARIOS[name](topology)
            except Exception as error:  # noqa: BLE001 - one scenario's crash is its FAIL, the others still run
                outcome = Outcome(name, passed=False, failures=[f"{type(error).__name__}: {error}"])
            outcome.figures["seconds"] = round(time.monotonic() - began, 1)
            outcomes.append(outcome)
            verdict = "PASS" if outcome.passed else "FAIL"
            log(f"{verdict} {name} {json.dumps(outcome.figures, default=str)}")
            for failure in outcome.failures:
                log(f"     {failure}")
            if topology.dead():
                for dead in topology.dead():
                    role, index = Topology._split(dead)
                    topology.restart(role, index)
                topology.wait_healthy(60)
    log(" ".join(f"{o.name}={'PASS' if o.passed else 'FAIL'}" for o in outcomes))
    return 0 if all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
