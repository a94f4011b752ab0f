"""Two-factor sign-in for staff (TOTP authenticator apps through django-otp, with one-time recovery codes).

After the password, a staff member proves the second factor once per session: the first time by enrolling an
authenticator app (a QR code and its key, then a code from the app), later by a code from the app or a recovery
code. Until then the session reaches only these pages and sign-out. Required for every tenant admin and platform
operator; for specialists and supervisors unless their organisation turns it off (Tenant.two_factor_for_staff).

The session remembers the verification (VERIFIED_KEY) instead of loading the device on every request (no query per
page); ending a user's sessions or resetting their two-factor removes that.

Wrong codes are slowed like passwords (roi/sign_in.py): past TWO_FACTOR_FREE_FAILURES for the account (or for a
browser that signed in as the user before), each try waits a growing interval, at most TWO_FACTOR_MAX_WAIT_SECONDS.
django-otp's own backoff per device is off (OTP_*_THROTTLE_FACTOR = 0): it doubles without a ceiling, so someone
holding the password could keep the user out for days.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from typing import Any

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django_otp import match_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from roi.choices import Role
from roi.sessions import away_to, staff_session_rekey
from roi.sign_in import device_remember, failure_record, two_factor_subjects
from roi.throttle import attempt_admit, attempt_succeed

VERIFIED_KEY = "roi_two_factor_device"
RECOVERY_CODES = 10
APP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
# Paths an unverified session may reach: the two-factor pages themselves, signing out, and what needs no staff
# sign-in at all (static files, health, the requestor portal, the API's token clients).
OPEN_PREFIXES = ("/2fa/", "/logout/", "/login/", "/static/", "/healthz/", "/status/", "/submit/", "/download/")


def two_factor_required(user: Any, membership: Any) -> bool:
    if user.is_superuser or membership is None or membership.role == Role.ADMIN:
        return True
    return bool(membership.tenant.two_factor_for_staff)


def is_verified(request: HttpRequest) -> bool:
    return bool(request.session.get(VERIFIED_KEY))


def mark_verified(request: HttpRequest, device: Any) -> None:
    """A new session id once the second factor is proven, as at sign-in; the staff session record follows it."""
    old_key = request.session.session_key
    request.session.cycle_key()
    request.session[VERIFIED_KEY] = device.persistent_id
    staff_session_rekey(old_key=old_key, new_key=request.session.session_key)


def app_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def enrolment_device(user: Any) -> TOTPDevice:
    """The unconfirmed authenticator the enrolment page shows (the same key until it is confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)
    return device


def enrolment_qr(device: TOTPDevice) -> SafeString:
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    svg = image.to_string(encoding="unicode")
    labelled = svg.replace("<svg ", '<svg class="qr" role="img" aria-label="QR code for your authenticator app" ', 1)
    return mark_safe(labelled)  # noqa: S308 - drawn by qrcode from our own otpauth URL


def base32_key(device: TOTPDevice) -> str:
    key = base64.b32encode(device.bin_key).decode()
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))


def two_factor_enrol(*, user: Any, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm the authenticator with a code from it; returns the new recovery codes (shown once), or None when the
    code does not match."""
    token = "".join(ch for ch in token if ch.isdigit())
    if not token or not device.verify_token(token):
        return None
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        StaticDevice.objects.filter(user=user).delete()
        recovery = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
        StaticToken.objects.bulk_create([StaticToken(device=recovery, token=code) for code in codes])
    return codes


def recovery_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user=user, device__name=RECOVERY_DEVICE_NAME).count()


def two_factor_recovery_renew(*, user: Any, token: str, http_request: HttpRequest) -> list[str] | None:
    """New recovery codes in place of the old ones (used up, or written down somewhere unsafe), shown once. Needs a
    code from the authenticator app itself, not a recovery code: whoever holds only the old codes cannot renew
    them. None when there is no app or the code does not match; roi.throttle.Throttled (nothing checked) while
    codes for the account must wait."""
    device = app_device(user)
    token = "".join(ch for ch in token if ch.isdigit())
    if device is None or not token:
        return None
    if _code_checked(user=user, http_request=http_request, matches=lambda: device.verify_token(token)) is None:
        return None
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODES)]
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        recovery = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
        StaticToken.objects.bulk_create([StaticToken(device=recovery, token=code) for code in codes])
    return codes


def two_factor_check(*, user: Any, token: str, http_request: HttpRequest) -> Any:
    """The device that accepts `token` (a code from the app, or a recovery code, which is then used up), or None;
    roi.throttle.Throttled (nothing checked) while codes for the account must wait."""
    token = token.strip().replace(" ", "")
    if not token:
        return None
    return _code_checked(user=user, http_request=http_request, matches=lambda: match_token(user, token))


def _code_checked(*, user: Any, http_request: HttpRequest, matches: Callable[[], Any]) -> Any:
    """Ask `matches` (the device, or something true, when the code is right) within the account's throttle."""
    attempt = attempt_admit(two_factor_subjects(http_request, user))
    matched = matches()
    if matched:
        attempt_succeed(attempt, forget=attempt.subjects)
        return matched
    failure_record(request=http_request, username=user.get_username(), attempt=attempt, what="two-factor codes")
    return None


def two_factor_reset(*, user: Any) -> None:
    """Forget the user's authenticator and recovery codes (a lost phone): they enrol again at their next sign-in.
    Callers end the user's sessions too (roi.sessions.staff_sessions_end)."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()


class TwoFactorMiddleware:
    """Keeps a signed-in staff session that has not proven its second factor to the two-factor pages. After
    TenantMiddleware (the requirement depends on the organisation and role)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        if is_verified(request) or not two_factor_required(user, getattr(request, "membership", None)):
            # Signed in completely: the browser is remembered for this user on the first page after it.
            return device_remember(request, self.get_response(request))
        if request.path.startswith(OPEN_PREFIXES):
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": "Finish two-factor sign-in first."}, status=403)
        target = reverse("two-factor-verify") if app_device(user) else reverse("two-factor-setup")
        return away_to(request, target, come_back=True)


def safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse(settings.LOGIN_REDIRECT_URL)
