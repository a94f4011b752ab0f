"""Requestor accounts: a frequent requestor (a law firm, an insurer) signs in at one organisation and sees every
request of that organisation sent with its confirmed email address.

- Not staff users: a RequestorAccount row per (tenant, email), its password hashed by Django's hashers and checked
  against AUTH_PASSWORD_VALIDATORS. The staff session and its roles are never involved.
- Nothing is shown before the email address is confirmed with the link we email (the outbox, roi.notifications):
  the list is keyed on that address, so an unconfirmed account could otherwise read someone else's requests.
- Sign-in is a signed cookie scoped to the organisation's /submit/<slug>/ pages, holding the account id and its
  session nonce; signing out changes the nonce, which ends the account's sessions everywhere.
- Failed sign-ins are slowed, never locked, on the progressive delays of staff sign-in (roi/throttle.py, counters
  in Redis): per account (the email as typed at this organisation, whether or not it has an account) and per client
  address (across accounts: spraying), or, for a browser that signed in to the account before, per that browser
  alone (roi/known_browsers.py), so a stranger who knows a requestor's email cannot keep them out. An attempt before
  its turn is refused before the password is checked, the right one included. An unknown email and a wrong
  password give the same answer and do the same hashing work.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from exceptions.choices import REQUESTOR_ACTION_REASONS
from intake.models import Extension, IntakeReview
from portal.lookup import count_in_window
from portal.models import RequestorAccount
from portal.status import PHASE_LABELS, Phase, phase_of
from roi import clock
from roi.audit import client_address
from roi.choices import AccessAction
from roi.errors import ServiceError
from roi.known_browsers import KnownBrowsers
from roi.models import AccessEvent, Tenant
from roi.notifications import notify
from roi.throttle import Policy, Subject, Throttled, attempt_admit, attempt_succeed, subjects_forget
from workflow.deadlines import local_date
from workflow.models import RecordRequest

COOKIE_NAME = "roi_portal_account"
COOKIE_SALT = "openroi.portal.account-session"
CONFIRM_SALT = "openroi.portal.account-confirm"
CONFIRM_DAYS = 3
SESSION_HOURS = getattr(settings, "PORTAL_ACCOUNT_SESSION_HOURS", 8)
# Confirmation emails one address can be sent in an hour: signing up again must not become a way to flood a mailbox.
CONFIRMATIONS_PER_EMAIL = 3
CONFIRMATIONS_WINDOW_SECONDS = 3600

NOTIFICATION_KIND = "portal_account"

logger = logging.getLogger(__name__)


def email_normalise(email: str) -> str:
    return (email or "").strip().lower()


# --- Signing up and confirming ---------------------------------------------------------------------------------


def confirmation_token(account: RequestorAccount) -> str:
    return signing.dumps({"a": account.pk, "e": account.email}, salt=CONFIRM_SALT, compress=False)


def _send_confirmation(*, tenant: Tenant, account: RequestorAccount, sequence: int) -> None:
    """Email the link. Each send is its own outbox row (the key carries the time and the count in the window)."""
    link = settings.SITE_URL + reverse(
        "portal:account-confirm", kwargs={"slug": tenant.slug, "token": confirmation_token(account)}
    )
    notify(
        tenant=tenant,
        email_to=account.email,
        kind=NOTIFICATION_KIND,
        subject=_("Confirm your email address for %(org)s records requests") % {"org": tenant.name},
        body=_(
            "Someone, probably you, created an account for medical records requests at %(org)s with this email "
            "address. To confirm it, open this link within %(days)s days:\n\n%(link)s\n\nIf it was not you, ignore "
            "this email: nothing is shown to the account until the address is confirmed."
        )
        % {"org": tenant.name, "days": CONFIRM_DAYS, "link": link},
        link=link,
        dedupe_key=f"portal-account-confirm:{account.pk}:{int(clock.now().timestamp())}:{sequence}",
    )


def _confirmations_allowed(tenant: Tenant, email: str, purpose: str = "confirm") -> int:
    """The number of this email (a confirmation, a password reset) in the window, or 0 past the limit (then nothing
    is sent)."""
    key = f"portal:account:{purpose}:{tenant.pk}:{email}"
    count = count_in_window(key, CONFIRMATIONS_WINDOW_SECONDS)
    return count if count <= CONFIRMATIONS_PER_EMAIL else 0


def account_signup(
    *, tenant: Tenant, email: str, password: str, name: str, organization: str = "", phone: str = ""
) -> RequestorAccount | None:
    """Create an account and email the confirmation link. For an address that already has an account, nothing
    changes (an unconfirmed one gets the link again): the page answers the same either way, so signing up does not
    tell a stranger which addresses have accounts. Raises ServiceError(field="password") for a weak password."""
    email = email_normalise(email)
    candidate = RequestorAccount(tenant=tenant, email=email, name=name, organization=organization, phone=phone)
    problems = account_password_problem(password, candidate)
    if problems:
        raise ServiceError(" ".join(problems), field="password")
    with transaction.atomic():
        existing = RequestorAccount.objects.for_tenant(tenant).select_for_update().filter(email=email).first()
        if existing is not None and existing.is_confirmed:
            return None
        account = existing or candidate
        if existing is None:
            account.password = make_password(password)
            account.session_nonce = secrets.token_hex(8)
            account.save()
        sequence = _confirmations_allowed(tenant, email)
        if sequence:
            _send_confirmation(tenant=tenant, account=account, sequence=sequence)
    return account


def account_confirm(*, tenant: Tenant, token: str) -> RequestorAccount | None:
    """Confirm the address a link was sent to; None for a forged, old or another organisation's link."""
    try:
        value = signing.loads(token, salt=CONFIRM_SALT, max_age=timedelta(days=CONFIRM_DAYS))
    except signing.BadSignature:
        return None
    if not isinstance(value, dict):
        return None
    with transaction.atomic():
        account = (
            RequestorAccount.objects.for_tenant(tenant)
            .select_for_update()
            .filter(pk=value.get("a"), email=value.get("e"))
            .first()
        )
        if account is None:
            return None
        if account.email_confirmed_at is None:
            account.email_confirmed_at = clock.now()
            account.save(update_fields=["email_confirmed_at"])
    return account


