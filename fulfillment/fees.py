"""Fulfillment: fees. (Scaffolding: services, selectors and the panel context for this part of fulfillment.)"""

from __future__ import annotations

from typing import Any


def panel_context(*, tenant: Any, record_request: Any, forms: dict[str, Any]) -> dict[str, Any]:
    """What this part shows in the fulfillment panel of the request detail page."""
    return {}


def release_fee_problem(*, tenant: Any, record_request: Any) -> str | None:
    """Why the fee holds this release back (an unpaid invoice where the tenant requires prepayment from third
    parties), as a message saying what to do, or None. Right-of-access releases are never held for unpaid bills.
    QC's "fee settled or waived" check calls this. (Scaffolding until the fees part lands: nothing holds.)"""
    return None
