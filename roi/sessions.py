"""Staff sessions: signed out after the organisation's idle limit and after STAFF_SESSION_MAX_HOURS in any case,
listed and ended from the outside (roi.models.StaffSession).

Sign-in already gets a new session id (django.contrib.auth.login cycles the key), and a disabled account is
signed out on its next request everywhere (the authentication backend refuses inactive users). Ending a session
deletes it from the session store, so the browser holding it is anonymous on its next request: no lookup per
request is needed to enforce it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.contrib.auth.views import redirect_to_login
from django.contrib.sessions.models import Session
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url
from django.utils import timezone

from roi.audit import client_address
from roi.models import StaffSession

LOGIN_AT = "roi_login_at"
SEEN_AT = "roi_seen_at"
# The last-seen time is written at most this often (seconds): a session save per request would be a database write
# per page; a minute of slack on a 15-minute limit does not matter.
SEEN_RESOLUTION = 60


@receiver(user_logged_in, dispatch_uid="roi.sessions.record")
def _record_sign_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    now = time.time()
    request.session[LOGIN_AT] = now
    request.session[SEEN_AT] = now
    if not request.session.session_key:
        request.session.save()
    StaffSession.objects.update_or_create(
        session_key=request.session.session_key,
        defaults={
            "user": user,
            "created_at": timezone.now(),
            "ip_address": client_address(request),
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
            "ended_at": None,
            "ended_reason": "",
        },
    )


@receiver(user_logged_out, dispatch_uid="roi.sessions.signed-out")
def _record_sign_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is None or not getattr(request, "session", None) or not request.session.session_key:
        return
    reason = getattr(request, "_roi_session_end", StaffSession.Ended.SIGNED_OUT)
    StaffSession.objects.filter(session_key=request.session.session_key, ended_at__isnull=True).update(
        ended_at=timezone.now(), ended_reason=reason
    )


def staff_session_rekey(*, old_key: str | None, new_key: str | None) -> None:
    """The session got a new id (roi/two_factor.py after the second factor): its record follows."""
    if old_key and new_key and old_key != new_key:
        StaffSession.objects.filter(session_key=old_key).update(session_key=new_key)


def staff_sessions_open(*, user_ids: list[int]) -> list[StaffSession]:
    """The users' sessions that are still signed in (the session store still holds them and they have not
    expired)."""
    candidates = list(StaffSession.objects.filter(user_id__in=user_ids, ended_at__isnull=True).select_related("user"))
    alive = set(
        Session.objects.filter(
            session_key__in=[s.session_key for s in candidates], expire_date__gt=timezone.now()
        ).values_list("session_key", flat=True)
    )
    return [s for s in candidates if s.session_key in alive]


def staff_sessions_end(*, user: Any, actor: Any) -> int:
    """Sign the user out everywhere: every session of theirs leaves the session store. Returns how many."""
    with transaction.atomic():
        keys = list(
            StaffSession.objects.select_for_update()
            .filter(user=user, ended_at__isnull=True)
            .values_list("session_key", flat=True)
        )
        Session.objects.filter(session_key__in=keys).delete()
        StaffSession.objects.filter(session_key__in=keys).update(
            ended_at=timezone.now(), ended_reason=StaffSession.Ended.ENDED_BY_ADMIN, ended_by=actor
        )
    return len(keys)


class StaffSessionMiddleware:
    """Signs a staff member out after their organisation's idle limit or the maximum session length. After
    TenantMiddleware (the idle limit is the current organisation's). The portal's requestors are never signed in
    through django.contrib.auth, so they pass untouched."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        now = time.time()
        session = request.session
        login_at = session.get(LOGIN_AT)
        seen_at = session.get(SEEN_AT)
        if login_at is None or seen_at is None:  # a session from before these limits: start counting now
            session[LOGIN_AT] = login_at = now if login_at is None else login_at
            session[SEEN_AT] = seen_at = now
        tenant = getattr(request, "tenant", None)
        idle_minutes = tenant.session_idle_minutes if tenant else settings.STAFF_SESSION_IDLE_MINUTES_DEFAULT
        if now - seen_at > idle_minutes * 60:
            return self._sign_out(
                request,
                StaffSession.Ended.IDLE,
                f"You were signed out after {idle_minutes} minutes without activity. Sign in again to continue.",
            )
        if now - login_at > settings.STAFF_SESSION_MAX_HOURS * 3600:
            return self._sign_out(
                request,
                StaffSession.Ended.MAX_AGE,
                f"Sessions last at most {settings.STAFF_SESSION_MAX_HOURS} hours. Sign in again to continue.",
            )
        if now - seen_at >= SEEN_RESOLUTION:
            session[SEEN_AT] = now
        return self.get_response(request)

    def _sign_out(self, request: HttpRequest, reason: str, message: str) -> HttpResponse:
        request._roi_session_end = reason  # type: ignore[attr-defined]  # a mark for later in the same request
        logout(request)
        messages.info(request, message)
        # Back to the page after signing in again, for a page visit; a form posted to a dead session is not
        # replayed (the user sees the page again first).
        return away_to(request, resolve_url(settings.LOGIN_URL), come_back=True)


def away_to(request: HttpRequest, target: str, *, come_back: bool) -> HttpResponse:
    """Send the browser to `target` (sign-in, the two-factor pages): with ?next= back to this page for a page visit
    when `come_back`, and as HX-Redirect for an htmx request, which would otherwise swap the target page into a
    fragment of this one."""
    if come_back and request.method == "GET":
        response = redirect_to_login(request.get_full_path(), target)
    else:
        response = redirect(target)
    if getattr(request, "htmx", False):
        htmx = HttpResponse(status=204)
        htmx["HX-Redirect"] = response["Location"]
        return htmx
    return response
