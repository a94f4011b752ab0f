"""Letters to requestors: acknowledgment, deficiency and extension notices, as PDFs kept with the request.

Called by the intake services (receipt, checklist, extension) inside their own transaction. The PDF holds the PHI
(patient name and date of birth, so the requestor can match it to their request). The email that tells the requestor
about it holds none and is written by the same service to the notification outbox (intake.notices): the tracking
number, what happens next and the status link; the full letter stays with the office.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import get_language, gettext, gettext_noop

from intake.choices import LetterKind
from intake.models import Letter
from roi import clock
from roi.errors import ServiceError
from roi.models import Tenant
from roi.pdf import render_pdf
from workflow.choices import Channel, DeliveryMethod, RequestType
from workflow.models import RecordRequest

logger = logging.getLogger(__name__)

# The date fields each kind's summary must carry (ISO "YYYY-MM-DD" strings, or date objects from Python callers).
REQUIRED_DATES: dict[str, tuple[str, ...]] = {
    LetterKind.ACKNOWLEDGMENT: ("legal_due_date",),
    LetterKind.DEFICIENCY: ("respond_by", "legal_due_date"),
    LetterKind.EXTENSION: ("original_due_date", "new_due_date"),
}

EMAIL_SUBJECTS = {
    LetterKind.ACKNOWLEDGMENT: "We received your records request {tracking}",
    LetterKind.DEFICIENCY: "Action needed on your records request {tracking}",
    LetterKind.EXTENSION: "New completion date for your records request {tracking}",
}

# "We received your request on <date> <channel phrase>."
CHANNEL_PHRASES = {
    Channel.FAX: "by fax",
    Channel.MAIL: "by mail",
    Channel.PORTAL: "through our online portal",
    Channel.EMAIL: "by email",
    Channel.PHONE: "by phone",
    Channel.API: "electronically",
    Channel.WALK_IN: "in person at our office",
}

# Dates in letters read "March 5, 2030", with no-break spaces so a date never splits across lines.
LETTER_DATE_FORMAT = "F\u00a0j,\u00a0Y"

DELIVERY_PHRASES = {
    DeliveryMethod.PORTAL_DOWNLOAD: "as a secure download",
    DeliveryMethod.EMAIL_LINK: "by email, with a secure link",
    DeliveryMethod.FAX: "by fax",
    DeliveryMethod.MAIL: "by mail",
    DeliveryMethod.PICKUP: "for pickup at our office",
    DeliveryMethod.UNENCRYPTED_EMAIL: "by email, without encryption, as you asked",
}


def status_url(record_request: RecordRequest) -> str:
    """The requestor portal's status lookup page, short enough to type from a printed letter. Emails carry the
    signed link to the request's own page instead (intake/status_links.py)."""
    return settings.SITE_URL + reverse("portal:lookup", urlconf=settings.ROOT_URLCONF)


def extension_citation(record_request: RecordRequest) -> str:
    """The rule that allows the one extension: 164.528(c)(1)(ii) for an accounting of disclosures, 164.524(b)(2)(ii)
    for a patient's access to their records. Other requests (authorizations, subpoenas) run on state-law clocks
    held in JurisdictionRule, so the letter cites no federal rule for them."""
    if record_request.request_type == RequestType.ACCOUNTING:
        return "45 CFR 164.528(c)(1)(ii)"
    if record_request.request_type == RequestType.RIGHT_OF_ACCESS:
        return "45 CFR 164.524(b)(2)(ii)"
    return ""


def _as_date(summary: dict[str, Any], key: str) -> date:
    value = summary.get(key)
    if isinstance(value, datetime):
        raise ServiceError(f"Letter summary: {key} must be a date, not a date and time.", field=key)
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ServiceError(f"Letter summary: {key} must be a date (YYYY-MM-DD), got {value!r}.", field=key) from None


