from django.db import models


class DocumentKind(models.TextChoices):
    REQUEST_LETTER = "request_letter", "Request letter or form"
    AUTHORIZATION = "authorization", "HIPAA authorization"
    IDENTITY = "identity", "Proof of identity"
    AUTHORITY = "authority", "Proof of authority (guardianship, POA, letters testamentary, birth certificate)"
    SUBPOENA = "subpoena", "Subpoena"
    COURT_ORDER = "court_order", "Court order"
    ASSURANCE = "assurance", "Satisfactory assurance or qualified protective order"
    CONSENT = "consent", "Specific consent for a sensitive category"
    REVOCATION = "revocation", "Written revocation of an authorization or directive"
    CORRESPONDENCE = "correspondence", "Correspondence"
    OTHER = "other", "Other"


class DocumentSource(models.TextChoices):
    STAFF_UPLOAD = "staff_upload", "Uploaded by staff"
    EMAIL = "email", "Email"
    FAX = "fax", "Fax"
    API = "api", "API"
    PORTAL = "portal", "Portal"


class IdentityMethod(models.TextChoices):
    PHOTO_ID_IN_PERSON = "photo_id_in_person", "Photo ID checked in person"
    PHOTO_ID_COPY = "photo_id_copy", "Copy of photo ID received"
    NOTARIZED = "notarized", "Notarized signature"
    PORTAL_VERIFIED = "portal_verified", "Verified patient portal account"
    KNOWLEDGE = "knowledge", "Identifiers confirmed by phone (name, date of birth, address)"


class AuthorityType(models.TextChoices):
    PARENT_OF_MINOR = "parent_of_minor", "Parent or guardian of a minor"
    GUARDIAN = "guardian", "Court-appointed guardian"
    HEALTHCARE_POA = "healthcare_poa", "Health care power of attorney"
    EXECUTOR = "executor", "Executor or administrator of the estate"
    OTHER = "other", "Other legal authority"


class LegalDocumentType(models.TextChoices):
    SUBPOENA = "subpoena", "Subpoena (not signed by a judge)"
    COURT_ORDER = "court_order", "Court order signed by a judge"
    ADMINISTRATIVE = "administrative", "Administrative request or agency demand"


class LetterKind(models.TextChoices):
    ACKNOWLEDGMENT = "acknowledgment", "Acknowledgment"
    DEFICIENCY = "deficiency", "Deficiency letter"
    EXTENSION = "extension", "Extension notice"
    # Written by fulfillment.denials (164.524(d)(2)); emailed by that module, not by intake.letters.
    DENIAL = "denial", "Denial letter"
    # Written by fulfillment.denials when a review is decided (164.524(d)(4)); emailed by that module too.
    DENIAL_REVIEW = "denial_review", "Denial review decision"


class DayKind(models.TextChoices):
    CALENDAR = "calendar", "Calendar days"
    BUSINESS = "business", "Business days"


class NoticeEvent(models.TextChoices):
    """What a requestor is emailed about (intake.notices): one short, PHI-free email per event occurrence."""

    RECEIVED = "received", "Request received"
    ACTION_NEEDED = "action_needed", "Action needed (deficiency)"
    EXTENSION = "extension", "Extension of the due date"
    SENT = "sent", "Records sent"
    DENIED = "denied", "Request denied (in full or in part)"
    DENIAL_REVIEWED = "denial_reviewed", "Review of a denial decided"


class AuthorizationKind(models.TextChoices):
    """What a signed permission to release is (intake.models.Authorization)."""

    AUTHORIZATION = "authorization", "HIPAA authorization (45 CFR 164.508)"
    DIRECTIVE = "directive", "Patient's written directive to a third party (45 CFR 164.524(c)(3)(ii))"


