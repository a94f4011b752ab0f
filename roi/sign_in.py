"""Staff sign-in against guessing (OWASP ASVS 2.2.1, NIST SP 800-63B 5.2.2): progressive delays (roi/throttle.py)
per account, per client address and per remembered browser, and the audit of the failures past the free ones.

- A password attempt counts against the account (its user name as typed, whether or not it exists) and against the
  client's address (every account tried from it: password spraying). Past either's free failures, the next
  attempt waits a growing interval, at most SIGN_IN_MAX_WAIT_SECONDS; an attempt before its turn is refused without
  checking the password, so during a wait the right password is refused the same way (no oracle).
- A browser that completed a sign-in as the user (two-factor included, where required) is remembered for it (a
  signed cookie, KNOWN_DEVICE_DAYS; roi/known_browsers.py). Its attempts for that user are counted against that
  browser alone, not the account or the address: a stranger guessing a user's password, or spraying from the
  hospital's own network, does not make the user wait on their usual computer. Two-factor codes
  (roi/two_factor.py) follow the same rule.
- The check sits in an authentication backend placed first in AUTHENTICATION_BACKENDS, so every sign-in form (this
  site's and the platform admin's) goes through it. Tests that are not about signing in use `force_login`.
- A failure past the free ones, for an account that exists, is an access event (`staff_lockout`) in each of the
  account's organisations, so their admins see it on the audit pages. At most one per wait, since attempts before
  their turn are refused unchecked and leave none.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied, ValidationError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from roi import rls
from roi.audit import access_record, client_address
from roi.choices import AccessAction
from roi.known_browsers import KnownBrowsers
from roi.models import Membership
from roi.throttle import Attempt, Policy, Subject, Throttled, attempt_admit, attempt_succeed, wait_text

logger = logging.getLogger(__name__)

KNOWN_DEVICE_COOKIE = "roi_known_device"
KNOWN_DEVICE_DAYS = 90
STAFF_BROWSERS = KnownBrowsers(cookie=KNOWN_DEVICE_COOKIE, salt="openroi.sign-in.known-device", days=KNOWN_DEVICE_DAYS)
# The session waits for the sign-in to be complete (second factor included) before its browser is remembered.
DEVICE_DUE_KEY = "roi_known_device_due"

_ATTEMPT = "_roi_sign_in_attempt"
_REFUSED = "_roi_sign_in_refused"

ACCOUNT, ADDRESS, DEVICE = "account", "address", "device"


def password_policies() -> dict[str, Policy]:
    """Per account, per address, per remembered browser (read at each attempt: tests and operators change them)."""
    cap = settings.SIGN_IN_MAX_WAIT_SECONDS
    per_account = settings.SIGN_IN_FREE_FAILURES_PER_ACCOUNT
    return {
        ACCOUNT: Policy(f"sign-in:{ACCOUNT}", free=per_account, max_wait=cap),
        ADDRESS: Policy(f"sign-in:{ADDRESS}", free=settings.SIGN_IN_FREE_FAILURES_PER_ADDRESS, max_wait=cap),
        DEVICE: Policy(f"sign-in:{DEVICE}", free=per_account, max_wait=cap),
    }


def two_factor_policies() -> dict[str, Policy]:
    """Per account, per remembered browser. A longer longest wait than for passwords: only someone who knows the
    password reaches the code, and six digits are fewer to guess."""
    cap = settings.TWO_FACTOR_MAX_WAIT_SECONDS
    free = settings.TWO_FACTOR_FREE_FAILURES
    return {
        ACCOUNT: Policy(f"two-factor:{ACCOUNT}", free=free, max_wait=cap),
        DEVICE: Policy(f"two-factor:{DEVICE}", free=free, max_wait=cap),
    }


def subject_kind(subject: Subject) -> str:
    """account, address or device."""
    return subject.policy.kind


# --- Remembered browsers ---------------------------------------------------------------------------------------


def known_device(request: HttpRequest | None, username: str) -> str | None:
    """This browser's nonce for `username`, when it completed a sign-in as them before."""
    return STAFF_BROWSERS.nonce(request, username)


