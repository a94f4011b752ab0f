"""workflow's own panels of the request page (registered in WorkflowConfig.ready): the timeline, with the status
calls and the portal's status views, and the change history. Both go beside the work, and the timeline opens by
itself after the first paint."""

from __future__ import annotations

from typing import Any

from roi.models import Tenant
from workflow import selectors
from workflow.extensions import RequestPanel, timeline_events
from workflow.forms.requests import StatusCallForm
from workflow.models import RecordRequest


def _timeline(tenant: Tenant, record_request: RecordRequest) -> tuple[list[Any], selectors.RequestorContact]:
    """Transitions and status calls, newest first, in one list for the detail page's timeline; and the count of
    calls beside the portal's status views (the calls the portal saves)."""
    entries: list[Any] = list(selectors.request_timeline(tenant=tenant, record_request=record_request))
    for entry in entries:
        entry.timeline_kind = "transition"
    calls = list(selectors.request_status_calls(tenant=tenant, record_request=record_request))
    for call in calls:
        call.timeline_kind = "status_call"  # type: ignore[attr-defined]  # an attribute for the template
    entries.extend(calls)
    entries.extend(timeline_events(tenant=tenant, record_request=record_request))
    entries.sort(key=lambda e: e.at, reverse=True)  # stable: each list is already newest first
    return entries, selectors.requestor_contact(tenant=tenant, record_request=record_request, calls=len(calls))


def timeline_panel_context(
    http_request: Any, record_request: RecordRequest, tenant: Tenant, **forms: Any
) -> dict[str, Any]:
    timeline, contact = _timeline(tenant, record_request)
    return {
        "rr": record_request,
        "timeline": timeline,
        "requestor_contact": contact,
        "status_call_form": StatusCallForm(auto_id="id_call_%s"),
    }


def history_panel_context(
    http_request: Any, record_request: RecordRequest, tenant: Tenant, **forms: Any
) -> dict[str, Any]:
    return {"rr": record_request, "history": selectors.request_history(record_request=record_request)}


def _always_open(record_request: Any) -> bool:
    return True


TIMELINE = RequestPanel(
    name="timeline",
    template_name="workflow/_timeline.html",
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
