"""Reads for the request workflow. Every selector takes the tenant and returns rows of that tenant only."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, F, Max, QuerySet, Subquery, Value
from django.db.models.lookups import GreaterThan, LessThan
from django.utils import timezone

from roi import clock, rls
from roi.choices import AccessAction
from roi.expressions import Row
from roi.models import AccessEvent, Membership, Tenant
from workflow import extensions
from workflow.choices import OPEN_STATES
from workflow.extensions import Window
from workflow.models import RecordRequest, RequestTransition, SavedQueueView, StatusCall, WorkQueue

# Queue sorts: (field, descending). Every sort breaks ties on id ascending (oldest first among equals), so the
# order is total and a keyset cursor (value, id) names one position in it. Each has an index on (tenant, key, id)
# for open work and for every state (RecordRequest.Meta.indexes); "priority" is the default. The queue's column
# headers offer each sort the other way round too ("-due": latest due first): the whole order, ties included, runs
# backwards, which is the same index read from its other end.
# Columns whose values live in other tables (patient, requestor, assignee) are not sorts: no index of the request
# table can give their order, and sorting a large tenant's requests joined to them costs a sort of every row.
QUEUE_SORTS: dict[str, tuple[str, bool]] = {
    "priority": ("priority_score", True),
    "due": ("legal_due_date", False),
    "age": ("received_at", False),
    "type": ("request_type", False),
    "state": ("state", False),
}
DEFAULT_QUEUE_SORT = "priority"
REVERSED = "-"  # the prefix of a sort run the other way round
# The total shown above the queue is exact up to this many rows; a view with more says "more than 1,000" (a day's
# work, or a team's, is well under it; the dashboard has the exact backlog figures). An exact count of a large view
# costs what the view's size costs, on every page view: 23,584 index entries for the largest benchmark tenant's open
# work, 155,874 for all of its requests. Counting at most 1,001 rows, from the index alone where one covers the
# filters, bounds it (docs/benchmarks.md).
QUEUE_COUNT_CAP = 1_000


def queue_sort_names() -> list[str]:
    """Every sort the queue accepts: each of QUEUE_SORTS, and each the other way round."""
    return [*QUEUE_SORTS, *(REVERSED + name for name in QUEUE_SORTS)]


def _sort_parts(sort: str) -> tuple[str, bool]:
    """(the name in QUEUE_SORTS, reversed?) of a sort; an unknown sort is the default."""
    reversed_ = sort.startswith(REVERSED)
    name = sort.removeprefix(REVERSED)
    if name not in QUEUE_SORTS:
        return DEFAULT_QUEUE_SORT, False
    return name, reversed_


def _queue_order(sort: str) -> tuple[Any, Any]:
    name, reversed_ = _sort_parts(sort)
    key = _sort_key(*QUEUE_SORTS[name])
    return (key.desc(), F("id").desc()) if reversed_ else (key.asc(), F("id").asc())


EXCEPTION_ANY = "any"  # the exception filter's value for "any reason"


def request_queue(
    *,
    tenant: Tenant,
    state: str | None = None,
    open_only: bool = False,
    assignee: Any = None,
    unassigned: bool = False,
    sort: str = DEFAULT_QUEUE_SORT,
    queue: WorkQueue | None = None,
    no_queue: bool = False,
    request_type: str | None = None,
    requestor_kind: str | None = None,
    aging_band: int | None = None,
    due_within_days: int | None = None,
    overdue: bool = False,
    exception_reason: str | None = None,
    stalled: bool = False,
    channel: str | None = None,
    activity: str | None = None,
    activity_from: date | None = None,
    activity_to: date | None = None,
    today: date | None = None,
) -> QuerySet[RecordRequest]:
    """The tenant's requests matching the queue filters, in the sort's total order (see QUEUE_SORTS).

    `exception_reason` is a reason value, or EXCEPTION_ANY for every request with an open exception episode.
    `activity` names a registered activity (workflow/extensions.py: received, delivered, status call, ...) between
    `activity_from` and `activity_to`, both days included, either optional: the dashboard's figures link here.
    Days are counted in the tenant's calendar, the one its legal due dates are in."""
    queryset = RecordRequest.objects.for_tenant(tenant).select_related("patient", "requestor", "assignee", "queue")
    if open_only:
        queryset = queryset.filter(state__in=OPEN_STATES)
    elif state:
        queryset = queryset.filter(state=state)
    if unassigned:
        queryset = queryset.filter(assignee__isnull=True)
    elif assignee is not None:
        queryset = queryset.filter(assignee=assignee)
    if no_queue:
        queryset = queryset.filter(queue__isnull=True)
    elif queue is not None:
        queryset = queryset.filter(queue=queue)
    if request_type:
        queryset = queryset.filter(request_type=request_type)
    if requestor_kind:
        queryset = queryset.filter(requestor__kind=requestor_kind)
    if aging_band is not None:
        queryset = queryset.filter(aging_band=aging_band)
    today = today or timezone.localdate(clock.now(), timezone=tenant.tzinfo)
    if due_within_days is not None:
        queryset = queryset.filter(
            legal_due_date__gte=today, legal_due_date__lte=today + timedelta(days=due_within_days)
        )
    if overdue:
        queryset = queryset.filter(legal_due_date__lt=today)
    if exception_reason == EXCEPTION_ANY:
        queryset = queryset.exclude(exception_reason="")
    elif exception_reason:
        queryset = queryset.filter(exception_reason=exception_reason)
    if stalled:
        queryset = queryset.filter(is_stalled=True)
    if channel:
        queryset = queryset.filter(channel=channel)
    if activity:
        queryset = with_activity(
            queryset, tenant=tenant, activity=activity, first_day=activity_from, last_day=activity_to
        )
    return queryset.order_by(*_queue_order(sort))


