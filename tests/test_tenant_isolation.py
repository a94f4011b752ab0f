"""Tenant isolation, generated from the URL configuration so that a new page or endpoint is covered the day it is
added. Every named route is either probed here or allow-listed in tests/isolation_routes.py with its reason; one that
is neither fails test_every_named_route_is_probed_or_allow_listed, which says what to add.

- Routes naming a request (`tracking_number`) or another object (`pk`, `document_id`, `letter_id`) are called by
  tenant A's admin with tenant B's objects, through her session and, for the API, an API token of tenant A. They
  must answer exactly like objects that do not exist (404; 405 for a method the route does not take) and leave
  B's data untouched.
- Routes naming no object (queues, reports and their exports, audit pages, notifications, staff sessions) are read
  by tenant A's admin, also with tenant B's ids in their query strings; tenant B's tracking numbers, patients,
  requestor, staff and name must not be in the answer. Actions taking ids in the form body get tenant B's ids.

The figure for the security issue's closing note: `pytest tests/test_tenant_isolation.py -q -s -k
test_count_of_endpoints` prints "cross-tenant: X routes, Y route-method probes, Z list pages checked".

Also here: anonymous callers, users without a membership, the list pages, and switching between tenants."""

from __future__ import annotations

import html
import json
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from reporting.tables import TABLES
from roi.choices import AccessAction, Role
from roi.models import AccessEvent
from tests import factories
from tests.isolation_routes import (
    LIST_ROUTES,
    MISSING_OBJECT_ID,
    MISSING_TRACKING_NUMBER,
    NOT_PROBED,
    PROBED_METHODS,
    REQUEST_ROUTES,
    ROUTE_MAP,
    TENANT_ROUTES,
    Route,
)
from workflow.models import RecordRequest, RequestTransition
from workflow.transitions import TRANSITIONS


def test_every_named_route_is_probed_or_allow_listed():
    assert not ROUTE_MAP.problems, "\n".join(ROUTE_MAP.problems)
    stale = set(NOT_PROBED) - ROUTE_MAP.allow_listed
    assert not stale, f"NOT_PROBED names routes that no longer exist: {sorted(stale)}"


def test_the_generated_route_list_covers_pages_and_api_transitions():
    names = {r.name for r in REQUEST_ROUTES}
    assert {"workflow:detail", "workflow:assign", "fulfillment:qc", "request-detail", "request-deliver"} <= names
    assert {f"request-{t.replace('_', '-')}" for t in TRANSITIONS} <= names
    assert {"notification-read", "reporting:audit-request", "fulfillment:patient-disclosures"} <= names
    page_transitions = {r.kwargs["name"] for r in REQUEST_ROUTES if r.name == "workflow:transition"}
    assert page_transitions == set(TRANSITIONS)
    exports = {r.kwargs["table"] for r in LIST_ROUTES if r.name == "reporting:export"}
    assert exports == set(TABLES)
    listed = {r.name for r in LIST_ROUTES}
    assert {"workflow:queue", "request-list", "notifications", "staff-sessions", "reporting:audit-events"} <= listed
    assert len(REQUEST_ROUTES) >= 22


# --- Cross-tenant: Alice (tenant A) aims at tenant B's request ----------------------------------------------


@pytest.fixture
def b_request(tenant_b, charlie):
    return factories.RecordRequestFactory(tenant=tenant_b)