# --- Signing in --------------------------------------------------------------------------------------------------


class SignIn:
    OK = "ok"
    FAILED = "failed"  # unknown email or wrong password: one answer
    UNCONFIRMED = "unconfirmed"  # right password, address not confirmed yet
    WAIT = "wait"  # too soon after failures: refused before the password is checked


@dataclass(frozen=True)
class SignInResult:
    outcome: str
    account: RequestorAccount | None = None
    retry_after: int = 0  # WAIT: seconds from now
    waits_for: str = ""  # WAIT: the counter that makes it wait longest (ACCOUNT, ADDRESS or DEVICE)
    next_wait: int = 0  # FAILED: seconds the next attempt waits (0 while within the free failures)


ACCOUNT, ADDRESS, DEVICE = "account", "address", "device"

# Scoped to the organisation's pages like the session cookie: the account is one email at one organisation.
KNOWN_BROWSERS = KnownBrowsers(cookie="roi_portal_known_browser", salt="openroi.portal.known-browser")


def sign_in_policies() -> dict[str, Policy]:
    """Per account, per address, per remembered browser (read at each attempt: tests and operators change them)."""
    cap = settings.PORTAL_LOGIN_MAX_WAIT_SECONDS
    per_account = settings.PORTAL_LOGIN_FREE_FAILURES_PER_ACCOUNT
    per_address = settings.PORTAL_LOGIN_FREE_FAILURES_PER_ADDRESS
    return {
        ACCOUNT: Policy(f"portal-sign-in:{ACCOUNT}", free=per_account, max_wait=cap),
        ADDRESS: Policy(f"portal-sign-in:{ADDRESS}", free=per_address, max_wait=cap),
        DEVICE: Policy(f"portal-sign-in:{DEVICE}", free=per_account, max_wait=cap),
    }


