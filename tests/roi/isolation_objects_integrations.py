"""Tenant B's integration client and token, for the generated isolation test (tests/test_tenant_isolation.py): tenant
A's admin opens, deactivates, rotates and revokes them by id and must get what a missing one gets."""

from __future__ import annotations

from tests import factories


def b_objects(tenant_b, b_request) -> dict[str, int]:
    token = factories.ApiTokenFactory(client=factories.IntegrationClientFactory(tenant=tenant_b, name="Beta EHR"))
    return {
        "integration-client": token.client_id,
        "integration-client-active": token.client_id,
        "integration-token-rotate": token.pk,
        "integration-token-revoke": token.pk,
    }
