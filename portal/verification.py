"""Who may see a request on the portal: the verifier check and the browser's access grant.

A requestor proves they are the one who asked with something they gave at intake and a stranger holding the tracking
number would not have: the email address or phone number on the request, or, when the requestor is the patient or
their personal representative, the patient's date of birth. A signed status link (intake/status_links.py) proves the
same by having reached the requestor's mailbox.

A successful check grants this browser access to that request for ACCESS_MINUTES after its last page view. The grant is
a signed cookie holding request ids, not a database session: the status page is the portal's busiest page, and
reading a cookie costs no query. Logging out of the portal (or closing the browser) drops it.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

from intake.patients import UNIDENTIFIED_BIRTH_DATE
from roi.audit import access_record
from workflow.choices import RequestorKind

COOKIE_NAME = "roi_portal_access"
COOKIE_SALT = "openroi.portal.access"
ACCESS_MINUTES = 30
# A browser keeps at most this many grants; a new one pushes out the oldest.
MAX_GRANTS = 20

# Requestors who may verify with the patient's date of birth (they are the patient, or stand in the patient's shoes).
DOB_REQUESTOR_KINDS = frozenset({RequestorKind.PATIENT, RequestorKind.PERSONAL_REPRESENTATIVE})

_DIGITS = re.compile(r"\d")
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%m/%d/%y", "%d.%m.%Y")


@dataclass(frozen=True)
class Verifiers:
    """What a request can be verified with, normalised. Empty strings never match."""

    email: str = ""
    phone: str = ""
    date_of_birth: str = ""


def _email(value: str) -> str:
    value = value.strip().lower()
    return value if "@" in value else ""


def _phone(value: str) -> str:
    digits = "".join(_DIGITS.findall(value))
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]  # +1 country code
    return digits if len(digits) == 10 else ""


def _birth_date(value: str) -> str:
    value = value.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            continue
    return ""


def verifiers_for(*, email: str, phone: str, requestor_kind: str, date_of_birth: date | None) -> Verifiers:
    # A placeholder patient's sentinel date of birth (a portal request before staff identify the patient) is the
    # same well-known date on every such request: it must never verify anyone.
    return Verifiers(
        email=_email(email or ""),
        phone=_phone(phone or ""),
        date_of_birth=date_of_birth.isoformat()
        if date_of_birth and requestor_kind in DOB_REQUESTOR_KINDS and date_of_birth != UNIDENTIFIED_BIRTH_DATE
        else "",
    )


def birth_date_to_verify(record_request: Any) -> date | None:
    """The patient's date of birth a lookup compares: the patient's own, or, while a portal request's patient is
    still a placeholder (portal/submission.py: staff identify the patient during intake), the one the requestor
    typed on the form. A patient who submitted for themselves can look their request up with it from the first day,
    as with the email address they gave. Reads the submission from the request's cache when it was selected with it
    (portal/lookup.py), else with one query."""
    patient = record_request.patient
    if not getattr(patient, "is_placeholder", False):
        return patient.date_of_birth
    submission = getattr(record_request, "portal_submission", None)  # RelatedObjectDoesNotExist is an AttributeError
    return submission.patient_date_of_birth if submission is not None else None


# Compared when the tracking number matches no request, so a miss does the same work as a wrong verifier.
NO_REQUEST = Verifiers(email="nobody@invalid.example", phone="0000000000", date_of_birth="0001-01-01")


def verifier_matches(verifiers: Verifiers, typed: str) -> bool:
    """Compare what the visitor typed with every verifier, always all three and in constant time per comparison,
    so the time taken says nothing about which one (if any) came close."""
    candidates = (_email(typed), _phone(typed), _birth_date(typed))
    matched = False
    for candidate, known in zip(candidates, (verifiers.email, verifiers.phone, verifiers.date_of_birth), strict=True):
        same = hmac.compare_digest(candidate.encode(), known.encode())
        matched |= bool(candidate) and bool(known) and same
    return matched


# --- The browser's grants ------------------------------------------------------------------------------------------


def granted_ids(request: HttpRequest) -> list[int]:
    """Request ids this browser may see, most recent last; [] for none, an expired or a tampered cookie."""
    cached = getattr(request, "_portal_grants", None)
    if cached is not None:
        return cached
    try:
        value = request.get_signed_cookie(COOKIE_NAME, salt=COOKIE_SALT, max_age=ACCESS_MINUTES * 60)
        ids = [int(item) for item in value.split(",") if item]
    except (KeyError, signing.BadSignature, ValueError):
        ids = []
    request._portal_grants = ids  # type: ignore[attr-defined]  # a mark for later in the same request
    return ids


def has_access(request: HttpRequest, request_id: int) -> bool:
    return request_id in granted_ids(request)


def grant(request: HttpRequest, request_id: int) -> None:
    """Add a request to this browser's grants; `keep_grants` writes the cookie on the response."""
    ids = [item for item in granted_ids(request) if item != request_id] + [request_id]
    request._portal_grants = ids[-MAX_GRANTS:]  # type: ignore[attr-defined]  # a mark for later in the same request
    request._portal_grants_changed = True  # type: ignore[attr-defined]  # a mark for later in the same request


def keep_grants(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Write the grants cookie again (new grants, and a fresh ACCESS_MINUTES for the existing ones). Called by the
    pages a granted visitor sees, so access lapses after ACCESS_MINUTES without a page view."""
    ids = granted_ids(request)
    if not ids:
        return response
    response.set_signed_cookie(
        COOKIE_NAME,
        ",".join(str(item) for item in ids),
        salt=COOKIE_SALT,
        max_age=None,  # a browser-session cookie; the signature's timestamp enforces ACCESS_MINUTES
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def forget(response: HttpResponse) -> HttpResponse:
    response.delete_cookie(COOKIE_NAME, samesite="Lax")
    return response


def requestor_access_record(
    *,
    http_request: HttpRequest,
    record_request: Any,
    action: str,
    detail: str,
    who: str = "portal requestor",
    obj: Any = None,
) -> None:
    """The access event of a portal visitor on a request: no staff actor, `who` says how they were verified (or that
    they were not), in the request's tenant, with the client's address."""
    access_record(
        tenant=record_request.tenant,
        actor=None,
        action=action,
        request=http_request,
        obj=obj if obj is not None else record_request,
        request_id=record_request.pk,
        patient_id=record_request.patient_id,
        detail=detail,
        actor_label=who,
    )
