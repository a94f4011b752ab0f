"""Search (workflow/search.py): the box in the header of every staff page, its results page and the API's ?q=.

Personas: tenant A with Alice (specialist) and Sam (supervisor); tenant B with Charlie. Terms are typed the way staff
type them: tracking numbers in any case and spacing, names with typos or "last, first", dates in three formats."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from roi import rls
from roi.choices import AccessAction, ApiScope, Role
from roi.models import AccessEvent
from tests import factories
from workflow.choices import SensitiveCategory
from workflow.search import MatchKind, parse_date_of_birth, request_search, term_digest

URL = "/requests/search/"
API = "/api/v1/requests/"


@pytest.fixture
def john(tenant_a):
    """John Smith's request, from a law firm; the request Alice looks for."""
    return factories.RecordRequestFactory(
        tenant=tenant_a,
        tracking_number="ROI-7K3M-9QRT-2WXZ",
        patient__first_name="John",
        patient__last_name="Smith",
        patient__mrn="MRN-4417",
        patient__date_of_birth=date(1961, 3, 14),
        requestor__name="Dana Whitfield",
        requestor__organization="Hartley & Moss LLP",
        requestor__email="records@hartleymoss.example.com",
        requestor__phone="(312) 555-0142",
    )


@pytest.fixture
def others(tenant_a):
    """Requests that must not come up for the terms about John."""
    return [
        factories.RecordRequestFactory(
            tenant=tenant_a,
            patient__first_name="Maria",
            patient__last_name="Garcia",
            patient__date_of_birth=date(1975, 6, 2),
            requestor__name="Claims Desk",
            requestor__organization="Blue Shield",
            requestor__email="claims@insurer.example.com",
            requestor__phone="(800) 555-0199",
        )
        for _ in range(3)
    ]


def _tracking(response) -> list[str]:
    html = response.content.decode()
    return [part.split("<")[0] for part in html.split('class="mono">')[1:]]


@pytest.mark.parametrize("typed", ["ROI-7K3M-9QRT-2WXZ", "roi-7k3m-9qrt-2wxz", "7K3M 9QRT 2WXZ", "roi7k3m9qrt2wxz"])
def test_a_tracking_number_however_typed_opens_the_request(typed, john, others, alice, client_for):
    response = client_for(alice).get(URL, {"q": typed})
    assert response.status_code == 302
    assert response["Location"] == f"/requests/{john.tracking_number}/"


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        ("John Smith", "patient name"),
        ("Jonh Smith", "patient name"),
        ("Smith, John", "patient name"),
        ("smith john", "patient name"),
        ("MRN-4417", "MRN"),
        ("mrn-4417", "MRN"),
        ("03/14/1961", "date of birth"),
        ("1961-03-14", "date of birth"),
        ("3/14/61", "date of birth"),
        ("Smith 3/14/61", "patient name and date of birth"),
        ("Dana Whitfeld", "requestor name"),
        ("Hartley Moss", "requestor organisation"),
        ("records@hartleymoss.example.com", "requestor email"),
        ("312-555-0142", "requestor phone"),
        ("+1 (312) 555 0142", "requestor phone"),
    ],
)
def test_each_kind_of_term_finds_the_request_and_says_what_matched(typed, kind, john, others, alice, client_for):
    response = client_for(alice).get(URL, {"q": typed})
    assert response.status_code == 200
    assert _tracking(response) == [john.tracking_number]
    html = response.content.decode()
    assert "1 request found" in html
    assert f'<span class="match-kind">{kind}</span>' in html
    # The header's box keeps the term, so it can be corrected.
    assert f'id="site-search" name="q" value="{typed.replace("&", "&amp;")}"' in html


def test_a_partial_mrn_or_another_tenants_number_finds_nothing(john, tenant_b, alice, client_for):
    theirs = factories.RecordRequestFactory(tenant=tenant_b, patient__mrn="MRN-9001")
    client = client_for(alice)
    for term in ("MRN-44", "MRN-9001", theirs.tracking_number):
        response = client.get(URL, {"q": term})
        assert response.status_code == 200
        assert _tracking(response) == []
        assert "No request matches" in response.content.decode()


