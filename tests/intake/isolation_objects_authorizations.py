"""Tenant B's objects for the routes of what a request relies on (tests/test_tenant_isolation.py): its patient's
authorizations page and date of death, an authorization's revocation (from a request page and from the patient's
page) and its expiration event, a representative's decline."""

from __future__ import annotations

from intake.models import IntakeReview
from tests.factories import AuthorizationFactory, RepresentativeAuthorityFactory


def b_objects(tenant_b, b_request) -> dict[str, int]:
    authorization = AuthorizationFactory(tenant=tenant_b, patient=b_request.patient, expiration_event="End of claim")
    IntakeReview.objects.update_or_create(
        request=b_request, defaults={"tenant": tenant_b, "authorization": authorization}
    )
    representative = RepresentativeAuthorityFactory(tenant=tenant_b, patient=b_request.patient)
    return {
        "fulfillment:representative-decline": representative.pk,
        "fulfillment:patient-authorizations": b_request.patient.pk,
        "fulfillment:patient-death": b_request.patient.pk,
        "fulfillment:revoke": authorization.pk,
        "fulfillment:patient-revoke": authorization.pk,
        "intake:authorization-event": authorization.pk,
    }
