"""Fulfillment: delivery of the QC-passed packet with its evidence, resends, and a new download link for a delivery
(the links themselves, their email and their use are fulfillment/links.py).

The panel owns workflow's `deliver` transition: delivering records is always a Delivery row with the evidence its
method needs (fax confirmation, mail tracking number, who checked the collector's ID, a download link), and this
module's service calls workflow.transitions.request_deliver with a one-line summary in the same transaction.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, QuerySet
from django.db.models.functions import Trunc

from fulfillment import disclosures, gate, qc
from fulfillment.choices import ReleaseAction, ResendReason
from fulfillment.links import (
    LINK_METHODS,
    LinkNotFound,
    download_link_create,
    download_url,
)
from fulfillment.models import Delivery, DownloadLink, ReleasePacket
from fulfillment.policy import policy_for
from intake import notices, rules
from intake.choices import NoticeEvent
from roi import clock
from roi.audit import history_stamp
from roi.errors import ServiceError
from roi.models import Tenant
from roi.tenancy import require_staff, role_in
from workflow.choices import OPEN_STATES, DeliveryMethod, RequestState
from workflow.deadlines import local_date
from workflow.models import RecordRequest
from workflow.services import request_locked
from workflow.transitions import request_deliver

logger = logging.getLogger(__name__)

# A resend for these reasons sends more or other records: a packet version built (and QC-passed) after the delivery
# it repeats. Other reasons resend what QC passed last, which may be the same version.
NEEDS_NEWER_PACKET = frozenset({ResendReason.MISSING_RECORDS, ResendReason.ADDITIONAL_RECORDS})
RESEND_STATES = (RequestState.DELIVERED, RequestState.CLOSED)
FAX_DIGITS = re.compile(r"\d")


@dataclass(frozen=True)
class DeliveryResult:
    delivery: Delivery
    link: DownloadLink | None = None
    token: str | None = None  # shown once (the page, the email); never stored

    @property
    def url(self) -> str | None:
        return download_url(self.token) if self.token else None


# --- Selectors ---------------------------------------------------------------------------------------------


def deliveries_for(*, tenant: Tenant, record_request: RecordRequest) -> QuerySet[Delivery]:
    return (
        Delivery.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk)
        .select_related("packet", "delivered_by", "pickup_id_checked_by", "resend_of")
        .prefetch_related("links")
    )


def delivery_counts_by_period(
    *, tenant: Tenant, start: datetime, end: datetime, period: str = "month"
) -> list[dict[str, Any]]:
    """Deliveries and resends per day, week or month in the tenant's calendar, for the resend rate supervisors
    ask for: [{period: date, deliveries, resends, by_reason: {reason: n}}], oldest first, in [start, end).
    `deliveries` counts first deliveries; the rate is resends / deliveries."""
    if period not in ("day", "week", "month"):
        raise ServiceError("Period must be day, week or month.", field="period")
    rows = (
        Delivery.objects.for_tenant(tenant)
        .filter(delivered_at__gte=start, delivered_at__lt=end)
        .annotate(period=Trunc("delivered_at", period, tzinfo=tenant.tzinfo))
        .values("period", "resend_reason")
        .annotate(count=Count("id"))
        .order_by("period", "resend_reason")
    )
    out: dict[Any, dict[str, Any]] = {}
    for row in rows:
        day = row["period"].date()
        entry = out.setdefault(day, {"period": day, "deliveries": 0, "resends": 0, "by_reason": {}})
        if row["resend_reason"]:
            entry["resends"] += row["count"]
            entry["by_reason"][row["resend_reason"]] = row["count"]
        else:
            entry["deliveries"] += row["count"]
    return list(out.values())


def deliverable_packet(*, tenant: Tenant, record_request: RecordRequest) -> ReleasePacket | None:
    """The current packet version if it passed QC: the only one a delivery may send."""
    packet = qc.current_packet(tenant=tenant, record_request=record_request)
    if packet is None or not qc.packet_passed_qc(tenant=tenant, packet=packet):
        return None
    return packet


# --- Evidence ------------------------------------------------------------------------------------------------


def _norm_destination(method: str, destination: str) -> str:
    if method == DeliveryMethod.FAX:
        return "".join(FAX_DIGITS.findall(destination))
    return " ".join(destination.casefold().replace(",", " ").split())


@dataclass(frozen=True)
class Evidence:
    method: str
    destination: str
    fax_confirmation: str = ""
    mail_tracking_number: str = ""
    pickup_id_checked_by: Any = None
    pickup_id_description: str = ""


def _check_evidence(*, tenant: Tenant, evidence: Evidence) -> Evidence:
    """What each method must carry; every message names the field to fix."""
    method = evidence.method
    if method not in DeliveryMethod.values:
        raise ServiceError("Choose how the records were delivered.", field="method")
    destination = (evidence.destination or "").strip()
    cleaned = Evidence(
        method=method,
        destination=destination,
        fax_confirmation=(evidence.fax_confirmation or "").strip(),
        mail_tracking_number=(evidence.mail_tracking_number or "").strip(),
        pickup_id_checked_by=evidence.pickup_id_checked_by,
        pickup_id_description=(evidence.pickup_id_description or "").strip(),
    )
    if method in LINK_METHODS:
        try:
            validate_email(destination)
        except ValidationError:
            raise ServiceError("Give the email address the link goes to.", field="destination") from None
    elif method == DeliveryMethod.UNENCRYPTED_EMAIL:
        try:
            validate_email(destination)
        except ValidationError:
            raise ServiceError("Give the email address the records were sent to.", field="destination") from None
    elif method == DeliveryMethod.FAX:
        if len(FAX_DIGITS.findall(destination)) < 10:
            raise ServiceError("Give the fax number the records went to (10 digits or more).", field="destination")
        if not cleaned.fax_confirmation:
            raise ServiceError(
                "Give the fax transmission confirmation (the confirmation number or the report's job id).",
                field="fax_confirmation",
            )
    elif method == DeliveryMethod.MAIL:
        if len(destination) < 15:
            raise ServiceError("Give the full postal address (street, city, state and ZIP code).", field="destination")
        if not cleaned.mail_tracking_number:
            raise ServiceError("Give the mail tracking number.", field="mail_tracking_number")
    elif method == DeliveryMethod.PICKUP:
        if not destination:
            raise ServiceError("Give the name of the person who collected the records.", field="destination")
        checker = cleaned.pickup_id_checked_by
        if checker is None or role_in(checker, tenant) is None:
            raise ServiceError("Choose the staff member who checked the ID.", field="pickup_id_checked_by")
        if not cleaned.pickup_id_description:
            raise ServiceError("Describe the ID shown (e.g. Illinois driver's license).", field="pickup_id_description")
    return cleaned


def _evidence_line(evidence: Evidence, packet: ReleasePacket, expires_on: Any = None) -> str:
    method = evidence.method
    if method == DeliveryMethod.PORTAL_DOWNLOAD:
        line = f"Secure download link for {evidence.destination}, valid until {expires_on:%b %-d, %Y}"
    elif method == DeliveryMethod.EMAIL_LINK:
        line = f"Secure link emailed to {evidence.destination}, valid until {expires_on:%b %-d, %Y}"
    elif method == DeliveryMethod.FAX:
        line = f"Faxed to {evidence.destination}, confirmation {evidence.fax_confirmation}"
    elif method == DeliveryMethod.MAIL:
        line = f"Mailed to {evidence.destination}, tracking {evidence.mail_tracking_number}"
    elif method == DeliveryMethod.UNENCRYPTED_EMAIL:
        line = f"Emailed without encryption to {evidence.destination}, the individual's choice after the warning"
    else:
        line = (
            f"Collected in person by {evidence.destination}; {evidence.pickup_id_description} checked by "
            f"{evidence.pickup_id_checked_by}"
        )
    return f"{line} (packet v{packet.version})"[:300]


# --- Services ----------------------------------------------------------------------------------------------


def delivery_record(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    evidence: Evidence,
    expected_state: str | None = None,
) -> DeliveryResult:
    """Deliver the QC-passed packet by the request's method to its destination, with the method's evidence, and
    move the request to delivered. The release gate decides first, inside the same transaction (fulfillment.gate): a
    refusal rolls everything back, is recorded with an owner, and is raised with every rule that refused. The
    delivery keeps the exact packet version, date, method and destination."""
    require_staff(actor, tenant)
    evidence = _check_evidence(tenant=tenant, evidence=evidence)
    with transaction.atomic():
        current = request_locked(tenant=tenant, pk=record_request.pk)
        if current.state != RequestState.IN_FULFILLMENT:
            raise ServiceError(
                f"Records are delivered while the request is in fulfillment; it is "
                f"{RequestState(current.state).label.lower()}. A delivered request can be resent instead."
            )
        # What QC checked is the request's method and destination: a release elsewhere goes back through QC.
        if evidence.method != current.delivery_method:
            raise ServiceError(
                f"The request asks for {DeliveryMethod(current.delivery_method).label.lower() if current.delivery_method else 'no method'}"
                "; change the request's delivery details (and pass QC again) to deliver another way.",
                field="method",
            )
        if evidence.method != DeliveryMethod.PICKUP and _norm_destination(
            evidence.method, evidence.destination
        ) != _norm_destination(evidence.method, current.delivery_destination):
            raise ServiceError(
                f"The request's destination is {current.delivery_destination}; QC checked that one. Correct the "
                "request's delivery details (and pass QC again) to send elsewhere.",
                field="destination",
            )
        packet = qc.current_packet(tenant=tenant, record_request=current)
        verdict = gate.release_verdict(
            tenant=tenant, record_request=current, packet=packet, action=ReleaseAction.DELIVER
        )
        if verdict.allowed and current.qc_passed_at is not None and packet is not None:
            result = _create_delivery(
                tenant=tenant, actor=actor, record_request=current, packet=packet, evidence=evidence
            )
            request_deliver(
                tenant=tenant,
                actor=actor,
                record_request=current,
                evidence=result.delivery.evidence,
                expected_state=expected_state,
            )
            disclosures.disclosure_for_delivery(tenant=tenant, actor=actor, delivery=result.delivery)
            _notify_sent(tenant=tenant, record_request=current, result=result)
            return result
        if verdict.allowed:  # the packet passed, but the request's QC fact was cleared since (a rebuild meanwhile)
            raise ServiceError("The current packet has not passed quality control: do QC before delivery.")
    _refuse(tenant=tenant, actor=actor, record_request=record_request, verdict=verdict)


def _refuse(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    verdict: gate.Verdict,
    actor_label: str = "",
    delivery: Delivery | None = None,
) -> NoReturn:
    """Record a refusal (its own transaction, after the refused one rolled back) and raise it."""
    row = gate.release_refused(
        tenant=tenant,
        actor=actor,
        record_request=record_request,
        verdict=verdict,
        actor_label=actor_label,
        delivery=delivery,
    )
    raise gate.ReleaseRefused(verdict, row)


def _notify_sent(*, tenant: Tenant, record_request: RecordRequest, result: DeliveryResult) -> None:
    """The requestor's "records sent" email, once per delivery, through the outbox (retried, never lost). For a
    download it says the records are ready and to open the status page, verify and download there: the outbox holds
    no token, and the status page works even when the link email (sent from memory, once) did not arrive.

    Resends write none: the requestor usually asked for the resend or is told by the person arranging it, a link
    resend comes with its own link email, and the status page shows the first delivery, so a second "sent" email
    would point at a page that does not mention what it announces."""
    delivery = result.delivery
    facts: dict[str, Any] = {
        "sent_on": local_date(delivery.delivered_at, tenant),
        "method_phrase": notices.METHOD_PHRASES.get(delivery.method, ""),
        "is_download": delivery.method in LINK_METHODS,
    }
    if result.link is not None:
        facts["link_expires_on"] = local_date(result.link.expires_at, tenant)
        facts["link_uses"] = result.link.max_uses
    notices.requestor_notify(
        tenant=tenant,
        record_request=record_request,
        event=NoticeEvent.SENT,
        facts=facts,
        occurrence=f"delivery-{delivery.pk}",
    )


def _create_delivery(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    packet: ReleasePacket,
    evidence: Evidence,
    resend_of: Delivery | None = None,
    resend_reason: str = "",
    resend_note: str = "",
) -> DeliveryResult:
    now = clock.now()
    policy = policy_for(tenant)
    expires_on = local_date(now + timedelta(days=policy.download_link_days), tenant)
    delivery = Delivery(
        tenant=tenant,
        request=record_request,
        packet=packet,
        method=evidence.method,
        destination=evidence.destination,
        delivered_at=now,
        delivered_by=actor if getattr(actor, "is_authenticated", False) else None,
        fax_confirmation=evidence.fax_confirmation if evidence.method == DeliveryMethod.FAX else "",
        mail_tracking_number=evidence.mail_tracking_number if evidence.method == DeliveryMethod.MAIL else "",
        pickup_id_checked_by=evidence.pickup_id_checked_by if evidence.method == DeliveryMethod.PICKUP else None,
        pickup_id_description=evidence.pickup_id_description if evidence.method == DeliveryMethod.PICKUP else "",
        evidence=_evidence_line(evidence, packet, expires_on),
        resend_of=resend_of,
        resend_reason=resend_reason,
        resend_note=resend_note[:300],
    )
    history_stamp(delivery, actor)
    delivery.save()
    if evidence.method not in LINK_METHODS:
        return DeliveryResult(delivery)
    link, token = download_link_create(tenant=tenant, actor=actor, delivery=delivery, sent_to=evidence.destination)
    return DeliveryResult(delivery, link, token)


def delivery_resend(
    *,
    tenant: Tenant,
    actor: Any,
    record_request: RecordRequest,
    original: Delivery,
    reason: str,
    evidence: Evidence,
    note: str = "",
) -> DeliveryResult:
    """Send a delivered release again, with its reason and the new delivery's evidence, linked to the original
    delivery. "Missing records" and "additional records found" need a packet version built after the original
    delivery and passed by QC; the other reasons send the latest QC-passed version."""
    require_staff(actor, tenant)
    if reason not in ResendReason.values:
        raise ServiceError("Choose why the records are sent again.", field="reason")
    note = (note or "").strip()
    evidence = _check_evidence(tenant=tenant, evidence=evidence)
    with transaction.atomic():
        current = request_locked(tenant=tenant, pk=record_request.pk)
        if current.state not in RESEND_STATES:
            raise ServiceError("Only a delivered or closed request can be resent; deliver it first.")
        try:
            original = (
                Delivery.objects.for_tenant(tenant)
                .select_related("resend_of")
                .get(pk=original.pk, request_id=current.pk)
            )
        except Delivery.DoesNotExist:
            raise ServiceError("Choose the delivery being repeated.", field="resend_of") from None
        original = original.resend_of or original  # a resend of a resend still points at the first delivery
        packet = deliverable_packet(tenant=tenant, record_request=current)
        if reason in NEEDS_NEWER_PACKET and (packet is None or packet.built_at <= original.delivered_at):
            raise ServiceError(
                f"'{ResendReason(reason).label}' sends more records: build a new packet version with them and "
                "pass its QC first.",
                field="reason",
            )
        packet = packet or original.packet
        # A version never sent before is a first release: everything QC saw must still hold.
        first = not Delivery.objects.for_tenant(tenant).filter(packet=packet).exists()
        verdict = gate.release_verdict(
            tenant=tenant, record_request=current, packet=packet, action=ReleaseAction.RESEND, first_release=first
        )
        result = None
        if verdict.allowed:
            result = _create_delivery(
                tenant=tenant,
                actor=actor,
                record_request=current,
                packet=packet,
                evidence=evidence,
                resend_of=original,
                resend_reason=reason,
                resend_note=note,
            )
            RecordRequest.objects.for_tenant(tenant).filter(pk=current.pk).update(last_activity_at=clock.now())
            disclosures.disclosure_for_delivery(tenant=tenant, actor=actor, delivery=result.delivery)
    if result is None:
        _refuse(tenant=tenant, actor=actor, record_request=record_request, verdict=verdict, delivery=original)
    return result


def download_link_reissue(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, delivery_id: int
) -> DeliveryResult:
    """A new link for a delivery by link (expired, used up, lost, never emailed): the delivery's other links stop
    working, and the new one goes to the delivery's address."""
    require_staff(actor, tenant)
    with transaction.atomic():
        current = request_locked(tenant=tenant, pk=record_request.pk)
        delivery = (
            Delivery.objects.for_tenant(tenant).filter(pk=delivery_id, request_id=current.pk).select_related("packet")
        ).first()
        if delivery is None:
            raise LinkNotFound("No such delivery.")
        if delivery.method not in LINK_METHODS:
            raise ServiceError("Only a delivery by download link or email link has links to issue.")
        if current.state not in RESEND_STATES:
            raise ServiceError("Links are issued for delivered or closed requests.")
        verdict = gate.release_verdict(
            tenant=tenant, record_request=current, packet=delivery.packet, action=ReleaseAction.LINK
        )
        if verdict.allowed:
            now = clock.now()
            for link in delivery.links.filter(revoked_at__isnull=True):
                link.revoked_at = now
                history_stamp(link, actor)
                link.save(update_fields=["revoked_at"])
            link, token = download_link_create(
                tenant=tenant, actor=actor, delivery=delivery, sent_to=delivery.destination
            )
            return DeliveryResult(delivery, link, token)
    _refuse(tenant=tenant, actor=actor, record_request=record_request, verdict=verdict, delivery=delivery)


