"""Email and fax-to-email ingestion: one RFC 822 message in, one `received` request (or one FailedIntake) out.

Called by the `ingest_maildir` command (cron) and the signed inbound-email webhook (intake/views/channels.py). Every
message ends in exactly one of three outcomes, each committed before the caller acknowledges the message:

- created: a request through `intake.services.intake_receive`, flagged `needs_intake_completion`, the raw message
  kept with it (InboundMessage.raw); a message reusing an earlier Message-ID with other content is taken in and
  flagged in the request's notes;
- duplicate: the message was taken in before (same Message-ID and same content, or same bytes); nothing is created;
- failed: the message is kept whole in FailedIntake with the reason, for staff to handle by hand. Automatic messages
  (delivery reports, auto-replies, bounces) always end here: they are never requests.

Every text part is read (forwarded messages included); signature and contact parts (S/MIME, PGP, vCards) stay in the
raw message and are never documents or a reason to refuse it.

Nothing received is dropped: a malformed message, a refused attachment and an unexpected error all end in FailedIntake.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.errors import (
    CloseBoundaryNotFoundDefect,
    InvalidBase64CharactersDefect,
    InvalidBase64LengthDefect,
    InvalidBase64PaddingDefect,
    MessageDefect,
    MultipartInvariantViolationDefect,
    NoBoundaryInMultipartDefect,
    StartBoundaryNotFoundDefect,
)
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.html import strip_tags

from intake.choices import DocumentKind, DocumentSource
from intake.models import FailedIntake, InboundMessage
from intake.patients import placeholder_patient_create
from intake.services import IncomingDocument, intake_receive
from roi import clock
from roi.errors import ServiceError
from roi.models import Tenant
from roi.tenancy import require_staff
from workflow.choices import Channel, RequestorKind, RequestType
from workflow.models import RecordRequest, Requestor

logger = logging.getLogger(__name__)

CREATED = "created"
DUPLICATE = "duplicate"
FAILED = "failed"

SCOPE_EXCERPT_CHARS = 2000

# Placeholder patients: see intake/patients.py.

# Fax-to-email gateways (eFax, RightFax, SRFax...) send each fax as a PDF or TIFF from a recognisable address or with
# a "Fax from ..." subject. Override with settings.INBOUND_FAX_GATEWAY_PATTERN (a regular expression searched in the
# sender's address and, separately, in the subject).
DEFAULT_FAX_GATEWAY_PATTERN = (
    r"(?i)(^|[@.])(e?fax|rightfax|faxage|srfax|myfax|faxmaker)[.@-]"  # fax@..., ...@efax.com, ...@fax.hospital.org
    r"|^\s*(new\s+)?fax\s+(from|received|message)\b"  # "Fax from 312-555-0199", "New fax received"
)

# MIME defects that mean the message was cut or its structure is broken: the attachments cannot be trusted whole.
STRUCTURAL_DEFECTS = (
    StartBoundaryNotFoundDefect,
    CloseBoundaryNotFoundDefect,
    MultipartInvariantViolationDefect,
    NoBoundaryInMultipartDefect,
    InvalidBase64CharactersDefect,
    InvalidBase64LengthDefect,
    InvalidBase64PaddingDefect,
)


@dataclass
class Attachment:
    filename: str
    content: bytes


@dataclass
class ParsedMessage:
    message_id: str = ""
    sender_name: str = ""
    sender_address: str = ""
    subject: str = ""
    body_text: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    problem: str = ""  # set when the message cannot become a request
    automatic: str = ""  # why it is an automatic message (a bounce, an auto-reply), which never becomes a request
    kept_parts: list[str] = field(default_factory=list)  # signature and contact parts: kept in the raw, not documents

    def content_digest(self) -> str:
        """What the message says, without its transport headers: the sender, subject, text and every attachment.
        A provider's retry has the same; another message that reuses the Message-ID does not."""
        digest = hashlib.sha256()
        for piece in (self.sender_address, self.subject, self.body_text):
            digest.update(piece.encode("utf-8", "replace") + b"\0")
        for attachment in self.attachments:
            digest.update(attachment.filename.encode("utf-8", "replace") + b"\0" + attachment.content + b"\0")
        return digest.hexdigest()

    @property
    def sender_label(self) -> str:
        if self.sender_name and self.sender_address:
            return f"{self.sender_name} <{self.sender_address}>"[:300]
        return (self.sender_address or self.sender_name)[:300]


