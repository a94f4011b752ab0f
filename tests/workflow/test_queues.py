"""Queues: filters, sorts, the priority badge, keyset pages, a fixed query count, claim next (also under
concurrency), bulk reassignment, status calls, routing of new requests to a work queue, and the queue admin pages.

The urgency fields (aging_band, is_stalled, priority_*) are set directly on the factories: the job that computes them
has its own tests."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from roi.choices import Role
from tests import factories
from tests.concurrency import run_at_once
from workflow import selectors, services
from workflow.choices import RequestState, RequestType
from workflow.models import RecordRequest, SavedQueueView, StatusCall, WorkQueue

S = RequestState
QUEUE_URL = "/requests/"
# Session, user, memberships (tenant middleware), staff list, work queues, the page's rows (one query: ids picked in
# a subquery), the view's total (one capped count), the user's saved views, access event insert, unread
# notification count (base.html's context processor).
# The same for 5 rows or 60, 10 per page or 50, the first page or one deep in the cursor chain.
QUEUE_QUERIES = 10


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _today(tenant: Any) -> Any:
    return timezone.localdate(timezone=tenant.tzinfo)


@pytest.fixture
def ada(tenant_a):
    """Tenant admin in tenant A."""
    return factories.MembershipFactory(tenant=tenant_a, user__username="ada", role=Role.ADMIN).user


@pytest.fixture
def legal_q(tenant_a):
    return WorkQueue.objects.create(tenant=tenant_a, name="Legal", position=1, request_types=[RequestType.LEGAL])


@pytest.fixture
def coc_q(tenant_a):
    return WorkQueue.objects.create(
        tenant=tenant_a, name="Continuity of care", position=2, request_types=[RequestType.CONTINUITY_OF_CARE]
    )


@pytest.fixture
def foreign_q(tenant_b):
    return WorkQueue.objects.create(tenant=tenant_b, name="Legal", position=1, request_types=[RequestType.LEGAL])


def _rr(tenant: Any, *, kind: str = "attorney", age_days: int = 3, due_in: int = 10, **fields: Any) -> RecordRequest:
    return factories.RecordRequestFactory(
        tenant=tenant,
        requestor__kind=kind,
        received_at=timezone.now() - timedelta(days=age_days),
        legal_due_date=_today(tenant) + timedelta(days=due_in),
        **fields,
    )


@pytest.fixture
def rows(tenant_a, tenant_b, alice, sam, legal_q, coc_q):
    """Five requests of tenant A that differ in every filtered field, and one of tenant B that must never show."""
    now = timezone.now()
    return {
        "urgent": _rr(
            tenant_a, state=S.VALIDATED, priority_score=90, priority_reasons="Legal due in 2 days; subpoena",
            aging_band=1, queue=legal_q, request_type=RequestType.LEGAL, kind="attorney", due_in=2, age_days=2,
            assignee=alice,
        ),
        "overdue": _rr(
            tenant_a, priority_score=70, priority_reasons="3 days overdue", aging_band=4,
            request_type=RequestType.RIGHT_OF_ACCESS, kind="patient", due_in=-3, age_days=40, is_stalled=True,
        ),
        "exception": _rr(
            tenant_a, state=S.EXCEPTION, exception_reason="awaiting_department", exception_since=now,
            priority_score=50, aging_band=2, queue=coc_q, request_type=RequestType.CONTINUITY_OF_CARE,
            kind="provider", due_in=20, age_days=15, assignee=sam,
        ),
        "legal_review": _rr(
            tenant_a, state=S.EXCEPTION, exception_reason="legal_review", exception_since=now, priority_score=40,
            aging_band=3, queue=legal_q, request_type=RequestType.LEGAL, kind="attorney", due_in=6, age_days=25,
            is_stalled=True,
        ),
        "closed": _rr(
            tenant_a, state=S.CLOSED, priority_score=0, request_type=RequestType.AUTHORIZATION, kind="insurer",
            due_in=10, assignee=alice,
        ),
        "foreign": _rr(
            tenant_b, priority_score=99, aging_band=4, request_type=RequestType.LEGAL, kind="patient", due_in=-3,
            is_stalled=True, exception_reason="legal_review",
        ),
    }  # fmt: skip


def _listed(response: Any, rows: dict[str, RecordRequest]) -> list[str]:
    """The keys of `rows` shown on the page, in page order."""
    page = response.content.decode()
    shown = [(page.index(rr.tracking_number), key) for key, rr in rows.items() if rr.tracking_number in page]
    return [key for _, key in sorted(shown)]


def _row(page: str, rr: RecordRequest) -> str:
    at = page.index(rr.tracking_number)
    return page[page.rindex("<tr", 0, at) : page.index("</tr>", at)]


# --- Filters and sorts --------------------------------------------------------------------------------------------

OPEN_ROWS = {"urgent", "overdue", "exception", "legal_review"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"assignee": ""}, OPEN_ROWS),  # "Everything"; a specialist's bare first visit is their own work
        ({"state": S.CLOSED}, {"closed"}),
        ({"state": ""}, OPEN_ROWS | {"closed"}),
        ({"aging_band": "4"}, {"overdue"}),
        ({"assignee": "me"}, {"urgent"}),
        ({"assignee": "none"}, {"overdue", "legal_review"}),
        ({"queue": "legal_q"}, {"urgent", "legal_review"}),
        ({"queue": "coc_q"}, {"exception"}),
        ({"queue": "none"}, {"overdue"}),
        ({"request_type": RequestType.LEGAL}, {"urgent", "legal_review"}),
        ({"requestor_kind": "patient"}, {"overdue"}),
        ({"due_within": "5"}, {"urgent"}),
        ({"due_within": "6"}, {"urgent", "legal_review"}),
        ({"overdue": "on"}, {"overdue"}),
        ({"exception": "any"}, {"exception", "legal_review"}),
        ({"exception": "legal_review"}, {"legal_review"}),
        ({"stalled": "on"}, {"overdue", "legal_review"}),
        ({"stalled": "on", "request_type": RequestType.LEGAL}, {"legal_review"}),
    ],
    ids=lambda v: "-".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None,
)
def test_each_filter_selects_exactly_the_matching_rows(query, expected, client_for, alice, rows, legal_q, coc_q):
    queue_ids = {"legal_q": str(legal_q.pk), "coc_q": str(coc_q.pk)}
    query = {k: queue_ids.get(v, v) if k == "queue" else v for k, v in query.items()}
    response = client_for(alice).get(QUEUE_URL, query)
    assert response.status_code == 200
    assert set(_listed(response, rows)) == expected


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (None, ["urgent", "overdue", "exception", "legal_review"]),
        ("priority", ["urgent", "overdue", "exception", "legal_review"]),
        ("due", ["overdue", "urgent", "legal_review", "exception"]),
        ("age", ["overdue", "legal_review", "exception", "urgent"]),
    ],
)
def test_sorts_order_the_rows(sort, expected, client_for, sam, rows):
    response = client_for(sam).get(QUEUE_URL, {"sort": sort} if sort else {})
    assert _listed(response, rows) == expected


def test_each_row_shows_age_band_due_state_assignee_exception_and_priority_reasons(client_for, sam, rows, tenant_a):
    page = client_for(sam).get(QUEUE_URL).content.decode()
    labels = tenant_a.aging_band_labels()
    urgent_row = _row(page, rows["urgent"])
    # Every reason in the cell's title, the first as text beside the score: readable without hovering.
    assert 'title="Legal due in 2 days; subpoena"' in urgent_row
    assert '<span class="priority-why">Legal due in 2 days</span>' in urgent_row
    assert ">90<" in urgent_row
    assert f'<span class="aging-band">{labels[1]}</span>' in urgent_row
    assert "in 2 days" in urgent_row
    assert "Validated" in urgent_row
    assert html.escape(str(rows["urgent"].assignee)) in urgent_row
    # Humanised from the stored value; the exceptions app may register its own labels (workflow.forms.queue).
    assert "Awaiting imaging or another department" in _row(page, rows["exception"])  # the reason's label
    assert "3 days overdue" in _row(page, rows["overdue"])


def test_another_tenants_queue_id_answers_404(client_for, alice, rows, foreign_q):
    assert client_for(alice).get(QUEUE_URL, {"queue": foreign_q.pk}).status_code == 404


def test_anonymous_user_is_sent_to_login(client):
    response = client.get(QUEUE_URL)
    assert response.status_code == 302
    assert "/login" in response["Location"]


# --- Keyset pagination and query count ---------------------------------------------------------------------------

NEXT_LINK = re.compile(r'<a href="([^"]+)" rel="next">')
PREVIOUS_LINK = re.compile(r'<a href="([^"]+)" rel="prev">')
TRACKING = re.compile(r'class="mono">(ROI-[0-9A-Z-]+)</a>')


def _page(client: Any, url: str) -> tuple[list[str], str | None, str | None]:
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    nxt, prev = NEXT_LINK.search(page), PREVIOUS_LINK.search(page)
    return (
        TRACKING.findall(page),
        QUEUE_URL + html.unescape(nxt.group(1)) if nxt else None,
        QUEUE_URL + html.unescape(prev.group(1)) if prev else None,
    )


@pytest.mark.parametrize("sort", selectors.queue_sort_names())
def test_keyset_pages_walk_every_row_once_forwards_and_back_with_ties(sort, client_for, sam, tenant_a):
    # Three priority values, two due dates, two types, two states, and received_at repeated: ties everywhere,
    # broken by id (the other way round in a reversed sort).
    moment = timezone.now() - timedelta(days=4)
    made = [
        factories.RecordRequestFactory(
            tenant=tenant_a, priority_score=10 * (i % 3), received_at=moment - timedelta(days=i % 2),
            legal_due_date=_today(tenant_a) + timedelta(days=i % 2),
            request_type=[RequestType.LEGAL, RequestType.RIGHT_OF_ACCESS][i % 2],
            state=[S.RECEIVED, S.VALIDATED, S.EXCEPTION][i % 3],
        )
        for i in range(23)
    ]  # fmt: skip
    field, descending = selectors.QUEUE_SORTS[sort.removeprefix("-")]
    assert len(made) == 23
    expected = list(
        RecordRequest.objects.for_tenant(tenant_a)
        .order_by(f"-{field}" if descending else field, "id")
        .values_list("tracking_number", flat=True)
    )
    if sort.startswith("-"):
        expected.reverse()
    client = client_for(sam)
    pages, url = [], f"{QUEUE_URL}?sort={sort}&size=10"
    while url:
        tracking, url, _ = _page(client, url)
        pages.append(tracking)
        assert len(pages) <= 3, "Next kept offering a page after the last of 23 requests"
    assert [len(p) for p in pages] == [10, 10, 3]
    walked = [t for p in pages for t in p]
    assert walked == expected
    assert len(set(walked)) == 23
    # And back: Previous from the last page shows the same pages in reverse, then stops at the first.
    last_url = f"{QUEUE_URL}?sort={sort}&size=10"
    for _ in range(2):
        _, last_url, _ = _page(client, last_url)
    back, url = [], last_url
    while url:
        tracking, _, url = _page(client, url)
        back.append(tracking)
        assert len(back) <= 3, "Previous kept offering a page before the first"
    assert back == pages[::-1]


def test_a_malformed_cursor_shows_the_first_page(client_for, sam, tenant_a):
    factories.RecordRequestFactory(tenant=tenant_a)
    tracking, _, previous = _page(client_for(sam), f"{QUEUE_URL}?cursor=not-a-cursor")
    assert len(tracking) == 1
    assert previous is None


def _queue_queries(client: Any, url: str) -> int:
    client.get(QUEUE_URL)  # the session's first page stores the chosen tenant in the session: not counted
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_query_count_is_fixed_whatever_the_rows_page_size_and_depth(client_for, sam, alice, tenant_a, legal_q):
    client = client_for(sam)

    def make(count: int) -> None:
        for i in range(count):
            factories.RecordRequestFactory(
                tenant=tenant_a,
                priority_score=i % 7,
                assignee=[None, alice, sam][i % 3],
                queue=legal_q if i % 2 else None,
            )

    make(5)
    for name in ("Legal, overdue", "Stalled"):  # listed on every page, in the same one query however many
        SavedQueueView.objects.create(tenant=tenant_a, user=sam, name=name, query="state=open&sort=due")
    small = {size: _queue_queries(client, f"{QUEUE_URL}?size={size}") for size in (10, 50)}
    make(55)
    large = {size: _queue_queries(client, f"{QUEUE_URL}?size={size}") for size in (10, 50)}
    _, second, _ = _page(client, f"{QUEUE_URL}?size=10")
    _, third, _ = _page(client, second)
    deep = _queue_queries(client, third)
    filtered = _queue_queries(client, f"{QUEUE_URL}?size=50&queue={legal_q.pk}&stalled=on&sort=due")
    by_column = _queue_queries(client, f"{QUEUE_URL}?size=50&sort=-type&state=")
    assert RecordRequest.objects.for_tenant(tenant_a).count() == 60
    assert set(small.values()) == set(large.values()) == {deep} == {filtered} == {by_column} == {QUEUE_QUERIES}


# --- Claim next ------------------------------------------------------------------------------------------------


def test_claim_next_gives_the_highest_priority_unassigned_open_request(client_for, alice, sam, tenant_a):
    factories.RecordRequestFactory(tenant=tenant_a, priority_score=99, assignee=sam)  # taken
    _rr(tenant_a, state=S.CLOSED, priority_score=98)  # not open
    best = factories.RecordRequestFactory(tenant=tenant_a, priority_score=60)
    factories.RecordRequestFactory(tenant=tenant_a, priority_score=20)
    response = client_for(alice).post(reverse("workflow:claim_next"))
    assert response.status_code == 302
    assert response["Location"] == reverse("workflow:detail", args=[best.tracking_number])
    best.refresh_from_db()
    assert best.assignee == alice
    assert _messages(response) == [f"Request {best.tracking_number} is yours now."]
    # The claim is in the request's history like any other change: who, when, and the row as it became.
    change = best.history.order_by("-history_date", "-history_id").first()
    assert (change.history_type, change.history_user, change.assignee_id) == ("~", alice, alice.pk)
    assert change.tracking_number == best.tracking_number
    assert change.last_activity_at == best.last_activity_at
    assert best.history.count() == 2  # created, then claimed


def test_claim_next_in_a_queue_stays_in_that_queue(alice, tenant_a, legal_q):
    factories.RecordRequestFactory(tenant=tenant_a, priority_score=99)
    in_queue = factories.RecordRequestFactory(tenant=tenant_a, priority_score=10, queue=legal_q)
    claimed = services.request_claim_next(tenant=tenant_a, actor=alice, queue=legal_q)
    assert claimed == in_queue
    assert services.request_claim_next(tenant=tenant_a, actor=alice, queue=legal_q) is None


def test_claim_next_with_nothing_waiting_says_so(client_for, alice, tenant_a):
    response = client_for(alice).post(reverse("workflow:claim_next"))
    assert response.status_code == 302
    assert _messages(response) == ["No unassigned open request is waiting."]


def test_claim_next_in_another_tenants_queue_answers_404(client_for, alice, foreign_q):
    assert client_for(alice).post(reverse("workflow:claim_next"), {"queue": foreign_q.pk}).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_eight_staff_claiming_at_once_never_get_the_same_request(tenant_a):
    staff = [factories.MembershipFactory(tenant=tenant_a, role=Role.SPECIALIST).user for _ in range(8)]
    waiting = {factories.RecordRequestFactory(tenant=tenant_a, priority_score=i % 4).pk for i in range(20)}

    def claim_until_empty(user: Any) -> list[int]:
        mine: list[int] = []
        while (claimed := services.request_claim_next(tenant=tenant_a, actor=user)) is not None:
            mine.append(claimed.pk)
        return mine

    race = run_at_once(claim_until_empty, args=[(user,) for user in staff], timeout=60)
    assert not race.errors
    claims = {user.pk: mine for user, mine in zip(staff, race.results, strict=True)}
    every = [pk for mine in claims.values() for pk in mine]
    assert len(every) == len(set(every)) == 20
    assert set(every) == waiting
    owners = dict(RecordRequest.objects.filter(pk__in=waiting).values_list("pk", "assignee_id"))
    assert all(owners[pk] == user_pk for user_pk, mine in claims.items() for pk in mine)
    assert sum(1 for mine in claims.values() if mine) > 1  # they really ran side by side


# --- Bulk reassign ---------------------------------------------------------------------------------------------


def test_supervisor_bulk_reassigns_the_ticked_requests(client_for, sam, alice, tenant_a):
    first, second, untouched = (factories.RecordRequestFactory(tenant=tenant_a) for _ in range(3))
    page = client_for(sam).get(QUEUE_URL).content.decode()
    assert f'name="requests" value="{first.tracking_number}" form="bulk-assign"' in page
    response = client_for(sam).post(
        reverse("workflow:bulk_assign"),
        {"requests": [first.tracking_number, second.tracking_number], "assignee": alice.pk, "return_query": "sort=due"},
    )
    assert response.status_code == 302
    assert response["Location"] == f"{QUEUE_URL}?sort=due"
    assert _messages(response) == [f"2 requests assigned to {alice}."]
    owners = {rr.pk: rr.assignee_id for rr in RecordRequest.objects.filter(tenant=tenant_a)}
    assert (owners[first.pk], owners[second.pk], owners[untouched.pk]) == (alice.pk, alice.pk, None)


def test_specialist_bulk_reassign_is_refused_and_changes_nothing(client_for, sam, alice, tenant_a):
    first, second = (factories.RecordRequestFactory(tenant=tenant_a) for _ in range(2))
    assert 'form="bulk-assign"' not in client_for(alice).get(QUEUE_URL).content.decode()
    response = client_for(alice).post(
        reverse("workflow:bulk_assign"),
        {"requests": [first.tracking_number, second.tracking_number], "assignee": alice.pk},
    )
    assert response.status_code == 403
    assert "Only a supervisor or admin can reassign requests in bulk." in response.content.decode()
    assert set(RecordRequest.objects.filter(tenant=tenant_a).values_list("assignee", flat=True)) == {None}


def test_bulk_reassign_is_all_or_nothing(client_for, sam, alice, tenant_a):
    open_rr = factories.RecordRequestFactory(tenant=tenant_a)
    closed_rr = _rr(tenant_a, state=S.CLOSED)
    response = client_for(sam).post(
        reverse("workflow:bulk_assign"),
        {"requests": [open_rr.tracking_number, closed_rr.tracking_number], "assignee": alice.pk},
    )
    assert response.status_code == 400
    assert "cannot be reassigned" in response.content.decode()
    open_rr.refresh_from_db()
    assert open_rr.assignee is None


def test_bulk_reassign_of_another_tenants_request_answers_404_and_changes_nothing(
    client_for, sam, alice, tenant_a, tenant_b
):
    mine = factories.RecordRequestFactory(tenant=tenant_a)
    theirs = factories.RecordRequestFactory(tenant=tenant_b)
    response = client_for(sam).post(
        reverse("workflow:bulk_assign"),
        {"requests": [mine.tracking_number, theirs.tracking_number], "assignee": alice.pk},
    )
    assert response.status_code == 404
    assert RecordRequest.objects.get(pk=mine.pk).assignee is None
    assert RecordRequest.objects.get(pk=theirs.pk).assignee is None


# --- Status calls --------------------------------------------------------------------------------------------------


def test_status_call_logged_from_the_detail_page_appears_on_the_timeline(client_for, alice, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    before = rr.last_activity_at
    client = client_for(alice)
    detail_url = reverse("workflow:detail", args=[rr.tracking_number])
    call_url = reverse("workflow:status_call", args=[rr.tracking_number])
    timeline_url = reverse("workflow:panel", args=[rr.tracking_number, "timeline"])  # opens after the first paint
    assert f'action="{call_url}"' in client.get(timeline_url, HTTP_HX_REQUEST="true").content.decode()
    response = client.post(call_url, {"caller": "patient", "outcome": "voicemail"})
    assert response.status_code == 302
    assert response["Location"] == detail_url
    call = StatusCall.objects.get(request=rr)
    assert (call.tenant, call.caller, call.outcome, call.logged_by) == (tenant_a, "patient", "voicemail", alice)
    rr.refresh_from_db()
    assert rr.last_activity_at > before
    timeline = client.get(timeline_url, HTTP_HX_REQUEST="true").content.decode()
    call_entry = timeline[timeline.index("<strong>Status call from the patient</strong>") :]
    assert call_entry.index("Left a voicemail") < call_entry.index("</li>")
    assert timeline.index("Status call") < timeline.index("<strong>Received</strong>")  # newest first


def test_quick_status_call_from_the_queue_row_goes_back_to_the_queue(client_for, alice, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    response = client_for(alice).post(
        reverse("workflow:status_call", args=[rr.tracking_number]),
        {"caller": "requestor", "outcome": "status_given", "return_to": "queue", "return_query": "assignee=me"},
    )
    assert response["Location"] == f"{QUEUE_URL}?assignee=me"
    assert StatusCall.objects.filter(request=rr, caller="requestor", outcome="status_given").count() == 1


def test_status_call_on_another_tenants_request_answers_404(client_for, charlie, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    response = client_for(charlie).post(
        reverse("workflow:status_call", args=[rr.tracking_number]), {"caller": "patient", "outcome": "voicemail"}
    )
    assert response.status_code == 404
    assert not StatusCall.objects.exists()


# --- Routing -------------------------------------------------------------------------------------------------------


def test_a_new_request_joins_the_first_active_queue_that_takes_its_type(tenant_a, alice):
    WorkQueue.objects.create(tenant=tenant_a, name="Old legal", position=0, request_types=["legal"], is_active=False)
    legal = WorkQueue.objects.create(tenant=tenant_a, name="Legal", position=5, request_types=["legal", "other"])
    WorkQueue.objects.create(tenant=tenant_a, name="Legal too", position=9, request_types=["legal"])
    patient = factories.PatientFactory(tenant=tenant_a)
    requestor = factories.RequestorFactory(tenant=tenant_a)

    def create(request_type: str) -> RecordRequest:
        return services.request_create(
            tenant=tenant_a, actor=alice, patient=patient, requestor=requestor, request_type=request_type, channel="fax"
        )

    assert create(RequestType.LEGAL).queue == legal
    assert create(RequestType.CONTINUITY_OF_CARE).queue is None
    assert selectors.queue_for(tenant=tenant_a, request_type=RequestType.OTHER) == legal


# --- Queue admin -------------------------------------------------------------------------------------------------

ADMIN_URL = "/requests/queues/"


def test_admin_adds_and_edits_a_work_queue(client_for, ada, tenant_a):
    client = client_for(ada)
    assert client.get(ADMIN_URL).status_code == 200
    response = client.post(
        reverse("workflow:queue_add"), {"name": "Legal", "position": 1, "request_types": ["legal"], "is_active": "on"}
    )
    assert response.status_code == 302
    queue = WorkQueue.objects.get(tenant=tenant_a)
    assert (queue.name, queue.position, queue.request_types, queue.is_active) == ("Legal", 1, ["legal"], True)
    response = client.post(
        reverse("workflow:queue_edit", args=[queue.pk]),
        {"name": "Legal and accounting", "position": 3, "request_types": ["legal", "accounting"]},
    )
    assert response.status_code == 302
    queue.refresh_from_db()
    assert (queue.name, queue.position, queue.request_types, queue.is_active) == (
        "Legal and accounting", 3, ["legal", "accounting"], False,
    )  # fmt: skip
    assert "Legal and accounting" in client.get(ADMIN_URL).content.decode()


def test_queue_name_must_be_unique_in_the_tenant(client_for, ada, legal_q):
    response = client_for(ada).post(reverse("workflow:queue_add"), {"name": "legal", "position": 0})
    assert response.status_code == 400
    assert "A queue named" in response.content.decode()
    assert WorkQueue.objects.filter(tenant=legal_q.tenant).count() == 1


@pytest.mark.parametrize("persona", ["alice", "sam"])
def test_queue_admin_is_for_admins_only(persona, request, client_for, legal_q):
    client = client_for(request.getfixturevalue(persona))
    assert client.get(ADMIN_URL).status_code == 403
    assert client.get(reverse("workflow:queue_edit", args=[legal_q.pk])).status_code == 403
    assert client.post(reverse("workflow:queue_add"), {"name": "Mine", "position": 0}).status_code == 403
    assert not WorkQueue.objects.filter(name="Mine").exists()


def test_queue_admin_anonymous_is_sent_to_login(client):
    assert client.get(ADMIN_URL).status_code == 302


def test_another_tenants_queue_in_admin_answers_404(client_for, ada, foreign_q):
    client = client_for(ada)
    assert client.get(reverse("workflow:queue_edit", args=[foreign_q.pk])).status_code == 404
    response = client.post(reverse("workflow:queue_edit", args=[foreign_q.pk]), {"name": "Taken", "position": 0})
    assert response.status_code == 404
    foreign_q.refresh_from_db()
    assert foreign_q.name == "Legal"


# --- Assignment notices -------------------------------------------------------------------------------------------


def _assignment_notices(user: Any) -> list[Any]:
    from roi.models import Notification

    return list(Notification.objects.filter(recipient=user, kind="assignment"))


def test_assigning_a_request_to_someone_else_tells_them_in_the_app(sam, alice, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    services.request_assign(tenant=tenant_a, actor=sam, record_request=rr, assignee=alice)
    [notice] = _assignment_notices(alice)
    assert notice.email_to == ""  # in the app only
    assert rr.tracking_number in notice.subject
    assert notice.link == reverse("workflow:detail", args=[rr.tracking_number])
    # Assigning her again changes nothing and tells her nothing new.
    services.request_assign(tenant=tenant_a, actor=sam, record_request=rr, assignee=alice)
    assert len(_assignment_notices(alice)) == 1


def test_claiming_for_yourself_tells_nobody(sam, alice, tenant_a):
    rr = factories.RecordRequestFactory(tenant=tenant_a)
    services.request_assign(tenant=tenant_a, actor=alice, record_request=rr, assignee=alice)
    factories.RecordRequestFactory(tenant=tenant_a)
    assert services.request_claim_next(tenant=tenant_a, actor=alice) is not None
    assert _assignment_notices(alice) == []
    services.request_assign(tenant=tenant_a, actor=sam, record_request=rr, assignee=None)
    assert _assignment_notices(alice) == []


def test_bulk_reassignment_tells_each_new_assignee_once(sam, alice, tenant_a):
    first, second = factories.RecordRequestFactory.create_batch(2, tenant=tenant_a)
    services.requests_bulk_assign(
        tenant=tenant_a, actor=sam, tracking_numbers=[first.tracking_number, second.tracking_number], assignee=alice
    )
    assert sorted(n.subject for n in _assignment_notices(alice)) == sorted(
        f"Assigned to you: {rr.tracking_number}" for rr in (first, second)
    )
