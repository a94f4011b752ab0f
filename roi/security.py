"""Request, response and log hygiene for pages with PHI: input with control characters is refused before any view
reads it, every page carries one Permissions-Policy, nothing a signed-in staff member sees is kept in a cache, and no
query string (a patient search, the audit filter's MRN) reaches the request logs.

The settings that go with these (HSTS, secure cookies, the content security policy, password hashers) are in
roi/settings.py; docs/running.md lists the ones an operator can change.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.template import loader
from django.utils.cache import add_never_cache_headers

logger = logging.getLogger(__name__)

# --- Permissions-Policy ------------------------------------------------------------------------------------------

# Browser features no page of OpenROI uses, staff or portal, denied to the page and to anything it might frame: a
# page about a patient has no business turning on a camera, a microphone, the location, a payment sheet or a USB
# device, and a script injected despite the content security policy cannot either. Only features Chromium knows are
# listed (an unknown one is a console error on every page; tests/e2e/test_content_security_policy.py checks).
# Left at the browser's default (this origin only): fullscreen, for a PDF opened in the browser's own viewer.
# Staff sign in with TOTP, not WebAuthn, so publickey-credentials-get is denied as well; two-factor by security key
# would have to allow it for `self`.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-create",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
)


class PermissionsPolicyMiddleware:
    """The one Permissions-Policy of the site, on every response that has none yet: staff pages, the portal (whose
    other headers are its own, portal/http.py), the API and the error pages. Listed right after SecurityMiddleware,
    so the refusals of `InputHygieneMiddleware` carry it too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


# --- Input hygiene -------------------------------------------------------------------------------------------------

# C0 controls (U+0000 to U+001F) and DEL. None belongs in a path or a query string. Text typed into a form or sent
# in a JSON string may hold tabs and line breaks (a textarea's lines, a pasted table), nothing else: NUL cannot even
# be stored by PostgreSQL (it answered 500), and the others are invisible noise that breaks letters and CSV exports.
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# In a JSON body's bytes: a raw control byte (outside strings only tab, CR and LF are whitespace; inside strings
# JSON allows none of them raw except DEL), or an escape that decodes to one: \b, \f, or \u0000-\u001f and \u007f.
# An escape counts only after an even run of backslashes ("\\u0000" is the text \u0000, not NUL).
_JSON_RAW_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_JSON_ESCAPED_CONTROL = re.compile(rb"(?<!\\)(?:\\\\)*\\(?:u00(?:[01][0-9a-fA-F]|7[fF])|[bf])")
_JSON_ESCAPES_ALLOWED = frozenset({0x09, 0x0A, 0x0D})
_JSON_SHORT_ESCAPES = {ord("b"): 0x08, ord("f"): 0x0C}
JSON_CONTENT_TYPES = frozenset({"application/json"})
FORM_CONTENT_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
# The 400 page has no script and only our stylesheet; the staff site's policy (django-csp) is applied further down
# the middleware list, which a refusal never reaches.
REFUSAL_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'"
)


@dataclass(frozen=True)
class RefusedInput:
    """What was refused: `message` for the caller (says what to fix), `location` and `code` for the log (never the
    input itself, which may be a patient's name)."""

    message: str
    location: str
    code: int


def _code_name(code: int) -> str:
    return f"U+{code:04X}"


def _subject(kind: str, name: str) -> str:
    """The start of a message about one parameter or field: its name is the form's own, but whoever sent the input
    chose it, so a name with a control character of its own is not repeated."""
    if not name:
        return f"A {kind} without a name"
    if _ANY_CONTROL.search(name):
        return f"The name of a {kind}"
    return f'The {kind} "{name[:60]}"'


def _path_refusal(path: str) -> RefusedInput | None:
    found = _ANY_CONTROL.search(path)
    if found is None:
        return None
    code = ord(found.group())
    return RefusedInput(
        f"The address contains a control character ({_code_name(code)}), which no address of OpenROI has. Check "
        "the link or retype the address.",
        "path",
        code,
    )


def _query_refusal(request: HttpRequest) -> RefusedInput | None:
    for name, values in request.GET.lists():
        for text in (name, *values):
            found = _ANY_CONTROL.search(text)
            if found is not None:
                code = ord(found.group())
                return RefusedInput(
                    f"{_subject('query parameter', name)} contains a control character ({_code_name(code)}). "
                    "Remove it from the search or the link and try again.",
                    "query string",
                    code,
                )
    return None


