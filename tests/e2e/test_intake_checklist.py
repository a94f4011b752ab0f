"""The intake checklist in a real browser: from the request's detail page to the checklist, the specialist records
the authorization from the signed form received with the request (signer, date, expiry, the recipient it names),
answers the questions about its elements and runs the checklist; a complete authorization validates the request, one
without an expiration opens an exception with its next step and a deficiency letter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from roi import clock
from tests import factories
from workflow.deadlines import local_date

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

# The questions of the 164.508(c) sections a complete authorization answers "yes" to.
REQUIRED_QUESTIONS = [
    "Does the form describe, specifically and meaningfully, which information to release?",
    "Does it name our organisation (or the class of providers) as allowed to release it?",
    "Does it name who may receive the information?",
    'Does it state the purpose of the release? ("At the request of the individual" is enough when the patient asks.)',
    "Does it say the patient may revoke it in writing, and how?",
    "Does it say whether treatment, payment or enrollment may depend on signing it?",
    "Does it warn that the recipient may re-disclose the information, which is then no longer protected?",
    "Is it written in plain language?",
]


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def open_checklist(page: Page, live_server, tracking_number: str) -> None:
    page.goto(f"{live_server.url}/requests/{tracking_number}/")
    expect(page.locator("h1 .badge")).to_have_text("Received")
    page.get_by_role("link", name="Work the intake checklist").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Intake checklist")


def answer_authorization(page: Page, tenant, rr, *, expiration: bool) -> None:
    """Record the authorization from its form, then tick what the form contains."""
    today = local_date(clock.now(), tenant)
    form = page.locator(f'form[action="/requests/{rr.tracking_number}/intake/authorization/"]')
    form.get_by_label("The signed form").select_option(label="HIPAA authorization: signed-authorization.pdf")
    form.get_by_label("Date signed").fill((today - timedelta(days=3)).isoformat())
    if expiration:
        form.get_by_label("Expires on", exact=True).fill((today + timedelta(days=180)).isoformat())
    form.get_by_label("Names as recipient").fill(rr.requestor.organization)
    form.get_by_role("button", name="Record the authorization").click()
    expect(page.get_by_role("status")).to_contain_text("Recorded: Authorization signed")
    for question in REQUIRED_QUESTIONS:
        page.get_by_label(question, exact=True).check()


def _request(tenant):
    rr = factories.RecordRequestFactory(tenant=tenant, intake_completed_at=None)
    factories.IntakeDocumentFactory(request=rr, tenant=tenant, original_name="signed-authorization.pdf")
    return rr


def test_a_complete_authorization_validates_the_request(live_server, login, alice, tenant_a):
    rr = _request(tenant_a)
    page = login(alice)
    open_checklist(page, live_server, rr.tracking_number)
    expect(page.locator("#section-identity")).to_have_count(0)

    answer_authorization(page, tenant_a, rr, expiration=True)
    page.get_by_role("button", name="Save and run checklist").click()

    expect(page.get_by_role("status")).to_contain_text("Validated")
    expect(page.locator("h1 .badge")).to_have_text("Validated")
    expect(page.locator(".timeline li").filter(has_text="Received → Validated")).to_contain_text(str(alice))


def test_an_authorization_without_expiration_becomes_an_exception_with_a_letter(live_server, login, alice, tenant_a):
    rr = _request(tenant_a)
    page = login(alice)
    open_checklist(page, live_server, rr.tracking_number)

    answer_authorization(page, tenant_a, rr, expiration=False)
    page.get_by_role("button", name="Save checklist", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Checklist saved.")
    expect(page.locator("#deficiencies")).to_contain_text("Authorization has no expiration date or expiration event.")
    page.get_by_role("button", name="Save and run checklist").click()

    expect(page.get_by_role("status")).to_contain_text(
        "Exception opened: Incomplete authorization; deficiency letter generated."
    )
    expect(page.locator("h1 .badge")).to_have_text("Exception")
    callout = page.locator(".callout.exception")
    expect(callout).to_contain_text("In exception: Incomplete authorization")
    expect(callout).to_contain_text("Send the deficiency letter; wait for the corrected document.")
    expect(page.locator(".intake-block.letters").get_by_role("link", name="Deficiency letter")).to_be_visible()