def test_the_results_are_not_a_queue_view_to_save_or_export(john, others, alice, client_for):
    """The results reuse the queue's rows but not its bar: the summary says how many were found, and neither
    'Save this view' nor 'Export CSV' (which would save or export the queue, not the search) is offered."""
    page = client_for(alice).get(URL, {"q": "John Smith"}).content.decode()
    assert john.tracking_number in page
    assert "1 request found" in page
    assert "Save this view" not in page
    assert "Export CSV" not in page
    assert 'id="queue-count"' not in page


def test_a_term_that_matches_nothing_lists_nothing(john, others, alice, client_for):
    response = client_for(alice).get(URL, {"q": "Zebulon Quackenbush"})
    assert response.status_code == 200
    assert _tracking(response) == []
    assert "No request matches" in response.content.decode()


def test_an_empty_or_one_character_term_asks_for_more(john, alice, client_for):
    client = client_for(alice)
    empty = client.get(URL, {"q": "  "})
    assert empty.status_code == 200
    assert "Type a tracking number" in empty.content.decode()
    short = client.get(URL, {"q": "J"})
    assert short.status_code == 400
    assert "Type at least 2 characters" in short.content.decode()
    assert _tracking(empty) == _tracking(short) == []
    assert not AccessEvent.objects.filter(action=AccessAction.SEARCH_REQUESTS).exists()


def test_another_tenants_patient_is_never_found(john, tenant_b, charlie, alice, client_for):
    twin = factories.RecordRequestFactory(
        tenant=tenant_b, patient__first_name="John", patient__last_name="Smith", patient__mrn="MRN-4417"
    )
    for term in ("John Smith", "MRN-4417", twin.tracking_number):
        response = client_for(alice).get(URL, {"q": term})
        assert twin.tracking_number not in _tracking(response)
        assert "MRN-4417" not in response.content.decode() or term == "MRN-4417"
    assert _tracking(client_for(charlie).get(URL, {"q": "John Smith"})) == [twin.tracking_number]


def test_the_search_functions_answer_for_the_signed_scopes_tenant_only(john, tenant_a, tenant_b):
    """The candidate functions (workflow/migrations/0021) run as their owner, past the tenant policy, so that their
    conditions can use the indexes: each must keep the wall itself. Called as the app role with tenant B's scope, no
    scope, or a tenant setting typed without its signature, John's facts find nothing."""
    twin = factories.RecordRequestFactory(
        tenant=tenant_b, patient__first_name="John", patient__last_name="Smith", patient__mrn="MRN-4417",
        requestor__phone="(312) 555-0142", requestor__organization="Hartley & Moss LLP",
    )  # fmt: skip
    calls = [
        ("SELECT request_id FROM workflow_search_requests_by_tracking(%s)", ["ROI7K3M9QRT2WXZ"], john.pk, None),
        ("SELECT patient_id FROM workflow_search_patients_by_mrn(%s)", ["MRN-4417"], john.patient_id, twin.patient_id),
        (
            "SELECT patient_id FROM workflow_search_patients_by_name(%s, 10)", ["Smith, Jonh"],
            john.patient_id, twin.patient_id,
        ),
        (
            "SELECT requestor_id FROM workflow_search_requestors_by_phone(%s::text[])", [["3125550142"]],
            john.requestor_id, twin.requestor_id,
        ),
        (
            "SELECT requestor_id FROM workflow_search_requestors_by_text(%s, 10)", ["Hartley Moss"],
            john.requestor_id, twin.requestor_id,
        ),
    ]  # fmt: skip

    def found(sql: str, params: list) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [row[0] for row in cursor.fetchall()]

    for sql, params, in_a, in_b in calls:
        with rls.tenant_scope(tenant_a.pk):
            assert found(sql, params) == [in_a], sql
        with rls.tenant_scope(tenant_b.pk):
            assert found(sql, params) == ([] if in_b is None else [in_b]), sql
        with rls.scope(rls.NOTHING):
            assert found(sql, params) == [], sql
            found("SELECT set_config('roi.tenant_id', %s, false)", [str(tenant_a.pk)])
            assert found(sql, params) == [], sql