@pytest.fixture
def b_objects(tenant_b, b_request, settings, tmp_path):
    """Tenant B's other objects that routes name by id: a document and a letter of b_request, a failed intake."""
    from django.core.files.base import ContentFile
    from django.utils import timezone

    from intake.models import FailedIntake, IntakeDocument, Letter

    settings.MEDIA_ROOT = tmp_path
    document = IntakeDocument(
        tenant=tenant_b, request=b_request, kind="authorization", source="staff_upload", original_name="auth.pdf",
        content_type="application/pdf", size_bytes=9, sha256="0" * 64, uploaded_at=timezone.now(),
    )  # fmt: skip
    document.file.save("auth.pdf", ContentFile(b"%PDF-1.4\n"), save=True)
    letter = Letter(
        tenant=tenant_b, request=b_request, kind="acknowledgment", sha256="0" * 64, generated_at=timezone.now()
    )
    letter.file.save("ack.pdf", ContentFile(b"%PDF-1.4\n"), save=True)
    failed = FailedIntake(tenant=tenant_b, source="email", reason="unreadable", received_at=timezone.now())
    failed.raw.save("raw.eml", ContentFile(b"garbage"), save=True)
    from exceptions.models import EscalationEvent, EscalationRule
    from roi.models import Notification
    from workflow.models import WorkQueue

    queue = WorkQueue.objects.create(tenant=tenant_b, name="Legal", request_types=["legal"])
    rule = EscalationRule.objects.create(tenant=tenant_b, name="Due soon", max_days_to_legal_due=5)
    event = EscalationEvent.objects.create(
        tenant=tenant_b, rule=rule, request=b_request, level=1, fired_at=timezone.now(), summary="due soon"
    )
    notice = Notification.objects.create(
        tenant=tenant_b, recipient=charlie_user(tenant_b), kind="x", subject="x", body="x", dedupe_key="x"
    )
    return {
        "document_id": document.pk,
        "letter_id": letter.pk,
        "failed": failed,
        # `pk` names a different model on each route: tenant B's object of that model.
        "pk_by_route": {
            **_more_b_objects(tenant_b, b_request),
            "intake:failed-intake-raw": failed.pk,
            "intake:failed-intake-resolve": failed.pk,
            "workflow:queue_edit": queue.pk,
            "exceptions:rule-edit": rule.pk,
            "exceptions:rule-active": rule.pk,
            "exceptions:acknowledge": event.pk,
            "notification-read": notice.pk,
        },
    }


def _more_b_objects(tenant_b, b_request) -> dict[str, int]:
    """Routes naming other objects by pk, from the apps that own them: each module tests/*/isolation_objects*.py
    has `b_objects(tenant_b, b_request)` returning {route name: pk of tenant B's object}."""
    import importlib
    from pathlib import Path

    found: dict[str, int] = {}
    for path in sorted(Path(__file__).parent.glob("*/isolation_objects*.py")):
        module = importlib.import_module(f"tests.{path.parent.name}.{path.stem}")
        found.update(module.b_objects(tenant_b, b_request))
    return found


def charlie_user(tenant):
    from roi.models import Membership

    return Membership.objects.for_tenant(tenant).first().user


def _snapshot(rr: RecordRequest) -> dict[str, Any]:
    fresh = RecordRequest.objects.get(pk=rr.pk)
    return {
        "state": fresh.state,
        "assignee": fresh.assignee_id,
        "qc_passed_at": fresh.qc_passed_at,
        "delivery_evidence": fresh.delivery_evidence,
        "denial_basis": fresh.denial_basis,
        "updated_at": fresh.updated_at,
        "transitions": RequestTransition.objects.filter(request=rr).count(),
        "history": fresh.history.count(),
        "access_events": AccessEvent.objects.filter(request_id=rr.pk).count()
        + AccessEvent.objects.filter(object_id=str(rr.pk), object_type="workflow.RecordRequest").count(),
        "other_access_events": AccessEvent.objects.filter(tenant_id=rr.tenant_id).count(),
    }


def _failed_snapshot(objects: dict[str, Any]) -> Any:
    failed = objects["failed"]
    failed.refresh_from_db()
    return (failed.resolved_at, failed.resolution)


