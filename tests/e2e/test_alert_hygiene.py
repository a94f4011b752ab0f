"""A supervisor's first morning in a real browser: the escalations inbox filtered to one rule, every row shown
acknowledged at once, a closed escalation explained, then the notifications grouped by kind and all marked read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from exceptions.models import EscalationEvent, EscalationRule
from roi.models import Notification
from tests.e2e.axe import axe_violations, describe
from workflow import transitions
from workflow.choices import RequestState
from workflow.models import RecordRequest

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_supervisor_acknowledges_every_escalation_shown_and_reads_all_notices(
    live_server, login, sam, alice, tenant_a, request_in_state, tmp_path
):
    shots = Path(os.environ.get("ROI_SCREENSHOT_DIR", tmp_path))
    due = EscalationRule.objects.create(tenant=tenant_a, name="Legal due within 5 days", level=1)
    passed = EscalationRule.objects.create(tenant=tenant_a, name="Legal due date passed", level=2)
    requests = [request_in_state(RequestState.IN_FULFILLMENT, assignee=alice) for _ in range(4)]
    events = []
    for index, rr in enumerate(requests):
        rule = passed if index == 0 else due
        event = EscalationEvent.objects.create(
            tenant=tenant_a, rule=rule, request=rr, level=rule.level, fired_at=timezone.now(),
            summary="legal due date passed 2 days ago" if index == 0 else f"legal due in {index + 1} days",
        )  # fmt: skip
        Notification.objects.create(
            tenant=tenant_a, recipient=sam, kind="escalation", subject=f"Escalation: {rr.tracking_number}",
            body="Escalation rule.", link=f"/requests/{rr.tracking_number}/", dedupe_key=f"escalation:{event.pk}:{sam.pk}",
        )  # fmt: skip
        events.append(event)
    # The last one's request is delivered: its escalation closes itself.
    RecordRequest.objects.filter(pk=requests[3].pk).update(qc_passed_at=timezone.now(), qc_passed_by=sam)
    transitions.request_deliver(tenant=tenant_a, actor=sam, record_request=requests[3], evidence="Fax confirmation 1")
    Notification.objects.create(
        tenant=tenant_a, recipient=sam, kind="assignment", subject="Assigned to you: ROI request", body="b",
        dedupe_key="assignment:1",
    )  # fmt: skip

    page = login(sam)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Escalations").click()
    expect(page.get_by_role("heading", name="To acknowledge")).to_contain_text("3")
    expect(page.locator("#acknowledged")).to_contain_text("Closed: request delivered on")

    page.get_by_label("Rule").select_option(label="Legal due within 5 days (level 1)")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#pending > li")).to_have_count(2)
    expect(page.get_by_role("button", name="Acknowledge all 2 shown")).to_be_visible()
    assert axe_violations(page) == [], describe(axe_violations(page))
    page.screenshot(path=str(shots / "escalations-inbox-filtered.png"), full_page=True)

    page.get_by_role("button", name="Acknowledge all 2 shown").click()
    expect(page.get_by_role("status")).to_contain_text("2 escalations acknowledged.")
    expect(page.get_by_label("Rule")).to_have_value(str(due.pk))  # the filters stay
    expect(page.locator("#pending")).to_contain_text("Nothing to acknowledge matches these filters.")
    page.screenshot(path=str(shots / "escalations-inbox-acknowledged.png"), full_page=True)
    for event in events:
        event.refresh_from_db()
    assert [e.acknowledged_by for e in events] == [None, sam, sam, None]
    assert events[3].closed_at is not None

    # The level-2 one is still there; tick it and acknowledge the ticked.
    page.get_by_role("link", name="Clear filters").click()
    page.get_by_label(f"Tick Legal due date passed for {requests[0].tracking_number}").check()
    page.get_by_role("button", name="Acknowledge ticked").click()
    expect(page.get_by_role("status")).to_contain_text("1 escalation acknowledged.")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Notifications").click()
    expect(page.locator("#notification-groups")).to_contain_text("1 request assigned to you")
    assert axe_violations(page) == [], describe(axe_violations(page))
    page.screenshot(path=str(shots / "notifications-grouped.png"), full_page=True)
    page.get_by_role("button", name="Mark all 1 read").click()
    expect(page.get_by_role("status")).to_contain_text("Marked read: 1 notification.")
    expect(page.locator(".unread-count")).to_have_count(0)