class AuthorizationPurpose(models.TextChoices):
    """What an authorization is for, where the rule asks more of it (45 CFR 164.508(a)(3)-(4), (b)(3)(i))."""

    MARKETING = "marketing", "Marketing (45 CFR 164.508(a)(3))"
    SALE = "sale", "Sale of health information (45 CFR 164.508(a)(4))"
    RESEARCH = "research", "Research (45 CFR 164.508(b)(3)(i), (b)(4)(i))"


class Part2Use(models.TextChoices):
    """Whether 42 CFR Part 2 records would be used against the patient in a proceeding (42 CFR 2.12(d), 2.33)."""

    NO = "no", "No: not to be used in a proceeding against the patient"
    YES = "yes", "Yes, or possibly: a civil, criminal, administrative or legislative proceeding against the patient"


class Part2CourtOrder(models.TextChoices):
    """The 42 CFR Part 2 subpart E order a legal request relies on for substance use disorder records."""

    NONCRIMINAL = "2.64", "42 CFR 2.64: disclosure for noncriminal purposes"
    CRIMINAL_PATIENT = "2.65", "42 CFR 2.65: to investigate or prosecute the patient"
    PROGRAM = "2.66", "42 CFR 2.66: to investigate or prosecute a program or the person holding the records"


class Part2Finding(models.TextChoices):
    """The findings a Part 2 court order must state, as the order states them (42 CFR 2.64(d)-(e), 2.65(d)-(e),
    2.66(c)-(d))."""

    OTHER_MEANS_UNAVAILABLE = (
        "other_means",
        "Other ways of obtaining the information are not available or not effective",
    )
    NEED_OUTWEIGHS_HARM = (
        "outweighs_harm",
        (
            "The public interest and need for the disclosure outweigh the potential injury to the patient, the "
            "physician-patient relationship and the treatment services"
        ),
    )
    LIMITED_TO_ESSENTIAL = (
        "limited",
        (
            "The order limits disclosure to the parts of the record essential to its purpose and to the persons who need "
            "them"
        ),
    )
    EXTREMELY_SERIOUS_CRIME = (
        "serious_crime",
        ("The crime is extremely serious (it causes or directly threatens loss of life or serious bodily injury)"),
    )
    SUBSTANTIAL_VALUE = (
        "substantial_value",
        (
            "The records are reasonably likely to disclose information of substantial value to the investigation or "
            "prosecution"
        ),
    )
    HOLDER_COUNSEL = (
        "holder_counsel",
        (
            "The holder of the records had the opportunity to be represented by independent counsel (applicant is law "
            "enforcement)"
        ),
    )
    NOT_USED_AGAINST_PATIENTS = (
        "not_against_patients",
        ("The order bars using the records against patients (investigation of a program only)"),
    )


F = Part2Finding
# What each order must find, by section.
PART2_REQUIRED_FINDINGS: dict[str, tuple[str, ...]] = {
    Part2CourtOrder.NONCRIMINAL: (F.OTHER_MEANS_UNAVAILABLE, F.NEED_OUTWEIGHS_HARM, F.LIMITED_TO_ESSENTIAL),
    Part2CourtOrder.CRIMINAL_PATIENT: (
        F.EXTREMELY_SERIOUS_CRIME,
        F.SUBSTANTIAL_VALUE,
        F.OTHER_MEANS_UNAVAILABLE,
        F.NEED_OUTWEIGHS_HARM,
        F.HOLDER_COUNSEL,
        F.LIMITED_TO_ESSENTIAL,
    ),
    Part2CourtOrder.PROGRAM: (
        F.OTHER_MEANS_UNAVAILABLE,
        F.NEED_OUTWEIGHS_HARM,
        F.LIMITED_TO_ESSENTIAL,
        F.NOT_USED_AGAINST_PATIENTS,
    ),
}
PART2_ORDER_CITATIONS = {
    Part2CourtOrder.NONCRIMINAL: "42 CFR 2.64(d)-(e)",
    Part2CourtOrder.CRIMINAL_PATIENT: "42 CFR 2.65(d)-(e)",
    Part2CourtOrder.PROGRAM: "42 CFR 2.66(c)-(d)",
}
