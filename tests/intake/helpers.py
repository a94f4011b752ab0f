"""Building blocks the intake tests share: a complete receive form, the uploads it carries, what a refused intake must
leave unchanged, a request received through the service, a message that fails ingest."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from pypdf import PdfWriter

from intake import ingest, services
from intake.models import FailedIntake, IntakeDocument, Letter
from workflow.choices import Channel, RequestorKind, RequestType
from workflow.models import Patient, RecordRequest, Requestor

NEW_URL = reverse("intake:new")


def pdf_upload(name: str = "request.pdf", pages: int = 2) -> SimpleUploadedFile:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=612, height=792)
    out = io.BytesIO()
    writer.write(out)
    return SimpleUploadedFile(name, out.getvalue(), content_type="application/pdf")


def tiff_upload(name: str = "authorization.tif") -> SimpleUploadedFile:
    frames = [Image.new("L", (100, 130), 255), Image.new("L", (100, 130), 200)]
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:])
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/tiff")


def local_input(moment: datetime, tenant) -> str:
    return timezone.localtime(moment, tenant.tzinfo).strftime("%Y-%m-%dT%H:%M")


def form_data(tenant, **overrides) -> dict:
    """A complete right-of-access request by fax from the patient, received two hours ago."""
    data = {
        "channel": Channel.FAX,
        "received_at": local_input(timezone.now() - timedelta(hours=2), tenant),
        "request_type": "right_of_access",
        "mrn": "CA-77001",
        "first_name": "Rosa",
        "last_name": "Diaz",
        "date_of_birth": "1980-05-04",
        "requestor_kind": "patient",
        "requestor_name": "Rosa Diaz",
        "requestor_email": "rosa@example.com",
        "requestor_phone": "(415) 555-0101",
        "requestor_address_line1": "12 Ocean Avenue",
        "requestor_city": "San Francisco",
        "requestor_state": "CA",
        "requestor_postal_code": "94112",
        "scope_date_from": "2024-01-01",
        "scope_date_to": "2024-12-31",
        "record_types": ["discharge_summary", "lab"],
        "scope_notes": "Visits at the Mission clinic",
        "sensitive_categories": ["mental_health"],
        "delivery_method": "fax",
        "delivery_destination": "(415) 555-0199",
        "scanned_request": pdf_upload(),
        "document_2": tiff_upload(),
        "document_2_kind": "authorization",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def counts() -> tuple[int, int, int, int, int]:
    return (
        RecordRequest.objects.count(),
        Patient.objects.count(),
        Requestor.objects.count(),
        IntakeDocument.objects.count(),
        Letter.objects.count(),
    )


def refused(client, data, field: str) -> tuple[str, str]:
    before = counts()
    response = client.post(NEW_URL, data)
    assert response.status_code == 400
    assert counts() == before, "a refused intake must save nothing"
    form = response.context["form"]
    assert field in form.errors, form.errors
    return form.errors[field][0], response.content.decode()


COMPLETE_AUTHORIZATION = {
    "auth_describes_information": True,
    "auth_names_discloser": True,
    "auth_names_recipient": True,
    "auth_states_purpose": True,
    "auth_right_to_revoke_statement": True,
    "auth_conditioning_statement": True,
    "auth_redisclosure_statement": True,
    "auth_plain_language": True,
}


def receive(tenant, actor, **overrides):
    values = {
        "tenant": tenant,
        "actor": actor,
        "channel": Channel.FAX,
        "patient_data": {"mrn": "A100", "first_name": "Rosa", "last_name": "Diaz", "date_of_birth": date(1980, 5, 4)},
        "requestor_data": {
            "kind": RequestorKind.ATTORNEY,
            "name": "Jo Hartley",
            "organization": "Hartley & Moss LLP",
            "email": "records@hartley.example.com",
        },
        "request_type": RequestType.AUTHORIZATION,
        "record_types": ["lab"],
        "delivery_method": "email_link",
        "delivery_destination": "records@hartley.example.com",
    }
    values.update(overrides)
    return services.intake_receive(**values)


def failed_intake(tenant, raw: bytes = b"\x00garbage") -> FailedIntake:
    return ingest.ingest_message(tenant=tenant, raw=raw).failed_intake
