from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from roi.tasks import HEARTBEAT_KEY
from roi.tenancy import SESSION_TENANT_KEY


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
