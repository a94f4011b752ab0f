from django.db import models
from django.utils.translation import gettext_noop


class ExceptionReason(models.TextChoices):
    """Why a request left the main flow. Every episode has exactly one; the exception board groups by it."""

    INCOMPLETE_AUTHORIZATION = "incomplete_authorization", "Incomplete authorization"
    EXPIRED_AUTHORIZATION = "expired_authorization", "Expired or revoked authorization"
    AUTHORIZATION_REVOKED = "authorization_revoked", "Authorization revoked"
    IDENTITY_NOT_VERIFIED = "identity_not_verified", "Identity or authority not verified"
    SCOPE_UNCLEAR = "scope_unclear", "Scope unclear"
    AWAITING_DEPARTMENT = "awaiting_department", "Awaiting imaging or another department"
    LEGAL_REVIEW = "legal_review", "Legal review"
    PAYMENT_PENDING = "payment_pending", "Payment pending"
    AWAITING_REQUESTOR = "awaiting_requestor", "Awaiting requestor response"
    OTHER = "other", "Other"


# Reasons whose next step waits on the requestor (a letter goes out, the clock keeps running).
REQUESTOR_ACTION_REASONS = frozenset(
    {
        ExceptionReason.INCOMPLETE_AUTHORIZATION,
        ExceptionReason.EXPIRED_AUTHORIZATION,
        ExceptionReason.AUTHORIZATION_REVOKED,
        ExceptionReason.IDENTITY_NOT_VERIFIED,
        ExceptionReason.SCOPE_UNCLEAR,
        ExceptionReason.AWAITING_REQUESTOR,
        ExceptionReason.PAYMENT_PENDING,
    }
)


# What the requestor is asked for when staff open an exception that waits on them by hand (a deficiency letter lists
# the checklist's own items instead): the portal's status page and the "action needed" email say this. English, and
# message ids of the requestor's language (translated where shown).
REQUESTOR_ASKS = {
    ExceptionReason.INCOMPLETE_AUTHORIZATION: gettext_noop(
        "The authorization form we received is not complete. Please send a new, fully completed and signed form."
    ),
    ExceptionReason.EXPIRED_AUTHORIZATION: gettext_noop(
        "The authorization form has expired or was revoked. Please send a new signed authorization."
    ),
    ExceptionReason.AUTHORIZATION_REVOKED: gettext_noop(
        "The patient revoked the authorization for this request, so we cannot release records under it. A new "
        "authorization signed by the patient is needed."
    ),
    ExceptionReason.IDENTITY_NOT_VERIFIED: gettext_noop(
        "We could not confirm the identity or authority of the person asking. Please send a copy of a photo ID, "
        "or the document that gives you authority (for example a power of attorney)."
    ),
    ExceptionReason.SCOPE_UNCLEAR: gettext_noop(
        "We need to know exactly which records you want: the dates of care and the kinds of records."
    ),
    ExceptionReason.PAYMENT_PENDING: gettext_noop("We are waiting for payment of the fee we told you about."),
    ExceptionReason.AWAITING_REQUESTOR: gettext_noop("We are waiting for an answer from you; please contact us."),
}


def requestor_ask(reason: str) -> str:
    return REQUESTOR_ASKS.get(reason, REQUESTOR_ASKS[ExceptionReason.AWAITING_REQUESTOR])
