from django.db import models


class ExceptionReason(models.TextChoices):
    """Why a request left the main flow. Every episode has exactly one; the exception board groups by it."""

    INCOMPLETE_AUTHORIZATION = "incomplete_authorization", "Incomplete authorization"
    EXPIRED_AUTHORIZATION = "expired_authorization", "Expired or revoked authorization"
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
        ExceptionReason.IDENTITY_NOT_VERIFIED,
        ExceptionReason.SCOPE_UNCLEAR,
        ExceptionReason.AWAITING_REQUESTOR,
        ExceptionReason.PAYMENT_PENDING,
    }
)
