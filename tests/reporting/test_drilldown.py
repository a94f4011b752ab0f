"""Every number on the dashboard that counts requests links to the queue filtered to those requests, and the queue
shows exactly that many: checked link by link on the rendered page, for open work and for the period."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest

from reporting.models import RequestRollup
from reporting.rollups import rollups_fill
from roi.choices import AccessAction
from roi.models import AccessEvent
from tests import factories
from tests.reporting.datasets import busy_month, local, make_request, today_of
from workflow.models import RecordRequest

pytestmark = pytest.mark.django_db

LINK = re.compile(r'<a href="(?P<href>[^"]+)" data-requests="(?P<count>\d+)"')
TOTAL = re.compile(r'id="queue-count">([\d,]+) requests?\b')


def _queue_count(client, href: str) -> int:
    href = unescape(href)
    response = client.get(href + ("&" if "?" in href else "?") + "size=100")
    assert response.status_code == 200, href
    html = response.content.decode()
    assert "cursor=" not in html, f"{href} has a second page: the data set is meant to fit on one"
    return int(TOTAL.search(html).group(1).replace(",", ""))


@pytest.mark.parametrize("rolled_up", [False, True], ids=["from the requests", "from rollups after a late change"])
def test_every_request_count_on_the_dashboard_matches_its_queue(rolled_up, tenant_a, sam, alice, client_for):
    busy_month(tenant_a, [alice, sam])
    busy_month(factories.TenantFactory(), [factories.UserFactory(), factories.UserFactory()])  # never counted
    if rolled_up:
        # Finished days read from rollups; then a request entered with last week's received date and a delivered
        # request reassigned: their days are computed from the requests again, the others still read rollups.
        today = today_of(tenant_a)
        rollups_fill(tenant=tenant_a, today=today, limit=60)
        make_request(tenant_a, received_at=local(tenant_a, today - timedelta(days=6), 9))
        moved = RecordRequest.objects.filter(tenant=tenant_a, delivered_at__isnull=False, assignee=alice).first()
        moved.assignee = sam
        moved.save()
        assert RequestRollup.objects.filter(tenant=tenant_a, kind="day").count() < 60
    client = client_for(sam)
    html = client.get("/reports/").content.decode()
    links = LINK.findall(html)
    assert len(links) > 60  # tiles and table cells
    checked = {}
    for href, count in links:
        if href not in checked:
            checked[href] = _queue_count(client, href)
        assert checked[href] == int(count), f"{href}: dashboard says {count}, the queue lists {checked[href]}"
    # Every kind of figure was exercised with something to count.
    nonzero = {
        re.search(r"activity=(\w+)", href).group(1) for href, count in links if "activity=" in href and int(count)
    }
    assert nonzero >= {
        "received", "delivered", "delivered_late", "delivered_after_target", "status_call", "portal_view", "resent",
        "qc_failed", "escalated", "extended", "exception_opened", "duplicate",
    }  # fmt: skip


def test_the_queue_activity_filter_says_what_to_fix(tenant_a, sam, client_for):
    client = client_for(sam)
    response = client.get("/requests/?activity=delivered&activity_from=2026-05-10&activity_to=2026-05-01")
    assert "The &#x27;To&#x27; day is before the &#x27;From&#x27; day" in response.content.decode()
    response = client.get("/requests/?activity_from=2026-05-01")
    assert "Choose the activity the days apply to" in response.content.decode()


def test_a_csv_export_has_the_rows_of_the_page_and_is_an_access_event(tenant_a, sam, alice, client_for):
    busy_month(tenant_a, [alice, sam])
    client = client_for(sam)
    response = client.get("/reports/export/staff_load.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Cache-Control"] == "no-store"
    lines = response.content.decode().splitlines()
    # The header row is the first line (no title row above it): the title is in the file's name.
    assert lines[0] == "Staff member,Open,Overdue,In exception,Stalled"
    assert len(lines) == 1 + 3  # alice, sam, unassigned
    today = today_of(tenant_a)
    assert response["Content-Disposition"] == f'attachment; filename="staff-load-{today}.csv"'
    response = client.get("/reports/export/volume.csv", {"start": "2026-01-01", "end": "2026-01-31"})
    assert response.content.decode().splitlines()[0] == "Day,Received,Delivered,Leakage hours"
    assert response["Content-Disposition"] == 'attachment; filename="volume-2026-01-01-to-2026-01-31.csv"'
    response = client.get("/reports/export/open_by_state.csv")
    assert response["Content-Disposition"] == f'attachment; filename="aging-{today}.csv"'
    assert response.content.decode().splitlines()[0] == "State,0-5,6-10,11-20,21-30,over 30,Total"
    event = AccessEvent.objects.filter(tenant=tenant_a, action=AccessAction.EXPORT).order_by("id").first()
    assert "staff_load" in event.detail
    assert event.actor == sam


def test_each_aging_cell_links_to_the_queue_of_its_state_and_band(tenant_a, sam, alice, client_for):
    busy_month(tenant_a, [alice, sam])
    client = client_for(sam)
    html = client.get("/reports/").content.decode()
    table = html[html.index('id="table-open_by_state"') :]
    table = table[: table.index("</table>")]
    row = table[table.index('<th scope="row">Validated</th>') :]
    row = row[: row.index("</tr>")]
    links = LINK.findall(row)
    assert len(links) == 5 + 1  # each band, then the state's total
    for band, (href, count) in enumerate(links[:5]):
        assert unescape(href) == f"/requests/?state=validated&aging_band={band}&sort=age"
        assert _queue_count(client, href) == int(count)
    assert sum(int(count) for _, count in links[:5]) == int(links[5][1])