def test_exact_matches_come_before_similar_names(tenant_a, alice):
    by_name = factories.RecordRequestFactory(tenant=tenant_a, patient__first_name="Kim", patient__last_name="Ng")
    by_mrn = factories.RecordRequestFactory(tenant=tenant_a, patient__mrn="KIM NG", patient__last_name="Okafor")
    results = request_search(tenant=tenant_a, term="kim ng", user=alice)
    assert results.ids == [by_mrn.pk, by_name.pk]
    assert results.hits[0].kinds == (MatchKind.MRN,)
    assert results.hits[1].kinds == (MatchKind.PATIENT_NAME,)


def test_a_placeholder_patient_is_nobody_to_find(tenant_a, alice):
    factories.RecordRequestFactory(
        tenant=tenant_a, patient__first_name="(email intake)", patient__last_name="Unidentified",
        patient__is_placeholder=True,
    )  # fmt: skip
    assert request_search(tenant=tenant_a, term="Unidentified", user=alice).hits == []


def test_two_digit_years_are_in_the_past():
    today = date(2026, 5, 1)
    assert parse_date_of_birth("3/14/61", today=today) == date(1961, 3, 14)
    assert parse_date_of_birth("3/14/09", today=today) == date(2009, 3, 14)
    assert parse_date_of_birth("2/30/1961", today=today) is None


# --- Audit -----------------------------------------------------------------------------------------------------


def test_each_search_is_an_access_event_without_the_term(john, others, alice, client_for):
    client_for(alice).get(URL, {"q": "Jonh Smith"})
    event = AccessEvent.objects.get(action=AccessAction.SEARCH_REQUESTS)
    assert event.actor == alice
    assert event.detail == f"search (page): 1 results; matched patient name; term {term_digest('jonh  smith')}"
    assert "Jonh" not in event.detail
    assert "Smith" not in event.detail


