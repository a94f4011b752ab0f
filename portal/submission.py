"""Online submission: a requestor's form in, one `received` request out, through intake_receive like every channel.

The patient. A requestor cannot give the MRN, and name plus date of birth typed by a stranger is not enough to pick a
patient row: a typo or a namesake would attach the request, and later the release, to the wrong person without
anyone noticing. So a portal request gets its own placeholder patient (intake/patients.py, the same approach as
email and fax ingestion: MRN UNIDENTIFIED-P<token>, sentinel date of birth), needs_intake_completion=True, and no
acknowledgment letter yet (it prints the patient's name); what the requestor typed about the patient is kept in
PortalSubmission and shown on the staff request page, where a specialist identifies the patient during intake
completion (intake.services.intake_details_update).

Double submits. The form carries a one-time token, signed so it cannot be made up and unique per tenant in
PortalSubmission: a second POST of the same form finds the first submission and shows its confirmation; two POSTs
racing each other meet at the unique constraint, and the loser's whole transaction (request, documents) rolls back.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from intake.choices import DocumentKind, DocumentSource
from intake.patients import placeholder_patient_create
from intake.services import IncomingDocument, intake_receive
from portal.models import PortalSubmission, RequestorAccount
from roi import clock
from roi.models import Tenant
from workflow.choices import Channel, DeliveryMethod, RequestorKind, RequestType
from workflow.models import RecordRequest

FORM_SALT = "openroi.portal.submission-token"
# A visitor may take their time (find the authorization, scan an ID); past this the page asks to submit again.
TOKEN_MAX_AGE_SECONDS = 24 * 3600


class Asking:
    """Who is asking, as the form offers it: each decides the request type, the requestor kind and the document
    the request cannot be reviewed without (intake/rules.py)."""

    SELF = "self"
    REPRESENTATIVE = "representative"
    THIRD_PARTY = "third_party"


ASKING_CHOICES = [
    (Asking.SELF, _("I am the patient and want my own records")),
    (
        Asking.REPRESENTATIVE,
        _("I am the patient's personal representative (parent, guardian, power of attorney, executor)"),
    ),
    (
        Asking.THIRD_PARTY,
        _("I ask for someone else's records with their signed authorization (attorney, insurer, other)"),
    ),
]
# Third parties say what they are; staff see it as the requestor kind. Providers asking for continuity of care and
# subpoenas are not offered: they go through the organisation's provider and legal channels.
THIRD_PARTY_KINDS = [
    (RequestorKind.ATTORNEY.value, _("Attorney or law firm")),
    (RequestorKind.INSURER.value, _("Insurance company")),
    (RequestorKind.PROVIDER.value, _("Doctor, hospital or other health care provider")),
    (RequestorKind.GOVERNMENT.value, _("Government agency")),
    (RequestorKind.OTHER.value, _("Other person or organisation")),
]
DELIVERY_CHOICES = [
    (DeliveryMethod.PORTAL_DOWNLOAD.value, _("Secure download from this website")),
    (DeliveryMethod.EMAIL_LINK.value, _("Email with a secure download link")),
    (DeliveryMethod.MAIL.value, _("Paper copy by mail")),
    (DeliveryMethod.FAX.value, _("Fax")),
]


@dataclass(frozen=True)
class AskingRule:
    request_type: str
    document_field: str  # the upload the request needs
    document_kind: str


ASKING_RULES = {
    Asking.SELF: AskingRule(RequestType.RIGHT_OF_ACCESS, "identity_document", DocumentKind.IDENTITY),
    Asking.REPRESENTATIVE: AskingRule(RequestType.RIGHT_OF_ACCESS, "authority_document", DocumentKind.AUTHORITY),
    Asking.THIRD_PARTY: AskingRule(RequestType.AUTHORIZATION, "authorization_document", DocumentKind.AUTHORIZATION),
}
# Every upload the form takes, with the kind staff see on the document.
DOCUMENT_FIELDS = {
    "authorization_document": DocumentKind.AUTHORIZATION,
    "identity_document": DocumentKind.IDENTITY,
    "authority_document": DocumentKind.AUTHORITY,
    "extra_document": DocumentKind.OTHER,
}


def requestor_kind_for(asking: str, third_party_kind: str) -> str:
    if asking == Asking.SELF:
        return RequestorKind.PATIENT
    if asking == Asking.REPRESENTATIVE:
        return RequestorKind.PERSONAL_REPRESENTATIVE
    return third_party_kind or RequestorKind.OTHER


# --- The one-time form token ---------------------------------------------------------------------------------------


def form_token_new(tenant: Tenant) -> str:
    return signing.dumps({"t": tenant.pk, "n": secrets.token_urlsafe(18)}, salt=FORM_SALT, compress=False)


def form_token_read(tenant: Tenant, token: str) -> str | None:
    """The token's one-time value, or None when it is forged, another organisation's or too old."""
    try:
        value = signing.loads(token, salt=FORM_SALT, max_age=TOKEN_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    if not isinstance(value, dict) or value.get("t") != tenant.pk or not isinstance(value.get("n"), str):
        return None
    return value["n"]


def submission_for_token(*, tenant: Tenant, nonce: str) -> PortalSubmission | None:
    return PortalSubmission.objects.for_tenant(tenant).select_related("request").filter(form_token=nonce).first()


# --- Submitting ----------------------------------------------------------------------------------------------------


def _destination(data: dict[str, Any]) -> str:
    method = data["delivery_method"]
    if method in (DeliveryMethod.PORTAL_DOWNLOAD, DeliveryMethod.EMAIL_LINK):
        return data["requestor_email"]
    if method == DeliveryMethod.FAX:
        return data["delivery_fax"]
    return mailing_address(data)


def mailing_address(data: dict[str, Any]) -> str:
    street = ", ".join(part for part in (data.get("address_line1", ""), data.get("address_line2", "")) if part)
    town = f"{data.get('city', '')}, {data.get('state', '')} {data.get('postal_code', '')}".strip(" ,")
    return f"{street}, {town}" if street else town


def _scope_notes(data: dict[str, Any]) -> str:
    notes = (data.get("scope_notes") or "").strip()
    return f"From the online form: {notes}" if notes else ""


@dataclass(frozen=True)
class SubmissionResult:
    record_request: RecordRequest
    created: bool


def portal_request_submit(
    *,
    tenant: Tenant,
    form_nonce: str,
    data: dict[str, Any],
    language: str,
    account: RequestorAccount | None = None,
) -> SubmissionResult:
    """Record a portal request from a validated form's cleaned data, once per form token. One transaction: the
    request, its requestor and placeholder patient, its documents and the submission row all exist, or none."""
    earlier = submission_for_token(tenant=tenant, nonce=form_nonce)
    if earlier is not None:
        return SubmissionResult(earlier.request, created=False)
    rule = ASKING_RULES[data["asking"]]
    kind = requestor_kind_for(data["asking"], data.get("third_party_kind", ""))
    documents = [
        IncomingDocument(
            uploaded_file=data[field],
            kind=document_kind,
            source=DocumentSource.PORTAL,
            note="Uploaded with the online request form",
        )
        for field, document_kind in DOCUMENT_FIELDS.items()
        if data.get(field)
    ]
    now = clock.now()
    try:
        with transaction.atomic():
            record_request = intake_receive(
                tenant=tenant,
                actor=None,
                channel=Channel.PORTAL,
                patient=placeholder_patient_create(
                    tenant=tenant, actor=None, reference=f"P{form_nonce}", source="portal request"
                ),
                requestor_data={
                    "kind": kind,
                    "name": data["requestor_name"],
                    "organization": data.get("requestor_organization", ""),
                    "email": data["requestor_email"],
                    "phone": data.get("requestor_phone", ""),
                    "address_line1": data.get("address_line1", ""),
                    "address_line2": data.get("address_line2", ""),
                    "city": data.get("city", ""),
                    "state": data.get("state", ""),
                    "postal_code": data.get("postal_code", ""),
                    "language": language,
                },
                request_type=rule.request_type,
                received_at=now,
                documents=documents,
                needs_intake_completion=True,
                # The acknowledgment prints the patient's name: it goes out once staff identify the patient.
                acknowledge=False,
                record_types=list(data["record_types"]),
                scope_date_from=data.get("scope_date_from"),
                scope_date_to=data.get("scope_date_to"),
                scope_notes=_scope_notes(data),
                delivery_method=data["delivery_method"],
                delivery_destination=_destination(data)[:300],
            )
            PortalSubmission.objects.create(
                tenant=tenant,
                request=record_request,
                form_token=form_nonce,
                account=account,
                submitted_at=now,
                patient_first_name=data["patient_first_name"],
                patient_last_name=data["patient_last_name"],
                patient_date_of_birth=data["patient_date_of_birth"],
                patient_other_names=data.get("patient_other_names", ""),
                patient_phone=data.get("patient_phone", ""),
            )
    except IntegrityError:
        # The same form, posted twice at once: the other POST committed first (the unique token).
        earlier = submission_for_token(tenant=tenant, nonce=form_nonce)
        if earlier is None:
            raise
        return SubmissionResult(earlier.request, created=False)
    return SubmissionResult(record_request, created=True)