@dataclass(frozen=True)
class IngestResult:
    status: str  # CREATED, DUPLICATE or FAILED
    record_request: RecordRequest | None = None
    failed_intake: FailedIntake | None = None
    reason: str = ""

    @property
    def tracking_number(self) -> str | None:
        return self.record_request.tracking_number if self.record_request else None


# --- Parsing ----------------------------------------------------------------------------------------------------


def message_key(parsed: ParsedMessage, raw: bytes) -> str:
    """The idempotency key: the Message-ID with what the message says (a provider's retry re-sends the same message
    under new transport headers; a sender reusing a Message-ID for another message is a new message), else the
    exact bytes."""
    message_id = parsed.message_id.strip().encode()
    if not message_id:
        return hashlib.sha256(raw).hexdigest()
    if parsed.problem:  # what it says could not be read: its Message-ID alone recognises a retry
        return hashlib.sha256(message_id).hexdigest()
    return hashlib.sha256(message_id + b"\0" + parsed.content_digest().encode()).hexdigest()


def message_id_digest(parsed: ParsedMessage) -> str:
    return hashlib.sha256(parsed.message_id.strip().encode()).hexdigest() if parsed.message_id.strip() else ""


# Parts that sign or describe the message rather than carry a document: kept in the raw message, never a document
# and never a reason to refuse the message.
KEPT_PART_TYPES = frozenset(
    {
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
        "application/pgp-signature",
        "application/pgp-keys",
        "text/vcard",
        "text/x-vcard",
        "text/directory",
    }
)
AUTOMATIC_SENDERS = re.compile(r"(?i)^(mailer-daemon|postmaster|mail-daemon)@")


def _automatic(message: EmailMessage, sender_address: str) -> str:
    """Why the message is automatic (RFC 3464 delivery report, RFC 3834 auto-reply, a mail system's bounce), or ""."""
    submitted = _header(message, "Auto-Submitted").lower()
    if submitted and submitted != "no":
        return f"an automatic reply (Auto-Submitted: {submitted})"
    if message.get_content_type() == "multipart/report" or any(
        part.get_content_type() in ("message/delivery-status", "message/disposition-notification")
        for part in message.walk()
    ):
        return "a delivery or read report"
    if AUTOMATIC_SENDERS.search(sender_address):
        return f"a mail system's bounce ({sender_address})"
    if _header(message, "X-Autoreply") or _header(message, "X-Autorespond"):
        return "an automatic reply"
    return ""


def _texts(message: EmailMessage) -> list[str]:
    """Every text the message carries for a reader, forwarded messages included: plain text parts, or the HTML ones
    when a part has no plain alternative. Attachments are documents, not text."""
    plain, html = [], []
    for part in message.walk():
        if part.is_multipart() or part.is_attachment() or part.get_filename():
            continue
        if part.get_content_type() == "text/plain":
            plain.append(part)
        elif part.get_content_type() == "text/html":
            html.append(part)
    chosen = plain or html
    return [text for text in (_text_of(part).strip() for part in chosen) if text]


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
        return " ".join(str(value).split()) if value is not None else ""
    except Exception:  # noqa: BLE001 - a header the email package cannot decode reads as absent, not as a crash
        return ""


