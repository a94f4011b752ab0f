"""A supervisor's round in a real browser: the exception board, the stalled work in the queue, reassigning a stalled
request from its detail page, and acknowledging its escalation in the inbox."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from exceptions.models import EscalationEvent, EscalationRule, ExceptionEpisode
from workflow.choices import RequestState
from workflow.models import RecordRequest

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]


def test_supervisor_reassigns_a_stalled_request_and_acknowledges_its_escalation(
    live_server, login, sam, alice, tenant_a, request_in_state
):
    stalled = request_in_state(RequestState.EXCEPTION)
    moving = request_in_state(RequestState.IN_FULFILLMENT)
    RecordRequest.objects.filter(pk=stalled.pk).update(is_stalled=True)
    episode = ExceptionEpisode.objects.get(request=stalled, resolved_at__isnull=True)
    rule = EscalationRule.objects.create(
        tenant=tenant_a, name="Stalled in exception", level=2, min_days_without_activity=5
    )
    event = EscalationEvent.objects.create(
        tenant=tenant_a, rule=rule, request=stalled, level=2, episode=episode, fired_at=timezone.now(),
        summary="No activity for 6 days while in exception",
    )  # fmt: skip

    page = login(sam)

    # The board: the stalled request's exception, with its one escalation.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Exceptions").click()
    expect(page.get_by_role("heading", name="Exception board")).to_be_visible()
    row = page.locator("#board-table tbody tr").filter(has=page.get_by_role("link", name=stalled.tracking_number))
    expect(row).to_contain_text("Awaiting imaging or another department")
    expect(row.locator("td").last).to_have_text("1")
    expect(page.locator("#board-table")).not_to_contain_text(moving.tracking_number)

    # The queue filtered to stalled work, then the request itself.
    page.goto(f"{live_server.url}/requests/?stalled=1")
    expect(page.get_by_role("link", name=moving.tracking_number)).to_have_count(0)
    page.get_by_role("link", name=stalled.tracking_number).click()
    expect(page).to_have_url(re.compile(rf"/requests/{stalled.tracking_number}/$"))

    assign = page.locator("form").filter(has=page.get_by_role("button", name="Assign", exact=True))
    assign.get_by_label("Assignee").select_option(label=str(alice))
    assign.get_by_role("button", name="Assign", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"Assigned to {alice}.")
    # The case summary's "Assigned to" fact names her (the label is the <dt>; the <dd> also holds the form).
    expect(page.locator(".assign > strong")).to_have_text(str(alice))

    # The inbox: the escalation waits for acknowledgement, then moves to the acknowledged list.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Escalations").click()
    pending = page.locator("#pending")
    item = pending.locator("li").filter(has_text=stalled.tracking_number)
    expect(item).to_contain_text("Stalled in exception")
    expect(item).to_contain_text("Level 2")
    expect(item).to_contain_text("No activity for 6 days while in exception")
    item.get_by_role("button", name="Acknowledge").click()

    expect(page.get_by_role("status")).to_contain_text(f"Escalation of {stalled.tracking_number} acknowledged.")
    expect(pending).not_to_contain_text(stalled.tracking_number)
    done = page.locator("#acknowledged li").filter(has_text=stalled.tracking_number)
    expect(done).to_contain_text(f"acknowledged by {sam}")
    event.refresh_from_db()
    assert event.acknowledged_by == sam
    assert event.acknowledged_at is not None
    stalled.refresh_from_db()
    assert stalled.assignee == alice
