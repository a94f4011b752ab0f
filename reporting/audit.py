"""Selectors and CSV rows of the audit pages (reporting/audit_views.py): access events with the patient and request
they name, who accessed one patient's records, everything one user did, and one request's whole trail (access
events, transition log and field changes from django-simple-history). Read-only; always scoped to one tenant."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib.postgres.aggregates import ArrayAgg
from django.db.models import Count, Max, Min, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Concat

from fulfillment.models import ReleaseRefusal
from intake.models import Revocation
from roi.choices import AccessAction
from roi.downloads import spreadsheet_safe
from roi.models import AccessEvent, Membership, Tenant
from workflow.choices import RequestState
from workflow.models import Patient, RecordRequest, RequestTransition

PAGE_SIZE = 100
# The per-patient and per-user pages show this many latest rows; their CSV export has every row.
REPORT_ROWS = 200
# Fields whose change says nothing to an auditor (every save touches them).
HISTORY_EXCLUDED_FIELDS = ["updated_at"]


@dataclass(frozen=True)
class AccessFilters:
    actor_id: int | None = None
    patient: Patient | None = None
    record_request: RecordRequest | None = None
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def describe(self) -> str:
        """For the access event the audit pages write: which slice of the audit trail was read."""
        parts = []
        if self.actor_id is not None:
            parts.append(f"user id {self.actor_id}")
        if self.patient is not None:
            parts.append(f"MRN {self.patient.mrn}")
        if self.record_request is not None:
            parts.append(f"request {self.record_request.tracking_number}")
        if self.action:
            parts.append(f"action {self.action}")
        if self.date_from:
            parts.append(f"from {self.date_from.isoformat()}")
        if self.date_to:
            parts.append(f"to {self.date_to.isoformat()}")
        return ", ".join(parts) or "no filters"


def _day_start(tenant: Tenant, day: date) -> datetime:
    # Dates on the audit pages are the organisation's calendar days.
    return datetime.combine(day, time.min, tzinfo=tenant.tzinfo)


def access_events(*, tenant: Tenant, filters: AccessFilters) -> QuerySet[AccessEvent]:
    """The tenant's access events, newest first (id order is the chain's order, so also write order), each with
    the MRN and name of its patient and the tracking number of its request: one query for any number of rows."""
    patients = Patient.objects.filter(tenant_id=OuterRef("tenant_id"), pk=OuterRef("patient_id"))
    requests = RecordRequest.objects.filter(tenant_id=OuterRef("tenant_id"), pk=OuterRef("request_id"))
    queryset = (
        AccessEvent.objects.for_tenant(tenant)
        .annotate(
            patient_mrn=Subquery(patients.values("mrn")[:1]),
            patient_name=Subquery(
                patients.annotate(name=Concat("last_name", Value(", "), "first_name")).values("name")[:1]
            ),
            tracking_number=Subquery(requests.values("tracking_number")[:1]),
        )
        .order_by("-id")
    )
    if filters.actor_id is not None:
        queryset = queryset.filter(actor_id=filters.actor_id)
    if filters.patient is not None:
        queryset = queryset.filter(patient_id=filters.patient.pk)
    if filters.record_request is not None:
        queryset = queryset.filter(request_id=filters.record_request.pk)
    if filters.action:
        queryset = queryset.filter(action=filters.action)
    if filters.date_from:
        queryset = queryset.filter(at__gte=_day_start(tenant, filters.date_from))
    if filters.date_to:
        queryset = queryset.filter(at__lt=_day_start(tenant, filters.date_to + timedelta(days=1)))
    return queryset


@dataclass
class EventPage:
    rows: list[AccessEvent]
    next_before: int | None


def access_event_page(*, queryset: QuerySet[AccessEvent], before: int | None, size: int = PAGE_SIZE) -> EventPage:
    """Keyset pagination on id: a page costs one query however deep the reader goes."""
    if before is not None:
        queryset = queryset.filter(id__lt=before)
    rows = list(queryset[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return EventPage(rows=rows, next_before=rows[-1].pk if more and rows else None)


def patient_accessors(*, queryset: QuerySet[AccessEvent]) -> QuerySet[AccessEvent]:
    """Who accessed the patient's records (the patient's access_events): one row per user or portal requestor, with
    how often, first and last time, and which actions; most recent first."""
    return (
        queryset.order_by()
        .values("actor_id", "actor_label")
        .annotate(count=Count("id"), first_at=Min("at"), last_at=Max("at"), actions=ArrayAgg("action", distinct=True))
        .order_by("-last_at")
    )


def action_labels(codes: Iterable[str]) -> list[str]:
    labels = dict(AccessAction.choices)
    return [labels.get(code, code) for code in sorted(codes)]


def audit_users(*, tenant: Tenant) -> QuerySet[Membership]:
    """Everyone who is or was staff of the tenant (an inactive membership's past actions are audited too)."""
    return Membership.objects.for_tenant(tenant).select_related("user").order_by("user__username")


def user_transitions(*, tenant: Tenant, actor_id: int, filters: AccessFilters) -> QuerySet[RequestTransition]:
    queryset = (
        RequestTransition.objects.for_tenant(tenant)
        .filter(actor_id=actor_id)
        .select_related("request", "request__patient")
        .order_by("-at", "-id")
    )
    if filters.date_from:
        queryset = queryset.filter(at__gte=_day_start(tenant, filters.date_from))
    if filters.date_to:
        queryset = queryset.filter(at__lt=_day_start(tenant, filters.date_to + timedelta(days=1)))
    return queryset


# --- One request's trail ------------------------------------------------------------------------------------------


@dataclass
class TrailEntry:
    """One line of a request's audit trail, whatever its source."""

    at: datetime
    source: str  # "Access", "Transition", "Change", "Revocation" or "Release gate"
    who: str
    what: str
    detail: str = ""
    address: str = ""
    user_agent: str = ""
    reference: str = ""  # access event id, transition id or history id


def _state_label(value: str) -> str:
    return dict(RequestState.choices).get(value, value)


def _change_text(change: Any) -> str:
    return f"{change.field}: {change.old if change.old not in (None, '') else '—'} → {change.new}"


def request_trail(*, tenant: Tenant, record_request: RecordRequest) -> list[TrailEntry]:
    """Access events, transitions and field changes of one request, the revocation of the authorization it relies on
    and the releases the gate refused, oldest first: five queries."""
    entries: list[TrailEntry] = []
    events = access_events(tenant=tenant, filters=AccessFilters(record_request=record_request))
    for event in events:
        entries.append(
            TrailEntry(
                at=event.at,
                source="Access",
                who=event.actor_label,
                what=event.get_action_display(),
                detail=event.detail,
                address=event.ip_address or "",
                user_agent=event.user_agent,
                reference=f"access event {event.pk}",
            )
        )
    transitions = RequestTransition.objects.for_tenant(tenant).filter(request=record_request).select_related("actor")
    for transition in transitions:
        entries.append(
            TrailEntry(
                at=transition.at,
                source="Transition",
                who=transition.actor.get_username() if transition.actor else "system",
                what=f"{transition.transition}: {_state_label(transition.from_state)} → "
                f"{_state_label(transition.to_state)}",
                detail=transition.reason,
                reference=f"transition {transition.pk}",
            )
        )
    history = list(record_request.history.select_related("history_user").order_by("history_date", "history_id"))
    previous = None
    for record in history:
        if previous is None or record.history_type == "+":
            what, detail = "Created", ""
        else:
            delta = record.diff_against(previous, excluded_fields=HISTORY_EXCLUDED_FIELDS)
            what = "Changed " + ", ".join(change.field for change in delta.changes) if delta.changes else "Saved"
            detail = "; ".join(_change_text(change) for change in delta.changes)
        entries.append(
            TrailEntry(
                at=record.history_date,
                source="Change",
                who=record.history_user.get_username() if record.history_user else "system",
                what=what,
                detail=detail,
                reference=f"history {record.history_id}",
            )
        )
        previous = record
    entries.extend(_release_events(tenant=tenant, record_request=record_request))
    entries.sort(key=lambda entry: entry.at)
    return entries


def _release_events(*, tenant: Tenant, record_request: RecordRequest) -> list[TrailEntry]:
    """The revocation of the authorization the request relies on (with its written revocation) and every release the
    gate refused: two more queries."""
    entries = []
    revocation = (
        Revocation.objects.for_tenant(tenant)
        .filter(authorization__reviews__request=record_request)
        .select_related("authorization", "document", "recorded_by")
        .first()
    )
    if revocation is not None:
        kind = "Directive withdrawn" if revocation.authorization.kind == "directive" else "Authorization revoked"
        document = revocation.document
        entries.append(
            TrailEntry(
                at=revocation.recorded_at,
                source="Revocation",
                who=revocation.recorded_by.get_username() if revocation.recorded_by else "system",
                what=kind,
                detail=f"Written revocation received {revocation.received_on:%Y-%m-%d}"
                + (f"; document {document.original_name} (document {document.pk})" if document else "")
                + (f"; {revocation.note}" if revocation.note else ""),
                reference=f"revocation {revocation.pk}",
            )
        )
    for refusal in ReleaseRefusal.objects.for_tenant(tenant).filter(request=record_request).select_related("actor"):
        entries.append(
            TrailEntry(
                at=refusal.at,
                source="Release gate",
                who=refusal.actor.get_username() if refusal.actor else refusal.actor_label or "system",
                what=f"{refusal.get_action_display()} refused",
                detail="; ".join(f"{r.get('message')} ({r.get('citation')})" for r in refusal.refusals),
                reference=f"release refusal {refusal.pk}",
            )
        )
    return entries


# --- CSV ----------------------------------------------------------------------------------------------------------

EVENT_COLUMNS = [
    "event id", "time", "user", "user id", "action", "action label", "object type", "object id",
    "tracking number", "request id", "patient MRN", "patient name", "patient id", "detail", "IP address",
    "user agent", "prev hash", "row hash",
]  # fmt: skip
TRAIL_COLUMNS = ["time", "source", "who", "what", "detail", "IP address", "user agent", "reference"]
TRANSITION_COLUMNS = ["transition id", "time", "tracking number", "patient MRN", "transition", "from", "to", "reason"]


def _local(tenant: Tenant, moment: datetime | None) -> str:
    return moment.astimezone(tenant.tzinfo).isoformat() if moment else ""


def event_csv_rows(tenant: Tenant, events: QuerySet[AccessEvent]) -> Iterator[list[str]]:
    yield EVENT_COLUMNS
    for event in events.iterator(chunk_size=2000):
        yield [
            spreadsheet_safe(value)
            for value in (
                event.pk,
                _local(tenant, event.at),
                event.actor_label,
                event.actor_id,
                event.action,
                event.get_action_display(),
                event.object_type,
                event.object_id,
                event.tracking_number,
                event.request_id,
                event.patient_mrn,
                event.patient_name,
                event.patient_id,
                event.detail,
                event.ip_address,
                event.user_agent,
                event.prev_hash,
                event.row_hash,
            )
        ]


def trail_csv_rows(tenant: Tenant, entries: list[TrailEntry]) -> Iterator[list[str]]:
    yield TRAIL_COLUMNS
    for entry in entries:
        yield [
            spreadsheet_safe(value)
            for value in (
                _local(tenant, entry.at),
                entry.source,
                entry.who,
                entry.what,
                entry.detail,
                entry.address,
                entry.user_agent,
                entry.reference,
            )
        ]


def transition_csv_rows(tenant: Tenant, transitions: QuerySet[RequestTransition]) -> Iterator[list[str]]:
    yield TRANSITION_COLUMNS
    for transition in transitions.iterator(chunk_size=2000):
        yield [
            spreadsheet_safe(value)
            for value in (
                transition.pk,
                _local(tenant, transition.at),
                transition.request.tracking_number,
                transition.request.patient.mrn,
                transition.transition,
                transition.from_state,
                transition.to_state,
                transition.reason,
            )
        ]
