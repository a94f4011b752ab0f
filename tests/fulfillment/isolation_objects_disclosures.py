"""Tenant B's objects for the disclosures and denials routes that name one by pk (tests/test_tenant_isolation.py):
a patient's accounting page and its forms, a disclosure's correction, a denial's review, an accounting report."""

from __future__ import annotations

import hashlib

from django.core.files.base import ContentFile
from django.utils import timezone

from fulfillment.disclosures import REPORT_NAME_PREFIX
from fulfillment.models import Denial, Disclosure, ReleaseDocument
from roi.models import Membership


def b_objects(tenant_b, b_request) -> dict[str, int]:
    now = timezone.now()
    decider = Membership.objects.for_tenant(tenant_b).first().user
    disclosure = Disclosure.objects.create(
        tenant=tenant_b, patient=b_request.patient, disclosed_on=now.date(), recipient_name="County Health",
        description="Lab results", purpose="public_health", recorded_at=now,
    )  # fmt: skip
    denial = Denial.objects.create(
        tenant=tenant_b, request=b_request, basis="endanger_life", partial=True, scope_denied="Progress notes",
        explanation="x", decided_by=decider, decided_at=now, review_requested_at=now,
    )  # fmt: skip
    pdf = b"%PDF-1.4\n"
    report = ReleaseDocument(
        tenant=tenant_b, request=b_request, source="other", record_type="other",
        original_name=f"{REPORT_NAME_PREFIX}2026-01-01.pdf", content_type="application/pdf", size_bytes=len(pdf),
        sha256=hashlib.sha256(pdf).hexdigest(), page_count=1, uploaded_at=now,
    )  # fmt: skip
    report.file.save("accounting.pdf", ContentFile(pdf), save=True)
    patient = b_request.patient.pk
    return {
        "fulfillment:patient-disclosures": patient,
        "fulfillment:disclosure-record": patient,
        "fulfillment:suspension-record": patient,
        "fulfillment:disclosure-correct": disclosure.pk,
        "fulfillment:denial-review-request": denial.pk,
        "fulfillment:denial-reviewer": denial.pk,
        "fulfillment:denial-review-outcome": denial.pk,
        "fulfillment:accounting-report": report.pk,
    }
