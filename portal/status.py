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
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

from django.db import connection
from django.utils.translation import gettext, gettext_lazy
from django.utils.translation import gettext as _

from exceptions.choices import REQUESTOR_ACTION_REASONS, requestor_ask
from exceptions.models import ExceptionEpisode
from fulfillment.denial_letters import BASIS_PLAIN, OCR
from fulfillment.denials import is_reviewable
from fulfillment.links import LINK_METHODS, link_status
from fulfillment.models import Delivery, Denial, DownloadLink
from intake.choices import DocumentSource, LetterKind
from intake.letters import requestor_safe_deficiencies
from intake.models import Extension, IntakeDocument, IntakeReview, Letter
from portal.models import PortalSubmission
from roi import clock
from roi.models import Tenant
from workflow.choices import DeliveryMethod, RequestState
from workflow.deadlines import local_date
from workflow.models import Patient, RecordRequest, RequestTransition


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
    DeliveryMethod.UNENCRYPTED_EMAIL: gettext_lazy("by email, without encryption, as you asked"),
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
    if method in (DeliveryMethod.EMAIL_LINK, DeliveryMethod.PORTAL_DOWNLOAD, DeliveryMethod.UNENCRYPTED_EMAIL):
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
    # The newest download link of the latest delivery by link (a resend's, when there was one): what the page offers.
    download_offer: dict[str, Any] | None = None
    denials: list[dict[str, Any]] = field(default_factory=list)

    @property
    def headline(self) -> str:
        return str(PHASE_LABELS[self.phase])

    @property
    def tracking_number(self) -> str:
        return self.record_request.tracking_number


def initials(first_name: str, last_name: str) -> str:
    return "".join(f"{part.strip()[:1].upper()}." for part in (first_name, last_name) if part.strip())


def _patient_initials(facts: dict[str, Any]) -> str:
    """The patient's initials; before staff identify the patient of a request (intake.patients), the initials the
    requestor typed on the portal form, or nothing (the placeholder's name means nothing to the requestor)."""
    if not facts["unidentified"]:
        return initials(facts["first_name"], facts["last_name"])
    if facts["typed_last_name"]:
        return initials(facts["typed_first_name"], facts["typed_last_name"])
    return ""


def _local(value: datetime | None, tenant: Tenant) -> date | None:
    return local_date(value, tenant) if value else None


def phase_of(
    *, state: str, state_before_exception: str, waits_on_requestor: bool, extended: bool, review_started: bool
) -> str:
    """The phase a requestor reads, from the request's own facts: the status page and the account list both use it
    (the status page then says "under review" once the requestor answered what we asked)."""
    if state == RequestState.CANCELLED:
        return Phase.CANCELLED
    if state == RequestState.DENIED:
        return Phase.DENIED
    if state in (RequestState.DELIVERED, RequestState.CLOSED):
        return Phase.SENT
    if state == RequestState.EXCEPTION and waits_on_requestor:
        return Phase.ACTION_NEEDED
    if extended:
        return Phase.DELAYED
    if state in (RequestState.VALIDATED, RequestState.IN_FULFILLMENT) or (
        state == RequestState.EXCEPTION and state_before_exception != RequestState.RECEIVED
    ):
        return Phase.IN_PROGRESS
    if state == RequestState.RECEIVED and not review_started:
        return Phase.RECEIVED  # nobody has picked it up yet
    return Phase.UNDER_REVIEW


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
    return [gettext(requestor_ask(episode.reason))], None, episode.opened_at


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