def request_queue_total(*, queryset: QuerySet[RecordRequest], cap: int | None = None) -> int:
    """How many rows `queryset` has, counted up to cap + 1 (one query, QUEUE_COUNT_CAP by default): a result above
    the cap means "more than the cap" (QUEUE_COUNT_CAP says why). Unordered: the planner need not sort to count."""
    limit = QUEUE_COUNT_CAP if cap is None else cap
    return queryset.order_by().values("id")[: limit + 1].count()


def day_window(*, tenant: Tenant, first_day: date | None, last_day: date | None) -> Window:
    """[start of first_day, start of the day after last_day) in the tenant's time zone, either end open."""
    tz = tenant.tzinfo
    start = datetime.combine(first_day, time.min, tzinfo=tz) if first_day else None
    end = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=tz) if last_day else None
    return Window(start=start, end=end, tzinfo=tz)


def with_activity(
    queryset: QuerySet[RecordRequest],
    *,
    tenant: Tenant,
    activity: str,
    first_day: date | None,
    last_day: date | None,
) -> QuerySet[RecordRequest]:
    """The requests of `queryset` with the activity between the two days (tenant calendar, both included).
    An unknown activity matches nothing rather than everything."""
    definition = extensions.activity(activity)
    if definition is None:
        return queryset.none()
    return definition.apply(queryset, day_window(tenant=tenant, first_day=first_day, last_day=last_day))


# --- Keyset pagination -----------------------------------------------------------------------------------------
# An offset page 1,000 deep makes PostgreSQL read and discard 50,000 rows; a keyset page starts at the index entry
# after the last row shown. The cursor is opaque to users (base64 of JSON) but carries no secret: it only says
# where to start, and the filters and tenant scoping still apply to whatever it points at.


@dataclass
class QueuePage:
    rows: list[QueueRow]
    next_cursor: str | None
    previous_cursor: str | None


def _cursor_value(row: Any, field: str) -> Any:
    value = getattr(row, field)
    return value.isoformat() if isinstance(value, (date, datetime)) else value


