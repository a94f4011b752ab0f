"""The one base of every staff page and action about one request, in every app (/requests/<tracking>/...).

`RequestView` finds the request the URL names inside the tenant (another tenant's or a missing one answers 404), stops
a user who may not open a restricted request before anything is loaded (`RestrictedRequestMixin`), and renders the
request page (`render_detail`), which actions show again with their form's errors. Pages add `get`; actions build on
`RequestActionView` (POST only). tests/workflow/test_break_glass.py checks that every route with a tracking number
resolves to a subclass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone
from django.views import View

from roi.tenancy import TenantViewMixin
from workflow import selectors
from workflow.extensions import panel_contexts, timeline_events, transitions_owned_elsewhere
from workflow.forms.requests import AssignForm, StatusCallForm, transition_form
from workflow.models import RecordRequest
from workflow.transitions import transition_options
from workflow.views.restricted import RestrictedRequestMixin


def annotate_dates(rows: Sequence[Any], tenant: Any) -> None:
    """Age and days to the legal due date in the tenant's calendar, for display."""
    today = timezone.localdate(timezone=tenant.tzinfo)
    for row in rows:
        row.age = row.age_days(today, tenant.tzinfo)
        row.days_left = row.days_to_legal_due(today)
        row.days_overdue = -row.days_left
        row.target_days_left = (row.internal_target_date - today).days


def safe_query(query: str) -> str:
    """The filters the user was looking at, back as a query string (never a URL of another site)."""
    return "?" + QueryDict(query).urlencode() if query else ""


def _timeline(tenant: Any, record_request: RecordRequest) -> tuple[list[Any], selectors.RequestorContact]:
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


class RequestView(TenantViewMixin, RestrictedRequestMixin, View):
    """A page or an action about the request the URL's `tracking_number` names."""

    def get_object(self, tracking_number: str) -> RecordRequest:
        """The request, inside the tenant; Http404 for another tenant's or a missing one."""
        return self.request_in_tenant(tracking_number)

    def render_detail(
        self,
        request: HttpRequest,
        record_request: RecordRequest,
        *,
        forms: dict[str, Any] | None = None,
        panel_forms: dict[str, Any] | None = None,
        status: int = 200,
    ) -> HttpResponse:
        """The request page: fields, timeline, history, panels, and the transitions the user may take now; `forms`
        and `panel_forms` carry a failed action's bound form back to its place."""
        annotate_dates([record_request], self.tenant)
        staff = selectors.tenant_staff_once(request, self.tenant)
        owned_elsewhere = transitions_owned_elsewhere()
        options = [o for o in transition_options(record_request, request.user) if o.spec.name not in owned_elsewhere]
        forms = forms or {}
        for option in options:
            if option.spec.name not in forms:
                forms[option.spec.name] = transition_form(
                    option.spec.name, reason_label=option.spec.reason_label, state=record_request.state
                )
        timeline, contact = _timeline(self.tenant, record_request)
        context = {
            "rr": record_request,
            "options": [(option, forms[option.spec.name]) for option in options],
            "timeline": timeline,
            "requestor_contact": contact,
            "status_call_form": StatusCallForm(auto_id="id_call_%s"),
            "history": selectors.request_history(record_request=record_request),
            "assign_form": AssignForm(initial={"assignee": record_request.assignee_id or ""}, staff=staff),
            "panels": panel_contexts(request, record_request, self.tenant, panel_forms),
            "break_glass": self.break_glass_banner(),
        }
        return render(request, "workflow/detail.html", context, status=status)


class RequestActionView(RequestView):
    """A form posted from a request page: it changes something and redirects (POST-redirect-GET), or shows the page
    again with the form's errors."""

    http_method_names = ["post"]
