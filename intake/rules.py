"""The intake checklist's rules: from what the specialist confirmed to the list of deficiencies.

Pure functions over plain facts, so the rules can be read, tested table by table, and explained: each deficiency has
a code, a message for the requestor in plain language (what to send back), a message for staff, the citation, the
exception reason it opens and the next step. Jurisdiction-specific numbers live in JurisdictionRule, not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from django.utils.translation import gettext_noop

from exceptions.choices import ExceptionReason
from intake import bases
from intake.choices import (
    PART2_ORDER_CITATIONS,
    PART2_REQUIRED_FINDINGS,
    AuthorityType,
    AuthorizationPurpose,
    Part2CourtOrder,
    Part2Finding,
    Part2Use,
)
from workflow.choices import RecordType, RequestorKind, RequestType, SensitiveCategory, is_psychotherapy_notes

R = ExceptionReason


@dataclass(frozen=True)
class Deficiency:
    code: str
    requestor_message: str
    staff_message: str
    citation: str
    reason: str  # ExceptionReason value
    next_step: str
    staff_only: bool = False  # blocks validation but is settled by staff, with no letter and no exception
    # What the deficiency is about ("Authorization", "Court order", "Part 2 consent"...): staff pages, letters and the
    # release gate label each finding with the document or basis that must change.
    subject: str = ""
    # The requestor message is stored in English (letters, staff pages). Portal pages and emails show it in the
    # requestor's language (intake.letters.requestor_text): a fixed message is its own message id (marked with gettext_noop);
    # a message with values has its id here and the values (a phrase to translate, or an ISO date) beside it.
    requestor_template: str = ""
    requestor_params: tuple[tuple[str, str], ...] = ()

    @property
    def labelled(self) -> str:
        """The staff message with what it is about in front, unless it already starts with it."""
        if not self.subject or self.staff_message.lower().startswith(self.subject.lower()):
            return self.staff_message
        return f"{self.subject}: {self.staff_message}"


@dataclass(frozen=True)
class RepresentativeFacts:
    """A personal representative's authority as recorded (intake.models.RepresentativeAuthority)."""

    name: str
    authority_type: str
    has_document: bool
    verified: bool
    ends_on: date | None = None
    declined: bool = False  # not treated as the representative, 164.502(g)(5)


@dataclass(frozen=True)
class ConsentRuleFacts:
    """The organisation's state rule for a sensitive category (intake.models.ConsentRule)."""

    citation: str
    not_needed_for: frozenset[str]
    verified: bool = False

    @property
    def cited(self) -> str:
        return self.citation if self.verified else f"{self.citation} (example rule, unverified)"


@dataclass(frozen=True)
class AuthorizationFacts:
    """The authorization or directive a request relies on, as recorded (intake.models.Authorization)."""

    kind: str  # AuthorizationKind value
    signed_on: date
    recipient: str
    has_document: bool = True
    expires_on: date | None = None
    expiration_event: str = ""
    event_occurred_on: date | None = None
    revoked_on: date | None = None  # the day the written revocation was received
    covers_psychotherapy_notes: bool = False
    representative: RepresentativeFacts | None = None


@dataclass(frozen=True)
class IntakeFacts:
    """Everything the rules look at, gathered by intake.services from the request, its review and the records the
    review links to. The release gate (fulfillment.gate) gathers the same facts at the moment of release and runs
    the same rules with `today` the day of release."""

    request_type: str
    requestor_kind: str
    record_types: list[str]
    scope_date_from: date | None
    scope_date_to: date | None
    scope_notes: str
    sensitive_categories: list[str]
    delivery_gaps: list[str]
    needs_intake_completion: bool
    open_duplicates: int  # possible duplicates not yet reviewed
    patient_unidentified: bool = False  # an ingested message's placeholder patient (intake.ingest)
    review: dict[str, object] = field(default_factory=dict)  # IntakeReview fields; missing keys mean "not confirmed"
    today: date = field(default_factory=date.today)
    received_on: date | None = None  # in the organisation's calendar
    requestor_names: tuple[str, ...] = ()  # the requestor's name and organisation, as the request records them
    document_kinds: frozenset[str] = frozenset()  # kinds of the documents received with the request
    authorization: AuthorizationFacts | None = None
    representative: RepresentativeFacts | None = None
    patient_born_on: date | None = None
    patient_died_on: date | None = None
    # The state's rule for a sensitive category, read only when one is in play (intake.services.consent_rule_lookup).
    consent_rule: Any = None  # Callable[[str], ConsentRuleFacts | None] | None
    age_of_majority: int = 18  # in the organisation's state (AGE_OF_MAJORITY)

    @property
    def patient_is_minor(self) -> bool:
        born = self.patient_born_on
        if born is None:
            return False
        age = self.today.year - born.year - ((self.today.month, self.today.day) < (born.month, born.day))
        return age < self.age_of_majority

    @property
    def asks_psychotherapy_notes(self) -> bool:
        return is_psychotherapy_notes(self.record_types, self.sensitive_categories)

    @property
    def asks_other_records(self) -> bool:
        """Anything besides psychotherapy notes: another record type, or dates of service alone (everything)."""
        others = [t for t in self.record_types if t != RecordType.PSYCHOTHERAPY_NOTES]
        return bool(others) or (not self.record_types and bool(self.scope_date_from or self.scope_date_to))


# --- The basis a request rests on -------------------------------------------------------------------------

INDIVIDUAL = "individual"  # the patient or their personal representative, 164.524
DIRECTIVE = "directive"  # the patient directs a copy to a third party, 164.524(c)(3)(ii)
AUTHORIZATION = "authorization"  # a third party on the patient's authorization, 164.508
TREATMENT = "treatment"  # continuity of care between providers, 164.506(c)
LEGAL = "legal"  # subpoena or court order, 164.512(e)

SELF_KINDS = {RequestorKind.PATIENT, RequestorKind.PERSONAL_REPRESENTATIVE}


def basis_for(request_type: str, requestor_kind: str) -> str:
    if request_type in (RequestType.RIGHT_OF_ACCESS, RequestType.ACCOUNTING):
        return INDIVIDUAL if requestor_kind in SELF_KINDS else DIRECTIVE
    if request_type == RequestType.CONTINUITY_OF_CARE:
        return TREATMENT if requestor_kind == RequestorKind.PROVIDER else AUTHORIZATION
    if request_type == RequestType.LEGAL:
        return LEGAL
    if request_type in bases.BASES:
        return request_type  # a 164.512 basis is named by its request type (intake.bases)
    if request_type == RequestType.OTHER and requestor_kind in SELF_KINDS:
        return INDIVIDUAL
    return AUTHORIZATION


