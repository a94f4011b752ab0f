"""OpenROI's mixed workload for locust, shaped like a real day of a hospital's HIM department.

Run by ops/load.py (`python -m ops.load`), which prepares the accounts, requests and API tokens and passes them in
the JSON file named by LOAD_FIXTURE; LOAD_MAX_REQUESTS stops the run after that many requests whatever its time.
Runs in the load generator's own virtualenv (.venv-load: locust, gevent): it imports nothing from the app.

The mix. A large HIM department receives about 500 requests a day; each one is opened, queued, reviewed and moved
along by staff some 30 to 40 times over its life, its requestor checks the portal two or three times, and about one
in eight arrives through an EHR or vendor interface (the API channel's share in portal/demo.py). Per 100 requests
that gives roughly:
  - staff (specialists) 65: queue pages with filters 30, request detail pages 27, transitions 8 (an exception raised
    or resolved from the detail page: the everyday transition that can repeat on the same request all day; each is
    followed by the detail page the browser is redirected to, counted with the detail pages);
  - supervisors 10: the dashboard 4 (the heaviest page, opened a few times an hour each), queue-wide views 4,
    request detail pages 2;
  - requestors on the portal 24: the lookup form 6, the lookup itself 6, their status page 12 (it is reloaded);
  - API intake under 1 (one in eight new requests, through an interface: rare next to page views, and the costliest
    request, since it renders the acknowledgment letter as a PDF): two interface clients, one request every 1-2 s.
Staff and supervisors sign in once per simulated user (password, then the two-factor page with a code from the
account's authenticator key), as a working day starts; those sign-ins are counted apart.

The user classes' weights are those shares (specialists 65, supervisors 10, requestors 24) because every simulated
user waits the same between two of its requests, 0.2 to 0.6 s: each stands for many real people (a real specialist asks for a
page every 10 to 20 s), compressed so that a few dozen of them make the hundreds of requests a second of the target.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import random
import re
import struct
import time
import uuid
from typing import Any

from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser

FIXTURE: dict[str, Any] = {}
if os.environ.get("LOAD_FIXTURE"):
    with open(os.environ["LOAD_FIXTURE"]) as handle:
        FIXTURE = json.load(handle)

_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
QUEUE_FILTERS = [
    "",
    "?assignee=me",
    "?assignee=none",
    "?state=exception",
    "?state=in_fulfillment&sort=due",
    "?overdue=on",
    "?due_within=7&sort=due",
    "?request_type=legal",
    "?stalled=on&sort=age",
    "?channel=portal",
]
SUPERVISOR_FILTERS = ["?sort=age", "?aging_band=3", "?assignee=none&sort=due", "?state=exception&sort=age", ""]
EXCEPTION_REASONS = ["incomplete_authorization", "identity_not_verified", "scope_unclear", "awaiting_department"]


def totp_code(key_hex: str) -> str:
    """RFC 6238 as django-otp checks it (SHA-1, 30-second steps, 6 digits); portal/demo_two_factor.py does the
    same for the demo accounts."""
    digest = hmac.new(bytes.fromhex(key_hex), struct.pack(">Q", int(time.time() // 30)), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


# --- The measured window ---------------------------------------------------------------------------------------
# Sign-ins come first and are kept out of the figures: each costs a deliberately slow password hash, done once a day
# per person, but 50 of them at once would fill a one-minute window. Once every user is spawned and every staff
# user signed in, the statistics start afresh (the sign-ins' figures are written to LOAD_MEASURE_FILE first), and
# the run ends LOAD_SECONDS later or after LOAD_MAX_REQUESTS requests, whichever comes first.

_environment: Any = None
_state = {"spawned": False, "signed_in": 0, "measuring": False, "requests": 0}
STAFF_CLASSES = ("Specialist", "Supervisor")


@events.init.add_listener
def _keep_environment(environment: Any, **_kwargs: Any) -> None:
    global _environment
    _environment = environment


@events.spawning_complete.add_listener
def _spawned(**_kwargs: Any) -> None:
    _state["spawned"] = True
    _start_measuring()


def _signed_in() -> None:
    _state["signed_in"] += 1
    _start_measuring()


def _start_measuring() -> None:
    runner = _environment.runner if _environment is not None else None
    if runner is None or _state["measuring"] or not _state["spawned"]:
        return
    counts = getattr(runner, "user_classes_count", {}) or {}
    if _state["signed_in"] < sum(counts.get(name, 0) for name in STAFF_CLASSES):
        return
    import gevent

    _state["measuring"] = True
    sign_ins = [
        {
            "name": entry.name,
            "count": entry.num_requests,
            "failures": entry.num_failures,
            "median_ms": entry.median_response_time,
            "p95_ms": entry.get_response_time_percentile(0.95),
        }
        for entry in runner.stats.entries.values()
        if "sign in" in entry.name
    ]
    runner.stats.reset_all()
    if os.environ.get("LOAD_MEASURE_FILE"):
        with open(os.environ["LOAD_MEASURE_FILE"], "w") as handle:
            json.dump({"at": time.time(), "sign_ins": sign_ins}, handle)
    if os.environ.get("LOAD_SECONDS"):
        gevent.spawn_later(float(os.environ["LOAD_SECONDS"]), runner.quit)


@events.request.add_listener
def _stop_at_request_limit(**_kwargs: Any) -> None:
    if not _state["measuring"]:
        return
    _state["requests"] += 1
    limit = int(os.environ.get("LOAD_MAX_REQUESTS", "0"))
    if limit and _state["requests"] == limit:
        import gevent

        gevent.spawn(_environment.runner.quit)


# --- Accounts are handed out one per simulated user ----------------------------------------------------------

_next_account: dict[str, itertools.count] = {}


def _account(kind: str) -> dict[str, Any]:
    accounts = FIXTURE[kind]
    counter = _next_account.setdefault(kind, itertools.count())
    return accounts[next(counter) % len(accounts)]


class _StaffBrowser(FastHttpUser):
    """A signed-in staff browser: session cookie, CSRF token, two-factor verified."""

    abstract = True
    kind = ""
    wait_time = between(0.2, 0.6)
    role_label = "staff"

    def on_start(self) -> None:
        self.account = _account(self.kind)
        self.openable: list[str] = FIXTURE["openable"][self.account["tenant"]]
        response = self.client.get("/login/", name=f"{self.role_label}: sign in (form)")
        self.client.post(
            "/login/",
            data={
                "username": self.account["username"],
                "password": self.account["password"],
                "csrfmiddlewaretoken": self._csrf(response.text),
            },
            name=f"{self.role_label}: sign in (password)",
            allow_redirects=False,
        )
        page = self.client.get("/2fa/verify/", name=f"{self.role_label}: sign in (two-factor form)")
        with self.client.post(
            "/2fa/verify/",
            data={"token": totp_code(self.account["totp_key_hex"]), "csrfmiddlewaretoken": self._csrf(page.text)},
            name=f"{self.role_label}: sign in (two-factor code)",
            allow_redirects=False,
            catch_response=True,
        ) as verified:
            if verified.status_code != 302:
                verified.failure(f"two-factor verification answered {verified.status_code}")
        _signed_in()

    def _csrf(self, html: str | None) -> str:
        match = _CSRF_INPUT.search(html or "")
        return match.group(1) if match else ""

    def open_detail(self, tracking_number: str) -> str:
        return self.client.get(f"/requests/{tracking_number}/", name=f"{self.role_label}: request detail").text or ""


class Specialist(_StaffBrowser):
    weight = 65
    kind = "specialists"
    role_label = "staff"

    def on_start(self) -> None:
        super().on_start()
        # The requests this specialist owns and moves in and out of exception: [tracking number, state].
        self.own = [list(item) for item in self.account["own"]]

    @task(30)
    def queue(self) -> None:
        self.client.get("/requests/" + random.choice(QUEUE_FILTERS), name="staff: queue (filters)")

    @task(19)
    def detail(self) -> None:
        self.open_detail(random.choice(self.openable))

    @task(8)
    def exception_transition(self) -> None:
        if not self.own:
            self.detail()
            return
        item = random.choice(self.own)
        tracking_number, state = item
        html = self.open_detail(tracking_number)
        self.wait()  # reads the page, then acts
        if state == "exception":
            action, data = "resolve", {"resolution": "Requestor sent the missing page; back to work."}
        else:
            action = "open"
            data = {
                "reason": random.choice(EXCEPTION_REASONS),
                "detail": "Authorization is missing the signature date.",
                "next_step": "Call the requestor",
                "next_action_due": time.strftime("%Y-%m-%d", time.gmtime(time.time() + 7 * 86400)),
                "owner": "",
            }
        data |= {"expected_state": state, "csrfmiddlewaretoken": self._csrf(html)}
        with self.client.post(
            f"/requests/{tracking_number}/exception/{action}/",
            data=data,
            name=f"staff: transition ({'resolve' if action == 'resolve' else 'raise'} exception)",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code == 302:
                item[1] = "in_fulfillment" if action == "resolve" else "exception"
            else:
                response.failure(f"{action} answered {response.status_code}")


class Supervisor(_StaffBrowser):
    weight = 10
    kind = "supervisors"
    role_label = "supervisor"

    @task(4)
    def dashboard(self) -> None:
        self.client.get("/reports/", name="supervisor: dashboard")

    @task(4)
    def queue(self) -> None:
        self.client.get("/requests/" + random.choice(SUPERVISOR_FILTERS), name="supervisor: queue (filters)")

    @task(2)
    def detail(self) -> None:
        self.open_detail(random.choice(self.openable))


class Requestor(FastHttpUser):
    """A requestor checking on a request: the lookup form, the lookup, then the status page (reloaded now and
    then). Each visit is a new browser, as each visit is usually another requestor."""

    weight = 24
    wait_time = between(0.2, 0.6)

    @task
    def visit(self) -> None:
        tracking_number, verifier = random.choice(FIXTURE["portal"])
        self.client.cookiejar.clear()
        form = self.client.get("/status/", name="portal: lookup form")
        self.wait()
        match = _CSRF_INPUT.search(form.text or "")
        with self.client.post(
            "/status/",
            data={
                "tracking_number": tracking_number,
                "verifier": verifier,
                "csrfmiddlewaretoken": match.group(1) if match else "",
            },
            name="portal: lookup",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"lookup answered {response.status_code} (expected a redirect to the status page)")
                return
        for _ in range(random.choice([1, 2, 2, 3])):
            self.wait()
            self.client.get(f"/status/{tracking_number}/", name="portal: status page")


class ApiIntake(FastHttpUser):
    """An EHR or vendor interface sending new requests, each with its own Idempotency-Key."""

    fixed_count = 2  # two interfaces (an EHR and a vendor's), whatever the number of users
    wait_time = between(1.0, 2.0)

    def on_start(self) -> None:
        self.token = _account("api_tokens")
        self.mrns = itertools.count(random.randint(0, 10**6))

    @task
    def intake(self) -> None:
        number = next(self.mrns)
        body = {
            "patient": {
                "mrn": f"LOAD{number:08d}",
                "first_name": "Rosa",
                "last_name": "Diaz",
                "date_of_birth": "1980-04-02",
            },
            "requestor": {"kind": "patient", "name": "Rosa Diaz", "email": f"rosa{number}@example.com"},
            "request_type": "right_of_access",
            "record_types": ["lab", "discharge_summary"],
            "delivery_method": "portal_download",
        }
        if random.random() < 0.5:  # half of the interfaces send the signed request along
            body["documents"] = [
                {"kind": "request_letter", "filename": "request.pdf", "content_base64": FIXTURE["document_base64"]}
            ]
        with self.client.post(
            "/api/v1/requests/",
            data=json.dumps(body),
            headers={
                "Authorization": f"Token {self.token['key']}",
                "Content-Type": "application/json",
                "Idempotency-Key": str(uuid.uuid4()),
            },
            name="api: intake (create request)",
            catch_response=True,
        ) as response:
            if response.status_code != 201:
                response.failure(f"intake answered {response.status_code}: {(response.text or '')[:200]}")


# --- The floors: one path, as fast as the client goes (ops/floor_urls.py) -----------------------------------


class Floor(FastHttpUser):
    """Used alone (`locust Floor`, LOAD_FLOOR_PATH): no wait, one path."""

    wait_time = between(0, 0)

    @task
    def floor(self) -> None:
        self.client.get(os.environ.get("LOAD_FLOOR_PATH", "/ops-floor/trivial/"), name="floor")
