"""The exception panel on the request detail page (registered in ExceptionsConfig.ready)."""

from __future__ import annotations

from typing import Any

from exceptions import selectors
from exceptions.forms.episodes import ExceptionOpenForm, ExceptionResolveForm, NextStepForm
from roi.tenancy import role_in
from workflow.choices import EXCEPTION_SOURCES, RequestState
from workflow.extensions import NextStep, RequestPanel
from workflow.selectors import tenant_staff_once


def exception_panel_context(http_request: Any, record_request: Any, tenant: Any, **forms: Any) -> dict[str, Any]:
    staff = tenant_staff_once(http_request, tenant)
    may_act = role_in(http_request.user, tenant) is not None
    episodes = list(selectors.episodes_for_request(tenant=tenant, request_id=record_request.pk))
    episode = next((e for e in episodes if e.is_open), None)  # at most one is open (a constraint)
    context: dict[str, Any] = {
        "rr": record_request,
        "episode": episode,
        "past_episodes": [e for e in episodes if not e.is_open],
        "can_open": may_act and record_request.state in EXCEPTION_SOURCES,
        "can_resolve": may_act and record_request.state == RequestState.EXCEPTION,
    }
    if context["can_open"]:
        context["open_form"] = forms.get("open_form") or ExceptionOpenForm(
            staff=staff, tenant=tenant, initial={"expected_state": record_request.state}
        )
    if context["can_resolve"]:
        context["resolve_form"] = forms.get("resolve_form") or ExceptionResolveForm(
            initial={"expected_state": record_request.state}
        )
        if episode is not None:
            context["next_step_form"] = forms.get("next_step_form") or NextStepForm(
                staff=staff,
                initial={
                    "next_step": episode.next_step,
                    "next_action_due": episode.next_action_due,
                    "owner": episode.owner_id or "",
                },
            )
    return context


def _in_exception(record_request: Any) -> bool:
    return record_request.state == RequestState.EXCEPTION


def exception_next_step(record_request: Any, user: Any, tenant: Any) -> NextStep | None:
    if record_request.state != RequestState.EXCEPTION:
        return None
    return NextStep(
        "Resolve the exception",
        panel="exceptions",
        anchor="exception-h",
        hint=f"In exception: {record_request.exception_reason.replace('_', ' ') or 'see the panel'}.",
    )


PANEL = RequestPanel(
    name="exceptions",
    template_name="exceptions/_panel.html",
    order=20,
    get_context=exception_panel_context,
    owns_transitions=frozenset({"raise_exception", "resolve"}),
    title="Exception",
    starts_open=_in_exception,
    next_step=exception_next_step,
)