def _form_refusal(request: HttpRequest) -> RefusedInput | None:
    """Form fields, urlencoded or multipart. Not uploaded files: their contents are checked as documents
    (roi/pages.py), and Django's multipart parser already drops unprintable characters from their names."""
    for name, values in request.POST.lists():
        found = _ANY_CONTROL.search(name)
        if found is None:
            found = next((hit for value in values if (hit := _CONTROL_IN_TEXT.search(value))), None)
        if found is not None:
            code = ord(found.group())
            return RefusedInput(
                f"{_subject('form field', name)} contains a control character ({_code_name(code)}). Text may "
                "hold tabs and line breaks, nothing else of the kind: remove it (retyping the text is the surest "
                "way) and send the form again.",
                "form field",
                code,
            )
    return None


def _json_strings(data: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(where, text) for every key and string of parsed JSON, where being "patient.last_name", "documents[0].kind"."""
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            yield where, str(key)
            yield from _json_strings(value, where)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _json_strings(value, f"{path}[{index}]")
    elif isinstance(data, str):
        yield path, data


def _json_control(body: bytes) -> int | None:
    raw = _JSON_RAW_CONTROL.search(body)
    if raw is not None:
        return raw.group()[0]
    for escape in _JSON_ESCAPED_CONTROL.finditer(body):
        tail = escape.group().rsplit(b"\\", 1)[1]  # "u0000" or "b"
        code = _JSON_SHORT_ESCAPES[tail[0]] if len(tail) == 1 else int(tail[1:], 16)
        if code not in _JSON_ESCAPES_ALLOWED:
            return code
    return None


def _json_refusal(body: bytes) -> RefusedInput | None:
    """Scans the bytes, not the parsed body: a document in base64 makes a body of tens of megabytes, which the API
    parses once afterwards. Only a body found to hold a control character is parsed here, to name the field."""
    code = _json_control(body)
    if code is None:
        return None
    where = "the body"
    try:
        data = json.loads(body)
    except ValueError:
        data = None  # not JSON at all (a raw NUL byte between the values, say): the body as a whole is named
    for path, text in _json_strings(data):
        if _CONTROL_IN_TEXT.search(text):
            where = "a field's name" if _ANY_CONTROL.search(path) else f'the field "{path[:60]}"'
            break
    return RefusedInput(
        f"The JSON body has a control character ({_code_name(code)}) in {where}. Strings may hold tabs and line "
        "breaks (\\t, \\n, \\r), nothing else below U+0020 and no U+007F: remove it and send the request again.",
        "JSON body",
        code,
    )


def _escaped(text: str) -> str:
    """The path for the log, its control characters written as \\xNN rather than sent raw to the log."""
    return _ANY_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class InputHygieneMiddleware:
    """Refuses, with 400 and a message that says what to fix, a request whose path, query string, form fields
    (urlencoded or multipart, names and values; not uploaded files) or JSON body holds a control
    character (see `_ANY_CONTROL`). One check in front of every view, staff, portal and API alike, where each view
    used to meet a NUL byte on its own (PostgreSQL refuses NUL in text: the queue, the patient lookup, the API's
    detail and the portal's lookup all answered 500).

    The API (/api/...) gets {"detail": ...} as its other errors (documented for every operation, roi/api_schema.py);
    every other path the 400 page. The log says where and which character, never the input. Listed right after
    SecurityMiddleware: before the session, the tenant and the views read anything."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        try:
            refused = self.refusal(request)
        except RequestDataTooBig:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)
            message = (
                f"The request is over the {limit} MB this site reads in one go. Send fewer or smaller documents in "
                "one request."
            )
            return self.refuse(request, message, status=413)
        if refused is not None:
            logger.warning(
                "Refused a request with a control character (%s) in its %s: %s %s",
                _code_name(refused.code),
                refused.location,
                request.method,
                _escaped(request.path),
            )
            return self.refuse(request, refused.message)
        return self.get_response(request)

    def refusal(self, request: HttpRequest) -> RefusedInput | None:
        found = _path_refusal(request.path) or _query_refusal(request)
        if found is not None:
            return found
        content_type = request.content_type or ""
        # Django reads form bodies for POST only; no view takes a form by another method (they answer 405).
        if request.method == "POST" and content_type in FORM_CONTENT_TYPES:
            return _form_refusal(request)
        if content_type in JSON_CONTENT_TYPES and request.method not in ("GET", "HEAD", "OPTIONS"):
            # request.body keeps the bytes for the view (DRF parses them from there). It is read before anyone is
            # authenticated, so it is capped: DATA_UPLOAD_MAX_MEMORY_SIZE (roi/settings.py), over which 413.
            return _json_refusal(request.body)
        return None

    def refuse(self, request: HttpRequest, message: str, *, status: int = 400) -> HttpResponse:
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse({"detail": message}, status=status)
        else:
            page = loader.get_template("400.html").render({"detail": message})
            response = HttpResponse(page, status=status)
            response.headers["Content-Security-Policy"] = REFUSAL_CONTENT_SECURITY_POLICY
        add_never_cache_headers(response)
        return response


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
