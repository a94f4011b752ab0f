"""The period's events (status calls, portal status views, exceptions opened, resends, first deliveries, QC
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
from workflow.models import RecordRequest, StatusCall

# kind: (table, time column, reason expression or None, extra WHERE)
_KINDS: dict[str, tuple[str, str, str | None, str]] = {
    "status_call": (StatusCall._meta.db_table, "at", None, ""),
    "portal_view": (AccessEvent._meta.db_table, "at", None, f"AND action = '{AccessAction.PORTAL_STATUS_VIEW}'"),
    "exception_opened": (ExceptionEpisode._meta.db_table, "opened_at", "reason", ""),
    "resend": (Delivery._meta.db_table, "delivered_at", "resend_reason", "AND resend_of_id IS NOT NULL"),
    "first_delivery": (Delivery._meta.db_table, "delivered_at", None, "AND resend_of_id IS NULL"),
    "qc_review": (QcReview._meta.db_table, "reviewed_at", "outcome", ""),
    "escalation": (EscalationEvent._meta.db_table, "fired_at", None, ""),
    "extension": (Extension._meta.db_table, "granted_at", None, ""),
    "duplicate": (RecordRequest._meta.db_table, "duplicate_reviewed_at", None, "AND duplicate_of_id IS NOT NULL"),
}


def _select(kind: str) -> str:
    table, at, reason, where = _KINDS[kind]
    request_column = "id" if table == RecordRequest._meta.db_table else "request_id"
    reason_sql = f"COALESCE(NULLIF({reason}, ''), 'unspecified')" if reason else "NULL::text"
    sets = "(day), (reason), ()" if reason else "(day), ()"
    # Median hours from firing to acknowledgement, for escalations only (NULL elsewhere).
    ack = (
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM acknowledged_at - fired_at))"
        if kind == "escalation"
        else "NULL::float"
    )
    acked = "count(acknowledged_at)" if kind == "escalation" else "NULL::bigint"
    # Every name interpolated below is a constant of this module; the values are query parameters.
    return f"""
    SELECT '{kind}' AS kind, day, {"reason" if reason else "NULL::text"} AS reason, count(*) AS n, count(DISTINCT request) AS requests,
           {ack} AS median_ack_seconds, {acked} AS acknowledged
    FROM (SELECT ({at} AT TIME ZONE %(tz)s)::date AS day, {reason_sql} AS reason, {request_column} AS request,
                 {"acknowledged_at, fired_at" if kind == "escalation" else "NULL AS x"}
          FROM {table}
          WHERE tenant_id = %(tenant)s AND {at} >= %(start)s AND {at} < %(end)s {where}) e
    GROUP BY GROUPING SETS ({sets})"""  # noqa: S608


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
                entry.total, entry.requests = n, requests
                entry.median_ack_seconds = median_ack
                entry.acknowledged = acknowledged or 0
    return {kind: counts[kind] for kind in _KINDS}
