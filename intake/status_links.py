"""Signed status links: the link in every letter and email to a requestor that opens the portal's status page for
one request without typing the tracking number and verifier.

The token is the tracking number signed with the site's secret (django.core.signing, its own salt), so it cannot be
forged or pointed at another request, and it stops working after STATUS_LINK_DAYS. It carries no PHI: the tracking
number is already in the email. The portal (portal/verification.py) reads it; intake and fulfillment write it.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "openroi.portal.status-link"
# A letter may be read weeks later, and requests (with an extension) can run for months.
STATUS_LINK_DAYS = 365


def status_link_token(tracking_number: str) -> str:
    return signing.dumps(tracking_number, salt=SALT, compress=False)


def status_link_path(tracking_number: str) -> str:
    return reverse(
        "portal:status-link", kwargs={"token": status_link_token(tracking_number)}, urlconf=settings.ROOT_URLCONF
    )


def status_link_url(tracking_number: str) -> str:
    return settings.SITE_URL + status_link_path(tracking_number)


def status_link_read(token: str) -> str | None:
    """The tracking number a token was signed for, or None when it is forged, altered or too old."""
    try:
        value = signing.loads(token, salt=SALT, max_age=timedelta(days=STATUS_LINK_DAYS))
    except signing.BadSignature:
        return None
    return value if isinstance(value, str) else None