def encode_cursor(*, sort: str, direction: str, row: Any) -> str:
    name, _ = _sort_parts(sort)
    field, _ = QUEUE_SORTS[name]
    raw = json.dumps({"s": sort, "d": direction, "v": _cursor_value(row, field), "id": row.pk}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, sort: str) -> tuple[str, Any, int] | None:
    """(direction, value, id), or None for a cursor that is malformed or belongs to another sort."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        name, _ = _sort_parts(sort)
        field, _ = QUEUE_SORTS[name]
        if data["s"] != sort or data["d"] not in ("next", "prev") or not isinstance(data["id"], int):
            return None
        value = data["v"]
        if field == "priority_score" and not isinstance(value, int):
            return None
        if field in ("request_type", "state") and not isinstance(value, str):
            return None
        if field == "legal_due_date":
            value = date.fromisoformat(value)
        elif field == "received_at":
            value = datetime.fromisoformat(value)
        return data["d"], value, data["id"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        return None


# A descending sort's ascending key, a column PostgreSQL stores (RecordRequest.priority_key says why not an expression).
_DESCENDING_KEYS = {"priority_score": "priority_key"}


def _sort_key(field: str, descending: bool) -> Any:
    """The sort as an ascending key (the indexes are on it): a descending field's negation, stored beside it."""
    return F(_DESCENDING_KEYS[field]) if descending else F(field)


def _key_value(value: Any, descending: bool) -> Any:
    return -value if descending else value


@dataclass(slots=True)
class QueueRow:
    """One queue row as plain values, what workflow/markup.py shows and the cursor needs. A page shows fifty on every
    visit; as model instances (the request and its patient, requestor, assignee and queue) they cost more Python
    than the SQL that finds them. The view adds the day counts (age, days_left, ...) in the tenant's calendar."""

    pk: int
    tracking_number: str
    state: str
    request_type: str
    received_at: datetime
    legal_due_date: date
    internal_target_date: date
    aging_band: int
    is_stalled: bool
    priority_score: int
    priority_reasons: str
    exception_reason: str
    patient_first_name: str
    patient_last_name: str
    requestor_kind: str
    requestor_name: str
    requestor_organization: str
    assignee_id: int | None
    assignee_name: str
    queue_id: int | None
    queue_name: str
    sensitive_categories: list[str]
    age: int = 0
    days_left: int = 0
    days_overdue: int = 0
    target_days_left: int = 0
    aging_label: str = ""
    exception_label: str = ""
    # A restricted request the user may not open (workflow/break_glass.py): the row shows no patient name.
    patient_masked: bool = False

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def days_to_legal_due(self, today: date) -> int:
        return (self.legal_due_date - today).days

    def age_days(self, today: date, tz: Any) -> int:
        return (today - self.received_at.astimezone(tz).date()).days


# QueueRow field <- lookup, in the order of the SELECT.
_QUEUE_ROW_VALUES = {
    "pk": "id",
    "tracking_number": "tracking_number",
    "state": "state",
    "request_type": "request_type",
    "received_at": "received_at",
    "legal_due_date": "legal_due_date",
    "internal_target_date": "internal_target_date",
    "aging_band": "aging_band",
    "is_stalled": "is_stalled",
    "priority_score": "priority_score",
    "priority_reasons": "priority_reasons",
    "exception_reason": "exception_reason",
    "patient_first_name": "patient__first_name",
    "patient_last_name": "patient__last_name",
    "requestor_kind": "requestor__kind",
    "requestor_name": "requestor__name",
    "requestor_organization": "requestor__organization",
    "assignee_id": "assignee_id",
    "assignee_username": "assignee__username",
    "assignee_first_name": "assignee__first_name",
    "assignee_last_name": "assignee__last_name",
    "queue_id": "queue_id",
    "queue_name": "queue__name",
    "sensitive_categories": "sensitive_categories",
}


def _queue_row(values: tuple[Any, ...]) -> QueueRow:
    fields = dict(zip(_QUEUE_ROW_VALUES, values, strict=True))
    username, first, last = (fields.pop(f"assignee_{part}") for part in ("username", "first_name", "last_name"))
    # As User.__str__ (get_full_name() or username) would say it.
    fields["assignee_name"] = f"{first or ''} {last or ''}".strip() or (username or "")
    fields["queue_name"] = fields["queue_name"] or ""
    return QueueRow(**fields)


