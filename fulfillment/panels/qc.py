"""The QC part of the fulfillment panel."""

from __future__ import annotations

from typing import Any

from fulfillment.choices import QcOutcome
from fulfillment.forms.qc import QcReviewForm
from fulfillment.policy import policy_for
from fulfillment.qc import (
    REVIEW_STATES,
    current_packet,
    last_failure,
    latest_review,
    qc_checklist,
    released_pages_not_shown,
)


def panel_context(*, tenant: Any, record_request: Any, forms: dict[str, Any], user: Any = None) -> dict[str, Any]:
    """The QC part of the fulfillment panel: the checklist and form on the current packet while in fulfillment,
    the outcome once it passed, and the last failure's reasons until a new version passes. For `user`, the released
    pages not shown to them yet (a pass needs every one)."""
    if record_request.state not in REVIEW_STATES:
        return {}
    packet = current_packet(tenant=tenant, record_request=record_request)
    review = latest_review(tenant=tenant, packet=packet) if packet else None
    passed = review is not None and review.outcome == QcOutcome.PASSED
    context: dict[str, Any] = {
        "qc_show": True,
        "qc_packet": packet,
        "qc_passed_review": review if passed else None,
        "qc_last_failure": None if passed else last_failure(tenant=tenant, record_request=record_request),
        "qc_two_person_rule": policy_for(tenant).qc_two_person_rule,
    }
    if packet is not None and not passed:
        checklist = qc_checklist(tenant=tenant, record_request=record_request, packet=packet)
        form = forms.get("qc_form") or QcReviewForm(initial={"packet_version": packet.version})
        context["qc_checklist"] = checklist
        context["qc_form"] = form
        context["qc_rows"] = [(check, form[f"confirm_{check.code}"]) for check in checklist.checks]
        if getattr(user, "pk", None) is not None:
            context["qc_not_shown"] = released_pages_not_shown(
                tenant=tenant, packet=packet, documents=list(checklist.documents), user_id=user.pk
            )
    return context