def _text_of(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # unknown charset, broken transfer encoding
        payload = part.get_payload(decode=True) or b""
        content = payload.decode("utf-8", errors="replace")
    if not isinstance(content, str):
        return ""
    return strip_tags(content) if part.get_content_type() == "text/html" else content


def _defects(message: EmailMessage) -> list[MessageDefect]:
    found: list[MessageDefect] = []
    for part in message.walk():
        found.extend(part.defects)
    return found


def parse_message(raw: bytes) -> ParsedMessage:
    """Read what ingestion needs from the raw bytes. Never raises: a problem is reported in `problem`."""
    parsed = ParsedMessage()
    try:
        return _parse_into(parsed, raw)
    except Exception as error:  # noqa: BLE001 - the email package has crash bugs on hostile input; keep the message
        parsed.attachments = []
        parsed.problem = f"The message could not be read ({type(error).__name__}: {error})."
        return parsed


def _parse_into(parsed: ParsedMessage, raw: bytes) -> ParsedMessage:
    if not raw.strip():
        parsed.problem = "The message is empty."
        return parsed
    message: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)  # type: ignore[assignment]  # policy.default parses into EmailMessage
    if not message.keys():
        parsed.problem = "The message has no readable headers: it is not an email message (garbage or truncated)."
        return parsed
    parsed.message_id = _header(message, "Message-ID")[:998]
    name, address = parseaddr(_header(message, "From"))
    parsed.sender_name = name.strip()[:200]
    parsed.sender_address = address.strip()[:254]
    parsed.subject = _header(message, "Subject")[:300]

    structural = [d for d in _defects(message) if isinstance(d, STRUCTURAL_DEFECTS)]
    if structural:
        names = ", ".join(sorted({type(d).__name__ for d in structural}))
        parsed.problem = f"The message is truncated or its MIME structure is broken ({names})."
        return parsed

    parsed.automatic = _automatic(message, parsed.sender_address)
    texts = _texts(message)
    parsed.body_text = "\n\n".join(texts)
    for index, part in enumerate(message.walk(), start=1):
        if part.is_multipart():
            continue
        filename = part.get_filename() or ""
        if part.get_content_type() in KEPT_PART_TYPES:
            parsed.kept_parts.append(filename or part.get_content_type())
            continue
        if part.get_content_maintype() == "text" and not (part.is_attachment() or filename):
            continue  # read as text above
        if not part.is_attachment() and part.get("Content-ID"):
            continue  # an image the HTML body shows inline (a logo in a signature), not a document sent to us
        if not (part.is_attachment() or filename or part.get_content_maintype() != "text"):
            continue
        content = part.get_payload(decode=True) or b""
        if not content:
            parsed.problem = f"The attachment {filename or f'#{index}'} is empty."
            return parsed
        parsed.attachments.append(Attachment(filename=(filename or f"attachment-{index}")[:255], content=content))
    if not parsed.attachments and not parsed.body_text:
        parsed.problem = "The message has neither an attachment nor any text: there is no request to read."
    return parsed


def is_fax_gateway(parsed: ParsedMessage) -> bool:
    pattern = re.compile(getattr(settings, "INBOUND_FAX_GATEWAY_PATTERN", "") or DEFAULT_FAX_GATEWAY_PATTERN)
    return bool(pattern.search(parsed.sender_address) or pattern.search(parsed.subject))


# --- Ingestion --------------------------------------------------------------------------------------------------


def _requestor_for(*, tenant: Tenant, parsed: ParsedMessage) -> dict[str, Any]:
    """An existing requestor of the tenant with the sender's email, else the data for a new one of kind "other"
    (staff correct the kind, e.g. attorney or insurer, while completing the intake)."""
    address = parsed.sender_address
    try:
        validate_email(address)
    except ValidationError:
        address = ""
    if address:
        existing = Requestor.objects.for_tenant(tenant).filter(email__iexact=address).order_by("pk").first()
        if existing is not None:
            return {"requestor": existing}
    domain = address.rpartition("@")[2].lower() if address else ""
    return {
        "requestor_data": {
            "kind": RequestorKind.OTHER,
            "name": (parsed.sender_name or address or "Unknown sender")[:200],
            "email": address,
            "organization": domain[:200],
        }
    }


