"""Portal details a requestor notices: the confirmation's date in the organisation's calendar, looking up one's own
online request with the date of birth typed on the form, contact details as links, the organisation on the lookup
page, the request form showing only what applies (and the server ignoring what a hidden field still sends), the
error summary focused on load, and the favicon on every page."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from intake.choices import DocumentKind
from intake.models import IntakeDocument
from portal.templatetags.portal_links import tel_uri
from roi import clock
from roi.choices import AccessAction
from roi.models import AccessEvent
from tests import factories
from tests.fulfillment.pdfs import make_pdf
from workflow.models import RecordRequest

pytestmark = pytest.mark.django_db

LOOKUP = reverse("portal:lookup")


@pytest.fixture(autouse=True)
def _no_padding(settings):
    settings.PORTAL_LOOKUP_FAILURE_MS = 0


def _pdf(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, make_pdf(1, "Scanned"), content_type="application/pdf")


def _form(client: Client, tenant) -> dict:
    page = client.get(reverse("portal:submit", kwargs={"slug": tenant.slug})).content.decode()
    token = page.split('name="form_token" value="', 1)[1].split('"', 1)[0]
    return {
        "form_token": token,
        "asking": "self",
        "requestor_name": "Maria Lopez",
        "requestor_email": "maria.lopez@example.com",
        "requestor_phone": "(415) 555-0142",
        "patient_first_name": "Maria",
        "patient_last_name": "Lopez",
        "patient_date_of_birth": "1980-03-14",
        "record_types": ["lab"],
        "delivery_method": "portal_download",
        "identity_document": _pdf("id.pdf"),
        "attestation": "on",
    }


def _submit(client: Client, tenant, **overrides):
    data = _form(client, tenant)
    data.update(overrides)
    return client.post(reverse("portal:submit", kwargs={"slug": tenant.slug}), data)


# --- The confirmation's date -----------------------------------------------------------------------------------------


def test_the_confirmation_shows_the_day_of_the_organisation_not_of_the_server(visitor, tenant_a, media):
    tenant_a.timezone = "America/Los_Angeles"
    tenant_a.save(update_fields=["timezone"])
    # 9:30 pm on March 9 in Los Angeles is already March 10 in UTC.
    sent = datetime(2026, 3, 9, 21, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    with clock.frozen(sent):
        response = _submit(visitor, tenant_a)
    assert response.status_code == 302
    page = visitor.get(response["Location"]).content.decode()
    assert "<dt>Received</dt><dd>March 9, 2026</dd>" in page
    assert "March 10, 2026" not in page


# --- Looking up one's own online request by date of birth ----------------------------------------------------------


def test_a_patient_who_submitted_for_themselves_looks_it_up_with_the_date_of_birth_they_typed(tenant_a, media):
    _submit(Client(), tenant_a)
    rr = RecordRequest.objects.get()
    assert rr.patient.is_placeholder  # staff have not identified the patient yet
    elsewhere = Client(REMOTE_ADDR="10.20.30.40")  # another device: no grant from the submission
    response = elsewhere.post(LOOKUP, {"tracking_number": rr.tracking_number, "verifier": "03/14/1980"})
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:status", args=[rr.tracking_number])
    assert AccessEvent.objects.filter(action=AccessAction.PORTAL_LOOKUP, request_id=rr.pk).exists()


def _failure(response) -> str:
    body = response.content.decode()
    start = body.index('<div class="alert error"')
    return body[start : body.index("</div>", start)]


def test_a_wrong_date_of_birth_or_another_requestors_gets_the_one_generic_answer(tenant_a, media):
    _submit(Client(), tenant_a)
    mine = RecordRequest.objects.get()
    # A third party's online request: the patient's date of birth typed on the form does not verify it.
    _submit(
        Client(),
        tenant_a,
        asking="third_party",
        third_party_kind="attorney",
        requestor_organization="Lopez & Partners LLP",
        requestor_email="office@lopez.example.com",
        authorization_document=_pdf("authorization.pdf"),
    )
    theirs = RecordRequest.objects.exclude(pk=mine.pk).get()
    stranger = Client(REMOTE_ADDR="10.99.0.1")
    answers = [
        stranger.post(LOOKUP, {"tracking_number": mine.tracking_number, "verifier": "03/15/1980"}),
        stranger.post(LOOKUP, {"tracking_number": theirs.tracking_number, "verifier": "03/14/1980"}),
        stranger.post(LOOKUP, {"tracking_number": "ROI-AAAA-BBBB-CCCC", "verifier": "03/14/1980"}),
        stranger.post(LOOKUP, {"tracking_number": mine.tracking_number, "verifier": "01/01/1900"}),
    ]
    assert {answer.status_code for answer in answers} == {200}
    assert len({_failure(answer) for answer in answers}) == 1
    assert "We could not find a request with these details" in _failure(answers[0])


def test_once_staff_identify_the_patient_the_patients_own_date_of_birth_counts(tenant_a, media):
    _submit(Client(), tenant_a)
    rr = RecordRequest.objects.get()
    RecordRequest.objects.filter(pk=rr.pk).update(
        patient=factories.PatientFactory(tenant=tenant_a, date_of_birth=date(1980, 3, 4))
    )
    visitor = Client(REMOTE_ADDR="10.20.30.41")
    typed = visitor.post(LOOKUP, {"tracking_number": rr.tracking_number, "verifier": "03/14/1980"})
    assert typed.status_code == 200
    assert visitor.post(LOOKUP, {"tracking_number": rr.tracking_number, "verifier": "03/04/1980"}).status_code == 302


# --- Contact details as links, the organisation on the lookup page --------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "uri"),
    [
        ("(312) 555-0100", "tel:+13125550100"),
        ("1-312-555-0100", "tel:+13125550100"),
        ("312.555.0100 ext. 12", "tel:+13125550100"),
        ("+44 20 7946 0958", "tel:+442079460958"),
        ("call us", ""),
    ],
)
def test_a_phone_number_becomes_a_tel_uri(typed, uri):
    assert tel_uri(typed) == uri


def test_the_status_page_links_the_office_phone_and_email(tenant_a, media):
    tenant_a.him_phone = "(312) 555-0100"
    tenant_a.him_email = "roi@alpha.example.org"
    tenant_a.save()
    client = Client()
    _submit(client, tenant_a)
    rr = RecordRequest.objects.get()
    page = client.get(reverse("portal:status", args=[rr.tracking_number])).content.decode()
    assert '<a href="tel:+13125550100">(312) 555-0100</a>' in page
    assert '<a href="mailto:roi@alpha.example.org">roi@alpha.example.org</a>' in page


def test_the_lookup_page_names_the_organisation_and_links_to_its_request_form(visitor, tenant_a, tenant_b):
    tenant_a.him_phone = "(312) 555-0100"
    tenant_a.save()
    page = visitor.get(LOOKUP, {"org": tenant_a.slug}).content.decode()
    assert "Requests for medical records from Alpha General Hospital." in page
    assert f'href="/submit/{tenant_a.slug}/"' in page
    assert '<a href="tel:+13125550100">(312) 555-0100</a>' in page
    assert "Beta Health System" not in page
    # Without an organisation in the link: each active organisation's form.
    page = visitor.get(LOOKUP).content.decode()
    assert f'href="/submit/{tenant_a.slug}/"' in page
    assert f'href="/submit/{tenant_b.slug}/"' in page
    # An unknown one is no organisation, and a failed lookup keeps the organisation's page.
    assert "Requests for medical records from" not in visitor.get(LOOKUP, {"org": "nowhere"}).content.decode()
    failed = visitor.post(
        f"{LOOKUP}?org={tenant_a.slug}", {"tracking_number": "ROI-AAAA-BBBB-CCCC", "verifier": "x@y.z"}
    )
    assert "Requests for medical records from Alpha General Hospital." in failed.content.decode()


def test_the_submission_pages_lead_back_to_the_lookup_of_their_organisation(visitor, tenant_a):
    page = visitor.get(reverse("portal:submit", kwargs={"slug": tenant_a.slug})).content.decode()
    assert f'href="/status/?org={tenant_a.slug}"' in page


def test_the_lookup_page_is_spanish_with_its_new_lines(visitor, tenant_a):
    page = visitor.get(LOOKUP, {"org": tenant_a.slug}, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Solicitudes de expedientes médicos de Alpha General Hospital." in page
    assert "¿Pide expedientes por primera vez?" in page
    assert "Pedir expedientes médicos a Alpha General Hospital" in page
    assert "Asking for records for the first time?" not in page


# --- The request form: only what applies ----------------------------------------------------------------------------


def test_the_form_marks_each_conditional_field_with_the_answer_it_belongs_to(visitor, tenant_a):
    page = visitor.get(reverse("portal:submit", kwargs={"slug": tenant_a.slug})).content.decode()
    for css, field in (
        ("when-asking-third_party", "third_party_kind"),
        ("when-asking-third_party", "requestor_organization"),
        ("when-asking-third_party", "authorization_document"),
        ("when-asking-representative", "authority_document"),
        ("when-asking-self", "identity_document"),
        ("when-delivery_method-fax", "delivery_fax"),
        ("when-delivery_method-mail", "address_line1"),
    ):
        assert re.search(rf'<div class="when {css}">\s*<div class="field" id="field-{field}">', page), field
    assert "<script" not in page
    assert " style=" not in page


def test_what_a_hidden_field_still_sends_is_ignored(visitor, tenant_a, media):
    # The visitor first chose "someone else's records" (organisation, authorization) and fax, then changed to
    # "my own records" and a download: the hidden answers arrive with the form and are not kept.
    response = _submit(
        visitor,
        tenant_a,
        third_party_kind="attorney",
        requestor_organization="Lopez & Partners LLP",
        authorization_document=_pdf("authorization.pdf"),
        delivery_fax="(415) 555-01",  # too short: would be an error if it applied
        address_line1="1 Main St",
    )
    assert response.status_code == 302
    rr = RecordRequest.objects.get()
    assert rr.requestor.organization == ""
    assert rr.requestor.address_line1 == ""
    assert list(IntakeDocument.objects.values_list("kind", flat=True)) == [DocumentKind.IDENTITY]


def test_the_fields_that_apply_are_still_required(visitor, tenant_a, media):
    response = _submit(
        visitor, tenant_a, asking="representative", identity_document="", delivery_method="mail", address_line1=""
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Add the document that makes you the patient&#x27;s representative." in page
    assert "Enter the street address to mail the records to." in page
    assert RecordRequest.objects.count() == 0
    # The error summary is focused on load (a phone scrolls to it) and leads to each field.
    assert '<div class="alert error error-summary" id="form-errors" tabindex="-1" autofocus role="alert">' in page
    assert 'href="#field-authority_document"' in page
    assert 'href="#field-address_line1"' in page


# --- The favicon ---------------------------------------------------------------------------------------------------


def test_every_page_links_the_favicon(visitor, tenant_a, client_for, alice):
    icon = re.compile(r'<link rel="icon" href="/static/favicon\.[0-9a-f]+\.svg" type="image/svg\+xml">')  # hashed name
    assert icon.search(visitor.get(LOOKUP).content.decode())
    assert icon.search(visitor.get(reverse("portal:submit", kwargs={"slug": tenant_a.slug})).content.decode())
    assert icon.search(client_for(alice).get("/requests/").content.decode())
