"""Fulfillment: disclosures. (Scaffolding: services, selectors and the panel context for this part of fulfillment.)"""

from __future__ import annotations

from typing import Any


def panel_context(*, tenant: Any, record_request: Any, forms: dict[str, Any]) -> dict[str, Any]:
    """What this part shows in the fulfillment panel of the request detail page."""
    return {}


def disclosure_for_delivery(*, tenant: Any, actor: Any, delivery: Any) -> Any:
    """The accounting-of-disclosures entry a delivery makes when its basis is accountable (164.528), or None.
    The deliver service calls this in its transaction. (Scaffolding until the disclosures part lands: none.)"""
    return None
