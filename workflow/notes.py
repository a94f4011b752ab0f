"""Internal notes on a request: what staff tell each other about a case ("called the clinic, films come Tuesday").

Staff only: nothing here reaches the portal, the requestor's emails or the API. A note is a record of fact
(roi/records.py): the database refuses to change or remove one, for the app role as for everyone. An edit writes a
new version that points to the one it replaces; the timeline (workflow/timeline.py) shows the latest version, marked
edited, with the earlier ones on demand. Only a note's author edits it: a colleague who disagrees adds a note of
their own.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from roi import clock
from roi.audit import access_record
from roi.choices import AccessAction
from roi.errors import Conflict, NotPermitted, ServiceError
from roi.models import Tenant
from roi.tenancy import require_staff
from workflow.models import NOTE_MAX_LENGTH, RecordRequest, RequestNote


class NoteNotFound(ServiceError):
    """No such note on this request (another tenant's or another request's answer the same)."""

    status_code = 404


def note_text_problem(text: str) -> str:
    """What to fix in a note's text, or "" when it may be saved. The form shows the same message on its field."""
    if not text.strip():
        return "Write the note before saving it: it is empty."
    if len(text) > NOTE_MAX_LENGTH:
        return (
            f"Shorten the note to {NOTE_MAX_LENGTH:,} characters or fewer: it has {len(text):,}. "
            "Attach a longer text to the request as a document."
        )
    return ""


def _checked_text(text: str) -> str:
    text = text.replace("\r\n", "\n").strip()
    problem = note_text_problem(text)
    if problem:
        raise ServiceError(problem, field="note")
    return text


def _audit(*, tenant: Tenant, actor: Any, record_request: RecordRequest, note: RequestNote, detail: str) -> None:
    access_record(
        tenant=tenant,
        actor=actor,
        action=AccessAction.REQUEST_NOTE,
        obj=note,
        request_id=record_request.pk,
        patient_id=record_request.patient_id,
        detail=detail,
    )


def request_note_add(*, tenant: Tenant, actor: Any, record_request: RecordRequest, text: str) -> RequestNote:
    """A new internal note on the request, with its access event, in one transaction."""
    require_staff(actor, tenant)
    if record_request.tenant_id != tenant.pk:
        raise NoteNotFound("No such request.")
    text = _checked_text(text)
    with transaction.atomic():
        note = RequestNote.objects.create(
            tenant=tenant, request=record_request, author=actor, text=text, created_at=clock.now()
        )
        _audit(tenant=tenant, actor=actor, record_request=record_request, note=note, detail=f"Added note {note.pk}")
    return note


def request_note_edit(
    *, tenant: Tenant, actor: Any, record_request: RecordRequest, note_id: int, text: str
) -> RequestNote:
    """A new version of the note `note_id` (the latest version of it: an older one was edited already), written by
    its author. The version it replaces stays as it was."""
    require_staff(actor, tenant)
    previous = (
        RequestNote.objects.for_tenant(tenant)
        .filter(pk=note_id, request_id=record_request.pk)
        .select_related("replaced_by")
        .first()
    )
    if previous is None or record_request.tenant_id != tenant.pk:
        raise NoteNotFound("No such note on this request.")
    if previous.author_id != actor.pk:
        raise NotPermitted("Only the note's author can edit it. Add a note of your own instead.")
    if hasattr(previous, "replaced_by"):
        raise Conflict("This note was edited since you opened the page: edit its latest version.")
    text = _checked_text(text)
    if text == previous.text:
        raise ServiceError("The note is unchanged: change its text, or close the editor.", field="note")
    try:
        with transaction.atomic():
            note = RequestNote.objects.create(
                tenant=tenant,
                request=record_request,
                author=actor,
                text=text,
                created_at=clock.now(),
                replaces=previous,
            )
            _audit(
                tenant=tenant,
                actor=actor,
                record_request=record_request,
                note=note,
                detail=f"Edited note {previous.pk}: new version {note.pk}",
            )
    except IntegrityError as error:  # the one-to-one `replaces`: another edit of the same version won the race
        raise Conflict("This note was edited since you opened the page: edit its latest version.") from error
    return note