def _window(queryset: QuerySet[RecordRequest], condition: Any, order: tuple[Any, ...], size: int) -> list[QueueRow]:
    """`size` rows of queryset from the condition on, in `order`, as one query: the ids are picked in a subquery with
    no joins, so PostgreSQL limits before it joins (an index range scan) instead of sorting every row joined to its
    patient, requestor and assignee; only the columns a row shows are read."""
    picked = queryset.filter(condition) if condition is not None else queryset
    ids = picked.order_by(*order).values("id")[:size]
    rows = queryset.filter(pk__in=Subquery(ids)).order_by(*order).values_list(*_QUEUE_ROW_VALUES.values())
    return [_queue_row(values) for values in rows]


def queue_rows_by_id(*, tenant: Tenant, ids: list[int]) -> list[QueueRow]:
    """The queue rows of these requests of the tenant, in the order of `ids` (one query): the CSV export reads its
    rows a chunk of ids at a time."""
    rows = RecordRequest.objects.for_tenant(tenant).filter(pk__in=ids).values_list(*_QUEUE_ROW_VALUES.values())
    by_id = {row.pk: row for row in map(_queue_row, rows)}
    return [by_id[pk] for pk in ids if pk in by_id]


def request_queue_ids(*, queryset: QuerySet[RecordRequest], limit: int) -> list[int]:
    """The ids of the first `limit` rows of `queryset` in its order (the export's rows), without joins."""
    return list(queryset.values_list("id", flat=True)[:limit])


def request_queue_page(
    *, queryset: QuerySet[RecordRequest], sort: str, cursor: str | None, page_size: int
) -> QueuePage:
    """One page of `queryset` (ordered by request_queue) after or before the cursor: one query whatever the size or
    depth. The rows after (v, id) are ROW(key, id) > ROW(v, id), one index range scan from the cursor on
    (roi/expressions.py says why not an OR); in a reversed sort, "after" is ROW(key, id) < ROW(v, id).

    One extra row is fetched to know whether there is a page beyond; the page on the other side exists whenever
    the cursor does (we came from there)."""
    name, reversed_ = _sort_parts(sort)
    sort = REVERSED + name if reversed_ else name
    field, descending = QUEUE_SORTS[name]
    key = _sort_key(field, descending)
    position = decode_cursor(cursor, sort=sort) if cursor else None
    forward = (key.desc(), F("id").desc()) if reversed_ else (key.asc(), F("id").asc())
    backward = (key.asc(), F("id").asc()) if reversed_ else (key.desc(), F("id").desc())
    after, before = (LessThan, GreaterThan) if reversed_ else (GreaterThan, LessThan)
    if position is None:
        rows = _window(queryset, None, forward, page_size + 1)
        more = len(rows) > page_size
        rows = rows[:page_size]
        return QueuePage(
            rows=rows,
            next_cursor=encode_cursor(sort=sort, direction="next", row=rows[-1]) if more else None,
            previous_cursor=None,
        )
    direction, value, pk = position
    at = Row(Value(_key_value(value, descending)), Value(pk))
    if direction == "next":
        rows = _window(queryset, after(Row(key, F("id")), at), forward, page_size + 1)
        more = len(rows) > page_size
        rows = rows[:page_size]
        return QueuePage(
            rows=rows,
            next_cursor=encode_cursor(sort=sort, direction="next", row=rows[-1]) if more else None,
            previous_cursor=encode_cursor(sort=sort, direction="prev", row=rows[0]) if rows else None,
        )
    # Backwards: walk the reversed order from the cursor, then put the rows back in display order.
    rows = _window(queryset, before(Row(key, F("id")), at), backward, page_size + 1)
    more = len(rows) > page_size
    rows = rows[:page_size][::-1]
    return QueuePage(
        rows=rows,
        next_cursor=encode_cursor(sort=sort, direction="next", row=rows[-1]) if rows else None,
        previous_cursor=encode_cursor(sort=sort, direction="prev", row=rows[0]) if more else None,
    )


def saved_queue_views(*, tenant: Tenant, user: Any) -> QuerySet[SavedQueueView]:
    """The user's own saved queue views in this tenant, by name: nobody else's, not even a supervisor's."""
    return SavedQueueView.objects.for_tenant(tenant).filter(user=user).order_by("name", "id")


