"""Urgency of open requests: aging band, stalled flag and priority score with its explanation (docs/decisions/
0004-deadlines-and-urgency.md).

The values are stored on the row so the queues sort and filter on an index. `urgency_refresh` recomputes them for
every open request in one set-based UPDATE (the `refresh_urgency` beat job, every 15 minutes); `priority_explain`
and `urgency_values` compute the same thing in Python for one request (pages, and the tests that cross-check the
SQL). The two must stay in step: change a weight here in both places, and tests/workflow/test_urgency.py compares
them on random data.

Dates are the tenant's local dates: a request received at 11 pm in Los Angeles was received that day there, even
though it is already the next day in UTC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from roi.models import Tenant
from workflow.choices import OPEN_STATES
from workflow.models import RecordRequest

# --- Weights (mirrored in SQL below) -------------------------------------------------------------------------
OVERDUE_POINTS = 100  # legal due date passed: always above anything due later
OVERDUE_POINTS_PER_DAY = 5
DUE_SOON_DAYS = 5  # due within this many days: 80 (due today) down to 60 (due in 5 days)
DUE_SOON_POINTS = 80
DUE_SOON_POINTS_PER_DAY = 4
TARGET_PASSED_POINTS = 15
EXCEPTION_GRACE_DAYS = 7  # more than this many days in exception (all episodes) adds 2 a day, at most 30
EXCEPTION_POINTS_PER_DAY = 2
EXCEPTION_POINTS_MAX = 30
URGENCY_WINDOW_DAYS = 7  # the requestor needs the records within a week (or the date has passed)
URGENCY_POINTS = 40
REASONS_MAX_LENGTH = 300  # RecordRequest.priority_reasons

# A single key for pg_advisory_xact_lock: concurrent refreshes queue behind each other instead of updating the same
# rows in different orders (a large table's synchronized sequential scans can start anywhere), which could deadlock.
REFRESH_LOCK_KEY = 0x0A61_F00D


@dataclass(frozen=True)
class Urgency:
    aging_band: int
    is_stalled: bool
    priority_score: int
    priority_reasons: str


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _type_weight(tenant: Tenant, request_type: str) -> int:
    # Like the SQL: only JSON numbers count (not booleans or strings), rounded down.
    value = (tenant.priority_type_weights or {}).get(request_type)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return math.floor(value)


def _local_today(tenant: Tenant, now: datetime) -> date:
    return now.astimezone(tenant.tzinfo).date()


def priority_explain(rr: RecordRequest, tenant: Tenant, now: datetime) -> tuple[int, str]:
    """The priority score (higher is more urgent) and the reasons a queue shows beside it, e.g.
    "legal due in 2 days; in exception 9 days; needed by Dec 3"."""
    today = _local_today(tenant, now)
    score, reasons = 0, []

    days_to_due = (rr.legal_due_date - today).days
    if days_to_due < 0:
        score += OVERDUE_POINTS + OVERDUE_POINTS_PER_DAY * -days_to_due
        reasons.append(f"legal due date passed {_plural(-days_to_due, 'day')} ago")
    elif days_to_due <= DUE_SOON_DAYS:
        score += DUE_SOON_POINTS - DUE_SOON_POINTS_PER_DAY * days_to_due
        reasons.append("legal due today" if days_to_due == 0 else f"legal due in {_plural(days_to_due, 'day')}")

    if rr.internal_target_date < today:
        score += TARGET_PASSED_POINTS
        reasons.append("internal target passed")

    exception_days = rr.time_in_exception_seconds(now) // 86400
    if exception_days > EXCEPTION_GRACE_DAYS:
        score += min(EXCEPTION_POINTS_PER_DAY * exception_days, EXCEPTION_POINTS_MAX)
        reasons.append(f"in exception {_plural(exception_days, 'day')}")

    if rr.urgency_date is not None and (rr.urgency_date - today).days <= URGENCY_WINDOW_DAYS:
        score += URGENCY_POINTS
        reasons.append(f"needed by {rr.urgency_date:%b} {rr.urgency_date.day}")

    weight = _type_weight(tenant, rr.request_type)
    if weight:
        score += weight
        reasons.append(f"{rr.request_type.replace('_', ' ')} {weight:+d}")

    if rr.priority_boost:
        score += rr.priority_boost
        reasons.append(f"escalation {rr.priority_boost:+d}")

    return score, "; ".join(reasons)[:REASONS_MAX_LENGTH]


def aging_band_of(rr: RecordRequest, tenant: Tenant, now: datetime) -> int:
    """How many of the tenant's band limits the request's age (local days since receipt) exceeds: 0 is the first
    band (0-5 days with the default limits), len(limits) the last (over 30)."""
    age = rr.age_days(_local_today(tenant, now), tenant.tzinfo)
    return sum(1 for limit in tenant.aging_band_limits if limit < age)


def is_stalled_at(rr: RecordRequest, tenant: Tenant, now: datetime) -> bool:
    return rr.is_open and rr.last_activity_at < now - timedelta(days=tenant.stalled_after_days)


def urgency_values(rr: RecordRequest, tenant: Tenant, now: datetime) -> Urgency:
    """Everything `urgency_refresh` stores for an open request, computed on read."""
    score, reasons = priority_explain(rr, tenant, now)
    return Urgency(aging_band_of(rr, tenant, now), is_stalled_at(rr, tenant, now), score, reasons)


def age_band_label(tenant: Tenant, band: int) -> str:
    """'0-5', '6-10', ..., 'over 30' for a stored aging_band (clamped, in case the tenant shortened its limits
    since the last refresh)."""
    labels = tenant.aging_band_labels()
    return labels[max(0, min(band, len(labels) - 1))]


# --- The set-based refresh -------------------------------------------------------------------------------------
# Each expression reads the request `r` and its tenant `t`, where `t.today` is the tenant's local date at %(now)s and
# `t.stalled_before` the moment before which a last activity means stalled: computed once per tenant (a materialized
# CTE) rather than once per row and use, which made the statement several times slower.
_TODAY = "t.today"
_DAYS_TO_DUE = f"(r.legal_due_date - {_TODAY})"
_EXCEPTION_DAYS = (
    "((r.exception_seconds_before + COALESCE(GREATEST("
    "FLOOR(EXTRACT(EPOCH FROM (%(now)s::timestamptz - r.exception_since)))::bigint, 0), 0)) / 86400)"
)
_TYPE_WEIGHT = (
    "(CASE WHEN jsonb_typeof(t.priority_type_weights -> r.request_type) = 'number' "
    "THEN FLOOR((t.priority_type_weights ->> r.request_type)::numeric)::integer ELSE 0 END)"
)


def _plural_sql(count: str, word: str) -> str:
    return f"({count})::text || ' {word}' || (CASE WHEN ({count}) = 1 THEN '' ELSE 's' END)"


AGING_BAND_SQL = (
    "(SELECT COUNT(*) FROM unnest(t.aging_band_limits) AS limit_day "  # noqa: S608 - constants only
    f"WHERE limit_day < ({_TODAY} - (r.received_at AT TIME ZONE t.timezone)::date))::smallint"
)
IS_STALLED_SQL = "(r.last_activity_at < t.stalled_before)"
PRIORITY_SCORE_SQL = f"""(
    (CASE WHEN {_DAYS_TO_DUE} < 0 THEN {OVERDUE_POINTS} + {OVERDUE_POINTS_PER_DAY} * -{_DAYS_TO_DUE}
          WHEN {_DAYS_TO_DUE} <= {DUE_SOON_DAYS} THEN {DUE_SOON_POINTS} - {DUE_SOON_POINTS_PER_DAY} * {_DAYS_TO_DUE}
          ELSE 0 END)
    + (CASE WHEN r.internal_target_date < {_TODAY} THEN {TARGET_PASSED_POINTS} ELSE 0 END)
    + (CASE WHEN {_EXCEPTION_DAYS} > {EXCEPTION_GRACE_DAYS}
            THEN LEAST({EXCEPTION_POINTS_PER_DAY} * {_EXCEPTION_DAYS}, {EXCEPTION_POINTS_MAX}) ELSE 0 END)
    + (CASE WHEN r.urgency_date - {_TODAY} <= {URGENCY_WINDOW_DAYS} THEN {URGENCY_POINTS} ELSE 0 END)
    + {_TYPE_WEIGHT}
    + r.priority_boost
)::integer"""
PRIORITY_REASONS_SQL = f"""LEFT(CONCAT_WS('; ',
    CASE WHEN {_DAYS_TO_DUE} < 0 THEN 'legal due date passed ' || {_plural_sql(f"-{_DAYS_TO_DUE}", "day")} || ' ago'
         WHEN {_DAYS_TO_DUE} = 0 THEN 'legal due today'
         WHEN {_DAYS_TO_DUE} <= {DUE_SOON_DAYS} THEN 'legal due in ' || {_plural_sql(_DAYS_TO_DUE, "day")} END,
    CASE WHEN r.internal_target_date < {_TODAY} THEN 'internal target passed' END,
    CASE WHEN {_EXCEPTION_DAYS} > {EXCEPTION_GRACE_DAYS} THEN 'in exception ' || {_plural_sql(_EXCEPTION_DAYS, "day")} END,
    CASE WHEN r.urgency_date - {_TODAY} <= {URGENCY_WINDOW_DAYS}
         THEN 'needed by ' || to_char(r.urgency_date, 'Mon') || ' ' || EXTRACT(DAY FROM r.urgency_date)::integer END,
    CASE WHEN {_TYPE_WEIGHT} <> 0 THEN replace(r.request_type, '_', ' ') || ' '
         || (CASE WHEN {_TYPE_WEIGHT} > 0 THEN '+' ELSE '' END) || {_TYPE_WEIGHT} END,
    CASE WHEN r.priority_boost <> 0 THEN 'escalation '
         || (CASE WHEN r.priority_boost > 0 THEN '+' ELSE '' END) || r.priority_boost END
), {REASONS_MAX_LENGTH})"""

# Built from the constants of this module only; every value from outside is a query parameter.
_NEW_VALUES = f"{AGING_BAND_SQL}, {IS_STALLED_SQL}, {PRIORITY_SCORE_SQL}, {PRIORITY_REASONS_SQL}"

REFRESH_SQL = f"""
WITH t AS MATERIALIZED (
    SELECT id, timezone, aging_band_limits, priority_type_weights,
           (%(now)s::timestamptz AT TIME ZONE timezone)::date AS today,
           -- hours, not days: exactly N x 24 hours, whatever daylight saving does in the session time zone
           %(now)s::timestamptz - make_interval(hours => 24 * stalled_after_days) AS stalled_before
    FROM roi_tenant
)
UPDATE workflow_recordrequest r
SET (aging_band, is_stalled, priority_score, priority_reasons) = ({_NEW_VALUES})
FROM t
WHERE r.tenant_id = t.id
  AND r.state = ANY(%(open_states)s)
  {{tenant_filter}}
  AND (r.aging_band, r.is_stalled, r.priority_score, r.priority_reasons) IS DISTINCT FROM ({_NEW_VALUES})
"""  # noqa: S608


def urgency_refresh(*, tenant_id: int | None = None, now: datetime | None = None) -> int:
    """Recompute the stored urgency of every open request, of one tenant or (the beat job) of all tenants, and
    return how many rows changed.

    Two statements whatever the number of rows (an advisory lock, then one UPDATE). Only rows whose values change
    are written, so a second run writes nothing; each row is computed and written inside the UPDATE, with no read
    in Python that a concurrent writer could make stale. Closed requests keep the values they had when they left
    the queue."""
    now = now or timezone.now()
    params: dict[str, object] = {"now": now, "open_states": [str(s) for s in OPEN_STATES]}
    tenant_filter = ""
    if tenant_id is not None:
        tenant_filter = "AND r.tenant_id = %(tenant_id)s"
        params["tenant_id"] = tenant_id
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [REFRESH_LOCK_KEY])
        cursor.execute(REFRESH_SQL.format(tenant_filter=tenant_filter), params)  # type: ignore[arg-type]  # named parameters of plain values
        return cursor.rowcount