def psychotherapy_notes_to_deny(record_request: Any) -> bool:
    """The request (a RecordRequest) asks for psychotherapy notes under the right of access or a patient's directive,
    which do not cover them (45 CFR 164.524(a)(1)(i)): the notes are denied in writing, unreviewable, and the rest is
    released."""
    basis = basis_for(record_request.request_type, record_request.requestor.kind)
    asks = is_psychotherapy_notes(record_request.record_types, record_request.sensitive_categories)
    return asks and basis in (INDIVIDUAL, DIRECTIVE)


BASIS_LABELS = {
    INDIVIDUAL: "Individual's right of access (45 CFR 164.524)",
    DIRECTIVE: "Patient's written directive to a third party (45 CFR 164.524(c)(3)(ii))",
    AUTHORIZATION: "HIPAA authorization (45 CFR 164.508)",
    TREATMENT: "Treatment / continuity of care (45 CFR 164.506(c))",
    LEGAL: "Subpoena or court order (45 CFR 164.512(e))",
    **{code: f"{b.label} ({b.citation})" for code, b in bases.BASES.items()},
}


def _d(code: str, requestor: str, staff: str, citation: str, reason: str, next_step: str, **kw: Any) -> Deficiency:
    return Deficiency(code, requestor, staff, citation, reason, next_step, **kw)


LETTER_STEP = "Send the deficiency letter; wait for the corrected document."

# --- Checks ------------------------------------------------------------------------------------------------