# --- Unencrypted email, the individual's choice -------------------------------------------------------------

# What staff tell the individual before they choose (HHS access guidance): read out or sent, then their choice recorded.
UNENCRYPTED_EMAIL_WARNING = (
    "Ordinary email is not encrypted: your records could be read or changed by others while the email travels and "
    "while it sits in mailboxes, and we cannot take them back once sent. We can send them instead as a secure "
    "download, at no extra cost. If you still want them by ordinary email, we will send them that way."
)
CHOICE_WAYS = (
    ("phone", "On the phone"),
    ("in_person", "In person"),
    ("in_writing", "In writing (letter, form or email)"),
)


def unencrypted_email_choice_record(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, how: str
) -> RecordRequest:
    """Record that the individual, told the risk (UNENCRYPTED_EMAIL_WARNING), chose unencrypted email for their own
    copy: when, how they said so, and who explained it. Refused for anyone else's request, or for another method."""
    require_staff(actor, tenant)
    if how not in dict(CHOICE_WAYS):
        raise ServiceError("Say how the individual made the choice (phone, in person or in writing).", field="how")
    with transaction.atomic():
        current = request_locked(tenant=tenant, pk=record_request.pk)
        if current.state not in OPEN_STATES:
            raise ServiceError(
                f"This request is {RequestState(current.state).label.lower()}: nothing is sent any more."
            )
        if current.delivery_method != DeliveryMethod.UNENCRYPTED_EMAIL:
            raise ServiceError(
                "The request's delivery method is not unencrypted email: change it first on the details."
            )
        if rules.basis_for(current.request_type, current.requestor.kind) != rules.INDIVIDUAL:
            raise ServiceError(
                "Only the individual may choose unencrypted email, for their own copy: this request is a third "
                "party's. Choose a secure method instead."
            )
        current.unencrypted_email_accepted_at = clock.now()
        current.unencrypted_email_accepted_how = how
        current.unencrypted_email_explained_by = actor
        current.last_activity_at = current.unencrypted_email_accepted_at
        history_stamp(current, actor)
        current.save(
            update_fields=[
                "unencrypted_email_accepted_at",
                "unencrypted_email_accepted_how",
                "unencrypted_email_explained_by",
                "last_activity_at",
                "updated_at",
            ]
        )
    return current
