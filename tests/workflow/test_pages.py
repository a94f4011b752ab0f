"""Staff pages: the queue (filters, htmx partial, fixed query count) and a request's detail page with its actions
(transition forms, claim and assign, QC), including what each role sees and the messages for each failure."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from exceptions.services import exception_open, exception_resolve
from roi.choices import AccessAction
from roi.models import AccessEvent
from tests import factories
from workflow import transitions
from workflow.choices import RequestState
from workflow.models import RecordRequest, RequestTransition

S = RequestState
QUEUE_URL = "/requests/"

# Pinned query counts. If a change moves them, look for an N+1 before updating the number.
# Queue: session, user, memberships (tenant middleware), staff list, work queues (filter and tabs), the user's saved
# views, the capped total, page rows (keyset), access event insert.
QUEUE_QUERIES = 10
# Detail, first paint: session, user, memberships (tenant middleware), the request with its parties, the access
# event insert, the staff list (a supervisor's assign form only), the unread notifications (the top bar). The panels
# load when opened (RequestPanelView), each in a fixed number of its own; the release's next step in fulfillment
# reads the current packet (one more, instead of the staff list for a specialist).
DETAIL_QUERIES = 7
FIRST_PAINT_MAX = 10


def _detail_url(rr: RecordRequest) -> str:
    return reverse("workflow:detail", args=[rr.tracking_number])


def _transition_url(rr: RecordRequest, name: str) -> str:
    return reverse("workflow:transition", args=[rr.tracking_number, name])


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- Queue --------------------------------------------------------------------------------------------------------


@pytest.fixture
def queue_rows(tenant_a, tenant_b, alice, sam, request_in_state):
    """Tenant A: one received and unassigned, one validated and Alice's, one in exception and Sam's.
    Tenant B: one received (must never show)."""
    received = request_in_state(S.RECEIVED)
    validated = request_in_state(S.VALIDATED, assignee=alice)
    exception = request_in_state(S.EXCEPTION, assignee=sam)
    foreign = factories.RecordRequestFactory(tenant=tenant_b)
    return {"received": received, "validated": validated, "exception": exception, "foreign": foreign}


def _listed(response: Any, rows: dict[str, RecordRequest]) -> set[str]:
    page = response.content.decode()
    return {key for key, rr in rows.items() if rr.tracking_number in page}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"assignee": ""}, {"received", "validated", "exception"}),  # Everything (a specialist lands on their own)
        ({"state": S.VALIDATED}, {"validated"}),
        ({"state": S.EXCEPTION}, {"exception"}),
        ({"state": S.CLOSED}, set()),
        ({"assignee": "me"}, {"validated"}),
        ({"assignee": "none"}, {"received"}),
        ({"state": S.RECEIVED, "assignee": "me"}, set()),
    ],
    ids=["all", "validated", "exception", "closed", "mine", "unassigned", "received-and-mine"],
)
def test_queue_lists_the_tenant_requests_with_state_and_assignee_filters(
    query, expected, client_for, alice, queue_rows
):
    response = client_for(alice).get(QUEUE_URL, query)
    assert response.status_code == 200
    assert _listed(response, queue_rows) == expected


def test_queue_filter_by_a_named_staff_member(client_for, alice, sam, queue_rows):
    response = client_for(alice).get(QUEUE_URL, {"assignee": str(sam.pk)})
    assert _listed(response, queue_rows) == {"exception"}


def test_queue_view_is_recorded_as_an_access_event(client_for, alice, tenant_a, queue_rows):
    client_for(alice).get(QUEUE_URL, {"assignee": ""})
    event = AccessEvent.objects.get(action=AccessAction.LIST_REQUESTS)
    assert (event.tenant, event.actor) == (tenant_a, alice)
    assert "3 rows" in event.detail


def test_htmx_request_gets_only_the_table_partial(client_for, alice, queue_rows):
    response = client_for(alice).get(QUEUE_URL, {"state": S.VALIDATED}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    rendered = {t.name for t in response.templates}
    assert "workflow/_queue_table.html" in rendered
    assert not rendered & {"base.html", "workflow/queue.html"}
    page = response.content.decode()
    assert "<html" not in page
    assert "<table" in page
    assert _listed(response, queue_rows) == {"validated"}


def _make_queue(tenant: Any, staff: list[Any], count: int) -> None:
    for i in range(count):
        factories.RecordRequestFactory(tenant=tenant, assignee=staff[i % len(staff)] if i % 3 else None)


def _queue_queries(client: Any) -> int:
    client.get(QUEUE_URL)  # the session's first page stores the chosen tenant in the session: not counted
    with CaptureQueriesContext(connection) as queries:
        response = client.get(QUEUE_URL)
    assert response.status_code == 200
    return len(queries)


def test_queue_page_query_count_does_not_grow_with_the_queue(client_for, alice, sam, tenant_a):
    client = client_for(alice)
    _make_queue(tenant_a, [alice, sam], 5)
    small = _queue_queries(client)
    _make_queue(tenant_a, [alice, sam], 35)
    large = _queue_queries(client)
    assert RecordRequest.objects.for_tenant(tenant_a).count() == 40
    assert small == large == QUEUE_QUERIES


# --- Detail -------------------------------------------------------------------------------------------------------


def test_detail_shows_patient_timeline_and_writes_an_access_event(client_for, alice, sam, tenant_a, request_in_state):
    rr = request_in_state(S.EXCEPTION)  # raised by Sam with the reason "set up by test"
    response = client_for(alice).get(_detail_url(rr) + "?panels=all")
    assert response.status_code == 200
    page = response.content.decode()
    assert escape(rr.patient.full_name) in page
    assert rr.patient.mrn in page
    timeline = page[page.index('id="panel-timeline-h"') :]
    assert "Received → Exception" in timeline
    assert "set up by test" in timeline
    assert escape(str(sam)) in timeline
    event = AccessEvent.objects.get(action=AccessAction.VIEW_REQUEST)
    assert (event.tenant, event.actor, event.request_id, event.patient_id) == (tenant_a, alice, rr.pk, rr.patient_id)


def _deny_url(rr: RecordRequest) -> str:
    """Deny is performed by the fulfillment panel's denial form (it writes the denial letter)."""
    return reverse("fulfillment:deny", args=[rr.tracking_number])


