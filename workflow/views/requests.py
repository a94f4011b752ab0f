"""The request page and the actions on it that belong to the workflow: transitions, assignment, status calls,
internal notes, the timeline on its own, and breaking the glass on a restricted request. Other apps' actions (intake, exceptions, fulfillment) build on the same
`RequestActionView` and show their forms as panels of this page (workflow/extensions.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from roi.errors import ServiceError
from workflow import selectors, services
from workflow.break_glass import BREAK_GLASS_MINUTES, break_glass_grant, request_access
from workflow.extensions import panel_context, request_panel, transitions_owned_elsewhere
from workflow.forms.requests import AssignForm, BreakGlassForm, NoteForm, StatusCallForm, transition_form
from workflow.models import RecordRequest
from workflow.notes import NoteNotFound, request_note_add, request_note_edit
from workflow.panels import timeline_context
from workflow.transitions import TRANSITIONS, request_transition
from workflow.views.base import RequestActionView, RequestView, forget_once, read_once, safe_query
from workflow.views.restricted import restricted_page


class RequestDetailView(RequestView):
    """The request's workspace: its facts, its next step and the actions the user may take now, with panels that
    load when opened. Every view is audited."""

    def get(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        self.record_view(request, record_request)
        once = read_once(request, tracking_number)
        response = self.render_detail(
            request, record_request, panel_forms=once or None, every_panel=request.GET.get("panels") == "all"
        )
        if once is not None:
            forget_once(response, tracking_number)
        return response


class RequestPanelView(RequestView):
    """One panel of the request page, loaded when it is opened (htmx), or as a page of its own without script. It
    shows the request's PHI, so it is audited like the page: one access event naming the panel."""

    http_method_names = ["get"]

    def get(self, request: HttpRequest, tracking_number: str, panel: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        found = request_panel(panel)
        if found is None or not found.shows(record_request):
            raise Http404("No such panel")
        self.record_view(request, record_request, detail=f"panel {found.name}")
        context = {
            "rr": record_request,
            "panel": found,
            "ctx": panel_context(found, request, record_request, self.tenant),
        }
        if request.htmx:  # type: ignore[attr-defined]  # django-htmx's middleware sets it
            return render(request, found.template_name, context)
        return render(request, "workflow/panel_page.html", context)


class RequestTimelineView(RequestView):
    """The request's timeline alone (templates/workflow/_timeline.html): the filter's links load it in place, and a
    page may load it lazily. Audited as a view of the request: it shows what was said about the patient's case."""

    def get(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        self.record_view(request, record_request)
        context = {"rr": record_request, **timeline_context(request, self.tenant, record_request)}
        return render(request, "workflow/_timeline.html", context)


def _timeline_url(tracking_number: str) -> str:
    return reverse("workflow:detail", args=[tracking_number]) + "#panel-timeline"


class NoteAddView(RequestActionView):
    """An internal note added from the request page's timeline."""

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        form = NoteForm(request.POST)
        if not form.is_valid():
            return _note_not_saved(self, request, record_request, form, status=400)
        try:
            request_note_add(
                tenant=self.tenant, actor=request.user, record_request=record_request, text=form.cleaned_data["note"]
            )
        except ServiceError as error:
            if not error.on_form(form):
                form.add_error(None, error.message)
            return _note_not_saved(self, request, record_request, form, status=error.status_code)
        messages.success(request, "Note added.")
        return redirect(_timeline_url(tracking_number))


class NoteEditView(RequestActionView):
    """A new version of one's own note; the version it replaces stays on the timeline's list of versions."""

    def post(self, request: HttpRequest, tracking_number: str, pk: int) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        form = NoteForm(request.POST, replaces=pk)
        if not form.is_valid():
            return _note_not_saved(self, request, record_request, form, status=400)
        try:
            request_note_edit(
                tenant=self.tenant,
                actor=request.user,
                record_request=record_request,
                note_id=pk,
                text=form.cleaned_data["note"],
            )
        except NoteNotFound as error:
            raise Http404("No such note") from error
        except ServiceError as error:
            if not error.on_form(form):
                form.add_error(None, error.message)
            return _note_not_saved(self, request, record_request, form, status=error.status_code)
        messages.success(request, "Note edited: the earlier version is kept with it.")
        return redirect(_timeline_url(tracking_number))


def _note_not_saved(
    view: RequestView, request: HttpRequest, record_request: RecordRequest, form: NoteForm, *, status: int
) -> HttpResponse:
    """The request page again, the note's text kept in its form with what to fix (on the field, or as a message
    when the problem is not the text: someone else's note, an edit that lost a race)."""
    problems = [*(form.errors.get("note") or []), *form.non_field_errors()]
    messages.error(request, " ".join(["The note was not saved.", *problems]))
    return view.render_detail(request, record_request, panel_forms={"note_form": form}, status=status)


class RequestTransitionView(RequestActionView):
    """One transition of the state machine (workflow/transitions.py) from the request page."""

    def post(self, request: HttpRequest, tracking_number: str, name: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        if name not in TRANSITIONS or name in transitions_owned_elsewhere():
            raise Http404("No such action")
        form = transition_form(name, reason_label=TRANSITIONS[name].reason_label, data=request.POST)
        if not form.is_valid():
            messages.error(request, "Check the highlighted fields.")
            return self.render_detail(request, record_request, forms={name: form}, status=400)
        data = form.cleaned_data
        try:
            request_transition(
                name=name,
                tenant=self.tenant,
                actor=request.user,
                record_request=record_request,
                expected_state=data["expected_state"],
                reason=data.get("reason", ""),
                evidence=data.get("evidence", ""),
                basis=data.get("basis", ""),
            )
        except ServiceError as error:
            messages.error(request, error.message)
            fresh = self.get_object(tracking_number)
            return self.render_detail(request, fresh, status=error.status_code)
        messages.success(request, f"Request {tracking_number} {TRANSITIONS[name].past}.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class RequestAssignView(RequestActionView):
    """Claim the request, or (a supervisor) give it to someone or to nobody."""

    def open_without_access(self, request: HttpRequest, record_request: RecordRequest) -> bool:
        # Claiming an unassigned restricted request is how a specialist gets to open it (the restricted page offers
        # it); claim next from the queue does the same without a page.
        return "claim" in request.POST and record_request.assignee_id is None

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        staff = list(selectors.tenant_staff(tenant=self.tenant))
        assignee: Any
        if "claim" in request.POST:
            assignee = request.user
        else:
            form = AssignForm(request.POST, staff=staff)
            if not form.is_valid():
                messages.error(request, "Choose a staff member from the list.")
                return self.render_detail(request, record_request, status=400)
            chosen = form.cleaned_data["assignee"]
            assignee = next((m.user for m in staff if str(m.user_id) == chosen), None) if chosen else None
        try:
            services.request_assign(
                tenant=self.tenant, actor=request.user, record_request=record_request, assignee=assignee
            )
        except ServiceError as error:
            messages.error(request, error.message)
            if self.request_access is not None and not self.request_access.allowed:
                # A claim of a restricted request that failed: the user still may not see it.
                return redirect("workflow:queue")
            return self.render_detail(request, self.get_object(tracking_number), status=error.status_code)
        messages.success(request, f"Assigned to {assignee}." if assignee else "Request unassigned.")
        return redirect("workflow:detail", tracking_number=tracking_number)


class StatusCallView(RequestActionView):
    """A requestor's status call, logged from the request page or its queue row."""

    def open_without_access(self, request: HttpRequest, record_request: RecordRequest) -> bool:
        # Logging a status call (from the queue row as often as from the request) shows nothing of the request.
        return True

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        form = StatusCallForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose who called and the outcome from the lists.")
            return redirect("workflow:detail", tracking_number=tracking_number)
        services.status_call_log(
            tenant=self.tenant,
            actor=request.user,
            record_request=record_request,
            caller=form.cleaned_data["caller"],
            outcome=form.cleaned_data["outcome"],
        )
        messages.success(request, f"Status call logged on {tracking_number}.")
        back = request.POST.get("return_to", "")
        if back == "queue":
            return redirect(reverse("workflow:queue") + safe_query(request.POST.get("return_query", "")))
        return redirect("workflow:detail", tracking_number=tracking_number)


class BreakGlassView(RequestActionView):
    """POST the reason and the confirmation: a supervisor or admin opens a restricted request outside their
    assignment for BREAK_GLASS_MINUTES, recorded and reported. A form with errors comes back on the restricted page
    (status 400) with the reason kept."""

    def open_without_access(self, request: HttpRequest, record_request: RecordRequest) -> bool:
        # Breaking the glass is how a supervisor gets access: the form is posted from the restricted page.
        return True

    def post(self, request: HttpRequest, tracking_number: str) -> HttpResponse:
        record_request = self.get_object(tracking_number)
        access = request_access(tenant=self.tenant, user=request.user, record_request=record_request)
        if access.allowed:
            return redirect("workflow:detail", tracking_number=tracking_number)
        if not access.can_break_glass:
            raise PermissionDenied("Only supervisors and admins may open a restricted request by break-glass.")
        form = BreakGlassForm(request.POST)
        if not form.is_valid():
            return restricted_page(request, record_request, access, form=form, status=400)
        try:
            break_glass_grant(
                tenant=self.tenant,
                actor=request.user,
                record_request=record_request,
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except ServiceError as error:
            if not error.on_form(form):
                messages.error(request, error.message)
            return restricted_page(request, record_request, access, form=form, status=error.status_code)
        messages.warning(request, f"Opened by break-glass for {BREAK_GLASS_MINUTES} minutes. This access is recorded.")
        return redirect("workflow:detail", tracking_number=tracking_number)
