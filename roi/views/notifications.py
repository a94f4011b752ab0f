"""The user's in-app notifications."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from roi.models import Notification
from roi.notifications import notification_mark_read
from roi.tenancy import TenantViewMixin

NOTIFICATIONS_PAGE_SIZE = 50


class NotificationListView(TenantViewMixin, View):
    """The user's in-app notifications in the current tenant, unread first (escalations, deficiencies, ...)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        notifications = (
            Notification.objects.for_tenant(self.tenant)
            .filter(recipient_id=request.user.pk)
            .order_by(F("read_at").asc(nulls_first=True), "-created_at", "-id")
        )
        page = Paginator(notifications, NOTIFICATIONS_PAGE_SIZE).get_page(request.GET.get("page"))
        return render(request, "roi/notifications.html", {"page": page, "notifications": list(page.object_list)})


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