def _scope_notes(parsed: ParsedMessage, reused: InboundMessage | None = None) -> str:
    excerpt = f"Subject: {parsed.subject}\n\n{parsed.body_text}" if parsed.subject else parsed.body_text
    notes = []
    if reused is not None:
        notes.append(
            f"Flag: this message reuses the Message-ID of another with different content, taken in on "
            f"{reused.received_at:%Y-%m-%d %H:%M} UTC: check it is not an altered copy."
        )
    if parsed.kept_parts:
        notes.append("Kept with the message (not documents): " + ", ".join(parsed.kept_parts)[:300] + ".")
    return "\n".join([*notes, "From the email: " + excerpt[:SCOPE_EXCERPT_CHARS]])


def _create_request(
    *,
    tenant: Tenant,
    parsed: ParsedMessage,
    key: str,
    channel: str,
    received_at: datetime,
    reused: InboundMessage | None = None,
) -> RecordRequest:
    source = DocumentSource.FAX if channel == Channel.FAX else DocumentSource.EMAIL
    documents = [
        IncomingDocument(
            uploaded_file=ContentFile(attachment.content, name=attachment.filename),
            kind=DocumentKind.REQUEST_LETTER if index == 0 else DocumentKind.OTHER,
            source=source,
            note=f"Attachment of the {'fax' if channel == Channel.FAX else 'email'} from {parsed.sender_label}"[:300],
        )
        for index, attachment in enumerate(parsed.attachments)
    ]
    return intake_receive(
        tenant=tenant,
        actor=None,
        channel=channel,
        patient=placeholder_patient_create(
            tenant=tenant,
            actor=None,
            reference=key[:12],
            source=f"{'fax' if channel == Channel.FAX else 'email'} intake",
        ),
        **_requestor_for(tenant=tenant, parsed=parsed),
        # The type is unknown until someone reads the letter; staff set it while completing the intake.
        request_type=RequestType.OTHER,
        received_at=received_at,
        documents=documents,
        needs_intake_completion=True,
        # The acknowledgment letter prints the patient's name and date of birth: with the placeholder patient it
        # would tell the requestor "Unidentified, born January 1, 1900". It goes out once staff identify the patient.
        acknowledge=False,
        scope_notes=_scope_notes(parsed, reused),
    )


def _claim(*, tenant: Tenant, key: str, channel: str, parsed: ParsedMessage, received_at: datetime) -> InboundMessage:
    """Record the message as taken in. The unique (tenant, message_key) constraint makes a concurrent second
    delivery of the same message wait for this transaction, then fail with IntegrityError: it becomes a duplicate."""
    with transaction.atomic():
        return InboundMessage.objects.create(
            tenant=tenant,
            message_key=key,
            message_id_digest=message_id_digest(parsed),
            channel=channel,
            sender=parsed.sender_label,
            subject=parsed.subject[:300],
            received_at=received_at,
        )


def _reused_message_id(*, tenant: Tenant, parsed: ParsedMessage, key: str) -> InboundMessage | None:
    """An earlier message with the same Message-ID and other content: taken in, and flagged for staff."""
    digest = message_id_digest(parsed)
    if not digest:
        return None
    return (
        InboundMessage.objects.for_tenant(tenant)
        .filter(message_id_digest=digest)
        .exclude(message_key=key)
        .order_by("received_at")
        .first()
    )


def _duplicate(*, tenant: Tenant, key: str) -> IngestResult | None:
    seen = InboundMessage.objects.for_tenant(tenant).select_related("request").filter(message_key=key).first()
    if seen is None:
        return None
    return IngestResult(DUPLICATE, record_request=seen.request, reason="This message was already taken in.")


