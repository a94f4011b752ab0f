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
from workflow.extensions import panel_contexts, transitions_owned_elsewhere
from workflow.forms.requests import AssignForm, NoteForm, StatusCallForm, transition_form
from workflow.models import NOTE_MAX_LENGTH, RecordRequest
from workflow.timeline import SHOW_ALL, request_timeline_entries
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


def timeline_context(
    http_request: HttpRequest, tenant: Any, record_request: RecordRequest, *, note_form: NoteForm | None = None
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
        note_form: NoteForm | None = None,
        status: int = 200,
    ) -> HttpResponse:
        """The request page: fields, timeline, history, panels, and the transitions the user may take now; `forms`
        and `panel_forms` (and `note_form`) carry a failed action's bound form back to its place."""
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
        context = {
            "rr": record_request,
            "options": [(option, forms[option.spec.name]) for option in options],
            **timeline_context(request, self.tenant, record_request, note_form=note_form),
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
