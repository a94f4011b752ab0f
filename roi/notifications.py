"""The notification outbox: writing a notice in the transaction of the event behind it, and emailing it afterwards.

Writers call `notify()` (or, for many rows at once, INSERT ... SELECT with the same dedupe keys, as escalations do)
inside their own transaction; the row exists exactly when the event does. `notifications_send_pending()` emails
what is unsent. It runs on commit of each writer and every minute from beat (roi.tasks.send_notifications), so an
email whose on-commit trigger was lost (broker down, worker restarted) goes out at the next sweep.

Who writes here: escalations and assignment (staff, in the app and by email) and intake.notices (requestors: request
received, action needed, extension, records sent, denial). Everything a requestor is emailed about their request goes
through this one path, except the email carrying a download link: its token is never stored, so it is sent from
memory (fulfillment.delivery) and the outbox's "records sent" notice is the one that cannot be lost.

Delivery is at least once: a row is claimed, sent, then marked. A worker killed between sending and marking leaves a
claim that expires after claim_timeout(), and the email is sent again. Every email carries a Message-ID derived from its
row (`<notification-<id>@<domain>>`), the same on every attempt, so a mail client that receives such a repeat can
recognise it as the same message (many show it once). A send that fails is retried by the next sweep, up to
MAX_ATTEMPTS; after that the row stays unsent with its last error, for staff to see. For staff, a lost alert can mean
a missed legal deadline (45 CFR 164.524(b)(2): 30 days); for a requestor, a lost notice means a missed deficiency
reply or an unopened download. A rare repeat costs a second look, so it is the price of never losing one.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import F

from roi import clock
from roi.errors import ServiceError
from roi.models import Notification, Tenant
from roi.tenancy import role_in

logger = logging.getLogger(__name__)


def claim_timeout() -> timedelta:
    """A claim older than this belongs to a worker that died; the row is sent again (NOTIFICATION_CLAIM_TIMEOUT_SECONDS,
    ten minutes unless set)."""
    return timedelta(seconds=getattr(settings, "NOTIFICATION_CLAIM_TIMEOUT_SECONDS", 600))


# After this many failed attempts the row stays unsent (attempts and last_error show why) instead of retrying
# forever every minute, e.g. for an address the mail server refuses.
MAX_ATTEMPTS = 10


def notifications_schedule_send() -> None:
    """Ask a worker to send the outbox once the current transaction commits. Losing this trigger delays an email
    by at most a minute (the beat sweep), so a broker error is logged, not raised into the writer's request."""

    def enqueue() -> None:
        from roi.tasks import send_notifications  # tasks import this module

        try:
            send_notifications.delay()
        except Exception:
            logger.warning("Could not enqueue send_notifications; the beat sweep will send", exc_info=True)

    transaction.on_commit(enqueue)


def notify(
    *,
    tenant: Tenant,
    recipient: Any | None = None,
    email_to: str = "",
    kind: str,
    subject: str,
    body: str,
    link: str = "",
    dedupe_key: str,
) -> Notification | None:
    """Write a notification once per (tenant, dedupe_key), inside the caller's transaction; a retried job that
    writes the same key gets the existing row back. Returns None when there is nobody to tell (no recipient and
    no address). The subject and body go into email: callers put no PHI in them beyond the tracking number."""
    if recipient is None and not email_to:
        return None
    if not dedupe_key:
        raise ServiceError("A notification needs a dedupe key.")
    if recipient is not None and role_in(recipient, tenant) is None:
        raise ServiceError(f"{recipient} is not a staff member of this organisation.", field="recipient")
    notification, created = Notification.objects.get_or_create(
        tenant=tenant,
        dedupe_key=dedupe_key[:200],
        defaults={
            "recipient": recipient,
            "email_to": email_to,
            "kind": kind,
            "subject": subject[:200],
            "body": body,
            "link": link[:300],
        },
    )
    if created and email_to:
        notifications_schedule_send()
    return notification


