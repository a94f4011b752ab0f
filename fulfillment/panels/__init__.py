"""The fulfillment panel on the request detail page (registered in FulfillmentConfig.ready): retrieval, documents
and the release packet, QC, delivery and resends, fees, disclosures and denials. Each part contributes its own
context (fulfillment/panels/<part>.py, panel_context) and template (templates/fulfillment/_<part>.html); the forms
come from fulfillment/forms/ and the facts from the part's services, which import neither panels nor forms.

A part that performs a transition itself (delivery: `deliver` with the evidence its method needs; denials: `deny`
with the letter) says so in its panel module's OWNS_TRANSITIONS, and the detail page drops the generic form for it."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from fulfillment import gate
from fulfillment.choices import ReleaseAction
from fulfillment.models import Delivery, ReleaseRefusal

# A part's panel module has its service's name: the services this module reads are imported by name, never as
# modules, since `from fulfillment.panels import qc` would return an attribute `qc` already bound here.
from fulfillment.panels import delivery, denials, disclosures, fees, packets, qc, retrieval
from fulfillment.qc import current_packet, packet_progress
from fulfillment.retrieval import RETRIEVAL_STATES
from intake.authorizations import review_with_records
from intake.forms.records import RevocationForm
from intake.models import Revocation
from roi.models import Tenant
from workflow.choices import RequestState
from workflow.extensions import BY_SYSTEM, NextStep, RequestPanel, TimelineEvent, actor_name
from workflow.models import RecordRequest

PARTS = (retrieval, packets, qc, delivery, fees, disclosures, denials)


def gate_panel_context(*, tenant: Any, record_request: Any, forms: dict[str, Any]) -> dict[str, Any]:
    """The release gate's verdict, live: for the next release (the current packet while in fulfillment, a download
    or resend of the last delivered version afterwards), every rule that refuses it now with its citation and fix;
    the recent refusals; and the form to record a written revocation of the authorization the request relies on."""
    state = record_request.state
    context: dict[str, Any] = {"rr": record_request}
    if state in (RequestState.IN_FULFILLMENT, RequestState.EXCEPTION, RequestState.VALIDATED):
        packet = current_packet(tenant=tenant, record_request=record_request)
        action = ReleaseAction.DELIVER
    elif state in (RequestState.DELIVERED, RequestState.CLOSED):
        last = (
            Delivery.objects.for_tenant(tenant)
            .filter(request_id=record_request.pk)
            .select_related("packet")
            .order_by("-delivered_at", "-id")
            .first()
        )
        packet = last.packet if last else None
        action = ReleaseAction.DOWNLOAD
    else:
        return {"gate": context}
    review = review_with_records(tenant=tenant, record_request=record_request)
    if packet is not None:
        context["verdict"] = gate.release_verdict(
            tenant=tenant, record_request=record_request, packet=packet, action=action, review=review
        )
    else:
        context["basis_refusals"] = gate.basis_refusals(tenant=tenant, record_request=record_request, review=review)
    context["action_label"] = (
        f"Delivery of packet v{packet.version}" if action == ReleaseAction.DELIVER and packet else
        f"Downloads and resends of packet v{packet.version}" if packet else "Release"
    )  # fmt: skip
    found = context["verdict"].refusals if packet is not None else context["basis_refusals"]
    # A consent received since validation is recorded on the checklist page, in "What this request relies on".
    context["consent_missing"] = any(r.code.startswith(("CONSENT_MISSING_", "MINOR_CONSENTED_")) for r in found)
    context["refusals"] = gate.refusals_for(tenant=tenant, record_request=record_request)
    auth = review.authorization if review is not None and review.authorization_id else None
    context["authorization"] = auth
    if auth is not None and getattr(auth, "revocation", None) is None:
        context["revoke_form"] = forms.get("revoke_form") or RevocationForm()
    return {"gate": context}


def release_panel_context(http_request: Any, record_request: Any, tenant: Any, **forms: Any) -> dict[str, Any]:
    """The release's panel: the gate's verdict, the retrieved records and the packet, QC and delivery."""
    context: dict[str, Any] = {"rr": record_request}
    context.update(gate_panel_context(tenant=tenant, record_request=record_request, forms=forms))
    context.update(packets.panel_context(tenant=tenant, record_request=record_request, forms=forms))
    user = getattr(http_request, "user", None)
    context.update(qc.panel_context(tenant=tenant, record_request=record_request, forms=forms, user=user))
    context.update(delivery.panel_context(tenant=tenant, record_request=record_request, forms=forms))
    verdict = context["gate"].get("verdict")
    if verdict is not None and not verdict.allowed and verdict.action == ReleaseAction.DELIVER:
        # The button is offered only when the release would go out now: a refused verdict shows its rules instead.
        context["delivery_form"] = None
        context["delivery_blocked"] = True
    return context


def _part_context(part: Any) -> Any:
    def context(http_request: Any, record_request: Any, tenant: Any, **forms: Any) -> dict[str, Any]:
        return {"rr": record_request, **part.panel_context(tenant=tenant, record_request=record_request, forms=forms)}

    return context


def gate_timeline(*, tenant: Tenant, record_request: RecordRequest) -> list[TimelineEvent]:
    """The request's timeline gains the revocation of the authorization it relies on, with the written revocation,
    and each refused release with its rules."""
    events: list[TimelineEvent] = []
    revocation = (
        Revocation.objects.for_tenant(tenant)
        .filter(authorization__reviews__request=record_request)
        .select_related("authorization", "document__request", "recorded_by")
        .first()
    )
    if revocation is not None:
        document = revocation.document
        events.append(
            TimelineEvent(
                at=revocation.recorded_at,
                title="Authorization revoked"
                if revocation.authorization.kind == "authorization"
                else "Directive withdrawn",
                detail=f"Written revocation received {revocation.received_on:%b %-d, %Y}, recorded by "
                f"{revocation.recorded_by or 'system'}; no release under it from then on (45 CFR 164.508(b)(5)).",
                link=reverse("intake:document-download", args=[document.request.tracking_number, document.pk])
                if document is not None
                else "",
                link_label="the written revocation",
                who=actor_name(revocation.recorded_by),
            )
        )
    refusals = (
        ReleaseRefusal.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk)
        .select_related("actor")
        .order_by("-at")[:20]
    )
    for refusal in refusals:
        rules = "; ".join(f"{r.get('message')} ({r.get('citation')})" for r in refusal.refusals)
        events.append(
            TimelineEvent(
                at=refusal.at,
                title=f"{refusal.get_action_display()} refused by the release gate",
                detail=f"{refusal.actor or refusal.actor_label or 'system'}: {rules}",
                who=actor_name(refusal.actor, default=refusal.actor_label or BY_SYSTEM),
            )
        )
    return events


def _after_validation(record_request: Any) -> bool:
    return record_request.state not in (RequestState.RECEIVED, RequestState.CANCELLED)


def _release_is_the_work(record_request: Any) -> bool:
    return record_request.state in (RequestState.VALIDATED, RequestState.IN_FULFILLMENT, RequestState.DELIVERED)


def _retrieval_is_waiting(record_request: Any) -> bool:
    return record_request.state in RETRIEVAL_STATES and record_request.retrieval_waiting_since is not None


def release_next_step(record_request: Any, user: Any, tenant: Any) -> NextStep | None:
    """Validated: get the records. In fulfillment: the records still awaited, then the packet, its QC by a second
    person, and delivery once QC passed (the request's `qc_passed_at`; one read of the current packet otherwise)."""
    state = record_request.state
    if state == RequestState.VALIDATED:
        if record_request.retrieval_waiting_since is not None:
            return NextStep("Record the records received", panel="retrieval", anchor="retrieval",
                            hint="A department has been asked for records.")  # fmt: skip
        return NextStep("Upload the retrieved records", panel="release", anchor="release-documents",
                        hint="The first upload starts fulfillment.")  # fmt: skip
    if state != RequestState.IN_FULFILLMENT:
        return None
    if record_request.qc_passed_at is not None:
        return NextStep("Record delivery", panel="release", anchor="delivery",
                        hint="QC passed: deliver the packet by the method the requestor chose.")  # fmt: skip
    progress = packet_progress(tenant=tenant, record_request=record_request)
    if progress is None:
        if record_request.retrieval_waiting_since is not None:
            return NextStep("Record the records received", panel="retrieval", anchor="retrieval",
                            hint="Records are awaited from a department.")  # fmt: skip
        return NextStep("Check the records and build the packet", panel="release", anchor="release-documents")
    if progress.failed:
        return NextStep("Fix the records and rebuild the packet", panel="release", anchor="release-documents",
                        hint=f"QC failed packet v{progress.version}.")  # fmt: skip
    if progress.built_by_id == getattr(user, "pk", None):
        return NextStep(f"Packet v{progress.version} awaits QC", panel="release", anchor="qc",
                        hint="A second person reviews it: you built it.")  # fmt: skip
    return NextStep(f"Review packet v{progress.version} (QC)", panel="release", anchor="qc")


def _owned(*parts: Any) -> frozenset[str]:
    return frozenset().union(*(getattr(part, "OWNS_TRANSITIONS", frozenset()) for part in parts))


PANELS = (
    RequestPanel(
        name="retrieval",
        template_name="fulfillment/_retrieval.html",
        order=30,
        get_context=_part_context(retrieval),
        owns_transitions=_owned(retrieval),
        title="Retrieval from departments",
        shows=_after_validation,
        starts_open=_retrieval_is_waiting,
    ),
    RequestPanel(
        name="release",
        template_name="fulfillment/_release_panel.html",
        order=31,
        get_context=release_panel_context,
        owns_transitions=_owned(packets, qc, delivery),
        title="Records, packet, QC and delivery",
        shows=_after_validation,
        starts_open=_release_is_the_work,
        next_step=release_next_step,
    ),
    RequestPanel(
        name="fees",
        template_name="fulfillment/_fees.html",
        order=40,
        get_context=_part_context(fees),
        owns_transitions=_owned(fees),
        title="Fees and invoices",
    ),
    RequestPanel(
        name="disclosures",
        template_name="fulfillment/_disclosures.html",
        order=50,
        get_context=_part_context(disclosures),
        owns_transitions=_owned(disclosures),
        title="Accounting of disclosures",
    ),
    RequestPanel(
        name="denials",
        template_name="fulfillment/_denials.html",
        order=60,
        get_context=_part_context(denials),
        owns_transitions=_owned(denials),
        title="Denial",
    ),
)
