from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

HEARTBEAT_KEY = "beat:last-heartbeat"


@shared_task
def beat_heartbeat() -> str:
    """Scheduled every minute by beat; /healthz/ reads the timestamp to tell whether beat is running."""
    stamp = timezone.now().isoformat()
    cache.set(HEARTBEAT_KEY, stamp, timeout=None)
    return stamp


@shared_task
def ping(value: str = "pong") -> str:
    """Round trip through the broker and a worker; used by health checks and the worker smoke test."""
    return value


@shared_task
def send_notifications() -> int:
    """Email the notification outbox. Scheduled on commit by roi.notifications and every minute by beat (the
    sweep that catches anything whose on-commit trigger was lost, and retries failures). Each organisation's outbox
    in its own row-level security scope (roi/rls.py)."""
    from roi import rls
    from roi.notifications import notifications_send_pending

    return sum(notifications_send_pending() for _tenant in rls.each_tenant())


@shared_task
def anchor_audit_chains() -> int:
    """Write each organisation's access-event chain head outside the database (roi/anchors.py), in its own scope.
    Scheduled by beat; returns how many anchors were written (an organisation with nothing new gets none)."""
    from roi import rls
    from roi.anchors import anchor_write

    return sum(anchor_write(tenant=tenant) is not None for tenant in rls.each_tenant())


@shared_task
def send_notification_digests() -> int:
    """Every hour from beat: each organisation's daily digests that are due (from DIGEST_HOUR of its own day, once
    per member and day: roi.notifications.notification_digests_write), in its own row-level security scope, then
    the outbox. Run twice, one email. Returns how many digests were written."""
    from roi import rls
    from roi.notifications import notification_digests_write, notifications_send_pending

    written = 0
    for tenant in rls.each_tenant():
        count = notification_digests_write(tenant=tenant)
        if count:
            notifications_send_pending()
        written += count
    return written
