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
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.db.models import Count, F, Max, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from roi import clock
from roi.errors import ServiceError
from roi.models import Membership, Notification, Tenant
from roi.tenancy import role_in

logger = logging.getLogger(__name__)


def claim_timeout() -> timedelta:
    """A claim older than this belongs to a worker that died; the row is sent again (NOTIFICATION_CLAIM_TIMEOUT_SECONDS,
    ten minutes unless set)."""
    return timedelta(seconds=getattr(settings, "NOTIFICATION_CLAIM_TIMEOUT_SECONDS", 600))


# After this many failed attempts the row stays unsent (attempts and last_error show why) instead of retrying
# forever every minute, e.g. for an address the mail server refuses.
MAX_ATTEMPTS = 10


def _enqueue_send() -> None:
    from roi.tasks import send_notifications  # tasks import this module

    try:
        send_notifications.delay()
    except Exception:
        logger.warning("Could not enqueue send_notifications; the beat sweep will send", exc_info=True)


def notifications_schedule_send() -> None:
    """Ask a worker to send the outbox once the current transaction commits: once per transaction, however many
    writers ask (one send takes every pending row; the demo data and escalation runs ask hundreds of times). Losing
    this trigger delays an email by at most a minute (the beat sweep), so a broker error is logged, not raised into
    the writer's request."""
    if connection.in_atomic_block and any(entry[1] is _enqueue_send for entry in connection.run_on_commit):
        return
    transaction.on_commit(_enqueue_send)


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


# --- Reading: the notifications page, the header's count, mark all read ------------------------------------------

# What a group of notices is called on the notifications page and in the digest: (one, several). Kinds are written
# by the apps (escalations, assignment, QC, the release gate, packet builds, portal uploads); roi names them here
# because it may not import the apps. An unknown kind reads as its own words.
KIND_NAMES: dict[str, tuple[str, str]] = {
    "escalation": ("escalation fired", "escalations fired"),
    "assignment": ("request assigned to you", "requests assigned to you"),
    "qc_failed": ("QC review failed", "QC reviews failed"),
    "release_refused": ("release refused by the gate", "releases refused by the gate"),
    "packet_built": ("release packet built", "release packets built"),
    "packet_failed": ("release packet build failed", "release packet builds failed"),
    "portal_upload": ("upload from a requestor", "uploads from requestors"),
    "psychotherapy_denial_due": ("psychotherapy-notes denial due", "psychotherapy-notes denials due"),
}
# The daily digest is itself a notice (the outbox sends it and keeps it once per day), born read: it is a summary
# of the others, never one more thing to read.
DIGEST_KIND = "digest"


def kind_phrase(kind: str, count: int) -> str:
    """'12 escalations fired', '1 request assigned to you'."""
    one, several = KIND_NAMES.get(kind, (kind.replace("_", " "), kind.replace("_", " ")))
    return f"{count:,} {one if count == 1 else several}"


@dataclass(frozen=True)
class NotificationGroup:
    kind: str
    unread: int
    total: int
    newest_id: int  # "mark read" for the group covers the notices up to this one, those the page was drawn with

    @property
    def label(self) -> str:
        return kind_phrase(self.kind, self.unread if self.unread else self.total)


def notifications_for(*, tenant: Tenant, user: Any, kind: str = "") -> QuerySet[Notification]:
    """The user's in-app notices in the tenant (the digest aside), unread first, newest first."""
    queryset = (
        Notification.objects.for_tenant(tenant)
        .filter(recipient_id=getattr(user, "pk", None))
        .exclude(kind=DIGEST_KIND)
        .order_by(F("read_at").asc(nulls_first=True), "-created_at", "-id")
    )
    return queryset.filter(kind=kind) if kind else queryset


def notification_groups(*, tenant: Tenant, user: Any) -> list[NotificationGroup]:
    """The user's notices by kind, with how many are unread: one query. Groups with unread notices first, the
    largest first."""
    rows = (
        Notification.objects.for_tenant(tenant)
        .filter(recipient_id=getattr(user, "pk", None))
        .exclude(kind=DIGEST_KIND)
        .order_by()
        .values("kind")
        .annotate(unread=Count("id", filter=Q(read_at__isnull=True)), total=Count("id"), newest_id=Max("id"))
    )
    groups = [NotificationGroup(row["kind"], row["unread"], row["total"], row["newest_id"]) for row in rows]
    return sorted(groups, key=lambda g: (-g.unread, -g.total, g.kind))


def unread_count(*, tenant: Tenant, user: Any) -> int:
    """Every unread notice of the user in the tenant, counted exactly: the notification_inbox_idx index (tenant,
    recipient, read_at) answers it from the index, and stale escalation notices are read when their escalation closes
    (exceptions.escalations), so the number stays one a person can act on."""
    return Notification.objects.for_tenant(tenant).filter(recipient_id=user.pk, read_at__isnull=True).count()


