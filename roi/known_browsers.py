"""Remembered browsers (OWASP's device cookies): a browser that completed a sign-in as someone keeps a signed,
HttpOnly cookie naming them (by a keyed digest, not the name: a shared computer's cookie does not list who signed in
on it) with a random number. The sign-in throttles count that browser's attempts for that person against the
browser alone (roi/throttle.py subjects): a stranger guessing the password, or spraying from the same network, does
not slow the person on their usual computer.

Used by staff sign-in and two-factor codes (roi/sign_in.py) and by requestor account sign-in (portal/accounts.py),
each with a cookie of its own.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import salted_hmac


@dataclass(frozen=True)
class KnownBrowsers:
    """One kind of sign-in's remembered browsers: its cookie, the salt of its signature and digests, how long a
    browser stays remembered, and how many people one browser remembers (a shared workstation; a new one pushes out
    the longest unused)."""

    cookie: str
    salt: str
    days: int = 90
    people: int = 10

    def _mark(self, identity: str) -> str:
        return salted_hmac(self.salt, identity.casefold()).hexdigest()[:20]

    def _all(self, request: HttpRequest) -> dict[str, str]:
        """{person mark: browser nonce} from a valid cookie; {} for none, an old or a tampered one."""
        try:
            value = request.get_signed_cookie(self.cookie, salt=self.salt, max_age=self.days * 86400)
        except (KeyError, signing.BadSignature):  # none, or tampered with, or older than `days`
            return {}
        pairs = (item.partition(":") for item in (value or "").split(",") if item)
        return {mark: nonce for mark, _sep, nonce in pairs if mark and nonce}

    def nonce(self, request: HttpRequest | None, identity: str) -> str | None:
        """This browser's nonce for `identity`, when it completed a sign-in as them before."""
        if request is None or not identity:
            return None
        return self._all(request).get(self._mark(identity))

    def remember(self, request: HttpRequest, response: HttpResponse, identity: str, *, path: str = "/") -> HttpResponse:
        """Remember this browser for `identity`, who just completed signing in: a new nonce, so whatever was counted
        against the old one is gone."""
        known = self._all(request)
        mark = self._mark(identity)
        known.pop(mark, None)
        known[mark] = secrets.token_hex(12)
        kept = list(known.items())[-self.people :]
        response.set_signed_cookie(
            self.cookie,
            ",".join(f"{m}:{n}" for m, n in kept),
            salt=self.salt,
            max_age=self.days * 86400,
            path=path,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
        return response
