"""Response and log hygiene for pages with PHI: nothing a signed-in staff member sees is kept in a cache, and no
query string (a patient search, the audit filter's MRN) reaches the request logs.

The settings that go with these (HSTS, secure cookies, the content security policy, password hashers) are in
roi/settings.py; docs/running.md lists the ones an operator can change.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase


class StaffNoStoreMiddleware:
    """`Cache-Control: no-store` on every response to a signed-in user (staff pages, the API with a session or a
    token), unless the view chose its own Cache-Control (downloads already say no-store; static files are answered
    by WhiteNoise before this runs).

    HIPAA 164.312(a)(2)(iv) and OWASP ASVS 5.0 V14.3.2: a page with PHI must not be kept by the browser's cache or a
    proxy, where the back button on a shared workstation or the next user of a proxy would see it. Portal pages set
    their own headers (portal/http.py). Listed last in MIDDLEWARE so it sees every view's response, and reads
    `request.user` after the view ran, when DRF has put a token's user there too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response


# A query string inside a logged request line or URL: everything from "?" up to the next space or quote.
# Idempotent: a line already cleaned is left as it is (django.setup() may attach the filter a second time).
_QUERY_STRING = re.compile(r"\?(?!\[query removed\])[^\s\"']*")
# Loggers whose records carry a requested URL: Django's request errors ("Not Found: /path") and runserver's access
# lines ('"GET /reports/audit/?mrn=... HTTP/1.1" 200 512').
REQUEST_LOGGERS = frozenset({"django.request", "django.server"})


def strip_query_string(text: str) -> str:
    return _QUERY_STRING.sub("?[query removed]", text)


class DropQueryStrings(logging.Filter):
    """Removes query strings from the URLs in request log records (settings.LOGGING attaches it to the request
    loggers), so a patient's MRN or name typed into a search never reaches the logs. Paths stay: they carry tracking
    numbers, which identify a request, not a patient, and are what an operator needs to find a failing page."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name not in REQUEST_LOGGERS:
            return True
        if isinstance(record.msg, str):
            record.msg = strip_query_string(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(strip_query_string(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True
