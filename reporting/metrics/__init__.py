"""The supervisor dashboard's figures, computed set-based in PostgreSQL (aggregates, never a Python loop over
requests), each with the queue link that lists the requests behind it.

    now = dashboard_now(tenant=tenant)                              # open work as it stands
    period = dashboard_period(tenant=tenant, period=Period.last_days(today, 30))

Request counts use the same definitions as the queue's filters (workflow/extensions.py activities, the queue's
aging band, overdue, due-within and exception filters), so a figure and the queue it links to agree exactly
(tests/reporting/test_drilldown.py)."""

from reporting.metrics.common import Period, queue_url
from reporting.metrics.now import NowMetrics, dashboard_now
from reporting.metrics.period import PeriodMetrics, dashboard_period

__all__ = ["NowMetrics", "Period", "PeriodMetrics", "dashboard_now", "dashboard_period", "queue_url"]
