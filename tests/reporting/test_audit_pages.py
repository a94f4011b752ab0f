"""The audit pages (reporting/audit_views.py): tenant admins only, scoped to the tenant, filters that say what to
fix, a fixed number of queries per page, CSV exports, and an access event for every look at them."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reporting import audit
from roi.audit import access_record
from roi.choices import AccessAction, Role
from roi.models import AccessEvent
from tests import factories

EVENTS = reverse("reporting:audit-events")
PATIENT = reverse("reporting:audit-patient")
USER = reverse("reporting:audit-user")


@pytest.fixture
def ada(tenant_a):
    """Tenant A's admin: the audit pages' reader."""
    return factories.MembershipFactory(tenant=tenant_a, user__username="ada", role=Role.ADMIN).user


@pytest.fixture
def viewed(tenant_a, alice, rf, request_in_state):
    """Alice viewed a request and downloaded a document; a portal requestor looked up its status."""
    rr = request_in_state("validated")
    http = rf.get("/", REMOTE_ADDR="10.9.8.7", HTTP_USER_AGENT="=HYPERLINK(evil)")
    ids = {"request_id": rr.pk, "patient_id": rr.patient_id}
    access_record(tenant=tenant_a, actor=alice, action=AccessAction.VIEW_REQUEST, request=http, obj=rr, **ids)
    access_record(tenant=tenant_a, actor=alice, action=AccessAction.DOWNLOAD_DOCUMENT, request=http, **ids)
    access_record(
        tenant=tenant_a, actor=None, action=AccessAction.PORTAL_LOOKUP, actor_label="portal requestor (verified)", **ids
    )
    return rr


def _csv(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def _audit_events(actor) -> list[AccessEvent]:
    return list(AccessEvent.objects.filter(actor=actor, action__in=[AccessAction.VIEW_AUDIT, AccessAction.EXPORT]))


# --- Who may read them ----------------------------------------------------------------------------------------


def _all_pages(rr) -> list[str]:
    return [
        EVENTS,
        f"{PATIENT}?mrn={rr.patient.mrn}",
        f"{USER}?user={rr.patient_id}",
        reverse("reporting:audit-request", args=[rr.tracking_number]),
    ]


@pytest.mark.parametrize("persona", ["alice", "sam"])
def test_specialists_and_supervisors_get_403(persona, request, client_for, viewed):
    client = client_for(request.getfixturevalue(persona))
    for url in _all_pages(viewed):
        assert client.get(url).status_code == 403, url
        assert client.get(url + ("&" if "?" in url else "?") + "export=csv").status_code == 403, url


def test_anonymous_callers_go_to_login(client, viewed):
    for url in _all_pages(viewed):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_the_nav_links_the_audit_pages_for_admins_only(client_for, ada, sam):
    assert f'href="{EVENTS}"' in client_for(ada).get(reverse("workflow:queue")).content.decode()
    assert f'href="{EVENTS}"' not in client_for(sam).get(reverse("workflow:queue")).content.decode()


def test_another_tenants_request_patient_and_user_look_missing(client_for, ada, tenant_b, charlie):
    b_request = factories.RecordRequestFactory(tenant=tenant_b)
    access_record(tenant=tenant_b, actor=charlie, action=AccessAction.VIEW_REQUEST, request_id=b_request.pk)
    client = client_for(ada)
    assert client.get(reverse("reporting:audit-request", args=[b_request.tracking_number])).status_code == 404
    response = client.get(PATIENT, {"mrn": b_request.patient.mrn})
    assert response.status_code == 400
    assert f"No patient with MRN {b_request.patient.mrn}." in response.content.decode()
    response = client.get(EVENTS, {"tracking_number": b_request.tracking_number})
    assert f"No request with tracking number {b_request.tracking_number}." in response.content.decode()
    assert client.get(USER, {"user": charlie.pk}).status_code == 400
    page = client.get(EVENTS).content.decode()
    assert "charlie" not in page
    assert b_request.tracking_number not in page


# --- The access events list -------------------------------------------------------------------------------------


def test_the_list_shows_events_with_patient_and_request_in_the_tenant_timezone(client_for, ada, viewed, tenant_a):
    response = client_for(ada).get(EVENTS)
    page = response.content.decode()
    assert response.status_code == 200
    event = AccessEvent.objects.filter(action=AccessAction.VIEW_REQUEST).get()
    local = event.at.astimezone(tenant_a.tzinfo).strftime("%Y-%m-%d %H:%M:%S")
    assert local in page
    assert viewed.tracking_number in page
    assert f"{viewed.patient.last_name}, {viewed.patient.first_name}" in page
    assert "portal requestor (verified)" in page


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"user": "alice"}, {AccessAction.VIEW_REQUEST, AccessAction.DOWNLOAD_DOCUMENT}),
        ({"action": AccessAction.PORTAL_LOOKUP}, {AccessAction.PORTAL_LOOKUP}),
        ({"mrn": "patient"}, {AccessAction.VIEW_REQUEST, AccessAction.DOWNLOAD_DOCUMENT, AccessAction.PORTAL_LOOKUP}),
        ({"tracking_number": "request"}, {AccessAction.VIEW_REQUEST, AccessAction.DOWNLOAD_DOCUMENT,
                                          AccessAction.PORTAL_LOOKUP}),
        ({"date_from": "tomorrow"}, set()),
        ({"date_to": "yesterday"}, set()),
        ({"date_from": "today", "date_to": "today"}, {AccessAction.VIEW_REQUEST, AccessAction.DOWNLOAD_DOCUMENT,
                                                       AccessAction.PORTAL_LOOKUP, AccessAction.EXPORT}),
    ],
)  # fmt: skip
def test_the_list_filters(params, expected, client_for, ada, alice, viewed, tenant_a):
    # Another patient's event, to be filtered out by patient and request.
    access_record(tenant=tenant_a, actor=ada, action=AccessAction.EXPORT, patient_id=viewed.patient_id + 1000)
    today = timezone.now().astimezone(tenant_a.tzinfo).date()
    values = {
        "alice": str(alice.pk),
        "patient": viewed.patient.mrn.lower(),
        "request": viewed.tracking_number.lower(),
        "tomorrow": (today + timedelta(days=1)).isoformat(),
        "yesterday": (today - timedelta(days=1)).isoformat(),
        "today": today.isoformat(),
    }
    query = {key: values.get(value, value) for key, value in params.items()}
    rows = _csv(client_for(ada).get(EVENTS, {**query, "export": "csv"}))
    assert {row[4] for row in rows[1:]} == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"date_from": "2024-13-45"}, "Enter a date as YYYY-MM-DD."),
        ({"date_from": "2024-05-02", "date_to": "2024-05-01"}, "The end date is before the start date."),
        ({"mrn": "NOPE-1"}, "No patient with MRN NOPE-1."),
        ({"action": "hack"}, "Select a valid choice."),
    ],
)
def test_bad_filters_say_what_to_fix(params, message, client_for, ada):
    response = client_for(ada).get(EVENTS, params)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not _audit_events(ada), "nothing was shown, nothing to record"


def test_the_list_pages_by_id_and_costs_the_same_queries_at_any_length(
    client_for, ada, tenant_a, django_assert_num_queries, monkeypatch
):
    monkeypatch.setattr(audit, "PAGE_SIZE", 3)
    client = client_for(ada)
    client.get(EVENTS)  # session and caches warm
    events = [access_record(tenant=tenant_a, actor=ada, action=AccessAction.EXPORT, patient_id=i) for i in range(7)]
    # session, user, memberships, unread notices, staff for the form, this view's access event, the page
    with django_assert_num_queries(7):
        first = client.get(EVENTS, {"action": AccessAction.EXPORT})
    page = first.content.decode()
    assert page.count("<tr>") == 1 + 3
    assert f"before={events[4].pk}" in page
    with django_assert_num_queries(7):
        second = client.get(EVENTS, {"action": AccessAction.EXPORT, "before": events[4].pk})
    assert second.content.decode().count("<tr>") == 1 + 3
    third = client.get(EVENTS, {"action": AccessAction.EXPORT, "before": events[1].pk}).content.decode()
    assert third.count("<tr>") == 1 + 1
    assert "Older" not in third


def test_viewing_and_exporting_write_access_events_with_the_filters(client_for, ada, alice, viewed):
    client = client_for(ada)
    client.get(EVENTS, {"user": alice.pk, "tracking_number": viewed.tracking_number})
    view = AccessEvent.objects.get(actor=ada, action=AccessAction.VIEW_AUDIT)
    assert view.detail == f"audit events: user id {alice.pk}, request {viewed.tracking_number}"
    assert (view.request_id, view.patient_id) == (viewed.pk, viewed.patient_id)
    _csv(client.get(EVENTS, {"mrn": viewed.patient.mrn, "export": "csv"}))
    export = AccessEvent.objects.get(actor=ada, action=AccessAction.EXPORT)
    assert export.detail == f"audit events CSV: MRN {viewed.patient.mrn}"
    assert export.patient_id == viewed.patient_id


def test_the_csv_has_every_column_and_defuses_formulas(client_for, ada, viewed, tenant_a):
    rows = _csv(client_for(ada).get(EVENTS, {"action": AccessAction.VIEW_REQUEST, "export": "csv"}))
    assert rows[0] == audit.EVENT_COLUMNS
    (row,) = rows[1:]
    event = AccessEvent.objects.get(action=AccessAction.VIEW_REQUEST)
    record = dict(zip(rows[0], row, strict=True))
    assert record["time"] == event.at.astimezone(tenant_a.tzinfo).isoformat()
    assert (record["user"], record["tracking number"], record["patient MRN"]) == (
        "alice",
        viewed.tracking_number,
        viewed.patient.mrn,
    )
    assert (record["IP address"], record["user agent"]) == ("10.9.8.7", "'=HYPERLINK(evil)")
    assert record["row hash"] == event.row_hash


# --- Who accessed this patient ----------------------------------------------------------------------------------


def test_the_patient_report_groups_by_who_with_counts_and_actions(client_for, ada, viewed):
    client = client_for(ada)
    response = client.get(PATIENT, {"mrn": viewed.patient.mrn})
    assert response.status_code == 200
    accessors = {a["actor_label"]: a for a in response.context["accessors"]}
    assert set(accessors) == {"alice", "portal requestor (verified)"}
    assert accessors["alice"]["count"] == 2
    assert accessors["alice"]["action_labels"] == ["Downloaded document", "Viewed request"]
    assert len(response.context["rows"]) == 3
    page = response.content.decode()
    assert "Portal: verified status lookup" in page
    view = AccessEvent.objects.get(actor=ada, action=AccessAction.VIEW_AUDIT)
    assert view.patient_id == viewed.patient_id
    rows = _csv(client.get(PATIENT, {"mrn": viewed.patient.mrn, "export": "csv"}))
    assert len(rows) == 1 + 3 + 1  # header, the three events, and the page view just recorded


def test_the_patient_report_asks_for_an_mrn(client_for, ada):
    client = client_for(ada)
    assert client.get(PATIENT).status_code == 200
    response = client.get(PATIENT, {"mrn": ""})
    assert response.status_code == 400
    assert "Enter the patient&#x27;s MRN." in response.content.decode()


# --- Everything this user did -------------------------------------------------------------------------------------


def test_the_user_report_lists_access_events_and_transitions(client_for, ada, sam, alice, viewed):
    client = client_for(ada)
    response = client.get(USER, {"user": sam.pk})
    assert response.status_code == 200
    assert [t.transition for t in response.context["transitions"]] == ["validate"]
    assert response.context["rows"] == []
    response = client.get(USER, {"user": alice.pk})
    assert {e.action for e in response.context["rows"]} == {AccessAction.VIEW_REQUEST, AccessAction.DOWNLOAD_DOCUMENT}
    rows = _csv(client.get(USER, {"user": sam.pk, "export": "transitions"}))
    assert rows[0] == audit.TRANSITION_COLUMNS
    assert [row[4] for row in rows[1:]] == ["validate"]
    assert (
        AccessEvent.objects.filter(actor=ada, action=AccessAction.EXPORT)
        .get()
        .detail.startswith("user audit CSV, transitions:")
    )


def test_the_user_report_covers_former_staff(client_for, ada, tenant_a):
    former = factories.MembershipFactory(tenant=tenant_a, user__username="former", is_active=False).user
    access_record(tenant=tenant_a, actor=former, action=AccessAction.EXPORT)
    response = client_for(ada).get(USER, {"user": former.pk})
    assert response.status_code == 200
    assert len(response.context["rows"]) == 1
    assert "membership inactive" in response.content.decode()


# --- One request's trail ------------------------------------------------------------------------------------------


def test_the_request_trail_combines_access_transitions_and_field_changes(client_for, ada, viewed, sam):
    viewed.scope_notes = "Call the requestor back"
    viewed.save()
    client = client_for(ada)
    url = reverse("reporting:audit-request", args=[viewed.tracking_number])
    response = client.get(url)
    assert response.status_code == 200
    entries = response.context["entries"]
    assert {e.source for e in entries} == {"Access", "Transition", "Change"}
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    (transition,) = [e for e in entries if e.source == "Transition"]
    assert (transition.who, transition.what) == ("sam", "validate: Received → Validated")
    assert any(e.source == "Change" and "scope_notes: — → Call the requestor back" in e.detail for e in entries)
    assert "Portal: verified status lookup" in response.content.decode()
    rows = _csv(client.get(url, {"export": "csv"}))
    assert rows[0] == audit.TRAIL_COLUMNS
    assert len(rows) == 1 + len(entries) + 1  # the page view above is in the export
    actions = list(AccessEvent.objects.filter(actor=ada).order_by("id").values_list("action", "request_id"))
    assert actions == [(AccessAction.VIEW_AUDIT, viewed.pk), (AccessAction.EXPORT, viewed.pk)]


def test_the_request_page_links_its_trail_for_admins(client_for, ada, alice, viewed):
    link = reverse("reporting:audit-request", args=[viewed.tracking_number])
    assert (
        link
        in client_for(ada)
        .get(reverse("workflow:detail", args=[viewed.tracking_number]) + "?panels=all")
        .content.decode()
    )
    assert (
        link
        not in client_for(alice)
        .get(reverse("workflow:detail", args=[viewed.tracking_number]) + "?panels=all")
        .content.decode()
    )