def _post_body(rr: RecordRequest, assignee_id: int) -> dict[str, Any]:
    """A body that every action would accept, so that only the tenant check can stop it."""
    return {
        "expected_state": rr.state,
        "reason": "probing another tenant",
        "detail": "probing",
        "next_step": "probe",
        "next_action_due": "2099-01-01",
        "resolution": "probing",
        "days": 10,
        "kind": "other",
        "note": "probing",
        "evidence": "Fax confirmation 1",
        "basis": "not_held",
        "assignee": assignee_id,
        "claim": "1",
    }


def _call(
    client: Any,
    method: str,
    route: Route,
    tracking_number: str,
    body: dict[str, Any],
    objects: dict[str, Any] | None = None,
    **headers: str,
) -> Any:
    url = route.url(tracking_number, objects)
    if method == "get":
        return client.get(url, **headers)
    if route.is_api:
        return client.post(url, data=json.dumps(body), content_type="application/json", **headers)
    return client.post(url, data=body, **headers)


def _expected_status(route: Route, method: str) -> int:
    return 404 if method in route.allowed_methods else 405


@pytest.fixture
def ada(tenant_a):
    """Tenant A's admin: every role gate lets her through, so only tenant scoping can stop her."""
    return factories.MembershipFactory(tenant=tenant_a, user__username="ada", role=Role.ADMIN).user


@pytest.mark.parametrize("route", REQUEST_ROUTES, ids=lambda r: r.id)
def test_tenant_a_admin_session_cannot_reach_tenant_b_objects(route, client_for, ada, b_request, b_objects):
    client = client_for(ada)
    before = (_snapshot(b_request), _failed_snapshot(b_objects))
    body = _post_body(b_request, ada.pk)
    for method in PROBED_METHODS:
        foreign = _call(client, method, route, b_request.tracking_number, body, b_objects)
        missing = _call(client, method, route, MISSING_TRACKING_NUMBER, body)
        assert foreign.status_code == _expected_status(route, method), (method, foreign.content[:300])
        assert missing.status_code == foreign.status_code, "another tenant's request must look like a missing one"
    assert (_snapshot(b_request), _failed_snapshot(b_objects)) == before


@pytest.mark.parametrize("route", [r for r in REQUEST_ROUTES if r.is_api], ids=lambda r: r.id)
def test_tenant_a_api_token_cannot_reach_tenant_b_request(route, tenant_a, api_token_for, b_request, b_objects):
    # A supervisor service user, so that even deny would be allowed if the lookup were not scoped.
    service_user = factories.MembershipFactory(tenant=tenant_a, user__username="ehr-a", role=Role.SUPERVISOR).user
    _, key = api_token_for(service_user, tenant_a)
    client = Client()
    before = _snapshot(b_request)
    body = _post_body(b_request, service_user.pk)
    for method in PROBED_METHODS:
        foreign = _call(
            client, method, route, b_request.tracking_number, body, b_objects, HTTP_AUTHORIZATION=f"Token {key}"
        )
        missing = _call(client, method, route, MISSING_TRACKING_NUMBER, body, HTTP_AUTHORIZATION=f"Token {key}")
        assert foreign.status_code == _expected_status(route, method), (method, foreign.content[:300])
        assert missing.status_code == foreign.status_code
    assert _snapshot(b_request) == before


# --- Pages naming no object: tenant B's rows stay off tenant A's lists, reports and exports -------------------

PDFTOTEXT = Path("/usr/bin/pdftotext")


@dataclass(frozen=True)
class TenantBWork:
    """Tenant B's ids that list pages take in their query string or form body, and the words of tenant B that
    must never be in tenant A's answers."""

    tracking_number: str
    mrn: str
    staff_id: str
    requestor_email: str
    queue_id: str
    tenant_id: str
    month: str  # the monthly report's, this month
    markers: tuple[str, ...]

    def fill(self, template: dict[str, str]) -> dict[str, str]:
        return {key: value.format(**self.__dict__) for key, value in template.items()}

    def missing(self) -> TenantBWork:
        """The same ids for objects nobody has: an answer naming tenant B's object must equal the answer naming
        these."""
        return replace(
            self,
            tracking_number=MISSING_TRACKING_NUMBER,
            mrn="MRN-NOBODY",
            staff_id=MISSING_OBJECT_ID,
            requestor_email="nobody@missing.example",
            queue_id=MISSING_OBJECT_ID,
            tenant_id=MISSING_OBJECT_ID,
        )


