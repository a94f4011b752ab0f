"""The one base of every staff page and action about one request, in every app (/requests/<tracking>/...).

`RequestView` finds the request the URL names inside the tenant (another tenant's or a missing one answers 404), stops
a user who may not open a restricted request before anything is loaded (`RestrictedRequestMixin`), and renders the
request page (`render_detail`), which actions show again with their form's errors. Pages add `get`; actions build on
`RequestActionView` (POST only). tests/workflow/test_break_glass.py checks that every route with a tracking number
resolves to a subclass.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from roi.audit import access_record
from roi.choices import SUPERVISING_ROLES, AccessAction
from roi.tenancy import TenantViewMixin, role_in
from workflow import selectors
from workflow.extensions import (
    NextStep,
    RequestPanel,
    next_step,
    panel_context,
    request_panels,
    transitions_owned_elsewhere,
)
from workflow.forms.requests import AssignForm, transition_form
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


# A value an action shows once on the page it redirects to (a download link that exists only in memory): a signed
# cookie for that request's page alone, read and dropped by its next view, so the action can still redirect
# (POST-redirect-GET: a refresh never posts it again) and nothing is stored on the server.
ONCE_COOKIE = "roi_once"
ONCE_SALT = "workflow.request-page.once"
ONCE_SECONDS = 120


def redirect_with_once(tracking_number: str, values: dict[str, str]) -> HttpResponse:
    """Redirect to the request page, which shows `values` (panel context keys) once."""
    url = reverse("workflow:detail", args=[tracking_number])
    response = HttpResponseRedirect(url)
    response.set_signed_cookie(
        ONCE_COOKIE,
        json.dumps({"tracking_number": tracking_number, "values": values}),
        salt=ONCE_SALT,
        max_age=ONCE_SECONDS,
        path=url,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )
    return response


def read_once(request: HttpRequest, tracking_number: str) -> dict[str, str] | None:
    raw = request.get_signed_cookie(ONCE_COOKIE, default=None, salt=ONCE_SALT, max_age=ONCE_SECONDS)
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("tracking_number") != tracking_number:
        return None
    values = data.get("values")
    return {str(k): str(v) for k, v in values.items()} if isinstance(values, dict) else None


def forget_once(response: HttpResponse, tracking_number: str) -> None:
    response.delete_cookie(ONCE_COOKIE, path=reverse("workflow:detail", args=[tracking_number]), samesite="Strict")


def safe_query(query: str) -> str:
    """The filters the user was looking at, back as a query string (never a URL of another site)."""
    return "?" + QueryDict(query).urlencode() if query else ""


# Generic transitions that end the request or rarely happen: behind the page's "More actions" disclosure, each with a
# confirmation, never beside the next step.
RARE_TRANSITIONS = frozenset({"cancel", "deny"})


@dataclass
class PanelSlot:
    """A panel as the request page shows it: closed (its content loads when opened), open (loads at once after the
    first paint), or rendered in place (`context` set: a form that failed comes back with its errors)."""

    panel: RequestPanel
    url: str
    open: bool
    context: dict[str, Any] | None = None


def _primary_step(options: list[Any], panels_step: NextStep | None, tracking_number: str) -> NextStep | None:
    """The one primary button: the step a panel names, else the first generic transition that would succeed now
    (start fulfillment, close)."""
    if panels_step is not None:
        return panels_step
    for option, _form in options:
        if not option.blocked and option.spec.name not in RARE_TRANSITIONS and option.spec.style == "primary":
            return NextStep(label=option.spec.label, anchor=f"transition-{option.spec.name}")
    return None


class RequestView(TenantViewMixin, RestrictedRequestMixin, View):
    """A page or an action about the request the URL's `tracking_number` names."""

    def record_view(self, request: HttpRequest, record_request: RecordRequest, *, detail: str = "") -> None:
        """One access event for a page or panel that shows the request (its PHI): who, which request, which patient."""
        access_record(
            tenant=self.tenant,
            actor=request.user,
            action=AccessAction.VIEW_REQUEST,
            request=request,
            obj=record_request,
            request_id=record_request.pk,
            patient_id=record_request.patient_id,
            detail=detail,
        )

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
        every_panel: bool = False,
    ) -> HttpResponse:
        """The request page (the workspace): the case summary with its next step and actions first, then the
        panels. A first paint reads the request and nothing else it can avoid; each panel loads when opened. An
        action that failed (`forms`, `panel_forms`, a status other than 200) or a value shown once (`panel_forms`)
        renders every panel in place, so its form comes back with its errors where it was; so does `every_panel` (the
        page's "Show every panel" link: without script, for print, for a screen reader's single read)."""
        annotate_dates([record_request], self.tenant)
        owned_elsewhere = transitions_owned_elsewhere()
        options = [o for o in transition_options(record_request, request.user) if o.spec.name not in owned_elsewhere]
        forms = forms or {}
        for option in options:
            if option.spec.name not in forms:
                forms[option.spec.name] = transition_form(
                    option.spec.name, reason_label=option.spec.reason_label, state=record_request.state
                )
        pairs = [(option, forms[option.spec.name]) for option in options]
        in_place = every_panel or bool(panel_forms) or status != 200
        # The page's own filters (the timeline's ?show=) reach the panels that load after it.
        kept = request.GET.copy()
        kept.pop("panels", None)
        panel_query = f"?{kept.urlencode()}" if kept else ""
        slots = []
        for panel in request_panels():
            if not panel.shows(record_request):
                continue
            context = panel_context(panel, request, record_request, self.tenant, panel_forms) if in_place else None
            slots.append(
                PanelSlot(
                    panel=panel,
                    url=reverse("workflow:panel", args=[record_request.tracking_number, panel.name]) + panel_query,
                    open=in_place or panel.starts_open(record_request),
                    context=context,
                )
            )
        supervisor = role_in(request.user, self.tenant) in SUPERVISING_ROLES
        step = _primary_step(
            pairs, next_step(record_request, request.user, self.tenant), record_request.tracking_number
        )
        context = {
            "rr": record_request,
            "next_step": step,
            "options": [(o, f) for o, f in pairs if o.spec.name not in RARE_TRANSITIONS],
            "rare_options": [(o, f) for o, f in pairs if o.spec.name in RARE_TRANSITIONS],
            "rare_open": any(f.is_bound for o, f in pairs if o.spec.name in RARE_TRANSITIONS),
            "work_panels": [slot for slot in slots if slot.panel.column == "work"],
            "side_panels": [slot for slot in slots if slot.panel.column == "side"],
            # Only a supervisor's assign form lists the staff: a specialist claims, and the query is not made.
            "assign_form": AssignForm(
                initial={"assignee": record_request.assignee_id or ""},
                staff=selectors.tenant_staff_once(request, self.tenant),
            )
            if supervisor and record_request.is_open
            else None,
            "break_glass": self.break_glass_banner(),
            "every_panel": in_place,
        }
        return render(request, "workflow/detail.html", context, status=status)


class RequestActionView(RequestView):
    """A form posted from a request page: it changes something and redirects (POST-redirect-GET), or shows the page
    again with the form's errors."""

    http_method_names = ["post"]
