"""What every portal page shares: the visitor's language, and the headers of a public page about PHI.

The portal is the only part of OpenROI that strangers reach, so each page sets its own, stricter headers instead of
relying on the staff site's: nothing cached (a shared computer's back button must not show a status page after the
visitor left), no referrer to other sites (signed status links and download tokens sit in URLs; "same-origin", not
"no-referrer": under "no-referrer" browsers send `Origin: null` with a form post, which Django's CSRF check refuses
for every portal form), no framing, and a content security policy that allows only our own stylesheet and images
(portal templates have no scripts at all). Its Permissions-Policy is the whole site's (roi.security).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import add_never_cache_headers, patch_vary_headers

from roi import rls

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
LANGUAGE_CODES = frozenset(code for code, _ in settings.LANGUAGES)


def visitor_language(request: HttpRequest) -> str:
    """The language the visitor chose with the switch (a cookie), else the browser's (Accept-Language), else
    English."""
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    if chosen in LANGUAGE_CODES:
        return chosen
    browser = translation.get_language_from_request(request, check_path=False)
    code = (browser or "en").split("-")[0]
    return code if code in LANGUAGE_CODES else "en"


def portal_headers(response: HttpResponse, language: str) -> HttpResponse:
    add_never_cache_headers(response)  # Cache-Control: max-age=0, no-cache, no-store, must-revalidate, private
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Language"] = language
    patch_vary_headers(response, ("Accept-Language", "Cookie"))
    return response


def url_tenant(kwargs: dict[str, object]) -> int | None:
    """The organisation a portal URL is about, for the row-level security scope (roi/rls.py): the one whose slug
    it names, else the one whose request has the tracking number in it, else none (the page then finds nothing; the
    views that take a token find their organisation from the token themselves)."""
    from roi.models import Tenant
    from workflow.models import RecordRequest

    slug = kwargs.get("slug")
    if isinstance(slug, str):
        return Tenant.objects.filter(slug=slug, is_active=True).values_list("pk", flat=True).first()
    tracking_number = kwargs.get("tracking_number")
    if isinstance(tracking_number, str):
        return rls.resolve_tenant(RecordRequest, tracking_number[:40])
    return None


def portal_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Run a portal view in the visitor's language and give its response the portal's headers.

    The view runs in the row-level security scope of the organisation the URL is about (`url_tenant`).
    The language is active only while the view runs and its response renders (staff pages in the same process stay
    English), so a lazily rendered TemplateResponse is rendered here, inside the override."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        language = visitor_language(request)
        with translation.override(language), rls.tenant_scope(url_tenant(kwargs)):
            request.LANGUAGE_CODE = language
            response = view(request, *args, **kwargs)
            render = getattr(response, "render", None)
            if callable(render) and not getattr(response, "is_rendered", True):
                render()
        return portal_headers(response, language)

    return wrapped
