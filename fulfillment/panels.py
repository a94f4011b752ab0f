"""The fulfillment panel on the request detail page (registered in FulfillmentConfig.ready): retrieval, documents
and the release packet, QC, delivery and resends, fees, disclosures and denials. Each part contributes its own
context (its module's panel_context) and template (templates/fulfillment/_<part>.html).

A part that performs a transition itself (delivery: `deliver` with the evidence its method needs; denials: `deny`
with the letter) says so in its module's OWNS_TRANSITIONS, and the detail page drops the generic form for it."""

from __future__ import annotations

from typing import Any

from fulfillment import delivery, denials, disclosures, fees, packets, qc, retrieval
from workflow.extensions import RequestPanel

PARTS = (retrieval, packets, qc, delivery, fees, disclosures, denials)


def fulfillment_panel_context(http_request: Any, record_request: Any, tenant: Any, **forms: Any) -> dict[str, Any]:
    context: dict[str, Any] = {"rr": record_request}
    for part in PARTS:
        context.update(part.panel_context(tenant=tenant, record_request=record_request, forms=forms))
    return context


PANEL = RequestPanel(
    name="fulfillment",
    template_name="fulfillment/_panel.html",
    order=30,
    get_context=fulfillment_panel_context,
    owns_transitions=frozenset().union(*(getattr(part, "OWNS_TRANSITIONS", frozenset()) for part in PARTS)),
)