DENY_BODY = {
    "partial": "0",
    "basis": "not_held",
    "scope_denied": "All records",
    "explanation": "Held elsewhere",
    "records_location": "Springfield Clinic",
}


def test_specialist_sees_no_deny_button_and_supervisor_does(client_for, alice, sam, tenant_a, media):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    deny_form = f'action="{_deny_url(rr)}"'
    validate_form = f'action="{_transition_url(rr, "cancel")}"'  # an action both roles have

    as_alice = client_for(alice).get(_detail_url(rr) + "?panels=all").content.decode()
    assert validate_form in as_alice
    assert deny_form not in as_alice
    assert ">Deny</button>" not in as_alice

    as_sam = client_for(sam).get(_detail_url(rr) + "?panels=all").content.decode()
    assert validate_form in as_sam
    assert deny_form in as_sam
    assert ">Deny</button>" in as_sam


def test_detail_offers_only_transitions_from_the_current_state(client_for, alice, request_in_state):
    rr = request_in_state(S.DELIVERED)
    page = client_for(alice).get(_detail_url(rr)).content.decode()
    offered = {name for name in transitions.TRANSITIONS if f'action="{_transition_url(rr, name)}"' in page}
    assert offered == {"close"}


def _detail_queries(client: Any, rr: RecordRequest) -> int:
    client.get(_detail_url(rr))  # the session's first page stores the chosen tenant in the session: not counted
    with CaptureQueriesContext(connection) as queries:
        response = client.get(_detail_url(rr))
    assert response.status_code == 200
    return len(queries)


def test_detail_page_query_count_is_fixed(client_for, sam, tenant_a):
    """Same count for a request with no history as for one with a long timeline and many history rows."""
    quiet = factories.RecordRequestFactory(tenant=tenant_a, assignee=sam)
    busy = factories.RecordRequestFactory(tenant=tenant_a, assignee=sam)
    for _ in range(4):
        exception_open(
            tenant=tenant_a, actor=sam, record_request=busy, reason="awaiting_department", detail="Waiting",
            next_step="Call imaging", next_action_due=date.today() + timedelta(days=3),
        )  # fmt: skip
        exception_resolve(tenant=tenant_a, actor=sam, record_request=busy, resolution="OK")
    assert RequestTransition.objects.filter(request=busy).count() == 8
    client = client_for(sam)
    assert _detail_queries(client, quiet) == _detail_queries(client, busy) == DETAIL_QUERIES


@pytest.mark.parametrize("state", [S.RECEIVED, S.VALIDATED, S.IN_FULFILLMENT, S.EXCEPTION, S.DELIVERED, S.CLOSED])
def test_the_first_paint_stays_within_ten_statements_in_every_state(state, client_for, alice, request_in_state):
    rr = request_in_state(state)
    assert _detail_queries(client_for(alice), rr) <= FIRST_PAINT_MAX


