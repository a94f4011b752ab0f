"""One timeline of everything that happened to a request, newest first, for the request page and its timeline route.

workflow's own rows (receipt, transitions, status calls, internal notes) and the events the apps above register
(workflow/extensions.py `register_timeline_source`): letters and emails to the requestor, exception episodes and
escalations, deliveries and resends, the requestor's portal status views and uploads. Every source reads its rows in
a fixed number of SQL statements, so the timeline costs the same whether a request has two entries or two hundred
(tests/workflow/test_timeline.py pins the count).

The filter keeps one category (workflow.choices.TimelineCategory); every source is read whatever the filter, so the
filter's counts are right and the statement count does not depend on it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from roi.models import Tenant
from workflow.choices import Channel, TimelineCategory
from workflow.extensions import BY_PORTAL, TimelineEvent, actor_name, timeline_events
from workflow.models import RecordRequest, RequestNote, RequestTransition, StatusCall
from workflow.selectors import RequestorContact, request_status_calls, request_timeline, requestor_contact

SHOW_ALL = "all"
FILTERS: list[tuple[str, str]] = [(SHOW_ALL, "All"), *TimelineCategory.choices]


@dataclass(frozen=True)
class TimelineFilter:
    value: str
    label: str
    count: int
    selected: bool


@dataclass(frozen=True)
class Timeline:
    entries: list[TimelineEvent]  # newest first, the filter applied
    show: str
    filters: list[TimelineFilter]
    contact: RequestorContact


def shown_category(value: str | None) -> str:
    """The filter a query string asks for; anything unknown shows everything."""
    return value if value in TimelineCategory.values else SHOW_ALL


def _received(record_request: RecordRequest) -> TimelineEvent:
    channel = Channel(record_request.channel)
    return TimelineEvent(
        at=record_request.received_at,
        title="Received",
        detail=f"by {channel.label.lower()}",
        who=BY_PORTAL if channel == Channel.PORTAL else f"Requestor by {channel.label.lower()}",
        category=TimelineCategory.CHANGE,
    )


def _transition(row: RequestTransition) -> TimelineEvent:
    return TimelineEvent(
        at=row.at,
        title=f"{row.get_from_state_display()} → {row.get_to_state_display()}",
        detail=row.reason,
        who=actor_name(row.actor),
        category=TimelineCategory.CHANGE,
        timeline_kind="transition",
    )


def _status_call(call: StatusCall) -> TimelineEvent:
    return TimelineEvent(
        at=call.at,
        title=f"Status call from {call.get_caller_display().lower()}",
        detail=call.get_outcome_display(),
        who=actor_name(call.logged_by),
        category=TimelineCategory.COMMUNICATION,
        timeline_kind="status_call",
    )


def request_notes(*, tenant: Tenant, record_request: RecordRequest) -> list[TimelineEvent]:
    """Each note once, as its latest version (its earlier versions attached, newest first): one statement."""
    versions = list(
        RequestNote.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk)
        .select_related("author")
        .order_by("created_at", "id")
    )
    replaced = {note.replaces_id for note in versions if note.replaces_id is not None}
    by_id = {note.pk: note for note in versions}
    entries = []
    for note in versions:
        if note.pk in replaced:
            continue
        earlier = []
        previous = by_id.get(note.replaces_id) if note.replaces_id else None
        while previous is not None:
            earlier.append(previous)
            previous = by_id.get(previous.replaces_id) if previous.replaces_id else None
        entries.append(
            TimelineEvent(
                at=note.created_at,
                title="Internal note",
                detail=note.text,
                who=actor_name(note.author),
                category=TimelineCategory.NOTE,
                timeline_kind="note",
                obj=note,
                earlier=tuple(earlier),
            )
        )
    return entries


def request_timeline_entries(*, tenant: Tenant, record_request: RecordRequest, show: str = SHOW_ALL) -> Timeline:
    """The request's timeline, newest first, with `show` (a TimelineCategory or "all") applied."""
    show = shown_category(show)
    calls = list(request_status_calls(tenant=tenant, record_request=record_request))
    entries = [
        *(_transition(row) for row in request_timeline(tenant=tenant, record_request=record_request)),
        *(_status_call(call) for call in calls),
        *request_notes(tenant=tenant, record_request=record_request),
        *timeline_events(tenant=tenant, record_request=record_request),
        _received(record_request),  # last: of two entries at the same moment, the receipt is the older
    ]
    entries.sort(key=lambda e: e.at, reverse=True)  # stable: equal times keep each source's own order
    counts = Counter(entry.category for entry in entries)
    filters = [
        TimelineFilter(
            value=value,
            label=str(label),
            count=len(entries) if value == SHOW_ALL else counts[value],
            selected=value == show,
        )
        for value, label in FILTERS
    ]
    return Timeline(
        entries=entries if show == SHOW_ALL else [e for e in entries if e.category == show],
        show=show,
        filters=filters,
        contact=requestor_contact(tenant=tenant, record_request=record_request, calls=len(calls)),
    )
