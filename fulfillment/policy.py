"""A tenant's fulfillment settings, created with the model's defaults the first time anything asks."""

from __future__ import annotations

from fulfillment.models import FulfillmentPolicy
from roi.models import Tenant


def policy_for(tenant: Tenant) -> FulfillmentPolicy:
    policy, _ = FulfillmentPolicy.objects.get_or_create(tenant=tenant)
    return policy
