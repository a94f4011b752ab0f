"""The intake checklist's rules: from what the specialist confirmed to the list of deficiencies.

Pure functions over plain facts, so the rules can be read, tested table by table, and explained: each deficiency has
a code, a message for the requestor in plain language (what to send back), a message for staff, the citation, the
exception reason it opens and the next step. Jurisdiction-specific numbers live in JurisdictionRule, not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils.translation import gettext_noop

from exceptions.choices import ExceptionReason
from workflow.choices import RecordType, RequestorKind, RequestType, SensitiveCategory

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
    # The requestor message is stored in English (letters, staff pages). Portal pages and emails show it in the
    # requestor's language (intake.letters.requestor_text): a fixed message is its own message id (marked with gettext_noop);
    # a message with values has its id here and the values (a phrase to translate, or an ISO date) beside it.
    requestor_template: str = ""
    requestor_params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class IntakeFacts:
    """Everything the rules look at, gathered by intake.services from the request and its review."""

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
    if request_type == RequestType.OTHER and requestor_kind in SELF_KINDS:
        return INDIVIDUAL
    return AUTHORIZATION


BASIS_LABELS = {
    INDIVIDUAL: "Individual's right of access (45 CFR 164.524)",
    DIRECTIVE: "Patient's written directive to a third party (45 CFR 164.524(c)(3)(ii))",
    AUTHORIZATION: "HIPAA authorization (45 CFR 164.508)",
    TREATMENT: "Treatment / continuity of care (45 CFR 164.506(c))",
    LEGAL: "Subpoena or court order (45 CFR 164.512(e))",
}


def _d(code: str, requestor: str, staff: str, citation: str, reason: str, next_step: str, **kw: Any) -> Deficiency:
    return Deficiency(code, requestor, staff, citation, reason, next_step, **kw)


LETTER_STEP = "Send the deficiency letter; wait for the corrected document."

# --- Checks ------------------------------------------------------------------------------------------------


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
            )
        )
    if f.requestor_kind == RequestorKind.PERSONAL_REPRESENTATIVE and not (
        f.review.get("authority_type") and f.review.get("authority_document_received")
    ):
        out.append(
            _d(
                "REPRESENTATIVE_AUTHORITY_MISSING",
                gettext_noop(
                    "Please send proof that you may act for the patient: guardianship papers, a health care power of "
                    "attorney, letters testamentary, or, for a minor, a birth certificate or custody order."
                ),
                "Personal representative without an authority document on file.",
                "45 CFR 164.502(g)",
                R.IDENTITY_NOT_VERIFIED,
                "Ask for the authority document.",
            )
        )
    return out


def _directive(f: IntakeFacts) -> list[Deficiency]:
    if f.review.get("directive_in_writing_signed") and f.review.get("directive_names_recipient_and_destination"):
        return []
    return [
        _d(
            "DIRECTIVE_INCOMPLETE",
            gettext_noop(
                "To send your records to someone else, we need your signed, written request that names who should "
                "receive them and where to send them."
            ),
            "Third-party directive must be in writing, signed by the patient, naming the recipient and destination.",
            "45 CFR 164.524(c)(3)(ii)",
            R.INCOMPLETE_AUTHORIZATION,
            LETTER_STEP,
        )
    ]


AUTH_MISSING = gettext_noop(
    "The authorization form is missing %(what)s. Please send a corrected, signed authorization."
)
AUTH_EXPIRED = gettext_noop("The authorization expired on %(date)s. Please send a new, signed authorization.")

AUTH_ELEMENTS = [
    ("auth_describes_information", "AUTH_NO_DESCRIPTION", gettext_noop("a specific description of the information to be released"),
     "45 CFR 164.508(c)(1)(i)"),
    ("auth_names_discloser", "AUTH_NO_DISCLOSER", gettext_noop("the name of the organisation allowed to release it"),
     "45 CFR 164.508(c)(1)(ii)"),
    ("auth_names_recipient", "AUTH_NO_RECIPIENT", gettext_noop("the name of the person or organisation who may receive it"),
     "45 CFR 164.508(c)(1)(iii)"),
    ("auth_states_purpose", "AUTH_NO_PURPOSE", gettext_noop("the purpose of the release (\"at the request of the individual\" is "
     "enough when the patient asks)"), "45 CFR 164.508(c)(1)(iv)"),
    ("auth_signed", "AUTH_NO_SIGNATURE", gettext_noop("the patient's signature and the date it was signed"),
     "45 CFR 164.508(c)(1)(vi)"),
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
    out = []
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
                )
            )
    expiration = r.get("auth_expiration_date")
    if not expiration and not r.get("auth_expiration_event"):
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
            )
        )
    elif isinstance(expiration, date) and expiration < f.today:
        out.append(
            _d(
                "AUTH_EXPIRED",
                AUTH_EXPIRED % {"date": f"{expiration:%B %-d, %Y}"},
                f"Authorization expired {expiration:%Y-%m-%d}: defective.",
                "45 CFR 164.508(b)(2)(i)",
                R.EXPIRED_AUTHORIZATION,
                LETTER_STEP,
                requestor_template=AUTH_EXPIRED,
                requestor_params=(("date", expiration.isoformat()),),
            )
        )
    if r.get("auth_signed_by_representative") and not r.get("auth_representative_authority_described"):
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
            )
        )
    if r.get("auth_revoked"):
        out.append(
            _d(
                "AUTH_REVOKED",
                gettext_noop("The patient revoked this authorization, so we cannot release records under it."),
                "Authorization known to have been revoked: defective.",
                "45 CFR 164.508(b)(2)(iv), (b)(5)",
                R.EXPIRED_AUTHORIZATION,
                "Send the deficiency letter; the requestor needs a new authorization.",
            )
        )
    if r.get("auth_improperly_combined"):
        out.append(
            _d(
                "AUTH_IMPROPERLY_COMBINED",
                gettext_noop(
                    "The authorization is combined with another document in a way the law does not allow. Please send "
                    "a separate authorization form."
                ),
                "Compound authorization that 164.508(b)(3) does not permit: defective.",
                "45 CFR 164.508(b)(2)(ii), (b)(3)",
                R.INCOMPLETE_AUTHORIZATION,
                LETTER_STEP,
            )
        )
    if r.get("auth_known_false"):
        out.append(
            _d(
                "AUTH_KNOWN_FALSE",
                gettext_noop("We cannot accept this authorization. Please contact us."),
                "Material information in the authorization is known to be false: defective; refer to legal review.",
                "45 CFR 164.508(b)(2)(v)",
                R.LEGAL_REVIEW,
                "Refer to the privacy officer for review.",
            )
        )
    if r.get("auth_covers_psychotherapy_notes") and r.get("auth_psychotherapy_combined_with_other"):
        out.append(
            _d(
                "AUTH_PSYCHOTHERAPY_COMBINED",
                gettext_noop(
                    "Psychotherapy notes need their own authorization, separate from the one for other records. Please "
                    "send two separate signed forms."
                ),
                "Psychotherapy-notes authorization combined with another authorization: defective.",
                "45 CFR 164.508(b)(3)(ii)",
                R.INCOMPLETE_AUTHORIZATION,
                LETTER_STEP,
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
            )
        ]
    return [
        _d(
            "ADMINISTRATIVE_REQUEST_REVIEW",
            gettext_noop("Your request is with our privacy office for review."),
            "Administrative request or agency demand: privacy officer to confirm the basis (164.512(e), (f)).",
            "45 CFR 164.512(e), (f)",
            R.LEGAL_REVIEW,
            "Refer to the privacy officer.",
        )
    ]


# How each category reads inside a sentence of a letter.
SENSITIVE_PHRASES = {
    SensitiveCategory.PSYCHOTHERAPY_NOTES: "psychotherapy notes",
    SensitiveCategory.SUD_PART2: "substance use disorder treatment records (42 CFR Part 2)",
    SensitiveCategory.HIV: "HIV/AIDS test results and status",
    SensitiveCategory.MENTAL_HEALTH: "mental health records",
    SensitiveCategory.GENETIC: "genetic testing results",
    SensitiveCategory.REPRODUCTIVE: "reproductive health care records",
}

SENSITIVE_RULES = {
    SensitiveCategory.PSYCHOTHERAPY_NOTES: "45 CFR 164.508(a)(2)",
    SensitiveCategory.SUD_PART2: "42 CFR 2.31",
    SensitiveCategory.HIV: "State law (organisation policy)",
    SensitiveCategory.MENTAL_HEALTH: "State law (organisation policy)",
    SensitiveCategory.GENETIC: "State law (organisation policy)",
    SensitiveCategory.REPRODUCTIVE: "State law (organisation policy)",
}


def _sensitive(f: IntakeFacts, basis: str) -> list[Deficiency]:
    out = []
    consents = set(f.review.get("consents_received") or [])
    for category in f.sensitive_categories:
        label = SensitiveCategory(category).label
        if basis == INDIVIDUAL:
            # Patients have a right to their own records, sensitive ones included (Part 2 too, 42 CFR 2.23),
            # except psychotherapy notes, which the right of access excludes (164.524(a)(1)(i)).
            if category != SensitiveCategory.PSYCHOTHERAPY_NOTES:
                continue
            if f.review.get("auth_covers_psychotherapy_notes"):
                continue
            out.append(
                _d(
                    "PSYCHOTHERAPY_NOTES_NEED_AUTHORIZATION",
                    gettext_noop(
                        "Psychotherapy notes are not part of the right to your records. They can be released only on a "
                        "separate authorization, which we will send you if you wish."
                    ),
                    "Psychotherapy notes requested under the right of access: excluded; needs its own authorization.",
                    "45 CFR 164.524(a)(1)(i), 164.508(a)(2)",
                    R.AWAITING_REQUESTOR,
                    "Send the deficiency letter; release the rest once resolved.",
                )
            )
            continue
        if category == SensitiveCategory.PSYCHOTHERAPY_NOTES and f.review.get("auth_covers_psychotherapy_notes"):
            continue
        if category in consents:
            continue
        out.append(
            _d(
                f"CONSENT_MISSING_{category.upper()}",
                f"The request includes {SENSITIVE_PHRASES[SensitiveCategory(category)]}, which need the patient's "
                "specific written consent. Please "
                "send a signed consent that covers them, or tell us to leave them out.",
                f"{label} requested without the specific consent on file.",
                SENSITIVE_RULES[SensitiveCategory(category)],
                R.INCOMPLETE_AUTHORIZATION,
                LETTER_STEP,
            )
        )
    return out


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


def evaluate(f: IntakeFacts) -> list[Deficiency]:
    """Every deficiency of the request, in the order a letter should list them."""
    basis = basis_for(f.request_type, f.requestor_kind)
    # Staff-side findings first: they are what the specialist must settle before anything else.
    found: list[Deficiency] = _staff_checks(f)
    if basis in (INDIVIDUAL,):
        found += _identity(f)
    elif basis == DIRECTIVE:
        found += _directive(f)
    elif basis == AUTHORIZATION:
        found += _authorization(f)
    elif basis == TREATMENT:
        found += _treatment(f)
    elif basis == LEGAL:
        found += _legal(f)
    found += _sensitive(f, basis)
    found += _scope(f)
    found += _delivery(f)
    return found


# Which reason an episode gets when several deficiencies are found: the one that most changes what happens next.
REASON_PRIORITY = [
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