def _identity(tenant: Tenant, email: str) -> str:
    return f"{tenant.pk}:{email}"


def sign_in_subjects(*, tenant: Tenant, email: str, http_request: HttpRequest) -> list[Subject]:
    """What an attempt counts against: the browser alone when it signed in to this account before, else the client's
    address (every organisation's accounts: spraying) and the account."""
    policies = sign_in_policies()
    identity = _identity(tenant, email)
    nonce = KNOWN_BROWSERS.nonce(http_request, identity)
    if nonce is not None:
        return [Subject(policies[DEVICE], nonce)]
    subjects = [Subject(policies[ACCOUNT], identity)]
    where = client_address(http_request)
    if where:
        subjects.insert(0, Subject(policies[ADDRESS], where))
    return subjects


_DUMMY_HASH: dict[str, str] = {}


def _dummy_hash() -> str:
    """A hash to check an unknown email's password against, so it costs what a real check costs."""
    hasher = settings.PASSWORD_HASHERS[0]
    if hasher not in _DUMMY_HASH:
        _DUMMY_HASH[hasher] = make_password(secrets.token_hex(16))
    return _DUMMY_HASH[hasher]


def account_authenticate(*, tenant: Tenant, email: str, password: str, http_request: HttpRequest) -> SignInResult:
    """Check an email and password within the throttle. Refused unchecked (WAIT) before its turn; a failure is
    counted from the moment the attempt is admitted, and a right password takes it back."""
    email = email_normalise(email)
    try:
        attempt = attempt_admit(sign_in_subjects(tenant=tenant, email=email, http_request=http_request))
    except Throttled as refused:
        return SignInResult(SignIn.WAIT, retry_after=refused.wait_seconds, waits_for=refused.subject.policy.kind)
    account = RequestorAccount.objects.for_tenant(tenant).filter(email=email).first()
    matched = check_password(password, account.password if account else _dummy_hash())
    if account is None or not matched:
        slowed = [s for s in attempt.subjects if s.policy.kind == ADDRESS and attempt.past_free(s)]
        if slowed:  # spraying shows here: the emails tried need not have accounts, and the log has the address
            failures = attempt.failures_of(slowed[0])
            logger.warning(
                "Requestor sign-ins from %s are slowed (%d failures)", client_address(http_request), failures
            )
        return SignInResult(SignIn.FAILED, next_wait=attempt.wait_if_failed)
    # The account (or this browser) forgets its failures; the address only takes this attempt back, so a sprayer
    # signing in to its own account now and then does not clear it.
    attempt_succeed(attempt, forget=[s for s in attempt.subjects if s.policy.kind != ADDRESS])
    if not account.is_confirmed:
        sequence = _confirmations_allowed(tenant, email)
        if sequence:
            _send_confirmation(tenant=tenant, account=account, sequence=sequence)
        return SignInResult(SignIn.UNCONFIRMED)
    account.last_login_at = clock.now()
    account.save(update_fields=["last_login_at"])
    return SignInResult(SignIn.OK, account=account)


# --- The session cookie ------------------------------------------------------------------------------------------


def _cookie_path(tenant: Tenant) -> str:
    return reverse("portal:submit", kwargs={"slug": tenant.slug})


