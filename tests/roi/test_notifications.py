"""The notification outbox: written once per dedupe key, emailed once, retried after a failure, never lost."""

from __future__ import annotations

from datetime import timedelta
from smtplib import SMTPServerDisconnected

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from roi import clock
from roi.errors import ServiceError
from roi.models import Notification
from roi.notifications import MAX_ATTEMPTS, claim_timeout, notification_mark_read, notifications_send_pending, notify
from tests import factories
from tests.concurrency import run_at_once


class FailingBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages):
        raise SMTPServerDisconnected("Connection unexpectedly closed")


def _notify(tenant, user, key="k1", **kw) -> Notification:
    return notify(
        tenant=tenant, recipient=user, email_to=kw.pop("email_to", user.email), kind="escalation",
        subject="Escalation: ROI-AAAA-BBBB-CCCC legal due in 2 days", body="Escalation rule: Due soon (level 1).",
        link="/requests/ROI-AAAA-BBBB-CCCC/", dedupe_key=key, **kw,
    )  # fmt: skip


def test_notify_writes_one_row_per_dedupe_key(tenant_a, sam):
    first = _notify(tenant_a, sam)
    again = _notify(tenant_a, sam)
    assert first.pk == again.pk
    assert Notification.objects.count() == 1
    assert notify(tenant=tenant_a, kind="x", subject="s", body="b", dedupe_key="nobody") is None


def test_notify_refuses_a_recipient_from_another_tenant(tenant_a, charlie):
    with pytest.raises(ServiceError):
        _notify(tenant_a, charlie)
    assert not Notification.objects.exists()


def test_the_sender_emails_each_notification_once(tenant_a, sam, alice):
    _notify(tenant_a, sam, key="a")
    _notify(tenant_a, alice, key="b")
    _notify(tenant_a, alice, key="in-app-only", email_to="")
    assert notifications_send_pending() == 2
    assert notifications_send_pending() == 0
    assert sorted(m.to[0] for m in mail.outbox) == sorted([sam.email, alice.email])
    message = next(m for m in mail.outbox if m.to == [sam.email])
    assert message.subject == "Escalation: ROI-AAAA-BBBB-CCCC legal due in 2 days"
    assert message.body.rstrip().endswith("/requests/ROI-AAAA-BBBB-CCCC/")
    assert Notification.objects.filter(emailed_at__isnull=False).count() == 2


def test_a_failing_mail_server_leaves_the_notification_for_the_next_sweep(tenant_a, sam, settings):
    notification = _notify(tenant_a, sam)
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    assert notifications_send_pending() == 0
    notification.refresh_from_db()
    assert (notification.emailed_at, notification.email_claimed_at, notification.attempts) == (None, None, 1)
    assert "unexpectedly closed" in notification.last_error
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notifications_send_pending() == 1
    notification.refresh_from_db()
    assert notification.emailed_at is not None
    assert notification.last_error == ""
    assert len(mail.outbox) == 1


def test_a_claim_left_by_a_dead_worker_is_sent_after_the_timeout_and_a_live_one_is_not(tenant_a, sam):
    notification = _notify(tenant_a, sam)
    Notification.objects.filter(pk=notification.pk).update(email_claimed_at=clock.now() - timedelta(minutes=1))
    assert notifications_send_pending() == 0
    Notification.objects.filter(pk=notification.pk).update(
        email_claimed_at=clock.now() - claim_timeout() - timedelta(seconds=1)
    )
    assert notifications_send_pending() == 1


def test_a_notification_that_failed_too_often_is_no_longer_retried(tenant_a, sam):
    notification = _notify(tenant_a, sam)
    Notification.objects.filter(pk=notification.pk).update(attempts=MAX_ATTEMPTS)
    assert notifications_send_pending() == 0
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_two_senders_at_once_send_each_email_once():
    tenant = factories.TenantFactory(slug="outbox-race")
    users = [factories.MembershipFactory(tenant=tenant).user for _ in range(40)]
    for index, user in enumerate(users):
        Notification.objects.create(
            tenant=tenant, recipient=user, email_to=user.email, kind="test", subject=f"Test {index}", body="b",
            dedupe_key=f"race:{index}",
        )  # fmt: skip

    def send() -> int:
        return notifications_send_pending(limit=15) + notifications_send_pending(limit=15)

    race = run_at_once(send, n=3, timeout=30)
    assert race.errors == []
    assert sum(race.results) == 40
    assert sorted(m.subject for m in mail.outbox) == sorted(f"Test {i}" for i in range(40))


def test_mark_read_is_for_the_recipient_only(tenant_a, sam, alice):
    notification = _notify(tenant_a, sam)
    with pytest.raises(ServiceError):
        notification_mark_read(user=alice, notification=notification)
    read = notification_mark_read(user=sam, notification=notification)
    assert read.read_at is not None
    first = read.read_at
    assert notification_mark_read(user=sam, notification=notification).read_at == first


def test_every_attempt_at_one_notification_carries_the_same_message_id(tenant_a, sam, settings):
    notification = _notify(tenant_a, sam)
    settings.DEFAULT_FROM_EMAIL = "Records <no-reply@records.example.org>"
    settings.EMAIL_BACKEND = f"{__name__}.FailingBackend"
    notifications_send_pending()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notifications_send_pending() == 1
    # A worker that died between sending and marking: the row is sent again, under the same Message-ID.
    Notification.objects.filter(pk=notification.pk).update(emailed_at=None, email_claimed_at=None)
    assert notifications_send_pending() == 1
    ids = [m.message()["Message-ID"] for m in mail.outbox]
    assert ids == [f"<notification-{notification.pk}@records.example.org>"] * 2
    assert len(mail.outbox) == 2


def test_a_requestor_email_answers_to_the_records_office(tenant_a):
    tenant_a.him_email = "him@alpha.example.org"
    tenant_a.save()
    notify(tenant=tenant_a, email_to="rosa@example.org", kind="requestor", subject="s", body="b", dedupe_key="r1")
    assert notifications_send_pending() == 1
    assert mail.outbox[0].reply_to == ["him@alpha.example.org"]