# Query strings read on top of the plain page (GET), with tenant B's ids: the audit pages' filters and exports,
# the intake look-ups, the month of the PDF report.
LIST_QUERIES: dict[str, list[dict[str, str]]] = {
    "reporting:monthly": [{"month": "{month}"}],
    "reporting:audit-events": [
        {"export": "csv"},
        {"tracking_number": "{tracking_number}"},
        {"mrn": "{mrn}"},
        {"user": "{staff_id}"},
    ],
    "reporting:audit-patient": [{"mrn": "{mrn}"}, {"mrn": "{mrn}", "export": "csv"}],
    "reporting:audit-user": [{"user": "{staff_id}"}, {"user": "{staff_id}", "export": "transitions"}],
    "intake:patient-lookup": [{"patient_q": "{mrn}"}],
    "intake:requestor-lookup": [{"requestor_q": "{requestor_email}"}],
}
# Actions that take tenant-owned ids in the form body rather than in the URL (POST).
BODY_PROBES: dict[str, dict[str, str]] = {
    "staff-sessions": {"user": "{staff_id}"},  # end a member's sessions
    "licensed-reviewers": {"user": "{staff_id}", "action": "designate", "credential": "MD"},  # designate a member
    "workflow:bulk_assign": {"requests": "{tracking_number}", "assignee": ""},
    "workflow:claim_next": {"queue": "{queue_id}"},
    "switch-tenant": {"tenant": "{tenant_id}"},
}


@pytest.fixture
def b_work(tenant_b, b_request, b_objects, ada, client_for) -> TenantBWork:
    """Tenant B's work where tenant A's lists, reports and exports would show it if they were not scoped: a
    supervisor with an open session and a request in exception assigned to her, the access event of her look at
    it, and a notice to ada (from an earlier membership in B)."""
    from datetime import timedelta

    from django.utils import timezone

    from exceptions.services import exception_open
    from roi.audit import access_record
    from roi.models import Notification

    staffer = factories.MembershipFactory(
        tenant=tenant_b,
        user__username="beta-night-clerk",
        user__first_name="Oriel",
        user__last_name="Nightclerk-Beta",
        role=Role.SUPERVISOR,
    )
    client_for(staffer.user)  # signing in opens a staff session (roi/sessions.py)
    stuck = factories.RecordRequestFactory(
        tenant=tenant_b, assignee=staffer.user, requestor__name="Bartholomew Nightjar-Beta"
    )
    exception_open(
        tenant=tenant_b,
        actor=staffer.user,
        record_request=stuck,
        reason="awaiting_department",
        detail="waiting on radiology",
        next_step="call radiology",
        next_action_due=timezone.localdate() + timedelta(days=3),
    )
    access_record(
        tenant=tenant_b, actor=staffer.user, action=AccessAction.VIEW_REQUEST, obj=stuck, request_id=stuck.pk,
        patient_id=stuck.patient_id, detail=f"viewed {stuck.tracking_number}",
    )  # fmt: skip
    Notification.objects.create(
        tenant=tenant_b, recipient=ada, kind="escalation", subject=f"Overdue: {stuck.tracking_number}",
        body=stuck.patient.last_name, dedupe_key="beta-to-ada",
    )  # fmt: skip
    return TenantBWork(
        tracking_number=stuck.tracking_number,
        mrn=stuck.patient.mrn,
        staff_id=str(staffer.user_id),
        requestor_email=stuck.requestor.email,
        queue_id=str(b_objects["pk_by_route"]["workflow:queue_edit"]),
        tenant_id=str(tenant_b.pk),
        month=timezone.localdate().strftime("%Y-%m"),
        markers=(
            stuck.tracking_number,
            b_request.tracking_number,
            stuck.patient.last_name,
            b_request.patient.last_name,
            stuck.requestor.name,
            staffer.user.username,
            staffer.user.last_name,  # pages name staff by their full name
            tenant_b.name,
        ),
    )


