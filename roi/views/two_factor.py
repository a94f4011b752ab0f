"""The signed-in user's own second factor: enrolment, verification at sign-in, recovery codes."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from roi import two_factor
from roi.sign_in import refusal_message
from roi.throttle import Throttled


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
