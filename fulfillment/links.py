"""Fulfillment: download links, the way a delivery by link reaches the requestor. Issuing one (with a delivery or a
new link for it: fulfillment/delivery.py), its email, revoking it, and each use of it from the portal's download
page (portal/views/downloads.py), which the release gate decides anew.

The token is random (256 bits) and only its SHA-256 is stored, so neither the database nor a backup can be turned
into a working link. The email that carries it is sent after commit from memory, never from a stored row; whether
it went out is recorded on the link (emailed_at), and staff issue a new link when it did not.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse

from fulfillment import gate
from fulfillment.choices import ReleaseAction
from fulfillment.models import Delivery, DownloadLink
from fulfillment.policy import policy_for
from roi import clock
from roi.audit import history_stamp
from roi.downloads import ServedFile, download_record
from roi.errors import ServiceError
from roi.models import Tenant
from roi.tenancy import require_staff
from workflow.choices import DeliveryMethod
from workflow.models import RecordRequest

logger = logging.getLogger(__name__)

LINK_METHODS = frozenset({DeliveryMethod.PORTAL_DOWNLOAD, DeliveryMethod.EMAIL_LINK})


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def download_path(token: str) -> str:
    """The portal page a link opens: it asks the visitor to verify before a use is taken (portal/views/downloads.py)."""
    return reverse("portal:download", args=[token])


def download_url(token: str) -> str:
    return settings.SITE_URL + download_path(token)


def link_status(link: DownloadLink, now: datetime) -> str:
    if link.revoked_at is not None:
        return "revoked"
    if link.uses >= link.max_uses:
        return "used up"
    if link.expires_at <= now:
        return "expired"
    return "active"


def download_link_create(*, tenant: Tenant, actor: Any, delivery: Delivery, sent_to: str) -> tuple[DownloadLink, str]:
    policy = policy_for(tenant)
    token = secrets.token_urlsafe(32)
    now = clock.now()
    link = DownloadLink(
        tenant=tenant,
        delivery=delivery,
        token_digest=token_digest(token),
        expires_at=now + timedelta(days=policy.download_link_days),
        max_uses=policy.download_link_max_uses,
        sent_to=sent_to,
        created_at=now,
        issued_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    history_stamp(link, actor)
    link.save()
    if sent_to:
        _email_link_on_commit(tenant=tenant, link=link, token=token)
    return link, token


def _email_link_on_commit(*, tenant: Tenant, link: DownloadLink, token: str) -> None:
    link_id, tenant_id = link.pk, tenant.pk
    transaction.on_commit(lambda: link_email_send(tenant_id=tenant_id, link_id=link_id, token=token))


def link_email_message(*, tenant: Tenant, link: DownloadLink, token: str, tracking_number: str) -> EmailMessage:
    """The email with the link. Like intake's letter emails it holds no patient and no requestor: its context has
    the organisation, the tracking number, the link and its limits, nothing else. Never the PDF itself."""
    context = {
        "tenant": tenant,
        "tracking_number": tracking_number,
        "url": download_url(token),
        "expires_on": link.expires_at.astimezone(tenant.tzinfo).date(),
        "max_uses": link.max_uses,
    }
    body = render_to_string("fulfillment/delivery/link_email.txt", context).strip() + "\n"
    return EmailMessage(
        subject=f"Your records are ready: request {tracking_number}",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[link.sent_to],
        reply_to=[tenant.him_email] if tenant.him_email else None,
    )


def link_email_send(*, tenant_id: int, link_id: int, token: str) -> bool:
    """Send the link email once (after commit). A failure is logged and leaves emailed_at empty, which the panel
    shows, so staff issue a new link; the token is in memory only, so there is nothing to retry from."""
    link = (
        DownloadLink.objects.for_tenant(tenant_id)
        .select_related("tenant", "delivery__request")
        .filter(pk=link_id, emailed_at__isnull=True, revoked_at__isnull=True)
        .first()
    )
    if link is None or link.token_digest != token_digest(token) or not link.sent_to:
        return False
    message = link_email_message(
        tenant=link.tenant, link=link, token=token, tracking_number=link.delivery.request.tracking_number
    )
    try:
        message.send()
    except Exception:
        logger.warning("Download link %s not emailed", link_id, exc_info=True)
        return False
    DownloadLink.objects.for_tenant(tenant_id).filter(pk=link_id).update(emailed_at=clock.now())
    return True


def _link_of(tenant: Tenant, record_request: RecordRequest, link_id: int) -> DownloadLink:
    link = (
        DownloadLink.objects.for_tenant(tenant)
        .select_related("delivery")
        .filter(pk=link_id, delivery__request_id=record_request.pk)
        .first()
    )
    if link is None:
        raise LinkNotFound("No such link.")
    return link


class LinkNotFound(ServiceError):
    status_code = 404


def download_link_revoke(*, tenant: Tenant, actor: Any, record_request: RecordRequest, link_id: int) -> DownloadLink:
    """Stop a link from working (sent to the wrong address, the requestor asks, a new one replaces it)."""
    require_staff(actor, tenant)
    with transaction.atomic():
        link = _link_of(tenant, record_request, link_id)
        if link.revoked_at is None:
            link.revoked_at = clock.now()
            history_stamp(link, actor)
            link.save(update_fields=["revoked_at"])
    return link


@dataclass(frozen=True)
class Download:
    link: DownloadLink
    content: bytes
    filename: str


class LinkUnavailable(Exception):
    """The link does not work: unknown (404), or expired, used up or revoked (410). The page says neither which."""

    def __init__(self, tenant: Tenant | None) -> None:
        super().__init__("link unavailable")
        self.tenant = tenant


def download_link_use(*, token: str, http_request: Any, actor_label: str) -> Download:
    """Count one use of the link with this token and return the packet it gives (the portal's download page, once
    the visitor verified). `actor_label` says how the visitor was verified, for the access event."""
    return _use(DownloadLink.objects.filter(token_digest=token_digest(token or "")), http_request, actor_label)


def download_link_use_for_request(
    *, tenant: Tenant, record_request: RecordRequest, link_id: int, http_request: Any, actor_label: str
) -> Download:
    """The same, by link id, for the portal status page of a request this browser was verified for: only a link of
    one of this request's deliveries (another request's answers like a missing one)."""
    links = DownloadLink.objects.for_tenant(tenant).filter(pk=link_id, delivery__request_id=record_request.pk)
    return _use(links, http_request, actor_label)


class _Refused(Exception):
    """Rolls back the use a refused download took (internal to _use)."""

    def __init__(self, verdict: gate.Verdict) -> None:
        super().__init__("refused")
        self.verdict = verdict


def _use(links: QuerySet[DownloadLink], http_request: Any, actor_label: str) -> Download:
    """One conditional UPDATE takes the use: two downloads at once on a link's last use cannot both get it (the
    second re-reads the row after the first commits and no longer matches). The release gate then decides, for this
    download, now: refused, the use is given back, the refusal recorded and LinkUnavailable raised (the visitor sees
    that the link no longer works). The access event is written in the same transaction as the use, with the
    client's address, by roi.downloads.download_record like every other download's. Only the packet version the
    link's delivery sent is served."""
    now = clock.now()
    try:
        with transaction.atomic():
            taken = links.filter(revoked_at__isnull=True, expires_at__gt=now, uses__lt=F("max_uses")).update(
                uses=F("uses") + 1
            )
            link = links.select_related("tenant", "delivery__packet", "delivery__request__requestor").first()
            if not taken or link is None:
                raise LinkUnavailable(link.tenant if link is not None else None)
            packet = link.delivery.packet
            rr = link.delivery.request
            verdict = gate.release_verdict(
                tenant=link.tenant, record_request=rr, packet=packet, action=ReleaseAction.DOWNLOAD
            )
            if not verdict.allowed:
                raise _Refused(verdict)
            with packet.file.open("rb") as handle:
                content = handle.read()
            if hashlib.sha256(content).hexdigest() != packet.sha256:
                logger.error("Packet %s does not match its digest; download refused", packet.pk)
                raise LinkUnavailable(link.tenant)
            served = ServedFile(
                content=content,
                filename=f"{rr.tracking_number}-records-v{packet.version}.pdf",
                content_type="application/pdf",
                obj=link,
                request_id=rr.pk,
                patient_id=rr.patient_id,
                detail=f"Download by link: packet v{packet.version}, use {link.uses} of {link.max_uses}",
            )
            download_record(
                tenant=link.tenant,
                actor=None,
                http_request=http_request,
                served=served,
                actor_label=f"{actor_label}; link sent to {link.sent_to or 'no address'}"[:200],
            )
    except _Refused as refused:
        gate.release_refused(
            tenant=link.tenant,
            actor=None,
            record_request=rr,
            verdict=refused.verdict,
            actor_label=f"{actor_label}; link sent to {link.sent_to or 'no address'}",
            delivery=link.delivery,
        )
        raise LinkUnavailable(link.tenant) from None
    return Download(link=link, content=content, filename=served.filename)


def link_for_download(token: str) -> DownloadLink | None:
    """The link a token names, with what the portal's download page needs to verify the visitor; no use taken."""
    return (
        DownloadLink.objects.select_related("tenant", "delivery__request__requestor", "delivery__request__patient")
        .filter(token_digest=token_digest(token or ""))
        .first()
    )
