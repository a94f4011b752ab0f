"""Restricted requests and break-glass access (workflow/break_glass.py; docs/security.md, "Restricted requests
and break-glass").

Personas: tenant A with Alice (specialist) and Sam (supervisor); tenant B with Charlie. A request with a sensitive
category opens only for its assignee; a supervisor who is not the assignee opens it by break-glass with a reason,
which is recorded and reported."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from roi import clock
from roi.choices import AccessAction, ApiScope, Role
from roi.models import AccessEvent
from tests import factories
from tests.fulfillment.factories import ReleasePacketFactory
from workflow.break_glass import BREAK_GLASS_MINUTES
from workflow.choices import SensitiveCategory
from workflow.models import BreakGlassGrant, RecordRequest
from workflow.views.base import RequestView

GOOD_REASON = "Patient in the ED, treating physician needs prior SUD treatment history now"


@pytest.fixture
def bob(tenant_a):
    """Another specialist of tenant A, the assignee of the restricted request."""
    return factories.MembershipFactory(tenant=tenant_a, user__username="bob", role=Role.SPECIALIST).user


@pytest.fixture
def restricted(tenant_a, bob):
    return factories.RecordRequestFactory(
        tenant=tenant_a,
        assignee=bob,
        sensitive_categories=[SensitiveCategory.SUD_PART2],
        patient__first_name="Zebulon",
        patient__last_name="Quartermaine",
        patient__mrn="MRN-SECRET-77",
    )


def detail_url(rr: RecordRequest) -> str:
    return reverse("workflow:detail", args=[rr.tracking_number])


def break_glass(client, rr: RecordRequest, **data):
    return client.post(reverse("workflow:break_glass", args=[rr.tracking_number]), data)


def test_a_specialist_who_is_not_the_assignee_gets_the_restricted_page_without_phi(restricted, alice, client_for):
    response = client_for(alice).get(detail_url(restricted))
    assert response.status_code == 403
    html = response.content.decode()
    assert "Restricted request" in html
    assert restricted.tracking_number in html
    for value in ("Zebulon", "Quartermaine", "MRN-SECRET-77"):
        assert value not in html
    assert "born" not in html
    assert "Open by break-glass" not in html  # specialists get no form
    assert "Ask a supervisor" in html
    assert not AccessEvent.objects.filter(action=AccessAction.VIEW_REQUEST, request_id=restricted.pk).exists()


def test_the_assignee_opens_a_restricted_request_normally(restricted, bob, client_for):
    response = client_for(bob).get(detail_url(restricted))
    assert response.status_code == 200
    assert "Quartermaine" in response.content.decode()
    assert "Opened by break-glass" not in response.content.decode()
    assert AccessEvent.objects.filter(action=AccessAction.VIEW_REQUEST, request_id=restricted.pk, actor=bob).exists()


def test_a_supervisor_sees_the_break_glass_form(restricted, sam, client_for):
    response = client_for(sam).get(detail_url(restricted))
    assert response.status_code == 403
    html = response.content.decode()
    assert "Open by break-glass" in html
    assert "recorded and reviewed" in html
    assert "Quartermaine" not in html


def test_break_glass_without_a_reason_says_what_to_fix_and_saves_nothing(restricted, sam, client_for):
    events = AccessEvent.objects.count()
    response = break_glass(client_for(sam), restricted, reason="", confirm="on")
    assert response.status_code == 400
    assert "Give the reason you need this request now (at least 20 characters)." in response.content.decode()
    assert not BreakGlassGrant.objects.exists()
    assert AccessEvent.objects.count() == events
    assert "Quartermaine" not in response.content.decode()


def test_break_glass_with_a_short_reason_is_refused(restricted, sam, client_for):
    response = break_glass(client_for(sam), restricted, reason="urgent", confirm="on")
    assert response.status_code == 400
    assert "The reason is too short (6 characters)" in response.content.decode()
    assert not BreakGlassGrant.objects.exists()


def test_break_glass_needs_the_confirmation(restricted, sam, client_for):
    response = break_glass(client_for(sam), restricted, reason=GOOD_REASON)
    assert response.status_code == 400
    assert "Tick the box to confirm" in response.content.decode()
    assert GOOD_REASON in response.content.decode()  # the reason is kept
    assert not BreakGlassGrant.objects.exists()


def test_break_glass_with_a_good_reason_records_it_and_opens_the_request(restricted, sam, tenant_a, client_for):
    client = client_for(sam)
    response = break_glass(client, restricted, reason=GOOD_REASON, confirm="on")
    assert response.status_code == 302
    assert response["Location"] == detail_url(restricted)
    grant = BreakGlassGrant.objects.get()
    assert (grant.tenant, grant.request, grant.user, grant.reason) == (tenant_a, restricted, sam, GOOD_REASON)
    assert grant.expires_at - grant.granted_at == timedelta(minutes=BREAK_GLASS_MINUTES)
    assert grant.ip_address == "127.0.0.1"
    event = AccessEvent.objects.get(action=AccessAction.BREAK_GLASS)
    assert (event.actor, event.request_id, event.patient_id) == (sam, restricted.pk, restricted.patient_id)
    assert GOOD_REASON in event.detail

    page = client.get(detail_url(restricted))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Quartermaine" in html
    until = grant.expires_at.astimezone(tenant_a.tzinfo)
    assert f"Opened by break-glass until {until:%H:%M}" in html
    assert GOOD_REASON in html
    # The page view under the grant is audited like any other.
    assert AccessEvent.objects.filter(action=AccessAction.VIEW_REQUEST, request_id=restricted.pk, actor=sam).exists()


def test_a_specialist_cannot_break_the_glass(restricted, alice, client_for):
    response = break_glass(client_for(alice), restricted, reason=GOOD_REASON, confirm="on")
    assert response.status_code == 403
    assert not BreakGlassGrant.objects.exists()


def test_the_grant_runs_out(restricted, sam, client_for):
    client = client_for(sam)
    break_glass(client, restricted, reason=GOOD_REASON, confirm="on")
    assert client.get(detail_url(restricted)).status_code == 200
    later = clock.now() + timedelta(minutes=BREAK_GLASS_MINUTES, seconds=1)
    with clock.frozen(later):
        response = client.get(detail_url(restricted))
    assert response.status_code == 403
    assert "Quartermaine" not in response.content.decode()


def test_the_pages_and_downloads_under_the_request_are_covered(restricted, sam, alice, client_for, media):
    packet = ReleasePacketFactory(request=restricted, version=1)
    urls = [
        reverse("intake:checklist", args=[restricted.tracking_number]),
        reverse("intake:details", args=[restricted.tracking_number]),
        reverse("fulfillment:packet-download", args=[restricted.tracking_number, packet.pk]),
    ]
    for user in (alice, sam):
        client = client_for(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 403, url
            assert b"Quartermaine" not in response.content
    # Actions too: a transition posted by someone who may not open the request changes nothing.
    response = client_for(alice).post(
        reverse("workflow:transition", args=[restricted.tracking_number, "cancel"]),
        {"expected_state": restricted.state, "reason": "not needed"},
    )
    assert response.status_code == 403
    restricted.refresh_from_db()
    assert restricted.state == "received"
    # Under a grant the download opens.
    client = client_for(sam)
    break_glass(client, restricted, reason=GOOD_REASON, confirm="on")
    assert client.get(urls[2]).status_code == 200


def test_another_tenants_request_answers_404_not_the_restricted_page(restricted, charlie, client_for):
    client = client_for(charlie)
    assert client.get(detail_url(restricted)).status_code == 404
    assert client.get(reverse("intake:checklist", args=[restricted.tracking_number])).status_code == 404
    assert break_glass(client, restricted, reason=GOOD_REASON, confirm="on").status_code == 404
    assert not BreakGlassGrant.objects.exists()


def test_a_request_without_sensitive_categories_is_unaffected(tenant_a, bob, alice, client_for):
    rr = factories.RecordRequestFactory(tenant=tenant_a, assignee=bob)
    assert client_for(alice).get(detail_url(rr)).status_code == 200


def test_with_the_tenant_setting_off_nothing_is_restricted(restricted, tenant_a, alice, client_for):
    tenant_a.restricted_requests_need_break_glass = False
    tenant_a.save()
    response = client_for(alice).get(detail_url(restricted))
    assert response.status_code == 200
    assert "Quartermaine" in response.content.decode()


def test_an_unassigned_restricted_request_can_be_claimed_and_then_opens(tenant_a, alice, client_for):
    rr = factories.RecordRequestFactory(tenant=tenant_a, sensitive_categories=[SensitiveCategory.HIV])
    client = client_for(alice)
    page = client.get(detail_url(rr))
    assert page.status_code == 403
    assert "Claim it" in page.content.decode()
    response = client.post(reverse("workflow:assign", args=[rr.tracking_number]), {"claim": "1"})
    assert response.status_code == 302
    rr.refresh_from_db()
    assert rr.assignee == alice
    assert client.get(detail_url(rr)).status_code == 200


def test_claim_next_from_the_queue_takes_a_restricted_request(tenant_a, alice, client_for):
    rr = factories.RecordRequestFactory(tenant=tenant_a, sensitive_categories=[SensitiveCategory.MENTAL_HEALTH])
    client = client_for(alice)
    response = client.post(reverse("workflow:claim_next"))
    assert response["Location"] == detail_url(rr)
    assert client.get(detail_url(rr)).status_code == 200


def test_the_queue_masks_the_patient_of_a_request_the_user_cannot_open(restricted, alice, bob, client_for):
    queue = reverse("workflow:queue") + "?state="
    assert "Quartermaine" not in client_for(alice).get(queue).content.decode()
    assert "Restricted" in client_for(alice).get(queue).content.decode()
    assert "Quartermaine" in client_for(bob).get(queue).content.decode()


def test_the_api_follows_the_rule_for_staff_sessions_and_the_restricted_scope_for_tokens(
    restricted, alice, bob, client_for, api_token_for, tenant_a
):
    url = reverse("request-detail", args=[restricted.tracking_number])
    assert client_for(alice).get(url).status_code == 403
    assert client_for(bob).get(url).status_code == 200
    # An integration has no assignment: its token needs the explicit scope, and without it the request is missing.
    _, without = api_token_for(alice, tenant_a, scopes=(ApiScope.READ,))
    assert Client().get(url, HTTP_AUTHORIZATION=f"Token {without}").status_code == 404
    _, with_scope = api_token_for(alice, tenant_a, scopes=(ApiScope.READ, ApiScope.RESTRICTED))
    assert Client().get(url, HTTP_AUTHORIZATION=f"Token {with_scope}").status_code == 200


def test_the_report_lists_the_grant_and_its_csv_has_it(restricted, sam, client_for):
    client = client_for(sam)
    break_glass(client, restricted, reason=GOOD_REASON, confirm="on")
    client.get(detail_url(restricted))  # viewed under the grant
    response = client.get(reverse("reporting:break-glass"))
    assert response.status_code == 200
    html = response.content.decode()
    assert restricted.tracking_number in html
    assert GOOD_REASON in html
    assert AccessEvent.objects.filter(
        action=AccessAction.VIEW_AUDIT, actor=sam, detail__startswith="break-glass"
    ).exists()

    export = client.get(reverse("reporting:break-glass") + "?export=csv")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0][:3] == ["grant id", "granted at", "user"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["tracking number"] == restricted.tracking_number
    assert row["reason"] == GOOD_REASON
    assert row["viewed during grant"] == "yes"
    assert AccessEvent.objects.filter(action=AccessAction.EXPORT, actor=sam).exists()


def test_the_report_filters_by_period_and_is_for_supervisors(restricted, sam, alice, client_for, tenant_a):
    client = client_for(sam)
    break_glass(client, restricted, reason=GOOD_REASON, confirm="on")
    assert client_for(alice).get(reverse("reporting:break-glass")).status_code == 403
    today = clock.now().astimezone(tenant_a.tzinfo).date()
    old = client.get(reverse("reporting:break-glass"), {"date_to": (today - timedelta(days=1)).isoformat()})
    assert restricted.tracking_number not in old.content.decode()
    bad = client.get(reverse("reporting:break-glass"), {"date_from": "2026-02-30"})
    assert bad.status_code == 400
    assert "Enter a date as YYYY-MM-DD." in bad.content.decode()


def test_another_tenants_grants_stay_off_the_report(restricted, sam, charlie, tenant_b, client_for):
    break_glass(client_for(sam), restricted, reason=GOOD_REASON, confirm="on")
    boss = factories.MembershipFactory(tenant=tenant_b, user__username="bea", role=Role.SUPERVISOR).user
    html = client_for(boss).get(reverse("reporting:break-glass")).content.decode()
    assert restricted.tracking_number not in html


def test_the_dashboard_counts_break_glass_accesses(restricted, sam, client_for):
    client = client_for(sam)
    break_glass(client, restricted, reason=GOOD_REASON, confirm="on")
    html = client.get(reverse("reporting:dashboard")).content.decode()
    assert "Break-glass accesses" in html


def _tracking_number_views(resolver: URLResolver | None = None, prefix: str = "") -> list[tuple[str, type]]:
    found = []
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            found += _tracking_number_views(entry, route)
        elif isinstance(entry, URLPattern) and "<tracking:tracking_number>" in route and route.startswith("requests/"):
            found.append((route, getattr(entry.callback, "view_class", None)))
    return found


def test_every_staff_page_of_a_request_is_a_request_view_and_goes_through_the_check():
    """A new page or action under /requests/<tracking_number>/ that does not build on workflow's RequestView (and so
    skips its lookup and the restricted-request check) fails here."""
    views = _tracking_number_views()
    assert len(views) > 30
    missing = [route for route, view in views if view is None or not issubclass(view, RequestView)]
    assert missing == []
