"""The user's in-app notifications: grouped by kind with their counts, read one at a time, a group at a time or all
at once, and the daily digest preference."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from roi.models import Notification
from roi.notifications import (
    KIND_NAMES,
    kind_phrase,
    notification_groups,
    notification_mark_read,
    notifications_for,
    notifications_mark_all_read,
)
from roi.services import membership_daily_digest_set
from roi.tenancy import TenantViewMixin

NOTIFICATIONS_PAGE_SIZE = 50


class NotificationListView(TenantViewMixin, View):
    """The user's in-app notifications in the current tenant, unread first (escalations, deficiencies, ...), with
    a count per kind ("12 escalations fired") that filters the list, and "mark all read" for all or one kind."""

    def get(self, request: HttpRequest) -> HttpResponse:
        groups = notification_groups(tenant=self.tenant, user=request.user)
        kinds = {group.kind for group in groups}
        kind = request.GET.get("kind", "")
        kind = kind if kind in kinds else ""
        notifications = notifications_for(tenant=self.tenant, user=request.user, kind=kind)
        page = Paginator(notifications, NOTIFICATIONS_PAGE_SIZE).get_page(request.GET.get("page"))
        rows = list(page.object_list)
        context = {
            "page": page,
            "notifications": rows,
            "groups": groups,
            "kind": kind,
            "kind_label": kind_phrase(kind, 2).removeprefix("2 ") if kind else "",
            "unread_total": sum(group.unread for group in groups),
            # "Mark all read" covers what this page was drawn with: a notice arriving later stays unread.
            "up_to_id": max((group.newest_id for group in groups), default=0),
            "daily_digest": request.membership.daily_digest,  # type: ignore[attr-defined]  # TenantMiddleware sets it
        }
        return render(request, "roi/notifications.html", context)


class NotificationReadView(TenantViewMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        # Another user's notice, or one of another tenant, answers exactly like a missing one.
        notification = get_object_or_404(
            Notification.objects.for_tenant(self.tenant).filter(recipient_id=request.user.pk), pk=pk
        )
        notification_mark_read(user=request.user, notification=notification)
        target = request.POST.get("next", "")
        if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            return redirect(target)
        return redirect("notifications")


class NotificationReadAllView(TenantViewMixin, View):
    """Mark the user's unread notices read: all of them, or one kind's (`kind`), up to the newest the page showed."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        kind = request.POST.get("kind", "")
        raw_up_to = request.POST.get("up_to", "")
        up_to_id = int(raw_up_to) if raw_up_to.isdigit() else None
        marked = notifications_mark_all_read(tenant=self.tenant, actor=request.user, kind=kind, up_to_id=up_to_id)
        what = (
            kind_phrase(kind, marked) if kind in KIND_NAMES else f"{marked:,} notification{'' if marked == 1 else 's'}"
        )
        messages.success(request, f"Marked read: {what}." if marked else "Nothing unread to mark.")
        return redirect(reverse("notifications"))


class NotificationDigestView(TenantViewMixin, View):
    """The user's daily digest preference for this organisation."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        enabled = request.POST.get("daily_digest") == "on"
        membership_daily_digest_set(tenant=self.tenant, actor=request.user, enabled=enabled)
        messages.success(
            request,
            "You will get one email a day listing your unread notifications."
            if enabled
            else "No daily digest: notifications only here and in their own emails.",
        )
        return redirect(reverse("notifications"))
