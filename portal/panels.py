"""The portal panel on the staff request page (registered in PortalConfig.ready): for a request sent with the online
form, the patient as the requestor typed them, which the specialist uses to identify the patient (the request itself
points at a placeholder patient until then: portal/submission.py)."""

from __future__ import annotations

from typing import Any

from portal.models import PortalSubmission
from workflow.choices import Channel
from workflow.extensions import RequestPanel


def portal_panel_context(http_request: Any, record_request: Any, tenant: Any, **forms: Any) -> dict[str, Any]:
    if record_request.channel != Channel.PORTAL:
        return {}  # no query for the requests of every other channel
    submission = (
        PortalSubmission.objects.for_tenant(tenant)
        .select_related("account")
        .filter(request_id=record_request.pk)
        .first()
    )
    return {"submission": submission, "rr": record_request}


def _sent_online(record_request: Any) -> bool:
    return bool(record_request.channel == Channel.PORTAL)


def _identifying(record_request: Any) -> bool:
    return bool(record_request.channel == Channel.PORTAL and record_request.needs_intake_completion)


PANEL = RequestPanel(
    name="portal",
    template_name="portal/_staff_panel.html",
    order=5,
    get_context=portal_panel_context,
    title="Sent with the online form",
    shows=_sent_online,
    starts_open=_identifying,
)
