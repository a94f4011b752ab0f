"""One timeline of everything that happened to a request (workflow/timeline.py): each kind of entry from each app,
newest first, who did it; the filter that shows what was said to the requestor in one click; a fixed number of SQL
statements whatever the number of entries; the timeline route on its own, audited."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from exceptions.models import EscalationEvent, EscalationRule
from exceptions.services import exception_open, exception_resolve
from intake.models import Letter
from intake.notices import requestor_notify
from roi import clock
from roi.choices import AccessAction
from roi.models import AccessEvent
from tests import factories
from tests.fulfillment.factories import DeliveryFactory, ReleasePacketFactory
from workflow.choices import TimelineCategory
from workflow.notes import request_note_add, request_note_edit
from workflow.services import status_call_log
from workflow.timeline import request_timeline_entries

# Pinned: transitions, status calls, notes, the portal views' count for the follow-up line (workflow); letters and
# requestor emails (intake); episodes and escalations (exceptions); deliveries, the revocation relied on and refused
# releases (fulfillment); the requestor's portal views and uploads (portal). If it moves, look for an N+1 first.
TIMELINE_QUERIES = 12
# The timeline route: session, user, memberships (tenant middleware), the request, the access event, the timeline.
TIMELINE_ROUTE_QUERIES = 5 + TIMELINE_QUERIES


def _at(minutes: int) -> datetime:
    return datetime(2026, 3, 2, 15, 0, tzinfo=UTC) + timedelta(minutes=minutes)


def _everything(rr, *, tenant, staff, times: int = 1, start: int = 0) -> None:
    """`times` of each kind of entry on `rr`, one minute apart, in the order the kinds are listed."""
    minute = start
    for n in range(times):
        with clock.frozen(_at(minute := minute + 1)):
            exception_open(
                tenant=tenant, actor=staff, record_request=rr, reason="awaiting_department", detail="Films missing.",
                next_step="Call imaging", next_action_due=date(2026, 3, 9),
            )  # fmt: skip
        with clock.frozen(_at(minute := minute + 1)):
            status_call_log(tenant=tenant, actor=staff, record_request=rr, caller="requestor", outcome="status_given")
        with clock.frozen(_at(minute := minute + 1)):
            request_note_add(tenant=tenant, actor=staff, record_request=rr, text=f"Called imaging ({n})")
        rule = EscalationRule.objects.create(tenant=tenant, name=f"Stuck {n}", max_days_to_legal_due=5)
        EscalationEvent.objects.create(
            tenant=tenant, rule=rule, request=rr, level=1, fired_at=_at(minute := minute + 1), summary="due soon"
        )
        with clock.frozen(_at(minute := minute + 1)):
            exception_resolve(tenant=tenant, actor=staff, record_request=rr, resolution=f"Films arrived ({n})")
        letter = Letter(
            tenant=tenant, request=rr, kind="acknowledgment", sha256="0" * 64, generated_at=_at(minute := minute + 1),
            generated_by=staff,
        )  # fmt: skip
        letter.file.save("ack.pdf", ContentFile(b"%PDF-1.4\n"), save=True)
        requestor_notify(tenant=tenant, record_request=rr, event="sent", occurrence=f"t{n}")
        DeliveryFactory(
            packet=ReleasePacketFactory(request=rr, tenant=tenant), delivered_at=_at(minute := minute + 1),
            delivered_by=staff,
        )  # fmt: skip
        factories.AccessEventFactory(
            tenant=tenant, action=AccessAction.PORTAL_STATUS_VIEW, request_id=rr.pk, actor_label="requestor"
        )
        document = factories.IntakeDocumentFactory(request=rr, tenant=tenant, source="portal")
        factories.AccessEventFactory(
            tenant=tenant, action=AccessAction.PORTAL_UPLOAD, request_id=rr.pk, actor_label="requestor",
            object_type="intake.IntakeDocument", object_id=str(document.pk), detail="Portal upload: Authorization (1 pages)",
        )  # fmt: skip


@pytest.fixture
def rr(tenant_a, media):
    return factories.RecordRequestFactory(
        tenant=tenant_a, requestor__email="paralegal@hartley.example.com", received_at=_at(-60 * 24)
    )


def test_every_kind_of_entry_is_on_the_timeline_newest_first_with_who_did_it(tenant_a, sam, rr):
    _everything(rr, tenant=tenant_a, staff=sam)
    timeline = request_timeline_entries(tenant=tenant_a, record_request=rr)
    titles = [e.title for e in timeline.entries]
    for expected in [
        "Received",
        "Received → Exception",
        "Exception opened: Awaiting imaging or another department",
        "Status call from the requestor",
        "Internal note",
        "Escalated: Stuck 0 (level 1)",
        "Exception → Received",
        "Exception resolved: Awaiting imaging or another department",
        "Acknowledgment generated",
        "Email to the requestor: Records sent",
        "Records delivered (mail)",
        "Viewed the status page",
        "Uploaded a document",
    ]:
        assert expected in titles, f"{expected!r} missing from {titles}"
    times = [e.at for e in timeline.entries]
    assert times == sorted(times, reverse=True)
    assert titles[-1] == "Received"
    by_title = {e.title: e for e in timeline.entries}
    assert by_title["Received"].who == "Requestor by fax"
    assert by_title["Internal note"].who == str(sam)
    assert by_title["Escalated: Stuck 0 (level 1)"].who == "System"
    assert by_title["Email to the requestor: Records sent"].who == "System"
    assert by_title["Uploaded a document"].who == "Requestor via portal"
    assert by_title["Viewed the status page"].who == "Requestor via portal"
    assert by_title["Acknowledgment generated"].link.startswith(f"/requests/{rr.tracking_number}/letters/")
    assert by_title["Uploaded a document"].link.startswith(f"/requests/{rr.tracking_number}/documents/")
    assert "paralegal@hartley.example.com" in by_title["Email to the requestor: Records sent"].detail


def test_the_requestor_filter_shows_only_what_passed_between_us_and_the_requestor(tenant_a, sam, rr):
    _everything(rr, tenant=tenant_a, staff=sam)
    everything = request_timeline_entries(tenant=tenant_a, record_request=rr)
    said = request_timeline_entries(tenant=tenant_a, record_request=rr, show="communication")
    assert {e.title for e in said.entries} == {
        "Status call from the requestor",
        "Acknowledgment generated",
        "Email to the requestor: Records sent",
        "Records delivered (mail)",
        "Viewed the status page",
        "Uploaded a document",
    }
    notes = request_timeline_entries(tenant=tenant_a, record_request=rr, show="note")
    assert [e.title for e in notes.entries] == ["Internal note"]
    changes = request_timeline_entries(tenant=tenant_a, record_request=rr, show="change")
    assert "Received → Exception" in {e.title for e in changes.entries}
    assert not {e.category for e in changes.entries} - {TimelineCategory.CHANGE}
    counts = {f.value: f.count for f in said.filters}
    assert counts == {"all": len(everything.entries), "communication": 6, "note": 1, "change": 6}
    assert [f.value for f in said.filters if f.selected] == ["communication"]
    # Anything else shows everything.
    assert len(request_timeline_entries(tenant=tenant_a, record_request=rr, show="bogus").entries) == counts["all"]


def test_the_filter_is_one_click_on_the_request_page(client_for, alice, tenant_a, sam, rr):
    _everything(rr, tenant=tenant_a, staff=sam)
    client = client_for(alice)
    detail = reverse("workflow:detail", args=[rr.tracking_number])
    panel = reverse("workflow:panel", args=[rr.tracking_number, "timeline"])
    assert f'hx-get="{panel}"' in client.get(detail).content.decode()  # it loads after the first paint
    assert f'href="{detail}?show=communication#timeline"' in client.get(panel, HTTP_HX_REQUEST="true").content.decode()
    # The filtered page hands its filter to the panel it loads.
    assert f'hx-get="{panel}?show=communication"' in client.get(detail + "?show=communication").content.decode()
    timeline = client.get(panel + "?show=communication", HTTP_HX_REQUEST="true").content.decode()
    assert "Status call from the requestor" in timeline
    assert "Internal note</strong>" not in timeline
    assert "Received → Exception" not in timeline


def test_an_edited_note_is_one_entry_with_its_earlier_versions(tenant_a, alice, rr):
    first = request_note_add(tenant=tenant_a, actor=alice, record_request=rr, text="v1")
    second = request_note_edit(tenant=tenant_a, actor=alice, record_request=rr, note_id=first.pk, text="v2")
    request_note_edit(tenant=tenant_a, actor=alice, record_request=rr, note_id=second.pk, text="v3")
    (entry,) = request_timeline_entries(tenant=tenant_a, record_request=rr, show="note").entries
    assert entry.detail == "v3"
    assert [v.text for v in entry.earlier] == ["v2", "v1"]


def _statements(tenant, rr) -> int:
    with CaptureQueriesContext(connection) as queries:
        request_timeline_entries(tenant=tenant, record_request=rr)
    return len(queries)


def test_the_timeline_costs_a_fixed_number_of_statements_whatever_its_length(tenant_a, sam, media):
    quiet = factories.RecordRequestFactory(tenant=tenant_a)
    busy = factories.RecordRequestFactory(tenant=tenant_a, requestor__email="someone@example.com")
    _everything(busy, tenant=tenant_a, staff=sam, times=3)
    assert len(request_timeline_entries(tenant=tenant_a, record_request=busy).entries) == 3 * 12 + 1  # and the receipt
    assert _statements(tenant_a, quiet) == _statements(tenant_a, busy) == TIMELINE_QUERIES


def test_the_timeline_route_renders_the_timeline_alone_and_is_audited(client_for, alice, tenant_a, sam, rr):
    _everything(rr, tenant=tenant_a, staff=sam)
    client = client_for(alice)
    url = reverse("workflow:timeline", args=[rr.tracking_number])
    client.get(url)  # the session's first page stores the chosen tenant: not counted
    before = AccessEvent.objects.filter(action=AccessAction.VIEW_REQUEST).count()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url + "?show=communication")
    assert response.status_code == 200
    assert len(queries) == TIMELINE_ROUTE_QUERIES
    page = response.content.decode()
    assert page.lstrip().startswith('<div class="timeline-card" id="timeline">')  # a fragment, no page around it
    assert "<html" not in page
    assert "Status call from the requestor" in page
    assert "Received → Exception" not in page
    event = AccessEvent.objects.filter(action=AccessAction.VIEW_REQUEST).latest("id")
    assert AccessEvent.objects.filter(action=AccessAction.VIEW_REQUEST).count() == before + 1
    assert (event.actor, event.request_id, event.patient_id) == (alice, rr.pk, rr.patient_id)


def test_another_tenants_timeline_answers_404(client_for, alice, tenant_b):
    b_request = factories.RecordRequestFactory(tenant=tenant_b)
    assert client_for(alice).get(reverse("workflow:timeline", args=[b_request.tracking_number])).status_code == 404