def work_queues(*, tenant: Tenant, active_only: bool = False) -> QuerySet[WorkQueue]:
    queryset = WorkQueue.objects.for_tenant(tenant).order_by("position", "name")
    return queryset.filter(is_active=True) if active_only else queryset


def queue_for(*, tenant: Tenant, request_type: str) -> WorkQueue | None:
    """The queue a new request of this type joins: the first active queue, by position, that takes the type."""
    return (
        WorkQueue.objects.for_tenant(tenant)
        .filter(is_active=True, request_types__contains=[request_type])
        .order_by("position", "name", "id")
        .first()
    )


def request_for_staff(*, tenant: Tenant, tracking_number: str) -> RecordRequest:
    """One request of the tenant, with its parties; raises RecordRequest.DoesNotExist otherwise."""
    return (
        RecordRequest.objects.for_tenant(tenant)
        .select_related("patient", "requestor", "assignee", "qc_passed_by")
        .get(tracking_number=tracking_number)
    )


def membership_holding_request(
    *, memberships: Iterable[Membership], current_tenant_id: int, tracking_number: str
) -> Membership | None:
    """Which other organisation of the user holds this tracking number, for the request pages' 404 (a supervisor of
    two organisations who follows a link of the one the session is not in is told to switch). `memberships` are the
    user's active ones (roi.tenancy.TenantMiddleware). Row-level security hides other tenants' rows, so each of the
    user's own organisations is searched in its own scope, one at a time: the wall never opens wider than a tenant
    the user works in, and never for anyone else's."""
    if len(tracking_number) > RecordRequest._meta.get_field("tracking_number").max_length:
        return None
    for membership in memberships:
        if membership.tenant_id == current_tenant_id:
            continue
        with rls.tenant_scope(membership.tenant_id, user_id=membership.user_id):
            found = (
                RecordRequest.objects.for_tenant(membership.tenant_id).filter(tracking_number=tracking_number).exists()
            )
        if found:
            return membership
    return None


def request_timeline(*, tenant: Tenant, record_request: RecordRequest) -> QuerySet[RequestTransition]:
    return (
        RequestTransition.objects.for_tenant(tenant)
        .filter(request=record_request)
        .select_related("actor")
        .order_by("-at", "-id")
    )


def request_status_calls(*, tenant: Tenant, record_request: RecordRequest) -> QuerySet[StatusCall]:
    return (
        StatusCall.objects.for_tenant(tenant)
        .filter(request=record_request)
        .select_related("logged_by")
        .order_by("-at", "-id")
    )


@dataclass(frozen=True)
class RequestorContact:
    """How the requestor followed the request: calls staff logged and status pages the portal showed them."""

    calls: int
    portal_views: int
    last_portal_view: datetime | None


def requestor_contact(*, tenant: Tenant, record_request: RecordRequest, calls: int) -> RequestorContact:
    views = (
        AccessEvent.objects.for_tenant(tenant)
        .filter(request_id=record_request.pk, action=AccessAction.PORTAL_STATUS_VIEW)
        .aggregate(count=Count("id"), last=Max("at"))
    )
    return RequestorContact(calls=calls, portal_views=views["count"], last_portal_view=views["last"])


def request_history(*, record_request: RecordRequest) -> Any:
    return record_request.history.select_related("history_user").order_by("-history_date")[:50]


def tenant_staff(*, tenant: Tenant) -> QuerySet[Membership]:
    return (
        Membership.objects.for_tenant(tenant)
        .filter(is_active=True)
        .select_related("user")
        .order_by("user__last_name", "user__first_name")
    )


def tenant_staff_once(http_request: Any, tenant: Tenant) -> list[Membership]:
    """The tenant's staff, read once per page: the request page's assign form and its panels' owner fields all list
    them."""
    memo: dict[int, list[Membership]] = http_request.__dict__.setdefault("_roi_tenant_staff", {})
    if tenant.pk not in memo:
        memo[tenant.pk] = list(tenant_staff(tenant=tenant))
    return memo[tenant.pk]
