"""The queue as a day's workbench: where a specialist lands, the view's total, column sorts on the page, saved
views (each user's own), the CSV export of the current view (audited, scoped) and the supervisor's select-all.
Keyset pages of every sort, both ways, and the pinned query count are in test_queues.py."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from roi.choices import AccessAction
from roi.models import AccessEvent
from tests import factories
from workflow import selectors
from workflow.choices import RequestState, RequestType
from workflow.models import SavedQueueView

S = RequestState
QUEUE_URL = "/requests/"
EXPORT_URL = "/requests/export.csv"
TRACKING = re.compile(r'class="mono">(ROI-[0-9A-Z-]+)</a>')


def _shown(response: Any) -> list[str]:
    assert response.status_code == 200
    return TRACKING.findall(response.content.decode())


def _messages(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def work(tenant_a, tenant_b, alice, sam):
    """Alice's two open requests, one unassigned, one of Sam's, one of Alice's closed, and tenant B's."""
    return {
        "alice_1": factories.RecordRequestFactory(tenant=tenant_a, assignee=alice, priority_score=50),
        "alice_2": factories.RecordRequestFactory(tenant=tenant_a, assignee=alice, priority_score=10),
        "free": factories.RecordRequestFactory(tenant=tenant_a, priority_score=90),
        "sams": factories.RecordRequestFactory(tenant=tenant_a, assignee=sam, priority_score=70),
        "alice_closed": factories.RecordRequestFactory(tenant=tenant_a, assignee=alice, state=S.CLOSED),
        "foreign": factories.RecordRequestFactory(tenant=tenant_b, priority_score=99),
    }


def _numbers(work: dict[str, Any], *keys: str) -> list[str]:
    return [work[k].tracking_number for k in keys]


# --- Landing --------------------------------------------------------------------------------------------------


def test_a_specialists_first_visit_shows_their_own_open_work(client_for, alice, work):
    response = client_for(alice).get(QUEUE_URL)
    assert _shown(response) == _numbers(work, "alice_1", "alice_2")
    page = response.content.decode()
    assert '<a href="?assignee=me" aria-current="page">My work</a>' in page
    # Everything stays one click away, and the next page keeps the view (not everything).
    assert '<a href="?assignee=" data-everything>Everything</a>' in page


def test_everything_shows_a_specialist_all_open_work(client_for, alice, work):
    response = client_for(alice).get(QUEUE_URL, {"assignee": ""})
    assert _shown(response) == _numbers(work, "free", "sams", "alice_1", "alice_2")
    assert 'data-everything aria-current="page">Everything</a>' in response.content.decode()


def test_a_supervisor_lands_on_all_open_work(client_for, sam, work):
    response = client_for(sam).get(QUEUE_URL)
    assert _shown(response) == _numbers(work, "free", "sams", "alice_1", "alice_2")


def test_the_next_page_of_a_specialists_landing_stays_their_own_work(client_for, alice, tenant_a, work, monkeypatch):
    from workflow.views import queue

    monkeypatch.setattr(queue, "DEFAULT_QUEUE_PAGE_SIZE", 10)
    for _ in range(10):
        factories.RecordRequestFactory(tenant=tenant_a, assignee=alice)
    client = client_for(alice)
    first = client.get(QUEUE_URL)
    assert len(_shown(first)) == 10
    assert "12 requests" in first.content.decode()
    next_url = re.search(r'<a href="([^"]+)" rel="next">', first.content.decode()).group(1).replace("&amp;", "&")
    assert next_url.startswith("?assignee=me&cursor=")
    second = _shown(client.get(QUEUE_URL + next_url))
    assert len(second) == 2
    assert not set(second) & set(_numbers(work, "free", "sams"))


# --- Total ----------------------------------------------------------------------------------------------------


def test_the_total_counts_the_whole_filtered_view_not_the_page(client_for, sam, tenant_a):
    for i in range(12):
        factories.RecordRequestFactory(tenant=tenant_a, request_type=RequestType.LEGAL if i % 3 else "authorization")
    factories.RecordRequestFactory(tenant=tenant_a, state=S.CLOSED, request_type=RequestType.LEGAL)
    page = client_for(sam).get(QUEUE_URL, {"size": "10", "request_type": RequestType.LEGAL}).content.decode()
    assert '<p class="count" id="queue-count">8 requests</p>' in page
    page = client_for(sam).get(QUEUE_URL, {"size": "10"}).content.decode()
    assert '<p class="count" id="queue-count">12 requests <span class="muted">· 10 on this page</span></p>' in page


def test_the_total_above_the_cap_says_more_than(client_for, sam, tenant_a, monkeypatch):
    monkeypatch.setattr(selectors, "QUEUE_COUNT_CAP", 3)
    for _ in range(4):
        factories.RecordRequestFactory(tenant=tenant_a)
    page = client_for(sam).get(QUEUE_URL).content.decode()
    assert "More than 3 requests" in page
    assert (
        selectors.request_queue_total(queryset=selectors.request_queue(tenant=tenant_a, open_only=True), cap=3) == 4
    )  # cap + 1: "more than"


# --- Column sorting -------------------------------------------------------------------------------------------


def test_a_column_header_sorts_by_it_then_the_other_way(client_for, sam, tenant_a):
    now = timezone.now()
    old = factories.RecordRequestFactory(tenant=tenant_a, received_at=now - timedelta(days=9))
    new = factories.RecordRequestFactory(tenant=tenant_a, received_at=now - timedelta(days=1))
    client = client_for(sam)
    page = client.get(QUEUE_URL).content.decode()
    age_link = re.search(r'<th scope="col" class="num"><a href="([^"]+)" class="sort">Age</a>', page).group(1)
    assert "sort=age" in age_link
    response = client.get(QUEUE_URL + age_link.replace("&amp;", "&"))
    assert _shown(response) == [old.tracking_number, new.tracking_number]
    page = response.content.decode()
    header = re.search(r'<th scope="col" class="num" aria-sort="descending"><a href="([^"]+)"', page)
    assert header, "the sorted column says how it is sorted"
    response = client.get(QUEUE_URL + header.group(1).replace("&amp;", "&"))
    assert "sort=-age" in response.wsgi_request.get_full_path()
    assert _shown(response) == [new.tracking_number, old.tracking_number]
    assert 'aria-sort="ascending"><a href="?' in response.content.decode()


def test_an_unknown_sort_falls_back_to_priority(client_for, sam, tenant_a):
    low = factories.RecordRequestFactory(tenant=tenant_a, priority_score=1)
    high = factories.RecordRequestFactory(tenant=tenant_a, priority_score=80)
    response = client_for(sam).get(QUEUE_URL, {"sort": "-patient"})
    assert _shown(response) == [high.tracking_number, low.tracking_number]


# --- Saved views ----------------------------------------------------------------------------------------------


def test_a_user_saves_the_current_filters_and_finds_them_beside_the_team_queues(client_for, alice, tenant_a, work):
    client = client_for(alice)
    response = client.post(
        reverse("workflow:saved_view_create"), {"name": "  Overdue   legal ", "query": "overdue=on&request_type=legal"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/requests/?overdue=on&request_type=legal"
    saved = SavedQueueView.objects.get()
    assert (saved.tenant, saved.user, saved.name, saved.query) == (tenant_a, alice, "Overdue legal", saved.query)
    page = client.get(response["Location"]).content.decode()
    assert '<a href="?overdue=on&amp;request_type=legal" aria-current="page">Overdue legal</a>' in page


def test_a_saved_view_name_is_required_and_unique_per_user(client_for, alice, sam, tenant_a):
    client = client_for(alice)
    url = reverse("workflow:saved_view_create")
    assert client.post(url, {"name": "Mine", "query": "assignee=me"}).status_code == 302
    client.get(QUEUE_URL)  # shows (and so clears) the "Saved" message
    response = client.post(url, {"name": "mine", "query": "stalled=on"})
    assert _messages(response) == ["You already have a view named 'mine'; choose another name."]
    client.get(QUEUE_URL)
    response = client.post(url, {"name": "   ", "query": "stalled=on"})
    assert _messages(response) == ["This field is required."]
    assert SavedQueueView.objects.count() == 1
    # Another user may use the same name.
    assert client_for(sam).post(url, {"name": "Mine", "query": "stalled=on"}).status_code == 302
    assert SavedQueueView.objects.count() == 2


def test_another_users_or_tenants_saved_views_are_never_shown_or_deletable(
    client_for, alice, sam, charlie, tenant_a, tenant_b
):
    sams = SavedQueueView.objects.create(tenant=tenant_a, user=sam, name="Sam's stalled", query="stalled=on")
    charlies = SavedQueueView.objects.create(tenant=tenant_b, user=charlie, name="Charlie's", query="overdue=on")
    client = client_for(alice)
    page = client.get(QUEUE_URL).content.decode()
    assert "Sam's stalled" not in page
    assert "Sam&#x27;s stalled" not in page
    assert "Charlie" not in page
    for view in (sams, charlies):
        assert client.post(reverse("workflow:saved_view_delete", args=[view.pk])).status_code == 404
    assert client.post(reverse("workflow:saved_view_delete", args=[987654])).status_code == 404
    assert SavedQueueView.objects.count() == 2


def test_a_user_deletes_their_own_saved_view(client_for, alice, tenant_a):
    view = SavedQueueView.objects.create(tenant=tenant_a, user=alice, name="Legal", query="request_type=legal")
    client = client_for(alice)
    response = client.post(reverse("workflow:saved_view_delete", args=[view.pk]))
    assert response.status_code == 302
    assert _messages(response) == ["Deleted the view 'Legal'."]
    assert not SavedQueueView.objects.exists()


def test_saved_view_actions_need_a_signed_in_user(client):
    response = client.post(reverse("workflow:saved_view_create"), {"name": "x"})
    assert response.status_code == 302
    assert "/login" in response["Location"]


# --- CSV export -----------------------------------------------------------------------------------------------


def test_the_export_is_the_current_view_with_the_columns_shown_and_one_access_event(client_for, sam, tenant_a, work):
    before = AccessEvent.objects.count()
    response = client_for(sam).get(EXPORT_URL, {"sort": "-priority"})
    lines = _csv(response)
    assert lines[0][:4] == ["Priority", "Priority reasons", "Tracking number", "Patient"]  # a header, no title row
    assert [line[2] for line in lines[1:]] == _numbers(work, "alice_2", "alice_1", "sams", "free")
    patient = work["free"].patient
    assert next(line for line in lines if line[2] == work["free"].tracking_number)[3] == (
        f"{patient.last_name}, {patient.first_name}"
    )
    assert AccessEvent.objects.count() == before + 1
    event = AccessEvent.objects.latest("id")
    assert (event.action, event.actor, event.tenant) == (AccessAction.EXPORT, sam, tenant_a)
    assert event.detail == "queue CSV export, 4 rows (sort=-priority)"
    assert response["Content-Disposition"].startswith('attachment; filename="queue-')
    assert response["Cache-Control"] == "no-store"


def test_the_export_follows_filters_and_never_holds_another_tenants_rows(client_for, alice, tenant_a, work):
    lines = _csv(client_for(alice).get(EXPORT_URL))  # the specialist's landing: their own open work
    assert [line[2] for line in lines[1:]] == _numbers(work, "alice_1", "alice_2")
    lines = _csv(client_for(alice).get(EXPORT_URL, {"state": ""}))
    numbers = {line[2] for line in lines[1:]}
    assert work["foreign"].tracking_number not in numbers
    assert numbers == set(_numbers(work, "alice_1", "alice_2", "free", "sams", "alice_closed"))


def test_the_export_is_capped_and_the_event_says_how_many_rows_left(client_for, sam, tenant_a, monkeypatch):
    from workflow.views import queue

    monkeypatch.setattr(queue, "EXPORT_MAX_ROWS", 3)
    monkeypatch.setattr(queue, "EXPORT_CHUNK", 2)  # the rows stream a chunk at a time, in the view's order
    made = [factories.RecordRequestFactory(tenant=tenant_a, priority_score=10 * i) for i in range(5)]
    lines = _csv(client_for(sam).get(EXPORT_URL))
    assert [line[2] for line in lines[1:]] == [rr.tracking_number for rr in made[::-1][:3]]
    assert AccessEvent.objects.latest("id").detail == "queue CSV export, 3 rows"


def test_an_export_cell_that_looks_like_a_formula_is_kept_as_text(client_for, sam, tenant_a):
    factories.RecordRequestFactory(tenant=tenant_a, patient__last_name="=HYPERLINK(1)")
    lines = _csv(client_for(sam).get(EXPORT_URL))
    assert lines[1][3].startswith("'=HYPERLINK(1)")


def test_the_export_of_another_tenants_queue_answers_404(client_for, sam, tenant_b):
    from workflow.models import WorkQueue

    foreign = WorkQueue.objects.create(tenant=tenant_b, name="Legal")
    assert client_for(sam).get(EXPORT_URL, {"queue": foreign.pk}).status_code == 404


def test_the_export_needs_a_signed_in_user(client):
    assert client.get(EXPORT_URL).status_code == 302


# --- Select-all -----------------------------------------------------------------------------------------------


def test_a_supervisor_gets_a_select_all_box_for_the_rows_on_the_page(client_for, sam, alice, work):
    page = client_for(sam).get(QUEUE_URL).content.decode()
    assert 'data-select-all="requests" aria-label="Select all 4 rows on this page"' in page
    assert page.count('name="requests"') == 4
    assert "0 selected" in page
    assert "data-select-all" not in client_for(alice).get(QUEUE_URL).content.decode()


def test_bulk_reassign_of_every_row_on_the_page_assigns_them_all(client_for, sam, alice, work):
    numbers = _numbers(work, "free", "sams", "alice_1", "alice_2")
    response = client_for(sam).post(
        reverse("workflow:bulk_assign"), {"requests": numbers, "assignee": str(alice.pk), "return_query": ""}
    )
    assert response.status_code == 302
    assert _messages(response) == [f"4 requests assigned to {alice}."]
    for key in ("free", "sams", "alice_1", "alice_2"):
        work[key].refresh_from_db()
        assert work[key].assignee == alice