def test_a_search_that_opens_a_request_is_recorded_with_the_view(john, alice, client_for):
    client = client_for(alice)
    response = client.get(URL, {"q": john.tracking_number.lower()}, follow=True)
    assert response.status_code == 200
    actions = list(AccessEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == [AccessAction.SEARCH_REQUESTS, AccessAction.VIEW_REQUEST]
    assert john.tracking_number not in AccessEvent.objects.get(action=AccessAction.SEARCH_REQUESTS).detail


def test_the_request_log_does_not_carry_the_term(john, alice, client_for, caplog):
    with caplog.at_level(logging.INFO):
        response = client_for(alice).get(URL, {"q": "Rivera " * 20})  # too long: a 400, which Django logs
    assert response.status_code == 400
    assert [r for r in caplog.records if r.name == "django.request"]
    assert "Rivera" not in caplog.text


# --- Restricted requests ---------------------------------------------------------------------------------------


@pytest.fixture
def restricted(tenant_a):
    bob = factories.MembershipFactory(tenant=tenant_a, user__username="bob", role=Role.SPECIALIST).user
    rr = factories.RecordRequestFactory(
        tenant=tenant_a,
        assignee=bob,
        sensitive_categories=[SensitiveCategory.SUD_PART2],
        patient__first_name="Rosalind",
        patient__last_name="Achterberg",
        requestor__organization="Lakeview Counseling",
    )
    return rr, bob


def test_a_restricted_request_is_masked_and_not_found_under_its_patient(restricted, alice, client_for):
    rr, bob = restricted
    client = client_for(alice)
    by_requestor = client.get(URL, {"q": "Lakeview Counseling"}).content.decode()
    assert rr.tracking_number in by_requestor
    assert "Restricted" in by_requestor
    assert "Achterberg" not in by_requestor.split("<main")[1]
    # Listed under the patient's name, the row would tell what the mask hides.
    assert _tracking(client.get(URL, {"q": "Rosalind Achterberg"})) == []
    assert _tracking(client_for(bob).get(URL, {"q": "Rosalind Achterberg"})) == [rr.tracking_number]


# --- Query count -----------------------------------------------------------------------------------------------


def _queries(client: Client, term: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL, {"q": term}).status_code == 200
    return len(captured)


def test_the_page_runs_a_fixed_number_of_queries_whatever_the_number_of_results(tenant_a, alice, client_for):
    client = client_for(alice)
    client.get("/requests/")  # the session's first page stores the chosen organisation
    factories.RecordRequestFactory(tenant=tenant_a, patient__first_name="Wanda", patient__last_name="Sykes")
    one = _queries(client, "Wanda Sykes")
    for _ in range(12):
        factories.RecordRequestFactory(tenant=tenant_a, patient__first_name="Wanda", patient__last_name="Sykes")
    restricted_kind = factories.RecordRequestFactory(
        tenant=tenant_a, sensitive_categories=[SensitiveCategory.HIV], requestor__organization="Wanda Sykes Law"
    )
    many = _queries(client, "Wanda Sykes")
    # Session and membership, the search, its rows, break-glass grants, the access event, the header's badge.
    assert many == one <= 10
    response = client.get(URL, {"q": "Wanda Sykes"})
    assert len(_tracking(response)) == 14
    assert restricted_kind.tracking_number in _tracking(response)


# --- API -------------------------------------------------------------------------------------------------------


def test_the_api_searches_with_q(john, others, tenant_b, alice, client_for):
    factories.RecordRequestFactory(tenant=tenant_b, patient__first_name="John", patient__last_name="Smith")
    response = client_for(alice).get(API, {"q": "Smith, Jonh"})
    assert response.status_code == 200
    body = response.json()
    assert body["next"] is None
    assert [row["tracking_number"] for row in body["results"]] == [john.tracking_number]
    assert body["results"][0]["patient"]["mrn"] == "MRN-4417"
    event = AccessEvent.objects.get(action=AccessAction.SEARCH_REQUESTS)
    assert event.detail.startswith("search (api): 1 results; matched patient name; term ")


def test_the_api_answers_400_for_a_short_term_and_an_empty_list_for_a_miss(john, alice, client_for):
    client = client_for(alice)
    short = client.get(API, {"q": "x"})
    assert short.status_code == 400
    assert "at least 2 characters" in short.json()["q"][0]
    miss = client.get(API, {"q": "Quackenbush"})
    assert miss.status_code == 200
    assert miss.json()["results"] == []


def test_the_api_leaves_out_restricted_requests_the_caller_may_not_open(restricted, alice, client_for, api_token_for):
    rr, bob = restricted
    term = {"q": rr.tracking_number}
    assert client_for(alice).get(API, term).json()["results"] == []
    assert [r["tracking_number"] for r in client_for(bob).get(API, term).json()["results"]] == [rr.tracking_number]
    _, without = api_token_for(alice, rr.tenant, scopes=(ApiScope.READ,))
    assert Client().get(API, term, HTTP_AUTHORIZATION=f"Token {without}").json()["results"] == []
    _, with_scope = api_token_for(alice, rr.tenant, scopes=(ApiScope.READ, ApiScope.RESTRICTED))
    found = Client().get(API, term, HTTP_AUTHORIZATION=f"Token {with_scope}").json()["results"]
    assert [r["tracking_number"] for r in found] == [rr.tracking_number]


def test_the_schema_documents_q(alice, client_for):
    schema = client_for(alice).get("/api/schema/", {"format": "json"}).json()
    parameters = schema["paths"]["/api/v1/requests/"]["get"]["parameters"]
    q = next(p for p in parameters if p["name"] == "q")
    assert q["in"] == "query"
    assert "tracking number" in q["description"]


def test_the_images_access_log_names_the_path_only():
    """gunicorn's default access line carries the query string, where a search holds a patient's name."""
    import json
    import re as regex
    from pathlib import Path

    dockerfile = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()
    command = json.loads(regex.search(r"^CMD (\[.*?\])$", dockerfile, regex.S | regex.M)[1].replace("\\\n", ""))
    log_format = command[command.index("--access-logformat") + 1]
    assert "%(U)s" in log_format
    for with_query in ("%(r)s", "%(q)s", "%(f)s"):  # request line, query string, referrer
        assert with_query not in log_format
