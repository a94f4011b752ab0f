"""Building blocks the portal tests share: a request the checklist found deficient, a download link of a delivered
request."""

from __future__ import annotations

import random
from datetime import date, timedelta

from fulfillment import links
from fulfillment.models import DownloadLink
from intake import services as intake_services
from roi import clock
from tests import factories
from tests.fulfillment.factories import DeliveryFactory, ReleasePacketFactory, released
from workflow.choices import DeliveryMethod, RequestorKind, RequestState

EMAIL = "rosa@example.org"


def deficient_request(tenant, actor):
    """A third-party request whose authorization has no expiration date: the checklist opens the exception and the
    deficiency letter lists what to fix."""
    rr = factories.RecordRequestFactory(tenant=tenant, intake_completed_at=None)
    factories.complete_review(rr, auth={"expires_on": None})
    intake_services.intake_complete(tenant=tenant, actor=actor, record_request=rr)
    rr.refresh_from_db()
    assert rr.state == RequestState.EXCEPTION
    return rr


def download_link(tenant, *, uses=0, max_uses=3, expires_in=timedelta(days=5), revoked=False, record_request=None):
    packet_kwargs = (
        {"request": record_request, "tenant": record_request.tenant}
        if record_request is not None
        else {
            "request__tenant": tenant,
            "request__state": RequestState.DELIVERED,
            "request__requestor__email": EMAIL,
            "request__requestor__kind": RequestorKind.PATIENT,
            "request__patient__date_of_birth": date(1968, 4, 12),
        }
    )
    packet = released(ReleasePacketFactory(**packet_kwargs))
    delivery = DeliveryFactory(
        packet=packet, method=DeliveryMethod.PORTAL_DOWNLOAD, destination=EMAIL, mail_tracking_number=""
    )
    token = f"token-{DownloadLink.objects.count()}-{random.randint(0, 10**9)}-abcdefghijklmnopqrstuvwxyz"
    now = clock.now()
    link = DownloadLink.objects.create(
        tenant=tenant,
        delivery=delivery,
        token_digest=links.token_digest(token),
        expires_at=now + expires_in,
        max_uses=max_uses,
        uses=uses,
        sent_to=EMAIL,
        created_at=now,
        revoked_at=now if revoked else None,
    )
    return link, token