def device_remember(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Remember this browser for the user who just completed signing in (roi.two_factor.TwoFactorMiddleware calls
    this on the first response after it)."""
    username = request.session.pop(DEVICE_DUE_KEY, None)
    if not username:
        return response
    return STAFF_BROWSERS.remember(request, response, username)


# --- Password attempts -------------------------------------------------------------------------------------------


def password_subjects(request: HttpRequest, username: str) -> list[Subject]:
    """What a password attempt for `username` counts against: the remembered browser alone, or the client's address
    and the account."""
    policies = password_policies()
    nonce = known_device(request, username)
    if nonce is not None:
        return [Subject(policies[DEVICE], nonce)]
    subjects = [Subject(policies[ACCOUNT], username.casefold())]
    where = client_address(request)
    if where:
        subjects.insert(0, Subject(policies[ADDRESS], where))
    return subjects


def refusal_message(refused: Throttled, *, what: str) -> str:
    """What a refused sign-in or code says: why, and when to try again."""
    kind = subject_kind(refused.subject)
    if kind == ADDRESS:
        reason = f"Too many failed {what} attempts from your network."
    elif kind == DEVICE:
        reason = f"Too many failed {what} attempts from this browser."
    else:
        reason = f"Too many failed {what} attempts for this account."
    return f"{reason} Try again in {wait_text(refused.wait_seconds)}."


class ThrottledSignIn:
    """First in AUTHENTICATION_BACKENDS: admits the attempt (or refuses it, which stops authentication before any
    password is checked) and leaves the checking to the backends after it. The outcome settles the attempt:
    `user_logged_in` (a success) or `user_login_failed` (a failure, already counted).

    Only `authenticate`: without `get_user` Django never records it as the backend of a session (`force_login`
    and the session's user come from ModelBackend), and without the permission methods it answers no permission
    question."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None, **kwargs: Any) -> None:
        # Without an HTTP request the caller is our own code (a management command, a test's Client.login), not a
        # visitor: nothing to slow down, and no outcome to settle.
        if request is None or not username:
            return None
        try:
            attempt = attempt_admit(password_subjects(request, username))
        except Throttled as refused:
            setattr(request, _REFUSED, refused)
            raise PermissionDenied(refused.message) from None
        setattr(request, _ATTEMPT, attempt)
        return None


@receiver(user_logged_in, dispatch_uid="roi.sign_in.succeeded")
def _succeeded(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    attempt: Attempt | None = getattr(request, _ATTEMPT, None)
    if request is None or attempt is None:  # force_login: no password was tried
        return
    # The account (or this browser) forgets its failures; the address only takes this attempt back.
    attempt_succeed(attempt, forget=[s for s in attempt.subjects if subject_kind(s) != ADDRESS])
    if hasattr(request, "session"):
        request.session[DEVICE_DUE_KEY] = user.get_username()


@receiver(user_login_failed, dispatch_uid="roi.sign_in.failed")
def _failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any) -> None:
    attempt: Attempt | None = getattr(request, _ATTEMPT, None)
    if attempt is None or getattr(request, _REFUSED, None) is not None:
        return
    failure_record(request=request, username=credentials.get("username") or "", attempt=attempt, what="passwords")


def failure_record(*, request: HttpRequest | None, username: str, attempt: Attempt, what: str) -> None:
    """A failed attempt (already counted) past any of its subjects' free failures: the account's organisations see
    it, and the log says when an address is slowed (spraying leaves no event when the names tried do not exist)."""
    if not any(attempt.past_free(s) for s in attempt.subjects):
        return
    counts = ", ".join(f"{attempt.failures_of(s)} {_per(s)}" for s in attempt.subjects)
    if any(subject_kind(s) == ADDRESS and attempt.past_free(s) for s in attempt.subjects):
        logger.warning("Sign-in attempts from %s are slowed (failed %s: %s)", client_address(request), what, counts)
    detail = f"sign-in slowed: failed {what} {counts}; next try waits {wait_text(attempt.wait_if_failed)}"
    staff_lockout_record(request=request, username=username, detail=detail)


def two_factor_subjects(request: HttpRequest, user: Any) -> list[Subject]:
    """What a two-factor code counts against: the remembered browser alone, or the account."""
    policies = two_factor_policies()
    nonce = known_device(request, user.get_username())
    if nonce is not None:
        return [Subject(policies[DEVICE], nonce)]
    return [Subject(policies[ACCOUNT], str(user.pk))]


def _per(subject: Subject) -> str:
    return {ACCOUNT: "for this account", ADDRESS: "from this address", DEVICE: "from this browser"}[
        subject_kind(subject)
    ]


def staff_lockout_record(*, request: HttpRequest | None, username: str, detail: str) -> None:
    """An access event in every organisation the account belongs to; an unknown user name leaves none (it belongs to
    no organisation; the log has the address)."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        return
    with rls.user_scope(user.pk):  # the account's own memberships, in every tenant
        memberships = list(Membership.objects.filter(user=user, is_active=True).select_related("tenant"))
    for membership in memberships:
        with rls.tenant_scope(membership.tenant_id):
            access_record(
                tenant=membership.tenant,
                actor=None,
                action=AccessAction.STAFF_LOCKOUT,
                request=request,
                detail=detail,
                actor_label=f"sign-in as {username}"[:200],
            )


# --- The forms and the page --------------------------------------------------------------------------------------


class _SaysWhenToRetry:
    """A refused attempt says why and when to try again instead of "wrong password"; a failure that makes the next
    attempt wait says so too."""

    request: HttpRequest | None

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()  # type: ignore[misc]  # a mixin: the form class comes after it
        except ValidationError as error:
            refused: Throttled | None = getattr(self.request, _REFUSED, None)
            if refused is not None:
                raise ValidationError(refusal_message(refused, what="sign-in"), code="throttled") from None
            attempt: Attempt | None = getattr(self.request, _ATTEMPT, None)
            if attempt is not None and attempt.wait_if_failed:
                note = f"After several failed attempts, the next one has to wait {wait_text(attempt.wait_if_failed)}."
                raise ValidationError([*error.error_list, ValidationError(note, code="slowed")]) from None
            raise


class SignInForm(_SaysWhenToRetry, AuthenticationForm):
    pass


class AdminSignInForm(_SaysWhenToRetry, AdminAuthenticationForm):
    """The platform admin's sign-in form (roi/admin.py), with the same messages."""


class SignInView(LoginView):
    """The staff sign-in page: a refused attempt answers 429 with Retry-After."""

    form_class = SignInForm
    redirect_authenticated_user = True

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        refused: Throttled | None = getattr(self.request, _REFUSED, None)
        if refused is not None:
            response.status_code = 429
            response["Retry-After"] = str(refused.wait_seconds)
        return response
