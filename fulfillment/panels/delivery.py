"""The delivery part of the fulfillment panel: deliver, the deliveries with their links, and resends."""

from __future__ import annotations

from typing import Any

from fulfillment.delivery import (
    CHOICE_WAYS,
    UNENCRYPTED_EMAIL_WARNING,
    deliverable_packet,
    deliveries_for,
)
from fulfillment.forms.delivery import DeliveryForm, ResendForm, staff_choices
from fulfillment.links import LINK_METHODS, link_status
from roi import clock
from workflow.choices import OPEN_STATES, DeliveryMethod, RequestState

# The detail page leaves out the generic form for it: this part performs it with what it needs.
OWNS_TRANSITIONS = frozenset({"deliver"})


def panel_context(*, tenant: Any, record_request: Any, forms: dict[str, Any]) -> dict[str, Any]:
    """Deliver (in fulfillment, once QC passed), the deliveries with their links, and resends."""
    state = record_request.state
    unencrypted = None
    if record_request.delivery_method == DeliveryMethod.UNENCRYPTED_EMAIL:
        unencrypted = {
            "warning": UNENCRYPTED_EMAIL_WARNING,
            "ways": CHOICE_WAYS,
            "how": dict(CHOICE_WAYS).get(record_request.unencrypted_email_accepted_how, ""),
            "open": state in OPEN_STATES,
        }
    if state not in (RequestState.IN_FULFILLMENT, RequestState.DELIVERED, RequestState.CLOSED):
        # Before fulfillment only the individual's choice of unencrypted email is recorded here.
        return {"delivery_show": unencrypted is not None and state in OPEN_STATES, "unencrypted": unencrypted}
    now = clock.now()
    deliveries = list(deliveries_for(tenant=tenant, record_request=record_request))
    for delivery in deliveries:
        delivery.link_rows = [(link, link_status(link, now)) for link in delivery.links.all()]  # type: ignore[attr-defined]  # an attribute for the template
    context: dict[str, Any] = {
        "delivery_show": True,
        "deliveries": deliveries,
        "issued_link": forms.get("issued_link"),
        "link_methods": [m.value for m in LINK_METHODS],
    }
    context["unencrypted"] = unencrypted
    staff = staff_choices(tenant)
    if state == RequestState.IN_FULFILLMENT:
        packet = deliverable_packet(tenant=tenant, record_request=record_request)
        context["delivery_packet"] = packet
        if packet is not None and record_request.qc_passed_at is not None:
            context["delivery_form"] = forms.get("delivery_form") or DeliveryForm(
                staff=staff,
                initial={
                    "method": record_request.delivery_method,
                    "destination": record_request.delivery_destination,
                    "expected_state": state,
                },
            )
    elif deliveries:
        context["resend_form"] = forms.get("resend_form") or ResendForm(
            staff=staff,
            deliveries=deliveries,
            initial={
                "method": deliveries[-1].method,
                "destination": deliveries[0].destination,
                "resend_of": deliveries[-1].pk,
            },
        )
    return context