def _b_state(b_request: RecordRequest, b_objects: dict[str, Any], b_work: TenantBWork) -> Any:
    from roi.models import Membership, StaffSession

    open_sessions = StaffSession.objects.filter(user_id=b_work.staff_id, ended_at__isnull=True).count()
    designated = list(Membership.objects.filter(is_licensed_professional=True).values_list("pk", flat=True))
    return (_snapshot(b_request), _failed_snapshot(b_objects), open_sessions, designated)


def _text(response: Any) -> str:
    """What a reader of the answer sees: HTML and JSON unescaped, CSV as sent, a PDF's text (pdftotext)."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if response.get("Content-Type", "").startswith("application/pdf"):
        if not PDFTOTEXT.exists():
            return ""  # no way to read it here; CI has poppler-utils
        text = subprocess.run([PDFTOTEXT, "-", "-"], input=content, capture_output=True, check=True).stdout
        return "".join(text.decode().split())  # a table cell may break a name over lines
    return html.unescape(content.decode("utf-8", errors="replace"))


def _assert_shows_nothing_of(b_work: TenantBWork, response: Any, sent: dict[str, str]) -> None:
    assert response.status_code < 500, response.status_code
    text = _text(response)
    if response.get("Content-Type", "").startswith("application/pdf"):
        markers = ["".join(m.split()) for m in b_work.markers]
    else:
        markers = list(b_work.markers)
    shown = [m for m in markers if m in text and m not in sent.values()]  # a value we sent may be echoed
    assert not shown, f"tenant B's {shown} on tenant A's page"


@pytest.mark.parametrize("route", LIST_ROUTES, ids=lambda r: r.id)
def test_tenant_a_lists_reports_and_exports_show_nothing_of_tenant_b(
    route, client_for, ada, tenant_a, api_token_for, b_request, b_objects, b_work
):
    factories.RecordRequestFactory(tenant=tenant_a, assignee=ada)  # tenant A's lists have rows of their own
    clients = [({}, client_for(ada))]
    if route.is_api:
        _, key = api_token_for(ada, tenant_a)
        clients.append(({"HTTP_AUTHORIZATION": f"Token {key}"}, Client()))
    before = _b_state(b_request, b_objects, b_work)
    for headers, client in clients:
        for query in [{}, *LIST_QUERIES.get(route.name, [])]:
            foreign, missing = b_work.fill(query), b_work.missing().fill(query)
            response = client.get(route.url(), foreign, **headers)
            _assert_shows_nothing_of(b_work, response, sent=foreign)
            if foreign != missing:
                assert client.get(route.url(), missing, **headers).status_code == response.status_code, foreign
    assert _b_state(b_request, b_objects, b_work) == before


@pytest.mark.parametrize("name", sorted(BODY_PROBES))
def test_tenant_a_actions_taking_ids_in_the_body_cannot_reach_tenant_b(
    name, client_for, ada, b_request, b_objects, b_work
):
    client = client_for(ada)
    before = _b_state(b_request, b_objects, b_work)
    foreign = client.post(reverse(name), b_work.fill(BODY_PROBES[name]))
    missing = client.post(reverse(name), b_work.missing().fill(BODY_PROBES[name]))
    assert foreign.status_code in (400, 404), foreign.status_code
    assert foreign.status_code == missing.status_code, "another tenant's object must look like a missing one"
    _assert_shows_nothing_of(b_work, foreign, sent=b_work.fill(BODY_PROBES[name]))
    assert _b_state(b_request, b_objects, b_work) == before


def test_the_list_pages_do_show_tenant_a_own_rows(client_for, ada, tenant_a):
    """The control for the tests above: the lists render rows, so a missing marker means a scoped list."""
    own = factories.RecordRequestFactory(tenant=tenant_a, assignee=ada)
    client = client_for(ada)
    assert own.tracking_number in client.get(reverse("workflow:queue")).content.decode()
    response = client.get(reverse("intake:patient-lookup"), {"patient_q": own.patient.mrn})
    assert html.escape(own.patient.last_name) in response.content.decode()


def test_tenant_admin_gets_no_platform_admin_page(client_for, ada):
    response = client_for(ada).get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


# --- How much the generated tests cover (the figure of the security issue's closing note) -------------------


def test_count_of_endpoints_covered_cross_tenant():
    probes = {(r.name, m) for r in REQUEST_ROUTES for m in PROBED_METHODS}
    probes |= {(r.name, "get") for r in LIST_ROUTES} | {(name, "post") for name in BODY_PROBES}
    routes = {name for name, _ in probes}
    pages = {r.id for r in LIST_ROUTES}
    print(f"\ncross-tenant: {len(routes)} routes, {len(probes)} route-method probes, {len(pages)} list pages checked")
    assert set(BODY_PROBES) <= {r.name for r in LIST_ROUTES}
    # The figures when the generated tests were widened to every route: they only grow.
    assert len(routes) >= 98
    assert len(probes) >= 170
    assert len(pages) >= 41


def test_the_same_routes_do_reach_alice_own_request(client_for, alice, tenant_a):
    """The control for the tests above: the 404s come from the tenant, not from a broken route."""
    own = factories.RecordRequestFactory(tenant=tenant_a)
    client = client_for(alice)
    assert client.get(reverse("workflow:detail", args=[own.tracking_number])).status_code == 200
    assert client.get(reverse("request-detail", args=[own.tracking_number])).status_code == 200
    response = client.post(
        reverse("request-assign", args=[own.tracking_number]),
        data={"assignee": alice.pk},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["assignee"] == alice.username


# --- Anonymous callers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", [r for r in TENANT_ROUTES if not r.is_api], ids=lambda r: r.id)
def test_anonymous_staff_page_redirects_to_login(route, client, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    before = _snapshot(rr)
    for method in PROBED_METHODS:
        response = getattr(client, method)(route.url(rr.tracking_number))
        assert response.status_code == 302, method
        assert response["Location"].startswith("/login/?next="), method
    assert _snapshot(rr) == before


@pytest.mark.parametrize("route", [r for r in TENANT_ROUTES if r.is_api], ids=lambda r: r.id)
def test_anonymous_api_call_is_refused(route, client, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    before = _snapshot(rr)
    for method in PROBED_METHODS:
        response = _call(client, method, route, rr.tracking_number, _post_body(rr, 0))
        assert response.status_code in (401, 403), method
        assert rr.tracking_number not in response.content.decode()
    assert _snapshot(rr) == before


@pytest.mark.parametrize("url", ["/", "/tenant/switch/"])
def test_anonymous_home_and_tenant_switch_redirect_to_login(url, client):
    response = client.get(url) if url == "/" else client.post(url, {"tenant": "1"})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# --- List pages show the session tenant only --------------------------------------------------------------


@pytest.fixture
def requests_in_both_tenants(tenant_a, tenant_b):
    a = [factories.RecordRequestFactory(tenant=tenant_a) for _ in range(2)]
    b = [factories.RecordRequestFactory(tenant=tenant_b) for _ in range(2)]
    return a, b


def _api_tracking_numbers(client: Any) -> set[str]:
    response = client.get("/api/v1/requests/")
    assert response.status_code == 200
    return {row["tracking_number"] for row in response.json()["results"]}


def test_queue_page_lists_only_the_session_tenant_requests(client_for, alice, charlie, requests_in_both_tenants):
    a, b = requests_in_both_tenants
    # Everything (?assignee=): a specialist's bare first visit shows only their own work.
    alice_page = client_for(alice).get("/requests/?assignee=").content.decode()
    charlie_page = client_for(charlie).get("/requests/?assignee=").content.decode()
    assert all(rr.tracking_number in alice_page for rr in a)
    assert not any(rr.tracking_number in alice_page for rr in b)
    assert all(rr.tracking_number in charlie_page for rr in b)
    assert not any(rr.tracking_number in charlie_page for rr in a)


def test_api_list_shows_only_the_session_tenant_requests(client_for, alice, charlie, requests_in_both_tenants):
    a, b = requests_in_both_tenants
    assert _api_tracking_numbers(client_for(alice)) == {rr.tracking_number for rr in a}
    assert _api_tracking_numbers(client_for(charlie)) == {rr.tracking_number for rr in b}


# --- Users without access, and users with two tenants -----------------------------------------------------


def test_logged_in_user_without_membership_gets_no_organisation_access_page(client_for, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    outsider = factories.UserFactory(username="outsider")
    client = client_for(outsider)
    for url in ("/requests/", reverse("workflow:detail", args=[rr.tracking_number])):
        response = client.get(url)
        assert response.status_code == 403
        assert "No organisation access" in response.content.decode()
        assert rr.tracking_number not in response.content.decode()
    assert client.get("/api/v1/requests/").status_code == 403
    assert not AccessEvent.objects.exists()


def test_inactive_membership_counts_as_no_membership(client_for, tenant_a):
    membership = factories.MembershipFactory(tenant=tenant_a, user__username="former", is_active=False)
    response = client_for(membership.user).get("/requests/")
    assert response.status_code == 403
    assert "No organisation access" in response.content.decode()


@pytest.fixture
def dana(tenant_a, tenant_b):
    """A specialist who works for both tenants."""
    user = factories.MembershipFactory(tenant=tenant_a, user__username="dana", role=Role.SPECIALIST).user
    factories.MembershipFactory(tenant=tenant_b, user=user, role=Role.SPECIALIST)
    return user


def test_user_in_two_tenants_switches_and_sees_the_other_queue(client_for, dana, tenant_b, requests_in_both_tenants):
    a, b = requests_in_both_tenants
    client = client_for(dana)
    first = client.get("/requests/?assignee=").content.decode()  # everything, not only Dana's own
    assert all(rr.tracking_number in first for rr in a)  # Alpha sorts first: the default tenant
    assert not any(rr.tracking_number in first for rr in b)

    response = client.post("/tenant/switch/", {"tenant": tenant_b.pk, "next": f"/requests/{a[0].tracking_number}/"})
    assert response.status_code == 302
    assert response["Location"] == reverse("workflow:queue")

    second = client.get("/requests/?assignee=").content.decode()
    assert all(rr.tracking_number in second for rr in b)
    assert not any(rr.tracking_number in second for rr in a)
    assert _api_tracking_numbers(client) == {rr.tracking_number for rr in b}
    assert client.get(reverse("workflow:detail", args=[a[0].tracking_number])).status_code == 404


def test_user_cannot_switch_to_a_tenant_they_are_not_a_member_of(client_for, dana, requests_in_both_tenants):
    a, _ = requests_in_both_tenants
    stranger = factories.TenantFactory(slug="gamma", name="Gamma Clinic")
    factories.RecordRequestFactory(tenant=stranger)
    client = client_for(dana)

    response = client.post("/tenant/switch/", {"tenant": stranger.pk})
    assert response.status_code == 400
    assert client.post("/tenant/switch/", {"tenant": "not-a-number"}).status_code == 400

    page = client.get("/requests/?assignee=").content.decode()
    assert all(rr.tracking_number in page for rr in a)
    assert _api_tracking_numbers(client) == {rr.tracking_number for rr in a}
