"""Reads for the intake pages and the intake panel. Every selector takes the tenant and returns its rows only."""

from __future__ import annotations

from django.db.models import QuerySet

from intake import rules
from intake.models import Extension, IntakeDocument, IntakeReview, Letter
from roi.models import Tenant
from workflow.models import RecordRequest


def current_deficiencies(
    *, tenant: Tenant, record_request: RecordRequest, review: IntakeReview | None = None
) -> list[rules.Deficiency]:
    """The checklist's findings on the saved answers (pass `review` when the caller already loaded it)."""
    from intake.services import intake_facts

    return rules.evaluate(intake_facts(tenant=tenant, record_request=record_request, review=review))


def intake_review_for(*, tenant: Tenant, record_request: RecordRequest) -> IntakeReview:
    """The saved review, or an unsaved empty one (nothing confirmed yet)."""
    from intake.services import intake_review_for as review_for

    return review_for(tenant=tenant, record_request=record_request)


def possible_duplicates_for(*, tenant: Tenant, record_request: RecordRequest) -> list[RecordRequest]:
    """The possible duplicates staff still have to settle: none once the request was reviewed or linked."""
    from intake.services import possible_duplicates

    if record_request.duplicate_reviewed_at is not None or record_request.duplicate_of_id is not None:
        return []
    return list(possible_duplicates(tenant=tenant, record_request=record_request))


def documents_for(*, tenant: Tenant, record_request: RecordRequest) -> QuerySet[IntakeDocument]:
    return IntakeDocument.objects.for_tenant(tenant).filter(request_id=record_request.pk).select_related("uploaded_by")


def letters_for(*, tenant: Tenant, record_request: RecordRequest) -> QuerySet[Letter]:
    return (
        Letter.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk)
        .select_related("generated_by", "notification")
    )


def letter_for_download(*, tenant: Tenant, tracking_number: str, letter_id: int) -> Letter:
    """One letter of one request of the tenant; raises Letter.DoesNotExist for anything else (another tenant's
    letter, or a letter of another request under this request's URL)."""
    return (
        Letter.objects.for_tenant(tenant)
        .select_related("request")
        .get(pk=letter_id, request__tracking_number=tracking_number, request__tenant=tenant)
    )


def extension_for(*, tenant: Tenant, record_request: RecordRequest) -> Extension | None:
    return (
        Extension.objects.for_tenant(tenant).filter(request_id=record_request.pk).select_related("granted_by").first()
    )
