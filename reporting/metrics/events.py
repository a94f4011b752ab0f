"""The period's events (status calls, portal status views, exceptions opened, resends, QC
reviews, escalations, extensions, duplicates) counted in one statement: for each kind, the count per day, per
reason (where the kind has one) and in all, with the number of distinct requests behind each count.

One UNION ALL of GROUPING SETS aggregates over each table's (tenant, time) index, rather than twenty ORM queries:
the dashboard runs on every supervisor's visit. The same events, as "requests with the event in the period", are
the activities the queue filters on (workflow/extensions.py); tests/reporting/test_drilldown.py holds the two
definitions together."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db import connection

from exceptions.models import EscalationEvent, ExceptionEpisode
from fulfillment.models import Delivery, QcReview
from intake.models import Extension
from roi.choices import AccessAction
from roi.models import AccessEvent, Tenant
from workflow.models import BreakGlassGrant, RecordRequest, StatusCall


@dataclass(frozen=True)
class _Kind:
    table: str
    at: str  # the event's time column
    where: str = ""  # more conditions on the table's rows
    reason: str | None = None  # a column to count by, as well
    by_day: bool = False  # counted per day too (the leakage series needs it)
    requests: bool = True  # count the distinct requests behind the events (the figure's queue link)


# Only what the dashboard shows is computed: per-day counts for the leakage sources, distinct requests where a
# figure links to its queue.
_KINDS: dict[str, _Kind] = {
    "status_call": _Kind(StatusCall._meta.db_table, "at", by_day=True),
    "portal_view": _Kind(AccessEvent._meta.db_table, "at", where=f"AND action = '{AccessAction.PORTAL_STATUS_VIEW}'"),
    "exception_opened": _Kind(ExceptionEpisode._meta.db_table, "opened_at", reason="reason", by_day=True),
    "resend": _Kind(
        Delivery._meta.db_table, "delivered_at", "AND resend_of_id IS NOT NULL", reason="resend_reason", by_day=True
    ),
    "qc_review": _Kind(QcReview._meta.db_table, "reviewed_at", reason="outcome"),
    "escalation": _Kind(EscalationEvent._meta.db_table, "fired_at"),
    "extension": _Kind(Extension._meta.db_table, "granted_at"),
    "duplicate": _Kind(
        RecordRequest._meta.db_table, "duplicate_reviewed_at", "AND duplicate_of_id IS NOT NULL", by_day=True
    ),
    # Emergency access to restricted requests (workflow/break_glass.py); the figure links to the break-glass report.
    "break_glass": _Kind(BreakGlassGrant._meta.db_table, "granted_at", requests=False),
}


def _select(name: str) -> str:
    kind = _KINDS[name]
    request_column = "id" if kind.table == RecordRequest._meta.db_table else "request_id"
    reason_sql = f"COALESCE(NULLIF({kind.reason}, ''), 'unspecified')" if kind.reason else "NULL::text"
    day_sql = f"({kind.at} AT TIME ZONE %(tz)s)::date" if kind.by_day else "NULL::date"
    sets = ["()"] + (["(day)"] if kind.by_day else []) + (["(reason)"] if kind.reason else [])
    group_by = f"GROUP BY GROUPING SETS ({', '.join(sets)})" if len(sets) > 1 else ""
    day_out = "day" if kind.by_day else "NULL::date"
    reason_out = "reason" if kind.reason else "NULL::text"
    requests = "count(DISTINCT request)" if kind.requests else "NULL::bigint"
    # Median hours from firing to acknowledgement, for escalations only (NULL elsewhere).
    ack = (
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM acknowledged_at - fired_at))"
        if name == "escalation"
        else "NULL::float"
    )
    acked = "count(acknowledged_at)" if name == "escalation" else "NULL::bigint"
    extra = "acknowledged_at, fired_at" if name == "escalation" else "NULL AS x"
    # Every name interpolated below is a constant of this module; the values are query parameters.
    return f"""
    SELECT '{name}' AS kind, {day_out} AS day, {reason_out} AS reason, count(*) AS n, {requests} AS requests,
           {ack} AS median_ack_seconds, {acked} AS acknowledged
    FROM (SELECT {day_sql} AS day, {reason_sql} AS reason, {request_column} AS request, {extra}
          FROM {kind.table}
          WHERE tenant_id = %(tenant)s AND {kind.at} >= %(start)s AND {kind.at} < %(end)s {kind.where}) e
    {group_by}"""  # noqa: S608


EVENTS_SQL = "\nUNION ALL".join(_select(kind) for kind in _KINDS)


@dataclass
class EventCounts:
    """One kind of event in the period."""

    total: int = 0
    requests: int = 0
    by_day: dict[date, int] = field(default_factory=dict)
    by_reason: dict[str, tuple[int, int]] = field(default_factory=dict)  # reason: (events, requests)
    median_ack_seconds: float | None = None
    acknowledged: int = 0


def period_events(*, tenant: Tenant, start: object, end: object) -> dict[str, EventCounts]:
    counts: dict[str, EventCounts] = defaultdict(EventCounts)
    with connection.cursor() as cursor:
        cursor.execute(EVENTS_SQL, {"tenant": tenant.pk, "start": start, "end": end, "tz": tenant.timezone})
        for kind, day, reason, n, requests, median_ack, acknowledged in cursor.fetchall():
            entry = counts[kind]
            if day is not None:
                entry.by_day[day] = n
            elif reason is not None:
                entry.by_reason[reason] = (n, requests)
            else:
                entry.total, entry.requests = n, requests or 0
                entry.median_ack_seconds = median_ack
                entry.acknowledged = acknowledged or 0
    return {kind: counts[kind] for kind in _KINDS}