def _fmt(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def _norm(text: str) -> str:
    """Case and punctuation folded: "HARTLEY & MOSS, L.L.P." and "Hartley & Moss LLP" read the same."""
    text = text.casefold().replace(".", "").replace("'", "").replace("\u2019", "")
    return " ".join("".join(c if c.isalnum() else " " for c in text).split())


def names_requestor(named: str, requestor_names: tuple[str, ...]) -> bool:
    """Whether the recipient a form names is the requestor: the requestor's name or organisation appears in it, or it
    in them (a form may name the firm, the request the attorney of the firm), case, spacing and punctuation folded."""
    named_norm = _norm(named)
    if not named_norm:
        return False
    for name in requestor_names:
        name_norm = _norm(name)
        if name_norm and (name_norm in named_norm or named_norm in name_norm):
            return True
    return False


REPRESENTATIVE = "Representative's authority"


def _representative(f: IntakeFacts, rep: RepresentativeFacts | None, *, acting: str) -> list[Deficiency]:
    """A personal representative is treated as the patient only with proof of authority: a document received and
    checked by a named staff member (164.502(g)), whatever the request type. `acting`: what the representative does
    ("asks for the patient's records", "signed the authorization")."""
    if rep is None or not rep.has_document:
        if rep is None and "authority" in f.document_kinds:
            return [
                _d(
                    "REPRESENTATIVE_AUTHORITY_NOT_RECORDED",
                    "",
                    f"The personal representative who {acting} has an authority document on file that nobody has "
                    "recorded and checked: record it (who, what authority, which document) on the checklist.",
                    "45 CFR 164.502(g)",
                    R.IDENTITY_NOT_VERIFIED,
                    "Record and verify the representative's authority document.",
                    staff_only=True,
                    subject=REPRESENTATIVE,
                )
            ]
        return [
            _d(
                "REPRESENTATIVE_AUTHORITY_MISSING",
                gettext_noop(
                    "Please send proof that you may act for the patient: guardianship papers, a health care power of "
                    "attorney, letters testamentary, or, for a minor, a birth certificate or custody order."
                ),
                f"The personal representative who {acting} has no authority document on file.",
                "45 CFR 164.502(g)",
                R.IDENTITY_NOT_VERIFIED,
                "Ask for the authority document.",
                subject=REPRESENTATIVE,
            )
        ]
    if rep.declined:
        return [
            _d(
                "REPRESENTATIVE_NOT_TREATED_AS_SUCH",
                # Said without the reason: the person asking may be the one the patient needs protecting from.
                gettext_noop(
                    "We cannot release the patient's records to you as the patient's personal representative. "
                    "Please contact our office."
                ),
                f"A supervisor decided not to treat {rep.name} as the patient's personal representative (a belief of "
                "abuse, neglect or danger): release to the patient, or on another basis, never to them as the "
                "representative.",
                "45 CFR 164.502(g)(5)",
                R.LEGAL_REVIEW,
                "Do not release to the representative; a supervisor decides what to tell them.",
                subject=REPRESENTATIVE,
            )
        ]
    out = _authority_fits_patient(f, rep, acting=acting)
    if not rep.verified:
        out.append(
            _d(
                "REPRESENTATIVE_AUTHORITY_NOT_VERIFIED",
                "",
                f"The authority document of {rep.name} is on file but no staff member has checked it: check it and "
                "record that you did.",
                "45 CFR 164.502(g), 164.514(h)",
                R.IDENTITY_NOT_VERIFIED,
                "Check the representative's authority document.",
                staff_only=True,
                subject=REPRESENTATIVE,
            )
        )
    if rep.ends_on is not None and rep.ends_on < f.today:
        out.append(
            _d(
                "REPRESENTATIVE_AUTHORITY_ENDED",
                AUTHORITY_ENDED % {"date": _fmt(rep.ends_on)},
                f"The authority of {rep.name} ended on {rep.ends_on:%Y-%m-%d}.",
                "45 CFR 164.502(g)",
                R.IDENTITY_NOT_VERIFIED,
                "Ask for current proof of authority, or for the patient's own request.",
                subject=REPRESENTATIVE,
                requestor_template=AUTHORITY_ENDED,
                requestor_params=(("date", rep.ends_on.isoformat()),),
            )
        )
    return out


# The age of majority where it is not 18 (state law); 164.502(g)(3) follows it.
AGE_OF_MAJORITY = {"AL": 19, "NE": 19, "MS": 21}


def _authority_fits_patient(f: IntakeFacts, rep: RepresentativeFacts, *, acting: str) -> list[Deficiency]:
    """The authority recorded must be one that can exist for this patient: an executor or administrator acts for a
    deceased patient only (164.502(g)(4)), so the date of death must be recorded; a parent acts as a parent only for a
    minor (164.502(g)(3)); an adult's parent needs guardianship or a power of attorney like anyone else."""
    if rep.authority_type == AuthorityType.EXECUTOR and f.patient_died_on is None:
        return [
            _d(
                "REPRESENTATIVE_EXECUTOR_PATIENT_NOT_DECEASED",
                "",
                f"{rep.name} {acting} as executor or administrator of the estate, but the patient has no date of "
                "death recorded: record it on the patient's page (from the death certificate or the letters), or "
                "correct the authority.",
                "45 CFR 164.502(g)(4)",
                R.IDENTITY_NOT_VERIFIED,
                "Record the patient's date of death, or correct the authority.",
                staff_only=True,
                subject=REPRESENTATIVE,
            )
        ]
    if rep.authority_type == AuthorityType.PARENT_OF_MINOR and f.patient_born_on and not f.patient_is_minor:
        return [
            _d(
                "REPRESENTATIVE_PARENT_OF_ADULT",
                gettext_noop(
                    "The patient is an adult, so a parent can act for them only as a court-appointed guardian or with "
                    "a health care power of attorney. Please send one of them, or the patient's own signed request."
                ),
                f"{rep.name} {acting} as the parent of a minor, but the patient is {f.age_of_majority} or older.",
                "45 CFR 164.502(g)(2)-(3)",
                R.IDENTITY_NOT_VERIFIED,
                "Ask for guardianship papers or a power of attorney.",
                subject=REPRESENTATIVE,
            )
        ]
    return []


AUTHORITY_ENDED = gettext_noop(
    "The document you sent gives you authority to act for the patient only until %(date)s. Please send current proof "
    "of your authority."
)


def _identity(f: IntakeFacts) -> list[Deficiency]:
    out = []
    if not f.review.get("identity_verified") or not f.review.get("identity_method"):
        out.append(
            _d(
                "IDENTITY_NOT_VERIFIED",
                gettext_noop("We could not confirm your identity. Please send a copy of a government-issued photo ID."),
                "Requestor identity not verified (record how: ID in person, ID copy, notarized, portal).",
                "45 CFR 164.514(h)",
                R.IDENTITY_NOT_VERIFIED,
                "Ask the requestor for a copy of photo ID.",
                subject="Identity",
            )
        )
    if f.requestor_kind == RequestorKind.PERSONAL_REPRESENTATIVE:
        out += _representative(f, f.representative, acting="asks for the patient's records")
    return out


# What each kind of signed permission is called in a deficiency (intake.models.Authorization.kind).
KIND_SUBJECT = {"authorization": "Authorization", "directive": "Directive"}


def _record_on_file(f: IntakeFacts, kind: str) -> list[Deficiency]:
    """The authorization or directive the request relies on must be recorded as what it is: who signed it, when,
    until when and whom it names. None recorded: the requestor is asked for a signed one (if a form came but is
    unsigned or undated, that is the deficiency too), and staff are told to record it if it is on file."""
    subject = KIND_SUBJECT[kind]
    auth = f.authorization
    if auth is None:
        if kind == "directive":
            return [
                _d(
                    "DIRECTIVE_NOT_ON_FILE",
                    gettext_noop(
                        "To send your records to someone else, we need your signed, written request that names who "
                        "should receive them and where to send them."
                    ),
                    "No directive is recorded for this request: record it from the signed request (signer, date, "
                    "recipient), or run the checklist to ask for one.",
                    "45 CFR 164.524(c)(3)(ii)",
                    R.INCOMPLETE_AUTHORIZATION,
                    LETTER_STEP,
                    subject=subject,
                )
            ]
        return [
            _d(
                "AUTH_NOT_ON_FILE",
                gettext_noop(
                    "We need the patient's signed and dated authorization to release records to you. Please send it."
                ),
                "No authorization is recorded for this request: record it from the signed form (signer, date, "
                "expiry, recipient); if the form is unsigned or undated, run the checklist to ask for one.",
                "45 CFR 164.508(a)(1), (c)(1)(vi)",
                R.INCOMPLETE_AUTHORIZATION,
                LETTER_STEP,
                subject=subject,
            )
        ]
    if not auth.has_document:
        return [
            _d(
                "BASIS_RECORD_WITHOUT_DOCUMENT",
                "",
                f"The {subject.lower()} was recorded from checklist answers, before records named the document they "
                "are on: record it again from the signed form among the request's documents.",
                "45 CFR 164.508(c)(1), 164.530(j)",
                R.INCOMPLETE_AUTHORIZATION,
                "Record the authorization from its signed form.",
                staff_only=True,
                subject=subject,
            )
        ]
    if auth.kind != kind:
        recorded = KIND_SUBJECT.get(auth.kind, auth.kind).lower()
        return [
            _d(
                "BASIS_RECORD_WRONG_KIND",
                "",
                f"The request needs a {subject.lower()}, but the one recorded is a {recorded}: record the right one.",
                "45 CFR 164.508, 164.524(c)(3)(ii)",
                R.INCOMPLETE_AUTHORIZATION,
                "Record the right document.",
                staff_only=True,
                subject=subject,
            )
        ]
    return []


def _validity(f: IntakeFacts, kind: str) -> list[Deficiency]:
    """What makes a recorded authorization or directive defective now: revoked, expired by date (before it reached
    us, or since) or by event, naming someone else, signed by a representative without proven authority."""
    auth = f.authorization
    if auth is None or auth.kind != kind:
        return []
    subject = KIND_SUBJECT[kind]
    out = []
    if auth.revoked_on is not None:
        if kind == "directive":
            out.append(
                _d(
                    "DIRECTIVE_REVOKED",
                    gettext_noop(
                        "The patient withdrew the written request to send the records to you, so we cannot send them."
                    ),
                    f"The patient withdrew this directive in writing (received {auth.revoked_on:%Y-%m-%d}).",
                    "45 CFR 164.524(c)(3)(ii)",
                    R.AUTHORIZATION_REVOKED,
                    "Tell the requestor; nothing more is sent under this directive.",
                    subject=subject,
                )
            )
        else:
            out.append(
                _d(
                    "AUTH_REVOKED",
                    gettext_noop("The patient revoked this authorization, so we cannot release records under it."),
                    f"Authorization revoked in writing (received {auth.revoked_on:%Y-%m-%d}): defective from then on.",
                    "45 CFR 164.508(b)(2)(iii), (b)(5)",
                    R.AUTHORIZATION_REVOKED,
                    "Send the deficiency letter; the requestor needs a new authorization.",
                    subject=subject,
                )
            )
    expires = auth.expires_on
    if kind == "authorization" and expires is None and not auth.expiration_event:
        out.append(
            _d(
                "AUTH_NO_EXPIRATION",
                gettext_noop(
                    "The authorization form has no expiration date or event. Please send a corrected, signed form "
                    "that says when it expires."
                ),
                "Authorization has no expiration date or expiration event.",
                "45 CFR 164.508(c)(1)(v)",
                R.INCOMPLETE_AUTHORIZATION,
                LETTER_STEP,
                subject=subject,
            )
        )
    if expires is not None and f.received_on is not None and expires < f.received_on:
        out.append(
            _d(
                "AUTH_EXPIRED_WHEN_RECEIVED",
                AUTH_EXPIRED_BEFORE % {"date": _fmt(expires)},
                f"{subject} expired {expires:%Y-%m-%d}, before the request was received ({f.received_on:%Y-%m-%d}).",
                "45 CFR 164.508(b)(2)(i)",
                R.EXPIRED_AUTHORIZATION,
                LETTER_STEP,
                subject=subject,
                requestor_template=AUTH_EXPIRED_BEFORE,
                requestor_params=(("date", expires.isoformat()),),
            )
        )
    elif expires is not None and expires < f.today:
        out.append(
            _d(
                "AUTH_EXPIRED",
                AUTH_EXPIRED % {"date": _fmt(expires)},
                f"{subject} expired {expires:%Y-%m-%d}: defective.",
                "45 CFR 164.508(b)(2)(i)",
                R.EXPIRED_AUTHORIZATION,
                LETTER_STEP,
                subject=subject,
                requestor_template=AUTH_EXPIRED,
                requestor_params=(("date", expires.isoformat()),),
            )
        )
    if auth.event_occurred_on is not None and auth.event_occurred_on <= f.today:
        out.append(
            _d(
                "AUTH_EXPIRATION_EVENT_OCCURRED",
                gettext_noop(
                    "The event the authorization said it would end with has happened, so it no longer allows a "
                    "release. Please send a new, signed authorization."
                ),
                f"The expiration event ({auth.expiration_event or 'as recorded'}) occurred on "
                f"{auth.event_occurred_on:%Y-%m-%d}: defective.",
                "45 CFR 164.508(b)(2)(i)",
                R.EXPIRED_AUTHORIZATION,
                LETTER_STEP,
                subject=subject,
            )
        )
    if not names_requestor(auth.recipient, f.requestor_names):
        out.append(
            _d(
                "AUTH_RECIPIENT_NOT_REQUESTOR" if kind == "authorization" else "DIRECTIVE_RECIPIENT_NOT_REQUESTOR",
                gettext_noop(
                    "The signed form does not name you as the person or organisation who may receive the records. "
                    "Please send a form that names you."
                ),
                f"The {subject.lower()} names {auth.recipient or 'nobody'}, not the requestor "
                f"({' / '.join(n for n in f.requestor_names if n) or 'unknown'}).",
                "45 CFR 164.508(c)(1)(iii)" if kind == "authorization" else "45 CFR 164.524(c)(3)(ii)",
                R.INCOMPLETE_AUTHORIZATION,
                LETTER_STEP,
                subject=subject,
            )
        )
    if auth.representative is not None:
        out += _representative(f, auth.representative, acting=f"signed the {subject.lower()}")
    return out


def _directive(f: IntakeFacts) -> list[Deficiency]:
    out = _record_on_file(f, "directive")
    if not (f.review.get("directive_in_writing_signed") and f.review.get("directive_names_recipient_and_destination")):
        out.append(
            _d(
                "DIRECTIVE_INCOMPLETE",
                gettext_noop(
                    "To send your records to someone else, we need your signed, written request that names who "
                    "should receive them and where to send them."
                ),
                "Third-party directive must be in writing, signed by the patient, naming the recipient and "
                "destination.",
                "45 CFR 164.524(c)(3)(ii)",
                R.INCOMPLETE_AUTHORIZATION,
                LETTER_STEP,
                subject="Directive",
            )
        )
    return [*out, *_validity(f, "directive")]


AUTH_MISSING = gettext_noop(
    "The authorization form is missing %(what)s. Please send a corrected, signed authorization."
)
AUTH_EXPIRED = gettext_noop("The authorization expired on %(date)s. Please send a new, signed authorization.")
AUTH_EXPIRED_BEFORE = gettext_noop(
    "The authorization had already expired on %(date)s, before we received it. Please send a new, signed authorization."
)

AUTH_ELEMENTS = [
    ("auth_describes_information", "AUTH_NO_DESCRIPTION", gettext_noop("a specific description of the information to be released"),
     "45 CFR 164.508(c)(1)(i)"),
    ("auth_names_discloser", "AUTH_NO_DISCLOSER", gettext_noop("the name of the organisation allowed to release it"),
     "45 CFR 164.508(c)(1)(ii)"),
    ("auth_names_recipient", "AUTH_NO_RECIPIENT", gettext_noop("the name of the person or organisation who may receive it"),
     "45 CFR 164.508(c)(1)(iii)"),
    ("auth_states_purpose", "AUTH_NO_PURPOSE", gettext_noop("the purpose of the release (\"at the request of the individual\" is "
     "enough when the patient asks)"), "45 CFR 164.508(c)(1)(iv)"),
]  # fmt: skip

AUTH_STATEMENTS = [
    ("auth_right_to_revoke_statement", "AUTH_NO_REVOCATION_STATEMENT",
     gettext_noop("a statement that the patient may revoke the authorization in writing, and how"), "45 CFR 164.508(c)(2)(i)"),
    ("auth_conditioning_statement", "AUTH_NO_CONDITIONING_STATEMENT",
     gettext_noop("a statement about whether treatment or payment may depend on signing it"), "45 CFR 164.508(c)(2)(ii)"),
    ("auth_redisclosure_statement", "AUTH_NO_REDISCLOSURE_STATEMENT",
     gettext_noop("a statement that information released may be re-disclosed by the recipient and no longer protected"),
     "45 CFR 164.508(c)(2)(iii)"),
    ("auth_plain_language", "AUTH_NOT_PLAIN_LANGUAGE", gettext_noop("wording in plain language"), "45 CFR 164.508(c)(3)"),
]  # fmt: skip


def _authorization(f: IntakeFacts) -> list[Deficiency]:
    r = f.review
    out = _record_on_file(f, "authorization")
    for key, code, what, citation in [*AUTH_ELEMENTS, *AUTH_STATEMENTS]:
        if not r.get(key):
            out.append(
                _d(
                    code,
                    AUTH_MISSING % {"what": what},
                    f"Authorization lacks {what}.",
                    citation,
                    R.INCOMPLETE_AUTHORIZATION,
                    LETTER_STEP,
                    requestor_template=AUTH_MISSING,
                    requestor_params=(("what", what),),
                    subject="Authorization",
                )
            )
    auth = f.authorization
    if auth is not None and auth.representative is not None and not r.get("auth_representative_authority_described"):
        out.append(
            _d(
                "AUTH_REPRESENTATIVE_AUTHORITY_NOT_DESCRIBED",
                gettext_noop(
                    "The authorization was signed by someone other than the patient but does not say what authority "
                    "they have to sign. Please send a corrected form with that description."
                ),
                "Signed by a representative without a description of their authority.",
                "45 CFR 164.508(c)(1)(vi)",
                R.INCOMPLETE_AUTHORIZATION,
                LETTER_STEP,
                subject="Authorization",
            )
        )
    out += _validity(f, "authorization")
    if r.get("auth_improperly_combined"):
        out.append(
            _d(
                "AUTH_IMPROPERLY_COMBINED",
                gettext_noop(
                    "The authorization is combined with another document in a way the law does not allow. Please send "
                    "a separate authorization form."
                ),
                "Compound authorization that 164.508(b)(3) does not permit: defective.",
                "45 CFR 164.508(b)(2)(iv), (b)(3)",
                R.INCOMPLETE_AUTHORIZATION,
                LETTER_STEP,
                subject="Authorization",
            )
        )
    if r.get("auth_conditions_benefits"):
        out.append(
            _d(
                "AUTH_CONDITIONS_BENEFITS",
                gettext_noop(
                    "The authorization makes treatment, payment, enrollment or eligibility for benefits depend on "
                    "signing it, which the law does not allow here. Please send a form without that condition."
                ),
                "Conditions treatment, payment, enrollment or eligibility on signing where 164.508(b)(4) does not "
                "allow it: defective.",
                "45 CFR 164.508(b)(2)(iv), (b)(4)",
                R.INCOMPLETE_AUTHORIZATION,
                LETTER_STEP,
                subject="Authorization",
            )
        )
    out += _remuneration(r)
    if r.get("auth_known_false"):
        out.append(
            _d(
                "AUTH_KNOWN_FALSE",
                gettext_noop("We cannot accept this authorization. Please contact us."),
                "Material information in the authorization is known to be false: defective; refer to legal review.",
                "45 CFR 164.508(b)(2)(v)",
                R.LEGAL_REVIEW,
                "Refer to the privacy officer for review.",
                subject="Authorization",
            )
        )
    out += _psychotherapy_authorization(f)
    return out


def _remuneration(r: dict[str, object]) -> list[Deficiency]:
    """An authorization for marketing paid for by a third party must say that the organisation is paid
    (164.508(a)(3)(ii)); one for a sale of health information must say that the disclosure will result in remuneration
    (164.508(a)(4)(i)). Which it is for is recorded on the checklist, so the statement is asked whenever it is needed."""
    purpose = r.get("auth_purpose")
    if r.get("auth_remuneration_statement"):
        return []
    if purpose == AuthorizationPurpose.SALE:
        return [
            _d(
                "AUTH_SALE_NO_REMUNERATION_STATEMENT",
                gettext_noop(
                    "An authorization to sell health information must state that the disclosure will result in "
                    "payment to us. Please send a corrected, signed form with that statement."
                ),
                "Authorization for a sale of PHI without the statement that the disclosure will result in "
                "remuneration.",
                "45 CFR 164.508(a)(4)(i)",
                R.INCOMPLETE_AUTHORIZATION,
                LETTER_STEP,
                subject="Authorization",
            )
        ]
    if purpose == AuthorizationPurpose.MARKETING and r.get("auth_remuneration_involved"):
        return [
            _d(
                "AUTH_MARKETING_NO_REMUNERATION_STATEMENT",
                gettext_noop(
                    "An authorization for marketing paid for by a third party must state that we are paid for it. "
                    "Please send a corrected, signed form with that statement."
                ),
                "Authorization for marketing involving remuneration from a third party, without the statement that "
                "it does.",
                "45 CFR 164.508(a)(3)(ii)",
                R.INCOMPLETE_AUTHORIZATION,
                LETTER_STEP,
                subject="Authorization",
            )
        ]
    return []


def _psychotherapy_authorization(f: IntakeFacts) -> list[Deficiency]:
    """Psychotherapy notes are released only on an authorization of their own (164.508(a)(2)), which may be combined
    only with another authorization for psychotherapy notes (164.508(b)(3)(ii)). Derived from what is asked for and
    what the recorded authorization covers, never from a tick."""
    auth = f.authorization
    covers = auth is not None and auth.covers_psychotherapy_notes
    out = []
    if (f.asks_psychotherapy_notes or covers) and f.asks_other_records:
        out.append(
            _d(
                "AUTH_PSYCHOTHERAPY_COMBINED",
                gettext_noop(
                    "Psychotherapy notes need their own authorization, separate from the one for other records. Please "
                    "send two separate signed forms; we will handle them as two requests."
                ),
                "Psychotherapy notes and other records asked for under one authorization: a compound authorization "
                "for psychotherapy notes is defective. Split the request (psychotherapy notes alone under their own "
                "authorization).",
                "45 CFR 164.508(b)(3)(ii), (b)(2)(iv)",
                R.INCOMPLETE_AUTHORIZATION,
                LETTER_STEP,
                subject="Authorization",
            )
        )
    elif f.asks_psychotherapy_notes and auth is not None and not covers:
        out.append(
            _d(
                "AUTH_PSYCHOTHERAPY_NOT_COVERED",
                gettext_noop(
                    "Psychotherapy notes can be released only on an authorization that is specifically for them. "
                    "Please send one signed by the patient."
                ),
                "Psychotherapy notes asked for, but the authorization recorded does not cover them.",
                "45 CFR 164.508(a)(2)",
                R.INCOMPLETE_AUTHORIZATION,
                LETTER_STEP,
                subject="Authorization",
            )
        )
    return out


def _treatment(f: IntakeFacts) -> list[Deficiency]:
    if f.review.get("provider_treating_relationship_confirmed"):
        return []
    return [
        _d(
            "PROVIDER_NOT_CONFIRMED",
            gettext_noop(
                "Please confirm that you are treating the patient (for example, the appointment or referral)."
            ),
            "Treating relationship of the requesting provider not confirmed.",
            "45 CFR 164.506(c)",
            R.AWAITING_REQUESTOR,
            "Call the provider's office to confirm the treating relationship.",
            subject="Treatment",
        )
    ]


def _legal(f: IntakeFacts) -> list[Deficiency]:
    r = f.review
    kind = r.get("legal_document_type")
    if not kind:
        return [
            _d(
                "LEGAL_DOCUMENT_MISSING",
                gettext_noop("Please send the subpoena or court order you are relying on."),
                "No subpoena or court order on file for a legal request.",
                "45 CFR 164.512(e)(1)",
                R.LEGAL_REVIEW,
                "Ask for the legal document.",
                subject="Subpoena or court order",
            )
        ]
    if kind == "court_order":
        if r.get("court_order_signed_by_judge"):
            return []
        return [
            _d(
                "COURT_ORDER_NOT_SIGNED",
                gettext_noop("The order we received is not signed by a judge. Please send the signed court order."),
                "Court order not signed by a judge; release only what a signed order expressly covers.",
                "45 CFR 164.512(e)(1)(i)",
                R.LEGAL_REVIEW,
                "Refer to legal review.",
                subject="Court order",
            )
        ]
    if kind == "subpoena" and (r.get("satisfactory_assurance") or r.get("qualified_protective_order")):
        return []
    if kind == "subpoena":
        return [
            _d(
                "SUBPOENA_NO_ASSURANCE",
                gettext_noop(
                    "A subpoena without a court order must come with written assurance that the patient was notified "
                    "and had a chance to object, or with a qualified protective order. Please send one of them."
                ),
                "Subpoena without satisfactory assurance or a qualified protective order.",
                "45 CFR 164.512(e)(1)(ii)",
                R.LEGAL_REVIEW,
                "Send the deficiency letter; refer to legal review.",
                subject="Subpoena",
            )
        ]
    return [
        _d(
            "ADMINISTRATIVE_REQUEST_NOT_A_SUBPOENA",
            "",
            "An administrative request or agency demand is neither a subpoena nor a court order: change the request "
            "type, on the request details page, to the basis it relies on (law enforcement 164.512(f), health "
            "oversight (d), public health (b), required by law (a), workers' compensation (l)...), whose checklist "
            "asks what that basis needs.",
            "45 CFR 164.512(a)-(l)",
            R.LEGAL_REVIEW,
            "Change the request type to the basis the request relies on.",
            staff_only=True,
            subject="Administrative request",
        )
    ]


def _basis_code(b: bases.PublicInterestBasis, key: str, suffix: str = "") -> str:
    return f"{b.request_type}_{key}{suffix}".upper()


def public_interest_deficiencies(f: IntakeFacts, b: bases.PublicInterestBasis) -> list[Deficiency]:
    """A request resting on a 164.512 basis (intake.bases): the requestor is one the rule names, each element it
    requires is confirmed, its path is recorded, and each decision is recorded met. An undecided decision opens the
    exception for a supervisor with no letter; a decision recorded not met tells the requestor what would be needed."""
    answers: dict[str, Any] = dict(f.review.get("basis_answers") or {})
    subject = b.subject or b.label
    out = []
    if f.requestor_kind not in b.requestor_kinds:
        kind = RequestorKind(f.requestor_kind).label.lower() if f.requestor_kind in RequestorKind.values else "other"
        out.append(
            _d(
                _basis_code(b, "requestor_not_eligible"),
                REQUESTOR_NOT_ELIGIBLE % {"who": b.who},
                f"{b.label} ({b.citation}) permits a disclosure to {b.who}; the requestor is "
                f"recorded as {kind}. Correct the requestor, or the request type if it rests on another basis.",
                b.citation,
                R.LEGAL_REVIEW,
                "Correct the requestor or the request type, or ask for the patient's authorization.",
                subject=subject,
                requestor_template=REQUESTOR_NOT_ELIGIBLE,
                requestor_params=(("who", b.who),),
            )
        )
    for element in b.elements_for(answers):
        value = answers.get(element.key)
        if element.kind == bases.CHOICE:
            if not value:
                out.append(
                    _d(
                        _basis_code(b, element.key, "_not_recorded"),
                        "",
                        f"Record on the checklist: {element.question}",
                        element.citation,
                        R.LEGAL_REVIEW,
                        "Answer the checklist question.",
                        staff_only=True,
                        subject=subject,
                    )
                )
        elif element.kind == bases.DECISION:
            if value == bases.MET:
                continue
            if value == bases.NOT_MET:
                out.append(
                    _d(
                        _basis_code(b, element.key, "_not_met"),
                        element.requestor_message,
                        f"Decided not met: {element.question[:1].lower() + element.question[1:]}",
                        element.citation,
                        R.LEGAL_REVIEW,
                        "Send the deficiency letter; deny the request if nothing more comes.",
                        subject=subject,
                    )
                )
            else:
                out.append(
                    _d(
                        _basis_code(b, element.key, "_undecided"),
                        "",
                        f"A supervisor decides whether this is met, on the checklist: {element.question}",
                        element.citation,
                        R.LEGAL_REVIEW,
                        "A supervisor (privacy officer) records the decision on the checklist, then checks again.",
                        subject=subject,
                    )
                )
        elif not value:
            out.append(
                _d(
                    _basis_code(b, element.key),
                    element.requestor_message,
                    f"Not confirmed: {element.question}",
                    element.citation,
                    R.LEGAL_REVIEW if not element.requestor_message else R.AWAITING_REQUESTOR,
                    LETTER_STEP if element.requestor_message else "Confirm it on the checklist.",
                    subject=subject,
                )
            )
    return out


REQUESTOR_NOT_ELIGIBLE = gettext_noop(
    "Records can be disclosed on the basis you rely on only to %(who)s. Please send the patient's signed "
    "authorization, or show that you are such a recipient."
)


# Requestors whose use of Part 2 records may be against the patient in a proceeding (42 CFR 2.12(d)).
PROCEEDING_REQUESTORS = frozenset({RequestorKind.ATTORNEY, RequestorKind.GOVERNMENT})
PART2 = "Part 2 consent or court order"


def part2_deficiencies(f: IntakeFacts, basis: str, part2_in_release: bool = False) -> list[Deficiency]:
    """42 CFR Part 2 records asked for by a court, an attorney or an agency: whether they would be used against the
    patient must be known (2.12(d), 2.33); a subpoena alone never releases them (2.61): the patient's Part 2 consent
    (2.31) or a subpart E court order stating its findings (2.64, 2.65, 2.66) is needed; use against the patient
    needs the patient's separate consent to that use or a 2.64/2.65 order. `part2_in_release`: the release gate
    found Part 2 records in the packet although the request did not list the category."""
    asks = SensitiveCategory.SUD_PART2 in f.sensitive_categories or part2_in_release
    if (
        not asks
        or basis not in (LEGAL, AUTHORIZATION, DIRECTIVE)
        or (basis != LEGAL and f.requestor_kind not in PROCEEDING_REQUESTORS)
    ):
        return []
    r = f.review
    consents = set(r.get("consents_received") or [])
    order = str(r.get("part2_court_order") or "")
    use = str(r.get("part2_use_against_patient") or "")
    out = []
    if not use:
        out.append(
            _d(
                "PART2_USE_UNKNOWN",
                gettext_noop(
                    "The request includes substance use disorder treatment records protected by 42 CFR Part 2. "
                    "Please tell us in writing whether they will be used in a civil, criminal, administrative or "
                    "legislative proceeding against the patient."
                ),
                "Part 2 records asked for: record whether they would be used in a proceeding against the patient.",
                "42 CFR 2.12(d), 2.33",
                R.LEGAL_REVIEW,
                "Ask the requestor how the records will be used.",
                subject=PART2,
            )
        )
    if basis == LEGAL and not order and SensitiveCategory.SUD_PART2 not in consents:
        out.append(
            _d(
                "PART2_NO_CONSENT_OR_ORDER",
                gettext_noop(
                    "A subpoena alone cannot release substance use disorder treatment records. We need the patient's "
                    "written consent under 42 CFR Part 2, or a court order under 42 CFR 2.64 (2.65 for a criminal "
                    "matter) with the findings those rules require."
                ),
                "Part 2 records under a subpoena or order without the patient's Part 2 consent or a subpart E court "
                "order.",
                "42 CFR 2.31, 2.61, 2.64",
                R.LEGAL_REVIEW,
                "Send the deficiency letter; refer to legal review.",
                subject=PART2,
            )
        )
    if order:
        required = PART2_REQUIRED_FINDINGS.get(order, ())
        found = set(r.get("part2_order_findings") or [])
        missing = [Part2Finding(code).label for code in required if code not in found]
        if missing:
            out.append(
                _d(
                    "PART2_ORDER_FINDINGS_MISSING",
                    gettext_noop(
                        "The court order does not state all the findings 42 CFR Part 2 requires before substance use "
                        "disorder treatment records may be disclosed. Please send an order that states them."
                    ),
                    f"The {order} order does not state: " + "; ".join(missing) + ".",
                    PART2_ORDER_CITATIONS.get(order, "42 CFR 2.64"),
                    R.LEGAL_REVIEW,
                    "Refer to legal review.",
                    subject="Court order (42 CFR Part 2)",
                )
            )
    if use == Part2Use.YES:
        if order == Part2CourtOrder.PROGRAM:
            out.append(
                _d(
                    "PART2_PROGRAM_ORDER_AGAINST_PATIENT",
                    gettext_noop(
                        "An order to investigate a treatment program does not allow the records to be used against "
                        "the patient. Please send an order that covers that use, or the patient's written consent."
                    ),
                    "A 2.66 order (investigation of a program) cannot support use against the patient.",
                    "42 CFR 2.66(d)",
                    R.LEGAL_REVIEW,
                    "Refer to legal review.",
                    subject="Court order (42 CFR Part 2)",
                )
            )
        elif order not in (Part2CourtOrder.NONCRIMINAL, Part2CourtOrder.CRIMINAL_PATIENT) and not r.get(
            "part2_proceedings_consent"
        ):
            out.append(
                _d(
                    "PART2_USE_AGAINST_PATIENT",
                    gettext_noop(
                        "Substance use disorder treatment records may be used in a proceeding against the patient "
                        "only with the patient's separate written consent to that use, or a court order under 42 CFR "
                        "2.64 or 2.65. Please send one of them."
                    ),
                    "Part 2 records to be used against the patient without the patient's consent to that use or a "
                    "2.64/2.65 order.",
                    "42 CFR 2.12(d), 2.31, 2.33, 2.64, 2.65",
                    R.LEGAL_REVIEW,
                    "Send the deficiency letter; refer to legal review.",
                    subject=PART2,
                )
            )
    return out


# How each category reads inside a sentence of a letter.
SENSITIVE_PHRASES = {
    SensitiveCategory.PSYCHOTHERAPY_NOTES: "psychotherapy notes",
    SensitiveCategory.SUD_PART2: "substance use disorder treatment records (42 CFR Part 2)",
    SensitiveCategory.HIV: "HIV/AIDS test results and status",
    SensitiveCategory.MENTAL_HEALTH: "mental health records",
    SensitiveCategory.GENETIC: "genetic testing results",
    SensitiveCategory.REPRODUCTIVE: "reproductive health care records",
    SensitiveCategory.MINOR_CONSENTED: "care the patient consented to on their own as a minor",
}

SENSITIVE_RULES = {
    SensitiveCategory.PSYCHOTHERAPY_NOTES: "45 CFR 164.508(a)(2)",
    SensitiveCategory.SUD_PART2: "42 CFR 2.31",
    SensitiveCategory.HIV: "State law (organisation policy)",
    SensitiveCategory.MENTAL_HEALTH: "State law (organisation policy)",
    SensitiveCategory.GENETIC: "State law (organisation policy)",
    SensitiveCategory.REPRODUCTIVE: "State law (organisation policy)",
    SensitiveCategory.MINOR_CONSENTED: "45 CFR 164.502(g)(3)",
}


# Categories whose consent rule is the state's (ConsentRule); Part 2 and psychotherapy notes are federal.
STATE_CATEGORIES = frozenset(
    {SensitiveCategory.HIV, SensitiveCategory.MENTAL_HEALTH, SensitiveCategory.GENETIC, SensitiveCategory.REPRODUCTIVE}
)


def sensitive_deficiencies(f: IntakeFacts, basis: str, categories: list[str] | None = None) -> list[Deficiency]:
    """Each sensitive category in `categories` (the request's by default; the release gate passes the categories of
    the documents in the packet) needs its specific consent, except on the individual's own request (Part 2 included,
    42 CFR 2.23). Psychotherapy notes have rules of their own: an authorization of their own
    (_psychotherapy_authorization), and on the individual's own request or directive the unreviewable denial
    (164.524(a)(1)(i); fulfillment.gate). Part 2 records on a legal basis follow _part2."""
    out = []
    consents = set(f.review.get("consents_received") or [])
    for category in f.sensitive_categories if categories is None else categories:
        label = SensitiveCategory(category).label
        if category == SensitiveCategory.MINOR_CONSENTED:
            if category not in consents:
                out += _minor_consented_care(f, basis)
            continue
        if category == SensitiveCategory.PSYCHOTHERAPY_NOTES:
            if basis in (INDIVIDUAL, DIRECTIVE, AUTHORIZATION) or category in consents:
                continue
            out.append(
                _d(
                    "PSYCHOTHERAPY_NOTES_NEED_AUTHORIZATION",
                    gettext_noop(
                        "Psychotherapy notes can be released only on an authorization signed by the patient that is "
                        "specifically for them. Please send one, or tell us to leave them out."
                    ),
                    "Psychotherapy notes asked for without an authorization of their own on file.",
                    "45 CFR 164.508(a)(2)",
                    R.INCOMPLETE_AUTHORIZATION,
                    LETTER_STEP,
                    subject="Psychotherapy-notes authorization",
                )
            )
            continue
        if basis == INDIVIDUAL or category in consents:
            continue
        if category == SensitiveCategory.SUD_PART2 and basis == LEGAL:
            continue  # _part2: consent or a subpart E order
        state_rule = f.consent_rule(category) if f.consent_rule is not None and category in STATE_CATEGORIES else None
        if state_rule is not None and basis in state_rule.not_needed_for:
            continue  # the state's law lets it go on this basis without the specific consent
        out.append(
            _d(
                f"CONSENT_MISSING_{category.upper()}",
                f"The request includes {SENSITIVE_PHRASES[SensitiveCategory(category)]}, which need the patient's "
                "specific written consent. Please "
                "send a signed consent that covers them, or tell us to leave them out.",
                f"{label} without the specific consent on file.",
                state_rule.cited if state_rule is not None else SENSITIVE_RULES[SensitiveCategory(category)],
                R.INCOMPLETE_AUTHORIZATION,
                LETTER_STEP,
                subject="Part 2 consent" if category == SensitiveCategory.SUD_PART2 else "Sensitive-category consent",
            )
        )
    return out


def _parent_acting(f: IntakeFacts, basis: str) -> str:
    """Who acts as the patient's parent: "asks" (the parent asks as the personal representative), "signed" (the
    authorization or directive relied on was signed by the parent as representative), or ""."""
    parent = AuthorityType.PARENT_OF_MINOR
    rep = f.representative
    if basis == INDIVIDUAL and f.requestor_kind == RequestorKind.PERSONAL_REPRESENTATIVE:
        return "asks" if rep is not None and rep.authority_type == parent else ""
    signer = f.authorization.representative if f.authorization is not None else None
    if basis in (DIRECTIVE, AUTHORIZATION) and signer is not None and signer.authority_type == parent:
        return "signed"
    return ""


def _minor_consented_care(f: IntakeFacts, basis: str) -> list[Deficiency]:
    """A parent is not the personal representative for care the minor lawfully consented to on their own (or that a
    court or the parent agreed to keep confidential), 164.502(g)(3): whatever the basis, that care goes to the
    patient, or on the patient's own authorization (recorded as this category's consent), never on the parent's word.
    Everyone else (the patient, a third party on the patient's own authorization, a court) is not asked for more."""
    acting = _parent_acting(f, basis)
    if not acting:
        return []
    how = "asks as the patient's parent" if acting == "asks" else "signed the authorization as the patient's parent"
    return [
        _d(
            "MINOR_CONSENTED_CARE_TO_PARENT",
            gettext_noop(
                "Part of the records is care the patient consented to on their own as a minor. A parent cannot "
                "receive it as the patient's representative; it is released to the patient, or with the patient's own "
                "signed authorization. The rest of the records is not affected."
            ),
            f"The requestor {how}, but the records include care the minor consented to on their own: the parent is "
            "not the representative for it. Leave those records out, or record the patient's own authorization as "
            "this category's consent.",
            "45 CFR 164.502(g)(3)(i)(A)-(C)",
            R.IDENTITY_NOT_VERIFIED,
            "Leave out the minor-consented records (or get the patient's own authorization) and release the rest.",
            subject="Minor's own care",
        )
    ]


def _scope(f: IntakeFacts) -> list[Deficiency]:
    if f.request_type == RequestType.ACCOUNTING:
        # 45 CFR 164.528(a): an accounting lists disclosures, not records; its period is the six years before the
        # request (fulfillment/disclosures.py), so it has no record types or dates of service to ask for.
        return []
    out = []
    if not f.record_types and not (f.scope_date_from or f.scope_date_to):
        out.append(
            _d(
                "SCOPE_UNCLEAR",
                gettext_noop(
                    "Please tell us which records you need: the kinds of records (for example lab results, discharge "
                    "summaries) or the dates of service."
                ),
                "Scope has neither record types nor dates of service.",
                "45 CFR 164.508(c)(1)(i), 164.514(d)",
                R.SCOPE_UNCLEAR,
                "Call or write to the requestor to narrow the scope.",
            )
        )
    if RecordType.OTHER in f.record_types and not f.scope_notes.strip():
        out.append(
            _d(
                "SCOPE_OTHER_UNDESCRIBED",
                gettext_noop("Please describe the 'other' records you are asking for."),
                "Record type 'Other' chosen with no scope notes.",
                "45 CFR 164.514(d)",
                R.SCOPE_UNCLEAR,
                "Ask the requestor what 'other' means.",
            )
        )
    return out


def _delivery(f: IntakeFacts) -> list[Deficiency]:
    if not f.delivery_gaps:
        return []
    return [
        _d(
            "DELIVERY_INCOMPLETE",
            gettext_noop(
                "Please tell us how and where to send the records (secure download, email, fax number or mailing address)."
            ),
            " ".join(f.delivery_gaps),
            "45 CFR 164.524(c)(2)-(3)",
            R.AWAITING_REQUESTOR,
            "Contact the requestor for the delivery details.",
        )
    ]


def _staff_checks(f: IntakeFacts) -> list[Deficiency]:
    out = []
    if f.patient_unidentified or f.needs_intake_completion:
        out.append(
            _d(
                "INTAKE_DETAILS_UNCONFIRMED",
                "",
                "Arrived by email or fax: identify the patient and confirm the request type, scope and delivery on "
                "the request details page.",
                "Organisation policy (intake)",
                R.OTHER,
                "Complete the request details.",
                staff_only=True,
            )
        )
    if f.open_duplicates:
        out.append(
            _d(
                "POSSIBLE_DUPLICATE",
                "",
                f"{f.open_duplicates} possible duplicate(s) found: link this request as a duplicate or mark it "
                "distinct.",
                "Organisation policy (duplicate requests)",
                R.OTHER,
                "Review the possible duplicates.",
                staff_only=True,
            )
        )
    return out


# Subjects of the checks that are the same whatever the basis.
SUBJECTS = {
    "SCOPE_UNCLEAR": "Scope",
    "SCOPE_OTHER_UNDESCRIBED": "Scope",
    "DELIVERY_INCOMPLETE": "Delivery",
    "INTAKE_DETAILS_UNCONFIRMED": "Intake",
    "POSSIBLE_DUPLICATE": "Intake",
}


def evaluate(f: IntakeFacts, *, at_release: bool = False) -> list[Deficiency]:
    """Every deficiency of the request, in the order a letter should list them. `at_release`: the release gate's
    run, at the moment records leave (no staff-side intake findings: duplicates and unconfirmed details were settled
    before validation)."""
    basis = basis_for(f.request_type, f.requestor_kind)
    # Staff-side findings first: they are what the specialist must settle before anything else.
    found: list[Deficiency] = [] if at_release else _staff_checks(f)
    if basis == INDIVIDUAL:
        found += _identity(f)
    elif basis == DIRECTIVE:
        found += _directive(f)
    elif basis == AUTHORIZATION:
        found += _authorization(f)
    elif basis == TREATMENT:
        found += _treatment(f)
    elif basis == LEGAL:
        found += _legal(f)
    elif basis in bases.BASES:
        found += public_interest_deficiencies(f, bases.BASES[basis])
    found += part2_deficiencies(f, basis)
    found += sensitive_deficiencies(f, basis)
    found += _scope(f)
    found += _delivery(f)
    return [d if d.subject else replace(d, subject=SUBJECTS.get(d.code, "")) for d in found]


# Which reason an episode gets when several deficiencies are found: the one that most changes what happens next.
REASON_PRIORITY = [
    R.AUTHORIZATION_REVOKED,
    R.LEGAL_REVIEW,
    R.EXPIRED_AUTHORIZATION,
    R.INCOMPLETE_AUTHORIZATION,
    R.IDENTITY_NOT_VERIFIED,
    R.SCOPE_UNCLEAR,
    R.AWAITING_REQUESTOR,
    R.OTHER,
]


def episode_reason(deficiencies: list[Deficiency]) -> str:
    reasons = {d.reason for d in deficiencies}
    return next(reason for reason in REASON_PRIORITY if reason in reasons)