# Everything the status page needs, in one statement: the portal's busiest page pays one round trip (and the access
# event's INSERT), not one per fact. Related rows come back as JSON; every subquery reads an index on request_id.
STATUS_SQL = f"""
SELECT r.id, r.tenant_id, r.tracking_number, r.state, r.state_before_exception, r.received_at, r.legal_due_date,
       r.patient_id, p.first_name, p.last_name,
       (r.assignee_id IS NOT NULL OR EXISTS (SELECT 1 FROM {IntakeReview._meta.db_table} ir WHERE ir.request_id = r.id))
          AS review_started, p.is_placeholder AS unidentified,
       s.patient_first_name AS typed_first_name, s.patient_last_name AS typed_last_name,
       t.name, t.slug, t.timezone, t.him_department_name, t.him_phone, t.him_email, t.him_fax,
       (SELECT json_agg(json_build_array(x.to_state, x.at) ORDER BY x.at, x.id)
          FROM {RequestTransition._meta.db_table} x WHERE x.request_id = r.id) AS transitions,
       (SELECT json_agg(json_build_object('id', e.id, 'reason', e.reason, 'opened_at', e.opened_at,
                                          'resolved_at', e.resolved_at) ORDER BY e.opened_at)
          FROM {ExceptionEpisode._meta.db_table} e WHERE e.request_id = r.id AND e.reason = ANY(%(reasons)s))
          AS episodes,
       (SELECT json_build_object('new_due_date', x.new_due_date, 'reason', x.reason)
          FROM {Extension._meta.db_table} x WHERE x.request_id = r.id) AS extension,
       (SELECT json_build_object('id', d.id, 'method', d.method, 'destination', d.destination,
                                 'delivered_at', d.delivered_at)
          FROM {Delivery._meta.db_table} d WHERE d.request_id = r.id AND d.resend_of_id IS NULL
          ORDER BY d.delivered_at, d.id LIMIT 1) AS delivery,
       (SELECT json_agg(json_build_object('basis', n.basis, 'partial', n.partial, 'scope_denied', n.scope_denied,
                                          'explanation', n.explanation, 'records_location', n.records_location,
                                          'decided_at', n.decided_at, 'review_requested_at', n.review_requested_at)
                        ORDER BY n.decided_at)
          FROM {Denial._meta.db_table} n WHERE n.request_id = r.id) AS denials,
       (SELECT json_build_object('id', l.id, 'expires_at', l.expires_at, 'max_uses', l.max_uses, 'uses', l.uses,
                                 'revoked_at', l.revoked_at)
          FROM {DownloadLink._meta.db_table} l
         WHERE l.delivery_id = (SELECT d.id FROM {Delivery._meta.db_table} d
                                 WHERE d.request_id = r.id AND d.method = ANY(%(link_methods)s)
                                 ORDER BY d.delivered_at DESC, d.id DESC LIMIT 1)
         ORDER BY l.created_at DESC, l.id DESC LIMIT 1) AS download_link
FROM {RecordRequest._meta.db_table} r
JOIN {Patient._meta.db_table} p ON p.id = r.patient_id
JOIN {Tenant._meta.db_table} t ON t.id = r.tenant_id
LEFT JOIN {PortalSubmission._meta.db_table} s ON s.request_id = r.id
WHERE r.tracking_number = %(tracking_number)s
"""  # noqa: S608 - table names from model metadata; values are parameters


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def status_facts(tracking_number: str) -> dict[str, Any] | None:
    """The row behind a status page, or None when no request has this tracking number."""
    with connection.cursor() as cursor:
        cursor.execute(
            STATUS_SQL,
            {
                "tracking_number": tracking_number,
                "reasons": [str(r) for r in REQUESTOR_ACTION_REASONS],
                "link_methods": [str(method) for method in LINK_METHODS],
            },
        )
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip([column.name for column in cursor.description], row, strict=True))


def portal_status(record_request: RecordRequest) -> PortalStatus:
    """The status of a request (tests and callers holding the model); the page uses status_from_facts."""
    facts = status_facts(record_request.tracking_number)
    assert facts is not None
    return status_from_facts(facts)


