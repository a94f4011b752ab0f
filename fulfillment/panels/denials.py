"""The denials part of the fulfillment panel."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from fulfillment.denials import is_reviewable, psychotherapy_denial_due, request_denials
from fulfillment.forms.denials import DenialForm, ReviewDecideForm, ReviewerForm
from fulfillment.models import ReleaseDocument
from roi.choices import SUPERVISING_ROLES
from roi.models import Membership
from roi.selectors import licensed_professionals
from roi.tenancy import has_role
from workflow.choices import OPEN_STATES, RequestState
from workflow.extensions import RestrictedAction

# The detail page leaves out the generic form for it: this part performs it with what it needs.
OWNS_TRANSITIONS = frozenset({"deny"})


def panel_context(*, tenant: Any, record_request: Any, forms: dict[str, Any]) -> dict[str, Any]:
    """The denials section of the fulfillment panel (keys under "denials"): the denials of the request with their
    letters and review, and the deny form for a supervisor while the request can still be denied. Only designated
    licensed professionals are offered to determine a denial or review one."""
    denials = list(request_denials(tenant=tenant, record_request=record_request))
    can_deny_full = record_request.state in (RequestState.RECEIVED, RequestState.VALIDATED, RequestState.EXCEPTION)
    can_deny = record_request.state in OPEN_STATES
    documents: list[ReleaseDocument] = []
    # Retrieval starts after validation: a received request has no documents to withhold yet.
    if can_deny and record_request.state != RequestState.RECEIVED and forms.get("denial_form") is None:
        documents = list(ReleaseDocument.objects.for_tenant(tenant).filter(request=record_request, excluded_reason=""))
    awaiting_review = [d for d in denials if d.review_requested_at and not d.review_outcome]
    professionals: list[Membership] = []
    if (can_deny and forms.get("denial_form") is None) or awaiting_review:
        professionals = list(licensed_professionals(tenant=tenant))
    designated = {m.user_id for m in professionals}
    rows = []
    bound_for = forms.get("denial_pk")  # a form with errors goes back to the denial it was posted for
    for denial in denials:
        mine = bound_for == denial.pk
        # A reviewer whose designation was removed before deciding is replaced like a missing one.
        needs_reviewer = bool(
            denial.review_requested_at
            and not denial.review_outcome
            and (not denial.reviewer_id or denial.reviewer_id not in designated)
        )
        reviewer_form = forms.get("reviewer_form") if mine else None
        if reviewer_form is None and needs_reviewer:
            reviewer_form = ReviewerForm(staff=professionals, denial=denial)
        rows.append(
            {
                "denial": denial,
                "reviewable": is_reviewable(denial.basis),
                "reviewer_form": reviewer_form,
                "reviewer_undesignated": bool(denial.reviewer_id and needs_reviewer),
                "decide_form": (forms.get("decide_form") if mine else None) or ReviewDecideForm(),
            }
        )
    return {
        "denials": {
            "rows": rows,
            # The routine denial of psychotherapy notes asked for under the right of access, one click.
            "psychotherapy_due": can_deny and psychotherapy_denial_due(tenant=tenant, record_request=record_request),
            "can_deny": can_deny,
            "can_deny_full": can_deny_full,
            "form": forms.get("denial_form")
            or (
                DenialForm(
                    documents=documents,
                    professionals=professionals,
                    initial={"expected_state": record_request.state},
                )
                if can_deny
                else None
            ),
        }
    }


def psychotherapy_restricted_actions(*, tenant: Any, record_request: Any, user: Any) -> list[RestrictedAction]:
    """On the "Restricted request" page: a supervisor denies the psychotherapy notes without opening the request."""
    if not has_role(user, tenant, SUPERVISING_ROLES):
        return []
    if not psychotherapy_denial_due(tenant=tenant, record_request=record_request):
        return []
    return [
        RestrictedAction(
            label="Deny the psychotherapy notes (unreviewable)",
            url=reverse("fulfillment:deny-psychotherapy", args=[record_request.tracking_number]),
            explanation="This request asks for psychotherapy notes under the right of access, which does not cover "
            "them (45 CFR 164.524(a)(1)(i)). Their denial is unreviewable and needs nothing of the records: "
            "make it here without opening the request; the letter goes out and the rest is released.",
            confirm="Deny the psychotherapy notes of this request? The denial letter is generated and sent.",
        )
    ]
