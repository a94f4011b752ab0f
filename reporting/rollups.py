"""Request rollups: each finished day's request figures of an organisation (received per channel and type;
delivered per channel, type and assignee with lateness; turnaround days per type), so that a period's dashboard
reads pre-aggregated rows for its finished days and aggregates only the rest (today, and any day whose rollup a
change removed) from the requests.

A rollup equals what the requests say now (reporting/migrations/0003: a trigger removes a day's rows when a request
that counts on it changes). The job takes the organisation's advisory lock exclusively, the trigger takes it shared:
once the job holds it, no writer that could still invalidate the day is uncommitted, and the job's one statement
reads every committed change.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db import connection, transaction

from reporting.models import RequestRollup
from roi.models import Tenant
from workflow.models import RecordRequest

LOCK_KEY = 1380928332  # the same constant as reporting/migrations/0003_rollup_invalidation.py
HORIZON_DAYS = 400  # the job keeps this many finished days rolled up; older days are computed when asked for
DAYS_PER_RUN = 62  # at most this many days per organisation per run (the backfill command does more)

_TABLE = RequestRollup._meta.db_table
_REQUESTS = RecordRequest._meta.db_table

# The request figures of [start, end), per day of the organisation's calendar, at the finest grain the dashboard
# reads: received per channel and type; delivered per channel, type and assignee, with how many were late (the local
# delivery day after the legal due date) or after the internal target; deliveries per type and turnaround days
# (local delivery day minus local receipt day). The rollup job stores it for one finished day; the dashboard runs it
# for the days without a rollup. The definitions are the queue's activities (workflow/activities.py: received,
# delivered, delivered_late, delivered_after_target); tests/reporting/test_drilldown.py holds them together.
FIGURES_SQL = f"""
WITH received AS (
    SELECT (received_at AT TIME ZONE %(tz)s)::date AS day, channel, request_type
    FROM {_REQUESTS}
    WHERE tenant_id = %(tenant)s AND received_at >= %(start)s AND received_at < %(end)s
), delivered AS (
    SELECT (delivered_at AT TIME ZONE %(tz)s)::date AS day, channel, request_type, assignee_id,
           (delivered_at AT TIME ZONE %(tz)s)::date - (received_at AT TIME ZONE %(tz)s)::date AS days,
           (delivered_at AT TIME ZONE %(tz)s)::date > legal_due_date AS late,
           (delivered_at AT TIME ZONE %(tz)s)::date > internal_target_date AS after_target
    FROM {_REQUESTS}
    WHERE tenant_id = %(tenant)s AND delivered_at >= %(start)s AND delivered_at < %(end)s
)
SELECT 'received' AS kind, day, channel, request_type, NULL::bigint AS assignee_id, 0 AS value, count(*) AS n,
       0::bigint AS late, 0::bigint AS after_target
FROM received GROUP BY day, channel, request_type
UNION ALL
SELECT 'delivered', day, channel, request_type, assignee_id::bigint, 0, count(*),
       count(*) FILTER (WHERE late), count(*) FILTER (WHERE after_target)
FROM delivered GROUP BY day, channel, request_type, assignee_id
UNION ALL
SELECT 'turnaround', day, '', request_type, NULL::bigint, days, count(*), 0::bigint, 0::bigint
FROM delivered GROUP BY day, request_type, days
"""  # noqa: S608 - table names are this module's constants; every value is a parameter

ROLLUP_SQL = f"""
INSERT INTO {_TABLE} (tenant_id, kind, day, channel, request_type, assignee_id, value, n, late, after_target)
SELECT %(tenant)s, 'day', %(day)s::date, '', '', NULL::bigint, 0, 0::bigint, 0::bigint, 0::bigint
UNION ALL
SELECT %(tenant)s, figures.* FROM ({FIGURES_SQL}) figures
"""  # noqa: S608


def _bounds(tenant: Tenant, day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=tenant.tzinfo)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=tenant.tzinfo)


def rollup_take(*, tenant: Tenant, day: date) -> None:
    """(Re)compute one finished day of one organisation. Idempotent."""
    start, end = _bounds(tenant, day)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_KEY, tenant.pk % 2147483647])
        cursor.execute(f"DELETE FROM {_TABLE} WHERE tenant_id = %s AND day = %s", [tenant.pk, day])  # noqa: S608
        cursor.execute(ROLLUP_SQL, {"tenant": tenant.pk, "day": day, "start": start, "end": end, "tz": tenant.timezone})


def figures_rows(*, tenant: Tenant, start: datetime, end: datetime) -> list[tuple]:
    """FIGURES_SQL's rows for [start, end), computed from the requests: (kind, day, channel, request_type,
    assignee_id, value, n, late, after_target)."""
    with connection.cursor() as cursor:
        cursor.execute(FIGURES_SQL, {"tenant": tenant.pk, "start": start, "end": end, "tz": tenant.timezone})
        return cursor.fetchall()


def rollup_missing_days(*, tenant: Tenant, today: date, horizon: int = HORIZON_DAYS) -> list[date]:
    """Finished days within the horizon without a rollup, most recent first."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT d::date FROM generate_series(%s::date, %s::date, interval '1 day') d
                WHERE NOT EXISTS (SELECT 1 FROM {_TABLE} r
                                  WHERE r.tenant_id = %s AND r.day = d::date AND r.kind = 'day')
                ORDER BY d DESC""",  # noqa: S608
            [today - timedelta(days=horizon), today - timedelta(days=1), tenant.pk],
        )
        return [row[0] for row in cursor.fetchall()]


def rollups_fill(*, tenant: Tenant, today: date, limit: int = DAYS_PER_RUN, horizon: int = HORIZON_DAYS) -> int:
    """Roll up the most recent missing days (at most `limit`); returns how many."""
    days = rollup_missing_days(tenant=tenant, today=today, horizon=horizon)[:limit]
    for day in days:
        rollup_take(tenant=tenant, day=day)
    return len(days)


# GROUPING(...) says which set a row belongs to (a bit per column left out): 15 per day, 19 per channel and type,
# 29 per assignee, 26 per type and turnaround value.
BY_DAY, BY_CHANNEL_TYPE, BY_ASSIGNEE, BY_TURNAROUND = 15, 19, 29, 26
READ_SQL = f"""
SELECT GROUPING(day, channel, request_type, assignee_id, value), kind, day, channel, request_type, assignee_id, value,
       sum(n), sum(late), sum(after_target)
FROM {_TABLE}
WHERE tenant_id = %s AND day >= %s AND day <= %s
GROUP BY GROUPING SETS ((kind, day), (kind, channel, request_type), (kind, assignee_id), (kind, request_type, value))
"""  # noqa: S608
