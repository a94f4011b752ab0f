"""The accounting-of-disclosures part of the fulfillment panel."""

from __future__ import annotations

from typing import Any

from fulfillment.disclosures import accountability_for, accounting_reports
from fulfillment.models import Disclosure
from workflow.choices import OPEN_STATES, RequestType


def panel_context(*, tenant: Any, record_request: Any, forms: dict[str, Any]) -> dict[str, Any]:
    """What this part shows in the fulfillment panel: whether a release on this request is accountable and why, the
    entry it made, and for an accounting request its reports. Keys live under "disclosures"."""
    rule = accountability_for(tenant=tenant, record_request=record_request)
    context: dict[str, Any] = {"rule": rule, "entry": None, "reports": []}
    if rule.accountable and record_request.delivered_at is not None:
        context["entry"] = Disclosure.objects.for_tenant(tenant).filter(request=record_request).first()
    if record_request.request_type == RequestType.ACCOUNTING:
        context["reports"] = list(accounting_reports(tenant=tenant, record_request=record_request))
        context["can_generate"] = record_request.state in OPEN_STATES
    return {"disclosures": context}