def ingest_message(
    *, tenant: Tenant, raw: bytes, channel: str = Channel.EMAIL, source_label: str = "maildir"
) -> IngestResult:
    """Turn one raw RFC 822 message into a request, or keep it in FailedIntake. Idempotent per message.

    `channel` is "email" (a message that looks like a fax gateway's becomes a fax) or "fax" (the mailbox only
    receives faxes). `source_label` names where it came from (maildir, webhook) in logs and failure reasons.
    """
    received_at = clock.now()
    parsed = parse_message(raw)
    key = message_key(parsed, raw)
    if channel not in (Channel.EMAIL, Channel.FAX):
        raise ValueError(f"channel must be email or fax, not {channel!r}")
    if channel == Channel.EMAIL and not parsed.problem and is_fax_gateway(parsed):
        channel = Channel.FAX

    known = _duplicate(tenant=tenant, key=key)
    if known is not None:
        return known

    reason = parsed.problem
    if not reason and parsed.automatic:
        reason = f"Automatic message ({parsed.automatic}): not a request. Kept for the record."
    if not reason:
        try:
            with transaction.atomic():
                reused = _reused_message_id(tenant=tenant, parsed=parsed, key=key)
                try:
                    inbound = _claim(tenant=tenant, key=key, channel=channel, parsed=parsed, received_at=received_at)
                except IntegrityError:
                    return _duplicate(tenant=tenant, key=key) or IngestResult(DUPLICATE)
                record_request = _create_request(
                    tenant=tenant, parsed=parsed, key=key, channel=channel, received_at=received_at, reused=reused
                )
                inbound.request = record_request
                inbound.raw.save("message.eml", ContentFile(raw), save=False)
                inbound.save(update_fields=["request", "raw"])
            logger.info(
                "Ingested %s message as %s (tenant %s)", source_label, record_request.tracking_number, tenant.pk
            )
            return IngestResult(CREATED, record_request=record_request)
        except ServiceError as error:
            reason = f"Refused: {error.message}"
        except Exception as error:
            logger.exception("Unexpected error ingesting a %s message (tenant %s)", source_label, tenant.pk)
            reason = f"Unexpected error ({type(error).__name__}): {error}"
    return _fail(
        tenant=tenant, raw=raw, parsed=parsed, key=key, channel=channel, received_at=received_at, reason=reason
    )


def _fail(
    *, tenant: Tenant, raw: bytes, parsed: ParsedMessage, key: str, channel: str, received_at: datetime, reason: str
) -> IngestResult:
    """Keep the whole message with the reason. The message is claimed too, so a re-run does not file it twice."""
    failed = FailedIntake(
        tenant=tenant,
        source=DocumentSource.FAX if channel == Channel.FAX else DocumentSource.EMAIL,
        sender=parsed.sender_label,
        subject=parsed.subject[:300],
        reason=reason[:4000],
        received_at=received_at,
    )
    failed.raw.save("message.eml", ContentFile(raw), save=False)
    try:
        with transaction.atomic():
            try:
                _claim(tenant=tenant, key=key, channel=channel, parsed=parsed, received_at=received_at)
            except IntegrityError:
                failed.raw.delete(save=False)
                return _duplicate(tenant=tenant, key=key) or IngestResult(DUPLICATE)
            failed.save()
    except BaseException:
        failed.raw.delete(save=False)
        raise
    logger.warning("Kept a failed %s intake %s (tenant %s): %s", channel, failed.pk, tenant.pk, reason)
    return IngestResult(FAILED, failed_intake=failed, reason=reason)


def failed_intake_resolve(*, tenant: Tenant, actor: Any, failed_intake: FailedIntake, note: str) -> FailedIntake:
    """Mark a failed intake as handled (re-entered by hand, spam, sent back to the sender), with a note. The row
    and the raw message stay: they are the record of what was received."""
    require_staff(actor, tenant)
    note = (note or "").strip()
    if not note:
        raise ServiceError("Say how it was handled (for example: entered as ROI-..., or spam).", field="note")
    now = clock.now()
    with transaction.atomic():
        changed = (
            FailedIntake.objects.for_tenant(tenant)
            .filter(pk=failed_intake.pk, resolved_at__isnull=True)
            .update(resolved_at=now, resolved_by=actor, resolution=note[:300])
        )
        if changed != 1:
            raise ServiceError("This failed intake was already marked resolved.")
    return FailedIntake.objects.for_tenant(tenant).get(pk=failed_intake.pk)
