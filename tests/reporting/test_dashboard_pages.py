"""The dashboard's pages as their users meet them: who may open them, the period picker's messages, the monthly PDF
read back as text, and the leakage settings form."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from pypdf import PdfReader

from reporting.models import ReportingSettings
from roi.choices import AccessAction, Role
from roi.models import AccessEvent
from tests import factories
from tests.reporting.datasets import busy_month, today_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def ada(tenant_a):
    """Tenant admin of A."""
    return factories.MembershipFactory(tenant=tenant_a, user__username="ada", role=Role.ADMIN).user


@pytest.mark.parametrize("url", ["/reports/", "/reports/export/volume.csv", "/reports/monthly.pdf?month=2026-01"])
def test_specialists_may_not_open_the_reports_and_strangers_must_sign_in(url, alice, client_for, client):
    assert client_for(alice).get(url).status_code == 403
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_dashboard_shows_only_the_organisation_of_the_session(tenant_a, tenant_b, sam, alice, client_for):
    busy_month(tenant_a, [alice, sam])
    boris = factories.MembershipFactory(tenant=tenant_b, user__username="boris", role=Role.SUPERVISOR).user
    html = client_for(boris).get("/reports/", {"start": "2020-01-01"}).content.decode()
    assert 'data-requests="0"' in html
    assert str(alice) not in html
    assert "Beta Health System" in html


def test_the_period_picker_explains_a_wrong_range_and_shows_the_default(tenant_a, sam, client_for):
    client = client_for(sam)
    html = client.get("/reports/", {"start": "2026-05-10", "end": "2026-05-01"}).content.decode()
    assert "The &#x27;From&#x27; day is after the &#x27;To&#x27; day: swap them." in html
    assert "Showing the last 30 days." in html
    html = client.get("/reports/", {"start": "2001-01-01", "end": "2026-01-01"}).content.decode()
    assert "Choose at most 1830 days" in html
    html = client.get("/reports/", {"start": "not a date"}).content.decode()
    assert "Enter a valid date." in html
    assert client.get("/reports/export/volume.csv", {"start": "2026-05-10", "end": "2026-05-01"}).status_code == 400
    assert client.get("/reports/export/no_such_table.csv").status_code == 404


def test_a_long_period_is_shown_per_week(tenant_a, sam, client_for):
    today = today_of(tenant_a)
    html = client_for(sam).get("/reports/", {"start": str(today - timedelta(days=180))}).content.decode()
    assert "Received and delivered per week" in html


def test_the_monthly_report_is_a_pdf_with_the_month_figures_and_an_access_event(tenant_a, sam, alice, client_for):
    busy_month(tenant_a, [alice, sam])
    month = today_of(tenant_a).strftime("%Y-%m")
    response = client_for(sam).get("/reports/monthly.pdf", {"month": month})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    content = b"".join(response.streaming_content) if response.streaming else response.content
    reader = PdfReader(io.BytesIO(content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Release of information: monthly report" in text
    assert "Alpha General Hospital" in text
    assert "Turnaround from receipt to delivery" in text
    assert "Staff hours lost to hidden work" in text
    assert len(reader.pages) >= 2
    assert AccessEvent.objects.filter(
        tenant=tenant_a, action=AccessAction.EXPORT, detail=f"monthly report {month}"
    ).exists()


def test_the_monthly_report_refuses_a_bad_or_future_month(tenant_a, sam, client_for):
    client = client_for(sam)
    response = client.get("/reports/monthly.pdf", {"month": "2026-13"}, follow=True)
    assert "Give the month as YYYY-MM." in response.content.decode()
    response = client.get("/reports/monthly.pdf", {"month": "2999-01"}, follow=True)
    assert "That month has not started yet." in response.content.decode()


def test_an_admin_sets_the_leakage_minutes_and_bad_values_say_what_to_fix(tenant_a, sam, ada, client_for):
    assert client_for(sam).get("/reports/settings/").status_code == 403
    client = client_for(ada)
    assert "Leakage minutes" in client.get("/reports/settings/").content.decode()
    response = client.post(
        "/reports/settings/",
        {"minutes_per_status_call": "900", "minutes_per_exception": "", "minutes_per_resend": "-3",
         "minutes_per_duplicate": "10"},
    )  # fmt: skip
    assert response.status_code == 400
    html = response.content.decode()
    assert "At most 600 minutes (10 hours) per event." in html
    assert "This field is required." in html
    assert not ReportingSettings.objects.filter(tenant=tenant_a).exists()
    response = client.post(
        "/reports/settings/",
        {"minutes_per_status_call": "8", "minutes_per_exception": "40", "minutes_per_resend": "20",
         "minutes_per_duplicate": "12"},
    )  # fmt: skip
    assert response.status_code == 302
    saved = ReportingSettings.objects.get(tenant=tenant_a)
    assert (saved.minutes_per_status_call, saved.minutes_per_exception) == (8, 40)
    assert saved.history.first().history_user == ada
    assert "8</td>" in client.get("/reports/").content.decode()


def test_the_dashboard_page_query_count_does_not_grow_with_the_data(
    tenant_a, sam, alice, client_for, django_assert_max_num_queries
):
    client = client_for(sam)
    client.get("/reports/")
    busy_month(tenant_a, [alice, sam])
    with django_assert_max_num_queries(20):
        client.get("/reports/")


def test_the_resend_rate_names_its_population_the_requests_delivered_beside_it(tenant_a, sam, alice, client_for):
    busy_month(tenant_a, [alice, sam])
    html = client_for(sam).get("/reports/").content.decode()
    delivered = re.search(r'data-requests="(\d+)"><span class="tile-value">\d+</span><span class="tile-label">Requests '
                          r"delivered</span>", html)  # fmt: skip
    assert delivered is not None
    label = re.search(r"Resend rate: (\d+) resends? \((\d+) requests?\) per (\d+) requests? delivered", html)
    assert label is not None
    assert label.group(3) == delivered.group(1)
