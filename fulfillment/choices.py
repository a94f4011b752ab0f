"""Vocabularies of fulfillment: where records come from, why pages are left out, how releases go out and come back."""

from django.db import models


class RetrievalSource(models.TextChoices):
    EHR_HIM = "ehr_him", "EHR / HIM"
    IMAGING = "imaging", "Imaging"
    BILLING = "billing", "Billing"
    LABORATORY = "laboratory", "Laboratory"
    OFFSITE_STORAGE = "offsite_storage", "Off-site storage"
    OTHER_FACILITY = "other_facility", "Other facility"
    OTHER = "other", "Other"


class RetrievalStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    RECEIVED = "received", "Received"
    NOT_AVAILABLE = "not_available", "Nothing held"
    CANCELLED = "cancelled", "Cancelled"
    # Still open when the request was delivered, denied, cancelled or closed: nothing is waited on any more
    # (fulfillment.retrieval.retrieval_tasks_close_with_request); the outcome note says when and why.
    CLOSED_WITH_REQUEST = "closed_with_request", "Closed with the request"


OPEN_RETRIEVAL_STATUSES = (RetrievalStatus.REQUESTED,)


class ExclusionReason(models.TextChoices):
    OUT_OF_SCOPE = "out_of_scope", "Outside the requested scope or dates"
    SENSITIVE_WITHOUT_CONSENT = "sensitive_without_consent", "Sensitive category without the required consent"
    OTHER_PATIENT = "other_patient", "Another patient's page"
    DUPLICATE = "duplicate", "Duplicate page"
    DENIED = "denied", "Withheld under a denial"
    OTHER = "other", "Other (see note)"


class PacketBuildState(models.TextChoices):
    QUEUED = "queued", "Waiting for a worker"
    RUNNING = "running", "Building"
    BUILT = "built", "Built"
    FAILED = "failed", "Failed"


class QcOutcome(models.TextChoices):
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"


class ReleaseAction(models.TextChoices):
    """The ways records leave, each of which asks the release gate first (fulfillment.gate)."""

    DELIVER = "deliver", "Delivery"
    RESEND = "resend", "Resend"
    LINK = "link", "Download link issued"
    DOWNLOAD = "download", "Download by link"


class ResendReason(models.TextChoices):
    WRONG_DESTINATION = "wrong_destination", "Wrong destination"
    MISSING_RECORDS = "missing_records", "Missing records"
    UNREADABLE = "unreadable", "Unreadable"
    NOT_RECEIVED = "not_received", "Requestor did not receive it"
    ADDITIONAL_RECORDS = "additional_records", "Additional records found"


class FeeMethod(models.TextChoices):
    """How the fee for an individual's own copy is calculated, 45 CFR 164.524(c)(4) and HHS access guidance (the
    three methods Ciox Health v. Azar left standing). An electronic copy is never priced per page."""

    FLAT = "flat", "Flat fee (at most $6.50, everything included)"
    ACTUAL = "actual", "Actual cost (labour, supplies, postage)"
    AVERAGE = "average", "Average cost (per page of paper; per electronic copy)"
    NONE = "none", "No fee"


class InvoiceKind(models.TextChoices):
    ESTIMATE = "estimate", "Fee estimate"
    INVOICE = "invoice", "Invoice"


class InvoiceStatus(models.TextChoices):
    ISSUED = "issued", "Issued"
    PAID = "paid", "Paid"
    WAIVED = "waived", "Waived"
    VOID = "void", "Void"


class PaymentMethod(models.TextChoices):
    CARD = "card", "Card"
    CHECK = "check", "Check"
    CASH = "cash", "Cash"
    TRANSFER = "transfer", "Bank transfer"
    OTHER = "other", "Other"


class DisclosurePurpose(models.TextChoices):
    """Accountable disclosures, 45 CFR 164.528: what the rule does not exclude."""

    COURT_ORDER = "court_order", "Court order"
    SUBPOENA = "subpoena", "Subpoena"
    PUBLIC_HEALTH = "public_health", "Public health"
    LAW_ENFORCEMENT = "law_enforcement", "Law enforcement"
    HEALTH_OVERSIGHT = "health_oversight", "Health oversight"
    WORKERS_COMP = "workers_comp", "Workers' compensation"
    DISABILITY = "disability", "Disability determination (SSA)"
    RESEARCH = "research", "Research without authorization"
    ABUSE_NEGLECT = "abuse_neglect", "Report of abuse, neglect or domestic violence"
    DECEDENT = "decedent", "Coroner, medical examiner or funeral director"
    ORGAN_DONATION = "organ_donation", "Organ, eye or tissue donation"
    SERIOUS_THREAT = "serious_threat", "Averting a serious threat to health or safety"
    GOVERNMENT_FUNCTION = "government_function", "Specialized government function"
    OTHER_REQUIRED_BY_LAW = "other_required_by_law", "Other disclosure required by law"


class DenialReviewOutcome(models.TextChoices):
    UPHELD = "upheld", "Denial upheld"
    OVERTURNED = "overturned", "Denial overturned: release"