def notifications_mark_all_read(*, tenant: Tenant, actor: Any, kind: str = "", up_to_id: int | None = None) -> int:
    """Mark the actor's unread notices in this tenant read (of one kind, or all), up to the newest the page showed
    (`up_to_id`), so a notice that arrived after the page was drawn stays unread. Nobody else's notices, none of
    another tenant. One UPDATE; returns how many were marked."""
    if role_in(actor, tenant) is None:
        raise ServiceError("You have no role in this organisation.")
    unread = Notification.objects.for_tenant(tenant).filter(recipient_id=actor.pk, read_at__isnull=True)
    if kind:
        unread = unread.filter(kind=kind)
    if up_to_id is not None:
        unread = unread.filter(pk__lte=up_to_id)
    with transaction.atomic():
        return unread.update(read_at=clock.now())


# --- The daily digest ----------------------------------------------------------------------------------------------

# Written once a day per member who asked for it, from this hour of the organisation's day: the beat task runs every
# hour, so a run missed (a restart) is made up by the next, and the dedupe key makes a second run write nothing.
DIGEST_HOUR = 7
# The digest names this many of the newest unread notices; the counts cover them all.
DIGEST_ITEMS = 20


def _digest_body(groups: list[tuple[str, int]], items: list[tuple[str, str]], total: int) -> str:
    lines = [f"You have {total:,} unread notification{'' if total == 1 else 's'}:"]
    lines += [f"- {kind_phrase(kind, count)}" for kind, count in groups]
    lines += ["", "The newest:" if total > len(items) else "They are:"]
    lines += [f"- {subject}" + (f"\n  {settings.SITE_URL}{link}" if link else "") for subject, link in items]
    return "\n".join(lines)


def notification_digests_write(*, tenant: Tenant, now: datetime | None = None) -> int:
    """Write today's digest for every active member of the tenant who asked for one and has unread notices, into the
    outbox (emailed by notifications_send_pending). At most one per member and calendar day of the organisation,
    however often it runs (dedupe key digest:<user>:<day>); nothing before DIGEST_HOUR. The digest lists what the
    notices' subjects say (the tracking number and the event, never PHI: their writers see to it). Four queries
    whatever the number of members and notices. Returns how many digests were written now."""
    now = now or clock.now()
    local = now.astimezone(tenant.tzinfo)
    if local.hour < DIGEST_HOUR:
        return 0
    day = local.date()
    members = dict(
        Membership.objects.for_tenant(tenant)
        .filter(daily_digest=True, is_active=True, user__is_active=True)
        .exclude(user__email="")
        .values_list("user_id", "user__email")
    )
    if not members:
        return 0
    already = set(
        Notification.objects.for_tenant(tenant)
        .filter(dedupe_key__in=[f"digest:{user_id}:{day.isoformat()}" for user_id in members])
        .values_list("recipient_id", flat=True)
    )
    wanted = [user_id for user_id in members if user_id not in already]
    unread = (
        Notification.objects.for_tenant(tenant)
        .filter(recipient_id__in=wanted, read_at__isnull=True)
        .exclude(kind=DIGEST_KIND)
    )
    counts: dict[int, list[tuple[str, int]]] = {}
    for row in unread.order_by().values("recipient_id", "kind").annotate(n=Count("id")).order_by("-n", "kind"):
        counts.setdefault(row["recipient_id"], []).append((row["kind"], row["n"]))
    newest: dict[int, list[tuple[str, str]]] = {}
    ranked = unread.annotate(
        rank=Window(RowNumber(), partition_by=[F("recipient_id")], order_by=[F("created_at").desc(), F("id").desc()])
    ).filter(rank__lte=DIGEST_ITEMS)
    for recipient_id, subject, link in ranked.order_by("recipient_id", "rank").values_list(
        "recipient_id", "subject", "link"
    ):
        newest.setdefault(recipient_id, []).append((subject, link))
    digests = []
    for user_id, groups in counts.items():
        total = sum(count for _kind, count in groups)
        digests.append(
            Notification(
                tenant=tenant,
                recipient_id=user_id,
                email_to=members[user_id],
                kind=DIGEST_KIND,
                subject=f"{total:,} unread notification{'' if total == 1 else 's'} in {tenant.name}"[:200],
                body=_digest_body(groups, newest.get(user_id, []), total),
                link="/notifications/",
                dedupe_key=f"digest:{user_id}:{day.isoformat()}",
                read_at=now,
            )
        )
    with transaction.atomic():
        written = Notification.objects.bulk_create(digests, ignore_conflicts=True)
        if written:
            notifications_schedule_send()
    return len(written)
