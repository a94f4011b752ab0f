"""Vocabularies of the request workflow. Labels are what HIM staff read; colours drive the badges."""

from collections.abc import Iterable

from django.db import models


class RequestState(models.TextChoices):
    RECEIVED = "received", "Received"
    VALIDATED = "validated", "Validated"
    IN_FULFILLMENT = "in_fulfillment", "In fulfillment"
    EXCEPTION = "exception", "Exception"
    DELIVERED = "delivered", "Delivered"
    CLOSED = "closed", "Closed"
    DENIED = "denied", "Denied"
    CANCELLED = "cancelled", "Cancelled"


# Work still to do: these count as open in queues and metrics and can be cancelled.
OPEN_STATES = (
    RequestState.RECEIVED,
    RequestState.VALIDATED,
    RequestState.IN_FULFILLMENT,
    RequestState.EXCEPTION,
)
# States an exception can be raised from, and so the states `resolve` may return to.
EXCEPTION_SOURCES = (RequestState.RECEIVED, RequestState.VALIDATED, RequestState.IN_FULFILLMENT)
TERMINAL_STATES = (RequestState.CLOSED, RequestState.DENIED, RequestState.CANCELLED)
# Past these nothing is still asked of anyone about the request: escalations about it and retrieval tasks for it
# close themselves on the transition (the apps' transition hooks, workflow/extensions.py).
FINISHED_STATES = (RequestState.DELIVERED, *TERMINAL_STATES)

STATE_COLOURS = {
    RequestState.RECEIVED: "blue",
    RequestState.VALIDATED: "teal",
    RequestState.IN_FULFILLMENT: "indigo",
    RequestState.EXCEPTION: "orange",
    RequestState.DELIVERED: "green",
    RequestState.CLOSED: "grey",
    RequestState.DENIED: "red",
    RequestState.CANCELLED: "grey",
}


class RequestType(models.TextChoices):
    RIGHT_OF_ACCESS = "right_of_access", "Right of access (patient)"
    AUTHORIZATION = "authorization", "Third party with authorization"
    CONTINUITY_OF_CARE = "continuity_of_care", "Continuity of care"
    LEGAL = "legal", "Subpoena or court order"
    ACCOUNTING = "accounting", "Accounting of disclosures"
    # The disclosures 45 CFR 164.512 permits without an authorization, each a basis of its own (intake.bases).
    REQUIRED_BY_LAW = "required_by_law", "Required by law"
    PUBLIC_HEALTH = "public_health", "Public health authority"
    ABUSE_NEGLECT = "abuse_neglect", "Abuse, neglect or domestic violence report"
    HEALTH_OVERSIGHT = "health_oversight", "Health oversight agency"
    LAW_ENFORCEMENT = "law_enforcement", "Law enforcement"
    DECEDENT = "decedent", "Coroner, medical examiner or funeral director"
    ORGAN_DONATION = "organ_donation", "Organ, eye or tissue donation"
    RESEARCH = "research", "Research (IRB waiver, or decedents)"
    SERIOUS_THREAT = "serious_threat", "Serious threat to health or safety"
    GOVERNMENT_FUNCTIONS = "government_functions", "Specialized government functions"
    WORKERS_COMP = "workers_comp", "Workers' compensation"
    OTHER = "other", "Other"


class Channel(models.TextChoices):
    FAX = "fax", "Fax"
    MAIL = "mail", "Mail"
    PORTAL = "portal", "Portal"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    API = "api", "API"
    WALK_IN = "walk_in", "Walk-in"


class RequestorKind(models.TextChoices):
    PATIENT = "patient", "Patient"
    PERSONAL_REPRESENTATIVE = "personal_representative", "Personal representative"
    ATTORNEY = "attorney", "Attorney"
    INSURER = "insurer", "Insurer"
    PROVIDER = "provider", "Provider"
    GOVERNMENT = "government", "Government agency or court"
    OTHER = "other", "Other"


class RecordType(models.TextChoices):
    COMPLETE = "complete", "Complete designated record set"
    DISCHARGE_SUMMARY = "discharge_summary", "Discharge summaries"
    HISTORY_PHYSICAL = "history_physical", "History and physical"
    PROGRESS_NOTES = "progress_notes", "Progress notes"
    OPERATIVE = "operative", "Operative reports"
    EMERGENCY = "emergency", "Emergency department records"
    LAB = "lab", "Laboratory results"
    IMAGING_REPORTS = "imaging_reports", "Imaging reports"
    IMAGING_FILMS = "imaging_films", "Imaging films and images"
    MEDICATIONS = "medications", "Medication lists"
    BILLING = "billing", "Billing records and itemised bills"
    # Kept apart from the medical record (45 CFR 164.501): never part of the right of access (164.524(a)(1)(i)), and
    # released only on an authorization of their own (164.508(a)(2), (b)(3)(ii)).
    PSYCHOTHERAPY_NOTES = "psychotherapy_notes", "Psychotherapy notes"
    OTHER = "other", "Other (see scope notes)"