def sign_in(
    response: HttpResponse, tenant: Tenant, account: RequestorAccount, *, http_request: HttpRequest
) -> HttpResponse:
    """Sign the browser in, and remember it for the account: its next attempts count on their own."""
    KNOWN_BROWSERS.remember(http_request, response, _identity(tenant, account.email), path=_cookie_path(tenant))
    response.set_signed_cookie(
        COOKIE_NAME,
        f"{tenant.pk}:{account.pk}:{account.session_nonce}",
        salt=COOKIE_SALT,
        max_age=None,  # a browser-session cookie; the signature's timestamp enforces SESSION_HOURS
        path=_cookie_path(tenant),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def signed_in_account(request: HttpRequest, tenant: Tenant) -> RequestorAccount | None:
    try:
        value = request.get_signed_cookie(COOKIE_NAME, salt=COOKIE_SALT, max_age=SESSION_HOURS * 3600)
        tenant_id, account_id, nonce = value.split(":")
    except (KeyError, signing.BadSignature, ValueError):
        return None
    if tenant_id != str(tenant.pk) or not account_id.isdigit() or not nonce:
        return None
    return (
        RequestorAccount.objects.for_tenant(tenant)
        .filter(pk=int(account_id), session_nonce=nonce, email_confirmed_at__isnull=False)
        .first()
    )


def sign_out(response: HttpResponse, tenant: Tenant, account: RequestorAccount | None) -> HttpResponse:
    """End the account's sessions (a new nonce) and drop this browser's cookie."""
    if account is not None:
        RequestorAccount.objects.for_tenant(tenant).filter(pk=account.pk).update(session_nonce=secrets.token_hex(8))
    response.delete_cookie(COOKIE_NAME, path=_cookie_path(tenant), samesite="Lax")
    return response


# --- Forgotten password -----------------------------------------------------------------------------------------

RESET_SALT = "openroi.portal.account-reset"
RESET_MINUTES = 60


def _reset_fingerprint(account: RequestorAccount) -> str:
    """Changes with the password and with the sessions: a link stops working once it was used (or any other link
    of the account was), or once the requestor signed out, which ends every session."""
    return hashlib.sha256(f"{account.pk}:{account.password}:{account.session_nonce}".encode()).hexdigest()[:20]


def reset_token(account: RequestorAccount) -> str:
    return signing.dumps({"a": account.pk, "f": _reset_fingerprint(account)}, salt=RESET_SALT, compress=False)


def account_reset_request(*, tenant: Tenant, email: str) -> None:
    """Email a link to choose a new password, if a confirmed account has this address. The page answers the same
    whether or not one does, and at most CONFIRMATIONS_PER_EMAIL links go to one address in a window."""
    email = email_normalise(email)
    account = RequestorAccount.objects.for_tenant(tenant).filter(email=email, email_confirmed_at__isnull=False).first()
    if account is None:
        return
    sequence = _confirmations_allowed(tenant, email, purpose="reset")
    if not sequence:
        return
    link = settings.SITE_URL + reverse(
        "portal:account-reset", kwargs={"slug": tenant.slug, "token": reset_token(account)}
    )
    notify(
        tenant=tenant,
        email_to=account.email,
        kind=NOTIFICATION_KIND,
        subject=_("Choose a new password for %(org)s records requests") % {"org": tenant.name},
        body=_(
            "Someone, probably you, asked to choose a new password for your records requests account at %(org)s. "
            "To do it, open this link within %(minutes)s minutes:\n\n%(link)s\n\nIf it was not you, ignore this "
            "email: your password stays as it is."
        )
        % {"org": tenant.name, "minutes": RESET_MINUTES, "link": link},
        link=link,
        dedupe_key=f"portal-account-reset:{account.pk}:{int(clock.now().timestamp())}:{sequence}",
    )


def account_for_reset(*, tenant: Tenant, token: str) -> RequestorAccount | None:
    """The account a reset link is for; None when forged, older than RESET_MINUTES, already used, or for another
    organisation."""
    try:
        value = signing.loads(token, salt=RESET_SALT, max_age=timedelta(minutes=RESET_MINUTES))
    except signing.BadSignature:
        return None
    if not isinstance(value, dict):
        return None
    account = RequestorAccount.objects.for_tenant(tenant).filter(pk=value.get("a")).first()
    if account is None or not secrets.compare_digest(_reset_fingerprint(account), str(value.get("f", ""))):
        return None
    return account


def account_password_reset(*, tenant: Tenant, token: str, password: str) -> RequestorAccount:
    """Set the new password and end every session of the account (the link then stops working)."""
    with transaction.atomic():
        account = account_for_reset(tenant=tenant, token=token)
        if account is None:
            raise ServiceError(_("This link no longer works. Ask for a new one."))
        account = RequestorAccount.objects.for_tenant(tenant).select_for_update().get(pk=account.pk)
        problems = account_password_problem(password, account)
        if problems:
            raise ServiceError(" ".join(problems), field="password")
        account.password = make_password(password)
        account.session_nonce = secrets.token_hex(8)
        account.save(update_fields=["password", "session_nonce"])
    # Whoever chose it holds the mailbox: the guesses at the old password no longer make the account wait.
    subjects_forget([Subject(sign_in_policies()[ACCOUNT], _identity(tenant, account.email))])
    return account


def account_password_problem(password: str, account: RequestorAccount) -> list[str]:
    """Why a password is refused, in the validators' words (for the sign-up form)."""
    try:
        validate_password(password, user=account)
    except ValidationError as error:
        return list(error.messages)
    return []


# --- The account's requests ----------------------------------------------------------------------------------------

# The list shows the most recent requests; older ones are found with the status lookup.
LIST_LIMIT = 200


@dataclass(frozen=True)
class AccountRow:
    tracking_number: str
    received_on: date
    headline: str
    expected_on: date | None


def account_request_rows(*, tenant: Tenant, account: RequestorAccount, http_request: HttpRequest) -> list[AccountRow]:
    """The organisation's requests sent with the account's confirmed email, newest first, each with the phase the
    status page would show (portal.status.phase_of, from the row: no query per request). Listing them shows which
    requests exist for whom, so each listed request gets an access event, all written in one INSERT. Two queries."""
    extended = Extension.objects.filter(tenant_id=tenant.pk, request_id=OuterRef("pk")).values("new_due_date")[:1]
    requests = list(
        RecordRequest.objects.for_tenant(tenant)
        .filter(requestor__email__iexact=account.email)
        .annotate(
            extended_to=Subquery(extended),
            reviewing=Exists(IntakeReview.objects.filter(tenant_id=tenant.pk, request_id=OuterRef("pk"))),
        )
        .only(
            "id", "tenant_id", "patient_id", "tracking_number", "received_at", "state", "state_before_exception",
            "exception_reason", "legal_due_date", "assignee_id",
        )
        .order_by("-received_at", "-id")[:LIST_LIMIT]
    )  # fmt: skip
    rows = []
    for rr in requests:
        phase = phase_of(
            state=rr.state,
            state_before_exception=rr.state_before_exception,
            waits_on_requestor=rr.exception_reason in REQUESTOR_ACTION_REASONS,
            extended=rr.extended_to is not None,
            review_started=rr.reviewing or rr.assignee_id is not None,
        )
        finished = phase in (Phase.SENT, Phase.DENIED, Phase.CANCELLED)
        rows.append(
            AccountRow(
                tracking_number=rr.tracking_number,
                received_on=local_date(rr.received_at, tenant),
                headline=str(PHASE_LABELS[phase]),
                expected_on=None if finished else rr.extended_to or rr.legal_due_date,
            )
        )
    address = client_address(http_request)
    agent = http_request.META.get("HTTP_USER_AGENT", "")[:300]
    AccessEvent.objects.bulk_create(
        AccessEvent(
            tenant=tenant,
            actor=None,
            actor_label=f"portal account {account.email}"[:100],
            action=AccessAction.PORTAL_STATUS_VIEW,
            object_type=RecordRequest._meta.label,
            object_id=str(rr.pk),
            request_id=rr.pk,
            patient_id=rr.patient_id,
            detail="Listed on the requestor account page",
            ip_address=address,
            user_agent=agent,
        )
        for rr in requests
    )
    return rows
