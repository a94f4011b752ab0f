"""Online submission: /submit/<slug>/ from a blank form to a received request, and nothing created on any failure."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils.formats import date_format

from intake import deadlines
from intake.choices import DocumentKind, DocumentSource
from intake.models import IntakeDocument
from intake.patients import UNIDENTIFIED_BIRTH_DATE, is_unidentified_patient
from portal.models import PortalSubmission
from portal.submission import form_token_new
from tests.fulfillment.pdfs import make_pdf
from workflow.choices import Channel, DeliveryMethod, RequestorKind, RequestState, RequestType
from workflow.models import Patient, RecordRequest, Requestor

pytestmark = pytest.mark.django_db


def submit_url(tenant) -> str:
    return reverse("portal:submit", kwargs={"slug": tenant.slug})


def pdf(name: str = "id.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, make_pdf(1, "Scanned"), content_type="application/pdf")


def valid_data(tenant, **overrides) -> dict:
    data = {
        "form_token": form_token_new(tenant),
        "asking": "self",
        "requestor_name": "Maria Lopez",
        "requestor_email": "maria.lopez@example.com",
        "requestor_phone": "(415) 555-0142",
        "patient_first_name": "Maria",
        "patient_last_name": "Lopez",
        "patient_date_of_birth": "1980-03-14",
        "patient_other_names": "Maria Garcia",
        "record_types": ["lab", "discharge_summary"],
        "scope_date_from": "2024-01-01",
        "scope_date_to": "2024-12-31",
        "scope_notes": "The knee surgery in June.",
        "delivery_method": "portal_download",
        "identity_document": pdf(),
        "attestation": "on",
    }
    data.update(overrides)
    return data


def counts() -> tuple[int, ...]:
    return (
        RecordRequest.objects.count(),
        Patient.objects.count(),
        Requestor.objects.count(),
        IntakeDocument.objects.count(),
        PortalSubmission.objects.count(),
    )


def test_the_form_page_shows_the_organisation(visitor, tenant_a):
    response = visitor.get(submit_url(tenant_a))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Alpha General Hospital" in body
    assert 'name="form_token"' in body
    assert "<script" not in body
    assert response.headers["Cache-Control"].count("no-store") == 1


def test_an_unknown_or_inactive_organisation_is_404(visitor, tenant_a):
    assert visitor.get("/submit/no-such-hospital/").status_code == 404
    tenant_a.is_active = False
    tenant_a.save()
    assert visitor.get(submit_url(tenant_a)).status_code == 404
    assert visitor.post(submit_url(tenant_a), valid_data(tenant_a)).status_code == 404
    assert counts() == (0, 0, 0, 0, 0)


def test_a_blank_form_shows_every_required_field_error_and_creates_nothing(visitor, tenant_a):
    response = visitor.post(submit_url(tenant_a), {"form_token": form_token_new(tenant_a)})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) >= {
        "asking",
        "requestor_name",
        "requestor_email",
        "patient_first_name",
        "patient_last_name",
        "patient_date_of_birth",
        "record_types",
        "delivery_method",
        "attestation",
    }
    body = response.content.decode()
    assert "Enter your email address: it is how we tell you about your request." in body
    assert "Choose at least one kind of record." in body
    assert 'aria-describedby="id_requestor_email_helptext id_requestor_email_error"' in body
    assert counts() == (0, 0, 0, 0, 0)


def test_the_document_the_request_type_needs_is_required(visitor, tenant_a):
    data = valid_data(tenant_a, asking="third_party", third_party_kind="attorney", requestor_organization="")
    response = visitor.post(submit_url(tenant_a), data)
    errors = response.context["form"].errors
    assert "authorization_document" in errors
    assert "requestor_organization" in errors
    assert counts() == (0, 0, 0, 0, 0)


def test_mail_needs_an_address_and_fax_a_number(visitor, tenant_a):
    response = visitor.post(submit_url(tenant_a), valid_data(tenant_a, delivery_method="mail"))
    assert {"address_line1", "city", "state", "postal_code"} <= set(response.context["form"].errors)
    response = visitor.post(submit_url(tenant_a), valid_data(tenant_a, delivery_method="fax", delivery_fax="555-01"))
    assert "delivery_fax" in response.context["form"].errors
    assert counts() == (0, 0, 0, 0, 0)


def test_a_text_file_named_pdf_is_refused_with_its_message_and_nothing_is_created(visitor, tenant_a, media):
    fake = SimpleUploadedFile("license.pdf", b"this is not a scan, just text\n" * 20, content_type="application/pdf")
    response = visitor.post(submit_url(tenant_a), valid_data(tenant_a, identity_document=fake))
    assert response.status_code == 400
    assert response.context["form"].errors["identity_document"] == [
        "license.pdf is not a PDF, TIFF, PNG or JPEG file we can open. Choose the scanned document or a photo of it, "
        "saved as PDF, JPEG or PNG."
    ]
    assert counts() == (0, 0, 0, 0, 0)
    assert not media.exists() or not [p for p in media.rglob("*") if p.is_file()]


def test_a_valid_submission_becomes_a_received_portal_request_the_browser_can_follow(visitor, tenant_a, media):
    extra = SimpleUploadedFile("letter.png", _png(), content_type="image/png")
    response = visitor.post(submit_url(tenant_a), valid_data(tenant_a, extra_document=extra))
    assert response.status_code == 302

    rr = RecordRequest.objects.get()
    assert response["Location"] == reverse(
        "portal:submit-received", kwargs={"slug": "alpha", "tracking_number": rr.tracking_number}
    )
    assert rr.tenant == tenant_a
    assert rr.state == RequestState.RECEIVED
    assert rr.channel == Channel.PORTAL
    assert rr.request_type == RequestType.RIGHT_OF_ACCESS
    assert rr.needs_intake_completion is True
    due = deadlines.due_date_for(
        tenant=tenant_a,
        request_type=RequestType.RIGHT_OF_ACCESS,
        requestor_kind=RequestorKind.PATIENT,
        received_at=rr.received_at,
    )
    assert rr.legal_due_date == due.due
    assert rr.record_types == ["lab", "discharge_summary"]
    assert (rr.scope_date_from, rr.scope_date_to) == (date(2024, 1, 1), date(2024, 12, 31))
    assert "The knee surgery in June." in rr.scope_notes
    assert rr.delivery_method == DeliveryMethod.PORTAL_DOWNLOAD
    assert rr.delivery_destination == "maria.lopez@example.com"
    assert rr.requestor.kind == RequestorKind.PATIENT
    assert rr.requestor.email == "maria.lopez@example.com"
    assert rr.requestor.language == "en"
    # The patient is not guessed: a placeholder until staff identify them from what was typed.
    assert is_unidentified_patient(rr.patient)
    assert rr.patient.date_of_birth == UNIDENTIFIED_BIRTH_DATE
    submission = PortalSubmission.objects.get(request=rr)
    assert (submission.patient_last_name, submission.patient_date_of_birth) == ("Lopez", date(1980, 3, 14))
    assert submission.patient_other_names == "Maria Garcia"
    documents = {(d.kind, d.source) for d in IntakeDocument.objects.filter(request=rr)}
    assert documents == {(DocumentKind.IDENTITY, DocumentSource.PORTAL), (DocumentKind.OTHER, DocumentSource.PORTAL)}

    confirmation = visitor.get(response["Location"])
    assert confirmation.status_code == 200
    body = confirmation.content.decode()
    assert rr.tracking_number in body
    assert reverse("portal:status", kwargs={"tracking_number": rr.tracking_number}) in body
    assert "What happens next" in body
    assert date_format(rr.legal_due_date, "DATE_FORMAT") in body

    status = visitor.get(reverse("portal:status", kwargs={"tracking_number": rr.tracking_number}))
    assert status.status_code == 200
    assert rr.tracking_number in status.content.decode()


def test_another_browser_does_not_see_the_confirmation(visitor, client, tenant_a, media):
    visitor.post(submit_url(tenant_a), valid_data(tenant_a))
    rr = RecordRequest.objects.get()
    url = reverse("portal:submit-received", kwargs={"slug": "alpha", "tracking_number": rr.tracking_number})
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:lookup"))


def test_a_third_party_request_needs_and_keeps_the_authorization(visitor, tenant_a, media):
    data = valid_data(
        tenant_a,
        asking="third_party",
        third_party_kind="attorney",
        requestor_organization="Lopez & Partners LLP",
        identity_document="",
        authorization_document=pdf("authorization.pdf"),
        delivery_method="fax",
        delivery_fax="(415) 555-0199",
    )
    assert visitor.post(submit_url(tenant_a), data).status_code == 302
    rr = RecordRequest.objects.get()
    assert rr.request_type == RequestType.AUTHORIZATION
    assert rr.requestor.kind == RequestorKind.ATTORNEY
    assert rr.requestor.organization == "Lopez & Partners LLP"
    assert rr.delivery_destination == "(415) 555-0199"
    assert list(IntakeDocument.objects.values_list("kind", flat=True)) == [DocumentKind.AUTHORIZATION]


def test_the_same_form_sent_twice_creates_one_request_and_shows_the_first(visitor, tenant_a, media):
    data = valid_data(tenant_a)
    first = visitor.post(submit_url(tenant_a), data)
    again = valid_data(tenant_a, form_token=data["form_token"])  # the back button: same page, same token
    second = visitor.post(submit_url(tenant_a), again)
    assert RecordRequest.objects.count() == 1
    assert second.status_code == 302
    assert second["Location"] == first["Location"]


def test_a_forged_form_token_creates_nothing_and_asks_again(visitor, tenant_a, tenant_b, media):
    response = visitor.post(submit_url(tenant_a), valid_data(tenant_a, form_token="made-up"))
    assert response.status_code == 400
    assert counts() == (0, 0, 0, 0, 0)
    # Another organisation's token is no token here either.
    response = visitor.post(submit_url(tenant_a), valid_data(tenant_a, form_token=form_token_new(tenant_b)))
    assert response.status_code == 400
    assert counts() == (0, 0, 0, 0, 0)


def test_spanish_visitors_get_the_page_in_spanish_and_the_requestor_language(visitor, tenant_a, media):
    response = visitor.get(submit_url(tenant_a), HTTP_ACCEPT_LANGUAGE="es")
    assert '<html lang="es">' in response.content.decode()
    visitor.post(submit_url(tenant_a), valid_data(tenant_a), HTTP_ACCEPT_LANGUAGE="es")
    assert RecordRequest.objects.get().requestor.language == "es"


def test_staff_see_the_patient_as_typed_on_the_request_page(visitor, tenant_a, alice, client_for, media):
    visitor.post(submit_url(tenant_a), valid_data(tenant_a))
    rr = RecordRequest.objects.get()
    page = client_for(alice).get(
        reverse("workflow:detail", kwargs={"tracking_number": rr.tracking_number}) + "?panels=all"
    )
    assert page.status_code == 200
    body = page.content.decode()
    assert "Sent with the online form" in body
    assert "Lopez, Maria" in body


def test_the_placeholder_date_of_birth_never_verifies_a_status_lookup(visitor, tenant_a, media):
    visitor.post(submit_url(tenant_a), valid_data(tenant_a))
    rr = RecordRequest.objects.get()
    stranger = Client(REMOTE_ADDR="10.254.254.254")  # without the submitter's grant
    response = stranger.post(
        reverse("portal:lookup"), {"tracking_number": rr.tracking_number, "verifier": "01/01/1900"}
    )
    assert response.status_code == 200
    assert "We could not find a request" in response.content.decode()


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_typed_date_is_read_month_first_on_the_spanish_page_too(visitor, tenant_a, media):
    data = valid_data(tenant_a, patient_date_of_birth="03/14/1980", scope_date_from="01/31/2024", scope_date_to="")
    response = visitor.post(submit_url(tenant_a), data, HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 302, response.content.decode()[:2000]
    assert RecordRequest.objects.get().scope_date_from == date(2024, 1, 31)


def test_a_submission_sends_its_acknowledgment_email_without_phi(visitor, tenant_a, media, mailoutbox):
    """From blank form to the requestor's inbox: the 'we received your request' email goes through the outbox after
    commit, with the tracking number and the signed status link, and nothing about the patient."""
    from roi.models import Notification
    from roi.notifications import notifications_send_pending

    assert visitor.post(submit_url(tenant_a), valid_data(tenant_a)).status_code == 302
    rr = RecordRequest.objects.get()
    notice = Notification.objects.get(kind="requestor_received")
    assert (notice.email_to, notice.recipient) == ("maria.lopez@example.com", None)
    assert notifications_send_pending() == 1
    (email,) = mailoutbox
    body = email.subject + email.body
    assert rr.tracking_number in body
    assert "/status/link/" in email.body
    for phi in ("Maria", "Lopez", "1980", "Garcia", "knee"):
        assert phi not in body
    assert notifications_send_pending() == 0  # sent once


def test_a_rule_of_the_intake_service_the_form_cannot_check_is_shown_and_nothing_is_created(
    visitor, tenant_a, media, monkeypatch
):
    from portal import submission
    from roi.errors import ServiceError

    def refuse(**kwargs):
        raise ServiceError("That requestor does not exist.", field="requestor")

    monkeypatch.setattr(submission, "intake_receive", refuse)
    response = visitor.post(submit_url(tenant_a), valid_data(tenant_a))
    assert response.status_code == 400
    assert "That requestor does not exist." in response.content.decode()
    assert counts() == (0, 0, 0, 0, 0)
