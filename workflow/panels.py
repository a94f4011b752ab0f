"""workflow's own panels of the request page (registered in WorkflowConfig.ready): the timeline, with the status
calls and the portal's status views, and the change history. Both go beside the work, and the timeline opens by
itself after the first paint."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from roi.models import Tenant
from workflow import selectors
from workflow.extensions import RequestPanel
from workflow.forms.requests import NoteForm, StatusCallForm
from workflow.models import NOTE_MAX_LENGTH, RecordRequest
from workflow.timeline import SHOW_ALL, request_timeline_entries


def timeline_context(
    http_request: HttpRequest, tenant: Tenant, record_request: RecordRequest, *, note_form: NoteForm | None = None
) -> dict[str, Any]:
    """What templates/workflow/_timeline.html needs, on the request page and on its own (the timeline route):
    the entries with the filter the query string asks for, the status call form and the note forms (`note_form`
    brings a failed note back with its errors, under the note it was editing)."""
    timeline = request_timeline_entries(
        tenant=tenant, record_request=record_request, show=http_request.GET.get("show", SHOW_ALL)
    )
    return {
        "timeline": timeline,
        "requestor_contact": timeline.contact,
        "status_call_form": StatusCallForm(auto_id="id_call_%s"),
        "note_form": note_form if note_form is not None and not note_form.replaces else NoteForm(),
        "note_edit_form": note_form if note_form is not None and note_form.replaces else None,
        "note_max_length": NOTE_MAX_LENGTH,
    }


def timeline_panel_context(
    http_request: HttpRequest, record_request: RecordRequest, tenant: Tenant, **forms: Any
) -> dict[str, Any]:
    """The timeline panel: `note_form` (a note that failed) comes back with its errors in place."""
    return {
        "rr": record_request,
        **timeline_context(http_request, tenant, record_request, note_form=forms.get("note_form")),
    }


def history_panel_context(
    http_request: HttpRequest, record_request: RecordRequest, tenant: Tenant, **forms: Any
) -> dict[str, Any]:
    return {"rr": record_request, "history": selectors.request_history(record_request=record_request)}


def _always_open(record_request: Any) -> bool:
    return True


TIMELINE = RequestPanel(
    name="timeline",
    template_name="workflow/_timeline_panel.html",
    order=90,
    get_context=timeline_panel_context,
    title="Timeline",
    starts_open=_always_open,
    column="side",
)
HISTORY = RequestPanel(
    name="history",
    template_name="workflow/_history.html",
    order=95,
    get_context=history_panel_context,
    title="Change history",
    column="side",
)
