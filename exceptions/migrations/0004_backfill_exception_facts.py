"""Requests already in exception when the request began to carry its exception's reason and time (workflow 0005)
get them from their episodes, so queues filter and sort them like new ones."""

from django.db import migrations

BACKFILL = """
UPDATE workflow_recordrequest r
   SET exception_reason = e.reason, exception_since = e.opened_at
  FROM exceptions_exceptionepisode e
 WHERE e.request_id = r.id AND e.resolved_at IS NULL AND r.exception_since IS NULL;

UPDATE workflow_recordrequest r
   SET exception_seconds_before = done.seconds
  FROM (SELECT request_id, SUM(EXTRACT(EPOCH FROM resolved_at - opened_at))::int AS seconds
          FROM exceptions_exceptionepisode WHERE resolved_at IS NOT NULL GROUP BY request_id) done
 WHERE done.request_id = r.id AND r.exception_seconds_before = 0;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("exceptions", "0003_default_escalation_rules"),
        ("workflow", "0005_exception_facts_on_request"),
    ]

    operations = [migrations.RunSQL(BACKFILL, migrations.RunSQL.noop)]
