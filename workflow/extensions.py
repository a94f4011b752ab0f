"""Extension points for the apps above workflow (dependencies point one way: workflow never imports them).

An app registers a panel for the request detail page in its AppConfig.ready(): the panel's template, the context it
needs, and the transitions it performs itself through its own services (intake owns `validate`, which runs the
intake checklist; exceptions owns `raise_exception` and `resolve`, which open and close an episode). The detail
page then shows the app's panel instead of the generic form for those transitions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from roi.models import Tenant
from workflow.choices import FINISHED_STATES, RequestState


def _always(record_request: Any) -> bool:
    return True


def _never(record_request: Any) -> bool:
    return False


@dataclass(frozen=True)
class NextStep:
    """The one thing that should happen next on a request, as the workspace's primary button: a page to open (`url`)
    or a panel of the request page to open (`panel`, with `anchor` the part of it to scroll to)."""

    label: str
    url: str = ""
    panel: str = ""
    anchor: str = ""
    hint: str = ""  # one line under the button: why this is next

    @property
    def target(self) -> str:
        """The element of the request page the button scrolls to."""
        return self.anchor or (f"panel-{self.panel}" if self.panel else "")


@dataclass(frozen=True)
class RequestPanel:
    """A part of the request page. The page paints the request's facts and its next step first; each panel is a
    <details> whose content loads when it is opened (workflow.views.requests.RequestPanelView, audited like the page).

    `shows(record_request)` and `starts_open(record_request)` read the request's own fields only (no SQL): they run
    on every first paint. `next_step(record_request, user, tenant)` may read one row at most (the first paint's
    budget is ten statements); the first panel, in order, that names a step sets the page's primary button."""

    name: str
    template_name: str
    order: int
    get_context: Callable[..., dict[str, Any]]  # (http_request, record_request, tenant, **bound_forms) -> context
    owns_transitions: frozenset[str] = field(default_factory=frozenset)
    title: str = ""
    shows: Callable[[Any], bool] = _always
    starts_open: Callable[[Any], bool] = _never
    next_step: Callable[[Any, Any, Tenant], NextStep | None] | None = None
    column: str = "work"  # "work" (the middle column) or "side" (beside it: timeline, history)


_panels: dict[str, RequestPanel] = {}


def register_panel(panel: RequestPanel) -> None:
    _panels[panel.name] = panel


def request_panels() -> list[RequestPanel]:
    return sorted(_panels.values(), key=lambda p: p.order)


def request_panel(name: str) -> RequestPanel | None:
    return _panels.get(name)


def transitions_owned_elsewhere() -> frozenset[str]:
    owned: set[str] = set()
    for panel in _panels.values():
        owned |= panel.owns_transitions
    return frozenset(owned)


