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
