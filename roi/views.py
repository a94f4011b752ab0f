from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import F
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.http import require_GET, require_POST

from roi.models import Notification
from roi.notifications import notification_mark_read
from roi.tasks import HEARTBEAT_KEY
from roi.tenancy import SESSION_TENANT_KEY, TenantViewMixin

NOTIFICATIONS_PAGE_SIZE = 50


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness for load balancers and monitoring: database, Redis, and beat's last heartbeat."""
    checks: dict[str, object] = {}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - report any failure to the monitor rather than answering 500
        checks["database"] = f"error: {type(error).__name__}"
        healthy = False
    try:
        stamp = cache.get(HEARTBEAT_KEY)
        checks["redis"] = "ok"
        last = parse_datetime(stamp) if stamp else None
        checks["beat_heartbeat_age_seconds"] = int((timezone.now() - last).total_seconds()) if last else None
    except Exception as error:  # noqa: BLE001 - a broken cache is reported, not raised
        checks["redis"] = f"error: {type(error).__name__}"
        healthy = False
    return JsonResponse({"status": "ok" if healthy else "degraded", **checks}, status=200 if healthy else 503)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("workflow:queue")


@login_required
@require_POST
def switch_tenant(request: HttpRequest) -> HttpResponse:
    """Pick which of the user's tenants the session acts in (the switcher in the header)."""
    try:
        tenant_id = int(request.POST.get("tenant", ""))
    except ValueError:
        return HttpResponseBadRequest("Choose an organisation.")
    if not any(m.tenant_id == tenant_id for m in request.memberships):  # type: ignore[attr-defined]
        return HttpResponseBadRequest("You are not a member of that organisation.")
    request.session[SESSION_TENANT_KEY] = tenant_id
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    # A detail page of the old tenant would answer 404 in the new one; start from the queue.
    return redirect("workflow:queue" if "/requests/" in target else target)


class NotificationListView(TenantViewMixin, View):
    """The user's in-app notifications in the current tenant, unread first (escalations, deficiencies, ...)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        notifications = (
            Notification.objects.for_tenant(self.tenant)
            .filter(recipient=request.user)
            .order_by(F("read_at").asc(nulls_first=True), "-created_at", "-id")
        )
        page = Paginator(notifications, NOTIFICATIONS_PAGE_SIZE).get_page(request.GET.get("page"))
        return render(request, "roi/notifications.html", {"page": page, "notifications": list(page.object_list)})


class NotificationReadView(TenantViewMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        # Another user's notice, or one of another tenant, answers exactly like a missing one.
        notification = get_object_or_404(
            Notification.objects.for_tenant(self.tenant).filter(recipient=request.user), pk=pk
        )
        notification_mark_read(user=request.user, notification=notification)
        target = request.POST.get("next", "")
        if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            return redirect(target)
        return redirect("notifications")
