"""What the status page says: a request's state in the requestor's words, with no internal detail and nothing
clinical.

`portal_status()` reads the request and the few facts around it (transition dates, exception episodes, extension,
deficiency letter, deliveries, denials) and returns plain values the template shows. Phases, in the order a requestor
lives them: Received, Under review, Action needed from you, In progress, Delayed, Sent, Denied, Cancelled. Exceptions
whose next step is ours (waiting on imaging, legal review) show as "In progress": the requestor can do nothing about
them, and their detail is internal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from exceptions.choices import REQUESTOR_ACTION_REASONS, ExceptionReason
from exceptions.models import ExceptionEpisode
from fulfillment.denials import BASIS_PLAIN, OCR, is_reviewable
from fulfillment.models import Delivery, Denial
from intake.choices import DocumentSource, LetterKind
from intake.letters import requestor_safe_deficiencies
from intake.models import Extension, IntakeDocument, Letter
from roi.models import Tenant
from workflow.choices import DeliveryMethod, RequestState
from workflow.models import RecordRequest, RequestTransition


class Phase:
    RECEIVED = "received"
    UNDER_REVIEW = "under_review"
    ACTION_NEEDED = "action_needed"
    IN_PROGRESS = "in_progress"
    DELAYED = "delayed"
    SENT = "sent"
    DENIED = "denied"
    CANCELLED = "cancelled"


PHASE_LABELS = {
    Phase.RECEIVED: gettext_lazy("Received"),
    Phase.UNDER_REVIEW: gettext_lazy("Under review"),
    Phase.ACTION_NEEDED: gettext_lazy("Action needed from you"),
    Phase.IN_PROGRESS: gettext_lazy("In progress"),
    Phase.DELAYED: gettext_lazy("Delayed"),
    Phase.SENT: gettext_lazy("Sent"),
    Phase.DENIED: gettext_lazy("Denied"),
    Phase.CANCELLED: gettext_lazy("Cancelled"),
}

METHOD_PHRASES = {
    DeliveryMethod.PORTAL_DOWNLOAD: gettext_lazy("as a secure download from this portal"),
    DeliveryMethod.EMAIL_LINK: gettext_lazy("by email, with a secure download link"),
    DeliveryMethod.FAX: gettext_lazy("by fax"),
    DeliveryMethod.MAIL: gettext_lazy("by mail"),
    DeliveryMethod.PICKUP: gettext_lazy("for pickup at our office"),
}

# What the requestor is asked for when staff opened the exception by hand (no deficiency letter lists it).
REASON_ASKS = {
    ExceptionReason.INCOMPLETE_AUTHORIZATION: gettext_lazy(
        "The authorization form we received is not complete. Please send a new, fully completed and signed form."
    ),
    ExceptionReason.EXPIRED_AUTHORIZATION: gettext_lazy(
        "The authorization form has expired or was revoked. Please send a new signed authorization."
    ),
    ExceptionReason.IDENTITY_NOT_VERIFIED: gettext_lazy(
        "We could not confirm the identity or authority of the person asking. Please send a copy of a photo ID, "
        "or the document that gives you authority (for example a power of attorney)."
    ),
    ExceptionReason.SCOPE_UNCLEAR: gettext_lazy(
        "We need to know exactly which records you want: the dates of care and the kinds of records."
    ),
    ExceptionReason.PAYMENT_PENDING: gettext_lazy("We are waiting for payment of the fee we told you about."),
    ExceptionReason.AWAITING_REQUESTOR: gettext_lazy("We are waiting for an answer from you; please contact us."),
}


def mask_email(value: str) -> str:
    local, _at, domain = value.partition("@")
    if not domain:
        return "***"
    name, _dot, tld = domain.rpartition(".")
    return f"{local[:1]}***@{(name or domain)[:1]}***{'.' + tld if tld else ''}"


def mask_destination(method: str, destination: str) -> str:
    """Enough for the requestor to recognise where records went, not enough to learn it: j***@e***.com,
    fax ending 4321, the postal code of a mailing address."""
    destination = destination.strip()
    if method in (DeliveryMethod.EMAIL_LINK, DeliveryMethod.PORTAL_DOWNLOAD):
        return mask_email(destination)
    if method == DeliveryMethod.FAX:
        digits = "".join(ch for ch in destination if ch.isdigit())
        return _("fax number ending %(digits)s") % {"digits": digits[-4:]}
    if method == DeliveryMethod.MAIL:
        postal = destination.replace(",", " ").split()[-1:] or [""]
        return _("the mailing address with postal code %(code)s") % {"code": postal[0]}
    return ""


@dataclass(frozen=True)
class Step:
    label: str
    when: date | None = None
    state: str = "upcoming"  # done, current, attention, upcoming
    note: str = ""


@dataclass
class PortalStatus:
    record_request: RecordRequest
    tenant: Tenant
    phase: str
    patient_initials: str
    received_on: date
    expected_on: date | None
    steps: list[Step] = field(default_factory=list)
    asks: list[str] = field(default_factory=list)  # action needed: what exactly to send
    respond_by: date | None = None
    answered_on: date | None = None  # the requestor uploaded something after we asked
    can_upload: bool = False
    delay_reason: str = ""
    sent: dict[str, Any] | None = None
    denials: list[dict[str, Any]] = field(default_factory=list)

    @property
    def headline(self) -> str:
        return str(PHASE_LABELS[self.phase])

    @property
    def tracking_number(self) -> str:
        return self.record_request.tracking_number


def initials(first_name: str, last_name: str) -> str:
    return "".join(f"{part.strip()[:1].upper()}." for part in (first_name, last_name) if part.strip())


def _local(value: Any, tenant: Tenant) -> date | None:
    return value.astimezone(tenant.tzinfo).date() if value else None


def _asks(record_request: RecordRequest, episode: ExceptionEpisode) -> tuple[list[str], date | None, Any]:
    """The deficiency letter sent for this episode lists exactly what to fix; otherwise the reason's generic ask.
    Also returns when we asked (the letter, else the episode's opening)."""
    letter = (
        Letter.objects.filter(
            tenant_id=record_request.tenant_id,
            request_id=record_request.pk,
            kind=LetterKind.DEFICIENCY,
            generated_at__gte=episode.opened_at,
        )
        .only("summary", "generated_at")
        .order_by("-generated_at")
        .first()
    )
    if letter is not None:
        items = requestor_safe_deficiencies(letter.summary.get("deficiencies") or [])
        respond_by = letter.summary.get("respond_by")
        asks = [item["message"] for item in items]
        return asks, date.fromisoformat(respond_by) if respond_by else None, letter.generated_at
    generic = REASON_ASKS.get(episode.reason, REASON_ASKS[ExceptionReason.AWAITING_REQUESTOR])
    return [str(generic)], None, episode.opened_at


def _answered_on(record_request: RecordRequest, asked_at: Any) -> date | None:
    """When the requestor last uploaded something on the portal after we asked, if they did."""
    uploaded_at = (
        IntakeDocument.objects.filter(
            tenant_id=record_request.tenant_id,
            request_id=record_request.pk,
            source=DocumentSource.PORTAL,
            uploaded_at__gte=asked_at,
        )
        .order_by("-uploaded_at")
        .values_list("uploaded_at", flat=True)
        .first()
    )
    return _local(uploaded_at, record_request.tenant)


def portal_status(record_request: RecordRequest) -> PortalStatus:
    rr = record_request
    tenant = rr.tenant
    tenant_id = rr.tenant_id
    state = rr.state
    transitions = list(
        RequestTransition.objects.filter(tenant_id=tenant_id, request_id=rr.pk).values_list("to_state", "at")
    )
    first_at: dict[str, Any] = {}
    for to_state, at in transitions:
        first_at.setdefault(to_state, at)
    episodes = list(
        ExceptionEpisode.objects.filter(tenant_id=tenant_id, request_id=rr.pk, reason__in=REQUESTOR_ACTION_REASONS)
        .only("id", "reason", "opened_at", "resolved_at")
        .order_by("opened_at")
    )
    open_ask = next((e for e in episodes if e.resolved_at is None), None) if state == RequestState.EXCEPTION else None
    extension = Extension.objects.filter(tenant_id=tenant_id, request_id=rr.pk).only("new_due_date", "reason").first()
    expected_on = extension.new_due_date if extension else rr.legal_due_date
    received_on = _local(rr.received_at, tenant)
    status = PortalStatus(
        record_request=rr,
        tenant=tenant,
        phase=Phase.UNDER_REVIEW,
        patient_initials=initials(rr.patient.first_name, rr.patient.last_name),
        received_on=received_on,
        expected_on=expected_on,
    )

    # The phase now.
    if state == RequestState.CANCELLED:
        status.phase = Phase.CANCELLED
    elif state == RequestState.DENIED:
        status.phase = Phase.DENIED
    elif state in (RequestState.DELIVERED, RequestState.CLOSED):
        status.phase = Phase.SENT
    elif open_ask is not None:
        status.asks, status.respond_by, asked_at = _asks(rr, open_ask)
        status.can_upload = True
        status.answered_on = _answered_on(rr, asked_at)
        # Once they sent something, the next move is ours: staff are reviewing it.
        status.phase = Phase.UNDER_REVIEW if status.answered_on else Phase.ACTION_NEEDED
    elif extension is not None:
        status.phase = Phase.DELAYED
    elif state in (RequestState.VALIDATED, RequestState.IN_FULFILLMENT) or (
        state == RequestState.EXCEPTION and rr.state_before_exception != RequestState.RECEIVED
    ):
        status.phase = Phase.IN_PROGRESS
    if extension is not None:
        status.delay_reason = extension.reason
    if status.phase in (Phase.SENT, Phase.DENIED, Phase.CANCELLED):
        status.expected_on = None

    if status.phase in (Phase.SENT, Phase.DENIED, Phase.IN_PROGRESS, Phase.DELAYED):  # a partial denial: still open
        _sent_and_denied(status)

    status.steps = _steps(status, first_at, episodes, extension)
    return status


def _sent_and_denied(status: PortalStatus) -> None:
    rr = status.record_request
    delivery = (
        Delivery.objects.filter(tenant_id=rr.tenant_id, request_id=rr.pk, resend_of__isnull=True)
        .only("id", "method", "destination", "delivered_at")
        .order_by("delivered_at")
        .first()
    )
    if delivery is not None:
        status.sent = {
            "delivery_id": delivery.pk,
            "on": _local(delivery.delivered_at, status.tenant),
            "method": delivery.method,
            "method_phrase": str(METHOD_PHRASES.get(delivery.method, "")),
            "destination": mask_destination(delivery.method, delivery.destination),
        }
    for denial in Denial.objects.filter(tenant_id=rr.tenant_id, request_id=rr.pk).order_by("decided_at"):
        plain, citation = BASIS_PLAIN.get(denial.basis, ("", ""))
        status.denials.append(
            {
                "partial": denial.partial,
                "on": _local(denial.decided_at, status.tenant),
                "scope_denied": denial.scope_denied,
                "basis_plain": plain,
                "citation": citation,
                "explanation": denial.explanation,
                "reviewable": is_reviewable(denial.basis),
                "review_requested": denial.review_requested_at is not None,
                "records_location": denial.records_location,
                "ocr": OCR,
            }
        )


def _steps(status: PortalStatus, first_at: dict[str, Any], episodes: list, extension: Extension | None) -> list[Step]:
    tenant = status.tenant
    phase = status.phase
    steps = [Step(_("Received"), status.received_on, "done")]
    reviewed_on = _local(first_at.get(RequestState.VALIDATED), tenant)
    under_review_state = "done" if reviewed_on else ("current" if phase == Phase.UNDER_REVIEW else "upcoming")
    if phase in (Phase.DENIED, Phase.CANCELLED) and not reviewed_on:
        under_review_state = "done"
    steps.append(Step(_("Under review"), reviewed_on, under_review_state))
    for episode in episodes:
        resolved = episode.resolved_at is not None
        steps.append(
            Step(
                _("Action needed from you"),
                _local(episode.resolved_at if resolved else episode.opened_at, tenant),
                "done" if resolved else "attention",
                _("Resolved") if resolved else "",
            )
        )
    if extension is not None:
        steps.append(
            Step(
                _("Delayed"),
                extension.new_due_date,
                "current" if phase == Phase.DELAYED else "done",
                _("New expected date"),
            )
        )
    final_phase = phase in (Phase.SENT, Phase.DENIED, Phase.CANCELLED)
    if phase != Phase.CANCELLED and phase != Phase.DENIED:
        started = _local(first_at.get(RequestState.IN_FULFILLMENT) or first_at.get(RequestState.VALIDATED), tenant)
        in_progress_state = "done" if phase == Phase.SENT else ("current" if phase == Phase.IN_PROGRESS else "upcoming")
        steps.append(Step(_("In progress"), started if in_progress_state != "upcoming" else None, in_progress_state))
    if final_phase:
        when = {
            Phase.SENT: status.sent["on"] if status.sent else _local(first_at.get(RequestState.DELIVERED), tenant),
            Phase.DENIED: _local(first_at.get(RequestState.DENIED), tenant),
            Phase.CANCELLED: _local(first_at.get(RequestState.CANCELLED), tenant),
        }[phase]
        steps.append(Step(str(PHASE_LABELS[phase]), when, "done"))
    else:
        steps.append(Step(_("Sent"), status.expected_on, "upcoming", _("Expected by")))
    return steps