def status_from_facts(facts: dict[str, Any]) -> PortalStatus:
    tenant = Tenant(
        id=facts["tenant_id"],
        name=facts["name"],
        slug=facts["slug"],
        timezone=facts["timezone"],
        him_department_name=facts["him_department_name"],
        him_phone=facts["him_phone"],
        him_email=facts["him_email"],
        him_fax=facts["him_fax"],
    )
    rr = RecordRequest(
        id=facts["id"],
        tenant=tenant,
        tracking_number=facts["tracking_number"],
        state=facts["state"],
        state_before_exception=facts["state_before_exception"],
        received_at=facts["received_at"],
        legal_due_date=facts["legal_due_date"],
        patient_id=facts["patient_id"],
    )
    state = rr.state
    first_at: dict[str, Any] = {}
    for to_state, at in facts["transitions"] or []:
        first_at.setdefault(to_state, _at(at))
    episodes = [
        SimpleNamespace(
            id=e["id"], reason=e["reason"], opened_at=_at(e["opened_at"]), resolved_at=_at(e["resolved_at"])
        )
        for e in facts["episodes"] or []
    ]
    open_ask = next((e for e in episodes if e.resolved_at is None), None) if state == RequestState.EXCEPTION else None
    extension = None
    if facts["extension"]:
        extension = SimpleNamespace(
            new_due_date=date.fromisoformat(facts["extension"]["new_due_date"]), reason=facts["extension"]["reason"]
        )
    expected_on = extension.new_due_date if extension else rr.legal_due_date
    status = PortalStatus(
        record_request=rr,
        tenant=tenant,
        phase=Phase.UNDER_REVIEW,
        patient_initials=_patient_initials(facts),
        received_on=_local(rr.received_at, tenant),
        expected_on=expected_on,
    )

    status.phase = phase_of(
        state=state,
        state_before_exception=rr.state_before_exception,
        waits_on_requestor=open_ask is not None,
        extended=extension is not None,
        review_started=facts["review_started"],
    )
    if status.phase == Phase.ACTION_NEEDED:
        status.asks, status.respond_by, asked_at = _asks(rr, open_ask)
        status.can_upload = True
        status.answered_on = _answered_on(rr, asked_at)
        if status.answered_on:  # they sent something: the next move is ours, staff are reviewing it
            status.phase = Phase.UNDER_REVIEW
    if extension is not None:
        status.delay_reason = extension.reason
    if status.phase in (Phase.SENT, Phase.DENIED, Phase.CANCELLED):
        status.expected_on = None

    _sent_and_denied(status, facts)

    status.steps = _steps(status, first_at, episodes, extension)
    return status


def _download_offer(status: PortalStatus, link: dict[str, Any] | None) -> dict[str, Any] | None:
    if link is None:
        return None
    expires_at = _at(link["expires_at"])
    row = DownloadLink(
        expires_at=expires_at, max_uses=link["max_uses"], uses=link["uses"], revoked_at=_at(link["revoked_at"])
    )
    return {
        "link_id": link["id"],
        "active": link_status(row, clock.now()) == "active",
        "expires_on": _local(expires_at, status.tenant),
        "uses_left": max(0, link["max_uses"] - link["uses"]),
    }


def _sent_and_denied(status: PortalStatus, facts: dict[str, Any]) -> None:
    status.download_offer = _download_offer(status, facts["download_link"])
    delivery = facts["delivery"]
    if delivery is not None:
        status.sent = {
            "delivery_id": delivery["id"],
            "on": _local(_at(delivery["delivered_at"]), status.tenant),
            "method": delivery["method"],
            "method_phrase": str(METHOD_PHRASES.get(delivery["method"], "")),
            "destination": mask_destination(delivery["method"], delivery["destination"]),
        }
    for denial in facts["denials"] or []:
        plain, citation = BASIS_PLAIN.get(denial["basis"], ("", ""))
        status.denials.append(
            {
                "partial": denial["partial"],
                "on": _local(_at(denial["decided_at"]), status.tenant),
                "scope_denied": denial["scope_denied"],
                "basis_plain": plain,
                "citation": citation,
                "explanation": denial["explanation"],
                "reviewable": is_reviewable(denial["basis"]),
                "review_requested": denial["review_requested_at"] is not None,
                "records_location": denial["records_location"],
                "ocr": OCR,
            }
        )


def _steps(status: PortalStatus, first_at: dict[str, Any], episodes: list, extension: Any) -> list[Step]:
    tenant = status.tenant
    phase = status.phase
    steps = [Step(_("Received"), status.received_on, "done")]
    reviewed_on = _local(first_at.get(RequestState.VALIDATED), tenant)
    if reviewed_on is None and episodes:  # the review found something to ask the requestor: it happened
        reviewed_on = _local(episodes[0].opened_at, tenant)
    under_review_state = "done" if reviewed_on else ("current" if phase == Phase.UNDER_REVIEW else "upcoming")
    if phase == Phase.RECEIVED:
        steps[0] = Step(steps[0].label, steps[0].when, "current")
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