_CLAIM_SQL = f"""
UPDATE {Notification._meta.db_table} n
SET email_claimed_at = %(now)s
WHERE n.id IN (
    SELECT id FROM {Notification._meta.db_table}
    WHERE emailed_at IS NULL AND email_to <> '' AND attempts < %(max_attempts)s
      AND (email_claimed_at IS NULL OR email_claimed_at < %(expired)s)
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING n.id, n.tenant_id, n.email_to, n.subject, n.body, n.link, n.recipient_id
"""  # noqa: S608 - table names come from model metadata; every value is a query parameter


def message_domain() -> str:
    """The domain of our Message-IDs: the sender address's, else the site's host (the local part and port are not
    part of a Message-ID's right-hand side)."""
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    domain = address.rpartition("@")[2] if "@" in address else ""
    return domain or urlsplit(settings.SITE_URL).hostname or "openroi.invalid"


def message_id(notification_id: int) -> str:
    """The same Message-ID on every attempt at one row, so a repeat after a crash reads as the same message."""
    return f"<notification-{notification_id}@{message_domain()}>"


def _email(notification_id: int, subject: str, body: str, link: str, to: str, reply_to: str = "") -> EmailMessage:
    """Only what the row holds: the writers put the tracking number and the rule or event name in it, no PHI."""
    text = body.rstrip() + "\n"
    if link:
        text += f"\n{settings.SITE_URL}{link}\n"
    return EmailMessage(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        reply_to=[reply_to] if reply_to else None,
        headers={"Message-ID": message_id(notification_id)},
    )


def notifications_send_pending(limit: int = 200) -> int:
    """Email up to `limit` unsent notifications and return how many were sent.

    Rows are claimed with one conditional UPDATE (SKIP LOCKED, so concurrent senders take different rows and never
    wait on each other); each claimed row is sent, then marked emailed only while our claim still holds. A failure
    releases the claim and records the error, so the next sweep retries it."""
    now = clock.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL,
            {"now": now, "expired": now - claim_timeout(), "limit": limit, "max_attempts": MAX_ATTEMPTS},
        )
        claimed = cursor.fetchall()
    if not claimed:
        return 0
    # A requestor (no recipient user) who answers the email reaches the organisation's records office, not our
    # no-reply address; staff notices need no reply address.
    reply_to = dict(
        Tenant.objects.filter(pk__in={row[1] for row in claimed if row[6] is None}).values_list("pk", "him_email")
    )
    sent = 0
    mail = get_connection()
    try:
        mail.open()
        for notification_id, tenant_id, email_to, subject, body, link, recipient_id in claimed:
            ours = Notification.objects.filter(pk=notification_id, tenant_id=tenant_id, email_claimed_at=now)
            try:
                reply = "" if recipient_id is not None else reply_to.get(tenant_id, "")
                mail.send_messages([_email(notification_id, subject, body, link, email_to, reply)])
            except Exception as error:  # noqa: BLE001 - any backend error: record it and leave the row for retry
                logger.warning("Notification %s not emailed: %s", notification_id, error)
                ours.update(email_claimed_at=None, attempts=F("attempts") + 1, last_error=str(error)[:300])
                continue
            ours.update(emailed_at=clock.now(), last_error="")
            sent += 1
    finally:
        try:
            mail.close()
        except Exception:
            logger.warning("Closing the mail connection failed", exc_info=True)
    return sent


def notification_mark_read(*, user: Any, notification: Notification) -> Notification:
    """Mark the user's own notification read (once; the first time is kept). Someone else's answers like a
    missing one."""
    if notification.recipient_id is None or notification.recipient_id != getattr(user, "pk", None):
        raise ServiceError("This notification does not exist.")
    Notification.objects.filter(pk=notification.pk, recipient_id=user.pk, read_at__isnull=True).update(
        read_at=clock.now()
    )
    notification.refresh_from_db(fields=["read_at"])
    return notification