def _panel_url(rr: RecordRequest, name: str) -> str:
    return reverse("workflow:panel", args=[rr.tracking_number, name])


def test_each_panel_loads_on_its_own_and_is_audited(client_for, alice, tenant_a, request_in_state):
    rr = request_in_state(S.IN_FULFILLMENT)
    client = client_for(alice)
    page = client.get(_detail_url(rr)).content.decode()
    names = ["intake", "exceptions", "retrieval", "release", "fees", "disclosures", "denials", "timeline", "history"]
    for name in names:
        assert f'hx-get="{_panel_url(rr, name)}"' in page
    before = AccessEvent.objects.count()
    for name in names:
        response = client.get(_panel_url(rr, name), HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert "<html" not in response.content.decode()  # the panel alone, swapped into its <details>
    events = AccessEvent.objects.order_by("id")[before:]
    assert [(e.action, e.request_id, e.patient_id, e.detail) for e in events] == [
        (AccessAction.VIEW_REQUEST, rr.pk, rr.patient_id, f"panel {name}") for name in names
    ]


def test_a_panel_without_script_is_a_page_of_its_own(client_for, alice, request_in_state):
    rr = request_in_state(S.EXCEPTION)
    page = client_for(alice).get(_panel_url(rr, "timeline")).content.decode()
    assert "<html" in page
    assert "Received → Exception" in page


def test_an_unknown_panel_or_one_that_does_not_show_answers_404(client_for, alice, request_in_state):
    received = request_in_state(S.RECEIVED)
    client = client_for(alice)
    assert client.get(_panel_url(received, "no-such-panel")).status_code == 404
    assert client.get(_panel_url(received, "release")).status_code == 404  # nothing to release before validation


@pytest.mark.parametrize(
    ("state", "label"),
    [
        (S.RECEIVED, "Work the intake checklist"),
        (S.VALIDATED, "Upload the retrieved records"),
        (S.IN_FULFILLMENT, "Check the records and build the packet"),
        (S.EXCEPTION, "Resolve the exception"),
        (S.DELIVERED, "Close"),
    ],
)
def test_the_page_offers_one_primary_next_step_for_the_state(state, label, client_for, alice, request_in_state):
    rr = request_in_state(state)
    page = client_for(alice).get(_detail_url(rr)).content.decode()
    summary = page[page.index('class="case-summary') : page.index('class="workspace-grid"')]
    assert summary.count(" primary") + summary.count('"primary') == 1  # not the forms' "transition-primary"
    at = summary.find(" primary") if " primary" in summary else summary.index('"primary')
    primary = summary[at:]
    assert label in primary[: primary.index("</")]


def test_cancel_is_behind_more_actions_with_a_confirmation(client_for, alice, request_in_state):
    rr = request_in_state(S.VALIDATED)
    page = client_for(alice).get(_detail_url(rr)).content.decode()
    more = page[page.index('<details class="more-actions"') :]
    more = more[: more.index("</details>")]
    assert f'action="{_transition_url(rr, "cancel")}"' in more
    assert "data-confirm=" in more


# --- Transitions from the page ------------------------------------------------------------------------------------


def test_posting_a_transition_moves_the_state_and_redirects_with_a_message(client_for, alice, request_in_state):
    rr = request_in_state(S.VALIDATED)
    client = client_for(alice)
    response = client.post(_transition_url(rr, "start_fulfillment"), {"expected_state": S.VALIDATED})
    assert response.status_code == 302
    assert response["Location"] == _detail_url(rr)
    rr.refresh_from_db()
    assert rr.state == S.IN_FULFILLMENT
    followed = client.get(response["Location"])
    assert f"Request {rr.tracking_number} moved to fulfillment." in followed.content.decode()


@pytest.mark.parametrize("name", ["validate", "raise_exception", "resolve"])
def test_transitions_owned_by_intake_and_exceptions_are_not_offered_by_the_generic_form(
    name, client_for, alice, tenant_a
):
    """Validate runs the intake checklist; raise/resolve open and close an episode: their own panels do them."""
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    client = client_for(alice)
    assert f'action="{_transition_url(rr, name)}"' not in client.get(_detail_url(rr)).content.decode()
    assert client.post(_transition_url(rr, name), {"expected_state": S.RECEIVED, "reason": "x"}).status_code == 404


def test_posting_with_a_stale_expected_state_answers_409_and_leaves_the_state(client_for, alice, request_in_state):
    rr = request_in_state(S.VALIDATED)
    response = client_for(alice).post(
        _transition_url(rr, "cancel"), {"expected_state": S.RECEIVED, "reason": "Duplicate"}
    )
    assert response.status_code == 409
    assert "changed since you opened it" in response.content.decode()
    rr.refresh_from_db()
    assert rr.state == S.VALIDATED


def test_an_incomplete_request_shows_what_is_missing_in_the_intake_panel(client_for, alice, tenant_a):
    # A patient's directive to a third party: one basis check, then scope and delivery (the panel shows four).
    rr = factories.RecordRequestFactory(tenant=tenant_a, incomplete=True, request_type="right_of_access")
    page = client_for(alice).get(_panel_url(rr, "intake"), HTTP_HX_REQUEST="true").content.decode()
    assert "Scope has neither record types nor dates of service." in page
    assert "Delivery: choose how the records will be delivered." in page
    assert f'href="/requests/{rr.tracking_number}/intake/"' in page


def test_transition_form_missing_its_reason_answers_400(client_for, alice, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    response = client_for(alice).post(_transition_url(rr, "cancel"), {"expected_state": S.RECEIVED})
    assert response.status_code == 400
    assert "Check the highlighted fields." in _messages(response)
    assert RecordRequest.objects.get(pk=rr.pk).state == S.RECEIVED


def test_specialist_posting_deny_gets_403_with_a_message(client_for, alice, tenant_a, media):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    response = client_for(alice).post(_deny_url(rr), {"expected_state": S.RECEIVED, **DENY_BODY})
    assert response.status_code == 403
    assert "needs a supervisor or admin" in response.content.decode()
    rr.refresh_from_db()
    assert rr.state == S.RECEIVED


def test_supervisor_denies_from_the_page(client_for, sam, tenant_a, media):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    response = client_for(sam).post(_deny_url(rr), {"expected_state": S.RECEIVED, **DENY_BODY})
    assert response.status_code == 302
    rr.refresh_from_db()
    assert (rr.state, rr.denial_basis) == (S.DENIED, "not_held")


def test_unknown_transition_name_answers_404(client_for, alice, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    response = client_for(alice).post(_transition_url(rr, "teleport"), {"expected_state": S.RECEIVED})
    assert response.status_code == 404


# --- Claim, assign, QC --------------------------------------------------------------------------------------------


def test_claim_assigns_the_request_to_yourself(client_for, alice, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    client = client_for(alice)
    assert 'name="claim"' in client.get(_detail_url(rr)).content.decode()
    response = client.post(reverse("workflow:assign", args=[rr.tracking_number]), {"claim": "1"})
    assert response.status_code == 302
    rr.refresh_from_db()
    assert rr.assignee == alice
    assert _messages(response) == [f"Assigned to {alice}."]


def test_supervisor_assigns_to_another_staff_member(client_for, alice, sam, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    response = client_for(sam).post(reverse("workflow:assign", args=[rr.tracking_number]), {"assignee": alice.pk})
    assert response.status_code == 302
    rr.refresh_from_db()
    assert rr.assignee == alice


def test_specialist_cannot_assign_to_someone_else_from_the_page(client_for, alice, sam, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    response = client_for(alice).post(reverse("workflow:assign", args=[rr.tracking_number]), {"assignee": sam.pk})
    assert response.status_code == 403
    assert "Only a supervisor or admin" in response.content.decode()
    rr.refresh_from_db()
    assert rr.assignee is None


def test_supervisor_cannot_assign_to_a_user_of_another_tenant(client_for, sam, charlie, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    response = client_for(sam).post(reverse("workflow:assign", args=[rr.tracking_number]), {"assignee": charlie.pk})
    assert response.status_code == 400
    assert "Choose a staff member from the list." in _messages(response)
    rr.refresh_from_db()
    assert rr.assignee is None


def test_received_at_in_the_past_shows_the_age(client_for, alice, tenant_a):
    # Age counts the organisation's calendar days: received at noon ten days back, whatever the hour of the run (ten
    # days and an hour of elapsed time are eleven calendar days in the first hour after local midnight).
    day = timezone.localdate(timezone=tenant_a.tzinfo) - timedelta(days=10)
    received = datetime.combine(day, time(12), tzinfo=tenant_a.tzinfo)
    rr = factories.RecordRequestFactory(tenant=tenant_a, received_at=received)
    assert "10 days old" in client_for(alice).get(_detail_url(rr)).content.decode()
