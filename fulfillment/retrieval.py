"""Fulfillment: retrieval. (Scaffolding: services, selectors and the panel context for this part of fulfillment.)"""

from __future__ import annotations

from typing import Any


def panel_context(*, tenant: Any, record_request: Any, forms: dict[str, Any]) -> dict[str, Any]:
    """What this part shows in the fulfillment panel of the request detail page."""
    return {}