def _clean_summary(kind: str, summary: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Check the summary a letter needs and return (what is stored on the Letter, what the templates read)."""
    stored = dict(summary)
    shown: dict[str, Any] = {}
    for key in REQUIRED_DATES[kind]:
        shown[key] = _as_date(summary, key)
        stored[key] = shown[key].isoformat()
    if kind == LetterKind.ACKNOWLEDGMENT:
        shown["basis"] = str(summary.get("basis") or "")
    elif kind == LetterKind.DEFICIENCY:
        items = summary.get("deficiencies") or []
        if not items:
            raise ServiceError("A deficiency letter needs at least one deficiency.", field="deficiencies")
        cleaned = []
        for item in items:
            message = str(item.get("message") or "").strip()
            if not message:
                # Staff-only deficiencies (rules.Deficiency.staff_only) have no requestor message and no letter.
                raise ServiceError(f"Deficiency {item.get('code')!r} has no message for the requestor.")
            entry = {"code": str(item.get("code", "")), "message": message, "citation": item.get("citation", "")}
            if item.get("subject"):  # the document or basis at fault ("Authorization", "Court order"...)
                entry["subject"] = str(item["subject"])
            if item.get("template"):  # for the requestor's language (requestor_text)
                entry["template"] = str(item["template"])
                entry["params"] = {str(k): str(v) for k, v in (item.get("params") or {}).items()}
            cleaned.append(entry)
        stored["deficiencies"] = shown["deficiencies"] = cleaned
        # The small print explains each title the items cite (45 CFR: HIPAA; 42 CFR: Part 2).
        shown["cites_part2"] = any(str(entry["citation"]).startswith("42 CFR") for entry in cleaned)
    elif kind == LetterKind.EXTENSION:
        reason = str(summary.get("reason") or "").strip()
        if not reason:
            raise ServiceError("An extension notice must give the reason for the delay.", field="reason")
        if shown["new_due_date"] <= shown["original_due_date"]:
            raise ServiceError("The new completion date must be after the original due date.", field="new_due_date")
        stored["reason"] = shown["reason"] = reason
    return stored, shown


def _letter_context(*, tenant: Tenant, record_request: RecordRequest, kind: str, shown: dict[str, Any]) -> dict:
    tz = tenant.tzinfo
    return {
        "tenant": tenant,
        "request": record_request,
        "patient": record_request.patient,
        "requestor": record_request.requestor,
        "kind": kind,
        "today": clock.now().astimezone(tz).date(),
        "received_on": record_request.received_at.astimezone(tz).date(),
        "channel_phrase": CHANNEL_PHRASES.get(record_request.channel, ""),
        "delivery_phrase": DELIVERY_PHRASES.get(record_request.delivery_method, ""),
        "extension_citation": extension_citation(record_request),
        "status_url": status_url(record_request),
        "summary": shown,
        "date_format": LETTER_DATE_FORMAT,
    }


def letter_generate(*, tenant: Tenant, actor: Any, record_request: RecordRequest, kind: str, summary: dict) -> Letter:
    """Render the letter of `kind` for the request and keep the PDF with the request. Runs in the caller's
    transaction; the caller writes its own audit and log rows and the requestor's notice (intake.notices).

    If the caller's transaction rolls back, the Letter row goes with it (and the notice); the PDF already
    written under MEDIA_ROOT stays behind, unreferenced (Django has no rollback hook to remove it).
    """
    if record_request.tenant_id != tenant.pk:
        raise ServiceError("Request not found.")
    if kind not in REQUIRED_DATES:
        raise ServiceError(f"Unknown letter kind {kind!r}.", field="kind")
    stored, shown = _clean_summary(kind, summary)
    context = _letter_context(tenant=tenant, record_request=record_request, kind=kind, shown=shown)
    pdf = render_pdf(f"intake/letters/{kind}.html", context)
    return letter_store(tenant=tenant, actor=actor, record_request=record_request, kind=kind, pdf=pdf, summary=stored)


def letter_store(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, kind: str, pdf: bytes, summary: dict[str, Any]
) -> Letter:
    """Keep a rendered letter with the request: its file, its digest, who generated it and what it said. A row that
    cannot be saved takes its file with it."""
    letter = Letter(
        tenant=tenant,
        request=record_request,
        kind=kind,
        sha256=hashlib.sha256(pdf).hexdigest(),
        generated_at=clock.now(),
        generated_by=actor if getattr(actor, "is_authenticated", False) else None,
        summary=summary,
    )
    # upload_to (intake.models.letter_path) replaces the name with a server-generated one under the tenant's folder.
    letter.file.save(f"{kind}.pdf", ContentFile(pdf), save=False)
    try:
        with transaction.atomic():
            letter.save()
    except BaseException:
        letter.file.delete(save=False)
        raise
    return letter


def letter_open(letter: Letter) -> bytes:
    """The stored PDF, checked against the digest recorded when it was generated. The caller (an audited download
    view) writes the access event; this only reads."""
    with letter.file.open("rb") as handle:
        content = handle.read()
    if hashlib.sha256(content).hexdigest() != letter.sha256:
        raise ServiceError("The stored letter does not match the one generated; contact your administrator.")
    return content


# --- What an email may say --------------------------------------------------------------------------------------


# Deficiencies whose wording names a sensitive category (HIV, substance use, psychotherapy notes...): saying that in
# an email would tell the reader something about the patient's health, so the email says it generically.
SENSITIVE_CODE_PREFIXES = ("CONSENT_MISSING_", "PSYCHOTHERAPY_NOTES", "MINOR_CONSENTED_")
GENERIC_SENSITIVE_MESSAGE = gettext_noop(
    "Part of the records you asked for needs the patient's specific written consent. The letter from our office "
    "explains which part and what to send; you can also call us."
)


def requestor_text(item: dict[str, Any]) -> str:
    """A deficiency's requestor message in the active language. The stored message is English; a fixed message is its
    own message id, and a message with values keeps its id and values ("template", "params": a phrase, translated
    too, or an ISO date, written the language's way). A message without a translation stays as stored."""
    template = str(item.get("template") or "")
    if (get_language() or "en").startswith("en"):
        return str(item["message"])  # the words of the letter itself
    if not template:
        return gettext(str(item["message"]))
    values = {}
    for key, value in (item.get("params") or {}).items():
        if key == "date":
            try:
                values[key] = date_format(date.fromisoformat(value), "DATE_FORMAT")
            except ValueError:
                values[key] = value
        else:
            values[key] = gettext(value)
    try:
        return gettext(template) % values
    except (KeyError, ValueError, TypeError):
        return str(item["message"])


def requestor_safe_deficiencies(deficiencies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a requestor may read outside the letter (emails, the portal), in the active language: a deficiency that
    names a sensitive category is said generically, once."""
    safe: list[dict[str, Any]] = []
    generic_said = False
    for item in deficiencies:
        if str(item.get("code", "")).startswith(SENSITIVE_CODE_PREFIXES):
            if generic_said:
                continue
            generic_said = True
            safe.append({**item, "message": gettext(GENERIC_SENSITIVE_MESSAGE)})
            continue
        safe.append({**item, "message": requestor_text(item)})
    return safe
