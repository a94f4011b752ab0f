"""The notifications page grouped by kind, "mark all read" (all, or one kind; only the user's own, in this tenant,
up to what the page showed), the header's exact count, and the daily digest: a preference the member sets, one email
a day from beat, never two. Personas of tests/conftest.py: Alice (specialist, A), Sam (supervisor, A), Charlie (B)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.urls import reverse

from roi import clock
from roi.choices import Role
from roi.models import Membership, Notification
from roi.notifications import DIGEST_KIND, notification_digests_write, notifications_mark_all_read
from roi.tasks import send_notification_digests
from tests import factories


def _notice(tenant, user, kind="escalation", n=0, **fields):
    return Notification.objects.create(
        tenant=tenant, recipient=user, kind=kind, subject=f"Escalation: ROI-AAAA-BBBB-{n:04d} legal due in 2 days",
        body="b", link=f"/requests/ROI-AAAA-BBBB-{n:04d}/", dedupe_key=f"{kind}:{n}:{user.pk}:{tenant.pk}", **fields,
    )  # fmt: skip


@pytest.fixture
def sam_in_b(tenant_b, sam):
    """Sam also covers tenant B (a supervisor of two hospitals)."""
    return factories.MembershipFactory(tenant=tenant_b, user=sam, role=Role.SUPERVISOR)


def test_the_page_groups_notices_by_kind_with_counts(client_for, tenant_a, sam):
    for n in range(12):
        _notice(tenant_a, sam, n=n)
    _notice(tenant_a, sam, kind="assignment", n=100)
    _notice(tenant_a, sam, kind="qc_failed", n=101, read_at=clock.now())

    response = client_for(sam).get(reverse("notifications"))

    labels = [(g.label, g.unread) for g in response.context["groups"]]
    assert labels == [("12 escalations fired", 12), ("1 request assigned to you", 1), ("1 QC review failed", 0)]
    page = response.content.decode()
    assert "Mark all 13 read" in page
    only = client_for(sam).get(reverse("notifications"), {"kind": "assignment"}).context["notifications"]
    assert [n.kind for n in only] == ["assignment"]


def test_mark_all_read_marks_only_the_users_own_in_this_tenant(client_for, tenant_a, tenant_b, sam, alice, sam_in_b):
    mine = [_notice(tenant_a, sam, n=n) for n in range(3)]
    alices = _notice(tenant_a, alice, n=10)
    in_b = _notice(tenant_b, sam, n=11)

    client = client_for(sam)
    response = client.post(reverse("notifications-read-all"), {"up_to": str(max(n.pk for n in mine))})

    assert response.status_code == 302
    assert Notification.objects.filter(pk__in=[n.pk for n in mine], read_at__isnull=True).count() == 0
    for other in (alices, in_b):
        other.refresh_from_db()
        assert other.read_at is None
    assert "Marked read: 3 notifications." in client.get(reverse("notifications")).content.decode()


def test_mark_all_read_leaves_what_arrived_after_the_page_and_other_kinds(client_for, tenant_a, sam):
    shown = _notice(tenant_a, sam, n=1)
    assignment = _notice(tenant_a, sam, kind="assignment", n=2)
    client_for(sam).post(reverse("notifications-read-all"), {"kind": "escalation", "up_to": str(assignment.pk)})
    arrived_later = _notice(tenant_a, sam, n=3)
    shown.refresh_from_db()
    assignment.refresh_from_db()
    assert shown.read_at is not None
    assert assignment.read_at is None  # another kind
    client_for(sam).post(reverse("notifications-read-all"), {"up_to": str(assignment.pk)})
    arrived_later.refresh_from_db()
    assert arrived_later.read_at is None


def test_mark_all_read_needs_a_role_in_the_tenant(tenant_a, charlie):
    from roi.errors import ServiceError

    with pytest.raises(ServiceError):
        notifications_mark_all_read(tenant=tenant_a, actor=charlie)


def test_the_header_count_is_exact_and_drops_after_mark_all_read(client_for, tenant_a, sam):
    for n in range(150):
        _notice(tenant_a, sam, n=n)
    client = client_for(sam)
    page = client.get(reverse("workflow:queue")).content.decode()
    assert 'aria-label="150 unread">150</span>' in page
    client.post(reverse("notifications-read-all"))
    assert 'class="unread-count"' not in client.get(reverse("workflow:queue")).content.decode()


def test_the_notifications_page_query_count_does_not_grow_with_rows(
    client_for, tenant_a, sam, django_assert_num_queries
):
    for n in range(3):
        _notice(tenant_a, sam, n=n)
    client = client_for(sam)
    client.get(reverse("notifications"))  # warm the session
    # session, user, memberships, groups, the page's count and rows, the header's unread count.
    with django_assert_num_queries(7):
        client.get(reverse("notifications"))
    for n in range(3, 60):
        _notice(tenant_a, sam, kind="assignment" if n % 2 else "escalation", n=n)
    with django_assert_num_queries(7):
        assert len(client.get(reverse("notifications")).context["notifications"]) == 50


# --- The daily digest ----------------------------------------------------------------------------------------------


def _morning(tenant, hour=8):
    return datetime.now(ZoneInfo(tenant.timezone)).replace(hour=hour, minute=5, second=0, microsecond=0)


def test_a_member_turns_the_daily_digest_on_and_off(client_for, tenant_a, sam):
    client = client_for(sam)
    client.post(reverse("notification-digest"), {"daily_digest": "on"})
    membership = Membership.objects.get(tenant=tenant_a, user=sam)
    assert membership.daily_digest is True
    assert membership.history.latest().history_user == sam
    assert 'id="daily-digest" checked' in client.get(reverse("notifications")).content.decode()
    client.post(reverse("notification-digest"), {})
    membership.refresh_from_db()
    assert membership.daily_digest is False


def test_the_digest_goes_out_once_a_day_listing_unread_notices(tenant_a, sam, alice):
    Membership.objects.filter(tenant=tenant_a, user=sam).update(daily_digest=True)
    for n in range(12):
        _notice(tenant_a, sam, n=n)
    _notice(tenant_a, sam, kind="assignment", n=50)
    _notice(tenant_a, sam, n=51, read_at=clock.now())
    _notice(tenant_a, alice, n=52)  # Alice did not ask for a digest

    with clock.frozen(_morning(tenant_a)):
        assert send_notification_digests() == 1
        assert send_notification_digests() == 0  # run twice: one email

    assert [m.to for m in mail.outbox] == [[sam.email]]
    message = mail.outbox[0]
    assert message.subject == f"13 unread notifications in {tenant_a.name}"
    assert "- 12 escalations fired" in message.body
    assert "- 1 request assigned to you" in message.body
    assert "ROI-AAAA-BBBB-0050" in message.body
    assert "ROI-AAAA-BBBB-0051" not in message.body  # read already
    digest = Notification.objects.get(kind=DIGEST_KIND)
    assert digest.read_at is not None  # never one more thing to read: not in the count, not in the groups


def test_no_digest_before_the_morning_nor_with_nothing_unread_and_one_again_the_next_day(tenant_a, sam):
    Membership.objects.filter(tenant=tenant_a, user=sam).update(daily_digest=True)
    with clock.frozen(_morning(tenant_a)):
        assert notification_digests_write(tenant=tenant_a) == 0  # nothing unread
    _notice(tenant_a, sam, n=1)
    with clock.frozen(_morning(tenant_a, hour=5)):
        assert notification_digests_write(tenant=tenant_a) == 0  # too early in the organisation's day
    with clock.frozen(_morning(tenant_a)):
        assert notification_digests_write(tenant=tenant_a) == 1
    with clock.frozen(_morning(tenant_a) + timedelta(days=1)):
        assert notification_digests_write(tenant=tenant_a) == 1
    assert Notification.objects.filter(kind=DIGEST_KIND).count() == 2