class DeliveryMethod(models.TextChoices):
    PORTAL_DOWNLOAD = "portal_download", "Secure portal download"
    EMAIL_LINK = "email_link", "Email with secure link"
    FAX = "fax", "Fax"
    MAIL = "mail", "Mail"
    PICKUP = "pickup", "Pickup in person"
    # Only at the individual's own request, after the risk is explained and their choice recorded (HHS access
    # guidance on 164.524(c)(2)-(3)); the release gate refuses it otherwise (fulfillment.delivery).
    UNENCRYPTED_EMAIL = "unencrypted_email", "Unencrypted email (the individual's choice)"


class DenialBasis(models.TextChoices):
    """Grounds for denying access under 45 CFR 164.524(a)(2) (unreviewable) and (a)(3) (reviewable)."""

    PSYCHOTHERAPY_NOTES = "psychotherapy_notes", "Psychotherapy notes (unreviewable)"
    LITIGATION = "litigation", "Compiled for a legal proceeding (unreviewable)"
    INMATE = "inmate", "Inmate request that would endanger safety (unreviewable)"
    RESEARCH = "research", "Research in progress, access suspended by agreement (unreviewable)"
    PRIVACY_ACT = "privacy_act", "Privacy Act records (unreviewable)"
    CONFIDENTIAL_SOURCE = (
        "confidential_source",
        "Obtained from a non-provider under a promise of confidentiality (unreviewable)",
    )
    ENDANGER_LIFE = "endanger_life", "Likely to endanger life or physical safety (reviewable)"
    HARM_OTHER_PERSON = "harm_other_person", "Likely to cause substantial harm to another person named (reviewable)"
    HARM_VIA_REPRESENTATIVE = (
        "harm_via_representative",
        "Access by the representative likely to cause harm (reviewable)",
    )
    NOT_HELD = "not_held", "Records are not held by this organisation (say where they are)"
    INVALID_REQUEST = "invalid_request", "No valid authority or authorization for a third-party request"


REVIEWABLE_DENIALS = frozenset(
    {DenialBasis.ENDANGER_LIFE, DenialBasis.HARM_OTHER_PERSON, DenialBasis.HARM_VIA_REPRESENTATIVE}
)


class SensitiveCategory(models.TextChoices):
    """Record categories that need their own consent before release (docs/domain.md, "Sensitive categories")."""

    PSYCHOTHERAPY_NOTES = "psychotherapy_notes", "Psychotherapy notes"
    SUD_PART2 = "sud_part2", "Substance use disorder records (42 CFR Part 2)"
    HIV = "hiv", "HIV/AIDS test results and status"
    MENTAL_HEALTH = "mental_health", "Mental health records"
    GENETIC = "genetic", "Genetic testing"
    REPRODUCTIVE = "reproductive", "Reproductive health care"
    # Care a minor lawfully obtained on their own consent (or under a confidentiality agreement): the parent is not
    # the personal representative for it, 45 CFR 164.502(g)(3)(i)(A)-(C).
    MINOR_CONSENTED = "minor_consented", "Care the minor consented to on their own"


def is_psychotherapy_notes(record_types: Iterable[str], categories: Iterable[str]) -> bool:
    """Psychotherapy notes asked for or held (a request's or a document's record types and sensitive categories),
    whichever way they were marked."""
    return RecordType.PSYCHOTHERAPY_NOTES in record_types or SensitiveCategory.PSYCHOTHERAPY_NOTES in categories


def with_implied_categories(record_types: list[str], categories: list[str]) -> list[str]:
    """The sensitive categories of a request or document, with those its record types imply: psychotherapy notes
    are always restricted and always need their own rules, whether asked for as a record type or a category."""
    out = list(dict.fromkeys(categories))
    if RecordType.PSYCHOTHERAPY_NOTES in record_types and SensitiveCategory.PSYCHOTHERAPY_NOTES not in out:
        out.append(SensitiveCategory.PSYCHOTHERAPY_NOTES.value)
    return out


class TimelineCategory(models.TextChoices):
    """The request timeline's filter (workflow/timeline.py): "what was said to the requestor" is one click."""

    COMMUNICATION = "communication", "Communication with the requestor"
    NOTE = "note", "Notes"
    CHANGE = "change", "Changes"
