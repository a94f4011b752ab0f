from __future__ import annotations

import errno
import sys
from typing import Any

from django import db
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import loader
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View, defaults
from django.views.decorators.http import require_GET, require_POST

from roi import rls, two_factor
from roi.choices import Role
from roi.errors import ServiceError
from roi.models import Membership, Notification
from roi.notifications import notification_mark_read
from roi.services import licensed_professional_designate, licensed_professional_remove, tenant_session_idle_set
from roi.sessions import staff_sessions_end, staff_sessions_open
from roi.sign_in import refusal_message
from roi.tasks import HEARTBEAT_KEY
from roi.tenancy import SESSION_TENANT_KEY, TenantViewMixin
from roi.throttle import Throttled

NOTIFICATIONS_PAGE_SIZE = 50


# While PostgreSQL cannot be reached: how long a client should wait before trying again (a restart takes seconds).
RETRY_AFTER_SECONDS = 30


# A storage that refuses to write (MEDIA_ROOT full, over quota, read-only, gone): the operator's problem, not a bug.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO})


def server_error(request: HttpRequest) -> HttpResponse:
    """settings handler500. Two failures are the server's passing state, not a bug, and say so instead of the 500
    page (in JSON for the API): a database that cannot be reached (a restart, a failover), 503 with Retry-After; and
    a document storage that refuses to write (roi/storage.py leaves no partial file, the caller's transaction rolls
    back), 503. Anything else is the 500 page."""
    error = sys.exc_info()[1]
    if isinstance(error, (db.OperationalError, db.InterfaceError)):
        response = _unavailable(
            request, "503.html", "The database is briefly unavailable; nothing was saved. Try again shortly."
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if isinstance(error, OSError) and error.errno in STORAGE_ERRNOS:
        return _unavailable(
            request,
            "503_storage.html",
            "The document storage is full or unavailable; the action was not completed and nothing was kept. "
            "Try again later, and tell your administrator if it lasts.",
        )
    return defaults.server_error(request)


def _unavailable(request: HttpRequest, template: str, detail: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": detail}, status=503)
    return HttpResponse(loader.get_template(template).render(), status=503)


# How long /healthz/ waits for the broker: a health check must answer, not wait for Redis to come back.
BROKER_CHECK_TIMEOUT_SECONDS = 1.0


def celery_queue_depth() -> int:
    """Tasks waiting in the default queue (kombu's Redis transport keeps it as a list named after the queue).

    Asked of Redis directly with a short timeout, not through a kombu connection: kombu retries a broker that does
    not answer until it does, which held every gunicorn worker a health check reached for the length of a Redis
    outage (the redis-restart drill)."""
    import redis

    from roi.celery import app

    client = redis.Redis.from_url(
        settings.CELERY_BROKER_URL,
        socket_connect_timeout=BROKER_CHECK_TIMEOUT_SECONDS,
        socket_timeout=BROKER_CHECK_TIMEOUT_SECONDS,
    )
    try:
        return int(client.llen(app.conf.task_default_queue))
    finally:
        client.close()


SCOPE_KEY_MISMATCH = (
    "error: the database does not accept this app's tenant scope: SECRET_KEY changed since the last migrate; "
    "run manage.py migrate"
)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness for load balancers and monitoring: database, Redis, beat's last heartbeat and the
    number of tasks waiting in the broker's queue. `?workers=1` also pings the Celery workers (up to a second) and
    answers 503 when none replies: for a monitor of the worker tier, not for the load balancer."""
    checks: dict[str, object] = {}
    healthy = True
    try:
        # Under a signed scope, as every page runs: PostgreSQL must recompute its MAC with the key migrate gave it.
        # A SECRET_KEY changed without `migrate` would show every page empty; here it is said (roi/rls.py).
        with rls.tenant_scope(0), connection.cursor() as cursor:
            cursor.execute("SELECT roi_current_tenant()")
            signed = cursor.fetchone()[0] == 0
        checks["database"] = "ok" if signed else SCOPE_KEY_MISMATCH
        healthy = healthy and signed
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
    try:
        checks["queue_depth"] = celery_queue_depth()
    except Exception as error:  # noqa: BLE001 - a broker that cannot be reached is reported, not raised
        checks["queue_depth"] = f"error: {type(error).__name__}"
        healthy = False
    if request.GET.get("workers"):
        from roi.celery import app

        replies = app.control.ping(timeout=1.0)
        checks["workers"] = len(replies)
        healthy = healthy and bool(replies)
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
    if not any(m.tenant_id == tenant_id for m in request.memberships):  # type: ignore[attr-defined]  # TenantMiddleware sets it
        return HttpResponseBadRequest("You are not a member of that organisation.")
    request.session[SESSION_TENANT_KEY] = tenant_id
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    if request.POST.get("open_there"):
        # From the page that says a request is in the chosen organisation (workflow/restricted_views.py): open it.
        return redirect(target)
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


class StaffSessionsView(TenantViewMixin, View):
    """Tenant admins see who is signed in and from where, end a member's sessions (a lost laptop, someone who
    left), and set how long an idle session lasts."""

    required_roles = frozenset({Role.ADMIN})

    def get(self, request: HttpRequest, *, status: int = 200, form_error: str = "") -> HttpResponse:
        members = list(Membership.objects.for_tenant(self.tenant).filter(is_active=True).select_related("user"))
        open_sessions = staff_sessions_open(user_ids=[m.user_id for m in members])
        by_user: dict[int, list[Any]] = {}
        for session in open_sessions:
            by_user.setdefault(session.user_id, []).append(session)
        rows = [(m, by_user.get(m.user_id, [])) for m in members]
        context = {
            "rows": rows,
            "form_error": form_error,
            "idle_minutes": self.tenant.session_idle_minutes,
            "max_hours": settings.STAFF_SESSION_MAX_HOURS,
        }
        return render(request, "roi/sessions.html", context, status=status)

    def post(self, request: HttpRequest) -> HttpResponse:
        if "session_idle_minutes" in request.POST:
            try:
                minutes = int(request.POST["session_idle_minutes"])
                tenant_session_idle_set(tenant=self.tenant, actor=request.user, minutes=minutes)
            except ValueError:
                return self.get(request, status=400, form_error="Give a whole number of minutes between 5 and 240.")
            except ServiceError as error:
                return self.get(request, status=error.status_code, form_error=error.message)
            messages.success(request, f"Idle sessions now end after {minutes} minutes.")
            return redirect("staff-sessions")
        member = (
            Membership.objects.for_tenant(self.tenant)
            .filter(user_id=request.POST.get("user") if str(request.POST.get("user", "")).isdigit() else None)
            .select_related("user")
            .first()
        )
        if member is None:
            raise Http404("No such member")
        if request.POST.get("reset_two_factor"):
            two_factor.two_factor_reset(user=member.user)
        ended = staff_sessions_end(user=member.user, actor=request.user)
        done = f"{member.user}: {ended} session{'s' if ended != 1 else ''} ended."
        if request.POST.get("reset_two_factor"):
            done += " Their authenticator and recovery codes are forgotten: they enrol again at their next sign-in."
        messages.success(request, done)
        return redirect("staff-sessions")


class LicensedReviewersView(TenantViewMixin, View):
    """Tenant admins designate which members are licensed health care professionals, with their licence: those who
    may determine a denial for danger or harm (45 CFR 164.524(a)(3)) and review one (164.524(a)(4)). The denial
    pages offer only them; a removed designation stops a review that person has not yet decided."""

    required_roles = frozenset({Role.ADMIN})

    def get(
        self, request: HttpRequest, *, status: int = 200, error: str = "", error_user: int | None = None
    ) -> HttpResponse:
        members = list(
            Membership.objects.for_tenant(self.tenant)
            .filter(is_active=True)
            .select_related("user", "licensed_designated_by")
            .order_by("user__last_name", "user__first_name", "user__username")
        )
        context = {
            "members": members,
            "designated": sum(1 for m in members if m.is_licensed_professional),
            "error": error,
            "error_user": error_user,
            "posted_credential": request.POST.get("credential", "") if error else "",
        }
        return render(request, "roi/licensed_reviewers.html", context, status=status)

    def post(self, request: HttpRequest) -> HttpResponse:
        user_id = str(request.POST.get("user", ""))
        member = (
            Membership.objects.for_tenant(self.tenant)
            .filter(user_id=user_id if user_id.isdigit() else None)
            .select_related("user")
            .first()
        )
        if member is None:
            raise Http404("No such member")
        try:
            if request.POST.get("action") == "remove":
                licensed_professional_remove(tenant=self.tenant, actor=request.user, member_user=member.user)
                done = f"{member.user} is no longer designated as a licensed health care professional."
            else:
                designated = licensed_professional_designate(
                    tenant=self.tenant,
                    actor=request.user,
                    member_user=member.user,
                    credential=request.POST.get("credential", ""),
                )
                done = f"{member.user} is designated as a licensed health care professional ({designated.licensed_credential})."
        except ServiceError as error:
            return self.get(request, status=error.status_code, error=error.message, error_user=member.user_id)
        messages.success(request, done)
        return redirect("licensed-reviewers")


class TwoFactorSetupView(LoginRequiredMixin, View):
    """Enrol an authenticator app: scan the QR code (or type the key), then confirm with a code from the app. The
    recovery codes are shown once, on success."""

    def get(self, request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
        if two_factor.app_device(request.user) is not None:
            return redirect("two-factor-verify")
        device = two_factor.enrolment_device(request.user)
        context = {
            "qr": two_factor.enrolment_qr(device),
            "key": two_factor.base32_key(device),
            "error": error,
            "next": two_factor.safe_next(request),
        }
        return render(request, "registration/two_factor_setup.html", context, status=status)

    def post(self, request: HttpRequest) -> HttpResponse:
        if two_factor.app_device(request.user) is not None:
            return redirect("two-factor-verify")
        device = two_factor.enrolment_device(request.user)
        codes = two_factor.two_factor_enrol(user=request.user, device=device, token=request.POST.get("token", ""))
        if codes is None:
            return self.get(
                request,
                status=400,
                error="That code did not match. Type the six digits your app shows now (they change every 30 "
                "seconds), and check that the phone's clock is right.",
            )
        two_factor.mark_verified(request, device)
        context = {"codes": codes, "next": two_factor.safe_next(request)}
        return render(request, "registration/two_factor_codes.html", context)


class RecoveryCodesView(LoginRequiredMixin, View):
    """A signed-in member's recovery codes: how many are left, and new ones for a code from the app. Outside /2fa/,
    so only a session that has proven its second factor reaches it (roi.two_factor.TwoFactorMiddleware)."""

    def get(self, request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
        context = {
            "enrolled": two_factor.app_device(request.user) is not None,
            "left": two_factor.recovery_codes_left(request.user),
            "error": error,
        }
        return render(request, "registration/two_factor_recovery.html", context, status=status)

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            codes = two_factor.two_factor_recovery_renew(
                user=request.user, token=request.POST.get("token", ""), http_request=request
            )
        except Throttled as refused:
            return _code_refused(self.get(request, error=refusal_message(refused, what="two-factor")), refused)
        if codes is None:
            return self.get(
                request,
                status=400,
                error="That code did not match. Type the six digits your authenticator app shows now (a recovery "
                "code cannot renew the recovery codes).",
            )
        context = {"codes": codes, "next": reverse("home"), "renewed": True}
        return render(request, "registration/two_factor_codes.html", context)


class TwoFactorVerifyView(LoginRequiredMixin, View):
    """The second factor at sign-in: a code from the authenticator app, or one of the recovery codes."""

    def get(self, request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
        if two_factor.app_device(request.user) is None:
            return redirect("two-factor-setup")
        context = {"error": error, "next": two_factor.safe_next(request)}
        return render(request, "registration/two_factor_verify.html", context, status=status)

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            device = two_factor.two_factor_check(
                user=request.user, token=request.POST.get("token", ""), http_request=request
            )
        except Throttled as refused:
            return _code_refused(self.get(request, error=refusal_message(refused, what="two-factor")), refused)
        if device is None:
            return self.get(
                request,
                status=400,
                error="That code did not match. Type the six digits your app shows now, or one of your recovery "
                "codes. After several wrong codes, each try has to wait a little longer.",
            )
        two_factor.mark_verified(request, device)
        return redirect(two_factor.safe_next(request))


def _code_refused(response: HttpResponse, refused: Throttled) -> HttpResponse:
    """A code that came before its turn: 429, and when to come back."""
    response.status_code = refused.status_code
    response["Retry-After"] = str(refused.wait_seconds)
    return response
