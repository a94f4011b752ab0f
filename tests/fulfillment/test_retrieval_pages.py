"""The retrieval section of the fulfillment panel and its actions: without JavaScript (redirects, the detail page
with errors and what was typed) and with htmx (the section alone); tenants, roles and access events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import dateformat, timezone

from fulfillment.choices import RetrievalSource, RetrievalStatus
from fulfillment.models import RetrievalTask
from fulfillment.policy import policy_for
from roi.choices import AccessAction
from roi.models import AccessEvent
from tests import factories
from tests.fulfillment.factories import RetrievalTaskFactory
from workflow.choices import RequestState
from workflow.models import RequestTransition

HTMX = {"HTTP_HX_REQUEST": "true"}


def _url(name: str, rr, task=None) -> str:
    args = [rr.tracking_number] + ([task.pk] if task is not None else [])
    return reverse(f"fulfillment:retrieval-{name}", args=args)


def _detail(rr) -> str:
    return reverse("workflow:detail", args=[rr.tracking_number])


def _panel(rr) -> str:
    """The retrieval panel of the request page, as it loads when opened."""
    return reverse("workflow:panel", args=[rr.tracking_number, "retrieval"])


@pytest.fixture
def in_fulfillment(request_in_state):
    return request_in_state(RequestState.IN_FULFILLMENT)


@pytest.fixture
def task(in_fulfillment, sam):
    return RetrievalTaskFactory(
        request=in_fulfillment, source=RetrievalSource.IMAGING, owner=sam, requested_by=sam, notes="Films"
    )


# --- The section on the detail page -------------------------------------------------------------------------------


def test_the_panel_lists_tasks_with_owner_age_overdue_and_received_date(client_for, alice, sam, in_fulfillment):
    policy_for(in_fulfillment.tenant)  # default: overdue after 5 days
    now = timezone.now()
    RetrievalTaskFactory(
        request=in_fulfillment, source=RetrievalSource.IMAGING, owner=sam, requested_at=now - timedelta(days=9)
    )
    received = RetrievalTaskFactory(
        request=in_fulfillment,
        source=RetrievalSource.BILLING,
        status=RetrievalStatus.RECEIVED,
        received_at=now,
        closed_at=now,
    )
    page = client_for(alice).get(_panel(in_fulfillment))
    html = page.content.decode()
    assert page.status_code == 200
    imaging_row = html[html.index("<td>Imaging</td>") :].split("</tr>")[0]
    assert "Requested 9 days ago" in imaging_row
    assert str(sam) in html
    assert '<span class="badge badge-red">overdue</span>' in imaging_row
    billing_row = html[html.index("<td>Billing</td>") :].split("</tr>")[0]
    received_on = dateformat.format(timezone.localtime(received.received_at, in_fulfillment.tenant.tzinfo), "M j, Y")
    assert f"<td>{received_on}</td>" in billing_row
    assert "overdue" not in billing_row
    assert _url("received", in_fulfillment, RetrievalTask.objects.get(source=RetrievalSource.IMAGING)) in html
    assert _url("received", in_fulfillment, received) not in html  # closed: no more actions
    assert _url("create", in_fulfillment) in html


def test_a_validated_request_says_asking_starts_fulfillment_and_a_received_one_offers_no_form(
    client_for, alice, request_in_state
):
    validated = request_in_state(RequestState.VALIDATED)
    assert "starts fulfillment" in client_for(alice).get(_panel(validated)).content.decode()
    received = request_in_state(RequestState.RECEIVED)
    html = client_for(alice).get(_detail(received) + "?panels=all").content.decode()
    assert _url("create", received) not in html
    assert 'id="panel-retrieval"' not in html  # records are asked for once the request is validated
    assert client_for(alice).get(_panel(received)).status_code == 404


def test_the_retrieval_panel_query_count_does_not_grow_with_the_tasks(client_for, alice, in_fulfillment):
    policy_for(in_fulfillment.tenant)
    client = client_for(alice)
    RetrievalTaskFactory(request=in_fulfillment, owner=alice)
    client.get(_panel(in_fulfillment))  # warm the session and caches
    with CaptureQueriesContext(connection) as one:
        assert client.get(_panel(in_fulfillment)).status_code == 200
    RetrievalTaskFactory.create_batch(6, request=in_fulfillment, owner=alice)
    RetrievalTaskFactory(request=in_fulfillment, status=RetrievalStatus.CANCELLED, outcome_note="x", closed_at=None)
    with CaptureQueriesContext(connection) as eight:
        assert client.get(_panel(in_fulfillment)).status_code == 200
    assert len(eight) == len(one)


# --- Adding a task ------------------------------------------------------------------------------------------------


def test_adding_the_first_task_to_a_validated_request_starts_fulfillment(client_for, alice, sam, request_in_state):
    rr = request_in_state(RequestState.VALIDATED)
    client = client_for(alice)
    response = client.post(
        _url("create", rr),
        {"source": RetrievalSource.OFFSITE_STORAGE, "source_detail": "Box 114", "owner": str(sam.pk), "notes": ""},
    )
    assert response.status_code == 302
    assert response["Location"] == _detail(rr)
    task = RetrievalTask.objects.get(request=rr)
    assert (task.source, task.source_detail, task.owner, task.requested_by) == (
        RetrievalSource.OFFSITE_STORAGE,
        "Box 114",
        sam,
        alice,
    )
    rr.refresh_from_db()
    assert rr.state == RequestState.IN_FULFILLMENT
    assert RequestTransition.objects.filter(request=rr, transition="start_fulfillment", actor=alice).exists()
    assert "Off-site storage asked for the records. Fulfillment started." in client.get(_detail(rr)).content.decode()


def test_a_refused_task_shows_the_error_and_keeps_what_was_typed(client_for, alice, in_fulfillment):
    before = AccessEvent.objects.filter(request_id=in_fulfillment.pk).count()
    response = client_for(alice).post(
        _url("create", in_fulfillment),
        {"source": RetrievalSource.OTHER_FACILITY, "source_detail": "", "owner": "", "notes": "Call Dr Ruiz's office"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Say which facility the records come from." in html
    assert "Call Dr Ruiz&#x27;s office" in html
    assert 'value="other_facility" selected' in html
    assert not RetrievalTask.objects.exists()
    # The page shown again carries the request's PHI: an access event like the detail page's.
    event = AccessEvent.objects.filter(request_id=in_fulfillment.pk).latest("id")
    assert AccessEvent.objects.filter(request_id=in_fulfillment.pk).count() == before + 1
    assert (event.action, event.actor, event.detail) == (AccessAction.VIEW_REQUEST, alice, "retrieval")


def test_an_owner_outside_the_list_is_refused_by_the_form(client_for, alice, charlie, in_fulfillment):
    response = client_for(alice).post(
        _url("create", in_fulfillment), {"source": RetrievalSource.IMAGING, "owner": str(charlie.pk)}
    )
    assert response.status_code == 400
    assert "Choose a staff member of this organisation." in response.content.decode()
    assert not RetrievalTask.objects.exists()


def test_adding_to_a_delivered_request_says_why_not(client_for, alice, request_in_state):
    rr = request_in_state(RequestState.DELIVERED)
    response = client_for(alice).post(_url("create", rr), {"source": RetrievalSource.IMAGING})
    assert response.status_code == 400
    assert "validated, in fulfillment or in exception; this one is delivered" in response.content.decode()


def test_with_htmx_the_section_alone_comes_back(client_for, alice, in_fulfillment):
    client = client_for(alice)
    response = client.post(_url("create", in_fulfillment), {"source": RetrievalSource.LABORATORY}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div class="fulfillment-part retrieval" id="retrieval"')
    assert "<td>Laboratory</td>" in html
    assert "Requested today" in html
    assert "Laboratory asked for the records." in html

    refused = client.post(_url("create", in_fulfillment), {"source": ""}, **HTMX)
    # htmx swaps 2xx answers only: the errors come back as 200, the real status in a header.
    assert (refused.status_code, refused["X-Retrieval-Status"]) == (200, "400")
    assert "Choose where from." in refused.content.decode()
    assert RetrievalTask.objects.count() == 1


# --- Outcomes and changes -----------------------------------------------------------------------------------------


def test_nothing_held_without_a_note_is_refused_and_the_form_stays_open(client_for, alice, in_fulfillment, task):
    response = client_for(alice).post(_url("nothing-held", in_fulfillment, task), {"note": ""})
    html = response.content.decode()
    assert response.status_code == 400
    assert "What the department answered: required." in html
    assert "<details open>" in html
    task.refresh_from_db()
    assert task.status == RetrievalStatus.REQUESTED


@pytest.mark.parametrize(
    ("action", "note", "status"),
    [
        ("received", "", RetrievalStatus.RECEIVED),
        ("nothing-held", "No films on file", RetrievalStatus.NOT_AVAILABLE),
        ("cancel", "Asked the wrong department", RetrievalStatus.CANCELLED),
    ],
)
def test_each_outcome_closes_the_task(client_for, alice, in_fulfillment, task, action, note, status):
    response = client_for(alice).post(_url(action, in_fulfillment, task), {"note": note})
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.status, task.outcome_note) == (status, note)
    in_fulfillment.refresh_from_db()
    assert in_fulfillment.retrieval_waiting_since is None


def test_a_second_outcome_on_a_closed_task_says_so(client_for, alice, in_fulfillment, task):
    client = client_for(alice)
    client.post(_url("received", in_fulfillment, task), {"note": ""})
    response = client.post(_url("cancel", in_fulfillment, task), {"note": "Too late"})
    assert response.status_code == 400
    assert "already received" in response.content.decode()


def test_owner_and_notes_change(client_for, alice, in_fulfillment, task):
    response = client_for(alice).post(
        _url("update", in_fulfillment, task), {"owner": str(alice.pk), "notes": "Called imaging Tuesday"}
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.owner, task.notes) == (alice, "Called imaging Tuesday")


def test_actions_take_post_only(client_for, alice, in_fulfillment, task):
    client = client_for(alice)
    assert client.get(_url("create", in_fulfillment)).status_code == 405
    for action in ("update", "received", "nothing-held", "cancel"):
        assert client.get(_url(action, in_fulfillment, task)).status_code == 405


# --- Tenants and requests -----------------------------------------------------------------------------------------


def test_another_tenants_task_and_request_answer_404_and_stay_as_they_were(client_for, charlie, in_fulfillment, task):
    client = client_for(charlie)
    assert client.post(_url("create", in_fulfillment), {"source": RetrievalSource.IMAGING}).status_code == 404
    for action in ("update", "received", "nothing-held", "cancel"):
        assert client.post(_url(action, in_fulfillment, task), {"note": "x", "owner": ""}).status_code == 404
    task.refresh_from_db()
    assert (task.status, task.owner_id, task.notes) == (RetrievalStatus.REQUESTED, task.owner_id, "Films")
    assert RetrievalTask.objects.count() == 1


def test_a_task_named_under_another_request_is_not_found(client_for, alice, request_in_state, task):
    other = request_in_state(RequestState.IN_FULFILLMENT)
    assert client_for(alice).post(_url("received", other, task), {"note": ""}).status_code == 404
    task.refresh_from_db()
    assert task.status == RetrievalStatus.REQUESTED


def test_anonymous_callers_go_to_login(client, in_fulfillment, task):
    response = client.post(_url("received", in_fulfillment, task), {"note": ""})
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    task.refresh_from_db()
    assert task.status == RetrievalStatus.REQUESTED


def test_a_user_without_membership_is_refused(client_for, in_fulfillment, task):
    outsider = factories.UserFactory(username="outsider")
    assert client_for(outsider).post(_url("received", in_fulfillment, task), {"note": ""}).status_code == 403


def test_with_htmx_starting_fulfillment_reloads_the_whole_page(client_for, alice, request_in_state):
    rr = request_in_state(RequestState.VALIDATED)
    client = client_for(alice)
    response = client.post(_url("create", rr), {"source": RetrievalSource.EHR_HIM}, **HTMX)
    # The state and the actions offered changed outside the retrieval section.
    assert (response.status_code, response["HX-Redirect"]) == (204, _detail(rr))
    assert "EHR / HIM asked for the records. Fulfillment started." in client.get(_detail(rr)).content.decode()


def test_a_request_without_retrieval_adds_one_query_to_the_detail_page(
    tenant_a, request_in_state, django_assert_num_queries
):
    """The tasks; the staff list and the policy only when there is a form or an open task to show."""
    from fulfillment.panels import retrieval as retrieval_panel

    rr = request_in_state(RequestState.RECEIVED)
    with django_assert_num_queries(1):
        ctx = retrieval_panel.panel_context(tenant=tenant_a, record_request=rr, forms={})
    assert (ctx["retrieval_rows"], ctx["retrieval_form"]) == ([], None)


# --- What are we waiting on (the organisation's list) -------------------------------------------------------------


def test_the_waiting_list_shows_open_tasks_oldest_first_with_filters(client_for, alice, sam, request_in_state):
    policy_for(request_in_state(RequestState.IN_FULFILLMENT).tenant)
    rr = request_in_state(RequestState.IN_FULFILLMENT)
    now = timezone.now()
    RetrievalTaskFactory(request=rr, source=RetrievalSource.IMAGING, owner=sam, requested_at=now - timedelta(days=8))
    RetrievalTaskFactory(request=rr, source=RetrievalSource.BILLING, owner=alice, requested_at=now - timedelta(days=1))
    RetrievalTaskFactory(request=rr, source=RetrievalSource.LABORATORY, status=RetrievalStatus.RECEIVED)
    client = client_for(alice)
    url = reverse("fulfillment:retrieval-waiting")

    html = client.get(url).content.decode()
    assert html.index("Imaging") < html.index("Billing")
    assert "Laboratory" not in html
    assert "1 overdue" in html
    assert rr.patient.last_name in html
    event = AccessEvent.objects.latest("id")
    assert (event.action, event.actor, event.detail) == (
        AccessAction.LIST_REQUESTS,
        alice,
        "retrieval waiting list, 2 rows",
    )

    mine = client.get(url, {"mine": "1"}).content.decode()
    assert "Billing" in mine
    assert "Imaging" not in mine
    overdue = client.get(url, {"overdue": "1"}).content.decode()
    assert "Imaging" in overdue
    assert "Billing" not in overdue


def test_the_waiting_list_shows_only_the_session_tenant(client_for, charlie, task):
    html = client_for(charlie).get(reverse("fulfillment:retrieval-waiting")).content.decode()
    assert task.request.tracking_number not in html
    assert "Nothing is awaited" in html


def test_the_waiting_list_query_count_does_not_grow(client_for, alice, request_in_state):
    policy_for(request_in_state(RequestState.IN_FULFILLMENT).tenant)
    client = client_for(alice)
    url = reverse("fulfillment:retrieval-waiting")
    RetrievalTaskFactory(request=request_in_state(RequestState.IN_FULFILLMENT), owner=alice)
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for _ in range(3):
        RetrievalTaskFactory.create_batch(2, request=request_in_state(RequestState.EXCEPTION), owner=alice)
    with CaptureQueriesContext(connection) as seven:
        assert "ROI-" in client.get(url).content.decode()
    assert len(seven) == len(one)