def panel_context(
    panel: RequestPanel,
    http_request: Any,
    record_request: Any,
    tenant: Tenant,
    panel_forms: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One panel's context. `panel_forms` carries a bound form with errors (or a value shown once) back to the panel
    that owns it; every panel receives them all and takes its own."""
    return panel.get_context(http_request, record_request, tenant, **(panel_forms or {}))


def next_step(record_request: Any, user: Any, tenant: Tenant) -> NextStep | None:
    """The request's next step from the first panel that names one."""
    for panel in request_panels():
        if panel.next_step is not None and panel.shows(record_request):
            step = panel.next_step(record_request, user, tenant)
            if step is not None:
                return step
    return None


# --- Activities: "requests with <something that happened> between two dates" -----------------------------------
# The queue's activity filter and the dashboard's period figures read the same definitions, so a number on the
# dashboard and the queue it links to count the same requests. Each app registers the activities of its own
# tables in AppConfig.ready() (workflow: received, delivered, status calls; exceptions: exceptions opened,
# escalations; intake: extensions, duplicates; fulfillment: resends, failed QC).


@dataclass(frozen=True)
class Window:
    """[start, end) as aware datetimes (None: unbounded), and the tenant's time zone for calendar comparisons."""

    start: Any
    end: Any
    tzinfo: Any


@dataclass(frozen=True)
class Activity:
    name: str
    label: str
    order: int
    # (queryset of RecordRequest, window) -> the requests with this activity inside the window.
    apply: Callable[[Any, Window], Any]


_activities: dict[str, Activity] = {}


def register_activity(activity: Activity) -> None:
    _activities[activity.name] = activity


def activities() -> list[Activity]:
    return sorted(_activities.values(), key=lambda a: a.order)


def activity(name: str) -> Activity | None:
    return _activities.get(name)


def in_window(field: str, window: Window) -> dict[str, Any]:
    """Lookups for `start <= field < end`, either bound optional (the activities' shared convention)."""
    lookups: dict[str, Any] = {f"{field}__isnull": False}
    if window.start is not None:
        lookups[f"{field}__gte"] = window.start
    if window.end is not None:
        lookups[f"{field}__lt"] = window.end
    return lookups


# --- After a transition ----------------------------------------------------------------------------------------
# Apps above workflow finish their own records when a request changes state through any service (page, API, task):
# exceptions closes the open episode of a request denied or cancelled while in exception. Called inside the
# transition's transaction, after the state change and its log row, so the two commit or roll back together.

TransitionHook = Callable[..., None]  # (*, tenant, actor, record_request, from_state, to_state, reason) -> None
# Escalations and retrieval tasks that close with their request record why in the same words, e.g. "request
# delivered on Mar 3, 2026" (shown as "Closed: request delivered on Mar 3, 2026").
_transition_hooks: list[TransitionHook] = []


def register_transition_hook(hook: TransitionHook) -> None:
    if hook not in _transition_hooks:
        _transition_hooks.append(hook)


def transition_hooks() -> list[TransitionHook]:
    return list(_transition_hooks)


def closed_with_request_reason(*, tenant: Tenant, to_state: str, at: datetime) -> str:
    """Why something closed itself when its request moved to `to_state` at `at` (the organisation's calendar day)."""
    day = at.astimezone(tenant.tzinfo).date()
    when = f"{day:%b} {day.day}, {day.year}"
    if to_state in FINISHED_STATES:
        return f"request {RequestState(to_state).label.lower()} on {when}"
    return f"exception resolved on {when}"


# --- Timeline events ---------------------------------------------------------------------------------------------
# One timeline per request (workflow/timeline.py) shows everything that happened to it, newest first. workflow adds
# its own rows (receipt, transitions, status calls, internal notes); each app above adds the events of its own tables
# (intake: letters and the emails to the requestor; exceptions: episodes and escalations; fulfillment: deliveries,
# resends, revocations and refused releases; portal: the requestor's status views and uploads). Each source returns
# TimelineEvent rows for one request in a fixed number of SQL statements, whatever the number of rows (the timeline's
# statement count is pinned by tests/workflow/test_timeline.py).

# Who did it, when no staff member did: the requestor through the portal, or the application itself.
BY_PORTAL = "Requestor via portal"
BY_SYSTEM = "System"


@dataclass(frozen=True)
class TimelineEvent:
    at: Any  # aware datetime
    title: str
    detail: str = ""
    link: str = ""  # a URL (a document) shown with the event
    link_label: str = ""
    timeline_kind: str = "event"  # how the template draws it: "event", "note"
    who: str = ""  # a staff member's name, BY_PORTAL or BY_SYSTEM
    category: str = "change"  # workflow.choices.TimelineCategory: the timeline's filter
    obj: Any = None  # the row behind the entry, for an entry drawn its own way (a note)
    earlier: tuple[Any, ...] = ()  # earlier versions of the row, newest first (an edited note)


def actor_name(user: Any, *, default: str = BY_SYSTEM) -> str:
    """A staff member as the timeline names them, or `default` when nobody signed in did it."""
    return str(user) if user is not None else default


TimelineSource = Callable[..., list[TimelineEvent]]  # (*, tenant, record_request) -> events
_timeline_sources: list[TimelineSource] = []


def register_timeline_source(source: TimelineSource) -> None:
    if source not in _timeline_sources:
        _timeline_sources.append(source)


def timeline_events(*, tenant: Tenant, record_request: Any) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    for source in _timeline_sources:
        events.extend(source(tenant=tenant, record_request=record_request))
    return events


# --- Actions on a restricted request, without opening it ---------------------------------------------------------
# The "Restricted request" page (workflow/views/restricted.py) shows no patient and no record, but some decisions need
# neither: a supervisor denies the psychotherapy notes of a right-of-access request, which the law excludes whatever
# they say (fulfillment). Each source returns the actions open to this user on this request; the view that performs
# one lets the user in without opening the request (its `open_without_access`).


@dataclass(frozen=True)
class RestrictedAction:
    label: str  # the button
    url: str  # POST here
    explanation: str  # why this needs no opening of the request
    confirm: str = ""  # a confirmation the browser asks first


RestrictedActionSource = Callable[..., list[RestrictedAction]]  # (*, tenant, record_request, user) -> actions
_restricted_action_sources: list[RestrictedActionSource] = []


def register_restricted_actions(source: RestrictedActionSource) -> None:
    if source not in _restricted_action_sources:
        _restricted_action_sources.append(source)


def restricted_actions(*, tenant: Tenant, record_request: Any, user: Any) -> list[RestrictedAction]:
    actions: list[RestrictedAction] = []
    for source in _restricted_action_sources:
        actions.extend(source(tenant=tenant, record_request=record_request, user=user))
    return actions
