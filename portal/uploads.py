"""The one change a requestor can make on the portal: while we need something from them, upload it.

The document joins the request (intake's document_attach: checked by content, kept privately, source "portal"), the
open exception's next step goes back to staff ("review what the requestor sent", due today, same owner), the owner
(or, with no owner, the supervisors) gets an in-app notification, and the tenant's audit trail gets an access event.
All in one transaction: a refused file leaves the request exactly as it was.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from exceptions.choices import REQUESTOR_ACTION_REASONS
from exceptions.models import ExceptionEpisode
from exceptions.services import exception_update_next_step
from intake.choices import DocumentKind, DocumentSource
from intake.documents import document_attach
from intake.models import IntakeDocument
from portal.verification import requestor_access_record
from roi import clock
from roi.choices import AccessAction
from roi.errors import ServiceError
from roi.notifications import notify
from roi.selectors import supervisors
from workflow.choices import RequestState
from workflow.deadlines import local_date
from workflow.models import RecordRequest

# What a requestor may say a document is (the rest of DocumentKind is for staff).
PORTAL_KINDS = (
    DocumentKind.AUTHORIZATION,
    DocumentKind.IDENTITY,
    DocumentKind.AUTHORITY,
    DocumentKind.CONSENT,
    DocumentKind.CORRESPONDENCE,
    DocumentKind.OTHER,
)
# A request accepts at most this many portal uploads a day: enough to fix a form twice over, too few to flood staff.
MAX_UPLOADS_PER_DAY = 10


def open_requestor_episode(record_request: RecordRequest) -> ExceptionEpisode | None:
    """The open exception that waits on the requestor, if the request is in one."""
    if record_request.state != RequestState.EXCEPTION:
        return None
    return (
        ExceptionEpisode.objects.for_tenant(record_request.tenant_id)
        .filter(request_id=record_request.pk, resolved_at__isnull=True, reason__in=REQUESTOR_ACTION_REASONS)
        .first()
    )


def _staff_to_tell(record_request: RecordRequest, episode: ExceptionEpisode) -> list[Any]:
    owner = episode.owner or record_request.assignee
    if owner is not None:
        return [owner]
    return supervisors(tenant=record_request.tenant_id)


def portal_upload(
    *, record_request: RecordRequest, uploaded_file: Any, kind: str, note: str, http_request: HttpRequest
) -> IntakeDocument:
    if kind not in PORTAL_KINDS:
        raise ServiceError(_("Choose what the document is."), field="kind")
    tenant = record_request.tenant
    with transaction.atomic():
        current = RecordRequest.objects.for_tenant(tenant).select_for_update().get(pk=record_request.pk)
        episode = open_requestor_episode(current)
        if episode is None:
            raise ServiceError(_("We are not waiting for anything from you on this request, so nothing was uploaded."))
        since = clock.now() - timedelta(days=1)
        recent = IntakeDocument.objects.for_tenant(tenant).filter(
            request_id=current.pk, source=DocumentSource.PORTAL, uploaded_at__gte=since
        )
        if recent.count() >= MAX_UPLOADS_PER_DAY:
            raise ServiceError(
                _("This request has received the most uploads we accept in one day. Please try again tomorrow."),
                field="file",
            )
        document = document_attach(
            tenant=tenant,
            actor=None,
            record_request=current,
            uploaded_file=uploaded_file,
            kind=kind,
            source=DocumentSource.PORTAL,
            note=(note or "").strip()[:300],
        )
        kind_label = DocumentKind(kind).label
        exception_update_next_step(
            tenant=tenant,
            actor=None,
            episode=episode,
            next_step=f"Review what the requestor uploaded on the portal ({kind_label.lower()}) and resolve or ask again",
            next_action_due=local_date(clock.now(), tenant),
            owner=episode.owner,
        )
        link = reverse("workflow:detail", args=[current.tracking_number])
        for person in _staff_to_tell(current, episode):
            notify(
                tenant=tenant,
                recipient=person,
                kind="portal_upload",
                subject=f"{current.tracking_number}: the requestor uploaded a document",
                body=(
                    f"The requestor uploaded a document on the portal ({kind_label.lower()}) for the open exception "
                    f"'{episode.get_reason_display()}'. Review it and resolve the exception, or ask again."
                ),
                link=link,
                dedupe_key=f"portal-upload:{document.pk}:{person.pk}",
            )
        requestor_access_record(
            http_request=http_request,
            record_request=current,
            action=AccessAction.PORTAL_UPLOAD,
            detail=f"Portal upload: {kind_label} ({document.page_count} pages)",
            obj=document,
        )
    return document
